//! Process test of the `mqbroker` binary: `-p`, unknown properties tolerated, a long-polling
//! pull woken by a send, SIGTERM → clean exit (no abort file, offsets on disk), restart.

mod process_util;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use ferrumq::protocol::{RemotingCommand, RequestCode};
use ferrumq::remoting::{ClientConfig, RemotingClient};
use process_util::{spawn, start_namesrv};

const TIMEOUT: Duration = Duration::from_secs(10);

fn req(code: RequestCode, fields: &[(&str, &str)]) -> RemotingCommand {
    RemotingCommand::new_request(
        code,
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn send(topic: &str, body: &[u8]) -> RemotingCommand {
    req(
        RequestCode::SendMessage,
        &[
            ("producerGroup", "pg"),
            ("topic", topic),
            ("defaultTopic", "TBW102"),
            ("defaultTopicQueueNums", "4"),
            ("queueId", "0"),
            ("sysFlag", "0"),
            ("bornTimestamp", "0"),
            ("flag", "0"),
        ],
    )
    .with_body(body.to_vec())
}

fn pull(offset: i64, sys_flag: i32, suspend_ms: u64) -> RemotingCommand {
    req(
        RequestCode::PullMessage,
        &[
            ("consumerGroup", "g"),
            ("topic", "T_proc"),
            ("queueId", "0"),
            ("queueOffset", &offset.to_string()),
            ("maxMsgNums", "32"),
            ("sysFlag", &sys_flag.to_string()),
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", &suspend_ms.to_string()),
            ("subscription", "*"),
            ("subVersion", "0"),
        ],
    )
}

fn query_offset() -> RemotingCommand {
    req(
        RequestCode::QueryConsumerOffset,
        &[
            ("consumerGroup", "g"),
            ("topic", "T_proc"),
            ("queueId", "0"),
        ],
    )
}

async fn wait_dispatched(client: &RemotingClient, addr: &str, n: i64) {
    for _ in 0..500 {
        let r = client.invoke(
            addr,
            req(
                RequestCode::GetMaxOffset,
                &[("topic", "T_proc"), ("queueId", "0")],
            ),
            TIMEOUT,
        );
        let r = r.await.unwrap();
        if r.ext_fields
            .get("offset")
            .and_then(|o| o.parse::<i64>().ok())
            .unwrap_or(0)
            >= n
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never dispatched");
}

fn sigterm_and_wait(child: &mut Child) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "broker did not exit within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_long_poll_sigterm_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (namesrv, ns_port) = start_namesrv(dir.path());

    let conf = dir.path().join("broker.conf");
    std::fs::write(
        &conf,
        format!(
            "brokerClusterName=PC\nbrokerName=b1\nbrokerIP1=127.0.0.1\nlistenPort=0\n\
             namesrvAddr=127.0.0.1:{ns_port}\nstorePathRootDir={}/store\n\
             mappedFileSizeCommitLog=8388608\nnoSuchProperty=42\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let printed = Command::new(env!("CARGO_BIN_EXE_mqbroker"))
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .output()
        .unwrap();
    assert!(printed.status.success());
    assert!(String::from_utf8_lossy(&printed.stdout).contains("listenPort=0"));

    let (mut broker, port) = spawn(env!("CARGO_BIN_EXE_mqbroker"), &conf, dir.path());
    let addr = format!("127.0.0.1:{port}");
    let client = RemotingClient::new(ClientConfig::default());
    assert_eq!(
        client
            .invoke(&addr, send("T_proc", b"one"), TIMEOUT)
            .await
            .unwrap()
            .code,
        0
    );
    wait_dispatched(&client, &addr, 1).await;

    // Held up to 20 s; only the send below can make it answer SUCCESS.
    let (c2, a2) = (client.clone(), addr.clone());
    let held = tokio::spawn(async move {
        c2.invoke(&a2, pull(1, 0x2 | 0x4, 20_000), TIMEOUT * 3)
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "pull was not suspended");
    let sent_at = Instant::now();
    assert_eq!(
        client
            .invoke(&addr, send("T_proc", b"two"), TIMEOUT)
            .await
            .unwrap()
            .code,
        0
    );
    let p = held.await.unwrap().unwrap();
    eprintln!(
        "long-polling pull answered {:?} after the send",
        sent_at.elapsed()
    );
    assert_eq!(p.code, 0, "held pull answered by the send: {:?}", p.remark);

    // Commit an offset through the pull flag, then SIGTERM: it must be on disk.
    let mut commit = pull(2, 0x1 | 0x4, 0);
    commit.ext_fields.insert("commitOffset", "2");
    client.invoke(&addr, commit, TIMEOUT).await.unwrap();
    let status = sigterm_and_wait(&mut broker.0);
    assert!(status.success(), "exit status {status:?}");
    assert!(
        !dir.path().join("store/abort").exists(),
        "abort file left after SIGTERM"
    );
    let offsets =
        std::fs::read_to_string(dir.path().join("store/config/consumerOffset.json")).unwrap();
    assert!(offsets.contains("T_proc@g"), "{offsets}");

    client.close(&addr);
    let (mut broker, port) = spawn(env!("CARGO_BIN_EXE_mqbroker"), &conf, dir.path());
    let addr = format!("127.0.0.1:{port}");
    let r = client.invoke(&addr, query_offset(), TIMEOUT).await.unwrap();
    assert_eq!(r.ext_fields.get("offset"), Some("2"));
    wait_dispatched(&client, &addr, 2).await;
    let p = client
        .invoke(&addr, pull(0, 0x4, 0), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(p.code, 0);
    assert_eq!(sigterm_and_wait(&mut broker.0).code(), Some(0));
    drop(namesrv);
}

/// A bad value stops the broker before it binds anything: non-zero exit, one line on stderr
/// naming the property, the value and the allowed range.
#[test]
fn bad_config_value_stops_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("broker.conf");
    std::fs::write(
        &conf,
        format!(
            "listenPort=0\nstorePathRootDir={}/store\nmappedFileSizeCommitLog=0\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mqbroker"))
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("mappedFileSizeCommitLog=0") && lines[0].contains("65536.."),
        "{err}"
    );
    assert!(
        !dir.path().join("store").exists(),
        "nothing created before refusing"
    );
}
