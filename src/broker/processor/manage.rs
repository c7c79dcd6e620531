//! Consumer management requests of admin tools (features sheet §4.2): forwarding to a live
//! client (GET_CONSUMER_RUNNING_INFO, CONSUME_MESSAGE_DIRECTLY), offset reset by time,
//! which groups consume a topic, and offset cloning.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::{success, Reject, Reply};
use crate::broker::BrokerInner;
use crate::protocol::{ExtFields, LanguageCode, RemotingCommand, RequestCode, ResponseCode};
use crate::remoting::RemotingError;

/// V3_1_8_SNAPSHOT: older clients cannot answer forwarded requests.
const MIN_VERSION_FORWARD: i32 = 62;
/// V3_0_7_SNAPSHOT: older clients do not understand RESET_CONSUMER_CLIENT_OFFSET.
const MIN_VERSION_RESET: i32 = 28;
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309): sent on to the named
/// client of the group; its answer (code, remark, body) is the broker's answer.
pub async fn forward_to_client(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let group = ext.req("consumerGroup")?;
    let client_id = ext.req("clientId")?;
    let Some((ctx, version)) = inner.consumers.channel(group, client_id) else {
        return Err(Reject::system(format!(
            "The Consumer <{group}> <{client_id}> not online"
        )));
    };
    if version < MIN_VERSION_FORWARD {
        return Err(Reject::system(format!(
            "The Consumer <{group}> <{client_id}> Version <{version}> too low to finish, please upgrade it to V3_1_8_SNAPSHOT"
        )));
    }
    let ask =
        RemotingCommand::new_request(req.request_code(), ext.clone()).with_body(req.body.clone());
    match ctx.invoke(ask, FORWARD_TIMEOUT).await {
        Ok(answer) => Ok(answer),
        Err(e @ RemotingError::Timeout { .. }) => Err(Reject::new(
            ResponseCode::ConsumeMsgTimeout,
            format!("consumer <{group}> <{client_id}> Timeout: {e}"),
        )),
        Err(e) => Err(Reject::system(format!(
            "invoke consumer <{group}> <{client_id}> Exception: {e}"
        ))),
    }
}

/// QUERY_TOPIC_CONSUME_BY_WHO (300): groups subscribing the topic by heartbeat, and groups
/// with a committed offset on it.
pub fn consume_by_who(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let topic = req.ext_fields.req("topic")?;
    let mut groups: BTreeSet<String> = inner
        .consumers
        .groups_subscribing(topic)
        .into_iter()
        .collect();
    groups.extend(inner.offsets.groups_of_topic(topic));
    let body = serde_json::json!({ "groupList": groups });
    Ok(success(req, []).with_body(body.to_string().into_bytes()))
}

/// CLONE_GROUP_OFFSET (314): copies `srcGroup`'s offsets on the topic (every topic of it when
/// none is named; 4.9.8 copies nothing then) to `destGroup`. Unless `offline`, a topic an
/// online source group does not subscribe is skipped.
pub fn clone_group_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let src = ext.req("srcGroup")?;
    let dest = ext.req("destGroup")?;
    let offline = ext.flag("offline");
    let topics = match ext.get("topic").map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => vec![t.to_string()],
        None => inner.offsets.topics_of_group(src),
    };
    let online = inner.consumers.group_kind(src).is_some();
    for topic in topics {
        if inner.topics.get(&topic).is_none() {
            continue;
        }
        if !offline && online && inner.consumers.subscription(src, &topic).is_none() {
            continue;
        }
        inner.offsets.clone_topic(src, dest, &topic);
    }
    Ok(success(req, []))
}

/// INVOKE_BROKER_TO_RESET_OFFSET (222): the group's offsets on the topic move to the first
/// message at `timestamp` (-1: the end), or with 5.x `queueId` + `offset` one queue to that
/// offset. Without `isForce` an offset only moves back. The new offsets are stored at once,
/// so an offline group starts there (4.9.8 answers CONSUMER_NOT_ONLINE and changes nothing),
/// and every live client gets RESET_CONSUMER_CLIENT_OFFSET.
pub fn reset_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let topic = ext.req("topic")?;
    let group = ext.req("group")?;
    let timestamp: i64 = ext.num("timestamp")?;
    let force = ext.flag("isForce");
    let one_queue: Option<i32> = ext.opt_num::<i32>("queueId")?.filter(|q| *q >= 0);
    let exact: Option<i64> = ext.opt_num("offset")?;
    let Some(cfg) = inner.topics.get(topic) else {
        return Err(Reject::new(
            ResponseCode::TopicNotExist,
            format!("topic[{topic}] not exist"),
        ));
    };
    let committed = inner.offsets.group_topic(group, topic);
    if committed.is_empty() && inner.consumers.group_kind(group).is_none() {
        return Err(Reject::system(format!(
            "the consumer group <{group}> has no offsets on topic <{topic}> and is not online"
        )));
    }
    let mut table = Vec::new();
    for q in 0..cfg.read_queue_nums.max(cfg.write_queue_nums) {
        if one_queue.is_some_and(|one| one != q) {
            continue;
        }
        let (min, max) = (
            inner.store.min_offset_in_queue(topic, q),
            inner.store.max_offset_in_queue(topic, q),
        );
        let target = match (one_queue, exact) {
            (Some(_), Some(o)) => o.clamp(min, max),
            _ if timestamp < 0 => max,
            _ => inner.store.offset_by_time(topic, q, timestamp).max(0),
        };
        let new = match committed.get(&q) {
            Some(&current) if !force && target >= current => current,
            _ => target,
        };
        table.push((q, new));
    }
    for &(q, offset) in &table {
        inner.offsets.commit(group, topic, q, offset);
    }
    let broker = &inner.config.broker_name;
    let keyed = offset_table_keyed(broker, topic, &table);
    let for_clients = if req.language == LanguageCode::Cpp {
        offset_table_for_c(broker, topic, &table)
    } else {
        keyed.clone()
    };
    for (_, ctx, version) in inner.consumers.channels(group) {
        if version < MIN_VERSION_RESET {
            continue;
        }
        let mut push = ExtFields::with_capacity(4);
        push.insert("topic", topic);
        push.insert("group", group);
        push.insert_display("timestamp", timestamp);
        push.insert("isForce", "false");
        let cmd = RemotingCommand::new_request(RequestCode::ResetConsumerClientOffset, push)
            .with_body(for_clients.clone().into_bytes());
        ctx.send_oneway(cmd);
    }
    Ok(success(req, []).with_body(keyed.into_bytes()))
}

/// INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223): asks each client of the group (or the one whose
/// client id is `clientAddr`) for its offsets on the topic (GET_CONSUMER_STATUS_FROM_CLIENT,
/// 5 s); clients that fail or time out are left out, as RocketMQ does.
pub async fn consumer_status(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let topic = ext.req("topic")?;
    let group = ext.req("group")?;
    let only = ext
        .get("clientAddr")
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if inner.consumers.group_kind(group).is_none() {
        return Err(Reject::system(format!(
            "No Any Consumer online in the consumer group: [{group}]"
        )));
    }
    let asks = inner
        .consumers
        .channels(group)
        .into_iter()
        .filter(|(id, _, version)| only.is_none_or(|o| o == id) && *version >= MIN_VERSION_RESET)
        .map(|(id, ctx, _)| {
            let mut fields = ExtFields::with_capacity(3);
            fields.insert("topic", topic);
            fields.insert("group", group);
            fields.insert("clientAddr", &id);
            let ask =
                RemotingCommand::new_request(RequestCode::GetConsumerStatusFromClient, fields);
            async move { (id, ctx.invoke(ask, STATUS_TIMEOUT).await) }
        });
    let mut table = Vec::new();
    for (id, answer) in futures::future::join_all(asks).await {
        let Ok(answer) = answer else { continue };
        if answer.response_code() != ResponseCode::Success {
            continue;
        }
        if let Some(offsets) = queue_table_of(&answer.body) {
            table.push(format!("{}:{offsets}", serde_json::Value::from(id)));
        }
    }
    let body = format!(
        "{{\"consumerTable\":{{{}}},\"messageQueueTable\":{{}}}}",
        table.join(",")
    );
    Ok(success(req, []).with_body(body.into_bytes()))
}

/// A client's GetConsumerStatusBody `messageQueueTable` (MessageQueue objects as keys),
/// re-written in the same fastjson form.
fn queue_table_of(body: &[u8]) -> Option<String> {
    let fixed = crate::protocol::lenient::quote_bare_keys(body);
    let v: serde_json::Value = serde_json::from_slice(&fixed).ok()?;
    let table = v.get("messageQueueTable")?.as_object()?;
    let rows: Vec<String> = table
        .iter()
        .map(|(mq, offset)| {
            // The key is the MessageQueue object's JSON text: written back as an object.
            let key = if mq.trim_start().starts_with('{') {
                mq.clone()
            } else {
                serde_json::Value::from(mq.as_str()).to_string()
            };
            format!("{key}:{offset}")
        })
        .collect();
    Some(format!("{{{}}}", rows.join(",")))
}

/// ResetOffsetBody: `{"offsetTable":{{MessageQueue}:offset}}` (fastjson's object keys).
fn offset_table_keyed(broker: &str, topic: &str, table: &[(i32, i64)]) -> String {
    let entries: Vec<String> = table
        .iter()
        .map(|(q, o)| {
            let key = serde_json::json!({"brokerName": broker, "queueId": q, "topic": topic});
            format!("{key}:{o}")
        })
        .collect();
    format!("{{\"offsetTable\":{{{}}}}}", entries.join(","))
}

/// ResetOffsetBodyForC: the array form the C++ client parses.
fn offset_table_for_c(broker: &str, topic: &str, table: &[(i32, i64)]) -> String {
    let entries: Vec<serde_json::Value> = table
        .iter()
        .map(|(q, o)| serde_json::json!({"brokerName": broker, "offset": o, "queueId": q, "topic": topic}))
        .collect();
    serde_json::json!({ "offsetTable": entries }).to_string()
}
