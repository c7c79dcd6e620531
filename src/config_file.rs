//! Config and state files (broker `config/*.json`, NameServer `kvConfig.json` and
//! properties): atomic replacement with a `.bak` copy, and a lenient reader that also takes
//! fastjson's unquoted numeric map keys.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Serializes writers: two concurrent writes of one file would share its `.tmp`, and the
/// second rename would fail (ENOENT) after the first moved it. Config writes are rare and
/// small, so one process-wide lock costs nothing.
static WRITE_LOCK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Replaces `path` with `text` so that a crash at any instant leaves either the old or the
/// new content: write `.tmp`, fsync, keep the old file as `.bak`, rename, fsync the folder.
/// Blocking: call it from a blocking thread.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let _one_writer = WRITE_LOCK.lock();
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = with_suffix(path, ".tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    if path.exists() {
        // A copy, not a rename: `path` must exist at every instant for other readers.
        fs::copy(path, with_suffix(path, ".bak"))?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Loads `path` (falling back to `path.bak` when the main file is missing or unreadable).
/// `Ok(None)` when neither exists, so a fresh store starts empty.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    let bak = with_suffix(path, ".bak");
    let mut last_err = None;
    for candidate in [path.to_path_buf(), bak] {
        let text = match fs::read_to_string(&candidate) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                last_err = Some(format!("{}: {e}", candidate.display()));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        match crate::protocol::lenient::from_slice::<T>(text.as_bytes()) {
            Ok(v) => return Ok(Some(v)),
            Err(e) => {
                tracing::warn!(file = %candidate.display(), error = %e, "config file unreadable");
                last_err = Some(format!("{}: {e}", candidate.display()));
            }
        }
    }
    match last_err {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn loads_fastjson_unquoted_keys_but_not_inside_strings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("consumerOffset.json");
        fs::write(
            &p,
            r#"{"offsetTable":{"T@g":{0:12, 1 :7}},"x":"{0:1}","城":{-1:2}}"#,
        )
        .unwrap();
        let v: serde_json::Value = load(&p).unwrap().unwrap();
        assert_eq!(v["offsetTable"]["T@g"]["1"], 7);
        assert_eq!(v["x"], "{0:1}");
        assert_eq!(v["城"]["-1"], 2);
    }

    #[test]
    fn concurrent_writers_of_one_file_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("topics.json");
        std::thread::scope(|scope| {
            for t in 0..8 {
                let p = &p;
                scope.spawn(move || {
                    for i in 0..25 {
                        write_atomic(p, &format!("{{\"w\":{}}}", t * 100 + i)).unwrap();
                    }
                });
            }
        });
        let v: HashMap<String, i32> = load(&p).unwrap().unwrap();
        assert!(
            v["w"] % 100 == 24,
            "the last write of some thread wins: {v:?}"
        );
    }

    #[test]
    fn atomic_write_keeps_bak_and_load_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config").join("a.json");
        write_atomic(&p, r#"{"a":1}"#).unwrap();
        write_atomic(&p, r#"{"a":2}"#).unwrap();
        let v: HashMap<String, i32> = load(&p).unwrap().unwrap();
        assert_eq!(v["a"], 2);
        fs::write(&p, "{garbage").unwrap();
        let v: HashMap<String, i32> = load(&p).unwrap().unwrap();
        assert_eq!(v["a"], 1, "falls back to .bak");
        let missing: Option<HashMap<String, i32>> = load(&dir.path().join("none.json")).unwrap();
        assert!(missing.is_none());
    }
}
