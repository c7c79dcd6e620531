//! NameServer subcommands: getNamesrvConfig, updateNamesrvConfig, updateKvConfig,
//! deleteKvConfig. The config commands go to every address of `-n` (or NAMESRV_ADDR).

use clap::Args;
use serde_json::json;

use super::{describe, fail, print_json, Common, Run};

#[derive(Args, Debug)]
pub struct GetNamesrvConfig {
    #[command(flatten)]
    common: Common,
    /// one JSON document instead of lines
    #[arg(long)]
    json: bool,
}

impl Run for GetNamesrvConfig {
    async fn run(self) -> Result<(), String> {
        let configs = self
            .common
            .admin()?
            .namesrv_config()
            .await
            .map_err(|e| fail("name server config", e))?;
        if self.json {
            let doc: serde_json::Map<String, serde_json::Value> = configs
                .into_iter()
                .map(|(ns, props)| {
                    let m: serde_json::Map<String, serde_json::Value> =
                        props.into_iter().map(|(k, v)| (k, v.into())).collect();
                    (ns, m.into())
                })
                .collect();
            print_json(&json!({ "nameServers": doc }));
            return Ok(());
        }
        for (ns, props) in configs {
            println!("============{ns}============");
            for (k, v) in props {
                println!("{k:<50}=  {v}");
            }
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct UpdateNamesrvConfig {
    #[command(flatten)]
    common: Common,
    /// config key
    #[arg(short = 'k', long = "key")]
    key: String,
    /// config value
    #[arg(short = 'v', long = "value")]
    value: String,
}

impl Run for UpdateNamesrvConfig {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let (key, value) = (self.key.trim(), self.value.trim());
        let mut failed = None;
        for (ns, r) in admin.update_namesrv_config(key, value).await {
            if let Err(e) = r {
                failed = Some(format!(
                    "update name server config {key} at {ns}: {}",
                    describe(&e)
                ));
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let list = admin.namesrv_addrs().join(", ");
        println!("update name server config success![{list}]");
        println!("{key} : {value}");
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct UpdateKvConfig {
    #[command(flatten)]
    common: Common,
    /// set the namespace
    #[arg(short = 's', long = "namespace")]
    namespace: String,
    /// set the key name
    #[arg(short = 'k', long = "key")]
    key: String,
    /// set the key value
    #[arg(short = 'v', long = "value")]
    value: String,
}

impl Run for UpdateKvConfig {
    async fn run(self) -> Result<(), String> {
        let (ns, key) = (self.namespace.trim(), self.key.trim());
        self.common
            .admin()?
            .put_kv_config(ns, key, self.value.trim())
            .await
            .map_err(|e| fail(format!("put kv config {ns}/{key}"), e))?;
        println!("create or update kv config to namespace success.");
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct DeleteKvConfig {
    #[command(flatten)]
    common: Common,
    /// set the namespace
    #[arg(short = 's', long = "namespace")]
    namespace: String,
    /// set the key name
    #[arg(short = 'k', long = "key")]
    key: String,
}

impl Run for DeleteKvConfig {
    async fn run(self) -> Result<(), String> {
        let (ns, key) = (self.namespace.trim(), self.key.trim());
        self.common
            .admin()?
            .delete_kv_config(ns, key)
            .await
            .map_err(|e| fail(format!("delete kv config {ns}/{key}"), e))?;
        println!("delete kv config from namespace success.");
        Ok(())
    }
}
