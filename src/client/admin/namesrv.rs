//! NameServer settings: its configuration and the KV store (namespaces of key → value).

use super::Admin;
use crate::client::error::ClientError;
use crate::protocol::{properties, ExtFields, RequestCode};

impl Admin {
    /// Each NameServer's configuration (GET_NAMESRV_CONFIG), in the order the addresses were
    /// given; the first failure is the error.
    pub async fn namesrv_config(
        &self,
    ) -> Result<Vec<(String, Vec<(String, String)>)>, ClientError> {
        let mut out = Vec::new();
        for (ns, r) in self
            .namesrv_each(RequestCode::GetNamesrvConfig, ExtFields::new(), None)
            .await
        {
            let text = String::from_utf8_lossy(&r?.body).into_owned();
            out.push((ns, properties::parse_properties(&text)));
        }
        Ok(out)
    }

    /// Changes one property at every NameServer (UPDATE_NAMESRV_CONFIG, body `key=value`).
    /// One result per NameServer.
    pub async fn update_namesrv_config(
        &self,
        key: &str,
        value: &str,
    ) -> Vec<(String, Result<(), ClientError>)> {
        let body = properties::to_properties_text([(key, value)]).into_bytes();
        self.namesrv_each(
            RequestCode::UpdateNamesrvConfig,
            ExtFields::new(),
            Some(body),
        )
        .await
        .into_iter()
        .map(|(ns, r)| (ns, r.map(|_| ())))
        .collect()
    }

    /// Sets a KV entry at every NameServer (PUT_KV_CONFIG).
    pub async fn put_kv_config(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ClientError> {
        let mut ext = ExtFields::with_capacity(3);
        ext.insert("namespace", namespace);
        ext.insert("key", key);
        ext.insert("value", value);
        self.namesrv_all(RequestCode::PutKvConfig, ext, None).await
    }

    /// Removes a KV entry at every NameServer (DELETE_KV_CONFIG).
    pub async fn delete_kv_config(&self, namespace: &str, key: &str) -> Result<(), ClientError> {
        let mut ext = ExtFields::with_capacity(2);
        ext.insert("namespace", namespace);
        ext.insert("key", key);
        self.namesrv_all(RequestCode::DeleteKvConfig, ext, None)
            .await
    }

    /// A KV entry as one NameServer has it (GET_KV_CONFIG); None when absent.
    pub async fn kv_config(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<String>, ClientError> {
        let mut ext = ExtFields::with_capacity(2);
        ext.insert("namespace", namespace);
        ext.insert("key", key);
        match self.namesrv_call(RequestCode::GetKvConfig, ext).await {
            Ok(resp) => Ok(resp.ext_fields.get("value").map(String::from)),
            Err(e) if e.code() == Some(crate::protocol::ResponseCode::QueryNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
