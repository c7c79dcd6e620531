//! The producer's batch body (wire doc §5.6), decoded with every length bounded.

use bytes::Bytes;

/// One message of a batch, borrowing nothing (body is a slice of the request body).
pub struct BatchItem {
    pub flag: i32,
    pub body: Bytes,
    pub properties: String,
}

/// TOTALSIZE, MAGICCODE, BODYCRC, FLAG, BODYLEN.
const ENTRY_FIXED: usize = 20;

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes(b.try_into().ok()?))
}

fn read_i16(buf: &[u8], at: usize) -> Option<i16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(i16::from_be_bytes(b.try_into().ok()?))
}

/// Splits a batch body into its messages. Errors name the entry and the problem.
pub fn decode_batch(body: &Bytes, max_entries: usize) -> Result<Vec<BatchItem>, String> {
    let mut items = Vec::new();
    let mut pos = 0usize;
    while pos < body.len() {
        if items.len() >= max_entries {
            return Err(format!("batch has more than {max_entries} messages"));
        }
        let n = items.len();
        let total = read_i32(body, pos).ok_or_else(|| format!("entry {n}: truncated header"))?;
        let flag =
            read_i32(body, pos + 12).ok_or_else(|| format!("entry {n}: truncated header"))?;
        let body_len =
            read_i32(body, pos + 16).ok_or_else(|| format!("entry {n}: truncated header"))?;
        let body_len =
            usize::try_from(body_len).map_err(|_| format!("entry {n}: negative body length"))?;
        let body_start = pos + ENTRY_FIXED;
        let body_end = body_start
            .checked_add(body_len)
            .filter(|e| *e <= body.len())
            .ok_or_else(|| format!("entry {n}: body length {body_len} past the end"))?;
        let props_len = read_i16(body, body_end)
            .ok_or_else(|| format!("entry {n}: truncated properties length"))?;
        let props_len = usize::try_from(props_len)
            .map_err(|_| format!("entry {n}: negative properties length"))?;
        let props_start = body_end + 2;
        let props_end = props_start + props_len;
        let props = body
            .get(props_start..props_end)
            .ok_or_else(|| format!("entry {n}: properties past the end"))?;
        let properties = std::str::from_utf8(props)
            .map_err(|_| format!("entry {n}: properties are not UTF-8"))?
            .to_string();
        let consumed = props_end - pos;
        if usize::try_from(total).ok() != Some(consumed) {
            return Err(format!(
                "entry {n}: TOTALSIZE {total} but entry is {consumed} bytes"
            ));
        }
        items.push(BatchItem {
            flag,
            body: body.slice(body_start..body_end),
            properties,
        });
        pos = props_end;
    }
    if items.is_empty() {
        return Err("empty batch".to_string());
    }
    Ok(items)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::protocol::inflate_bounded;
    use std::io::Write;

    pub fn encode_entry(flag: i32, body: &[u8], props: &str) -> Vec<u8> {
        let total = 20 + body.len() + 2 + props.len();
        let mut v = Vec::new();
        v.extend_from_slice(&(total as i32).to_be_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&flag.to_be_bytes());
        v.extend_from_slice(&(body.len() as i32).to_be_bytes());
        v.extend_from_slice(body);
        v.extend_from_slice(&(props.len() as i16).to_be_bytes());
        v.extend_from_slice(props.as_bytes());
        v
    }

    #[test]
    fn decodes_and_rejects_bad_lengths() {
        let mut raw = encode_entry(1, b"hello", "KEYS\u{1}k1\u{2}");
        let first_len = raw.len();
        raw.extend(encode_entry(2, b"", "KEYS\u{1}k2"));
        let items = decode_batch(&Bytes::from(raw.clone()), 100).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(&items[0].body[..], b"hello");
        assert_eq!(items[1].flag, 2);
        for cut in (1..raw.len()).filter(|c| *c != first_len) {
            assert!(
                decode_batch(&Bytes::from(raw[..cut].to_vec()), 100).is_err(),
                "cut {cut}"
            );
        }
        let mut bad = raw.clone();
        bad[19] = 0xFF; // body length way past the end
        assert!(decode_batch(&Bytes::from(bad), 100).is_err());
        assert!(decode_batch(&Bytes::from(raw), 1).is_err());
        assert!(decode_batch(&Bytes::new(), 1).is_err());
    }

    #[test]
    fn inflate_is_bounded() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&[7u8; 10_000]).unwrap();
        let packed = z.finish().unwrap();
        assert_eq!(inflate_bounded(&packed, 10_000).unwrap().len(), 10_000);
        assert!(inflate_bounded(&packed, 9_999).is_err());
        assert!(inflate_bounded(b"not zlib", 100).is_err());
    }
}
