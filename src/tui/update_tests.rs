//! `update` driven as the console drives it: messages in, state and effects out.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::fleet::model::{ThingPage, ThingSummary};
use crate::tui::action::Action;
use crate::tui::data::ListKind;
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, FleetEvent, Msg, QuarantineEvent, Request};
use crate::tui::state::{Backend, Screen, State};
use crate::tui::things::list::list_view;
use crate::tui::update::{start, update};

fn thing(name: &str) -> ThingSummary {
    ThingSummary {
        name: name.to_owned(),
        arn: format!("arn:aws:iot:us-east-1:1:thing/{name}"),
        thing_type: Some("pump".into()),
        attributes: BTreeMap::from([("site".into(), "plant-2".into())]).into(),
        version: 1,
    }
}

fn page(generation: u64, names: &[String], more: bool) -> Msg {
    let things = names.iter().map(|n| thing(n)).collect();
    Msg::Fleet(Box::new(FleetEvent::ThingsPage {
        generation,
        result: Ok(ThingPage { things, more }),
    }))
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("pump-{i:04}")).collect()
}

fn loaded(count: usize) -> State {
    let mut state = State::new(Backend::Local, false, OffsetDateTime::UNIX_EPOCH);
    start(&mut state);
    update(&mut state, page(0, &names(0..count), false));
    state
}

fn rows(state: &State) -> Vec<String> {
    let (kind, view) = list_view(state).expect("a list");
    assert_eq!(kind, ListKind::Things);
    view.rows
        .iter()
        .map(|i| state.fleet.things.items.at(*i as usize).name().to_owned())
        .collect()
}

#[test]
fn pages_accumulate_and_pending_ends_with_the_last_page() {
    let mut state = State::new(Backend::Local, false, OffsetDateTime::UNIX_EPOCH);
    assert_eq!(
        start(&mut state),
        [
            Effect::Request(Request::ListThings { generation: 0 }),
            Effect::Request(Request::LoadQuarantined),
            // Refusals are read from an hour back, and Detect's violations asked, in the
            // background (not pending).
            Effect::Request(Request::LoadRefusals {
                start_ms: -3_600_000
            }),
            Effect::Request(Request::LoadViolations),
        ]
    );
    assert_eq!(state.pending, 2);
    update(&mut state, page(0, &names(0..250), true));
    assert!(state.fleet.things.loading);
    assert_eq!(state.fleet.things.items.len(), 250);
    assert!(
        state.pending > 1,
        "the listing and the rows' principals are in flight"
    );
    update(&mut state, page(0, &names(250..300), false));
    assert!(!state.fleet.things.loading);
    assert_eq!(rows(&state).len(), 300);
}

#[test]
fn pages_of_an_older_listing_are_ignored_after_a_refresh() {
    let mut state = loaded(10);
    let effects = update(&mut state, Msg::Action(Action::Refresh));
    assert_eq!(
        effects,
        [
            Effect::Request(Request::ListThings { generation: 1 }),
            Effect::Request(Request::LoadQuarantined)
        ]
    );
    update(&mut state, page(0, &names(0..5), false));
    assert!(
        state.fleet.things.items.is_empty(),
        "a stale page changes nothing"
    );
    update(&mut state, page(1, &names(0..3), false));
    assert_eq!(state.fleet.things.items.len(), 3);
}

#[test]
fn only_rows_on_screen_load_their_principals() {
    let mut state = State::new(Backend::Local, false, OffsetDateTime::UNIX_EPOCH);
    update(
        &mut state,
        Msg::Resize {
            width: 120,
            height: 26,
        },
    );
    start(&mut state);
    let effects = update(&mut state, page(0, &names(0..1000), false));
    let loads = effects
        .iter()
        .filter(|e| matches!(e, Effect::Request(Request::LoadPrincipals(_))))
        .count();
    assert_eq!(loads, 20, "one per visible row, not one per Thing");
    let effects = update(&mut state, Msg::Action(Action::Down));
    assert!(
        effects.is_empty(),
        "moving within the page asks for nothing"
    );
    let effects = update(&mut state, Msg::Action(Action::PageDown));
    let loads: Vec<&Effect> = effects
        .iter()
        .filter(|e| matches!(e, Effect::Request(Request::LoadPrincipals(_))))
        .collect();
    assert_eq!(
        loads,
        [
            &Effect::Request(Request::LoadPrincipals("pump-0020".into())),
            &Effect::Request(Request::LoadPrincipals("pump-0021".into()))
        ],
        "only the rows scrolled into view"
    );
}

#[test]
fn filter_narrows_as_you_type_and_cancel_restores() {
    let mut state = loaded(120);
    update(&mut state, Msg::Action(Action::Filter));
    for c in "pump-011".chars() {
        update(&mut state, Msg::Typed(c));
    }
    assert_eq!(rows(&state)[0], "pump-0110", "{:?}", rows(&state));
    assert!(rows(&state).len() < 120);
    update(&mut state, Msg::Action(Action::Cancel));
    assert_eq!(
        rows(&state).len(),
        120,
        "cancel restores the filter from before"
    );
    assert!(state.input.is_none());
}

#[test]
fn esc_goes_back_then_clears_the_filter() {
    let mut state = loaded(5);
    update(&mut state, Msg::Action(Action::Filter));
    update(&mut state, Msg::Typed('3'));
    update(&mut state, Msg::Action(Action::Confirm));
    assert_eq!(rows(&state), ["pump-0003"]);
    let effects = update(&mut state, Msg::Action(Action::Open));
    assert!(effects.contains(&Effect::Request(Request::LoadThingReport(
        "pump-0003".into()
    ))));
    assert!(matches!(state.screen(), Screen::Thing { name, .. } if name == "pump-0003"));
    update(&mut state, Msg::Action(Action::Back));
    assert_eq!(
        rows(&state),
        ["pump-0003"],
        "back returns to the filtered list"
    );
    update(&mut state, Msg::Action(Action::Back));
    assert_eq!(rows(&state).len(), 5);
}

#[test]
fn an_unknown_command_keeps_the_typed_text_and_says_what_works() {
    let mut state = loaded(1);
    update(&mut state, Msg::Action(Action::Command));
    for c in "thingz x".chars() {
        update(&mut state, Msg::Typed(c));
    }
    update(&mut state, Msg::Action(Action::Confirm));
    assert_eq!(
        state.input.as_ref().map(|i| i.text.as_str()),
        Some("thingz x")
    );
    let message = state.message.clone().expect("an error");
    assert_eq!(message.level, Level::Error);
    assert!(message.text.contains("try things"), "{}", message.text);
}

#[test]
fn tab_completes_commands_and_names() {
    let mut state = loaded(3);
    update(&mut state, Msg::Action(Action::Command));
    for c in "thi".chars() {
        update(&mut state, Msg::Typed(c));
    }
    update(&mut state, Msg::Action(Action::Complete));
    assert_eq!(
        state.input.as_ref().unwrap().text,
        "thing",
        "things and thing share the prefix"
    );
    update(&mut state, Msg::Typed(' '));
    update(&mut state, Msg::Typed('p'));
    update(&mut state, Msg::Action(Action::Complete));
    assert_eq!(state.input.as_ref().unwrap().text, "thing pump-000");
}

#[test]
fn copy_takes_the_selected_arn() {
    let mut state = loaded(3);
    update(&mut state, Msg::Action(Action::Down));
    let effects = update(&mut state, Msg::Action(Action::Copy));
    assert_eq!(
        effects,
        [Effect::Copy(
            "arn:aws:iot:us-east-1:1:thing/pump-0001".into()
        )]
    );
}

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
fn a_failed_listing_is_shown_with_its_message() {
    let mut state = State::new(Backend::Local, false, OffsetDateTime::UNIX_EPOCH);
    start(&mut state);
    let error = "access denied: the caller may not perform iot:ListThings".to_owned();
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::ThingsPage {
            generation: 0,
            result: Err(error.clone()),
        })),
    );
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Quarantine(
            QuarantineEvent::Quarantined(Ok(Box::default())),
        ))),
    );
    assert_eq!(state.pending, 0);
    assert_eq!(state.message.as_ref().map(|m| m.text.clone()), Some(error));
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

fn log_event(id: &str, ms: i64, client: &str, topic: &str) -> crate::fleet::denied::LogEvent {
    crate::fleet::denied::LogEvent {
        id: id.to_owned(),
        timestamp_ms: ms,
        message: serde_json::json!({"status": "Failure", "eventType": "Publish-In",
            "clientId": client, "topicName": topic, "reason": "AUTHORIZATION_FAILURE"})
        .to_string(),
    }
}

fn refusals(state: &mut State, result: Result<Vec<crate::fleet::denied::LogEvent>, String>) {
    update(state, Msg::Fleet(Box::new(FleetEvent::Refusals(result))));
}

/// A tick `ms` after `t0`.
fn tick_after(state: &mut State, t0: OffsetDateTime, ms: i64) -> Vec<Effect> {
    update(
        state,
        Msg::Tick {
            now: t0 + time::Duration::milliseconds(ms),
            throttled: 0,
        },
    )
}

fn asks_refusals(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Request(Request::LoadRefusals { .. })))
        .count()
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
fn the_denied_screen_filters_and_enter_opens_the_thing() {
    let mut state = loaded(3);
    refusals(
        &mut state,
        Ok(vec![
            log_event("a", 1_000, "pump-0001", "fleet/pump-0002/command"),
            log_event("b", 2_000, "pump-0002", "fleet/pump-0000/command"),
            log_event("c", 3_000, "pump-0001", "fleet/pump-0000/command"),
        ]),
    );
    for c in ":denied".chars() {
        let msg = if c == ':' {
            Msg::Action(Action::Command)
        } else {
            Msg::Typed(c)
        };
        update(&mut state, msg);
    }
    update(&mut state, Msg::Action(Action::Confirm));
    assert!(matches!(
        state.screen(),
        Screen::Report {
            report: crate::tui::state::Report::Denied,
            ..
        }
    ));
    let lines = crate::tui::responder::lines::lines(&state, crate::tui::state::Report::Denied);
    let text: Vec<String> = lines
        .iter()
        .map(|l| l.segments.iter().map(|s| s.text.as_str()).collect())
        .collect();
    let most = text
        .iter()
        .position(|l| l.contains("Most refused"))
        .unwrap();
    assert!(
        text[most + 1].contains("pump-0001") && text[most + 1].contains('2'),
        "{text:#?}"
    );
    update(&mut state, Msg::Action(Action::Filter));
    for c in "pump-0002".chars() {
        update(&mut state, Msg::Typed(c));
    }
    update(&mut state, Msg::Action(Action::Confirm));
    let shown = crate::tui::responder::lines::lines(&state, crate::tui::state::Report::Denied);
    let targets: Vec<_> = shown.iter().filter_map(|l| l.link.clone()).collect();
    // The client pump-0002 (its count and its refusal) and the refusal on pump-0002's topic.
    assert_eq!(
        targets,
        [
            crate::tui::state::Link::Thing("pump-0002".into()),
            crate::tui::state::Link::Thing("pump-0002".into()),
            crate::tui::state::Link::Thing("pump-0001".into()),
        ]
    );
    update(&mut state, Msg::Action(Action::Down));
    update(&mut state, Msg::Action(Action::Down));
    let effects = update(&mut state, Msg::Action(Action::Open));
    assert!(matches!(state.screen(), Screen::Thing { name, .. } if name == "pump-0001"));
    assert!(effects.contains(&Effect::Request(Request::LoadThingReport(
        "pump-0001".into()
    ))));
}

fn connectivity(state: &mut State, thing: &str, connected: bool) {
    update(
        state,
        Msg::Fleet(Box::new(FleetEvent::Connectivity {
            thing: thing.to_owned(),
            result: Ok(crate::fleet::model::Connectivity {
                connected,
                since: Some(OffsetDateTime::UNIX_EPOCH),
                disconnect_reason: None,
            }),
        })),
    );
}

fn type_filter(state: &mut State, text: &str) {
    update(state, Msg::Action(Action::Filter));
    update(state, Msg::ClearInput);
    typed(state, text);
    update(state, Msg::Action(Action::Confirm));
}

#[test]
fn status_words_filter_what_is_known_and_s_sorts_by_status() {
    let mut state = loaded(5);
    connectivity(&mut state, "pump-0001", true);
    connectivity(&mut state, "pump-0002", false);
    state.fleet.quarantined.insert("pump-0003".to_owned());
    refusals(
        &mut state,
        Ok(vec![log_event(
            "a",
            1,
            "pump-0004",
            "fleet/pump-0000/command",
        )]),
    );
    type_filter(&mut state, "offline");
    assert_eq!(rows(&state), ["pump-0002"]);
    let (_, view) = list_view(&state).unwrap();
    assert_eq!(view.status_known, Some(2), "known for the two asked");
    type_filter(&mut state, "quarantined");
    assert_eq!(rows(&state), ["pump-0003"]);
    assert_eq!(
        list_view(&state).unwrap().1.status_known,
        None,
        "known fleet-wide"
    );
    type_filter(&mut state, "denied");
    assert_eq!(rows(&state), ["pump-0004"]);
    // A status word and text: both must hold.
    type_filter(&mut state, "online qqq");
    assert!(rows(&state).is_empty());
    type_filter(&mut state, "online 0001");
    assert_eq!(rows(&state), ["pump-0001"]);

    // Statuses that arrive later move the rows at the next tick.
    type_filter(&mut state, "offline");
    connectivity(&mut state, "pump-0000", false);
    assert_eq!(rows(&state), ["pump-0002"], "not before the tick");
    update(
        &mut state,
        Msg::Tick {
            now: OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1),
            throttled: 0,
        },
    );
    assert_eq!(rows(&state), ["pump-0000", "pump-0002"]);

    type_filter(&mut state, "");
    for _ in 0..3 {
        update(&mut state, Msg::Action(Action::Sort));
    }
    assert_eq!(
        list_view(&state).unwrap().1.sort,
        crate::tui::state::Sort::Status
    );
    assert_eq!(
        rows(&state),
        [
            "pump-0003",
            "pump-0004",
            "pump-0000",
            "pump-0002",
            "pump-0001"
        ],
        "quarantined, refused, offline, online"
    );
    update(&mut state, Msg::Action(Action::Sort));
    update(&mut state, Msg::Action(Action::Sort));
    assert_eq!(
        list_view(&state).unwrap().1.sort,
        crate::tui::state::Sort::LastSeen
    );
    assert_eq!(rows(&state)[0], "pump-0001", "online is seen now");
}

#[test]
fn the_topic_tree_sorts_busiest_first_and_top_talkers_name_the_noisiest_thing() {
    let mut state = loaded(3);
    let now = OffsetDateTime::from_unix_timestamp(1_000).unwrap();
    update(&mut state, Msg::Tick { now, throttled: 0 });
    let message = |topic: &str, at: i64| {
        Msg::Traffic(crate::fleet::traffic::TrafficEvent::Message(
            crate::fleet::traffic::TrafficMessage {
                topic: topic.to_owned(),
                payload: bytes::Bytes::from_static(b"{}"),
                qos: 0,
                retain: false,
                received: OffsetDateTime::from_unix_timestamp(at).unwrap(),
            },
        ))
    };
    // pump-0000 spoke much, but long ago; pump-0002 is the busiest of the last minute.
    for _ in 0..50 {
        update(&mut state, message("fleet/pump-0000/telemetry", 100));
    }
    for at in 990..1_000 {
        update(&mut state, message("fleet/pump-0002/telemetry", at));
        update(
            &mut state,
            message("$aws/things/pump-0001/shadow/update", at),
        );
    }
    update(&mut state, message("fleet/pump-0001/telemetry", 999));
    update(&mut state, message("other/unknown-device/x", 999));
    update(&mut state, Msg::Action(Action::Traffic));
    let order = |state: &State| -> Vec<String> {
        state
            .traffic
            .tree(state.now)
            .into_iter()
            .map(|row| row.path)
            .collect()
    };
    assert_eq!(
        order(&state)[1..3],
        ["$aws".to_owned(), "$aws/things".to_owned()]
    );
    update(&mut state, Msg::Action(Action::Sort));
    assert!(state.traffic.by_rate);
    let tree = state.traffic.tree(state.now);
    let paths: Vec<&str> = tree.iter().map(|row| row.path.as_str()).collect();
    assert_eq!(
        paths[1..7],
        [
            "fleet",
            "fleet/pump-0002",
            "fleet/pump-0002/telemetry",
            "fleet/pump-0001",
            "fleet/pump-0001/telemetry",
            "fleet/pump-0000",
        ],
        "busiest of the last minute first (11, 10, 1, then 0 a minute), not busiest ever"
    );
    assert_eq!((tree[1].minute, tree[1].count), (11, 61));
    update(&mut state, Msg::Tick { now, throttled: 0 });
    assert_eq!(
        state.traffic.talkers,
        [("pump-0001".to_owned(), 11), ("pump-0002".to_owned(), 10)],
        "by the Thing a topic names; an unknown device and a quiet minute count for nobody"
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

fn command_line(state: &mut State, text: &str) -> Vec<Effect> {
    update(state, Msg::Action(Action::Command));
    typed(state, text);
    update(state, Msg::Action(Action::Confirm))
}

fn searched(
    state: &mut State,
    query: &str,
    result: Result<Vec<String>, crate::tui::msg::SearchFailure>,
) {
    update(
        state,
        Msg::Fleet(Box::new(FleetEvent::Searched {
            query: query.to_owned(),
            result,
        })),
    );
}

#[test]
fn a_search_shows_its_matches_and_without_an_index_the_filter_stands_in() {
    use crate::tui::msg::SearchFailure;
    let mut state = loaded(20);
    let query = "thingName:pump-000* AND attributes.site:plant-2";
    let effects = command_line(&mut state, &format!("search {query}"));
    assert!(effects.contains(&Effect::Request(Request::Search {
        query: query.to_owned()
    })));
    // Nothing is shown until the index answers.
    assert!(rows(&state).is_empty());
    searched(
        &mut state,
        query,
        Ok(vec!["pump-0003".into(), "pump-0007".into(), "gone".into()]),
    );
    assert_eq!(rows(&state), ["pump-0003", "pump-0007"]);
    assert_eq!(
        state.message.as_ref().unwrap().text,
        format!("3 Things match {query}")
    );
    // Esc goes back to the whole list.
    update(&mut state, Msg::Action(Action::Back));
    assert_eq!(rows(&state).len(), 20);

    // No index: said, and the list filter stands in with the query's first value.
    command_line(&mut state, "search thingName:pump-001*");
    searched(
        &mut state,
        "thingName:pump-001*",
        Err(SearchFailure::NoIndex(
            "fleet search is unavailable: …".into(),
        )),
    );
    // The filter is fuzzy, as `/` is: pump-0001 matches too.
    assert_eq!(rows(&state).len(), 11, "{:?}", rows(&state));
    let message = state.message.clone().unwrap();
    assert_eq!(message.level, Level::Warning);
    assert!(
        message
            .text
            .ends_with("the list is filtered by 'pump-001' instead"),
        "{}",
        message.text
    );

    // A query refused is an error, with where it went wrong.
    command_line(&mut state, "search thingName:(");
    searched(
        &mut state,
        "thingName:(",
        Err(SearchFailure::Invalid(
            "the query is not valid: … (at character 11)".into(),
        )),
    );
    assert!(rows(&state).is_empty());
    assert_eq!(state.message.as_ref().unwrap().level, Level::Error);
}

#[test]
fn marks_are_toggled_added_by_filter_and_cleared() {
    let mut state = loaded(20);
    update(&mut state, Msg::Action(Action::Mark));
    update(&mut state, Msg::Action(Action::Mark));
    assert_eq!(
        state.marked.iter().collect::<Vec<_>>(),
        ["pump-0000", "pump-0001"]
    );
    // Space again on a marked Thing unmarks it.
    update(&mut state, Msg::Action(Action::Up));
    update(&mut state, Msg::Action(Action::Mark));
    assert_eq!(state.marked.iter().collect::<Vec<_>>(), ["pump-0000"]);
    type_filter(&mut state, "pump-001");
    update(&mut state, Msg::Action(Action::MarkAll));
    // The fuzzy filter shows pump-0010 to pump-0019 and pump-0001.
    assert_eq!(state.marked.len(), 12);
    assert_eq!(
        state.message.as_ref().unwrap().text,
        "11 more marked, 12 in all"
    );
    let effects = command_line(&mut state, "mark group line-a");
    assert_eq!(
        effects,
        [Effect::Request(Request::GroupMembers {
            group: "line-a".into()
        })]
    );
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::GroupMembers {
            group: "line-a".into(),
            result: Ok(vec!["pump-0019".into(), "pump-0002".into()]),
        })),
    );
    assert_eq!(state.marked.len(), 13);
    command_line(&mut state, "unmark");
    assert!(state.marked.is_empty());
}

fn bulk_planned(plan: crate::fleet::quarantine::batch::BatchPlan) -> Msg {
    Msg::Fleet(Box::new(FleetEvent::Quarantine(
        QuarantineEvent::BulkPlanned(Ok(Box::new(plan))),
    )))
}

#[test]
fn q_with_marks_plans_one_batch_confirmed_by_typing_its_count() {
    use crate::fleet::quarantine::batch::{BatchPlan, BatchReport, ThingResult};
    use crate::fleet::quarantine::run::Verb;
    use crate::tui::flows::flow::{Outcome, Progress, Stage};
    let mut state = loaded(5);
    update(&mut state, Msg::Action(Action::MarkAll));
    let effects = update(&mut state, Msg::Action(Action::Quarantine));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Request(Request::PlanBulk { verb: Verb::Quarantine, things, .. })] if things.len() == 5
    ));
    // A plan of three to change (two were isolated already).
    let plan = BatchPlan {
        id: "batch-x".into(),
        verb: Verb::Quarantine,
        resumed: false,
        releases: None,
        scope: None,
        things: names(0..5),
        prepared: Vec::new(),
        unchanged: vec!["pump-0003".into(), "pump-0004".into()],
        unplanned: Vec::new(),
        certificates: 3,
        shared_certificates: Vec::new(),
        also_isolated: Vec::new(),
        warnings: Vec::new(),
        calls: BTreeMap::new(),
    };
    // Nothing to change is said, and nothing runs.
    update(&mut state, bulk_planned(plan.clone()));
    assert!(
        matches!(&state.flow.as_ref().unwrap().stage, Stage::Refused(r) if r.starts_with("nothing to quarantine"))
    );
    update(&mut state, Msg::Action(Action::Confirm));
    assert!(state.flow.is_none());

    update(&mut state, Msg::Action(Action::Quarantine));
    let mut with_work = plan;
    let prepared = crate::fleet::quarantine::run::Prepared::for_tests("pump-0000");
    with_work.prepared = vec![prepared.clone(), prepared.clone(), prepared];
    update(&mut state, bulk_planned(with_work));
    // The wrong number does not run it; digits are typed even where 1, 2, 3 are bound.
    typed(&mut state, "2x");
    assert!(update(&mut state, Msg::Action(Action::Confirm)).is_empty());
    assert!(
        state
            .message
            .as_ref()
            .unwrap()
            .text
            .starts_with("type 3 to confirm")
    );
    update(&mut state, Msg::Erase);
    update(&mut state, Msg::Typed('3'));
    // Confirmed, it asks why (typed into every Thing's hold) before it runs.
    assert!(update(&mut state, Msg::Action(Action::Confirm)).is_empty());
    typed(&mut state, "leak");
    let effects = update(&mut state, Msg::Action(Action::Confirm));
    let [Effect::Request(Request::RunBulk { plan, .. })] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(
        plan.prepared
            .iter()
            .all(|p| p.reason.as_deref() == Some("leak"))
    );
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Quarantine(
            QuarantineEvent::BulkProgress {
                done: 1,
                total: 5,
                last: ThingResult {
                    thing: "pump-0000".into(),
                    outcome: "verified".into(),
                    detail: String::new(),
                },
            },
        ))),
    );
    assert!(matches!(
        state.flow.as_ref().unwrap().stage,
        Stage::Running(Progress::Batch {
            done: 1,
            total: 5,
            ..
        })
    ));
    let report = BatchReport {
        id: "batch-x".into(),
        verb: Verb::Quarantine,
        results: Vec::new(),
        seconds: 1.0,
    };
    let effects = update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Quarantine(QuarantineEvent::BulkDone(
            Ok(Box::new(report)),
        )))),
    );
    assert!(effects.contains(&Effect::Request(Request::LoadQuarantined)));
    assert!(matches!(
        state.flow.as_ref().unwrap().stage,
        Stage::Finished(Outcome::Batch(_))
    ));
}

#[test]
fn read_only_refuses_a_bulk_quarantine_before_planning() {
    let mut state = State::new(Backend::Local, true, OffsetDateTime::UNIX_EPOCH);
    start(&mut state);
    update(&mut state, page(0, &names(0..3), false));
    update(&mut state, Msg::Action(Action::MarkAll));
    assert!(update(&mut state, Msg::Action(Action::Quarantine)).is_empty());
    assert!(state.flow.is_none());
    assert!(
        state
            .message
            .as_ref()
            .unwrap()
            .text
            .starts_with("refused by --read-only")
    );
}

fn violation(thing: &str, behavior: &str) -> crate::fleet::violations::Violation {
    crate::fleet::violations::Violation {
        violation_id: format!("{thing}/{behavior}"),
        thing_name: thing.to_owned(),
        security_profile: "baseline".to_owned(),
        behavior: behavior.to_owned(),
        metric: Some("aws:num-messages-sent".to_owned()),
        comparison: Some("less-than-equals".to_owned()),
        threshold: Some(100.0),
        duration_seconds: Some(300),
        observed: Some(150.0),
        since: None,
        last_seen: None,
    }
}

fn violations(state: &mut State, result: Result<crate::fleet::violations::Violations, String>) {
    update(state, Msg::Fleet(Box::new(FleetEvent::Violations(result))));
}

fn asks_violations(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Request(Request::LoadViolations)))
        .count()
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

#[test]
fn traffic_filters_do_not_pile_up_across_visits_so_no_message_comes_twice() {
    let mut state = loaded(3);
    let filters = |state: &State| -> Vec<String> {
        state
            .traffic
            .subscriptions
            .iter()
            .map(|s| s.filter.clone())
            .collect()
    };
    // `t` on pump-0001: its own filters.
    crate::tui::traffic::open_for(&mut state, Some("pump-0001".into()));
    assert_eq!(
        filters(&state),
        ["+/pump-0001/#", "$aws/things/pump-0001/shadow/#"]
    );
    // Esc, then `:traffic`: everything, and pump-0001's filters go (they would double its
    // messages).
    state.screens.pop();
    let effects = crate::tui::traffic::open_all(&mut state);
    assert_eq!(
        filters(&state),
        ["#", "$aws/things/+/shadow/#", "$aws/events/presence/#"]
    );
    for dropped in ["+/pump-0001/#", "$aws/things/pump-0001/shadow/#"] {
        assert!(
            effects.contains(&Effect::Unsubscribe(dropped.to_owned())),
            "{dropped}: {effects:?}"
        );
    }
    // Esc, then `t` on pump-0002: everything is already heard; nothing is added.
    state.screens.pop();
    let effects = crate::tui::traffic::open_for(&mut state, Some("pump-0002".into()));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Subscribe(_))),
        "{effects:?}"
    );
    assert_eq!(filters(&state).len(), 3);
}

#[test]
fn a_search_set_by_t_is_cleared_with_ctrl_u_and_enter() {
    let mut state = loaded(3);
    crate::tui::traffic::open_for(&mut state, Some("pump-0001".into()));
    assert_eq!(state.traffic.search, "pump-0001");
    update(&mut state, Msg::Action(Action::Filter));
    assert_eq!(
        state.input.as_ref().map(|i| i.text.as_str()),
        Some("pump-0001")
    );
    update(&mut state, Msg::Action(Action::ClearLine));
    assert_eq!(state.traffic.search, "", "cleared as the line is");
    update(&mut state, Msg::Action(Action::Confirm));
    assert!(state.input.is_none());
    assert_eq!(state.traffic.search, "", "and stays cleared");
}

#[test]
fn an_old_error_does_not_stay_under_the_next_prompt() {
    let mut state = loaded(3);
    crate::tui::traffic::open_for(&mut state, Some("pump-0001".into()));
    state.say(
        Level::Error,
        "subscription to a/#/b refused: # must be the last level",
    );
    update(&mut state, Msg::Action(Action::Filter));
    assert!(state.input.is_some(), "the search prompt is open");
    assert_eq!(state.message, None, "the old error is gone");
}

fn typed(state: &mut State, text: &str) {
    for c in text.chars() {
        update(state, Msg::Typed(c));
    }
}

fn input_text(state: &State) -> Option<&str> {
    state.input.as_ref().map(|i| i.text.as_str())
}

#[test]
fn p_starts_empty_so_a_typed_topic_is_the_topic_and_tab_takes_the_selected_ones() {
    let mut state = loaded(3);
    crate::tui::traffic::open_for(&mut state, None);
    update(
        &mut state,
        Msg::Traffic(crate::fleet::traffic::TrafficEvent::Message(
            crate::fleet::traffic::TrafficMessage {
                topic: "fleet/pump-0001/telemetry".to_owned(),
                payload: bytes::Bytes::from_static(b"{}"),
                qos: 0,
                retain: false,
                received: OffsetDateTime::UNIX_EPOCH,
            },
        )),
    );
    update(&mut state, Msg::Action(Action::Publish));
    assert_eq!(input_text(&state), Some(""), "nothing pre-filled");
    assert_eq!(
        state.input.as_ref().unwrap().suggestion,
        "fleet/pump-0001/telemetry "
    );
    typed(&mut state, "cmd/pump-0002 {}");
    assert_eq!(
        input_text(&state),
        Some("cmd/pump-0002 {}"),
        "the typed topic, not appended to the suggestion"
    );
    update(&mut state, Msg::Action(Action::Cancel));
    update(&mut state, Msg::Action(Action::Publish));
    update(&mut state, Msg::Action(Action::Complete));
    assert_eq!(input_text(&state), Some("fleet/pump-0001/telemetry "));
    typed(&mut state, "{}");
    assert_eq!(input_text(&state), Some("fleet/pump-0001/telemetry {}"));
}

#[test]
fn w_on_the_things_list_opens_the_thing_and_asks_with_an_empty_line() {
    let mut state = loaded(3);
    update(&mut state, Msg::Action(Action::Down));
    let effects = update(&mut state, Msg::Action(Action::Can));
    assert!(
        matches!(state.screen(), Screen::Thing { name, .. } if name == "pump-0001"),
        "{:?}",
        state.screen()
    );
    assert!(
        effects.iter().any(
            |e| matches!(e, Effect::Request(Request::LoadThingReport(name)) if name == "pump-0001")
        ),
        "{effects:?}"
    );
    assert_eq!(input_text(&state), Some(""));
    assert_eq!(
        state.input.as_ref().unwrap().suggestion,
        "publish fleet/pump-0001/telemetry"
    );
    typed(&mut state, "publish cmd/x");
    assert_eq!(
        input_text(&state),
        Some("publish cmd/x"),
        "not 'publish publish cmd/x'"
    );
}

#[test]
fn cert_takes_the_16_digits_a_screen_shows_and_completes_after_loading_the_listing() {
    let mut state = loaded(3);
    let id = |n: u8| format!("{}{n}{}", "1".repeat(15), "a".repeat(48));
    // Tab on `cert ` before the listing is loaded: it is asked for, and said.
    update(&mut state, Msg::Action(Action::Command));
    typed(&mut state, "cert 1");
    let effects = update(&mut state, Msg::Action(Action::Complete));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Request(Request::ListCertificates { .. }))),
        "{effects:?}"
    );
    assert!(
        state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("press Tab again")),
        "{:?}",
        state.message
    );
    let summary = |id: String| crate::fleet::model::CertificateSummary {
        arn: format!("arn:aws:iot:us-east-1:1:cert/{id}"),
        id,
        status: crate::fleet::model::CertificateStatus::Active,
        created: None,
    };
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Certificates {
            generation: 0,
            result: Ok(vec![summary(id(1)), summary(id(2))]),
        })),
    );
    update(&mut state, Msg::Action(Action::Complete));
    assert_eq!(
        input_text(&state),
        Some("cert 111111111111111"),
        "as far as both ids agree"
    );
    typed(&mut state, "2");
    update(&mut state, Msg::Action(Action::Complete));
    assert_eq!(input_text(&state), Some(format!("cert {}", id(2)).as_str()));
    assert_eq!(
        state.message, None,
        "the candidates said before no longer stand"
    );
    update(&mut state, Msg::Action(Action::Cancel));
    // The 16 digits the screens show open the one certificate they start.
    command_line(&mut state, &format!("cert {}", &id(2)[..16]));
    assert!(
        matches!(state.screen(), Screen::Certificate { id: shown, .. } if *shown == id(2)),
        "{:?}",
        state.screen()
    );
    // A prefix both share: the listing, filtered by it, and said.
    command_line(&mut state, "cert 1111");
    let (kind, view) = list_view(&state).expect("the certificates list");
    assert_eq!(
        (kind, view.filter.as_str(), view.rows.len()),
        (ListKind::Certificates, "1111", 2)
    );
    assert!(
        state
            .message
            .as_ref()
            .is_some_and(|m| m.text.starts_with("2 certificates start with 1111")),
        "{:?}",
        state.message
    );
    // `:traffic` completes Thing names.
    update(&mut state, Msg::Action(Action::Command));
    typed(&mut state, "traffic pump-0002");
    update(&mut state, Msg::Action(Action::ClearLine));
    typed(&mut state, "traffic pump-00");
    update(&mut state, Msg::Action(Action::Complete));
    assert_eq!(input_text(&state), Some("traffic pump-000"));
}

#[test]
fn r_keeps_the_cursor_on_the_selected_thing_where_it_was_on_screen() {
    let mut state = loaded(300);
    state.page_rows = 20;
    for _ in 0..30 {
        update(&mut state, Msg::Action(Action::Down));
    }
    let before = list_view(&state)
        .map(|(_, v)| (v.selected, v.offset))
        .unwrap();
    assert_eq!(before.0, 30);
    let effects = update(&mut state, Msg::Action(Action::Refresh));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Request(Request::ListThings { generation: 1 }))),
        "{effects:?}"
    );
    // The first page does not hold pump-0030 yet: the cursor waits for it.
    update(&mut state, page(1, &names(0..20), true));
    update(&mut state, page(1, &names(20..300), false));
    let after = list_view(&state)
        .map(|(_, v)| (v.selected, v.offset))
        .unwrap();
    assert_eq!(after, before, "the same row, at the same place on screen");
    assert_eq!(rows(&state)[after.0], "pump-0030");
}

#[test]
fn a_finished_quarantine_reads_its_things_certificates_again_not_only_on_r() {
    let mut state = loaded(3);
    let id = "c".repeat(64);
    let arn = format!("arn:aws:iot:us-east-1:1:cert/{id}");
    update(
        &mut state,
        Msg::Fleet(Box::new(FleetEvent::Principals {
            thing: "pump-0001".into(),
            result: Ok(vec![arn.clone()]),
        })),
    );
    let active = crate::fleet::model::Certificate {
        id: id.clone(),
        arn,
        status: crate::fleet::model::CertificateStatus::Active,
        created: None,
        last_modified: None,
        ca_certificate_id: None,
        validity: None,
        subject: None,
        issuer: None,
        serial: None,
        pem_problem: None,
        pem: String::new(),
    };
    state
        .fleet
        .certificate_details
        .insert(id.clone(), crate::tui::data::Load::Ready(active));
    state.fleet.certificates.loaded_once = true;
    // A deactivating quarantine of pump-0001 ends (here as a batch of one).
    let effects = crate::tui::flows::quarantine::reread(&mut state, &["pump-0001".to_owned()]);
    assert!(
        effects.contains(&Effect::Request(Request::DescribeCertificate(id.clone()))),
        "the CERT column is asked again: {effects:?}"
    );
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Request(Request::ListCertificates { generation: 1 })
        )),
        "{effects:?}"
    );
    assert!(effects.contains(&Effect::Request(Request::LoadQuarantined)));
}

#[test]
fn a_click_selects_the_row_drawn_there_and_a_double_click_opens_it() {
    let mut state = loaded(50);
    state.page_rows = 20;
    let first = crate::tui::things::view::FIRST_ITEM_ROW;
    // Above the first item (the header) and below the last on screen: nothing.
    assert!(
        update(
            &mut state,
            Msg::Click {
                row: first - 1,
                double: false
            }
        )
        .is_empty()
    );
    update(
        &mut state,
        Msg::Click {
            row: first + 25,
            double: false,
        },
    );
    assert_eq!(list_view(&state).unwrap().1.selected, 0);
    update(
        &mut state,
        Msg::Click {
            row: first + 4,
            double: false,
        },
    );
    assert_eq!(
        rows(&state)[list_view(&state).unwrap().1.selected],
        "pump-0004"
    );
    // Scrolled by ten rows, the same place on screen is ten items further.
    for _ in 0..30 {
        update(&mut state, Msg::Action(Action::Down));
    }
    let offset = list_view(&state).unwrap().1.offset;
    assert!(offset > 0);
    update(
        &mut state,
        Msg::Click {
            row: first + 4,
            double: false,
        },
    );
    assert_eq!(list_view(&state).unwrap().1.selected, offset + 4);
    let effects = update(
        &mut state,
        Msg::Click {
            row: first + 4,
            double: true,
        },
    );
    let opened = format!("pump-{:04}", offset + 4);
    assert!(
        matches!(state.screen(), Screen::Thing { name, .. } if *name == opened),
        "{:?}",
        state.screen()
    );
    assert!(effects.contains(&Effect::Request(Request::LoadThingReport(opened))));
    // On a Thing's screen a click selects nothing.
    assert!(
        update(
            &mut state,
            Msg::Click {
                row: first,
                double: true
            }
        )
        .is_empty()
    );
}

#[test]
fn time_local_shows_times_at_the_local_offset_and_time_utc_goes_back() {
    let mut state = loaded(3);
    let text = |state: &State| {
        crate::tui::responder::lines::title(state, crate::tui::state::Report::Denied)
    };
    // The refusals are read from an hour before the start (the epoch here): 23:00 UTC.
    assert!(
        text(&state).contains("since 23:00:00 UTC"),
        "{}",
        text(&state)
    );
    command_line(&mut state, "time local");
    assert!(
        state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("could not be read")),
        "no local offset known: said, and UTC kept"
    );
    assert!(state.zone.is_utc());
    state.local_zone = Some(time::UtcOffset::from_hms(2, 0, 0).unwrap());
    command_line(&mut state, "time local");
    assert!(
        text(&state).contains("since 01:00:00 UTC+02:00"),
        "{}",
        text(&state)
    );
    command_line(&mut state, "time utc");
    assert!(
        text(&state).contains("since 23:00:00 UTC"),
        "{}",
        text(&state)
    );
    assert_eq!(
        crate::tui::frame::line::zone_name(time::UtcOffset::from_hms(-3, -30, 0).unwrap()),
        "UTC-03:30"
    );
}

#[test]
fn profile_and_region_are_checked_before_the_console_connects_again() {
    let mut local = loaded(3);
    command_line(&mut local, "profile prod");
    assert!(
        local
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("local IoT Core has no AWS profiles")),
        "{:?}",
        local.message
    );
    let mut state = State::new(
        Backend::Aws {
            region: "eu-west-1".into(),
            profile: Some("default".into()),
            endpoint: None,
        },
        false,
        OffsetDateTime::UNIX_EPOCH,
    );
    start(&mut state);
    state.profiles = crate::fleet::profiles::Profiles::parse("[default]\n[profile prod]\n", "");
    assert!(command_line(&mut state, "region europe").is_empty());
    assert!(
        state
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("is not a region name")),
        "{:?}",
        state.message
    );
    update(&mut state, Msg::Action(Action::Cancel));
    assert!(command_line(&mut state, "profile staging").is_empty());
    assert_eq!(
        state.message.as_ref().map(|m| m.text.as_str()),
        Some("no AWS profile 'staging': known: default, prod")
    );
    update(&mut state, Msg::Action(Action::Cancel));
    let effects = command_line(&mut state, "profile prod");
    assert_eq!(
        effects,
        [Effect::Reconnect {
            profile: Some("prod".into()),
            region: None
        }]
    );
    assert!(
        command_line(&mut state, "region us-east-2").is_empty(),
        "one switch at a time"
    );
}

/// The filter's rows as one whole-list match gives them: fuzzy matches, best first, ties in
/// listed order.
fn whole_list_match(state: &State, text: &str) -> Vec<String> {
    let mut fuzzy = crate::tui::things::fuzzy::Fuzzy::new(text).expect("a filter");
    let mut kept: Vec<(std::cmp::Reverse<u32>, usize)> = state
        .fleet
        .things
        .items
        .iter()
        .enumerate()
        .filter_map(|(at, t)| {
            fuzzy
                .score(t.haystack())
                .map(|s| (std::cmp::Reverse(s), at))
        })
        .collect();
    kept.sort_unstable();
    kept.into_iter()
        .map(|(_, at)| state.fleet.things.items.at(at).name().to_owned())
        .collect()
}

/// Runs the frames a long list's filter takes; how many.
fn match_to_the_end(state: &mut State) -> usize {
    let mut frames = 0;
    while state.matching() {
        update(state, Msg::Match);
        frames += 1;
        assert!(frames < 10_000, "matching never ends");
    }
    frames
}

#[test]
fn a_long_list_is_matched_over_frames_and_ends_as_one_match_of_the_whole_list() {
    // Longer than one slice's minimum, with names fuzzily close to each other.
    let count = crate::tui::things::matching::MIN_ROWS * 3;
    let mut state = loaded(count);
    update(&mut state, Msg::Action(Action::Filter));
    typed(&mut state, "pump-1");
    match_to_the_end(&mut state);
    let first = whole_list_match(&state, "pump-1");
    assert!(first.len() > 1000 && first.len() < count, "{}", first.len());
    assert_eq!(rows(&state), first);

    // Keys typed while a match is still going on narrow what it has kept and what it has not
    // reached yet; erasing past them matches afresh.
    typed(&mut state, "2");
    typed(&mut state, "3");
    match_to_the_end(&mut state);
    assert_eq!(rows(&state), whole_list_match(&state, "pump-123"));
    // Erasing to a filter typed over while matching narrows the rows of the one before it
    // (ties in that one's order), then the one before comes back at once.
    update(&mut state, Msg::Erase);
    match_to_the_end(&mut state);
    let mut fuzzy = crate::tui::things::fuzzy::Fuzzy::new("pump-12").unwrap();
    let index: std::collections::HashMap<&str, usize> = state
        .fleet
        .things
        .items
        .iter()
        .enumerate()
        .map(|(at, t)| (t.name(), at))
        .collect();
    let mut narrowed: Vec<(std::cmp::Reverse<u32>, usize, String)> = first
        .iter()
        .enumerate()
        .filter_map(|(at, name)| {
            let score = fuzzy.score(state.fleet.things.items.haystack(index[name.as_str()]))?;
            Some((std::cmp::Reverse(score), at, name.clone()))
        })
        .collect();
    narrowed.sort_unstable();
    let narrowed: Vec<String> = narrowed.into_iter().map(|(_, _, name)| name).collect();
    assert_eq!(rows(&state), narrowed);
    update(&mut state, Msg::Erase);
    assert!(!state.matching(), "restored at once");
    assert_eq!(rows(&state), first);
    update(&mut state, Msg::Erase);
    match_to_the_end(&mut state);
    assert_eq!(rows(&state), whole_list_match(&state, "pump-"));
}

#[test]
fn pages_arriving_under_a_filter_are_matched_alone_and_merged_in_order() {
    let mut state = State::new(Backend::Local, false, OffsetDateTime::UNIX_EPOCH);
    start(&mut state);
    let count = crate::tui::things::matching::MIN_ROWS * 2;
    update(&mut state, page(0, &names(0..count), true));
    update(&mut state, Msg::Action(Action::Filter));
    typed(&mut state, "pump-19");
    match_to_the_end(&mut state);
    // A page while the filter's rows are final, then two while it matches the first.
    let before = rows(&state);
    update(&mut state, page(0, &names(count..count * 2), true));
    assert_eq!(
        rows(&state)[..before.len()],
        before[..],
        "the rows already kept stay on screen"
    );
    update(
        &mut state,
        page(0, &names(count * 2..count * 2 + 500), true),
    );
    update(
        &mut state,
        page(0, &names(count * 2 + 500..count * 3), false),
    );
    match_to_the_end(&mut state);
    assert_eq!(rows(&state), whole_list_match(&state, "pump-19"));
    // And without a filter, every Thing in listed order.
    update(&mut state, Msg::ClearInput);
    match_to_the_end(&mut state);
    assert_eq!(rows(&state).len(), count * 3);
    assert_eq!(
        rows(&state)[count * 3 - 1],
        format!("pump-{:04}", count * 3 - 1)
    );
}

/// The Things list with `filter` one slice into it, as a keystroke leaves it on a slow machine:
/// a slice matched, the rest to go. Returns how many rows it has kept so far.
fn partly_matched(state: &mut State, filter: &str) -> usize {
    let listed = u32::try_from(state.fleet.things.items.len()).unwrap();
    let mut matching = crate::tui::things::matching::Matching::new((0..listed).collect());
    let mut kept = Vec::new();
    let scorer = || {
        let mut fuzzy = crate::tui::things::fuzzy::Fuzzy::new(filter).unwrap();
        let things = &state.fleet.things.items;
        move |row: u32| fuzzy.score(things.haystack(row as usize))
    };
    assert!(!matching.advance(&mut kept, std::time::Duration::ZERO, &scorer));
    let so_far = kept.len();
    let Some(Screen::List(_, view)) = state.screens.last_mut() else {
        panic!("a list");
    };
    filter.clone_into(&mut view.filter);
    view.rows = kept;
    view.matching = Some(Box::new(matching));
    so_far
}

#[test]
fn a_cursor_moved_while_the_filter_matches_stays_on_its_thing_when_the_rows_reorder() {
    let mut state = loaded(crate::tui::things::matching::MIN_ROWS * 3);
    partly_matched(&mut state, "pump-19");
    for _ in 0..3 {
        update(&mut state, Msg::Action(Action::Down));
    }
    let (_, view) = list_view(&state).unwrap();
    let chosen = rows(&state)[view.selected].clone();
    let below_top = view.selected - view.offset;
    match_to_the_end(&mut state);
    let (_, view) = list_view(&state).unwrap();
    assert_eq!(rows(&state), whole_list_match(&state, "pump-19"));
    assert_eq!(rows(&state)[view.selected], chosen);
    assert_eq!(view.selected - view.offset, below_top.min(view.selected));
    assert_ne!(view.selected, 3, "the rows did reorder under it");
}

#[test]
fn marking_every_row_shown_waits_for_the_filter_to_be_matched_to_the_end() {
    let mut state = loaded(crate::tui::things::matching::MIN_ROWS * 3);
    let so_far = partly_matched(&mut state, "pump-4");
    update(&mut state, Msg::Action(Action::MarkAll));
    let all = whole_list_match(&state, "pump-4");
    assert!(
        all.len() > so_far,
        "{} kept of {} so far",
        so_far,
        all.len()
    );
    assert!(!state.matching());
    assert_eq!(state.marked.len(), all.len());
    assert!(all.iter().all(|name| state.marked.contains(name)));
}
