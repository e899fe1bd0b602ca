//! The traffic screen driven as a user drives it: keys into the real `App`, live MQTT from the
//! local IoT Core's broker and simulator (and mosquitto for what AWS's 128 KiB limit forbids),
//! drawn with ratatui's TestBackend. Hostile payloads are drawn escaped in every pane; a flood
//! far beyond the history budget keeps memory bounded and counts every message.

mod support;

use std::time::Duration;

use support::console::{opened, press, render};

use bytes::Bytes;
use iotfleet::config::files;
use iotfleet::fleet::FleetClient;
use iotfleet::fleet::traffic::{TrafficEvent, TrafficSettings, connect};
use iotfleet::local::simulator::SimulatorOptions;
use iotfleet::local::{LocalCore, LocalOptions};
use iotfleet::tui::state::{Backend, Screen};
use iotfleet::tui::traffic::state::Pane;
use iotfleet::tui::{App, Options};
use support::mosquitto::Mosquitto;
use support::traffic::expect;

const WAIT: Duration = Duration::from_secs(20);

async fn local(simulator: Option<SimulatorOptions>) -> LocalCore {
    LocalCore::start(LocalOptions {
        state_file: None,
        http_port: 0,
        seed: true,
        mqtt_port: Some(0),
        simulator,
        aws_quotas: None,
        detect_speedup: 0,
    })
    .await
    .expect("local core")
}

async fn console(core: &LocalCore, traffic: TrafficSettings, history_budget: Option<usize>) -> App {
    let client = FleetClient::connect(&core.connection_settings())
        .await
        .expect("client");
    let options = Options {
        traffic: Some(Ok(traffic)),
        history_budget,
        journal: Some(std::env::temp_dir().join(format!(
            "iotfleet-test-journal-{}.jsonl",
            std::process::id()
        ))),
        ..Options::new(Backend::Local)
    };
    let loaded = files::load_from(None, None, None, false);
    opened(client, options, loaded, Duration::from_secs(10)).await
}

/// Folds traffic in until `done` holds, failing after `WAIT`.
async fn until(app: &mut App, what: &str, done: impl Fn(&App) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(app) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} within {WAIT:?}"
        );
        app.pump_traffic();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn topic_seen(app: &App, topic: &str) -> bool {
    app.state.traffic.history.topics().contains_key(topic)
}

#[tokio::test]
async fn traffic_shows_the_simulated_fleet_rest_shadow_updates_and_never_the_rogues_denied_publishes()
 {
    let core = local(Some(SimulatorOptions {
        telemetry_every: Duration::from_millis(300),
        ..SimulatorOptions::default()
    }))
    .await;
    let settings = core.mqtt_settings("console-test".into()).unwrap();
    let mut app = console(&core, settings, None).await;
    press(&mut app, &[":", "traffic", "<Enter>"]);
    assert_eq!(app.state.screen(), &Screen::Traffic);
    until(&mut app, "simulator telemetry", |app| {
        topic_seen(app, "fleet/pump-03/telemetry") && topic_seen(app, "fleet/camera-04/telemetry")
    })
    .await;

    let config = support::Target::local(&core).sdk_config().await;
    aws_sdk_iotdataplane::Client::new(&config)
        .update_thing_shadow()
        .thing_name("pump-05")
        .payload(aws_smithy_types::Blob::new(
            r#"{"state":{"desired":{"speed":40}}}"#,
        ))
        .send()
        .await
        .unwrap();
    until(&mut app, "the shadow update on MQTT", |app| {
        topic_seen(app, "$aws/things/pump-05/shadow/update/accepted")
            && topic_seen(app, "$aws/things/pump-05/shadow/update/documents")
    })
    .await;
    // The rogue probes another device's topic every 3 s; none of it may arrive.
    let probes_tried = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < probes_tried {
        app.pump_traffic();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!topic_seen(&app, "fleet/pump-01/command"));

    // pump-05's messages, searched for: the rest of the fleet (the rogue sends 20 a second) can
    // push them out of the newest-first pane, and presence topics out of the tree's rows.
    press(&mut app, &["/", "pump-05", "<Enter>"]);
    let screen = render(&app, 120, 40);
    for expected in [
        "# ✓q1",
        "$aws/things/+/shadow/# ✓q1",
        "$aws/events/presence/# ✓q1",
        "all topics",
        "pump-05",
        "shadow",
    ] {
        assert!(screen.contains(expected), "{expected} missing:\n{screen}");
    }
    // The same screen fits 80x24.
    let small = render(&app, 80, 24);
    assert!(small.contains("all topics"), "{small}");
}

#[tokio::test]
async fn from_a_thing_one_key_opens_its_topics_and_shadow() {
    let core = local(Some(SimulatorOptions {
        telemetry_every: Duration::from_millis(200),
        ..SimulatorOptions::default()
    }))
    .await;
    let settings = core.mqtt_settings("console-thing".into()).unwrap();
    let mut app = console(&core, settings, None).await;
    press(&mut app, &["/", "pump-07", "<Enter>", "t"]);
    let filters: Vec<&str> = app
        .state
        .traffic
        .subscriptions
        .iter()
        .map(|s| s.filter.as_str())
        .collect();
    assert_eq!(filters, ["+/pump-07/#", "$aws/things/pump-07/shadow/#"]);
    until(&mut app, "pump-07's telemetry", |app| {
        topic_seen(app, "fleet/pump-07/telemetry")
    })
    .await;
    assert!(
        app.state
            .traffic
            .history
            .topics()
            .keys()
            .all(|topic| topic.contains("pump-07")),
        "{:?}",
        app.state
            .traffic
            .history
            .topics()
            .keys()
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_bad_filter_keeps_the_text_and_publish_asks_first_and_is_refused_read_only() {
    let core = local(None).await;
    let settings = core.mqtt_settings("console-prompts".into()).unwrap();
    let mut app = console(&core, settings, None).await;
    press(
        &mut app,
        &[":", "traffic", "<Enter>", "a", "a/#/b", "<Enter>"],
    );
    let input = app.state.input.as_ref().expect("the prompt stays open");
    assert_eq!(input.text, "a/#/b");
    assert!(
        app.state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains('#')),
        "{:?}",
        app.state.message
    );
    press(&mut app, &["<Esc>"]);

    press(&mut app, &["p", "fleet/pump-01/command go", "<Enter>"]);
    assert!(app.state.flow.is_some(), "publishing waits for a yes");
    press(&mut app, &["n"]);
    assert!(app.state.flow.is_none());

    app.state.read_only = true;
    press(&mut app, &["p"]);
    assert!(app.state.input.is_none());
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
async fn hostile_payloads_are_drawn_escaped_in_every_pane() {
    let core = local(None).await;
    let settings = core.mqtt_settings("console-hostile".into()).unwrap();
    let mut app = console(&core, settings.clone(), None).await;
    press(&mut app, &[":", "traffic", "<Enter>"]);
    until(&mut app, "the subscription", |app| {
        app.state
            .traffic
            .subscriptions
            .iter()
            .all(|s| s.granted != iotfleet::tui::traffic::state::Granted::Pending)
    })
    .await;
    let mut sender = settings;
    sender.client_id = "hostile-sender".into();
    let (handle, mut events) = connect(&sender, 10).unwrap();
    expect(&mut events, "a connection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    let hostile =
        "\u{1b}[2J\u{1b}]52;c;aGVsbG8=\u{7}\u{1b}]0;pwned\u{7}\u{7}{\"k\":\"\u{1b}[31mred\"}";
    handle
        .publish("fleet/hostile/x", Bytes::from(hostile), 1, false)
        .unwrap();
    let json = "{\"note\":\"\u{1b}]0;title\u{7}\"}";
    handle
        .publish("fleet/hostile/json", Bytes::from(json), 1, false)
        .unwrap();
    until(&mut app, "the hostile payloads", |app| {
        topic_seen(app, "fleet/hostile/x") && topic_seen(app, "fleet/hostile/json")
    })
    .await;
    let clean = |screen: &str| {
        !screen.contains('\u{1b}') && !screen.contains('\u{7}') && !screen.contains('\u{9b}')
    };
    // Messages pane, then each payload as text, JSON and hex.
    press(&mut app, &["<Tab>"]);
    assert_eq!(app.state.traffic.pane, Pane::Messages);
    for keys in [&[][..], &["j"][..], &["x"][..], &["k"][..]] {
        press(&mut app, keys);
        let screen = render(&app, 120, 40);
        assert!(
            clean(&screen),
            "raw control characters reached the screen:\n{screen}"
        );
        assert!(screen.contains("\\x1b"), "{screen}");
    }
}

#[tokio::test]
async fn a_one_mib_and_a_binary_payload_are_shown_cut_and_in_hex() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let core = LocalCore::start(LocalOptions {
        seed: true,
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    let settings = TrafficSettings::from_url(
        &broker.url(),
        Some(broker.identity("operator")),
        "console-big".into(),
        None,
    )
    .unwrap();
    let mut app = console(&core, settings.clone(), None).await;
    press(&mut app, &[":", "traffic", "<Enter>"]);
    let mut sender = settings;
    sender.client_id = "big-sender".into();
    let (handle, mut events) = connect(&sender, 10).unwrap();
    expect(&mut events, "a connection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    until(&mut app, "the subscription", |app| {
        app.state.traffic.subscriptions[0].granted
            != iotfleet::tui::traffic::state::Granted::Pending
    })
    .await;
    handle
        .publish("big/one", Bytes::from(vec![b'a'; 1024 * 1024]), 1, false)
        .unwrap();
    let binary: Vec<u8> = (0..=255u8).collect();
    handle
        .publish("big/binary", Bytes::from(binary), 1, false)
        .unwrap();
    until(&mut app, "both payloads", |app| {
        topic_seen(app, "big/one") && topic_seen(app, "big/binary")
    })
    .await;
    press(&mut app, &["<Tab>"]);
    let newest = render(&app, 120, 40);
    assert!(newest.contains("256 bytes"), "{newest}");
    assert!(
        newest.contains("00000000  00 01 02 03"),
        "binary is shown in hex:\n{newest}"
    );
    press(&mut app, &["j"]);
    let big = render(&app, 120, 40);
    assert!(
        big.contains("1048576 bytes, first 65536 kept"),
        "size and cut shown:\n{big}"
    );
    assert_eq!(app.state.traffic.history.truncated(), 1);
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_flood_ten_times_the_budget_stays_in_memory_and_every_message_is_counted() {
    const BUDGET: usize = 4 * 1024 * 1024;
    const MESSAGES: usize = 10_000;
    const SIZE: usize = 4 * 1024; // 10_000 × 4 KiB = 40 MiB: ten budgets.
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let core = LocalCore::start(LocalOptions {
        seed: false,
        ..LocalOptions::default()
    })
    .await
    .unwrap();
    let settings = TrafficSettings::from_url(
        &broker.url(),
        Some(broker.identity("operator")),
        "console-flood".into(),
        None,
    )
    .unwrap();
    let mut app = console(&core, settings.clone(), Some(BUDGET)).await;
    press(&mut app, &[":", "traffic", "<Enter>"]);
    // Only the flood: the default filters are removed through the unsubscribe prompt.
    for filter in iotfleet::tui::traffic::DEFAULT_FILTERS {
        press(&mut app, &["d", "<C-u>", filter, "<Enter>"]);
    }
    press(&mut app, &["a", "flood/#", "<Enter>"]);
    until(&mut app, "the flood subscription", |app| {
        app.state.traffic.subscriptions.len() == 1
            && app.state.traffic.subscriptions[0].granted
                != iotfleet::tui::traffic::state::Granted::Pending
    })
    .await;
    let before = rss_bytes();
    let mut sender = settings;
    sender.client_id = "flood-sender".into();
    let (handle, mut events) = connect(&sender, 10).unwrap();
    expect(&mut events, "a connection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    let payload = Bytes::from(vec![b'x'; SIZE]);
    let mut peak = before;
    for n in 0..MESSAGES {
        // QoS 1 so the broker delivers every one; the console is the only slow party.
        handle
            .publish(&format!("flood/{}", n % 100), payload.clone(), 1, false)
            .unwrap();
        if n % 500 == 0 {
            app.pump_traffic();
            peak = peak.max(rss_bytes());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = &app.state.traffic;
        let (received, dropped) = (view.history.received(), view.dropped);
        if received + dropped >= MESSAGES as u64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after {WAIT:?}: {received} received and {dropped} dropped of {MESSAGES}"
        );
        app.pump_traffic();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    peak = peak.max(rss_bytes());
    let view = &app.state.traffic;
    // Exact accounting: every message kept, evicted or dropped, none twice.
    assert_eq!(view.history.received() + view.dropped, MESSAGES as u64);
    assert_eq!(
        view.history.evicted() + view.history.messages().len() as u64,
        view.history.received()
    );
    assert!(view.history.used() <= BUDGET);
    assert!(view.history.evicted() > 0, "the flood went past the budget");
    // Memory: the budget, plus a fixed allowance for queues and allocator slack.
    let growth = peak.saturating_sub(before);
    assert!(
        growth < BUDGET + 24 * 1024 * 1024,
        "RSS grew by {} MiB for a {} MiB budget",
        growth / (1024 * 1024),
        BUDGET / (1024 * 1024)
    );
}

#[tokio::test]
async fn a_json_path_shows_one_value_of_each_payload() {
    let core = local(None).await;
    let settings = core.mqtt_settings("console-path".into()).unwrap();
    let mut app = console(&core, settings.clone(), None).await;
    press(&mut app, &[":", "traffic", "<Enter>"]);
    until(&mut app, "the subscriptions", |app| {
        app.state
            .traffic
            .subscriptions
            .iter()
            .all(|s| s.granted != iotfleet::tui::traffic::state::Granted::Pending)
    })
    .await;
    let mut sender = settings;
    sender.client_id = "path-sender".into();
    let (handle, mut events) = connect(&sender, 10).unwrap();
    expect(&mut events, "a connection", |e| {
        matches!(e, TrafficEvent::Connected).then_some(())
    })
    .await;
    handle
        .publish(
            "fleet/pump-09/telemetry",
            Bytes::from(r#"{"seq":7,"reading":{"speed":4321,"pressure_bar":3.2}}"#),
            1,
            false,
        )
        .unwrap();
    until(&mut app, "the telemetry", |app| {
        topic_seen(app, "fleet/pump-09/telemetry")
    })
    .await;
    press(&mut app, &["J", "reading[x]", "<Enter>"]);
    assert!(
        app.state.input.is_some(),
        "a bad path keeps the prompt open"
    );
    press(&mut app, &["<C-u>", "reading.speed", "<Enter>"]);
    assert!(app.state.input.is_none());
    assert_eq!(app.state.traffic.json_path, "reading.speed");
    let screen = render(&app, 120, 40);
    assert!(screen.contains("fleet/pump-09/telemetry  4321"), "{screen}");
    assert!(
        !screen.contains("pressure_bar"),
        "only the value at the path: {screen}"
    );
}
