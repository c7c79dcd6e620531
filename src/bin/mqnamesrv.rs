//! `mqnamesrv [-c namesrv.conf] [-p]`: the NameServer.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ferrumq::namesrv::{start_namesrv, NamesrvConfig};

#[derive(Parser, Debug)]
#[command(name = "mqnamesrv", about = "FerrumQ NameServer (RocketMQ-compatible)")]
struct Args {
    /// Java properties file with RocketMQ NameServer property names.
    #[arg(short = 'c', long = "configFile")]
    config_file: Option<PathBuf>,
    /// Print the effective configuration and exit.
    #[arg(short = 'p', long = "printConfigItem")]
    print_config: bool,
    /// Accepted for compatibility with RocketMQ's launcher options; a NameServer ignores it.
    #[arg(short = 'n', long = "namesrvAddr", hide = true)]
    namesrv_addr: Option<String>,
}

fn main() -> ExitCode {
    ferrumq::logging::init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mqnamesrv: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<&PathBuf>) -> Result<NamesrvConfig, String> {
    let Some(path) = path else {
        return Ok(NamesrvConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    let (config, unknown) =
        NamesrvConfig::from_properties(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for key in unknown {
        tracing::warn!(%key, file = %path.display(), "unknown property ignored");
    }
    Ok(config)
}

fn run(args: Args) -> Result<(), String> {
    let config = load_config(args.config_file.as_ref())?;
    if args.print_config {
        print!("{}", config.to_properties());
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    runtime.block_on(async move {
        let shutdown = ferrumq::signal::ShutdownSignal::register()
            .map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let port = config.listen_port;
        let handle = start_namesrv(config)
            .await
            .map_err(|e| format!("cannot listen on port {port}: {e}"))?;
        println!(
            "The Name Server boot success. serializeType=JSON, address {}",
            handle.local_addr()
        );
        shutdown.recv().await;
        tracing::info!("shutting down");
        handle.shutdown().await;
        Ok(())
    })
}
