//! Consumer groups as heartbeats describe them: each group's live clients (with the
//! connection they came on) and subscriptions. Changes of a group's membership are what
//! NOTIFY_CONSUMER_IDS_CHANGED reports; the caller sends it with the handles returned here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Sends NOTIFY_CONSUMER_IDS_CHANGED for a group over one client's connection.
pub type Notifier = Arc<dyn Fn(&str) + Send + Sync>;

/// One tag subscription, with tag codes recomputed from the tags (C++ sends bogus codes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub topic: String,
    pub sub_string: String,
    pub tags_set: Vec<String>,
    pub code_set: Vec<i32>,
    pub sub_version: i64,
    pub expression_type: String,
}

impl Subscription {
    /// Parses a TAG expression: `*`/empty = all, else tags split on `||`, trimmed.
    /// `None` for an expression with an empty tag between separators is not an error in
    /// Java (blank tags are skipped), so this never fails; it returns the normalised form.
    pub fn from_expression(topic: &str, expression: &str, sub_version: i64) -> Self {
        let expr = expression.trim();
        let (tags_set, code_set) = if expr.is_empty() || expr == "*" {
            (Vec::new(), Vec::new())
        } else {
            let tags: Vec<String> = expr
                .split("||")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect();
            let codes = tags
                .iter()
                .map(|t| ferrumq_store::message::java_string_hash(t))
                .collect();
            (tags, codes)
        };
        let sub_string = if tags_set.is_empty() {
            "*".to_string()
        } else {
            expr.to_string()
        };
        Self {
            topic: topic.to_string(),
            sub_string,
            tags_set,
            code_set,
            sub_version,
            expression_type: "TAG".to_string(),
        }
    }

    /// Whether a consume-queue tag code passes this subscription.
    pub fn matches(&self, tag_code: i64) -> bool {
        self.code_set.is_empty() || self.code_set.contains(&(tag_code as i32))
    }
}

/// What a heartbeat says about one client of a group.
pub struct ClientChannel {
    pub client_id: String,
    pub conn_id: u64,
    pub addr: String,
    pub language: String,
    pub version: i32,
    pub notify: Notifier,
    pub last_update: Instant,
}

#[derive(Clone, Debug, Default)]
pub struct GroupKind {
    pub consume_type: String,
    pub message_model: String,
    pub consume_from_where: String,
}

#[derive(Default)]
struct GroupInfo {
    channels: BTreeMap<String, ClientChannel>,
    subscriptions: HashMap<String, Subscription>,
    kind: GroupKind,
}

/// A snapshot of a group for GET_CONSUMER_CONNECTION_LIST.
pub struct GroupSnapshot {
    pub clients: Vec<(String, String, String, i32)>,
    pub subscriptions: Vec<Subscription>,
    pub kind: GroupKind,
}

#[derive(Default)]
pub struct ConsumerManager {
    groups: Mutex<HashMap<String, GroupInfo>>,
}

impl ConsumerManager {
    /// Records a consumer heartbeat. Returns the notifiers of the whole group when a client
    /// joined (or moved to a new connection) or the subscriptions changed.
    pub fn register(
        &self,
        group: &str,
        channel: ClientChannel,
        kind: GroupKind,
        subs: Vec<Subscription>,
    ) -> Option<Vec<Notifier>> {
        let mut groups = self.groups.lock();
        let info = groups.entry(group.to_string()).or_default();
        info.kind = kind;
        let joined = match info.channels.get_mut(&channel.client_id) {
            Some(old) if old.conn_id == channel.conn_id => {
                old.last_update = channel.last_update;
                false
            }
            _ => {
                info.channels.insert(channel.client_id.clone(), channel);
                true
            }
        };
        let new_subs: HashMap<String, Subscription> =
            subs.into_iter().map(|s| (s.topic.clone(), s)).collect();
        let subs_changed = new_subs.len() != info.subscriptions.len()
            || new_subs.iter().any(|(t, s)| {
                info.subscriptions
                    .get(t)
                    .is_none_or(|o| o.sub_string != s.sub_string)
            });
        if subs_changed {
            info.subscriptions = new_subs;
        }
        (joined || subs_changed).then(|| notifiers(info))
    }

    /// UNREGISTER_CLIENT: the group's remaining notifiers if the client was there.
    pub fn unregister(&self, group: &str, client_id: &str) -> Option<Vec<Notifier>> {
        let mut groups = self.groups.lock();
        let info = groups.get_mut(group)?;
        info.channels.remove(client_id)?;
        let out = notifiers(info);
        if info.channels.is_empty() {
            groups.remove(group);
        }
        Some(out)
    }

    /// Drops every client of a closed connection; returns (group, remaining notifiers).
    pub fn connection_closed(&self, conn_id: u64) -> Vec<(String, Vec<Notifier>)> {
        self.remove_where(|c| c.conn_id == conn_id)
    }

    /// Drops clients without a heartbeat for `ttl`.
    pub fn scan_expired(&self, ttl: Duration) -> Vec<(String, Vec<Notifier>)> {
        let now = Instant::now();
        self.remove_where(|c| now.duration_since(c.last_update) > ttl)
    }

    fn remove_where(&self, pred: impl Fn(&ClientChannel) -> bool) -> Vec<(String, Vec<Notifier>)> {
        let mut groups = self.groups.lock();
        let mut changed = Vec::new();
        for (name, info) in groups.iter_mut() {
            let before = info.channels.len();
            info.channels.retain(|_, c| !pred(c));
            if info.channels.len() != before {
                tracing::info!(group = %name, left = before - info.channels.len(), "clients left");
                changed.push((name.clone(), notifiers(info)));
            }
        }
        groups.retain(|_, info| !info.channels.is_empty());
        changed
    }

    /// Client ids of a group, sorted (rebalance input).
    pub fn client_ids(&self, group: &str) -> Vec<String> {
        let groups = self.groups.lock();
        groups
            .get(group)
            .map(|g| g.channels.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn subscription(&self, group: &str, topic: &str) -> Option<Subscription> {
        self.groups
            .lock()
            .get(group)
            .and_then(|g| g.subscriptions.get(topic).cloned())
    }

    /// Whether the group is known from heartbeats, and its message model.
    pub fn group_kind(&self, group: &str) -> Option<GroupKind> {
        self.groups.lock().get(group).map(|g| g.kind.clone())
    }

    pub fn snapshot(&self, group: &str) -> Option<GroupSnapshot> {
        let groups = self.groups.lock();
        let g = groups.get(group)?;
        Some(GroupSnapshot {
            clients: g
                .channels
                .values()
                .map(|c| {
                    (
                        c.client_id.clone(),
                        c.addr.clone(),
                        c.language.clone(),
                        c.version,
                    )
                })
                .collect(),
            subscriptions: g.subscriptions.values().cloned().collect(),
            kind: g.kind.clone(),
        })
    }
}

fn notifiers(info: &GroupInfo) -> Vec<Notifier> {
    info.channels.values().map(|c| c.notify.clone()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn chan(id: &str, conn: u64, hits: &Arc<AtomicUsize>) -> ClientChannel {
        let h = hits.clone();
        ClientChannel {
            client_id: id.into(),
            conn_id: conn,
            addr: "1.2.3.4:5".into(),
            language: "CPP".into(),
            version: 63,
            notify: Arc::new(move |_g| {
                h.fetch_add(1, Ordering::SeqCst);
            }),
            last_update: Instant::now(),
        }
    }

    #[test]
    fn tags_parse_and_match() {
        let s = Subscription::from_expression("T", " TagA ||TagC ", 1);
        assert_eq!(s.tags_set, vec!["TagA", "TagC"]);
        assert!(s.matches(2598919));
        assert!(!s.matches(1));
        assert!(Subscription::from_expression("T", "*", 1).matches(42));
    }

    #[test]
    fn join_leave_close_and_expiry() {
        let m = ConsumerManager::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let sub = || vec![Subscription::from_expression("T", "*", 1)];
        assert!(m
            .register("g", chan("c1", 1, &hits), GroupKind::default(), sub())
            .is_some());
        assert!(m
            .register("g", chan("c1", 1, &hits), GroupKind::default(), sub())
            .is_none());
        let n = m
            .register("g", chan("c2", 2, &hits), GroupKind::default(), sub())
            .unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(m.client_ids("g"), vec!["c1", "c2"]);
        let closed = m.connection_closed(2);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].1.len(), 1);
        assert_eq!(m.client_ids("g"), vec!["c1"]);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(m.scan_expired(Duration::from_millis(1)).len(), 1);
        assert!(m.client_ids("g").is_empty());
    }
}
