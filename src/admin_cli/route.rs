//! Topic lookups: topicList (with `-c`, each topic's cluster and consumer groups),
//! topicRoute, topicClusterList.

use std::collections::BTreeMap;

use clap::Args;
use serde_json::json;

use super::table::{cut, perm_letters};
use super::{fail, print_json, route_of, Common, Run};
use crate::protocol::QueueData;

#[derive(Args, Debug)]
pub struct TopicList {
    #[command(flatten)]
    common: Common,
    /// clusterModel: each topic with its cluster and consumer groups
    #[arg(short = 'c', long = "clusterModel")]
    cluster_model: bool,
    /// one JSON document instead of lines
    #[arg(long)]
    json: bool,
}

impl Run for TopicList {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let topics = admin
            .topic_list()
            .await
            .map_err(|e| fail("topic list", e))?;
        if self.cluster_model {
            return self.cluster_model(&admin, topics).await;
        }
        if self.json {
            print_json(&json!({ "topicList": topics }));
            return Ok(());
        }
        for t in topics {
            println!("{t}");
        }
        Ok(())
    }
}

impl TopicList {
    /// `-c`: per topic (not retry or DLQ) the cluster of its route's first broker and one
    /// row per consuming group; a topic whose lookups fail gets empty cells, as in Apache.
    async fn cluster_model(
        &self,
        admin: &crate::client::Admin,
        topics: std::collections::BTreeSet<String>,
    ) -> Result<(), String> {
        let info = admin
            .cluster_info()
            .await
            .map_err(|e| fail("cluster info", e))?;
        let mut rows = Vec::new();
        for t in topics
            .iter()
            .filter(|t| !t.starts_with("%RETRY%") && !t.starts_with("%DLQ%"))
        {
            let first = admin
                .route_brokers(t)
                .await
                .ok()
                .and_then(|b| b.into_iter().next());
            let cluster = first
                .as_ref()
                .and_then(|(name, _)| {
                    info.cluster_addr_table
                        .iter()
                        .find(|(_, names)| names.contains(name))
                        .map(|(c, _)| c.clone())
                })
                .unwrap_or_default();
            let groups = match &first {
                Some((_, addr)) => admin.consumed_by(addr, t).await.unwrap_or_default(),
                None => Default::default(),
            };
            if groups.is_empty() {
                rows.push((cluster.clone(), t.clone(), String::new()));
            }
            for g in groups {
                rows.push((cluster.clone(), t.clone(), g));
            }
        }
        if self.json {
            let list: Vec<_> = rows
                .iter()
                .map(|(c, t, g)| json!({"clusterName": c, "topic": t, "consumerGroup": g}))
                .collect();
            print_json(&json!({ "topics": list }));
            return Ok(());
        }
        // Apache's header is 48 wide where its rows are 64: kept, scripts cut by position.
        println!(
            "{:<20}  {:<48}  {:<48}",
            "#Cluster Name", "#Topic", "#Consumer Group"
        );
        for (c, t, g) in &rows {
            println!("{:<20}  {:<64}  {:<64}", cut(c, 20), cut(t, 64), cut(g, 64));
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct TopicRoute {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// list the brokers as a table
    #[arg(short = 'l', long = "list")]
    list: bool,
    /// one JSON document (the route; the default output is already JSON)
    #[arg(long)]
    json: bool,
}

impl Run for TopicRoute {
    async fn run(self) -> Result<(), String> {
        let topic = self.topic.trim();
        let route = route_of(&self.common.admin()?, topic).await?;
        if !self.list || self.json {
            let text = if self.json {
                serde_json::to_string(&route)
            } else {
                serde_json::to_string_pretty(&route)
            };
            println!("{}", text.map_err(|e| format!("route of {topic}: {e}"))?);
            return Ok(());
        }
        print_route_table(&route);
        Ok(())
    }
}

fn print_route_table(route: &crate::protocol::TopicRouteData) {
    let row = |c: &str, b: &str, addrs: &str, r: &str, w: &str, p: &str| {
        println!("{c:<45} {b:<32} {addrs:<50} {r:<10} {w:<11} {p:<5}");
    };
    row(
        "#ClusterName",
        "#BrokerName",
        "#BrokerAddrs",
        "#ReadQueue",
        "#WriteQueue",
        "#Perm",
    );
    let queues: BTreeMap<&str, &QueueData> = route
        .queue_datas
        .iter()
        .map(|q| (q.broker_name.as_str(), q))
        .collect();
    let mut brokers: Vec<_> = route.broker_datas.iter().collect();
    brokers.sort_by(|x, y| x.broker_name.cmp(&y.broker_name));
    let (mut read, mut write) = (0, 0);
    for b in &brokers {
        let addrs: Vec<String> = b
            .broker_addrs
            .iter()
            .map(|(id, a)| format!("{id}={a}"))
            .collect();
        let q = queues.get(b.broker_name.as_str());
        let (r, w, p) = q.map_or((0, 0, 0), |q| {
            (q.read_queue_nums, q.write_queue_nums, q.perm)
        });
        read += r;
        write += w;
        row(
            &b.cluster,
            &b.broker_name,
            &format!("{{{}}}", addrs.join(", ")),
            &r.to_string(),
            &w.to_string(),
            &perm_letters(p),
        );
    }
    println!("{}", "-".repeat(158));
    let total = |n: i32| n.to_string();
    row(
        "Total:",
        &brokers.len().to_string(),
        "",
        &total(read),
        &total(write),
        "",
    );
}

#[derive(Args, Debug)]
pub struct TopicClusterList {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// one JSON document instead of lines
    #[arg(long)]
    json: bool,
}

impl Run for TopicClusterList {
    async fn run(self) -> Result<(), String> {
        let topic = self.topic.trim();
        let admin = self.common.admin()?;
        let info = admin
            .cluster_info()
            .await
            .map_err(|e| fail("cluster info", e))?;
        let route = route_of(&admin, topic).await?;
        let first = route.broker_datas.first().map(|b| b.broker_name.as_str());
        let clusters: Vec<&String> = info
            .cluster_addr_table
            .iter()
            .filter(|(_, names)| first.is_some_and(|f| names.contains(f)))
            .map(|(c, _)| c)
            .collect();
        if self.json {
            print_json(&json!({ "clusters": clusters }));
            return Ok(());
        }
        for c in clusters {
            println!("{c}");
        }
        Ok(())
    }
}
