//! Untrusted text never reaches the terminal raw (issue 29, part 9): escape sequences (ESC, OSC 0
//! and 52, CSI, C1 CSI, a bidi override) are planted in every field of every object type the
//! local core serves (names, attribute keys and values, types, groups, policy names and
//! documents, shadows, rule SQL, log lines, CloudTrail fields, Detect profiles and behaviours,
//! hold reasons, MQTT payloads); then every verb, in all three outputs, and every console screen
//! is read for one written raw, and for the planted text shown escaped.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use iotfleet::config::files;
use iotfleet::fleet::FleetClient;
use iotfleet::local::store::{GroupRecord, NamedRecord, SecurityProfileRecord, TopicRuleRecord};
use iotfleet::local::{LocalCore, LocalOptions};
use iotfleet::tui::Options;
use iotfleet::tui::state::Backend;
use iotfleet::untrusted::{escape, is_hazard};
use support::console::{SETTLE, keys, opened, render, run_until};

/// A window title (OSC 0), a clipboard write (OSC 52), a screen clear (CSI), a C1 CSI and a
/// right-to-left override.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\u{9b}31m\u{202e}";

fn hostile(label: &str) -> String {
    format!("{label}{HOSTILE}")
}

/// The characters of `text` a terminal would act on (a newline and a tab are layout).
fn raw_hazards(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| is_hazard(*c) && !matches!(c, '\n' | '\t'))
        .collect()
}

/// Whether `text` shows a planted sequence escaped: `\x1b` (a screen, a table or a text
/// record) or `\u001b` (JSON), or the C1 and bidi ones as `\u{9b}` / `\u009b`.
fn shows_escaped(text: &str) -> bool {
    [
        "\\x1b",
        "\\u001b",
        "\\u{9b}",
        "\\u009b",
        "\\u{202e}",
        "\\u202e",
    ]
    .iter()
    .any(|escaped| text.contains(escaped))
}

/// Plants the hostile text everywhere the local core keeps text: `evil-thing` (its type,
/// group, attributes, certificate, policy, shadow, topic rule, CloudTrail record and Detect
/// violation) and a Thing whose name is hostile.
async fn plant(core: &LocalCore, target: &support::Target) {
    let config = target.sdk_config().await;
    let iot = aws_sdk_iot::Client::new(&config);
    let made = iot
        .create_keys_and_certificate()
        .set_as_active(true)
        .send()
        .await
        .unwrap();
    let certificate = made.certificate_arn.unwrap();
    let (policy, type_name, group, evil_name) = (
        hostile("policy"),
        hostile("type"),
        hostile("group"),
        hostile("evil-name"),
    );
    core.modify(|state| {
        let now = 1_700_000_000;
        state.thing_types.insert(
            type_name.clone(),
            NamedRecord {
                id: "t".into(),
                created: now,
            },
        );
        state.thing_groups.insert(
            group.clone(),
            GroupRecord {
                id: "g".into(),
                created: now,
                policies: std::collections::BTreeSet::default(),
            },
        );
        for name in ["evil-thing", evil_name.as_str()] {
            let mut record = iotfleet::local::store::ThingRecord {
                id: "x".into(),
                thing_type: Some(type_name.clone()),
                version: 1,
                ..Default::default()
            };
            record.attributes.insert(hostile("key"), hostile("value"));
            record.attributes.insert("site".into(), hostile("north"));
            record.groups.insert(group.clone());
            record.principals.insert(certificate.clone());
            state.things.insert(name.to_owned(), record);
        }
        // Raw C1 and bidi characters are valid inside JSON strings.
        let document = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"x{c1}y","Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/{c1}{rlo}"}}]}}"#,
            c1 = '\u{9b}',
            rlo = '\u{202e}'
        );
        state.policies.insert(
            policy.clone(),
            iotfleet::local::store::PolicyRecord::new(document, now),
        );
        let id = certificate.rsplit('/').next().unwrap().to_owned();
        state.certificates.get_mut(&id).unwrap().policies.insert(policy.clone());
        state.topic_rules.insert(
            "evil_rule".into(),
            TopicRuleRecord {
                sql: format!("SELECT '{HOSTILE}' FROM 'fleet/evil-thing/#'"),
                topic_pattern: "fleet/evil-thing/#".into(),
                description: Some(hostile("description")),
                disabled: false,
                sql_version: None,
                actions: vec![serde_json::json!({"republish": {"topic": hostile("republished"), "roleArn": "r"}})],
                error_action: None,
                created: now,
            },
        );
        let account = state.account().to_owned();
        state
            .security_profiles
            .insert(hostile("profile"), hostile_profile(&account, now));
        let call = iotfleet::local::trail::Call {
            event_name: hostile("AttachPolicy"),
            resources: vec![("AWS::IoT::Thing".into(), "evil-thing".into())],
            parameters: serde_json::json!({"note": hostile("parameter")}),
        };
        let ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        iotfleet::local::trail::record(state, &call, &hostile("AKIA"), &hostile("mallory"), ms);
    })
    .unwrap();
    plant_services(core, &config).await;
}

/// A Detect profile with a hostile name and description, on every registered Thing: at most
/// one message in 5 minutes.
fn hostile_profile(account: &str, now: i64) -> SecurityProfileRecord {
    SecurityProfileRecord {
        description: Some(hostile("profile description")),
        behaviors: vec![serde_json::json!({
            // Behaviour names are checked (AWS's pattern); the profile's is not.
            "name": "too-chatty",
            "metric": "aws:num-messages-sent",
            "criteria": {"comparisonOperator": "less-than-equals", "value": {"count": 1},
                         "durationSeconds": 300, "consecutiveDatapointsToAlarm": 1,
                         "consecutiveDatapointsToClear": 1}
        })],
        targets: [format!(
            "arn:aws:iot:us-east-1:{account}:all/registered-things"
        )]
        .into_iter()
        .collect(),
        version: 1,
        created: now,
        last_modified: now,
    }
}

/// Plants the hostile text where the core's services keep it: a shadow, a refusal in
/// `AWSIotLogsV2`, and Detect violations of the hostile profile.
async fn plant_services(core: &LocalCore, config: &aws_config::SdkConfig) {
    let data = aws_sdk_iotdataplane::Client::new(config);
    let shadow = serde_json::json!({"state": {"desired": {hostile("key"): hostile("value")}}});
    data.update_thing_shadow()
        .thing_name("evil-thing")
        .payload(aws_smithy_types::Blob::new(shadow.to_string()))
        .send()
        .await
        .unwrap();
    // A refusal as AWS IoT's logging writes it, every text field hostile.
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let refusal = serde_json::json!({
        "timestamp": "2026-12-06 21:00:00.000", "logLevel": "ERROR", "status": "Failure",
        "eventType": "Publish-In", "protocol": "MQTT", "clientId": hostile("client"),
        "topicName": hostile("topic"), "reason": "AUTHORIZATION_FAILURE",
        "details": hostile("details"), "principalId": "abc", "sourceIp": "127.0.0.1"
    });
    logs.put_log_events()
        .log_group_name("AWSIotLogsV2")
        .log_stream_name("planted")
        .log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now_ms)
                .message(refusal.to_string())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Detect violations of the hostile profile, one by the Thing whose name is hostile.
    for client in ["evil-thing", hostile("evil-name").as_str()] {
        for _ in 0..5 {
            core.detector().count(
                client,
                iotfleet::local::detect::Metric::MessagesSent,
                now_ms,
            );
        }
    }
    core.take_datapoint(now_ms);
}

/// `iotfleet --local --local-state STATE ARGS`: the verb talks to the core that owns the file.
async fn iotfleet(state: &Path, home: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .arg("--local")
        .arg("--local-state")
        .arg(state)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run iotfleet")
}

/// Checks one output: no raw hazard, and (unless it shows no planted field) the planted text
/// shown escaped.
/// (What is said of a failure is escaped too: the test's own output is read on a terminal.)
fn check(what: &str, out: &str, problems: &mut Vec<String>) {
    let raw = raw_hazards(out);
    let (shown, out_shown) = (escape(what), escape(out));
    if !raw.is_empty() {
        problems.push(format!("{shown}: raw {raw:?} in:\n{out_shown}"));
    } else if !what.starts_with("certs ") && !shows_escaped(out) {
        problems.push(format!(
            "{shown}: the planted text is not shown escaped:\n{out_shown}"
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_escape_sequences_reach_no_verb_and_no_screen_raw() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fleet.json");
    let core = LocalCore::start(LocalOptions {
        state_file: Some(state.clone()),
        seed: true,
        mqtt_port: Some(0),
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    let target = support::Target::local(&core);
    plant(&core, &target).await;
    let home = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();

    verbs(&state, home.path(), &mut problems).await;
    tail(&core, &state, home.path(), &mut problems).await;
    Box::pin(screens(&core, home.path(), &mut problems)).await;
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Every verb, in its three outputs, after a quarantine with a hostile reason and incident.
async fn verbs(state: &Path, home: &Path, problems: &mut Vec<String>) {
    // A quarantine with a hostile reason and incident: its output, and the holds it leaves.
    let (reason, incident) = (hostile("reason"), hostile("incident"));
    let quarantined = iotfleet(
        state,
        home,
        &[
            "quarantine",
            "evil-thing",
            "--reason",
            &reason,
            "--incident",
            &incident,
            "--yes",
        ],
    )
    .await;
    check(
        "quarantine",
        &String::from_utf8_lossy(&quarantined.stdout),
        problems,
    );

    let evil_name = hostile("evil-name");
    let policy = hostile("policy");
    let verbs: Vec<Vec<&str>> = vec![
        vec!["things"],
        vec!["things", "--query", "thingName:evil*"],
        vec!["thing", "evil-thing"],
        vec!["thing", &evil_name],
        // Ids, statuses and dates: no planted field, checked for raw ones all the same.
        vec!["certs"],
        vec!["policies"],
        vec!["policy", &policy],
        vec!["shadow", "get", "evil-thing"],
        vec!["audit"],
        vec!["denied", "--since", "1h"],
        vec!["violations"],
        vec!["history", "evil-thing"],
        vec!["quarantine", "evil-thing", "--dry-run"],
        vec!["release", "evil-thing", "--dry-run"],
    ];
    for verb in &verbs {
        for output in ["table", "text", "json"] {
            let mut args = vec!["--output", output];
            args.extend(verb.iter().copied());
            let ran = iotfleet(state, home, &args).await;
            assert_ne!(ran.status.code(), Some(101), "{verb:?} panicked");
            let what = format!("{} --output {output}", verb.join(" "));
            check(&what, &String::from_utf8_lossy(&ran.stdout), problems);
            let said = String::from_utf8_lossy(&ran.stderr);
            let raw = raw_hazards(&said);
            if !raw.is_empty() {
                problems.push(format!("{what}: raw {raw:?} on stderr:\n{said}"));
            }
        }
    }
}

/// A connection to the broker as the operator; its events are kept (a dropped receiver ends the
/// connection), and never read.
fn operator(
    core: &LocalCore,
) -> (
    iotfleet::fleet::traffic::TrafficHandle,
    tokio::sync::mpsc::Receiver<iotfleet::fleet::traffic::TrafficEvent>,
) {
    iotfleet::fleet::traffic::connect(
        &core.mqtt_settings("untrusted-operator".into()).unwrap(),
        100,
    )
    .unwrap()
}

/// `tail` of a hostile payload, in its three outputs.
async fn tail(core: &LocalCore, state: &Path, home: &Path, problems: &mut Vec<String>) {
    // tail: a hostile payload, in each output.
    let (operator, _events) = operator(core);
    for output in ["table", "text", "json"] {
        let tail = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
            .arg("--local")
            .arg("--local-state")
            .arg(state)
            .args([
                "--output",
                output,
                "tail",
                "evil/#",
                "--count",
                "1",
                "--timeout",
                "20",
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_STATE_HOME", home.join("state"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let output_of = tail.wait_with_output();
        tokio::pin!(output_of);
        let done = loop {
            operator
                .publish(
                    "evil/payload",
                    bytes::Bytes::from_static(HOSTILE.as_bytes()),
                    0,
                    false,
                )
                .unwrap();
            tokio::select! {
                done = &mut output_of => break done.unwrap(),
                () = tokio::time::sleep(Duration::from_millis(300)) => {}
            }
            assert!(tokio::time::Instant::now() < deadline, "tail got nothing");
        };
        check(
            &format!("tail --output {output}"),
            &String::from_utf8_lossy(&done.stdout),
            problems,
        );
    }
}

/// Every console screen that shows what was planted.
async fn screens(core: &LocalCore, home: &Path, problems: &mut Vec<String>) {
    let (operator, _events) = operator(core);
    // Every console screen that shows what was planted.
    let client = FleetClient::connect(&core.connection_settings())
        .await
        .unwrap();
    let options = Options {
        traffic: Some(Ok(core.mqtt_settings("untrusted-console".into()).unwrap())),
        journal: Some(home.join("state/iotfleet/journal.jsonl")),
        ..Options::new(Backend::Local)
    };
    let mut app = opened(
        client,
        options,
        files::load_from(None, None, None, false),
        SETTLE,
    )
    .await;
    let screens: Vec<(&str, Vec<&str>)> = vec![
        ("the Things list", vec!["/", "evil", "<Enter>"]),
        ("the Thing screen", vec!["<Enter>"]),
        ("its history", vec!["h"]),
        ("its shadow", vec!["<Esc>", "S"]),
        ("the policies list", vec!["<Esc>", "<Esc>", "<Esc>", "3"]),
        (
            "the policy screen",
            vec!["/", "policy", "<Enter>", "<Enter>"],
        ),
        ("the audit", vec![":", "audit", "<Enter>"]),
        ("the refusals", vec![":", "denied", "<Enter>"]),
        ("the quarantined", vec![":", "quarantined", "<Enter>"]),
        ("the violations", vec![":", "violations", "<Enter>"]),
    ];
    for (screen, sequence) in screens {
        keys(&mut app, &sequence).await;
        run_until(&mut app, Duration::from_secs(3), |app| {
            shows_escaped(&render(app, 120, 40))
        })
        .await;
        check(screen, &render(&app, 120, 40), problems);
    }
    keys(&mut app, &[":", "traffic evil-thing", "<Enter>"]).await;
    let deadline = tokio::time::Instant::now() + SETTLE;
    while !shows_escaped(&render(&app, 120, 40)) && tokio::time::Instant::now() < deadline {
        let payload = bytes::Bytes::from_static(HOSTILE.as_bytes());
        operator
            .publish("fleet/evil-thing/telemetry", payload, 0, false)
            .unwrap();
        for _ in 0..10 {
            app.pump_traffic();
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    check("the traffic screen", &render(&app, 120, 40), problems);
}
