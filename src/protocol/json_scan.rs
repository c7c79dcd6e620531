//! Decoding of the JSON header (serialize type 0), wire doc §1.3, by a small scanner instead of
//! serde_json: a header is one flat object (plus the flat `extFields` object), and scanning
//! it directly lets every key and unescaped value stay a slice of the received frame. A
//! Java producer escapes the \u0001/\u0002 separators of `properties`, so that one value
//! is unescaped, straight into the fields' own buffer: no scratch buffer, no String per field.
//!
//! Lenient like fastjson: numbers may come as numeric strings, `language` as a name or an
//! ordinal, extFields values as strings, numbers or booleans (C++ sends numbers; a number
//! keeps its text), nulls are dropped, unknown keys skipped, raw control characters in
//! strings accepted.

use bytes::Bytes;

use super::command::{LanguageCode, RemotingCommand, SerializeType};
use super::error::ProtocolError;
use super::ext_fields::ExtFields;

/// Nesting allowed inside skipped values; deeper input is refused, not recursed into.
const MAX_DEPTH: usize = 64;

/// A scalar as it appears in the header: string contents still escaped if `escaped`.
enum Scalar<'a> {
    Str { raw: &'a str, escaped: bool },
    Num(&'a str),
    Bool(bool),
    Null,
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

fn err(what: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidJson(what.into())
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// The next non-blank byte, consumed.
    fn next_token(&mut self) -> Result<u8, ProtocolError> {
        self.skip_ws();
        let b = self.peek().ok_or_else(|| err("unexpected end of header"))?;
        self.pos += 1;
        Ok(b)
    }

    fn expect(&mut self, want: u8) -> Result<(), ProtocolError> {
        match self.next_token()? {
            b if b == want => Ok(()),
            b => Err(err(format!(
                "expected '{}' at {}, found '{}'",
                want as char,
                self.pos - 1,
                b.escape_ascii()
            ))),
        }
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    /// A string's contents; the opening quote is already consumed. Quotes and backslashes
    /// are ASCII, so every cut falls on a character boundary.
    fn string(&mut self) -> Result<(&'a str, bool), ProtocolError> {
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err(err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((self.slice(start, self.pos - 1), escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 2;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// An object key: a string.
    fn key(&mut self) -> Result<(&'a str, bool), ProtocolError> {
        self.expect(b'"')?;
        self.string()
    }

    fn scalar(&mut self) -> Result<Scalar<'a>, ProtocolError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let (raw, escaped) = self.string()?;
                Ok(Scalar::Str { raw, escaped })
            }
            Some(b'-' | b'0'..=b'9') => {
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.pos += 1;
                }
                Ok(Scalar::Num(self.slice(start, self.pos)))
            }
            _ => {
                for (word, value) in [
                    ("true", Scalar::Bool(true)),
                    ("false", Scalar::Bool(false)),
                    ("null", Scalar::Null),
                ] {
                    if self.text.get(start..).is_some_and(|t| t.starts_with(word)) {
                        self.pos += word.len();
                        return Ok(value);
                    }
                }
                Err(err(format!("expected a value at {start}")))
            }
        }
    }

    /// Skips any value (objects and arrays included) under an unknown key.
    fn skip_value(&mut self, depth: usize) -> Result<(), ProtocolError> {
        if depth > MAX_DEPTH {
            return Err(err("header nested too deeply"));
        }
        self.skip_ws();
        let (open, close) = match self.peek() {
            Some(b'{') => (b'{', b'}'),
            Some(b'[') => (b'[', b']'),
            _ => return self.scalar().map(|_| ()),
        };
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if open == b'{' {
                self.key()?;
                self.expect(b':')?;
            }
            self.skip_value(depth + 1)?;
            match self.next_token()? {
                b',' => continue,
                b if b == close => return Ok(()),
                _ => return Err(err(format!("expected ',' or '{}'", close as char))),
            }
        }
    }

    /// Calls `each` for every member of an object; the opening brace is already consumed.
    fn members(
        &mut self,
        mut each: impl FnMut(&mut Self, &'a str, bool) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let (key, escaped) = self.key()?;
            self.expect(b':')?;
            each(self, key, escaped)?;
            match self.next_token()? {
                b',' => continue,
                b'}' => return Ok(()),
                _ => return Err(err("expected ',' or '}'")),
            }
        }
    }
}

/// Writes a string's escaped contents, unescaped, to `out`.
fn unescape(raw: &str, out: &mut String) -> Result<(), ProtocolError> {
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        let mut chars = after.chars();
        let c = chars.next().ok_or_else(|| err("dangling escape"))?;
        rest = chars.as_str();
        match c {
            '"' | '\\' | '/' => out.push(c),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let (unit, tail) = hex4(rest)?;
                rest = tail;
                let code = if (0xD800..0xDC00).contains(&unit) {
                    // A surrogate pair: the low half must follow as another \u escape.
                    let low = rest
                        .strip_prefix("\\u")
                        .ok_or_else(|| err("lone surrogate in \\u escape"))?;
                    let (low, tail) = hex4(low)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(err("invalid surrogate pair"));
                    }
                    rest = tail;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                out.push(char::from_u32(code).ok_or_else(|| err("invalid \\u escape"))?);
            }
            other => return Err(err(format!("invalid escape '\\{other}'"))),
        }
    }
    out.push_str(rest);
    Ok(())
}

fn hex4(s: &str) -> Result<(u32, &str), ProtocolError> {
    let digits = s.get(..4).ok_or_else(|| err("short \\u escape"))?;
    let v = u32::from_str_radix(digits, 16).map_err(|_| err("invalid \\u escape"))?;
    Ok((v, s.get(4..).unwrap_or("")))
}

/// A header number given as a number, a numeric string, a boolean or null (0).
fn int_field(name: &str, v: Scalar<'_>) -> Result<i32, ProtocolError> {
    let text = match v {
        Scalar::Null => return Ok(0),
        Scalar::Bool(b) => return Ok(i32::from(b)),
        Scalar::Num(t) => t,
        Scalar::Str { raw, .. } if raw.trim().is_empty() => return Ok(0),
        Scalar::Str { raw, .. } => raw.trim(),
    };
    let n = match text.parse::<i64>() {
        Ok(n) => n,
        // A double (fastjson may write one): truncated, as Java's cast does.
        Err(_) => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| f as i64)
            .ok_or_else(|| err(format!("{name}: not a number: {text:?}")))?,
    };
    i32::try_from(n).map_err(|_| err(format!("{name}: {n} out of range")))
}

/// Decodes a JSON header; `header` is the header's bytes, a slice of the received frame.
pub(super) fn decode(header: &Bytes) -> Result<RemotingCommand, ProtocolError> {
    let text = std::str::from_utf8(header).map_err(|e| err(e.to_string()))?;
    let mut s = Scanner { text, pos: 0 };
    let mut cmd = RemotingCommand {
        language: LanguageCode::Other,
        serialize_type: SerializeType::Json,
        ..Default::default()
    };
    s.expect(b'{')?;
    s.members(|s, key, _| {
        match key {
            "code" => cmd.code = int_field(key, s.scalar()?)?,
            "version" => cmd.version = int_field(key, s.scalar()?)?,
            "opaque" => cmd.opaque = int_field(key, s.scalar()?)?,
            "flag" => cmd.flag = int_field(key, s.scalar()?)?,
            "language" => match s.scalar()? {
                Scalar::Str { raw, .. } => cmd.language = LanguageCode::from_name(raw),
                Scalar::Num(n) => {
                    cmd.language = n
                        .parse::<u8>()
                        .map_or(LanguageCode::Other, LanguageCode::from_code)
                }
                _ => {}
            },
            "remark" => match s.scalar()? {
                Scalar::Null => cmd.remark = None,
                Scalar::Str {
                    raw,
                    escaped: false,
                } => cmd.remark = Some(raw.to_owned()),
                Scalar::Str { raw, escaped: true } => {
                    let mut out = String::with_capacity(raw.len());
                    unescape(raw, &mut out)?;
                    cmd.remark = Some(out);
                }
                _ => return Err(err("remark: expected a string")),
            },
            "extFields" => {
                s.skip_ws();
                if s.peek() == Some(b'{') {
                    s.pos += 1;
                    cmd.ext_fields = ext_fields(s, header)?;
                } else if !matches!(s.scalar()?, Scalar::Null) {
                    return Err(err("extFields: expected an object"));
                }
            }
            _ => s.skip_value(0)?,
        }
        Ok(())
    })?;
    s.skip_ws();
    if s.pos < text.len() {
        return Err(err(format!("trailing characters at {}", s.pos)));
    }
    Ok(cmd)
}

fn ext_fields(s: &mut Scanner<'_>, header: &Bytes) -> Result<ExtFields, ProtocolError> {
    let mut ext = ExtFields::over_frame(header.clone(), 16);
    // Unescaped text is never longer than what remains of the header: one reservation.
    let room = s.text.len().saturating_sub(s.pos);
    s.members(|s, key, key_escaped| {
        let mut unescaped_key = String::new();
        let key = if key_escaped {
            unescape(key, &mut unescaped_key)?;
            unescaped_key.as_str()
        } else {
            key
        };
        match s.scalar()? {
            Scalar::Null => {}
            Scalar::Str {
                raw,
                escaped: false,
            }
            | Scalar::Num(raw) => ext.put_decoded(key, raw),
            Scalar::Bool(b) => ext.put_decoded(key, if b { "true" } else { "false" }),
            Scalar::Str { raw, escaped: true } => {
                ext.put_decoded_with(key, room, |out| unescape(raw, out))?
            }
        }
        Ok(())
    })?;
    Ok(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_str(h: &str) -> Result<RemotingCommand, ProtocolError> {
        decode(&Bytes::copy_from_slice(h.as_bytes()))
    }

    #[test]
    fn escapes_are_unescaped() {
        let cmd = decode_str(
            r#"{"code":1,"extFields":{"i":"A\u0001b\u0002\"q\"\\\/\n\ud83d\ude00é","k\u0041":"v"}}"#,
        );
        let cmd = cmd.unwrap_or_default();
        assert_eq!(
            cmd.ext_fields.get("i"),
            Some("A\u{1}b\u{2}\"q\"\\/\n\u{1F600}é")
        );
        assert_eq!(cmd.ext_fields.get("kA"), Some("v"));
    }

    #[test]
    fn malformed_headers_are_errors() {
        for bad in [
            "",
            "{",
            "{\"code\":}",
            "{\"code\":1,}",
            "{\"code\":1} x",
            "{\"extFields\":[1]}",
            "{\"extFields\":{\"a\":{}}}",
            "{\"remark\":\"\\ud800\"}",
            "{\"remark\":\"\\x\"}",
            "{\"remark\":\"abc",
            "{\"code\":99999999999}",
            "{\"code\":\"x\"}",
        ] {
            assert!(decode_str(bad).is_err(), "{bad:?} accepted");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(decode_str(&deep).is_err(), "deep nesting accepted");
    }

    #[test]
    fn lenient_forms_are_accepted() {
        let cmd = decode_str(
            " {\"code\":\"105\",\"flag\":1.0,\"opaque\":null,\"language\":\"CPP\",\"unknown\":[{\"a\":[1,{}]},\"s\"],\"extFields\":{\"n\":-5,\"b\":false,\"z\":null},\"remark\":null} ",
        )
        .unwrap_or_default();
        assert_eq!((cmd.code, cmd.flag, cmd.opaque), (105, 1, 0));
        assert_eq!(cmd.language, LanguageCode::Cpp);
        assert_eq!(cmd.ext_fields.get("n"), Some("-5"));
        assert_eq!(cmd.ext_fields.get("b"), Some("false"));
        assert!(!cmd.ext_fields.contains_key("z"));
    }
}
