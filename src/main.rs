//! Parses the command line, sets up logging to a file and the panic hook, and dispatches.

use std::process::ExitCode;

use clap::Parser as _;
use iotfleet::cli::{self, args::Cli};
use iotfleet::config::paths;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = init_logging();
    install_panic_hook(log.clone());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("iotfleet: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::warn!(exit_code = error.exit_code, message = %error.message(), "verb failed");
            eprintln!("iotfleet: {}", error.message());
            ExitCode::from(error.exit_code)
        }
    }
}

/// Logs go to `$XDG_STATE_HOME/iotfleet/iotfleet.log` (private, rotated past 10 MiB), never to
/// the screen. `IOTFLEET_LOG` takes a tracing filter (default `info`). Returns the log path when
/// logging could be set up.
fn init_logging() -> Option<std::path::PathBuf> {
    let path = paths::log_file()?;
    paths::create_private_dir_all(path.parent()?).ok()?;
    let file = iotfleet::log_file::LogFile::open(&path, iotfleet::log_file::MAX_BYTES).ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("IOTFLEET_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    });
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    Some(path)
}

/// A panic prints one line naming the log, where the details go, instead of a raw backtrace.
fn install_panic_hook(log: Option<std::path::PathBuf>) {
    std::panic::set_hook(Box::new(move |info| {
        let backtrace = std::backtrace::Backtrace::force_capture();
        tracing::error!(%info, %backtrace, "panic");
        let message = iotfleet::untrusted::escape(&info.to_string()).into_owned();
        match &log {
            Some(path) => eprintln!(
                "iotfleet: internal error: {message} (details in {})",
                path.display()
            ),
            None => eprintln!("iotfleet: internal error: {message}"),
        }
    }));
}
