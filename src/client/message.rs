//! What a producer sends and what it gets back.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// A message to send: topic, body, and the properties RocketMQ defines (tags, keys, delay)
/// plus user properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub(crate) topic: String,
    pub(crate) body: Bytes,
    pub(crate) flag: i32,
    /// Name → value, user properties and the reserved ones this builder sets.
    pub(crate) properties: BTreeMap<String, String>,
    /// Why the message cannot be sent (a reserved name given to `with_property`).
    invalid: Option<String>,
}

/// Property names clients reserve (RocketMQ's MessageConst); user properties may not use
/// them.
const RESERVED: [&str; 8] = [
    "TAGS",
    "KEYS",
    "DELAY",
    "UNIQ_KEY",
    "WAIT",
    "TIMER_DELIVER_MS",
    "TIMER_DELAY_MS",
    "TIMER_DELAY_SEC",
];

impl Message {
    /// A message for `topic` with this body; add tags, keys and properties with the `with_*`
    /// methods.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Message {
            topic: topic.into(),
            body: body.into(),
            flag: 0,
            properties: BTreeMap::new(),
            invalid: None,
        }
    }

    /// The topic it is sent to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The body, as sent.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// A user or system property (`TAGS`, `KEYS`, ...).
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    /// The tag consumers filter on.
    pub fn with_tags(mut self, tags: impl Into<String>) -> Self {
        self.properties.insert("TAGS".into(), tags.into());
        self
    }

    /// Keys the message can be found by (QUERY_MESSAGE); joined with spaces, as RocketMQ.
    pub fn with_keys<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let joined: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_string()).collect();
        self.properties.insert("KEYS".into(), joined.join(" "));
        self
    }

    /// A user property. Names RocketMQ reserves (TAGS, KEYS, DELAY, UNIQ_KEY, WAIT,
    /// TIMER_*) are refused when the message is sent.
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        if RESERVED.contains(&name.as_str()) {
            self.invalid = Some(format!("{name} is a reserved property name"));
        }
        self.properties.insert(name, value.into());
        self
    }

    /// Sets a property the client itself manages (TRAN_MSG, PGROUP).
    pub(crate) fn with_property_reserved(mut self, name: &str, value: &str) -> Self {
        self.properties.insert(name.to_string(), value.to_string());
        self
    }

    /// RocketMQ 4.x delay level (1 = 1 s … 18 = 2 h with the default levels).
    pub fn with_delay_level(mut self, level: u8) -> Self {
        self.properties.insert("DELAY".into(), level.to_string());
        self
    }

    /// Deliver at this time (5.x timer message, TIMER_DELIVER_MS).
    pub fn deliver_at(mut self, at: SystemTime) -> Self {
        let ms = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.properties
            .insert("TIMER_DELIVER_MS".into(), ms.to_string());
        self
    }

    /// Deliver this long after the broker receives it (TIMER_DELAY_MS).
    pub fn deliver_after(mut self, delay: Duration) -> Self {
        self.properties
            .insert("TIMER_DELAY_MS".into(), delay.as_millis().to_string());
        self
    }

    /// The user flag (an opaque int carried with the message).
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// Checks a message before it is sent.
    pub(crate) fn validate(&self, max_body: usize) -> Result<(), String> {
        if let Some(why) = &self.invalid {
            return Err(why.clone());
        }
        if self.topic.is_empty() || self.topic.len() > 127 {
            return Err(format!("topic {:?}: 1 to 127 characters", self.topic));
        }
        if self.body.is_empty() {
            return Err("the body is empty".into());
        }
        if self.body.len() > max_body {
            return Err(format!(
                "the body is {} bytes, over the limit of {max_body}",
                self.body.len()
            ));
        }
        for (k, v) in &self.properties {
            let bad = |c: char| c == '\u{1}' || c == '\u{2}';
            if k.is_empty() || k.contains(bad) || v.contains(bad) {
                return Err(format!(
                    "property {k:?}: empty name or a separator character"
                ));
            }
        }
        Ok(())
    }

    /// The properties text RocketMQ sends: `name\u{1}value\u{2}…`.
    pub(crate) fn encode_properties(&self, uniq: &str) -> String {
        let size: usize = self
            .properties
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum();
        let mut out = String::with_capacity(size + "UNIQ_KEY".len() + 1 + uniq.len());
        let mut push = |k: &str, v: &str| {
            if !out.is_empty() {
                out.push('\u{2}');
            }
            out.push_str(k);
            out.push('\u{1}');
            out.push_str(v);
        };
        for (k, v) in &self.properties {
            push(k, v);
        }
        push("UNIQ_KEY", uniq);
        out
    }
}

/// One queue of a topic on one broker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageQueue {
    /// The topic.
    pub topic: String,
    /// The broker holding the queue (its `brokerName`).
    pub broker_name: String,
    /// The queue's number on that broker.
    pub queue_id: i32,
}

/// How durable a send is, as the broker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored (and flushed or replicated as the broker is configured).
    SendOk,
    /// Stored, but the SYNC_FLUSH wait timed out.
    FlushDiskTimeout,
    /// Stored on the master, the slave did not confirm in time.
    FlushSlaveTimeout,
    /// Stored on the master, no slave in sync.
    SlaveNotAvailable,
}

/// The answer to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// How durable the send is.
    pub status: SendStatus,
    /// The message id (UNIQ_KEY), what consumers see as the message id.
    pub msg_id: String,
    /// The broker's offset id (store host + CommitLog offset); batches: comma-separated.
    pub offset_msg_id: String,
    /// The queue the message went to.
    pub queue: MessageQueue,
    /// Its offset in that queue.
    pub queue_offset: i64,
}
