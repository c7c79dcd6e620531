//! `FlushWaiter`: a tiny oneshot completed by the flusher thread, awaitable from tokio without
//! blocking a worker, or blockingly from plain threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::{Condvar, Mutex};

use crate::message::PutStatus;

#[derive(Default)]
struct State {
    status: Option<PutStatus>,
    waker: Option<Waker>,
}

/// The flusher's end of a waiter.
#[derive(Default)]
pub(crate) struct WaiterShared {
    state: Mutex<State>,
    cond: Condvar,
}

impl WaiterShared {
    /// Completes the waiter once; later calls are ignored.
    pub(crate) fn complete(&self, status: PutStatus) {
        let waker = {
            let mut st = self.state.lock();
            if st.status.is_some() {
                return;
            }
            st.status = Some(status);
            st.waker.take()
        };
        self.cond.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

enum Inner {
    Ready(PutStatus),
    Pending(Arc<WaiterShared>),
}

/// Resolves when the put is durable per flushDiskType: `PutOk`, `FlushDiskTimeout` (the record
/// is stored but the flush did not finish in time) or `ServiceNotAvailable` (flush failed).
pub struct FlushWaiter(Inner);

impl FlushWaiter {
    /// Already resolved (ASYNC_FLUSH, or an error known at append time).
    pub fn ready(status: PutStatus) -> Self {
        Self(Inner::Ready(status))
    }

    pub(crate) fn pending() -> (Self, Arc<WaiterShared>) {
        let shared = Arc::new(WaiterShared::default());
        (Self(Inner::Pending(shared.clone())), shared)
    }

    /// Blocks the calling (non-async) thread until resolved.
    pub fn wait_blocking(self) -> PutStatus {
        match self.0 {
            Inner::Ready(s) => s,
            Inner::Pending(shared) => {
                let mut st = shared.state.lock();
                loop {
                    if let Some(s) = st.status {
                        return s;
                    }
                    shared.cond.wait(&mut st);
                }
            }
        }
    }
}

impl Future for FlushWaiter {
    type Output = PutStatus;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PutStatus> {
        match &self.0 {
            Inner::Ready(s) => Poll::Ready(*s),
            Inner::Pending(shared) => {
                let mut st = shared.state.lock();
                if let Some(s) = st.status {
                    return Poll::Ready(s);
                }
                match &st.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => st.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl std::fmt::Debug for FlushWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Ready(s) => f.debug_tuple("FlushWaiter::Ready").field(s).finish(),
            Inner::Pending(shared) => f
                .debug_tuple("FlushWaiter::Pending")
                .field(&shared.state.lock().status)
                .finish(),
        }
    }
}
