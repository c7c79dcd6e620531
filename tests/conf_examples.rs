//! Every example under `conf/` is one the binaries accept (`-p` loads it and prints the
//! effective configuration), and the two-group cluster examples pair each slave with its
//! master: same brokerName, an id above 0, a master with id 0, ports apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("conf" | "properties")
        ) {
            out.push(path);
        }
    }
}

fn effective(bin: &str, file: &Path) -> BTreeMap<String, String> {
    let o = Command::new(bin)
        .arg("-c")
        .arg(file)
        .arg("-p")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{} refused: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn every_example_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let mut all = Vec::new();
    files(&root, &mut all);
    assert!(all.len() >= 10, "{all:?}");
    for f in &all {
        let bin = if f.file_name().is_some_and(|n| n == "namesrv.conf") {
            env!("CARGO_BIN_EXE_mqnamesrv")
        } else {
            env!("CARGO_BIN_EXE_mqbroker")
        };
        effective(bin, f);
    }
}

#[test]
fn cluster_examples_pair_slaves_with_masters() {
    for mode in ["2m-2s-sync", "2m-2s-async"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("conf")
            .join(mode);
        let mut ports = Vec::new();
        for group in ["broker-a", "broker-b"] {
            let m = effective(
                env!("CARGO_BIN_EXE_mqbroker"),
                &dir.join(format!("{group}.properties")),
            );
            let s = effective(
                env!("CARGO_BIN_EXE_mqbroker"),
                &dir.join(format!("{group}-s.properties")),
            );
            assert_eq!(m["brokerName"], group);
            assert_eq!(s["brokerName"], group);
            assert_eq!((m["brokerId"].as_str(), s["brokerId"].as_str()), ("0", "1"));
            let want = if mode.contains("async") {
                "ASYNC_MASTER"
            } else {
                "SYNC_MASTER"
            };
            assert_eq!(
                (m["brokerRole"].as_str(), s["brokerRole"].as_str()),
                (want, "SLAVE")
            );
            assert_ne!(m["storePathRootDir"], s["storePathRootDir"]);
            for cfg in [&m, &s] {
                let p: u16 = cfg["listenPort"].parse().unwrap();
                // The port, its HA port (+1) and the VIP port (-2) of each broker.
                ports.extend([p - 2, p, cfg["haListenPort"].parse().unwrap()]);
            }
        }
        let n = ports.len();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), n, "{mode}: two brokers share a port");
    }
}
