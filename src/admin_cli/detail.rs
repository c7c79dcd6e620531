//! How messages are shown: the message detail block (queryMsgById, queryMsgByUniqueKey,
//! queryMsgByOffset) with its body file and track section, and the `MSGID: … BODY: …`
//! lines of printMsg, printMsgByQueue and consumeMessage (Java's MessageExt.toString).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use super::table::{human_ms, java_map};

/// A stored message as the CLI shows it: the SDK's message detail, with the CLI's
/// renderings below (crate-private, so they stay out of the SDK's API).
pub type Detail = crate::client::MessageDetail;

impl Detail {
    /// Java's `"[" + value + "]"` (`[null]` when absent).
    fn bracketed(&self, name: &str) -> String {
        format!("[{}]", self.property(name).unwrap_or("null"))
    }

    fn properties_string(&self) -> String {
        java_map(
            self.properties
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    /// The fields of the detail block, for `--json`.
    pub(super) fn to_json(&self) -> serde_json::Value {
        let props: serde_json::Map<String, serde_json::Value> = self
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        json!({
            "offsetId": self.offset_msg_id, "msgId": self.msg_id, "topic": self.topic,
            "brokerName": self.broker_name,
            "tags": self.property("TAGS"), "keys": self.property("KEYS"),
            "queueId": self.queue_id, "queueOffset": self.queue_offset,
            "commitLogOffset": self.commit_log_offset, "reconsumeTimes": self.reconsume_times,
            "bornTimestamp": self.born_timestamp_ms, "storeTimestamp": self.store_timestamp_ms,
            "bornHost": self.born_host, "storeHost": self.store_host,
            "sysFlag": self.sys_flag, "properties": props,
            "body": String::from_utf8_lossy(&self.body),
        })
    }

    /// Java's MessageExt.toString (body as signed byte values).
    pub(super) fn message_ext_string(&self) -> String {
        let body: Vec<String> = self.body.iter().map(|b| (*b as i8).to_string()).collect();
        format!(
            "MessageExt [brokerName={}, queueId={}, storeSize={}, queueOffset={}, sysFlag={}, bornTimestamp={}, bornHost=/{}, storeTimestamp={}, storeHost=/{}, msgId={}, commitLogOffset={}, bodyCRC={}, reconsumeTimes={}, preparedTransactionOffset=0, toString()=Message{{topic='{}', flag={}, properties={}, body=[{}], transactionId='null'}}]",
            self.broker_name,
            self.queue_id,
            self.store_size,
            self.queue_offset,
            self.sys_flag,
            self.born_timestamp_ms,
            self.born_host,
            self.store_timestamp_ms,
            self.store_host,
            self.msg_id,
            self.commit_log_offset,
            self.body_crc,
            self.reconsume_times,
            self.topic,
            self.flag,
            self.properties_string(),
            body.join(", ")
        )
    }

    /// `MSGID: <id> <MessageExt> BODY: <text>` (printMsg, consumeMessage).
    pub(super) fn msg_line(&self, print_body: bool) -> String {
        let body = if print_body {
            String::from_utf8_lossy(&self.body).into_owned()
        } else {
            "NOT PRINT BODY".to_string()
        };
        format!(
            "MSGID: {} {} BODY: {body}",
            self.msg_id,
            self.message_ext_string()
        )
    }

    /// Writes the body to `<temp>/rocketmq/msgbodys/<name>`; returns the path.
    fn write_body(&self, name: &str) -> Result<String, String> {
        let dir = std::env::temp_dir().join("rocketmq").join("msgbodys");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(name);
        std::fs::write(&path, &self.body).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path.display().to_string())
    }

    /// The detail block, `"%-20s %s%n"` lines; `with_offset_id` adds the first line.
    pub(super) fn print_block(&self, with_offset_id: bool, body_name: &str) -> Result<(), String> {
        let path = self.write_body(body_name)?;
        let line = |label: &str, value: &dyn std::fmt::Display| println!("{label:<20} {value}");
        if with_offset_id {
            line("OffsetID:", &self.offset_msg_id);
        }
        line("Topic:", &self.topic);
        line("Tags:", &self.bracketed("TAGS"));
        line("Keys:", &self.bracketed("KEYS"));
        line("Queue ID:", &self.queue_id);
        line("Queue Offset:", &self.queue_offset);
        line("CommitLog Offset:", &self.commit_log_offset);
        line("Reconsume Times:", &self.reconsume_times);
        line("Born Timestamp:", &human_ms(self.born_timestamp_ms));
        line("Store Timestamp:", &human_ms(self.store_timestamp_ms));
        line("Born Host:", &self.born_host);
        line("Store Host:", &self.store_host);
        line("System Flag:", &self.sys_flag);
        line("Properties:", &self.properties_string());
        line("Message Body Path:", &path);
        Ok(())
    }
}

/// The track section after a detail block: `\n\nWARN: No Consumer`, or `\n\n` and one
/// `MessageTrack [...]` line per group (one per line, as 5.x prints them).
pub fn print_tracks(tracks: &[(String, String, String)]) {
    println!();
    println!();
    if tracks.is_empty() {
        println!("WARN: No Consumer");
    }
    for (group, kind, desc) in tracks {
        println!("MessageTrack [consumerGroup={group}, trackType={kind}, exceptionDesc={desc}]");
    }
}

/// A JSON array written item by item, so a long scan's `--json` document is streamed
/// instead of held in memory.
pub struct JsonItems {
    first: bool,
}

impl JsonItems {
    /// Prints `prefix` and the opening bracket.
    pub fn open(prefix: &str) -> Self {
        print!("{prefix}[");
        JsonItems { first: true }
    }

    pub fn push(&mut self, v: &serde_json::Value) {
        self.push_raw_start();
        print!("{v}");
    }

    /// Starts an item the caller prints itself.
    pub fn push_raw_start(&mut self) {
        if !self.first {
            print!(",");
        }
        self.first = false;
    }

    /// Prints the closing bracket and `suffix`.
    pub fn close(self, suffix: &str) {
        print!("]{suffix}");
    }
}

/// Set once Ctrl-C was pressed: long scans stop at the next message.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Makes Ctrl-C stop long scans cleanly (what was printed stays valid output).
pub fn stop_on_ctrl_c() {
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            INTERRUPTED.store(true, Ordering::Release);
        }
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Acquire)
}

/// Progress of a long scan on stderr, only when it is a terminal (pipes stay clean).
pub fn progress(done: usize) {
    let err = std::io::stderr();
    if err.is_terminal() {
        eprint!("\r{done} messages");
    }
}

/// Ends the progress line.
pub fn progress_done() {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}
