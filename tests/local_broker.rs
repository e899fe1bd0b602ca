//! The local IoT Core's MQTT broker, end to end over mutual TLS: devices connect with their own
//! certificates and may do exactly what their IoT policies allow (connect, publish, subscribe,
//! receive), a policy change applies to live connections, retained messages are kept, and the
//! Device Shadow topics and the REST API are one shadow service.

mod support;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use iotfleet::fleet::traffic::{TlsFiles, TrafficEvent, TrafficHandle, TrafficSettings, connect};
use iotfleet::local::{LocalCore, LocalOptions};
use support::raw_mqtt::{self, RawMqtt};
use support::traffic::{drain, expect};
use tokio::sync::mpsc::Receiver;

async fn core() -> LocalCore {
    LocalCore::start(LocalOptions {
        state_file: None,
        http_port: 0,
        seed: true,
        mqtt_port: Some(0),
        simulator: None,
        aws_quotas: None,
        detect_speedup: 0,
    })
    .await
    .expect("the local core starts")
}

/// Writes the certificate and key of `thing`'s (first) certificate to `dir`.
fn device_files(core: &LocalCore, dir: &Path, thing: &str) -> TlsFiles {
    let (pem, key) = core.read(|state| {
        let principal = state.things[thing]
            .principals
            .iter()
            .next()
            .unwrap()
            .clone();
        let id = principal.rsplit('/').next().unwrap();
        let record = &state.certificates[id];
        (record.pem.clone(), record.private_key_pem.clone().unwrap())
    });
    let certificate = dir.join(format!("{thing}.pem"));
    let key_file = dir.join(format!("{thing}.key"));
    std::fs::write(&certificate, pem).unwrap();
    std::fs::write(&key_file, key).unwrap();
    TlsFiles {
        certificate,
        key: key_file,
        ca: Some(core.broker().unwrap().files().ca.clone()),
    }
}

fn device(core: &LocalCore, dir: &Path, thing: &str, client_id: &str) -> TrafficSettings {
    let mut settings = core.mqtt_settings(client_id.to_owned()).unwrap();
    settings.tls = Some(device_files(core, dir, thing));
    settings
}

async fn connected(settings: &TrafficSettings) -> (TrafficHandle, Receiver<TrafficEvent>) {
    let (handle, mut events) = connect(settings, 1000).unwrap();
    expect(&mut events, "a connection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    (handle, events)
}

async fn subscribed(handle: &TrafficHandle, events: &mut Receiver<TrafficEvent>, filter: &str) {
    handle.subscribe(filter).unwrap();
    expect(events, "the subscription", |e| match e {
        TrafficEvent::Subscribed { filter: f, .. } if f == filter => Some(()),
        TrafficEvent::SubscriptionRefused { filter: f } if f == filter => {
            panic!("{filter} was refused")
        }
        _ => None,
    })
    .await;
}

async fn operator(core: &LocalCore) -> (TrafficHandle, Receiver<TrafficEvent>) {
    connected(&core.mqtt_settings("operator-test".into()).unwrap()).await
}

fn topics(events: &[TrafficEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            TrafficEvent::Message(m) => Some(m.topic.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_device_publishes_only_where_its_policy_allows() {
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    let (watch, mut seen) = operator(&core).await;
    subscribed(&watch, &mut seen, "fleet/#").await;
    subscribed(&watch, &mut seen, "$aws/events/presence/disconnected/+").await;
    let (pump, mut pump_events) = connected(&device(&core, dir.path(), "pump-01", "pump-01")).await;

    pump.publish("fleet/pump-01/telemetry", Bytes::from("1"), 1, false)
        .unwrap();
    expect(&mut seen, "pump-01's own telemetry", |e| match e {
        TrafficEvent::Message(m) if m.topic == "fleet/pump-01/telemetry" => Some(()),
        _ => None,
    })
    .await;

    // Another device's topic: MQTT 3.1.1 has no reason code, so AWS disconnects; so do we.
    pump.publish("fleet/pump-02/telemetry", Bytes::from("forged"), 1, false)
        .unwrap();
    expect(&mut pump_events, "the disconnect", |e| {
        matches!(e, TrafficEvent::Disconnected { .. }).then_some(())
    })
    .await;
    // Said as AWS says it: the lifecycle event's reason, and the refusal in AWSIotLogsV2.
    let reason = expect(&mut seen, "pump-01's disconnected event", |e| match e {
        TrafficEvent::Message(m) if m.topic == "$aws/events/presence/disconnected/pump-01" => {
            let body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            Some(
                body["disconnectReason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
        _ => None,
    })
    .await;
    assert_eq!(reason, "FORBIDDEN_ACCESS");
    let client = iotfleet::fleet::FleetClient::connect(&core.connection_settings())
        .await
        .unwrap();
    let mut cursor = iotfleet::fleet::denied::Cursor::since(
        time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
    );
    let refused = client.refusals(&mut cursor).await.unwrap();
    let seen_refused: Vec<(&str, &str, &str, &str)> = refused
        .iter()
        .map(|r| {
            (
                r.client_id.as_str(),
                r.action(),
                r.target(),
                r.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen_refused,
        [(
            "pump-01",
            "publish",
            "fleet/pump-02/telemetry",
            "AUTHORIZATION_FAILURE"
        )]
    );
    assert!(
        refused[0]
            .principal_id
            .as_ref()
            .is_some_and(|p| p.len() == 64)
    );
    expect(&mut pump_events, "the reconnection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    pump.publish("fleet/pump-01/telemetry", Bytes::from("2"), 1, false)
        .unwrap();
    let after = drain(&mut seen, Duration::from_millis(700)).await;
    assert_eq!(topics(&after), ["fleet/pump-01/telemetry"], "{after:?}");
}

#[tokio::test]
async fn connections_are_refused_for_the_wrong_client_id_and_inactive_certificates() {
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    for (thing, client_id) in [("pump-01", "pump-02"), ("pump-14", "pump-14")] {
        let (_handle, mut events) =
            connect(&device(&core, dir.path(), thing, client_id), 10).unwrap();
        let reason = expect(&mut events, "a refusal", |e| match e {
            TrafficEvent::Disconnected { reason, .. } => Some(reason.clone()),
            TrafficEvent::Connected => panic!("{thing} connected as {client_id}"),
            _ => None,
        })
        .await;
        assert!(
            reason.contains("NotAuthorized") || reason.contains("not authori"),
            "{thing} as {client_id}: {reason}"
        );
    }
}

#[tokio::test]
async fn subscriptions_and_deliveries_follow_the_policy() {
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    let (pump, mut events) = connected(&device(&core, dir.path(), "pump-01", "pump-01")).await;
    pump.subscribe("fleet/pump-02/#").unwrap();
    expect(&mut events, "the refusal", |e| match e {
        TrafficEvent::SubscriptionRefused { filter } if filter == "fleet/pump-02/#" => Some(()),
        TrafficEvent::Subscribed { filter, .. } if filter == "fleet/pump-02/#" => {
            panic!("a subscription to another device's topics was granted")
        }
        _ => None,
    })
    .await;

    // Let pumps subscribe to every fleet topic, while Receive stays limited to their own.
    core.modify(|state| {
        let policy = state.policies.get_mut("pump-device").unwrap();
        let document = policy.default_document().replace(
            "topicfilter/fleet/${iot:Connection.Thing.ThingName}/*",
            "topicfilter/fleet/*",
        );
        *policy = iotfleet::local::store::PolicyRecord::new(document, 0);
    })
    .unwrap();
    subscribed(&pump, &mut events, "fleet/#").await;
    let (watch, _seen) = operator(&core).await;
    for topic in ["fleet/pump-02/command", "fleet/pump-01/command"] {
        watch.publish(topic, Bytes::from("go"), 1, false).unwrap();
    }
    let received = drain(&mut events, Duration::from_millis(700)).await;
    assert_eq!(topics(&received), ["fleet/pump-01/command"], "{received:?}");
}

#[tokio::test]
async fn a_detached_policy_stops_a_live_device_at_once() {
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    let (pump, mut events) = connected(&device(&core, dir.path(), "pump-03", "pump-03")).await;
    core.modify(|state| {
        let principal = state.things["pump-03"]
            .principals
            .iter()
            .next()
            .unwrap()
            .clone();
        state
            .attached_policies_mut(&principal)
            .unwrap()
            .remove("pump-device");
    })
    .unwrap();
    pump.publish("fleet/pump-03/telemetry", Bytes::from("1"), 1, false)
        .unwrap();
    expect(&mut events, "the disconnect", |e| {
        matches!(e, TrafficEvent::Disconnected { .. }).then_some(())
    })
    .await;
    // Without a policy it may not connect again.
    let reason = expect(&mut events, "the refused reconnection", |e| match e {
        TrafficEvent::Disconnected { reason, .. } => Some(reason.clone()),
        TrafficEvent::Connected => panic!("reconnected without a policy"),
        _ => None,
    })
    .await;
    assert!(
        reason.contains("NotAuthorized") || reason.contains("not authori"),
        "{reason}"
    );
}

#[tokio::test]
async fn retained_messages_reach_later_subscribers() {
    let core = core().await;
    let (first, _events) = operator(&core).await;
    first
        .publish("fleet/pump-01/config", Bytes::from("{\"rate\":5}"), 1, true)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut later = core.mqtt_settings("operator-later".into()).unwrap();
    later.client_id = "operator-later".into();
    let (watch, mut seen) = connected(&later).await;
    watch.subscribe("fleet/+/config").unwrap();
    let message = expect(&mut seen, "the retained message", |e| match e {
        TrafficEvent::Message(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (message.topic.as_str(), message.retain, &message.payload[..]),
        ("fleet/pump-01/config", true, &b"{\"rate\":5}"[..])
    );
}

#[tokio::test]
async fn rest_and_mqtt_shadow_updates_are_one_shadow() {
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    let (watch, mut seen) = operator(&core).await;
    subscribed(&watch, &mut seen, "$aws/things/pump-05/shadow/#").await;

    // REST → MQTT: the accepted update is published as AWS IoT does.
    let config = support::Target::local(&core).sdk_config().await;
    let data = aws_sdk_iotdataplane::Client::new(&config);
    data.update_thing_shadow()
        .thing_name("pump-05")
        .payload(aws_smithy_types::Blob::new(
            r#"{"state":{"desired":{"speed":40}},"clientToken":"rest-1"}"#,
        ))
        .send()
        .await
        .unwrap();
    let mut answers = Vec::new();
    while answers.len() < 3 {
        answers.push(
            expect(&mut seen, "the shadow messages", |e| match e {
                TrafficEvent::Message(m) => Some(m.clone()),
                _ => None,
            })
            .await,
        );
    }
    let topics: Vec<&str> = answers.iter().map(|m| m.topic.as_str()).collect();
    assert_eq!(
        topics,
        [
            "$aws/things/pump-05/shadow/update/accepted",
            "$aws/things/pump-05/shadow/update/delta",
            "$aws/things/pump-05/shadow/update/documents"
        ]
    );
    let delta: serde_json::Value = serde_json::from_slice(&answers[1].payload).unwrap();
    assert_eq!(delta["state"]["speed"], 40);
    assert_eq!(delta["clientToken"], "rest-1");

    // MQTT → REST: the device reports over its own shadow topic.
    let (pump, _pump_events) = connected(&device(&core, dir.path(), "pump-05", "pump-05")).await;
    pump.publish(
        "$aws/things/pump-05/shadow/update",
        Bytes::from(r#"{"state":{"reported":{"speed":40}}}"#),
        1,
        false,
    )
    .unwrap();
    expect(&mut seen, "the device's update accepted", |e| match e {
        TrafficEvent::Message(m) if m.topic.ends_with("/update/accepted") => Some(()),
        _ => None,
    })
    .await;
    let shadow = data
        .get_thing_shadow()
        .thing_name("pump-05")
        .send()
        .await
        .unwrap();
    let document: serde_json::Value =
        serde_json::from_slice(shadow.payload().unwrap().as_ref()).unwrap();
    assert_eq!(document["state"]["reported"]["speed"], 40);
    assert!(document["state"].get("delta").is_none(), "{document}");
}

#[tokio::test]
async fn describe_endpoint_names_the_local_broker() {
    let core = core().await;
    let config = support::Target::local(&core).sdk_config().await;
    let iot = aws_sdk_iot::Client::new(&config);
    let endpoint = iot
        .describe_endpoint()
        .endpoint_type("iot:Data-ATS")
        .send()
        .await
        .unwrap();
    assert_eq!(
        endpoint.endpoint_address(),
        Some(format!("127.0.0.1:{}", core.broker().unwrap().port()).as_str())
    );
}

#[tokio::test]
async fn the_simulated_fleet_reports_answers_deltas_and_the_rogue_is_contained() {
    let core = LocalCore::start(LocalOptions {
        state_file: None,
        http_port: 0,
        seed: true,
        mqtt_port: Some(0),
        simulator: Some(iotfleet::local::simulator::SimulatorOptions {
            telemetry_every: Duration::from_millis(200),
            ..Default::default()
        }),
        aws_quotas: None,
        detect_speedup: 0,
    })
    .await
    .unwrap();
    // Every Thing with a usable certificate: 52 less the one without, the inactive, the revoked
    // and the expired ones are refused by the broker but still try.
    assert_eq!(core.simulated_devices(), 51);
    let (watch, mut seen) = operator(&core).await;
    subscribed(&watch, &mut seen, "#").await;
    subscribed(&watch, &mut seen, "$aws/things/pump-02/shadow/#").await;
    // The device subscribes to its deltas on connect, before its first telemetry: a desired
    // state set before that is never sent to it (as on AWS, the delta topic is not retained).
    // On a loaded machine its first TLS handshake can fail and back off, so wait for it.
    expect(&mut seen, "pump-02 connected and reporting", |e| match e {
        TrafficEvent::Message(m) if m.topic == "fleet/pump-02/telemetry" => Some(()),
        _ => None,
    })
    .await;

    let config = support::Target::local(&core).sdk_config().await;
    let data = aws_sdk_iotdataplane::Client::new(&config);
    data.update_thing_shadow()
        .thing_name("pump-02")
        .payload(aws_smithy_types::Blob::new(
            r#"{"state":{"desired":{"speed":55}}}"#,
        ))
        .send()
        .await
        .unwrap();
    // The device applies the delta: its report comes back over MQTT.
    expect(&mut seen, "pump-02 reporting speed 55", |e| match e {
        TrafficEvent::Message(m) if m.topic == "$aws/things/pump-02/shadow/update" => {
            let body: serde_json::Value = serde_json::from_slice(&m.payload).ok()?;
            (body["state"]["reported"]["speed"] == 55).then_some(())
        }
        _ => None,
    })
    .await;

    let traffic = drain(&mut seen, Duration::from_secs(4)).await;
    let topics = topics(&traffic);
    let count = |topic: &str| topics.iter().filter(|t| *t == topic).count();
    assert!(count("fleet/pump-03/telemetry") >= 5, "{topics:?}");
    // The rogue device is far chattier than the others...
    assert!(
        count("fleet/camera-04/telemetry") > 2 * count("fleet/pump-03/telemetry"),
        "{} vs {}",
        count("fleet/camera-04/telemetry"),
        count("fleet/pump-03/telemetry")
    );
    // ...and what its policy denies never arrives; refused devices send nothing.
    assert_eq!(count("fleet/pump-01/command"), 0);
    for refused in ["pump-14", "gateway-05", "temp-sensor-09", "gateway-08"] {
        assert_eq!(count(&format!("fleet/{refused}/telemetry")), 0, "{refused}");
    }
    let shadow = data
        .get_thing_shadow()
        .thing_name("pump-02")
        .send()
        .await
        .unwrap();
    let document: serde_json::Value =
        serde_json::from_slice(shadow.payload().unwrap().as_ref()).unwrap();
    assert!(document["state"].get("delta").is_none(), "{document}");
}

#[tokio::test]
async fn the_broker_names_who_is_connected_and_can_disconnect_a_device() {
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    let broker = core.broker().unwrap();
    let (_watch, _seen) = operator(&core).await;
    let (_pump, mut events) = connected(&device(&core, dir.path(), "pump-04", "pump-04")).await;
    assert_eq!(
        broker.identity_of("operator-test"),
        Some(iotfleet::local::broker::authority::Identity::Operator)
    );
    assert!(
        matches!(
            broker.identity_of("pump-04"),
            Some(iotfleet::local::broker::authority::Identity::Device { principal })
                if principal.contains(":cert/")
        ),
        "{:?}",
        broker.identity_of("pump-04")
    );
    assert!(broker.disconnect("pump-04", false).await);
    expect(&mut events, "the disconnect", |e| {
        matches!(e, TrafficEvent::Disconnected { .. }).then_some(())
    })
    .await;
    assert!(!broker.disconnect("nobody", false).await);
    // Its key folder and files are the user's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let files = broker.files();
        assert_eq!(mode(&files.dir), 0o700);
        assert_eq!(mode(&files.operator_key), 0o600);
        assert_eq!(mode(&files.ca), 0o600);
    }
}

/// A mosquitto client (`mosquitto_sub`, `mosquitto_pub`) on PATH, or None after a SKIP line (a
/// failure with IOTFLEET_REQUIRE_PEERS=1).
fn mosquitto_client(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    if found.is_none() {
        support::peer_missing(
            name,
            &format!("no {name} on PATH"),
            support::mosquitto::INSTALL,
        );
    }
    found
}

fn mosquitto_sub() -> Option<std::path::PathBuf> {
    mosquitto_client("mosquitto_sub")
}

/// A mosquitto client for the local broker as `client_id` with `tls`, standard input closed and
/// killed when dropped (hostname checks off: the broker's certificate names localhost; the chain
/// is still verified).
fn mosquitto_command(
    binary: &Path,
    core: &LocalCore,
    tls: &TlsFiles,
    client_id: &str,
) -> tokio::process::Command {
    let settings = core.mqtt_settings(client_id.to_owned()).unwrap();
    let mut command = tokio::process::Command::new(binary);
    command
        .args(["-h", &settings.host, "-p", &settings.port.to_string()])
        .arg("--cafile")
        .arg(tls.ca.as_ref().unwrap())
        .arg("--cert")
        .arg(&tls.certificate)
        .arg("--key")
        .arg(&tls.key)
        .args(["--insecure", "-i", client_id])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// Waits until the broker says whether `client_id` is connected, as `want`.
/// Quarantines `thing` through the mutation path, journaled under `dir`, as the CLI's verb does.
async fn quarantine(
    client: &iotfleet::fleet::FleetClient,
    thing: &str,
    dir: &Path,
) -> iotfleet::fleet::quarantine::run::Report {
    let mutations = iotfleet::fleet::mutation::Mutations::for_client(
        false,
        Some(dir.join("journal.jsonl")),
        client,
    )
    .await
    .unwrap();
    let options = iotfleet::fleet::quarantine::Options::default();
    let prepared = iotfleet::fleet::quarantine::run::prepare_quarantine(
        client,
        mutations.journal(),
        thing,
        options,
        None,
    )
    .await
    .unwrap();
    iotfleet::fleet::quarantine::run::execute(client, &mutations, prepared, &mut |_| Ok(()))
        .await
        .unwrap()
}

async fn until_connected(core: &LocalCore, client_id: &str, want: bool) {
    let deadline = tokio::time::Instant::now() + support::traffic::WAIT;
    while core.broker().unwrap().identity_of(client_id).is_some() != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{client_id} connected: {want}?"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_last_will_is_judged_at_connect_and_a_quarantine_keeps_it_unsaid() {
    let Some(binary) = mosquitto_sub() else {
        return;
    };
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    let files = device_files(&core, dir.path(), "pump-04");
    // pump-04 as a real MQTT client, with a Last Will.
    let as_pump = |will_topic: &str, retain: bool| {
        let mut command = mosquitto_command(&binary, &core, &files, "pump-04");
        command
            .args(["-t", "fleet/pump-04/command"])
            .args(["--will-topic", will_topic, "--will-payload", "gone"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if retain {
            command.arg("--will-retain");
        }
        command
    };

    // Refused at CONNECT: a will on another device's topic, and a retained will (the policy
    // has no iot:RetainPublish).
    for (topic, retain) in [
        ("fleet/pump-05/status", false),
        ("fleet/pump-04/status", true),
    ] {
        let output = tokio::time::timeout(
            support::traffic::WAIT,
            as_pump(topic, retain).args(["-C", "1"]).output(),
        )
        .await
        .expect("mosquitto_sub gives up on a refused connection")
        .unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{topic} {retain}: {said}");
        assert!(said.contains("not authori"), "{topic} {retain}: {said}");
    }

    // An allowed will: a dropped connection publishes it.
    let (watch, mut seen) = operator(&core).await;
    subscribed(&watch, &mut seen, "fleet/pump-04/#").await;
    let mut pump = as_pump("fleet/pump-04/status", false).spawn().unwrap();
    until_connected(&core, "pump-04", true).await;
    pump.kill().await.unwrap();
    expect(&mut seen, "the will of a dropped connection", |e| match e {
        TrafficEvent::Message(m) if m.topic == "fleet/pump-04/status" => Some(()),
        _ => None,
    })
    .await;

    // Quarantine disconnects it with preventWillMessage: no will.
    let mut pump = as_pump("fleet/pump-04/status", false).spawn().unwrap();
    until_connected(&core, "pump-04", true).await;
    let client = iotfleet::fleet::FleetClient::connect(&core.connection_settings())
        .await
        .unwrap();
    let report = quarantine(&client, "pump-04", dir.path()).await;
    assert!(
        report.done.iter().any(|d| d.detail == "disconnected"),
        "{report:?}"
    );
    let after = drain(&mut seen, Duration::from_secs(2)).await;
    assert!(
        !topics(&after).contains(&"fleet/pump-04/status".to_owned()),
        "the will was published: {after:?}"
    );
    // Its connectivity says why it went: the service disconnected it.
    let connectivity = core.presence().connectivity("pump-04");
    assert_eq!(
        connectivity["disconnectReason"], "SERVER_INITIATED_DISCONNECT",
        "{connectivity}"
    );
    let _ = pump.kill().await;
}

/// The next `connected` or `disconnected` lifecycle event of `client_id`, as JSON.
async fn presence_event(
    seen: &mut Receiver<TrafficEvent>,
    kind: &str,
    client_id: &str,
) -> serde_json::Value {
    let topic = format!("$aws/events/presence/{kind}/{client_id}");
    expect(seen, &format!("the {kind} event"), |e| match e {
        TrafficEvent::Message(m) if m.topic == topic => {
            serde_json::from_slice::<serde_json::Value>(&m.payload).ok()
        }
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_device_provisioned_with_boto3_connects_and_its_presence_is_known() {
    let (Some(python), Some(mosquitto)) = (support::boto3_python(), mosquitto_sub()) else {
        return;
    };
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    let (certificate, key) = (dir.path().join("new.pem"), dir.path().join("new.key"));
    // What a provisioning script does: keys and certificate, a Thing, a policy, attachments.
    let target = support::Target::local(&core);
    let created = support::boto3(
        &python,
        &target,
        &format!(
            r"
made = iot.create_keys_and_certificate(setAsActive=True)
open('{certificate}', 'w').write(made['certificatePem'])
open('{key}', 'w').write(made['keyPair']['PrivateKey'])
iot.create_thing(thingName='sensor-new')
iot.create_policy(policyName='sensor-new-policy', policyDocument=json.dumps({{
    'Version': '2012-10-17',
    'Statement': [{{'Effect': 'Allow', 'Action': ['iot:Connect', 'iot:Subscribe', 'iot:Receive'], 'Resource': '*'}}]}}))
iot.attach_policy(policyName='sensor-new-policy', target=made['certificateArn'])
iot.attach_thing_principal(thingName='sensor-new', principal=made['certificateArn'])
print(json.dumps({{'id': made['certificateId']}}))
",
            certificate = certificate.display(),
            key = key.display()
        ),
    )
    .await;
    let connectivity = || {
        support::boto3(
            &python,
            &target,
            "d = iot.get_thing_connectivity_data(thingName='sensor-new')\nd.pop('ResponseMetadata')\nprint(json.dumps(d, default=str))",
        )
    };
    assert_eq!(connectivity().await["connected"], false);

    let (watch, mut seen) = operator(&core).await;
    subscribed(&watch, &mut seen, "$aws/events/presence/#").await;
    let tls = TlsFiles {
        certificate: certificate.clone(),
        key: key.clone(),
        ca: Some(core.broker().unwrap().files().ca.clone()),
    };
    let mut device = mosquitto_command(&mosquitto, &core, &tls, "sensor-new")
        .args(["-t", "fleet/sensor-new/cmd"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let connected = presence_event(&mut seen, "connected", "sensor-new").await;
    assert_eq!(connected["clientId"], "sensor-new", "{connected}");
    assert_eq!(connected["eventType"], "connected", "{connected}");
    assert_eq!(
        connected["principalIdentifier"], created["id"],
        "{connected}"
    );
    let now = connectivity().await;
    assert_eq!(now["connected"], true, "{now}");
    assert!(
        now["timestamp"].as_str().is_some() || now["timestamp"].is_number(),
        "{now}"
    );

    // The device drops off: disconnected, with the reason.
    device.kill().await.unwrap();
    let gone = presence_event(&mut seen, "disconnected", "sensor-new").await;
    assert_eq!(gone["disconnectReason"], "CONNECTION_LOST", "{gone}");
    assert_eq!(gone["clientInitiatedDisconnect"], false, "{gone}");
    assert_eq!(gone["sessionIdentifier"], connected["sessionIdentifier"]);
    let after = connectivity().await;
    assert_eq!(after["connected"], false, "{after}");
    assert_eq!(after["disconnectReason"], "CONNECTION_LOST", "{after}");
}

#[tokio::test]
async fn a_quarantine_from_another_process_is_enforced_by_the_owner_and_survives() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fleet.json");
    let options = LocalOptions {
        state_file: Some(state.clone()),
        http_port: 0,
        seed: true,
        mqtt_port: Some(0),
        simulator: None,
        aws_quotas: None,
        detect_speedup: 0,
    };
    let owner = LocalCore::start(options.clone())
        .await
        .expect("the owner starts");
    // A second core on the same file, in this process too, uses the owner's.
    let second = LocalCore::start(options).await.unwrap();
    assert!(second.is_remote());
    assert_eq!(second.endpoint(), owner.endpoint());
    assert_eq!(
        second.mqtt_settings("x".into()).unwrap().port,
        owner.mqtt_settings("x".into()).unwrap().port
    );
    drop(second);

    let (_pump, mut events) = connected(&device(&owner, dir.path(), "pump-04", "pump-04")).await;
    // The console's neighbour: `iotfleet --local quarantine` in another process.
    let home = dir.path().join("home");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .args(["--local", "--local-state"])
        .arg(&state)
        .args(["quarantine", "pump-04", "--yes"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("QUARANTINED and VERIFIED"), "{said}");

    // The owner's broker kicked the device, and refuses it from now on.
    expect(&mut events, "the disconnect", |e| {
        matches!(e, TrafficEvent::Disconnected { .. }).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(owner.broker().unwrap().identity_of("pump-04"), None);

    // It is the owner's state: kept through the owner's next write, and a restart.
    let quarantined = |state: &iotfleet::local::store::FleetState| {
        let principal = state.things["pump-04"].principals.iter().next().unwrap();
        state
            .attached_policies(principal)
            .unwrap()
            .contains(iotfleet::fleet::quarantine::DENY_ALL_POLICY)
    };
    owner
        .modify(|state| {
            state.things.get_mut("pump-05").unwrap().version += 1;
        })
        .unwrap();
    let on_disk = iotfleet::local::store::Store::read_file(&state)
        .unwrap()
        .unwrap();
    assert!(quarantined(&on_disk));
    drop(owner);
    let restarted = LocalCore::start(LocalOptions {
        state_file: Some(state.clone()),
        http_port: 0,
        seed: true,
        mqtt_port: None,
        simulator: None,
        aws_quotas: None,
        detect_speedup: 0,
    })
    .await
    .unwrap();
    assert!(
        !restarted.is_remote(),
        "the owner is gone: the file is free"
    );
    assert!(restarted.read(quarantined));
}

#[tokio::test]
async fn the_operators_own_shadow_requests_over_mqtt_are_answered() {
    let (Some(sub), Some(publish)) = (mosquitto_sub(), mosquitto_client("mosquitto_pub")) else {
        return;
    };
    let core = core().await;
    let tls = core.mqtt_settings("unused".into()).unwrap().tls.unwrap();
    let client = |binary: &Path, client_id: &str| mosquitto_command(binary, &core, &tls, client_id);
    let watching = client(&sub, "op-watch")
        .args(["-v", "-C", "2", "-W", "15"])
        .args(["-t", "$aws/things/pump-01/shadow/update/accepted"])
        .args(["-t", "$aws/things/pump-01/shadow/get/accepted"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until_connected(&core, "op-watch", true).await;
    // The subscription is made just after the connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (topic, payload) in [
        (
            "$aws/things/pump-01/shadow/update",
            r#"{"state":{"desired":{"speed":5}},"clientToken":"op-1"}"#,
        ),
        ("$aws/things/pump-01/shadow/get", "{}"),
    ] {
        let status = client(&publish, "op-pub")
            .args(["-t", topic, "-m", payload])
            .status()
            .await
            .unwrap();
        assert!(status.success(), "mosquitto_pub to {topic}");
    }
    let output = watching.wait_with_output().await.unwrap();
    let lines = String::from_utf8_lossy(&output.stdout).into_owned();
    let answers: Vec<(&str, serde_json::Value)> = lines
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(topic, json)| (topic, serde_json::from_str(json).unwrap()))
        .collect();
    assert_eq!(answers.len(), 2, "{lines}");
    assert_eq!(answers[0].0, "$aws/things/pump-01/shadow/update/accepted");
    assert_eq!(answers[0].1["state"]["desired"]["speed"], 5, "{lines}");
    assert_eq!(answers[0].1["clientToken"], "op-1", "{lines}");
    assert_eq!(answers[1].0, "$aws/things/pump-01/shadow/get/accepted");
    assert_eq!(answers[1].1["state"]["desired"]["speed"], 5, "{lines}");
    let desired = core.read(|state| {
        state.things["pump-01"]
            .shadows
            .classic
            .as_ref()
            .and_then(|s| s.desired.clone())
    });
    assert_eq!(desired.unwrap()["speed"], 5);
}

#[tokio::test]
async fn fleet_search_reads_the_brokers_sessions() {
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    // pump-01 and camera-01 are at plant-north, pump-02 elsewhere; gateway-01 connects, then
    // leaves.
    let (_pump, _e1) = connected(&device(&core, dir.path(), "pump-01", "pump-01")).await;
    let (_camera, _e2) = connected(&device(&core, dir.path(), "camera-01", "camera-01")).await;
    let (_other, _e3) = connected(&device(&core, dir.path(), "pump-02", "pump-02")).await;
    drop(connected(&device(&core, dir.path(), "gateway-01", "gateway-01")).await);
    let client = iotfleet::fleet::FleetClient::connect(&support::Target::local(&core).settings())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + support::traffic::WAIT;
    while client.connectivity("gateway-01").await.unwrap().connected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gateway-01 never left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let home = tempfile::tempdir().unwrap();
    let run = |args: &'static [&'static str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (key, value) in support::Target::local(&core).cli_env(home.path()) {
            command.env(key, value);
        }
        async move { command.output().await.expect("run iotfleet") }
    };
    let names = |output: &std::process::Output| -> Vec<String> {
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        body["things"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let online_north = run(&[
        "things",
        "--query",
        "attributes.site:plant-north AND connectivity.connected:true",
        "--output",
        "json",
    ])
    .await;
    assert_eq!(names(&online_north), ["camera-01", "pump-01"]);
    let left = run(&[
        "things",
        "--query",
        "connectivity.disconnectReason:*",
        "--output",
        "json",
    ])
    .await;
    assert_eq!(names(&left), ["gateway-01"]);
    let body: serde_json::Value = serde_json::from_slice(&left.stdout).unwrap();
    assert_eq!(body["things"][0]["connectivity"]["connected"], false);
    // A syntax error is a usage error that points at its fault.
    let wrong = run(&[
        "things",
        "--query",
        "attributes.site:plant-north AND OR pump",
    ])
    .await;
    assert_eq!(wrong.status.code(), Some(2));
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        said.contains("expected a term, found OR (at character 33)"),
        "{said}"
    );
    assert!(said.contains(&format!("\n  {}^", " ".repeat(32))), "{said}");
}

/// Waits until `check` finds what it wants in the active violations, at most `wait`.
async fn violation_until(
    client: &iotfleet::fleet::FleetClient,
    wait: Duration,
    what: &str,
    check: impl Fn(&[iotfleet::fleet::violations::Violation]) -> bool,
) -> Vec<iotfleet::fleet::violations::Violation> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let found = client.violations(None).await.expect("violations");
        assert_eq!(found.profiles, 1, "the seeded profile");
        if check(&found.active) {
            return found.active;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} not within {wait:?}: {:?}",
            found.active
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The demo fleet with its simulated devices, Detect's clock `speedup` times real time, and a
/// client of it.
async fn simulated_fleet(speedup: u32) -> (LocalCore, iotfleet::fleet::FleetClient) {
    let core = LocalCore::start(LocalOptions {
        seed: true,
        mqtt_port: Some(0),
        simulator: Some(iotfleet::local::simulator::SimulatorOptions::default()),
        detect_speedup: speedup,
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    let client = iotfleet::fleet::FleetClient::connect(&core.connection_settings())
        .await
        .unwrap();
    (core, client)
}

fn rogue(active: &[iotfleet::fleet::violations::Violation]) -> bool {
    active.iter().any(|v| v.thing_name == "camera-04")
}

#[tokio::test]
async fn the_rogue_camera_violates_the_seeded_detect_profile_within_a_minute() {
    let (_core, client) = simulated_fleet(1).await;
    // Real time: a datapoint every 5 s over the profile's 300 s.
    let active = violation_until(
        &client,
        Duration::from_mins(1),
        "camera-04's violation",
        rogue,
    )
    .await;
    let violation = active.iter().find(|v| v.thing_name == "camera-04").unwrap();
    assert_eq!(
        (
            violation.security_profile.as_str(),
            violation.behavior.as_str(),
            violation.metric.as_deref()
        ),
        (
            "fleet-baseline",
            "messages-sent",
            Some("aws:num-messages-sent")
        )
    );
    assert_eq!(violation.rule_text(), "≤ 100 in 5m");
    assert!(
        violation.observed.is_some_and(|n| n > 100.0),
        "{violation:?}"
    );
    assert!(violation.since.is_some(), "{violation:?}");
    // The others send a message every 5 s: well inside the baseline.
    assert!(
        active.iter().all(|v| v.thing_name == "camera-04"),
        "{active:?}"
    );
}

#[tokio::test]
async fn a_quarantined_rogue_camera_clears_its_violation_within_the_profiles_duration() {
    // Detect's time runs 20 times faster here: the seeded profile's 300 s window lasts 15 s.
    let (_core, client) = simulated_fleet(20).await;
    violation_until(
        &client,
        Duration::from_secs(30),
        "camera-04's violation",
        rogue,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    quarantine(&client, "camera-04", dir.path()).await;
    // Silenced now, but its window still holds what it sent: the violation stays until the
    // messages age out of the 15 s window, then clears.
    let still = client.violations(None).await.unwrap();
    assert!(rogue(&still.active), "cleared at once: {:?}", still.active);
    let quarantined = tokio::time::Instant::now();
    violation_until(&client, Duration::from_secs(25), "the clearing", |active| {
        !rogue(active)
    })
    .await;
    assert!(
        quarantined.elapsed() <= Duration::from_secs(16),
        "cleared after {:?}, past the profile's (scaled) 15 s and a datapoint",
        quarantined.elapsed()
    );
}

/// One certificate, three sessions under different client ids (one plain, one with a retained
/// Last Will, one MQTT 5 with a delayed will): the quarantine closes all three, whatever their
/// client ids, and no will is ever delivered or retained.
#[tokio::test]
async fn every_session_of_an_isolated_certificate_is_closed_and_no_will_is_said() {
    let Some(binary) = mosquitto_sub() else {
        return;
    };
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    let made = iot
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let arn = made.certificate_arn.clone().unwrap();
    let files = TlsFiles {
        certificate: dir.path().join("victim.pem"),
        key: dir.path().join("victim.key"),
        ca: Some(core.broker().unwrap().files().ca.clone()),
    };
    std::fs::write(&files.certificate, made.certificate_pem.unwrap()).unwrap();
    std::fs::write(&files.key, made.key_pair.unwrap().private_key.unwrap()).unwrap();
    support::seed::thing(&iot, "victim", None, &[]).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/victim*"},{"Effect":"Allow","Action":["iot:Publish","iot:RetainPublish","iot:Subscribe","iot:Receive"],"Resource":["arn:aws:iot:*:*:topic/victim/*","arn:aws:iot:*:*:topicfilter/victim/*"]}]}"#;
    support::seed::policy(&iot, "victim-policy", policy).await;
    support::seed::attach_policy(&iot, "victim-policy", &arn).await;
    support::seed::attach_thing(&iot, "victim", &arn).await;

    let (watch, mut seen) = operator(&core).await;
    subscribed(&watch, &mut seen, "victim/#").await;
    let session = |client_id: &str, extra: &[&str]| {
        let mut command = mosquitto_command(&binary, &core, &files, client_id);
        command
            .args(["-t", "victim/command"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command.spawn().unwrap()
    };
    let mut sessions = [
        session("victim", &[]),
        session(
            "victim-alt",
            &[
                "--will-topic",
                "victim/alt",
                "--will-payload",
                "gone",
                "--will-retain",
            ],
        ),
        session(
            "victim-v5",
            &[
                "-V",
                "mqttv5",
                "--will-topic",
                "victim/v5",
                "--will-payload",
                "gone",
                "-D",
                "will",
                "will-delay-interval",
                "2",
            ],
        ),
    ];
    for client_id in ["victim", "victim-alt", "victim-v5"] {
        until_connected(&core, client_id, true).await;
    }

    let client = iotfleet::fleet::FleetClient::connect(&core.connection_settings())
        .await
        .unwrap();
    let report = quarantine(&client, "victim", dir.path()).await;
    let verification = report.verification.clone().expect("verified");
    assert!(verification.verified, "{verification:?}");
    let disconnected: Vec<String> = report
        .done
        .iter()
        .filter_map(|d| match &d.step {
            iotfleet::fleet::quarantine::Step::DeleteConnection { client_id }
                if d.detail == "disconnected" =>
            {
                Some(client_id.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        disconnected,
        ["victim", "victim-alt", "victim-v5"],
        "{report:?}"
    );
    let note = verification.sessions.clone().unwrap_or_default();
    assert!(
        note.contains("2 of 2 more seen in AWSIotLogsV2 closed, wills dropped"),
        "{note}"
    );
    for client_id in ["victim", "victim-alt", "victim-v5"] {
        until_connected(&core, client_id, false).await;
    }
    // Past the MQTT 5 will's delay: nothing was said, and nothing is retained.
    let after = drain(&mut seen, Duration::from_secs(4)).await;
    assert!(topics(&after).is_empty(), "a will was delivered: {after:?}");
    let (late, mut late_seen) = operator(&core).await;
    subscribed(&late, &mut late_seen, "victim/#").await;
    let retained = drain(&mut late_seen, Duration::from_secs(1)).await;
    assert!(
        topics(&retained).is_empty(),
        "a will was retained: {retained:?}"
    );
    for session in &mut sessions {
        let _ = session.kill().await;
    }
}

/// A Last Will is judged again when it would be published: a session whose certificate was
/// isolated after its CONNECT (the deny-all attached by hand, no DeleteConnection) loses its
/// connection, and its will is not said.
#[tokio::test]
async fn a_will_is_judged_by_the_policies_in_force_when_it_would_be_said() {
    let Some(binary) = mosquitto_sub() else {
        return;
    };
    let core = core().await;
    let dir = tempfile::tempdir().unwrap();
    let files = device_files(&core, dir.path(), "pump-04");
    let (watch, mut seen) = operator(&core).await;
    subscribed(&watch, &mut seen, "fleet/pump-04/#").await;
    let mut pump = mosquitto_command(&binary, &core, &files, "pump-04")
        .args(["-t", "fleet/pump-04/command"])
        .args([
            "--will-topic",
            "fleet/pump-04/status",
            "--will-payload",
            "gone",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    until_connected(&core, "pump-04", true).await;
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    support::seed::policy(
        &iot,
        "iotfleet-quarantine-deny-all",
        iotfleet::fleet::quarantine::DENY_ALL_DOCUMENT,
    )
    .await;
    let certificate = iot
        .list_thing_principals()
        .thing_name("pump-04")
        .send()
        .await
        .unwrap()
        .principals
        .unwrap()
        .remove(0);
    support::seed::attach_policy(&iot, "iotfleet-quarantine-deny-all", &certificate).await;
    pump.kill().await.unwrap();
    until_connected(&core, "pump-04", false).await;
    let after = drain(&mut seen, Duration::from_secs(2)).await;
    assert!(
        !topics(&after).contains(&"fleet/pump-04/status".to_owned()),
        "the will of an isolated certificate was said: {after:?}"
    );
}

/// A raw connection as the operator (its policies allow everything, so only AWS's limits can
/// refuse what it sends).
async fn raw_operator(core: &LocalCore, client_id: &str) -> RawMqtt {
    let mut raw = raw_open(core).await;
    let client_id = client_id.to_owned();
    tokio::task::spawn_blocking(move || {
        assert_eq!(raw.connect(&client_id, None).unwrap(), Some(0));
        raw
    })
    .await
    .unwrap()
}

/// A raw TLS connection with the operator's certificate, before CONNECT.
async fn raw_open(core: &LocalCore) -> RawMqtt {
    let broker = core.broker().unwrap();
    let files = broker.files();
    let (port, ca, certificate, key) = (
        broker.port(),
        files.ca.clone(),
        files.operator_certificate.clone(),
        files.operator_key.clone(),
    );
    tokio::task::spawn_blocking(move || RawMqtt::open(port, &ca, &certificate, &key).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_publish_past_aws_limits_closes_the_connection_and_reaches_no_one() {
    let core = core().await;
    let (watch, mut seen) = operator(&core).await;
    subscribed(&watch, &mut seen, "#").await;
    let slashes = "limits/1/2/3/4/5/6/7/8";
    let long = format!("limits/{}", "x".repeat(250));
    let big = vec![b'x'; 128 * 1024 + 1];
    let breaches: Vec<(&str, Vec<u8>)> = vec![
        ("a wildcard +", raw_mqtt::publish("limits/+/x", 1, b"w")),
        ("a wildcard #", raw_mqtt::publish("limits/#", 0, b"w")),
        ("QoS 2", raw_mqtt::publish("limits/qos2", 2, b"q")),
        ("8 slashes", raw_mqtt::publish(slashes, 1, b"s")),
        ("257 bytes of topic", raw_mqtt::publish(&long, 1, b"l")),
        (
            "128 KiB + 1 of payload",
            raw_mqtt::publish("limits/big", 1, &big),
        ),
    ];
    for (what, packet) in breaches {
        let mut raw = raw_operator(&core, "limits-breaker").await;
        let answer = tokio::task::spawn_blocking(move || {
            raw.send(&packet).unwrap();
            raw.read_packet().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(answer, None, "{what}: the broker closed the connection");
    }
    // At the limits themselves, all is well.
    let at_limits = format!("limits/{}", "y".repeat(249));
    let mut raw = raw_operator(&core, "limits-keeper").await;
    let acks = tokio::task::spawn_blocking(move || {
        let mut acks = Vec::new();
        for packet in [
            raw_mqtt::publish("limits/1/2/3/4/5/6/7", 1, b"7 slashes"),
            raw_mqtt::publish(&at_limits, 1, b"256 bytes"),
            raw_mqtt::publish("limits/big", 1, &vec![b'x'; 128 * 1024]),
        ] {
            raw.send(&packet).unwrap();
            acks.push(raw.read_packet().unwrap().map(|(kind, _)| kind));
        }
        acks
    })
    .await
    .unwrap();
    assert_eq!(acks, [Some(raw_mqtt::PUBACK); 3]);
    let delivered = drain(&mut seen, Duration::from_millis(700)).await;
    let delivered = topics(&delivered);
    assert_eq!(delivered.len(), 3, "{delivered:?}");
    assert!(
        delivered
            .iter()
            .all(|t| !t.contains("qos2") && !t.contains('+'))
    );
}

#[tokio::test]
async fn subscriptions_client_ids_and_wills_are_held_to_aws_limits() {
    let core = core().await;
    let mut raw = raw_operator(&core, "limits-subscriber").await;
    let mut other = raw_operator(&core, "limits-qos2").await;
    let (granted, past, invalid, qos2, alive) = tokio::task::spawn_blocking(move || {
        let suback = |raw: &mut RawMqtt, id: u16, filters: &[(&str, u8)]| {
            raw.send(&raw_mqtt::subscribe(id, filters)).unwrap();
            let (kind, body) = raw.read_packet().unwrap().expect("a SUBACK");
            assert_eq!(kind, raw_mqtt::SUBACK);
            body[2..].to_vec()
        };
        let mut granted = Vec::new();
        for n in 0..50u16 {
            granted.extend(suback(&mut raw, n + 1, &[(&format!("limits/{n}"), 1)]));
        }
        let past = suback(&mut raw, 60, &[("limits/51", 1)]);
        let invalid = suback(&mut other, 61, &[("limits/1/2/3/4/5/6/7/#", 0)]);
        let qos2 = suback(&mut other, 1, &[("limits/q", 2)]);
        (granted, past, invalid, qos2, raw.alive())
    })
    .await
    .unwrap();
    assert_eq!(granted, [1u8; 50], "50 subscriptions on one connection");
    assert_eq!(past, [0x80], "the 51st is refused");
    assert_eq!(invalid, [0x80], "a filter of 8 slashes is refused");
    assert_eq!(qos2, [1], "QoS 2 asked, QoS 1 granted");
    assert!(alive);

    let connack = async |client_id: String, will: Option<(&'static str, u8)>| {
        let mut raw = raw_open(&core).await;
        tokio::task::spawn_blocking(move || {
            raw.connect(&client_id, will.map(|(t, q)| (t, q, &b"bye"[..])))
                .unwrap()
        })
        .await
    };
    assert_eq!(connack("c".repeat(128), None).await.unwrap(), Some(0));
    assert_eq!(
        connack("c".repeat(129), None).await.unwrap(),
        Some(2),
        "a client id past 128 bytes: identifier rejected"
    );
    assert_eq!(
        connack("will-qos2".into(), Some(("limits/will", 2)))
            .await
            .unwrap(),
        Some(5),
        "a Last Will at QoS 2"
    );
    assert_eq!(
        connack("will-wild".into(), Some(("limits/+", 1)))
            .await
            .unwrap(),
        Some(5),
        "a Last Will on a wildcard topic"
    );
    assert_eq!(
        connack("will-ok".into(), Some(("limits/will", 1)))
            .await
            .unwrap(),
        Some(0)
    );
}

#[tokio::test]
async fn publishes_past_100_a_second_on_one_connection_are_discarded() {
    let core = core().await;
    let (watch, mut seen) = operator(&core).await;
    subscribed(&watch, &mut seen, "rate/#").await;
    let mut raw = raw_operator(&core, "limits-flooder").await;
    let (sent, alive) = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut burst = Vec::new();
        for n in 0..300 {
            burst.extend(raw_mqtt::publish(&format!("rate/{n}"), 0, b"x"));
        }
        raw.send(&burst).unwrap();
        let alive = raw.alive();
        (started.elapsed(), alive)
    })
    .await
    .unwrap();
    let delivered = topics(&drain(&mut seen, Duration::from_secs(1)).await).len();
    // One second of burst (100), plus 100 a second for as long as the burst took to arrive.
    let allowed = 100 + usize::try_from(sent.as_millis() / 10 + 1).unwrap();
    assert!(
        (100..=allowed).contains(&delivered),
        "{delivered} of 300 delivered in {sent:?}, at most {allowed} allowed"
    );
    assert!(
        alive,
        "an over-rate publish is discarded, the connection stays"
    );
}
