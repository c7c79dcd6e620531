//! `mqadmin` subcommands about live clients and their offsets, against the real binaries
//! with the SDK's push consumer and transactional producer: consumerConnection,
//! producerConnection, consumerStatus, resetOffsetByTime, and queryMsgById's track section.

use std::sync::atomic::Ordering;

use ferrumq::client::{Message, Producer, TransactionState};
use mqadmin_util::{
    create_topic, eventually, eventually_owns, fails, header, json, mqadmin, ok, ok_in,
    start_counting_consumer, start_servers,
};

mod mqadmin_util;
mod process_util;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_producers_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (_servers, ns, _) = start_servers(dir.path());
    create_topic(&ns, "CliT", "2");

    let (consumer, got) = start_counting_consumer(&ns, "cg1", "CliT").await;
    let client_id = consumer.client_id().to_string();
    eventually_owns(&consumer, "CliT", 2);
    let p = Producer::builder(&ns).build().unwrap();
    let mut sent = Vec::new();
    for i in 0..4 {
        sent.push(p.send(Message::new("CliT", format!("m{i}"))).await.unwrap());
    }
    eventually("4 consumed", || got.load(Ordering::SeqCst) >= 4);

    // consumerConnection: "%-36s %-22s %-10s %s%n", the subscriptions, the consume kind.
    let out = ok(&["consumerConnection", "-n", &ns, "-g", "cg1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{:<36} {:<22} {:<10} {}",
            "#ClientId", "#ClientAddr", "#Language", "#Version"
        )
    );
    assert!(lines[1].starts_with(&format!("{client_id:<36} ")), "{out}");
    assert!(lines[1].ends_with(" V4_9_8"), "{out}");
    assert!(lines.contains(&"Below is subscription:"), "{out}");
    assert!(
        lines.contains(&format!("{:<20} #SubExpression", "#Topic").as_str()),
        "{out}"
    );
    assert!(
        lines.contains(&format!("{:<20} *", "CliT").as_str()),
        "{out}"
    );
    assert!(lines.contains(&"ConsumeType: CONSUME_PASSIVELY"), "{out}");
    assert!(lines.contains(&"MessageModel: CLUSTERING"), "{out}");
    let doc = json(&["consumerConnection", "-n", &ns, "-g", "cg1", "--json"]);
    assert_eq!(doc["connections"][0]["clientId"], client_id.as_str());
    let e = fails(&["consumerConnection", "-n", &ns, "-g", "nosuchgroup"]);
    assert!(e.contains("TOPIC_NOT_EXIST (17)"), "{e}");

    // consumerStatus -i: the client's own report; without -i: a row and a file per client.
    let out = ok(&["consumerStatus", "-n", &ns, "-g", "cg1", "-i", &client_id]);
    assert!(out.starts_with("#Consumer Properties#\n"), "{out}");
    assert!(out.contains("Topic: CliT"), "{out}");
    assert!(out.contains("#Consumer MQ Detail#"), "{out}");
    let out = ok_in(dir.path(), &["consumerStatus", "-n", &ns, "-g", "cg1"]);
    assert_eq!(
        header(&out),
        format!(
            "{:<10} {:<40} {:<20} #ConsumerRunningInfoFile",
            "#Index", "#ClientId", "#Version"
        )
    );
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["1", client_id.as_str(), "V4_9_8"], "{out}");
    let report = std::fs::read_to_string(dir.path().join(row[3])).unwrap();
    assert!(report.starts_with("#Consumer Properties#"), "{report}");
    assert!(
        out.contains("\n\n\nSame subscription in the same group of consumer\n"),
        "{out}"
    );
    assert!(out.contains("Rebalance OK"), "{out}");
    let doc = json(&["consumerStatus", "-n", &ns, "-g", "cg1", "--json"]);
    assert!(
        doc["consumers"][&client_id]["subscriptionSet"].is_array(),
        "{doc}"
    );
    fails(&[
        "consumerStatus",
        "-n",
        &ns,
        "-g",
        "cg1",
        "-i",
        "no-such-client",
    ]);

    // queryMsgById's tracks: the group has consumed the message once it committed.
    let id = &sent[0].offset_msg_id;
    let track = "MessageTrack [consumerGroup=cg1, trackType=CONSUMED, exceptionDesc=null]";
    eventually("track CONSUMED", || {
        ok(&["queryMsgById", "-n", &ns, "-i", id]).ends_with(&format!("\n\n\n{track}\n"))
    });

    // consumerProgress -s true: the client holding each queue; without -g: every group.
    eventually("offsets committed", || {
        let o = mqadmin(
            &["consumerProgress", "-n", &ns, "-g", "cg1", "--json"],
            None,
        );
        o.status.success()
            && serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["diffTotal"] == 0
    });
    let out = ok(&["consumerProgress", "-n", &ns, "-g", "cg1", "-s", "true"]);
    assert_eq!(
        header(&out),
        format!(
            "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20}  {:<20}  #LastTime",
            "#Topic",
            "#Broker Name",
            "#QID",
            "#Broker Offset",
            "#Consumer Offset",
            "#Client IP",
            "#Diff"
        )
    );
    let ip = client_id.split('@').next().unwrap();
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("CliT "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows.iter().all(|r| r[5] == ip && r[6] == "0"), "{out}");
    let out = ok(&["consumerProgress", "-n", &ns]);
    assert_eq!(
        header(&out),
        format!(
            "{:<64}  {:<6}  {:<24} {:<5}  {:<14}  {:<7}  #Diff Total",
            "#Group", "#Count", "#Version", "#Type", "#Model", "#TPS"
        )
    );
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("cg1 "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        (row[0], row[1], row[2], row[3], row[4], row[6]),
        ("cg1", "1", "V4_9_8", "PUSH", "CLUSTERING", "0"),
        "{out}"
    );
    // topicList -c: the topic's cluster and its consuming group.
    let out = ok(&["topicList", "-n", &ns, "-c"]);
    assert_eq!(
        header(&out),
        format!(
            "{:<20}  {:<48}  {:<48}",
            "#Cluster Name", "#Topic", "#Consumer Group"
        )
    );
    assert!(
        out.lines()
            .any(|l| l == format!("{:<20}  {:<64}  {:<64}", "PC", "CliT", "cg1")),
        "{out}"
    );
    assert!(!out.contains("%RETRY%"), "{out}");

    // queryMsgById -g -d asks a client to consume the message; an unknown client is not
    // online, which the broker says.
    let e = fails(&[
        "queryMsgById",
        "-n",
        &ns,
        "-i",
        id,
        "-g",
        "cg1",
        "-d",
        "no-such-client",
    ]);
    assert!(
        e.contains("CONSUME_MESSAGE_DIRECTLY") && e.contains("not online"),
        "{e}"
    );

    // resetOffsetByTime with the consumer online: the broker tells it, it consumes again.
    let reset_to_0 = [
        "resetOffsetByTime",
        "-n",
        &ns,
        "-g",
        "cg1",
        "-t",
        "CliT",
        "-s",
        "0",
    ];
    let out = ok(&reset_to_0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "rollback consumer offset by specified group[cg1], topic[CliT], force[true], timestamp(string)[0], timestamp(long)[0]"
    );
    assert_eq!(
        lines[1],
        format!(
            "{:<40}  {:<40}  {:<40}",
            "#brokerName", "#queueId", "#offset"
        )
    );
    assert_eq!(lines.len(), 4, "{out}");
    for l in &lines[2..] {
        let f: Vec<&str> = l.split_whitespace().collect();
        assert_eq!((f[0], f[2]), ("b1", "0"), "{out}");
    }
    eventually("consumed again", || got.load(Ordering::SeqCst) >= 8);
    consumer.shutdown().await;

    // With no consumer online FerrumQ's broker sets the offsets itself (as 5.x brokers do;
    // a 4.9.8 broker answers CONSUMER_NOT_ONLINE and mqadmin then sets them queue by queue).
    let out = ok(&reset_to_0);
    assert_eq!(out.lines().count(), 4, "{out}");
    let doc = json(&["consumerProgress", "-n", &ns, "-g", "cg1", "--json"]);
    assert_eq!(doc["diffTotal"], 4, "{doc}");
    let doc = json(&[
        "resetOffsetByTime",
        "-n",
        &ns,
        "-g",
        "cg1",
        "-t",
        "CliT",
        "-s",
        "now",
        "--json",
    ]);
    assert_eq!(doc["queues"].as_array().unwrap().len(), 2, "{doc}");
    let doc = json(&["consumerProgress", "-n", &ns, "-g", "cg1", "--json"]);
    assert_eq!(doc["diffTotal"], 0, "{doc}");
    fails(&[
        "resetOffsetByTime",
        "-n",
        &ns,
        "-g",
        "cg1",
        "-t",
        "NoSuchTopic",
        "-s",
        "now",
    ]);
    fails(&[
        "resetOffsetByTime",
        "-n",
        &ns,
        "-g",
        "cg1",
        "-t",
        "CliT",
        "-s",
        "someday",
    ]);
    let e = fails(&["consumerConnection", "-n", &ns, "-g", "cg1"]);
    assert!(e.contains("CONSUMER_NOT_ONLINE (206)"), "{e}");

    // producerConnection: a transactional producer registers its group by heartbeat.
    let tp = Producer::builder(&ns)
        .group("txp")
        .build_transactional(|_| TransactionState::Commit)
        .unwrap();
    tp.send_in_transaction(Message::new("CliT", "tx"), |_| TransactionState::Commit)
        .await
        .unwrap();
    let out = ok(&["producerConnection", "-n", &ns, "-g", "txp", "-t", "CliT"]);
    let f: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!((f.len(), f[0], f[4]), (5, "0001", "V4_9_8"), "{out}");
    let doc = json(&[
        "producerConnection",
        "-n",
        &ns,
        "-g",
        "txp",
        "-t",
        "CliT",
        "--json",
    ]);
    assert_eq!(doc["connections"].as_array().unwrap().len(), 1);
    fails(&[
        "producerConnection",
        "-n",
        &ns,
        "-g",
        "nosuchgroup",
        "-t",
        "CliT",
    ]);
    fails(&["producerConnection", "-n", &ns, "-g", "txp"]); // -t missing
}
