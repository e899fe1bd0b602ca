//! The embedded local IoT Core as users meet it: `--local` on a verb (seeded once, kept in its
//! state file), `local serve` spoken to by the plain AWS SDK and by boto3, and a corrupt state
//! file refused without being touched.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

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

/// `iotfleet local serve` in the background, stopped on drop.
struct Served {
    child: Child,
    endpoint: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(home: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .args(["local", "serve", "--state"])
        .arg(home.join("fleet.json"))
        .env_clear()
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start local serve");
    let stdout = child.stdout.take().unwrap();
    let endpoint = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.trim()
                .strip_prefix("export AWS_ENDPOINT_URL=")
                .map(str::to_owned)
        })
        .expect("local serve prints AWS_ENDPOINT_URL");
    Served { child, endpoint }
}

#[tokio::test]
async fn local_serve_speaks_aws_to_the_plain_sdk() {
    let home = tempfile::tempdir().unwrap();
    let served = serve(home.path());
    let config = support::sdk_config(&served.endpoint).await;
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
                   aws_access_key_id="k", aws_secret_access_key="s")
pages = list(iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 20}))
policy = iot.get_policy(policyName="pump-device")
print(json.dumps({"pages": len(pages), "things": sum(len(p["things"]) for p in pages),
                  "default": policy["defaultVersionId"]}))
"#;
    let output = Command::new(&python)
        .args(["-c", script, &served.endpoint])
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
    let iot = aws_sdk_iot::Client::new(&support::sdk_config(core.endpoint()).await);
    let principal = iot
        .list_thing_principals()
        .thing_name("pump-01")
        .send()
        .await
        .unwrap()
        .principals
        .unwrap()
        .remove(0);
    let topic = |t: &str| format!("arn:aws:iot:us-east-1:123456789012:topic/{t}");
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
    let iot = aws_sdk_iot::Client::new(&support::sdk_config(core.endpoint()).await);
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
            "local", "local", None, None, "tests",
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
    let client = iotfleet::fleet::FleetClient::connect(&support::settings(&again.endpoint))
        .await
        .unwrap();
    let described = client.describe_thing(&acknowledged[0]).await.unwrap();
    assert_eq!(described.name, acknowledged[0]);
    eprintln!(
        "{} CreateThing calls acknowledged before the kill, all kept",
        acknowledged.len()
    );
}
