//! The traffic screen through `update`: the topic tree, filters across visits, search and the
//! publish prompt.

use crate::tui::test_support::*;

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
