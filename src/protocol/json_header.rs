//! JSON header (serialize type 0), wire doc §1.3: lenient in, strict out.

use std::collections::HashMap;
use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::command::{LanguageCode, RemotingCommand, SerializeType};
use super::error::ProtocolError;
use super::lenient::de_i32;

#[derive(Deserialize)]
struct JsonHeaderIn {
    #[serde(default, deserialize_with = "de_i32")]
    code: i32,
    #[serde(default)]
    language: Option<LanguageIn>,
    #[serde(default, deserialize_with = "de_i32")]
    version: i32,
    #[serde(default, deserialize_with = "de_i32")]
    opaque: i32,
    #[serde(default, deserialize_with = "de_i32")]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default, rename = "extFields")]
    ext_fields: Option<ExtFieldsIn>,
}

/// `language` as the enum name (Java, C++) or its ordinal (fastjson accepts both).
struct LanguageIn(LanguageCode);

impl<'de> Deserialize<'de> for LanguageIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LanguageIn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a language name or ordinal")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LanguageIn, E> {
                Ok(LanguageIn(LanguageCode::from_name(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LanguageIn, E> {
                Ok(LanguageIn(LanguageCode::from_code(
                    u8::try_from(v).unwrap_or(u8::MAX),
                )))
            }
            fn visit_i64<E: de::Error>(self, _v: i64) -> Result<LanguageIn, E> {
                Ok(LanguageIn(LanguageCode::Other))
            }
        }
        d.deserialize_any(V)
    }
}

/// extFields: values may be strings, numbers or booleans (C++ sends numbers); nulls are dropped.
struct ExtFieldsIn(HashMap<String, String>);

impl<'de> Deserialize<'de> for ExtFieldsIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExtFieldsIn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of scalar values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<ExtFieldsIn, E> {
                Ok(ExtFieldsIn(HashMap::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtFieldsIn, A::Error> {
                // serde_json gives no size hint; 16 covers a send header without rehashing.
                let mut out = HashMap::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(key) = map.next_key::<String>()? {
                    if let Some(ExtValue(v)) = map.next_value::<Option<ExtValue>>()? {
                        out.insert(key, v);
                    }
                }
                Ok(ExtFieldsIn(out))
            }
        }
        d.deserialize_any(V)
    }
}

struct ExtValue(String);

impl<'de> Deserialize<'de> for ExtValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ExtValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExtValue, E> {
                Ok(ExtValue(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ExtValue, E> {
                Ok(ExtValue(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExtValue, E> {
                Ok(ExtValue(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExtValue, E> {
                Ok(ExtValue(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ExtValue, E> {
                Ok(ExtValue(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ExtValue, E> {
                Ok(ExtValue(if v { "true" } else { "false" }.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) fn decode(header: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    let h: JsonHeaderIn =
        serde_json::from_slice(header).map_err(|e| ProtocolError::InvalidJson(e.to_string()))?;
    Ok(RemotingCommand {
        code: h.code,
        language: h.language.map_or(LanguageCode::Other, |l| l.0),
        version: h.version,
        opaque: h.opaque,
        flag: h.flag,
        remark: h.remark,
        ext_fields: h.ext_fields.map(|e| e.0).unwrap_or_default(),
        body: Default::default(),
        body_parts: Vec::new(),
        serialize_type: SerializeType::Json,
    })
}

/// Writes the header as strict, compact JSON, keys in fastjson's (sorted) order.
pub(super) fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    let mut itoa = itoa_buf();
    dst.put_slice(b"{\"code\":");
    put_int(dst, &mut itoa, i64::from(cmd.code));
    if !cmd.ext_fields.is_empty() {
        dst.put_slice(b",\"extFields\":{");
        for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
            if i > 0 {
                dst.put_u8(b',');
            }
            put_str(dst, k);
            dst.put_u8(b':');
            put_str(dst, v);
        }
        dst.put_u8(b'}');
    }
    dst.put_slice(b",\"flag\":");
    put_int(dst, &mut itoa, i64::from(cmd.flag));
    dst.put_slice(b",\"language\":");
    put_str(dst, cmd.language.name());
    dst.put_slice(b",\"opaque\":");
    put_int(dst, &mut itoa, i64::from(cmd.opaque));
    if let Some(remark) = &cmd.remark {
        dst.put_slice(b",\"remark\":");
        put_str(dst, remark);
    }
    dst.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    put_int(dst, &mut itoa, i64::from(cmd.version));
    dst.put_u8(b'}');
}

fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// Decimal without allocating.
fn put_int(dst: &mut BytesMut, buf: &mut [u8; 20], v: i64) {
    let mut n = v.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        if let Some(slot) = buf.get_mut(pos) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        dst.put_u8(b'-');
    }
    dst.put_slice(buf.get(pos..).unwrap_or_default());
}

/// A JSON string literal; escapes only what JSON requires (like fastjson, non-ASCII stays raw).
pub(crate) fn put_str(dst: &mut BytesMut, s: &str) {
    dst.put_u8(b'"');
    let bytes = s.as_bytes();
    // Branch-free scan (vectorizes); most values need no escaping at all.
    let needs_escape = bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        dst.put_slice(bytes);
        dst.put_u8(b'"');
        return;
    }
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        dst.put_slice(bytes.get(plain_from..i).unwrap_or_default());
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            dst.put_slice(b"\\u00");
            dst.put_u8(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            dst.put_u8(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
        } else {
            dst.put_slice(esc);
        }
        plain_from = i + 1;
    }
    dst.put_slice(bytes.get(plain_from..).unwrap_or_default());
    dst.put_u8(b'"');
}
