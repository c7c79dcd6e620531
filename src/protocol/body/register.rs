//! Registration bodies: DataVersion, TopicConfig, TopicConfigSerializeWrapper,
//! RegisterBrokerBody (plain and compressed), KvTable.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::lenient_enum;
use crate::protocol::error::BodyError;
use crate::protocol::lenient::{de_bool, de_i32, de_i64, de_null_default, de_opt_i64};

/// Upper bound on an inflated REGISTER_BROKER body, against zip bombs.
const MAX_INFLATED_BYTES: u64 = 64 * 1024 * 1024;

/// Version of a broker's topic table: equal iff counter and timestamp are equal.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataVersion {
    #[serde(default, deserialize_with = "de_i64")]
    pub counter: i64,
    #[serde(
        default,
        deserialize_with = "de_opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub state_version: Option<i64>,
    #[serde(default, deserialize_with = "de_i64")]
    pub timestamp: i64,
}

impl JsonBody for DataVersion {}

impl DataVersion {
    /// RocketMQ equality: counter and timestamp (stateVersion is 5.x only).
    pub fn same_as(&self, other: &DataVersion) -> bool {
        self.counter == other.counter && self.timestamp == other.timestamp
    }

    /// `nextVersion()`: timestamp = now, counter + 1.
    pub fn next_version(&mut self, now_ms: i64) {
        self.timestamp = now_ms;
        self.counter += 1;
    }
}

lenient_enum! {
    /// How a topic's tags are filtered (informational in 4.x).
    #[derive(Default)]
    pub enum TopicFilterType {
        #[default]
        SingleTag = 0 => "SINGLE_TAG",
        MultiTag = 1 => "MULTI_TAG",
    }
}

fn sixteen() -> i32 {
    16
}

fn rw() -> i32 {
    6
}

/// One topic's configuration (topics.json entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "de_bool")]
    pub order: bool,
    #[serde(default = "rw", deserialize_with = "de_i32")]
    pub perm: i32,
    #[serde(default = "sixteen", deserialize_with = "de_i32")]
    pub read_queue_nums: i32,
    #[serde(default)]
    pub topic_filter_type: TopicFilterType,
    #[serde(default)]
    pub topic_name: String,
    #[serde(default, deserialize_with = "de_i32")]
    pub topic_sys_flag: i32,
    #[serde(default = "sixteen", deserialize_with = "de_i32")]
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            attributes: None,
            order: false,
            perm: 6,
            read_queue_nums: 16,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

impl TopicConfig {
    pub fn new(name: impl Into<String>) -> Self {
        TopicConfig {
            topic_name: name.into(),
            ..Default::default()
        }
    }
}

/// topics.json / GET_ALL_TOPIC_CONFIG / the heart of REGISTER_BROKER.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfigSerializeWrapper {
    #[serde(default)]
    pub data_version: DataVersion,
    #[serde(default, deserialize_with = "de_null_default")]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
}

impl JsonBody for TopicConfigSerializeWrapper {}

/// REGISTER_BROKER request body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBrokerBody {
    #[serde(default, deserialize_with = "de_null_default")]
    pub filter_server_list: Vec<String>,
    #[serde(default)]
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl JsonBody for RegisterBrokerBody {}

impl RegisterBrokerBody {
    /// Decodes a REGISTER_BROKER body. `version` is the request's: brokers before V3_0_11
    /// (37) sent a bare TopicConfigSerializeWrapper.
    pub fn decode_register(body: &[u8], compressed: bool, version: i32) -> Result<Self, BodyError> {
        if compressed {
            return Self::decode_compressed(body);
        }
        if body.is_empty() {
            return Ok(Self::default());
        }
        if version < 37 {
            let wrapper = TopicConfigSerializeWrapper::decode(body)?;
            return Ok(RegisterBrokerBody {
                filter_server_list: Vec::new(),
                topic_config_serialize_wrapper: wrapper,
            });
        }
        Self::decode(body)
    }

    /// Java `RegisterBrokerBody.encode(true)`: zlib of DataVersion JSON, topic count, each
    /// topic as "name read write perm filterType", then the filter server list JSON; every
    /// part prefixed by an i32 length.
    pub fn encode_compressed(&self) -> Vec<u8> {
        let mut raw = Vec::new();
        let wrapper = &self.topic_config_serialize_wrapper;
        put_chunk(&mut raw, &wrapper.data_version.encode());
        raw.extend_from_slice(&(wrapper.topic_config_table.len() as i32).to_be_bytes());
        for tc in wrapper.topic_config_table.values() {
            let line = format!(
                "{} {} {} {} {}",
                tc.topic_name,
                tc.read_queue_nums,
                tc.write_queue_nums,
                tc.perm,
                tc.topic_filter_type.name()
            );
            put_chunk(&mut raw, line.as_bytes());
        }
        put_chunk(
            &mut raw,
            &serde_json::to_vec(&self.filter_server_list).unwrap_or_default(),
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing into a Vec cannot fail.
        let _ = z.write_all(&raw);
        z.finish().unwrap_or_default()
    }

    pub fn decode_compressed(body: &[u8]) -> Result<Self, BodyError> {
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(body)
            .take(MAX_INFLATED_BYTES)
            .read_to_end(&mut raw)
            .map_err(|e| BodyError::Compressed(e.to_string()))?;
        let mut r = ChunkReader { buf: &raw, pos: 0 };
        let data_version = DataVersion::decode(r.chunk()?)?;
        let count = r.i32()?;
        let mut table = BTreeMap::new();
        for _ in 0..count {
            let tc = parse_topic_line(r.chunk()?)?;
            table.insert(tc.topic_name.clone(), tc);
        }
        let filter_server_list = match r.chunk() {
            Ok(b) if !b.is_empty() => crate::protocol::lenient::from_slice(b)?,
            _ => Vec::new(),
        };
        Ok(RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version,
                topic_config_table: table,
            },
        })
    }
}

fn put_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

struct ChunkReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ChunkReader<'a> {
    fn i32(&mut self) -> Result<i32, BodyError> {
        let b: [u8; 4] = self
            .buf
            .get(self.pos..self.pos + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| BodyError::Compressed("truncated length".into()))?;
        self.pos += 4;
        Ok(i32::from_be_bytes(b))
    }

    fn chunk(&mut self) -> Result<&'a [u8], BodyError> {
        let len = usize::try_from(self.i32()?)
            .map_err(|_| BodyError::Compressed("negative length".into()))?;
        let s = self
            .pos
            .checked_add(len)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or_else(|| BodyError::Compressed("truncated chunk".into()))?;
        self.pos += len;
        Ok(s)
    }
}

fn parse_topic_line(line: &[u8]) -> Result<TopicConfig, BodyError> {
    let text = std::str::from_utf8(line).map_err(|e| BodyError::Compressed(e.to_string()))?;
    let parts: Vec<&str> = text.split(' ').collect();
    let bad = || BodyError::Compressed(format!("bad topic config {text:?}"));
    let num = |i: usize| -> Result<i32, BodyError> {
        parts.get(i).and_then(|p| p.parse().ok()).ok_or_else(bad)
    };
    Ok(TopicConfig {
        topic_name: parts.first().ok_or_else(bad)?.to_string(),
        read_queue_nums: num(1)?,
        write_queue_nums: num(2)?,
        perm: num(3)?,
        topic_filter_type: parts
            .get(4)
            .and_then(|p| TopicFilterType::from_name(p))
            .unwrap_or_default(),
        ..Default::default()
    })
}

/// `{"table":{"k":"v"}}` (GET_BROKER_RUNTIME_INFO, GET_KVLIST_BY_NAMESPACE, register reply).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KvTable {
    #[serde(default, deserialize_with = "de_null_default")]
    pub table: HashMap<String, String>,
}

impl JsonBody for KvTable {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn body() -> RegisterBrokerBody {
        let mut table = BTreeMap::new();
        for name in ["TopicA", "TBW102"] {
            let mut tc = TopicConfig::new(name);
            tc.read_queue_nums = 8;
            tc.write_queue_nums = 4;
            table.insert(name.to_owned(), tc);
        }
        RegisterBrokerBody {
            filter_server_list: vec![],
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version: DataVersion {
                    counter: 3,
                    state_version: None,
                    timestamp: 17,
                },
                topic_config_table: table,
            },
        }
    }

    #[test]
    fn compressed_round_trip() {
        let b = body();
        let z = b.encode_compressed();
        assert_eq!(
            RegisterBrokerBody::decode_register(&z, true, 409).unwrap(),
            b
        );
    }

    #[test]
    fn garbage_compressed_body_is_an_error() {
        assert!(RegisterBrokerBody::decode_register(b"not zlib", true, 409).is_err());
    }

    #[test]
    fn json_round_trip_and_old_bare_wrapper() {
        let b = body();
        assert_eq!(
            RegisterBrokerBody::decode_register(&b.encode(), false, 409).unwrap(),
            b
        );
        let bare = b.topic_config_serialize_wrapper.encode();
        assert_eq!(
            RegisterBrokerBody::decode_register(&bare, false, 10).unwrap(),
            b
        );
    }
}
