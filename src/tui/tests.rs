//! The router and the command line through `update`: commands and their completion, prompts,
//! `w`, `:cert`, `:time`, `:profile` and `:region`.

use crate::tui::test_support::*;

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
