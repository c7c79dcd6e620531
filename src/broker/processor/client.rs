//! Client bookkeeping: HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP,
//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, connection lists, NOTIFY_CONSUMER_IDS_CHANGED.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::{success, Reject, Reply};
use crate::broker::consumer_manager::{
    ClientChannel, GroupKind, HeartbeatSubs, Notifier, Subscription, SQL92,
};
use crate::broker::locks::QueueKey;
use crate::broker::producer_manager::ProducerChannel;
use crate::broker::topic_config::RETRY_PREFIX;
use crate::broker::BrokerInner;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};
use crate::remoting::ConnectionContext;
use crate::sql92::Selector;

/// Sends NOTIFY_CONSUMER_IDS_CHANGED to each notifier (oneway, JSON; wire doc §7.2).
pub fn notify_group(group: &str, notifiers: &[Notifier]) {
    for n in notifiers {
        n(group);
    }
}

fn notifier(ctx: &ConnectionContext) -> Notifier {
    let ctx = ctx.clone();
    Arc::new(move |group: &str| {
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("consumerGroup", group);
        let mut cmd = RemotingCommand::new_request(RequestCode::NotifyConsumerIdsChanged, ext);
        cmd.mark_oneway();
        ctx.send_oneway(cmd);
    })
}

fn parse_body(req: &RemotingCommand) -> Result<Value, Reject> {
    crate::protocol::lenient::from_slice(&req.body)
        .map_err(|e| Reject::system(format!("bad request body: {e}")))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A number that may arrive as a JSON number or a numeric string (C++ `subVersion`).
fn i64_of(v: &Value, key: &str) -> i64 {
    match v.get(key) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// An enum sent as its name (Java) or its ordinal (C++).
fn enum_of(v: &Value, key: &str, names: &[&str]) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|i| names.get(i as usize))
            .map(|s| s.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

const CONSUME_TYPES: [&str; 2] = ["CONSUME_ACTIVELY", "CONSUME_PASSIVELY"];
const MESSAGE_MODELS: [&str; 2] = ["BROADCASTING", "CLUSTERING"];
const CONSUME_FROM: [&str; 6] = [
    "CONSUME_FROM_LAST_OFFSET",
    "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
    "CONSUME_FROM_MIN_OFFSET",
    "CONSUME_FROM_MAX_OFFSET",
    "CONSUME_FROM_FIRST_OFFSET",
    "CONSUME_FROM_TIMESTAMP",
];

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Subscriptions of one ConsumerData; tag codes recomputed from the expression.
fn subscriptions(consumer: &Value) -> Vec<Subscription> {
    array(consumer, "subscriptionDataSet")
        .iter()
        .filter_map(|s| {
            let topic = str_of(s, "topic")?;
            let expr = match str_of(s, "subString") {
                Some(e) => e.to_string(),
                None => array(s, "tagsSet")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("||"),
            };
            let version = i64_of(s, "subVersion");
            let kind = str_of(s, "expressionType").map(str::trim).unwrap_or("");
            if kind.eq_ignore_ascii_case(SQL92) {
                return Some(Subscription::sql92(topic, &expr, version).0);
            }
            let mut sub = Subscription::from_expression(topic, &expr, version);
            if !kind.is_empty() {
                sub.expression_type = kind.to_ascii_uppercase();
            }
            Some(sub)
        })
        .collect()
}

/// Heartbeat v2 (5.x clients with `com.rocketmq.heartbeat.v2`): a light heartbeat carries no
/// subscriptions, only the fingerprint of the last full one. fastjson names the flag after
/// the getter `isWithoutSub()`; accept both spellings.
fn heartbeat_subs(body: &Value, consumer: &Value) -> HeartbeatSubs {
    let fingerprint = i64_of(body, "heartbeatFingerprint");
    let without_sub = ["withoutSub", "isWithoutSub"].iter().any(|k| {
        body.get(*k)
            .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"))
    });
    if fingerprint != 0 && without_sub {
        HeartbeatSubs::Light { fingerprint }
    } else {
        HeartbeatSubs::Full {
            subs: subscriptions(consumer),
            fingerprint,
        }
    }
}

/// HEART_BEAT (34). The reply says heartbeat v2 is supported (`IS_SUPPORT_HEART_BEAT_V2`)
/// and whether the client must send its subscriptions again (`IS_SUB_CHANGE`), as 5.x
/// brokers do; 4.x clients ignore both.
pub async fn heartbeat(
    inner: &Arc<BrokerInner>,
    ctx: &ConnectionContext,
    req: &RemotingCommand,
) -> Reply {
    let body = parse_body(req)?;
    let client = Client {
        id: str_of(&body, "clientID").unwrap_or_default().to_string(),
        language: req.language.name().to_string(),
        version: req.version,
        now: Instant::now(),
    };
    let mut ask_full_heartbeat = i64_of(&body, "heartbeatFingerprint") == 0;
    for c in array(&body, "consumerDataSet") {
        ask_full_heartbeat |= register_consumer(inner, ctx, &client, &body, c).await;
    }
    for p in array(&body, "producerDataSet") {
        let Some(group) = str_of(p, "groupName") else {
            continue;
        };
        let channel = ProducerChannel {
            ctx: ctx.clone(),
            language: client.language.clone(),
            version: client.version,
            last_update: client.now,
        };
        inner.producers.register(group, &client.id, channel);
    }
    Ok(success(
        req,
        [
            ("IS_SUPPORT_HEART_BEAT_V2", "true".to_string()),
            ("IS_SUB_CHANGE", ask_full_heartbeat.to_string()),
        ],
    ))
}

/// Who sent a heartbeat.
struct Client {
    id: String,
    language: String,
    version: i32,
    now: Instant,
}

/// One ConsumerData of a heartbeat: the group (auto-created with its retry topic), the
/// client's channel and subscriptions; the group hears about changes. Returns heartbeat
/// v2's IS_SUB_CHANGE for this group.
async fn register_consumer(
    inner: &Arc<BrokerInner>,
    ctx: &ConnectionContext,
    client: &Client,
    body: &Value,
    c: &Value,
) -> bool {
    let Some(group) = str_of(c, "groupName") else {
        return false;
    };
    let Some((g, _)) = inner.groups.find_or_create(group) else {
        tracing::warn!(
            group,
            "heartbeat for unknown group (autoCreateSubscriptionGroup=false)"
        );
        return false;
    };
    let retry = format!("{RETRY_PREFIX}{group}");
    if inner
        .topics
        .get_or_create_system(&retry, g.retry_queue_nums.max(1), 6)
        .1
    {
        super::send::register_now(inner).await;
    }
    let kind = GroupKind {
        consume_type: enum_of(c, "consumeType", &CONSUME_TYPES),
        message_model: enum_of(c, "messageModel", &MESSAGE_MODELS),
        consume_from_where: enum_of(c, "consumeFromWhere", &CONSUME_FROM),
    };
    let channel = ClientChannel {
        client_id: client.id.clone(),
        conn_id: ctx.id,
        addr: ctx.peer.to_string(),
        language: client.language.clone(),
        version: client.version,
        notify: notifier(ctx),
        ctx: Some(ctx.clone()),
        last_update: client.now,
    };
    let registered = inner
        .consumers
        .register(group, channel, kind, heartbeat_subs(body, c));
    if let Some(notifiers) = registered.notify {
        if g.notify_consumer_ids_changed_enable {
            tracing::info!(group, client = %client.id, "consumer group changed");
            notify_group(group, &notifiers);
        }
    }
    registered.ask_full_heartbeat
}

/// CHECK_CLIENT_CONFIG (46): a consumer with a non-TAG subscription asks whether this broker
/// can filter it before it starts: SQL92 when `enablePropertyFilter` is on and the
/// expression compiles (else SUBSCRIPTION_PARSE_FAILED saying where it failed); with the
/// switch off, RocketMQ's own refusal.
pub fn check_client_config(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let body = parse_body(req)?;
    let sub = body.get("subscriptionData").unwrap_or(&Value::Null);
    let kind = str_of(sub, "expressionType").map(str::trim).unwrap_or("");
    if kind.is_empty() || kind.eq_ignore_ascii_case("TAG") {
        return Ok(success(req, []));
    }
    check_property_filter(inner, kind, str_of(sub, "subString").unwrap_or(""))?;
    Ok(success(req, []))
}

/// Whether this broker evaluates a `kind` subscription with this expression: SYSTEM_ERROR
/// when property filtering is off, SUBSCRIPTION_PARSE_FAILED for another kind or an
/// expression that does not compile.
pub fn check_property_filter(
    inner: &BrokerInner,
    kind: &str,
    expression: &str,
) -> Result<Arc<Selector>, Reject> {
    if !inner.config.enable_property_filter {
        return Err(Reject::system(unsupported_filter(kind)));
    }
    let parse_failed = |m: String| Reject::new(ResponseCode::SubscriptionParseFailed, m);
    if !kind.eq_ignore_ascii_case(SQL92) {
        return Err(parse_failed(format!("unknown expression type {kind}")));
    }
    inner
        .selectors
        .compile(expression)
        .map_err(|e| parse_failed(format!("SQL92 expression {expression:?}: {e}")))
}

/// RocketMQ's remark for a filter type the broker does not evaluate.
pub fn unsupported_filter(kind: &str) -> String {
    format!("The broker does not support consumer to filter message by {kind}")
}

pub fn unregister(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let client_id = ext.req("clientID")?;
    if let Some(group) = ext.get("producerGroup").filter(|g| !g.is_empty()) {
        inner.producers.unregister(group, client_id);
    }
    if let Some(group) = ext.get("consumerGroup").filter(|g| !g.is_empty()) {
        if let Some(notifiers) = inner.consumers.unregister(group, client_id) {
            if inner
                .groups
                .get(group)
                .is_none_or(|g| g.notify_consumer_ids_changed_enable)
            {
                notify_group(group, &notifiers);
            }
        }
    }
    Ok(success(req, []))
}

/// A closed connection drops its clients at once; the groups left behind rebalance.
pub fn connection_closed(inner: &BrokerInner, ctx: &ConnectionContext) {
    inner.producers.connection_closed(ctx.id);
    for (group, notifiers) in inner.consumers.connection_closed(ctx.id) {
        tracing::info!(%group, peer = %ctx.peer, "consumer connection closed");
        notify_group(&group, &notifiers);
    }
}

pub fn consumer_list(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let group = req.ext_fields.req("consumerGroup")?;
    let ids = inner.consumers.client_ids(group);
    if ids.is_empty() {
        return Err(Reject::system(format!(
            "no consumer for this group, {group}"
        )));
    }
    Ok(success(req, []).with_body(json!({ "consumerIdList": ids }).to_string().into_bytes()))
}

/// (group, clientId, queues) of a Lock/UnlockBatchRequestBody; `onlyThisBroker` ignored.
fn lock_request(req: &RemotingCommand) -> Result<(String, String, Vec<QueueKey>), Reject> {
    let body = parse_body(req)?;
    let group =
        str_of(&body, "consumerGroup").ok_or_else(|| Reject::system("consumerGroup missing"))?;
    let client = str_of(&body, "clientId").ok_or_else(|| Reject::system("clientId missing"))?;
    let queues = array(&body, "mqSet")
        .iter()
        .filter_map(|q| {
            let topic = str_of(q, "topic")?.to_string();
            let broker = str_of(q, "brokerName").unwrap_or_default().to_string();
            let id = i64_of(q, "queueId");
            Some((topic, broker, i32::try_from(id).ok()?))
        })
        .collect();
    Ok((group.to_string(), client.to_string(), queues))
}

pub fn lock_batch(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let (group, client, queues) = lock_request(req)?;
    let granted = inner.locks.lock_batch(&group, &client, &queues);
    let set: Vec<Value> = granted
        .into_iter()
        .map(|(topic, broker, id)| json!({"brokerName": broker, "queueId": id, "topic": topic}))
        .collect();
    Ok(success(req, []).with_body(json!({ "lockOKMQSet": set }).to_string().into_bytes()))
}

pub fn unlock_batch(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let (group, client, queues) = lock_request(req)?;
    inner.locks.unlock_batch(&group, &client, &queues);
    Ok(success(req, []))
}

pub fn consumer_connections(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let group = req.ext_fields.req("consumerGroup")?;
    let Some(snap) = inner.consumers.snapshot(group) else {
        return Err(Reject::new(
            ResponseCode::ConsumerNotOnline,
            format!("the consumer group[{group}] not online"),
        ));
    };
    let conns: Vec<Value> = snap
        .clients
        .iter()
        .map(|(id, addr, lang, ver)| json!({"clientId": id, "clientAddr": addr, "language": lang, "version": ver}))
        .collect();
    let subs: serde_json::Map<String, Value> = snap
        .subscriptions
        .iter()
        .map(|s| {
            let v = json!({"topic": s.topic, "subString": s.sub_string, "tagsSet": s.tags_set,
                "codeSet": s.code_set, "subVersion": s.sub_version, "expressionType": s.expression_type,
                "classFilterMode": false});
            (s.topic.clone(), v)
        })
        .collect();
    let body = json!({"connectionSet": conns, "subscriptionTable": subs,
        "consumeType": snap.kind.consume_type, "messageModel": snap.kind.message_model,
        "consumeFromWhere": snap.kind.consume_from_where});
    Ok(success(req, []).with_body(body.to_string().into_bytes()))
}

pub fn producer_connections(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let group = req.ext_fields.req("producerGroup")?;
    let conns: Vec<Value> = inner
        .producers
        .clients(group)
        .iter()
        .map(|(id, addr, lang, ver)| json!({"clientId": id, "clientAddr": addr, "language": lang, "version": ver}))
        .collect();
    if conns.is_empty() {
        return Err(Reject::system(format!(
            "the producer group[{group}] not exist"
        )));
    }
    Ok(success(req, []).with_body(json!({ "connectionSet": conns }).to_string().into_bytes()))
}
