//! The subcommands of `mqadmin` (issue 13): names matched case-insensitively as Apache's
//! tool does, RocketMQ's flag letters, its output layouts (shared/docs/mqadmin.md),
//! `NAMESRV_ADDR` when `-n` is absent, `--json` on every read command. A failure is an
//! `Err` with one line (the binary prints `mqadmin: <line>` and exits 1).
//!
//! One file per subject: `topic.rs` (changes to a topic, topicStatus), `route.rs` (topic
//! lookups), `broker.rs`, `group.rs` (subscription groups), `progress.rs`
//! (consumerProgress), `consumer.rs` (live clients, offsets, assignment), `status.rs`
//! (consumerStatus' report), `message.rs` (lookups), `scan.rs` (queue scans), `send.rs`,
//! `stats.rs`, `namesrv.rs`. Shared: `table.rs` (perm letters, times, RocketMQ's toString
//! forms), `detail.rs` (how a message is shown), `help.rs` (commons-cli's usage layout).

mod broker;
mod consumer;
mod detail;
mod group;
mod help;
mod message;
mod namesrv;
mod progress;
mod route;
mod scan;
mod send;
mod stats;
mod status;
mod table;
mod topic;

use clap::{Args, FromArgMatches};

use crate::client::{Admin, ClientError};
use crate::protocol::TopicRouteData;

/// One subcommand: its flags (clap `Args`) and what it does.
trait Run {
    async fn run(self) -> Result<(), String>;
}

/// The registry: (name, description, flags type) in the order `mqadmin` lists them
/// (Apache 4.9.8's registration order, the commands it has and FerrumQ lacks left out).
macro_rules! commands {
    ($($name:literal => $ty:ty, $about:literal;)*) => {
        const COMMANDS: &[(&str, &str)] = &[$(($name, $about)),*];

        async fn dispatch(name: &'static str, args: &[String]) -> Result<(), String> {
            match name {
                $($name => parse::<$ty>(name, args)?.run().await,)*
                _ => Err(format!("the sub command {name} does not exist")),
            }
        }

        fn augment(name: &str, cmd: clap::Command) -> clap::Command {
            match name {
                $($name => <$ty as Args>::augment_args(cmd).about($about),)*
                _ => cmd,
            }
        }
    };
}

commands! {
    "updateTopic" => topic::UpdateTopic, "Update or create topic";
    "deleteTopic" => topic::DeleteTopic, "Delete topic from broker and NameServer.";
    "updateSubGroup" => group::UpdateSubGroup, "Update or create subscription group";
    "deleteSubGroup" => group::DeleteSubGroup, "Delete subscription group from broker.";
    "updateBrokerConfig" => broker::UpdateBrokerConfig, "Update broker's config";
    "updateTopicPerm" => topic::UpdateTopicPerm, "Update topic perm";
    "topicRoute" => route::TopicRoute, "Examine topic route info";
    "topicStatus" => topic::TopicStatus, "Examine topic Status info";
    "topicClusterList" => route::TopicClusterList, "get cluster info for topic";
    "brokerStatus" => broker::BrokerStatus, "Fetch broker runtime status data";
    "queryMsgById" => message::QueryMsgById, "Query Message by Id";
    "queryMsgByKey" => message::QueryMsgByKey, "Query Message by Key";
    "queryMsgByUniqueKey" => message::QueryMsgByUniqueKey, "Query Message by Unique key";
    "queryMsgByOffset" => message::QueryMsgByOffset, "Query Message by offset";
    "printMsg" => scan::PrintMsg, "Print Message Detail";
    "printMsgByQueue" => scan::PrintMsgByQueue, "Print Message Detail";
    "brokerConsumeStats" => stats::BrokerConsumeStats, "Fetch broker consume stats data";
    "producerConnection" => consumer::ProducerConnection, "Query producer's socket connection and client version";
    "consumerConnection" => consumer::ConsumerConnection, "Query consumer's socket connection, client version and subscription";
    "consumerProgress" => progress::ConsumerProgress, "Query consumers's progress, speed";
    "consumerStatus" => consumer::ConsumerStatus, "Query consumer's internal data structure";
    "cloneGroupOffset" => consumer::CloneGroupOffset, "clone offset from other group.";
    "clusterList" => broker::ClusterList, "List all of clusters";
    "topicList" => route::TopicList, "Fetch all topic list from name server";
    "updateKvConfig" => namesrv::UpdateKvConfig, "Create or update KV config.";
    "deleteKvConfig" => namesrv::DeleteKvConfig, "Delete KV config.";
    "wipeWritePerm" => broker::WipeWritePerm, "Wipe write perm of broker in all name server you defined in the -n param";
    "addWritePerm" => broker::AddWritePerm, "Add write perm of broker in all name server you defined in the -n param";
    "resetOffsetByTime" => consumer::ResetOffsetByTime, "Reset consumer offset by timestamp(without client restart).";
    "statsAll" => stats::StatsAll, "Topic and Consumer tps stats";
    "allocateMQ" => consumer::AllocateMq, "Allocate MQ";
    "checkMsgSendRT" => send::CheckMsgSendRt, "check message send response time";
    "clusterRT" => send::ClusterRt, "List All clusters Message Send RT";
    "getNamesrvConfig" => namesrv::GetNamesrvConfig, "Get configs of name server.";
    "updateNamesrvConfig" => namesrv::UpdateNamesrvConfig, "Update configs of name server.";
    "getBrokerConfig" => broker::GetBrokerConfig, "Get broker config by cluster or special broker!";
    "sendMessage" => send::SendMessage, "Send a message";
    "consumeMessage" => scan::ConsumeMessage, "Consume message";
}

/// `-n`, shared by every subcommand.
#[derive(Args, Debug)]
struct Common {
    /// Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
}

impl Common {
    /// `-n`, else NAMESRV_ADDR.
    fn addr(&self) -> Result<String, String> {
        self.namesrv
            .clone()
            .or_else(|| std::env::var("NAMESRV_ADDR").ok())
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| "no NameServer address: give -n or set NAMESRV_ADDR".to_string())
    }

    fn admin(&self) -> Result<Admin, String> {
        Admin::new(&self.addr()?).map_err(|e| describe(&e))
    }
}

/// Java's `Boolean.parseBoolean` for flags that take `true`/`false`.
fn java_bool(s: &str) -> Result<bool, String> {
    Ok(s.trim().eq_ignore_ascii_case("true"))
}

fn parse<T: Args + FromArgMatches>(name: &'static str, args: &[String]) -> Result<T, String> {
    let cmd = augment(name, clap::Command::new(name).no_binary_name(true));
    let matches = cmd
        .try_get_matches_from(args)
        .map_err(|e| format!("{name}: {}", clap_error_line(&e.to_string())))?;
    T::from_arg_matches(&matches)
        .map_err(|e| format!("{name}: {}", clap_error_line(&e.to_string())))
}

/// A clap error as one line: its first paragraph (the message and what it names), without
/// the usage and hint that follow.
fn clap_error_line(s: &str) -> String {
    let first = s.split("\n\n").next().unwrap_or_default();
    let words: Vec<&str> = first.split_whitespace().collect();
    words.join(" ")
}

fn usage() {
    println!("The most commonly used mqadmin commands are:");
    for (name, about) in COMMANDS {
        println!("   {name:<20} {about}");
    }
    println!();
    println!("See 'mqadmin help <command>' for more information on a specific command.");
}

fn find(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(name))
        .map(|(c, _)| *c)
}

/// Runs one invocation (`args` without the program name).
pub async fn run(args: Vec<String>) -> Result<(), String> {
    let Some(first) = args.first() else {
        usage();
        return Ok(());
    };
    if first == "--help" || first == "-h" || (first == "help" && args.len() == 1) {
        usage();
        return Ok(());
    }
    if first == "help" {
        let name = args.get(1).map(String::as_str).unwrap_or_default();
        let Some(canonical) = find(name) else {
            return Err(format!("the sub command {name} does not exist"));
        };
        print_help(canonical);
        return Ok(());
    }
    let Some(name) = find(first) else {
        return Err(format!(
            "the sub command {first} does not exist (mqadmin lists them)"
        ));
    };
    let rest = args.get(1..).unwrap_or_default();
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        print_help(name);
        return Ok(());
    }
    dispatch(name, rest).await
}

/// A subcommand's usage (`mqadmin help <cmd>`, `mqadmin <cmd> -h`).
fn print_help(name: &'static str) {
    let cmd = augment(name, clap::Command::new(name));
    print!("{}", help::render(name, &cmd));
}

/// A client error as one line: the request, the address, RocketMQ's code name and number,
/// and the remark.
fn describe(e: &ClientError) -> String {
    match e {
        ClientError::Broker { what, code, remark } => {
            let remark = remark.replace(['\n', '\r'], " ");
            format!("{what}: {} ({}) {remark}", code.name(), code.as_i32())
        }
        other => other.to_string().replace(['\n', '\r'], " "),
    }
}

/// `<what>: <error>`, the line the binary prints after `mqadmin: `.
fn fail(what: impl std::fmt::Display, e: ClientError) -> String {
    format!("{what}: {}", describe(&e))
}

/// `topic`'s route from the NameServer; a failure reads "route of <topic>: <error>".
async fn route_of(admin: &Admin, topic: &str) -> Result<TopicRouteData, String> {
    admin
        .topic_route(topic)
        .await
        .map_err(|e| fail(format!("route of {topic}"), e))
}

/// Prints one JSON document.
fn print_json(v: &serde_json::Value) {
    println!("{v}");
}
