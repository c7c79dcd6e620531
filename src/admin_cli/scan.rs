//! Queue scans: printMsg, printMsgByQueue, consumeMessage. They pull without joining a
//! group or committing; Ctrl-C stops them cleanly, and a terminal shows progress.

use std::collections::BTreeMap;

use clap::Args;
use serde_json::json;

use super::detail::{interrupted, progress, progress_done, stop_on_ctrl_c, Detail, JsonItems};
use super::message::broker_addr;
use super::table::{now_ms, parse_time, queue_string};
use super::{fail, java_bool, print_json, route_of, Common, Run};
use crate::client::{Admin, MessageQueue};

/// The group RocketMQ's tool pulls as.
pub const TOOLS_CONSUMER: &str = "TOOLS_CONSUMER";
/// Messages per pull (printMsg, printMsgByQueue).
const PULL_BATCH: i32 = 32;

/// The readable queues of a topic (perm has R), sorted.
pub async fn readable_queues(admin: &Admin, topic: &str) -> Result<Vec<MessageQueue>, String> {
    let route = route_of(admin, topic).await?;
    let mut out = Vec::new();
    for q in route.queue_datas.iter().filter(|q| q.perm & 4 != 0) {
        for id in 0..q.read_queue_nums {
            out.push(MessageQueue {
                topic: topic.to_string(),
                broker_name: q.broker_name.clone(),
                queue_id: id,
            });
        }
    }
    out.sort();
    Ok(out)
}

/// `-c`: only UTF-8 bodies are printed as text.
fn check_charset(c: &str) -> Result<(), String> {
    if c.eq_ignore_ascii_case("UTF-8") || c.eq_ignore_ascii_case("UTF8") {
        Ok(())
    } else {
        Err(format!("charset {c}: only UTF-8 is supported"))
    }
}

/// The offset range of a queue: its min and max, narrowed by the begin and end times.
async fn range(
    admin: &Admin,
    addr: &str,
    q: &MessageQueue,
    begin: Option<i64>,
    end: Option<i64>,
) -> Result<(i64, i64), String> {
    let what = queue_string(q);
    let min = match begin {
        Some(t) => admin.search_offset(addr, q, t).await,
        None => admin.min_offset(addr, q).await,
    }
    .map_err(|e| fail(&what, e))?;
    let max = match end {
        Some(t) => admin.search_offset(addr, q, t).await,
        None => admin.max_offset(addr, q).await,
    }
    .map_err(|e| fail(&what, e))?;
    Ok((min, max))
}

fn time_arg(s: &Option<String>) -> Result<Option<i64>, String> {
    s.as_deref().map(parse_time).transpose()
}

/// Pulls `[from, to)` of one queue, at most `limit` messages, calling `found` per batch.
/// Returns the lines Apache prints when a pull finds no (matching) message.
async fn scan_queue(
    admin: &Admin,
    scan: &Scan<'_>,
    q: &MessageQueue,
    (from, to): (i64, i64),
    found: &mut dyn FnMut(Vec<Detail>),
) -> Result<(), String> {
    let addr = broker_addr(admin, q).await?;
    let mut offset = from;
    let mut left = scan.limit;
    while offset < to && left > 0 && !interrupted() {
        let batch = i32::try_from(left.min(PULL_BATCH as usize)).unwrap_or(PULL_BATCH);
        let r = admin
            .pull(&addr, scan.group, q, offset, batch, scan.tags)
            .await
            .map_err(|e| fail(queue_string(q), e))?;
        let next = r.next_offset;
        match r.status {
            "FOUND" => {
                left = left.saturating_sub(r.messages.len());
                if scan.print_consume_ok {
                    println!("Consume ok");
                }
                found(r.messages);
            }
            "NO_MATCHED_MSG" if !scan.stop_unless_found => {
                if !scan.quiet {
                    println!(
                        "{} no matched msg. status=NO_MATCHED_MSG, offset={next}",
                        queue_string(q)
                    );
                }
            }
            status => {
                if !scan.quiet {
                    println!(
                        "{} print msg finished. status={status}, offset={next}",
                        queue_string(q)
                    );
                }
                break;
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    Ok(())
}

/// How a scan pulls.
struct Scan<'a> {
    group: &'a str,
    tags: &'a str,
    limit: usize,
    print_consume_ok: bool,
    /// printMsgByQueue stops at any status but FOUND.
    stop_unless_found: bool,
    /// No status lines (`--json`, printMsgByQueue).
    quiet: bool,
}

#[derive(Args, Debug)]
pub struct PrintMsg {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// CharsetName(eg: UTF-8,GBK)
    #[arg(short = 'c', long = "charsetName", default_value = "UTF-8")]
    charset: String,
    /// Subscribe Expression(eg: TagA || TagB)
    #[arg(short = 's', long = "subExpression", default_value = "*")]
    sub: String,
    /// Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 'b', long = "beginTimestamp")]
    begin: Option<String>,
    /// End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 'e', long = "endTimestamp")]
    end: Option<String>,
    /// print body
    #[arg(short = 'd', long = "printBody", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "true")]
    print_body: bool,
    /// one JSON document instead of lines
    #[arg(long)]
    json: bool,
}

impl Run for PrintMsg {
    async fn run(self) -> Result<(), String> {
        check_charset(&self.charset)?;
        let (begin, end) = (time_arg(&self.begin)?, time_arg(&self.end)?);
        let admin = self.common.admin()?;
        stop_on_ctrl_c();
        let scan = Scan {
            group: TOOLS_CONSUMER,
            tags: self.sub.trim(),
            limit: usize::MAX,
            print_consume_ok: false,
            stop_unless_found: false,
            quiet: self.json,
        };
        let mut count = 0;
        let mut queues_out = self.json.then(|| JsonItems::open("{\"queues\":"));
        for q in readable_queues(&admin, self.topic.trim()).await? {
            let addr = broker_addr(&admin, &q).await?;
            let (min, max) = range(&admin, &addr, &q, begin, end).await?;
            let mut messages = None;
            if let Some(out) = queues_out.as_mut() {
                // The queue object is an item of "queues", its messages streamed inside it.
                out.push_raw_start();
                let head = format!(
                    "{{\"queue\":{},\"minOffset\":{min},\"maxOffset\":{max},\"messages\":",
                    queue_json(&q)
                );
                messages = Some(JsonItems::open(&head));
            } else {
                println!("minOffset={min}, maxOffset={max}, {}", queue_string(&q));
            }
            scan_queue(&admin, &scan, &q, (min, max), &mut |batch| {
                count += batch.len();
                progress(count);
                for d in batch {
                    match messages.as_mut() {
                        Some(m) => m.push(&d.to_json()),
                        None => println!("{}", d.msg_line(self.print_body)),
                    }
                }
            })
            .await?;
            match messages {
                Some(m) => m.close("}"),
                None => println!("{}", "-".repeat(56)),
            }
        }
        progress_done();
        if let Some(out) = queues_out {
            out.close("}\n");
        }
        Ok(())
    }
}

fn queue_json(q: &MessageQueue) -> serde_json::Value {
    json!({"topic": q.topic, "brokerName": q.broker_name, "queueId": q.queue_id})
}

#[derive(Args, Debug)]
pub struct PrintMsgByQueue {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// broker name
    #[arg(short = 'a', long = "brokerName")]
    broker: String,
    /// queue id
    #[arg(short = 'i', long = "queueId")]
    queue_id: i32,
    /// CharsetName(eg: UTF-8,GBK)
    #[arg(short = 'c', long = "charsetName", default_value = "UTF-8")]
    charset: String,
    /// Subscribe Expression(eg: TagA || TagB)
    #[arg(short = 's', long = "subExpression", default_value = "*")]
    sub: String,
    /// Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 'b', long = "beginTimestamp")]
    begin: Option<String>,
    /// End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 'e', long = "endTimestamp")]
    end: Option<String>,
    /// print msg. default is false
    #[arg(short = 'p', long = "print", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    print: bool,
    /// print body. default is false
    #[arg(short = 'd', long = "printBody", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    print_body: bool,
    /// calculate by tag. default is false
    #[arg(short = 'f', long = "calculate", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    calculate: bool,
    /// one JSON document instead of lines
    #[arg(long)]
    json: bool,
}

impl Run for PrintMsgByQueue {
    async fn run(self) -> Result<(), String> {
        check_charset(&self.charset)?;
        let (begin, end) = (time_arg(&self.begin)?, time_arg(&self.end)?);
        let admin = self.common.admin()?;
        stop_on_ctrl_c();
        let q = MessageQueue {
            topic: self.topic.trim().to_string(),
            broker_name: self.broker.trim().to_string(),
            queue_id: self.queue_id,
        };
        let addr = broker_addr(&admin, &q).await?;
        let (min, max) = range(&admin, &addr, &q, begin, end).await?;
        let scan = Scan {
            group: TOOLS_CONSUMER,
            tags: self.sub.trim(),
            limit: usize::MAX,
            print_consume_ok: false,
            stop_unless_found: true,
            quiet: true,
        };
        let mut tags = BTreeMap::<String, u64>::new();
        let mut count = 0;
        // --json: the messages (with -p, as the table) streamed, then the tag counts.
        let mut messages = self.json.then(|| {
            JsonItems::open(&format!(
                "{{\"queue\":{},\"minOffset\":{min},\"maxOffset\":{max},\"messages\":",
                queue_json(&q)
            ))
        });
        scan_queue(&admin, &scan, &q, (min, max), &mut |batch| {
            count += batch.len();
            progress(count);
            for d in batch {
                let tag = d.property("TAGS").unwrap_or("null").to_string();
                *tags.entry(tag).or_default() += 1;
                match messages.as_mut() {
                    Some(m) if self.print => m.push(&d.to_json()),
                    None if self.print => println!("{}", d.msg_line(self.print_body)),
                    _ => {}
                }
            }
        })
        .await?;
        progress_done();
        let mut by_count: Vec<(String, u64)> = tags.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if let Some(m) = messages {
            let t: Vec<_> = by_count
                .iter()
                .map(|(t, n)| json!({"tag": t, "count": n}))
                .collect();
            m.close(&format!(",\"tags\":{}}}\n", serde_json::Value::from(t)));
            return Ok(());
        }
        if self.calculate {
            for (tag, n) in &by_count {
                println!("Tag: {tag:<30} Count: {n}");
            }
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ConsumeMessage {
    #[command(flatten)]
    common: Common,
    /// Topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Broker name
    #[arg(short = 'b', long = "brokerName")]
    broker: Option<String>,
    /// Queue Id
    #[arg(short = 'i', long = "queueId")]
    queue_id: Option<i32>,
    /// Queue Offset
    #[arg(short = 'o', long = "offset")]
    offset: Option<i64>,
    /// Consumer group name
    #[arg(short = 'g', long = "consumerGroup", default_value = TOOLS_CONSUMER)]
    group: String,
    /// Begin timestamp(ms or yyyy-MM-dd#HH:mm:ss:SSS)
    #[arg(short = 's', long = "beginTimestamp")]
    begin: Option<String>,
    /// End timestamp(ms or yyyy-MM-dd#HH:mm:ss:SSS)
    #[arg(short = 'e', long = "endTimestamp")]
    end: Option<String>,
    /// Number of message to be consumed
    #[arg(short = 'c', long = "MessageNumber", default_value_t = 128)]
    count: usize,
    /// one JSON document instead of lines
    #[arg(long)]
    json: bool,
}

impl ConsumeMessage {
    fn check(&self) -> Result<(Option<i64>, Option<i64>), String> {
        if self.queue_id.is_some() && self.broker.is_none() {
            return Err("consumeMessage: Please set the brokerName before queueId!".into());
        }
        if self.offset.is_some() && self.queue_id.is_none() {
            return Err("consumeMessage: Please set the queueId before offset!".into());
        }
        let (begin, end) = (time_arg(&self.begin)?, time_arg(&self.end)?);
        let now = now_ms();
        if begin.is_some_and(|b| b > now) || end.is_some_and(|e| e > now) {
            return Err("consumeMessage: the timestamps may not be in the future".into());
        }
        if let (Some(b), Some(e)) = (begin, end) {
            if b > e {
                return Err("consumeMessage: the begin time is after the end time".into());
            }
        }
        Ok((begin, end))
    }
}

impl Run for ConsumeMessage {
    async fn run(self) -> Result<(), String> {
        let (begin, end) = self.check()?;
        let admin = self.common.admin()?;
        stop_on_ctrl_c();
        let topic = self.topic.trim();
        let queues = match (&self.broker, self.queue_id) {
            (Some(b), Some(id)) => vec![MessageQueue {
                topic: topic.to_string(),
                broker_name: b.clone(),
                queue_id: id,
            }],
            (Some(b), None) => readable_queues(&admin, topic)
                .await?
                .into_iter()
                .filter(|q| &q.broker_name == b)
                .collect(),
            _ => readable_queues(&admin, topic).await?,
        };
        let mut ranges = Vec::with_capacity(queues.len());
        for q in &queues {
            let addr = broker_addr(&admin, q).await?;
            let (mut min, max) = range(&admin, &addr, q, begin, end).await?;
            if let Some(o) = self.offset {
                min = o;
            }
            ranges.push((min, max));
        }
        let total: i64 = ranges.iter().map(|(a, b)| (b - a).max(0)).sum();
        if !self.json && total > self.count as i64 {
            match self.queue_id {
                Some(id) => println!(
                    "The older {} message of the {id} queue will be provided",
                    self.count
                ),
                None => println!("The oldler {} message will be provided", self.count),
            }
        }
        let mut scan = Scan {
            group: &self.group,
            tags: "*",
            limit: self.count,
            print_consume_ok: !self.json,
            stop_unless_found: false,
            quiet: self.json,
        };
        let mut docs = Vec::new();
        let mut count = 0;
        for (q, r) in queues.iter().zip(ranges) {
            scan_queue(&admin, &scan, q, r, &mut |batch| {
                count += batch.len();
                progress(count);
                for d in batch {
                    if self.json {
                        docs.push(d.to_json());
                    } else {
                        println!("{}", d.msg_line(true));
                    }
                }
            })
            .await?;
            scan.limit = self.count.saturating_sub(count);
            if scan.limit == 0 {
                break;
            }
        }
        progress_done();
        if self.json {
            print_json(&json!({ "messages": docs }));
        }
        Ok(())
    }
}
