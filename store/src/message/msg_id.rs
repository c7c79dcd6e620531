//! Offset message ids: store host + port + physical offset as uppercase hex (wire doc §5.8).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::Reader;

/// Offset message id: store host + port + physical offset, uppercase hex.
pub fn offset_msg_id(store_host: SocketAddr, physical_offset: i64) -> String {
    let mut out = String::with_capacity(56);
    push_offset_msg_id(&mut out, store_host, physical_offset);
    out
}

/// Appends the offset message id to `out` without allocating (the send path writes a
/// batch's ids, comma-separated, into one String).
pub fn push_offset_msg_id(out: &mut String, store_host: SocketAddr, physical_offset: i64) {
    let hex = |n: u8| char::from(if n < 10 { b'0' + n } else { b'A' + n - 10 });
    let mut put = |bytes: &[u8]| {
        for b in bytes {
            out.push(hex(b >> 4));
            out.push(hex(b & 0xF));
        }
    };
    match store_host.ip() {
        IpAddr::V4(ip) => put(&ip.octets()),
        IpAddr::V6(ip) => put(&ip.octets()),
    }
    put(&i32::from(store_host.port()).to_be_bytes());
    put(&physical_offset.to_be_bytes());
}

/// Decodes a 32-char (IPv4) or 56-char (IPv6) offset message id.
pub fn decode_offset_msg_id(id: &str) -> Option<(SocketAddr, i64)> {
    let bytes = id.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let raw: Vec<u8> = bytes
        .chunks_exact(2)
        .map(|p| {
            Some(
                (char::from(*p.first()?).to_digit(16)? * 16
                    + char::from(*p.get(1)?).to_digit(16)?) as u8,
            )
        })
        .collect::<Option<_>>()?;
    let mut r = Reader { buf: &raw, pos: 0 };
    let ip: IpAddr = match raw.len() {
        16 => IpAddr::V4(Ipv4Addr::from(r.array::<4>().ok()?)),
        28 => IpAddr::V6(Ipv6Addr::from(r.array::<16>().ok()?)),
        _ => return None,
    };
    let port = u16::try_from(r.i32().ok()?).ok()?;
    let offset = r.i64().ok()?;
    Some((SocketAddr::new(ip, port), offset))
}
