//! Process test: the real `mqnamesrv` and `mqbroker` binaries, a SYNC_FLUSH producer,
//! `kill -9` of the broker mid-stream, restart on the same store. Every acknowledged message
//! must be consumed afterwards, once, at the queue offset its send reply named, and every
//! queue's offsets must run 0..n without holes.

use std::time::Duration;

use ferrumq::remoting::{ClientConfig, RemotingClient};
use process_util::load::{check_acked, Load};
use process_util::{spawn, start_namesrv, Proc};

mod process_util;

const TOPIC: &str = "Kill9Topic";
const QUEUES: i32 = 4;
const PRODUCERS: usize = 8;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_kill9() {
    let mut servers = Servers::start();
    let addr = servers.broker_addr();
    let client = RemotingClient::new(ClientConfig::default());

    let load = Load::start(&client, &addr, TOPIC, QUEUES, PRODUCERS as u64, 0);
    // Let a few thousand sends through (and several CommitLog files fill), then kill.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    servers.kill9_broker();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let acked = load.finish().await;
    assert!(
        acked.len() > 100,
        "too few sends acknowledged before the kill: {}",
        acked.len()
    );

    eprintln!("{} sends acknowledged before kill -9", acked.len());
    servers.start_broker();
    let addr = servers.broker_addr(); // restarted on a port of its own choosing
    let client = RemotingClient::new(ClientConfig::default());
    check_acked(&client, &addr, TOPIC, QUEUES, &acked).await;
}
