//! The local IoT Core from the command line: `local serve`, and the in-process core behind
//! `--local`.

use std::io::Write as _;
use std::path::PathBuf;

use std::time::Duration;

use super::CliError;
use super::args::{GlobalArgs, SimulationArgs};
use crate::config::paths;
use crate::local::credentials::Credentials;
use crate::local::simulator::SimulatorOptions;
use crate::local::{LocalCore, LocalOptions, seed};

/// The state file to use: the flag, else the default under the XDG data directory.
fn state_file(flag: Option<PathBuf>) -> Result<PathBuf, CliError> {
    flag.or_else(paths::local_state_file).ok_or_else(|| {
        CliError::new(
            1,
            "cannot find a home directory for the local fleet; pass --local-state FILE",
        )
    })
}

fn simulator(args: SimulationArgs) -> Option<SimulatorOptions> {
    (!args.no_simulator).then(|| SimulatorOptions {
        telemetry_every: Duration::from_secs_f64(args.telemetry_interval),
        ..SimulatorOptions::default()
    })
}

/// AWS's quotas times the factor `--aws-quotas` gave, when it was given.
fn quotas(args: SimulationArgs) -> Option<crate::fleet::quotas::Quotas> {
    args.aws_quotas
        .map(|factor| crate::fleet::quotas::Quotas::aws().scaled(factor))
}

/// Starts the local core of `--local` in process on a free port, seeding the demo fleet on
/// first use; with `mqtt`, its broker and simulated devices too.
pub async fn start(global: &GlobalArgs, mqtt: bool) -> Result<LocalCore, CliError> {
    let options = LocalOptions {
        state_file: Some(state_file(global.local_state.clone())?),
        http_port: 0,
        seed: true,
        mqtt_port: mqtt.then_some(global.mqtt_port.unwrap_or(0)),
        simulator: simulator(global.simulation),
        aws_quotas: quotas(global.simulation),
        detect_speedup: 1,
    };
    LocalCore::start(options)
        .await
        .map_err(|e| CliError::new(1, e.to_string()))
}

/// `iotfleet local serve`: serves until Ctrl-C, after printing how to point tools at it.
pub async fn serve(
    http_port: u16,
    mqtt_port: u16,
    simulation: SimulationArgs,
    state: Option<PathBuf>,
) -> Result<(), CliError> {
    let options = LocalOptions {
        state_file: Some(state_file(state)?),
        http_port,
        seed: true,
        mqtt_port: Some(mqtt_port),
        simulator: simulator(simulation),
        aws_quotas: quotas(simulation),
        detect_speedup: 1,
    };
    let core = LocalCore::start(options)
        .await
        .map_err(|e| CliError::new(1, e.to_string()))?;
    if core.is_remote() {
        return Err(CliError::new(
            1,
            format!(
                "{} is already served by iotfleet process {} at {}: point your tools there, or stop it first",
                core.state_file()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                core.owner_pid().unwrap_or_default(),
                core.endpoint()
            ),
        ));
    }
    let path =
        |p: &std::path::Path| crate::untrusted::escape(&p.display().to_string()).into_owned();
    let state = core.state_file().map(path).unwrap_or_default();
    let broker = core.broker().expect("local serve always runs the broker");
    let files = broker.files();
    let credentials = core.credentials();
    let kept = core
        .state_file()
        .map(|p| path(&Credentials::path_beside(p)))
        .unwrap_or_default();
    let text = format!(
        "iotfleet local IoT Core: a LOCAL demo fleet, not AWS\n  \
         state file  {state}\n  \
         account     {account}\n\
         It answers requests signed with this fleet's own key only (kept in {kept}).\n\
         Point the aws CLI, boto3 or an SDK at it with:\n  \
         export AWS_ENDPOINT_URL={endpoint}\n  \
         export AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret} AWS_REGION={region}\n\
         MQTT (mutual TLS, certificates from the local CA) on 127.0.0.1:{mqtt}, {devices} simulated devices; as the operator:\n  \
         mosquitto_sub -h 127.0.0.1 -p {mqtt} --cafile {ca} --cert {cert} --key {key} -t '#'\n\
         Ctrl-C stops it.\n",
        endpoint = core.endpoint(),
        account = core.account(),
        access_key = credentials.access_key_id,
        secret = credentials.secret_access_key,
        region = seed::REGION,
        mqtt = broker.port(),
        devices = core.simulated_devices(),
        ca = path(&files.ca),
        cert = path(&files.operator_certificate),
        key = path(&files.operator_key),
    );
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::new(1, e.to_string()))?;
    drop(stdout);
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::new(1, format!("cannot wait for Ctrl-C: {e}")))?;
    tracing::info!("local serve stopped by Ctrl-C");
    super::stop_within(super::STOP_DEADLINE, 0);
    Ok(())
}
