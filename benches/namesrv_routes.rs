//! GET_ROUTEINFO_BY_TOPIC served over 16 connections (target >= 50k req/s on the 2-core
//! test machine). The load generator runs in the same process and shares the cores.
//!
//!     cargo bench --bench namesrv_routes

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrumq::namesrv::{start_namesrv, NamesrvConfig};
use ferrumq::protocol::*;
use ferrumq::remoting::{ClientConfig, RemotingClient};

const CONNECTIONS: usize = 16;
const IN_FLIGHT_PER_CONNECTION: usize = 16;

fn register(i: usize) -> RemotingCommand {
    let mut table = BTreeMap::new();
    for t in 0..50 {
        let name = format!("Topic{t}");
        table.insert(name.clone(), TopicConfig::new(name));
    }
    let body = RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter: 1,
                state_version: None,
                timestamp: 1,
            },
            topic_config_table: table,
        },
    };
    RemotingCommand::new_request(RequestCode::RegisterBroker, Default::default())
        .with_header(&RegisterBrokerRequestHeader {
            broker_name: format!("broker-{i}"),
            broker_addr: format!("10.0.0.{i}:10911"),
            cluster_name: "DefaultCluster".into(),
            ha_server_addr: String::new(),
            broker_id: 0,
            ..Default::default()
        })
        .with_body(body.encode())
}

/// Sends `total` route requests spread over the connections; returns the elapsed time.
async fn run(addr: &str, clients: &[RemotingClient], total: u64) -> Duration {
    let tasks_n = (CONNECTIONS * IN_FLIGHT_PER_CONNECTION) as u64;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (k, c) in clients
        .iter()
        .flat_map(|c| std::iter::repeat_n(c, IN_FLIGHT_PER_CONNECTION))
        .enumerate()
    {
        // Exactly `total` requests: the first `total % tasks_n` tasks send one more.
        let per_task = total / tasks_n + u64::from((k as u64) < total % tasks_n);
        let (c, addr) = (c.clone(), addr.to_owned());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_task {
                let req = RemotingCommand::new_request(
                    RequestCode::GetRouteinfoByTopic,
                    Default::default(),
                )
                .with_header(&GetRouteInfoRequestHeader {
                    topic: "Topic7".into(),
                    ..Default::default()
                });
                let r = c.invoke(&addr, req, Duration::from_secs(10)).await;
                assert!(matches!(r, Ok(ref r) if r.code == 0));
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (ns, clients, addr) = rt.block_on(async {
        let ns = start_namesrv(NamesrvConfig {
            listen_port: 0,
            bind_address: "127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}")),
            kv_config_path: dir.path().join("kv.json"),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let addr = ns.local_addr().to_string();
        let clients: Vec<RemotingClient> = (0..CONNECTIONS)
            .map(|_| RemotingClient::new(ClientConfig::default()))
            .collect();
        for (i, c) in clients.iter().take(2).enumerate() {
            let _ = c
                .invoke(&addr, register(i + 1), Duration::from_secs(5))
                .await;
        }
        (ns, clients, addr)
    });
    let mut g = c.benchmark_group("namesrv");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.bench_function("get_routeinfo_by_topic_16_connections", |b| {
        b.iter_custom(|iters| rt.block_on(run(&addr, &clients, iters)))
    });
    g.finish();
    rt.block_on(ns.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
