//! Sending subcommands: sendMessage, checkMsgSendRT, clusterRT (send RT per broker, a
//! given number of rounds instead of forever).

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use super::{fail, java_bool, print_json, route_of, Common, Run};
use crate::client::{Message, MessageQueue, Producer, SendStatus};

/// RocketMQ's SendStatus names.
pub fn status_name(s: SendStatus) -> &'static str {
    match s {
        SendStatus::SendOk => "SEND_OK",
        SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
        SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
    }
}

/// A producer in a group named after the current time, as Apache's tool makes one.
pub fn tool_producer(common: &Common) -> Result<Producer, String> {
    Producer::builder(&common.addr()?)
        .group(super::table::now_ms().to_string())
        .build()
        .map_err(|e| fail("producer", e))
}

/// `"%-32s  %-4s  %-20s    %s%n"`, the layout of sendMessage and checkMsgSendRT.
pub fn send_row(broker: &str, qid: &str, result: &str, last: &str) {
    println!("{broker:<32}  {qid:<4}  {result:<20}    {last}");
}

#[derive(Args, Debug)]
pub struct SendMessage {
    #[command(flatten)]
    common: Common,
    /// Topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// UTF-8 string format of the message body
    #[arg(short = 'p', long = "body")]
    body: String,
    /// Message keys
    #[arg(short = 'k', long = "key")]
    key: Option<String>,
    /// Message tags
    #[arg(short = 'c', long = "tags")]
    tags: Option<String>,
    /// Send message to target broker
    #[arg(short = 'b', long = "broker")]
    broker: Option<String>,
    /// Send message to target queue
    #[arg(short = 'i', long = "qid")]
    qid: Option<i32>,
    /// Message Trace Enable (accepted; FerrumQ's producer sends no trace)
    #[arg(short = 'm', long = "msgTraceEnable", action = clap::ArgAction::Set, value_parser = super::java_bool, default_value = "false")]
    trace: bool,
}

impl Run for SendMessage {
    async fn run(self) -> Result<(), String> {
        let topic = self.topic.trim();
        if self.qid.is_some() && self.broker.is_none() {
            return Err("sendMessage: Broker name must be set if the queue is chosen!".into());
        }
        let _ = self.trace;
        let producer = tool_producer(&self.common)?;
        let mut msg = Message::new(topic, self.body.clone().into_bytes());
        if let Some(k) = &self.key {
            msg = msg.with_keys([k]);
        }
        if let Some(t) = &self.tags {
            msg = msg.with_tags(t.clone());
        }
        let sent = match (&self.broker, self.qid) {
            (Some(b), Some(q)) => {
                let queue = MessageQueue {
                    topic: topic.to_string(),
                    broker_name: b.clone(),
                    queue_id: q,
                };
                producer.send_to_queue(msg, &queue).await
            }
            _ => producer.send(msg).await,
        }
        .map_err(|e| fail(format!("send to {topic}"), e))?;
        send_row("#Broker Name", "#QID", "#Send Result", "#MsgId");
        send_row(
            &sent.queue.broker_name,
            &sent.queue.queue_id.to_string(),
            status_name(sent.status),
            &sent.msg_id,
        );
        Ok(())
    }
}

/// Mean of the round-trip times after the first (the first pays for connections and
/// routes), as RocketMQ's tool computes it; NaN for fewer than two.
fn mean_after_first(rts_ms: &[f64]) -> f64 {
    let rest = rts_ms.get(1..).unwrap_or_default();
    rest.iter().sum::<f64>() / rest.len() as f64
}

#[derive(Args, Debug)]
pub struct CheckMsgSendRt {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// message amount | default 100
    #[arg(short = 'a', long = "amount", default_value_t = 100)]
    amount: usize,
    /// message size | default 128 Byte
    #[arg(short = 's', long = "size", default_value_t = 128)]
    size: usize,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

impl Run for CheckMsgSendRt {
    async fn run(self) -> Result<(), String> {
        let topic = self.topic.trim();
        let route = route_of(&self.common.admin()?, topic).await?;
        let queues: Vec<MessageQueue> = route
            .queue_datas
            .iter()
            .filter(|q| q.perm & 2 != 0)
            .flat_map(|q| {
                (0..q.write_queue_nums).map(|id| MessageQueue {
                    topic: topic.to_string(),
                    broker_name: q.broker_name.clone(),
                    queue_id: id,
                })
            })
            .collect();
        if queues.is_empty() {
            return Err(format!("check send RT of {topic}: no writable queue"));
        }
        let producer = tool_producer(&self.common)?;
        let body = vec![b'a'; self.size];
        if !self.json {
            send_row("#Broker Name", "#QID", "#Send Result", "#RT");
        }
        let (mut rts, mut rows) = (Vec::new(), Vec::new());
        for q in queues.iter().cycle().take(self.amount) {
            let start = Instant::now();
            let ok = producer
                .send_to_queue(Message::new(topic, body.clone()), q)
                .await
                .is_ok();
            let rt = start.elapsed().as_secs_f64() * 1000.0;
            rts.push(rt);
            if self.json {
                rows.push(json!({"brokerName": q.broker_name, "queueId": q.queue_id,
                    "sendResult": ok, "rtMs": rt}));
            } else {
                send_row(
                    &q.broker_name,
                    &q.queue_id.to_string(),
                    &ok.to_string(),
                    &format!("{rt:.0}"),
                );
            }
        }
        let avg = mean_after_first(&rts);
        if self.json {
            print_json(
                &json!({"sends": rows, "avgRtMs": if avg.is_nan() { None } else { Some(avg) }}),
            );
        } else {
            println!("Avg RT: {avg:.2}");
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ClusterRt {
    #[command(flatten)]
    common: Common,
    /// message amount | default 100
    #[arg(short = 'a', long = "amount", default_value_t = 100)]
    amount: usize,
    /// message size | default 128 Byte
    #[arg(short = 's', long = "size", default_value_t = 128)]
    size: usize,
    /// cluster name | default display all cluster
    #[arg(short = 'c', long = "cluster")]
    cluster: Option<String>,
    /// print as tlog | default false
    #[arg(short = 'p', long = "printLog", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    print_log: bool,
    /// machine room name | default noname
    #[arg(short = 'm', long = "machineRoom", default_value = "noname")]
    room: String,
    /// print interval | default 10 seconds
    #[arg(short = 'i', long = "interval", default_value_t = 10)]
    interval_s: u64,
    /// rounds to run (Apache's tool runs until killed) | default 1
    #[arg(long = "count", default_value_t = 1)]
    count: u32,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

impl ClusterRt {
    /// One round: `amount` sends to the topic named after each broker of each cluster.
    async fn round(&self, producer: &Producer) -> Result<Vec<serde_json::Value>, String> {
        let admin = self.common.admin()?;
        let info = admin
            .cluster_info()
            .await
            .map_err(|e| fail("cluster info", e))?;
        if let Some(c) = &self.cluster {
            if !info.cluster_addr_table.contains_key(c) {
                return Err(format!("clusterRT: cluster [{c}] not exist"));
            }
        }
        let body = vec![b'a'; self.size];
        let mut rows = Vec::new();
        for (cluster, names) in &info.cluster_addr_table {
            if self.cluster.as_ref().is_some_and(|c| c != cluster) {
                continue;
            }
            for name in names {
                let (mut rts, mut ok, mut failed) = (Vec::new(), 0, 0);
                for _ in 0..self.amount {
                    let start = Instant::now();
                    match producer
                        .send(Message::new(name.as_str(), body.clone()))
                        .await
                    {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                    rts.push(start.elapsed().as_secs_f64() * 1000.0);
                }
                let rt = mean_after_first(&rts);
                rows.push(json!({"cluster": cluster, "brokerName": name,
                    "rtMs": if rt.is_nan() { None } else { Some(rt) },
                    "successCount": ok, "failCount": failed}));
            }
        }
        Ok(rows)
    }

    fn print(&self, rows: &[serde_json::Value]) {
        if !self.print_log {
            println!(
                "{:<24}  {:<24}  {:<4}  {:<8}  {:<8}",
                "#Cluster Name", "#Broker Name", "#RT", "#successCount", "#failCount"
            );
        }
        for r in rows {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let rt = r["rtMs"].as_f64().unwrap_or(f64::NAN);
            if self.print_log {
                // GMT+8, as Apache's tool writes its tlog lines.
                let t = super::table::last_time(super::table::now_ms() + 8 * 3_600_000);
                println!(
                    "{t}|{}|{}|{}|{}",
                    self.room,
                    s("cluster"),
                    s("brokerName"),
                    rt.round()
                );
            } else {
                println!(
                    "{:<24}  {:<24}  {:<8}  {:<16}  {:<16}",
                    s("cluster"),
                    s("brokerName"),
                    format!("{rt:.2}"),
                    r["successCount"].as_i64().unwrap_or(0),
                    r["failCount"].as_i64().unwrap_or(0)
                );
            }
        }
    }
}

impl Run for ClusterRt {
    async fn run(self) -> Result<(), String> {
        let producer = tool_producer(&self.common)?;
        super::detail::stop_on_ctrl_c();
        let mut rounds = Vec::new();
        for n in 0..self.count {
            if n > 0 {
                tokio::time::sleep(Duration::from_secs(self.interval_s)).await;
            }
            if super::detail::interrupted() {
                break;
            }
            let rows = self.round(&producer).await?;
            if self.json {
                rounds.push(rows);
            } else {
                self.print(&rows);
            }
        }
        if self.json {
            print_json(&json!({ "rounds": rounds }));
        }
        Ok(())
    }
}
