//! The `mqnamesrv` binary: `-p`, unknown-property warnings, a readable error when the port
//! is taken, and clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mqnamesrv");

fn conf(dir: &tempfile::TempDir, port: u16, extra: &str) -> std::path::PathBuf {
    let path = dir.path().join("namesrv.conf");
    let kv = dir.path().join("kv.json");
    std::fs::write(
        &path,
        format!(
            "listenPort={port}\nbindAddress=127.0.0.1\nkvConfigPath={}\n{extra}",
            kv.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn print_config_shows_file_values_and_warns_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let path = conf(&dir, 19999, "orderMessageEnable=true\nnotARealKey=1\n");
    let out = Command::new(BIN)
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("listenPort=19999\n"), "{stdout}");
    assert!(stdout.contains("orderMessageEnable=true\n"));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string() + &stdout;
    assert!(
        stderr.contains("notARealKey"),
        "unknown property warned: {stderr}"
    );
}

#[test]
fn port_in_use_is_one_line_and_exit_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = conf(&dir, port, "");
    let out = Command::new(BIN)
        .arg("-c")
        .arg(&path)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on port {port}")),
        "{stderr}"
    );
}

#[test]
fn bad_config_value_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = conf(&dir, 1, "scanNotActiveBrokerInterval=soon\n");
    let out = Command::new(BIN).arg("-c").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scanNotActiveBrokerInterval"));
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = conf(&dir, 0, ""); // it picks a port and says which in its boot line
    let mut child = Command::new(BIN)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("boot success"), "{line}");
    let port: u16 = line
        .rsplit(':')
        .next()
        .map(|tail| tail.trim().trim_end_matches(|c: char| !c.is_ascii_digit()))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "{st:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "mqnamesrv did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
