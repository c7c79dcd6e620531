//! The broker: request processors over the store, topic/group/offset tables, long polling,
//! NameServer registration, and the controller that starts and stops it all.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod clock;
pub mod config;
pub mod consumer_manager;
pub mod ha;
pub mod live_config;
pub mod locks;
pub mod long_polling;
pub mod offsets;
pub mod processor;
pub mod producer_manager;
pub mod register;
pub mod schedule;
pub mod stats;
pub mod subscription_group;
pub mod timer;
pub mod topic_config;
pub mod transaction;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ferrumq_store::{MessageStore, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::remoting::{RemotingClient, RemotingServer};

pub use config::BrokerConfig;

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// How often due delayed messages are looked for (Java re-checks each level every 100 ms).
const SCHEDULE_SCAN_EVERY: Duration = Duration::from_millis(100);

/// Shared state every processor and background task sees.
pub struct BrokerInner {
    pub config: BrokerConfig,
    /// The properties that change while the broker runs (UPDATE_BROKER_CONFIG).
    pub live: live_config::LiveConfig,
    pub store: Arc<MessageStore>,
    pub topics: topic_config::TopicConfigManager,
    pub offsets: offsets::ConsumerOffsetManager,
    pub groups: subscription_group::SubscriptionGroupManager,
    pub consumers: consumer_manager::ConsumerManager,
    pub producers: producer_manager::ProducerManager,
    pub locks: locks::RebalanceLockManager,
    pub holds: long_polling::PullHoldService,
    pub schedule: schedule::ScheduleService,
    pub stats: stats::BrokerStats,
    pub tx: transaction::TransactionState,
    /// SQL92 expressions compiled once, not per pull.
    pub selectors: crate::sql92::SelectorCache,
    pub timer: timer::TimerService,
    pub namesrv_client: RemotingClient,
    /// A master's replication service (None on a slave).
    pub ha: Option<Arc<ha::HaService>>,
    /// The HA port actually bound (a master), for the NameServer to tell slaves.
    ha_port: OnceLock<u16>,
    /// A slave's master HA address, as the NameServer last answered a registration.
    pub ha_master: parking_lot::Mutex<Option<String>>,
    /// A slave's master (remoting address), from the same answer: tables are copied from it.
    pub master_addr: parking_lot::Mutex<Option<String>>,
    /// A slave's offsets committed while its master was away, for the master.
    pub slave_offsets: ha::slave_offsets::PendingOffsets,
    /// Stops the slave's replication stream at shutdown.
    ha_stop: tokio_util::sync::CancellationToken,
    /// brokerIP1 and the port actually bound; set once right after binding.
    addr: OnceLock<SocketAddr>,
    shutting_down: AtomicBool,
    /// Sends appended and waiting for durability (bounded by send::MAX_PENDING_SENDS).
    pub pending_sends: std::sync::atomic::AtomicUsize,
    /// When this broker started, ms since the epoch (runtime info).
    pub boot_ms: i64,
}

impl BrokerInner {
    /// brokerIP1:listenPort (the bound port): STOREHOST and the registered address.
    pub fn store_host(&self) -> SocketAddr {
        match self.addr.get() {
            Some(a) => *a,
            None => broker_socket_addr(&self.config, self.config.listen_port),
        }
    }

    pub fn broker_addr(&self) -> String {
        self.store_host().to_string()
    }

    /// brokerIP1:the bound HA port, what slaves dial (the configured port until bound).
    pub fn ha_server_addr(&self) -> String {
        let port = self
            .ha_port
            .get()
            .copied()
            .unwrap_or(self.config.ha_listen_port);
        format!("{}:{port}", self.config.broker_ip1)
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

fn broker_socket_addr(cfg: &BrokerConfig, port: u16) -> SocketAddr {
    let ip = cfg
        .broker_ip1
        .parse()
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    SocketAddr::new(std::net::IpAddr::V4(ip), port)
}

/// A running broker.
pub struct BrokerHandle {
    inner: Arc<BrokerInner>,
    servers: Vec<RemotingServer>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Opens the store, loads the tables, binds `listenPort` (and the VIP port listenPort-2
/// when free), registers with the NameServers and starts the background tasks.
pub async fn start_broker(config: BrokerConfig) -> Result<BrokerHandle, BrokerError> {
    let store_cfg = config.store.clone();
    let master = config.broker_role != config::BrokerRole::Slave;
    let store = tokio::task::spawn_blocking(move || {
        let store = MessageStore::open(store_cfg)?;
        // A master's term starts here: slaves compare logs by terms (ha/handshake.rs).
        if master {
            store.begin_epoch()?;
        }
        Ok::<_, StoreError>(store)
    })
    .await
    .map_err(|e| BrokerError::Config(format!("store open task failed: {e}")))??;
    let config_dir = config.config_dir();
    let ha = (config.broker_role != config::BrokerRole::Slave)
        .then(|| ha::HaService::new(store.clone(), config.ha_max_gap_not_in_sync));
    let inner = Arc::new(BrokerInner {
        ha,
        ha_port: OnceLock::new(),
        ha_master: Default::default(),
        master_addr: Default::default(),
        slave_offsets: Default::default(),
        ha_stop: Default::default(),
        topics: topic_config::TopicConfigManager::load(&config)?,
        offsets: offsets::ConsumerOffsetManager::load(config_dir.clone())?,
        groups: subscription_group::SubscriptionGroupManager::load(
            config_dir.clone(),
            config.auto_create_subscription_group,
        )?,
        schedule: schedule::ScheduleService::load(
            config_dir,
            config.store.message_delay_level_ms.clone(),
            config.clock.clone(),
        )?,
        consumers: Default::default(),
        producers: Default::default(),
        locks: Default::default(),
        holds: Default::default(),
        stats: Default::default(),
        tx: Default::default(),
        selectors: Default::default(),
        timer: timer::TimerService::open(&config.store.store_path_root_dir)
            .map_err(|e| BrokerError::Config(format!("timer files: {e}")))?,
        namesrv_client: RemotingClient::new(Default::default()),
        store,
        live: live_config::LiveConfig::new(&config),
        config,
        addr: OnceLock::new(),
        shutting_down: AtomicBool::new(false),
        pending_sends: Default::default(),
        boot_ms: topic_config::now_ms(),
    });
    // Reads the op queue (and maybe the CommitLog tail): off the runtime's threads.
    let loading = inner.clone();
    tokio::task::spawn_blocking(move || transaction::load_resolved(&loading))
        .await
        .map_err(|e| BrokerError::Config(format!("transaction state load failed: {e}")))?;
    let weak = Arc::downgrade(&inner);
    inner
        .store
        .set_arrival_listener(Arc::new(move |topic: &str, queue_id: i32, max: i64| {
            if let Some(inner) = weak.upgrade() {
                inner.holds.notify(topic, queue_id, max);
            }
        }));
    let servers = bind_servers(&inner).await?;
    bind_ha(&inner).await?;
    let (stop, stop_rx) = watch::channel(false);
    register::register_all(&inner).await;
    let mut tasks = spawn_background(&inner, stop_rx.clone());
    if inner.config.broker_role == config::BrokerRole::Slave {
        tasks.push(copy_tables_from_master(&inner, stop_rx));
        let weak = Arc::downgrade(&inner);
        let configured = inner.config.ha_master_address.clone();
        let master = move || {
            configured
                .clone()
                .or_else(|| weak.upgrade().and_then(|i| i.ha_master.lock().clone()))
        };
        tasks.push(tokio::spawn(ha::slave::follow(
            inner.store.clone(),
            master,
            inner.ha_stop.clone(),
        )));
    }
    tracing::info!(addr = %inner.broker_addr(), name = %inner.config.broker_name, "broker started");
    Ok(BrokerHandle {
        inner,
        servers,
        stop,
        tasks,
    })
}

/// A master's HA port: haListenPort (0 with listenPort 0: tests pick free ports). A
/// SYNC_MASTER cannot keep its promise without it and does not start; an ASYNC_MASTER runs
/// on without replication and says so.
async fn bind_ha(inner: &Arc<BrokerInner>) -> Result<(), BrokerError> {
    let Some(ha) = &inner.ha else {
        return Ok(());
    };
    let port = if inner.config.listen_port == 0 {
        0
    } else {
        inner.config.ha_listen_port
    };
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    match ha.listen(addr).await {
        Ok(bound) => {
            let _ = inner.ha_port.set(bound.port());
            Ok(())
        }
        Err(source) if inner.config.broker_role == config::BrokerRole::SyncMaster => {
            Err(BrokerError::Bind { addr, source })
        }
        Err(e) => {
            tracing::warn!(addr = %addr, error = %e, "HA port not available: no slave can follow this master");
            Ok(())
        }
    }
}

async fn bind_servers(inner: &Arc<BrokerInner>) -> Result<Vec<RemotingServer>, BrokerError> {
    let processor = Arc::new(processor::BrokerProcessor::new(inner.clone()));
    let port = inner.config.listen_port;
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    let main = RemotingServer::bind(addr, Default::default(), processor.clone())
        .await
        .map_err(|source| BrokerError::Bind { addr, source })?;
    let bound = main.local_addr().port();
    let _ = inner.addr.set(broker_socket_addr(&inner.config, bound));
    let mut servers = vec![main];
    // The VIP ("fast") port of old Java clients: same processors; optional.
    if bound > 2 {
        let vip = SocketAddr::from(([0, 0, 0, 0], bound - 2));
        match RemotingServer::bind(vip, Default::default(), processor).await {
            Ok(s) => servers.push(s),
            Err(e) => tracing::warn!(addr = %vip, error = %e, "VIP port not available"),
        }
    }
    Ok(servers)
}

fn spawn_background(inner: &Arc<BrokerInner>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let cfg = &inner.config;
    let register_every =
        Duration::from_millis(cfg.register_name_server_period_ms.clamp(1_000, 60_000));
    let flush_every = Duration::from_millis(cfg.flush_consumer_offset_interval_ms.max(100));
    let ttl = Duration::from_millis(cfg.client_channel_expired_time_ms.max(1));
    let scan_every = (ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(10));
    let tx_check_every = Duration::from_millis(cfg.transaction_check_interval_ms.max(10));
    vec![
        periodic(inner, stop.clone(), register_every, |i| async move {
            register::register_all(&i).await
        }),
        periodic(inner, stop.clone(), flush_every, |i| async move {
            persist_tables(i).await
        }),
        periodic(inner, stop.clone(), SCHEDULE_SCAN_EVERY, |i| async move {
            let r = tokio::task::spawn_blocking(move || i.schedule.scan_once(&i)).await;
            if let Err(e) = r {
                tracing::error!(error = %e, "schedule scan task failed");
            }
        }),
        timer_loop(inner, stop.clone()),
        periodic(inner, stop.clone(), tx_check_every, |i| async move {
            let r = tokio::task::spawn_blocking(move || transaction::check_once(&i)).await;
            if let Err(e) = r {
                tracing::error!(error = %e, "transaction check task failed");
            }
        }),
        periodic(inner, stop.clone(), stats::SAMPLE_EVERY, |i| async move {
            let cluster = &i.config.broker_cluster_name;
            i.stats.sample_all(cluster, topic_config::now_ms());
        }),
        periodic(inner, stop, scan_every, move |i| async move {
            i.producers.scan_expired(ttl);
            for (group, notifiers) in i.consumers.scan_expired(ttl) {
                tracing::info!(%group, "consumer channel expired");
                processor::client::notify_group(&group, &notifiers);
            }
        }),
    ]
}

/// Timer messages: new ones into the wheel's files, due ones delivered, waking for the next
/// due time (at most 20 ms apart, so a new minute and new messages are seen).
fn timer_loop(inner: &Arc<BrokerInner>, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    let inner = inner.clone();
    tokio::spawn(async move {
        while !*stop.borrow() {
            let i = inner.clone();
            match tokio::task::spawn_blocking(move || timer::enqueue(&i)).await {
                Ok(Err(e)) => tracing::error!(error = %e, "timer enqueue failed"),
                Err(e) => tracing::error!(error = %e, "timer enqueue task failed"),
                Ok(Ok(_)) => {}
            }
            let next = timer::dequeue(&inner).await;
            let now = topic_config::now_ms();
            let wait = next.map_or(20, |due| (due - now).clamp(0, 20)) as u64;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

/// Runs `f` every `every` until `stop` flips.
fn periodic<F, Fut>(
    inner: &Arc<BrokerInner>,
    mut stop: watch::Receiver<bool>,
    every: Duration,
    f: F,
) -> JoinHandle<()>
where
    F: Fn(Arc<BrokerInner>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let inner = inner.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => f(inner.clone()).await,
                _ = stop.changed() => return,
            }
        }
    })
}

/// A slave copies its master's tables once the master is known, then every
/// `metadata::SYNC_EVERY`; until the master is known it re-registers every second to learn it.
fn copy_tables_from_master(
    inner: &Arc<BrokerInner>,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let last = Arc::new(parking_lot::Mutex::new(None::<std::time::Instant>));
    periodic(inner, stop, Duration::from_secs(1), move |i| {
        let last = last.clone();
        async move {
            let Some(master) = i.master_addr.lock().clone() else {
                // Not known yet (the master registered after this slave did): ask the
                // NameServers again now rather than at the next period (30 s by default).
                register::register_all(&i).await;
                return;
            };
            // Offsets committed here go to the master first, or the copy would undo them.
            let handed = i.slave_offsets.is_empty() || i.slave_offsets.hand_over(&i, &master).await;
            let due = last
                .lock()
                .is_none_or(|t| t.elapsed() >= ha::metadata::SYNC_EVERY);
            if due && handed {
                *last.lock() = Some(std::time::Instant::now());
                ha::metadata::sync_once(&i, &master).await;
            }
        }
    })
}

/// Writes consumerOffset.json and subscriptionGroup.json off the runtime's workers.
pub async fn persist_tables(inner: Arc<BrokerInner>) {
    let r = tokio::task::spawn_blocking(move || {
        if let Err(e) = inner.offsets.persist() {
            tracing::error!(error = %e, "consumerOffset.json: write failed");
        }
        if let Err(e) = inner.groups.persist() {
            tracing::error!(error = %e, "subscriptionGroup.json: write failed");
        }
        inner.topics.persist_if_dirty();
        if let Err(e) = inner.schedule.persist() {
            tracing::error!(error = %e, "delayOffset.json: write failed");
        }
    })
    .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "persist task failed");
    }
}

impl BrokerHandle {
    /// The bound broker address (brokerIP1 and the actual listen port).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.store_host()
    }

    /// The bound VIP ("fast") port, listenPort-2, when it could be bound.
    pub fn vip_addr(&self) -> Option<SocketAddr> {
        let port = self.servers.get(1)?.local_addr().port();
        Some(SocketAddr::new(self.local_addr().ip(), port))
    }

    /// Shared state, for tests and tools in the same process.
    pub fn inner(&self) -> &Arc<BrokerInner> {
        &self.inner
    }

    /// Clean shutdown: answer held pulls, stop accepting and drain, unregister, flush the
    /// tables, shut the store down (which removes the abort file).
    pub async fn shutdown(self) {
        let inner = self.inner;
        inner.shutting_down.store(true, Ordering::Release);
        inner.holds.wake_all();
        inner.ha_stop.cancel();
        if let Some(ha) = &inner.ha {
            ha.shutdown();
        }
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        for s in self.servers {
            s.shutdown().await;
        }
        register::unregister_all(&inner).await;
        persist_tables(inner.clone()).await;
        let store = inner.store.clone();
        let topics_inner = inner.clone();
        let r = tokio::task::spawn_blocking(move || {
            topics_inner.topics.persist();
            store.shutdown();
        })
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "store shutdown task failed");
        }
        tracing::info!("broker stopped");
    }
}
