//! Parses the command line, sets up logging to a file and the panic hook, and dispatches.

use std::process::ExitCode;

use clap::Parser as _;
use iotfleet::cli::{self, args::Cli};
use iotfleet::config::paths;

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // Before the runtime's threads: `time` reads the local offset only in one thread.
    cli.global.local_zone = time::UtcOffset::current_local_offset().ok();
    let console = matches!(cli.command, None | Some(cli::args::Command::Tui));
    let log = init_logging(
        cli.global.log_file.clone(),
        cli.global.verbose,
        cli.global.verbose > 0 && !console,
    );
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
    // SIGTERM and SIGHUP (an SSH session dropped) stop the verb as Ctrl-C would: dropping it
    // restores the terminal and stops the local core and its broker, whose private files (the
    // operator's key) go with it.
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = cli::run(cli) => Ok(result),
            signal = termination() => Err(signal),
        }
    });
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            tracing::warn!(exit_code = error.exit_code, message = %error.message(), "verb failed");
            eprintln!("iotfleet: {}", error.message());
            ExitCode::from(error.exit_code)
        }
        Err((name, number)) => {
            tracing::info!(signal = name, "stopped by a signal");
            // The shell's convention for a process ended by a signal.
            ExitCode::from(128 + number)
        }
    }
}

/// The first SIGTERM or SIGHUP, by name and number; never, where they cannot be watched.
async fn termination() -> (&'static str, u8) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    let (name, number) = tokio::select! {
        _ = terminate.recv() => ("SIGTERM", 15),
        _ = hangup.recv() => ("SIGHUP", 1),
    };
    cli::stop_within(cli::STOP_DEADLINE, 128 + number);
    (name, number)
}

/// Logs go to `--log-file`, else `$XDG_STATE_HOME/iotfleet/iotfleet.log` (private, rotated past
/// 10 MiB), and to stderr as well only when `to_stderr` (a verb run with `-v`): the console's
/// screen is never written to. `-v` logs at debug, `-vv` at trace; else `IOTFLEET_LOG` takes a
/// tracing filter (default `info`). Returns the log path when logging could be set up; a log
/// that cannot be opened is said once on stderr.
fn init_logging(
    chosen: Option<std::path::PathBuf>,
    verbose: u8,
    to_stderr: bool,
) -> Option<std::path::PathBuf> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let path = chosen.or_else(paths::log_file)?;
    let opened = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or(Ok(()), paths::create_private_dir_all)
        .and_then(|()| iotfleet::log_file::LogFile::open(&path, iotfleet::log_file::MAX_BYTES));
    let file = match opened {
        Ok(file) => file,
        Err(error) => {
            eprintln!(
                "iotfleet: cannot write the log {}: {error}",
                iotfleet::untrusted::escape(&path.display().to_string())
            );
            return None;
        }
    };
    let filter = match verbose {
        0 => tracing_subscriber::EnvFilter::try_from_env("IOTFLEET_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
        }),
        1 => tracing_subscriber::EnvFilter::new(
            "debug,aws_smithy_runtime=info,hyper=info,rustls=info",
        ),
        _ => tracing_subscriber::EnvFilter::new("trace"),
    };
    let stderr = to_stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false),
        )
        .with(stderr)
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
