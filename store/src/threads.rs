//! The background threads: dispatcher, CommitLog flusher, flush timeout scanner, logics
//! flusher (ConsumeQueues + index + checkpoint) and retention.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::StoreError;
use crate::store::Inner;

fn spawn(name: &str, inner: &Arc<Inner>, f: fn(&Inner)) -> Result<JoinHandle<()>, StoreError> {
    let inner = inner.clone();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || f(&inner))
        .map_err(|e| StoreError::io(name, e))
}

/// Runs `f` every `interval` until the store stops.
fn every(inner: &Inner, interval: Duration, mut f: impl FnMut()) {
    while !inner.stopping.load(Ordering::Acquire) {
        std::thread::park_timeout(interval);
        if inner.stopping.load(Ordering::Acquire) {
            break;
        }
        f();
    }
}

fn dispatch_loop(inner: &Inner) {
    let mut backoff = DISPATCH_RETRY_MIN;
    while !inner.stopping.load(Ordering::Acquire) {
        if inner.dispatch_paused.load(Ordering::Acquire) || inner.dispatch_available() == 0 {
            // Appends unpark us; the timeout is only a safety net.
            std::thread::park_timeout(Duration::from_millis(20));
        }
        if inner.dispatch_error.lock().is_some() {
            // A write failed (e.g. no disk space): retry the same record, ever less often.
            std::thread::park_timeout(backoff);
            backoff = (backoff * 2).min(DISPATCH_RETRY_MAX);
        } else {
            backoff = DISPATCH_RETRY_MIN;
        }
    }
}

/// Back-off of a dispatcher that retries a failed ConsumeQueue / index write.
const DISPATCH_RETRY_MIN: Duration = Duration::from_millis(10);
const DISPATCH_RETRY_MAX: Duration = Duration::from_secs(1);

fn logics_flush_loop(inner: &Inner) {
    let interval = Duration::from_millis(inner.config.flush_interval_consume_queue_ms.max(1));
    every(inner, interval, || {
        if let Err(e) = inner.flush_logics_and_checkpoint() {
            tracing::error!(error = %e, "consume queue / index / checkpoint flush failed");
        }
    });
}

fn retention_loop(inner: &Inner) {
    let interval = Duration::from_millis(inner.config.clean_resource_interval_ms.max(1));
    every(inner, interval, || {
        inner.run_retention();
    });
}

/// Appends wake it when the warmed window runs short; the timeout only catches a pause
/// after a failure running out.
fn warm_loop(inner: &Inner) {
    every(inner, Duration::from_millis(100), || {
        inner.commit_log.warm_ahead()
    });
}

fn flush_timeout_loop(inner: &Inner) {
    let interval = Duration::from_millis((inner.config.sync_flush_timeout_ms / 10).clamp(1, 100));
    every(inner, interval, || inner.expire_flush_waiters());
}

/// Starts every background thread.
pub(crate) fn spawn_all(inner: &Arc<Inner>) -> Result<Vec<JoinHandle<()>>, StoreError> {
    let dispatcher = spawn("fq-dispatch", inner, dispatch_loop)?;
    let _ = inner.dispatcher.set(dispatcher.thread().clone());
    let warmer = spawn("fq-warm", inner, warm_loop)?;
    let _ = inner.warmer.set(warmer.thread().clone());
    Ok(vec![
        warmer,
        dispatcher,
        spawn("fq-flush-commitlog", inner, Inner::flush_loop)?,
        spawn("fq-flush-timeout", inner, flush_timeout_loop)?,
        spawn("fq-flush-logics", inner, logics_flush_loop)?,
        spawn("fq-retention", inner, retention_loop)?,
    ])
}
