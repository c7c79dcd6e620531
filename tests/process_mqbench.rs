//! `mqbench` against the real `mqnamesrv` and `mqbroker` binaries: what its own sender
//! produced, the SDK's pull consumer reads back whole (`consume --sdk`), and an SDK
//! producer-to-push-consumer run (`e2e --sdk`) receives every message once.

use std::process::{Command, Output};

use process_util::{start_broker, start_namesrv};

mod process_util;

fn mqbench(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_mqbench"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "mqbench {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The summary's "messages N ok, F failed" and the check line's "gaps G, duplicates D".
fn summary(o: &Output) -> (u64, u64, String) {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = out
        .lines()
        .find(|l| l.starts_with("messages"))
        .unwrap_or_else(|| panic!("no summary in {out}"));
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(',').parse().ok())
        .collect();
    let check = out
        .lines()
        .find(|l| l.starts_with("check"))
        .unwrap_or_default()
        .to_string();
    (nums[0], nums[1], check)
}

#[test]
fn the_sdk_consumers_read_back_every_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_ns, ns_port) = start_namesrv(dir.path());
    let (_broker, _) = start_broker(dir.path(), ns_port, "");
    let ns = format!("127.0.0.1:{ns_port}");

    let (ok, failed, _) = summary(&mqbench(&[
        "produce",
        "-n",
        &ns,
        "-t",
        "BenchSdk",
        "--messages",
        "2000",
        "-s",
        "256",
    ]));
    assert_eq!((ok, failed), (2000, 0));
    let o = mqbench(&["consume", "-n", &ns, "-t", "BenchSdk", "--sdk"]);
    let (ok, failed, check) = summary(&o);
    assert_eq!((ok, failed), (2000, 0));
    assert_eq!(
        check,
        "check         1 runs, gaps 0, duplicates 0, foreign bodies 0"
    );

    let o = mqbench(&[
        "e2e",
        "-n",
        &ns,
        "-t",
        "BenchSdk",
        "--messages",
        "1000",
        "--sdk",
        "-g",
        "e2e-sdk",
    ]);
    let (ok, failed, check) = summary(&o);
    // Only this run's messages: the group starts at the queues' ends.
    assert_eq!((ok, failed), (1000, 0));
    assert_eq!(
        check,
        "check         1 runs, gaps 0, duplicates 0, foreign bodies 0"
    );
}
