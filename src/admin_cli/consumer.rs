//! Live clients, offsets and assignment: consumerConnection, producerConnection,
//! consumerStatus, resetOffsetByTime, cloneGroupOffset, allocateMQ.

use std::collections::{BTreeMap, BTreeSet};

use clap::Args;
use serde_json::json;

use super::scan::readable_queues;
use super::table::{now_ms, parse_time, version_desc};
use super::{fail, java_bool, print_json, Common, Run};
use crate::protocol::{Connection, ResponseCode};

fn connection_json(c: &Connection) -> serde_json::Value {
    json!({"clientId": c.client_id, "clientAddr": c.client_addr, "language": c.language,
        "version": version_desc(c.version)})
}

#[derive(Args, Debug)]
pub struct ConsumerConnection {
    #[command(flatten)]
    common: Common,
    /// consumer group name
    #[arg(short = 'g', long = "consumerGroup")]
    group: String,
    /// broker address
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

impl Run for ConsumerConnection {
    async fn run(self) -> Result<(), String> {
        let group = self.group.trim();
        let cc = self
            .common
            .admin()?
            .consumer_connection(group, self.broker.as_deref())
            .await
            .map_err(|e| fail(format!("connections of group {group}"), e))?;
        if cc.connection_set.is_empty() {
            return Err(format!(
                "connections of group {group}: CONSUMER_NOT_ONLINE (206) Not found the consumer group connection"
            ));
        }
        let enum_name = |n: Option<&'static str>| n.unwrap_or("null");
        let consume_type = enum_name(cc.consume_type.map(|t| t.name()));
        let model = enum_name(cc.message_model.map(|m| m.name()));
        let from_where = enum_name(cc.consume_from_where.map(|f| f.name()));
        if self.json {
            let conns: Vec<_> = cc.connection_set.iter().map(connection_json).collect();
            let subs: Vec<_> = cc
                .subscription_table
                .values()
                .map(|s| json!({"topic": s.topic, "subExpression": s.sub_string}))
                .collect();
            print_json(&json!({"connections": conns, "subscriptions": subs,
                "consumeType": consume_type, "messageModel": model, "consumeFromWhere": from_where}));
            return Ok(());
        }
        println!(
            "{:<36} {:<22} {:<10} #Version",
            "#ClientId", "#ClientAddr", "#Language"
        );
        for c in &cc.connection_set {
            println!(
                "{:<36} {:<22} {:<10} {}",
                c.client_id,
                c.client_addr,
                c.language,
                version_desc(c.version)
            );
        }
        println!();
        println!("Below is subscription:");
        println!("{:<20} #SubExpression", "#Topic");
        for s in cc.subscription_table.values() {
            println!("{:<20} {}", s.topic, s.sub_string);
        }
        println!();
        println!("ConsumeType: {consume_type}");
        println!("MessageModel: {model}");
        println!("ConsumeFromWhere: {from_where}");
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ProducerConnection {
    #[command(flatten)]
    common: Common,
    /// producer group name
    #[arg(short = 'g', long = "producerGroup")]
    group: String,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

impl Run for ProducerConnection {
    async fn run(self) -> Result<(), String> {
        let (group, topic) = (self.group.trim(), self.topic.trim());
        let pc = self
            .common
            .admin()?
            .producer_connection(group, topic)
            .await
            .map_err(|e| fail(format!("connections of producer group {group}"), e))?;
        if pc.connection_set.is_empty() {
            return Err(format!(
                "connections of producer group {group}: Not found the producer group connection"
            ));
        }
        if self.json {
            let conns: Vec<_> = pc.connection_set.iter().map(connection_json).collect();
            print_json(&json!({ "connections": conns }));
            return Ok(());
        }
        for (i, c) in pc.connection_set.iter().enumerate() {
            println!(
                "{:04}  {:<32} {:<22} {:<8} {}",
                i + 1,
                c.client_id,
                c.client_addr,
                c.language,
                version_desc(c.version)
            );
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ConsumerStatus {
    #[command(flatten)]
    common: Common,
    /// consumer group name
    #[arg(short = 'g', long = "consumerGroup")]
    group: String,
    /// The consumer's client id
    #[arg(short = 'i', long = "clientId")]
    client_id: Option<String>,
    /// broker address
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// Run jstack command in the consumer progress
    #[arg(short = 's', long = "jstack")]
    jstack: bool,
    /// one JSON document (the consumers' running info) instead of the report
    #[arg(long)]
    json: bool,
}

impl Run for ConsumerStatus {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let group = self.group.trim();
        let cc = admin
            .consumer_connection(group, self.broker.as_deref())
            .await
            .map_err(|e| fail(format!("connections of group {group}"), e))?;
        let clients: Vec<&Connection> = cc
            .connection_set
            .iter()
            .filter(|c| self.client_id.as_ref().is_none_or(|id| *id == c.client_id))
            .collect();
        if clients.is_empty() {
            return Err(format!(
                "status of group {group}: no such consumer online{}",
                self.client_id
                    .as_ref()
                    .map_or_else(String::new, |id| format!(" ({id})"))
            ));
        }
        let mut infos = Vec::new();
        for c in &clients {
            let info = admin
                .consumer_running_info(group, &c.client_id, self.jstack)
                .await
                .map_err(|e| fail(format!("running info of {}", c.client_id), e))?;
            infos.push((*c, info));
        }
        if self.json {
            let docs: BTreeMap<&str, &serde_json::Value> = infos
                .iter()
                .map(|(c, i)| (c.client_id.as_str(), i))
                .collect();
            print_json(&json!({ "consumers": docs }));
            return Ok(());
        }
        if self.client_id.is_some() {
            if let Some((_, info)) = infos.first() {
                print!("{}", super::status::report(info));
            }
            return Ok(());
        }
        super::status::print_summary(&infos, now_ms())
    }
}

#[derive(Args, Debug)]
pub struct ResetOffsetByTime {
    #[command(flatten)]
    common: Common,
    /// set the consumer group
    #[arg(short = 'g', long = "group")]
    group: String,
    /// set the topic
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// set the timestamp[now|currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 's', long = "timestamp")]
    timestamp: String,
    /// set the force rollback by timestamp switch[true|false]
    #[arg(short = 'f', long = "force", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "true")]
    force: bool,
    /// reset c++ client offset (accepted; the broker tells each client in its own form)
    #[arg(short = 'c', long = "cplus")]
    cplus: bool,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

impl Run for ResetOffsetByTime {
    async fn run(self) -> Result<(), String> {
        let (group, topic) = (self.group.trim(), self.topic.trim());
        let ts = if self.timestamp.trim() == "now" {
            -1
        } else {
            parse_time(&self.timestamp)?
        };
        let _ = self.cplus;
        let admin = self.common.admin()?;
        let what = format!("reset offsets of group {group} on {topic}");
        let online = admin
            .reset_offset_by_time(topic, group, ts, self.force)
            .await;
        let table = match online {
            Err(e) if e.code() == Some(ResponseCode::ConsumerNotOnline) => None,
            Err(e) => return Err(fail(&what, e)),
            Ok(t) => Some(t),
        };
        let head = format!(
            "[{group}], topic[{topic}], force[{}], timestamp(string)[{}], timestamp(long)[{ts}]",
            self.force, self.timestamp
        );
        let Some(table) = table else {
            // No consumer online (a 4.9.8 broker): the offsets are set queue by queue.
            let rows = admin
                .reset_offset_by_time_offline(topic, group, ts, self.force)
                .await
                .map_err(|e| fail(&what, e))?;
            print_rollback(&rows, &head, self.json);
            return Ok(());
        };
        if self.json {
            let r: Vec<_> = table
                .iter()
                .map(|(q, o)| json!({"brokerName": q.broker_name, "queueId": q.queue_id, "offset": o}))
                .collect();
            print_json(&json!({"online": true, "queues": r}));
            return Ok(());
        }
        println!("rollback consumer offset by specified group{head}");
        println!(
            "{:<40}  {:<40}  {:<40}",
            "#brokerName", "#queueId", "#offset"
        );
        for (q, o) in &table {
            println!("{:<40}  {:<40}  {o:<40}", q.broker_name, q.queue_id);
        }
        Ok(())
    }
}

/// The subscriptions a running-info report lists (to compare clients of one group).
pub fn subscriptions(info: &serde_json::Value) -> BTreeSet<(String, String)> {
    info.get("subscriptionSet")
        .and_then(|s| s.as_array())
        .map(|a| {
            a.iter()
                .map(|s| {
                    let f = |k: &str| s[k].as_str().unwrap_or_default().to_string();
                    (f("topic"), f("subString"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Args, Debug)]
pub struct CloneGroupOffset {
    #[command(flatten)]
    common: Common,
    /// set source consumer group
    #[arg(short = 's', long = "srcGroup")]
    src: String,
    /// set destination consumer group
    #[arg(short = 'd', long = "destGroup")]
    dest: String,
    /// set the topic
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// the group or the topic is offline (accepted, unused, as in Apache's tool)
    #[arg(short = 'o', long = "offline", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    offline: bool,
}

impl Run for CloneGroupOffset {
    async fn run(self) -> Result<(), String> {
        let (src, dest, topic) = (self.src.trim(), self.dest.trim(), self.topic.trim());
        let _ = self.offline;
        let copied = self
            .common
            .admin()?
            .clone_group_offset(src, dest, topic)
            .await
            .map_err(|e| fail(format!("clone offsets of {src} to {dest} on {topic}"), e))?;
        if copied == 0 {
            return Err(format!(
                "clone offsets of {src} to {dest} on {topic}: group {src} has no offset on {topic}"
            ));
        }
        println!("clone group offset success. srcGroup[{src}], destGroup=[{dest}], topic[{topic}]");
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct AllocateMq {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// ipList (client ids, comma-separated)
    #[arg(short = 'i', long = "ipList")]
    ip_list: String,
    /// accepted: the output is one JSON document anyway
    #[arg(long)]
    json: bool,
}

impl Run for AllocateMq {
    async fn run(self) -> Result<(), String> {
        let topic = self.topic.trim();
        let queues = readable_queues(&self.common.admin()?, topic).await?;
        let mut ids: Vec<String> = self
            .ip_list
            .split(',')
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .collect();
        ids.sort();
        ids.dedup();
        let mut result = serde_json::Map::new();
        for id in &ids {
            let mine: Vec<_> = crate::client::allocate_averagely(&queues, &ids, id)
                .iter()
                .map(|q| json!({"brokerName": q.broker_name, "queueId": q.queue_id, "topic": q.topic}))
                .collect();
            result.insert(id.clone(), mine.into());
        }
        let _ = self.json;
        print_json(&json!({ "result": result }));
        Ok(())
    }
}

/// The old method's table: per queue the broker's, the group's and the time's offset and
/// the one committed.
fn print_rollback(rows: &[(crate::client::MessageQueue, [i64; 4])], head: &str, json: bool) {
    if json {
        let r: Vec<_> = rows
            .iter()
            .map(|(q, [b, c, t, r])| {
                json!({"brokerName": q.broker_name, "queueId": q.queue_id, "brokerOffset": b,
                    "consumerOffset": c, "timestampOffset": t, "rollbackOffset": r})
            })
            .collect();
        print_json(&json!({"online": false, "queues": r}));
        return;
    }
    println!("rollback consumer offset by specified consumerGroup{head}");
    let h = [
        "#brokerName",
        "#queueId",
        "#brokerOffset",
        "#consumerOffset",
        "#timestampOffset",
        "#rollbackOffset",
    ];
    println!(
        "{:<20}  {:<20}  {:<20}  {:<20}  {:<20}  {:<20}",
        h[0], h[1], h[2], h[3], h[4], h[5]
    );
    for (q, [b, c, t, r]) in rows {
        println!(
            "{:<20}  {:<20}  {b:<20}  {c:<20}  {t:<20}  {r:<20}",
            q.broker_name, q.queue_id
        );
    }
}
