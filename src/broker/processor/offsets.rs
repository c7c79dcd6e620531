//! Offset requests: QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET,
//! SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME, GET_ALL_CONSUMER_OFFSET,
//! GET_CONSUME_STATS (wire doc §7.4).

use super::{success, Reject, Reply};
use crate::broker::BrokerInner;
use crate::protocol::{RemotingCommand, ResponseCode};

fn topic_queue(req: &RemotingCommand) -> Result<(&str, i32), Reject> {
    let ext = &req.ext_fields;
    Ok((ext.req("topic")?, ext.num("queueId")?))
}

/// The stored offset; with none, offset 0 while the queue still starts at 0 (RocketMQ 4.x
/// does this so a new group sees what was sent just before it started), else
/// QUERY_NOT_FOUND.
pub fn query_consumer_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let group = ext.req("consumerGroup")?;
    let (topic, queue_id) = topic_queue(req)?;
    if let Some(offset) = inner.offsets.query(group, topic, queue_id) {
        return Ok(success(req, [("offset", offset.to_string())]));
    }
    let set_zero = ext
        .get("setZeroIfNotFound")
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
    if set_zero && inner.store.min_offset_in_queue(topic, queue_id) <= 0 {
        return Ok(success(req, [("offset", "0".to_string())]));
    }
    Err(Reject::new(
        ResponseCode::QueryNotFound,
        "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
    ))
}

pub fn update_consumer_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let group = ext.req("consumerGroup")?;
    let (topic, queue_id) = topic_queue(req)?;
    let offset: i64 = ext.num("commitOffset")?;
    inner.offsets.commit(group, topic, queue_id, offset);
    Ok(success(req, []))
}

pub fn max_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let (topic, queue_id) = topic_queue(req)?;
    Ok(success(
        req,
        [(
            "offset",
            inner.store.max_offset_in_queue(topic, queue_id).to_string(),
        )],
    ))
}

pub fn min_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let (topic, queue_id) = topic_queue(req)?;
    Ok(success(
        req,
        [(
            "offset",
            inner.store.min_offset_in_queue(topic, queue_id).to_string(),
        )],
    ))
}

/// The first offset stored at or after `timestamp` (what CONSUME_FROM_TIMESTAMP wants; 4.9.8
/// answers the nearer neighbour, which may be older), or with 5.x `boundaryType=UPPER` the
/// last offset stored at or before it.
pub fn search_by_timestamp(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let (topic, queue_id) = topic_queue(req)?;
    let ext = &req.ext_fields;
    let ts: i64 = ext.num("timestamp")?;
    let upper = ext
        .get("boundaryType")
        .is_some_and(|b| b.trim().eq_ignore_ascii_case("UPPER"));
    let offset = if upper {
        inner.store.offset_by_time_upper(topic, queue_id, ts)
    } else {
        inner.store.offset_by_time(topic, queue_id, ts)
    };
    Ok(success(req, [("offset", offset.to_string())]))
}

pub fn earliest_store_time(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let (topic, queue_id) = topic_queue(req)?;
    let ts = inner
        .store
        .earliest_message_time(topic, queue_id)
        .unwrap_or(-1);
    Ok(success(req, [("timestamp", ts.to_string())]))
}

pub fn all_consumer_offsets(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    Ok(success(req, []).with_body(inner.offsets.encode(false).into_bytes()))
}

/// ConsumeStats in fastjson's form (MessageQueue objects as map keys): only Java admin
/// tools read it.
pub fn consume_stats(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let group = ext.req("consumerGroup")?;
    let topics = match ext.get("topic").filter(|t| !t.trim().is_empty()) {
        Some(t) => vec![t.to_string()],
        None => inner.offsets.topics_of_group(group),
    };
    let mut entries = Vec::new();
    for topic in &topics {
        let Some(cfg) = inner.topics.get(topic) else {
            continue;
        };
        let committed = inner.offsets.group_topic(group, topic);
        for q in 0..cfg.write_queue_nums {
            let broker_offset = inner.store.max_offset_in_queue(topic, q);
            let consumer_offset = committed.get(&q).copied().unwrap_or(0);
            let last = if consumer_offset > 0 {
                inner
                    .store
                    .store_time_at(topic, q, consumer_offset - 1)
                    .unwrap_or(0)
            } else {
                0
            };
            let key = serde_json::json!({"brokerName": inner.config.broker_name, "queueId": q, "topic": topic});
            let val = serde_json::json!({"brokerOffset": broker_offset, "consumerOffset": consumer_offset,
                "lastTimestamp": last});
            entries.push(format!("{key}:{val}"));
        }
    }
    if entries.is_empty() && topics.is_empty() {
        return Err(Reject::new(
            ResponseCode::ConsumerNotOnline,
            format!("consumer group [{group}] has no offsets"),
        ));
    }
    let body = format!(
        "{{\"consumeTps\":0.0,\"offsetTable\":{{{}}}}}",
        entries.join(",")
    );
    Ok(success(req, []).with_body(body.into_bytes()))
}
