//! Log set-up shared by the server binaries.

/// Logs go to stderr (stdout carries `-p` output and the boot line), `RUST_LOG` filters them
/// (default `info`), and colour codes are written only to a terminal, never into log files.
pub fn init() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}
