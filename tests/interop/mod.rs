//! Drives the official Apache RocketMQ C++ client (rocketmq-client-cpp, as bundled by the
//! PyPI package `rocketmq` 0.4.4) from Rust tests through `tests/interop/cpp_consumer.py`:
//! finds a Python that can import it, runs the consumer script with its own HOME (the C++
//! client logs under `$HOME/logs/rocketmq-cpp`), and collects the JSON lines it prints.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/cpp_consumer.py");

/// The Python of the C++ client venv: `FERRUMQ_CPP_CLIENT_PYTHON`, else
/// `$CONFORMANCE_VENV/bin/python`, else `${XDG_CACHE_HOME:-$HOME/.cache}/ferrumq-conformance/
/// venv/bin/python` (where `scripts/cpp-client-venv` and the conformance kit put it), if
/// `import rocketmq.client` works there.
pub fn find_python() -> Result<PathBuf, String> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let python = if let Some(p) = var("FERRUMQ_CPP_CLIENT_PYTHON") {
        PathBuf::from(p)
    } else if let Some(v) = var("CONFORMANCE_VENV") {
        PathBuf::from(v).join("bin/python")
    } else {
        let cache = var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .ok_or("neither XDG_CACHE_HOME nor HOME is set")?;
        cache.join("ferrumq-conformance/venv/bin/python")
    };
    let home = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let out = Command::new(&python)
        .args(["-c", "import rocketmq.client"])
        .env("HOME", home.path())
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default();
        return Err(format!(
            "{}: `import rocketmq.client` failed: {last}",
            python.display()
        ));
    }
    Ok(python)
}

/// The Python to use, or `None` after a loud skip line; with `FERRUMQ_REQUIRE_INTEROP=1`
/// (CI) a missing client fails the test instead.
pub fn python_or_skip(test: &str) -> Option<PathBuf> {
    match find_python() {
        Ok(p) => Some(p),
        Err(why) if std::env::var("FERRUMQ_REQUIRE_INTEROP").as_deref() == Ok("1") => {
            panic!(
                "FERRUMQ_REQUIRE_INTEROP=1 but the C++ client venv is not usable ({why}); \
                 run scripts/cpp-client-venv"
            )
        }
        Err(why) => {
            // Straight to the process's stderr: libtest captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** {test}: skipped: C++ client venv not found (run scripts/cpp-client-venv): \
                 {why} ***\n"
            );
            None
        }
    }
}

/// What the consumer script is asked to do.
pub struct CppConsumerArgs<'a> {
    pub namesrv: &'a str,
    pub group: &'a str,
    pub topic: &'a str,
    /// User property names to report.
    pub props: &'a [&'a str],
    /// Stop by itself after this many deliveries (and a short linger for duplicates).
    pub expect: Option<usize>,
}

/// A running `cpp_consumer.py`; killed when dropped (a failed test leaves nothing behind).
pub struct CppConsumer {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Every JSON line printed so far, in order.
    events: Arc<Mutex<Vec<Value>>>,
    /// Lines that were not JSON, and stderr.
    noise: Arc<Mutex<String>>,
    home: tempfile::TempDir,
}

impl CppConsumer {
    /// Starts the script and returns once the C++ consumer has started.
    pub async fn start(python: &Path, a: CppConsumerArgs<'_>) -> CppConsumer {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(python);
        cmd.arg(SCRIPT)
            .args([
                "--namesrv",
                a.namesrv,
                "--group",
                a.group,
                "--topic",
                a.topic,
            ])
            .args(["--props", &a.props.join(","), "--timeout", "300"])
            .env("HOME", home.path())
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(n) = a.expect {
            cmd.args(["--expect", &n.to_string(), "--linger", "2"]);
        }
        let mut child = cmd.spawn().unwrap();
        let (events, noise): (Arc<Mutex<Vec<Value>>>, Arc<Mutex<String>>) = Default::default();
        let stdout = child.stdout.take().unwrap();
        let (ev, no) = (events.clone(), noise.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) if v.is_object() => ev.lock().unwrap().push(v),
                    _ => no.lock().unwrap().push_str(&format!("{line}\n")),
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let no = noise.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            no.lock().unwrap().push_str(&s);
        });
        let mut c = CppConsumer {
            stdin: child.stdin.take(),
            child,
            events,
            noise,
            home,
        };
        c.wait_event("started", Duration::from_secs(60)).await;
        c
    }

    /// Waits for an event, failing (with the script's output) if it exits or the deadline
    /// passes first.
    async fn wait_event(&mut self, event: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.events().iter().any(|e| e["event"] == event) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "cpp_consumer.py exited ({status}) before {event:?}: {}",
                    self.diag()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {event:?} from cpp_consumer.py within {limit:?}: {}",
                self.diag()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// The deliveries so far ("message" events).
    pub fn messages(&self) -> Vec<Value> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| e["event"] == "message")
            .cloned()
            .collect()
    }

    /// The script's non-JSON output and stderr, and the tail of the C++ client's log.
    pub fn diag(&self) -> String {
        format!(
            "\n--- script output ---\n{}\n--- C++ client log (tail) ---\n{}",
            self.noise.lock().unwrap(),
            self.log_tail(30)
        )
    }

    fn log_tail(&self, n: usize) -> String {
        let dir = self.home.path().join("logs/rocketmq-cpp");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        let Some(last) = files.last() else {
            return format!("(no log in {})", dir.display());
        };
        let text = String::from_utf8_lossy(&std::fs::read(last).unwrap_or_default()).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Waits until the script has stopped on its own (`--expect`), then returns every delivery.
    pub async fn finished(mut self) -> Vec<Value> {
        self.wait_event("stopped", Duration::from_secs(60)).await;
        self.reap().await
    }

    /// Asks the script to stop (closes its stdin): the consumer shuts down cleanly. Returns
    /// every delivery.
    pub async fn stop(mut self) -> Vec<Value> {
        drop(self.stdin.take());
        self.wait_event("stopped", Duration::from_secs(60)).await;
        self.reap().await
    }

    async fn reap(&mut self) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "cpp_consumer.py: {status}: {}",
                    self.diag()
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "cpp_consumer.py did not exit after it stopped: {}",
                self.diag()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let errors: Vec<Value> = self
            .events()
            .into_iter()
            .filter(|e| e["event"] == "error")
            .collect();
        assert!(
            errors.is_empty(),
            "the C++ consumer callback failed: {errors:?}"
        );
        self.messages()
    }
}

impl Drop for CppConsumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The queue ids of `topic` in a GET_CONSUMER_RUNNING_INFO body of the C++ client. Its
/// `mqTable` has JSON objects as keys (`{"brokerName":…,"queueId":…,"topic":…}:{…}`), which no
/// JSON parser takes, so each key object is cut out and parsed alone; queues whose process
/// queue is marked dropped are left out.
pub fn running_info_queues(body: &str, topic: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    let mut rest = body;
    while let Some(at) = rest.find("\"queueId\"") {
        let (Some(open), Some(close)) = (rest[..at].rfind('{'), rest[at..].find('}')) else {
            break;
        };
        let close = at + close;
        let key: Value = serde_json::from_str(&rest[open..=close]).unwrap_or_default();
        rest = &rest[close + 1..];
        // The value object follows the key: {"droped": false, ...}.
        let dropped = match (rest.find('{'), rest.find('}')) {
            (Some(o), Some(c)) if o < c => {
                let v: Value = serde_json::from_str(&rest[o..=c]).unwrap_or_default();
                v["droped"] == true || v["dropped"] == true
            }
            _ => false,
        };
        if key["topic"] == topic && !dropped {
            if let Some(q) = key["queueId"].as_i64() {
                out.insert(q as i32);
            }
        }
    }
    out
}

#[test]
fn running_info_queues_reads_the_cpp_mq_table() {
    let body = r#"{"mqTable":{{
   "brokerName" : "b1",
   "queueId" : 0,
   "topic" : "TT"
}:{
   "commitOffset" : "1",
   "droped" : false
}
,{"brokerName":"b1","queueId":3,"topic":"TT"}:{"droped":true}
,{"brokerName":"b1","queueId":0,"topic":"%RETRY%g"}:{"droped":false}
,{"brokerName":"b1","queueId":5,"topic":"TT"}:{"droped":false}
},"jstack":"","subscriptionSet":[{"subString":"*","topic":"TT"}]}"#;
    assert_eq!(running_info_queues(body, "TT"), BTreeSet::from([0, 5]));
}
