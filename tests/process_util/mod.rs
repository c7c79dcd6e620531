//! Shared by the process tests: start the real binaries on ports they pick (listenPort=0)
//! and wait for them.
#![allow(dead_code)]

pub mod ha;
pub mod load;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Waits for the boot line a binary prints on stdout once it listens ("The broker[ip:port]
/// boot success.", "The Name Server boot success. … address ip:port") and returns the port
/// it bound. The servers are configured with `listenPort=0`, so no test races another for a
/// port it probed as free.
fn wait_boot(child: &mut Child) -> u16 {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    // Keeps draining stdout afterwards, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) if line.contains("boot success") => {
                return bound_port(&line).unwrap_or_else(|| panic!("no port in {line:?}"))
            }
            Ok(_) => {}
            Err(_) => {
                assert!(child.try_wait().unwrap().is_none(), "server exited early");
                assert!(!left.is_zero(), "no boot line within 30 s");
            }
        }
    }
}

/// The digits after the last ':' of a boot line.
fn bound_port(line: &str) -> Option<u16> {
    let tail = &line[line.rfind(':')? + 1..];
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Kills the process (SIGKILL) when dropped, so a failed test leaves nothing running.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `bin -c conf` in `dir` (config with `listenPort=0`); returns it once it listens, with
/// the port it bound.
pub fn spawn(bin: &str, conf: &Path, dir: &Path) -> (Proc, u16) {
    let mut child = Command::new(bin)
        .arg("-c")
        .arg(conf)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let port = wait_boot(&mut child);
    (Proc(child), port)
}

/// The `mqnamesrv` binary on a free port, its KV file under `dir`; returns it once listening.
pub fn start_namesrv(dir: &Path) -> (Proc, u16) {
    let conf = dir.join("namesrv.conf");
    std::fs::write(
        &conf,
        format!("listenPort=0\nkvConfigPath={}/kv.json\n", dir.display()),
    )
    .unwrap();
    spawn(env!("CARGO_BIN_EXE_mqnamesrv"), &conf, dir)
}

/// The `mqbroker` binary on a free port with its store under `dir`, registered with the
/// NameServer on `ns_port`; `extra` is appended to its config. Returns it once listening.
pub fn start_broker(dir: &Path, ns_port: u16, extra: &str) -> (Proc, u16) {
    let conf = dir.join("broker.conf");
    std::fs::write(
        &conf,
        format!(
            "brokerClusterName=PC\nbrokerName=b1\nbrokerIP1=127.0.0.1\nlistenPort=0\n\
             namesrvAddr=127.0.0.1:{ns_port}\nstorePathRootDir={}/store\n\
             mappedFileSizeCommitLog=67108864\n{extra}\n",
            dir.display()
        ),
    )
    .unwrap();
    spawn(env!("CARGO_BIN_EXE_mqbroker"), &conf, dir)
}
