//! Offset requests: QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET,
//! SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME, GET_ALL_CONSUMER_OFFSET,
//! GET_CONSUME_STATS (wire doc §7.4).

use std::time::Duration;

use super::{success, Reject, Reply};
use crate::broker::stats::Stat;
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
    if inner.config.is_slave() {
        inner.slave_offsets.record(group, topic, queue_id, offset);
    }
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

/// One topic's rows of a ConsumeStats offsetTable (fastjson's form, MessageQueue objects as
/// map keys), over the topic's write queues, and their total lag. None without a config.
fn consume_rows(inner: &BrokerInner, group: &str, topic: &str) -> Option<(Vec<String>, i64)> {
    let cfg = inner.topics.get(topic)?;
    let committed = inner.offsets.group_topic(group, topic);
    let mut rows = Vec::new();
    let mut diff = 0;
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
        diff += (broker_offset - consumer_offset).max(0);
        let key = serde_json::json!({"brokerName": inner.config.broker_name, "queueId": q, "topic": topic});
        let val = serde_json::json!({"brokerOffset": broker_offset, "consumerOffset": consumer_offset,
            "lastTimestamp": last});
        rows.push(format!("{key}:{val}"));
    }
    Some((rows, diff))
}

/// The group's pull rate on a topic over the last minute (ConsumeStats `consumeTps`).
fn consume_tps(inner: &BrokerInner, group: &str, topic: &str) -> f64 {
    let key = format!("{topic}@{group}");
    inner
        .stats
        .rate(Stat::GroupGetNums, &key, Duration::from_secs(60))
}

fn consume_stats_json(rows: &[String], tps: f64) -> String {
    format!(
        "{{\"consumeTps\":{tps:?},\"offsetTable\":{{{}}}}}",
        rows.join(",")
    )
}

/// Topics of a group that ConsumeStats covers: the named one, or every topic with an offset;
/// an online group with subscriptions skips the topics it does not subscribe.
fn stats_topics(inner: &BrokerInner, group: &str, topic: Option<&str>) -> Vec<String> {
    match topic {
        Some(t) => vec![t.to_string()],
        None => {
            let online = inner
                .consumers
                .snapshot(group)
                .filter(|g| !g.subscriptions.is_empty());
            inner
                .offsets
                .topics_of_group(group)
                .into_iter()
                .filter(|t| {
                    online
                        .as_ref()
                        .is_none_or(|g| g.subscriptions.iter().any(|s| &s.topic == t))
                })
                .collect()
        }
    }
}

/// GET_CONSUME_STATS (208): lag per queue of one group; only Java admin tools read it.
pub fn consume_stats(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let group = ext.req("consumerGroup")?;
    let topic = ext.get("topic").filter(|t| !t.trim().is_empty());
    let topics = stats_topics(inner, group, topic);
    let mut rows = Vec::new();
    let mut tps = 0.0;
    for topic in &topics {
        if let Some((r, _)) = consume_rows(inner, group, topic) {
            rows.extend(r);
            tps += consume_tps(inner, group, topic);
        }
    }
    if rows.is_empty() && topics.is_empty() {
        return Err(Reject::new(
            ResponseCode::ConsumerNotOnline,
            format!("consumer group [{group}] has no offsets"),
        ));
    }
    Ok(success(req, []).with_body(consume_stats_json(&rows, tps).into_bytes()))
}

/// GET_BROKER_CONSUME_STATS (317): a ConsumeStats per (group, topic) for every subscription
/// group, with the total lag; `isOrder` keeps only order topics.
pub fn broker_consume_stats(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let only_order = req.ext_fields.flag("isOrder");
    let mut list = Vec::new();
    let mut total_diff = 0;
    for group in inner.groups.names() {
        let mut stats = Vec::new();
        for topic in stats_topics(inner, &group, None) {
            if only_order && !inner.topics.get(&topic).is_some_and(|t| t.order) {
                continue;
            }
            if let Some((rows, diff)) = consume_rows(inner, &group, &topic) {
                total_diff += diff;
                stats.push(consume_stats_json(
                    &rows,
                    consume_tps(inner, &group, &topic),
                ));
            }
        }
        if !stats.is_empty() {
            let name = serde_json::Value::from(group.as_str());
            list.push(format!("{{{name}:[{}]}}", stats.join(",")));
        }
    }
    let addr = serde_json::Value::from(inner.broker_addr());
    let body = format!(
        "{{\"brokerAddr\":{addr},\"consumeStatsList\":[{}],\"totalDiff\":{total_diff}}}",
        list.join(",")
    );
    Ok(success(req, []).with_body(body.into_bytes()))
}
