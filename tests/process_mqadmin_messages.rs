//! `mqadmin` message subcommands against the real binaries: sendMessage, queryMsgByKey,
//! queryMsgById, queryMsgByUniqueKey, queryMsgByOffset, printMsg, printMsgByQueue,
//! consumeMessage. Headers follow the printf formats of shared/docs/mqadmin.md; values are
//! checked against what the SDK's producer was told; each failure case is one line.

use ferrumq::client::{Message, MessageQueue, Producer};
use mqadmin_util::{create_topic, eventually, fails, header, json, mqadmin, ok, start_servers};

mod mqadmin_util;
mod process_util;

/// The value after a detail-block label (`"%-20s %s"`).
fn field<'a>(out: &'a str, label: &str) -> &'a str {
    let prefix = format!("{label:<20} ");
    out.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {label} in {out}"))
}

fn msgid_lines(out: &str) -> usize {
    out.lines().filter(|l| l.starts_with("MSGID: ")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_query_and_print_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (_servers, ns, _) = start_servers(dir.path());
    create_topic(&ns, "MsgT", "2");

    // sendMessage: "%-32s  %-4s  %-20s    %s%n".
    let out = ok(&[
        "sendMessage",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-p",
        "hello",
        "-k",
        "K1",
        "-c",
        "TagA",
    ]);
    assert_eq!(
        header(&out),
        format!(
            "{:<32}  {:<4}  {:<20}    {}",
            "#Broker Name", "#QID", "#Send Result", "#MsgId"
        )
    );
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..1], ["b1"]);
    assert_eq!(row[2], "SEND_OK");
    assert_eq!(row[3].len(), 32, "{out}");
    let out = ok(&[
        "sendMessage",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-p",
        "to-q1",
        "-c",
        "TagA",
        "-b",
        "b1",
        "-i",
        "1",
    ]);
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["b1", "1", "SEND_OK"], "{out}");
    let e = fails(&["sendMessage", "-n", &ns, "-t", "MsgT", "-p", "x", "-i", "1"]);
    assert!(e.contains("Broker name must be set"), "{e}");
    fails(&["sendMessage", "-n", "127.0.0.1:1", "-t", "MsgT", "-p", "x"]);

    // A message with a known key, tag and queue, sent with the SDK.
    let p = Producer::builder(&ns).build().unwrap();
    let q0 = MessageQueue {
        topic: "MsgT".into(),
        broker_name: "b1".into(),
        queue_id: 0,
    };
    let sent = p
        .send_to_queue(
            Message::new("MsgT", "order body")
                .with_tags("TagB")
                .with_keys(["order-42"]),
            &q0,
        )
        .await
        .unwrap();

    // queryMsgByKey: "%-50s %4s %40s%n"; the index is built behind the CommitLog.
    eventually("key indexed", || {
        mqadmin(
            &["queryMsgByKey", "-n", &ns, "-t", "MsgT", "-k", "order-42"],
            None,
        )
        .status
        .success()
    });
    let out = ok(&["queryMsgByKey", "-n", &ns, "-t", "MsgT", "-k", "order-42"]);
    assert_eq!(
        header(&out),
        format!("{:<50} {:>4} {:>40}", "#Message ID", "#QID", "#Offset")
    );
    assert_eq!(
        out.lines().nth(1).unwrap(),
        format!("{:<50} {:>4} {:>40}", sent.msg_id, 0, sent.queue_offset)
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    let doc = json(&[
        "queryMsgByKey",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-k",
        "order-42",
        "--json",
    ]);
    assert_eq!(doc["messages"][0]["msgId"], sent.msg_id.as_str());
    let e = fails(&[
        "queryMsgByKey",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-k",
        "no-such-key",
    ]);
    assert!(e.contains("NO_MESSAGE (208)"), "{e}");

    // queryMsgById: the detail block, the body file, no consumer yet.
    let out = ok(&["queryMsgById", "-n", &ns, "-i", &sent.offset_msg_id]);
    assert_eq!(
        header(&out),
        format!("{:<20} {}", "OffsetID:", sent.offset_msg_id)
    );
    assert_eq!(field(&out, "Topic:"), "MsgT");
    assert_eq!(field(&out, "Tags:"), "[TagB]");
    assert_eq!(field(&out, "Keys:"), "[order-42]");
    assert_eq!(field(&out, "Queue ID:"), "0");
    assert_eq!(field(&out, "Queue Offset:"), sent.queue_offset.to_string());
    assert!(field(&out, "Properties:").contains(&format!("UNIQ_KEY={}", sent.msg_id)));
    let body = std::fs::read(field(&out, "Message Body Path:")).unwrap();
    assert_eq!(body, b"order body");
    assert!(out.ends_with("\n\n\nWARN: No Consumer\n"), "{out}");
    let doc = json(&[
        "queryMsgById",
        "-n",
        &ns,
        "-i",
        &sent.offset_msg_id,
        "--json",
    ]);
    assert_eq!(doc["messages"][0]["body"], "order body");
    assert_eq!(doc["messages"][0]["tracks"], serde_json::json!([]));
    let e = fails(&["queryMsgById", "-n", &ns, "-i", "NOT-AN-ID"]);
    assert!(e.contains("NO_MESSAGE (208)"), "{e}");

    // queryMsgByUniqueKey: the same block without the OffsetID line.
    let out = ok(&[
        "queryMsgByUniqueKey",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-i",
        &sent.msg_id,
    ]);
    assert_eq!(header(&out), format!("{:<20} MsgT", "Topic:"));
    assert_eq!(field(&out, "Keys:"), "[order-42]");
    let e = fails(&[
        "queryMsgByUniqueKey",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-i",
        "0A0000000000000000000000000000FF",
    ]);
    assert!(e.contains("NO_MESSAGE (208)"), "{e}");

    // queryMsgByOffset: pulls the one message at that queue offset.
    let off = sent.queue_offset.to_string();
    let out = ok(&[
        "queryMsgByOffset",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-b",
        "b1",
        "-i",
        "0",
        "-o",
        &off,
    ]);
    assert_eq!(
        header(&out),
        format!("{:<20} {}", "OffsetID:", sent.offset_msg_id)
    );
    let e = fails(&[
        "queryMsgByOffset",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-b",
        "b1",
        "-i",
        "0",
        "-o",
        "999",
    ]);
    assert!(
        e.contains("NO_NEW_MSG") || e.contains("OFFSET_ILLEGAL"),
        "{e}"
    );
    fails(&[
        "queryMsgByOffset",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-b",
        "nob",
        "-i",
        "0",
        "-o",
        "0",
    ]);

    // printMsg: per queue the range line, MSGID lines, 56 dashes.
    eventually("3 messages in the queues", || {
        msgid_lines(&ok(&["printMsg", "-n", &ns, "-t", "MsgT"])) == 3
    });
    let out = ok(&["printMsg", "-n", &ns, "-t", "MsgT"]);
    let first = header(&out);
    assert!(
        first.starts_with("minOffset=0, maxOffset=")
            && first.ends_with(", MessageQueue [topic=MsgT, brokerName=b1, queueId=0]"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| *l == "-".repeat(56)).count(),
        2,
        "{out}"
    );
    let line = out.lines().find(|l| l.contains(&sent.msg_id)).unwrap();
    assert!(
        line.starts_with(&format!(
            "MSGID: {} MessageExt [brokerName=b1, queueId=0",
            sent.msg_id
        )),
        "{line}"
    );
    assert!(line.ends_with(" BODY: order body"), "{line}");
    let out = ok(&[
        "printMsg", "-n", &ns, "-t", "MsgT", "-s", "TagB", "-d", "false",
    ]);
    assert_eq!(msgid_lines(&out), 1, "{out}");
    assert!(out.contains("BODY: NOT PRINT BODY"), "{out}");
    let doc = json(&["printMsg", "-n", &ns, "-t", "MsgT", "--json"]);
    assert_eq!(doc["queues"].as_array().unwrap().len(), 2);
    fails(&["printMsg", "-n", &ns, "-t", "NoSuchTopic"]);
    fails(&["printMsg", "-n", &ns, "-t", "MsgT", "-c", "GBK"]);
    fails(&["printMsg", "-n", &ns, "-t", "MsgT", "-b", "yesterday"]);

    // printMsgByQueue: tag counts, most frequent first; -p prints the messages.
    let out = ok(&[
        "printMsgByQueue",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-a",
        "b1",
        "-i",
        "0",
        "-f",
        "true",
    ]);
    let tags: Vec<&str> = out.lines().filter(|l| l.starts_with("Tag: ")).collect();
    assert!(
        tags.contains(&format!("Tag: {:<30} Count: 1", "TagB").as_str()),
        "{out}"
    );
    assert_eq!(msgid_lines(&out), 0);
    let out = ok(&[
        "printMsgByQueue",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-a",
        "b1",
        "-i",
        "0",
        "-p",
        "true",
    ]);
    assert!(msgid_lines(&out) >= 1, "{out}");
    fails(&["printMsgByQueue", "-n", &ns, "-t", "MsgT", "-a", "b1"]); // -i missing

    // consumeMessage: capped at -c, "Consume ok" before each batch.
    let out = ok(&["consumeMessage", "-n", &ns, "-t", "MsgT", "-c", "2"]);
    assert_eq!(header(&out), "The oldler 2 message will be provided");
    assert_eq!(msgid_lines(&out), 2, "{out}");
    assert!(out.contains("Consume ok\n"), "{out}");
    let out = ok(&[
        "consumeMessage",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-b",
        "b1",
        "-i",
        "0",
        "-o",
        &off,
    ]);
    assert_eq!(msgid_lines(&out), 1, "{out}");
    assert!(out.contains("BODY: order body"), "{out}");
    let e = fails(&["consumeMessage", "-n", &ns, "-t", "MsgT", "-i", "0"]);
    assert!(
        e.contains("Please set the brokerName before queueId!"),
        "{e}"
    );
    fails(&["consumeMessage", "-n", &ns, "-t", "NoSuchTopic"]);

    // queryMsgById -s true sends the message again (same topic, body, tags, keys).
    let out = ok(&[
        "queryMsgById",
        "-n",
        &ns,
        "-i",
        &sent.offset_msg_id,
        "-s",
        "true",
    ]);
    assert!(
        out.starts_with(&format!(
            "prepare resend msg. originalMsgId={}SendResult [sendStatus=SEND_OK, msgId=",
            sent.offset_msg_id
        )),
        "{out}"
    );
    eventually("the copy indexed by key", || {
        ok(&["queryMsgByKey", "-n", &ns, "-t", "MsgT", "-k", "order-42"])
            .lines()
            .count()
            == 3
    });
    // printMsg --json with a tag filter: both TagB messages, whatever lies between them.
    let doc = json(&["printMsg", "-n", &ns, "-t", "MsgT", "-s", "TagB", "--json"]);
    let bodies: Vec<&str> = doc["queues"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|q| q["messages"].as_array().unwrap().iter())
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["order body", "order body"], "{doc}");

    // --json on the other read commands: one document with the table's fields.
    let off = sent.queue_offset.to_string();
    let doc = json(&[
        "queryMsgByUniqueKey",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-i",
        &sent.msg_id,
        "--json",
    ]);
    assert_eq!(doc["messages"][0]["offsetId"], sent.offset_msg_id.as_str());
    let doc = json(&[
        "queryMsgByOffset",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-b",
        "b1",
        "-i",
        "0",
        "-o",
        &off,
        "--json",
    ]);
    assert_eq!(doc["messages"][0]["keys"], "order-42");
    let doc = json(&[
        "printMsgByQueue",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-a",
        "b1",
        "-i",
        "0",
        "--json",
    ]);
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["tag"] == "TagB"),
        "{doc}"
    );
    let doc = json(&[
        "consumeMessage",
        "-n",
        &ns,
        "-t",
        "MsgT",
        "-c",
        "1",
        "--json",
    ]);
    assert_eq!(doc["messages"].as_array().unwrap().len(), 1, "{doc}");
    let doc = json(&["topicList", "-n", &ns, "--json"]);
    assert!(
        doc["topicList"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "MsgT"),
        "{doc}"
    );
}
