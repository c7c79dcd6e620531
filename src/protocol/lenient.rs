//! Lenient JSON for RocketMQ bodies (wire doc §4.1).
//!
//! fastjson writes maps with non-string keys unquoted (`{0:"host:port"}`) or as objects
//! (`{{"brokerName":"b","queueId":0,"topic":"t"}:{…}}`), C++ sends enums as ordinals and some
//! longs as strings. [`from_slice`] first rewrites such keys into JSON strings, then lets serde
//! parse; the `de_*` helpers accept numbers as numbers or numeric strings.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;

use super::error::BodyError;

/// Parses a body leniently: bare numeric and object map keys are accepted.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let fixed = quote_bare_keys(body);
    Ok(serde_json::from_slice(&fixed)?)
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Object,
    Array,
}

/// Rewrites unquoted numeric keys and object keys into JSON string keys; strings and values
/// are left untouched. Returns the input itself when nothing needed quoting.
pub fn quote_bare_keys(input: &[u8]) -> Cow<'_, [u8]> {
    let mut changed = false;
    let mut out = Vec::with_capacity(input.len() + 16);
    let mut stack: Vec<Ctx> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b.is_ascii_whitespace() {
            out.push(b);
            i += 1;
            continue;
        }
        if expect_key && stack.last() == Some(&Ctx::Object) && b != b'"' && b != b'}' {
            // A key that is not a JSON string: a bare token or a whole object.
            let end = if b == b'{' || b == b'[' {
                balanced_end(input, i)
            } else {
                token_end(input, i)
            };
            let raw = input.get(i..end).unwrap_or_default();
            let text = String::from_utf8_lossy(raw);
            if let Ok(quoted) = serde_json::to_vec(text.as_ref()) {
                out.extend_from_slice(&quoted);
            }
            changed = true;
            i = end;
            expect_key = false;
            continue;
        }
        expect_key = false;
        match b {
            b'"' => {
                let end = string_end(input, i);
                out.extend_from_slice(input.get(i..end).unwrap_or_default());
                i = end;
                continue;
            }
            b'{' => {
                stack.push(Ctx::Object);
                expect_key = true;
            }
            b'[' => stack.push(Ctx::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => expect_key = stack.last() == Some(&Ctx::Object),
            _ => {}
        }
        out.push(b);
        i += 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(input)
    }
}

/// Index just past the string literal starting at `start` (a `"`).
fn string_end(input: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = input.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    input.len()
}

fn token_end(input: &[u8], start: usize) -> usize {
    let mut i = start;
    while let Some(&b) = input.get(i) {
        if b == b':' || b.is_ascii_whitespace() || b == b',' || b == b'}' {
            break;
        }
        i += 1;
    }
    i
}

fn balanced_end(input: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&b) = input.get(i) {
        match b {
            b'"' => {
                i = string_end(input, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    input.len()
}

/// Turns quoted all-digit object keys back into bare ones (`{"0":"a"}` → `{0:"a"}`), the
/// form fastjson writes for `Map<Long, String>` and old clients expect in routes.
pub fn unquote_numeric_keys(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut stack: Vec<Ctx> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while let Some(&b) = json.get(i) {
        match b {
            b'"' => {
                let end = string_end(json, i);
                let lit = json.get(i..end).unwrap_or_default();
                let inner = lit.get(1..lit.len().saturating_sub(1)).unwrap_or_default();
                let numeric = !inner.is_empty()
                    && inner.iter().enumerate().all(|(k, c)| {
                        c.is_ascii_digit() || (k == 0 && *c == b'-' && inner.len() > 1)
                    });
                if expect_key && stack.last() == Some(&Ctx::Object) && numeric {
                    out.extend_from_slice(inner);
                } else {
                    out.extend_from_slice(lit);
                }
                expect_key = false;
                i = end;
                continue;
            }
            b'{' => {
                stack.push(Ctx::Object);
                expect_key = true;
            }
            b'[' => {
                stack.push(Ctx::Array);
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => expect_key = stack.last() == Some(&Ctx::Object),
            _ if b.is_ascii_whitespace() => {}
            _ => expect_key = false,
        }
        out.push(b);
        i += 1;
    }
    out
}

/// A number given as a JSON number or a numeric string (C++ sends `subVersion` as a string).
struct LenientI64;

impl Visitor<'_> for LenientI64 {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or numeric string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v).map(Some).map_err(E::custom)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v as i64))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(i64::from(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse()
            .map(Some)
            .map_err(|_| E::custom(format!("not a number: {v:?}")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

pub fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(d.deserialize_any(LenientI64)?.unwrap_or_default())
}

pub fn de_i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let v = d.deserialize_any(LenientI64)?.unwrap_or_default();
    i32::try_from(v).map_err(de::Error::custom)
}

pub fn de_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(LenientI64)
}

/// A boolean given as `true`/`false`, a string (Java `parseBoolean`, or "1") or a number.
pub fn de_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Num(i64),
        Text(String),
        Null(()),
    }
    Ok(match B::deserialize(d)? {
        B::Bool(b) => b,
        B::Num(n) => n != 0,
        B::Text(s) => s.trim().eq_ignore_ascii_case("true") || s.trim() == "1",
        B::Null(()) => false,
    })
}

/// `null` or a missing value becomes the default (C++ omits empty arrays).
pub fn de_null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Declares an enum that serializes as its name and deserializes from the name, the
/// ordinal or the ordinal as a string (fastjson accepts all three).
#[macro_export]
macro_rules! lenient_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $variant:ident = $num:literal => $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant,)* }

        impl $name {
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
            pub fn ordinal(self) -> i64 {
                match self { $($name::$variant => $num,)* }
            }
            pub fn from_ordinal(n: i64) -> Option<Self> {
                match n { $($num => Some($name::$variant),)* _ => None }
            }
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(::serde::Deserialize)]
                #[serde(untagged)]
                enum Raw { Num(i64), Text(String) }
                let raw = Raw::deserialize(d)?;
                let found = match &raw {
                    Raw::Num(n) => $name::from_ordinal(*n),
                    Raw::Text(t) => $name::from_name(t.trim())
                        .or_else(|| t.trim().parse().ok().and_then($name::from_ordinal)),
                };
                found.ok_or_else(|| ::serde::de::Error::custom(format!(
                    concat!("invalid ", stringify!($name), " {:?}"),
                    match raw { Raw::Num(n) => n.to_string(), Raw::Text(t) => t }
                )))
            }
        }
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn quotes_numeric_and_object_keys_but_not_strings() {
        let input = br#"{"a":{0:"x,1:y",1:"z"},"s":"{2:3}",{"q":1}:{5:6}}"#;
        let out = quote_bare_keys(input);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["a"]["0"], "x,1:y");
        assert_eq!(v["a"]["1"], "z");
        assert_eq!(v["s"], "{2:3}");
        assert_eq!(v["{\"q\":1}"]["5"], 6);
    }

    #[test]
    fn strict_json_is_borrowed_untouched() {
        let input = br#"{"a":[1,2,{"b":"c"}],"d":{"0":"e"}}"#;
        assert!(matches!(quote_bare_keys(input), Cow::Borrowed(_)));
    }

    #[test]
    fn unquotes_only_numeric_keys() {
        let out = unquote_numeric_keys(br#"{"b":{"0":"1","12":"x"},"n":["3"],"-1":"7"}"#);
        assert_eq!(out, br#"{"b":{0:"1",12:"x"},"n":["3"],-1:"7"}"#);
    }

    #[test]
    fn array_numbers_are_not_keys() {
        let input = br#"{"a":[1, 2],"b":{3:4}}"#;
        let v: serde_json::Value = serde_json::from_slice(&quote_bare_keys(input)).unwrap();
        assert_eq!(v["a"][1], 2);
        assert_eq!(v["b"]["3"], 4);
    }
}
