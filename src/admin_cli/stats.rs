//! Statistics: brokerConsumeStats (every group's progress on one broker) and statsAll
//! (per topic and group: backlog, TPS in and out, messages in the last 24 hours).

use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::table::{cut, last_time};
use super::{fail, java_bool, print_json, Common, Run};
use crate::client::Admin;

#[derive(Args, Debug)]
pub struct BrokerConsumeStats {
    #[command(flatten)]
    common: Common,
    /// Broker address
    #[arg(short = 'b', long = "brokerAddr")]
    broker: String,
    /// request timeout Millis
    #[arg(short = 't', long = "timeoutMillis", default_value_t = 50_000)]
    timeout_ms: u64,
    /// threshold for diff
    #[arg(short = 'l', long = "level", default_value_t = 0)]
    level: i64,
    /// order topic
    #[arg(short = 'o', long = "order", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    order: bool,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

/// One row of brokerConsumeStats: (topic, group, broker name, queue id, broker offset,
/// consumer offset, last timestamp).
type Row = (String, String, String, i64, i64, i64, i64);

/// The rows of a ConsumeStatsList body (`{"consumeStatsList":[{group:[ConsumeStats]}]}`,
/// MessageQueue keys as JSON strings), each group's queues sorted.
fn rows(body: &serde_json::Value) -> Vec<Row> {
    let mut out = Vec::new();
    let list = body["consumeStatsList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for entry in &list {
        let Some(groups) = entry.as_object() else {
            continue;
        };
        for (group, stats) in groups {
            let mut queues = Vec::new();
            for s in stats.as_array().into_iter().flatten() {
                let Some(table) = s["offsetTable"].as_object() else {
                    continue;
                };
                for (key, w) in table {
                    let Ok(q) = serde_json::from_str::<serde_json::Value>(key) else {
                        continue;
                    };
                    let text = |k: &str| q[k].as_str().unwrap_or_default().to_string();
                    let num = |v: &serde_json::Value, k: &str| v[k].as_i64().unwrap_or(0);
                    queues.push((
                        text("topic"),
                        group.clone(),
                        text("brokerName"),
                        num(&q, "queueId"),
                        num(w, "brokerOffset"),
                        num(w, "consumerOffset"),
                        num(w, "lastTimestamp"),
                    ));
                }
            }
            queues.sort();
            out.extend(queues);
        }
    }
    out
}

impl Run for BrokerConsumeStats {
    async fn run(self) -> Result<(), String> {
        let addr = self.broker.trim();
        let body = self
            .common
            .admin()?
            .broker_consume_stats(addr, self.order, Duration::from_millis(self.timeout_ms))
            .await
            .map_err(|e| fail(format!("consume stats of broker {addr}"), e))?;
        let total = body["totalDiff"].as_i64().unwrap_or(0);
        let shown: Vec<Row> = rows(&body)
            .into_iter()
            .filter(|r| r.6 > 0 && r.4 - r.5 >= self.level)
            .collect();
        if self.json {
            let list: Vec<_> = shown
                .iter()
                .map(|(t, g, b, q, bo, co, last)| {
                    json!({"topic": t, "group": g, "brokerName": b, "queueId": q,
                        "brokerOffset": bo, "consumerOffset": co, "diff": bo - co,
                        "lastTimestamp": last})
                })
                .collect();
            print_json(&json!({"queues": list, "diffTotal": total}));
            return Ok(());
        }
        println!(
            "{:<64}  {:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20}  #LastTime",
            "#Topic",
            "#Group",
            "#Broker Name",
            "#QID",
            "#Broker Offset",
            "#Consumer Offset",
            "#Diff"
        );
        for (t, g, b, q, bo, co, last) in &shown {
            println!(
                "{:<64}  {g:<64}  {b:<32}  {q:<4}  {bo:<20}  {co:<20}  {:<20}  {}",
                cut(t, 64),
                bo - co,
                last_time(*last)
            );
        }
        println!();
        println!("Diff Total: {total}");
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct StatsAll {
    #[command(flatten)]
    common: Common,
    /// print active topic only
    #[arg(short = 'a', long = "activeTopic")]
    active: bool,
    /// print select topic only
    #[arg(short = 't', long = "topic")]
    topic: Option<String>,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

/// A statistic summed over brokers: (TPS of the last minute, messages in the last 24 h:
/// the day's sum, else the hour's, else the minute's).
async fn stat(admin: &Admin, masters: &[String], name: &str, key: &str) -> (f64, i64) {
    let (mut tps, mut day) = (0.0, 0);
    for addr in masters {
        let Ok(v) = admin.broker_stats(addr, name, key).await else {
            continue;
        };
        let sum = |w: &str| v[w]["sum"].as_i64().unwrap_or(0);
        tps += v["statsMinute"]["tps"].as_f64().unwrap_or(0.0);
        day += [sum("statsDay"), sum("statsHour"), sum("statsMinute")]
            .into_iter()
            .find(|s| *s != 0)
            .unwrap_or(0);
    }
    (tps, day)
}

impl StatsAll {
    /// The rows of one topic: one per consuming group, or one with no group.
    async fn topic_rows(&self, admin: &Admin, topic: &str) -> Vec<serde_json::Value> {
        let Ok(brokers) = admin.route_brokers(topic).await else {
            return Vec::new();
        };
        let masters: Vec<String> = brokers.values().cloned().collect();
        let (in_tps, in_day) = stat(admin, &masters, "TOPIC_PUT_NUMS", topic).await;
        let groups = match masters.first() {
            Some(first) => admin.consumed_by(first, topic).await.unwrap_or_default(),
            None => Default::default(),
        };
        let mut out = Vec::new();
        for g in &groups {
            let key = format!("{topic}@{g}");
            let (out_tps, out_day) = stat(admin, &masters, "GROUP_GET_NUMS", &key).await;
            let backlog: i64 = match admin.consume_stats(g, topic).await {
                Ok(rows) => rows
                    .iter()
                    .map(|r| r.broker_offset - r.consumer_offset)
                    .sum(),
                Err(_) => 0,
            };
            out.push(
                json!({"topic": topic, "group": g, "accumulation": backlog.max(0),
                "inTps": in_tps, "outTps": out_tps, "inMsg24Hour": in_day,
                "outMsg24Hour": out_day}),
            );
        }
        if groups.is_empty() {
            out.push(json!({"topic": topic, "group": null, "accumulation": 0,
                "inTps": in_tps, "outTps": null, "inMsg24Hour": in_day, "outMsg24Hour": null}));
        }
        if self.active {
            out.retain(|r| {
                r["inMsg24Hour"].as_i64().unwrap_or(0) > 0
                    || r["outMsg24Hour"].as_i64().unwrap_or(0) > 0
            });
        }
        out
    }
}

impl Run for StatsAll {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let topics = match &self.topic {
            Some(t) => vec![t.trim().to_string()],
            None => admin
                .topic_list()
                .await
                .map_err(|e| fail("topic list", e))?
                .into_iter()
                .filter(|t| !t.starts_with("%RETRY%") && !t.starts_with("%DLQ%"))
                .collect(),
        };
        let mut all = Vec::new();
        for t in &topics {
            all.extend(self.topic_rows(&admin, t).await);
        }
        if self.json {
            print_json(&json!({ "rows": all }));
            return Ok(());
        }
        println!(
            "{:<64}  {:<64} {:>12} {:>11} {:>11} {:>14} {:>14}",
            "#Topic",
            "#Consumer Group",
            "#Accumulation",
            "#InTPS",
            "#OutTPS",
            "#InMsg24Hour",
            "#OutMsg24Hour"
        );
        for r in &all {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let i = |k: &str| r[k].as_i64().unwrap_or(0);
            let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
            if r["group"].is_null() {
                println!(
                    "{:<64}  {:<64} {:>12} {:>11.2} {:>11} {:>14} {:>14}",
                    s("topic"),
                    "",
                    0,
                    f("inTps"),
                    "",
                    i("inMsg24Hour"),
                    "NO_CONSUMER"
                );
            } else {
                println!(
                    "{:<64}  {:<64} {:>12} {:>11.2} {:>11.2} {:>14} {:>14}",
                    s("topic"),
                    s("group"),
                    i("accumulation"),
                    f("inTps"),
                    f("outTps"),
                    i("inMsg24Hour"),
                    i("outMsg24Hour")
                );
            }
        }
        Ok(())
    }
}
