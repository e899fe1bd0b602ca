//! The audit and "what can this device do?" against real peers: the seeded local fleet's audit
//! finds exactly its planted problems and nothing on the clean Things; the same checks run on a
//! fleet seeded into moto (moto has no Device Defender: its findings become a note); effective
//! permissions follow the AWS IoT documentation's example policies.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

use iotfleet::fleet::FleetClient;
use iotfleet::fleet::audit::{self, Finding, Resource, Severity};
use iotfleet::fleet::inventory;
use iotfleet::fleet::mutation::Mutations;
use iotfleet::fleet::permissions::{DeviceAction, evaluate_for};
use iotfleet::fleet::quarantine::plan::Options;
use iotfleet::fleet::quarantine::run;
use iotfleet::local::{LocalCore, LocalOptions};
use support::seed::{self, CertificateSpec};
use support::{Backend, TestFleet};
use time::OffsetDateTime;

async fn seeded_local() -> (LocalCore, FleetClient) {
    let core = LocalCore::start(LocalOptions {
        seed: true,
        ..LocalOptions::default()
    })
    .await
    .expect("local core");
    let client = FleetClient::connect(&core.connection_settings())
        .await
        .expect("client");
    (core, client)
}

/// Each finding as (check, what it is about): Thing names for a certificate (joined), else the
/// policy or Thing name.
fn described(
    findings: &[Finding],
    things_of: &BTreeMap<String, Vec<String>>,
) -> BTreeSet<(String, String)> {
    findings
        .iter()
        .map(|f| {
            let subject = match &f.resource {
                Resource::Certificate(id) => things_of
                    .get(id)
                    .map_or_else(|| format!("certificate {id}"), |t| t.join(",")),
                Resource::Thing(name) | Resource::Policy(name) | Resource::Other(name) => {
                    name.clone()
                }
            };
            (f.check.clone(), subject)
        })
        .collect()
}

/// Certificate id → the Things it is attached to, from the registry.
async fn things_by_certificate(client: &FleetClient) -> BTreeMap<String, Vec<String>> {
    let inventory = audit::gather(client).await.expect("gather");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for thing in &inventory.things {
        for arn in &thing.certificates {
            let id = arn.rsplit('/').next().unwrap_or_default().to_owned();
            out.entry(id).or_default().push(thing.name.clone());
        }
    }
    out
}

fn expected(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(c, s)| ((*c).to_owned(), (*s).to_owned()))
        .collect()
}

#[tokio::test]
async fn the_seeded_local_fleet_audit_finds_exactly_the_planted_problems() {
    let (_core, client) = seeded_local().await;
    let dir = tempfile::tempdir().unwrap();
    let mutations = Mutations::for_client(false, Some(dir.path().join("journal.jsonl")), &client)
        .await
        .unwrap();
    let journal = mutations.journal();
    let report = audit::audit(&client, journal, false).await.expect("audit");
    let things_of = things_by_certificate(&client).await;
    assert_eq!(
        described(&report.findings, &things_of),
        expected(&[
            ("DEVICE_CERTIFICATE_SHARED", "temp-sensor-17,temp-sensor-18"),
            ("IOT_POLICY_OVERLY_PERMISSIVE", "legacy-gateway-admin"),
            ("DEVICE_CERTIFICATE_EXPIRING", "pump-07"),
            ("DEVICE_CERTIFICATE_EXPIRING", "temp-sensor-04"),
            ("DEVICE_CERTIFICATE_EXPIRING", "camera-02"),
            ("DEVICE_CERTIFICATE_EXPIRING", "temp-sensor-09"),
            (
                "REVOKED_OR_INACTIVE_CERTIFICATE_STILL_ATTACHED",
                "gateway-05"
            ),
            ("REVOKED_OR_INACTIVE_CERTIFICATE_STILL_ATTACHED", "pump-14"),
            ("THING_WITHOUT_CERTIFICATE", "gateway-08"),
        ])
    );
    assert_eq!(report.findings.len(), 9, "{:#?}", report.findings);
    let expired = report
        .findings
        .iter()
        .find(|f| f.reason.contains("expired"))
        .expect("the expired certificate");
    assert_eq!(expired.severity, Severity::High);
    assert!(
        expired.reason.contains("temp-sensor-09"),
        "{}",
        expired.reason
    );
    assert!(report.findings.iter().all(|f| !f.fix.is_empty()));
    assert!(report.notes.iter().any(|n| n.contains("Device Defender")));

    // A quarantine shows as information, with who and when from the journal.
    let prepared = run::prepare_quarantine(
        &client,
        mutations.journal(),
        "camera-04",
        Options::default(),
        Some("probing".into()),
    )
    .await
    .unwrap();
    run::execute(&client, &mutations, prepared, &mut |_| Ok(()))
        .await
        .unwrap();
    let report = audit::audit(&client, journal, false).await.unwrap();
    let quarantined: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.check == "QUARANTINED")
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:#?}");
    assert_eq!(quarantined[0].severity, Severity::Info);
    assert_eq!(quarantined[0].resource, Resource::Thing("camera-04".into()));
    assert!(
        quarantined[0].reason.contains("since ") && quarantined[0].reason.contains(": probing"),
        "{}",
        quarantined[0].reason
    );
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

async fn iotfleet_local(home: &std::path::Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .arg("--local")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .output()
        .await
        .expect("run iotfleet")
}

#[tokio::test]
async fn an_expired_certificate_cannot_connect_whatever_its_policies_allow() {
    let home = tempfile::tempdir().unwrap();
    // temp-sensor-09's certificate expired; its policy would let it connect.
    let can = |thing: &'static str| {
        let home = home.path().to_owned();
        async move {
            iotfleet_local(
                &home,
                &[
                    "--output", "json", "thing", thing, "--can", "connect", thing,
                ],
            )
            .await
        }
    };
    let expired = can("temp-sensor-09").await;
    assert_eq!(expired.status.code(), Some(6), "{}", text(&expired));
    let out: serde_json::Value = serde_json::from_slice(&expired.stdout).unwrap();
    assert_eq!(out["allowed"], false, "{out}");
    assert_eq!(
        out["answers"][0]["allowed"], true,
        "the policy alone: {out}"
    );
    assert!(
        out["answers"][0]["cannot_connect"]
            .as_str()
            .is_some_and(|why| why.starts_with("expired ")),
        "{out}"
    );
    let denied = iotfleet_local(
        home.path(),
        &[
            "thing",
            "temp-sensor-09",
            "--can",
            "connect",
            "temp-sensor-09",
        ],
    )
    .await;
    // DENIED is an answer with its own exit code, after the answer itself.
    assert_eq!(denied.status.code(), Some(6), "{}", text(&denied));
    let table = text(&denied);
    assert!(
        table.contains("temp-sensor-09: DENIED (the certificate cannot")
            && table.contains("expired"),
        "{table}"
    );
    // A valid one, for contrast.
    let pump = can("pump-07").await;
    assert_eq!(pump.status.code(), Some(0), "{}", text(&pump));
    let valid: serde_json::Value = serde_json::from_slice(&pump.stdout).unwrap();
    assert_eq!(valid["allowed"], true, "{valid}");
    assert_eq!(
        valid["answers"][0]["cannot_connect"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn the_audit_verb_exits_0_with_findings_and_fails_on_a_severity_for_ci() {
    let home = tempfile::tempdir().unwrap();
    let json = iotfleet_local(home.path(), &["--output", "json", "audit"]).await;
    assert_eq!(json.status.code(), Some(0), "{}", text(&json));
    let out: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(out["count"], 9, "{out}");
    assert_eq!(out["findings"][0]["severity"], "CRITICAL", "{out}");
    assert_eq!(out["findings"][0]["source"], "local", "{out}");

    let table = iotfleet_local(home.path(), &["audit"]).await;
    assert_eq!(table.status.code(), Some(0));
    let shown = text(&table);
    for expected in [
        "CRITICAL (2)",
        "IOT_POLICY_OVERLY_PERMISSIVE  policy legacy-gateway-admin",
        "THING_WITHOUT_CERTIFICATE  thing gateway-08",
        "fix: ",
        "9 findings: 2 critical, 1 high, 5 medium, 1 low",
    ] {
        assert!(shown.contains(expected), "{expected} missing:\n{shown}");
    }
    // Piped, nothing is folded: each fix is whole on its line.
    assert!(
        shown.lines().any(|line| line.trim()
            == "fix: give each Thing a certificate of its own, then detach this one from all but one"),
        "{shown}"
    );
    // `--output text`: a finding a line, six tab-separated fields, nothing else on stdout.
    let records = iotfleet_local(home.path(), &["--output", "text", "audit"]).await;
    assert_eq!(records.status.code(), Some(0), "{}", text(&records));
    let lines: Vec<String> = String::from_utf8_lossy(&records.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 9, "{lines:?}");
    assert!(
        lines.iter().all(|l| l.split('\t').count() == 6),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "CRITICAL\tIOT_POLICY_OVERLY_PERMISSIVE\tpolicy legacy-gateway-admin\tlocal\t"
        )),
        "{lines:?}"
    );
    // Certificates by their whole id (the screens' 12 digits and … are for terminals).
    assert!(lines.iter().all(|l| !l.contains('…')), "{lines:?}");
    assert!(
        shown
            .lines()
            .filter(|l| l.contains("  certificate "))
            .all(|l| !l.contains('…')),
        "{shown}"
    );

    let failing = iotfleet_local(home.path(), &["audit", "--fail-on", "critical"]).await;
    // Findings are an answer, not an error: their own code.
    assert_eq!(failing.status.code(), Some(6), "{}", text(&failing));
    assert!(text(&failing).contains("2 finding(s) at CRITICAL or worse"));
    let wrong = iotfleet_local(home.path(), &["audit", "--fail-on", "severe"]).await;
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
}

/// Allows everything on everything.
const WIDE_OPEN: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;
/// Means to deny a whole subtree but names it with MQTT wildcards, which are literal there.
const DENY_WITH_WILDCARD: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/admin/#"}]}"#;

#[tokio::test]
async fn the_same_checks_run_on_a_fleet_seeded_into_moto() {
    let Some(fleet) = TestFleet::start(Backend::Moto).await else {
        return;
    };
    let iot = &fleet.iot;
    let now = OffsetDateTime::now_utc();
    let device = |name: &str, days: i64| {
        let mut spec = CertificateSpec::valid_for_days(name, days);
        if days < 0 {
            spec.not_before = now - time::Duration::days(400);
        }
        spec
    };
    seed::policy(iot, "device", seed::DEVICE_POLICY).await;
    seed::policy(iot, "wide-open", WIDE_OPEN).await;
    seed::policy(iot, "deny-wildcard", DENY_WITH_WILDCARD).await;
    seed::policy(iot, "orphan", seed::DEVICE_POLICY).await;
    for (thing, days, status, policies) in [
        ("clean-1", 400, "ACTIVE", &["device"][..]),
        ("clean-2", 400, "ACTIVE", &["device"][..]),
        ("admin-1", 400, "ACTIVE", &["wide-open"][..]),
        ("deny-1", 400, "ACTIVE", &["deny-wildcard"][..]),
        ("expiring-1", 10, "ACTIVE", &["device"][..]),
        ("expired-1", -5, "ACTIVE", &["device"][..]),
        ("inactive-1", 400, "INACTIVE", &["device"][..]),
        ("shared-a", 400, "ACTIVE", &["device"][..]),
        ("nopolicy-1", 400, "ACTIVE", &[][..]),
    ] {
        seed::thing(iot, thing, None, &[]).await;
        let mut spec = device(thing, days);
        spec.status = status;
        let (_, arn) = seed::certificate(iot, &spec).await;
        for policy in policies {
            seed::attach_policy(iot, policy, &arn).await;
        }
        seed::attach_thing(iot, thing, &arn).await;
        if thing == "shared-a" {
            seed::thing(iot, "shared-b", None, &[]).await;
            seed::attach_thing(iot, "shared-b", &arn).await;
        }
    }
    seed::thing(iot, "bare-1", None, &[]).await;

    let dir = tempfile::tempdir().unwrap();
    let journal = iotfleet::fleet::mutation::journal_for(
        Some(dir.path().join("journal.jsonl")),
        &fleet.client,
    )
    .await
    .unwrap();
    let report = audit::audit(&fleet.client, &journal, true)
        .await
        .expect("audit");
    let things_of = things_by_certificate(&fleet.client).await;
    assert_eq!(
        described(&report.findings, &things_of),
        expected(&[
            ("IOT_POLICY_OVERLY_PERMISSIVE", "wide-open"),
            ("IOT_POLICY_POTENTIAL_MISCONFIGURATION", "deny-wildcard"),
            ("POLICY_WITHOUT_TARGETS", "orphan"),
            ("DEVICE_CERTIFICATE_SHARED", "shared-a,shared-b"),
            ("DEVICE_CERTIFICATE_EXPIRING", "expiring-1"),
            ("DEVICE_CERTIFICATE_EXPIRING", "expired-1"),
            (
                "REVOKED_OR_INACTIVE_CERTIFICATE_STILL_ATTACHED",
                "inactive-1"
            ),
            ("CERTIFICATE_WITHOUT_POLICY", "nopolicy-1"),
            ("THING_WITHOUT_CERTIFICATE", "bare-1"),
        ]),
        "{:#?}",
        report.findings
    );
    // moto has no Device Defender: that is a note, not a failure.
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("AWS Device Defender findings not shown")),
        "{:?}",
        report.notes
    );
}

/// The AWS IoT documentation's example policies ("AWS IoT Core policy examples").
const SCOPED_BY_THING_NAME: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
  {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/*"},
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/${iot:Connection.Thing.ThingName}/*"},
  {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/${iot:Connection.Thing.ThingName}/*"}]}"#;
const ALLOW_ALL_BUT_SECRETS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:*","Resource":"*"},
  {"Sid":"NoSecrets","Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/secrets/*"}]}"#;
/// Subscribe allowed on a topic resource, which Subscribe is never judged on.
const SUBSCRIBE_ON_TOPIC: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topic/news/*"},
  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/alerts/*"}]}"#;

#[tokio::test]
async fn effective_permissions_follow_the_aws_documentation_examples() {
    for backend in [Backend::Local, Backend::Moto] {
        let Some(fleet) = TestFleet::start(backend).await else {
            continue;
        };
        let iot = &fleet.iot;
        // AWS's examples name account 123456789012; each local fleet has an account of its own.
        let account = fleet.client.account().await.unwrap();
        for (thing, policy, document) in [
            ("pump-17", "scoped", SCOPED_BY_THING_NAME),
            ("pump-18", "no-secrets", ALLOW_ALL_BUT_SECRETS),
            ("pump-19", "subscribe-on-topic", SUBSCRIBE_ON_TOPIC),
        ] {
            seed::thing(iot, thing, None, &[]).await;
            let document = document.replace("123456789012", &account);
            seed::policy(iot, policy, &document).await;
            let (_, arn) =
                seed::certificate(iot, &CertificateSpec::valid_for_days(thing, 90)).await;
            seed::attach_policy(iot, policy, &arn).await;
            seed::attach_thing(iot, thing, &arn).await;
        }
        let ask = |report: &inventory::ThingReport, action: DeviceAction, target: &str| {
            let answers = evaluate_for(report, action, target, time::OffsetDateTime::now_utc());
            assert_eq!(answers.len(), 1, "one certificate");
            answers.into_iter().next().unwrap()
        };
        let pump17 = inventory::thing_report(&fleet.client, "pump-17")
            .await
            .unwrap();
        assert!(
            ask(&pump17, DeviceAction::Connect, "pump-17").allowed,
            "{backend:?}"
        );
        assert!(
            !ask(&pump17, DeviceAction::Connect, "pump-18").allowed,
            "{backend:?}"
        );
        let own = ask(&pump17, DeviceAction::Publish, "pump-17/telemetry");
        assert!(own.allowed, "{backend:?}: {own:?}");
        assert_eq!(own.decided_by.as_deref(), Some("scoped statement 2"));
        let other = ask(&pump17, DeviceAction::Publish, "pump-18/telemetry");
        assert!(!other.allowed, "{backend:?}");
        assert!(other.outcome.starts_with("implicit deny"));

        let pump18 = inventory::thing_report(&fleet.client, "pump-18")
            .await
            .unwrap();
        assert!(ask(&pump18, DeviceAction::Publish, "news/today").allowed);
        let secret = ask(&pump18, DeviceAction::Publish, "secrets/keys");
        assert!(!secret.allowed, "{backend:?}: a Deny wins over an Allow");
        assert_eq!(secret.outcome, "explicit deny");
        assert_eq!(
            secret.decided_by.as_deref(),
            Some("no-secrets statement 2 (NoSecrets)")
        );

        let pump19 = inventory::thing_report(&fleet.client, "pump-19")
            .await
            .unwrap();
        assert!(
            !ask(&pump19, DeviceAction::Subscribe, "news/today").allowed,
            "{backend:?}: Subscribe is judged on topicfilter, not topic"
        );
        assert!(ask(&pump19, DeviceAction::Subscribe, "alerts/fire").allowed);

        // The verb, pointed at the peer as at AWS, sets TestAuthorization's answer beside the
        // local engine's: the local core agrees; moto has no TestAuthorization, which is said.
        let home = tempfile::tempdir().unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"));
        command
            .args(["thing", "pump-17", "--can", "publish", "pump-17/telemetry"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (key, value) in fleet.target.cli_env(home.path()) {
            command.env(key, value);
        }
        let output = command.output().await.unwrap();
        let shown = text(&output);
        assert_eq!(output.status.code(), Some(0), "{shown}");
        assert!(
            shown.contains(
                "pump-17 may publish to pump-17/telemetry: ALLOWED by scoped statement 2"
            ),
            "{shown}"
        );
        let expected = match backend {
            Backend::Local => "AWS TestAuthorization agrees: ALLOWED",
            Backend::Moto => "AWS TestAuthorization could not be asked",
        };
        assert!(shown.contains(expected), "{backend:?}: {shown}");
    }
}
