//! Send headers: SEND_MESSAGE (10, long names), SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE
//! (310/320, one-letter names) and the send response (wire doc §2.2).

use std::collections::HashMap;

use super::{CommandHeader, HeaderError};
use crate::command_header;
use crate::protocol::{RemotingCommand, RequestCode};

command_header! {
    /// SEND_MESSAGE (10) with long field names; the common typed view of every send.
    pub struct SendMessageRequestHeader {
        req producer_group: String = "producerGroup",
        req topic: String = "topic",
        req default_topic: String = "defaultTopic",
        req default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// `< 0`: the broker picks a queue.
        req queue_id: i32 = "queueId",
        req sys_flag: i32 = "sysFlag",
        req born_timestamp: i64 = "bornTimestamp",
        req flag: i32 = "flag",
        opt properties: Option<String> = "properties",
        opt reconsume_times: Option<i32> = "reconsumeTimes",
        def unit_mode: bool = "unitMode" => false,
        /// Batch is decided by this flag, not by the request code.
        def batch: bool = "batch" => false,
        opt max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        opt broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE one-letter form. Convert with `From`.
    pub struct SendMessageRequestHeaderV2 {
        req a: String = "a",
        req b: String = "b",
        req c: String = "c",
        req d: i32 = "d",
        req e: i32 = "e",
        req f: i32 = "f",
        req g: i64 = "g",
        req h: i32 = "h",
        opt i: Option<String> = "i",
        opt j: Option<i32> = "j",
        def k: bool = "k" => false,
        opt l: Option<i32> = "l",
        def m: bool = "m" => false,
        opt n: Option<String> = "n",
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v: SendMessageRequestHeaderV2) -> Self {
        SendMessageRequestHeader {
            producer_group: v.a,
            topic: v.b,
            default_topic: v.c,
            default_topic_queue_nums: v.d,
            queue_id: v.e,
            sys_flag: v.f,
            born_timestamp: v.g,
            flag: v.h,
            properties: v.i,
            reconsume_times: v.j,
            unit_mode: v.k,
            max_reconsume_times: v.l,
            batch: v.m,
            broker_name: v.n,
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v: SendMessageRequestHeader) -> Self {
        SendMessageRequestHeaderV2 {
            a: v.producer_group,
            b: v.topic,
            c: v.default_topic,
            d: v.default_topic_queue_nums,
            e: v.queue_id,
            f: v.sys_flag,
            g: v.born_timestamp,
            h: v.flag,
            i: v.properties,
            j: v.reconsume_times,
            k: v.unit_mode,
            l: v.max_reconsume_times,
            m: v.batch,
            n: v.broker_name,
        }
    }
}

/// One-letter codes, so a V2 error can still name the field clients know.
const V2_NAMES: [(&str, &str); 14] = [
    ("a", "producerGroup"),
    ("b", "topic"),
    ("c", "defaultTopic"),
    ("d", "defaultTopicQueueNums"),
    ("e", "queueId"),
    ("f", "sysFlag"),
    ("g", "bornTimestamp"),
    ("h", "flag"),
    ("i", "properties"),
    ("j", "reconsumeTimes"),
    ("k", "unitMode"),
    ("l", "maxReconsumeTimes"),
    ("m", "batch"),
    ("n", "bname"),
];

fn long_name(short: &'static str) -> &'static str {
    V2_NAMES
        .iter()
        .find(|(s, _)| *s == short)
        .map_or(short, |(_, l)| l)
}

impl SendMessageRequestHeader {
    /// Decodes the header of any send request, picking the field names by code: one-letter
    /// names for SEND_MESSAGE_V2, SEND_BATCH_MESSAGE and SEND_REPLY_MESSAGE_V2, long otherwise.
    pub fn decode(cmd: &RemotingCommand) -> Result<Self, HeaderError> {
        Self::decode_ext(cmd.request_code(), &cmd.ext_fields)
    }

    pub fn decode_ext(
        code: RequestCode,
        ext: &HashMap<String, String>,
    ) -> Result<Self, HeaderError> {
        match code {
            RequestCode::SendMessageV2
            | RequestCode::SendBatchMessage
            | RequestCode::SendReplyMessageV2 => SendMessageRequestHeaderV2::from_ext(ext)
                .map(Into::into)
                .map_err(|e| match e {
                    HeaderError::Missing(f) => HeaderError::Missing(long_name(f)),
                    HeaderError::Invalid { field, value } => HeaderError::Invalid {
                        field: long_name(field),
                        value,
                    },
                }),
            _ => Self::from_ext(ext),
        }
    }
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
