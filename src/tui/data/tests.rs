//! What the console reads in the background, through `update`: connectivity for the rows on
//! screen, refusals, violations and quarantines made elsewhere, each asked on time and said once.

use crate::tui::test_support::*;

#[test]
fn throttled_responses_show_for_a_few_seconds() {
    let mut state = loaded(1);
    let now = OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1);
    update(&mut state, Msg::Tick { now, throttled: 2 });
    assert!(state.throttling());
    update(
        &mut state,
        Msg::Tick {
            now: now + time::Duration::seconds(6),
            throttled: 2,
        },
    );
    assert!(!state.throttling());
}

#[test]
fn connectivity_is_asked_for_rows_on_screen_only_again_after_30_s_and_unknown_is_said_once() {
    let mut state = loaded(1000);
    update(
        &mut state,
        Msg::Resize {
            width: 120,
            height: 26,
        },
    );
    let asked: Vec<String> = state
        .fleet
        .connectivity
        .keys()
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(asked, names(0..20), "the 20 rows on screen, not the fleet");

    let unknown = |state: &mut State, thing: &str| {
        update(
            state,
            Msg::Fleet(Box::new(FleetEvent::Connectivity {
                thing: thing.to_owned(),
                result: Err("connectivity unknown: fleet indexing is off".into()),
            })),
        );
    };
    unknown(&mut state, "pump-0000");
    let said = state.message.clone().expect("said").text;
    assert!(said.contains("fleet indexing is off"), "{said}");
    state.message = None;
    unknown(&mut state, "pump-0001");
    assert_eq!(state.message, None, "said once");

    // Ready answers are asked again only once they are 30 s old.
    for thing in names(0..20) {
        update(
            &mut state,
            Msg::Fleet(Box::new(FleetEvent::Connectivity {
                thing,
                result: Ok(crate::fleet::model::Connectivity {
                    connected: true,
                    since: None,
                    disconnect_reason: None,
                }),
            })),
        );
    }
    let tick = |state: &mut State, seconds: i64| {
        update(
            state,
            Msg::Tick {
                now: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds),
                throttled: 0,
            },
        )
    };
    let again = |effects: &[Effect]| {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Request(Request::LoadConnectivity(_))))
            .count()
    };
    assert_eq!(
        again(&tick(&mut state, 10)),
        0,
        "a failure is not asked again at once"
    );
    assert_eq!(again(&tick(&mut state, 31)), 20);
    assert_eq!(again(&tick(&mut state, 32)), 0, "already being asked");
}

#[test]
fn a_lifecycle_event_on_live_traffic_updates_the_things_connectivity() {
    let mut state = loaded(3);
    let event = |topic: &str, payload: &str| {
        Msg::Traffic(crate::fleet::traffic::TrafficEvent::Message(
            crate::fleet::traffic::TrafficMessage {
                topic: topic.to_owned(),
                payload: bytes::Bytes::from(payload.to_owned()),
                qos: 0,
                retain: false,
                received: OffsetDateTime::UNIX_EPOCH,
            },
        ))
    };
    update(
        &mut state,
        event(
            "$aws/events/presence/disconnected/pump-0001",
            r#"{"clientId":"pump-0001","timestamp":1700000000123,"eventType":"disconnected","disconnectReason":"MQTT_KEEP_ALIVE_TIMEOUT"}"#,
        ),
    );
    let Some((crate::tui::data::Load::Ready(connectivity), _)) =
        state.fleet.connectivity.get("pump-0001")
    else {
        panic!("{:?}", state.fleet.connectivity.get("pump-0001"));
    };
    assert!(!connectivity.connected);
    assert_eq!(
        connectivity.since.map(OffsetDateTime::unix_timestamp),
        Some(1_700_000_000)
    );
    assert_eq!(
        connectivity.disconnect_reason.as_deref(),
        Some("MQTT_KEEP_ALIVE_TIMEOUT")
    );
    // Not a lifecycle topic, or not JSON: nothing changes.
    update(
        &mut state,
        event("$aws/events/presence/connected/pump-0002", "not json"),
    );
    update(&mut state, event("fleet/pump-0002/telemetry", "{}"));
    assert!(!matches!(
        state.fleet.connectivity.get("pump-0002"),
        Some((crate::tui::data::Load::Ready(_), _))
    ));
}

#[test]
fn refusals_are_read_every_half_second_locally_counted_once_and_a_failure_said_once() {
    let mut state = loaded(3);
    let t0 = state.now;
    let tick = |state: &mut State, ms: i64| tick_after(state, t0, ms);
    assert!(
        state.fleet.denied.asking,
        "the first read starts with the console"
    );
    assert_eq!(asks_refusals(&tick(&mut state, 100)), 0, "one at a time");
    let pending = state.pending;
    refusals(
        &mut state,
        Ok(vec![
            log_event("a", 1_000, "pump-0001", "fleet/pump-0002/command"),
            log_event("b", 2_000, "pump-0001", "fleet/pump-0002/command"),
        ]),
    );
    assert_eq!(
        state.pending, pending,
        "background reads are not pending work"
    );
    assert_eq!(state.fleet.denied.count("pump-0001"), Some(2));
    assert_eq!(state.fleet.denied.count("pump-0000"), Some(0));
    assert_eq!(asks_refusals(&tick(&mut state, 400)), 0, "not before 0.5 s");
    assert_eq!(asks_refusals(&tick(&mut state, 600)), 1);
    // The next read goes back over the same events: they are not counted twice.
    refusals(
        &mut state,
        Ok(vec![
            log_event("b", 2_000, "pump-0001", "fleet/pump-0002/command"),
            log_event(
                "c",
                3_000,
                "pump-0002",
                "$aws/things/pump-0000/shadow/update",
            ),
        ]),
    );
    assert_eq!(state.fleet.denied.count("pump-0001"), Some(2));
    assert_eq!(state.fleet.denied.total, 3);
    assert_eq!(
        state.fleet.denied.refusals[0].client_id, "pump-0002",
        "newest first"
    );

    state.message = None;
    let missing = "refusals unknown: CloudWatch Logs has no AWSIotLogsV2 log group";
    assert_eq!(asks_refusals(&tick(&mut state, 1_200)), 1);
    refusals(&mut state, Err(missing.into()));
    assert!(state.message.take().is_some_and(|m| m.text == missing));
    assert_eq!(
        asks_refusals(&tick(&mut state, 2_000)),
        0,
        "a failure waits a minute"
    );
    assert_eq!(asks_refusals(&tick(&mut state, 61_300)), 1);
    refusals(&mut state, Err(missing.into()));
    assert_eq!(state.message, None, "said once");
    // A background failure never hides an error the user has not seen act on (a broken
    // config file, a failed call).
    state.say(Level::Error, "keymap.toml line 3: unknown action");
    refusals(&mut state, Err("refusals unknown: access denied".into()));
    assert_eq!(
        state.message.as_ref().map(|m| m.text.as_str()),
        Some("keymap.toml line 3: unknown action")
    );
    assert_eq!(
        state.fleet.denied.feed,
        crate::tui::data::denied::Feed::Unknown("refusals unknown: access denied".into())
    );
    assert_eq!(
        state.fleet.denied.count("pump-0001"),
        Some(2),
        "what was read stays"
    );
}

#[test]
fn quarantines_made_elsewhere_show_within_a_minute() {
    let mut state = State::new(Backend::Local, false, OffsetDateTime::UNIX_EPOCH);
    start(&mut state);
    let asks = |effects: &[Effect]| {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Request(Request::LoadQuarantined)))
            .count()
    };
    let at = |seconds: i64| Msg::Tick {
        now: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds),
        throttled: 0,
    };
    assert_eq!(asks(&update(&mut state, at(120))), 0, "not while asking");
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Quarantine(
            QuarantineEvent::Quarantined(Ok(Box::default())),
        ))),
    );
    assert_eq!(asks(&update(&mut state, at(150))), 0);
    assert_eq!(
        asks(&update(&mut state, at(181))),
        1,
        "a minute after the answer"
    );
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Quarantine(
            QuarantineEvent::Quarantined(Ok(Box::new(
                crate::fleet::quarantine::register::Statuses {
                    isolated: std::collections::BTreeSet::from(["pump-0001".to_owned()]),
                    ..Default::default()
                },
            ))),
        ))),
    );
    assert!(state.fleet.is_quarantined("pump-0001"));
}

#[test]
fn violations_are_asked_every_second_locally_counted_per_thing_and_unwatched_said_once() {
    let mut state = loaded(3);
    let t0 = state.now;
    let tick = |state: &mut State, ms: i64| tick_after(state, t0, ms);
    assert!(state.fleet.violations.asking, "asked as the console opens");
    assert_eq!(
        state.fleet.violations.count("pump-0001"),
        None,
        "unknown until answered"
    );
    assert_eq!(asks_violations(&tick(&mut state, 100)), 0, "one at a time");
    let pending = state.pending;
    violations(
        &mut state,
        Ok(crate::fleet::violations::Violations {
            profiles: 1,
            active: vec![
                violation("pump-0001", "messages-sent"),
                violation("pump-0001", "auth-failures"),
            ],
        }),
    );
    assert_eq!(
        state.pending, pending,
        "background reads are not pending work"
    );
    assert_eq!(state.fleet.violations.count("pump-0001"), Some(2));
    assert_eq!(state.fleet.violations.count("pump-0000"), Some(0));
    assert_eq!(asks_violations(&tick(&mut state, 900)), 0, "not before 1 s");
    assert_eq!(asks_violations(&tick(&mut state, 1100)), 1);
    // Cleared: the next answer holds none.
    violations(
        &mut state,
        Ok(crate::fleet::violations::Violations {
            profiles: 1,
            active: Vec::new(),
        }),
    );
    assert_eq!(state.fleet.violations.count("pump-0001"), Some(0));

    // No profile: nothing is watched, said once, and never "none".
    state.message = None;
    let unwatched = || {
        Ok(crate::fleet::violations::Violations {
            profiles: 0,
            active: Vec::new(),
        })
    };
    violations(&mut state, unwatched());
    assert_eq!(state.fleet.violations.count("pump-0001"), None);
    let said = state.message.take().expect("said").text;
    assert!(said.contains("watches nothing"), "{said}");
    violations(&mut state, unwatched());
    assert!(state.message.is_none(), "said once");
    let screen = crate::tui::responder::lines::lines(&state, crate::tui::state::Report::Violations);
    assert!(
        screen[0].segments[0]
            .text
            .contains("create-security-profile"),
        "{screen:?}"
    );
    // After a failure it asks again a minute later, not every second.
    violations(&mut state, Err("violations unknown: boom".to_owned()));
    assert_eq!(
        state.message.take().expect("said").text,
        "violations unknown: boom"
    );
    assert_eq!(asks_violations(&tick(&mut state, 30_000)), 0);
    assert_eq!(asks_violations(&tick(&mut state, 62_000)), 1);
}

#[test]
fn opening_a_things_screen_asks_its_connectivity_again_once_the_answer_is_5_s_old() {
    let mut state = loaded(3);
    connectivity(&mut state, "pump-0001", false);
    let t0 = state.now;
    let asks = |effects: &[Effect]| {
        effects
            .iter()
            .filter(
                |e| matches!(e, Effect::Request(Request::LoadConnectivity(t)) if t == "pump-0001"),
            )
            .count()
    };
    state.now = t0 + time::Duration::seconds(2);
    let fresh = crate::tui::navigate::follow(
        &mut state,
        crate::tui::state::Link::Thing("pump-0001".into()),
    );
    assert_eq!(asks(&fresh), 0, "a 2 s old answer is shown as it is");
    state.screens.pop();
    state.now = t0 + time::Duration::seconds(6);
    let old = crate::tui::navigate::follow(
        &mut state,
        crate::tui::state::Link::Thing("pump-0001".into()),
    );
    assert_eq!(asks(&old), 1, "a 6 s old answer is asked again on opening");
}
