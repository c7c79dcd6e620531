//! One owned queue's pull loop: long-poll the broker while the queue's cache is under the
//! flow-control thresholds, hand the messages to the handler (concurrently, bounded by the
//! consumer's permits; or one at a time in order), and let each handled message leave the
//! cache so the commit offset can pass it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::process_queue::ProcessQueue;
use super::{ConsumeResult, Inner, ORDERLY_RETRY_PAUSE};
use crate::client::message::MessageQueue;
use crate::client::pull_consumer::{decode, ReceivedMessage};
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};

const SUSPEND_MS: u64 = 15_000;
/// Pull flags: commit offset, suspend (long poll), subscription in the request.
const PULL_FLAGS: i32 = 0x1 | 0x2 | 0x4;
/// After a failed pull (broker down, refused): try again after this.
const PULL_ERROR_PAUSE: Duration = Duration::from_secs(1);
/// A paused queue looks at its cache again at least this often (RocketMQ waits 50 ms).
const FLOW_CONTROL_RECHECK: Duration = Duration::from_millis(50);

pub(super) async fn pull_loop(inner: Arc<Inner>, q: MessageQueue, pq: Arc<ProcessQueue>) {
    let Some(sub) = inner.subscriptions.get(&q.topic).cloned() else {
        return;
    };
    // The broker id the last reply suggested (0: the master).
    let mut suggested = 0;
    while !pq.is_dropped() && !inner.stopping.load(Ordering::Acquire) {
        if pq.full(inner.cfg.queue_max_messages, inner.cfg.queue_max_bytes) {
            let _ = tokio::time::timeout(FLOW_CONTROL_RECHECK, pq.room.notified()).await;
            continue;
        }
        let Some(addr) = inner.pull_addr(&q.broker_name, suggested) else {
            tokio::time::sleep(PULL_ERROR_PAUSE).await;
            continue;
        };
        let at = pq.position();
        let mut ext = ExtFields::with_capacity(11);
        ext.insert("consumerGroup", &inner.cfg.group);
        ext.insert("topic", &q.topic);
        ext.insert_display("queueId", q.queue_id);
        ext.insert_display("queueOffset", at.offset);
        ext.insert_display("maxMsgNums", inner.cfg.pull_batch);
        // Broadcasting keeps offsets here: the pull must not commit one on the broker.
        let flags = if inner.cfg.broadcast_offsets.is_some() {
            PULL_FLAGS & !0x1
        } else {
            PULL_FLAGS
        };
        ext.insert_display("sysFlag", flags);
        ext.insert_display("commitOffset", pq.commit_offset());
        ext.insert_display("suspendTimeoutMillis", SUSPEND_MS);
        ext.insert("subscription", &sub.expression);
        ext.insert("subVersion", "0");
        ext.insert("expressionType", sub.kind());
        let req = RemotingCommand::new_request(RequestCode::PullMessage, ext);
        let span = tracing::debug_span!("consumer.pull", topic = %q.topic, queue_id = q.queue_id,
            offset = at.offset);
        let pull = tracing::Instrument::instrument(
            inner
                .client
                .invoke(&addr, req, Duration::from_millis(SUSPEND_MS + 5_000)),
            span,
        );
        let resp = tokio::select! {
            r = pull => match r {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(queue = ?q, error = %e, "pull failed");
                    tokio::time::sleep(PULL_ERROR_PAUSE).await;
                    // The broker may have restarted elsewhere: ask the NameServer again, and
                    // go back to the master.
                    inner.refresh_masters(&q.topic).await;
                    suggested = 0;
                    continue;
                }
            },
            // An offset reset or the queue given up: look again at once.
            _ = pq.moved.notified() => continue,
        };
        let next: Option<i64> = resp.ext_fields.opt_num("nextBeginOffset").ok().flatten();
        suggested = resp
            .ext_fields
            .opt_num("suggestWhichBrokerId")
            .ok()
            .flatten()
            .unwrap_or(0);
        match resp.response_code() {
            ResponseCode::Success => {
                let batch = match decode(&q, &resp.body) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(queue = ?q, error = %e, "undecodable pull result");
                        tokio::time::sleep(PULL_ERROR_PAUSE).await;
                        continue;
                    }
                };
                let sizes: Vec<(i64, usize)> = batch
                    .iter()
                    .map(|m| (m.queue_offset, m.body.len()))
                    .collect();
                if !pq.accept(at, &sizes, next) {
                    continue;
                }
                if inner.cfg.orderly {
                    for m in batch {
                        let offset = m.queue_offset;
                        if !consume_in_order(&inner, &pq, m).await {
                            return;
                        }
                        pq.done(at.generation, offset);
                    }
                } else {
                    for m in batch {
                        tokio::spawn(consume(inner.clone(), pq.clone(), at.generation, m));
                    }
                }
            }
            ResponseCode::PullNotFound
            | ResponseCode::PullRetryImmediately
            | ResponseCode::PullOffsetMoved => {
                pq.accept(at, &[], next);
            }
            code => {
                tracing::debug!(queue = ?q, ?code, remark = ?resp.remark, "pull refused");
                if matches!(
                    code,
                    ResponseCode::SubscriptionNotExist
                        | ResponseCode::SubscriptionNotLatest
                        | ResponseCode::ConsumerNotOnline
                ) {
                    // A restarted broker that has not heard of this consumer yet.
                    inner.heartbeat_now.notify_one();
                }
                pq.accept(at, &[], next);
                tokio::time::sleep(PULL_ERROR_PAUSE).await;
            }
        }
    }
}

/// Concurrent consumption of one message: waits for a permit, then runs the handler unless
/// the queue was given up meanwhile (the next owner gets the message: the commit offset
/// stays below it) or an offset reset moved it (the message comes again if it is still
/// wanted).
async fn consume(inner: Arc<Inner>, pq: Arc<ProcessQueue>, generation: u64, m: ReceivedMessage) {
    let Ok(_permit) = inner.permits.acquire().await else {
        return;
    };
    if pq.is_dropped() || pq.position().generation != generation {
        return;
    }
    let offset = m.queue_offset;
    let span = tracing::debug_span!("consumer.handle", msg_id = %m.msg_id, topic = %m.queue.topic);
    let result = tracing::Instrument::instrument((inner.handler)(m.clone()), span).await;
    if result == ConsumeResult::ReconsumeLater
        && inner.cfg.broadcast_offsets.is_none()
        && !inner.send_back(&m).await
    {
        // The broker did not take it back: handle it again here, once.
        let _ = (inner.handler)(m).await;
    }
    pq.done(generation, offset);
}

/// Orderly: the handler is asked again (after a pause) until it accepts the message or has
/// refused it `max_reconsume_times` times; then the message goes to the group's DLQ and the
/// queue moves on. False when the queue was given up first (the message stays unhandled
/// for the next owner).
async fn consume_in_order(inner: &Arc<Inner>, pq: &ProcessQueue, mut m: ReceivedMessage) -> bool {
    let Ok(_permit) = inner.permits.acquire().await else {
        return false;
    };
    let mut refused = 0;
    loop {
        if pq.is_dropped() {
            return false;
        }
        if (inner.handler)(m.clone()).await == ConsumeResult::Success {
            return true;
        }
        refused += 1;
        if refused > inner.cfg.max_reconsume_times {
            if !inner.send_to_dlq(&m).await {
                tracing::error!(msg = %m.msg_id, "poison message not moved to the DLQ; skipped");
            }
            return true;
        }
        m.reconsume_times += 1;
        tokio::time::sleep(ORDERLY_RETRY_PAUSE).await;
    }
}
