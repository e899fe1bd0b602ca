//! The lists through `update`: pages as they stream in, the filter as it is typed and matched
//! over frames, status words, sort, search, marks, the cursor kept through refreshes and clicks.

use crate::tui::test_support::*;

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
