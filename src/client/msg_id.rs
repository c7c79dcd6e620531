//! Message ids in RocketMQ's UNIQ_KEY format (MessageClientIDSetter): 32 uppercase hex
//! digits = client IPv4 (4 bytes), process id (2), a per-process random (4), milliseconds
//! since the start of the current month, UTC (4), a counter (2). Ids stay unique per
//! process; tools read the time back from them.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Prefix {
    hex: String,
}

/// This host's address on its outgoing interface (loopback when there is none).
pub(crate) fn local_ipv4() -> Ipv4Addr {
    // Connecting a UDP socket sends nothing; it only picks the outgoing interface.
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("8.8.8.8:53").map(|()| s))
        .and_then(|s| s.local_addr())
        .ok()
        .and_then(|a| match a.ip() {
            IpAddr::V4(v4) if !v4.is_unspecified() => Some(v4),
            _ => None,
        })
        .unwrap_or(Ipv4Addr::LOCALHOST)
}

fn prefix() -> &'static Prefix {
    static PREFIX: OnceLock<Prefix> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let random = (now as u32) ^ ((now >> 32) as u32).rotate_left(13);
        let mut raw = local_ipv4().octets().to_vec();
        raw.extend_from_slice(&(std::process::id() as u16).to_be_bytes());
        raw.extend_from_slice(&random.to_be_bytes());
        Prefix { hex: hex(&raw) }
    })
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

fn push_hex(s: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
}

/// Milliseconds since the first day of the current month, 00:00 UTC.
fn ms_into_month(now_ms: i64) -> i64 {
    let days = now_ms.div_euclid(86_400_000);
    let (_, _, day) = ferrumq_store::civil_from_days(days);
    now_ms - (days - (day - 1)) * 86_400_000
}

/// A new message id.
pub(crate) fn new_id() -> String {
    static COUNTER: AtomicU16 = AtomicU16::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut tail = [0u8; 6];
    tail[..4].copy_from_slice(&(ms_into_month(now) as u32).to_be_bytes());
    tail[4..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    // One allocation per id: sends make one each.
    let mut id = String::with_capacity(32);
    id.push_str(&prefix().hex);
    push_hex(&mut id, &tail);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_unique() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_ne!(a, b);
        assert_eq!(a.get(..20), b.get(..20), "same process prefix");
    }

    #[test]
    fn month_offset() {
        // 2026-11-30T09:00:00Z is 29 days and 9 hours into November.
        let t = 1_796_029_200_000;
        assert_eq!(ms_into_month(t), (29 * 24 + 9) * 3_600_000);
        // 2024-03-01T00:00:00.5Z: the first day.
        assert_eq!(ms_into_month(1_709_251_200_500), 500);
    }
}
