//! Quarantine and release against moto and the local IoT Core: a round trip leaves every
//! certificate's policies and status and every policy's default version exactly as before
//! (compared as data); an interruption after any step leaves a safe, recorded state that running
//! the verb again completes; the verbs refuse what they must, with the exit codes of ARCHITECTURE.md.
//!
//! moto has no DeleteConnection (it answers 500), so on moto the plans' disconnect steps are
//! left out; the local core runs them (and `local_broker`/`console` tests prove their effect).

mod support;

use std::process::Output;

use iotfleet::fleet::FleetClient;
use iotfleet::fleet::mutation::Mutations;
use iotfleet::fleet::quarantine::facts::{self, Depth, Snapshot};
use iotfleet::fleet::quarantine::plan::{DENY_ALL_POLICY, Options, Step, Strategy, is_quarantined};
use iotfleet::fleet::quarantine::run::{self, Prepared, Progress, QuarantineError};
use support::seed::{self, CertificateSpec, DEVICE_POLICY};
use support::{Backend, Target, TestFleet};

const BACKENDS: [Backend; 2] = [Backend::Local, Backend::Moto];

/// pump-1 with `certificates` certificates, each carrying `fleet-device` (shared with pump-2)
/// and `pump-1-own`; cam-1 with two certificates carrying only `cam-1-own`, which has two
/// versions with version 1 the default.
async fn seed_fleet(iot: &aws_sdk_iot::Client, certificates: usize) {
    for thing in ["pump-1", "pump-2", "cam-1"] {
        seed::thing(iot, thing, None, &[]).await;
    }
    for policy in ["fleet-device", "pump-1-own", "cam-1-own"] {
        seed::policy(iot, policy, DEVICE_POLICY).await;
    }
    iot.create_policy_version()
        .policy_name("cam-1-own")
        .policy_document(DEVICE_POLICY.replace("iot:Publish", "iot:Subscribe"))
        .set_as_default(false)
        .send()
        .await
        .expect("CreatePolicyVersion");
    for index in 0..certificates {
        let (_, arn) = seed::certificate(
            iot,
            &CertificateSpec::valid_for_days(&format!("pump-1-{index}"), 90),
        )
        .await;
        seed::attach_policy(iot, "fleet-device", &arn).await;
        seed::attach_policy(iot, "pump-1-own", &arn).await;
        seed::attach_thing(iot, "pump-1", &arn).await;
    }
    let (_, other) = seed::certificate(iot, &CertificateSpec::valid_for_days("pump-2", 90)).await;
    seed::attach_policy(iot, "fleet-device", &other).await;
    seed::attach_thing(iot, "pump-2", &other).await;
    for index in 0..2 {
        let (_, arn) = seed::certificate(
            iot,
            &CertificateSpec::valid_for_days(&format!("cam-1-{index}"), 90),
        )
        .await;
        seed::attach_policy(iot, "cam-1-own", &arn).await;
        seed::attach_thing(iot, "cam-1", &arn).await;
    }
}

async fn snapshot(client: &FleetClient, thing: &str) -> Snapshot {
    Snapshot::of(
        &facts::gather(client, thing, Depth::Versions)
            .await
            .expect("gather facts"),
    )
}

async fn quarantined(client: &FleetClient, thing: &str) -> bool {
    is_quarantined(
        &facts::gather(client, thing, Depth::Defaults)
            .await
            .expect("gather facts"),
    )
}

/// The plan, without DeleteConnection on moto (which does not implement it).
fn for_backend(mut prepared: Prepared, backend: Backend) -> Prepared {
    if backend == Backend::Moto {
        prepared
            .plan
            .steps
            .retain(|step| !matches!(step, Step::DeleteConnection { .. }));
    }
    prepared
}

async fn quarantine(
    fleet: &TestFleet,
    journal: &Mutations,
    thing: &str,
    options: Options,
    observe: &mut (dyn FnMut(Progress<'_>) -> Result<(), String> + Send),
) -> Result<run::Report, QuarantineError> {
    let prepared =
        run::prepare_quarantine(&fleet.client, journal.journal(), thing, options, None).await?;
    run::execute(
        &fleet.client,
        journal,
        for_backend(prepared, fleet.backend),
        observe,
    )
    .await
}

/// Quarantines pump-1 (with `reason`) through `journal`, as the CLI does; the report.
async fn quarantine_pump_1(
    fleet: &TestFleet,
    journal: &Mutations,
    reason: Option<&str>,
) -> run::Report {
    let prepared = run::prepare_quarantine(
        &fleet.client,
        journal.journal(),
        "pump-1",
        Options::default(),
        reason.map(str::to_owned),
    )
    .await
    .expect("plan the quarantine");
    run::execute(
        &fleet.client,
        journal,
        for_backend(prepared, fleet.backend),
        &mut |_| Ok(()),
    )
    .await
    .expect("quarantine")
}

async fn release(fleet: &TestFleet, journal: &Mutations, thing: &str) -> run::Report {
    let prepared = run::prepare_release(&fleet.client, journal.journal(), thing, false)
        .await
        .expect("plan the release");
    run::execute(&fleet.client, journal, prepared, &mut |_| Ok(()))
        .await
        .expect("release")
}

/// The mutation path journaling to `dir`, keyed by the client's backend and account.
async fn journal_in(dir: &tempfile::TempDir, client: &FleetClient) -> Mutations {
    Mutations::for_client(false, Some(dir.path().join("journal.jsonl")), client)
        .await
        .expect("the account")
}

fn entries(dir: &tempfile::TempDir) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.path().join("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[tokio::test]
async fn quarantine_then_release_restores_every_policy_and_status_exactly() {
    for backend in BACKENDS {
        let Some(fleet) = TestFleet::start(backend).await else {
            continue;
        };
        seed_fleet(&fleet.iot, 3).await;
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(&dir, &fleet.client).await;
        let cases = [
            (
                "pump-1",
                Options {
                    strategy: Strategy::DenyOverlay,
                    deactivate_certs: true,
                },
            ),
            (
                "cam-1",
                Options {
                    strategy: Strategy::PolicyVersion,
                    deactivate_certs: true,
                },
            ),
        ];
        for (thing, options) in cases {
            let before = snapshot(&fleet.client, thing).await;
            let neighbour = snapshot(&fleet.client, "pump-2").await;
            assert!(!quarantined(&fleet.client, thing).await);

            let report = quarantine(&fleet, &journal, thing, options, &mut |_| Ok(()))
                .await
                .unwrap_or_else(|e| panic!("{backend:?} quarantine {thing}: {e}"));
            assert_eq!(report.failed, None, "{backend:?} {thing}");
            assert!(
                quarantined(&fleet.client, thing).await,
                "{backend:?}: {thing} is shown quarantined"
            );
            let during = snapshot(&fleet.client, thing).await;
            assert!(
                during.certificates.iter().all(|c| c.status == "INACTIVE"),
                "{backend:?} {thing}: {during:?}"
            );
            assert_ne!(during, before);

            let released = release(&fleet, &journal, thing).await;
            assert_eq!(released.failed, None, "{backend:?} {thing}");
            assert!(!quarantined(&fleet.client, thing).await);
            assert_eq!(
                snapshot(&fleet.client, thing).await,
                before,
                "{backend:?}: {thing} after release"
            );
            assert_eq!(
                snapshot(&fleet.client, "pump-2").await,
                neighbour,
                "{backend:?}: pump-2 never touched"
            );

            // Releasing again finds nothing to do.
            let again = run::prepare_release(&fleet.client, journal.journal(), thing, false)
                .await
                .unwrap();
            assert!(again.is_empty(), "{backend:?}: {:?}", again.plan);
        }
        let journal = entries(&dir);
        let count = |action: &str| journal.iter().filter(|e| e["action"] == action).count();
        assert_eq!(count("quarantine"), 2, "{backend:?}");
        assert_eq!(count("release"), 2, "{backend:?}");
        for entry in journal
            .iter()
            .filter(|e| e["action"] == "quarantine" || e["action"] == "release")
        {
            assert_eq!(entry["result"], "ok", "{entry}");
            assert!(entry["before"]["certificates"].is_array(), "{entry}");
            assert!(entry["after"]["certificates"].is_array(), "{entry}");
        }
    }
}

/// Which point of a step an interruption hits.
#[derive(Debug, Clone, Copy)]
enum Point {
    /// Before the call: it never happens.
    BeforeCall,
    /// After the call, before its journal entry: the change is made but its step is not recorded.
    AfterCall,
}

#[tokio::test]
async fn an_interruption_after_any_step_is_safe_and_running_again_converges() {
    for backend in BACKENDS {
        let Some(fleet) = TestFleet::start(backend).await else {
            continue;
        };
        seed_fleet(&fleet.iot, 2).await;
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(&dir, &fleet.client).await;
        for (thing, strategy) in [
            ("pump-1", Strategy::DenyOverlay),
            ("cam-1", Strategy::PolicyVersion),
        ] {
            let options = Options {
                strategy,
                deactivate_certs: true,
            };
            let before = snapshot(&fleet.client, thing).await;
            let steps = for_backend(
                run::prepare_quarantine(&fleet.client, journal.journal(), thing, options, None)
                    .await
                    .unwrap(),
                backend,
            )
            .plan
            .steps
            .len();
            assert!(steps >= 3, "{backend:?} {thing}: {steps} steps");
            for k in 0..steps {
                for point in [Point::BeforeCall, Point::AfterCall] {
                    let case = format!("{backend:?} {thing} {strategy} step {k} {point:?}");
                    let planned_before = entries(&dir)
                        .iter()
                        .filter(|e| e["action"] == "quarantine plan")
                        .count();
                    let mut observe = |progress: Progress<'_>| match (progress, point) {
                        (Progress::Starting { index, .. }, Point::BeforeCall)
                        | (Progress::Called { index, .. }, Point::AfterCall)
                            if index == k =>
                        {
                            Err("injected".to_owned())
                        }
                        _ => Ok(()),
                    };
                    let outcome = quarantine(&fleet, &journal, thing, options, &mut observe).await;
                    assert!(
                        matches!(outcome, Err(QuarantineError::Interrupted(_))),
                        "{case}: {outcome:?}"
                    );

                    // Safe: nothing the device had is gone, and the plan was recorded before
                    // anything changed.
                    let now = snapshot(&fleet.client, thing).await;
                    for (was, is) in before.certificates.iter().zip(&now.certificates) {
                        assert_eq!(was.id, is.id, "{case}");
                        for policy in &was.policies {
                            assert!(is.policies.contains(policy), "{case}: {policy} lost");
                        }
                        assert!(
                            is.status == was.status || is.status == "INACTIVE",
                            "{case}: {is:?}"
                        );
                    }
                    for (was, is) in before.policies.iter().zip(&now.policies) {
                        assert!(
                            was.versions.iter().all(|v| is.versions.contains(v)),
                            "{case}: a version of {} lost",
                            was.name
                        );
                    }
                    let planned = entries(&dir)
                        .iter()
                        .filter(|e| e["action"] == "quarantine plan")
                        .count();
                    assert_eq!(planned, planned_before + 1, "{case}: plan journaled");

                    // Running quarantine again completes it.
                    let report = quarantine(&fleet, &journal, thing, options, &mut |_| Ok(()))
                        .await
                        .unwrap_or_else(|e| panic!("{case}: rerun: {e}"));
                    assert_eq!(report.failed, None, "{case}");
                    assert!(quarantined(&fleet.client, thing).await, "{case}");
                    let during = snapshot(&fleet.client, thing).await;
                    assert!(
                        during.certificates.iter().all(|c| c.status == "INACTIVE"),
                        "{case}: {during:?}"
                    );

                    // And release undoes every quarantine run since the last release.
                    let released = release(&fleet, &journal, thing).await;
                    assert_eq!(released.failed, None, "{case}");
                    assert_eq!(snapshot(&fleet.client, thing).await, before, "{case}");
                    // Release keeps the deny-all policy (other Things may carry it); delete it
                    // so that the next case starts from the same account, CreatePolicy included.
                    if strategy == Strategy::DenyOverlay {
                        fleet
                            .iot
                            .delete_policy()
                            .policy_name(DENY_ALL_POLICY)
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("{case}: DeletePolicy: {e:?}"));
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn an_overlay_is_released_from_another_machine_without_the_journal() {
    for backend in BACKENDS {
        let Some(fleet) = TestFleet::start(backend).await else {
            continue;
        };
        seed_fleet(&fleet.iot, 1).await;
        let mine = tempfile::tempdir().unwrap();
        let theirs = tempfile::tempdir().unwrap();
        let before = snapshot(&fleet.client, "pump-1").await;
        quarantine(
            &fleet,
            &journal_in(&mine, &fleet.client).await,
            "pump-1",
            Options::default(),
            &mut |_| Ok(()),
        )
        .await
        .unwrap();
        let prepared = run::prepare_release(
            &fleet.client,
            journal_in(&theirs, &fleet.client).await.journal(),
            "pump-1",
            false,
        )
        .await
        .unwrap();
        assert!(
            prepared.plan.warnings[0].contains("no journal entry"),
            "{:?}",
            prepared.plan.warnings
        );
        release(&fleet, &journal_in(&theirs, &fleet.client).await, "pump-1").await;
        assert_eq!(
            snapshot(&fleet.client, "pump-1").await,
            before,
            "{backend:?}"
        );
    }
}

async fn iotfleet(endpoint: &Target, home: &std::path::Path, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_iotfleet"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null());
    for (key, value) in endpoint.cli_env(home) {
        command.env(key, value);
    }
    command.output().await.expect("run iotfleet")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[tokio::test]
async fn the_verbs_refuse_what_they_must_with_their_exit_codes() {
    for backend in BACKENDS {
        let Some(fleet) = TestFleet::start(backend).await else {
            continue;
        };
        seed_fleet(&fleet.iot, 1).await;
        let home = tempfile::tempdir().unwrap();
        let endpoint = &fleet.target;
        let before = snapshot(&fleet.client, "pump-1").await;

        // policy-version on a policy shared with pump-2: exit 4, naming the other target.
        let shared = iotfleet(
            endpoint,
            home.path(),
            &[
                "quarantine",
                "pump-1",
                "--strategy",
                "policy-version",
                "--yes",
            ],
        )
        .await;
        assert_eq!(shared.status.code(), Some(4), "{}", text(&shared));
        assert!(
            text(&shared)
                .contains("fleet-device is also attached to 1 other target(s): certificate"),
            "{}",
            text(&shared)
        );

        // --dry-run prints the plan and changes nothing; --read-only refuses with 5.
        let dry = iotfleet(
            endpoint,
            home.path(),
            &["quarantine", "pump-1", "--dry-run"],
        )
        .await;
        assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
        assert!(text(&dry).contains("attach iotfleet-quarantine-deny-all to certificate"));
        assert!(text(&dry).contains("Dry run: nothing was changed."));
        let refused = iotfleet(
            endpoint,
            home.path(),
            &["--read-only", "quarantine", "pump-1", "--yes"],
        )
        .await;
        assert_eq!(refused.status.code(), Some(5), "{}", text(&refused));
        // Without --yes and without a terminal to ask on: exit 2, nothing changed.
        let unasked = iotfleet(endpoint, home.path(), &["quarantine", "pump-1"]).await;
        assert_eq!(unasked.status.code(), Some(2), "{}", text(&unasked));
        assert!(text(&unasked).contains("add --yes"), "{}", text(&unasked));
        assert_eq!(snapshot(&fleet.client, "pump-1").await, before);
        // A Thing without a certificate has nothing to isolate; an unknown one is not found.
        seed::thing(&fleet.iot, "bare-1", None, &[]).await;
        let bare = iotfleet(endpoint, home.path(), &["quarantine", "bare-1", "--yes"]).await;
        assert_eq!(bare.status.code(), Some(4), "{}", text(&bare));
        assert!(
            text(&bare).contains("nothing to isolate"),
            "{}",
            text(&bare)
        );
        let unknown = iotfleet(endpoint, home.path(), &["quarantine", "nope-9", "--yes"]).await;
        assert_eq!(unknown.status.code(), Some(3), "{}", text(&unknown));
    }
}

/// On the local core only: moto has no DeleteConnection, so the CLI's own run fails there at
/// that last step.
#[tokio::test]
async fn the_verbs_quarantine_show_it_everywhere_and_release_on_the_local_core() {
    let Some(fleet) = TestFleet::start(Backend::Local).await else {
        return;
    };
    seed_fleet(&fleet.iot, 1).await;
    let home = tempfile::tempdir().unwrap();
    let endpoint = &fleet.target;
    let before = snapshot(&fleet.client, "pump-1").await;
    let json = iotfleet(
        endpoint,
        home.path(),
        &[
            "--output",
            "json",
            "quarantine",
            "pump-1",
            "--yes",
            "--reason",
            "probing",
        ],
    )
    .await;
    assert_eq!(json.status.code(), Some(0), "{}", text(&json));
    let out: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(out["quarantined"], true, "{out}");
    assert_eq!(out["plan"]["strategy"], "deny-overlay", "{out}");
    assert_eq!(out["result"]["failed"], serde_json::Value::Null, "{out}");
    assert_eq!(out["result"]["verification"]["verified"], true, "{out}");
    // The table prints the verification, per certificate.
    let release = iotfleet(endpoint, home.path(), &["release", "pump-1", "--yes"]).await;
    assert_eq!(release.status.code(), Some(0), "{}", text(&release));
    let table = iotfleet(endpoint, home.path(), &["quarantine", "pump-1", "--yes"]).await;
    assert_eq!(table.status.code(), Some(0), "{}", text(&table));
    let printed = text(&table);
    assert!(
        printed.contains("Verification (policies in force, read again):")
            && printed.contains(": VERIFIED, 8 of 8 own actions denied by")
            && printed.contains("pump-1 is QUARANTINED and VERIFIED"),
        "{printed}"
    );
    let shown = iotfleet(endpoint, home.path(), &["thing", "pump-1"]).await;
    assert!(text(&shown).contains("QUARANTINED"), "{}", text(&shown));
    let listed = iotfleet(endpoint, home.path(), &["things"]).await;
    let line = text(&listed)
        .lines()
        .find(|l| l.starts_with("pump-1 "))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(line.contains("QUARANTINED"), "{}", text(&listed));
    // `release --dry-run` prints the plan and changes nothing: still quarantined after it.
    let dry = iotfleet(endpoint, home.path(), &["release", "pump-1", "--dry-run"]).await;
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(
        text(&dry).contains("detach iotfleet-quarantine-deny-all")
            && text(&dry).contains("Dry run: nothing was changed."),
        "{}",
        text(&dry)
    );
    let still = iotfleet(endpoint, home.path(), &["thing", "pump-1"]).await;
    assert!(text(&still).contains("QUARANTINED"), "{}", text(&still));
    let release = iotfleet(endpoint, home.path(), &["release", "pump-1", "--yes"]).await;
    assert_eq!(release.status.code(), Some(0), "{}", text(&release));
    assert!(text(&release).contains("pump-1 is released."));
    assert_eq!(snapshot(&fleet.client, "pump-1").await, before);
    let journal =
        std::fs::read_to_string(home.path().join("state/iotfleet/journal.jsonl")).unwrap();
    assert!(journal.contains("\"reason\":\"probing\""), "{journal}");

    // read_only = true in config.toml refuses as --read-only does.
    let config = home.path().join(".config/iotfleet");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "read_only = true\n").unwrap();
    let refused = iotfleet(endpoint, home.path(), &["quarantine", "pump-1", "--yes"]).await;
    assert_eq!(refused.status.code(), Some(5), "{}", text(&refused));
    assert_eq!(snapshot(&fleet.client, "pump-1").await, before);
}

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#;

/// The `--output json` of a verb, parsed.
async fn json_of(endpoint: &Target, home: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let output = iotfleet(endpoint, home, &all).await;
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output)))
}

/// The first finding of `check` in an audit's JSON.
fn finding(audit: &serde_json::Value, check: &str) -> Option<serde_json::Value> {
    audit["findings"]
        .as_array()?
        .iter()
        .find(|f| f["check"] == check)
        .cloned()
}

/// What `things`, `thing` and `audit` say of pump-1: (listed quarantined, shown quarantined,
/// the audit's permissive-quarantine-policy finding naming it).
async fn said_of_pump_1(endpoint: &Target, home: &std::path::Path) -> (bool, bool, bool) {
    let listed = json_of(endpoint, home, &["things"]).await;
    let row = listed["things"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "pump-1"))
        .cloned()
        .unwrap_or_default();
    let shown = json_of(endpoint, home, &["thing", "pump-1"]).await;
    let audit = json_of(endpoint, home, &["audit"]).await;
    let critical = audit["findings"].as_array().is_some_and(|findings| {
        findings.iter().any(|f| {
            f["check"] == "QUARANTINE_POLICY_TAMPERED"
                && f["severity"] == "CRITICAL"
                && f["things"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "pump-1"))
        })
    });
    (
        row["quarantined"] == true,
        shown["quarantined"] == true,
        critical,
    )
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario on two backends, read top to bottom"
)]
async fn a_quarantine_policy_that_allows_is_never_trusted_by_its_name() {
    for backend in BACKENDS {
        let Some(fleet) = TestFleet::start(backend).await else {
            continue;
        };
        seed_fleet(&fleet.iot, 1).await;
        let home = tempfile::tempdir().unwrap();
        let endpoint = &fleet.target;
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(&dir, &fleet.client).await;

        // It exists already, with an Allow, and is attached to pump-1's certificate: nothing
        // says pump-1 is quarantined, and the audit names the policy CRITICAL.
        seed::policy(&fleet.iot, DENY_ALL_POLICY, ALLOW_ALL).await;
        let arn = facts::gather(&fleet.client, "pump-1", Depth::Defaults)
            .await
            .unwrap()
            .certificates[0]
            .arn
            .clone();
        seed::attach_policy(&fleet.iot, DENY_ALL_POLICY, &arn).await;
        assert!(!quarantined(&fleet.client, "pump-1").await, "{backend:?}");
        assert_eq!(
            said_of_pump_1(endpoint, home.path()).await,
            (false, false, true),
            "{backend:?}: listed, shown, audited"
        );

        // The quarantine plans the repair (shown first, with the reason) and verifies.
        let prepared = run::prepare_quarantine(
            &fleet.client,
            journal.journal(),
            "pump-1",
            Options::default(),
            None,
        )
        .await
        .unwrap();
        assert!(
            matches!(&prepared.plan.steps[0], Step::RestoreDenyAll { previous, .. } if previous == "1"),
            "{backend:?}: {:?}",
            prepared.plan.steps
        );
        assert!(
            prepared.plan.warnings[0].contains("statement 1 allows iot:* on *"),
            "{:?}",
            prepared.plan.warnings
        );
        let report = run::execute(
            &fleet.client,
            &journal,
            for_backend(prepared, backend),
            &mut |_| Ok(()),
        )
        .await
        .unwrap();
        let verification = report.verification.clone().expect("verified");
        assert!(verification.verified, "{backend:?}: {verification:?}");
        assert_eq!(verification.certificates.len(), 1);
        assert_eq!(report.advice(), None);
        assert_eq!(
            said_of_pump_1(endpoint, home.path()).await,
            (true, true, false),
            "{backend:?}: listed, shown, audited after the repair"
        );

        // Someone makes an Allow the default again: pump-1 may act, and nothing says otherwise.
        fleet
            .iot
            .create_policy_version()
            .policy_name(DENY_ALL_POLICY)
            .policy_document(ALLOW_ALL)
            .set_as_default(true)
            .send()
            .await
            .expect("CreatePolicyVersion");
        assert!(!quarantined(&fleet.client, "pump-1").await, "{backend:?}");
        assert_eq!(
            said_of_pump_1(endpoint, home.path()).await,
            (false, false, true),
            "{backend:?}: listed, shown, audited after the permissive default"
        );
        let can = iotfleet(
            endpoint,
            home.path(),
            &["thing", "pump-1", "--can", "connect", "pump-1"],
        )
        .await;
        assert!(text(&can).contains("ALLOWED"), "{}", text(&can));

        // With five versions no deny-all one can be added: refused, exit 4, saying why.
        for _ in 0..2 {
            fleet
                .iot
                .create_policy_version()
                .policy_name(DENY_ALL_POLICY)
                .policy_document(ALLOW_ALL.replace("iot:*", "iot:Connect"))
                .set_as_default(true)
                .send()
                .await
                .expect("CreatePolicyVersion");
        }
        let refused = iotfleet(endpoint, home.path(), &["quarantine", "pump-1", "--yes"]).await;
        assert_eq!(refused.status.code(), Some(4), "{}", text(&refused));
        assert!(
            text(&refused).contains("allows iot:Connect") && text(&refused).contains("5 versions"),
            "{}",
            text(&refused)
        );
        assert!(!quarantined(&fleet.client, "pump-1").await, "{backend:?}");
    }
}

/// Deny-alls that pass every probe yet spare something: a NotResource that spares `zz-*`
/// clients and `zz/*` topics beside an Allow of exactly those (the document the issue found
/// isolating nothing), a Deny that holds only under a condition, and a NotAction Deny.
const CRAFTED_DENY_ALLS: [&str; 3] = [
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","NotResource":["arn:aws:iot:*:*:client/zz-*","arn:aws:iot:*:*:topic/zz/*"]},{"Effect":"Allow","Action":["iot:Connect","iot:Publish"],"Resource":["arn:aws:iot:*:*:client/zz-*","arn:aws:iot:*:*:topic/zz/*"]}]}"#,
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*","Condition":{"StringNotLike":{"iot:ClientId":"zz-*"}}},{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"iot:AssumeRoleWithCertificate","Resource":"*"}]}"#,
];

#[tokio::test]
async fn a_deny_all_that_spares_anything_is_never_quarantined_and_is_repaired() {
    for backend in BACKENDS {
        for (index, crafted) in CRAFTED_DENY_ALLS.iter().enumerate() {
            let Some(fleet) = TestFleet::start(backend).await else {
                return;
            };
            seed_fleet(&fleet.iot, 1).await;
            let home = tempfile::tempdir().unwrap();
            let endpoint = &fleet.target;
            let dir = tempfile::tempdir().unwrap();
            let journal = journal_in(&dir, &fleet.client).await;
            let case = format!("{backend:?}, crafted document {}", index + 1);

            // Quarantined as it should be, then the policy's default replaced by the crafted one.
            quarantine_pump_1(&fleet, &journal, None).await;
            assert_eq!(
                said_of_pump_1(endpoint, home.path()).await,
                (true, true, false),
                "{case}: listed, shown, audited while the deny-all is whole"
            );
            fleet
                .iot
                .create_policy_version()
                .policy_name(DENY_ALL_POLICY)
                .policy_document(*crafted)
                .set_as_default(true)
                .send()
                .await
                .expect("CreatePolicyVersion");
            assert!(!quarantined(&fleet.client, "pump-1").await, "{case}");
            assert_eq!(
                said_of_pump_1(endpoint, home.path()).await,
                (false, false, true),
                "{case}: listed, shown, audited with the crafted default"
            );
            let audit = json_of(endpoint, home.path(), &["audit"]).await;
            let finding = finding(&audit, "QUARANTINE_POLICY_TAMPERED").unwrap_or_default();
            assert!(
                finding["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("is tampered") && r.contains("spares")),
                "{case}: the finding says what it spares: {finding}"
            );

            // The next quarantine repairs it first, and verifies.
            let report = quarantine_pump_1(&fleet, &journal, None).await;
            assert!(
                matches!(&report.plan.steps[0], Step::RestoreDenyAll { previous, .. } if previous == "2"),
                "{case}: {:?}",
                report.plan.steps
            );
            assert!(
                report.verification.as_ref().is_some_and(|v| v.verified),
                "{case}: {:?}",
                report.verification
            );
            assert_eq!(
                said_of_pump_1(endpoint, home.path()).await,
                (true, true, false),
                "{case}: listed, shown, audited after the repair"
            );
        }
    }
}

/// Quarantines (with `options`) and releases pump-1 through `mutations`; the plan without
/// DeleteConnection on moto.
async fn round_trip(
    client: &FleetClient,
    backend: Backend,
    mutations: &Mutations,
    options: Options,
) -> (run::Report, run::Report) {
    let prepared = run::prepare_quarantine(client, mutations.journal(), "pump-1", options, None)
        .await
        .unwrap();
    let quarantined = run::execute(
        client,
        mutations,
        for_backend(prepared, backend),
        &mut |_| Ok(()),
    )
    .await
    .unwrap();
    let prepared = run::prepare_release(client, mutations.journal(), "pump-1", false)
        .await
        .unwrap();
    let released = run::execute(client, mutations, prepared, &mut |_| Ok(()))
        .await
        .unwrap();
    (quarantined, released)
}

#[tokio::test]
async fn a_torn_last_journal_line_loses_nothing_that_follows() {
    for backend in BACKENDS {
        let Some(fleet) = TestFleet::start(backend).await else {
            continue;
        };
        seed_fleet(&fleet.iot, 1).await;
        let before = snapshot(&fleet.client, "pump-1").await;
        let dir = tempfile::tempdir().unwrap();
        // A crash (or a full disk) cut the last entry short.
        std::fs::write(
            dir.path().join("journal.jsonl"),
            r#"{"time":"2026-11-30T03:00:00Z","identity":"ops","backend":"local","action":"quar"#,
        )
        .unwrap();
        let mutations = journal_in(&dir, &fleet.client).await;
        let options = Options {
            strategy: Strategy::DenyOverlay,
            deactivate_certs: true,
        };
        let (quarantined, released) = round_trip(&fleet.client, backend, &mutations, options).await;
        assert!(quarantined.failed.is_none(), "{backend:?}");
        assert!(
            released
                .plan
                .steps
                .iter()
                .any(|s| matches!(s, Step::SetCertificateStatus { to, .. } if to == "ACTIVE")),
            "{backend:?}: {:?}",
            released.plan
        );
        assert_eq!(
            snapshot(&fleet.client, "pump-1").await,
            before,
            "{backend:?}"
        );
        assert_eq!(before.certificates[0].status, "ACTIVE");
    }
}

/// moto serves every account behind one endpoint, switching by the credentials of a role
/// assumed in another account: two accounts, one region, one Thing name, one journal file.
#[tokio::test]
async fn two_accounts_records_in_one_journal_never_mix() {
    let Some(fleet) = TestFleet::start(Backend::Moto).await else {
        return;
    };
    let sdk = fleet.target.sdk_config().await;
    let assumed = aws_sdk_sts::Client::new(&sdk)
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/ops")
        .role_session_name("iotfleet-test")
        .send()
        .await
        .expect("AssumeRole");
    let credentials = assumed.credentials.expect("credentials");
    let mut settings = fleet.target.settings();
    settings.static_credentials = Some(iotfleet::fleet::StaticCredentials {
        access_key_id: credentials.access_key_id.clone(),
        secret_access_key: credentials.secret_access_key.clone(),
    });
    let other = FleetClient::connect(&settings).await.unwrap();
    let other_iot = aws_sdk_iot::Client::from_conf(
        aws_sdk_iot::config::Builder::from(&sdk)
            .credentials_provider(aws_credential_types::Credentials::new(
                credentials.access_key_id,
                credentials.secret_access_key,
                None,
                None,
                "assumed",
            ))
            .build(),
    );
    assert_eq!(fleet.client.account().await.unwrap(), "123456789012");
    assert_eq!(other.account().await.unwrap(), "111111111111");
    seed_fleet(&fleet.iot, 1).await;
    seed_fleet(&other_iot, 1).await;
    let (before, other_before) = (
        snapshot(&fleet.client, "pump-1").await,
        snapshot(&other, "pump-1").await,
    );
    assert_ne!(before, other_before, "two accounts, two registries");

    let dir = tempfile::tempdir().unwrap();
    let (mine, theirs) = (
        journal_in(&dir, &fleet.client).await,
        journal_in(&dir, &other).await,
    );
    // Account A isolates pump-1 and deactivates its certificate; then account B quarantines
    // and releases its own pump-1, whose closing entry must not close A's record.
    let deactivate = Options {
        strategy: Strategy::DenyOverlay,
        deactivate_certs: true,
    };
    let prepared =
        run::prepare_quarantine(&fleet.client, mine.journal(), "pump-1", deactivate, None)
            .await
            .unwrap();
    run::execute(
        &fleet.client,
        &mine,
        for_backend(prepared, Backend::Moto),
        &mut |_| Ok(()),
    )
    .await
    .unwrap();
    let (_, released) = round_trip(&other, Backend::Moto, &theirs, Options::default()).await;
    let own: Vec<&str> = other_before
        .certificates
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    for step in &released.plan.steps {
        let named = serde_json::to_string(step).unwrap();
        assert!(
            own.iter().any(|id| named.contains(id)),
            "B's release touches only B's certificates: {step:?}"
        );
    }
    assert!(released.plan.warnings.is_empty(), "{:?}", released.plan);
    assert_eq!(snapshot(&other, "pump-1").await, other_before);

    // A's record is still open: its release reactivates the certificate exactly.
    let prepared = run::prepare_release(&fleet.client, mine.journal(), "pump-1", false)
        .await
        .unwrap();
    assert!(prepared.plan.warnings.is_empty(), "{:?}", prepared.plan);
    run::execute(&fleet.client, &mine, prepared, &mut |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(snapshot(&fleet.client, "pump-1").await, before);
}

/// twin-a and twin-b share certificate S; twin-b also has its own certificate.
async fn seed_twins(iot: &aws_sdk_iot::Client) {
    for thing in ["twin-a", "twin-b"] {
        seed::thing(iot, thing, None, &[]).await;
    }
    seed::policy(iot, "twin-device", DEVICE_POLICY).await;
    let (_, shared) = seed::certificate(iot, &CertificateSpec::valid_for_days("twins", 90)).await;
    seed::attach_policy(iot, "twin-device", &shared).await;
    seed::attach_thing(iot, "twin-a", &shared).await;
    seed::attach_thing(iot, "twin-b", &shared).await;
    let (_, own) = seed::certificate(iot, &CertificateSpec::valid_for_days("twin-b", 90)).await;
    seed::attach_policy(iot, "twin-device", &own).await;
    seed::attach_thing(iot, "twin-b", &own).await;
}

#[tokio::test]
async fn releasing_one_of_two_quarantines_on_a_shared_certificate_is_refused_unless_together() {
    for backend in BACKENDS {
        let Some(fleet) = TestFleet::start(backend).await else {
            continue;
        };
        seed_twins(&fleet.iot).await;
        let home = tempfile::tempdir().unwrap();
        let endpoint = &fleet.target;
        let (before_a, before_b) = (
            snapshot(&fleet.client, "twin-a").await,
            snapshot(&fleet.client, "twin-b").await,
        );
        // Each quarantined on its own, journaled where the CLI journals.
        let journal = Mutations::for_client(
            false,
            Some(home.path().join("state/iotfleet/journal.jsonl")),
            &fleet.client,
        )
        .await
        .unwrap();
        for thing in ["twin-a", "twin-b"] {
            let report = quarantine(&fleet, &journal, thing, Options::default(), &mut |_| Ok(()))
                .await
                .unwrap();
            assert!(report.failed.is_none(), "{backend:?} {thing}");
        }
        assert!(quarantined(&fleet.client, "twin-a").await);
        assert!(quarantined(&fleet.client, "twin-b").await);

        // Releasing twin-a alone would detach the policy from S and free twin-b: refused.
        let refused = iotfleet(endpoint, home.path(), &["release", "twin-a", "--yes"]).await;
        assert_eq!(refused.status.code(), Some(4), "{}", text(&refused));
        assert!(
            text(&refused).contains("would free twin-b (certificate")
                && text(&refused).contains("--with-shared"),
            "{}",
            text(&refused)
        );
        assert!(quarantined(&fleet.client, "twin-b").await, "{backend:?}");

        // Together: the plan names who shares what; both come back exactly.
        let dry = run::prepare_release(&fleet.client, journal.journal(), "twin-a", true)
            .await
            .unwrap();
        assert_eq!(dry.plan.together, ["twin-b"]);
        assert!(
            dry.plan
                .warnings
                .iter()
                .any(|w| w.starts_with("released together with twin-b")),
            "{:?}",
            dry.plan.warnings
        );
        let both = iotfleet(
            endpoint,
            home.path(),
            &["release", "twin-a", "--with-shared", "--yes"],
        )
        .await;
        assert_eq!(both.status.code(), Some(0), "{}", text(&both));
        assert!(
            text(&both).contains("twin-a, twin-b are released."),
            "{}",
            text(&both)
        );
        assert_eq!(
            snapshot(&fleet.client, "twin-a").await,
            before_a,
            "{backend:?}"
        );
        assert_eq!(
            snapshot(&fleet.client, "twin-b").await,
            before_b,
            "{backend:?}"
        );
        // Both records are closed: releasing either again plans nothing.
        for thing in ["twin-a", "twin-b"] {
            let again = run::prepare_release(&fleet.client, journal.journal(), thing, false)
                .await
                .unwrap();
            assert!(again.is_empty(), "{backend:?} {thing}: {:?}", again.plan);
        }
    }
}

#[tokio::test]
async fn a_certificate_attached_after_the_quarantine_is_not_isolated_everywhere() {
    for backend in BACKENDS {
        let Some(fleet) = TestFleet::start(backend).await else {
            continue;
        };
        seed_fleet(&fleet.iot, 1).await;
        let home = tempfile::tempdir().unwrap();
        let endpoint = &fleet.target;
        let mutations = Mutations::for_client(
            false,
            Some(home.path().join("state/iotfleet/journal.jsonl")),
            &fleet.client,
        )
        .await
        .unwrap();
        quarantine_pump_1(&fleet, &mutations, Some("leaking")).await;
        assert_eq!(
            said_of_pump_1(endpoint, home.path()).await,
            (true, true, false),
            "{backend:?}"
        );

        // A second certificate, attached after the quarantine, with the device's own policy.
        let (id, arn) = seed::certificate(
            &fleet.iot,
            &CertificateSpec::valid_for_days("pump-1-spare", 90),
        )
        .await;
        seed::attach_policy(&fleet.iot, "pump-1-own", &arn).await;
        seed::attach_thing(&fleet.iot, "pump-1", &arn).await;
        let short: String = id.chars().take(12).collect();

        let listed = json_of(
            endpoint,
            home.path(),
            &["things", "--status", "quarantined"],
        )
        .await;
        let row = listed["things"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["name"] == "pump-1").cloned())
            .unwrap_or_else(|| panic!("{backend:?}: pump-1 under quarantine: {listed}"));
        assert_eq!(row["quarantined"], false, "{backend:?}: {row}");
        assert_eq!(row["isolation"], "NOT ISOLATED", "{backend:?}: {row}");
        let table = iotfleet(endpoint, home.path(), &["things"]).await;
        assert!(
            text(&table)
                .lines()
                .any(|l| l.starts_with("pump-1 ") && l.contains("NOT ISOLATED")),
            "{backend:?}: {}",
            text(&table)
        );
        let shown = json_of(endpoint, home.path(), &["thing", "pump-1"]).await;
        assert_eq!(shown["isolation"], "NOT ISOLATED", "{backend:?}: {shown}");
        let why = shown["not_isolated"].as_str().unwrap_or_default();
        assert!(
            why.contains(&format!(
                "certificate {short}… (ACTIVE) was attached after the quarantine"
            )),
            "{backend:?}: {why}"
        );
        assert_eq!(
            shown["holds"][0]["reason"], "leaking",
            "{backend:?}: {shown}"
        );
        let audit = json_of(endpoint, home.path(), &["audit"]).await;
        let finding = finding(&audit, "QUARANTINE_NOT_ISOLATED")
            .unwrap_or_else(|| panic!("{backend:?}: {audit}"));
        assert_eq!(finding["severity"], "CRITICAL");
        let reason = finding["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(&short), "{backend:?}: {reason}");
        if backend == Backend::Local {
            // The local core records the calls it serves as CloudTrail does: when it was attached.
            assert!(reason.contains("attached at "), "{reason}");
        }

        // The next quarantine isolates the new certificate too.
        let report = quarantine_pump_1(&fleet, &mutations, None).await;
        let attach = Step::AttachPolicy {
            policy: DENY_ALL_POLICY.to_owned(),
            target: arn.clone(),
        };
        assert!(
            report.plan.steps.contains(&attach),
            "{backend:?}: {report:?}"
        );
        assert_eq!(
            said_of_pump_1(endpoint, home.path()).await,
            (true, true, false),
            "{backend:?}: isolated again"
        );
    }
}
