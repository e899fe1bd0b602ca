//! The embedded local IoT Core as users meet it: `--local` on a verb (seeded once, kept in its
//! state file), `local serve` spoken to by the plain AWS SDK and by boto3, and a corrupt state
//! file refused without being touched.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::served::serve;

/// Runs `iotfleet ARGS` with an isolated home and no AWS configuration.
fn iotfleet(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .expect("run iotfleet")
}

fn json_of(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

#[test]
fn the_local_fleet_is_seeded_once_kept_and_shows_real_expiry() {
    let home = tempfile::tempdir().unwrap();
    let first = json_of(&iotfleet(
        home.path(),
        &["--local", "things", "--output", "json"],
    ));
    assert!(first["count"].as_u64().unwrap() >= 50, "{first}");
    let kinds: std::collections::BTreeSet<&str> = first["things"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["thing_type"].as_str())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["camera", "gateway", "pump", "sensor"]
    );
    assert!(
        home.path().join("data/iotfleet/local-fleet.json").exists(),
        "kept under XDG_DATA_HOME"
    );

    let pump = json_of(&iotfleet(
        home.path(),
        &["--local", "thing", "pump-07", "--output", "json"],
    ));
    let days = pump["certificates"][0]["days_to_expiry"].as_i64().unwrap();
    assert!(
        (4..=5).contains(&days),
        "pump-07's certificate expires in five days: {days}"
    );
    let expired =
        String::from_utf8(iotfleet(home.path(), &["--local", "thing", "temp-sensor-09"]).stdout)
            .unwrap();
    assert!(expired.contains("EXPIRED"), "{expired}");

    let second = json_of(&iotfleet(
        home.path(),
        &["--local", "things", "--output", "json"],
    ));
    assert_eq!(first, second, "a second run sees the same fleet");
    let again = json_of(&iotfleet(
        home.path(),
        &["--local", "thing", "pump-07", "--output", "json"],
    ));
    assert_eq!(
        pump["certificates"][0]["id"], again["certificates"][0]["id"],
        "the same certificates"
    );
}

#[test]
fn a_corrupt_state_file_is_refused_with_file_and_line_and_left_untouched() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("fleet.json");
    let text = "{\"format\": 1,\n  \"things\": [oops]\n}\n";
    std::fs::write(&state, text).unwrap();
    let output = iotfleet(
        home.path(),
        &[
            "--local",
            "--local-state",
            state.to_str().unwrap(),
            "things",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains(&state.display().to_string()) && message.contains("line 2"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        text,
        "the file is left untouched"
    );
}

/// The log segment of a fleet whose snapshot holds no transaction yet.
const SEGMENT: &str = "fleet.json.log-00000000000000000001";

/// How a test damages a fleet's files (by name, with their bytes).
type Damage = Box<dyn Fn(&mut std::collections::BTreeMap<String, Vec<u8>>)>;

/// Every file of `dir`, by name, with its bytes.
fn snapshot_of(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A local fleet kept in `dir/fleet.json` with four transactions in its log.
async fn fleet_with_a_log(dir: &Path) {
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions {
        state_file: Some(dir.join("fleet.json")),
        seed: true,
        mqtt_port: None,
        simulator: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    // Each CreateThing logs the Thing, then its CloudTrail record.
    for name in ["first", "second"] {
        iot.create_thing().thing_name(name).send().await.unwrap();
    }
}

/// Replaces the first `from` in `bytes` with `to`.
fn replaced(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.contains(from), "{from} not in {text:.200}");
    text.replacen(from, to, 1).into_bytes()
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "the issue's list of damages, one after another"
)]
async fn every_damage_to_the_state_files_is_refused_where_it_is_and_they_stay_untouched() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("fleet");
    std::fs::create_dir(&dir).unwrap();
    fleet_with_a_log(&dir).await;
    let pristine = snapshot_of(&dir);
    let log = String::from_utf8(pristine[SEGMENT].clone()).unwrap();
    let lines: Vec<String> = log.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 4, "{log}");
    let with_lines = |change: fn(&mut Vec<String>)| -> Damage {
        let mut changed = lines.clone();
        change(&mut changed);
        let text = changed.join("\n") + "\n";
        Box::new(move |files| {
            files.insert(SEGMENT.into(), text.clone().into_bytes());
        })
    };
    let in_snapshot = |from: &'static str, to: &'static str| -> Damage {
        Box::new(move |files| {
            let bytes = replaced(&files["fleet.json"], from, to);
            files.insert("fleet.json".into(), bytes);
        })
    };
    let damages: Vec<(&str, Damage, &str, &str)> = vec![
        (
            "a table renamed in the snapshot",
            in_snapshot("\"things\":{", "\"thinks\":{"),
            "fleet.json",
            "line 2",
        ),
        (
            "a character of a name flipped in the snapshot",
            in_snapshot("pump-01", "pump-0l"),
            "fleet.json",
            "line 2",
        ),
        (
            "a digit of the last line's seq changed",
            with_lines(|lines| {
                let digit_at = lines[3].find("\"seq\":").unwrap() + 6;
                let digit = if &lines[3][digit_at..=digit_at] == "9" {
                    "8"
                } else {
                    "9"
                };
                lines[3].replace_range(digit_at..=digit_at, digit);
            }),
            SEGMENT,
            "line 4",
        ),
        (
            "the last two lines merged",
            with_lines(|lines| {
                let last = lines.pop().unwrap();
                lines[2].push_str(&last);
            }),
            SEGMENT,
            "line 3",
        ),
        (
            "a table key renamed in a middle line",
            with_lines(|lines| lines[1] = lines[1].replacen("\"trail\"", "\"trial\"", 1)),
            SEGMENT,
            "line 2",
        ),
        (
            "the newest segment deleted",
            Box::new(|files| {
                files.remove(SEGMENT);
            }),
            SEGMENT,
            "is missing",
        ),
    ];
    for (what, damage, file, position) in damages {
        let mut files = pristine.clone();
        damage(&mut files);
        assert_ne!(files, pristine, "{what}: damaged");
        for entry in std::fs::read_dir(&dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let state = dir.join("fleet.json");
        let output = iotfleet(
            home.path(),
            &[
                "--local",
                "--local-state",
                state.to_str().unwrap(),
                "things",
            ],
        );
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{what}: {message}");
        assert!(
            message.contains(&dir.join(file).display().to_string()) && message.contains(position),
            "{what}: {message}"
        );
        assert_eq!(
            snapshot_of(&dir),
            files,
            "{what}: the files are left untouched"
        );
    }
}

#[tokio::test]
async fn local_serve_speaks_aws_to_the_plain_sdk() {
    let home = tempfile::tempdir().unwrap();
    let served = serve(home.path());
    let config = served.target.sdk_config().await;
    let iot = aws_sdk_iot::Client::new(&config);
    let data = aws_sdk_iotdataplane::Client::new(&config);

    let mut pages = iot.list_things().max_results(10).into_paginator().send();
    let (mut page_count, mut things) = (0, 0);
    while let Some(page) = pages.next().await {
        page_count += 1;
        things += page.expect("a page").things.unwrap_or_default().len();
    }
    assert!(things >= 50, "{things}");
    assert_eq!(page_count, things.div_ceil(10), "pages of ten");

    let principals = iot
        .list_thing_principals()
        .thing_name("pump-01")
        .send()
        .await
        .unwrap()
        .principals
        .unwrap();
    let certificate = &principals[0];
    let attached = |iot: aws_sdk_iot::Client, target: String| async move {
        let out = iot
            .list_attached_policies()
            .target(target)
            .send()
            .await
            .unwrap();
        out.policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.policy_name)
            .collect::<Vec<_>>()
    };
    iot.attach_policy()
        .policy_name("legacy-gateway-admin")
        .target(certificate)
        .send()
        .await
        .unwrap();
    assert!(
        attached(iot.clone(), certificate.clone())
            .await
            .contains(&"legacy-gateway-admin".to_owned())
    );
    iot.detach_policy()
        .policy_name("legacy-gateway-admin")
        .target(certificate)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached(iot.clone(), certificate.clone()).await,
        ["pump-device"]
    );

    let shadow = data
        .get_thing_shadow()
        .thing_name("pump-01")
        .send()
        .await
        .unwrap();
    let document: serde_json::Value =
        serde_json::from_slice(shadow.payload.unwrap().as_ref()).unwrap();
    let version = document["version"].as_u64().unwrap();
    let update = |version: u64| {
        let body = format!(r#"{{"state":{{"desired":{{"speed":55}}}},"version":{version}}}"#);
        data.update_thing_shadow()
            .thing_name("pump-01")
            .payload(body.into_bytes().into())
            .send()
    };
    update(version)
        .await
        .expect("the current version is accepted");
    let error = update(version)
        .await
        .expect_err("a stale version is refused")
        .into_service_error();
    assert!(error.is_conflict_exception(), "{error:?}");
    assert_eq!(error.meta().code(), Some("ConflictException"));
}

#[test]
fn local_serve_speaks_aws_to_boto3() {
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/peers/moto-venv/bin/python");
    if !python.exists() {
        support::peer_missing(
            "boto3",
            "no virtualenv with moto and boto3",
            support::moto::INSTALL,
        );
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let served = serve(home.path());
    let script = r#"
import boto3, json, sys
iot = boto3.client("iot", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
pages = list(iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 20}))
policy = iot.get_policy(policyName="pump-device")
print(json.dumps({"pages": len(pages), "things": sum(len(p["things"]) for p in pages),
                  "default": policy["defaultVersionId"]}))
"#;
    let target = &served.target;
    let output = Command::new(&python)
        .args([
            "-c",
            script,
            &target.endpoint,
            &target.access_key_id,
            &target.secret_access_key,
        ])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let things = result["things"].as_u64().unwrap();
    assert!(things >= 50);
    assert_eq!(result["pages"].as_u64().unwrap(), things.div_ceil(20));
    assert_eq!(result["default"], "1");
}

#[tokio::test]
async fn test_authorization_answers_through_the_policy_engine() {
    use aws_sdk_iot::types::{ActionType, AuthDecision, AuthInfo};
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions {
        seed: true,
        mqtt_port: None,
        simulator: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    let principal = iot
        .list_thing_principals()
        .thing_name("pump-01")
        .send()
        .await
        .unwrap()
        .principals
        .unwrap()
        .remove(0);
    let account = core.account().to_owned();
    let topic = |t: &str| format!("arn:aws:iot:us-east-1:{account}:topic/{t}");
    let decide = |resource: String, policies_to_add: Option<Vec<String>>| {
        let iot = iot.clone();
        let principal = principal.clone();
        async move {
            let info = AuthInfo::builder()
                .action_type(ActionType::Publish)
                .resources(resource)
                .build()
                .unwrap();
            let out = iot
                .test_authorization()
                .principal(principal)
                .client_id("pump-01")
                .auth_infos(info)
                .set_policy_names_to_add(policies_to_add)
                .send()
                .await
                .unwrap();
            out.auth_results.unwrap().remove(0)
        }
    };
    let own = decide(topic("fleet/pump-01/telemetry"), None).await;
    assert_eq!(own.auth_decision, Some(AuthDecision::Allowed));
    let allowed_by: Vec<_> = own
        .allowed
        .unwrap()
        .policies
        .unwrap()
        .into_iter()
        .filter_map(|p| p.policy_name)
        .collect();
    assert_eq!(allowed_by, ["pump-device"]);
    assert_eq!(
        decide(topic("fleet/pump-02/telemetry"), None)
            .await
            .auth_decision,
        Some(AuthDecision::ImplicitDeny)
    );

    let deny_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}"#;
    iot.create_policy()
        .policy_name("deny-all")
        .policy_document(deny_all)
        .send()
        .await
        .unwrap();
    let denied = decide(
        topic("fleet/pump-01/telemetry"),
        Some(vec!["deny-all".into()]),
    )
    .await;
    assert_eq!(denied.auth_decision, Some(AuthDecision::ExplicitDeny));
    let by: Vec<_> = denied
        .denied
        .unwrap()
        .explicit_deny
        .unwrap()
        .policies
        .unwrap()
        .into_iter()
        .filter_map(|p| p.policy_name)
        .collect();
    assert_eq!(by, ["deny-all"]);
}

#[tokio::test]
async fn update_thing_merges_attributes_and_checks_the_expected_version() {
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions {
        seed: true,
        mqtt_port: None,
        simulator: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    let payload = aws_sdk_iot::types::AttributePayload::builder()
        .attributes("site", "plant-9")
        .attributes("model", "")
        .merge(true)
        .build();
    iot.update_thing()
        .thing_name("pump-01")
        .attribute_payload(payload)
        .expected_version(1)
        .send()
        .await
        .unwrap();
    let thing = iot
        .describe_thing()
        .thing_name("pump-01")
        .send()
        .await
        .unwrap();
    let attributes = thing.attributes.unwrap();
    assert_eq!(attributes.get("site").map(String::as_str), Some("plant-9"));
    assert!(
        !attributes.contains_key("model"),
        "an empty value removes the attribute when merging"
    );
    assert_eq!(
        attributes.get("firmware").map(String::as_str),
        Some("2.4.1"),
        "others are kept"
    );
    assert_eq!(thing.version, 2);
    let stale = iot
        .update_thing()
        .thing_name("pump-01")
        .expected_version(1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(stale.is_version_conflict_exception(), "{stale:?}");
}

#[test]
fn local_tail_prints_the_simulated_fleet_as_ndjson() {
    let home = tempfile::tempdir().unwrap();
    let output = iotfleet(
        home.path(),
        &[
            "--local",
            "--telemetry-interval",
            "0.2",
            "tail",
            "fleet/+/telemetry",
            "--count",
            "5",
            "--timeout",
            "30",
            "--output",
            "json",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 5);
    for line in &lines {
        let topic = line["topic"].as_str().unwrap();
        assert!(
            topic.starts_with("fleet/") && topic.ends_with("/telemetry"),
            "{line}"
        );
        assert!(line["payload"]["seq"].is_u64(), "{line}");
    }
}

#[test]
fn local_publish_is_journaled_and_refused_read_only() {
    let home = tempfile::tempdir().unwrap();
    let args = [
        "--local",
        "--no-simulator",
        "publish",
        "fleet/pump-01/command",
        "{\"go\":1}",
    ];
    let output = iotfleet(home.path(), &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let journal =
        std::fs::read_to_string(home.path().join("state/iotfleet/journal.jsonl")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(journal.lines().last().unwrap()).unwrap();
    assert_eq!(entry["action"], "publish");
    assert_eq!(entry["target"], "fleet/pump-01/command");
    assert!(
        entry["backend"].as_str().unwrap().starts_with("local mqtt"),
        "{entry}"
    );

    let refused = iotfleet(home.path(), &[&["--read-only"], &args[..]].concat());
    assert_eq!(refused.status.code(), Some(5));
}

/// Creates Things `writer-N` through `client` until a call fails; returns the acknowledged ones.
async fn create_until_refused(iot: aws_sdk_iot::Client, writer: usize) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for index in 0.. {
        let name = format!("crash-{writer}-{index}");
        if iot.create_thing().thing_name(&name).send().await.is_err() {
            break;
        }
        acknowledged.push(name);
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_killed_while_writing_keeps_every_acknowledged_change_in_a_whole_file() {
    let home = tempfile::tempdir().unwrap();
    let mut served = serve(home.path());
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(support::REGION))
        .endpoint_url(&served.endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            &served.target.access_key_id,
            &served.target.secret_access_key,
            None,
            None,
            "tests",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let iot = aws_sdk_iot::Client::new(&config);
    // Four writers, and the core killed (no chance to finish a write) under them.
    let writers: Vec<_> = (0..4)
        .map(|writer| tokio::spawn(create_until_refused(iot.clone(), writer)))
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(!acknowledged.is_empty(), "the writers got going");

    // The file is whole (the old state or the new, never a mix) and has every acknowledged Thing.
    let state = iotfleet::local::store::Store::read_file(&home.path().join("fleet.json"))
        .expect("the state file parses")
        .expect("the state file exists");
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|name| !state.things.contains_key(*name))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");

    // A new core takes the dead one's file over (its lock died with it) and serves all of it.
    let again = serve(home.path());
    let client = iotfleet::fleet::FleetClient::connect(&again.target.settings())
        .await
        .unwrap();
    let described = client.describe_thing(&acknowledged[0]).await.unwrap();
    assert_eq!(described.name, acknowledged[0]);
    eprintln!(
        "{} CreateThing calls acknowledged before the kill, all kept",
        acknowledged.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_loaded_core_within_2_s_and_keeps_every_acknowledged_write() {
    use std::time::{Duration, Instant};
    let home = tempfile::tempdir().unwrap();
    let mut served = serve(home.path());
    let config = served.target.sdk_config().await;
    let iot = aws_sdk_iot::Client::new(&config);
    let writers: Vec<_> = (0..4)
        .map(|writer| tokio::spawn(create_until_refused(iot.clone(), writer)))
        .collect();
    // Readers too: whole-fleet searches and listings, back to back.
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let iot = iot.clone();
            tokio::spawn(async move {
                while iot
                    .search_index()
                    .query_string("thingName:*-0* OR attributes.site:*")
                    .send()
                    .await
                    .is_ok()
                    && iot.list_things().send().await.is_ok()
                {}
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = served.child.id().to_string();
    let signalled = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(2),
            "still running 2 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(143), "the shell's code for SIGTERM");
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    for reader in readers {
        reader.await.unwrap();
    }
    assert!(!acknowledged.is_empty(), "the writers got going");
    let state = iotfleet::local::store::Store::read_file(&home.path().join("fleet.json"))
        .expect("the state files read whole")
        .expect("the state file exists");
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|name| !state.things.contains_key(*name))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    eprintln!(
        "stopped {took:?} after SIGTERM; {} acknowledged CreateThing calls all kept",
        acknowledged.len()
    );
}

#[tokio::test]
async fn a_connection_that_does_not_finish_its_headers_is_closed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions {
        seed: true,
        mqtt_port: None,
        simulator: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let address = core.endpoint().trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /things HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    assert!(
        iot.list_things().send().await.is_ok(),
        "others are served meanwhile"
    );
    let deadline = iotfleet::local::http::HEADER_TIMEOUT + std::time::Duration::from_secs(2);
    for stream in &mut slow {
        let mut buffer = [0u8; 256];
        let read = tokio::time::timeout(deadline, stream.read(&mut buffer))
            .await
            .expect("the connection is closed by the server");
        // Closed (0 bytes, or reset), perhaps after a 408 said why.
        if let Ok(n) = read
            && n > 0
        {
            assert!(
                buffer.starts_with(b"HTTP/1.1 408"),
                "{:?}",
                String::from_utf8_lossy(&buffer[..n])
            );
        }
    }
}

/// boto3 with the printed key, another key, a wrong secret and no signature at all; then it
/// provisions a device as a script would (keys and certificate, Thing, policy, attachments).
const CLIENTS_SCRIPT: &str = r#"
import json, sys, urllib.error, urllib.request
import boto3, botocore
endpoint, key, secret, certificate, private_key = sys.argv[1:6]
def client(service, key, secret):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
def code(call):
    try:
        call()
        return "ok"
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"]
iot = client("iot", key, secret)
out = {"things": len(iot.list_things(maxResults=10)["things"]),
       "account": client("sts", key, secret).get_caller_identity()["Account"],
       "other_key": code(lambda: client("iot", "AKIAOTHERKEY0000000", secret).list_things()),
       "wrong_secret": code(lambda: client("iot", key, "not-the-secret").list_things()),
       "sts_other_key": code(lambda: client("sts", "AKIAOTHERKEY0000000", secret).get_caller_identity()),
       "logs_other_key": code(lambda: client("logs", "AKIAOTHERKEY0000000", secret).filter_log_events(logGroupName="AWSIotLogsV2"))}
try:
    urllib.request.urlopen(endpoint + "/things")
    out["unsigned"] = "ok"
except urllib.error.HTTPError as error:
    out["unsigned"] = [error.code, error.headers.get("x-amzn-ErrorType")]
made = iot.create_keys_and_certificate(setAsActive=True)
open(certificate, "w").write(made["certificatePem"])
open(private_key, "w").write(made["keyPair"]["PrivateKey"])
iot.create_thing(thingName="sdk-device")
iot.create_policy(policyName="sdk-device", policyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": "*"}]}))
iot.attach_policy(policyName="sdk-device", target=made["certificateArn"])
iot.attach_thing_principal(thingName="sdk-device", principal=made["certificateArn"])
print(json.dumps(out))
"#;

/// The AWS IoT Device SDK connecting over mutual TLS with that certificate, and publishing.
const DEVICE_SCRIPT: &str = r#"
import sys
from awscrt import mqtt
from awsiot import mqtt_connection_builder
port, ca, certificate, key = sys.argv[1:5]
connection = mqtt_connection_builder.mtls_from_path(endpoint="127.0.0.1", port=int(port),
    cert_filepath=certificate, pri_key_filepath=key, ca_filepath=ca, client_id="sdk-device",
    clean_session=True, keep_alive_secs=30)
connection.connect().result(timeout=10)
published, _ = connection.publish(topic="fleet/sdk-device/hello", payload="hi", qos=mqtt.QoS.AT_LEAST_ONCE)
published.result(timeout=10)
connection.disconnect().result(timeout=10)
print("published")
"#;

/// The local core's clients, signing with what `local serve` printed: boto3, the aws CLI, and
/// the AWS IoT Device SDK connecting with a certificate boto3 made; and everyone else refused
/// with AWS's error for them.
#[tokio::test]
async fn only_the_printed_key_gets_in_and_the_rest_get_awss_errors() {
    let Some(python) = support::boto3_python() else {
        return;
    };
    let aws = python.with_file_name("aws");
    let home = tempfile::tempdir().unwrap();
    let served = serve(home.path());
    let target = &served.target;
    let certificate = home.path().join("device.pem");
    let key = home.path().join("device.key");
    let output = tokio::process::Command::new(&python)
        .args([
            "-c",
            CLIENTS_SCRIPT,
            &target.endpoint,
            &target.access_key_id,
        ])
        .arg(&target.secret_access_key)
        .arg(&certificate)
        .arg(&key)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["account"], served.account.as_str(), "{out}");
    assert_ne!(
        served.account, "123456789012",
        "a new fleet has an account of its own"
    );
    assert_eq!(out["things"], 10, "{out}");
    assert_eq!(out["other_key"], "UnrecognizedClientException", "{out}");
    assert_eq!(out["wrong_secret"], "InvalidSignatureException", "{out}");
    assert_eq!(out["sts_other_key"], "InvalidClientTokenId", "{out}");
    assert_eq!(
        out["logs_other_key"], "UnrecognizedClientException",
        "{out}"
    );
    assert_eq!(
        out["unsigned"],
        serde_json::json!([403, "MissingAuthenticationTokenException"]),
        "{out}"
    );

    // The aws CLI, with the printed key in its environment, and with another.
    let cli = |access_key: &str| {
        let mut command = tokio::process::Command::new(&aws);
        command
            .args(["iot", "describe-thing", "--thing-name", "sdk-device"])
            .args(["--endpoint-url", &target.endpoint, "--region", "us-east-1"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("AWS_ACCESS_KEY_ID", access_key)
            .env("AWS_SECRET_ACCESS_KEY", &target.secret_access_key)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command.output()
    };
    let described = cli(&target.access_key_id).await.unwrap();
    assert!(
        described.status.success()
            && String::from_utf8_lossy(&described.stdout).contains("sdk-device"),
        "{}",
        String::from_utf8_lossy(&described.stderr)
    );
    let refused = cli("AKIAOTHERKEY0000000").await.unwrap();
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("UnrecognizedClientException"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // The Device SDK connects over mutual TLS with the certificate boto3 made, and publishes.
    let output = tokio::process::Command::new(&python)
        .args(["-c", DEVICE_SCRIPT, &served.mqtt_port, &served.ca])
        .arg(&certificate)
        .arg(&key)
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "published",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two local fleets, each with an account of its own, journaled to one file: a release on one
/// never closes the other's quarantine, and each release restores its own fleet exactly.
#[tokio::test]
async fn two_local_fleets_journals_stay_apart() {
    use iotfleet::fleet::FleetClient;
    use iotfleet::fleet::mutation::Mutations;
    use iotfleet::fleet::quarantine::Options;
    use iotfleet::fleet::quarantine::facts::{self, Depth, Snapshot};
    use iotfleet::fleet::quarantine::run;
    use iotfleet::local::{LocalCore, LocalOptions};

    let start = || async {
        LocalCore::start(LocalOptions {
            seed: true,
            ..LocalOptions::default()
        })
        .await
        .unwrap()
    };
    let (a, b) = (start().await, start().await);
    assert_ne!(a.account(), b.account());
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let mut fleets = Vec::new();
    for core in [&a, &b] {
        let client = FleetClient::connect(&core.connection_settings())
            .await
            .unwrap();
        let mutations = Mutations::for_client(false, Some(journal.clone()), &client)
            .await
            .unwrap();
        fleets.push((client, mutations));
    }
    let snapshot = |client: &FleetClient| {
        let client = client.clone();
        async move {
            Snapshot::of(
                &facts::gather(&client, "pump-01", Depth::Versions)
                    .await
                    .unwrap(),
            )
        }
    };
    let before = snapshot(&fleets[0].0).await;
    let deactivate = Options {
        deactivate_certs: true,
        ..Options::default()
    };
    for ((client, mutations), options) in fleets.iter().zip([deactivate, Options::default()]) {
        let prepared =
            run::prepare_quarantine(client, mutations.journal(), "pump-01", options, None)
                .await
                .unwrap();
        run::execute(client, mutations, prepared, &mut |_| Ok(()))
            .await
            .unwrap();
    }
    // Fleet B's release undoes B's quarantine only: A's stays open and deactivated.
    let (client_b, mutations_b) = &fleets[1];
    let released = run::prepare_release(client_b, mutations_b.journal(), "pump-01", false)
        .await
        .unwrap();
    run::execute(client_b, mutations_b, released, &mut |_| Ok(()))
        .await
        .unwrap();
    let (client_a, mutations_a) = &fleets[0];
    let held =
        iotfleet::fleet::quarantine::holds::records(&mutations_a.journal().entries(None).unwrap());
    assert_eq!(held["pump-01"].holds.len(), 1, "A's hold is still open");
    let release_a = run::prepare_release(client_a, mutations_a.journal(), "pump-01", false)
        .await
        .unwrap();
    assert!(
        release_a.plan.steps.iter().any(|s| matches!(
            s,
            iotfleet::fleet::quarantine::Step::SetCertificateStatus { to, .. } if to == "ACTIVE"
        )),
        "A's release reactivates A's certificate: {:?}",
        release_a.plan.steps
    );
    run::execute(client_a, mutations_a, release_a, &mut |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(snapshot(client_a).await, before);
    let accounts: std::collections::BTreeSet<String> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| e["account"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        accounts,
        std::collections::BTreeSet::from([a.account().to_owned(), b.account().to_owned()])
    );
}

/// One owner per fleet file, whatever path names it: a second core given a symlink to the file
/// a core serves talks to that core (and `local serve` refuses), and the link stays a link.
#[tokio::test]
async fn a_symlinked_state_path_is_not_a_second_owner() {
    use iotfleet::local::{LocalCore, LocalOptions};
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("fleet.json");
    let link = dir.path().join("link.json");
    let owner = LocalCore::start(LocalOptions {
        state_file: Some(real.clone()),
        seed: true,
        mqtt_port: Some(0),
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let second = LocalCore::start(LocalOptions {
        state_file: Some(link.clone()),
        seed: true,
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    assert!(second.is_remote(), "the link resolves to the served file");
    assert_eq!(second.endpoint(), owner.endpoint());
    assert_eq!(second.credentials(), owner.credentials());
    // A change through the link's core is the owner's change, and the link is still a link.
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&second).sdk_config().await);
    iot.create_thing()
        .thing_name("through-the-link")
        .send()
        .await
        .unwrap();
    assert!(owner.read(|state| state.things.contains_key("through-the-link")));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    let home = tempfile::tempdir().unwrap();
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .args(["local", "serve", "--no-simulator", "--state"])
        .arg(&link)
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is already served by iotfleet process"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// No request crashes or stalls the core: queries nested past the depth are refused with
/// InvalidQueryException (the core keeps serving), and a wildcard against a megabyte value
/// (kept from before the core refused such values) answers at once while ListThings goes on
/// being answered.
#[tokio::test]
#[expect(clippy::too_many_lines, reason = "one limit after another, in order")]
async fn attributes_are_held_to_aws_limits_and_a_refused_update_changes_nothing() {
    use aws_sdk_iot::types::AttributePayload;
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions {
        seed: true,
        mqtt_port: None,
        simulator: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    let payload = |pairs: Vec<(String, String)>| {
        pairs
            .into_iter()
            .fold(AttributePayload::builder(), |b, (k, v)| b.attributes(k, v))
            .build()
    };
    let numbered = |n: usize| {
        (0..n)
            .map(|i| (format!("a{i}"), "v".to_owned()))
            .collect::<Vec<_>>()
    };
    let create = |name: &'static str, pairs: Vec<(String, String)>, typed: bool| {
        let iot = iot.clone();
        let attributes = payload(pairs);
        async move {
            let mut request = iot
                .create_thing()
                .thing_name(name)
                .attribute_payload(attributes);
            if typed {
                request = request.thing_type_name("pump");
            }
            request.send().await.map(|_| ()).map_err(|e| {
                let e = e.into_service_error();
                assert!(e.is_invalid_request_exception(), "{e:?}");
                e.to_string()
            })
        }
    };
    let value = |text: String| vec![("blob".to_owned(), text)];
    assert_eq!(
        create("at-800", value("x".repeat(800)), false).await,
        Ok(())
    );
    let refused = create("past-800", value("x".repeat(801)), false)
        .await
        .unwrap_err();
    assert!(
        refused.contains("at most 800") && refused.contains("801 characters given"),
        "{refused}"
    );
    for bad in ["with space", "tab\there", "\u{1b}[31mred", "ünï"] {
        assert!(
            create("bad-char", value(bad.to_owned()), false)
                .await
                .is_err(),
            "{bad:?}"
        );
    }
    assert!(
        create("bad-key", vec![("a b".into(), "v".into())], false)
            .await
            .is_err()
    );
    assert!(
        create("long-key", vec![("k".repeat(129), "v".into())], false)
            .await
            .is_err()
    );
    assert_eq!(create("three", numbered(3), false).await, Ok(()));
    let refused = create("four", numbered(4), false).await.unwrap_err();
    assert!(
        refused.contains("without a thing type has at most 3"),
        "{refused}"
    );
    assert_eq!(create("fifty", numbered(50), true).await, Ok(()));
    assert!(create("fifty-one", numbered(51), true).await.is_err());
    let names: Vec<String> = iot
        .list_things()
        .send()
        .await
        .unwrap()
        .things()
        .iter()
        .filter_map(|t| t.thing_name.clone())
        .collect();
    for refused in [
        "past-800",
        "bad-char",
        "bad-key",
        "long-key",
        "four",
        "fifty-one",
    ] {
        assert!(
            !names.iter().any(|n| n == refused),
            "{refused} was not created"
        );
    }

    // pump-01 has a thing type and four attributes: dropping the type would leave four on a
    // Thing without one, so the whole update is refused and nothing of it is applied.
    let before = iot
        .describe_thing()
        .thing_name("pump-01")
        .send()
        .await
        .unwrap();
    let refused = iot
        .update_thing()
        .thing_name("pump-01")
        .remove_thing_type(true)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(refused.is_invalid_request_exception(), "{refused:?}");
    let after = iot
        .describe_thing()
        .thing_name("pump-01")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (after.thing_type_name, after.attributes, after.version),
        (before.thing_type_name, before.attributes, before.version)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_query_crashes_or_stalls_the_core() {
    use iotfleet::local::{LocalCore, LocalOptions};
    use std::time::{Duration, Instant};
    let core = LocalCore::start(LocalOptions {
        seed: true,
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    core.modify(|state| {
        let mut record = iotfleet::local::store::ThingRecord::default();
        record.attributes.insert("blob".into(), "x".repeat(1 << 20));
        state.things.insert("blob-thing".into(), record);
    })
    .unwrap();
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    for query in [
        format!("{}pump{}", "(".repeat(2000), ")".repeat(2000)),
        format!("{}pump", "NOT ".repeat(20_000)),
    ] {
        let refused = iot
            .search_index()
            .query_string(query)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(refused.is_invalid_query_exception(), "{refused:?}");
        assert!(
            refused.to_string().contains("more than 32 deep"),
            "{refused}"
        );
    }
    // The issue's stall (`x*xxxx…y`, 2 KB), and the worst case for the matcher: a long piece
    // between stars that is nowhere in the value.
    for pattern in [
        format!("x*{}y", "x".repeat(2048)),
        format!("x*{}y*", "x".repeat(2046)),
    ] {
        let search = {
            let iot = iot.clone();
            let query = format!("attributes.blob:{pattern}");
            tokio::spawn(async move {
                let started = Instant::now();
                let found = iot.search_index().query_string(query).send().await;
                (found, started.elapsed())
            })
        };
        let mut slowest = Duration::ZERO;
        while !search.is_finished() {
            let started = Instant::now();
            iot.list_things().max_results(5).send().await.unwrap();
            slowest = slowest.max(started.elapsed());
        }
        let (found, took) = search.await.unwrap();
        assert!(found.unwrap().things().is_empty());
        assert!(took < Duration::from_secs(1), "the search took {took:?}");
        assert!(
            slowest < Duration::from_millis(100),
            "ListThings waited {slowest:?} meanwhile"
        );
    }
    // Still serving.
    assert!(!iot.list_things().send().await.unwrap().things().is_empty());
}
