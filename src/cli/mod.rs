//! The non-interactive command line: clap definitions, the verbs, and their output. Talks to
//! AWS only through `crate::fleet`; prints only escaped text.

pub mod args;
mod audit;
mod batch;
mod browse;
mod denied;
mod history;
mod local;
mod manual;
mod quarantine;
mod shadow;
mod tail_lines;
mod text;
mod traffic;
mod violations;

use std::io::Write as _;

use serde::Serialize;

use crate::fleet::quarantine::holds::Scope;
use crate::fleet::{ConnectionSettings, FleetClient, FleetError, ThingQuery};
use crate::untrusted::{escape, json_for_terminal};
use args::{Cli, Command, LocalCommand, ShadowCommand};

/// The exit code of a verb whose answer is no (ARCHITECTURE.md, "Exit codes"): `audit
/// --fail-on` found findings at that severity, `thing --can` answered DENIED. Not an error: the
/// verb ran and says so.
pub const ANSWER_IS_NO: u8 = 6;

/// A failed verb: the one-line message and the process exit code (ARCHITECTURE.md, "Exit codes"),
/// and lines of this program's own that follow it (a query with a caret under its fault).
#[derive(Debug)]
pub struct CliError {
    pub exit_code: u8,
    message: String,
    pointer: Option<String>,
}

impl CliError {
    #[must_use]
    pub fn new(exit_code: u8, message: impl Into<String>) -> Self {
        Self {
            exit_code,
            message: message.into(),
            pointer: None,
        }
    }

    /// The message, escaped (it can quote names and service messages), then the pointer lines.
    #[must_use]
    pub fn message(&self) -> String {
        let message = escape(&self.message).into_owned();
        match &self.pointer {
            Some(pointer) => format!("{message}\n{pointer}"),
            None => message,
        }
    }
}

impl From<FleetError> for CliError {
    fn from(error: FleetError) -> Self {
        Self::new(error.exit_code(), error.to_string())
    }
}

impl From<crate::fleet::search::SearchError> for CliError {
    fn from(error: crate::fleet::search::SearchError) -> Self {
        use crate::fleet::search::SearchError;
        match &error {
            // One escaped line, then the query with a caret under its fault (`pointer` shows
            // whatever a terminal could act on as a space).
            SearchError::InvalidQuery {
                message,
                query,
                fault: Some(fault),
            } => Self {
                exit_code: 2,
                message: format!("the query is not valid: {fault} (the service said: {message})"),
                pointer: Some(fault.pointer(query)),
            },
            SearchError::InvalidQuery { .. } => Self::new(2, error.to_string()),
            SearchError::NoIndex { .. } => Self::new(1, error.to_string()),
            SearchError::Fleet(fleet) => Self::new(fleet.exit_code(), error.to_string()),
        }
    }
}

impl From<crate::fleet::mutation::MutationError> for CliError {
    fn from(error: crate::fleet::mutation::MutationError) -> Self {
        Self::new(error.exit_code(), error.to_string())
    }
}

/// The verbs that print as they go: quarantine, release and the audit.
async fn isolation_verb(
    client: &FleetClient,
    global: &args::GlobalArgs,
    default_strategy: crate::fleet::quarantine::Strategy,
    command: Command,
) -> Result<(), CliError> {
    match command {
        Command::Quarantine {
            things,
            query,
            group,
            from_file,
            reason,
            incident,
            strategy,
            deactivate_certs,
            dry_run,
            yes,
        } => {
            let selection = batch::Selection {
                names: things,
                query,
                group,
                from_file,
            };
            if let Some(thing) = selection.single() {
                let request = quarantine::Request {
                    thing: thing.to_owned(),
                    reason,
                    incident,
                    strategy,
                    deactivate_certs,
                    dry_run,
                    yes,
                };
                return quarantine::quarantine(client, global, default_strategy, request).await;
            }
            let request = batch::Request {
                things: selection.resolve(client).await?,
                reason,
                incident,
                strategy,
                deactivate_certs,
                dry_run,
                yes,
            };
            batch::quarantine(client, global, default_strategy, request).await
        }
        Command::Release {
            thing: Some(thing),
            hold,
            with_shared,
            dry_run,
            yes,
            ..
        } => {
            let scope = hold.map_or(Scope::Own, Scope::Hold);
            let request = quarantine::ReleaseRequest {
                thing,
                scope,
                with_shared,
                dry_run,
                yes,
            };
            quarantine::release(client, global, request).await
        }
        Command::Release {
            batch: Some(id),
            with_shared,
            dry_run,
            yes,
            ..
        } => batch::release(client, global, &id, with_shared, dry_run, yes).await,
        Command::Audit { fail_on } => audit::audit(client, global, fail_on).await,
        _ => unreachable!("only quarantine, release and audit come here"),
    }
}

/// After a stop was asked for (a signal, Ctrl-C), ends the process with `code` once `limit`
/// has passed, whatever is still running: a stop takes bounded time at any load. Safe for the
/// local core: a write is acknowledged only once its log line is on disk, and a line cut short
/// by the exit was never acknowledged and is ignored on reading.
pub fn stop_within(limit: std::time::Duration, code: u8) {
    let spawned = std::thread::Builder::new()
        .name("stop-deadline".into())
        .spawn(move || {
            std::thread::sleep(limit);
            tracing::warn!(?limit, "still stopping after the deadline: exiting now");
            std::process::exit(i32::from(code));
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the stop deadline");
    }
}

/// How long a stop may take before the process just exits.
pub const STOP_DEADLINE: std::time::Duration = std::time::Duration::from_millis(1500);

/// Runs one verb and prints its output.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let mut cli = cli;
    let command = cli.command.take().unwrap_or(Command::Tui);
    match command {
        Command::Completions { shell } => return print(&manual::completions(shell)),
        Command::Man => return print(&manual::man_page()?),
        _ => {}
    }
    let default_strategy = apply_config(&mut cli.global)?;
    if let Command::Local(LocalCommand::Serve {
        http_port,
        mqtt_port,
        simulation,
        state,
    }) = command
    {
        return local::serve(http_port, mqtt_port, simulation, state).await;
    }
    // Kept alive until the verb is done: dropping it stops the in-process local core.
    let local_core = if cli.global.local {
        // Only the verbs that speak MQTT start the broker and the simulated devices.
        // `denied --follow` too: without a broker nothing is refused.
        let mqtt = matches!(
            command,
            Command::Tui
                | Command::Tail { .. }
                | Command::Publish { .. }
                | Command::Denied { follow: true, .. }
                | Command::Violations { .. }
        );
        Some(local::start(&cli.global, mqtt).await?)
    } else {
        None
    };
    let settings = match &local_core {
        Some(core) => core.connection_settings(),
        None => ConnectionSettings {
            profile: cli.global.profile.clone(),
            region: cli.global.region.clone(),
            endpoint_url: cli.global.endpoint_url.clone(),
            static_credentials: None,
            local: false,
            quotas: aws_quotas(cli.global.endpoint_url.as_deref())?,
        },
    };
    match &command {
        Command::Tail {
            filters,
            count,
            timeout,
        } => {
            return traffic::tail(
                &cli.global,
                &settings,
                local_core.as_ref(),
                filters,
                *count,
                *timeout,
            )
            .await;
        }
        Command::Publish {
            topic,
            payload,
            qos,
        } => {
            let text = traffic::publish(
                &cli.global,
                &settings,
                local_core.as_ref(),
                topic,
                payload,
                *qos,
            )
            .await?;
            return print(&text);
        }
        _ => {}
    }
    let client = FleetClient::connect(&settings).await?;
    if let Command::Tui = command {
        return console(client, local_core.as_ref(), &cli.global, &settings).await;
    }
    if matches!(
        command,
        Command::Denied { .. } | Command::History { .. } | Command::Violations { .. }
    ) {
        return watch_verb(&client, &cli.global, local_core.as_ref(), command).await;
    }
    if matches!(
        command,
        Command::Quarantine { .. } | Command::Release { .. } | Command::Audit { .. }
    ) {
        return isolation_verb(&client, &cli.global, default_strategy, command).await;
    }
    let text = verb(&client, &cli.global, command).await?;
    tracing::info!(stats = ?client.stats(), "verb done");
    print(&text)
}

/// The verbs that read what AWS IoT's other services say of the fleet: who is refused
/// (`denied`), who violates a Detect profile (`violations`), who changed what (`history`).
async fn watch_verb(
    client: &FleetClient,
    global: &args::GlobalArgs,
    local_core: Option<&crate::local::LocalCore>,
    command: Command,
) -> Result<(), CliError> {
    match command {
        Command::Denied { follow, since } => denied::denied(client, global, follow, since).await,
        Command::History { resource } => history::run(client, global, &resource).await,
        Command::Violations { thing, follow } => {
            if local_core.is_some_and(|core| !core.is_remote()) && !follow {
                eprintln!(
                    "note: no `iotfleet local serve` runs, so this command started the local core and its devices just now: nothing has been measured yet; run `iotfleet local serve` in another terminal, or add --follow"
                );
            }
            violations::violations(client, global, thing.as_deref(), follow).await
        }
        _ => unreachable!("only the watch verbs come here"),
    }
}

/// Lays `config.toml` under the flags: `read_only = true` refuses mutations as `--read-only`
/// does. Returns the quarantine strategy to use when `--strategy` is not given. A broken file
/// is reported on stderr and its defaults used.
fn apply_config(
    global: &mut args::GlobalArgs,
) -> Result<crate::fleet::quarantine::Strategy, CliError> {
    let mut problems = Vec::new();
    let config = crate::config::files::settings(&mut problems);
    for problem in &problems {
        eprintln!("iotfleet: {}", escape(problem));
    }
    global.read_only |= config.read_only;
    match config.quarantine_strategy.as_deref() {
        None => Ok(crate::fleet::quarantine::Strategy::default()),
        Some(text) => text
            .parse()
            .map_err(|e| CliError::new(2, format!("config.toml quarantine_strategy: {e}"))),
    }
}

/// AWS IoT Core's request-rate quotas, with `config.toml`'s `[api_rates]` over them, when the
/// endpoint is AWS's (the default, or an `amazonaws.com` or `api.aws` one); None for another
/// endpoint (moto, a test server), whose limits are not AWS's. The endpoint is `--endpoint-url`,
/// else the environment's `AWS_ENDPOINT_URL_IOT` or `AWS_ENDPOINT_URL` (the SDK takes them too:
/// moto reached through them was paced at AWS's 10 ListThings a second).
fn aws_quotas(endpoint: Option<&str>) -> Result<Option<crate::fleet::quotas::Quotas>, CliError> {
    let from_env = ["AWS_ENDPOINT_URL_IOT", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|url| !url.is_empty()));
    let endpoint = endpoint.map(str::to_owned).or(from_env);
    let aws = endpoint.as_deref().is_none_or(|url| {
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or(url)
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        host.ends_with(".amazonaws.com")
            || host.ends_with(".amazonaws.com.cn")
            || host.ends_with(".api.aws")
    });
    if !aws {
        return Ok(None);
    }
    let mut problems = Vec::new();
    let config = crate::config::files::settings(&mut problems);
    crate::fleet::quotas::Quotas::aws()
        .with_overrides(&config.api_rates)
        .map(Some)
        .map_err(|e| CliError::new(2, format!("config.toml {e}")))
}

/// Runs a verb that talks to the registry or the shadows, and returns what it prints.
async fn verb(
    client: &FleetClient,
    global: &args::GlobalArgs,
    command: Command,
) -> Result<String, CliError> {
    let format = global.output;
    Ok(match command {
        Command::Things {
            filter,
            status,
            query: Some(query),
            ..
        } => {
            let status = status.unwrap_or_default();
            browse::search(client, &query, filter.as_deref(), &status, format).await?
        }
        Command::Things {
            filter,
            thing_type,
            attribute,
            status,
            query: None,
        } => {
            let query = ThingQuery {
                thing_type,
                attribute,
                page_size: None,
            };
            let status = status.unwrap_or_default();
            browse::things(client, query, filter.as_deref(), &status, format).await?
        }
        Command::Thing { name, can: None } => browse::thing(client, &name, format).await?,
        Command::Thing {
            name,
            can: Some(question),
        } => {
            let (text, allowed) =
                browse::thing_can(client, &name, &question, format, !global.local).await?;
            if !allowed {
                print(&text)?;
                return Err(CliError::new(
                    ANSWER_IS_NO,
                    format!("{name} may not {}: DENIED", question.join(" ")),
                ));
            }
            text
        }
        Command::Certs => browse::certificates(client, format).await?,
        Command::Policies => browse::policies(client, format).await?,
        Command::Policy { name } => browse::policy(client, &name, format).await?,
        Command::Shadow(ShadowCommand::Get { thing, name }) => {
            browse::shadow_get(client, &thing, name.as_deref(), format).await?
        }
        Command::Shadow(ShadowCommand::Update {
            thing,
            desired,
            name,
            version,
        }) => shadow::update(client, global, &thing, name.as_deref(), &desired, version).await?,
        Command::Shadow(ShadowCommand::Delete { thing, name, yes }) => {
            shadow::delete(client, global, &thing, name.as_deref(), yes).await?
        }
        Command::Local(LocalCommand::Serve { .. })
        | Command::Tui
        | Command::Tail { .. }
        | Command::Publish { .. }
        | Command::Quarantine { .. }
        | Command::Release { .. }
        | Command::Audit { .. }
        | Command::Denied { .. }
        | Command::Violations { .. }
        | Command::History { .. }
        | Command::Completions { .. }
        | Command::Man => {
            unreachable!("handled above")
        }
    })
}

/// Opens the console on the terminal.
async fn console(
    client: FleetClient,
    local_core: Option<&crate::local::LocalCore>,
    global: &args::GlobalArgs,
    settings: &ConnectionSettings,
) -> Result<(), CliError> {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            2,
            "the console needs a terminal; for scripts use a verb (see `iotfleet --help`)",
        ));
    }
    // Where the traffic screen connects: resolved now, reported on that screen if it fails.
    let traffic = traffic::settings(global, settings, local_core)
        .await
        .map_err(|e| e.message);
    let backend = if local_core.is_some() {
        crate::tui::state::Backend::Local
    } else {
        let info = client.backend();
        crate::tui::state::Backend::Aws {
            region: info.region.clone(),
            profile: crate::fleet::profiles::in_use(info.profile.as_deref()),
            endpoint: info.endpoint_url.clone(),
        }
    };
    let options = crate::tui::Options {
        backend,
        read_only: global.read_only,
        theme: global.theme.clone(),
        keymap: global.keymap.clone(),
        no_color: crate::config::files::no_color(),
        traffic: Some(traffic),
        journal: None,
        local_zone: global.local_zone,
        reconnect: local_core.is_none().then(|| crate::tui::switch::Reconnect {
            settings: settings.clone(),
            traffic: traffic::traffic_options(global),
        }),
        history_budget: global
            .history_mib
            .map(|mib| usize::try_from(mib).unwrap_or(64) * 1024 * 1024),
    };
    crate::tui::run(client, options)
        .await
        .map_err(|e| CliError::new(1, format!("console: {e}")))
}

/// Serialises `value` as pretty JSON that is safe to print (see [`json_for_terminal`]).
fn to_json<T: Serialize>(value: &T) -> String {
    let json =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json_for_terminal(json) + "\n"
}

/// Writes to stdout; a closed pipe (`iotfleet things | head`) is not an error.
fn print(text: &str) -> Result<(), CliError> {
    write_stdout(text).map(|_| ())
}

/// Writes to stdout and flushes; false once the reader has gone (a closed pipe), so a verb that
/// goes on printing can stop.
fn write_stdout(text: &str) -> Result<bool, CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(error) => Err(CliError::new(
            1,
            format!("cannot write the output: {error}"),
        )),
    }
}
