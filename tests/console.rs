//! The console driven as a user drives it: key sequences into the real `App` against the local
//! IoT Core (and moto), drawn with ratatui's TestBackend; snapshots of every screen at 80x24 and
//! 120x40 with moving values masked; configuration files that rebind keys or break themes.

mod support;

use support::console::{SETTLE, keys, opened, render, run_until};

use iotfleet::config::files;
use iotfleet::config::keymap::{Key, KeyCode};
use iotfleet::fleet::FleetClient;
use iotfleet::local::{LocalCore, LocalOptions};
use iotfleet::tui::data::{ListKind, Load};
use iotfleet::tui::shadow::edit_state::Stage;
use iotfleet::tui::state::{Backend, Screen};
use iotfleet::tui::{App, Options};

/// The seeded demo fleet in memory, and a console on it with the given configuration directory.
async fn console_on_demo_fleet(config: Option<&std::path::Path>) -> (LocalCore, App) {
    console_on_demo_fleet_journaled(config, None).await
}

async fn console_on_demo_fleet_journaled(
    config: Option<&std::path::Path>,
    journal: Option<std::path::PathBuf>,
) -> (LocalCore, App) {
    let core = LocalCore::start(LocalOptions {
        state_file: None,
        http_port: 0,
        seed: true,
        mqtt_port: None,
        simulator: None,
        aws_quotas: None,
        detect_speedup: 0,
    })
    .await
    .expect("local core");
    let client = FleetClient::connect(&core.connection_settings())
        .await
        .expect("client");
    let loaded = files::load_from(config, None, None, false);
    let options = Options {
        journal,
        ..Options::new(Backend::Local)
    };
    let app = opened(client, options, loaded, SETTLE).await;
    (core, app)
}

/// Masks what moves between runs: certificate ids and serials, dates, day counts.
fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        filters => vec![
            // Each local fleet has an account id of its own.
            (r"\b\d{12}\b", "[account]"),
            (r"AKIA[A-Z2-7]{9,16}", "AKIA[key]"),
            (r"[0-9a-f]{16,64}", "[hex]"),
            (r"certificate [0-9a-f]+", "certificate [hex]"),
            (r"\d{4}-\d{2}-\d{2}", "[date]"),
            (r"\d{2}:\d{2}:\d{2}", "[time]"),
            (r"\(\d+d\)", "(Nd)"),
            (r"in \d+ days", "in N days"),
            (r"\d+[smhd] ago", "N ago"),
            (r"\(N ago\) by [^ :│]+", "(N ago) by [user]"),
            (r"(hold|batch)-\d{8}T\d{6}Z-[0-9a-f]{8}", "$1-[id]"),
        ],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[tokio::test]
async fn filter_enter_certificate_then_policy_lands_on_the_policy_screen() {
    let (_core, mut app) = console_on_demo_fleet(None).await;
    assert!(app.state.fleet.things.items.len() >= 50);
    keys(&mut app, &["/", "pump-1", "<Enter>"]).await;
    let Screen::List(ListKind::Things, view) = app.state.screen() else {
        panic!("still on the list")
    };
    let first = app
        .state
        .fleet
        .things
        .items
        .at(view.rows[0] as usize)
        .name();
    assert_eq!(first, "pump-10", "the best match comes first");
    keys(&mut app, &["<Enter>"]).await;
    assert!(
        matches!(app.state.screen(), Screen::Thing { name, .. } if name == "pump-10"),
        "{:?}",
        app.state.screen()
    );
    keys(&mut app, &["<Enter>"]).await;
    assert!(
        matches!(app.state.screen(), Screen::Certificate { .. }),
        "{:?}",
        app.state.screen()
    );
    keys(&mut app, &["j", "<Enter>"]).await;
    assert!(
        matches!(app.state.screen(), Screen::Policy { name, .. } if name == "pump-device"),
        "{:?}",
        app.state.screen()
    );
    // Esc goes back along the way we came.
    keys(&mut app, &["<Esc>"]).await;
    assert!(matches!(app.state.screen(), Screen::Certificate { .. }));
    keys(&mut app, &["<Esc>", "<Esc>"]).await;
    assert!(matches!(
        app.state.screen(),
        Screen::List(ListKind::Things, _)
    ));
}

#[tokio::test]
async fn the_things_list_loads_status_only_for_rows_on_screen() {
    let (_core, mut app) = console_on_demo_fleet(None).await;
    app.handle(iotfleet::tui::msg::Msg::Resize {
        width: 80,
        height: 16,
    });
    app.settle(SETTLE).await;
    let before = app.client().stats().operations;
    keys(&mut app, &["j"]).await;
    assert_eq!(
        app.client().stats().operations,
        before,
        "moving within the page loads nothing new"
    );
    let loaded = app.state.fleet.principals.len();
    assert!(
        loaded < app.state.fleet.things.items.len(),
        "principals were loaded for {loaded} Things, not the whole fleet"
    );
}

#[tokio::test]
async fn screens_snapshot_at_80x24_and_120x40() {
    let (_core, mut app) = console_on_demo_fleet(None).await;
    for (width, height) in [(80, 24), (120, 40)] {
        app.handle(iotfleet::tui::msg::Msg::Resize { width, height });
        app.settle(SETTLE).await;
        snapshot(
            &format!("things_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    keys(&mut app, &[":", "thing temp-sensor-17", "<Enter>"]).await;
    for (width, height) in [(80, 24), (120, 40)] {
        snapshot(
            &format!("thing_shared_certificate_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    keys(&mut app, &["<Enter>"]).await;
    snapshot("certificate_120x40", &render(&app, 120, 40));
    keys(&mut app, &[":", "policy legacy-gateway-admin", "<Enter>"]).await;
    snapshot("policy_120x40", &render(&app, 120, 40));
    keys(&mut app, &["?"]).await;
    for (width, height) in [(80, 24), (120, 40)] {
        snapshot(
            &format!("help_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    // At 80x24 the help is longer than the screen: it scrolls to its last line.
    app.handle(iotfleet::tui::msg::Msg::Resize {
        width: 80,
        height: 24,
    });
    let top = render(&app, 80, 24);
    assert!(!top.contains("Tab completes commands"), "{top}");
    keys(&mut app, &["G"]).await;
    let end = render(&app, 80, 24);
    assert!(end.contains("Tab completes commands"), "{end}");
    snapshot("help_80x24_scrolled_to_the_end", &end);
    keys(&mut app, &["g"]).await;
    assert_eq!(render(&app, 80, 24), top, "g goes back to the top");
    app.handle(iotfleet::tui::msg::Msg::Resize {
        width: 120,
        height: 40,
    });
    keys(&mut app, &["<Esc>", "2"]).await;
    snapshot("certificates_120x40", &render(&app, 120, 40));
    keys(&mut app, &[":", "frobnicate", "<Enter>"]).await;
    let text = render(&app, 80, 24);
    assert!(
        text.contains(":frobnicate"),
        "the typed command stays after the error"
    );
    snapshot("command_error_80x24", &text);
    snapshot("too_small_40x10", &render(&app, 40, 10));
}

#[tokio::test]
async fn denied_and_quarantined_screens_snapshot_at_80x24_and_120x40() {
    let dir = tempfile::tempdir().unwrap();
    let (core, mut app) =
        console_on_demo_fleet_journaled(None, Some(dir.path().join("journal.jsonl"))).await;
    let logs =
        aws_sdk_cloudwatchlogs::Client::new(&support::Target::local(&core).sdk_config().await);
    let now = time::OffsetDateTime::now_utc();
    let ms = |seconds_ago: i64| {
        i64::try_from(
            (now - time::Duration::seconds(seconds_ago)).unix_timestamp_nanos() / 1_000_000,
        )
        .unwrap()
    };
    let failure = |event: &str, client: &str, topic: Option<&str>| {
        let mut body = serde_json::json!({"status": "Failure", "eventType": event,
            "clientId": client, "reason": "AUTHORIZATION_FAILURE"});
        if let Some(topic) = topic {
            body["topicName"] = topic.into();
        }
        body
    };
    support::seed::iot_log(
        &logs,
        &[
            (
                ms(40),
                failure("Publish-In", "camera-04", Some("fleet/pump-01/command")),
            ),
            (ms(30), failure("Subscribe", "camera-04", Some("fleet/#"))),
            (ms(20), failure("Connect", "pump-14", None)),
            (
                ms(10),
                failure("Publish-In", "camera-04", Some("fleet/pump-02/command")),
            ),
        ],
    )
    .await;
    assert!(
        run_until(&mut app, SETTLE, |app| app.state.fleet.denied.total == 4).await,
        "{:?}",
        app.state.fleet.denied
    );
    for (width, height) in [(80, 24), (120, 40)] {
        app.handle(iotfleet::tui::msg::Msg::Resize { width, height });
        snapshot(
            &format!("things_denied_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    keys(&mut app, &[":", "denied", "<Enter>"]).await;
    for (width, height) in [(80, 24), (120, 40)] {
        app.handle(iotfleet::tui::msg::Msg::Resize { width, height });
        snapshot(
            &format!("denied_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    keys(&mut app, &["<Enter>"]).await;
    assert!(
        matches!(app.state.screen(), Screen::Thing { name, .. } if name == "camera-04"),
        "Enter opens the most refused Thing"
    );
    assert!(render(&app, 120, 40).contains("Denied      3 refused since"));
    keys(&mut app, &["Q", "y", "<Enter>"]).await;
    keys(&mut app, &["<Enter>", ":", "quarantined", "<Enter>"]).await;
    for (width, height) in [(80, 24), (120, 40)] {
        app.handle(iotfleet::tui::msg::Msg::Resize { width, height });
        snapshot(
            &format!("quarantined_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    drop(core);
}

#[tokio::test]
async fn an_osc52_attribute_is_drawn_escaped_and_never_reaches_the_clipboard() {
    let core = LocalCore::start(LocalOptions::default()).await.unwrap();
    // AWS's API (and so the local core's) refuses such values; planted in the store, as any
    // other endpoint could serve them.
    core.modify(|state| {
        let mut record = iotfleet::local::store::ThingRecord::default();
        record
            .attributes
            .insert("note".into(), "\u{1b}]52;c;aGVsbG8=\u{7}".into());
        record
            .attributes
            .insert("clear".into(), "\u{1b}[2J\u{9b}".into());
        state.things.insert("evil".into(), record);
    })
    .unwrap();
    let client = FleetClient::connect(&core.connection_settings())
        .await
        .unwrap();
    let mut app = App::new(
        client,
        Options::new(Backend::Local),
        files::load_from(None, None, None, false),
    );
    app.settle(SETTLE).await;
    keys(&mut app, &["<Enter>"]).await;
    for (width, height) in [(80, 24), (120, 40)] {
        let text = render(&app, width, height);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "a control character reached the screen"
        );
        assert!(text.contains("\\x1b]52;c;aGVsbG8=\\x07"), "{text}");
    }
    keys(&mut app, &["<Esc>"]).await;
    let list = render(&app, 120, 40);
    assert!(list.contains("\\x1b[2J\\u{9b}"), "{list}");
    assert!(app.copied.is_empty(), "nothing was copied");
}

#[tokio::test]
async fn a_keymap_file_can_rebind_quit_to_x() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keymap.toml"), "[global]\nkeymap = [\n  { on = \"x\", run = \"quit\", desc = \"Leave\" },\n  { on = \"q\", run = \"noop\" },\n]\n").unwrap();
    let (_core, mut app) = console_on_demo_fleet(Some(dir.path())).await;
    assert!(app.state.message.is_none(), "{:?}", app.state.message);
    keys(&mut app, &["q"]).await;
    assert!(!app.state.quit, "q is unbound");
    keys(&mut app, &["?"]).await;
    let help = render(&app, 120, 40);
    assert!(
        help.contains("  x                    Leave"),
        "help shows the live binding: {help}"
    );
    assert!(!help.contains("q <C-c>"), "and not the unbound key");
    keys(&mut app, &["<Esc>", "x"]).await;
    assert!(app.state.quit);
}

#[tokio::test]
async fn a_theme_with_an_unknown_colour_opens_on_defaults_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let theme = dir.path().join("theme.toml");
    std::fs::write(
        &theme,
        "[palette]\naccent = \"#00ff00\"\n\n[styles]\ntitle = { fg = \"chartreuse-ish\" }\n",
    )
    .unwrap();
    let loaded = files::load_from(Some(dir.path()), None, None, false);
    let defaults = files::load_from(None, None, None, false);
    assert_eq!(
        loaded.theme, defaults.theme,
        "the console opens on the default theme"
    );
    assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
    let problem = &loaded.problems[0];
    assert!(
        problem.contains(&format!("{} line 5", theme.display())),
        "{problem}"
    );
    assert!(problem.contains("'chartreuse-ish'"), "{problem}");

    let (_core, app) = console_on_demo_fleet(Some(dir.path())).await;
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("line 5") && screen.contains("chartreuse-ish"),
        "{screen}"
    );
}

#[tokio::test]
async fn against_moto_the_console_shows_the_count_while_pages_stream_in() {
    let Some(fleet) = support::TestFleet::start(support::Backend::Moto).await else {
        return;
    };
    support::seed::bare_things(&fleet.iot, 600, 16).await;
    let client = FleetClient::connect(&fleet.target.settings())
        .await
        .unwrap();
    let backend = Backend::Aws {
        region: support::REGION.into(),
        profile: None,
        endpoint: Some(fleet.endpoint.clone()),
    };
    let mut app = App::new(
        client,
        Options::new(backend),
        files::load_from(None, None, None, false),
    );
    while app.state.fleet.things.items.is_empty() {
        assert!(app.step(SETTLE).await, "a first page arrives");
    }
    assert_eq!(
        app.state.fleet.things.items.len(),
        250,
        "the first page shows before the rest"
    );
    assert!(app.state.fleet.things.loading);
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("Things (250)") && screen.contains("loading"),
        "{screen}"
    );
    app.settle(SETTLE).await;
    assert_eq!(app.state.fleet.things.items.len(), 600);
    let screen = render(&app, 120, 40);
    assert!(screen.contains("Things (600)"), "{screen}");
    assert!(
        screen.contains(" AWS 123456789012 us-east-1"),
        "the account from STS: {screen}"
    );
}

#[tokio::test]
async fn the_shadow_screen_shows_desired_reported_and_delta_and_cycles_named_shadows() {
    let (_core, mut app) = console_on_demo_fleet(None).await;
    keys(&mut app, &["/", "pump-03", "<Enter>", "S"]).await;
    assert!(
        matches!(app.state.screen(), Screen::Shadow { thing, name: None, .. } if thing == "pump-03"),
        "{:?}",
        app.state.screen()
    );
    let wide = render(&app, 120, 40);
    assert!(wide.contains("1 key differs"), "{wide}");
    snapshot("shadow_delta_120x40", &wide);
    snapshot("shadow_delta_80x24", &render(&app, 80, 24));

    // Gateways have a named "firmware" shadow: n cycles classic → firmware → classic.
    keys(
        &mut app,
        &["<Esc>", "<Esc>", "/", "gateway-02", "<Enter>", "S", "n"],
    )
    .await;
    assert!(
        matches!(app.state.screen(), Screen::Shadow { name: Some(name), .. } if name == "firmware"),
        "{:?}",
        app.state.screen()
    );
    assert!(render(&app, 120, 40).contains("5.1.0"));
    keys(&mut app, &["n"]).await;
    assert!(matches!(
        app.state.screen(),
        Screen::Shadow { name: None, .. }
    ));
}

/// Replaces the editor's text: deletes everything from the top, then types `text`.
fn retype(app: &mut App, text: &str) {
    let old = app.state.edit.as_ref().expect("editing").text.clone();
    // From the top: up past every line, then to the start of the first.
    for _ in 0..old.lines().count() {
        app.key(Key::plain(KeyCode::Up));
    }
    app.key(Key::plain(KeyCode::Home));
    for _ in 0..old.chars().count() {
        app.key(Key::plain(KeyCode::Delete));
    }
    assert_eq!(
        app.state.edit.as_ref().unwrap().text,
        "",
        "the editor is empty"
    );
    for c in text.chars() {
        app.key(Key::plain(if c == '\n' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        }));
    }
}

fn journal_entries(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn editing_desired_checks_the_json_shows_the_diff_applies_and_journals() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let (core, mut app) = console_on_demo_fleet_journaled(None, Some(journal.clone())).await;
    keys(&mut app, &["/", "pump-03", "<Enter>", "S", "e"]).await;
    let edit = app.state.edit.clone().expect("the editor is open");
    assert_eq!(edit.base_version, Some(1));
    assert_eq!(
        edit.base_desired,
        serde_json::json!({"speed": 66, "mode": "auto"})
    );

    // A trailing comma: line and column shown, the text kept, no applying.
    retype(&mut app, "{\"speed\": 40,}");
    let error = app
        .state
        .edit
        .as_ref()
        .unwrap()
        .error
        .clone()
        .expect("a mistake");
    assert_eq!((error.line, error.column), (1, 14));
    assert!(render(&app, 120, 40).contains("line 1, column 14"));
    keys(&mut app, &["<C-s>"]).await;
    let edit = app.state.edit.as_ref().unwrap();
    assert_eq!(edit.stage, Stage::Editing, "no review of invalid JSON");
    assert_eq!(edit.text, "{\"speed\": 40,}", "the text is kept");

    // Fixed: the review shows the change and the removal.
    app.key(Key::plain(KeyCode::Backspace));
    app.key(Key::plain(KeyCode::Backspace));
    app.key(Key::plain(KeyCode::Char('}')));
    assert_eq!(app.state.edit.as_ref().unwrap().error, None);
    keys(&mut app, &["<C-s>"]).await;
    assert!(app.state.edit_in_flow(), "its change awaits its yes");
    let review = render(&app, 120, 40);
    assert!(review.contains("~ speed: 66 → 40"), "{review}");
    assert!(review.contains("- mode (removed: null)"), "{review}");
    snapshot("shadow_review_120x40", &review);

    keys(&mut app, &["y"]).await;
    app.settle(SETTLE).await;
    assert!(app.state.edit.is_none(), "{:?}", app.state.message);
    assert!(
        app.state
            .message
            .as_ref()
            .is_some_and(|m| m.text.starts_with("applied")),
        "our own change is not someone else's: {:?}",
        app.state.message
    );
    let Some(Load::Ready(shadow)) = app.state.fleet.shadows.get(&("pump-03".to_owned(), None))
    else {
        panic!("the shadow is reloaded")
    };
    assert_eq!(shadow.version, Some(2));
    assert_eq!(shadow.desired, Some(serde_json::json!({"speed": 40})));
    assert_eq!(shadow.delta, Some(serde_json::json!({"speed": 40})));

    // The delta shows speed until the device reports it.
    let config = support::Target::local(&core).sdk_config().await;
    aws_sdk_iotdataplane::Client::new(&config)
        .update_thing_shadow()
        .thing_name("pump-03")
        .payload(br#"{"state":{"reported":{"speed":40}}}"#.to_vec().into())
        .send()
        .await
        .unwrap();
    let later = app.state.now + time::Duration::seconds(6);
    app.handle(iotfleet::tui::msg::Msg::Tick {
        now: later,
        throttled: 0,
    });
    app.settle(SETTLE).await;
    let Some(Load::Ready(shadow)) = app.state.fleet.shadows.get(&("pump-03".to_owned(), None))
    else {
        panic!("reloaded")
    };
    assert_eq!(shadow.delta, None, "reported caught up");
    assert!(render(&app, 120, 40).contains("in sync"));

    // The intent (with the state before) was journaled before the update, the outcome after.
    let all = journal_entries(&journal);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["action"], "shadow update plan");
    assert_eq!(all[0]["before"], all[1]["before"]);
    let entries = &all[1..];
    assert_eq!(entries[0]["action"], "shadow update");
    assert_eq!(entries[0]["target"], "pump-03");
    assert_eq!(
        entries[0]["before"]["desired"],
        serde_json::json!({"speed": 66, "mode": "auto"})
    );
    assert_eq!(entries[0]["after"]["state"]["desired"]["speed"], 40);
    assert_eq!(entries[0]["result"], "ok");
}

/// Sets `thing`'s desired state from outside the console (someone else).
async fn set_desired(fleet: &support::TestFleet, thing: &str, body: &'static str) {
    fleet
        .data
        .update_thing_shadow()
        .thing_name(thing)
        .payload(body.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
}

/// A console on `fleet` with one new device whose shadow is `initial`, its desired open in the
/// editor; with the device's name and the journal's folder.
async fn editing_a_new_devices_shadow(
    fleet: &support::TestFleet,
    initial: &'static str,
) -> (App, String, tempfile::TempDir) {
    let thing = support::seed::devices(&fleet.iot, 1, 1)
        .await
        .remove(0)
        .name;
    set_desired(fleet, &thing, initial).await;
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        journal: Some(dir.path().join("journal.jsonl")),
        ..Options::new(Backend::Local)
    };
    let loaded = files::load_from(None, None, None, false);
    let mut app = opened(fleet.client.clone(), options, loaded, SETTLE).await;
    keys(&mut app, &["/", &thing, "<Enter>", "S", "e"]).await;
    (app, thing, dir)
}

async fn a_conflict_keeps_the_edit_and_shows_the_newer_shadow_on(backend: support::Backend) {
    let Some(fleet) = support::TestFleet::start(backend).await else {
        return;
    };
    let (mut app, thing, _journal) =
        editing_a_new_devices_shadow(&fleet, r#"{"state":{"desired":{"speed":10}}}"#).await;
    retype(&mut app, "{\"speed\": 20}");
    // Someone else changes the shadow while the edit is open.
    set_desired(&fleet, &thing, r#"{"state":{"desired":{"mode":"eco"}}}"#).await;
    keys(&mut app, &["<C-s>", "y"]).await;
    app.settle(SETTLE).await;
    let edit = app.state.edit.clone().expect("the edit is kept");
    assert_eq!(edit.stage, Stage::Conflict, "{:?}", app.state.message);
    assert_eq!(edit.text, "{\"speed\": 20}");
    let screen = render(&app, 120, 40);
    assert!(screen.contains("changed by someone else"), "{screen}");
    assert!(
        screen.contains("+ mode: \"eco\""),
        "the change in between is shown: {screen}"
    );
    if backend == support::Backend::Local {
        snapshot("shadow_conflict_120x40", &screen);
    }
    // Nothing was overwritten.
    let Some(Load::Ready(shadow)) = app.state.fleet.shadows.get(&(thing.clone(), None)) else {
        panic!("the newer shadow is loaded")
    };
    assert_eq!(
        shadow.desired,
        Some(serde_json::json!({"speed": 10, "mode": "eco"}))
    );
    let newer_version = shadow.version;

    // Merged onto the newer version: only the user's own change (speed) is applied; mode,
    // changed only by the other side, keeps its newer value.
    keys(&mut app, &["y"]).await;
    assert!(app.state.edit_in_flow(), "its change awaits its yes");
    assert_eq!(app.state.edit.as_ref().unwrap().base_version, newer_version);
    keys(&mut app, &["y"]).await;
    app.settle(SETTLE).await;
    assert!(app.state.edit.is_none(), "{:?}", app.state.message);
    let Some(Load::Ready(shadow)) = app.state.fleet.shadows.get(&(thing.clone(), None)) else {
        panic!("reloaded")
    };
    assert_eq!(
        shadow.desired,
        Some(serde_json::json!({"speed": 20, "mode": "eco"}))
    );
}

#[tokio::test]
async fn a_key_both_sides_changed_waits_for_a_choice_before_y_applies() {
    let Some(fleet) = support::TestFleet::start(support::Backend::Local).await else {
        return;
    };
    let (mut app, thing, _journal) =
        editing_a_new_devices_shadow(&fleet, r#"{"state":{"desired":{"speed":10,"fan":false}}}"#)
            .await;
    retype(&mut app, "{\"speed\": 20, \"fan\": false}");
    // Meanwhile someone sets speed too, and mode.
    set_desired(
        &fleet,
        &thing,
        r#"{"state":{"desired":{"speed":30,"mode":"eco"}}}"#,
    )
    .await;
    keys(&mut app, &["<C-s>", "y"]).await;
    app.settle(SETTLE).await;
    assert_eq!(app.state.edit.as_ref().unwrap().stage, Stage::Conflict);

    // y lists the key changed by both and will not merge before a choice.
    keys(&mut app, &["y"]).await;
    let edit = app.state.edit.clone().unwrap();
    assert_eq!(edit.stage, Stage::Conflict);
    assert_eq!(edit.conflicts.len(), 1, "{:?}", edit.conflicts);
    assert_eq!(edit.conflicts[0].shown(), "speed");
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("! speed: yours 20 · theirs 30 → choose"),
        "{screen}"
    );
    keys(&mut app, &["y"]).await;
    assert_eq!(app.state.edit.as_ref().unwrap().stage, Stage::Conflict);
    assert!(
        app.state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("choose for speed first")),
        "{:?}",
        app.state.message
    );

    // m keeps mine; then y merges (review), y applies: mode stays as the other side set it
    // (a shadow update merges desired, so fan, untouched by either, is still there).
    keys(&mut app, &["m", "y"]).await;
    assert!(app.state.edit_in_flow(), "its change awaits its yes");
    keys(&mut app, &["y"]).await;
    app.settle(SETTLE).await;
    assert!(app.state.edit.is_none(), "{:?}", app.state.message);
    let Some(Load::Ready(shadow)) = app.state.fleet.shadows.get(&(thing.clone(), None)) else {
        panic!("reloaded")
    };
    assert_eq!(
        shadow.desired,
        Some(serde_json::json!({"speed": 20, "fan": false, "mode": "eco"}))
    );
}

#[tokio::test]
async fn a_conflict_keeps_the_edit_and_shows_the_newer_shadow_on_the_local_core() {
    Box::pin(a_conflict_keeps_the_edit_and_shows_the_newer_shadow_on(
        support::Backend::Local,
    ))
    .await;
}

#[tokio::test]
async fn a_conflict_keeps_the_edit_and_shows_the_newer_shadow_on_moto() {
    Box::pin(a_conflict_keeps_the_edit_and_shows_the_newer_shadow_on(
        support::Backend::Moto,
    ))
    .await;
}

#[tokio::test]
async fn an_edit_whose_intent_cannot_be_journaled_changes_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    // A journal path that is a directory cannot be appended to.
    let (core, mut app) =
        console_on_demo_fleet_journaled(None, Some(dir.path().to_path_buf())).await;
    keys(&mut app, &["/", "pump-03", "<Enter>", "S", "e"]).await;
    let before = app.state.edit.as_ref().unwrap().base_desired.clone();
    retype(&mut app, "{\"speed\": 77}");
    keys(&mut app, &["<C-s>", "y"]).await;
    app.settle(SETTLE).await;
    assert!(
        app.state.message.as_ref().is_some_and(|m| m
            .text
            .contains("the journal could not be written, so nothing was changed")),
        "{:?}",
        app.state.message
    );
    // The draft is kept; the shadow is as it was.
    let edit = app.state.edit.as_ref().expect("the draft is kept");
    assert_eq!(edit.text, "{\"speed\": 77}");
    let desired = core.read(|state| {
        state.things["pump-03"]
            .shadows
            .classic
            .as_ref()
            .and_then(|s| s.desired.clone())
    });
    assert_eq!(desired.map(serde_json::Value::Object), Some(before));
}

#[tokio::test]
async fn editing_is_refused_read_only() {
    let (_core, mut app) = console_on_demo_fleet(None).await;
    app.state.read_only = true;
    keys(&mut app, &["/", "pump-03", "<Enter>", "S", "e"]).await;
    assert!(app.state.edit.is_none());
    assert!(
        app.state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("read-only")),
        "{:?}",
        app.state.message
    );
}

#[tokio::test]
async fn an_open_shadow_follows_changes_made_elsewhere() {
    let (core, mut app) = console_on_demo_fleet(None).await;
    keys(&mut app, &["/", "pump-05", "<Enter>", "S"]).await;
    let config = support::Target::local(&core).sdk_config().await;
    aws_sdk_iotdataplane::Client::new(&config)
        .update_thing_shadow()
        .thing_name("pump-05")
        .payload(br#"{"state":{"desired":{"speed":12}}}"#.to_vec().into())
        .send()
        .await
        .unwrap();
    // Without live traffic the screen reads the shadow again every few seconds.
    let later = app.state.now + time::Duration::seconds(6);
    app.handle(iotfleet::tui::msg::Msg::Tick {
        now: later,
        throttled: 0,
    });
    app.settle(SETTLE).await;
    assert!(
        app.state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("changed by someone else: version 1 → 2")),
        "{:?}",
        app.state.message
    );
    assert!(render(&app, 120, 40).contains("\"speed\": 12"));
}

#[tokio::test]
async fn an_unclosed_brace_cannot_be_applied_and_an_oversized_desired_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (_core, mut app) =
        console_on_demo_fleet_journaled(None, Some(dir.path().join("journal.jsonl"))).await;
    keys(&mut app, &["/", "pump-03", "<Enter>", "S", "e"]).await;
    retype(&mut app, "{\"speed\": 40");
    let error = app
        .state
        .edit
        .as_ref()
        .unwrap()
        .error
        .clone()
        .expect("a mistake");
    assert_eq!(error.line, 1, "{error:?}");
    keys(&mut app, &["<C-s>"]).await;
    assert_eq!(app.state.edit.as_ref().unwrap().stage, Stage::Editing);

    // Over AWS's 8 KiB of state: the service's reason is shown and the draft stays.
    let big = format!("{{\"note\": \"{}\"}}", "x".repeat(9000));
    retype(&mut app, &big);
    keys(&mut app, &["<C-s>", "y"]).await;
    app.settle(SETTLE).await;
    let edit = app.state.edit.as_ref().expect("the draft is kept");
    assert_eq!(edit.stage, Stage::Editing);
    assert_eq!(edit.text, big);
    let message = app.state.message.as_ref().unwrap().text.clone();
    assert!(message.starts_with("rejected:"), "{message}");
    assert!(message.contains("maximum size"), "{message}");
}

#[tokio::test]
async fn a_closed_draft_takes_no_keys_from_other_screens() {
    let (_core, mut app) = console_on_demo_fleet(None).await;
    keys(&mut app, &["/", "pump-03", "<Enter>", "S", "e"]).await;
    retype(&mut app, "{\"speed\": 1}");
    // Esc closes the editor (the draft stays), Esc leaves the screen, Esc clears the filter.
    keys(&mut app, &["<Esc>", "<Esc>", "<Esc>"]).await;
    assert!(matches!(
        app.state.screen(),
        Screen::List(ListKind::Things, _)
    ));
    keys(&mut app, &["/", "gate"]).await;
    assert!(app.state.input.is_some());
    keys(&mut app, &["<Esc>"]).await;
    assert!(
        app.state.input.is_none(),
        "Esc cancels the filter, not the hidden draft"
    );
    // The draft is still there when the editor opens again.
    keys(&mut app, &["/", "pump-03", "<Enter>", "S", "e"]).await;
    assert_eq!(app.state.edit.as_ref().unwrap().text, "{\"speed\": 1}");
}

#[tokio::test]
async fn violations_screen_column_and_thing_line_snapshot_at_80x24_and_120x40() {
    use iotfleet::local::detect::Metric;
    let (core, mut app) = console_on_demo_fleet(None).await;
    // The broker's counts, given straight to the core's detector (no broker runs here).
    let now =
        i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap();
    for i in 0..150 {
        core.detector()
            .count("camera-04", Metric::MessagesSent, now - 2000 + i);
    }
    core.take_datapoint(now);
    assert!(
        run_until(&mut app, SETTLE, |app| app
            .state
            .fleet
            .violations
            .count("camera-04")
            == Some(1))
        .await,
        "{:?}",
        app.state.fleet.violations
    );
    for (width, height) in [(80, 24), (120, 40)] {
        app.handle(iotfleet::tui::msg::Msg::Resize { width, height });
        snapshot(
            &format!("things_violations_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    keys(&mut app, &[":", "violations", "<Enter>"]).await;
    for (width, height) in [(80, 24), (120, 40)] {
        app.handle(iotfleet::tui::msg::Msg::Resize { width, height });
        snapshot(
            &format!("violations_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    keys(&mut app, &["<Enter>"]).await;
    assert!(
        matches!(app.state.screen(), Screen::Thing { name, .. } if name == "camera-04"),
        "Enter opens the violating Thing"
    );
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("Violations  1 active (Device Defender Detect)")
            && screen
                .contains("messages sent 150 (normal ≤ 100 in 5m) fleet-baseline/messages-sent"),
        "{screen}"
    );
    drop(core);
}

#[tokio::test]
async fn the_things_screen_names_the_topic_rules_reading_its_topics_at_80x24_and_120x40() {
    use aws_sdk_iot::types::{Action, LambdaAction, S3Action, TopicRulePayload};
    let (core, mut app) = console_on_demo_fleet(None).await;
    let sdk = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    let rule = |name: &str, sql: &str, action: Action| {
        sdk.create_topic_rule()
            .rule_name(name)
            .topic_rule_payload(
                TopicRulePayload::builder()
                    .sql(sql)
                    .actions(action)
                    .build()
                    .unwrap(),
            )
            .send()
    };
    let s3 = S3Action::builder()
        .bucket_name("telemetry-archive")
        .key("k")
        .role_arn("arn:aws:iam::123456789012:role/r")
        .build()
        .unwrap();
    let lambda = LambdaAction::builder()
        .function_arn("arn:aws:lambda:us-east-1:123456789012:function:page-oncall")
        .build()
        .unwrap();
    rule(
        "telemetry_to_s3",
        "SELECT * FROM 'fleet/+/telemetry'",
        Action::builder().s3(s3).build(),
    )
    .await
    .unwrap();
    rule(
        "pump01_alerts",
        "SELECT temperature FROM 'fleet/pump-01/#' WHERE temperature > 80",
        Action::builder().lambda(lambda).build(),
    )
    .await
    .unwrap();
    keys(&mut app, &[":", "thing pump-01", "<Enter>"]).await;
    assert!(
        run_until(&mut app, SETTLE, |app| matches!(
            app.state.fleet.thing_rules.get("pump-01"),
            Some(Load::Ready(rules)) if rules.len() == 2
        ))
        .await,
        "{:?}",
        app.state.fleet.thing_rules.get("pump-01")
    );
    for (width, height) in [(80, 24), (120, 40)] {
        app.handle(iotfleet::tui::msg::Msg::Resize { width, height });
        snapshot(
            &format!("thing_rules_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    drop(core);
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one walk through a policy's and a Thing's history, read top to bottom"
)]
async fn h_shows_who_changed_a_policy_and_a_quarantine_as_calls_and_journal_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (core, mut app) =
        console_on_demo_fleet_journaled(None, Some(dir.path().join("journal.jsonl"))).await;
    let sdk = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    // Someone gives the permissive policy to another device's certificate, over the REST API.
    let principals = sdk
        .list_thing_principals()
        .thing_name("pump-02")
        .send()
        .await
        .unwrap();
    let certificate = principals.principals()[0].clone();
    sdk.attach_policy()
        .policy_name("legacy-gateway-admin")
        .target(&certificate)
        .send()
        .await
        .unwrap();
    keys(
        &mut app,
        &[":", "policy legacy-gateway-admin", "<Enter>", "h"],
    )
    .await;
    assert!(
        run_until(&mut app, SETTLE, |app| app
            .state
            .fleet
            .history
            .as_ref()
            .is_some_and(|h| matches!(h.load, Load::Ready(_))))
        .await
    );
    let screen = render(&app, 120, 40);
    let id = certificate.rsplit('/').next().unwrap();
    assert!(
        screen.contains(&format!(
            "cloudtrail AttachPolicy by local-operator ({})",
            core.credentials().access_key_id
        )) && screen.contains(&format!("target=cert/{id}")),
        "the new AttachPolicy, its caller and its certificate: {screen}"
    );
    assert!(
        screen.contains("alice (AKIAALICE)"),
        "the seeded history: {screen}"
    );
    for (width, height) in [(80, 24), (120, 40)] {
        app.handle(iotfleet::tui::msg::Msg::Resize { width, height });
        snapshot(
            &format!("history_{width}x{height}"),
            &render(&app, width, height),
        );
    }
    // A quarantine made here: its calls (under the certificate) and its journal entries.
    keys(
        &mut app,
        &[
            "<Esc>",
            "<Esc>",
            ":",
            "thing camera-04",
            "<Enter>",
            "Q",
            "y",
            "rogue camera",
            "<Enter>",
        ],
    )
    .await;
    assert!(
        run_until(&mut app, SETTLE, |app| app.state.flow.as_ref().is_some_and(
            |q| matches!(q.stage, iotfleet::tui::flows::flow::Stage::Finished(_))
        ))
        .await
    );
    keys(&mut app, &["<Enter>", "h"]).await;
    assert!(
        run_until(&mut app, SETTLE, |app| app
            .state
            .fleet
            .history
            .as_ref()
            .is_some_and(
                |h| h.resource == "camera-04" && matches!(h.load, Load::Ready(_))
            ))
        .await
    );
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("cloudtrail AttachPolicy by local-operator")
            && screen.contains("policyName=iotfleet-quarantine-deny-all"),
        "the quarantine's call: {screen}"
    );
    assert!(
        screen.lines().any(|l| l.contains("journal    quarantine")),
        "the quarantine's journal entry: {screen}"
    );
    // The journal's entry names the same caller as CloudTrail's, and why.
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines
            .windows(2)
            .any(|pair| pair[0].contains("journal    quarantine plan")
                && pair[0].contains("as arn:aws:iam::")
                && pair[1].contains(": rogue camera")),
        "who and why: {screen}"
    );
    drop(core);
}
