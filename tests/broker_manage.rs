//! Consumer management requests over TCP (features sheet §4.2): forwarding to a live client,
//! offset reset by time, which groups consume a topic, offset cloning.

mod broker_util;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_util::*;
use ferrumq::protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferrumq::remoting::{ClientConfig, RemotingClient};

const TOPIC: &str = "ManageTopic";

/// A consumer connection that answers GET_CONSUMER_RUNNING_INFO and records every request the
/// broker pushes to it.
struct FakeConsumer {
    /// Kept open: the broker's requests come over this connection.
    _client: RemotingClient,
    pushed: Arc<Mutex<Vec<RemotingCommand>>>,
}

impl FakeConsumer {
    async fn join(c: &Cluster, group: &str, client_id: &str, version: i32) -> Self {
        let pushed = Arc::new(Mutex::new(Vec::new()));
        let seen = pushed.clone();
        let client = RemotingClient::new(ClientConfig {
            push_handler: Some(Arc::new(move |req: RemotingCommand| {
                seen.lock().unwrap().push(req.clone());
                let body: &[u8] = match req.request_code() {
                    RequestCode::GetConsumerRunningInfo => {
                        br#"{"properties":{"PROP_CLIENT_VERSION":"V4_9_8"}}"#
                    }
                    // Java's GetConsumerStatusBody: MessageQueue objects as map keys.
                    RequestCode::GetConsumerStatusFromClient => {
                        br#"{"consumerTable":{},"messageQueueTable":{{"brokerName":"b","queueId":0,"topic":"ManageTopic"}:5}}"#
                    }
                    _ => return None,
                };
                Some(
                    req.response_to(ResponseCode::Success, None)
                        .with_body(body.to_vec()),
                )
            })),
            ..Default::default()
        });
        let body = heartbeat_body(client_id, group, TOPIC, "*");
        let mut hb = request(RequestCode::HeartBeat, &[]).with_body(body);
        hb.version = version;
        let r = client
            .invoke(&c.addr(), hb, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.code, 0, "{r:?}");
        FakeConsumer {
            _client: client,
            pushed,
        }
    }

    fn pushed(&self, code: RequestCode) -> Vec<RemotingCommand> {
        let all = self.pushed.lock().unwrap();
        all.iter()
            .filter(|r| r.request_code() == code)
            .cloned()
            .collect()
    }
}

fn commit(group: &str, topic: &str, queue: i32, offset: i64) -> RemotingCommand {
    request(
        RequestCode::UpdateConsumerOffset,
        &[
            ("consumerGroup", group),
            ("topic", topic),
            ("queueId", &queue.to_string()),
            ("commitOffset", &offset.to_string()),
        ],
    )
}

async fn committed(c: &Cluster, group: &str, topic: &str, queue: i32) -> Option<i64> {
    let r = c
        .call(request(
            RequestCode::QueryConsumerOffset,
            &[
                ("consumerGroup", group),
                ("topic", topic),
                ("queueId", &queue.to_string()),
            ],
        ))
        .await;
    (r.code == 0).then(|| field_i64(&r, "offset"))
}

#[tokio::test]
async fn running_info_is_forwarded_to_the_client() {
    let c = Cluster::start().await;
    let consumer = FakeConsumer::join(&c, "gRun", "10.0.0.1@1", 409).await;
    let ask = request(
        RequestCode::GetConsumerRunningInfo,
        &[
            ("consumerGroup", "gRun"),
            ("clientId", "10.0.0.1@1"),
            ("jstackEnable", "false"),
        ],
    );
    let r = c.call(ask).await;
    assert_eq!(r.response_code(), ResponseCode::Success, "{r:?}");
    assert_eq!(
        &r.body[..],
        br#"{"properties":{"PROP_CLIENT_VERSION":"V4_9_8"}}"#
    );
    let got = consumer.pushed(RequestCode::GetConsumerRunningInfo);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].ext_fields.get("jstackEnable"), Some("false"));

    let r = c
        .call(request(
            RequestCode::GetConsumerRunningInfo,
            &[("consumerGroup", "gRun"), ("clientId", "nobody")],
        ))
        .await;
    assert_eq!(r.response_code(), ResponseCode::SystemError);
    assert!(r.remark.unwrap_or_default().contains("not online"));
    drop(consumer);
    c.shutdown().await;
}

#[tokio::test]
async fn forwarding_refuses_clients_too_old_to_answer() {
    let c = Cluster::start().await;
    let _old = FakeConsumer::join(&c, "gOld", "old@1", 40).await;
    let r = c
        .call(request(
            RequestCode::GetConsumerRunningInfo,
            &[("consumerGroup", "gOld"), ("clientId", "old@1")],
        ))
        .await;
    assert_eq!(r.response_code(), ResponseCode::SystemError);
    assert!(r.remark.unwrap_or_default().contains("too low"));
    c.shutdown().await;
}

#[tokio::test]
async fn groups_consuming_a_topic_by_heartbeat_and_by_offset() {
    let c = Cluster::start().await;
    c.send(TOPIC, "A", b"x").await;
    assert_eq!(c.call(commit("gOffset", TOPIC, 0, 1)).await.code, 0);
    let _live = FakeConsumer::join(&c, "gLive", "live@1", 409).await;
    let r = c
        .call(request(
            RequestCode::QueryTopicConsumeByWho,
            &[("topic", TOPIC)],
        ))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["groupList"], serde_json::json!(["gLive", "gOffset"]));
    c.shutdown().await;
}

#[tokio::test]
async fn clone_group_offset_copies_every_topic_when_none_is_named() {
    let c = Cluster::start().await;
    c.send(TOPIC, "A", b"x").await;
    c.send("ManageOther", "A", b"x").await;
    assert_eq!(c.call(commit("src", TOPIC, 0, 7)).await.code, 0);
    assert_eq!(c.call(commit("src", "ManageOther", 1, 3)).await.code, 0);
    let r = c
        .call(request(
            RequestCode::CloneGroupOffset,
            &[
                ("srcGroup", "src"),
                ("destGroup", "dst"),
                ("offline", "false"),
            ],
        ))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(committed(&c, "dst", TOPIC, 0).await, Some(7));
    assert_eq!(committed(&c, "dst", "ManageOther", 1).await, Some(3));
    c.shutdown().await;
}

fn reset(topic: &str, group: &str, timestamp: i64, force: bool) -> RemotingCommand {
    request(
        RequestCode::InvokeBrokerToResetOffset,
        &[
            ("topic", topic),
            ("group", group),
            ("timestamp", &timestamp.to_string()),
            ("isForce", &force.to_string()),
        ],
    )
}

#[tokio::test]
async fn reset_offset_stores_and_pushes_the_new_offsets() {
    let c = Cluster::start().await;
    for i in 0..4 {
        c.send_to(TOPIC, 0, "A", format!("m{i}").as_bytes()).await;
    }
    assert_eq!(c.call(commit("gReset", TOPIC, 0, 4)).await.code, 0);
    let consumer = FakeConsumer::join(&c, "gReset", "r@1", 409).await;

    // Back to the beginning: everything stored since time 0.
    let r = c.call(reset(TOPIC, "gReset", 0, false)).await;
    assert_eq!(r.code, 0, "{r:?}");
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        body.contains(r#""queueId":0,"topic":"ManageTopic"}:0"#),
        "{body}"
    );
    assert_eq!(committed(&c, "gReset", TOPIC, 0).await, Some(0));
    let mut pushed = Vec::new();
    for _ in 0..100 {
        pushed = consumer.pushed(RequestCode::ResetConsumerClientOffset);
        if !pushed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        pushed.len(),
        1,
        "RESET_CONSUMER_CLIENT_OFFSET reaches the live client"
    );
    assert_eq!(pushed[0].ext_fields.get("group"), Some("gReset"));
    assert!(String::from_utf8_lossy(&pushed[0].body).contains("offsetTable"));

    // To the end: without isForce an offset only moves back, so it stays at 0.
    c.call(reset(TOPIC, "gReset", -1, false)).await;
    assert_eq!(committed(&c, "gReset", TOPIC, 0).await, Some(0));
    c.call(reset(TOPIC, "gReset", -1, true)).await;
    assert_eq!(committed(&c, "gReset", TOPIC, 0).await, Some(4));
    drop(consumer);
    c.shutdown().await;
}

#[tokio::test]
async fn reset_offset_works_for_an_offline_group_and_refuses_the_unknown() {
    let c = Cluster::start().await;
    for i in 0..3 {
        c.send_to(TOPIC, 0, "A", format!("m{i}").as_bytes()).await;
    }
    assert_eq!(c.call(commit("gOff", TOPIC, 0, 3)).await.code, 0);
    // No client online: RocketMQ 4.9.8 answers CONSUMER_NOT_ONLINE and changes nothing.
    let r = c.call(reset(TOPIC, "gOff", 0, true)).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(committed(&c, "gOff", TOPIC, 0).await, Some(0));

    let r = c.call(reset("NoSuchTopic", "gOff", 0, true)).await;
    assert_eq!(r.response_code(), ResponseCode::TopicNotExist);
    let r = c.call(reset(TOPIC, "gNever", 0, true)).await;
    assert_eq!(r.response_code(), ResponseCode::SystemError);
    c.shutdown().await;
}

fn stats_request(name: &str, key: &str) -> RemotingCommand {
    request(
        RequestCode::ViewBrokerStatsData,
        &[("statsName", name), ("statsKey", key)],
    )
}

#[tokio::test]
async fn statistics_follow_sends_and_pulls() {
    let c = Cluster::start().await;
    for i in 0..3 {
        c.send_to("StatTopic", 0, "A", format!("m{i}").as_bytes())
            .await;
    }
    let r = c
        .call(pull_request("gStat", "StatTopic", 0, 0, 0x4, "*", 0))
        .await;
    assert_eq!(r.response_code(), ResponseCode::Success, "{r:?}");

    let r = c.call(stats_request("TOPIC_PUT_NUMS", "StatTopic")).await;
    assert_eq!(r.code, 0, "{r:?}");
    let data: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(data["statsMinute"]["sum"], 3);
    assert_eq!(data["statsDay"]["sum"], 3);
    let r = c
        .call(stats_request("GROUP_GET_NUMS", "StatTopic@gStat"))
        .await;
    let data: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(data["statsHour"]["sum"], 3);
    let r = c.call(stats_request("TOPIC_PUT_NUMS", "Quiet")).await;
    assert_eq!(r.response_code(), ResponseCode::SystemError);
    assert!(r.remark.unwrap_or_default().contains("not exist"));

    let r = c
        .call(request(RequestCode::GetBrokerRuntimeInfo, &[]))
        .await;
    let info: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let t = &info["table"];
    for key in [
        "putTps",
        "getTransferedTps",
        "getTransferredTps",
        "getTotalTps",
    ] {
        let text = t[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing: {t}"));
        let numbers: Vec<f64> = text.split(' ').map(|n| n.parse().unwrap()).collect();
        assert_eq!(numbers.len(), 3, "{key}: {text}");
    }
    assert_eq!(t["msgPutTotalTodayNow"], "3");
    assert_eq!(t["msgGetTotalTodayNow"], "3");
    let earliest: i64 = t["earliestMessageTimeStamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(earliest > 1_600_000_000_000, "{earliest}");
    let ratio: f64 = t["commitLogDiskRatio"].as_str().unwrap().parse().unwrap();
    assert!((0.0..=1.0).contains(&ratio));
    c.shutdown().await;
}

#[tokio::test]
async fn broker_consume_stats_lists_every_group_with_its_lag() {
    let c = Cluster::start().await;
    for i in 0..3 {
        c.send_to("LagTopic", 0, "A", format!("m{i}").as_bytes())
            .await;
    }
    // The pull creates the subscription group; the commit leaves two messages unconsumed.
    c.call(pull_request("gLag", "LagTopic", 0, 0, 0x4, "*", 0))
        .await;
    assert_eq!(c.call(commit("gLag", "LagTopic", 0, 1)).await.code, 0);
    let r = c
        .call(request(
            RequestCode::GetBrokerConsumeStats,
            &[("isOrder", "false")],
        ))
        .await;
    assert_eq!(r.code, 0, "{r:?}");
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(text.contains(r#"{"gLag":[{"consumeTps":"#), "{text}");
    assert!(
        text.contains(r#""brokerOffset":3,"consumerOffset":1"#),
        "{text}"
    );
    assert!(text.ends_with(r#""totalDiff":2}"#), "{text}");
    let r = c
        .call(request(
            RequestCode::GetBrokerConsumeStats,
            &[("isOrder", "true")],
        ))
        .await;
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(text.contains(r#""consumeStatsList":[]"#), "{text}");
    c.shutdown().await;
}

#[tokio::test]
async fn consumer_status_gathers_each_clients_offsets() {
    let c = Cluster::start().await;
    let consumer = FakeConsumer::join(&c, "gStatus", "s@1", 409).await;
    let ask = |client: &str| {
        request(
            RequestCode::InvokeBrokerToGetConsumerStatus,
            &[
                ("topic", TOPIC),
                ("group", "gStatus"),
                ("clientAddr", client),
            ],
        )
    };
    let r = c.call(ask("")).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"consumerTable":{"s@1":{{"brokerName":"b","queueId":0,"topic":"ManageTopic"}:5}},"messageQueueTable":{}}"#
    );
    let asked = consumer.pushed(RequestCode::GetConsumerStatusFromClient);
    assert_eq!(asked[0].ext_fields.get("topic"), Some(TOPIC));
    // Another client id: nobody asked, an empty table.
    let r = c.call(ask("other@1")).await;
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"consumerTable":{},"messageQueueTable":{}}"#
    );
    let r = c
        .call(request(
            RequestCode::InvokeBrokerToGetConsumerStatus,
            &[("topic", TOPIC), ("group", "nobody")],
        ))
        .await;
    assert_eq!(r.response_code(), ResponseCode::SystemError);
    c.shutdown().await;
}
