//! The `mqbroker` binary under peers that misbehave (issue 9): a flood of unpaced oneway
//! sends is stored whole (the broker stops reading instead of dropping), and a peer that
//! pipelines pulls and never reads the replies costs bounded memory and is disconnected
//! while other clients are served.

mod process_util;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrumq::protocol::{ExtFields, RemotingCommand, RequestCode};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use process_util::{start_broker, start_namesrv};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(10);

fn req(code: RequestCode, fields: &[(&str, String)]) -> RemotingCommand {
    let ext: ExtFields = fields.iter().map(|(k, v)| (k, v)).collect();
    RemotingCommand::new_request(code, ext)
}

fn send(topic: &str, queue_id: i32, body: Vec<u8>) -> RemotingCommand {
    req(
        RequestCode::SendMessage,
        &[
            ("producerGroup", "pg".into()),
            ("topic", topic.into()),
            ("defaultTopic", "TBW102".into()),
            ("defaultTopicQueueNums", "4".into()),
            ("queueId", queue_id.to_string()),
            ("sysFlag", "0".into()),
            ("bornTimestamp", "0".into()),
            ("flag", "0".into()),
        ],
    )
    .with_body(body)
}

async fn max_offset(client: &RemotingClient, addr: &str, topic: &str, queue_id: i32) -> i64 {
    let r = req(
        RequestCode::GetMaxOffset,
        &[("topic", topic.into()), ("queueId", queue_id.to_string())],
    );
    let r = client
        .invoke(addr, r, TIMEOUT)
        .await
        .expect("broker answers");
    r.ext_fields
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(-1)
}

/// Regression: 50,000 unpaced 1 KiB oneway sends on 4 connections stored about 12,000, the
/// rest dropped unseen past the in-flight limit. Every one written to the socket is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneway_flood_is_stored_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (_namesrv, ns_port) = start_namesrv(dir.path());
    let (_broker, port) = start_broker(dir.path(), ns_port, "");
    let addr = format!("127.0.0.1:{port}");
    let client = RemotingClient::new(ClientConfig::default());
    let created = client
        .invoke(&addr, send("Flood", 0, vec![1; 1024]), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(created.code, 0, "{:?}", created.remark);

    let mut conns = Vec::new();
    for q in 0..4 {
        let mut out = BytesMut::new();
        for i in 0..12_500 {
            let mut r = send("Flood", q, vec![2; 1024]);
            r.mark_oneway();
            r.opaque = i;
            r.encode(&mut out);
        }
        let mut s = TcpStream::connect(&addr).await.unwrap();
        conns.push(tokio::spawn(async move {
            s.write_all(&out).await.unwrap();
            s // kept open until the end of the test
        }));
    }
    let mut streams = Vec::new();
    for c in conns {
        streams.push(c.await.unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut stored = 0;
    while Instant::now() < deadline {
        stored = 0;
        for q in 0..4 {
            stored += max_offset(&client, &addr, "Flood", q).await;
        }
        if stored >= 50_001 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        stored, 50_001,
        "every oneway send written to the socket is stored"
    );
    drop(streams);
}

fn rss_anon_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// 10,000 pipelined 256 KiB pulls from a peer that never reads: the broker's anonymous
/// memory stays under 64 MB above idle, the peer is disconnected, others are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_reading_puller_costs_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (_namesrv, ns_port) = start_namesrv(dir.path());
    let (broker, port) = start_broker(dir.path(), ns_port, "");
    let pid = broker.0.id();
    let addr = format!("127.0.0.1:{port}");
    let client = RemotingClient::new(ClientConfig::default());
    for _ in 0..64 {
        let r = client
            .invoke(&addr, send("Big", 0, vec![3; 8192]), TIMEOUT)
            .await
            .unwrap();
        assert_eq!(r.code, 0, "{:?}", r.remark);
    }
    while max_offset(&client, &addr, "Big", 0).await < 64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_kb = rss_anon_kb(pid);

    let mut out = BytesMut::new();
    for i in 0..10_000 {
        let mut r = req(
            RequestCode::PullMessage,
            &[
                ("consumerGroup", "g".into()),
                ("topic", "Big".into()),
                ("queueId", "0".into()),
                ("queueOffset", "0".into()),
                ("maxMsgNums", "32".into()),
                ("sysFlag", "4".into()),
                ("commitOffset", "0".into()),
                ("suspendTimeoutMillis", "0".into()),
                ("subscription", "*".into()),
                ("subVersion", "0".into()),
            ],
        );
        r.opaque = i;
        r.encode(&mut out);
    }
    let mut stalled = TcpStream::connect(&addr).await.unwrap();
    let writer = tokio::spawn(async move {
        let _ = stalled.write_all(&out).await; // fails once the broker hangs up
        stalled
    });
    let mut peak_kb = idle_kb;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        peak_kb = peak_kb.max(rss_anon_kb(pid));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        max_offset(&client, &addr, "Big", 0).await,
        64,
        "others are served"
    );
    let grown_mb = peak_kb.saturating_sub(idle_kb) / 1024;
    println!("RssAnon idle {idle_kb} kB, peak {peak_kb} kB (+{grown_mb} MB)");
    assert!(
        grown_mb < 64,
        "RssAnon grew {grown_mb} MB under a peer that never reads"
    );
    let mut stalled = writer.await.unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        use tokio::io::AsyncReadExt;
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or(false);
    assert!(
        closed,
        "the broker kept the connection of a peer that never reads"
    );
}
