//! The NameServer (wire doc §9): route table, broker liveness, KV config.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod config;
mod kv;
mod processor;
mod routes;
mod topics;

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{ConfigError, NamesrvConfig};
pub use kv::KvConfigManager;
pub use processor::{masked_crc32, NamesrvProcessor, ORDER_TOPIC_CONFIG};
pub use routes::{BrokerLiveInfo, RegisterResult, Registration, RouteTable, MASTER_ID};
pub use topics::UnitFilter;

use crate::remoting::{RemotingServer, ServerConfig};

/// A running NameServer.
pub struct NamesrvHandle {
    server: RemotingServer,
    scan_stop: watch::Sender<bool>,
    scan_task: JoinHandle<()>,
    routes: Arc<RouteTable>,
}

impl NamesrvHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The live route table (tests and in-process tools).
    pub fn routes(&self) -> &Arc<RouteTable> {
        &self.routes
    }

    /// Stops accepting, drains in-flight requests, stops the expiry scan.
    pub async fn shutdown(self) {
        let _ = self.scan_stop.send(true);
        let _ = self.scan_task.await;
        self.server.shutdown().await;
    }
}

/// Starts a NameServer on `bindAddress:listenPort` (port 0 picks a free one).
pub async fn start_namesrv(config: NamesrvConfig) -> std::io::Result<NamesrvHandle> {
    let kv = Arc::new(KvConfigManager::load(config.kv_config_path.clone())?);
    let routes = Arc::new(RouteTable::default());
    let server_config = ServerConfig {
        idle_timeout: config.idle_timeout(),
        max_connections: config.max_connections,
        ..Default::default()
    };
    let addr = SocketAddr::new(config.bind_address, config.listen_port);
    let scan_interval = config.scan_interval();
    let processor = Arc::new(NamesrvProcessor {
        routes: routes.clone(),
        kv,
        config: Arc::new(RwLock::new(config)),
    });
    let server = RemotingServer::bind(addr, server_config, processor).await?;
    let (scan_stop, stop_rx) = watch::channel(false);
    let scan_task = tokio::spawn(scan_loop(routes.clone(), scan_interval, stop_rx));
    tracing::info!(addr = %server.local_addr(), "name server started");
    Ok(NamesrvHandle {
        server,
        scan_stop,
        scan_task,
        routes,
    })
}

async fn scan_loop(
    routes: Arc<RouteTable>,
    every: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        for addr in routes.scan_not_active(tokio::time::Instant::now()) {
            tracing::warn!(broker = %addr, "broker expired: no registration within its timeout");
        }
    }
}
