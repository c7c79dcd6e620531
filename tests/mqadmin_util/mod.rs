//! Shared by the `mqadmin` process tests: run the binary, read its output, check that a
//! failure is one line on stderr and a non-zero exit.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrumq::client::{ConsumeResult, PushConsumer};

// Every test that includes this module also includes process_util.
use crate::process_util::{start_broker, start_namesrv, Proc};

/// Runs `mqadmin args` with NAMESRV_ADDR unset (or set to `namesrv_env`).
pub fn mqadmin(args: &[&str], namesrv_env: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mqadmin"));
    cmd.args(args).env_remove("NAMESRV_ADDR");
    if let Some(ns) = namesrv_env {
        cmd.env("NAMESRV_ADDR", ns);
    }
    cmd.output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `mqadmin args` in `dir` (for commands that write files under the working
/// directory); it must succeed. Returns its stdout.
pub fn ok_in(dir: &std::path::Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_mqadmin"))
        .args(args)
        .env_remove("NAMESRV_ADDR")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    stdout(&o)
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(args: &[&str]) -> String {
    let o = mqadmin(args, None);
    assert!(
        o.status.success(),
        "{args:?} failed: {}{}",
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

/// Runs a command that must succeed and print one JSON document.
pub fn json(args: &[&str]) -> serde_json::Value {
    let out = ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

/// Runs a command that must fail: non-zero exit, exactly one line on stderr starting
/// `mqadmin: `, no panic. Returns that line.
pub fn fails(args: &[&str]) -> String {
    let o = mqadmin(args, None);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded: {}", stdout(&o));
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("mqadmin: "), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    err.trim_end().to_string()
}

/// Polls `cond` every 100 ms, at most 100 times (no timing is asserted: only that the
/// state is reached at all).
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("never reached: {what}");
}

/// The first line of `out`.
pub fn header(out: &str) -> &str {
    out.lines().next().unwrap_or_default()
}

/// Creates `topic` on cluster PC with `queues` read and write queues, then waits until the
/// NameServer routes it.
pub fn create_topic(ns: &str, topic: &str, queues: &str) {
    ok(&[
        "updateTopic",
        "-n",
        ns,
        "-c",
        "PC",
        "-t",
        topic,
        "-r",
        queues,
        "-w",
        queues,
    ]);
    eventually("topic routed", || {
        mqadmin(&["topicRoute", "-n", ns, "-t", topic], None)
            .status
            .success()
    });
}

/// Starts a push consumer of `group` on `topic` that only counts the messages it consumes.
pub async fn start_counting_consumer(
    ns: &str,
    group: &str,
    topic: &str,
) -> (PushConsumer, Arc<AtomicUsize>) {
    let got = Arc::new(AtomicUsize::new(0));
    let seen = got.clone();
    let consumer = PushConsumer::builder(ns)
        .group(group)
        .subscribe(topic, "*")
        .start(move |_| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    (consumer, got)
}

/// Waits until `consumer` has been assigned `queues` queues of `topic`.
pub fn eventually_owns(consumer: &PushConsumer, topic: &str, queues: usize) {
    eventually("consumer owns the queues", || {
        consumer
            .assigned()
            .iter()
            .filter(|q| q.topic == topic)
            .count()
            == queues
    });
}

/// A NameServer and a broker; dropping this stops them, the broker first (field order).
pub struct Servers {
    _broker: Proc,
    _namesrv: Proc,
}

/// Starts a NameServer and a broker (cluster PC, broker b1) under `dir`; returns them with
/// the NameServer's and the broker's `ip:port`.
pub fn start_servers(dir: &std::path::Path) -> (Servers, String, String) {
    let (namesrv, ns_port) = start_namesrv(dir);
    let (broker, port) = start_broker(dir, ns_port, "");
    let servers = Servers {
        _broker: broker,
        _namesrv: namesrv,
    };
    (
        servers,
        format!("127.0.0.1:{ns_port}"),
        format!("127.0.0.1:{port}"),
    )
}
