//! SIGINT / SIGTERM as one future for the server binaries.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Both handlers are installed by [`ShutdownSignal::register`], before a server reports that
/// it is up: a signal sent after that line is then always a clean shutdown, never the default
/// action (immediate death) that a handler installed later would leave in place.
pub struct ShutdownSignal {
    terminate: Signal,
    interrupt: Signal,
}

impl ShutdownSignal {
    /// Must run inside a tokio runtime.
    pub fn register() -> std::io::Result<Self> {
        Ok(ShutdownSignal {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the first SIGTERM or SIGINT.
    pub async fn recv(mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}
