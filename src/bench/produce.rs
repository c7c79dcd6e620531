//! `mqbench produce`: C connections x K requests in flight, sequence-stamped bodies.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};

use super::histogram::Histogram;
use super::payload::{self, Stamp};
use super::report::{self, Counters, Progress};
use super::route::{self, QueueTarget};
use super::{Limits, Options};
use crate::protocol::{
    ExtFields, RemotingCommand, RequestCode, ResponseCode, SendMessageRequestHeader,
};
use crate::remoting::{ClientConfig, RemotingClient};

/// Shared by every sending task of one run.
struct Plan {
    opts: Options,
    queues: Vec<QueueTarget>,
    run_id: u64,
    next_seq: AtomicU64,
    limits: Limits,
    counters: Arc<Counters>,
}

pub async fn run(opts: Options) -> Result<Arc<Counters>, String> {
    let lookup = RemotingClient::new(ClientConfig::default());
    let topics = opts.topic_names();
    let queues =
        route::publish_queues_of_all(&lookup, &opts.namesrv, &topics, opts.queues_per_topic)
            .await?;
    if queues.is_empty() {
        return Err(format!("topic {} has no writable queue", opts.topic));
    }
    println!(
        "produce: topic {} on {} queues, body {} B, {} connections x {} in flight, batch {}",
        opts.topic_label(),
        queues.len(),
        opts.size,
        opts.connections,
        opts.in_flight,
        opts.batch
    );
    let counters = Arc::new(Counters::new(opts.plot.is_some()));
    let plan = Arc::new(Plan {
        limits: Limits::from_options(&opts),
        run_id: payload::now_us(),
        next_seq: AtomicU64::new(0),
        queues,
        counters: counters.clone(),
        opts,
    });
    let progress = Progress::start("produce", counters.clone());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for conn in 0..plan.opts.connections {
        if plan.opts.sdk {
            let producer = crate::client::Producer::builder(&plan.opts.namesrv)
                .group(&plan.opts.group)
                .send_timeout(plan.opts.timeout())
                .default_topic_queue_nums(plan.opts.queues_per_topic)
                .compress_over(usize::MAX)
                .build()
                .map_err(|e| e.to_string())?;
            for _ in 0..plan.opts.in_flight {
                tasks.push(tokio::spawn(sdk_send_loop(plan.clone(), producer.clone())));
            }
            continue;
        }
        let client = RemotingClient::new(ClientConfig::default());
        for slot in 0..plan.opts.in_flight {
            let first_queue = conn * plan.opts.in_flight + slot;
            tasks.push(tokio::spawn(send_loop(
                plan.clone(),
                client.clone(),
                first_queue,
            )));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    progress.finish();
    report::summary("produce", &counters, started.elapsed());
    report::write_plot(&counters, &plan.opts, "produce")?;
    Ok(counters)
}

/// One unstamped send, so that a new topic exists (auto-created) before e2e measures.
pub async fn warm_up(opts: &Options) -> Result<(), String> {
    let client = RemotingClient::new(ClientConfig::default());
    let queues =
        route::publish_queues(&client, &opts.namesrv, &opts.topic, opts.queues_per_topic).await?;
    let target = queues.first().ok_or("no writable queue")?;
    let header = SendMessageRequestHeader {
        producer_group: &opts.group,
        topic: opts.topic.as_str().into(),
        default_topic_queue_nums: opts.queues_per_topic,
        queue_id: target.queue_id,
        born_timestamp: Some((payload::now_us() / 1000) as i64),
        ..Default::default()
    };
    let req = RemotingCommand::new_request(RequestCode::SendMessageV2, header.to_ext(true))
        .with_body(Bytes::from_static(b"mqbench warm-up"));
    let resp = client
        .invoke(&target.broker_addr, req, opts.timeout())
        .await
        .map_err(|e| format!("warm-up send: {e}"))?;
    if resp.response_code() != ResponseCode::Success {
        return Err(format!(
            "warm-up send: {:?} {}",
            resp.response_code(),
            resp.remark.unwrap_or_default()
        ));
    }
    // The broker registers a new topic with the NameServer at once; give it a moment.
    for _ in 0..50 {
        if route::fetch_route(&client, &opts.namesrv, &opts.topic)
            .await?
            .is_some()
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!(
        "topic {} has no route after the warm-up send",
        opts.topic
    ))
}

async fn send_loop(plan: Arc<Plan>, client: RemotingClient, mut queue_index: usize) {
    let batch = plan.opts.batch.max(1) as u64;
    let mut latency = Histogram::new();
    loop {
        let first_seq = plan.next_seq.fetch_add(batch, Relaxed);
        if !plan.limits.admit(first_seq, batch).await {
            break;
        }
        let target = &plan.queues[queue_index % plan.queues.len()];
        queue_index += 1;
        let req = build_request(&plan, target, first_seq, batch);
        let begin = Instant::now();
        let result = client
            .invoke(&target.broker_addr, req, plan.opts.timeout())
            .await;
        let us = begin.elapsed().as_micros() as u64;
        match result {
            Ok(resp) if resp.response_code() == ResponseCode::Success => {
                if plan.opts.transaction {
                    commit(&plan, &client, &target.broker_addr, &resp).await;
                }
                plan.counters.ok.fetch_add(batch, Relaxed);
                plan.counters
                    .bytes
                    .fetch_add(batch * plan.opts.size as u64, Relaxed);
                plan.counters.sample(us);
                latency.record(us);
            }
            Ok(resp) => {
                plan.counters.failed.fetch_add(batch, Relaxed);
                report_first_error(&plan, || {
                    format!(
                        "{:?}: {}",
                        resp.response_code(),
                        resp.remark.unwrap_or_default()
                    )
                });
            }
            Err(e) => {
                plan.counters.failed.fetch_add(batch, Relaxed);
                report_first_error(&plan, || e.to_string());
            }
        }
    }
    plan.counters.merge(&latency);
}

/// END_TRANSACTION commit (8) for a stored half message, oneway as producers send it.
async fn commit(plan: &Plan, client: &RemotingClient, addr: &str, resp: &RemotingCommand) {
    let ext = &resp.ext_fields;
    let msg_id = ext.get("msgId").unwrap_or_default();
    let physical = ferrumq_store::decode_offset_msg_id(msg_id).map_or(-1, |(_, o)| o);
    let mut end = ExtFields::with_capacity(6);
    end.insert("producerGroup", &plan.opts.group);
    end.insert(
        "tranStateTableOffset",
        ext.get("queueOffset").unwrap_or("-1"),
    );
    end.insert_display("commitLogOffset", physical);
    end.insert("commitOrRollback", "8");
    end.insert("fromTransactionCheck", "false");
    end.insert("msgId", msg_id);
    let req = RemotingCommand::new_request(RequestCode::EndTransaction, end);
    if let Err(e) = client.invoke_oneway(addr, req).await {
        report_first_error(plan, || format!("END_TRANSACTION: {e}"));
    }
}

/// `send_loop` through the SDK's producer (its own queue choice, retries and route cache).
async fn sdk_send_loop(plan: Arc<Plan>, producer: crate::client::Producer) {
    let mut latency = Histogram::new();
    loop {
        let seq = plan.next_seq.fetch_add(1, Relaxed);
        if !plan.limits.admit(seq, 1).await {
            break;
        }
        let stamp = Stamp {
            run_id: plan.run_id,
            seq,
            sent_at_us: payload::now_us(),
        };
        let body = payload::encode(stamp, plan.opts.size);
        let begin = Instant::now();
        let result = producer
            .send(crate::client::Message::new(plan.opts.topic.as_str(), body))
            .await;
        let us = begin.elapsed().as_micros() as u64;
        match result {
            Ok(_) => {
                plan.counters.ok.fetch_add(1, Relaxed);
                plan.counters
                    .bytes
                    .fetch_add(plan.opts.size as u64, Relaxed);
                plan.counters.sample(us);
                latency.record(us);
            }
            Err(e) => {
                plan.counters.failed.fetch_add(1, Relaxed);
                report_first_error(&plan, || e.to_string());
            }
        }
    }
    plan.counters.merge(&latency);
}

fn report_first_error(plan: &Plan, message: impl FnOnce() -> String) {
    if plan.counters.failed.load(Relaxed) <= plan.opts.batch.max(1) as u64 {
        eprintln!("send failed: {}", message());
    }
}

fn build_request(plan: &Plan, target: &QueueTarget, first_seq: u64, batch: u64) -> RemotingCommand {
    // Timer mode: due times spread over the run, stamped as the "sent" time.
    let due_ms = |seq: u64| {
        let spread = plan.opts.timer_spread_ms?;
        let total = plan.opts.messages?.max(1);
        let start_ms = plan.run_id / 1000 + super::TIMER_LEAD_MS;
        Some(start_ms + seq.saturating_mul(spread) / total)
    };
    let stamp = |seq| Stamp {
        run_id: plan.run_id,
        seq,
        sent_at_us: due_ms(seq).map_or_else(payload::now_us, |d| d * 1000),
    };
    let tx_props;
    let timer_props;
    let uniq_props;
    let header = SendMessageRequestHeader {
        producer_group: &plan.opts.group,
        topic: target.topic.as_str().into(),
        default_topic_queue_nums: plan.opts.queues_per_topic,
        queue_id: target.queue_id,
        born_timestamp: Some((payload::now_us() / 1000) as i64),
        batch: batch > 1,
        // A half message: TRAN_MSG decides, the sysFlag says PREPARED as producers set it.
        sys_flag: if plan.opts.transaction { 0x4 } else { 0 },
        properties: if plan.opts.transaction {
            tx_props = format!("TRAN_MSG\u{1}true\u{2}PGROUP\u{1}{}", plan.opts.group);
            &tx_props
        } else if let Some(due) = due_ms(first_seq) {
            timer_props = format!("TIMER_DELIVER_MS\u{1}{due}");
            &timer_props
        } else if plan.opts.uniq_key && batch == 1 {
            uniq_props = format!("UNIQ_KEY\u{1}{}", crate::client::new_msg_id());
            &uniq_props
        } else {
            ""
        },
        ..Default::default()
    };
    let (code, body) = if batch > 1 {
        let mut buf = BytesMut::new();
        for seq in first_seq..first_seq + batch {
            put_batch_entry(&mut buf, &payload::encode(stamp(seq), plan.opts.size));
        }
        (RequestCode::SendBatchMessage, buf.freeze())
    } else {
        let body = payload::encode(stamp(first_seq), plan.opts.size);
        (RequestCode::SendMessageV2, Bytes::from(body))
    };
    RemotingCommand::new_request(code, header.to_ext(true)).with_body(body)
}

/// One entry of a batch body (wire doc §5.6), without properties.
fn put_batch_entry(buf: &mut BytesMut, body: &[u8]) {
    let total = 20 + body.len() + 2;
    buf.put_i32(total as i32);
    buf.put_i32(0); // magic: clients write 0
    buf.put_i32(0); // body CRC: the broker computes it
    buf.put_i32(0); // flag
    buf.put_i32(body.len() as i32);
    buf.put_slice(body);
    buf.put_i16(0); // properties length
}
