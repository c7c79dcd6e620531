//! Send headers: SEND_MESSAGE (10, long names), SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE
//! (310/320, one-letter names) and the send response (wire doc §2.2).

use std::borrow::Cow;

use super::HeaderError;
use crate::command_header;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode};

/// The header of every send, read from either naming; text borrowed from the request (the
/// topic can be replaced, e.g. by the broker when a retry is redirected to the DLQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageRequestHeader<'a> {
    pub producer_group: &'a str,
    pub topic: Cow<'a, str>,
    /// The topic whose config a new topic copies (`TBW102` when absent).
    pub default_topic: &'a str,
    pub default_topic_queue_nums: i32,
    /// `< 0`: the broker picks a queue.
    pub queue_id: i32,
    pub sys_flag: i32,
    /// Absent: the broker stamps its own time.
    pub born_timestamp: Option<i64>,
    pub flag: i32,
    pub properties: &'a str,
    pub reconsume_times: i32,
    pub unit_mode: bool,
    /// Batch is decided by this flag, not by the request code.
    pub batch: bool,
    pub max_reconsume_times: Option<i32>,
    pub broker_name: Option<&'a str>,
}

impl Default for SendMessageRequestHeader<'_> {
    fn default() -> Self {
        SendMessageRequestHeader {
            producer_group: "",
            topic: Cow::Borrowed(""),
            default_topic: "TBW102",
            default_topic_queue_nums: 4,
            queue_id: 0,
            sys_flag: 0,
            born_timestamp: None,
            flag: 0,
            properties: "",
            reconsume_times: 0,
            unit_mode: false,
            batch: false,
            max_reconsume_times: None,
            broker_name: None,
        }
    }
}

/// Long names and their SEND_MESSAGE_V2 letters, in the order of wire doc §2.2.
const NAMES: [(&str, &str); 14] = [
    ("producerGroup", "a"),
    ("topic", "b"),
    ("defaultTopic", "c"),
    ("defaultTopicQueueNums", "d"),
    ("queueId", "e"),
    ("sysFlag", "f"),
    ("bornTimestamp", "g"),
    ("flag", "h"),
    ("properties", "i"),
    ("reconsumeTimes", "j"),
    ("unitMode", "k"),
    ("maxReconsumeTimes", "l"),
    ("batch", "m"),
    ("bname", "n"),
];

/// Whether `code` names its send fields with letters.
pub fn uses_letters(code: RequestCode) -> bool {
    matches!(
        code,
        RequestCode::SendMessageV2
            | RequestCode::SendBatchMessage
            | RequestCode::SendReplyMessageV2
    )
}

impl<'a> SendMessageRequestHeader<'a> {
    /// Decodes the header of any send request. Letter names for SEND_MESSAGE_V2,
    /// SEND_BATCH_MESSAGE and SEND_REPLY_MESSAGE_V2, long names otherwise; a long name is
    /// also accepted on a letter code (lenient). Errors name the field by its long name.
    pub fn decode(cmd: &'a RemotingCommand) -> Result<Self, HeaderError> {
        Self::decode_ext(cmd.request_code(), &cmd.ext_fields)
    }

    pub fn decode_ext(code: RequestCode, ext: &'a ExtFields) -> Result<Self, HeaderError> {
        // A client names all fields one way; the topic tells which (a long name on a letter
        // code is accepted, leniently).
        let letters = uses_letters(code) && ext.contains_key("b");
        let key = |long: &'static str, letter: &'static str| if letters { letter } else { long };
        let named = |e: HeaderError| match e {
            HeaderError::Missing(f) => HeaderError::Missing(long_name(f)),
            HeaderError::Invalid { field, value } => HeaderError::Invalid {
                field: long_name(field),
                value,
            },
        };
        let read = || -> Result<Self, HeaderError> {
            Ok(SendMessageRequestHeader {
                producer_group: ext.req(key("producerGroup", "a"))?,
                topic: Cow::Borrowed(ext.req(key("topic", "b"))?),
                default_topic: ext.get(key("defaultTopic", "c")).unwrap_or("TBW102"),
                default_topic_queue_nums: ext
                    .opt_num(key("defaultTopicQueueNums", "d"))?
                    .unwrap_or(4),
                queue_id: ext.num(key("queueId", "e"))?,
                sys_flag: ext.opt_num(key("sysFlag", "f"))?.unwrap_or(0),
                born_timestamp: ext.opt_num(key("bornTimestamp", "g"))?,
                flag: ext.opt_num(key("flag", "h"))?.unwrap_or(0),
                properties: ext.get(key("properties", "i")).unwrap_or(""),
                reconsume_times: ext.opt_num(key("reconsumeTimes", "j"))?.unwrap_or(0),
                unit_mode: ext.flag(key("unitMode", "k")),
                batch: ext.flag(key("batch", "m")),
                max_reconsume_times: ext.opt_num(key("maxReconsumeTimes", "l"))?,
                broker_name: ext.get(key("bname", "n")),
            })
        };
        read().map_err(named)
    }

    /// The fields as a client sends them: letters (`SEND_MESSAGE_V2`, batches) or long names.
    pub fn to_ext(&self, letters: bool) -> ExtFields {
        let mut ext = ExtFields::with_capacity(NAMES.len());
        let name = |long: &'static str| if letters { short_name(long) } else { long };
        ext.insert(name("producerGroup"), self.producer_group);
        ext.insert(name("topic"), &*self.topic);
        ext.insert(name("defaultTopic"), self.default_topic);
        ext.insert_display(name("defaultTopicQueueNums"), self.default_topic_queue_nums);
        ext.insert_display(name("queueId"), self.queue_id);
        ext.insert_display(name("sysFlag"), self.sys_flag);
        if let Some(t) = self.born_timestamp {
            ext.insert_display(name("bornTimestamp"), t);
        }
        ext.insert_display(name("flag"), self.flag);
        if !self.properties.is_empty() {
            ext.insert(name("properties"), self.properties);
        }
        ext.insert_display(name("reconsumeTimes"), self.reconsume_times);
        ext.insert_display(name("unitMode"), self.unit_mode);
        ext.insert_display(name("batch"), self.batch);
        if let Some(m) = self.max_reconsume_times {
            ext.insert_display(name("maxReconsumeTimes"), m);
        }
        if let Some(b) = self.broker_name {
            ext.insert(name("bname"), b);
        }
        ext
    }
}

fn long_name(field: &'static str) -> &'static str {
    NAMES
        .iter()
        .find(|(_, letter)| *letter == field)
        .map_or(field, |(long, _)| long)
}

fn short_name(field: &'static str) -> &'static str {
    NAMES
        .iter()
        .find(|(long, _)| *long == field)
        .map_or(field, |(_, letter)| letter)
}

command_header! {
    /// Reply to every send (10/310/320/324/325).
    pub struct SendMessageResponseHeader {
        req msg_id: String = "msgId",
        req queue_id: i32 = "queueId",
        req queue_offset: i64 = "queueOffset",
        opt transaction_id: Option<String> = "transactionId",
        opt msg_region: Option<String> = "MSG_REGION",
        opt trace_on: Option<String> = "TRACE_ON",
        opt batch_uniq_id: Option<String> = "batchUniqId",
    }
}
