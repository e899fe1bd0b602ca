//! `tail` and `publish`: live MQTT from the command line. `tail` prints each message as it
//! arrives (a line of table, or NDJSON) with connection changes on stderr; `publish` sends one
//! message, refused with `--read-only`, and records it in the journal.

use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;
use time::macros::format_description;
use tokio::sync::mpsc::Receiver;

use super::CliError;
use super::args::{GlobalArgs, OutputFormat};
use super::text::{Layout, tab_line, truncate};
use crate::fleet::journal;
use crate::fleet::mutation::{Change, Mutations};
use crate::fleet::traffic::{
    TlsFiles, TrafficEvent, TrafficMessage, TrafficOptions, TrafficSettings, client_id, connect,
};
use crate::fleet::{ConnectionSettings, FleetClient};
use crate::local::LocalCore;
use crate::untrusted::{escape, json_for_terminal};

/// Messages waiting for the terminal before new ones are dropped (and counted).
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
    let layout = Layout::of(global.output);
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
        match event {
            TrafficEvent::Message(message) => {
                received += 1;
                let line = match global.output {
                    OutputFormat::Json => json_line(&message),
                    OutputFormat::Table | OutputFormat::Text => table_line(&message, layout),
                };
                if let Err(error) = stdout
                    .write_all(line.as_bytes())
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
            }
            TrafficEvent::Connected => stderr_line(&format!("connected to {target}")),
            TrafficEvent::Disconnected { reason, retry_in } => {
                stderr_line(&format!(
                    "disconnected from {target}: {reason}; retrying in {:.1} s",
                    retry_in.as_secs_f64()
                ));
            }
            TrafficEvent::Subscribed { filter, .. } => {
                stderr_line(&format!("subscribed to {filter}"));
            }
            TrafficEvent::SubscriptionRefused { filter } => {
                stderr_line(&format!("the broker refused the subscription to {filter}"));
            }
            TrafficEvent::Dropped(n) => stderr_line(&format!(
                "{n} messages dropped: the output could not keep up"
            )),
            TrafficEvent::Published { .. } => {}
            TrafficEvent::CredentialsExpire { at } => stderr_line(&format!(
                "the AWS credentials signing this connection expire at {at} and could not be \
                 renewed yet; if an SSO session has ended, run `aws sso login`"
            )),
        }
    }
    Ok(())
}

/// How a payload is shown in NDJSON: JSON as JSON, UTF-8 as text, anything else as base64.
#[derive(Serialize)]
struct JsonLine<'a> {
    time: String,
    topic: &'a str,
    qos: u8,
    retain: bool,
    size: usize,
    payload_format: &'static str,
    payload: serde_json::Value,
}

fn rfc3339(message: &TrafficMessage) -> String {
    message
        .received
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn json_line(message: &TrafficMessage) -> String {
    let (payload_format, payload) =
        match serde_json::from_slice::<serde_json::Value>(&message.payload) {
            Ok(value) => ("json", value),
            Err(_) => match std::str::from_utf8(&message.payload) {
                Ok(text) => ("text", serde_json::Value::String(text.to_owned())),
                Err(_) => (
                    "base64",
                    serde_json::Value::String(
                        base64::engine::general_purpose::STANDARD.encode(&message.payload),
                    ),
                ),
            },
        };
    let line = JsonLine {
        time: rfc3339(message),
        topic: &message.topic,
        qos: message.qos,
        retain: message.retain,
        size: message.payload.len(),
        payload_format,
        payload,
    };
    json_for_terminal(serde_json::to_string(&line).unwrap_or_default()) + "\n"
}

/// Time, QoS, retain, size, topic, payload: the payload cut to the terminal's width (a binary
/// one as its first 16 bytes in hex), whole when piped, tab-separated with `--output text`.
fn table_line(message: &TrafficMessage, layout: Layout) -> String {
    let time = message
        .received
        .format(format_description!(
            "[hour]:[minute]:[second].[subsecond digits:3]"
        ))
        .unwrap_or_default();
    let retain = if message.retain { "R" } else { "-" };
    let payload = if let Ok(text) = std::str::from_utf8(&message.payload) {
        escape(text).into_owned()
    } else {
        let shown = match layout {
            Layout::Fit(_) => 16,
            Layout::Whole | Layout::Tabs => usize::MAX,
        };
        let hex: Vec<String> = message
            .payload
            .iter()
            .take(shown)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("<binary: {}>", hex.join(" "))
    };
    if layout == Layout::Tabs {
        return tab_line(&[
            time.as_str(),
            &message.qos.to_string(),
            if message.retain { "retained" } else { "-" },
            &message.payload.len().to_string(),
            &message.topic,
            &payload,
        ]);
    }
    let head = format!(
        "{time}  q{} {retain} {:>7}  {}  ",
        message.qos,
        message.payload.len(),
        escape(&message.topic)
    );
    let Some(width) = layout.width() else {
        return format!("{head}{payload}\n");
    };
    let room = width
        .saturating_sub(unicode_width::UnicodeWidthStr::width(head.as_str()))
        .max(10);
    format!("{head}{}\n", truncate(&payload, room))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &'static [u8]) -> TrafficMessage {
        TrafficMessage {
            topic: "devices/\u{1b}[2J".into(),
            payload: Bytes::from_static(payload),
            qos: 1,
            retain: true,
            received: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn ndjson_keeps_json_text_and_binary_apart() {
        let json: serde_json::Value =
            serde_json::from_str(&json_line(&message(br#"{"t":1}"#))).unwrap();
        assert_eq!(
            (
                json["payload_format"].as_str(),
                json["payload"]["t"].as_i64()
            ),
            (Some("json"), Some(1))
        );
        let text: serde_json::Value =
            serde_json::from_str(&json_line(&message(b"\x1b]0;title\x07"))).unwrap();
        assert_eq!(text["payload_format"], "text");
        assert_eq!(
            text["payload"], "\u{1b}]0;title\u{7}",
            "the value is exact; the line has no raw control character"
        );
        let binary: serde_json::Value =
            serde_json::from_str(&json_line(&message(&[0xff, 0x00, 0x01]))).unwrap();
        assert_eq!(
            (
                binary["payload_format"].as_str(),
                binary["payload"].as_str()
            ),
            (Some("base64"), Some("/wAB"))
        );
    }

    #[test]
    fn table_lines_escape_topic_and_payload_and_fit() {
        let line = table_line(
            &message(b"\x1b[2J\x1b]52;c;aGk=\x07 and more text than fits in the line at all"),
            Layout::Fit(80),
        );
        assert!(!line.trim_end().chars().any(char::is_control), "{line:?}");
        assert!(line.contains("\\x1b[2J"), "{line}");
        assert!(line.trim_end().chars().count() <= 80, "{line}");
        assert!(table_line(&message(&[0xff, 0xfe]), Layout::Fit(80)).contains("<binary: ff fe>"));
    }

    #[test]
    fn piped_lines_keep_the_whole_payload_and_text_lines_are_tab_separated() {
        let payload: &'static [u8] = &[b'x'; 300];
        let whole = table_line(&message(payload), Layout::Whole);
        assert!(whole.trim_end().ends_with(&"x".repeat(300)), "{whole}");
        let binary = table_line(&message(&[7; 40]), Layout::Whole);
        assert_eq!(binary.matches("07").count(), 40, "{binary}");
        let tabs = table_line(&message(b"a\tb"), Layout::Tabs);
        assert_eq!(
            tabs,
            "00:00:00.000\t1\tretained\t3\tdevices/\\x1b[2J\ta\\tb\n"
        );
    }
}
