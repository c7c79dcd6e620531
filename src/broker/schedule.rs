//! Delayed messages (wire doc §7.6): a message with DELAY > 0 is stored in
//! SCHEDULE_TOPIC_XXXX queue `level - 1` with REAL_TOPIC/REAL_QID; a scan re-stores each
//! one to its real topic once due. Per-level scan offsets live in `config/delayOffset.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use ferrumq_store::{
    decode_record, encode_properties, parse_properties, GetMessageStatus, MessageToStore, PutStatus,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::clock::BrokerClock;
use super::topic_config::SCHEDULE_TOPIC;
use super::{BrokerError, BrokerInner};
use crate::config_file as json_file;

/// Records examined per level per scan pass.
const SCAN_BATCH: i32 = 32;
const SCAN_BYTES: usize = 4 * 1024 * 1024;

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct DelayOffsetFile {
    offset_table: BTreeMap<i32, i64>,
}

pub struct ScheduleService {
    path: PathBuf,
    levels_ms: Vec<u64>,
    /// level (1-based) → next offset to look at in queue level-1
    offsets: Mutex<BTreeMap<i32, i64>>,
    clock: BrokerClock,
}

/// Moves a message with a DELAY property onto the schedule topic: topic and queue become
/// SCHEDULE_TOPIC_XXXX / level-1, the real ones go to REAL_TOPIC / REAL_QID. Levels above
/// the highest are clamped to it. Returns false when the message is not delayed.
pub fn apply_delay(
    topic: &mut String,
    queue_id: &mut i32,
    props: &mut Vec<(String, String)>,
    max_level: usize,
) -> bool {
    let level = props
        .iter()
        .find(|(k, _)| k == "DELAY")
        .and_then(|(_, v)| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    if level <= 0 || max_level == 0 {
        return false;
    }
    let level = level.min(max_level as i64) as i32;
    props.retain(|(k, _)| k != "REAL_TOPIC" && k != "REAL_QID" && k != "DELAY");
    props.push(("DELAY".to_string(), level.to_string()));
    props.push((
        "REAL_TOPIC".to_string(),
        std::mem::replace(topic, SCHEDULE_TOPIC.to_string()),
    ));
    props.push(("REAL_QID".to_string(), queue_id.to_string()));
    *queue_id = level - 1;
    true
}

impl ScheduleService {
    pub fn load(
        config_dir: PathBuf,
        levels_ms: Vec<u64>,
        clock: BrokerClock,
    ) -> Result<Self, BrokerError> {
        let path = config_dir.join("delayOffset.json");
        let file: DelayOffsetFile = json_file::load(&path)
            .map_err(BrokerError::Config)?
            .unwrap_or_default();
        Ok(Self {
            path,
            levels_ms,
            offsets: Mutex::new(file.offset_table),
            clock,
        })
    }

    /// A slave takes its master's delay-level offsets (GET_ALL_DELAY_OFFSET body).
    pub fn mirror(&self, body: &[u8]) -> Result<(), String> {
        let file: DelayOffsetFile = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        self.offsets.lock().extend(file.offset_table);
        Ok(())
    }

    pub fn max_level(&self) -> usize {
        self.levels_ms.len()
    }

    pub fn encode(&self, pretty: bool) -> String {
        let file = DelayOffsetFile {
            offset_table: self.offsets.lock().clone(),
        };
        let r = if pretty {
            serde_json::to_string_pretty(&file)
        } else {
            serde_json::to_string(&file)
        };
        r.unwrap_or_else(|_| "{\"offsetTable\":{}}".to_string())
    }

    /// Writes delayOffset.json atomically. Blocking.
    pub fn persist(&self) -> std::io::Result<()> {
        json_file::write_atomic(&self.path, &self.encode(true))
    }

    /// One pass over every level: delivers what is due. Blocking (reads the store); run it
    /// on a blocking thread.
    pub fn scan_once(&self, inner: &BrokerInner) {
        for (i, delay_ms) in self.levels_ms.iter().enumerate() {
            let level = i as i32 + 1;
            while self.scan_level(inner, level, *delay_ms as i64) {}
        }
    }

    /// Returns true when a full batch was delivered and more may be due.
    fn scan_level(&self, inner: &BrokerInner, level: i32, delay_ms: i64) -> bool {
        let offset = self.offsets.lock().get(&level).copied().unwrap_or(0);
        let r = inner.store.get_message(
            SCHEDULE_TOPIC,
            level - 1,
            offset,
            SCAN_BATCH,
            SCAN_BYTES,
            &|_| true,
        );
        match r.status {
            GetMessageStatus::Found => {}
            GetMessageStatus::OffsetTooSmall | GetMessageStatus::OffsetOverflowBadly => {
                self.offsets.lock().insert(level, r.next_begin_offset);
                return false;
            }
            _ => return false,
        }
        let now = self.clock.now_ms();
        let mut next = offset;
        for raw in &r.messages {
            let Ok(rec) = decode_record(raw) else {
                tracing::warn!(level, offset = next, "unreadable schedule record skipped");
                next += 1;
                continue;
            };
            let due = rec.store_timestamp_ms + delay_ms;
            // A due time beyond now + delay means the clock moved back: deliver now.
            if due > now && due <= now + delay_ms {
                break;
            }
            if !deliver(inner, raw, &rec) {
                break;
            }
            next = rec.queue_offset + 1;
        }
        let advanced = next > offset;
        if advanced {
            self.offsets.lock().insert(level, next);
        }
        advanced && r.messages.len() as i32 >= SCAN_BATCH
    }
}

/// Re-stores a due message to REAL_TOPIC/REAL_QID, DELAY removed. False if the store
/// refused it (retried on the next pass); a record without REAL_TOPIC is dropped.
fn deliver(inner: &BrokerInner, raw: &Bytes, rec: &ferrumq_store::DecodedRecord<'_>) -> bool {
    let (Some(topic), Some(queue_id)) = (
        rec.property("REAL_TOPIC"),
        rec.property("REAL_QID").and_then(|q| q.parse::<i32>().ok()),
    ) else {
        tracing::warn!(
            offset = rec.queue_offset,
            "schedule record without REAL_TOPIC dropped"
        );
        return true;
    };
    let mut props = parse_properties(rec.properties);
    props.retain(|(k, _)| k != "DELAY" && k != "WAIT");
    let msg = MessageToStore {
        topic: topic.to_string(),
        queue_id,
        flag: rec.flag,
        body: raw.slice_ref(rec.body),
        properties: encode_properties(&props),
        sys_flag: rec.sys_flag,
        born_timestamp_ms: rec.born_timestamp_ms,
        born_host: rec.born_host,
        store_host: rec.store_host,
        reconsume_times: rec.reconsume_times,
        prepared_transaction_offset: 0,
        store_timestamp_ms: None,
    };
    match inner.store.put_message(msg) {
        Ok((r, _)) if r.status == PutStatus::PutOk => true,
        Ok((r, _)) => {
            tracing::warn!(status = ?r.status, topic, "delayed message not delivered yet");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, topic, "delayed message not delivered yet");
            false
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn delay_moves_to_schedule_topic_and_clamps() {
        let mut topic = "T".to_string();
        let mut q = 3;
        let mut props = vec![("DELAY".to_string(), "40".to_string())];
        assert!(apply_delay(&mut topic, &mut q, &mut props, 18));
        assert_eq!((topic.as_str(), q), (SCHEDULE_TOPIC, 17));
        assert!(props.contains(&("REAL_TOPIC".to_string(), "T".to_string())));
        assert!(props.contains(&("REAL_QID".to_string(), "3".to_string())));
        let mut none = vec![("DELAY".to_string(), "0".to_string())];
        assert!(!apply_delay(&mut topic, &mut q, &mut none, 18));
    }
}
