//! `tail` and `publish`: live MQTT from the command line. `tail` prints each message as it
//! arrives (a line of table, or NDJSON) with connection changes on stderr; `publish` sends one
//! message, refused with `--read-only`, and records it in the journal.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc::Receiver;

use super::CliError;
use super::args::GlobalArgs;
use super::tail_lines::Lines;
use super::text::Layout;
use crate::fleet::journal;
use crate::fleet::mutation::{Change, Mutations};
use crate::fleet::traffic::{
    TlsFiles, TrafficEvent, TrafficOptions, TrafficSettings, client_id, connect,
};
use crate::fleet::{ConnectionSettings, FleetClient};
use crate::local::LocalCore;
use crate::untrusted::escape;

/// Messages waiting for the terminal; when it is full the socket waits (see the client).
const QUEUE: usize = 10_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Where to connect: `--mqtt-url`; else the local broker as the operator (`--local`); else the
/// account's `iot:Data-ATS` endpoint, over WebSocket signed with the AWS credentials, or on 8883
/// with the client certificate of `--cert`/`--key`.
pub(super) async fn settings(
    global: &GlobalArgs,
    aws: &ConnectionSettings,
    local: Option<&LocalCore>,
) -> Result<TrafficSettings, CliError> {
    if let (Some(core), None) = (local, &global.mqtt_url) {
        return core
            .mqtt_settings(client_id())
            .ok_or_else(|| CliError::new(1, "the local IoT Core runs no MQTT broker"));
    }
    let options = traffic_options(global);
    // AWS is asked only for what the URL does not say: the endpoint, and credentials to sign.
    let client = if options.needs_aws() {
        Some(FleetClient::connect(aws).await?)
    } else {
        None
    };
    options
        .resolve(client.as_ref(), client_id())
        .await
        .map_err(|e| CliError::new(2, e))
}

/// The command line's MQTT options, as the console keeps them to connect again elsewhere.
#[must_use]
pub(super) fn traffic_options(global: &GlobalArgs) -> TrafficOptions {
    TrafficOptions {
        mqtt_url: global.mqtt_url.clone(),
        tls: match (&global.cert, &global.key) {
            (Some(certificate), Some(key)) => Some(TlsFiles {
                certificate: certificate.clone(),
                key: key.clone(),
                ca: global.ca.clone(),
            }),
            _ => None,
        },
        ca: global.ca.clone(),
    }
}

fn stderr_line(text: &str) {
    eprintln!("iotfleet: {}", escape(text));
}

/// Waits for the connection, reporting failures on the way; an error after `CONNECT_TIMEOUT`.
async fn connected(events: &mut Receiver<TrafficEvent>, target: &str) -> Result<(), CliError> {
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let mut last = String::from("no answer");
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(TrafficEvent::Connected)) => return Ok(()),
            Ok(Some(TrafficEvent::Disconnected { reason, retry_in })) => {
                stderr_line(&format!(
                    "cannot connect to {target}: {reason}; retrying in {:.1} s",
                    retry_in.as_secs_f64()
                ));
                last = reason;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                return Err(CliError::new(
                    1,
                    format!(
                        "could not connect to {target} within {} s: {last}",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                ));
            }
        }
    }
}

pub async fn tail(
    global: &GlobalArgs,
    aws: &ConnectionSettings,
    local: Option<&LocalCore>,
    filters: &[String],
    count: Option<u64>,
    timeout: Option<u64>,
) -> Result<(), CliError> {
    for filter in filters {
        crate::fleet::traffic::filter::check_filter(filter).map_err(|e| CliError::new(2, e))?;
    }
    let settings = settings(global, aws, local).await?;
    let target = format!("{}:{}", settings.host, settings.port);
    let (handle, mut events) = connect(&settings, QUEUE).map_err(|e| CliError::new(1, e))?;
    for filter in filters {
        handle.subscribe(filter).map_err(|e| CliError::new(2, e))?;
    }
    let deadline = timeout.map(|secs| tokio::time::Instant::now() + Duration::from_secs(secs));
    let mut received = 0u64;
    let mut lines = Lines::new(global.output, Layout::of(global.output));
    let mut stdout = std::io::stdout().lock();
    while count.is_none_or(|c| received < c) {
        let event = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(event) => event,
                Err(_) => break,
            },
            None => events.recv().await,
        };
        let Some(event) = event else { break };
        let mut next = Some(event);

        // What is queued already goes out in one write (at most 64 KiB); a lone message at once.
        while let Some(event) = next.take() {
            match event {
                TrafficEvent::Message(message) => {
                    received += 1;
                    lines.push(&message);
                }
                other => said(&other, &target),
            }
            if lines.len() < BATCH && count.is_none_or(|c| received < c) {
                next = events.try_recv().ok();
            }
        }
        if !lines.is_empty() {
            if let Err(error) = stdout
                .write_all(lines.as_str().as_bytes())
                .and_then(|()| stdout.flush())
            {
                if error.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(CliError::new(
                    1,
                    format!("cannot write the output: {error}"),
                ));
            }
            lines.clear();
        }
    }
    Ok(())
}

/// The output `tail` gathers before writing it out, when messages come faster than it writes.
const BATCH: usize = 1 << 16;

/// What the connection says besides messages, on stderr.
fn said(event: &TrafficEvent, target: &str) {
    match event {
        TrafficEvent::Message(_) | TrafficEvent::Published { .. } => {}
        TrafficEvent::Connected => stderr_line(&format!("connected to {target}")),
        TrafficEvent::Disconnected { reason, retry_in } => stderr_line(&format!(
            "disconnected from {target}: {reason}; retrying in {:.1} s",
            retry_in.as_secs_f64()
        )),
        TrafficEvent::Subscribed { filter, .. } => {
            stderr_line(&format!("subscribed to {filter}"));
        }
        TrafficEvent::SubscriptionRefused { filter } => {
            stderr_line(&format!("the broker refused the subscription to {filter}"));
        }
        TrafficEvent::Dropped(n) => stderr_line(&format!(
            "{n} messages dropped: the output could not keep up"
        )),
        TrafficEvent::CredentialsExpire { at } => stderr_line(&format!(
            "the AWS credentials signing this connection expire at {at} and could not be \
             renewed yet; if an SSO session has ended, run `aws sso login`"
        )),
    }
}

pub async fn publish(
    global: &GlobalArgs,
    aws: &ConnectionSettings,
    local: Option<&LocalCore>,
    topic: &str,
    payload: &str,
    qos: u8,
) -> Result<String, CliError> {
    crate::fleet::traffic::filter::check_topic(topic).map_err(|e| CliError::new(2, e))?;
    let what = format!("publish would send a message to {topic}");
    let identity = match &global.cert {
        Some(cert) => format!("{} with {}", journal::local_user(), cert.display()),
        None => journal::local_user(),
    };
    let mqtt_backend = |target: &str| match local {
        Some(_) => format!("local mqtt {target}"),
        None => format!("mqtt {target}"),
    };
    // Refused before connecting; the journal's backend names the broker once it is known.
    Mutations::new(
        global.read_only,
        journal::Journal::for_mqtt(None, identity.clone(), mqtt_backend("")),
    )
    .refuse_if_read_only(&what)?;
    let bytes = match payload.strip_prefix('@') {
        Some(path) => Bytes::from(
            std::fs::read(path)
                .map_err(|e| CliError::new(2, format!("cannot read {path}: {e}")))?,
        ),
        None => Bytes::from(payload.as_bytes().to_vec()),
    };
    let settings = settings(global, aws, local).await?;
    let target = format!("{}:{}", settings.host, settings.port);
    let (handle, mut events) = connect(&settings, 64).map_err(|e| CliError::new(1, e))?;
    connected(&mut events, &target).await?;
    let size = bytes.len();
    let mutations = Mutations::new(
        global.read_only,
        journal::Journal::for_mqtt(None, identity, mqtt_backend(&target)),
    );
    let intent = mutations.begin(Change {
        what,
        action: "publish",
        target: topic,
        before: serde_json::Value::Null,
        intended: serde_json::json!({"qos": qos, "size": size}),
    })?;
    handle
        .publish(topic, bytes, qos, false)
        .map_err(|e| CliError::new(2, e))?;
    let outcome = tokio::time::timeout(CONNECT_TIMEOUT, async {
        while let Some(event) = events.recv().await {
            match event {
                TrafficEvent::Published { topic: sent } if sent == topic => return Ok(()),
                TrafficEvent::Disconnected { reason, .. } => return Err(reason),
                _ => {}
            }
        }
        Err("the connection ended".to_owned())
    })
    .await
    .unwrap_or_else(|_| {
        Err(format!(
            "no acknowledgement within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))
    });

    let journaled = intent.finish(
        serde_json::Value::Null,
        &match &outcome {
            Ok(()) => "ok".to_owned(),
            Err(error) => format!("error: {error}"),
        },
    );
    match (outcome, journaled) {
        (Ok(()), Ok(())) => Ok(format!(
            "published {size} bytes to {} (QoS {qos})\n",
            escape(topic)
        )),
        (Ok(()), Err(error)) => Err(CliError::new(
            1,
            format!("published to {topic}, but the journal could not be written: {error}"),
        )),
        (Err(error), _) => Err(CliError::new(
            1,
            format!("publish to {topic} failed: {error}"),
        )),
    }
}
