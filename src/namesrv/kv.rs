//! KV config (namespace → key → value), persisted to `kvConfig.json` on every change.
//! File form is Java's KVConfigSerializeWrapper: `{"configTable":{"ns":{"k":"v"}}}`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

type Table = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct KvFile {
    #[serde(default)]
    config_table: Table,
}

pub struct KvConfigManager {
    path: PathBuf,
    table: RwLock<Table>,
    /// Serialises writers of the file so an older snapshot never replaces a newer one.
    persist_lock: Mutex<()>,
}

impl KvConfigManager {
    /// Loads the file if present. A corrupt file is an error (never silently emptied).
    pub fn load(path: PathBuf) -> std::io::Result<Self> {
        let table = match std::fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Table::new(),
            Ok(bytes) => {
                let file: KvFile = crate::protocol::lenient::from_slice(&bytes).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
                file.config_table
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Table::new(),
            Err(e) => return Err(e),
        };
        Ok(KvConfigManager {
            path,
            table: RwLock::new(table),
            persist_lock: Mutex::new(()),
        })
    }

    pub fn put(&self, namespace: &str, key: &str, value: &str) -> std::io::Result<()> {
        self.table
            .write()
            .entry(namespace.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned());
        self.persist()
    }

    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.table
            .read()
            .get(namespace)
            .and_then(|ns| ns.get(key))
            .cloned()
    }

    /// Returns whether the key existed.
    pub fn delete(&self, namespace: &str, key: &str) -> std::io::Result<bool> {
        let removed = {
            let mut t = self.table.write();
            let removed = t.get_mut(namespace).and_then(|ns| ns.remove(key)).is_some();
            if t.get(namespace).is_some_and(BTreeMap::is_empty) {
                t.remove(namespace);
            }
            removed
        };
        if removed {
            self.persist()?;
        }
        Ok(removed)
    }

    pub fn list(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.table.read().get(namespace).cloned()
    }

    fn persist(&self) -> std::io::Result<()> {
        let _guard = self.persist_lock.lock();
        let snapshot = KvFile {
            config_table: self.table.read().clone(),
        };
        let json = serde_json::to_string_pretty(&snapshot).map_err(std::io::Error::other)?;
        crate::config_file::write_atomic(&self.path, &json)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn persists_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/kvConfig.json");
        let kv = KvConfigManager::load(path.clone()).unwrap();
        kv.put("ORDER_TOPIC_CONFIG", "T1", "broker-a:4").unwrap();
        kv.put("ns", "k", "v").unwrap();
        assert!(kv.delete("ns", "k").unwrap());
        assert!(!kv.delete("ns", "k").unwrap());
        let again = KvConfigManager::load(path.clone()).unwrap();
        assert_eq!(
            again.get("ORDER_TOPIC_CONFIG", "T1").as_deref(),
            Some("broker-a:4")
        );
        assert!(again.list("ns").is_none());
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("configTable"));
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(KvConfigManager::load(path).is_err());
    }
}
