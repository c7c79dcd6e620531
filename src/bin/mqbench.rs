//! `mqbench produce|consume|e2e|null-server`: see `ferrumq::bench`.

use clap::Parser;
use ferrumq::bench::{Cli, Mode};

fn main() {
    let cli = Cli::parse();
    let result = match cli.mode {
        // One thread by design: it is the ceiling, not a contender.
        Mode::NullServer(opts) => ferrumq::bench::null_server::serve(opts),
        mode => tokio::runtime::Runtime::new()
            .map_err(|e| format!("runtime: {e}"))
            .and_then(|rt| rt.block_on(ferrumq::bench::run(Cli { mode }))),
    };
    if let Err(e) = result {
        eprintln!("mqbench: {e}");
        std::process::exit(1);
    }
}
