//! The subcommands of `mqadmin` (issue 13, first part): names matched case-insensitively as
//! Apache's tool does, RocketMQ's flag letters, its output layouts, `NAMESRV_ADDR` when `-n`
//! is absent; a failure is an `Err` with one line (the binary exits 1).

use std::collections::BTreeMap;

use clap::{Args, FromArgMatches};

use crate::client::Admin;

/// (name, description) in the order `mqadmin` lists them.
const COMMANDS: [(&str, &str); 6] = [
    ("updateTopic", "Update or create topic"),
    ("deleteTopic", "Delete topic from broker and NameServer."),
    ("topicList", "Fetch all topic list from name server"),
    ("topicRoute", "Examine topic route info"),
    ("consumerProgress", "Query consumers's progress, speed"),
    ("clusterList", "List all of clusters"),
];

#[derive(Args, Debug)]
struct Common {
    /// Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
}

impl Common {
    fn admin(&self) -> Result<Admin, String> {
        let addr = self
            .namesrv
            .clone()
            .or_else(|| std::env::var("NAMESRV_ADDR").ok())
            .ok_or("no NameServer address: give -n or set NAMESRV_ADDR")?;
        Admin::new(&addr).map_err(|e| e.to_string())
    }
}

#[derive(Args, Debug)]
#[group(id = "target", required = true, multiple = false, args = ["broker", "cluster"])]
struct UpdateTopic {
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
}

#[derive(Args, Debug)]
struct DeleteTopic {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// delete topic from which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: String,
}

#[derive(Args, Debug)]
struct TopicList {
    #[command(flatten)]
    common: Common,
    /// one JSON document instead of lines
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct TopicRoute {
    #[command(flatten)]
    common: Common,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// list the brokers as a table
    #[arg(short = 'l', long = "list")]
    list: bool,
}

#[derive(Args, Debug)]
struct ClusterList {
    #[command(flatten)]
    common: Common,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ConsumerProgress {
    #[command(flatten)]
    common: Common,
    /// consumer group name
    #[arg(short = 'g', long = "groupName")]
    group: String,
    /// one JSON document instead of the table
    #[arg(long)]
    json: bool,
}

fn parse<T: Args + FromArgMatches>(name: &'static str, args: &[String]) -> Result<T, String> {
    let cmd = T::augment_args(clap::Command::new(name).no_binary_name(true));
    let matches = cmd
        .try_get_matches_from(args)
        .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())?;
    T::from_arg_matches(&matches).map_err(|e| e.to_string())
}

fn usage() {
    println!("The most commonly used mqadmin commands are:");
    for (name, about) in COMMANDS {
        println!("   {name:<20} {about}");
    }
    println!();
    println!("See 'mqadmin help <command>' for more information on a specific command.");
}

/// Runs one invocation (`args` without the program name).
pub async fn run(args: Vec<String>) -> Result<(), String> {
    let Some(first) = args.first() else {
        usage();
        return Ok(());
    };
    if first == "--help" || first == "-h" {
        usage();
        return Ok(());
    }
    if first == "help" {
        let Some(name) = args.get(1) else {
            usage();
            return Ok(());
        };
        let Some((canonical, _)) = COMMANDS.iter().find(|(c, _)| c.eq_ignore_ascii_case(name))
        else {
            return Err(format!("the sub command {name} does not exist"));
        };
        return help(canonical);
    }
    let Some((name, _)) = COMMANDS.iter().find(|(c, _)| c.eq_ignore_ascii_case(first)) else {
        return Err(format!(
            "the sub command {first} does not exist (mqadmin lists them)"
        ));
    };
    let rest = args.get(1..).unwrap_or_default();
    match *name {
        "updateTopic" => update_topic(parse(name, rest)?).await,
        "deleteTopic" => delete_topic(parse(name, rest)?).await,
        "topicList" => topic_list(parse(name, rest)?).await,
        "topicRoute" => topic_route(parse(name, rest)?).await,
        "clusterList" => cluster_list(parse(name, rest)?).await,
        _ => consumer_progress(parse(name, rest)?).await,
    }
}

fn help(name: &'static str) -> Result<(), String> {
    let mut cmd = clap::Command::new(name).bin_name("mqadmin");
    cmd = match name {
        "updateTopic" => UpdateTopic::augment_args(cmd),
        "deleteTopic" => DeleteTopic::augment_args(cmd),
        "topicList" => TopicList::augment_args(cmd),
        "topicRoute" => TopicRoute::augment_args(cmd),
        "clusterList" => ClusterList::augment_args(cmd),
        _ => ConsumerProgress::augment_args(cmd),
    };
    println!("{}", cmd.render_help());
    Ok(())
}

fn fail(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

async fn update_topic(a: UpdateTopic) -> Result<(), String> {
    let admin = a.common.admin()?;
    let brokers: Vec<String> = match (&a.broker, &a.cluster) {
        (Some(b), _) => vec![b.clone()],
        (None, Some(c)) => admin
            .masters(c)
            .await
            .map_err(|e| fail(&format!("cluster {c}"), e))?
            .into_values()
            .collect(),
        (None, None) => return Err("give -b <broker address> or -c <cluster>".into()),
    };
    for addr in &brokers {
        admin
            .create_topic_on(addr, &a.topic, a.read, a.write, a.perm)
            .await
            .map_err(|e| fail(&format!("create topic {} on {addr}", a.topic), e))?;
        println!("create topic to {addr} success.");
    }
    println!(
        "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false]",
        a.topic,
        a.read,
        a.write,
        perm_letters(a.perm)
    );
    Ok(())
}

/// RocketMQ's PermName.perm2String: R, W, X (inherit) or `-`.
fn perm_letters(perm: i32) -> String {
    [(4, 'R'), (2, 'W'), (1, 'X')]
        .iter()
        .map(|(bit, c)| if perm & bit != 0 { *c } else { '-' })
        .collect()
}

async fn delete_topic(a: DeleteTopic) -> Result<(), String> {
    let admin = a.common.admin()?;
    admin
        .delete_topic(&a.cluster, &a.topic)
        .await
        .map_err(|e| {
            fail(
                &format!("delete topic {} from cluster {}", a.topic, a.cluster),
                e,
            )
        })?;
    println!(
        "delete topic [{}] from cluster [{}] success.",
        a.topic, a.cluster
    );
    println!("delete topic [{}] from NameServer success.", a.topic);
    Ok(())
}

async fn topic_list(a: TopicList) -> Result<(), String> {
    let topics = a
        .common
        .admin()?
        .topic_list()
        .await
        .map_err(|e| fail("topic list", e))?;
    if a.json {
        println!("{}", serde_json::json!({ "topicList": topics }));
        return Ok(());
    }
    for t in topics {
        println!("{t}");
    }
    Ok(())
}

async fn topic_route(a: TopicRoute) -> Result<(), String> {
    let route = a
        .common
        .admin()?
        .topic_route(&a.topic)
        .await
        .map_err(|e| fail(&format!("route of {}", a.topic), e))?;
    if !a.list {
        let json = serde_json::to_string_pretty(&route).map_err(|e| fail("route", e))?;
        println!("{json}");
        return Ok(());
    }
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
    let queues: BTreeMap<&str, &crate::protocol::QueueData> = route
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
    row(
        "Total:",
        &brokers.len().to_string(),
        "",
        &read.to_string(),
        &write.to_string(),
        "",
    );
    Ok(())
}

/// clusterList: every broker of every cluster with its version, in/out TPS (10 s window),
/// hours of stored messages and disk use, in Apache's columns.
async fn cluster_list(a: ClusterList) -> Result<(), String> {
    let admin = a.common.admin()?;
    let info = admin
        .cluster_info()
        .await
        .map_err(|e| fail("cluster info", e))?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let first = |s: Option<&String>| -> f64 {
        s.and_then(|v| v.split(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    };
    let mut rows = Vec::new();
    for (cluster, names) in &info.cluster_addr_table {
        for name in names {
            let Some(b) = info.broker_addr_table.get(name) else {
                continue;
            };
            for (id, addr) in &b.broker_addrs {
                let t = admin.broker_runtime_info(addr).await.unwrap_or_default();
                let get = |k: &str| t.get(k).cloned().unwrap_or_else(|| "0".into());
                let earliest: i64 = get("earliestMessageTimeStamp").parse().unwrap_or(0);
                let hours = if earliest > 0 {
                    (now_ms - earliest) as f64 / 3_600_000.0
                } else {
                    0.0
                };
                let out = t
                    .get("getTransferredTps")
                    .or_else(|| t.get("getTransferedTps"));
                rows.push(serde_json::json!({
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
                }));
            }
        }
    }
    if a.json {
        println!("{}", serde_json::json!({ "brokers": rows }));
        return Ok(());
    }
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
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
        println!(
            "{:<16}  {:<22}  {:<4}  {:<22} {:<16} {:>19} {:>19} {:>10} {:>5} {:>6}",
            s("cluster"),
            s("brokerName"),
            r["brokerId"],
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
    Ok(())
}

async fn consumer_progress(a: ConsumerProgress) -> Result<(), String> {
    let (rows, tps) = a
        .common
        .admin()?
        .group_progress(&a.group)
        .await
        .map_err(|e| fail(&format!("progress of group {}", a.group), e))?;
    if rows.is_empty() {
        return Err(format!(
            "not found the consumer group consume stats, because return offset table is empty, maybe the consumer not consume any message (group {})",
            a.group
        ));
    }
    let diff_total: i64 = rows.iter().map(|r| r.lag()).sum();
    if a.json {
        let list: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({"topic": r.queue.topic, "brokerName": r.queue.broker_name,
                    "queueId": r.queue.queue_id, "brokerOffset": r.broker_offset,
                    "consumerOffset": r.consumer_offset, "diff": r.lag(),
                    "lastTimestamp": r.last_timestamp_ms})
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"queues": list, "consumeTps": tps, "diffTotal": diff_total})
        );
        return Ok(());
    }
    println!(
        "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20}  #LastTime",
        "#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Diff"
    );
    for r in &rows {
        println!(
            "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20}  {}",
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

/// `yyyy-MM-dd HH:mm:ss` (UTC; Apache's tool uses the JVM's zone), `N/A` for 0.
fn last_time(ms: i64) -> String {
    if ms <= 0 {
        return "N/A".into();
    }
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = ferrumq_store::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_and_time() {
        assert_eq!(perm_letters(6), "RW-");
        assert_eq!(perm_letters(7), "RWX");
        assert_eq!(perm_letters(2), "-W-");
        assert_eq!(last_time(0), "N/A");
        assert_eq!(last_time(1_796_029_200_000), "2026-11-30 09:00:00");
    }
}
