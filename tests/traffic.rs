//! The traffic client against a real broker (mosquitto with mutual TLS and an ACL): connect with
//! a client certificate, receive, a refused subscription reported (not hung), a bad CA reported,
//! and a broker restart survived: reconnect, subscribe again, messages flow, the gap shown.

mod support;

use std::time::Duration;

use bytes::Bytes;
use iotfleet::fleet::traffic::{TrafficEvent, TrafficHandle, TrafficSettings, connect};
use support::mosquitto::Mosquitto;
use support::traffic::expect;
use tokio::sync::mpsc::Receiver;

fn settings(broker: &Mosquitto, identity: &str) -> TrafficSettings {
    TrafficSettings::from_url(
        &broker.url(),
        Some(broker.identity(identity)),
        format!("test-{identity}"),
        None,
    )
    .unwrap()
}

/// A client of `identity` that has connected; keep the receiver alive to keep the connection.
async fn connected(broker: &Mosquitto, identity: &str) -> (TrafficHandle, Receiver<TrafficEvent>) {
    let (handle, mut events) = connect(&settings(broker, identity), 100).unwrap();
    expect(&mut events, "a connection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    (handle, events)
}

#[tokio::test]
async fn a_client_certificate_connects_subscribes_and_receives() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let (operator, mut events) = connect(&settings(&broker, "operator"), 100).unwrap();
    operator.subscribe("devices/#").unwrap();
    expect(&mut events, "connection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    expect(&mut events, "subscription", |e| {
        matches!(e, TrafficEvent::Subscribed { filter, .. } if filter == "devices/#").then_some(())
    })
    .await;

    let (device, _device_events) = connected(&broker, "device-1").await;
    device
        .publish(
            "devices/device-1/telemetry",
            Bytes::from_static(br#"{"t":21.5}"#),
            1,
            false,
        )
        .unwrap();
    let message = expect(&mut events, "message", |e| match e {
        TrafficEvent::Message(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(message.topic, "devices/device-1/telemetry");
    assert_eq!(message.payload.as_ref(), br#"{"t":21.5}"#);
    assert_eq!(message.qos, 1);
}

#[tokio::test]
async fn a_publish_the_acl_denies_never_arrives() {
    // mosquitto 2.0 grants every subscription and enforces its ACL on delivery, and MQTT 3.1.1
    // has no way to refuse a publish: the proof is that the denied message never shows up
    // while the allowed one sent after it does.
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let (operator, mut events) = connect(&settings(&broker, "operator"), 100).unwrap();
    operator.subscribe("devices/#").unwrap();
    expect(&mut events, "subscription", |e| {
        matches!(e, TrafficEvent::Subscribed { .. }).then_some(())
    })
    .await;
    let (device, _device_events) = connected(&broker, "device-1").await;
    device
        .publish(
            "devices/device-2/telemetry",
            Bytes::from_static(b"spoofed"),
            1,
            false,
        )
        .unwrap();
    device
        .publish(
            "devices/device-1/telemetry",
            Bytes::from_static(b"own"),
            1,
            false,
        )
        .unwrap();
    let first = expect(&mut events, "a message", |e| match e {
        TrafficEvent::Message(m) => Some(m.topic.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        first, "devices/device-1/telemetry",
        "the denied publish was not delivered"
    );
}

#[tokio::test]
async fn a_broker_it_does_not_trust_is_reported_with_the_reason() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let mut files = broker.identity("operator");
    files.ca = Some(files.certificate.clone());
    let settings =
        TrafficSettings::from_url(&broker.url(), Some(files), "untrusting".into(), None).unwrap();
    let (_handle, mut events) = connect(&settings, 100).unwrap();
    let reason = expect(&mut events, "a failure", |e| match e {
        TrafficEvent::Disconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(
        reason.to_lowercase().contains("tls") || reason.to_lowercase().contains("certificate"),
        "{reason}"
    );
}

#[tokio::test]
async fn after_a_broker_restart_it_reconnects_subscribes_again_and_messages_flow() {
    let Some(mut broker) = Mosquitto::start() else {
        return;
    };
    let (operator, mut events) = connect(&settings(&broker, "operator"), 100).unwrap();
    operator.subscribe("devices/+/telemetry").unwrap();
    expect(&mut events, "subscription", |e| {
        matches!(e, TrafficEvent::Subscribed { .. }).then_some(())
    })
    .await;

    broker.stop();
    let retry = expect(&mut events, "the gap", |e| match e {
        TrafficEvent::Disconnected { retry_in, .. } => Some(*retry_in),
        _ => None,
    })
    .await;
    assert!(retry <= Duration::from_secs(30));
    broker.restart();
    expect(&mut events, "reconnection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    expect(&mut events, "subscription again", |e| {
        matches!(e, TrafficEvent::Subscribed { filter, .. } if filter == "devices/+/telemetry")
            .then_some(())
    })
    .await;

    let (device, _device_events) = connected(&broker, "device-1").await;
    device
        .publish(
            "devices/device-1/telemetry",
            Bytes::from_static(b"after"),
            1,
            false,
        )
        .unwrap();
    let message = expect(&mut events, "a message after the restart", |e| match e {
        TrafficEvent::Message(m) => Some(m.payload.clone()),
        _ => None,
    })
    .await;
    assert_eq!(message.as_ref(), b"after");
}

/// Publishes `count` QoS 0 messages as `device`, numbered from `first`.
fn publish_many(device: &TrafficHandle, first: usize, count: usize) {
    for i in first..first + count {
        device
            .publish(
                "devices/device-1/telemetry",
                Bytes::from(format!(r#"{{"seq":{i}}}"#)),
                0,
                false,
            )
            .unwrap();
    }
}

/// Messages and reported drops from now until `total` are accounted for.
async fn count_until(events: &mut Receiver<TrafficEvent>, total: u64) -> (u64, u64) {
    let (mut received, mut dropped) = (0, 0);
    while received + dropped < total {
        match tokio::time::timeout(support::traffic::WAIT, events.recv()).await {
            Ok(Some(TrafficEvent::Message(_))) => received += 1,
            Ok(Some(TrafficEvent::Dropped(n))) => dropped += n,
            Ok(Some(_)) => {}
            _ => panic!("{received} received and {dropped} dropped of {total}, then nothing"),
        }
    }
    (received, dropped)
}

#[tokio::test]
async fn a_full_queue_holds_the_socket_and_a_stuck_reader_loses_only_messages_counted() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    // A queue of 8 for 2,000 messages.
    let (operator, mut events) = connect(&settings(&broker, "operator"), 8).unwrap();
    operator.subscribe("devices/#").unwrap();
    expect(&mut events, "subscription", |e| {
        matches!(e, TrafficEvent::Subscribed { .. }).then_some(())
    })
    .await;
    let (device, _device_events) = connected(&broker, "device-1").await;

    // A reader slower than the flood but never stuck for long: every message comes through.
    publish_many(&device, 0, 2000);
    tokio::time::sleep(iotfleet::fleet::traffic::client::STALL / 3).await;
    let (received, dropped) = count_until(&mut events, 2000).await;
    assert_eq!((received, dropped), (2000, 0));

    // A reader stuck longer than the stall: messages are dropped, and every drop is reported
    // once it reads again, though no message follows. What the connection does meanwhile (a
    // new subscription granted) is never dropped: a status shown is the last one said.
    publish_many(&device, 2000, 2000);
    tokio::time::sleep(iotfleet::fleet::traffic::client::STALL * 2).await;
    operator.subscribe("other/#").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut received, mut dropped, mut granted) = (0, 0, false);
    while received + dropped < 2000 || !granted {
        match tokio::time::timeout(support::traffic::WAIT, events.recv()).await {
            Ok(Some(TrafficEvent::Message(_))) => received += 1,
            Ok(Some(TrafficEvent::Dropped(n))) => dropped += n,
            Ok(Some(TrafficEvent::Subscribed { filter, .. })) if filter == "other/#" => {
                granted = true;
            }
            Ok(Some(_)) => {}
            _ => panic!("{received} received, {dropped} dropped, granted {granted}, then nothing"),
        }
    }
    assert!(dropped > 0, "{received} received, none dropped");
    assert_eq!(received + dropped, 2000);
}

/// `iotfleet ARGS` as `identity` against the broker, with a state directory of its own.
fn iotfleet(
    broker: &Mosquitto,
    identity: &str,
    state: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    let files = broker.identity(identity);
    std::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .args(args)
        .args(["--mqtt-url", &broker.url()])
        .arg("--cert")
        .arg(&files.certificate)
        .arg("--key")
        .arg(&files.key)
        .arg("--ca")
        .arg(files.ca.as_ref().unwrap())
        .env_clear()
        .env("HOME", state)
        .env("XDG_STATE_HOME", state)
        .output()
        .expect("run iotfleet")
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario: retained messages, then three runs of tail"
)]
async fn tail_prints_ndjson_or_escaped_lines_and_stops_at_count() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let (device, mut events) = connect(&settings(&broker, "device-1"), 100).unwrap();
    expect(&mut events, "connection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    // Retained, so tail gets them whenever it subscribes.
    device
        .publish(
            "devices/device-1/a",
            Bytes::from_static(br#"{"t":1}"#),
            1,
            true,
        )
        .unwrap();
    device
        .publish(
            "devices/device-1/b",
            Bytes::from_static(b"\x1b[2J\x1b]52;c;aGk=\x07"),
            1,
            true,
        )
        .unwrap();
    for _ in 0..2 {
        expect(&mut events, "publish acknowledged", |e| {
            matches!(e, TrafficEvent::Published { .. }).then_some(())
        })
        .await;
    }
    let state = tempfile::tempdir().unwrap();

    let output = iotfleet(
        &broker,
        "operator",
        state.path(),
        &[
            "tail",
            "devices/#",
            "--count",
            "2",
            "--timeout",
            "15",
            "--output",
            "json",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let by_topic = |topic: &str| {
        lines
            .iter()
            .find(|l| l["topic"] == topic)
            .unwrap_or_else(|| panic!("{topic} in {stdout}"))
    };
    assert_eq!(
        by_topic("devices/device-1/a")["payload"],
        serde_json::json!({"t": 1})
    );
    assert_eq!(
        by_topic("devices/device-1/b")["payload"],
        "\u{1b}[2J\u{1b}]52;c;aGk=\u{7}"
    );
    assert_eq!(by_topic("devices/device-1/b")["retain"], true);
    assert!(!stdout.contains('\u{1b}'), "NDJSON has no raw escape");

    let output = iotfleet(
        &broker,
        "operator",
        state.path(),
        &[
            "tail",
            "devices/device-1/b",
            "--count",
            "1",
            "--timeout",
            "15",
        ],
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("\\x1b[2J\\x1b]52;c;aGk=\\x07"), "{stdout}");
    assert!(
        !stdout.trim_end().chars().any(char::is_control),
        "{stdout:?}"
    );

    let output = iotfleet(&broker, "operator", state.path(), &["tail", "devices/#/x"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a bad filter is a usage error"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("'#' must be a whole level and the last one")
    );
}

#[tokio::test]
async fn publish_is_acknowledged_journaled_and_refused_read_only() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let (operator, mut events) = connect(&settings(&broker, "operator"), 100).unwrap();
    operator.subscribe("devices/#").unwrap();
    expect(&mut events, "subscription", |e| {
        matches!(e, TrafficEvent::Subscribed { .. }).then_some(())
    })
    .await;
    let state = tempfile::tempdir().unwrap();
    let journal = state.path().join("iotfleet/journal.jsonl");

    let output = iotfleet(
        &broker,
        "device-1",
        state.path(),
        &[
            "publish",
            "devices/device-1/cmd",
            r#"{"reboot":true}"#,
            "--qos",
            "1",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .starts_with("published 15 bytes to devices/device-1/cmd (QoS 1)")
    );
    let message = expect(&mut events, "the message", |e| match e {
        TrafficEvent::Message(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(message.payload.as_ref(), br#"{"reboot":true}"#);
    let entries: Vec<serde_json::Value> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The intent first (nothing is sent unless it is written), then the outcome.
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0]["action"].as_str(), entries[0]["result"].as_str()),
        (Some("publish plan"), Some("planned"))
    );
    assert_eq!(
        (entries[1]["action"].as_str(), entries[1]["target"].as_str()),
        (Some("publish"), Some("devices/device-1/cmd"))
    );
    assert_eq!(entries[1]["result"], "ok");

    let output = iotfleet(
        &broker,
        "device-1",
        state.path(),
        &["--read-only", "publish", "devices/device-1/cmd", "x"],
    );
    assert_eq!(output.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&output.stderr).contains("refused by --read-only"));
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap().lines().count(),
        2,
        "nothing was done, nothing journaled"
    );
}

#[tokio::test]
async fn mqtt_over_websocket_signed_with_sigv4_connects_and_receives() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let credentials = aws_credential_types::provider::SharedCredentialsProvider::new(
        aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session-token".into()),
            None,
            "test",
        ),
    );
    let signing = iotfleet::fleet::traffic::WebSocketSigning {
        credentials,
        region: "us-east-1".into(),
        ca: Some(broker.ca.clone()),
    };
    let url = format!("wss://127.0.0.1:{}", broker.websocket_port);
    let over_websocket =
        TrafficSettings::from_url(&url, None, "operator-ws".into(), Some(signing)).unwrap();
    let (operator, mut events) = connect(&over_websocket, 100).unwrap();
    operator.subscribe("devices/#").unwrap();
    expect(&mut events, "a WebSocket connection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    expect(&mut events, "subscription", |e| {
        matches!(e, TrafficEvent::Subscribed { .. }).then_some(())
    })
    .await;
    let (device, _device_events) = connected(&broker, "device-1").await;
    device
        .publish(
            "devices/device-1/telemetry",
            Bytes::from_static(b"over wss"),
            1,
            false,
        )
        .unwrap();
    let payload = expect(&mut events, "a message over WebSocket", |e| match e {
        TrafficEvent::Message(m) => Some(m.payload.clone()),
        _ => None,
    })
    .await;
    assert_eq!(payload.as_ref(), b"over wss");
}
