//! Consumer groups as heartbeats describe them: each group's live clients (with the
//! connection they came on) and subscriptions. Changes of a group's membership are what
//! NOTIFY_CONSUMER_IDS_CHANGED reports; the caller sends it with the handles returned here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::remoting::ConnectionContext;
use crate::sql92::{ParseError, Selector};

/// The `expressionType` of a property-filter subscription.
pub const SQL92: &str = "SQL92";

/// Sends NOTIFY_CONSUMER_IDS_CHANGED for a group over one client's connection.
pub type Notifier = Arc<dyn Fn(&str) + Send + Sync>;

/// One subscription: TAG (tag codes recomputed from the tags; C++ sends bogus codes) or
/// SQL92 (compiled once per subscription version).
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    pub topic: String,
    pub sub_string: String,
    pub tags_set: Vec<String>,
    pub code_set: Vec<i32>,
    pub sub_version: i64,
    pub expression_type: String,
    /// SQL92: the compiled expression, `None` when it does not compile (pulls then get
    /// FILTER_DATA_NOT_EXIST, as RocketMQ answers).
    pub selector: Option<Arc<Selector>>,
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
            selector: None,
        }
    }

    /// A SQL92 subscription; the compile error, if any, is returned beside it.
    pub fn sql92(topic: &str, expression: &str, sub_version: i64) -> (Self, Option<ParseError>) {
        let (selector, error) = match Selector::compile(expression) {
            Ok(s) => (Some(Arc::new(s)), None),
            Err(e) => (None, Some(e)),
        };
        (
            Self::with_selector(topic, expression, sub_version, selector),
            error,
        )
    }

    /// A SQL92 subscription with its expression compiled already (`None`: it did not).
    pub fn with_selector(
        topic: &str,
        expression: &str,
        sub_version: i64,
        selector: Option<Arc<Selector>>,
    ) -> Self {
        Self {
            topic: topic.to_string(),
            sub_string: expression.to_string(),
            tags_set: Vec::new(),
            code_set: Vec::new(),
            sub_version,
            expression_type: SQL92.to_string(),
            selector,
        }
    }

    pub fn is_sql92(&self) -> bool {
        self.expression_type.eq_ignore_ascii_case(SQL92)
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
    /// The client's connection, for requests to it (forwarded admin requests, offset
    /// resets); `None` for channels without one (this module's unit tests).
    pub ctx: Option<ConnectionContext>,
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
    /// The last heartbeat-v2 fingerprint (5.x clients): the client's hash of its heartbeat
    /// data without subscription versions; a light heartbeat with the same one keeps the
    /// stored subscriptions.
    fingerprint: Option<i64>,
}

/// What one consumer entry of a heartbeat says about its subscriptions.
pub enum HeartbeatSubs {
    /// A full heartbeat (4.x, or 5.x v2 with `fingerprint` ≠ 0).
    Full {
        subs: Vec<Subscription>,
        fingerprint: i64,
    },
    /// A 5.x v2 light heartbeat (`withoutSub`): keep what is stored if the fingerprint matches.
    Light { fingerprint: i64 },
}

/// The outcome of a consumer heartbeat.
pub struct Registered {
    /// The group's notifiers, when members or subscriptions changed.
    pub notify: Option<Vec<Notifier>>,
    /// Heartbeat v2's `IS_SUB_CHANGE`: the client forgets its fingerprint and sends a full
    /// heartbeat (with subscriptions) next.
    pub ask_full_heartbeat: bool,
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
    /// Records a consumer heartbeat. Notifies the whole group when a client joined (or moved
    /// to a new connection) or the subscriptions changed.
    pub fn register(
        &self,
        group: &str,
        channel: ClientChannel,
        kind: GroupKind,
        subs: HeartbeatSubs,
    ) -> Registered {
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
        let (subs_changed, ask_full_heartbeat) = match subs {
            // 4.x heartbeat (5.x brokers answer IS_SUB_CHANGE=true to it, so do we).
            HeartbeatSubs::Full {
                subs,
                fingerprint: 0,
            } => {
                info.fingerprint = None;
                (update_subscriptions(&mut info.subscriptions, subs), true)
            }
            HeartbeatSubs::Full { subs, fingerprint } => {
                let differs = info.fingerprint.is_some_and(|f| f != fingerprint);
                info.fingerprint = Some(fingerprint);
                (update_subscriptions(&mut info.subscriptions, subs), differs)
            }
            // Nothing stored for this fingerprint (another one, or a restarted broker):
            // ask for the subscriptions instead of guessing.
            HeartbeatSubs::Light { fingerprint } => (
                false,
                info.fingerprint != Some(fingerprint) || info.subscriptions.is_empty(),
            ),
        };
        Registered {
            notify: (joined || subs_changed).then(|| notifiers(info)),
            ask_full_heartbeat,
        }
    }

    /// A pull carried a subscription version no heartbeat announced (25): a 5.x client whose
    /// full heartbeat after a rebalance was skipped would otherwise keep sending light ones
    /// (no versions) and never catch up. Forgetting the fingerprint makes the next light
    /// heartbeat answer IS_SUB_CHANGE, and the client sends its subscriptions.
    pub fn forget_fingerprint(&self, group: &str) {
        if let Some(info) = self.groups.lock().get_mut(group) {
            info.fingerprint = None;
        }
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
        self.scan_expired_at(ttl, Instant::now())
    }

    /// `scan_expired` as of `now` (tests pass a time instead of sleeping).
    pub fn scan_expired_at(&self, ttl: Duration, now: Instant) -> Vec<(String, Vec<Notifier>)> {
        self.remove_where(|c| now.saturating_duration_since(c.last_update) > ttl)
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

    /// The connection and client version of one client of a group.
    pub fn channel(&self, group: &str, client_id: &str) -> Option<(ConnectionContext, i32)> {
        let groups = self.groups.lock();
        let c = groups.get(group)?.channels.get(client_id)?;
        Some((c.ctx.clone()?, c.version))
    }

    /// The client ids, connections and client versions of a group's clients.
    pub fn channels(&self, group: &str) -> Vec<(String, ConnectionContext, i32)> {
        let groups = self.groups.lock();
        groups
            .get(group)
            .map(|g| {
                g.channels
                    .values()
                    .filter_map(|c| Some((c.client_id.clone(), c.ctx.clone()?, c.version)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Groups whose heartbeat subscriptions include the topic.
    pub fn groups_subscribing(&self, topic: &str) -> Vec<String> {
        let groups = self.groups.lock();
        groups
            .iter()
            .filter(|(_, g)| g.subscriptions.contains_key(topic))
            .map(|(name, _)| name.clone())
            .collect()
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

/// Apache's `ConsumerGroupInfo.updateSubscription`: a topic new to the group is added, a
/// subscription with a higher `subVersion` replaces the stored one (the Java client raises
/// the version on every rebalance that changes its queues, then pulls with it), a lower or
/// equal version is ignored (another member's older heartbeat), and a topic missing from
/// the heartbeat is dropped. True when the group's subscriptions changed in a way the other
/// members should hear about: a topic added or removed, or an expression changed. A mere
/// version raise is not announced (Java does not either), so a rebalance does not trigger
/// another round of NOTIFY_CONSUMER_IDS_CHANGED. Unlike Java, a changed expression is
/// announced: members that filter with the group's subscription should rebalance onto it.
fn update_subscriptions(
    table: &mut HashMap<String, Subscription>,
    subs: Vec<Subscription>,
) -> bool {
    let before = table.len();
    table.retain(|topic, _| subs.iter().any(|s| &s.topic == topic));
    let mut changed = table.len() != before;
    for sub in subs {
        match table.get_mut(&sub.topic) {
            None => {
                table.insert(sub.topic.clone(), sub);
                changed = true;
            }
            Some(old) if sub.sub_version > old.sub_version => {
                changed |=
                    old.sub_string != sub.sub_string || old.expression_type != sub.expression_type;
                *old = sub;
            }
            Some(_) => {}
        }
    }
    changed
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
            ctx: None,
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

    /// A 4.x heartbeat of client `id` on connection `conn`: the notifiers, if the group changed.
    fn beat(
        m: &ConsumerManager,
        id: &str,
        conn: u64,
        hits: &Arc<AtomicUsize>,
        subs: Vec<Subscription>,
    ) -> Option<Vec<Notifier>> {
        let subs = HeartbeatSubs::Full {
            subs,
            fingerprint: 0,
        };
        m.register("g", chan(id, conn, hits), GroupKind::default(), subs)
            .notify
    }

    fn sub(topic: &str, expr: &str, version: i64) -> Subscription {
        Subscription::from_expression(topic, expr, version)
    }

    #[test]
    fn join_leave_close_and_expiry() {
        let m = ConsumerManager::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let all = || vec![sub("T", "*", 1)];
        assert!(beat(&m, "c1", 1, &hits, all()).is_some());
        assert!(beat(&m, "c1", 1, &hits, all()).is_none());
        let n = beat(&m, "c2", 2, &hits, all()).unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(m.client_ids("g"), vec!["c1", "c2"]);
        let closed = m.connection_closed(2);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].1.len(), 1);
        assert_eq!(m.client_ids("g"), vec!["c1"]);
        let ttl = Duration::from_secs(120);
        assert!(m.scan_expired(ttl).is_empty(), "a fresh heartbeat is kept");
        let later = Instant::now() + ttl + Duration::from_millis(1);
        assert_eq!(m.scan_expired_at(ttl, later).len(), 1);
        assert!(m.client_ids("g").is_empty());
    }

    #[test]
    fn heartbeat_v2_fingerprints() {
        let m = ConsumerManager::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let reg = |subs| m.register("g", chan("c1", 1, &hits), GroupKind::default(), subs);
        let light = |fingerprint| HeartbeatSubs::Light { fingerprint };
        assert!(
            reg(light(7)).ask_full_heartbeat,
            "nothing stored: send the subscriptions"
        );
        let subs = vec![sub("T", "*", 1)];
        assert!(
            !reg(HeartbeatSubs::Full {
                subs,
                fingerprint: 7
            })
            .ask_full_heartbeat
        );
        assert!(!reg(light(7)).ask_full_heartbeat, "same fingerprint: kept");
        assert!(
            m.subscription("g", "T").is_some(),
            "a light heartbeat keeps subscriptions"
        );
        assert!(
            reg(light(8)).ask_full_heartbeat,
            "another fingerprint: ask again"
        );
        let subs = vec![sub("T", "*", 2)];
        assert!(
            reg(HeartbeatSubs::Full {
                subs,
                fingerprint: 8
            })
            .ask_full_heartbeat,
            "fingerprint changed"
        );
        let subs = vec![sub("T", "*", 3)];
        assert!(
            reg(HeartbeatSubs::Full {
                subs,
                fingerprint: 0
            })
            .ask_full_heartbeat,
            "v1 heartbeat"
        );
    }

    #[test]
    fn higher_version_replaces_lower_is_ignored() {
        let m = ConsumerManager::default();
        let hits = Arc::new(AtomicUsize::new(0));
        beat(&m, "c1", 1, &hits, vec![sub("T", "*", 100)]);
        // The Java client's rebalance: same expression, newer version. Stored, not announced.
        let n = beat(&m, "c1", 1, &hits, vec![sub("T", "*", 200)]);
        assert!(n.is_none(), "a version raise alone is not a group change");
        assert_eq!(m.subscription("g", "T").unwrap().sub_version, 200);
        // Another member's older heartbeat does not roll the version back.
        beat(&m, "c2", 2, &hits, vec![sub("T", "TagA", 150)]);
        let s = m.subscription("g", "T").unwrap();
        assert_eq!((s.sub_version, s.sub_string.as_str()), (200, "*"));
        // A newer version with a new expression replaces it and is announced.
        assert!(beat(&m, "c1", 1, &hits, vec![sub("T", "TagB", 300)]).is_some());
        assert_eq!(m.subscription("g", "T").unwrap().sub_string, "TagB");
    }

    #[test]
    fn topic_missing_from_heartbeat_is_removed() {
        let m = ConsumerManager::default();
        let hits = Arc::new(AtomicUsize::new(0));
        beat(&m, "c1", 1, &hits, vec![sub("A", "*", 1), sub("B", "*", 1)]);
        let n = beat(&m, "c1", 1, &hits, vec![sub("A", "*", 1)]);
        assert!(n.is_some(), "losing a topic is a change");
        assert!(m.subscription("g", "B").is_none());
        assert!(m.subscription("g", "A").is_some());
    }
}
