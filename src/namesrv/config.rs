//! `NamesrvConfig`: RocketMQ's NameServer properties (`namesrv.conf`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::protocol::properties::{parse_java_bool, parse_properties, to_properties_text};

/// Java NameServer/Netty properties FerrumQ accepts without using them (no warning).
const IGNORED_JAVA_KEYS: &[&str] = &[
    "rocketmqHome",
    "productEnvName",
    "clusterTest",
    "serverWorkerThreads",
    "serverCallbackExecutorThreads",
    "serverSelectorThreads",
    "serverOnewaySemaphoreValue",
    "serverAsyncSemaphoreValue",
    "serverSocketSndBufSize",
    "serverSocketRcvBufSize",
    "serverPooledByteBufAllocatorEnable",
    "useEpollNativeSelector",
    "defaultThreadPoolNums",
    "clientRequestThreadPoolNums",
    "clientRequestThreadPoolQueueCapacity",
    "defaultThreadPoolQueueCapacity",
    "configBlackList",
    "enableTopicList",
    "enableAllTopicList",
    "notifyMinBrokerIdChanged",
];

/// NameServer configuration; property names are RocketMQ's.
#[derive(Debug, Clone, PartialEq)]
pub struct NamesrvConfig {
    /// `listenPort` (9876).
    pub listen_port: u16,
    /// `bindAddress` (FerrumQ; default 0.0.0.0 like Java).
    pub bind_address: IpAddr,
    /// `kvConfigPath` (`~/namesrv/kvConfig.json`).
    pub kv_config_path: PathBuf,
    /// `configStorePath` (`~/namesrv/namesrv.properties`): where UPDATE_NAMESRV_CONFIG persists.
    pub config_store_path: PathBuf,
    /// `orderMessageEnable` (false): add orderTopicConf to routes.
    pub order_message_enable: bool,
    /// `scanNotActiveBrokerInterval` in ms (10 000).
    pub scan_not_active_broker_interval_ms: u64,
    /// `brokerChannelExpiredTime` in ms (120 000): silent brokers leave the routes.
    pub broker_channel_expired_time_ms: u64,
    /// `serverChannelMaxIdleTimeSeconds` (120): idle connections are closed.
    pub server_channel_max_idle_time_seconds: u64,
    /// `maxConnections` (FerrumQ; 10 000).
    pub max_connections: usize,
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        NamesrvConfig {
            listen_port: 9876,
            bind_address: IpAddr::from([0, 0, 0, 0]),
            kv_config_path: home().join("namesrv").join("kvConfig.json"),
            config_store_path: home().join("namesrv").join("namesrv.properties"),
            order_message_enable: false,
            scan_not_active_broker_interval_ms: 10_000,
            broker_channel_expired_time_ms: 120_000,
            server_channel_max_idle_time_seconds: 120,
            max_connections: 10_000,
        }
    }
}

/// A property whose value does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid value {value:?} for property {key}")]
pub struct ConfigError {
    pub key: String,
    pub value: String,
}

impl NamesrvConfig {
    /// Applies properties text over the defaults. Returns the config and the unknown keys
    /// (the caller warns about them).
    pub fn from_properties(text: &str) -> Result<(Self, Vec<String>), ConfigError> {
        let mut config = NamesrvConfig::default();
        let unknown = config.apply(&parse_properties(text))?;
        Ok((config, unknown))
    }

    /// Sets each known property; returns the keys it did not know.
    pub fn apply(&mut self, props: &[(String, String)]) -> Result<Vec<String>, ConfigError> {
        let mut unknown = Vec::new();
        for (key, value) in props {
            let bad = || ConfigError {
                key: key.clone(),
                value: value.clone(),
            };
            let v = value.trim();
            match key.as_str() {
                "listenPort" => self.listen_port = v.parse().map_err(|_| bad())?,
                "bindAddress" => self.bind_address = v.parse().map_err(|_| bad())?,
                "kvConfigPath" => self.kv_config_path = expand_home(v),
                "configStorePath" => self.config_store_path = expand_home(v),
                "orderMessageEnable" => self.order_message_enable = parse_java_bool(v),
                "scanNotActiveBrokerInterval" => {
                    self.scan_not_active_broker_interval_ms = positive(v).ok_or_else(bad)?
                }
                "brokerChannelExpiredTime" => {
                    self.broker_channel_expired_time_ms = positive(v).ok_or_else(bad)?
                }
                "serverChannelMaxIdleTimeSeconds" => {
                    self.server_channel_max_idle_time_seconds = positive(v).ok_or_else(bad)?
                }
                "maxConnections" => self.max_connections = v.parse().map_err(|_| bad())?,
                k if IGNORED_JAVA_KEYS.contains(&k) => {}
                _ => unknown.push(key.clone()),
            }
        }
        Ok(unknown)
    }

    pub fn scan_interval(&self) -> Duration {
        Duration::from_millis(self.scan_not_active_broker_interval_ms)
    }

    pub fn broker_expiry(&self) -> Duration {
        Duration::from_millis(self.broker_channel_expired_time_ms)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.server_channel_max_idle_time_seconds)
    }

    /// The effective configuration as properties text (`-p`, GET_NAMESRV_CONFIG).
    pub fn to_properties(&self) -> String {
        let pairs = [
            ("bindAddress", self.bind_address.to_string()),
            (
                "brokerChannelExpiredTime",
                self.broker_channel_expired_time_ms.to_string(),
            ),
            (
                "configStorePath",
                self.config_store_path.display().to_string(),
            ),
            ("kvConfigPath", self.kv_config_path.display().to_string()),
            ("listenPort", self.listen_port.to_string()),
            ("maxConnections", self.max_connections.to_string()),
            ("orderMessageEnable", self.order_message_enable.to_string()),
            (
                "scanNotActiveBrokerInterval",
                self.scan_not_active_broker_interval_ms.to_string(),
            ),
            (
                "serverChannelMaxIdleTimeSeconds",
                self.server_channel_max_idle_time_seconds.to_string(),
            ),
        ];
        to_properties_text(pairs.iter().map(|(k, v)| (*k, v.as_str())))
    }
}

fn positive(v: &str) -> Option<u64> {
    v.parse().ok().filter(|&n| n > 0)
}

fn expand_home(v: &str) -> PathBuf {
    match v.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => PathBuf::from(v),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_and_reports_unknown() {
        let (c, unknown) = NamesrvConfig::from_properties(
            "listenPort=19876\norderMessageEnable=true\nscanNotActiveBrokerInterval=50\n\
             serverWorkerThreads=8\nnoSuchKey=1\n",
        )
        .unwrap();
        assert_eq!(c.listen_port, 19876);
        assert!(c.order_message_enable);
        assert_eq!(c.scan_interval(), Duration::from_millis(50));
        assert_eq!(unknown, vec!["noSuchKey".to_owned()]);
    }

    #[test]
    fn bad_port_is_an_error_naming_the_key() {
        let e = NamesrvConfig::from_properties("listenPort=abc").unwrap_err();
        assert_eq!(e.key, "listenPort");
    }

    #[test]
    fn printed_config_parses_back() {
        let c = NamesrvConfig {
            listen_port: 1234,
            ..Default::default()
        };
        let (back, unknown) = NamesrvConfig::from_properties(&c.to_properties()).unwrap();
        assert_eq!(back, c);
        assert!(unknown.is_empty());
    }
}
