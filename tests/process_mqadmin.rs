//! `mqadmin` against the real `mqnamesrv` and `mqbroker` binaries: each subcommand's output
//! layout and values, and failures exiting non-zero with one line.

use std::sync::atomic::Ordering;
use std::time::Duration;

use ferrumq::client::{Message, Producer};
use mqadmin_util::{mqadmin, start_counting_consumer, start_servers, stderr, stdout};

mod mqadmin_util;
mod process_util;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_commands_and_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (_servers, ns, broker) = start_servers(dir.path());

    let o = mqadmin(&[], None);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("The most commonly used mqadmin commands are:"));

    let o = mqadmin(&["clusterList", "-n", &ns], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("#Cluster Name     #Broker Name"),
        "{out}"
    );
    assert!(lines[0].trim_end().ends_with("#SPACE"), "{out}");
    assert!(
        lines[1].starts_with(&format!(
            "{:<16}  {:<22}  {:<4}  {broker:<22} ",
            "PC", "b1", 0
        )),
        "{out}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        &row[..5],
        ["PC", "b1", "0", broker.as_str(), "V4_9_8"],
        "{out}"
    );
    let o = mqadmin(&["clusterList", "-n", &ns, "--json"], None);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["brokers"][0]["brokerName"], "b1");

    let o = mqadmin(
        &[
            "updateTopic",
            "-n",
            &ns,
            "-c",
            "PC",
            "-t",
            "AdmT",
            "-r",
            "4",
            "-w",
            "4",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("create topic to {broker} success.\nTopicConfig [topicName=AdmT, readQueueNums=4, writeQueueNums=4, perm=RW-, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false]\n")
    );
    // Subcommand names are case-insensitive; NAMESRV_ADDR stands in for -n.
    let mut listed = false;
    for _ in 0..50 {
        let o = mqadmin(&["TOPICLIST"], Some(&ns));
        assert!(o.status.success(), "{}", stderr(&o));
        if stdout(&o).lines().any(|l| l == "AdmT") {
            listed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(listed);

    let o = mqadmin(&["topicRoute", "-n", &ns, "-t", "AdmT", "-l"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("#ClusterName"), "{out}");
    assert!(
        lines[1].starts_with("PC ") && lines[1].contains("b1") && lines[1].contains(&broker),
        "{out}"
    );
    assert_eq!(lines[2], "-".repeat(158));
    assert!(lines[3].starts_with("Total:"), "{out}");

    // Progress of a group that consumed everything (a push consumer: its heartbeat creates
    // the group's retry topic, which mqadmin routes by) and committed at shutdown.
    let (consumer, got) = start_counting_consumer(&ns, "adm-progress", "AdmT").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let p = Producer::builder(&ns).build().unwrap();
    for i in 0..6 {
        p.send(Message::new("AdmT", format!("m{i}"))).await.unwrap();
    }
    for _ in 0..100 {
        if got.load(Ordering::SeqCst) >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(got.load(Ordering::SeqCst), 6);
    consumer.shutdown().await;
    let o = mqadmin(&["consumerProgress", "-n", &ns, "-g", "adm-progress"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("#Topic"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("AdmT ")).count(),
        4,
        "{out}"
    );
    assert!(out.trim_end().ends_with("Diff Total: 0"), "{out}");
    let o = mqadmin(
        &[
            "consumerProgress",
            "-n",
            &ns,
            "-g",
            "adm-progress",
            "--json",
        ],
        None,
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["diffTotal"], 0);

    let o = mqadmin(&["deleteTopic", "-n", &ns, "-t", "AdmT", "-c", "PC"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "delete topic [AdmT] from cluster [PC] success.\ndelete topic [AdmT] from NameServer success.\n"
    );
    let o = mqadmin(&["topicList", "-n", &ns], None);
    assert!(!stdout(&o).lines().any(|l| l == "AdmT"));
}

#[test]
fn failures_exit_non_zero_with_one_line() {
    for (args, env) in [
        (vec!["noSuchCommand"], None),
        (vec!["topicList"], None),                      // no NameServer
        (vec!["topicList", "-n", "127.0.0.1:1"], None), // unreachable
        (vec!["updateTopic", "-n", "127.0.0.1:1", "-t", "T"], None), // neither -b nor -c
        (vec!["topicRoute", "-x"], Some("127.0.0.1:1")), // unknown flag
    ] {
        let o = mqadmin(&args, env);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("mqadmin: "), "{args:?}: {err}");
    }
    let o = mqadmin(&["--help"], None);
    assert!(o.status.success());
    assert!(stdout(&o).contains("consumerProgress"));
    // All 38 subcommands of the fact sheet are listed.
    assert_eq!(
        stdout(&o).lines().filter(|l| l.starts_with("   ")).count(),
        38
    );
    // commons-cli's usage layout (fact sheet 1.5), from `help <cmd>` and from `<cmd> -h`.
    let o = mqadmin(&["help", "updateTopic"], None);
    assert!(o.status.success());
    assert!(
        stdout(&o).starts_with(
            "usage: mqadmin updateTopic -b <arg> | -c <arg>  [-h] [-n <arg>] [-o <arg>] [-p <arg>] [-r <arg>] [-s <arg>] -t\n       <arg> [-u <arg>] [-w <arg>]\n -b,--brokerAddr <arg>       create topic to which broker\n -c,--clusterName <arg>      create topic to which cluster\n"
        ),
        "{}",
        stdout(&o)
    );
    let o = mqadmin(&["topicList", "-h"], None);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("usage: mqadmin topicList [-c] [-h]"));
    // A missing required group names what is missing, on the one line.
    let o = mqadmin(&["updateTopic", "-n", "127.0.0.1:1", "-t", "T"], None);
    assert!(stderr(&o).contains("--brokerAddr") && stderr(&o).contains("--clusterName"));
}
