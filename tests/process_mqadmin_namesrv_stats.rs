//! `mqadmin` NameServer, statistics and RT subcommands against the real binaries:
//! getNamesrvConfig, updateNamesrvConfig, updateKvConfig, deleteKvConfig, allocateMQ,
//! brokerConsumeStats, cloneGroupOffset, statsAll, checkMsgSendRT, clusterRT.

use std::sync::atomic::Ordering;

use ferrumq::client::{Admin, Message, Producer};
use mqadmin_util::{
    create_topic, eventually, eventually_owns, fails, header, json, ok, start_counting_consumer,
    start_servers,
};
use process_util::start_namesrv;

mod mqadmin_util;
mod process_util;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namesrv_config_and_kv() {
    let dir = tempfile::tempdir().unwrap();
    let (_ns, ns_port) = start_namesrv(dir.path());
    let ns = format!("127.0.0.1:{ns_port}");

    let out = ok(&["getNamesrvConfig", "-n", &ns]);
    assert_eq!(header(&out), format!("============{ns}============"));
    let kv_path = format!("{}/kv.json", dir.path().display());
    assert!(
        out.lines()
            .any(|l| l == format!("{:<50}=  {kv_path}", "kvConfigPath")),
        "{out}"
    );
    let out = ok(&[
        "updateNamesrvConfig",
        "-n",
        &ns,
        "-k",
        "orderMessageEnable",
        "-v",
        "true",
    ]);
    assert_eq!(
        out,
        format!("update name server config success![{ns}]\norderMessageEnable : true\n")
    );
    let doc = json(&["getNamesrvConfig", "-n", &ns, "--json"]);
    assert_eq!(doc["nameServers"][&ns]["orderMessageEnable"], "true");
    let e = fails(&[
        "updateNamesrvConfig",
        "-n",
        &ns,
        "-k",
        "kvConfigPath",
        "-v",
        "/tmp/x",
    ]);
    assert!(e.contains("NO_PERMISSION (16)"), "{e}");
    fails(&["getNamesrvConfig", "-n", "127.0.0.1:1"]);
    fails(&["updateNamesrvConfig", "-n", &ns, "-k", "orderMessageEnable"]); // -v missing

    let admin = Admin::new(&ns).unwrap();
    let out = ok(&[
        "updateKvConfig",
        "-n",
        &ns,
        "-s",
        "NS1",
        "-k",
        "k1",
        "-v",
        "v1",
    ]);
    assert_eq!(out, "create or update kv config to namespace success.\n");
    assert_eq!(
        admin.kv_config("NS1", "k1").await.unwrap().as_deref(),
        Some("v1")
    );
    let out = ok(&["deleteKvConfig", "-n", &ns, "-s", "NS1", "-k", "k1"]);
    assert_eq!(out, "delete kv config from namespace success.\n");
    assert_eq!(admin.kv_config("NS1", "k1").await.unwrap(), None);
    fails(&[
        "updateKvConfig",
        "-n",
        "127.0.0.1:1",
        "-s",
        "NS1",
        "-k",
        "k1",
        "-v",
        "v1",
    ]);
    fails(&["deleteKvConfig", "-n", &ns, "-s", "NS1"]); // -k missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_clone_allocate_and_rt() {
    let dir = tempfile::tempdir().unwrap();
    let (_servers, ns, broker) = start_servers(dir.path());
    create_topic(&ns, "StT", "4");
    create_topic(&ns, "Idle", "1");

    // allocateMQ: averagely over the sorted queues and client ids, one compact JSON line.
    let out = ok(&["allocateMQ", "-n", &ns, "-t", "StT", "-i", "c2,c1"]);
    let q = |id: i32| serde_json::json!({"brokerName": "b1", "queueId": id, "topic": "StT"});
    let expected = serde_json::json!({"result": {"c1": [q(0), q(1)], "c2": [q(2), q(3)]}});
    assert_eq!(out, format!("{expected}\n"));
    fails(&["allocateMQ", "-n", &ns, "-t", "NoSuchTopic", "-i", "c1"]);

    // A group that consumed everything sent.
    let (consumer, got) = start_counting_consumer(&ns, "sg", "StT").await;
    eventually_owns(&consumer, "StT", 4);
    let p = Producer::builder(&ns).build().unwrap();
    for i in 0..8 {
        p.send(Message::new("StT", format!("m{i}"))).await.unwrap();
    }
    eventually("8 consumed", || got.load(Ordering::SeqCst) >= 8);
    consumer.shutdown().await;

    // brokerConsumeStats: the group's queues of the topic, diff 0.
    let out = ok(&["brokerConsumeStats", "-n", &ns, "-b", &broker]);
    assert_eq!(
        header(&out),
        format!(
            "{:<64}  {:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20}  {}",
            "#Topic",
            "#Group",
            "#Broker Name",
            "#QID",
            "#Broker Offset",
            "#Consumer Offset",
            "#Diff",
            "#LastTime"
        )
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("StT "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert!(rows.iter().all(|r| r[1] == "sg" && r[6] == "0"), "{out}");
    let total: i64 = rows.iter().map(|r| r[4].parse::<i64>().unwrap()).sum();
    assert_eq!(total, 8, "{out}");
    assert!(out.ends_with("\nDiff Total: 0\n"), "{out}");
    let out = ok(&["brokerConsumeStats", "-n", &ns, "-b", &broker, "-l", "1"]);
    assert!(!out.lines().any(|l| l.starts_with("StT ")), "{out}");
    let doc = json(&["brokerConsumeStats", "-n", &ns, "-b", &broker, "--json"]);
    assert_eq!(doc["diffTotal"], 0);
    fails(&["brokerConsumeStats", "-n", &ns, "-b", "127.0.0.1:1"]);

    // cloneGroupOffset: the new group starts where the old one is.
    let out = ok(&[
        "cloneGroupOffset",
        "-n",
        &ns,
        "-s",
        "sg",
        "-d",
        "sg2",
        "-t",
        "StT",
    ]);
    assert_eq!(
        out,
        "clone group offset success. srcGroup[sg], destGroup=[sg2], topic[StT]\n"
    );
    let admin = Admin::new(&ns).unwrap();
    let (a, b) = (
        admin.consume_stats("sg", "StT").await.unwrap(),
        admin.consume_stats("sg2", "StT").await.unwrap(),
    );
    let offsets = |v: &[ferrumq::client::QueueProgress]| -> Vec<(i32, i64)> {
        v.iter()
            .map(|r| (r.queue.queue_id, r.consumer_offset))
            .collect()
    };
    assert_eq!(offsets(&a), offsets(&b));
    assert_eq!(b.iter().map(|r| r.consumer_offset).sum::<i64>(), 8);
    fails(&[
        "cloneGroupOffset",
        "-n",
        &ns,
        "-s",
        "nosuch",
        "-d",
        "sg3",
        "-t",
        "StT",
    ]);

    // statsAll: the topic with its group, and a topic no one consumes.
    let out = ok(&["statsAll", "-n", &ns]);
    assert_eq!(
        header(&out),
        format!(
            "{:<64}  {:<64} {:>12} {:>11} {:>11} {:>14} {:>14}",
            "#Topic",
            "#Consumer Group",
            "#Accumulation",
            "#InTPS",
            "#OutTPS",
            "#InMsg24Hour",
            "#OutMsg24Hour"
        )
    );
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("StT "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!((row[1], row[2], row[5]), ("sg", "0", "8"), "{out}");
    let idle: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("Idle "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(idle, ["Idle", "0", "0.00", "0", "NO_CONSUMER"], "{out}");
    let out = ok(&["statsAll", "-n", &ns, "-a"]);
    assert!(!out.contains("Idle "), "{out}");
    let doc = json(&["statsAll", "-n", &ns, "-t", "StT", "--json"]);
    assert_eq!(doc["rows"][0]["inMsg24Hour"], 8);
    fails(&["statsAll", "-n", "127.0.0.1:1"]);

    // checkMsgSendRT: one row per send, queues in route order, then the mean.
    let out = ok(&[
        "checkMsgSendRT",
        "-n",
        &ns,
        "-t",
        "StT",
        "-a",
        "5",
        "-s",
        "16",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{:<32}  {:<4}  {:<20}    {}",
            "#Broker Name", "#QID", "#Send Result", "#RT"
        )
    );
    let qids: Vec<&str> = lines[1..6]
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!((f[0], f[2]), ("b1", "true"), "{out}");
            f[1]
        })
        .collect();
    assert_eq!(qids, ["0", "1", "2", "3", "0"]);
    assert!(lines[6].starts_with("Avg RT: "), "{out}");
    let doc = json(&[
        "checkMsgSendRT",
        "-n",
        &ns,
        "-t",
        "StT",
        "-a",
        "2",
        "--json",
    ]);
    assert_eq!(doc["sends"].as_array().unwrap().len(), 2, "{doc}");
    assert!(doc["avgRtMs"].is_number(), "{doc}");
    fails(&["checkMsgSendRT", "-n", &ns, "-t", "NoSuchTopic"]);

    // clusterRT: sends to the topic named after each broker, one round.
    let out = ok(&["clusterRT", "-n", &ns, "-a", "3", "--count", "1"]);
    assert_eq!(
        header(&out),
        format!(
            "{:<24}  {:<24}  {:<4}  {:<8}  {:<8}",
            "#Cluster Name", "#Broker Name", "#RT", "#successCount", "#failCount"
        )
    );
    let line = out.lines().nth(1).unwrap();
    let row: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        line,
        format!(
            "{:<24}  {:<24}  {:<8}  {:<16}  {:<16}",
            "PC", "b1", row[2], 3, 0
        ),
        "{out}"
    );
    let doc = json(&["clusterRT", "-n", &ns, "-a", "2", "--json"]);
    assert_eq!(doc["rounds"][0][0]["successCount"], 2);
    let e = fails(&["clusterRT", "-n", &ns, "-c", "NoSuchCluster", "-a", "1"]);
    assert!(e.contains("cluster [NoSuchCluster] not exist"), "{e}");
}
