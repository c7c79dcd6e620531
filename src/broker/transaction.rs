//! Transactional messages (features sheet §2, wire doc §7.7): half messages stored under
//! RMQ_SYS_TRANS_HALF_TOPIC, END_TRANSACTION committing or rolling them back, op records in
//! RMQ_SYS_TRANS_OP_HALF_TOPIC, and the check service asking producers about unresolved ones.
//!
//! Where FerrumQ differs from RocketMQ (on purpose): a message is resolved once. A repeated or
//! late END_TRANSACTION, or one for a message already discarded, changes nothing (RocketMQ
//! stores a second commit). The op record carries the message's UNIQ_KEY, so the set of
//! resolved messages is rebuilt from the op queue at start. Check counts are kept in memory
//! instead of re-appending a copy of the half message before every check.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use ferrumq_store::message::{find_property, push_property};
use ferrumq_store::{
    decode_record, offset_msg_id, with_destination, DecodedRecord, MessageToStore,
};
use parking_lot::Mutex;

use super::processor::{send, Reject, Reply};
use super::topic_config::now_ms;
use super::{schedule, BrokerInner};
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};

pub const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
pub const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
pub const CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";
pub const MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// FerrumQ's op-record property naming the resolved message.
const OP_UNIQ: &str = "TRAN_UNIQ";
const TX_BITS: i32 = 0xC;
const COMMIT_TYPE: i32 = 0x8;
/// Most half messages one check run reads.
const CHECK_BATCH: i64 = 10_000;

/// What the broker knows about transactions besides the store.
#[derive(Default)]
pub struct TransactionState {
    /// UNIQ_KEY → half-queue offset of committed, rolled back or discarded messages at or
    /// past the check position (below it every message is resolved: the entries are pruned,
    /// so the map stays as small as the window the check service still looks at).
    resolved: Mutex<HashMap<String, i64>>,
    /// Half-queue offset → checks sent.
    checks: Mutex<HashMap<i64, u32>>,
    /// Test hook: the next commit's op record is not written, as if power failed between the
    /// two appends.
    pub debug_drop_next_op: std::sync::atomic::AtomicBool,
}

/// Turns a send into a half message: REAL_TOPIC, REAL_QID and PGROUP recorded, stored on the
/// half topic's queue 0 as a plain (not yet visible) message.
pub fn make_half(
    inner: &BrokerInner,
    topic: &mut String,
    queue_id: &mut i32,
    sys_flag: &mut i32,
    props: &mut Vec<(String, String)>,
    producer_group: &str,
) {
    props.retain(|(k, _)| !matches!(k.as_str(), "REAL_TOPIC" | "REAL_QID" | "PGROUP"));
    props.push(("REAL_TOPIC".into(), std::mem::take(topic)));
    props.push(("REAL_QID".into(), queue_id.to_string()));
    props.push(("PGROUP".into(), producer_group.to_string()));
    inner.topics.get_or_create_system(HALF_TOPIC, 1, 6);
    *topic = HALF_TOPIC.to_string();
    *queue_id = 0;
    *sys_flag &= !TX_BITS;
}

fn uniq_key(rec: &DecodedRecord<'_>) -> String {
    find_property(rec.properties, "UNIQ_KEY")
        .map_or_else(|| rec.physical_offset.to_string(), str::to_string)
}

/// END_TRANSACTION (37), oneway from producers: commit (8) puts the message on its real topic
/// and queue, rollback (12) drops it, 0 does nothing.
pub async fn end_transaction(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let group = ext.req("producerGroup")?;
    let table_offset: i64 = ext.num("tranStateTableOffset")?;
    let commit_log_offset: i64 = ext.num("commitLogOffset")?;
    let decision: i32 = ext.num("commitOrRollback")?;
    if inner.config.is_slave() {
        return Err(Reject::new(
            ResponseCode::SlaveNotAvailable,
            "the broker is a slave: END_TRANSACTION goes to the master",
        ));
    }
    let commit = match decision {
        0 => return Ok(req.response_to(ResponseCode::Success, None)),
        8 => true,
        12 => false,
        other => {
            return Err(Reject::system(format!(
                "commitOrRollback {other} is none of 0, 8, 12"
            )))
        }
    };
    let raw = inner
        .store
        .lookup_message_by_offset(commit_log_offset)
        .ok_or_else(|| Reject::system("Find prepared transaction message failed"))?;
    let rec = decode_record(&raw)
        .map_err(|e| Reject::system(format!("Find prepared transaction message failed: {e}")))?;
    if rec.topic != HALF_TOPIC {
        return Err(Reject::system("The commit log offset wrong"));
    }
    if find_property(rec.properties, "PGROUP") != Some(group) {
        return Err(Reject::system("The producer group wrong"));
    }
    if rec.queue_offset != table_offset {
        return Err(Reject::system("The transaction state table offset wrong"));
    }
    let uniq = uniq_key(&rec);
    // Below the check position every half message is resolved already.
    let passed = rec.queue_offset < check_position(inner);
    if passed || !mark_resolved(inner, &uniq, rec.queue_offset) {
        tracing::debug!(%uniq, commit, "transaction already resolved; END_TRANSACTION ignored");
        return Ok(req.response_to(ResponseCode::Success, None));
    }
    let outcome = if commit {
        commit_half(inner, &raw, &rec).await
    } else {
        Ok(())
    };
    if let Err(e) = outcome {
        inner.tx.resolved.lock().remove(&uniq);
        return Err(e);
    }
    let dropped = commit
        && inner
            .tx
            .debug_drop_next_op
            .swap(false, std::sync::atomic::Ordering::AcqRel);
    if !dropped {
        write_op(inner, &rec, &uniq);
    }
    Ok(req.response_to(ResponseCode::Success, None))
}

/// Where the check service starts: every half message below it is resolved.
fn check_position(inner: &BrokerInner) -> i64 {
    inner
        .offsets
        .query(CHECK_GROUP, HALF_TOPIC, 0)
        .unwrap_or(0)
        .max(inner.store.min_offset_in_queue(HALF_TOPIC, 0))
}

/// Records a message as resolved; false if it was already.
fn mark_resolved(inner: &BrokerInner, uniq: &str, offset: i64) -> bool {
    let mut resolved = inner.tx.resolved.lock();
    if resolved.contains_key(uniq) {
        return false;
    }
    resolved.insert(uniq.to_string(), offset);
    true
}

fn is_resolved(inner: &BrokerInner, uniq: &str) -> bool {
    inner.tx.resolved.lock().contains_key(uniq)
}

/// Stores the committed message on its real topic and queue (a delay level applies now).
async fn commit_half(
    inner: &Arc<BrokerInner>,
    raw: &Bytes,
    rec: &DecodedRecord<'_>,
) -> Result<(), Reject> {
    let mut topic = find_property(rec.properties, "REAL_TOPIC")
        .ok_or_else(|| Reject::system("half message without REAL_TOPIC"))?
        .to_string();
    let mut queue_id: i32 = find_property(rec.properties, "REAL_QID")
        .and_then(|q| q.parse().ok())
        .unwrap_or(0);
    let mut props = ferrumq_store::parse_properties(rec.properties);
    schedule::apply_delay(
        &mut topic,
        &mut queue_id,
        &mut props,
        inner.schedule.max_level(),
    );
    let msg = MessageToStore {
        topic,
        queue_id,
        flag: rec.flag,
        body: raw.slice_ref(rec.body),
        properties: ferrumq_store::encode_properties(&props),
        sys_flag: (rec.sys_flag & !TX_BITS) | COMMIT_TYPE,
        born_timestamp_ms: rec.born_timestamp_ms,
        born_host: rec.born_host,
        store_host: inner.store_host(),
        reconsume_times: rec.reconsume_times,
        prepared_transaction_offset: rec.physical_offset,
        store_timestamp_ms: None,
    };
    send::append(inner, true, |s| s.put_message(msg)).await?;
    Ok(())
}

/// The op record of a resolved half message: its half-queue offset as the body (RocketMQ's
/// format) and FerrumQ's TRAN_UNIQ property.
fn write_op(inner: &BrokerInner, rec: &DecodedRecord<'_>, uniq: &str) {
    inner.topics.get_or_create_system(OP_TOPIC, 1, 6);
    let mut properties = String::new();
    push_property(&mut properties, "TAGS", "d");
    push_property(&mut properties, OP_UNIQ, uniq);
    let msg = MessageToStore {
        topic: OP_TOPIC.to_string(),
        queue_id: rec.queue_id,
        flag: 0,
        body: Bytes::from(rec.queue_offset.to_string()),
        properties,
        sys_flag: 0,
        born_timestamp_ms: now_ms(),
        born_host: inner.store_host(),
        store_host: inner.store_host(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    if let Err(e) = inner.store.put_message(msg) {
        tracing::error!(error = %e, "transaction op record not stored");
    }
}

/// At start: every message the op queue says is resolved, then every unresolved half whose
/// commit record is stored (power lost between the commit and its op record, appended
/// microseconds apart): its op record is written now, so a check cannot commit it again.
pub fn load_resolved(inner: &BrokerInner) {
    load_ops(inner);
    let pending = unresolved_halves(inner);
    let Some(&oldest) = pending.keys().next() else {
        return;
    };
    let mut found = Vec::new();
    inner.store.scan_records(oldest, |raw| {
        if let Ok(rec) = decode_record(raw) {
            if rec.sys_flag & TX_BITS == COMMIT_TYPE {
                if let Some(uniq) = pending.get(&rec.prepared_transaction_offset) {
                    found.push((rec.prepared_transaction_offset, uniq.clone()));
                }
            }
        }
        true
    });
    for (physical, uniq) in found {
        let Some(raw) = inner.store.lookup_message_by_offset(physical) else {
            continue;
        };
        if let Ok(half) = decode_record(&raw) {
            tracing::info!(%uniq, "committed transaction without its op record: completed");
            mark_resolved(inner, &uniq, half.queue_offset);
            write_op(inner, &half, &uniq);
        }
    }
}

/// Unresolved half messages from the check position on: physical offset → UNIQ_KEY.
fn unresolved_halves(inner: &BrokerInner) -> std::collections::BTreeMap<i64, String> {
    let mut out = std::collections::BTreeMap::new();
    let max = inner.store.max_offset_in_queue(HALF_TOPIC, 0);
    walk_queue(inner, HALF_TOPIC, check_position(inner), max, |_, rec| {
        let uniq = uniq_key(rec);
        if !is_resolved(inner, &uniq) {
            out.insert(rec.physical_offset, uniq);
        }
        ControlFlow::Continue(())
    });
    out
}

/// Calls `visit` for each decodable record of queue 0 of `topic` in `[from, max)`, a batch
/// at a time, until it breaks.
fn walk_queue(
    inner: &BrokerInner,
    topic: &str,
    from: i64,
    max: i64,
    mut visit: impl FnMut(&Bytes, &DecodedRecord<'_>) -> ControlFlow<()>,
) {
    let mut at = from;
    while at < max {
        let r = inner
            .store
            .get_message(topic, 0, at, 32, 1 << 22, &|_| true);
        if r.next_begin_offset <= at {
            return;
        }
        for raw in &r.messages {
            if let Ok(rec) = decode_record(raw) {
                if visit(raw, &rec).is_break() {
                    return;
                }
            }
        }
        at = r.next_begin_offset;
    }
}

fn load_ops(inner: &BrokerInner) {
    let from = check_position(inner);
    let mut resolved = inner.tx.resolved.lock();
    let min = inner.store.min_offset_in_queue(OP_TOPIC, 0);
    let max = inner.store.max_offset_in_queue(OP_TOPIC, 0);
    walk_queue(inner, OP_TOPIC, min, max, |_, rec| {
        let half: Option<i64> = std::str::from_utf8(rec.body)
            .ok()
            .and_then(|b| b.trim().parse().ok());
        if let (Some(u), Some(half)) = (find_property(rec.properties, OP_UNIQ), half) {
            if half >= from {
                resolved.insert(u.to_string(), half);
            }
        }
        ControlFlow::Continue(())
    });
}

/// One run of the check service: every unresolved half message older than
/// `transactionTimeOut` gets CHECK_TRANSACTION_STATE sent to a live producer of its group; one
/// checked `transactionCheckMax` times goes to TRANS_CHECK_MAX_TIME_TOPIC instead. The scan
/// starts at the first unresolved message (kept as group CID_RMQ_SYS_TRANS's offset).
pub fn check_once(inner: &BrokerInner) {
    let cfg = &inner.config;
    let start = check_position(inner);
    let max = inner
        .store
        .max_offset_in_queue(HALF_TOPIC, 0)
        .min(start + CHECK_BATCH);
    let now = now_ms();
    let mut done_until = start;
    let mut contiguous = true;
    walk_queue(inner, HALF_TOPIC, start, max, |raw, rec| {
        let offset = rec.queue_offset;
        let uniq = uniq_key(rec);
        if !is_resolved(inner, &uniq) {
            if now - rec.born_timestamp_ms < cfg.transaction_timeout_ms as i64 {
                return ControlFlow::Break(());
            }
            let count = {
                let mut checks = inner.tx.checks.lock();
                let c = checks.entry(offset).or_insert(0);
                *c += 1;
                *c
            };
            if count > cfg.transaction_check_max {
                discard(inner, raw, rec, &uniq, count - 1);
            } else {
                send_check(inner, rec);
                contiguous = false;
            }
        }
        if contiguous {
            done_until = offset + 1;
        }
        ControlFlow::Continue(())
    });
    if done_until > start {
        inner.offsets.commit(CHECK_GROUP, HALF_TOPIC, 0, done_until);
        inner.tx.checks.lock().retain(|o, _| *o >= done_until);
        inner.tx.resolved.lock().retain(|_, o| *o >= done_until);
    }
}

/// Checked too often: kept on TRANS_CHECK_MAX_TIME_TOPIC for an operator, never dropped.
fn discard(inner: &BrokerInner, raw: &Bytes, rec: &DecodedRecord<'_>, uniq: &str, checks: u32) {
    if !mark_resolved(inner, uniq, rec.queue_offset) {
        return;
    }
    inner.topics.get_or_create_system(MAX_TIME_TOPIC, 1, 6);
    let mut props = ferrumq_store::parse_properties(rec.properties);
    props.retain(|(k, _)| k != "TRANSACTION_CHECK_TIMES");
    props.push(("TRANSACTION_CHECK_TIMES".into(), checks.to_string()));
    let msg = MessageToStore {
        topic: MAX_TIME_TOPIC.to_string(),
        queue_id: 0,
        flag: rec.flag,
        body: raw.slice_ref(rec.body),
        properties: ferrumq_store::encode_properties(&props),
        sys_flag: rec.sys_flag & !TX_BITS,
        born_timestamp_ms: rec.born_timestamp_ms,
        born_host: rec.born_host,
        store_host: inner.store_host(),
        reconsume_times: rec.reconsume_times,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    match inner.store.put_message(msg) {
        Ok(_) => {
            tracing::warn!(%uniq, checks, "transaction unresolved after its checks: moved to {MAX_TIME_TOPIC}");
            write_op(inner, rec, uniq);
        }
        Err(e) => {
            inner.tx.resolved.lock().remove(uniq);
            tracing::error!(%uniq, error = %e, "could not move an unresolved transaction");
        }
    }
}

/// CHECK_TRANSACTION_STATE (39), oneway, to a live producer of the message's group; the body
/// is the half message shown under its real topic and queue.
fn send_check(inner: &BrokerInner, rec: &DecodedRecord<'_>) {
    let Some(group) = find_property(rec.properties, "PGROUP") else {
        return;
    };
    let Some(ctx) = inner.producers.any_channel(group) else {
        tracing::debug!(group, "no producer online to check a transaction");
        return;
    };
    let topic = find_property(rec.properties, "REAL_TOPIC").unwrap_or(HALF_TOPIC);
    let queue_id = find_property(rec.properties, "REAL_QID")
        .and_then(|q| q.parse().ok())
        .unwrap_or(0);
    let body = with_destination(rec, topic, queue_id).unwrap_or_default();
    let uniq = uniq_key(rec);
    let mut ext = ExtFields::with_capacity(5);
    ext.insert_display("tranStateTableOffset", rec.queue_offset);
    ext.insert_display("commitLogOffset", rec.physical_offset);
    ext.insert("msgId", &uniq);
    ext.insert("transactionId", &uniq);
    ext.insert(
        "offsetMsgId",
        offset_msg_id(rec.store_host, rec.physical_offset),
    );
    let cmd = RemotingCommand::new_request(RequestCode::CheckTransactionState, ext).with_body(body);
    ctx.send_oneway(cmd);
}
