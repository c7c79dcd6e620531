//! `mqadmin`: RocketMQ's operator CLI, same subcommand names, flag letters and output
//! layouts (shared/docs/mqadmin.md), built on the SDK's `Admin`. Unlike Apache's tool, a
//! failure exits non-zero with one readable line.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Never a stack trace: a bug shows as one line and exit status 1, and a closed stdout
    // (`mqadmin topicList | head -1`) ends the command quietly, as Unix tools do.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown");
        if what.contains("Broken pipe") {
            std::process::exit(141);
        }
        eprintln!(
            "mqadmin: internal error: {}",
            what.replace(['\n', '\r'], " ")
        );
        std::process::exit(1);
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mqadmin: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(ferrumq::admin_cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            // One line, whatever a remark carried.
            eprintln!("mqadmin: {}", line.replace(['\n', '\r'], " "));
            ExitCode::FAILURE
        }
    }
}
