//! Topic subcommands that change or inspect one topic: updateTopic, deleteTopic,
//! updateTopicPerm, topicStatus.

use std::collections::BTreeMap;

use clap::Args;
use serde_json::json;

use super::table::topic_config_string;
use super::{fail, java_bool, print_json, route_of, Common, Run};
use crate::protocol::{QueueData, TopicConfig};

/// The NameServer KV namespace of ordered topics' queue layout.
const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

#[derive(Args, Debug)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct UpdateTopic {
    #[command(flatten)]
    common: Common,
    /// create topic to which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// create topic to which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// set read queue nums
    #[arg(short = 'r', long = "readQueueNums", default_value_t = 8)]
    read: i32,
    /// set write queue nums
    #[arg(short = 'w', long = "writeQueueNums", default_value_t = 8)]
    write: i32,
    /// set topic's permission(2|4|6), intro[2:W 4:R; 6:RW]
    #[arg(short = 'p', long = "perm", default_value_t = 6)]
    perm: i32,
    /// set topic's order(true|false)
    #[arg(short = 'o', long = "order", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    order: bool,
    /// is unit topic (true|false)
    #[arg(short = 'u', long = "unit", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    unit: bool,
    /// has unit sub (true|false)
    #[arg(short = 's', long = "hasUnitSub", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    has_unit_sub: bool,
}

impl Run for UpdateTopic {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let mut config = TopicConfig::new(self.topic.trim());
        config.read_queue_nums = self.read;
        config.write_queue_nums = self.write;
        config.perm = self.perm;
        config.order = self.order;
        config.topic_sys_flag = i32::from(self.unit) | (i32::from(self.has_unit_sub) << 1);
        let brokers: BTreeMap<String, String> = match (&self.broker, &self.cluster) {
            (Some(b), _) => {
                let mut name = String::new();
                if self.order {
                    let info = admin
                        .cluster_info()
                        .await
                        .map_err(|e| fail("cluster info", e))?;
                    name = info
                        .broker_addr_table
                        .values()
                        .find(|d| d.broker_addrs.values().any(|a| a == b))
                        .map_or_else(String::new, |d| d.broker_name.clone());
                }
                BTreeMap::from([(name, b.clone())])
            }
            (None, Some(c)) => admin
                .masters(c)
                .await
                .map_err(|e| fail(format!("masters of cluster {c}"), e))?,
            (None, None) => {
                return Err("updateTopic: give -b <broker address> or -c <cluster>".into())
            }
        };
        for addr in brokers.values() {
            admin
                .update_topic_config(addr, &config)
                .await
                .map_err(|e| fail(format!("create topic {} on {addr}", config.topic_name), e))?;
            println!("create topic to {addr} success.");
        }
        if self.order {
            let conf = order_conf(&admin, &config, &brokers, self.broker.is_some()).await?;
            println!("set cluster orderConf. isOrder=true, orderConf=[{conf}]");
        }
        println!("{}", topic_config_string(&config));
        Ok(())
    }
}

/// Writes the NameServers' order conf of an ordered topic, `broker:writeQueues;…`: merged
/// with what is there for one broker (`-b`), replaced for a cluster (`-c`).
async fn order_conf(
    admin: &crate::client::Admin,
    config: &TopicConfig,
    brokers: &BTreeMap<String, String>,
    merge: bool,
) -> Result<String, String> {
    let topic = &config.topic_name;
    let mut parts: BTreeMap<String, String> = BTreeMap::new();
    if merge {
        let old = admin
            .kv_config(ORDER_TOPIC_CONFIG, topic)
            .await
            .map_err(|e| fail(format!("order conf of {topic}"), e))?;
        for part in old.iter().flat_map(|o| o.split(';')) {
            if let Some((b, n)) = part.split_once(':') {
                parts.insert(b.to_string(), n.to_string());
            }
        }
    }
    for name in brokers.keys() {
        parts.insert(name.clone(), config.write_queue_nums.to_string());
    }
    let conf: Vec<String> = parts.iter().map(|(b, n)| format!("{b}:{n}")).collect();
    let conf = conf.join(";");
    admin
        .put_kv_config(ORDER_TOPIC_CONFIG, topic, &conf)
        .await
        .map_err(|e| fail(format!("order conf of {topic}"), e))?;
    Ok(conf)
}

#[derive(Args, Debug)]
pub struct DeleteTopic {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// delete topic from which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: String,
}

impl Run for DeleteTopic {
    async fn run(self) -> Result<(), String> {
        let (topic, cluster) = (self.topic.trim(), &self.cluster);
        self.common
            .admin()?
            .delete_topic(cluster, topic)
            .await
            .map_err(|e| fail(format!("delete topic {topic} from cluster {cluster}"), e))?;
        println!("delete topic [{topic}] from cluster [{cluster}] success.");
        println!("delete topic [{topic}] from NameServer success.");
        Ok(())
    }
}

#[derive(Args, Debug)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("target").args(["broker", "cluster"])))]
pub struct UpdateTopicPerm {
    #[command(flatten)]
    common: Common,
    /// create topic to which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// create topic to which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// set topic's permission(2|4|6), intro[2:W 4:R; 6:RW]
    #[arg(short = 'p', long = "perm")]
    perm: i32,
}

impl Run for UpdateTopicPerm {
    async fn run(self) -> Result<(), String> {
        if ![2, 4, 6].contains(&self.perm) {
            return Err(format!(
                "updateTopicPerm: perm {} is not 2, 4 or 6",
                self.perm
            ));
        }
        let admin = self.common.admin()?;
        let topic = self.topic.trim();
        let route = route_of(&admin, topic).await?;
        let first: QueueData = route.queue_datas.first().cloned().unwrap_or_default();
        let mut config = TopicConfig::new(topic);
        config.read_queue_nums = first.read_queue_nums;
        config.write_queue_nums = first.write_queue_nums;
        config.topic_sys_flag = first.topic_sys_flag;
        config.perm = self.perm;
        let targets: Vec<(String, i32)> = match (&self.broker, &self.cluster) {
            (Some(b), _) => {
                let Some(data) = route
                    .broker_datas
                    .iter()
                    .find(|d| d.master_addr() == Some(b))
                else {
                    return Err(format!(
                        "updateTopicPerm: broker {b} is not a master in the route of {topic}"
                    ));
                };
                let old = route
                    .queue_datas
                    .iter()
                    .find(|q| q.broker_name == data.broker_name)
                    .map_or(0, |q| q.perm);
                if old == self.perm {
                    println!("new perm equals to the old one!");
                    return Ok(());
                }
                vec![(b.clone(), old)]
            }
            (None, Some(c)) => admin
                .masters(c)
                .await
                .map_err(|e| fail(format!("masters of cluster {c}"), e))?
                .into_values()
                .map(|a| (a, first.perm))
                .collect(),
            (None, None) => {
                return Err("updateTopicPerm: give -b <broker address> or -c <cluster>".into())
            }
        };
        for (addr, old) in &targets {
            admin
                .update_topic_config(addr, &config)
                .await
                .map_err(|e| fail(format!("update perm of {topic} on {addr}"), e))?;
            println!(
                "update topic perm from {old} to {} in {addr} success.",
                self.perm
            );
        }
        if self.broker.is_some() {
            println!("{}.", topic_config_string(&config));
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct TopicStatus {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

impl Run for TopicStatus {
    async fn run(self) -> Result<(), String> {
        let topic = self.topic.trim();
        let stats = self
            .common
            .admin()?
            .topic_stats(topic)
            .await
            .map_err(|e| fail(format!("status of topic {topic}"), e))?;
        if stats.is_empty() {
            return Err(format!(
                "status of topic {topic}: Not found the topic stats info"
            ));
        }
        if self.json {
            let rows: Vec<_> = stats
                .iter()
                .map(|(q, o)| {
                    json!({"brokerName": q.broker_name, "queueId": q.queue_id,
                        "minOffset": o.min_offset, "maxOffset": o.max_offset,
                        "lastUpdateTimestamp": o.last_update_timestamp})
                })
                .collect();
            print_json(&json!({ "queues": rows }));
            return Ok(());
        }
        println!(
            "{:<32}  {:<4}  {:<20}  {:<20}    #Last Updated",
            "#Broker Name", "#QID", "#Min Offset", "#Max Offset"
        );
        for (q, o) in &stats {
            println!(
                "{:<32}  {:<4}  {:<20}  {:<20}    {}",
                super::table::cut(&q.broker_name, 32),
                q.queue_id,
                o.min_offset,
                o.max_offset,
                super::table::human_ms(o.last_update_timestamp)
            );
        }
        Ok(())
    }
}
