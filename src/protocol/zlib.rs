//! zlib bodies: a batch C++ compressed as a whole, a message body a producer compressed
//! (sysFlag 0x1). Inflation is bounded: a small hostile input must not become gigabytes.

use std::io::Read;

/// Inflates a zlib stream, refusing output beyond `limit` bytes (a zip bomb gets an error,
/// not the memory).
pub fn inflate_bounded(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::ZlibDecoder::new(data)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| format!("compressed body cannot be inflated: {e}"))?;
    if out.len() > limit {
        return Err(format!("inflated body exceeds {limit} bytes"));
    }
    Ok(out)
}
