//! Process test: timer messages with the real binaries. Messages scheduled a few seconds
//! ahead, `kill -9` of the broker before and while they fall due, restart on the same store:
//! every acknowledged timer message is delivered, none before its time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrumq::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use process_util::{start_broker, start_namesrv};

mod process_util;

const TOPIC: &str = "TimerKill9";
const MESSAGES: i64 = 200;
const TIMEOUT: Duration = Duration::from_secs(10);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn req(code: RequestCode, fields: &[(&str, String)]) -> RemotingCommand {
    RemotingCommand::new_request(
        code,
        fields.iter().map(|(k, v)| (k, v)).collect::<ExtFields>(),
    )
}

/// body → (due, store time) of every message delivered on queue 0.
async fn delivered(client: &RemotingClient, addr: &str) -> BTreeMap<String, Vec<(i64, i64)>> {
    let mut seen: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    let mut offset = 0i64;
    loop {
        let pull = req(
            RequestCode::PullMessage,
            &[
                ("consumerGroup", "tcheck".into()),
                ("topic", TOPIC.into()),
                ("queueId", "0".into()),
                ("queueOffset", offset.to_string()),
                ("maxMsgNums", "32".into()),
                ("sysFlag", "4".into()),
                ("commitOffset", "0".into()),
                ("suspendTimeoutMillis", "0".into()),
                ("subscription", "*".into()),
                ("subVersion", "0".into()),
            ],
        );
        let Ok(r) = client.invoke(addr, pull, TIMEOUT).await else {
            return seen;
        };
        if r.response_code() != ResponseCode::Success {
            return seen;
        }
        for m in ferrumq_store::message::decode_records(&r.body).unwrap() {
            let due = ferrumq_store::message::find_property(m.properties, "TIMER_OUT_MS")
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            seen.entry(String::from_utf8_lossy(m.body).into_owned())
                .or_default()
                .push((due, m.store_timestamp_ms));
        }
        offset = r
            .ext_fields
            .get("nextBeginOffset")
            .unwrap()
            .parse()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timer_messages_survive_kill9_and_are_never_early() {
    let dir = tempfile::tempdir().unwrap();
    let (_namesrv, ns_port) = start_namesrv(dir.path());
    let extra = "flushDiskType=SYNC_FLUSH";
    let (broker, port) = start_broker(dir.path(), ns_port, extra);
    let client = RemotingClient::new(ClientConfig::default());
    let addr = format!("127.0.0.1:{port}");
    // Due from 1.5 s to 3.5 s from now: the first kill lands before any is due.
    let start = now_ms() + 1_500;
    for i in 0..MESSAGES {
        let due = start + i * 10;
        let props = format!("TIMER_DELIVER_MS\u{1}{due}");
        let send = req(
            RequestCode::SendMessage,
            &[
                ("producerGroup", "tpg".into()),
                ("topic", TOPIC.into()),
                ("defaultTopic", "TBW102".into()),
                ("defaultTopicQueueNums", "1".into()),
                ("queueId", "0".into()),
                ("sysFlag", "0".into()),
                ("bornTimestamp", "0".into()),
                ("flag", "0".into()),
                ("properties", props),
            ],
        )
        .with_body(format!("m{i:04}").into_bytes());
        let r = client.invoke(&addr, send, TIMEOUT).await.unwrap();
        assert_eq!(r.code, 0, "{r:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(broker); // SIGKILL before anything is due

    let (broker, _) = start_broker(dir.path(), ns_port, extra);
    // Kill again while they fall due.
    tokio::time::sleep(Duration::from_millis(
        (start + 1_000 - now_ms()).max(0) as u64
    ))
    .await;
    drop(broker);
    let (_broker, port) = start_broker(dir.path(), ns_port, extra);
    let addr = format!("127.0.0.1:{port}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        let seen = delivered(&client, &addr).await;
        if seen.len() as i64 == MESSAGES || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for i in 0..MESSAGES {
        let body = format!("m{i:04}");
        let copies = seen.get(&body).unwrap_or_else(|| panic!("{body} lost"));
        for (due, stored) in copies {
            assert!(
                stored >= due,
                "{body} delivered at {stored}, due {due}: early"
            );
        }
    }
}
