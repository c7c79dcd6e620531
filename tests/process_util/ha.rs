//! The replication process tests' brokers: a master/slave pair in folders of their own,
//! restarted in any role on the same store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, TcpStream};

use super::{spawn, Proc};

/// One broker of a master/slave pair (brokerName broker-ha): its folder, process and port.
pub struct Node {
    pub dir: PathBuf,
    pub proc: Option<Proc>,
    pub port: u16,
}

impl Node {
    /// Starts it as `role` (SLAVE: brokerId 1, else 0) on its folder's store.
    pub fn start(&mut self, ns_port: u16, role: &str) {
        self.start_with(ns_port, role, "");
    }

    /// `start` with further properties (`key=value` lines).
    pub fn start_with(&mut self, ns_port: u16, role: &str, extra: &str) {
        let conf = self.dir.join("broker.conf");
        let id = if role == "SLAVE" { 1 } else { 0 };
        std::fs::write(
            &conf,
            format!(
                "brokerClusterName=HaCluster\nbrokerName=broker-ha\nbrokerId={id}\n\
                 brokerRole={role}\nbrokerIP1=127.0.0.1\nlistenPort=0\n\
                 namesrvAddr=127.0.0.1:{ns_port}\nstorePathRootDir={}/store\n\
                 mappedFileSizeCommitLog=1048576\nsyncFlushTimeout=3000\n\
                 registerNameServerPeriod=1000\n{extra}\n",
                self.dir.display()
            ),
        )
        .unwrap();
        let (proc, port) = spawn(env!("CARGO_BIN_EXE_mqbroker"), &conf, &self.dir);
        self.proc = Some(proc);
        self.port = port;
    }

    pub fn kill9(&mut self) {
        drop(self.proc.take()); // SIGKILL and reap
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

pub fn node(root: &Path, name: &str) -> Node {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    Node {
        dir,
        proc: None,
        port: 0,
    }
}

/// A proxy that forwards both ways and can cut every connection it carries.
pub async fn proxy(to: SocketAddr) -> (SocketAddr, tokio::sync::watch::Sender<u32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut_tx, cut_rx) = tokio::sync::watch::channel(0u32);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let mut cut = cut_rx.clone();
            cut.borrow_and_update();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(to).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    _ = cut.changed() => {}
                }
            });
        }
    });
    (addr, cut_tx)
}
