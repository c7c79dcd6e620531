//! `mqadmin` topic, broker and subscription-group subcommands against the real binaries:
//! topicStatus, topicClusterList, updateTopicPerm, brokerStatus, getBrokerConfig,
//! updateBrokerConfig, wipeWritePerm, addWritePerm, updateSubGroup, deleteSubGroup.
//! Headers are checked against the printf formats of shared/docs/mqadmin.md; every
//! failure case exits non-zero with one line.

use ferrumq::client::{Message, MessageQueue, Producer};
use mqadmin_util::{create_topic, eventually, fails, header, json, ok, start_servers};

mod mqadmin_util;
mod process_util;

/// The perm of `topic`'s first queue data in the NameServer's route.
fn route_perm(ns: &str, topic: &str) -> i64 {
    let route = json(&["topicRoute", "-n", ns, "-t", topic, "--json"]);
    route["queueDatas"][0]["perm"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_status_cluster_list_and_perm() {
    let dir = tempfile::tempdir().unwrap();
    let (_servers, ns, broker) = start_servers(dir.path());
    create_topic(&ns, "StatT", "2");

    let p = Producer::builder(&ns).build().unwrap();
    for i in 0..3 {
        let q = MessageQueue {
            topic: "StatT".into(),
            broker_name: "b1".into(),
            queue_id: i % 2,
        };
        p.send_to_queue(Message::new("StatT", format!("m{i}")), &q)
            .await
            .unwrap();
    }

    // topicStatus: "%-32s  %-4s  %-20s  %-20s    %s%n", one row per queue, sorted. The
    // queues are built behind the CommitLog, so a send's ack may precede its queue entry.
    eventually("3 messages in the queues", || {
        let doc = json(&["topicStatus", "-n", &ns, "-t", "StatT", "--json"]);
        doc["queues"][0]["maxOffset"] == 2 && doc["queues"][1]["maxOffset"] == 1
    });
    let out = ok(&["topicStatus", "-n", &ns, "-t", "StatT"]);
    assert_eq!(
        header(&out),
        format!(
            "{:<32}  {:<4}  {:<20}  {:<20}    {}",
            "#Broker Name", "#QID", "#Min Offset", "#Max Offset", "#Last Updated"
        )
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(&rows[0][..4], ["b1", "0", "0", "2"], "{out}");
    assert_eq!(&rows[1][..4], ["b1", "1", "0", "1"], "{out}");
    // Last Updated: yyyy-MM-dd HH:mm:ss,SSS
    assert_eq!(rows[0][4].len(), 10, "{out}");
    assert_eq!(rows[0][5].len(), 12, "{out}");
    let e = fails(&["topicStatus", "-n", &ns, "-t", "NoSuchTopic"]);
    assert!(e.contains("TOPIC_NOT_EXIST (17)"), "{e}");
    assert!(e.contains(&ns), "the error names the address: {e}");

    // topicClusterList: the cluster of the route's first broker.
    assert_eq!(ok(&["topicClusterList", "-n", &ns, "-t", "StatT"]), "PC\n");
    let doc = json(&["topicClusterList", "-n", &ns, "-t", "StatT", "--json"]);
    assert_eq!(doc["clusters"], serde_json::json!(["PC"]));
    let e = fails(&["topicClusterList", "-n", &ns, "-t", "NoSuchTopic"]);
    assert!(e.contains("TOPIC_NOT_EXIST"), "{e}");

    // updateTopicPerm -b: the route's perm changes; the same perm again changes nothing.
    assert_eq!(route_perm(&ns, "StatT"), 6);
    let perm_4 = [
        "updateTopicPerm",
        "-n",
        &ns,
        "-t",
        "StatT",
        "-b",
        &broker,
        "-p",
        "4",
    ];
    let out = ok(&perm_4);
    assert_eq!(
        out,
        format!(
            "update topic perm from 6 to 4 in {broker} success.\nTopicConfig [topicName=StatT, readQueueNums=2, writeQueueNums=2, perm=R--, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false].\n"
        )
    );
    eventually("perm 4 routed", || route_perm(&ns, "StatT") == 4);
    let out = ok(&perm_4);
    assert_eq!(out, "new perm equals to the old one!\n");
    let out = ok(&[
        "updateTopicPerm",
        "-n",
        &ns,
        "-t",
        "StatT",
        "-c",
        "PC",
        "-p",
        "6",
    ]);
    assert_eq!(
        out,
        format!("update topic perm from 4 to 6 in {broker} success.\n")
    );
    eventually("perm 6 routed", || route_perm(&ns, "StatT") == 6);
    let e = fails(&[
        "updateTopicPerm",
        "-n",
        &ns,
        "-t",
        "StatT",
        "-b",
        "127.0.0.1:1",
        "-p",
        "4",
    ]);
    assert!(e.contains("not a master"), "{e}");
    let e = fails(&[
        "updateTopicPerm",
        "-n",
        &ns,
        "-t",
        "StatT",
        "-b",
        &broker,
        "-p",
        "5",
    ]);
    assert!(e.contains("perm 5"), "{e}");
    fails(&[
        "updateTopicPerm",
        "-n",
        &ns,
        "-t",
        "NoSuchTopic",
        "-c",
        "PC",
        "-p",
        "4",
    ]);
    fails(&["updateTopicPerm", "-n", &ns, "-t", "StatT", "-p", "4"]); // neither -b nor -c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_status_config_and_write_perm() {
    let dir = tempfile::tempdir().unwrap();
    let (_servers, ns, broker) = start_servers(dir.path());
    create_topic(&ns, "PermT", "2");

    // brokerStatus -b: "%-32s: %s%n" sorted by key; -c prefixes "%-24s " with the address.
    let out = ok(&["brokerStatus", "-n", &ns, "-b", &broker]);
    let line = out
        .lines()
        .find(|l| l.starts_with("brokerVersionDesc"))
        .unwrap();
    assert_eq!(line, format!("{:<32}: V4_9_8", "brokerVersionDesc"));
    let keys: Vec<&str> = out.lines().map(|l| l[..32].trim_end()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let out = ok(&["brokerStatus", "-n", &ns, "-c", "PC"]);
    assert!(
        out.lines()
            .any(|l| l == format!("{broker:<24} {:<32}: V4_9_8", "brokerVersionDesc")),
        "{out}"
    );
    let doc = json(&["brokerStatus", "-n", &ns, "-b", &broker, "--json"]);
    assert_eq!(doc["brokers"][&broker]["brokerVersionDesc"], "V4_9_8");
    let e = fails(&["brokerStatus", "-n", &ns, "-b", "127.0.0.1:1"]);
    assert!(e.contains("127.0.0.1:1"), "{e}");
    fails(&["brokerStatus", "-n", &ns]); // neither -b nor -c
    fails(&["brokerStatus", "-n", &ns, "-c", "NoSuchCluster"]);

    // clusterList -m: yesterday's and today's totals.
    let out = ok(&["clusterList", "-n", &ns, "-m"]);
    assert_eq!(
        header(&out),
        format!(
            "{:<16}  {:<32} {:>14} {:>14} {:>14} {:>14}",
            "#Cluster Name",
            "#Broker Name",
            "#InTotalYest",
            "#OutTotalYest",
            "#InTotalToday",
            "#OutTotalToday"
        )
    );
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..2], ["PC", "b1"], "{out}");
    let doc = json(&[
        "clusterList",
        "-n",
        &ns,
        "--json",
        "--count",
        "2",
        "-i",
        "0",
    ]);
    assert_eq!(doc["rounds"].as_array().unwrap().len(), 2, "{doc}");

    // updateTopic -o true: an ordered topic, its queue layout in the NameServer's KV.
    let out = ok(&[
        "updateTopic",
        "-n",
        &ns,
        "-b",
        &broker,
        "-t",
        "OrdT",
        "-w",
        "3",
        "-r",
        "3",
        "-o",
        "true",
    ]);
    assert!(out.contains("orderConf=[b1:3]"), "{out}");
    assert!(out.trim_end().ends_with("order=true]"), "{out}");
    let admin = ferrumq::client::Admin::new(&ns).unwrap();
    assert_eq!(
        admin
            .kv_config("ORDER_TOPIC_CONFIG", "OrdT")
            .await
            .unwrap()
            .as_deref(),
        Some("b1:3")
    );

    // getBrokerConfig: banner, "%-50s=  %s", blank line.
    let out = ok(&["getBrokerConfig", "-n", &ns, "-b", &broker]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("============{broker}============"));
    assert!(
        lines.contains(&format!("{:<50}=  b1", "brokerName").as_str()),
        "{out}"
    );
    assert_eq!(lines.last(), Some(&""));
    let out = ok(&["getBrokerConfig", "-n", &ns, "-c", "PC"]);
    assert_eq!(
        header(&out),
        format!("============Master: {broker}============")
    );
    let doc = json(&["getBrokerConfig", "-n", &ns, "-b", &broker, "--json"]);
    assert_eq!(doc["brokers"][0]["config"]["brokerClusterName"], "PC");
    fails(&["getBrokerConfig", "-n", &ns, "-b", "127.0.0.1:1"]);

    // updateBrokerConfig: brokerPermission is live: the route's perm follows at once.
    let out = ok(&[
        "updateBrokerConfig",
        "-n",
        &ns,
        "-b",
        &broker,
        "-k",
        "brokerPermission",
        "-v",
        "4",
    ]);
    assert_eq!(out, format!("update broker config success, {broker}\n"));
    let doc = json(&["getBrokerConfig", "-n", &ns, "-b", &broker, "--json"]);
    assert_eq!(doc["brokers"][0]["config"]["brokerPermission"], "4");
    assert_eq!(route_perm(&ns, "PermT"), 4);
    let p = Producer::builder(&ns).retries(0).build().unwrap();
    assert!(p.send(Message::new("PermT", "x")).await.is_err());
    ok(&[
        "updateBrokerConfig",
        "-n",
        &ns,
        "-c",
        "PC",
        "-k",
        "brokerPermission",
        "-v",
        "6",
    ]);
    assert_eq!(route_perm(&ns, "PermT"), 6);
    let e = fails(&[
        "updateBrokerConfig",
        "-n",
        &ns,
        "-b",
        &broker,
        "-k",
        "listenPort",
        "-v",
        "1",
    ]);
    assert!(
        e.contains("SYSTEM_ERROR (1)") && e.contains("listenPort cannot change"),
        "{e}"
    );
    let e = fails(&[
        "updateBrokerConfig",
        "-n",
        &ns,
        "-b",
        &broker,
        "-k",
        "brokerPermission",
        "-v",
        "9",
    ]);
    assert!(e.contains("brokerPermission"), "{e}");
    fails(&[
        "updateBrokerConfig",
        "-n",
        &ns,
        "-b",
        &broker,
        "-k",
        "brokerPermission",
    ]);

    // wipeWritePerm / addWritePerm: one line per NameServer with the topic count.
    let out = ok(&["wipeWritePerm", "-n", &ns, "-b", "b1"]);
    let line = format!("wipe write perm of broker[b1] in name server[{ns}] OK, ");
    assert!(out.starts_with(&line) && out.lines().count() == 1, "{out}");
    let count: i64 = out.trim_end()[line.len()..].parse().unwrap();
    assert!(count >= 1, "{out}");
    assert_eq!(route_perm(&ns, "PermT"), 4);
    let out = ok(&["addWritePerm", "-n", &ns, "-b", "b1"]);
    assert!(
        out.starts_with(&format!(
            "add write perm of broker[b1] in name server[{ns}] OK, "
        )),
        "{out}"
    );
    assert_eq!(route_perm(&ns, "PermT"), 6);
    let e = fails(&["wipeWritePerm", "-n", "127.0.0.1:1", "-b", "b1"]);
    assert!(e.contains("127.0.0.1:1"), "{e}");
    fails(&["addWritePerm", "-n", &ns]); // -b missing
}

/// subscriptionGroup.json as the broker persisted it.
fn groups_file(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("store/config/subscriptionGroup.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (_servers, ns, broker) = start_servers(dir.path());

    let out = ok(&[
        "updateSubGroup",
        "-n",
        &ns,
        "-b",
        &broker,
        "-g",
        "G1",
        "-r",
        "5",
        "-q",
        "2",
    ]);
    assert_eq!(
        out,
        format!(
            "create subscription group to {broker} success.\nSubscriptionGroupConfig [groupName=G1, consumeEnable=true, consumeFromMinEnable=false, consumeBroadcastEnable=false, retryQueueNums=2, retryMaxTimes=5, brokerId=0, whichBrokerWhenConsumeSlowly=1, notifyConsumerIdsChangedEnable=true]\n"
        )
    );
    let g = &groups_file(dir.path())["subscriptionGroupTable"]["G1"];
    assert_eq!(g["retryMaxTimes"], 5);
    assert_eq!(g["retryQueueNums"], 2);
    assert_eq!(g["consumeBroadcastEnable"], false);
    let out = ok(&[
        "updateSubGroup",
        "-n",
        &ns,
        "-c",
        "PC",
        "-g",
        "G2",
        "-s",
        "false",
    ]);
    assert!(out.starts_with(&format!("create subscription group to {broker} success.\n")));
    assert_eq!(
        groups_file(dir.path())["subscriptionGroupTable"]["G2"]["consumeEnable"],
        false
    );
    let e = fails(&[
        "updateSubGroup",
        "-n",
        &ns,
        "-b",
        &broker,
        "-g",
        "bad group!",
    ]);
    assert!(e.contains("SYSTEM_ERROR (1)"), "{e}");
    fails(&["updateSubGroup", "-n", &ns, "-b", &broker]); // -g missing
    fails(&["updateSubGroup", "-n", &ns, "-b", "127.0.0.1:1", "-g", "G3"]);

    let out = ok(&["deleteSubGroup", "-n", &ns, "-b", &broker, "-g", "G1"]);
    assert_eq!(
        out,
        format!("delete subscription group [G1] from broker [{broker}] success.\n")
    );
    assert!(groups_file(dir.path())["subscriptionGroupTable"]["G1"].is_null());
    let out = ok(&["deleteSubGroup", "-n", &ns, "-c", "PC", "-g", "G2"]);
    assert!(
        out.starts_with(&format!(
            "delete subscription group [G2] from broker [{broker}] in cluster [PC] success.\n"
        )),
        "{out}"
    );
    assert!(
        out.contains("delete topic [%RETRY%G2] from NameServer success."),
        "{out}"
    );
    assert!(groups_file(dir.path())["subscriptionGroupTable"]["G2"].is_null());
    fails(&["deleteSubGroup", "-n", &ns, "-b", "127.0.0.1:1", "-g", "G1"]);
    fails(&[
        "deleteSubGroup",
        "-n",
        &ns,
        "-c",
        "NoSuchCluster",
        "-g",
        "G1",
    ]);
}
