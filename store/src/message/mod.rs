//! The stored record (DESIGN.md §1): encode, bounded decode, properties, Java hash, message ids.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;

pub use crate::error::RecordError;
use crate::error::StoreError;

/// Magic of a v1 record (1-byte topic length).
pub const MAGIC_V1: u32 = 0xDAA3_20A7;
/// Magic of the blank end-of-file marker.
pub const MAGIC_BLANK: u32 = 0xCBD4_3194;
/// Bytes a file always keeps for a blank marker (TOTALSIZE + MAGIC).
pub const BLANK_MIN_LEN: usize = 8;
/// Fixed part of a record with IPv4 hosts (everything but body, topic and properties).
pub const FIXED_LEN_V4: usize = 91;
/// Longest topic a v1 record can hold.
pub const MAX_TOPIC_LEN: usize = 127;
/// Longest properties block (signed i16 length).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

/// sysFlag: body compressed.
pub const FLAG_COMPRESSED: i32 = 0x1;
/// sysFlag: transaction type mask.
pub const TRANSACTION_TYPE_MASK: i32 = 0xC;
/// sysFlag: not transactional.
pub const TRANSACTION_NOT_TYPE: i32 = 0x0;
/// sysFlag: half (prepared) message.
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
/// sysFlag: commit.
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
/// sysFlag: rollback.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
/// sysFlag: born host is IPv6.
pub const FLAG_BORNHOST_V6: i32 = 0x10;
/// sysFlag: store host is IPv6.
pub const FLAG_STOREHOST_V6: i32 = 0x20;

/// Byte offset of QUEUEOFFSET in a record.
pub const POS_QUEUE_OFFSET: usize = 20;
/// Byte offset of PHYSICALOFFSET in a record.
pub const POS_PHYSICAL_OFFSET: usize = 28;
/// Byte offset of SYSFLAG.
pub const POS_SYS_FLAG: usize = 36;
/// Byte offset of BORNHOST.
pub const POS_BORN_HOST: usize = 48;

/// Property names the store reads.
pub const PROPERTY_KEYS: &str = "KEYS";
/// Tag property.
pub const PROPERTY_TAGS: &str = "TAGS";
/// Client message id.
pub const PROPERTY_UNIQ_KEY: &str = "UNIQ_KEY";
/// Delay level.
pub const PROPERTY_DELAY: &str = "DELAY";
/// The schedule topic whose tag code is a due time.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

mod msg_id;
mod properties;

pub use msg_id::{decode_offset_msg_id, offset_msg_id, push_offset_msg_id};
pub use properties::{
    encode_properties, find_property, iter_properties, java_string_hash, parse_properties,
    push_property, tag_code,
};

/// One message to append (the broker has already decided topic, queue and properties).
#[derive(Clone, Debug)]
pub struct MessageToStore {
    /// destination topic
    pub topic: String,
    /// destination queue
    pub queue_id: i32,
    /// user flag
    pub flag: i32,
    /// body as received (compressed if sysFlag bit 0)
    pub body: Bytes,
    /// RocketMQ "k\u0001v\u0002" form, already final
    pub properties: String,
    /// sysFlag; the host bits 4/5 are set by the store from the addresses
    pub sys_flag: i32,
    /// producer's timestamp
    pub born_timestamp_ms: i64,
    /// producer address
    pub born_host: SocketAddr,
    /// broker address (brokerIP1:listenPort)
    pub store_host: SocketAddr,
    /// reconsume count
    pub reconsume_times: i32,
    /// physical offset of the half message for commit records
    pub prepared_transaction_offset: i64,
    /// Some: keep this store time (transaction commit); None: now
    pub store_timestamp_ms: Option<i64>,
}

/// A batch for one topic/queue: entries share everything but flag, body and properties.
#[derive(Clone, Debug)]
pub struct BatchToStore {
    /// topic, queue, hosts, timestamps (body/properties/flag unused)
    pub common: MessageToStore,
    /// the records, in order
    pub entries: Vec<BatchEntry>,
}

/// One entry of a batch.
#[derive(Clone, Debug)]
pub struct BatchEntry {
    /// user flag
    pub flag: i32,
    /// body
    pub body: Bytes,
    /// final properties
    pub properties: String,
}

/// RocketMQ's PutMessageStatus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutStatus {
    /// stored (and flushed if SYNC_FLUSH)
    PutOk,
    /// stored, but the flush did not finish within syncFlushTimeout
    FlushDiskTimeout,
    /// stored, but no slave acknowledged it within syncFlushTimeout (SYNC_MASTER)
    FlushSlaveTimeout,
    /// stored, but no slave in sync to copy it to (SYNC_MASTER)
    SlaveNotAvailable,
    /// store shut down or flush failed
    ServiceNotAvailable,
    /// bad topic/body/queue
    MessageIllegal,
    /// properties too long
    PropertiesSizeExceeded,
    /// append lock held too long
    OsPageCacheBusy,
    /// anything else
    UnknownError,
}

/// The outcome of an append.
#[derive(Clone, Debug)]
pub struct PutResult {
    /// status of the in-memory append (PutOk here; the FlushWaiter may downgrade it)
    pub status: PutStatus,
    /// first record
    pub physical_offset: i64,
    /// first record
    pub queue_offset: i64,
    /// records written
    pub msg_count: usize,
    /// bytes written (records only, not blank markers)
    pub wrote_bytes: usize,
    /// store timestamp of the records
    pub store_timestamp_ms: i64,
    /// offset message ids (32 hex chars for IPv4), one per record, comma-separated: the
    /// send reply's msgId field as it is
    pub msg_ids: String,
}

impl PutResult {
    /// The records' offset message ids, in order.
    pub fn msg_id_list(&self) -> impl Iterator<Item = &str> {
        self.msg_ids.split(',').filter(|id| !id.is_empty())
    }
}

/// A decoded record; borrows body, topic and properties from the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedRecord<'a> {
    /// TOTALSIZE
    pub total_size: usize,
    /// MAGICCODE
    pub magic: u32,
    /// BODYCRC as stored
    pub body_crc: u32,
    /// QUEUEID
    pub queue_id: i32,
    /// FLAG
    pub flag: i32,
    /// QUEUEOFFSET
    pub queue_offset: i64,
    /// PHYSICALOFFSET
    pub physical_offset: i64,
    /// SYSFLAG
    pub sys_flag: i32,
    /// BORNTIMESTAMP
    pub born_timestamp_ms: i64,
    /// BORNHOST
    pub born_host: SocketAddr,
    /// STORETIMESTAMP
    pub store_timestamp_ms: i64,
    /// STOREHOST
    pub store_host: SocketAddr,
    /// RECONSUMETIMES
    pub reconsume_times: i32,
    /// PREPAREDTRANSACTIONOFFSET
    pub prepared_transaction_offset: i64,
    /// BODY
    pub body: &'a [u8],
    /// TOPIC
    pub topic: &'a str,
    /// PROPERTIES
    pub properties: &'a str,
}

impl DecodedRecord<'_> {
    /// The transaction type bits of sysFlag.
    pub fn transaction_type(&self) -> i32 {
        self.sys_flag & TRANSACTION_TYPE_MASK
    }

    /// A property by name (last occurrence wins, as in Java's map).
    pub fn property(&self, name: &str) -> Option<&str> {
        find_property(self.properties, name)
    }
}

/// BODYCRC: crc32c of the body masked to 31 bits (DESIGN.md §1, differs from RocketMQ).
pub fn body_crc(body: &[u8]) -> u32 {
    crc32c::crc32c(body) & 0x7FFF_FFFF
}

pub(crate) fn push_host(buf: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => buf.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => buf.extend_from_slice(&ip.octets()),
    }
    buf.extend_from_slice(&i32::from(addr.port()).to_be_bytes());
}

fn host_len(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() {
        8
    } else {
        20
    }
}

/// Checks a topic name against `[%|a-zA-Z0-9_-]{1,127}`.
pub fn validate_topic(topic: &str) -> Result<(), StoreError> {
    let ok = !topic.is_empty()
        && topic.len() <= MAX_TOPIC_LEN
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::IllegalTopic(topic.chars().take(160).collect()))
    }
}

/// What the encoder needs for one record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordInput<'a> {
    pub queue_id: i32,
    pub flag: i32,
    pub sys_flag: i32,
    pub born_timestamp_ms: i64,
    pub born_host: SocketAddr,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    pub topic: &'a str,
    pub properties: &'a str,
}

/// Size of the encoded record.
pub(crate) fn record_len(r: &RecordInput<'_>) -> usize {
    FIXED_LEN_V4 - 16
        + host_len(&r.born_host)
        + host_len(&r.store_host)
        + r.body.len()
        + r.topic.len()
        + r.properties.len()
}

/// Position of STORETIMESTAMP in a record with this sysFlag.
pub(crate) fn store_timestamp_pos(sys_flag: i32) -> usize {
    if sys_flag & FLAG_BORNHOST_V6 != 0 {
        68
    } else {
        56
    }
}

/// Appends one record to `buf` with QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP zero (the
/// append lock patches them). Lengths must have been validated by the caller.
pub(crate) fn encode_record(buf: &mut Vec<u8>, r: &RecordInput<'_>) {
    let mut sys_flag = r.sys_flag & !(FLAG_BORNHOST_V6 | FLAG_STOREHOST_V6);
    if r.born_host.is_ipv6() {
        sys_flag |= FLAG_BORNHOST_V6;
    }
    if r.store_host.is_ipv6() {
        sys_flag |= FLAG_STOREHOST_V6;
    }
    let total = record_len(r);
    buf.reserve(total);
    buf.extend_from_slice(&(total as i32).to_be_bytes());
    buf.extend_from_slice(&MAGIC_V1.to_be_bytes());
    buf.extend_from_slice(&body_crc(r.body).to_be_bytes());
    buf.extend_from_slice(&r.queue_id.to_be_bytes());
    buf.extend_from_slice(&r.flag.to_be_bytes());
    buf.extend_from_slice(&0i64.to_be_bytes()); // queue offset
    buf.extend_from_slice(&0i64.to_be_bytes()); // physical offset
    buf.extend_from_slice(&sys_flag.to_be_bytes());
    buf.extend_from_slice(&r.born_timestamp_ms.to_be_bytes());
    push_host(buf, &r.born_host);
    buf.extend_from_slice(&0i64.to_be_bytes()); // store timestamp
    push_host(buf, &r.store_host);
    buf.extend_from_slice(&r.reconsume_times.to_be_bytes());
    buf.extend_from_slice(&r.prepared_transaction_offset.to_be_bytes());
    buf.extend_from_slice(&(r.body.len() as i32).to_be_bytes());
    buf.extend_from_slice(r.body);
    buf.push(r.topic.len() as u8);
    buf.extend_from_slice(r.topic.as_bytes());
    buf.extend_from_slice(&(r.properties.len() as i16).to_be_bytes());
    buf.extend_from_slice(r.properties.as_bytes());
}

/// A bounds-checked big-endian cursor.
pub(crate) struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(RecordError::BadLength("overflow"))?;
        let s = self.buf.get(self.pos..end).ok_or(RecordError::Truncated {
            need: end,
            have: self.buf.len(),
        })?;
        self.pos = end;
        Ok(s)
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, RecordError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    fn host(&mut self, v6: bool) -> Result<SocketAddr, RecordError> {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))
        };
        let port = self.i32()?;
        // Ports are i32 on the wire; keep the low 16 bits rather than failing a pull.
        Ok(SocketAddr::new(ip, port as u16))
    }
}

/// Reads TOTALSIZE and MAGIC of whatever is at the start of `buf`.
pub fn peek_header(buf: &[u8]) -> Result<(i32, u32), RecordError> {
    let mut r = Reader { buf, pos: 0 };
    Ok((r.i32()?, r.u32()?))
}

/// Decodes one record at the start of `buf` (which may hold more). Every length is checked
/// against the buffer and TOTALSIZE; the CRC is not checked (see `decode_record_checked`).
pub fn decode_record(buf: &[u8]) -> Result<DecodedRecord<'_>, RecordError> {
    let (total, magic) = peek_header(buf)?;
    if magic == MAGIC_BLANK {
        return Err(RecordError::Blank);
    }
    if magic != MAGIC_V1 {
        return Err(RecordError::BadMagic(magic));
    }
    let total = usize::try_from(total).map_err(|_| RecordError::BadLength("total size"))?;
    if total < FIXED_LEN_V4 {
        return Err(RecordError::BadLength("total size below minimum"));
    }
    let rec = buf.get(..total).ok_or(RecordError::Truncated {
        need: total,
        have: buf.len(),
    })?;
    let mut r = Reader { buf: rec, pos: 8 };
    let body_crc = r.u32()?;
    let queue_id = r.i32()?;
    let flag = r.i32()?;
    let queue_offset = r.i64()?;
    let physical_offset = r.i64()?;
    let sys_flag = r.i32()?;
    let born_timestamp_ms = r.i64()?;
    let born_host = r.host(sys_flag & FLAG_BORNHOST_V6 != 0)?;
    let store_timestamp_ms = r.i64()?;
    let store_host = r.host(sys_flag & FLAG_STOREHOST_V6 != 0)?;
    let reconsume_times = r.i32()?;
    let prepared_transaction_offset = r.i64()?;
    let body_len = usize::try_from(r.i32()?).map_err(|_| RecordError::BadLength("body length"))?;
    let body = r.bytes(body_len)?;
    let topic_len = usize::from(r.u8()?);
    if topic_len > MAX_TOPIC_LEN {
        return Err(RecordError::BadLength("topic length"));
    }
    let topic =
        std::str::from_utf8(r.bytes(topic_len)?).map_err(|_| RecordError::NotUtf8("topic"))?;
    let props_len =
        usize::try_from(r.i16()?).map_err(|_| RecordError::BadLength("properties length"))?;
    let properties =
        std::str::from_utf8(r.bytes(props_len)?).map_err(|_| RecordError::NotUtf8("properties"))?;
    if r.pos != total {
        return Err(RecordError::BadLength(
            "total size disagrees with length fields",
        ));
    }
    Ok(DecodedRecord {
        total_size: total,
        magic,
        body_crc,
        queue_id,
        flag,
        queue_offset,
        physical_offset,
        sys_flag,
        born_timestamp_ms,
        born_host,
        store_timestamp_ms,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties,
    })
}

/// A stored record re-encoded as if it had been stored on `topic`/`queue_id`, with its
/// offsets and store time kept (the body of CHECK_TRANSACTION_STATE: a half message shown
/// under its real topic). None when the new topic does not fit a record.
pub fn with_destination(rec: &DecodedRecord<'_>, topic: &str, queue_id: i32) -> Option<Vec<u8>> {
    if topic.is_empty() || topic.len() > u8::MAX as usize {
        return None;
    }
    let input = RecordInput {
        queue_id,
        flag: rec.flag,
        sys_flag: rec.sys_flag,
        born_timestamp_ms: rec.born_timestamp_ms,
        born_host: rec.born_host,
        store_host: rec.store_host,
        reconsume_times: rec.reconsume_times,
        prepared_transaction_offset: rec.prepared_transaction_offset,
        body: rec.body,
        topic,
        properties: rec.properties,
    };
    let mut buf = Vec::with_capacity(record_len(&input));
    encode_record(&mut buf, &input);
    let mut patch = |at: usize, v: i64| {
        if let Some(slot) = buf.get_mut(at..at + 8) {
            slot.copy_from_slice(&v.to_be_bytes());
        }
    };
    patch(POS_QUEUE_OFFSET, rec.queue_offset);
    patch(POS_PHYSICAL_OFFSET, rec.physical_offset);
    patch(store_timestamp_pos(rec.sys_flag), rec.store_timestamp_ms);
    Some(buf)
}

/// `decode_record` plus the body CRC check when `check_crc`.
pub fn decode_record_checked(
    buf: &[u8],
    check_crc: bool,
) -> Result<DecodedRecord<'_>, RecordError> {
    let rec = decode_record(buf)?;
    if check_crc {
        let computed = body_crc(rec.body);
        if computed != rec.body_crc {
            return Err(RecordError::BadCrc {
                stored: rec.body_crc,
                computed,
            });
        }
    }
    Ok(rec)
}

/// Splits a buffer of back-to-back stored records (a pull body) into records.
pub fn decode_records(mut buf: &[u8]) -> Result<Vec<DecodedRecord<'_>>, RecordError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let rec = decode_record(buf)?;
        buf = buf.get(rec.total_size..).unwrap_or(&[]);
        out.push(rec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
