//! Broker configuration: a Java-properties reader and `BrokerConfig` with RocketMQ's
//! property names, mapped onto the store's `StoreConfig`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};

use ferrumq_store::{DiskFullPolicy, FlushDiskType, RecoverCorruptPolicy, StoreConfig};

use super::BrokerError;

/// The broker's replication role (`brokerRole`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerRole {
    AsyncMaster,
    SyncMaster,
    Slave,
}

impl BrokerRole {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "ASYNC_MASTER" => Some(Self::AsyncMaster),
            "SYNC_MASTER" => Some(Self::SyncMaster),
            "SLAVE" => Some(Self::Slave),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::AsyncMaster => "ASYNC_MASTER",
            Self::SyncMaster => "SYNC_MASTER",
            Self::Slave => "SLAVE",
        }
    }
}

/// Everything `mqbroker` reads from `broker.conf`. Field comments give the property name.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// brokerClusterName
    pub broker_cluster_name: String,
    /// brokerName
    pub broker_name: String,
    /// brokerId (0 = master)
    pub broker_id: i64,
    /// brokerIP1: the address clients and the NameServer see
    pub broker_ip1: String,
    /// namesrvAddr, `;`-separated
    pub namesrv_addr: Vec<String>,
    /// listenPort (0 = pick a free port; the bound one is reported everywhere)
    pub listen_port: u16,
    /// haListenPort
    pub ha_listen_port: u16,
    /// brokerRole
    pub broker_role: BrokerRole,
    /// haMasterAddress: a slave's master HA address (host:port); empty: the one the NameServer
    /// returns at registration
    pub ha_master_address: Option<String>,
    /// haMaxGapNotInSync (4.x haSlaveFallbehindMax): a slave further behind than this many
    /// bytes does not count for SYNC_MASTER (SLAVE_NOT_AVAILABLE)
    pub ha_max_gap_not_in_sync: u64,
    /// slaveReadEnable: a consumer far behind is pointed at a slave (suggestWhichBrokerId)
    pub slave_read_enable: bool,
    /// accessMessageInMemoryMaxRatio: "far behind" is more than this % of RAM
    pub access_message_in_memory_max_ratio: u64,
    /// brokerPermission
    pub broker_permission: i32,
    /// autoCreateTopicEnable
    pub auto_create_topic_enable: bool,
    /// autoCreateSubscriptionGroup
    pub auto_create_subscription_group: bool,
    /// defaultTopicQueueNums (TBW102's queue count)
    pub default_topic_queue_nums: i32,
    /// registerNameServerPeriod
    pub register_name_server_period_ms: u64,
    /// longPollingEnable
    pub long_polling_enable: bool,
    /// enablePropertyFilter: SQL92 subscriptions are evaluated (off: refused, as RocketMQ)
    pub enable_property_filter: bool,
    /// rejectTransactionMessage: half messages get NO_PERMISSION
    pub reject_transaction_message: bool,
    /// transactionTimeOut: a half message younger than this is not checked yet
    pub transaction_timeout_ms: u64,
    /// transactionCheckInterval: how often unresolved half messages are checked
    pub transaction_check_interval_ms: u64,
    /// transactionCheckMax: checks before a half message goes to TRANS_CHECK_MAX_TIME_TOPIC
    pub transaction_check_max: u32,
    /// timerWheelEnable: TIMER_* messages are delivered at their time (off: refused)
    pub timer_wheel_enable: bool,
    /// timerMaxDelaySec: the longest timer delay accepted (RocketMQ: 3 days; FerrumQ: 30)
    pub timer_max_delay_sec: u64,
    /// shortPollingTimeMills
    pub short_polling_time_ms: u64,
    /// flushConsumerOffsetInterval
    pub flush_consumer_offset_interval_ms: u64,
    /// clientChannelExpiredTime: consumers silent this long are dropped
    pub client_channel_expired_time_ms: u64,
    /// regionId (reply extField MSG_REGION)
    pub region_id: String,
    /// traceOn (reply extField TRACE_ON)
    pub trace_on: bool,
    /// traceTopicEnable: create the message-trace topic at start (without it, trace records
    /// reach the broker only through auto-creation from TBW102)
    pub trace_topic_enable: bool,
    /// msgTraceTopicName
    pub msg_trace_topic_name: String,
    /// Everything the store uses (storePathRootDir, flushDiskType, maxMessageSize, ...).
    pub store: StoreConfig,
    /// The clock delay levels are measured with (not a property; tests shift it).
    pub clock: super::clock::BrokerClock,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            broker_cluster_name: "DefaultCluster".to_string(),
            broker_name: default_broker_name(),
            broker_id: 0,
            broker_ip1: first_non_loopback_ipv4().to_string(),
            namesrv_addr: Vec::new(),
            listen_port: 10911,
            ha_listen_port: 10912,
            broker_role: BrokerRole::AsyncMaster,
            ha_master_address: None,
            ha_max_gap_not_in_sync: 256 * 1024 * 1024,
            slave_read_enable: false,
            access_message_in_memory_max_ratio: 40,
            broker_permission: 6,
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            register_name_server_period_ms: 30_000,
            long_polling_enable: true,
            enable_property_filter: false,
            reject_transaction_message: false,
            transaction_timeout_ms: 6_000,
            transaction_check_interval_ms: 60_000,
            transaction_check_max: 15,
            timer_wheel_enable: true,
            timer_max_delay_sec: 30 * 86_400,
            short_polling_time_ms: 1_000,
            flush_consumer_offset_interval_ms: 5_000,
            client_channel_expired_time_ms: 120_000,
            region_id: "DefaultRegion".to_string(),
            trace_on: true,
            trace_topic_enable: false,
            msg_trace_topic_name: "RMQ_SYS_TRACE_TOPIC".to_string(),
            store: StoreConfig::default(),
            clock: Default::default(),
        }
    }
}

fn default_broker_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "broker-a".into())
}

/// The first non-loopback IPv4 address: the source address of a route to a public IP
/// (UDP connect sends no packet); 127.0.0.1 when there is no route.
fn first_non_loopback_ipv4() -> Ipv4Addr {
    let probe = || -> Option<Ipv4Addr> {
        let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
        sock.connect("8.8.8.8:80").ok()?;
        match sock.local_addr().ok()?.ip() {
            IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
            _ => None,
        }
    };
    probe().unwrap_or(Ipv4Addr::LOCALHOST)
}

/// Parses Java-properties text (the shared `java.util.Properties` rules: comments,
/// `=`/`:`/blank separators, continuations, escapes) into a map; later keys win.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    crate::protocol::properties::parse_properties(text)
        .into_iter()
        .collect()
}

fn parse_bool(v: &str) -> bool {
    v.trim().eq_ignore_ascii_case("true")
}

/// A percentage property: 1..=100.
fn percent(key: &str, v: &str) -> Result<u32, BrokerError> {
    ranged(key, v, 1, 100)
}

/// A number within `lo..=hi`; otherwise one line naming the property, value and range.
fn ranged<T>(key: &str, v: &str, lo: T, hi: T) -> Result<T, BrokerError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let n: T = num(key, v)?;
    if n < lo || n > hi {
        return Err(BrokerError::Config(format!(
            "{key}={n} is outside the allowed range {lo}..={hi}"
        )));
    }
    Ok(n)
}

/// `deleteWhen`: hours of the day (0..=23) separated by `;`.
fn delete_hours(key: &str, v: &str) -> Result<String, BrokerError> {
    for h in v.split(';').map(str::trim).filter(|h| !h.is_empty()) {
        if !h.parse::<u32>().is_ok_and(|h| h < 24) {
            return Err(BrokerError::Config(format!(
                "{key}={v}: {h:?} is not an hour of the day (0..=23, separated by ';')"
            )));
        }
    }
    Ok(v.trim().to_string())
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, BrokerError> {
    v.trim()
        .parse()
        .map_err(|_| BrokerError::Config(format!("{key}: not a number: {v:?}")))
}

impl BrokerConfig {
    /// Reads a properties file.
    pub fn from_file(path: &Path) -> Result<Self, BrokerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BrokerError::Config(format!("{}: {e}", path.display())))?;
        let mut cfg = Self::default();
        cfg.apply(&parse_properties(&text))?;
        Ok(cfg)
    }

    /// Applies properties over the current values. Unknown keys only warn (RocketMQ ignores
    /// them, and the conformance kit passes arbitrary `--broker-prop`s).
    pub fn apply(&mut self, props: &BTreeMap<String, String>) -> Result<(), BrokerError> {
        for (k, v) in props {
            if !self.apply_broker_key(k, v)? && !self.apply_store_key(k, v)? {
                tracing::warn!(key = %k, "unknown broker property ignored");
            }
        }
        // As RocketMQ: the HA port follows listenPort unless set.
        if props.contains_key("listenPort") && !props.contains_key("haListenPort") {
            self.ha_listen_port = self.listen_port.saturating_add(1);
        }
        self.validate()
    }

    /// Checks that span properties. A CommitLog file smaller than maxMessageSize (plus room
    /// for properties and headers) is allowed (tests use small files) but warned about:
    /// messages too large for a file are refused one by one with MESSAGE_ILLEGAL.
    fn validate(&self) -> Result<(), BrokerError> {
        match (self.broker_role, self.broker_id) {
            (BrokerRole::Slave, 0) => {
                return Err(BrokerError::Config(
                    "brokerRole=SLAVE needs brokerId > 0 (0 is the master's id)".into(),
                ))
            }
            (BrokerRole::AsyncMaster | BrokerRole::SyncMaster, id) if id != 0 => {
                return Err(BrokerError::Config(format!(
                    "brokerRole={} needs brokerId=0, not {id}",
                    self.broker_role.name()
                )))
            }
            _ => {}
        }
        let s = &self.store;
        let needed = s.max_message_size as u64 + 64 * 1024;
        if s.mapped_file_size_commit_log < needed {
            tracing::warn!(
                mapped_file_size_commit_log = s.mapped_file_size_commit_log,
                max_message_size = s.max_message_size,
                "a CommitLog file cannot hold a message of maxMessageSize; larger sends are refused"
            );
        }
        Ok(())
    }

    fn apply_broker_key(&mut self, k: &str, v: &str) -> Result<bool, BrokerError> {
        match k {
            "brokerClusterName" => self.broker_cluster_name = v.to_string(),
            "brokerName" => self.broker_name = v.to_string(),
            "brokerId" => self.broker_id = ranged(k, v, 0, 65_535)?,
            "brokerIP1" => self.broker_ip1 = v.to_string(),
            "namesrvAddr" => self.namesrv_addr = split_namesrv(v),
            "listenPort" => self.listen_port = num(k, v)?,
            "haListenPort" => self.ha_listen_port = num(k, v)?,
            "brokerRole" => {
                self.broker_role = BrokerRole::parse(v)
                    .ok_or_else(|| BrokerError::Config(format!("brokerRole: unknown {v:?}")))?
            }
            "haMasterAddress" => {
                let v = v.trim();
                self.ha_master_address = (!v.is_empty()).then(|| v.to_string());
            }
            "haMaxGapNotInSync" | "haSlaveFallbehindMax" => {
                self.ha_max_gap_not_in_sync = ranged(k, v, 0, u64::MAX)?
            }
            "slaveReadEnable" => self.slave_read_enable = parse_bool(v),
            "accessMessageInMemoryMaxRatio" => {
                self.access_message_in_memory_max_ratio = ranged(k, v, 0, 100)?
            }
            "brokerPermission" => self.broker_permission = ranged(k, v, 0, 7)?,
            "autoCreateTopicEnable" => self.auto_create_topic_enable = parse_bool(v),
            "autoCreateSubscriptionGroup" => self.auto_create_subscription_group = parse_bool(v),
            "defaultTopicQueueNums" => self.default_topic_queue_nums = ranged(k, v, 1, 1_024)?,
            "registerNameServerPeriod" => {
                self.register_name_server_period_ms = ranged(k, v, 1_000, 60_000)?
            }
            "longPollingEnable" => self.long_polling_enable = parse_bool(v),
            "enablePropertyFilter" => self.enable_property_filter = parse_bool(v),
            "rejectTransactionMessage" => self.reject_transaction_message = parse_bool(v),
            "transactionTimeOut" => self.transaction_timeout_ms = ranged(k, v, 1, 86_400_000)?,
            "transactionCheckInterval" => {
                self.transaction_check_interval_ms = ranged(k, v, 10, 86_400_000)?
            }
            "transactionCheckMax" => self.transaction_check_max = ranged(k, v, 1, 10_000)?,
            "timerWheelEnable" => self.timer_wheel_enable = parse_bool(v),
            "timerMaxDelaySec" => self.timer_max_delay_sec = ranged(k, v, 1, 10 * 365 * 86_400)?,
            "shortPollingTimeMills" => self.short_polling_time_ms = ranged(k, v, 1, 60_000)?,
            "flushConsumerOffsetInterval" => {
                self.flush_consumer_offset_interval_ms = ranged(k, v, 100, 3_600_000)?
            }
            "clientChannelExpiredTime" => {
                self.client_channel_expired_time_ms = ranged(k, v, 1_000, 86_400_000)?
            }
            "regionId" => self.region_id = v.to_string(),
            "traceOn" => self.trace_on = parse_bool(v),
            "traceTopicEnable" => self.trace_topic_enable = parse_bool(v),
            "msgTraceTopicName" => {
                let name = v.trim();
                if !super::topic_config::is_valid_name(name)
                    || super::topic_config::is_send_forbidden(name)
                    || name == super::topic_config::TBW102
                {
                    return Err(BrokerError::Config(format!(
                        "msgTraceTopicName: {name:?} is not a valid topic name, or a system topic"
                    )));
                }
                self.msg_trace_topic_name = name.to_string();
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn apply_store_key(&mut self, k: &str, v: &str) -> Result<bool, BrokerError> {
        let s = &mut self.store;
        match k {
            "storePathRootDir" => s.store_path_root_dir = expand_home(v),
            "storePathCommitLog" => s.store_path_commit_log = Some(expand_home(v)),
            "mappedFileSizeCommitLog" => {
                s.mapped_file_size_commit_log = ranged(k, v, 64 * 1024, 16 << 30)?
            }
            "mappedFileSizeConsumeQueue" => {
                s.mapped_file_size_consume_queue_entries = num::<u64>(k, v)? / 20
            }
            "flushDiskType" => {
                s.flush_disk_type = FlushDiskType::parse(v)
                    .ok_or_else(|| BrokerError::Config(format!("flushDiskType: unknown {v:?}")))?
            }
            "syncFlushTimeout" => s.sync_flush_timeout_ms = ranged(k, v, 10, 600_000)?,
            "flushIntervalCommitLog" => s.flush_interval_commit_log_ms = ranged(k, v, 1, 60_000)?,
            "flushIntervalConsumeQueue" => {
                s.flush_interval_consume_queue_ms = ranged(k, v, 1, 60_000)?
            }
            "maxMessageSize" => s.max_message_size = ranged(k, v, 1_024, 1 << 30)?,
            "fileReservedTime" => s.file_reserved_time_hours = ranged(k, v, 1, 876_000)?,
            "deleteWhen" => s.delete_when = delete_hours(k, v)?,
            "diskMaxUsedSpaceRatio" => s.disk_max_used_space_ratio = percent(k, v)?,
            "diskSpaceWarningLevelRatio" => s.disk_space_warning_level_ratio = percent(k, v)?,
            "diskSpaceCleanForciblyRatio" => s.disk_space_clean_forcibly_ratio = percent(k, v)?,
            "diskFullPolicy" => {
                s.disk_full_policy = DiskFullPolicy::parse(v).ok_or_else(|| {
                    BrokerError::Config(format!(
                        "diskFullPolicy: unknown {v:?} (reject or deleteOldest)"
                    ))
                })?
            }
            "recoverCorruptPolicy" => {
                s.recover_corrupt_policy = RecoverCorruptPolicy::parse(v).ok_or_else(|| {
                    BrokerError::Config(format!(
                        "recoverCorruptPolicy: unknown {v:?} (refuse or truncate)"
                    ))
                })?
            }
            "maxHashSlotNum" => s.max_hash_slot_num = ranged(k, v, 1, 50_000_000)?,
            "maxIndexNum" => s.max_index_num = ranged(k, v, 2, 200_000_000)?,
            "messageIndexEnable" => s.message_index_enable = parse_bool(v),
            "checkCRCOnRecover" => s.check_crc_on_recover = parse_bool(v),
            "messageDelayLevel" => {
                s.message_delay_level_ms = ferrumq_store::config::parse_delay_levels(v)
            }
            "cleanResourceInterval" => s.clean_resource_interval_ms = ranged(k, v, 100, 3_600_000)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The effective configuration as properties text (`mqbroker -p`).
    pub fn to_properties(&self) -> String {
        let s = &self.store;
        let lines = [
            ("brokerClusterName", self.broker_cluster_name.clone()),
            ("brokerName", self.broker_name.clone()),
            ("brokerId", self.broker_id.to_string()),
            ("brokerIP1", self.broker_ip1.clone()),
            ("namesrvAddr", self.namesrv_addr.join(";")),
            ("listenPort", self.listen_port.to_string()),
            ("haListenPort", self.ha_listen_port.to_string()),
            ("brokerRole", self.broker_role.name().to_string()),
            (
                "haMasterAddress",
                self.ha_master_address.clone().unwrap_or_default(),
            ),
            ("haMaxGapNotInSync", self.ha_max_gap_not_in_sync.to_string()),
            ("slaveReadEnable", self.slave_read_enable.to_string()),
            (
                "accessMessageInMemoryMaxRatio",
                self.access_message_in_memory_max_ratio.to_string(),
            ),
            ("brokerPermission", self.broker_permission.to_string()),
            (
                "autoCreateTopicEnable",
                self.auto_create_topic_enable.to_string(),
            ),
            (
                "autoCreateSubscriptionGroup",
                self.auto_create_subscription_group.to_string(),
            ),
            (
                "defaultTopicQueueNums",
                self.default_topic_queue_nums.to_string(),
            ),
            (
                "registerNameServerPeriod",
                self.register_name_server_period_ms.to_string(),
            ),
            ("longPollingEnable", self.long_polling_enable.to_string()),
            (
                "enablePropertyFilter",
                self.enable_property_filter.to_string(),
            ),
            (
                "rejectTransactionMessage",
                self.reject_transaction_message.to_string(),
            ),
            (
                "transactionTimeOut",
                self.transaction_timeout_ms.to_string(),
            ),
            (
                "transactionCheckInterval",
                self.transaction_check_interval_ms.to_string(),
            ),
            (
                "transactionCheckMax",
                self.transaction_check_max.to_string(),
            ),
            ("timerWheelEnable", self.timer_wheel_enable.to_string()),
            ("timerMaxDelaySec", self.timer_max_delay_sec.to_string()),
            (
                "shortPollingTimeMills",
                self.short_polling_time_ms.to_string(),
            ),
            (
                "flushConsumerOffsetInterval",
                self.flush_consumer_offset_interval_ms.to_string(),
            ),
            (
                "clientChannelExpiredTime",
                self.client_channel_expired_time_ms.to_string(),
            ),
            ("regionId", self.region_id.clone()),
            ("traceOn", self.trace_on.to_string()),
            ("traceTopicEnable", self.trace_topic_enable.to_string()),
            ("msgTraceTopicName", self.msg_trace_topic_name.clone()),
            (
                "storePathRootDir",
                s.store_path_root_dir.display().to_string(),
            ),
            (
                "storePathCommitLog",
                s.commit_log_dir().display().to_string(),
            ),
            (
                "mappedFileSizeCommitLog",
                s.mapped_file_size_commit_log.to_string(),
            ),
            ("flushDiskType", flush_name(s.flush_disk_type).to_string()),
            ("syncFlushTimeout", s.sync_flush_timeout_ms.to_string()),
            (
                "flushIntervalCommitLog",
                s.flush_interval_commit_log_ms.to_string(),
            ),
            ("maxMessageSize", s.max_message_size.to_string()),
            ("fileReservedTime", s.file_reserved_time_hours.to_string()),
            ("deleteWhen", s.delete_when.clone()),
            (
                "diskMaxUsedSpaceRatio",
                s.disk_max_used_space_ratio.to_string(),
            ),
            (
                "diskSpaceWarningLevelRatio",
                s.disk_space_warning_level_ratio.to_string(),
            ),
            (
                "diskSpaceCleanForciblyRatio",
                s.disk_space_clean_forcibly_ratio.to_string(),
            ),
            ("diskFullPolicy", s.disk_full_policy.name().to_string()),
            (
                "recoverCorruptPolicy",
                s.recover_corrupt_policy.name().to_string(),
            ),
        ];
        lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    /// The directory of topics.json, consumerOffset.json, subscriptionGroup.json.
    pub fn config_dir(&self) -> PathBuf {
        self.store.store_path_root_dir.join("config")
    }

    /// Masters accept writes; a slave refuses sends.
    pub fn is_slave(&self) -> bool {
        self.broker_role == BrokerRole::Slave
    }
}

fn flush_name(t: FlushDiskType) -> &'static str {
    match t {
        FlushDiskType::SyncFlush => "SYNC_FLUSH",
        FlushDiskType::AsyncFlush => "ASYNC_FLUSH",
    }
}

/// Splits `namesrvAddr` ("a:9876;b:9876"), dropping blanks.
pub fn split_namesrv(v: &str) -> Vec<String> {
    v.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `~/store` → `$HOME/store`, as RocketMQ's `user.home` default does.
fn expand_home(v: &str) -> PathBuf {
    match (v.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(v),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn properties_trim_comments_and_unknown_keys() {
        let p = parse_properties("# c\n brokerName = b1 \n\nlistenPort=0\nnoSuchKey=1\nbad line\n");
        assert_eq!(p.get("brokerName").map(String::as_str), Some("b1"));
        let mut cfg = BrokerConfig::default();
        cfg.apply(&p).unwrap();
        assert_eq!(cfg.broker_name, "b1");
        assert_eq!(cfg.listen_port, 0);
    }

    #[test]
    fn namesrv_list_and_store_keys() {
        let mut cfg = BrokerConfig::default();
        let p = parse_properties(
            "namesrvAddr=a:1; b:2;\nflushDiskType=SYNC_FLUSH\nmaxMessageSize=1024\nbrokerRole=SLAVE\nbrokerId=1",
        );
        cfg.apply(&p).unwrap();
        assert_eq!(cfg.namesrv_addr, vec!["a:1", "b:2"]);
        assert_eq!(cfg.store.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(cfg.store.max_message_size, 1024);
        assert!(cfg.is_slave());
        assert!(cfg.to_properties().contains("flushDiskType=SYNC_FLUSH"));
    }

    #[test]
    fn replication_properties() {
        let mut cfg = BrokerConfig::default();
        cfg.apply(&parse_properties("listenPort=20911")).unwrap();
        assert_eq!(cfg.ha_listen_port, 20912, "haListenPort follows listenPort");
        let mut cfg = BrokerConfig::default();
        cfg.apply(&parse_properties(
            "listenPort=20911\nhaListenPort=30000\nbrokerRole=SLAVE\nbrokerId=2\n\
             haMasterAddress=10.0.0.1:10912\nhaSlaveFallbehindMax=1024",
        ))
        .unwrap();
        assert_eq!(cfg.ha_listen_port, 30000);
        assert_eq!(cfg.ha_master_address.as_deref(), Some("10.0.0.1:10912"));
        assert_eq!(cfg.ha_max_gap_not_in_sync, 1024);
        for bad in [
            "brokerRole=SLAVE\nbrokerId=0",
            "brokerRole=SYNC_MASTER\nbrokerId=1",
        ] {
            let err = BrokerConfig::default()
                .apply(&parse_properties(bad))
                .unwrap_err()
                .to_string();
            assert!(err.contains("brokerId"), "{bad}: {err}");
        }
    }

    #[test]
    fn disk_properties_and_trace_topic_are_checked() {
        let mut cfg = BrokerConfig::default();
        let ok = "diskSpaceWarningLevelRatio=95\ndiskFullPolicy=deleteOldest\nmsgTraceTopicName=T1\nrecoverCorruptPolicy=truncate";
        cfg.apply(&parse_properties(ok)).unwrap();
        assert_eq!(cfg.store.disk_space_warning_level_ratio, 95);
        assert_eq!(cfg.store.disk_full_policy, DiskFullPolicy::DeleteOldest);
        assert_eq!(
            cfg.store.recover_corrupt_policy,
            RecoverCorruptPolicy::Truncate
        );
        assert!(cfg
            .to_properties()
            .contains("recoverCorruptPolicy=truncate"));
        assert!(cfg.to_properties().contains("diskFullPolicy=deleteOldest"));
        for bad in [
            "diskMaxUsedSpaceRatio=0",
            "diskSpaceWarningLevelRatio=101",
            "diskFullPolicy=panic",
            "recoverCorruptPolicy=ignore",
            "msgTraceTopicName=TBW102",
            "msgTraceTopicName=SCHEDULE_TOPIC_XXXX",
            "msgTraceTopicName=bad name",
        ] {
            let err = BrokerConfig::default()
                .apply(&parse_properties(bad))
                .unwrap_err();
            let key = bad.split('=').next().unwrap();
            assert!(err.to_string().contains(key), "{bad}: {err}");
        }
    }

    /// Every numeric property is range-checked: one line naming the property, the value and
    /// the allowed range (regression: mappedFileSizeCommitLog=0 started and refused every send).
    #[test]
    fn bad_values_are_refused_with_the_range() {
        let table = [
            (
                "mappedFileSizeCommitLog=0",
                "mappedFileSizeCommitLog=0",
                "65536..=",
            ),
            ("maxMessageSize=0", "maxMessageSize=0", "1024..="),
            ("brokerPermission=9", "brokerPermission=9", "0..=7"),
            (
                "defaultTopicQueueNums=0",
                "defaultTopicQueueNums=0",
                "1..=1024",
            ),
            (
                "registerNameServerPeriod=10",
                "registerNameServerPeriod=10",
                "1000..=60000",
            ),
            ("syncFlushTimeout=0", "syncFlushTimeout=0", "10..=600000"),
            (
                "flushIntervalCommitLog=0",
                "flushIntervalCommitLog=0",
                "1..=60000",
            ),
            ("fileReservedTime=0", "fileReservedTime=0", "1..=876000"),
            ("maxIndexNum=1", "maxIndexNum=1", "2..="),
            (
                "cleanResourceInterval=5",
                "cleanResourceInterval=5",
                "100..=",
            ),
            ("deleteWhen=04;25", "deleteWhen=04;25", "0..=23"),
            ("brokerId=70000", "brokerId=70000", "0..=65535"),
            ("listenPort=70000", "listenPort", "not a number"),
        ];
        for (line, names, range) in table {
            let err = BrokerConfig::default()
                .apply(&parse_properties(line))
                .expect_err(line)
                .to_string();
            assert!(!err.contains('\n'), "one line: {err}");
            assert!(err.contains(names) && err.contains(range), "{line}: {err}");
        }
        BrokerConfig::default()
            .apply(&parse_properties(
                "mappedFileSizeCommitLog=8388608\ndeleteWhen=04;16",
            ))
            .expect("good values pass");
    }

    #[test]
    fn bad_number_is_an_error() {
        let mut cfg = BrokerConfig::default();
        assert!(cfg.apply(&parse_properties("listenPort=abc")).is_err());
    }
}
