//! The audit screen and the effective-permissions panel driven as a user drives them, on the
//! seeded local fleet: `:audit` groups the planted findings by severity with counts in the status
//! bar, `/` filters them, Enter opens the object; a Thing's screen says what it may do on its own
//! topics, and `w` asks about any topic.

mod support;

use support::console::{SETTLE, keys, opened, render};

use iotfleet::config::files;
use iotfleet::fleet::FleetClient;
use iotfleet::local::{LocalCore, LocalOptions};
use iotfleet::tui::data::Load;
use iotfleet::tui::state::{Backend, Report, Screen};
use iotfleet::tui::{App, Options};

async fn console(journal: &std::path::Path) -> (LocalCore, App) {
    console_as(journal, Backend::Local).await
}

/// `backend` is what the console believes it talks to: `Backend::Aws` makes it ask AWS's
/// TestAuthorization too (answered here by the local core, which implements it).
async fn console_as(journal: &std::path::Path, backend: Backend) -> (LocalCore, App) {
    let core = LocalCore::start(LocalOptions {
        seed: true,
        ..LocalOptions::default()
    })
    .await
    .expect("local core");
    let client = FleetClient::connect(&core.connection_settings())
        .await
        .expect("client");
    let options = Options {
        journal: Some(journal.to_path_buf()),
        ..Options::new(backend)
    };
    let loaded = files::load_from(None, None, None, false);
    let app = opened(client, options, loaded, SETTLE).await;
    (core, app)
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        filters => vec![
            // Each local fleet has an account id of its own.
            (r"\b\d{12}\b", "[account]"),
            (r"AKIA[A-Z2-7]{9,16}", "AKIA[key]"),
            (r"[0-9a-f]{12}…", "############…"),
            (r"[0-9a-f]{16}", "################"),
            (r"\d{4}-\d{2}-\d{2}", "[date]"),
            (r"\d{2}:\d{2}:\d{2}", "[time]"),
            (r"in \d+ days\)", "in N days)"),
        ],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[tokio::test]
async fn the_audit_screen_groups_filters_and_opens_what_a_finding_names() {
    let dir = tempfile::tempdir().unwrap();
    let (_core, mut app) = console(&dir.path().join("journal.jsonl")).await;
    keys(&mut app, &[":", "audit", "<Enter>"]).await;
    assert!(matches!(
        app.state.screen(),
        Screen::Report {
            report: Report::Audit,
            ..
        }
    ));
    let Some(Load::Ready(report)) = &app.state.fleet.audit else {
        panic!("{:?}", app.state.fleet.audit);
    };
    assert_eq!(report.findings.len(), 9);
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("audit 2 critical 1 high 5 medium 1 low"),
        "counts in the status bar:\n{screen}"
    );
    snapshot("audit_120x40", &screen);
    snapshot("audit_80x24", &render(&app, 80, 24));

    keys(&mut app, &["/", "pump-14", "<Enter>"]).await;
    let screen = render(&app, 120, 40);
    assert!(screen.contains("Audit (1 of 9) /pump-14"), "{screen}");
    assert!(
        screen.contains("INACTIVE but still attached to pump-14"),
        "{screen}"
    );
    keys(&mut app, &["<Enter>"]).await;
    let Screen::Certificate { id, .. } = app.state.screen().clone() else {
        panic!("Enter opens the certificate: {:?}", app.state.screen());
    };
    let things = app
        .state
        .fleet
        .certificate_reports
        .get(&id)
        .and_then(|r| match r {
            Load::Ready(report) => Some(report.things.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert_eq!(things, ["pump-14"]);
}

#[tokio::test]
async fn a_things_screen_says_what_it_may_do_and_w_asks_about_any_topic() {
    let dir = tempfile::tempdir().unwrap();
    let (_core, mut app) = console(&dir.path().join("journal.jsonl")).await;
    keys(&mut app, &[":", "thing pump-07", "<Enter>"]).await;
    let screen = render(&app, 120, 40);
    for expected in [
        "✓ connect   pump-07",
        "✓ publish   fleet/pump-07/telemetry                      pump-device statement 2",
        "✗ publish   $aws/things/pump-07/jobs/get                 implicit deny",
    ] {
        assert!(screen.contains(expected), "{expected} missing:\n{screen}");
    }
    // A bad action keeps the line with the reason; a good question is answered.
    keys(&mut app, &["w", "<C-u>", "write x", "<Enter>"]).await;
    assert!(app.state.input.is_some(), "the typed text stays");
    assert!(
        app.state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("unknown action 'write'")),
        "{:?}",
        app.state.message
    );
    keys(
        &mut app,
        &["<C-u>", "publish fleet/pump-08/telemetry", "<Enter>"],
    )
    .await;
    assert!(app.state.input.is_none());
    let answers = &app.state.asked["pump-07"];
    assert!(!answers[0].allowed, "another device's topic: {answers:?}");
    snapshot("effective_permissions_120x40", &render(&app, 120, 40));

    // The permissive gateway may subscribe to everything; the panel names the statement.
    keys(
        &mut app,
        &[
            "<Esc>",
            ":",
            "thing gateway-03",
            "<Enter>",
            "w",
            "<C-u>",
            "subscribe #",
            "<Enter>",
        ],
    )
    .await;
    let answers = &app.state.asked["gateway-03"];
    assert!(answers[0].allowed, "{answers:?}");
    assert!(render(&app, 120, 40).contains("legacy-gateway-admin statement 1"));
}

#[tokio::test]
async fn on_aws_the_answer_of_test_authorization_is_set_beside_the_local_one() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Aws {
        region: "us-east-1".into(),
        profile: None,
        endpoint: None,
    };
    let (_core, mut app) = console_as(&dir.path().join("journal.jsonl"), backend).await;
    keys(
        &mut app,
        &[
            ":",
            "thing pump-07",
            "<Enter>",
            "w",
            "<C-u>",
            "publish fleet/pump-08/telemetry",
            "<Enter>",
        ],
    )
    .await;
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("AWS TestAuthorization agrees: IMPLICIT_DENY"),
        "{screen}"
    );
    assert!(!screen.contains("DISAGREEMENT"), "{screen}");
}
