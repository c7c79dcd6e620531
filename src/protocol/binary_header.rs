//! ROCKETMQ binary header (serialize type 1), wire doc §1.4. Every length is bounded by the
//! bytes that remain before anything is allocated.

use bytes::{BufMut, Bytes, BytesMut};

use super::command::{LanguageCode, RemotingCommand, SerializeType};
use super::error::ProtocolError;
use super::ext_fields::ExtFields;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ProtocolError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let slice = end.and_then(|e| self.buf.get(self.pos..e)).ok_or_else(|| {
            ProtocolError::InvalidBinary(format!(
                "{what}: need {n} bytes at offset {}, header has {}",
                self.pos,
                self.buf.len()
            ))
        })?;
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ProtocolError> {
        let s = self.take(N, what)?;
        s.try_into()
            .map_err(|_| ProtocolError::InvalidBinary(what.to_owned()))
    }

    fn i16(&mut self, what: &str) -> Result<i16, ProtocolError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &str) -> Result<i32, ProtocolError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    fn len(&mut self, raw: i64, what: &str) -> Result<usize, ProtocolError> {
        usize::try_from(raw)
            .map_err(|_| ProtocolError::InvalidBinary(format!("{what}: negative length {raw}")))
    }

    fn str(&mut self, n: usize, what: &str) -> Result<&'a str, ProtocolError> {
        let bytes = self.take(n, what)?;
        std::str::from_utf8(bytes)
            .map_err(|_| ProtocolError::InvalidBinary(format!("{what}: invalid UTF-8")))
    }
}

/// Decodes a binary header; `header` is the header's bytes, a slice of the received frame.
pub(super) fn decode(header: &Bytes) -> Result<RemotingCommand, ProtocolError> {
    let mut c = Cursor {
        buf: header,
        pos: 0,
    };
    let code = i32::from(c.i16("code")?);
    let [lang] = c.array::<1>("language")?;
    let version = i32::from(c.i16("version")?);
    let opaque = c.i32("opaque")?;
    let flag = c.i32("flag")?;
    let remark_len = c.i32("remark length")?;
    let remark_len = c.len(i64::from(remark_len), "remark")?;
    // Java maps a zero-length remark to null.
    let remark = if remark_len == 0 {
        None
    } else {
        Some(c.str(remark_len, "remark")?.to_owned())
    };
    let ext_len = c.i32("extFields length")?;
    let ext_len = c.len(i64::from(ext_len), "extFields")?;
    let ext_bytes = c.take(ext_len, "extFields")?;
    let ext_fields = decode_ext(header, ext_bytes)?;
    Ok(RemotingCommand {
        code,
        language: LanguageCode::from_code(lang),
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        body: Default::default(),
        body_parts: Vec::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

fn decode_ext(header: &Bytes, buf: &[u8]) -> Result<ExtFields, ProtocolError> {
    let mut c = Cursor { buf, pos: 0 };
    // Each entry takes at least 6 bytes, so this bounds the pre-allocation.
    let mut map = ExtFields::over_frame(header.clone(), (buf.len() / 6).min(64));
    while c.pos < buf.len() {
        let key_len = c.i16("ext key length")?;
        let key_len = c.len(i64::from(key_len), "ext key")?;
        let key = c.str(key_len, "ext key")?;
        let val_len = c.i32("ext value length")?;
        let val_len = c.len(i64::from(val_len), "ext value")?;
        let val = c.str(val_len, "ext value")?;
        map.put_decoded(key, val);
    }
    Ok(map)
}

pub(super) fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    // The binary code field is 16 bits; larger (5.x pop) codes cannot travel in this form.
    dst.put_i16(cmd.code as i16);
    dst.put_u8(cmd.language.code());
    dst.put_i16(cmd.version as i16);
    dst.put_i32(cmd.opaque);
    dst.put_i32(cmd.flag);
    match cmd.remark.as_deref() {
        Some(r) if !r.is_empty() => {
            dst.put_i32(r.len() as i32);
            dst.put_slice(r.as_bytes());
        }
        _ => dst.put_i32(0),
    }
    let ext_len: usize = cmd
        .ext_fields
        .iter()
        .map(|(k, v)| 2 + k.len() + 4 + v.len())
        .sum();
    dst.put_i32(ext_len as i32);
    for (k, v) in cmd.ext_fields.iter() {
        dst.put_i16(k.len() as i16);
        dst.put_slice(k.as_bytes());
        dst.put_i32(v.len() as i32);
        dst.put_slice(v.as_bytes());
    }
}
