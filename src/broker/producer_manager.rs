//! Producer groups as heartbeats describe them (GET_PRODUCER_CONNECTION_LIST).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::remoting::ConnectionContext;

pub struct ProducerChannel {
    /// The connection (its id and peer address identify the client's channel), also for
    /// broker → client requests (PUSH_REPLY_MESSAGE_TO_CLIENT).
    pub ctx: ConnectionContext,
    pub language: String,
    pub version: i32,
    pub last_update: Instant,
}

#[derive(Default)]
pub struct ProducerManager {
    /// group → clientId → channel
    groups: Mutex<HashMap<String, BTreeMap<String, ProducerChannel>>>,
    /// Round-robin position of `any_channel`.
    turn: std::sync::atomic::AtomicUsize,
}

impl ProducerManager {
    pub fn register(&self, group: &str, client_id: &str, channel: ProducerChannel) {
        let mut groups = self.groups.lock();
        groups
            .entry(group.to_string())
            .or_default()
            .insert(client_id.to_string(), channel);
    }

    pub fn unregister(&self, group: &str, client_id: &str) {
        let mut groups = self.groups.lock();
        if let Some(g) = groups.get_mut(group) {
            g.remove(client_id);
            if g.is_empty() {
                groups.remove(group);
            }
        }
    }

    pub fn connection_closed(&self, conn_id: u64) {
        self.retain(|c| c.ctx.id != conn_id);
    }

    pub fn scan_expired(&self, ttl: Duration) {
        self.scan_expired_at(ttl, Instant::now());
    }

    /// `scan_expired` as of `now` (tests pass a time instead of sleeping).
    pub fn scan_expired_at(&self, ttl: Duration, now: Instant) {
        self.retain(|c| now.saturating_duration_since(c.last_update) <= ttl);
    }

    fn retain(&self, keep: impl Fn(&ProducerChannel) -> bool) {
        let mut groups = self.groups.lock();
        for g in groups.values_mut() {
            g.retain(|_, c| keep(c));
        }
        groups.retain(|_, g| !g.is_empty());
    }

    /// The live connection of a client id, in any group (a Java requester is found through
    /// its inner producer, which every Java heartbeat carries; a Go one through its own
    /// producer group).
    pub fn find_channel(&self, client_id: &str) -> Option<ConnectionContext> {
        let groups = self.groups.lock();
        groups
            .values()
            .filter_map(|g| g.get(client_id))
            .map(|c| &c.ctx)
            .find(|ctx| ctx.is_open())
            .cloned()
    }

    /// A live connection of a producer of the group (the one CHECK_TRANSACTION_STATE goes
    /// to), taking the group's producers in turn.
    pub fn any_channel(&self, group: &str) -> Option<ConnectionContext> {
        let groups = self.groups.lock();
        let open: Vec<&ConnectionContext> = groups
            .get(group)?
            .values()
            .map(|c| &c.ctx)
            .filter(|ctx| ctx.is_open())
            .collect();
        let turn = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        open.get(turn % open.len().max(1)).map(|c| (*c).clone())
    }

    /// (clientId, addr, language, version) of a group's producers.
    pub fn clients(&self, group: &str) -> Vec<(String, String, String, i32)> {
        let groups = self.groups.lock();
        groups
            .get(group)
            .map(|g| {
                g.iter()
                    .map(|(id, c)| {
                        (
                            id.clone(),
                            c.ctx.peer.to_string(),
                            c.language.clone(),
                            c.version,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
