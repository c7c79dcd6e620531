//! Brokers: runtime info, configuration, write permission at the NameServers, consume
//! stats of every group, statistics.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{bad_body, lenient_json, Admin};
use crate::client::error::ClientError;
use crate::protocol::{properties, ExtFields, RequestCode};

impl Admin {
    /// A broker's GET_BROKER_RUNTIME_INFO table.
    pub async fn broker_runtime_info(
        &self,
        addr: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        let resp = self
            .broker_call(addr, RequestCode::GetBrokerRuntimeInfo, ExtFields::new())
            .await?;
        let v: serde_json::Value =
            serde_json::from_slice(&resp.body).map_err(|e| bad_body("runtime info".into(), e))?;
        Ok(v.get("table")
            .and_then(|t| t.as_object())
            .map(|t| {
                t.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A broker's configuration (GET_BROKER_CONFIG), in the order the broker wrote it.
    pub async fn broker_config(&self, addr: &str) -> Result<Vec<(String, String)>, ClientError> {
        let resp = self
            .broker_call(addr, RequestCode::GetBrokerConfig, ExtFields::new())
            .await?;
        let text = String::from_utf8_lossy(&resp.body);
        Ok(properties::parse_properties(&text))
    }

    /// Changes one property of a running broker (UPDATE_BROKER_CONFIG, body `key=value`).
    pub async fn update_broker_config(
        &self,
        addr: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ClientError> {
        let body = properties::to_properties_text([(key, value)]).into_bytes();
        self.call(
            addr,
            RequestCode::UpdateBrokerConfig,
            ExtFields::new(),
            Some(body),
            self.timeout,
        )
        .await?;
        Ok(())
    }

    /// Takes away (`writable` false) or gives back the write permission of a broker name at
    /// every NameServer (WIPE_ / ADD_WRITE_PERM_OF_BROKER). One result per NameServer: the
    /// number of topics changed.
    pub async fn set_broker_write_perm(
        &self,
        broker_name: &str,
        writable: bool,
    ) -> Vec<(String, Result<i64, ClientError>)> {
        let (code, count_field) = if writable {
            (RequestCode::AddWritePermOfBroker, "addTopicCount")
        } else {
            (RequestCode::WipeWritePermOfBroker, "wipeTopicCount")
        };
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("brokerName", broker_name);
        self.namesrv_each(code, ext, None)
            .await
            .into_iter()
            .map(|(ns, r)| {
                let count = r.map(|resp| {
                    resp.ext_fields
                        .get(count_field)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0)
                });
                (ns, count)
            })
            .collect()
    }

    /// Every group's consume stats on one broker (GET_BROKER_CONSUME_STATS), as the
    /// broker's ConsumeStatsList JSON (MessageQueue keys turned into JSON strings).
    pub async fn broker_consume_stats(
        &self,
        addr: &str,
        only_order: bool,
        timeout: Duration,
    ) -> Result<serde_json::Value, ClientError> {
        let mut ext = ExtFields::with_capacity(1);
        ext.insert_display("isOrder", only_order);
        let resp = self
            .call(addr, RequestCode::GetBrokerConsumeStats, ext, None, timeout)
            .await?;
        lenient_json("broker consume stats", &resp.body)
    }

    /// One statistic of a broker (VIEW_BROKER_STATS_DATA): `statsMinute`, `statsHour` and
    /// `statsDay`, each with `sum` and `tps`.
    pub async fn broker_stats(
        &self,
        addr: &str,
        stats_name: &str,
        stats_key: &str,
    ) -> Result<serde_json::Value, ClientError> {
        let mut ext = ExtFields::with_capacity(2);
        ext.insert("statsName", stats_name);
        ext.insert("statsKey", stats_key);
        let resp = self
            .broker_call(addr, RequestCode::ViewBrokerStatsData, ext)
            .await?;
        lenient_json("broker stats", &resp.body)
    }
}
