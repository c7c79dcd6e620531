//! `mqbroker -c broker.conf [-n host:9876;host2:9876] [-p]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ferrumq::broker::{config::split_namesrv, start_broker, BrokerConfig};
use ferrumq::signal::ShutdownSignal;

/// The broker must be gone this long after SIGTERM (the conformance kit allows 30 s).
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(25);

#[derive(Parser)]
#[command(name = "mqbroker", about = "FerrumQ broker (RocketMQ-compatible)")]
struct Args {
    /// Broker properties file (RocketMQ property names).
    #[arg(short = 'c', long = "configFile")]
    config: Option<PathBuf>,
    /// NameServer addresses, `;`-separated (overrides namesrvAddr).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
    /// Print the effective configuration and exit.
    #[arg(short = 'p', long = "printConfigItem")]
    print: bool,
}

fn main() -> ExitCode {
    ferrumq::logging::init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => match BrokerConfig::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("mqbroker: {e}");
                return ExitCode::from(2);
            }
        },
        None => BrokerConfig::default(),
    };
    if let Some(n) = &args.namesrv {
        config.namesrv_addr = split_namesrv(n);
    }
    if args.print {
        print!("{}", config.to_properties());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mqbroker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: BrokerConfig) -> ExitCode {
    // Handlers first: a SIGTERM right after the port opens must be a clean shutdown, not
    // the default action (immediate death, abort file left behind).
    let signal = match ShutdownSignal::register() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqbroker: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let broker = match start_broker(config).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("mqbroker: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("The broker[{}] boot success.", broker.local_addr());
    signal.recv().await;
    tracing::info!("shutting down");
    if tokio::time::timeout(SHUTDOWN_LIMIT, broker.shutdown())
        .await
        .is_err()
    {
        eprintln!("mqbroker: shutdown did not finish in {SHUTDOWN_LIMIT:?}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
