//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320): checks in the
//! order of wire doc §7.1, auto-creation, append, durability wait, reply.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrumq_store::{
    encode_properties,
    message::{iter_properties, push_property},
    parse_properties, BatchEntry, BatchToStore, MessageToStore, PutResult, PutStatus, StoreError,
};

use super::batch::decode_batch;
use super::{Reject, Reply};
use crate::broker::config::BrokerRole;
use crate::broker::ha::Replicated;
use crate::broker::stats::Stat;
use crate::broker::topic_config::{
    is_send_forbidden, is_valid_name, now_ms, SendTopic, TopicConfig, DLQ_PREFIX, PERM_WRITE,
    RETRY_PREFIX,
};
use crate::broker::{register, schedule, timer, transaction, BrokerConfig, BrokerInner};
use crate::protocol::{inflate_bounded, RemotingCommand, ResponseCode, SendMessageRequestHeader};
use crate::remoting::ConnectionContext;

/// Sends appended but not yet durable (waiting on the flush) beyond this get SYSTEM_BUSY.
pub const MAX_PENDING_SENDS: usize = 20_000;
/// Most messages accepted in one batch.
pub const MAX_BATCH_MESSAGES: usize = 10_000;
/// How long the first send to a new topic waits for its registration with the NameServers
/// (consumers look the route up right after).
const REGISTER_WAIT: Duration = Duration::from_secs(2);

const SYSFLAG_COMPRESSED: i32 = 0x1;
const SYSFLAG_MULTI_TAGS: i32 = 0x2;
const SYSFLAG_TRANSACTION: i32 = 0xC;

/// The send header, from V1 long names or V2 letters, borrowed from the request.
pub type SendHeader<'a> = SendMessageRequestHeader<'a>;

/// What every send-like request (sends, replies) starts with, §7.1 steps 1–5: the header,
/// the broker's state, the topic (auto-created if allowed) and the queue (random if < 0).
pub(super) async fn prepare<'a>(
    inner: &Arc<BrokerInner>,
    req: &'a RemotingCommand,
) -> Result<(SendHeader<'a>, Arc<TopicConfig>), Reject> {
    let mut h = SendHeader::decode(req)?;
    check_broker(inner)?;
    let topic = resolve_topic(inner, &mut h, req.version).await?;
    if h.queue_id < 0 {
        h.queue_id = random_queue(topic.write_queue_nums);
    }
    Ok((h, topic))
}

pub async fn process(
    inner: &Arc<BrokerInner>,
    ctx: &ConnectionContext,
    req: &RemotingCommand,
) -> Reply {
    let (mut h, topic) = prepare(inner, req).await?;
    if topic.topic_filter_type == "MULTI_TAG" {
        h.sys_flag |= SYSFLAG_MULTI_TAGS;
    }
    // A plain single send (no delay level, no transaction) gets its stored properties in one
    // pass; the rest goes through the parsed list.
    let plain = if h.batch {
        None
    } else {
        plain_properties(&inner.config, h.properties)
    };
    let (mut props, wait) = match &plain {
        Some((_, wait)) => (Vec::new(), *wait),
        None => final_properties(&inner.config, h.properties),
    };
    let (mut topic_name, mut queue_id) = (h.topic.to_string(), h.queue_id);
    // Java's Boolean.parseBoolean on TRAN_MSG decides, not the sysFlag bit.
    let half = props
        .iter()
        .any(|(k, v)| k == "TRAN_MSG" && v.eq_ignore_ascii_case("true"));
    if half && !h.batch {
        if inner.config.reject_transaction_message {
            return Err(Reject::new(
                ResponseCode::NoPermission,
                format!(
                    "the broker[{}] sending transaction message is forbidden",
                    inner.config.broker_ip1
                ),
            ));
        }
        transaction::make_half(
            inner,
            &mut topic_name,
            &mut queue_id,
            &mut h.sys_flag,
            &mut props,
            h.producer_group,
        );
    } else if !h.batch
        && plain.is_none()
        && !timer::make_timed(inner, &mut topic_name, &mut queue_id, &mut props)?
    {
        schedule::apply_delay(
            &mut topic_name,
            &mut queue_id,
            &mut props,
            inner.schedule.max_level(),
        );
    }
    let base = MessageToStore {
        topic: topic_name,
        queue_id,
        flag: h.flag,
        body: Bytes::new(),
        properties: String::new(),
        sys_flag: h.sys_flag,
        born_timestamp_ms: h.born_timestamp.unwrap_or_else(now_ms),
        born_host: ctx.peer,
        store_host: inner.store_host(),
        reconsume_times: h.reconsume_times,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    let (result, status) = if h.batch {
        store_batch(inner, base, &h, req, &props, wait).await?
    } else {
        let body = req.body.clone();
        check_body_size(inner, body.len())?;
        let msg = MessageToStore {
            body,
            properties: match plain {
                Some((p, _)) => p,
                None => encode_properties(&props),
            },
            ..base
        };
        append(inner, wait, |s| s.put_message(msg)).await?
    };
    reply(inner, req, &h, result, status)
}

fn check_broker(inner: &BrokerInner) -> Result<(), Reject> {
    if inner.config.is_slave() || inner.is_shutting_down() {
        return Err(Reject::new(
            ResponseCode::ServiceNotAvailable,
            "service not available now, maybe disk full or a slave broker",
        ));
    }
    if inner.live.broker_permission() & PERM_WRITE == 0 {
        return Err(Reject::new(
            ResponseCode::NoPermission,
            format!(
                "the broker[{}] sending message is forbidden",
                inner.config.broker_ip1
            ),
        ));
    }
    Ok(())
}

/// Topic checks (§7.1 steps 3–6): name, forbidden, auto-create, queue id, retry → DLQ.
async fn resolve_topic(
    inner: &Arc<BrokerInner>,
    h: &mut SendHeader<'_>,
    version: i32,
) -> Result<Arc<TopicConfig>, Reject> {
    if !is_valid_name(&h.topic) {
        return Err(Reject::system(format!(
            "topic[{}] is not a valid topic name",
            h.topic
        )));
    }
    if is_send_forbidden(&h.topic) {
        return Err(Reject::new(
            ResponseCode::NoPermission,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        ));
    }
    let topic = if let Some(group) = h.topic.strip_prefix(RETRY_PREFIX) {
        let group = group.to_string();
        retry_topic(inner, &group, h, version).await?
    } else {
        match inner.topics.get_or_create_for_send(
            &h.topic,
            h.default_topic,
            h.default_topic_queue_nums,
        ) {
            Some(SendTopic::Existing(t)) => t,
            Some(SendTopic::Created(t)) => {
                register_now(inner).await;
                t
            }
            None => {
                return Err(Reject::new(
                    ResponseCode::TopicNotExist,
                    format!("topic[{}] not exist, apply first please!", h.topic),
                ))
            }
        }
    };
    if !topic.is_writeable() {
        return Err(Reject::new(
            ResponseCode::NoPermission,
            format!("the topic[{}] sending message is forbidden", h.topic),
        ));
    }
    let max = topic.write_queue_nums.max(topic.read_queue_nums);
    if h.queue_id >= max {
        return Err(Reject::system(format!(
            "request queueId[{}] is illegal, topic {} max queue {max}",
            h.queue_id, h.topic
        )));
    }
    Ok(topic)
}

/// `%RETRY%group`: the group must exist; past maxReconsumeTimes the message goes to the DLQ.
async fn retry_topic(
    inner: &Arc<BrokerInner>,
    group: &str,
    h: &mut SendHeader<'_>,
    version: i32,
) -> Result<Arc<TopicConfig>, Reject> {
    let Some((g, _)) = inner.groups.find_or_create(group) else {
        return Err(Reject::new(
            ResponseCode::SubscriptionGroupNotExist,
            format!("subscription group not exist, {group}"),
        ));
    };
    let max_times = match h.max_reconsume_times {
        Some(m) if version >= 121 => m,
        _ => g.retry_max_times,
    };
    let (topic, queues) = if h.reconsume_times >= max_times {
        h.queue_id = 0;
        (format!("{DLQ_PREFIX}{group}"), 1)
    } else {
        (h.topic.to_string(), g.retry_queue_nums.max(1))
    };
    let (t, created) = inner.topics.get_or_create_system(&topic, queues, 6);
    if created {
        register_now(inner).await;
    }
    h.topic = topic.into();
    Ok(t)
}

/// After a topic was created on a request path: writes topics.json on a blocking thread
/// and registers with the NameServers, in a spawned task; waits a bounded time for it, so
/// a consumer that looks the route up right after the send finds the topic.
pub async fn register_now(inner: &Arc<BrokerInner>) {
    let i = inner.clone();
    let task = tokio::spawn(async move {
        let p = i.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || p.topics.persist_if_dirty()).await {
            tracing::error!(error = %e, "topics.json persist task failed");
        }
        register::register_all(&i).await
    });
    let _ = tokio::time::timeout(REGISTER_WAIT, task).await;
}

fn random_queue(queues: i32) -> i32 {
    let n = queues.max(1) as u32;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (seed % n) as i32
}

/// Properties the broker sets on every stored message, whatever the producer sent.
const STAMPED: [&str; 3] = ["CLUSTER", "MSG_REGION", "TRACE_ON"];

/// The stored properties: the producer's minus WAIT, plus what the broker stamps on every
/// message (5.x brokers always; 4.9.8 CLUSTER always, the other two when a send hook is
/// registered): CLUSTER (request-reply builds `<cluster>_REPLY_TOPIC` from it), MSG_REGION
/// and TRACE_ON (Java 5.x and Go consumers drop their trace records for a message without
/// MSG_REGION). Returns whether the producer wants the reply to wait for durability (WAIT
/// absent = true).
pub(super) fn final_properties(cfg: &BrokerConfig, raw: &str) -> (Vec<(String, String)>, bool) {
    let mut props = parse_properties(raw);
    let mut wait = true;
    props.retain(|(k, v)| {
        if k == "WAIT" {
            wait = !v.eq_ignore_ascii_case("false");
            false
        } else {
            !STAMPED.contains(&k.as_str())
        }
    });
    props.push(("CLUSTER".to_string(), cfg.broker_cluster_name.clone()));
    props.push(("MSG_REGION".to_string(), cfg.region_id.clone()));
    props.push(("TRACE_ON".to_string(), cfg.trace_on.to_string()));
    (props, wait)
}

/// Most properties `plain_properties` handles; more take the parsed path.
const PLAIN_MAX_PROPERTIES: usize = 16;

/// The stored properties of a plain single send, built in one pass over the producer's
/// (what `final_properties` + `encode_properties` make, without a parsed list): WAIT taken out
/// (its value returned), the stamped ones replaced by the broker's. None for what needs the
/// general path: a DELAY or TRAN_MSG property, a repeated name, very many properties.
fn plain_properties(cfg: &BrokerConfig, raw: &str) -> Option<(String, bool)> {
    let mut out = String::with_capacity(raw.len() + 64);
    let mut seen = [""; PLAIN_MAX_PROPERTIES];
    let mut wait = true;
    for (n, (k, v)) in iter_properties(raw).enumerate() {
        if k == "DELAY" || k == "TRAN_MSG" || k.starts_with("TIMER_") || seen.get(..n)?.contains(&k)
        {
            return None;
        }
        *seen.get_mut(n)? = k;
        if k == "WAIT" {
            wait = !v.eq_ignore_ascii_case("false");
        } else if !STAMPED.contains(&k) {
            push_property(&mut out, k, v);
        }
    }
    push_property(&mut out, "CLUSTER", &cfg.broker_cluster_name);
    push_property(&mut out, "MSG_REGION", &cfg.region_id);
    push_property(
        &mut out,
        "TRACE_ON",
        if cfg.trace_on { "true" } else { "false" },
    );
    Some((out, wait))
}

/// A batch entry's stored properties: its own minus WAIT and the stamped ones, plus the
/// header's (the batch's) where the entry has no such name. `Some(None)`: a delay, refused.
fn parsed_entry_properties(raw: &str, header_props: &[(String, String)]) -> Option<String> {
    let mut props = parse_properties(raw);
    if props.iter().any(|(k, v)| k == "DELAY" && v.trim() != "0") {
        return None;
    }
    props.retain(|(k, _)| k != "WAIT" && !STAMPED.contains(&k.as_str()));
    for (k, v) in header_props {
        if !props.iter().any(|(pk, _)| pk == k) {
            props.push((k.clone(), v.clone()));
        }
    }
    Some(encode_properties(&props))
}

/// What `parsed_entry_properties` makes, in one pass over the entry's text and without a
/// parsed list (a batch of 32 made 32 lists of owned pairs). None to step aside for a
/// repeated name or very many properties; `Some(None)` for a delay.
fn plain_entry_properties(raw: &str, header_props: &[(String, String)]) -> Option<Option<String>> {
    let mut seen = [""; PLAIN_MAX_PROPERTIES];
    let mut count = 0;
    let mut delayed = false;
    for (n, (k, v)) in iter_properties(raw).enumerate() {
        if seen.get(..n)?.contains(&k) {
            return None;
        }
        *seen.get_mut(n)? = k;
        count = n + 1;
        delayed |= k == "DELAY" && v.trim() != "0";
    }
    if delayed {
        return Some(None);
    }
    let kept = |k: &str| k != "WAIT" && !STAMPED.contains(&k);
    let extra: usize = header_props
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum();
    let mut out = String::with_capacity(raw.len() + extra);
    for (k, v) in iter_properties(raw).filter(|(k, _)| kept(k)) {
        push_property(&mut out, k, v);
    }
    let names = seen.get(..count)?;
    for (i, (k, v)) in header_props.iter().enumerate() {
        let earlier = header_props.get(..i).unwrap_or_default();
        if !names.iter().any(|n| n == k && kept(n)) && !earlier.iter().any(|(e, _)| e == k) {
            push_property(&mut out, k, v);
        }
    }
    Some(Some(out))
}

pub(super) fn check_body_size(inner: &BrokerInner, len: usize) -> Result<(), Reject> {
    let max = inner.config.store.max_message_size;
    if len > max {
        return Err(Reject::new(
            ResponseCode::MessageIllegal,
            format!("the message body size {len} is over the limit {max}"),
        ));
    }
    Ok(())
}

async fn store_batch(
    inner: &Arc<BrokerInner>,
    mut base: MessageToStore,
    h: &SendHeader<'_>,
    req: &RemotingCommand,
    header_props: &[(String, String)],
    wait: bool,
) -> Result<(PutResult, PutStatus), Reject> {
    let illegal = |m: String| Reject::new(ResponseCode::MessageIllegal, m);
    if h.sys_flag & SYSFLAG_TRANSACTION != 0 {
        return Err(illegal("batch message does not support transaction".into()));
    }
    let max = inner.config.store.max_message_size;
    let body = if h.sys_flag & SYSFLAG_COMPRESSED != 0 {
        // C++ 1.2 compresses a whole batch body; the entries inside are plain.
        base.sys_flag &= !SYSFLAG_COMPRESSED;
        Bytes::from(inflate_bounded(&req.body, max).map_err(illegal)?)
    } else {
        req.body.clone()
    };
    check_body_size(inner, body.len())?;
    let items = decode_batch(&body, MAX_BATCH_MESSAGES).map_err(illegal)?;
    let mut entries = Vec::with_capacity(items.len());
    for it in items {
        let properties = match plain_entry_properties(&it.properties, header_props) {
            Some(p) => p,
            None => parsed_entry_properties(&it.properties, header_props),
        }
        .ok_or_else(|| illegal("batch message does not support delay".into()))?;
        entries.push(BatchEntry {
            flag: it.flag,
            body: it.body,
            properties,
        });
    }
    append(inner, wait, |s| {
        s.put_messages(BatchToStore {
            common: base,
            entries,
        })
    })
    .await
}

/// Appends through `put`, then waits for durability unless the producer said WAIT=false.
/// Over MAX_PENDING_SENDS in flight the send is refused with SYSTEM_BUSY.
pub(crate) async fn append(
    inner: &BrokerInner,
    wait: bool,
    put: impl FnOnce(
        &ferrumq_store::MessageStore,
    ) -> Result<(PutResult, ferrumq_store::FlushWaiter), StoreError>,
) -> Result<(PutResult, PutStatus), Reject> {
    let pending = &inner.pending_sends;
    if pending.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING_SENDS {
        pending.fetch_sub(1, Ordering::AcqRel);
        return Err(Reject::new(
            ResponseCode::SystemBusy,
            "[REJECTREQUEST]system busy, start flow control for a while",
        ));
    }
    let _guard = PendingGuard(pending);
    let (result, waiter) = put(&inner.store).map_err(store_error)?;
    if result.status != PutStatus::PutOk {
        return Err(put_status_error(result.status));
    }
    let mut status = if wait { waiter.await } else { PutStatus::PutOk };
    // SYNC_MASTER: answered once a slave has the bytes too.
    if let (true, PutStatus::PutOk, Some(ha)) = (
        wait && inner.config.broker_role == BrokerRole::SyncMaster,
        status,
        &inner.ha,
    ) {
        let end = (result.physical_offset as u64).saturating_add(result.wrote_bytes as u64);
        let timeout = Duration::from_millis(inner.config.store.sync_flush_timeout_ms);
        status = match ha.wait_replicated(end, timeout).await {
            Replicated::Yes => PutStatus::PutOk,
            Replicated::Timeout => PutStatus::FlushSlaveTimeout,
            Replicated::NoSlave => PutStatus::SlaveNotAvailable,
        };
    }
    Ok((result, status))
}

struct PendingGuard<'a>(&'a AtomicUsize);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn store_error(e: StoreError) -> Reject {
    let mut r = put_status_error(e.put_status());
    r.remark = e.to_string();
    r
}

fn put_status_error(s: PutStatus) -> Reject {
    match s {
        PutStatus::MessageIllegal | PutStatus::PropertiesSizeExceeded => Reject::new(
            ResponseCode::MessageIllegal,
            format!("message illegal: {s:?}"),
        ),
        PutStatus::ServiceNotAvailable => Reject::new(
            ResponseCode::ServiceNotAvailable,
            "service not available now, maybe disk full or the store is shutting down",
        ),
        PutStatus::OsPageCacheBusy => {
            Reject::system("[PC_SYNCHRONIZED]broker busy, start flow control for a while")
        }
        other => Reject::system(format!("store put failed: {other:?}")),
    }
}

fn reply(
    inner: &BrokerInner,
    req: &RemotingCommand,
    h: &SendHeader<'_>,
    r: PutResult,
    status: PutStatus,
) -> Reply {
    let code = match status {
        PutStatus::PutOk => ResponseCode::Success,
        PutStatus::FlushDiskTimeout => ResponseCode::FlushDiskTimeout,
        PutStatus::FlushSlaveTimeout => ResponseCode::FlushSlaveTimeout,
        PutStatus::SlaveNotAvailable => ResponseCode::SlaveNotAvailable,
        other => return Err(put_status_error(other)),
    };
    let (msgs, bytes) = (r.msg_count as u64, r.wrote_bytes as u64);
    inner.stats.add(Stat::TopicPutNums, &h.topic, msgs, 1);
    inner.stats.add(Stat::TopicPutSize, &h.topic, bytes, 1);
    inner.stats.add(
        Stat::BrokerPutNums,
        &inner.config.broker_cluster_name,
        msgs,
        1,
    );
    let mut resp = send_ok(inner, req, r.msg_ids, h.queue_id, r.queue_offset);
    resp.code = i32::from(code);
    Ok(resp)
}

/// A SendMessageResponseHeader reply (sends and replies): the three fields Java decodes as
/// required, plus the region and trace switch every client family reads.
pub(super) fn send_ok(
    inner: &BrokerInner,
    req: &RemotingCommand,
    msg_id: String,
    queue_id: i32,
    queue_offset: i64,
) -> RemotingCommand {
    let mut resp = req.response_to(ResponseCode::Success, None);
    let ext = &mut resp.ext_fields;
    ext.reserve(5);
    ext.insert("msgId", msg_id);
    ext.insert_display("queueId", queue_id);
    ext.insert_display("queueOffset", queue_offset);
    ext.insert("MSG_REGION", &inner.config.region_id);
    ext.insert(
        "TRACE_ON",
        if inner.config.trace_on {
            "true"
        } else {
            "false"
        },
    );
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A batch entry's one-pass properties are exactly the parsed path's, or it steps
        /// aside only for a repeated name.
        #[test]
        fn plain_entry_properties_match_the_parsed_path(
            pairs in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("WAIT".to_string()),
                        Just("CLUSTER".to_string()),
                        Just("DELAY".to_string()),
                        Just("KEYS".to_string()),
                        Just("TAGS".to_string()),
                        "[A-Z_]{0,4}",
                    ],
                    prop_oneof![Just("0".to_string()), Just("3".to_string()), "[a-z0-9 ]{0,5}"],
                ),
                0..12,
            ),
            header in proptest::collection::vec(
                (prop_oneof![Just("TAGS"), Just("CLUSTER"), Just("WAIT"), Just("KEYS")], "[a-z]{1,3}"),
                0..4,
            ),
        ) {
            let raw: String = pairs
                .iter()
                .map(|(k, v)| format!("{k}\u{1}{v}\u{2}"))
                .collect();
            let header: Vec<(String, String)> =
                header.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let parsed = parsed_entry_properties(&raw, &header);
            match plain_entry_properties(&raw, &header) {
                Some(plain) => prop_assert_eq!(plain, parsed),
                None => {
                    let names: Vec<&str> =
                        ferrumq_store::message::iter_properties(&raw).map(|(k, _)| k).collect();
                    let repeated = names.iter().enumerate().any(|(i, k)| names[..i].contains(k));
                    prop_assert!(repeated || names.len() > PLAIN_MAX_PROPERTIES, "stepped aside for {:?}", raw);
                }
            }
        }

        /// The one-pass builder makes exactly what the parsed path makes, or steps aside.
        #[test]
        fn plain_properties_match_the_parsed_path(
            pairs in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("WAIT".to_string()),
                        Just("CLUSTER".to_string()),
                        Just("TRACE_ON".to_string()),
                        Just("DELAY".to_string()),
                        Just("KEYS".to_string()),
                        "[A-Z_]{0,6}",
                    ],
                    prop_oneof![Just("false".to_string()), Just("true".to_string()), "[a-z0-9 ]{0,5}"],
                ),
                0..20,
            ),
            trace_on in any::<bool>(),
        ) {
            let raw: String = pairs
                .iter()
                .map(|(k, v)| format!("{k}\u{1}{v}\u{2}"))
                .collect();
            let cfg = BrokerConfig {
                broker_cluster_name: "C1".into(),
                region_id: "R1".into(),
                trace_on,
                ..Default::default()
            };
            let (props, wait) = final_properties(&cfg, &raw);
            if let Some((plain, plain_wait)) = plain_properties(&cfg, &raw) {
                prop_assert_eq!(plain, encode_properties(&props));
                prop_assert_eq!(plain_wait, wait);
            } else {
                let parsed = parse_properties(&raw);
                let needs_slow = parsed.len() > PLAIN_MAX_PROPERTIES
                    || parsed
                        .iter()
                        .any(|(k, _)| k == "DELAY" || k == "TRAN_MSG" || k.starts_with("TIMER_"))
                    || parsed.len() != ferrumq_store::message::iter_properties(&raw).count();
                prop_assert!(needs_slow, "stepped aside for {:?}", raw);
            }
        }
    }
}
