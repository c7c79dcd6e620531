//! Message tracks: the groups that consume a message's topic, and for each whether it has
//! consumed the message (RocketMQ's MessageTrack, shown by `mqadmin queryMsgById`).

use super::message::MessageDetail;
use super::Admin;
use crate::client::error::ClientError;
use crate::protocol::{ConsumeType, ResponseCode};

/// One group's relation to a message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageTrack {
    /// The consumer group.
    pub consumer_group: String,
    /// CONSUMED, CONSUMED_BUT_FILTERED, PULL, NOT_CONSUME_YET, NOT_ONLINE or UNKNOWN.
    pub track_type: &'static str,
    /// Why the type is NOT_ONLINE or UNKNOWN; None otherwise.
    pub exception_desc: Option<String>,
}

impl Admin {
    /// The tracks of a message: every group that consumes its topic (as the topic's first
    /// broker knows them) and how far each got. An empty list means no group consumes it.
    pub async fn message_tracks(
        &self,
        message: &MessageDetail,
    ) -> Result<Vec<MessageTrack>, ClientError> {
        let brokers = self.route_brokers(&message.topic).await?;
        let Some(first) = brokers.values().next() else {
            return Ok(Vec::new());
        };
        let groups = self.consumed_by(first, &message.topic).await?;
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            out.push(self.track(message, &group).await);
        }
        Ok(out)
    }

    async fn track(&self, message: &MessageDetail, group: &str) -> MessageTrack {
        let mut track = MessageTrack {
            consumer_group: group.to_string(),
            track_type: "UNKNOWN",
            exception_desc: None,
        };
        let conn = match self.consumer_connection(group, None).await {
            Ok(c) => c,
            Err(e) => {
                if e.code() == Some(ResponseCode::ConsumerNotOnline) {
                    track.track_type = "NOT_ONLINE";
                }
                track.exception_desc = Some(e.to_string());
                return track;
            }
        };
        if conn.consume_type == Some(ConsumeType::ConsumeActively) {
            track.track_type = "PULL";
            return track;
        }
        match self.consumed(message, group).await {
            Ok(false) => track.track_type = "NOT_CONSUME_YET",
            Ok(true) => {
                let tag = message.property("TAGS").unwrap_or_default();
                let filtered = conn
                    .subscription_table
                    .get(&message.topic)
                    .is_some_and(|s| {
                        s.sub_string != "*"
                            && !s.sub_string.is_empty()
                            && !s.tags_set.iter().any(|t| t == tag)
                    });
                track.track_type = if filtered {
                    "CONSUMED_BUT_FILTERED"
                } else {
                    "CONSUMED"
                };
            }
            Err(e) => track.exception_desc = Some(e.to_string()),
        }
        track
    }

    /// Whether the group's committed offset on the message's queue, at the broker that
    /// stored it, is past the message.
    async fn consumed(&self, message: &MessageDetail, group: &str) -> Result<bool, ClientError> {
        let (rows, _) = self.group_progress(group).await?;
        Ok(rows.iter().any(|r| {
            r.queue.topic == message.topic
                && r.queue.queue_id == message.queue_id
                && r.queue.broker_name == message.broker_name
                && r.consumer_offset > message.queue_offset
        }))
    }
}
