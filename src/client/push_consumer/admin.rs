//! The broker's requests to this client: GET_CONSUMER_RUNNING_INFO (mqadmin consumerStatus)
//! and RESET_CONSUMER_CLIENT_OFFSET (mqadmin resetOffsetByTime).

use serde_json::json;

use super::Inner;
use crate::client::message::MessageQueue;

impl Inner {
    /// GET_CONSUMER_RUNNING_INFO's ConsumerRunningInfo: properties, subscriptions and the
    /// owned queues with their positions (fastjson's MessageQueue-object keys).
    pub(super) fn running_info(&self) -> Vec<u8> {
        let subs: Vec<_> = self
            .subscriptions
            .iter()
            .map(
                |(t, s)| json!({"topic": t, "subString": s.expression, "expressionType": s.kind()}),
            )
            .collect();
        let rows: Vec<String> = self
            .owned
            .lock()
            .iter()
            .map(|(q, o)| {
                let key =
                    json!({"brokerName": q.broker_name, "queueId": q.queue_id, "topic": q.topic});
                let s = o.pq.snapshot();
                let val = json!({"commitOffset": s.committed, "cachedMsgMinOffset": s.min,
                    "cachedMsgMaxOffset": s.max, "cachedMsgCount": s.count,
                    "cachedMsgSizeInMiB": s.bytes >> 20, "droped": o.pq.is_dropped(),
                    "locked": self.cfg.orderly});
                format!("{key}:{val}")
            })
            .collect();
        let properties = json!({
            "consumerGroup": self.cfg.group,
            "messageModel": self.model(),
            "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
            "PROP_CONSUME_TYPE": "CONSUME_PASSIVELY",
            "PROP_CONSUMEORDERLY": self.cfg.orderly.to_string(),
            "PROP_THREADPOOL_CORE_SIZE": self.cfg.concurrency.to_string(),
            "PROP_NAMESERVER_ADDR": self.cfg.namesrv.join(";"),
            "PROP_CLIENT_VERSION": "V4_9_8",
        });
        format!(
            "{{\"jstack\":\"\",\"mqTable\":{{{}}},\"properties\":{properties},\"statusTable\":{{}},\"subscriptionSet\":{}}}",
            rows.join(","),
            serde_json::Value::from(subs)
        )
        .into_bytes()
    }

    /// RESET_CONSUMER_CLIENT_OFFSET: owned queues move to the offsets in the body (either the
    /// object-keyed ResetOffsetBody or the C++ array form).
    pub(super) fn reset_offsets(&self, body: &[u8]) {
        let fixed = crate::protocol::lenient::quote_bare_keys(body);
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&fixed) else {
            return;
        };
        let mut offsets = Vec::new();
        match v.get("offsetTable") {
            Some(serde_json::Value::Object(map)) => {
                for (key, offset) in map {
                    let Ok(mq) = serde_json::from_str::<serde_json::Value>(key) else {
                        continue;
                    };
                    offsets.push((mq, offset.as_i64()));
                }
            }
            Some(serde_json::Value::Array(rows)) => {
                for row in rows {
                    offsets.push((row.clone(), row.get("offset").and_then(|o| o.as_i64())));
                }
            }
            _ => return,
        }
        let owned = self.owned.lock();
        for (mq, offset) in offsets {
            let Some(offset) = offset else { continue };
            let q = MessageQueue {
                topic: mq
                    .get("topic")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_string(),
                broker_name: mq
                    .get("brokerName")
                    .and_then(|b| b.as_str())
                    .unwrap_or_default()
                    .to_string(),
                queue_id: mq.get("queueId").and_then(|q| q.as_i64()).unwrap_or(-1) as i32,
            };
            if let Some(o) = owned.get(&q) {
                o.pq.reset(offset);
            }
        }
    }
}
