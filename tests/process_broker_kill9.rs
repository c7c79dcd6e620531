//! Process test: the real `mqnamesrv` and `mqbroker` binaries, a SYNC_FLUSH producer,
//! `kill -9` of the broker mid-stream, restart on the same store. Every acknowledged message
//! must be consumed afterwards, once, at the queue offset its send reply named, and every
//! queue's offsets must run 0..n without holes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrumq::protocol::{
    CommandHeader, PullMessageRequestHeader, PullMessageResponseHeader, RemotingCommand,
    RequestCode, ResponseCode, SendMessageRequestHeader, SendMessageResponseHeader,
};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use process_util::{spawn, start_namesrv, Proc};

mod process_util;

const TOPIC: &str = "Kill9Topic";
const QUEUES: i32 = 4;
const PRODUCERS: usize = 8;
const TIMEOUT: Duration = Duration::from_secs(10);

/// Fields drop in order: processes are killed before their folder is removed.
struct Servers {
    broker: Option<Proc>,
    _namesrv: Proc,
    dir: tempfile::TempDir,
    ns_port: u16,
    broker_port: u16,
}

impl Servers {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (namesrv, ns_port) = start_namesrv(dir.path());
        let mut s = Servers {
            dir,
            _namesrv: namesrv,
            broker: None,
            ns_port,
            broker_port: 0,
        };
        s.start_broker();
        s
    }

    fn start_broker(&mut self) {
        let conf = self.dir.path().join("broker.conf");
        // Small CommitLog files, so the stream also crosses file boundaries.
        std::fs::write(
            &conf,
            format!(
                "brokerClusterName=Kill9Cluster\nbrokerName=broker-k\nbrokerIP1=127.0.0.1\n\
                 listenPort=0\nnamesrvAddr=127.0.0.1:{}\nstorePathRootDir={}/store\n\
                 flushDiskType=SYNC_FLUSH\nmappedFileSizeCommitLog=1048576\n",
                self.ns_port,
                self.dir.path().display()
            ),
        )
        .unwrap();
        // A new port at each start: the test asks the binary which one it bound.
        let (broker, port) = spawn(env!("CARGO_BIN_EXE_mqbroker"), &conf, self.dir.path());
        self.broker_port = port;
        self.broker = Some(broker);
    }

    fn kill9_broker(&mut self) {
        drop(self.broker.take()); // Proc's drop: SIGKILL and reap
    }

    fn broker_addr(&self) -> String {
        format!("127.0.0.1:{}", self.broker_port)
    }
}

fn send_request(queue_id: i32, seq: u64) -> RemotingCommand {
    let properties = format!("KEYS\u{1}seq-{seq}\u{2}");
    let header = SendMessageRequestHeader {
        producer_group: "kill9-producer",
        topic: TOPIC.into(),
        default_topic_queue_nums: QUEUES,
        queue_id,
        born_timestamp: Some(0),
        properties: &properties,
        ..Default::default()
    };
    RemotingCommand::new_request(RequestCode::SendMessageV2, header.to_ext(true))
        .with_body(format!("message {seq}").into_bytes())
}

/// (queue id, queue offset) -> body, for every send the broker acknowledged.
type Acked = BTreeMap<(i32, i64), String>;

async fn produce_until_stopped(
    client: RemotingClient,
    addr: String,
    first: u64,
    stop: Arc<AtomicBool>,
) -> Acked {
    let mut acked = Acked::new();
    let mut seq = first;
    while !stop.load(Ordering::Relaxed) {
        let queue_id = (seq % QUEUES as u64) as i32;
        match client
            .invoke(&addr, send_request(queue_id, seq), TIMEOUT)
            .await
        {
            Ok(resp) if resp.response_code() == ResponseCode::Success => {
                let h: SendMessageResponseHeader = resp.decode_header().unwrap();
                assert_eq!(h.queue_id, queue_id);
                acked.insert((queue_id, h.queue_offset), format!("message {seq}"));
            }
            // Failures after the kill are expected; they were never acknowledged.
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
        seq += PRODUCERS as u64;
    }
    acked
}

/// Every message of a queue, in offset order, read from offset 0 until the end.
async fn read_queue(client: &RemotingClient, addr: &str, queue_id: i32) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let header = PullMessageRequestHeader {
            consumer_group: "kill9-check".into(),
            topic: TOPIC.into(),
            queue_id,
            queue_offset: offset,
            max_msg_nums: 32,
            sys_flag: 0x4, // subscription in the request, no suspend
            commit_offset: 0,
            suspend_timeout_millis: 0,
            subscription: Some("*".into()),
            sub_version: 0,
            expression_type: Some("TAG".into()),
            max_msg_bytes: None,
        };
        let req = RemotingCommand::new_request(RequestCode::PullMessage, header.to_ext());
        let resp = client.invoke(addr, req, TIMEOUT).await.unwrap();
        let h: PullMessageResponseHeader = resp.decode_header().unwrap();
        match resp.response_code() {
            ResponseCode::Success => {
                for rec in ferrumq_store::message::decode_records(&resp.body).unwrap() {
                    out.push((
                        rec.queue_offset,
                        String::from_utf8_lossy(rec.body).into_owned(),
                    ));
                }
                offset = h.next_begin_offset;
            }
            ResponseCode::PullNotFound => return out,
            other => panic!(
                "pull of queue {queue_id} at {offset}: {other:?} {:?}",
                resp.remark
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_kill9() {
    let mut servers = Servers::start();
    let addr = servers.broker_addr();
    let client = RemotingClient::new(ClientConfig::default());

    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|i| {
            tokio::spawn(produce_until_stopped(
                client.clone(),
                addr.clone(),
                i as u64,
                stop.clone(),
            ))
        })
        .collect();
    // Let a few thousand sends through (and several CommitLog files fill), then kill.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    servers.kill9_broker();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Acked::new();
    for p in producers {
        acked.extend(p.await.unwrap());
    }
    assert!(
        acked.len() > 100,
        "too few sends acknowledged before the kill: {}",
        acked.len()
    );

    eprintln!("{} sends acknowledged before kill -9", acked.len());
    servers.start_broker();
    let addr = servers.broker_addr(); // restarted on a port of its own choosing
    let client = RemotingClient::new(ClientConfig::default());
    let mut stored: HashMap<(i32, i64), String> = HashMap::new();
    for queue_id in 0..QUEUES {
        let messages = read_queue(&client, &addr, queue_id).await;
        for (i, (offset, body)) in messages.into_iter().enumerate() {
            assert_eq!(
                offset, i as i64,
                "queue {queue_id} has a hole or repeat at {i}"
            );
            stored.insert((queue_id, offset), body);
        }
    }
    for ((queue_id, offset), body) in &acked {
        assert_eq!(
            stored.get(&(*queue_id, *offset)),
            Some(body),
            "acknowledged message at queue {queue_id} offset {offset} lost or changed"
        );
    }
    // Each message stored once: no body appears at two offsets.
    let mut bodies: Vec<_> = stored.values().collect();
    let total = bodies.len();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), total, "a message was stored twice");
}
