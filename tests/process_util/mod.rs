//! Shared by the process tests: start the real binaries on free ports and wait for them.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago (the binaries take fixed ports from their config).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_listening(port: u16, child: &mut Child) {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "server exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on {port}");
}

/// Kills the process (SIGKILL) when dropped, so a failed test leaves nothing running.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `bin -c conf` in `dir`, output discarded.
pub fn spawn(bin: &str, conf: &Path, dir: &Path) -> Proc {
    Proc(
        Command::new(bin)
            .arg("-c")
            .arg(conf)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The `mqnamesrv` binary on a free port, its KV file under `dir`; returns it once listening.
pub fn start_namesrv(dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let conf = dir.join("namesrv.conf");
    std::fs::write(
        &conf,
        format!(
            "listenPort={port}\nkvConfigPath={}/kv.json\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut namesrv = spawn(env!("CARGO_BIN_EXE_mqnamesrv"), &conf, dir);
    wait_listening(port, &mut namesrv.0);
    (namesrv, port)
}

/// The `mqbroker` binary on a free port with its store under `dir`, registered with the
/// NameServer on `ns_port`; `extra` is appended to its config. Returns it once listening.
pub fn start_broker(dir: &Path, ns_port: u16, extra: &str) -> (Proc, u16) {
    let port = free_port();
    let conf = dir.join("broker.conf");
    std::fs::write(
        &conf,
        format!(
            "brokerClusterName=PC\nbrokerName=b1\nbrokerIP1=127.0.0.1\nlistenPort={port}\n\
             namesrvAddr=127.0.0.1:{ns_port}\nstorePathRootDir={}/store\n\
             mappedFileSizeCommitLog=67108864\n{extra}\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut broker = spawn(env!("CARGO_BIN_EXE_mqbroker"), &conf, dir);
    wait_listening(port, &mut broker.0);
    (broker, port)
}
