//! `mqbench produce|consume|e2e`: see `ferrumq::bench`.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = ferrumq::bench::Cli::parse();
    if let Err(e) = ferrumq::bench::run(cli).await {
        eprintln!("mqbench: {e}");
        std::process::exit(1);
    }
}
