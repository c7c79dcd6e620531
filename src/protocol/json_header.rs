//! JSON header (serialize type 0), wire doc §1.3: strict out (decoding, lenient, is in
//! `json_scan`).

use bytes::{BufMut, BytesMut};

use super::command::RemotingCommand;

pub(super) use super::json_scan::decode;

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
