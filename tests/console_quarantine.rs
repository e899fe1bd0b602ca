//! The quarantine and release keys driven as a user drives them, against the local IoT Core:
//! `Q` `y` isolates the selected Thing and `R` `y` undoes it, each journaled once with before and
//! after; Esc changes nothing; `--read-only` refuses; a shared certificate needs the name typed;
//! and with the simulator running, the device's traffic stops within a second of confirming and
//! comes back after release.

mod support;

use std::time::Duration;

use support::console::{SETTLE, keys, opened, render, run_until};

use iotfleet::config::files;
use iotfleet::fleet::FleetClient;
use iotfleet::fleet::quarantine::DENY_ALL_POLICY;
use iotfleet::local::simulator::SimulatorOptions;
use iotfleet::local::{LocalCore, LocalOptions};
use iotfleet::tui::flows::flow::{Outcome, Stage};
use iotfleet::tui::state::Backend;
use iotfleet::tui::{App, Options};
use time::OffsetDateTime;

async fn local(simulator: Option<SimulatorOptions>) -> LocalCore {
    LocalCore::start(LocalOptions {
        state_file: None,
        http_port: 0,
        seed: true,
        mqtt_port: simulator.as_ref().map(|_| 0),
        simulator,
        aws_quotas: None,
        detect_speedup: 0,
    })
    .await
    .expect("local core")
}

async fn console(core: &LocalCore, journal: &std::path::Path, traffic: bool) -> App {
    let loaded = files::load_from(None, None, None, false);
    console_with(core, journal, traffic, loaded).await
}

/// The console with its configuration files (keymap, theme) as loaded from a folder.
async fn console_with(
    core: &LocalCore,
    journal: &std::path::Path,
    traffic: bool,
    loaded: files::Loaded,
) -> App {
    let client = FleetClient::connect(&core.connection_settings())
        .await
        .expect("client");
    let options = Options {
        traffic: traffic.then(|| Ok(core.mqtt_settings("console-quarantine".into()).unwrap())),
        journal: Some(journal.to_path_buf()),
        ..Options::new(Backend::Local)
    };
    opened(client, options, loaded, SETTLE).await
}

/// The popup shows a run that completed every step.
fn finished_cleanly(app: &App) -> bool {
    matches!(
        app.state.flow.as_ref().map(|f| &f.stage),
        Some(Stage::Finished(Outcome::Thing(report))) if report.failed.is_none()
    )
}

fn journal(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Whether the local registry has the deny-all policy attached to any target.
fn deny_all_attached(core: &LocalCore) -> bool {
    core.read(|state| {
        state
            .certificates
            .values()
            .any(|certificate| certificate.policies.contains(DENY_ALL_POLICY))
    })
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        filters => vec![
            // Each local fleet has an account id of its own.
            (r"\b\d{12}\b", "[account]"),
            (r"AKIA[A-Z2-7]{9,16}", "AKIA[key]"),
            (r"[0-9a-f]{12}…", "############…"),
            (r"[0-9a-f]{16,64}", "[hex]"),
            (r"\d{4}-\d{2}-\d{2}", "[date]"),
            (r"\d{2}:\d{2}:\d{2}", "[time]"),
            (r"\(\d+d\)", "(Nd)"),
        ],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[tokio::test]
async fn q_y_quarantines_the_selected_thing_and_r_y_releases_it_journaling_each_once() {
    let core = local(None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut app = console(&core, &path, false).await;
    keys(&mut app, &["/", "camera-04", "<Enter>", "Q"]).await;
    let flow = app.state.flow.as_ref().expect("the popup is up");
    assert!(matches!(flow.stage, Stage::Confirm { .. }), "{flow:?}");
    assert!(!deny_all_attached(&core), "nothing changes before y");
    snapshot("quarantine_plan_120x40", &render(&app, 120, 40));
    snapshot("quarantine_plan_80x24", &render(&app, 80, 24));

    keys(&mut app, &["y"]).await;
    // Confirmed, it asks why; nothing changes until Enter.
    let flow = app.state.flow.as_ref().unwrap();
    assert!(matches!(flow.stage, Stage::Reason { .. }), "{flow:?}");
    assert!(
        !deny_all_attached(&core),
        "nothing changes before the reason's Enter"
    );
    keys(&mut app, &["probing its neighbours"]).await;
    snapshot("quarantine_reason_80x24", &render(&app, 80, 24));
    keys(&mut app, &["<Enter>"]).await;
    let flow = app.state.flow.as_ref().unwrap();
    let Stage::Finished(Outcome::Thing(report)) = &flow.stage else {
        panic!("{flow:?}");
    };
    assert_eq!(report.failed, None);
    assert!(deny_all_attached(&core));
    snapshot("quarantine_done_120x40", &render(&app, 120, 40));
    keys(&mut app, &["<Enter>"]).await;
    assert!(app.state.flow.is_none());
    assert!(app.state.fleet.is_quarantined("camera-04"));
    let list = render(&app, 120, 40);
    let row = list.lines().find(|l| l.starts_with("│camera-04")).unwrap();
    assert!(row.contains(" Q "), "{row}");
    // The Thing's own screen says so too.
    keys(&mut app, &["<Enter>"]).await;
    let screen = render(&app, 120, 40);
    assert!(screen.contains("QUARANTINED"), "{screen}");
    // The report read again after the run comes alone: the shadow names still load.
    assert!(screen.contains("Shadows     classic, config"), "{screen}");
    keys(&mut app, &["<Esc>"]).await;

    keys(&mut app, &["R"]).await;
    assert!(
        matches!(
            app.state.flow.as_ref().map(|f| &f.stage),
            Some(Stage::Confirm { .. })
        ),
        "{:?}",
        app.state.flow
    );
    keys(&mut app, &["y"]).await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    assert!(!deny_all_attached(&core));
    keys(&mut app, &["<Esc>"]).await;
    assert!(!app.state.fleet.is_quarantined("camera-04"));

    let entries = journal(&path);
    for action in ["quarantine", "release"] {
        let done: Vec<&serde_json::Value> =
            entries.iter().filter(|e| e["action"] == action).collect();
        assert_eq!(done.len(), 1, "one {action} entry: {entries:?}");
        assert_eq!(done[0]["target"], "camera-04");
        assert_eq!(done[0]["result"], "ok");
        assert!(done[0]["before"]["certificates"].is_array());
        assert!(done[0]["after"]["certificates"].is_array());
    }
    // The reason typed is the hold's, with who acted.
    let planned = entries
        .iter()
        .find(|e| e["action"] == "quarantine plan")
        .unwrap();
    assert_eq!(planned["after"]["reason"], "probing its neighbours");
    assert!(
        planned["actor"]
            .as_str()
            .is_some_and(|a| a.ends_with(":user/local-operator")),
        "{planned}"
    );
}

#[tokio::test]
async fn a_remapped_yes_is_the_popups_key_and_the_one_its_prompt_and_footer_name() {
    let core = local(None).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keymap.toml"),
        "[confirm]\nkeymap = [\n  { on = \"y\", run = \"noop\" },\n  { on = \"Y\", run = \"noop\" },\n  { on = \"o\", run = \"yes\" },\n]\n",
    )
    .unwrap();
    let loaded = files::load_from(Some(dir.path()), None, None, false);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let mut app = console_with(&core, &dir.path().join("journal.jsonl"), false, loaded).await;
    keys(&mut app, &["/", "camera-04", "<Enter>", "Q"]).await;
    let popup = render(&app, 120, 40);
    let footer = popup.lines().last().unwrap();
    assert!(footer.starts_with("o confirm"), "{footer}");
    assert!(popup.contains("o quarantine · n/Esc cancel"), "{popup}");
    assert!(!popup.contains("y confirm"), "{popup}");

    keys(&mut app, &["y"]).await;
    assert!(
        matches!(
            app.state.flow.as_ref().map(|f| &f.stage),
            Some(Stage::Confirm { .. })
        ),
        "y no longer answers"
    );
    assert!(!deny_all_attached(&core));
    keys(&mut app, &["o", "<Enter>"]).await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    assert!(deny_all_attached(&core));
}

#[tokio::test]
async fn the_things_list_says_who_is_online_and_a_quarantine_turns_the_device_offline() {
    let core = local(Some(SimulatorOptions::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let mut app = console(&core, &dir.path().join("journal.jsonl"), false).await;
    // The simulator connects its devices while the console starts; `r` asks again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        keys(&mut app, &["r"]).await;
        let list = render(&app, 120, 40);
        if ["camera-04", "pump-01", "pump-03", "pump-20"]
            .iter()
            .all(|thing| row(&list, thing).contains(" ● "))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let list = render(&app, 120, 40);
    // No certificate, or one that cannot connect: never seen online.
    for thing in ["gateway-08", "gateway-05", "pump-14"] {
        assert!(row(&list, thing).contains("never seen"), "{list}");
    }

    // pump-03 behaves (camera-04 is also disconnected by its own refused probes, with
    // FORBIDDEN_ACCESS): the quarantine's DeleteConnection is what ends its session.
    keys(&mut app, &["/", "pump-03", "<Enter>", "Q", "y", "<Enter>"]).await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    keys(&mut app, &["<Enter>"]).await;
    let list = render(&app, 120, 40);
    let pump = row(&list, "pump-03");
    assert!(
        pump.contains("○ ") && pump.contains("kicked"),
        "{pump} {:?}",
        app.state.fleet.connectivity.get("pump-03")
    );
    keys(&mut app, &["<Enter>"]).await;
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("offline since") && screen.contains("SERVER_INITIATED_DISCONNECT"),
        "{screen}"
    );
}

#[tokio::test]
async fn denied_shows_camera_04s_refused_publishes_within_a_second_and_its_refused_reconnects_once_quarantined()
 {
    let core = local(Some(SimulatorOptions::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let mut app = console(&core, &dir.path().join("journal.jsonl"), false).await;
    let publishes = |app: &App| {
        app.state
            .fleet
            .denied
            .refusals
            .iter()
            .filter(|r| r.client_id == "camera-04" && r.action() == "publish")
            .count()
    };
    // The first read takes what was refused before the console opened; then each new refusal.
    assert!(run_until(&mut app, SETTLE, |app| publishes(app) > 0).await);
    let before = publishes(&app);
    assert!(
        run_until(&mut app, SETTLE, |app| publishes(app) > before).await,
        "camera-04 probes another device's topic every few seconds"
    );
    let newest = app.state.fleet.denied.newest("camera-04").unwrap().clone();
    let late = OffsetDateTime::now_utc() - newest.time;
    // Read every 0.5 s, looked at every 0.1 s: within a second, with room for a loaded machine.
    assert!(late < time::Duration::milliseconds(1_500), "{late}");
    assert_eq!(newest.reason, "AUTHORIZATION_FAILURE");
    let list = render(&app, 120, 40);
    let camera = row(&list, "camera-04");
    assert!(
        camera
            .split_whitespace()
            .any(|cell| cell.parse::<u64>().is_ok_and(|n| n >= 1)),
        "the DENIED column counts camera-04: {camera}"
    );

    keys(
        &mut app,
        &["/", "camera-04", "<Enter>", "Q", "y", "<Enter>"],
    )
    .await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    keys(&mut app, &["<Enter>"]).await;
    let quarantined_at = OffsetDateTime::now_utc();
    let refused_connect = |app: &App| {
        app.state.fleet.denied.refusals.iter().any(|r| {
            r.client_id == "camera-04" && r.action() == "connect" && r.time >= quarantined_at
        })
    };
    assert!(
        run_until(&mut app, SETTLE, refused_connect).await,
        "camera-04's reconnects are refused, and shown"
    );
    keys(&mut app, &[":", "denied", "<Enter>"]).await;
    let screen = render(&app, 120, 40);
    assert!(
        screen.lines().any(|l| l.contains("camera-04")
            && l.contains("connect")
            && l.contains("AUTHORIZATION_FAILURE")),
        "{screen}"
    );
    // Offline: the quarantine's DeleteConnection ended its session, unless its own refused probe
    // had just ended it (FORBIDDEN_ACCESS), as AWS would say too.
    let known = app.client().connectivity("camera-04").await.unwrap();
    assert!(!known.connected, "{known:?}");
    assert!(
        matches!(
            known.disconnect_reason.as_deref(),
            Some("SERVER_INITIATED_DISCONNECT" | "FORBIDDEN_ACCESS")
        ),
        "{known:?}"
    );
}

/// The Things list's row of `thing`.
fn row<'a>(list: &'a str, thing: &str) -> &'a str {
    list.lines()
        .find(|l| l.starts_with(&format!("│{thing} ")))
        .unwrap_or_default()
}

#[tokio::test]
async fn q_then_esc_changes_nothing_and_read_only_refuses_both_keys() {
    let core = local(None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut app = console(&core, &path, false).await;
    keys(&mut app, &["/", "pump-07", "<Enter>", "Q", "<Esc>"]).await;
    assert!(app.state.flow.is_none());
    assert!(
        app.state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("cancelled: nothing was changed")),
        "{:?}",
        app.state.message
    );
    assert!(!deny_all_attached(&core));
    assert!(journal(&path).is_empty());

    app.state.read_only = true;
    for key in ["Q", "R"] {
        keys(&mut app, &[key]).await;
        assert!(app.state.flow.is_none());
        let message = app.state.message.as_ref().map(|m| m.text.clone());
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("refused by --read-only")),
            "{key}: {message:?}"
        );
    }
    assert!(!deny_all_attached(&core));
    assert!(journal(&path).is_empty());
}

#[tokio::test]
async fn a_shared_certificate_is_confirmed_by_typing_the_things_name() {
    let core = local(None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut app = console(&core, &path, false).await;
    keys(&mut app, &["/", "temp-sensor-17", "<Enter>", "Q"]).await;
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("shared with temp-sensor-18"),
        "the warning is shown:\n{screen}"
    );
    // y is just a letter here, and a wrong name does not confirm.
    keys(&mut app, &["y", "<Enter>"]).await;
    assert!(!deny_all_attached(&core));
    assert!(matches!(
        app.state.flow.as_ref().map(|f| &f.stage),
        Some(Stage::Confirm { .. })
    ));
    keys(&mut app, &["<BS>", "temp-sensor-17", "<Enter>"]).await;
    assert!(!deny_all_attached(&core), "it asks why first");
    keys(&mut app, &["<Enter>"]).await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    assert!(deny_all_attached(&core));
}

#[tokio::test]
async fn releasing_one_of_two_quarantines_on_a_shared_certificate_asks_for_the_name_and_frees_both()
{
    let core = local(None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut app = console(&core, &path, false).await;
    for thing in ["temp-sensor-17", "temp-sensor-18"] {
        keys(&mut app, &["<Esc>", "<Esc>", "/", thing, "<Enter>", "Q"]).await;
        keys(&mut app, &[thing, "<Enter>", "<Enter>"]).await;
        assert!(finished_cleanly(&app), "{thing}: {:?}", app.state.flow);
    }
    keys(
        &mut app,
        &["<Esc>", "<Esc>", "/", "temp-sensor-17", "<Enter>", "R"],
    )
    .await;
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("released together with temp-sensor-18")
            && screen.contains("temp-sensor-18 (open quarantine, released")
            && screen.contains("Type temp-sensor-17 and Enter"),
        "the plan names the other quarantine and asks for the name:\n{screen}"
    );
    // y is just a letter here: nothing is released.
    keys(&mut app, &["y", "<Enter>"]).await;
    assert!(deny_all_attached(&core));
    keys(&mut app, &["<BS>", "temp-sensor-17", "<Enter>"]).await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    assert!(!deny_all_attached(&core));
    let released: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|e| e["action"] == "release" && e["result"] == "ok")
        .map(|e| e["target"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(released, ["temp-sensor-17", "temp-sensor-18"]);
}

#[tokio::test]
async fn a_quarantine_policy_that_allows_is_repaired_as_a_shown_step_and_verified() {
    let core = local(None).await;
    let config = support::Target::local(&core).sdk_config().await;
    aws_sdk_iot::Client::new(&config)
        .create_policy()
        .policy_name(DENY_ALL_POLICY)
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut app = console(&core, &dir.path().join("journal.jsonl"), false).await;
    keys(&mut app, &["/", "camera-04", "<Enter>", "Q"]).await;
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("is tampered") && screen.contains("restores its deny-all"),
        "the repair is shown first:\n{screen}"
    );
    keys(&mut app, &["y", "<Enter>"]).await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("VERIFIED, 8 of 8 own actions denied by")
            && screen.contains("QUARANTINED · VERIFIED"),
        "{screen}"
    );
    snapshot("quarantine_repaired_80x24", &render(&app, 80, 24));
}

/// The newest arrival of `topic` in the console's history.
fn last_seen(app: &App, topic: &str) -> Option<OffsetDateTime> {
    app.state
        .traffic
        .history
        .messages()
        .filter(|m| m.topic == topic)
        .map(|m| m.received())
        .max()
}

/// Folds traffic in for `period`.
async fn watch(app: &mut App, period: Duration) {
    let until = tokio::time::Instant::now() + period;
    while tokio::time::Instant::now() < until {
        app.pump_traffic();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn quarantine_stops_the_devices_traffic_within_a_second_and_release_brings_it_back() {
    let core = local(Some(SimulatorOptions {
        telemetry_every: Duration::from_millis(100),
        ..SimulatorOptions::default()
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut app = console(&core, &dir.path().join("journal.jsonl"), true).await;
    let topic = "fleet/camera-04/telemetry";
    keys(&mut app, &["/", "camera-04", "<Enter>", "t"]).await;
    watch(&mut app, Duration::from_secs(2)).await;
    assert!(
        last_seen(&app, topic).is_some(),
        "camera-04 sends telemetry"
    );

    keys(&mut app, &["<Esc>", "Q", "y"]).await;
    let confirmed = OffsetDateTime::now_utc();
    keys(&mut app, &["<Enter>"]).await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    keys(&mut app, &["<Enter>"]).await;
    watch(&mut app, Duration::from_secs(4)).await;
    let last = last_seen(&app, topic).unwrap();
    eprintln!(
        "camera-04's last telemetry arrived {} after confirming",
        last - confirmed
    );
    assert!(
        last <= confirmed + time::Duration::seconds(1),
        "camera-04 still sent {} after confirming",
        last - confirmed
    );

    keys(&mut app, &["R", "y", "<Enter>"]).await;
    let released = OffsetDateTime::now_utc();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while last_seen(&app, topic).is_none_or(|t| t < released) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "camera-04's telemetry did not come back within 15 s of release"
        );
        watch(&mut app, Duration::from_millis(200)).await;
    }
    eprintln!(
        "camera-04's telemetry came back {} after release",
        last_seen(&app, topic).unwrap() - released
    );
}

#[tokio::test]
async fn tab_plans_again_deactivating_the_certificates_and_release_reactivates_them() {
    let core = local(None).await;
    let dir = tempfile::tempdir().unwrap();
    let mut app = console(&core, &dir.path().join("journal.jsonl"), false).await;
    let status = |core: &LocalCore| {
        core.read(|state| {
            let principal = state.things["pump-03"]
                .principals
                .iter()
                .next()
                .cloned()
                .unwrap();
            let id = principal.rsplit('/').next().unwrap().to_owned();
            state.certificates[&id].status.clone()
        })
    };
    keys(&mut app, &["/", "pump-03", "<Enter>", "Q", "<Tab>"]).await;
    let screen = render(&app, 120, 40);
    assert!(screen.contains("INACTIVE (was ACTIVE)"), "{screen}");
    keys(&mut app, &["y", "<Enter>", "<Enter>"]).await;
    assert_eq!(status(&core), "INACTIVE");
    keys(&mut app, &["R", "y", "<Enter>"]).await;
    assert_eq!(status(&core), "ACTIVE");
    assert!(!deny_all_attached(&core));
}

/// The bulk popup's run ended with every Thing done.
fn batch_finished(app: &App) -> Option<&iotfleet::fleet::quarantine::batch::BatchReport> {
    match app.state.flow.as_ref().map(|f| &f.stage) {
        Some(Stage::Finished(Outcome::Batch(report))) => Some(report),
        _ => None,
    }
}

#[tokio::test]
async fn a_search_marked_and_one_typed_count_quarantine_every_camera_as_one_batch() {
    let core = local(None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut app = console(&core, &path, false).await;
    keys(
        &mut app,
        &[":", "search", "<Space>", "thingTypeName:camera", "<Enter>"],
    )
    .await;
    keys(&mut app, &["*", "Q"]).await;
    let plan = render(&app, 80, 24);
    assert!(plan.contains("Quarantine 6 marked Things"), "{plan}");
    assert!(
        plan.contains("6 to change, 0 with nothing to do; 6 certificates"),
        "{plan}"
    );
    assert!(
        plan.contains("Type 6 and Enter to quarantine them"),
        "{plan}"
    );
    // A wrong count changes nothing.
    keys(&mut app, &["5", "<Enter>"]).await;
    assert!(!deny_all_attached(&core));
    keys(&mut app, &["<BS>", "6", "<Enter>"]).await;
    assert!(!deny_all_attached(&core), "it asks why first");
    keys(&mut app, &["cameras leaking", "<Enter>"]).await;
    assert!(run_until(&mut app, SETTLE, |app| batch_finished(app).is_some()).await);
    let report = batch_finished(&app).unwrap();
    assert_eq!(report.failures(), 0, "{:?}", report.results);
    assert_eq!(report.results.len(), 6);
    assert!(report.results.iter().all(|r| r.outcome == "verified"));
    let entries = journal(&path);
    let closing = entries
        .iter()
        .filter(|e| e["action"] == "quarantine batch")
        .count();
    assert_eq!(closing, 1);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "quarantine")
            .count(),
        6
    );
    assert!(
        entries
            .iter()
            .filter(|e| e["action"] == "quarantine plan")
            .all(|e| e["after"]["reason"] == "cameras leaking"),
        "every Thing's hold has the reason"
    );
    // R on the same marks releases them as one batch.
    keys(&mut app, &["<Enter>", "R", "6", "<Enter>"]).await;
    assert!(run_until(&mut app, SETTLE, |app| batch_finished(app).is_some()).await);
    assert_eq!(batch_finished(&app).unwrap().failures(), 0);
    assert!(!deny_all_attached(&core));
}

#[tokio::test]
async fn a_release_that_leaves_another_hold_says_the_thing_stays_quarantined() {
    let core = local(None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut app = console(&core, &path, false).await;
    // A batch of two (marked), then camera-04 alone: two holds on camera-04.
    keys(&mut app, &["/", "camera-0", "<Enter>", "*", "Q"]).await;
    let count = app
        .state
        .flow
        .as_ref()
        .and_then(iotfleet::tui::flows::flow::Flow::to_type)
        .unwrap();
    keys(&mut app, &[&count, "<Enter>", "sweep", "<Enter>"]).await;
    assert!(run_until(&mut app, SETTLE, |app| batch_finished(app).is_some()).await);
    keys(&mut app, &["<Enter>", ":", "unmark", "<Enter>"]).await;
    keys(
        &mut app,
        &[
            "<Esc>",
            "/",
            "camera-04",
            "<Enter>",
            "Q",
            "y",
            "own",
            "<Enter>",
        ],
    )
    .await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    keys(&mut app, &["<Enter>", "R"]).await;
    let plan = render(&app, 120, 40);
    assert!(
        plan.contains("camera-04 stays isolated: still held by batch-"),
        "{plan}"
    );
    keys(&mut app, &["y"]).await;
    assert!(finished_cleanly(&app), "{:?}", app.state.flow);
    let done = render(&app, 120, 40);
    assert!(
        done.contains("its hold is closed; it stays QUARANTINED, held by batch-")
            && !done.contains("Released: every step"),
        "{done}"
    );
    assert!(deny_all_attached(&core), "the batch still holds it");
}
