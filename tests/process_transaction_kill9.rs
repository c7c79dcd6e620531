//! Process test: transactional messages with the real binaries, `kill -9` of the broker while
//! END_TRANSACTION requests stream in, restart on the same store, then every decision sent
//! again (what producers do when the restarted broker checks them). Every committed message
//! must be delivered exactly once, no rolled-back one ever.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrumq::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use process_util::{start_broker, start_namesrv};

mod process_util;

const TOPIC: &str = "TxKill9";
const QUEUES: i32 = 4;
const MESSAGES: usize = 240;
const TIMEOUT: Duration = Duration::from_secs(10);

fn req(code: RequestCode, fields: &[(&str, String)]) -> RemotingCommand {
    RemotingCommand::new_request(
        code,
        fields.iter().map(|(k, v)| (k, v)).collect::<ExtFields>(),
    )
}

/// (uniq, table offset, physical offset) of a stored half message.
type Half = (String, i64, i64);

async fn send_half(client: &RemotingClient, addr: &str, i: usize) -> Half {
    let uniq = format!("TX{i:05}");
    let props = format!("TRAN_MSG\u{1}true\u{2}PGROUP\u{1}txpg\u{2}UNIQ_KEY\u{1}{uniq}");
    let r = client
        .invoke(
            addr,
            req(
                RequestCode::SendMessage,
                &[
                    ("producerGroup", "txpg".into()),
                    ("topic", TOPIC.into()),
                    ("defaultTopic", "TBW102".into()),
                    ("defaultTopicQueueNums", QUEUES.to_string()),
                    ("queueId", (i as i32 % QUEUES).to_string()),
                    ("sysFlag", "4".into()),
                    ("bornTimestamp", "0".into()),
                    ("flag", "0".into()),
                    ("properties", props),
                ],
            )
            .with_body(format!("body-{uniq}").into_bytes()),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(r.code, 0, "{r:?}");
    let msg_id = r.ext_fields.get("msgId").unwrap();
    let (_, physical) = ferrumq_store::decode_offset_msg_id(msg_id).unwrap();
    let table: i64 = r.ext_fields.get("queueOffset").unwrap().parse().unwrap();
    (uniq, table, physical)
}

/// Commit two of three, roll back the third.
fn decision(i: usize) -> i32 {
    if i % 3 == 2 {
        12
    } else {
        8
    }
}

fn end(h: &Half, decision: i32) -> RemotingCommand {
    req(
        RequestCode::EndTransaction,
        &[
            ("producerGroup", "txpg".into()),
            ("tranStateTableOffset", h.1.to_string()),
            ("commitLogOffset", h.2.to_string()),
            ("commitOrRollback", decision.to_string()),
            ("msgId", h.0.clone()),
        ],
    )
}

/// Every body delivered on the topic, with how often.
async fn delivered(client: &RemotingClient, addr: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for q in 0..QUEUES {
        let mut offset = 0i64;
        loop {
            let r = client
                .invoke(
                    addr,
                    req(
                        RequestCode::PullMessage,
                        &[
                            ("consumerGroup", "txcheck".into()),
                            ("topic", TOPIC.into()),
                            ("queueId", q.to_string()),
                            ("queueOffset", offset.to_string()),
                            ("maxMsgNums", "32".into()),
                            ("sysFlag", "4".into()),
                            ("commitOffset", "0".into()),
                            ("suspendTimeoutMillis", "0".into()),
                            ("subscription", "*".into()),
                            ("subVersion", "0".into()),
                        ],
                    ),
                    TIMEOUT,
                )
                .await
                .unwrap();
            if r.response_code() != ResponseCode::Success {
                break;
            }
            for rec in ferrumq_store::message::decode_records(&r.body).unwrap() {
                let body = String::from_utf8_lossy(rec.body).into_owned();
                *seen.entry(body).or_insert(0) += 1;
            }
            offset = r
                .ext_fields
                .get("nextBeginOffset")
                .unwrap()
                .parse()
                .unwrap();
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_commit_lands_once_across_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let (_namesrv, ns_port) = start_namesrv(dir.path());
    let extra = "flushDiskType=SYNC_FLUSH";
    let (broker, port) = start_broker(dir.path(), ns_port, extra);
    let client = RemotingClient::new(ClientConfig::default());
    let addr = format!("127.0.0.1:{port}");
    let mut halves = Vec::new();
    for i in 0..MESSAGES {
        halves.push(send_half(&client, &addr, i).await);
    }

    // Decisions stream in while the broker is killed part-way through.
    let stream = {
        let (client, addr, halves) = (client.clone(), addr.clone(), halves.clone());
        tokio::spawn(async move {
            for (i, h) in halves.iter().enumerate() {
                let _ = client.invoke(&addr, end(h, decision(i)), TIMEOUT).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(60)).await;
    drop(broker); // SIGKILL
    let _ = stream.await;

    let (_broker, port) = start_broker(dir.path(), ns_port, extra);
    let client = RemotingClient::new(ClientConfig::default());
    let addr = format!("127.0.0.1:{port}");
    // Every decision again, twice: the broker must resolve each message once.
    for _ in 0..2 {
        for (i, h) in halves.iter().enumerate() {
            let r = client
                .invoke(&addr, end(h, decision(i)), TIMEOUT)
                .await
                .unwrap();
            assert_eq!(r.code, 0, "{r:?}");
        }
    }
    let mut seen = BTreeMap::new();
    for _ in 0..100 {
        seen = delivered(&client, &addr).await;
        if seen.len() == MESSAGES - MESSAGES / 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (i, (uniq, _, _)) in halves.iter().enumerate() {
        let n = seen.get(&format!("body-{uniq}")).copied().unwrap_or(0);
        let want = usize::from(decision(i) == 8);
        assert_eq!(n, want, "{uniq}: delivered {n} times, want {want}");
    }
}
