//! The `iotfleet` binary as a user runs it, against moto: listing, showing, not-found
//! suggestions, escaping of hostile attribute values, exit codes, and the no-credentials message.

mod support;

use std::process::Output;

use support::TestFleet;
use support::seed;

/// Runs `iotfleet ARGS` against `endpoint` with an isolated home.
async fn iotfleet(endpoint: &support::Target, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in endpoint.cli_env(home.path()) {
        command.env(key, value);
    }
    command.output().await.expect("run iotfleet")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn six_hundred_things_are_listed_shown_and_unknown_names_get_suggestions() {
    let Some(fleet) = TestFleet::start(support::Backend::Moto).await else {
        return;
    };
    let devices = seed::devices(&fleet.iot, 600, 16).await;

    let output = iotfleet(&fleet.target, &["things", "--output", "json"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["count"], 600);
    let mut names: Vec<&str> = json["things"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "every page was followed");
    assert_eq!(json["things"][0]["thing_type"], "sensor");

    let device = &devices[42];
    let output = iotfleet(&fleet.target, &["thing", &device.name]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    // Piped, the report is not wrapped: the whole id on one line.
    assert!(
        text.lines()
            .any(|line| line.contains(&device.certificate_id)),
        "{text}"
    );
    assert!(text.contains("ACTIVE"), "{text}");
    // moto answers GetThingConnectivityData with 500: unknown, never "offline".
    assert!(
        text.lines()
            .any(|line| line.starts_with("Connected") && line.contains("connectivity unknown: ")),
        "{text}"
    );
    assert!(
        text.contains("(in 89 days)") || text.contains("(in 90 days)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Policy      {} (default version 1)",
            device.policy
        )),
        "{text}"
    );
    assert!(
        text.contains("\"Action\": \"iot:Connect\""),
        "the policy document is shown: {text}"
    );

    let output = iotfleet(&fleet.target, &["thing", "--output", "json", &device.name]).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["thing"]["name"], device.name.as_str());
    assert!(
        json["connectivity"]["unknown"]
            .as_str()
            .is_some_and(|reason| reason.starts_with("connectivity unknown: ")),
        "{json}"
    );
    let certificate = &json["certificates"][0];
    assert_eq!(certificate["id"], device.certificate_id.as_str());
    assert_eq!(certificate["status"], "ACTIVE");
    assert!(
        matches!(certificate["days_to_expiry"].as_i64(), Some(89 | 90)),
        "{certificate}"
    );
    assert_eq!(certificate["policies"][0]["name"], device.policy.as_str());
    assert!(
        certificate["policies"][0]["document"]
            .as_str()
            .unwrap()
            .contains("iot:Connect")
    );

    let output = iotfleet(&fleet.target, &["thing", "nope"]).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(
        stderr(&output).trim(),
        "iotfleet: Thing 'nope' not found; no Thing has a similar name"
    );

    let output = iotfleet(&fleet.target, &["thing", "thing-0042"]).await;
    assert_eq!(output.status.code(), Some(3));
    let message = stderr(&output);
    assert!(
        message.starts_with("iotfleet: Thing 'thing-0042' not found; did you mean thing-00420"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[tokio::test]
async fn hostile_attribute_values_print_escaped() {
    let Some(fleet) = TestFleet::start(support::Backend::Moto).await else {
        return;
    };
    let clear_screen = "\u{1b}[2J";
    let clipboard = "\u{1b}]52;c;aGVsbG8=\u{7}";
    let c1_csi = "\u{9b}31m";
    seed::thing(
        &fleet.iot,
        "evil",
        None,
        &[("a", clear_screen), ("b", clipboard), ("c", c1_csi)],
    )
    .await;

    for args in [
        &["things"][..],
        &["thing", "evil"],
        &["things", "--output", "json"],
        &["thing", "evil", "--output", "json"],
    ] {
        let output = iotfleet(&fleet.target, args).await;
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{9b}'),
            "{args:?} printed raw: {text:?}"
        );
        if args.contains(&"json") {
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let attributes = if args[0] == "things" {
                &json["things"][0]["attributes"]
            } else {
                &json["thing"]["attributes"]
            };
            assert_eq!(attributes["b"], clipboard, "JSON keeps the value exactly");
            assert_eq!(attributes["c"], c1_csi);
        } else {
            assert!(
                text.contains("\\x1b[2J")
                    && text.contains("\\x1b]52;c;aGVsbG8=\\x07")
                    && text.contains("\\u{9b}31m"),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn policy_certificates_and_shadow_verbs() {
    let Some(fleet) = TestFleet::start(support::Backend::Moto).await else {
        return;
    };
    let devices = seed::devices(&fleet.iot, 2, 2).await;
    let payload = r#"{"state":{"desired":{"speed":40},"reported":{"speed":10}}}"#;
    fleet
        .data
        .update_thing_shadow()
        .thing_name(&devices[0].name)
        .payload(payload.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();

    let output = iotfleet(&fleet.target, &["policy", &devices[0].policy]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("\"Effect\": \"Allow\"") && text.contains("(default)"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.trim() == devices[0].certificate_arn),
        "targets listed whole: {text}"
    );

    let output = iotfleet(&fleet.target, &["policies", "--output", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["count"], 2);

    let output = iotfleet(&fleet.target, &["certs"]).await;
    let text = stdout(&output);
    assert!(text.ends_with("2 certificates\n"), "{text}");
    for device in &devices {
        assert!(text.contains(&device.certificate_id), "ids whole: {text}");
    }

    let output = iotfleet(
        &fleet.target,
        &["shadow", "get", &devices[0].name, "--output", "json"],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["delta"], serde_json::json!({"speed": 40}));
    assert_eq!(json["version"], 1);

    let output = iotfleet(&fleet.target, &["policy", "nope"]).await;
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(stderr(&output).trim(), "iotfleet: policy 'nope' not found");

    let output = iotfleet(&fleet.target, &["shadow", "get", &devices[1].name]).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let output = iotfleet(
        &support::Target::moto("http://127.0.0.1:9"),
        &["things", "--no-such-flag"],
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    let output = iotfleet(
        &support::Target::moto("http://127.0.0.1:9"),
        &["--endpoint-url", "localhost:5000", "things"],
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not a URL"), "{}", stderr(&output));
}

#[tokio::test]
async fn no_credentials_and_no_endpoint_give_one_line_saying_how_to_configure() {
    let home = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .arg("things")
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("iotfleet: no usable AWS credentials"),
        "{message}"
    );
    assert!(
        message.contains("--profile") && message.contains("--local"),
        "{message}"
    );
    assert!(
        !message.contains("panicked") && !message.contains("backtrace"),
        "{message}"
    );
}

#[tokio::test]
async fn a_network_failure_is_one_line_not_a_hang() {
    // Nothing listens on port 9 of loopback.
    let output = iotfleet(&support::Target::moto("http://127.0.0.1:9"), &["things"]).await;
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with("iotfleet: network error on iot:ListThings"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}

/// Runs `iotfleet ARGS` against `endpoint` with `home` as HOME (so the journal can be read).
async fn iotfleet_in(home: &std::path::Path, endpoint: &support::Target, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in endpoint.cli_env(home) {
        command.env(key, value);
    }
    command.output().await.expect("run iotfleet")
}

#[allow(
    clippy::too_many_lines,
    reason = "one user's session, step by step, against one backend"
)]
async fn shadow_update_and_delete_on(backend: support::Backend) {
    let Some(fleet) = TestFleet::start(backend).await else {
        return;
    };
    let thing = seed::devices(&fleet.iot, 1, 1).await.remove(0).name;
    let home = tempfile::tempdir().unwrap();
    let run = |args: Vec<&str>| {
        let (home, endpoint) = (home.path().to_owned(), fleet.target.clone());
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            iotfleet_in(&home, &endpoint, &args).await
        }
    };
    let desired_now = |output: &Output| -> serde_json::Value {
        assert!(output.status.success(), "{}", stderr(output));
        serde_json::from_str::<serde_json::Value>(&stdout(output)).unwrap()["desired"].clone()
    };

    let first = run(vec![
        "shadow",
        "update",
        &thing,
        "--desired",
        r#"{"led":"on","speed":40}"#,
        "--output",
        "json",
    ])
    .await;
    assert!(first.status.success(), "{}", stderr(&first));
    let accepted: serde_json::Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(accepted["state"]["desired"]["speed"], 40, "{accepted}");
    let version = accepted["version"].as_u64().unwrap();

    // null removes the key.
    let removed = run(vec![
        "shadow",
        "update",
        &thing,
        "--desired",
        r#"{"led":null}"#,
    ])
    .await;
    assert!(removed.status.success(), "{}", stderr(&removed));
    let get = run(vec!["shadow", "get", &thing, "--output", "json"]).await;
    assert_eq!(desired_now(&get), serde_json::json!({"speed": 40}));

    // A stale version is a conflict: exit 4, nothing changed.
    let stale = version.to_string();
    let conflict = run(vec![
        "shadow",
        "update",
        &thing,
        "--desired",
        r#"{"speed":1}"#,
        "--version",
        &stale,
    ])
    .await;
    assert_eq!(conflict.status.code(), Some(4), "{}", stderr(&conflict));
    let get = run(vec!["shadow", "get", &thing, "--output", "json"]).await;
    assert_eq!(desired_now(&get), serde_json::json!({"speed": 40}));

    // A named shadow is a shadow of its own.
    let named = run(vec![
        "shadow",
        "update",
        &thing,
        "--name",
        "config",
        "--desired",
        r#"{"mode":"eco"}"#,
    ])
    .await;
    assert!(named.status.success(), "{}", stderr(&named));
    let get = run(vec!["shadow", "get", &thing, "--output", "json"]).await;
    assert_eq!(desired_now(&get), serde_json::json!({"speed": 40}));

    // Bad JSON names where; --read-only refuses; delete wants --yes.
    let bad = run(vec!["shadow", "update", &thing, "--desired", "{\"a\":1,}"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("line 1, column"), "{}", stderr(&bad));
    let refused = run(vec![
        "--read-only",
        "shadow",
        "update",
        &thing,
        "--desired",
        r#"{"speed":2}"#,
    ])
    .await;
    assert_eq!(refused.status.code(), Some(5));
    let unsure = run(vec!["shadow", "delete", &thing]).await;
    assert_eq!(unsure.status.code(), Some(2), "{}", stderr(&unsure));

    // A journal that cannot be written: the intent is not recorded, so nothing is changed.
    let journal_path = home.path().join("state/iotfleet/journal.jsonl");
    let kept = journal_path.with_extension("kept");
    std::fs::rename(&journal_path, &kept).unwrap();
    std::fs::create_dir(&journal_path).unwrap();
    for args in [
        vec!["shadow", "update", &thing, "--desired", r#"{"speed":3}"#],
        vec!["shadow", "delete", &thing, "--yes"],
    ] {
        let unjournaled = run(args).await;
        assert_eq!(
            unjournaled.status.code(),
            Some(1),
            "{}",
            stderr(&unjournaled)
        );
        assert!(
            stderr(&unjournaled)
                .contains("the journal could not be written, so nothing was changed"),
            "{}",
            stderr(&unjournaled)
        );
        let get = run(vec!["shadow", "get", &thing, "--output", "json"]).await;
        assert_eq!(desired_now(&get), serde_json::json!({"speed": 40}));
    }
    std::fs::remove_dir(&journal_path).unwrap();
    std::fs::rename(&kept, &journal_path).unwrap();

    let deleted = run(vec!["shadow", "delete", &thing, "--yes"]).await;
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let gone = run(vec!["shadow", "get", &thing]).await;
    assert_eq!(gone.status.code(), Some(3));

    // The journal has every applied change (and the refused conflict) with before and after,
    // each outcome after its intent (the plan entry, written before the call).
    let journal =
        std::fs::read_to_string(home.path().join("state/iotfleet/journal.jsonl")).unwrap();
    let all: Vec<serde_json::Value> = journal
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    for pair in all.chunks(2) {
        assert_eq!(
            pair[0]["action"].as_str().unwrap(),
            format!("{} plan", pair[1]["action"].as_str().unwrap()),
            "{journal}"
        );
        assert_eq!(pair[0]["before"], pair[1]["before"], "{journal}");
    }
    let entries: Vec<serde_json::Value> = all
        .into_iter()
        .filter(|e| !e["action"].as_str().unwrap().ends_with(" plan"))
        .collect();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .map(|(a, r)| (a, if r == "ok" { "ok" } else { "error" }))
        .collect();
    assert_eq!(
        actions,
        [
            ("shadow update", "ok"),
            ("shadow update", "ok"),
            ("shadow update", "error"),
            ("shadow update", "ok"),
            ("shadow delete", "ok")
        ]
    );
    assert_eq!(entries[1]["before"]["desired"]["led"], "on");
    assert_eq!(
        entries[1]["after"]["state"]["desired"]["led"],
        serde_json::Value::Null
    );
    assert_eq!(entries[4]["before"]["desired"]["speed"], 40);
}

#[tokio::test]
async fn shadow_update_and_delete_against_moto() {
    shadow_update_and_delete_on(support::Backend::Moto).await;
}

#[tokio::test]
async fn shadow_update_and_delete_against_the_local_core() {
    shadow_update_and_delete_on(support::Backend::Local).await;
}

/// `iotfleet --local VERB --follow --output json` on a fresh demo fleet under `home` (it runs the
/// broker and the simulated devices), and its stdout a line at a time.
fn follow_on_the_local_core(
    verb: &str,
    home: &std::path::Path,
) -> (
    tokio::process::Child,
    tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .args(["--local", verb, "--follow", "--output", "json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run iotfleet");
    let lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

#[tokio::test]
async fn denied_follow_on_the_local_core_prints_camera_04s_refused_publishes_as_ndjson() {
    let home = tempfile::tempdir().unwrap();
    let (mut child, mut lines) = follow_on_the_local_core("denied", home.path());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = Vec::new();
    let found = loop {
        let line = match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => panic!("no refused publish of camera-04 printed: {other:?} after {seen:?}"),
        };
        let refusal: serde_json::Value =
            serde_json::from_str(&line).expect("one JSON object a line");
        for field in ["time", "clientId", "eventType", "reason"] {
            assert!(refusal.get(field).is_some(), "{field} missing: {line}");
        }
        if refusal["clientId"] == "camera-04" && refusal["eventType"] == "Publish-In" {
            break refusal;
        }
        seen.push(line);
    };
    assert_eq!(found["reason"], "AUTHORIZATION_FAILURE");
    assert!(
        found["topicName"]
            .as_str()
            .is_some_and(|t| !t.contains("camera-04")),
        "another device's topic: {found}"
    );
    child.kill().await.unwrap();
}

/// `iotfleet --local things | grep` as a script runs it: stdout is a pipe, so the table is not
/// cut to any width (it was cut to 80 columns, and grep found 0 of 18 rows), and `--output text`
/// gives one tab-separated record a Thing with nothing cut.
#[tokio::test]
async fn piped_tables_keep_every_row_and_whole_values_and_text_is_one_record_a_line() {
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions {
        seed: true,
        ..iotfleet::local::LocalOptions::default()
    })
    .await
    .unwrap();
    let json = iotfleet(
        &support::Target::local(&core),
        &["things", "--output", "json"],
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let things = json["things"].as_array().unwrap();
    let attributes = |thing: &serde_json::Value| -> String {
        let map = thing["attributes"].as_object().unwrap();
        let mut pairs: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        pairs.sort();
        pairs.join(", ")
    };
    let north = things
        .iter()
        .filter(|t| attributes(t).contains("site=plant-north"))
        .count();
    assert!(north >= 10, "the seed has a plant-north site: {json}");

    let table = stdout(&iotfleet(&support::Target::local(&core), &["things"]).await);
    assert_eq!(
        table.lines().filter(|l| l.contains("plant-north")).count(),
        north,
        "{table}"
    );
    assert!(!table.contains('…'), "nothing cut: {table}");
    for thing in things {
        let name = thing["name"].as_str().unwrap();
        let line = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing: {table}"));
        assert!(line.ends_with(&attributes(thing)), "{line}");
    }

    let text = stdout(
        &iotfleet(
            &support::Target::local(&core),
            &["things", "--output", "text"],
        )
        .await,
    );
    assert_eq!(
        text.lines().count(),
        things.len(),
        "no header, no footer: {text}"
    );
    for (line, thing) in text.lines().zip(things) {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 4, "{line:?}");
        assert_eq!(fields[0], thing["name"].as_str().unwrap());
        assert_eq!(fields[3], attributes(thing));
    }
    let ids = stdout(
        &iotfleet(
            &support::Target::local(&core),
            &["certs", "--output", "text"],
        )
        .await,
    );
    assert!(
        ids.lines()
            .all(|l| l.split('\t').next().is_some_and(|id| id.len() == 64)),
        "{ids}"
    );
}

#[tokio::test]
async fn things_status_keeps_the_things_with_every_word_and_a_wrong_word_is_a_usage_error() {
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions {
        seed: true,
        ..iotfleet::local::LocalOptions::default()
    })
    .await
    .unwrap();
    let names = |output: &Output| -> Vec<String> {
        let body: serde_json::Value = serde_json::from_str(&stdout(output)).unwrap();
        body["things"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let expiring = iotfleet(
        &support::Target::local(&core),
        &["things", "--status", "expiring", "--output", "json"],
    )
    .await;
    assert_eq!(expiring.status.code(), Some(0), "{}", stderr(&expiring));
    assert_eq!(names(&expiring), ["camera-02", "pump-07", "temp-sensor-04"]);
    let revoked = iotfleet(
        &support::Target::local(&core),
        &["things", "--status", "revoked,offline", "--output", "json"],
    )
    .await;
    assert_eq!(names(&revoked), ["gateway-05"]);
    let table = iotfleet(
        &support::Target::local(&core),
        &["things", "--status", "shared"],
    )
    .await;
    assert!(
        stdout(&table).contains("temp-sensor-17"),
        "{}",
        stdout(&table)
    );
    let wrong = iotfleet(
        &support::Target::local(&core),
        &["things", "--status", "asleep"],
    )
    .await;
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("'asleep' is not a status: use quarantined, denied"),
        "{}",
        stderr(&wrong)
    );
}

#[tokio::test]
async fn violations_follow_on_the_local_core_prints_camera_04s_violation_as_ndjson() {
    let home = tempfile::tempdir().unwrap();
    let (mut child, mut lines) = follow_on_the_local_core("violations", home.path());
    // A datapoint every 5 s: the rogue camera passes 100 messages within the first few.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_mins(1);
    let mut seen = Vec::new();
    let found = loop {
        let line = match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => panic!("no violation of camera-04 printed: {other:?} after {seen:?}"),
        };
        let violation: serde_json::Value =
            serde_json::from_str(&line).expect("one JSON object a line");
        if violation["thingName"] == "camera-04" {
            break violation;
        }
        seen.push(line);
    };
    assert_eq!(found["event"], "raised", "{found}");
    assert_eq!(found["securityProfile"], "fleet-baseline", "{found}");
    assert_eq!(found["metric"], "aws:num-messages-sent", "{found}");
    assert_eq!(found["threshold"], 100.0, "{found}");
    assert!(
        found["observed"].as_f64().is_some_and(|n| n > 100.0),
        "{found}"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn violations_where_no_profile_watches_exit_1_saying_so_and_print_no_table() {
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions::default())
        .await
        .unwrap();
    let output = iotfleet(&support::Target::local(&core), &["violations"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("no security profile")
            && stderr(&output).contains("create-security-profile"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_quarantine_plan_names_the_topic_rules_its_data_stops_reaching() {
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions {
        seed: true,
        ..iotfleet::local::LocalOptions::default()
    })
    .await
    .unwrap();
    let Some(python) = support::boto3_python() else {
        return;
    };
    support::boto3(
        &python,
        &support::Target::local(&core),
        r#"
iot.create_topic_rule(ruleName='telemetry_to_s3', topicRulePayload={
    'sql': "SELECT * FROM 'fleet/+/telemetry'",
    'actions': [{'s3': {'bucketName': 'telemetry-archive', 'key': 'k', 'roleArn': 'arn:aws:iam::123456789012:role/r'}}]})
print('{}')
"#,
    )
    .await;
    // Read the words, however the lines fall (on a terminal they fold to its width).
    let words = |output: &Output| {
        stdout(output)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let planned = iotfleet(
        &support::Target::local(&core),
        &["quarantine", "pump-01", "--dry-run"],
    )
    .await;
    assert_eq!(planned.status.code(), Some(0), "{}", stderr(&planned));
    assert!(
        words(&planned).contains(
            "~ its data stops reaching topic rule telemetry_to_s3 FROM 'fleet/+/telemetry' → s3 telemetry-archive Plan:"
        ),
        "{}",
        stdout(&planned)
    );
    let json = iotfleet(
        &support::Target::local(&core),
        &["quarantine", "pump-01", "--dry-run", "--output", "json"],
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(
        body["plan"]["impact"][0],
        "its data stops reaching topic rule telemetry_to_s3 FROM 'fleet/+/telemetry' → s3 telemetry-archive",
        "{body}"
    );
    // A Thing whose topics no rule reads is told so.
    support::boto3(
        &python,
        &support::Target::local(&core),
        "iot.delete_topic_rule(ruleName='telemetry_to_s3')\nprint('{}')",
    )
    .await;
    let quiet = iotfleet(
        &support::Target::local(&core),
        &["quarantine", "pump-01", "--dry-run"],
    )
    .await;
    assert!(
        words(&quiet).contains("~ no topic rule reads its topics Plan:"),
        "{}",
        stdout(&quiet)
    );
}

#[tokio::test]
async fn sigterm_and_sighup_stop_local_serve_and_take_the_brokers_private_files_with_it() {
    for (signal, code) in [("-TERM", 143), ("-HUP", 129)] {
        let home = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
            .args(["local", "serve", "--no-simulator"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_STATE_HOME", home.path().join("state"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("run iotfleet");
        let pid = child.id().unwrap();
        // The broker's private files (the operator's key among them), while it runs.
        let files = || {
            std::fs::read_dir(std::env::temp_dir())
                .unwrap()
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("iotfleet-broker-{pid}-"))
                })
                .count()
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while files() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the broker never started"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let killed = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
            .await
            .expect("it stops")
            .unwrap();
        assert_eq!(status.code(), Some(code), "{signal}");
        assert_eq!(files(), 0, "{signal}: the broker's files are left behind");
    }
}

/// Runs `iotfleet ARGS` with no AWS at all (the verbs that need none).
fn iotfleet_offline(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run iotfleet")
}

/// The completion scripts for bash, zsh and fish parse in their shell (`-n`: read, not run),
/// and name the verbs and the global flags.
#[test]
fn completions_for_bash_zsh_and_fish_parse_in_their_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let output = iotfleet_offline(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let script = stdout(&output);
        for word in ["quarantine", "violations", "endpoint-url", "log-file"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
        let Ok(found) = std::process::Command::new(shell).arg("--version").output() else {
            support::peer_missing(
                shell,
                "not on PATH",
                "scripts/install-peers.sh (apt-get install zsh fish)",
            );
            continue;
        };
        assert!(found.status.success(), "{shell} --version failed");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("iotfleet.{shell}"));
        std::fs::write(&file, &script).unwrap();
        let check = std::process::Command::new(shell)
            .arg("-n")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{shell} -n refuses the script: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let wrong = iotfleet_offline(&["completions", "tcsh"]);
    assert_eq!(wrong.status.code(), Some(2));
}

/// `man` prints a roff page; `--version` names the commit; `--help` puts the global flags
/// under their headings, once, after the verb's own.
#[test]
fn the_manual_version_and_help_say_what_a_user_needs() {
    let man = iotfleet_offline(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let page = stdout(&man);
    assert!(
        page.contains(".TH iotfleet 1"),
        "{}",
        &page[..200.min(page.len())]
    );
    assert!(page.contains("quarantine"));

    let version = stdout(&iotfleet_offline(&["--version"]));
    let commit = version
        .split("(commit ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{version}"
    );
    assert!(version.contains(", built 20"), "{version}");

    let help = stdout(&iotfleet_offline(&["things", "--help"]));
    let at = |text: &str| {
        help.find(text)
            .unwrap_or_else(|| panic!("{text} missing: {help}"))
    };
    assert!(at("--filter") < at("Connection (AWS):"), "{help}");
    assert!(at("Connection (AWS):") < at("--profile"), "{help}");
    assert!(at("Global options:") < at("--log-file"), "{help}");
    assert_eq!(help.matches("--profile").count(), 1, "{help}");
    let about = stdout(&iotfleet_offline(&["--help"]));
    assert!(!about.contains("read Device Shadows. "), "{about}");
    let serve = stdout(&iotfleet_offline(&["local", "serve", "--help"]));
    assert!(
        serve.contains("enforces AWS IoT Core's published limits"),
        "{serve}"
    );
}

/// `--log-file FILE -v` logs at debug to FILE, and a verb copies it to stderr.
#[tokio::test]
async fn log_file_and_verbose_put_the_log_where_asked() {
    let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions {
        seed: true,
        ..iotfleet::local::LocalOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("here.log");
    let log_arg = log.to_str().unwrap();
    let quiet = iotfleet(
        &support::Target::local(&core),
        &["certs", "--log-file", log_arg],
    )
    .await;
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert!(stderr(&quiet).is_empty(), "{}", stderr(&quiet));
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("verb done"), "{written}");
    assert!(!written.contains("DEBUG"), "{written}");

    let loud = iotfleet(
        &support::Target::local(&core),
        &["certs", "-v", "--log-file", log_arg],
    )
    .await;
    assert_eq!(loud.status.code(), Some(0), "{}", stderr(&loud));
    assert!(stderr(&loud).contains("DEBUG"), "{}", stderr(&loud));
    assert!(std::fs::read_to_string(&log).unwrap().contains("DEBUG"));
}
