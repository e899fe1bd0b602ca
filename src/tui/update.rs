//! `update(&mut State, Msg) -> Vec<Effect>`: every change to the console's state, pure (no I/O,
//! no terminal, no clock), so it is tested without tokio. Effects say what I/O to start; their
//! results come back as `Msg::Fleet`.

use super::action::Action;
use super::detail;
use super::fuzzy::Fuzzy;
use super::msg::{Effect, FleetEvent, Msg, QuarantineEvent, Request};
use super::quarantine;
use super::shadow;
use super::shadow_edit;
use super::state::{
    Focus, Input, InputKind, Level, Link, ListKind, ListView, Load, Message, Screen, Sort, State,
};
use super::traffic;
use crate::fleet::model::{ThingPage, ThingSummary, certificate_id_from_arn};
use crate::fleet::permissions::{self, DeviceAction};
use crate::fleet::quarantine::run::Verb;
use crate::fleet::traffic::TrafficEvent;

/// The commands of the `:` line, for completion and help.
pub const COMMANDS: [&str; 11] = [
    "things", "certs", "policies", "thing", "policy", "cert", "traffic", "audit", "theme", "help",
    "quit",
];

/// The effects the console starts with.
pub fn start(state: &mut State) -> Vec<Effect> {
    state.things.loading = true;
    let mut effects = vec![
        Effect::Request(Request::ListThings {
            generation: state.things.generation,
        }),
        Effect::Request(Request::LoadQuarantined),
    ];
    if matches!(state.backend, super::state::Backend::Aws { .. }) {
        effects.push(Effect::Request(Request::LoadAccount));
    }
    counted(state, effects)
}

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let effects = match msg {
        Msg::Action(action) => act(state, action),
        Msg::Typed(c) => type_char(state, Some(c)),
        Msg::Erase => type_char(state, None),
        Msg::ClearInput => {
            if let Some(input) = &mut state.input {
                input.text.clear();
            }
            filter_changed(state)
        }
        Msg::Fleet(event) => {
            let more_to_come = matches!(&*event, FleetEvent::ThingsPage { result: Ok(page), .. } if page.more)
                || matches!(
                    &*event,
                    FleetEvent::Quarantine(QuarantineEvent::Progress { .. })
                );
            state.pending = state.pending.saturating_sub(usize::from(!more_to_come));
            arrived(state, *event)
        }
        Msg::Traffic(event) => {
            if let TrafficEvent::Published { topic } = &event {
                info(state, Level::Info, format!("published to {topic}"));
            }
            state.traffic.ingest(&event, state.now);
            shadow::traffic(state, &event)
        }
        Msg::EditText(text) => {
            shadow_edit::typed(state, text);
            Vec::new()
        }
        Msg::Tick { now, throttled } => {
            state.now = now;
            state.spinner = state.spinner.wrapping_add(1);
            if throttled > state.throttled {
                state.throttled = throttled;
                state.throttled_at = Some(now);
            }
            shadow::tick(state, now)
        }
        Msg::Resize { height, .. } => {
            state.page_rows = usize::from(height.saturating_sub(6)).max(1);
            clamp(state);
            visible_loads(state)
        }
    };
    counted(state, effects)
}

fn counted(state: &mut State, effects: Vec<Effect>) -> Vec<Effect> {
    state.pending += effects
        .iter()
        .filter(|e| matches!(e, Effect::Request(_)))
        .count();
    effects
}

fn info(state: &mut State, level: Level, text: impl Into<String>) {
    state.message = Some(Message {
        level,
        text: text.into(),
    });
}

/// An action goes to what has the focus.
fn act(state: &mut State, action: Action) -> Vec<Effect> {
    match state.focus() {
        Focus::Quarantine { .. } => quarantine::act(state, action).unwrap_or_default(),
        Focus::Publish => traffic::answer(state, matches!(action, Action::Confirm | Action::Yes)),
        Focus::Editor | Focus::Review => shadow_edit::act(state, action).unwrap_or_default(),
        Focus::Input(_) => input_action(state, action),
        Focus::Help => {
            if matches!(action, Action::Back | Action::Help | Action::Quit) {
                state.help = false;
            }
            Vec::new()
        }
        Focus::Screen => screen_action(state, action),
    }
}

/// An action on the screen on top: its own first (traffic, shadow), then the global ones.
fn screen_action(state: &mut State, action: Action) -> Vec<Effect> {
    if let Some(effects) = traffic::act(state, action) {
        return effects;
    }
    if let Some(effects) = shadow::act(state, action) {
        return effects;
    }
    match action {
        Action::Quit => {
            state.quit = true;
            Vec::new()
        }
        Action::Help => {
            state.help = true;
            Vec::new()
        }
        Action::Command => {
            state.input = Some(Input {
                kind: InputKind::Command,
                text: String::new(),
                before: String::new(),
            });
            Vec::new()
        }
        Action::Filter => {
            filter_prompt(state);
            Vec::new()
        }
        Action::Back => back(state),
        Action::Refresh => refresh(state),
        Action::Copy => copy(state),
        Action::Things => open_list(state, ListKind::Things),
        Action::Certificates => open_list(state, ListKind::Certificates),
        Action::Policies => open_list(state, ListKind::Policies),
        Action::Up => step(state, -1),
        Action::Down => step(state, 1),
        Action::PageUp => page(state, -1),
        Action::PageDown => page(state, 1),
        Action::Top => step(state, isize::MIN / 2),
        Action::Bottom => step(state, isize::MAX / 2),
        Action::Open => open(state),
        Action::Sort => {
            if let Screen::List(kind, view) = state.screen_mut() {
                view.sort = view.sort.next();
                let label = view.sort.label(*kind);
                let kind = *kind;
                recompute_rows(state, kind);
                info(state, Level::Info, format!("sorted {label}"));
            }
            visible_loads(state)
        }
        Action::Traffic => traffic::open(state),
        Action::Shadow => shadow::open_selected(state),
        Action::Can => {
            ask_prompt(state);
            Vec::new()
        }
        Action::Quarantine => quarantine::begin(state, Verb::Quarantine),
        Action::Release => quarantine::begin(state, Verb::Release),
        Action::Edit => shadow_edit::begin(state),
        Action::EditExternal => shadow_edit::begin_external(state),
        Action::Confirm
        | Action::Cancel
        | Action::Complete
        | Action::Subscribe
        | Action::Unsubscribe
        | Action::Freeze
        | Action::Clear
        | Action::Publish
        | Action::NextPane
        | Action::Hex
        | Action::NextShadow
        | Action::Metadata
        | Action::Apply
        | Action::JsonPath
        | Action::Yes
        | Action::No
        | Action::Mine
        | Action::Theirs => Vec::new(),
    }
}

fn input_action(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(input) = state.input.clone() else {
        return Vec::new();
    };
    match (action, input.kind) {
        (Action::Cancel, InputKind::Filter) => {
            state.input = None;
            set_filter(state, &input.before);
            visible_loads(state)
        }
        (Action::Confirm, InputKind::Filter) => {
            state.input = None;
            visible_loads(state)
        }
        (Action::Confirm, InputKind::Command) => command(state, input.text.trim()),
        (Action::Complete, InputKind::Command) => {
            complete(state);
            Vec::new()
        }
        (Action::Cancel, InputKind::Search) => {
            state.input = None;
            state.traffic.search = input.before;
            Vec::new()
        }
        (Action::Cancel, _) => {
            state.input = None;
            Vec::new()
        }
        (Action::Confirm, InputKind::Can) => ask(state, &input.text),
        (Action::Confirm, kind) => traffic::entered(state, kind, &input.text),
        // Other actions are keys typed as text by the key layer; nothing else to do here.
        _ => Vec::new(),
    }
}

/// A character typed (None: backspace) into what has the focus, when it takes text.
fn type_char(state: &mut State, c: Option<char>) -> Vec<Effect> {
    if state.focus() == (Focus::Quarantine { name: true }) {
        return quarantine::typed(state, c);
    }
    let Some(input) = &mut state.input else {
        return Vec::new();
    };
    match c {
        Some(c) => input.text.push(c),
        None => {
            input.text.pop();
        }
    }
    match input.kind {
        InputKind::Filter => filter_changed(state),
        InputKind::Search => {
            state.traffic.search.clone_from(&input.text);
            state.traffic.message_cursor = 0;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn filter_changed(state: &mut State) -> Vec<Effect> {
    let Some(Input {
        kind: InputKind::Filter,
        text,
        ..
    }) = state.input.clone()
    else {
        return Vec::new();
    };
    set_filter(state, &text);
    visible_loads(state)
}

/// Applies a filter to the list on screen; a filter that extends the previous one only narrows
/// the previous rows (fuzzy matches of "ab" are a subset of those of "a").
fn set_filter(state: &mut State, text: &str) {
    if let Screen::Audit { cursor, scroll } = state.screen_mut() {
        *cursor = 0;
        *scroll = 0;
        text.clone_into(&mut state.audit_filter);
        return;
    }
    let Screen::List(kind, view) = state.screen_mut() else {
        return;
    };
    let kind = *kind;
    if view.filter == text {
        return;
    }
    let narrowing = !view.filter.is_empty() && text.starts_with(view.filter.as_str());
    let mut base = None;
    if narrowing {
        view.history.push((view.filter.clone(), view.rows.clone()));
        base = Some(view.rows.clone());
    } else {
        // Erasing back to a filter seen on the way in restores its rows at once.
        while let Some((filter, rows)) = view.history.pop() {
            if filter == text {
                base = Some(rows);
                break;
            }
        }
    }
    let restored = !narrowing && base.is_some();
    text.clone_into(&mut view.filter);
    view.selected = 0;
    view.offset = 0;
    let rows = match base {
        Some(rows) if restored => rows,
        Some(rows) => filter_rows(state, kind, text, rows),
        None => {
            let order = ordered(state, kind, state.screen());
            filter_rows(state, kind, text, order)
        }
    };
    if let Screen::List(_, view) = state.screen_mut() {
        view.rows = rows;
    }
}

/// The item indices of a list in the screen's sort order.
fn ordered(state: &State, kind: ListKind, screen: &Screen) -> Vec<u32> {
    let Screen::List(_, view) = screen else {
        return Vec::new();
    };
    let len = u32::try_from(state.list_len(kind)).unwrap_or(u32::MAX);
    let mut order: Vec<u32> = (0..len).collect();
    let key = |i: u32| -> (String, String) {
        let i = i as usize;
        match kind {
            ListKind::Things => {
                let t = &state.things.items[i];
                (t.thing_type.clone().unwrap_or_default(), t.name.clone())
            }
            ListKind::Certificates => {
                let c = &state.certificates.items[i];
                (c.status.as_aws().to_owned(), c.id.clone())
            }
            ListKind::Policies => (String::new(), state.policies.items[i].name.clone()),
        }
    };
    match view.sort {
        Sort::Listed => {}
        Sort::Name => order.sort_by_cached_key(|i| key(*i).1),
        Sort::Kind => order.sort_by_cached_key(|i| key(*i)),
    }
    order
}

fn haystack(state: &State, kind: ListKind, index: usize) -> &str {
    match kind {
        ListKind::Things => &state.thing_haystacks[index],
        ListKind::Certificates => &state.certificates.items[index].id,
        ListKind::Policies => &state.policies.items[index].name,
    }
}

/// Keeps the rows whose haystack fuzzily matches `text`, best matches first (ties keep their
/// order), as fzf does.
fn filter_rows(state: &State, kind: ListKind, text: &str, rows: Vec<u32>) -> Vec<u32> {
    if Fuzzy::new(text).is_none() {
        return rows;
    }
    // Large lists are scored on every core: a keystroke over 100,000 Things must fit in a frame.
    let threads = if rows.len() < 20_000 {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(8)
    };
    let chunk = rows.len().div_ceil(threads).max(1);
    let score_chunk = |(part, slice): (usize, &[u32])| -> Vec<(std::cmp::Reverse<u32>, u32, u32)> {
        let mut fuzzy = Fuzzy::new(text).expect("a non-empty filter");
        slice
            .iter()
            .enumerate()
            .filter_map(|(offset, &i)| {
                let position = u32::try_from(part * chunk + offset).unwrap_or(u32::MAX);
                fuzzy
                    .score(haystack(state, kind, i as usize))
                    .map(|score| (std::cmp::Reverse(score), position, i))
            })
            .collect()
    };
    let mut scored: Vec<(std::cmp::Reverse<u32>, u32, u32)> = if threads == 1 {
        score_chunk((0, &rows))
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = rows
                .chunks(chunk)
                .enumerate()
                .map(|part| scope.spawn(move || score_chunk(part)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a scoring thread"))
                .collect()
        })
    };
    // Best first; among equals, the order they had (an unstable sort on (score, position)).
    scored.sort_unstable();
    scored.into_iter().map(|(_, _, i)| i).collect()
}

/// Recomputes every list screen of `kind` on the stack (new items, new sort).
fn recompute_rows(state: &mut State, kind: ListKind) {
    for index in 0..state.screens.len() {
        let Screen::List(k, view) = &state.screens[index] else {
            continue;
        };
        if *k != kind {
            continue;
        }
        let filter = view.filter.clone();
        let rows = filter_rows(
            state,
            kind,
            &filter,
            ordered(state, kind, &state.screens[index]),
        );
        if let Screen::List(_, view) = &mut state.screens[index] {
            view.rows = rows;
        }
    }
    clamp(state);
}

/// Keeps cursors inside their lists and on screen.
fn clamp(state: &mut State) {
    let page_rows = state.page_rows;
    for screen in &mut state.screens {
        if let Screen::List(_, view) = screen {
            view.selected = view.selected.min(view.rows.len().saturating_sub(1));
            if view.selected < view.offset {
                view.offset = view.selected;
            } else if view.selected >= view.offset + page_rows {
                view.offset = view.selected + 1 - page_rows;
            }
        }
    }
}

fn step(state: &mut State, delta: isize) -> Vec<Effect> {
    let link_count = detail::links(state, state.screen()).len();
    let lines = detail::lines(state, state.screen()).unwrap_or_default();
    let page_rows = state.page_rows + 1;
    match state.screen_mut() {
        Screen::Traffic | Screen::Shadow { .. } => {}
        Screen::List(_, view) => {
            view.selected = view
                .selected
                .saturating_add_signed(delta)
                .min(view.rows.len().saturating_sub(1));
        }
        Screen::Thing { cursor, scroll, .. }
        | Screen::Certificate { cursor, scroll, .. }
        | Screen::Policy { cursor, scroll, .. }
        | Screen::Audit { cursor, scroll } => {
            *cursor = cursor
                .saturating_add_signed(delta)
                .min(link_count.saturating_sub(1));
            // Keep the linked line on screen.
            if let Some(line) = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.link.is_some())
                .nth(*cursor)
                .map(|(i, _)| i)
            {
                if line < *scroll {
                    *scroll = line;
                } else if line >= *scroll + page_rows {
                    *scroll = line + 1 - page_rows;
                }
            }
            if delta < -1 {
                *scroll = 0;
            }
        }
    }
    clamp(state);
    visible_loads(state)
}

fn page(state: &mut State, direction: isize) -> Vec<Effect> {
    let rows = isize::try_from(state.page_rows).unwrap_or(20);
    let lines = detail::lines(state, state.screen()).map_or(0, |l| l.len());
    let page_rows = state.page_rows + 1;
    match state.screen_mut() {
        Screen::List(..) | Screen::Traffic | Screen::Shadow { .. } => step(state, direction * rows),
        Screen::Thing { scroll, .. }
        | Screen::Certificate { scroll, .. }
        | Screen::Policy { scroll, .. }
        | Screen::Audit { scroll, .. } => {
            *scroll = scroll
                .saturating_add_signed(direction * rows)
                .min(lines.saturating_sub(page_rows));
            Vec::new()
        }
    }
}

fn back(state: &mut State) -> Vec<Effect> {
    if state.screens.len() > 1 {
        state.screens.pop();
        state.message = None;
        return visible_loads(state);
    }
    if let Screen::List(_, view) = state.screen()
        && !view.filter.is_empty()
    {
        set_filter(state, "");
        return visible_loads(state);
    }
    Vec::new()
}

fn open_list(state: &mut State, kind: ListKind) -> Vec<Effect> {
    if !matches!(state.screen(), Screen::List(k, _) if *k == kind) {
        state.screens.push(Screen::list(kind));
        recompute_rows(state, kind);
    }
    let mut effects = Vec::new();
    match kind {
        ListKind::Certificates
            if !state.certificates.loaded_once && !state.certificates.loading =>
        {
            state.certificates.loading = true;
            effects.push(Effect::Request(Request::ListCertificates {
                generation: state.certificates.generation,
            }));
        }
        ListKind::Policies if !state.policies.loaded_once && !state.policies.loading => {
            state.policies.loading = true;
            effects.push(Effect::Request(Request::ListPolicies {
                generation: state.policies.generation,
            }));
        }
        _ => {}
    }
    effects.extend(visible_loads(state));
    effects
}

fn selected_index(state: &State) -> Option<(ListKind, usize)> {
    let Screen::List(kind, view) = state.screen() else {
        return None;
    };
    view.rows.get(view.selected).map(|i| (*kind, *i as usize))
}

fn open(state: &mut State) -> Vec<Effect> {
    let link = match state.screen() {
        Screen::List(..) => match selected_index(state) {
            Some((ListKind::Things, i)) => Link::Thing(state.things.items[i].name.clone()),
            Some((ListKind::Certificates, i)) => {
                Link::Certificate(state.certificates.items[i].id.clone())
            }
            Some((ListKind::Policies, i)) => Link::Policy(state.policies.items[i].name.clone()),
            None => return Vec::new(),
        },
        screen => {
            let cursor = match screen {
                Screen::Thing { cursor, .. }
                | Screen::Certificate { cursor, .. }
                | Screen::Policy { cursor, .. }
                | Screen::Audit { cursor, .. } => *cursor,
                Screen::List(..) | Screen::Traffic | Screen::Shadow { .. } => 0,
            };
            match detail::links(state, screen).into_iter().nth(cursor) {
                Some(link) => link,
                None => return Vec::new(),
            }
        }
    };
    follow(state, link)
}

/// `/` on a list or the audit: the filter line, starting from the current filter.
fn filter_prompt(state: &mut State) {
    let current = match state.screen() {
        Screen::List(_, view) => Some(view.filter.clone()),
        Screen::Audit { .. } => Some(state.audit_filter.clone()),
        _ => None,
    };
    if let Some(current) = current {
        state.input = Some(Input {
            kind: InputKind::Filter,
            text: current.clone(),
            before: current,
        });
    }
}

/// `w` on a Thing: the question line.
fn ask_prompt(state: &mut State) {
    if let Screen::Thing { .. } = state.screen() {
        state.input = Some(Input {
            kind: InputKind::Can,
            text: "publish ".to_owned(),
            before: String::new(),
        });
    } else {
        info(
            state,
            Level::Info,
            "open a Thing to ask what it may do (connect, publish, subscribe, receive)",
        );
    }
}

/// `ACTION TARGET` about the Thing on screen, answered by the local policy engine from its
/// loaded report; a mistake keeps the text on the line with the reason.
fn ask(state: &mut State, text: &str) -> Vec<Effect> {
    let Screen::Thing { name, .. } = state.screen() else {
        return Vec::new();
    };
    let name = name.clone();
    let Some(Load::Ready(report)) = state.thing_reports.get(&name) else {
        info(state, Level::Warning, "the Thing is still loading");
        return Vec::new();
    };
    let (action, target) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    let action: DeviceAction = match action.parse() {
        Ok(action) => action,
        Err(reason) => {
            info(state, Level::Error, reason);
            return Vec::new();
        }
    };
    let target = target.trim();
    if target.is_empty() {
        info(
            state,
            Level::Error,
            "say what: a topic, a topic filter or a client id",
        );
        return Vec::new();
    }
    let answers = permissions::evaluate_for(report, action, target, state.now);
    let summary = match answers.iter().find(|a| a.cannot_connect.is_none()) {
        _ if answers.is_empty() => format!("{name} has no certificate: it may do nothing"),
        Some(answer) if answer.allowed => format!("{name} may {action} {target}: ALLOWED"),
        None => format!(
            "{name} may not {action} {target}: no certificate of it can connect ({})",
            answers
                .iter()
                .filter_map(|a| a.cannot_connect.as_deref())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("{name} may not {action} {target}"),
    };
    state.input = None;
    info(state, Level::Info, summary);
    state.asked.insert(name.clone(), answers);
    if matches!(state.backend, super::state::Backend::Aws { .. }) {
        state.aws_asked.insert(name.clone(), Load::Loading);
        return vec![Effect::Request(Request::AskAws {
            thing: name,
            action,
            target: target.to_owned(),
        })];
    }
    state.aws_asked.remove(&name);
    Vec::new()
}

/// Opens the audit screen, running the audit the first time (`r` runs it again).
fn open_audit(state: &mut State) -> Vec<Effect> {
    if !matches!(state.screen(), Screen::Audit { .. }) {
        state.screens.push(Screen::Audit {
            cursor: 0,
            scroll: 0,
        });
    }
    if needs(state.audit.as_ref()) {
        state.audit = Some(Load::Loading);
        return vec![Effect::Request(Request::LoadAudit)];
    }
    Vec::new()
}

/// Opens the screen of a related object, loading it unless it is loaded or loading.
fn follow(state: &mut State, link: Link) -> Vec<Effect> {
    let mut effects = Vec::new();
    match link {
        Link::Thing(name) => {
            // Each is loaded unless it is loaded or loading: a report read again after a
            // quarantine comes without the shadow names.
            if needs(state.thing_reports.get(&name)) {
                state.thing_reports.insert(name.clone(), Load::Loading);
                effects.push(Effect::Request(Request::LoadThingReport(name.clone())));
            }
            if needs(state.thing_shadows.get(&name)) {
                state.thing_shadows.insert(name.clone(), Load::Loading);
                effects.push(Effect::Request(Request::LoadThingShadows(name.clone())));
            }
            state.screens.push(Screen::Thing {
                name,
                cursor: 0,
                scroll: 0,
            });
        }
        Link::Certificate(id) => {
            if needs(state.certificate_reports.get(&id)) {
                state.certificate_reports.insert(id.clone(), Load::Loading);
                effects.push(Effect::Request(Request::LoadCertificateReport(id.clone())));
            }
            state.screens.push(Screen::Certificate {
                id,
                cursor: 0,
                scroll: 0,
            });
        }
        Link::Policy(name) => {
            if needs(state.policy_reports.get(&name)) {
                state.policy_reports.insert(name.clone(), Load::Loading);
                effects.push(Effect::Request(Request::LoadPolicyReport(name.clone())));
            }
            state.screens.push(Screen::Policy {
                name,
                cursor: 0,
                scroll: 0,
            });
        }
    }
    state.message = None;
    effects
}

/// Whether something must be (re)loaded: not loaded yet, or failed.
fn needs<T>(load: Option<&Load<T>>) -> bool {
    !matches!(load, Some(Load::Ready(_) | Load::Loading))
}

fn refresh(state: &mut State) -> Vec<Effect> {
    state.message = None;
    match state.screen().clone() {
        Screen::List(ListKind::Things, _) => {
            state.things.generation += 1;
            state.things.items.clear();
            state.thing_haystacks.clear();
            state.things.loading = true;
            state.things.error = None;
            state.principals.clear();
            state.certificate_details.clear();
            recompute_rows(state, ListKind::Things);
            vec![
                Effect::Request(Request::ListThings {
                    generation: state.things.generation,
                }),
                Effect::Request(Request::LoadQuarantined),
            ]
        }
        Screen::List(ListKind::Certificates, _) => {
            state.certificates.generation += 1;
            state.certificates.loading = true;
            state.certificate_details.clear();
            state.certificate_things.clear();
            vec![Effect::Request(Request::ListCertificates {
                generation: state.certificates.generation,
            })]
        }
        Screen::List(ListKind::Policies, _) => {
            state.policies.generation += 1;
            state.policies.loading = true;
            vec![Effect::Request(Request::ListPolicies {
                generation: state.policies.generation,
            })]
        }
        Screen::Thing { name, .. } => {
            state.thing_reports.insert(name.clone(), Load::Loading);
            state.thing_shadows.insert(name.clone(), Load::Loading);
            vec![
                Effect::Request(Request::LoadThingReport(name.clone())),
                Effect::Request(Request::LoadThingShadows(name)),
            ]
        }
        Screen::Certificate { id, .. } => {
            state.certificate_reports.insert(id.clone(), Load::Loading);
            vec![Effect::Request(Request::LoadCertificateReport(id))]
        }
        Screen::Traffic | Screen::Shadow { .. } => Vec::new(),
        Screen::Policy { name, .. } => {
            state.policy_reports.insert(name.clone(), Load::Loading);
            vec![Effect::Request(Request::LoadPolicyReport(name))]
        }
        Screen::Audit { .. } => {
            state.audit = Some(Load::Loading);
            vec![Effect::Request(Request::LoadAudit)]
        }
    }
}

fn copy(state: &mut State) -> Vec<Effect> {
    let text = match state.screen() {
        Screen::List(..) => match selected_index(state) {
            Some((ListKind::Things, i)) => Some(state.things.items[i].arn.clone()),
            Some((ListKind::Certificates, i)) => Some(state.certificates.items[i].id.clone()),
            Some((ListKind::Policies, i)) => Some(state.policies.items[i].arn.clone()),
            None => None,
        },
        screen @ (Screen::Thing { cursor, .. }
        | Screen::Certificate { cursor, .. }
        | Screen::Policy { cursor, .. }
        | Screen::Audit { cursor, .. }) => {
            match detail::links(state, screen).into_iter().nth(*cursor) {
                Some(Link::Certificate(id)) => Some(id),
                Some(Link::Policy(name) | Link::Thing(name)) => Some(name),
                None => None,
            }
        }
        Screen::Traffic => None,
        Screen::Shadow { thing, name, .. } => {
            match state.shadows.get(&(thing.clone(), name.clone())) {
                Some(Load::Ready(shadow)) => shadow
                    .desired
                    .as_ref()
                    .and_then(|d| serde_json::to_string_pretty(d).ok()),
                _ => None,
            }
        }
    };
    if let Some(text) = text {
        info(state, Level::Info, format!("copied {text}"));
        vec![Effect::Copy(text)]
    } else {
        info(state, Level::Warning, "nothing selected to copy");
        Vec::new()
    }
}

fn command(state: &mut State, text: &str) -> Vec<Effect> {
    let (verb, argument) = text
        .split_once(' ')
        .map_or((text, ""), |(v, a)| (v, a.trim()));
    let done = |state: &mut State| state.input = None;
    match (verb, argument) {
        ("q" | "quit" | "q!", _) => {
            done(state);
            state.quit = true;
            Vec::new()
        }
        ("things", "") => {
            done(state);
            open_list(state, ListKind::Things)
        }
        ("certs" | "certificates", "") => {
            done(state);
            open_list(state, ListKind::Certificates)
        }
        ("policies", "") => {
            done(state);
            open_list(state, ListKind::Policies)
        }
        ("help", "") => {
            done(state);
            state.help = true;
            Vec::new()
        }
        ("thing", name) if !name.is_empty() => {
            done(state);
            follow(state, Link::Thing(name.to_owned()))
        }
        ("policy", name) if !name.is_empty() => {
            done(state);
            follow(state, Link::Policy(name.to_owned()))
        }
        ("cert", id) if !id.is_empty() => {
            let id = certificate_id_from_arn(id).unwrap_or(id).to_owned();
            done(state);
            follow(state, Link::Certificate(id))
        }
        ("traffic", "") => {
            done(state);
            traffic::open_all(state)
        }
        ("audit", "") => {
            done(state);
            open_audit(state)
        }
        ("traffic", thing) => {
            done(state);
            traffic::open_for(state, Some(thing.to_owned()))
        }
        ("theme", name) if !name.is_empty() => {
            done(state);
            vec![Effect::SetTheme(name.to_owned())]
        }
        _ => {
            // The typed text stays on the line, to be corrected.
            info(
                state,
                Level::Error,
                format!("unknown command '{text}': try {}", COMMANDS.join(", ")),
            );
            Vec::new()
        }
    }
}

/// Tab on the command line: completes a command, then a Thing, policy or theme name.
fn complete(state: &mut State) {
    let Some(input) = &state.input else { return };
    let text = input.text.clone();
    let (candidates, prefix): (Vec<String>, String) = match text.split_once(' ') {
        None => (
            COMMANDS
                .iter()
                .filter(|c| c.starts_with(&text))
                .map(|c| (*c).to_owned())
                .collect(),
            String::new(),
        ),
        Some((verb, partial)) => {
            let names: Vec<String> = match verb {
                "thing" => state.things.items.iter().map(|t| t.name.clone()).collect(),
                "policy" => state
                    .policies
                    .items
                    .iter()
                    .map(|p| p.name.clone())
                    .collect(),
                "cert" => state
                    .certificates
                    .items
                    .iter()
                    .map(|c| c.id.clone())
                    .collect(),
                "theme" => crate::config::files::THEMES
                    .iter()
                    .map(|(n, _)| (*n).to_owned())
                    .collect(),
                _ => Vec::new(),
            };
            (
                names
                    .into_iter()
                    .filter(|n| n.starts_with(partial))
                    .take(1000)
                    .collect(),
                format!("{verb} "),
            )
        }
    };
    let completed = match candidates.as_slice() {
        [] => {
            info(state, Level::Warning, format!("no completion for '{text}'"));
            return;
        }
        [only] => format!("{prefix}{only}{}", if prefix.is_empty() { " " } else { "" }),
        many => {
            let common = many.iter().skip(1).fold(many[0].clone(), |acc, n| {
                acc.chars()
                    .zip(n.chars())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect()
            });
            let shown: Vec<&str> = many.iter().take(8).map(String::as_str).collect();
            let more = if many.len() > 8 {
                format!(" … {} more", many.len() - 8)
            } else {
                String::new()
            };
            info(state, Level::Info, format!("{}{more}", shown.join("  ")));
            format!("{prefix}{common}")
        }
    };
    if let Some(input) = &mut state.input {
        input.text = completed;
    }
}

/// Loads what the rows on screen need and nobody has asked for: principals of visible Things,
/// then their certificates; descriptions of visible certificates. Never the whole fleet.
fn visible_loads(state: &mut State) -> Vec<Effect> {
    let Screen::List(kind, view) = state.screen() else {
        return Vec::new();
    };
    let range = view.offset..(view.offset + state.page_rows).min(view.rows.len());
    let visible: Vec<usize> = view.rows[range].iter().map(|i| *i as usize).collect();
    let mut effects = Vec::new();
    match kind {
        ListKind::Things => {
            for i in visible {
                let name = &state.things.items[i].name;
                match state.principals.get(name) {
                    None => effects.push(Effect::Request(Request::LoadPrincipals(name.clone()))),
                    Some(Load::Ready(principals)) => {
                        for id in principals.iter().filter_map(|p| certificate_id_from_arn(p)) {
                            if !state.certificate_details.contains_key(id)
                                && !effects.contains(&Effect::Request(
                                    Request::DescribeCertificate(id.to_owned()),
                                ))
                            {
                                effects.push(Effect::Request(Request::DescribeCertificate(
                                    id.to_owned(),
                                )));
                            }
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        ListKind::Certificates => {
            for i in visible {
                let certificate = &state.certificates.items[i];
                if !state.certificate_details.contains_key(&certificate.id) {
                    effects.push(Effect::Request(Request::DescribeCertificate(
                        certificate.id.clone(),
                    )));
                }
                if !state.certificate_things.contains_key(&certificate.arn) {
                    effects.push(Effect::Request(Request::LoadCertificateThings(
                        certificate.arn.clone(),
                    )));
                }
            }
        }
        ListKind::Policies => {}
    }
    for effect in &effects {
        match effect {
            Effect::Request(Request::LoadPrincipals(name)) => {
                state.principals.insert(name.clone(), Load::Loading);
            }
            Effect::Request(Request::DescribeCertificate(id)) => {
                state.certificate_details.insert(id.clone(), Load::Loading);
            }
            Effect::Request(Request::LoadCertificateThings(arn)) => {
                state.certificate_things.insert(arn.clone(), Load::Loading);
            }
            _ => {}
        }
    }
    effects
}

fn haystack_of(thing: &ThingSummary) -> String {
    let mut text = thing.name.clone();
    for part in thing.thing_type.iter().chain(thing.attributes.values()) {
        text.push(' ');
        text.push_str(part);
    }
    text
}

fn things_page(
    state: &mut State,
    generation: u64,
    result: Result<ThingPage, String>,
) -> Vec<Effect> {
    if generation != state.things.generation {
        return Vec::new();
    }
    match result {
        Ok(page) => {
            state
                .thing_haystacks
                .extend(page.things.iter().map(haystack_of));
            state.things.items.extend(page.things);
            state.things.loading = page.more;
            state.things.loaded_once |= !page.more;
            recompute_rows(state, ListKind::Things);
            visible_loads(state)
        }
        Err(error) => {
            state.things.loading = false;
            state.things.error = Some(error.clone());
            info(state, Level::Error, error);
            Vec::new()
        }
    }
}

fn arrived(state: &mut State, event: FleetEvent) -> Vec<Effect> {
    match event {
        FleetEvent::ThingsPage { generation, result } => {
            return things_page(state, generation, result);
        }
        FleetEvent::Certificates { generation, result } => {
            return certificates_arrived(state, generation, result);
        }
        FleetEvent::Policies { generation, result } => {
            if generation != state.policies.generation {
                return Vec::new();
            }
            state.policies.loading = false;
            match result {
                Ok(items) => {
                    state.policies.items = items;
                    state.policies.loaded_once = true;
                    state.policies.error = None;
                    recompute_rows(state, ListKind::Policies);
                }
                Err(error) => {
                    state.policies.error = Some(error.clone());
                    info(state, Level::Error, error);
                }
            }
        }
        FleetEvent::Principals { thing, result } => {
            state.principals.insert(thing, into_load(result));
            return visible_loads(state);
        }
        FleetEvent::Certificate { id, result } => {
            state.certificate_details.insert(id, into_load(result));
        }
        FleetEvent::CertificateThings { arn, result } => {
            state.certificate_things.insert(arn, into_load(result));
        }
        FleetEvent::ThingReport { name, result } => {
            match &result {
                Ok(report) => {
                    let checks = permissions::own_checks(&name);
                    let own = permissions::evaluate_all(report, &checks, state.now);
                    state.own_permissions.insert(name.clone(), own);
                }
                Err(error) => info(state, Level::Error, error.clone()),
            }
            state.thing_reports.insert(name, into_load(result));
        }
        FleetEvent::Shadow {
            thing,
            name,
            result,
        } => shadow::arrived(state, thing, name, result),
        FleetEvent::Published { topic, error } => published(state, &topic, error.as_deref()),
        FleetEvent::ShadowUpdated {
            result,
            journal_error,
        } => return shadow_updated(state, result, journal_error),
        FleetEvent::ThingShadows { name, result } => {
            state.thing_shadows.insert(name, into_load(result));
        }
        FleetEvent::CertificateReport { id, result } => {
            if let Err(error) = &result {
                info(state, Level::Error, error.clone());
            }
            state.certificate_reports.insert(id, into_load(result));
        }
        FleetEvent::Account(result) => match result {
            Ok(account) => state.account = Some(account),
            Err(error) => tracing::warn!(%error, "cannot tell the AWS account"),
        },
        FleetEvent::Quarantine(event) => return quarantine::arrived(state, event),
        FleetEvent::Audit(Err(error)) => {
            info(state, Level::Error, format!("the audit failed: {error}"));
            state.audit = Some(Load::Failed(error));
        }
        FleetEvent::Audit(Ok(report)) => state.audit = Some(Load::Ready(report)),
        FleetEvent::AwsAnswered { thing, result } => {
            state.aws_asked.insert(thing, into_load(result));
        }
        FleetEvent::PolicyReport { name, result } => {
            if let Err(error) = &result {
                info(state, Level::Error, error.clone());
            }
            state.policy_reports.insert(name, into_load(result));
        }
    }
    Vec::new()
}

/// A listing of certificates (ignored when a newer one was asked for).
fn certificates_arrived(
    state: &mut State,
    generation: u64,
    result: Result<Vec<crate::fleet::model::CertificateSummary>, String>,
) -> Vec<Effect> {
    if generation != state.certificates.generation {
        return Vec::new();
    }
    state.certificates.loading = false;
    match result {
        Ok(items) => {
            state.certificates.items = items;
            state.certificates.loaded_once = true;
            state.certificates.error = None;
            recompute_rows(state, ListKind::Certificates);
            visible_loads(state)
        }
        Err(error) => {
            state.certificates.error = Some(error.clone());
            info(state, Level::Error, error);
            Vec::new()
        }
    }
}

/// A publish that went through the mutation path; a problem is shown.
fn published(state: &mut State, topic: &str, error: Option<&str>) {
    if let Some(error) = error {
        state.message = Some(Message {
            level: Level::Error,
            text: format!("publish to {topic} failed: {error}"),
        });
    }
}

/// An applied (or refused) desired-state edit, and whether its journal entry was written.
fn shadow_updated(
    state: &mut State,
    result: Result<serde_json::Value, (bool, String)>,
    journal_error: Option<String>,
) -> Vec<Effect> {
    let effects = shadow_edit::applied(state, result);
    if let Some(error) = journal_error {
        info(
            state,
            Level::Error,
            format!("the journal could not be written: {error}"),
        );
    }
    effects
}

fn into_load<T>(result: Result<T, String>) -> Load<T> {
    match result {
        Ok(value) => Load::Ready(value),
        Err(error) => Load::Failed(error),
    }
}

/// The rows of the list view, for tests and views: `(item index, view)`.
#[must_use]
pub fn list_view(state: &State) -> Option<(ListKind, &ListView)> {
    match state.screen() {
        Screen::List(kind, view) => Some((*kind, view)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::OffsetDateTime;

    use super::*;
    use crate::tui::state::Backend;

    fn thing(name: &str) -> ThingSummary {
        ThingSummary {
            name: name.to_owned(),
            arn: format!("arn:aws:iot:us-east-1:1:thing/{name}"),
            thing_type: Some("pump".into()),
            attributes: BTreeMap::from([("site".into(), "plant-2".into())]),
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
            .map(|i| state.things.items[*i as usize].name.clone())
            .collect()
    }

    #[test]
    fn pages_accumulate_and_pending_ends_with_the_last_page() {
        let mut state = State::new(Backend::Local, false, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            start(&mut state),
            [
                Effect::Request(Request::ListThings { generation: 0 }),
                Effect::Request(Request::LoadQuarantined)
            ]
        );
        assert_eq!(state.pending, 2);
        update(&mut state, page(0, &names(0..250), true));
        assert!(state.things.loading);
        assert_eq!(state.things.items.len(), 250);
        assert!(
            state.pending > 1,
            "the listing and the rows' principals are in flight"
        );
        update(&mut state, page(0, &names(250..300), false));
        assert!(!state.things.loading);
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
            state.things.items.is_empty(),
            "a stale page changes nothing"
        );
        update(&mut state, page(1, &names(0..3), false));
        assert_eq!(state.things.items.len(), 3);
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
                QuarantineEvent::Quarantined(Ok(Vec::new())),
            ))),
        );
        assert_eq!(state.pending, 0);
        assert_eq!(state.message.as_ref().map(|m| m.text.clone()), Some(error));
    }
}
