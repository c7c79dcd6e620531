//! Offsets committed on a slave (consumers read from it while its master is down) are kept
//! there and handed to the master as soon as it answers again, before the slave copies the
//! master's table back: without this, the copy would put the group back to where it was when
//! the master died (RocketMQ loses them so).

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;

use crate::broker::BrokerInner;
use crate::protocol::{ExtFields, RemotingCommand, RequestCode, ResponseCode};

const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// (group, topic, queue id) → offset committed on this slave, not yet on the master.
#[derive(Default)]
pub struct PendingOffsets(Mutex<BTreeMap<(String, String, i32), i64>>);

impl PendingOffsets {
    pub fn record(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.0
            .lock()
            .insert((group.to_string(), topic.to_string(), queue_id), offset);
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }

    /// Sends every pending offset to the master at `master`; those it took are forgotten.
    /// True when none is left.
    pub async fn hand_over(&self, inner: &BrokerInner, master: &str) -> bool {
        let pending: Vec<_> = self.0.lock().iter().map(|(k, v)| (k.clone(), *v)).collect();
        for ((group, topic, queue_id), offset) in pending {
            let mut ext = ExtFields::with_capacity(4);
            ext.insert("consumerGroup", &group);
            ext.insert("topic", &topic);
            ext.insert_display("queueId", queue_id);
            ext.insert_display("commitOffset", offset);
            let req = RemotingCommand::new_request(RequestCode::UpdateConsumerOffset, ext);
            match inner.namesrv_client.invoke(master, req, CALL_TIMEOUT).await {
                Ok(resp) if resp.response_code() == ResponseCode::Success => {
                    let mut map = self.0.lock();
                    let key = (group, topic, queue_id);
                    // Unless a newer commit arrived meanwhile.
                    if map.get(&key) == Some(&offset) {
                        map.remove(&key);
                    }
                }
                _ => return false,
            }
        }
        self.is_empty()
    }
}
