//! consumerProgress: one group's progress per queue (`-g`, with the client holding each
//! queue under `-s true`), or every group's summary (no `-g`).

use std::collections::BTreeMap;

use clap::Args;
use serde_json::json;

use super::table::{last_time, version_desc};
use super::{fail, java_bool, print_json, Common, Run};
use crate::client::{Admin, MessageQueue};
use crate::protocol::{ConsumeType, MessageModel};

#[derive(Args, Debug)]
pub struct ConsumerProgress {
    #[command(flatten)]
    common: Common,
    /// consumer group name
    #[arg(short = 'g', long = "groupName")]
    group: Option<String>,
    /// Show Client IP per Queue
    #[arg(short = 's', long = "showClientIP", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    show_client_ip: bool,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

impl Run for ConsumerProgress {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        match self.group.as_deref().map(str::trim) {
            Some(group) => self.one_group(&admin, group).await,
            None => self.all_groups(&admin).await,
        }
    }
}

/// Which client (its id up to `@`) holds each queue, from the clients' running info;
/// failures leave queues out, as in Apache's tool.
async fn holders(admin: &Admin, group: &str) -> BTreeMap<MessageQueue, String> {
    let mut out = BTreeMap::new();
    let Ok(cc) = admin.consumer_connection(group, None).await else {
        return out;
    };
    for c in &cc.connection_set {
        let Ok(info) = admin
            .consumer_running_info(group, &c.client_id, false)
            .await
        else {
            continue;
        };
        let ip = c
            .client_id
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string();
        for key in info["mqTable"]
            .as_object()
            .into_iter()
            .flat_map(|t| t.keys())
        {
            let Ok(q) = serde_json::from_str::<serde_json::Value>(key) else {
                continue;
            };
            let queue = MessageQueue {
                topic: q["topic"].as_str().unwrap_or_default().to_string(),
                broker_name: q["brokerName"].as_str().unwrap_or_default().to_string(),
                queue_id: q["queueId"]
                    .as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .unwrap_or(-1),
            };
            out.insert(queue, ip.clone());
        }
    }
    out
}

impl ConsumerProgress {
    async fn one_group(&self, admin: &Admin, group: &str) -> Result<(), String> {
        let (rows, tps) = admin
            .group_progress(group)
            .await
            .map_err(|e| fail(format!("progress of group {group}"), e))?;
        if rows.is_empty() {
            return Err(format!(
                "progress of group {group}: CONSUMER_NOT_ONLINE (206) Not found the consumer group consume stats, because return offset table is empty, maybe the consumer not consume any message"
            ));
        }
        let clients = if self.show_client_ip {
            holders(admin, group).await
        } else {
            BTreeMap::new()
        };
        let client = |q: &MessageQueue| clients.get(q).map_or("N/A", String::as_str);
        let diff_total: i64 = rows.iter().map(|r| r.lag()).sum();
        if self.json {
            let list: Vec<_> = rows
                .iter()
                .map(|r| {
                    let mut v = json!({"topic": r.queue.topic, "brokerName": r.queue.broker_name,
                        "queueId": r.queue.queue_id, "brokerOffset": r.broker_offset,
                        "consumerOffset": r.consumer_offset, "diff": r.lag(),
                        "lastTimestamp": r.last_timestamp_ms});
                    if self.show_client_ip {
                        v["clientIp"] = client(&r.queue).into();
                    }
                    v
                })
                .collect();
            print_json(&json!({"queues": list, "consumeTps": tps, "diffTotal": diff_total}));
            return Ok(());
        }
        let ip_head = if self.show_client_ip {
            format!("{:<20}  ", "#Client IP")
        } else {
            String::new()
        };
        println!(
            "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {ip_head}{:<20}  #LastTime",
            "#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Diff"
        );
        for r in &rows {
            let ip = if self.show_client_ip {
                format!("{:<20}  ", client(&r.queue))
            } else {
                String::new()
            };
            println!(
                "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {ip}{:<20}  {}",
                r.queue.topic,
                r.queue.broker_name,
                r.queue.queue_id,
                r.broker_offset,
                r.consumer_offset,
                r.broker_offset - r.consumer_offset,
                last_time(r.last_timestamp_ms)
            );
        }
        println!();
        println!("Consume TPS: {tps:.2}");
        println!("Diff Total: {diff_total}");
        Ok(())
    }

    /// Every group with a retry topic: its online clients, their lowest version, how they
    /// consume, its TPS and total lag.
    async fn all_groups(&self, admin: &Admin) -> Result<(), String> {
        let topics = admin
            .topic_list()
            .await
            .map_err(|e| fail("topic list", e))?;
        let mut rows = Vec::new();
        for group in topics.iter().filter_map(|t| t.strip_prefix("%RETRY%")) {
            let (tps, diff) = match admin.group_progress(group).await {
                Ok((r, tps)) => (tps, r.iter().map(|r| r.lag()).sum::<i64>()),
                Err(_) => (0.0, 0),
            };
            let cc = admin.consumer_connection(group, None).await.ok();
            let count = cc.as_ref().map_or(0, |c| c.connection_set.len());
            let (mut version, mut kind, mut model) = ("OFFLINE".to_string(), "", "");
            if let Some(cc) = cc.as_ref().filter(|_| count > 0) {
                let lowest = cc
                    .connection_set
                    .iter()
                    .map(|c| c.version)
                    .min()
                    .unwrap_or(0);
                version = version_desc(lowest);
                let push = cc.consume_type == Some(ConsumeType::ConsumePassively);
                kind = if push { "PUSH" } else { "PULL" };
                model = match cc.message_model {
                    Some(MessageModel::Broadcasting) if push => "BROADCASTING",
                    Some(MessageModel::Clustering) if push => "CLUSTERING",
                    _ => "",
                };
            }
            rows.push(json!({"group": group, "count": count, "version": version,
                "type": kind, "model": model, "tps": tps as i64, "diffTotal": diff}));
        }
        if self.json {
            print_json(&json!({ "groups": rows }));
            return Ok(());
        }
        println!(
            "{:<64}  {:<6}  {:<24} {:<5}  {:<14}  {:<7}  #Diff Total",
            "#Group", "#Count", "#Version", "#Type", "#Model", "#TPS"
        );
        for r in &rows {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let i = |k: &str| r[k].as_i64().unwrap_or(0);
            println!(
                "{:<64}  {:<6}  {:<24} {:<5}  {:<14}  {:<7}  {}",
                s("group"),
                i("count"),
                s("version"),
                s("type"),
                s("model"),
                i("tps"),
                i("diffTotal")
            );
        }
        Ok(())
    }
}
