//! Config files under `storePathRootDir/config/`: atomic replacement with a `.bak` copy,
//! and a lenient reader that also takes fastjson's unquoted numeric map keys.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Replaces `path` with `text` so that a crash at any instant leaves either the old or the
/// new content: write `.tmp`, fsync, keep the old file as `.bak`, rename, fsync the folder.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
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
        match serde_json::from_str::<T>(&quote_numeric_keys(&text)) {
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

/// Rewrites fastjson's unquoted numeric object keys (`{0:12,1:7}`) as quoted keys so a
/// strict JSON parser reads them. Text inside strings is left alone.
pub fn quote_numeric_keys(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut expect_key = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
            expect_key = false;
        } else if c == b'{' || c == b',' {
            expect_key = true;
        } else if expect_key && (c.is_ascii_digit() || c == b'-') {
            let end = scan_number_key(bytes, i);
            if let Some(end) = end {
                out.push('"');
                out.push_str(&text[i..end]);
                out.push('"');
                i = end;
                expect_key = false;
                continue;
            }
            expect_key = false;
        } else if !c.is_ascii_whitespace() {
            expect_key = false;
        }
        // Multi-byte UTF-8 is copied byte-wise through the char boundary below.
        let ch_len = utf8_len(c);
        out.push_str(&text[i..(i + ch_len).min(text.len())]);
        i += ch_len;
    }
    out
}

/// If a number starting at `start` is followed (after blanks) by ':', returns its end.
fn scan_number_key(bytes: &[u8], start: usize) -> Option<usize> {
    let mut end = start + 1;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    let mut j = end;
    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
        j += 1;
    }
    (bytes.get(j) == Some(&b':')).then_some(end)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn quotes_unquoted_keys_only_outside_strings() {
        let s = r#"{"offsetTable":{"T@g":{0:12, 1 :7}},"x":"{0:1}","城":{-1:2}}"#;
        let q = quote_numeric_keys(s);
        assert_eq!(
            q,
            r#"{"offsetTable":{"T@g":{"0":12, "1" :7}},"x":"{0:1}","城":{"-1":2}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&q).unwrap();
        assert_eq!(v["offsetTable"]["T@g"]["1"], 7);
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
