//! A filling disk as the broker's clients see it (issue 9): sends refused with
//! SERVICE_NOT_AVAILABLE and a remark saying the disk is full, stored messages untouched and
//! readable, sends accepted again without a restart once space is back. The disk is a probe
//! here; the real-filesystem test comes with the crash-image seam.

mod broker_util;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use broker_util::*;
use ferrumq_store::RetentionProbe;

struct DiskProbe(AtomicU64);

impl RetentionProbe for DiskProbe {
    fn now_ms(&self) -> i64 {
        ferrumq::broker::topic_config::now_ms()
    }
    fn local_hour(&self) -> u32 {
        12
    }
    fn disk_used_ratio(&self, _: &Path) -> f64 {
        self.0.load(Ordering::SeqCst) as f64 / 1000.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_refuses_sends_then_recovers() {
    let c = Cluster::start().await;
    assert_eq!(c.send_to("DiskT", 0, "a", b"kept").await.code, 0);
    let store = c.broker.as_ref().expect("broker").inner().store.clone();
    let probe = Arc::new(DiskProbe(AtomicU64::new(950)));
    store.set_retention_probe(probe.clone());

    let r = c.send_to("DiskT", 0, "a", b"refused").await;
    assert_eq!(r.code, 14, "SERVICE_NOT_AVAILABLE: {:?}", r.remark);
    let remark = r.remark.unwrap_or_default();
    assert!(
        remark.contains("disk full") && remark.contains("95%"),
        "{remark}"
    );
    let pulled = c.call(pull_request("g", "DiskT", 0, 0, 4, "*", 0)).await;
    assert_eq!(pulled.code, 0, "reads go on");

    probe.0.store(500, Ordering::SeqCst);
    store.run_retention(); // what the retention thread does every cleanResourceInterval
    let r = c.send_to("DiskT", 0, "a", b"again").await;
    assert_eq!(
        (r.code, field_i64(&r, "queueOffset")),
        (0, 1),
        "{:?}",
        r.remark
    );
    c.shutdown().await;
}
