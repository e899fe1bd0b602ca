//! What the console's `update` tests share: a state with Things listed, messages to send it,
//! and a look at its rows. `update` is driven as the console drives it: messages in, state and
//! effects out.

pub(crate) use crate::fleet::model::{ThingPage, ThingSummary};
pub(crate) use crate::tui::action::Action;
pub(crate) use crate::tui::data::ListKind;
pub(crate) use crate::tui::msg::Level;
pub(crate) use crate::tui::msg::{Effect, FleetEvent, Msg, QuarantineEvent, Request};
pub(crate) use crate::tui::state::{Backend, Screen, State};
pub(crate) use crate::tui::things::list::list_view;
pub(crate) use crate::tui::update::{start, update};
pub(crate) use std::collections::BTreeMap;
pub(crate) use time::OffsetDateTime;

pub(crate) fn thing(name: &str) -> ThingSummary {
    ThingSummary {
        name: name.to_owned(),
        arn: format!("arn:aws:iot:us-east-1:1:thing/{name}"),
        thing_type: Some("pump".into()),
        attributes: BTreeMap::from([("site".into(), "plant-2".into())]).into(),
        version: 1,
    }
}

pub(crate) fn page(generation: u64, names: &[String], more: bool) -> Msg {
    let things = names.iter().map(|n| thing(n)).collect();
    Msg::Fleet(Box::new(FleetEvent::ThingsPage {
        generation,
        result: Ok(ThingPage { things, more }),
    }))
}

pub(crate) fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("pump-{i:04}")).collect()
}

pub(crate) fn loaded(count: usize) -> State {
    let mut state = State::new(Backend::Local, false, OffsetDateTime::UNIX_EPOCH);
    start(&mut state);
    update(&mut state, page(0, &names(0..count), false));
    state
}

pub(crate) fn rows(state: &State) -> Vec<String> {
    let (kind, view) = list_view(state).expect("a list");
    assert_eq!(kind, ListKind::Things);
    view.rows
        .iter()
        .map(|i| state.fleet.things.items.at(*i as usize).name().to_owned())
        .collect()
}

pub(crate) fn log_event(
    id: &str,
    ms: i64,
    client: &str,
    topic: &str,
) -> crate::fleet::denied::LogEvent {
    crate::fleet::denied::LogEvent {
        id: id.to_owned(),
        timestamp_ms: ms,
        message: serde_json::json!({"status": "Failure", "eventType": "Publish-In",
            "clientId": client, "topicName": topic, "reason": "AUTHORIZATION_FAILURE"})
        .to_string(),
    }
}

pub(crate) fn refusals(
    state: &mut State,
    result: Result<Vec<crate::fleet::denied::LogEvent>, String>,
) {
    update(state, Msg::Fleet(Box::new(FleetEvent::Refusals(result))));
}

/// A tick `ms` after `t0`.
pub(crate) fn tick_after(state: &mut State, t0: OffsetDateTime, ms: i64) -> Vec<Effect> {
    update(
        state,
        Msg::Tick {
            now: t0 + time::Duration::milliseconds(ms),
            throttled: 0,
        },
    )
}

pub(crate) fn asks_refusals(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Request(Request::LoadRefusals { .. })))
        .count()
}

pub(crate) fn connectivity(state: &mut State, thing: &str, connected: bool) {
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

pub(crate) fn type_filter(state: &mut State, text: &str) {
    update(state, Msg::Action(Action::Filter));
    update(state, Msg::ClearInput);
    typed(state, text);
    update(state, Msg::Action(Action::Confirm));
}

pub(crate) fn command_line(state: &mut State, text: &str) -> Vec<Effect> {
    update(state, Msg::Action(Action::Command));
    typed(state, text);
    update(state, Msg::Action(Action::Confirm))
}

pub(crate) fn searched(
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

pub(crate) fn bulk_planned(plan: crate::fleet::quarantine::batch::BatchPlan) -> Msg {
    Msg::Fleet(Box::new(FleetEvent::Quarantine(
        QuarantineEvent::BulkPlanned(Ok(Box::new(plan))),
    )))
}

pub(crate) fn violation(thing: &str, behavior: &str) -> crate::fleet::violations::Violation {
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

pub(crate) fn violations(
    state: &mut State,
    result: Result<crate::fleet::violations::Violations, String>,
) {
    update(state, Msg::Fleet(Box::new(FleetEvent::Violations(result))));
}

pub(crate) fn asks_violations(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Request(Request::LoadViolations)))
        .count()
}

pub(crate) fn typed(state: &mut State, text: &str) {
    for c in text.chars() {
        update(state, Msg::Typed(c));
    }
}

pub(crate) fn input_text(state: &State) -> Option<&str> {
    state.input.as_ref().map(|i| i.text.as_str())
}

/// The filter's rows as one whole-list match gives them: fuzzy matches, best first, ties in
/// listed order.
pub(crate) fn whole_list_match(state: &State, text: &str) -> Vec<String> {
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
pub(crate) fn match_to_the_end(state: &mut State) -> usize {
    let mut frames = 0;
    while state.matching() {
        update(state, Msg::Match);
        frames += 1;
        assert!(frames < 10_000, "matching never ends");
    }
    frames
}

/// The Things list with `filter` one slice into it, as a keystroke leaves it on a slow machine:
/// a slice matched, the rest to go. Returns how many rows it has kept so far.
pub(crate) fn partly_matched(state: &mut State, filter: &str) -> usize {
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
