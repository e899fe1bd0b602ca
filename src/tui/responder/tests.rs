//! The reports through `update`: `:denied` filtered and followed to its Thing.

use crate::tui::test_support::*;

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
