//! Cluster and broker subcommands: clusterList (`-m` totals), brokerStatus, getBrokerConfig,
//! updateBrokerConfig, wipeWritePerm, addWritePerm.

use clap::Args;
use serde_json::json;

use super::{describe, fail, print_json, Common, Run};
use crate::client::Admin;

#[derive(Args, Debug)]
pub struct ClusterList {
    #[command(flatten)]
    common: Common,
    /// Print more stats (yesterday's and today's message totals)
    #[arg(short = 'm', long = "moreStats")]
    more: bool,
    /// seconds between rounds (with --count)
    #[arg(short = 'i', long = "interval")]
    interval_s: Option<u64>,
    /// rounds to print (Apache's tool repeats -i until killed) | default 1
    #[arg(long = "count", default_value_t = 1)]
    count: u32,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

impl Run for ClusterList {
    /// Every broker of every cluster with its version, in/out TPS (10 s window), hours of
    /// stored messages and disk use, in Apache's columns (`-m`: message totals).
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        super::detail::stop_on_ctrl_c();
        let mut rounds = Vec::new();
        for n in 0..self.count {
            if n > 0 {
                let secs = self.interval_s.unwrap_or(1);
                tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
            }
            if super::detail::interrupted() {
                break;
            }
            let rows = self.round(&admin).await?;
            match (self.json, self.more) {
                (true, _) => rounds.push(rows),
                (false, true) => print_more_stats(&rows),
                (false, false) => print_cluster_table(&rows),
            }
        }
        if self.json {
            let doc = match rounds.len() {
                1 => json!({ "brokers": rounds.pop() }),
                _ => json!({ "rounds": rounds }),
            };
            print_json(&doc);
        }
        Ok(())
    }
}

impl ClusterList {
    async fn round(&self, admin: &Admin) -> Result<Vec<serde_json::Value>, String> {
        let info = admin
            .cluster_info()
            .await
            .map_err(|e| fail("cluster info", e))?;
        let mut rows = Vec::new();
        for (cluster, names) in &info.cluster_addr_table {
            for name in names {
                let Some(b) = info.broker_addr_table.get(name) else {
                    continue;
                };
                for (id, addr) in &b.broker_addrs {
                    rows.push(cluster_row(admin, cluster, name, *id, addr).await);
                }
            }
        }
        Ok(rows)
    }
}

/// `-m`: yesterday's and today's totals in and out, `"%-16s  %-32s %14s %14s %14s %14s"`.
fn print_more_stats(rows: &[serde_json::Value]) {
    println!(
        "{:<16}  {:<32} {:>14} {:>14} {:>14} {:>14}",
        "#Cluster Name",
        "#Broker Name",
        "#InTotalYest",
        "#OutTotalYest",
        "#InTotalToday",
        "#OutTotalToday"
    );
    for r in rows {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let i = |k: &str| r[k].as_i64().unwrap_or(0);
        println!(
            "{:<16}  {:<32} {:>14} {:>14} {:>14} {:>14}",
            s("cluster"),
            s("brokerName"),
            i("inTotalYest"),
            i("outTotalYest"),
            i("inTotalToday"),
            i("outTotalToday")
        );
    }
}

async fn cluster_row(
    admin: &Admin,
    cluster: &str,
    name: &str,
    id: i64,
    addr: &str,
) -> serde_json::Value {
    let first = |s: Option<&String>| -> f64 {
        s.and_then(|v| v.split(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    };
    let t = admin.broker_runtime_info(addr).await.unwrap_or_default();
    let get = |k: &str| t.get(k).cloned().unwrap_or_else(|| "0".into());
    let n = |k: &str| get(k).parse::<i64>().unwrap_or(0);
    let earliest: i64 = get("earliestMessageTimeStamp").parse().unwrap_or(0);
    let hours = if earliest > 0 {
        (super::table::now_ms() - earliest) as f64 / 3_600_000.0
    } else {
        0.0
    };
    let out = t
        .get("getTransferredTps")
        .or_else(|| t.get("getTransferedTps"));
    json!({
        "cluster": cluster, "brokerName": name, "brokerId": id, "addr": addr,
        "version": t.get("brokerVersionDesc").cloned().unwrap_or_default(),
        "inTps": first(t.get("putTps")), "outTps": first(out),
        "sendQueue": get("sendThreadPoolQueueSize"),
        "sendWaitMs": get("sendThreadPoolQueueHeadWaitTimeMills"),
        "pullQueue": get("pullThreadPoolQueueSize"),
        "pullWaitMs": get("pullThreadPoolQueueHeadWaitTimeMills"),
        "pageCacheWaitMs": get("pageCacheLockTimeMills"),
        "hours": hours,
        "space": get("commitLogDiskRatio").parse::<f64>().unwrap_or(0.0),
        "inTotalYest": n("msgPutTotalTodayMorning") - n("msgPutTotalYesterdayMorning"),
        "outTotalYest": n("msgGetTotalTodayMorning") - n("msgGetTotalYesterdayMorning"),
        "inTotalToday": n("msgPutTotalTodayNow") - n("msgPutTotalTodayMorning"),
        "outTotalToday": n("msgGetTotalTodayNow") - n("msgGetTotalTodayMorning"),
    })
}

fn print_cluster_table(rows: &[serde_json::Value]) {
    println!(
        "{:<16}  {:<22}  {:<4}  {:<22} {:<16} {:>19} {:>19} {:>10} {:>5} {:>6}",
        "#Cluster Name",
        "#Broker Name",
        "#BID",
        "#Addr",
        "#Version",
        "#InTPS(LOAD)",
        "#OutTPS(LOAD)",
        "#PCWait(ms)",
        "#Hour",
        "#SPACE"
    );
    for r in rows {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
        println!(
            "{:<16}  {:<22}  {:<4}  {:<22} {:<16} {:>19} {:>19} {:>10} {:>5} {:>6}",
            s("cluster"),
            s("brokerName"),
            r["brokerId"].as_i64().unwrap_or(0),
            s("addr"),
            s("version"),
            format!(
                "{:9.2}({},{}ms)",
                f("inTps"),
                s("sendQueue"),
                s("sendWaitMs")
            ),
            format!(
                "{:9.2}({},{}ms)",
                f("outTps"),
                s("pullQueue"),
                s("pullWaitMs")
            ),
            s("pageCacheWaitMs"),
            format!("{:2.2}", f("hours")),
            format!("{:.4}", f("space")),
        );
    }
}

/// `-b` or `-c`, one of them required (Apache 4.9.8 silently prints nothing without).
#[derive(Args, Debug)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
struct Target {
    /// Broker address
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
}

impl Target {
    /// `-b`, or every address of the cluster's brokers (masters each followed by their
    /// slaves when `slaves`), each with its master's address.
    async fn addrs(&self, admin: &Admin, slaves: bool) -> Result<Vec<(String, String)>, String> {
        if let Some(b) = &self.broker {
            return Ok(vec![(b.clone(), b.clone())]);
        }
        let c = self.cluster.as_deref().unwrap_or_default();
        let all = admin
            .cluster_addrs(c)
            .await
            .map_err(|e| fail(format!("brokers of cluster {c}"), e))?;
        let mut out = Vec::new();
        let mut master = String::new();
        for (_, id, addr) in all {
            if id == 0 {
                master = addr.clone();
                out.push((addr, master.clone()));
            } else if slaves {
                out.push((addr, master.clone()));
            }
        }
        Ok(out)
    }
}

#[derive(Args, Debug)]
pub struct BrokerStatus {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    target: Target,
    /// one JSON document instead of lines
    #[arg(long)]
    json: bool,
}

impl Run for BrokerStatus {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let addrs = self.target.addrs(&admin, true).await?;
        let mut doc = serde_json::Map::new();
        let mut failed = None;
        for (addr, _) in &addrs {
            match admin.broker_runtime_info(addr).await {
                Ok(table) => {
                    if !self.json {
                        for (k, v) in &table {
                            if self.target.cluster.is_some() {
                                println!("{addr:<24} {k:<32}: {v}");
                            } else {
                                println!("{k:<32}: {v}");
                            }
                        }
                    }
                    doc.insert(addr.clone(), json!(table));
                }
                Err(e) => failed = Some(fail(format!("status of broker {addr}"), e)),
            }
        }
        if self.json {
            print_json(&json!({ "brokers": doc }));
        }
        failed.map_or(Ok(()), Err)
    }
}

#[derive(Args, Debug)]
pub struct GetBrokerConfig {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    target: Target,
    /// one JSON document instead of lines
    #[arg(long)]
    json: bool,
}

impl Run for GetBrokerConfig {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let mut docs = Vec::new();
        for (addr, master) in self.target.addrs(&admin, true).await? {
            let config = admin
                .broker_config(&addr)
                .await
                .map_err(|e| fail(format!("config of broker {addr}"), e))?;
            if self.json {
                let map: serde_json::Map<String, serde_json::Value> =
                    config.into_iter().map(|(k, v)| (k, v.into())).collect();
                docs.push(json!({"addr": addr, "master": master, "config": map}));
                continue;
            }
            if self.target.cluster.is_none() {
                println!("============{addr}============");
            } else if addr == master {
                println!("============Master: {addr}============");
            } else {
                println!("============My Master: {master}=====Slave: {addr}============");
            }
            if config.is_empty() {
                println!("Broker[{addr}] has no config property!");
            }
            for (k, v) in &config {
                println!("{k:<50}=  {v}");
            }
            println!();
        }
        if self.json {
            print_json(&json!({ "brokers": docs }));
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct UpdateBrokerConfig {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    target: Target,
    /// config key
    #[arg(short = 'k', long = "key")]
    key: String,
    /// config value
    #[arg(short = 'v', long = "value")]
    value: String,
}

impl Run for UpdateBrokerConfig {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let mut failed = None;
        for (addr, _) in self.target.addrs(&admin, false).await? {
            match admin
                .update_broker_config(&addr, &self.key, &self.value)
                .await
            {
                Ok(()) => println!("update broker config success, {addr}"),
                Err(e) => {
                    failed = Some(fail(
                        format!("update config {} of broker {addr}", self.key),
                        e,
                    ))
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

#[derive(Args, Debug)]
pub struct WipeWritePerm {
    #[command(flatten)]
    common: Common,
    /// broker name
    #[arg(short = 'b', long = "brokerName")]
    broker: String,
}

impl Run for WipeWritePerm {
    async fn run(self) -> Result<(), String> {
        write_perm(&self.common, &self.broker, false).await
    }
}

#[derive(Args, Debug)]
pub struct AddWritePerm {
    #[command(flatten)]
    common: Common,
    /// broker name
    #[arg(short = 'b', long = "brokerName")]
    broker: String,
}

impl Run for AddWritePerm {
    async fn run(self) -> Result<(), String> {
        write_perm(&self.common, &self.broker, true).await
    }
}

/// One line per NameServer; any failure makes the command fail (after trying them all).
async fn write_perm(common: &Common, broker: &str, writable: bool) -> Result<(), String> {
    let admin = common.admin()?;
    let verb = if writable { "add" } else { "wipe" };
    let mut failed = None;
    for (ns, r) in admin.set_broker_write_perm(broker, writable).await {
        match r {
            Ok(count) => {
                println!("{verb} write perm of broker[{broker}] in name server[{ns}] OK, {count}")
            }
            Err(e) => {
                println!("{verb} write perm of broker[{broker}] in name server[{ns}] Failed");
                failed = Some(format!(
                    "{verb} write perm of broker {broker}: {}",
                    describe(&e)
                ));
            }
        }
    }
    failed.map_or(Ok(()), Err)
}
