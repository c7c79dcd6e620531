//! Typed custom headers (wire doc §1.5, §2.2), converted from/to `extFields`.
//!
//! Each header is declared with [`command_header!`]: `req` fields must be present (Java's
//! `@CFNotNull`), `opt` fields are `Option<_>`, `def` fields fall back to a default. Every
//! field is read through [`ExtFields`]' lenient readers, the same ones the broker's
//! processors use, so a header decodes the same way wherever it is read.

use super::error::HeaderError;
use super::ext_fields::{invalid, parse_flag, parse_num, ExtFields};

mod broker;
mod namesrv;
mod send;

pub use broker::*;
pub use namesrv::*;
pub use send::*;

/// A custom header: the typed view of a command's `extFields`.
pub trait CommandHeader: Sized {
    fn from_ext(ext: &ExtFields) -> Result<Self, HeaderError>;
    fn to_ext(&self) -> ExtFields;
}

/// The empty header, for requests and responses without fields.
impl CommandHeader for () {
    fn from_ext(_: &ExtFields) -> Result<Self, HeaderError> {
        Ok(())
    }
    fn to_ext(&self) -> ExtFields {
        ExtFields::new()
    }
}

/// A scalar that travels as text in `extFields`.
pub trait FieldType: Sized {
    fn parse_field(field: &'static str, text: &str) -> Result<Self, HeaderError>;
    fn to_text(&self) -> String;
}

impl FieldType for String {
    fn parse_field(_: &'static str, text: &str) -> Result<Self, HeaderError> {
        Ok(text.to_owned())
    }
    fn to_text(&self) -> String {
        self.clone()
    }
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl FieldType for $t {
            fn parse_field(field: &'static str, text: &str) -> Result<Self, HeaderError> {
                parse_num(text).ok_or_else(|| invalid(field, text))
            }
            fn to_text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_field!(i32, i64);

impl FieldType for bool {
    fn parse_field(_: &'static str, text: &str) -> Result<Self, HeaderError> {
        Ok(parse_flag(text))
    }
    fn to_text(&self) -> String {
        if *self { "true" } else { "false" }.to_owned()
    }
}

/// A required field.
pub fn required_field<T: FieldType>(
    ext: &ExtFields,
    field: &'static str,
) -> Result<T, HeaderError> {
    match ext.get(field) {
        Some(text) => T::parse_field(field, text),
        None => Err(HeaderError::Missing(field)),
    }
}

/// An optional field. An empty value counts as absent for non-string types, since Java
/// would fail to parse it and clients only send it as a placeholder.
pub fn optional_field<T: FieldType>(
    ext: &ExtFields,
    field: &'static str,
) -> Result<Option<T>, HeaderError> {
    match ext.get(field) {
        None => Ok(None),
        Some(text) => match T::parse_field(field, text) {
            Ok(v) => Ok(Some(v)),
            Err(_) if text.trim().is_empty() => Ok(None),
            Err(e) => Err(e),
        },
    }
}

/// Declares a header struct and its [`CommandHeader`] impl.
#[macro_export]
macro_rules! command_header {
    ($(#[$m:meta])* pub struct $name:ident {
        $($(#[$fm:meta])* $kind:ident $field:ident : $ty:ty = $key:literal $(=> $default:expr)?),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }

        impl $crate::protocol::header::CommandHeader for $name {
            fn from_ext(
                ext: &$crate::protocol::ExtFields,
            ) -> Result<Self, $crate::protocol::HeaderError> {
                Ok(Self { $($field: $crate::command_header!(@get $kind ext $key $(, $default)?)),* })
            }
            fn to_ext(&self) -> $crate::protocol::ExtFields {
                let mut m = $crate::protocol::ExtFields::new();
                $($crate::command_header!(@put $kind m $key self.$field);)*
                m
            }
        }
    };
    (@get req $ext:ident $key:literal) => { $crate::protocol::header::required_field($ext, $key)? };
    (@get opt $ext:ident $key:literal) => { $crate::protocol::header::optional_field($ext, $key)? };
    (@get def $ext:ident $key:literal, $default:expr) => {
        $crate::protocol::header::optional_field($ext, $key)?.unwrap_or($default)
    };
    (@put req $m:ident $key:literal $v:expr) => {
        $m.insert($key, $crate::protocol::header::FieldType::to_text(&$v));
    };
    (@put def $m:ident $key:literal $v:expr) => {
        $m.insert($key, $crate::protocol::header::FieldType::to_text(&$v));
    };
    (@put opt $m:ident $key:literal $v:expr) => {
        if let Some(v) = &$v {
            $m.insert($key, $crate::protocol::header::FieldType::to_text(v));
        }
    };
}
