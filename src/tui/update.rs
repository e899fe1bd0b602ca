//! `update(&mut State, Msg) -> Vec<Effect>`: every change to the console's state, pure (no I/O,
//! no terminal, no clock), so it is tested without tokio (`update_tests.rs`). A router: an
//! action goes to what has the focus (`State::focus`), then to the screen's own module (lists
//! `list.rs`, the command line `command.rs`, moving between screens `navigate.rs`, the `w`
//! question `ask.rs`, traffic, shadow, quarantine); results come back as `Msg::Fleet` and are
//! folded in here. Effects say what I/O to start.

use crate::fleet::quarantine::run::Verb;
use crate::fleet::traffic::TrafficEvent;
use crate::tui::action::Action;
use crate::tui::data::Absorbed;
use crate::tui::data::{ListKind, Load};
use crate::tui::flows::quarantine;
use crate::tui::flows::{self, bulk};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, FleetEvent, Msg, QuarantineEvent, Request, Setup};
use crate::tui::shadow::edit as shadow_edit;
use crate::tui::shadow::screen as shadow;
use crate::tui::state::{Focus, InputKind, Screen, State};
use crate::tui::things::select;
use crate::tui::traffic::keys as traffic;
use crate::tui::traffic::state::{Link, TrafficView};

use crate::tui::command::{command, complete};
use crate::tui::data::connectivity;
use crate::tui::data::denied;
use crate::tui::data::violations;
use crate::tui::navigate::{back, copy, open, refresh};
use crate::tui::thing::ask::{ask, ask_prompt};
use crate::tui::things::list::{
    certificates_arrived, clamp, filter_changed, filter_prompt, open_list, page, recompute_rows,
    set_filter, step, things_page, visible_loads,
};
/// What live traffic's connection says on the status line: a publish acknowledged, credentials
/// about to expire.
fn traffic_said(state: &mut State, event: &TrafficEvent) {
    match event {
        TrafficEvent::Published { topic } => {
            state.say(Level::Info, format!("published to {topic}"));
        }
        TrafficEvent::CredentialsExpire { at } => state.say(
            Level::Warning,
            format!(
                "the AWS credentials of live traffic expire at {} {} and could not be renewed \
                 yet; if an SSO session has ended, run `aws sso login`",
                crate::tui::frame::line::time_of_day(*at, state.zone),
                crate::tui::frame::line::zone_name(state.zone)
            ),
        ),
        _ => {}
    }
}

/// Takes the configuration in; its problems are the first message.
fn configure(state: &mut State, setup: Setup) {
    state.traffic = TrafficView::new(setup.history_budget);
    state.answer_keys = setup.answer_keys;
    state.help_lines = setup.help_lines;
    state.profiles = setup.profiles;
    state.quarantine_strategy = setup.quarantine_strategy;
    if !setup.problems.is_empty() {
        state.say(Level::Error, setup.problems.join(" | "));
    }
}

/// Whether an answer can change a Thing's status (`status.rs`).
fn changes_statuses(event: &FleetEvent) -> bool {
    matches!(
        event,
        FleetEvent::Connectivity { .. }
            | FleetEvent::Refusals(Ok(_))
            | FleetEvent::Violations(Ok(_))
            | FleetEvent::Principals { .. }
            | FleetEvent::Certificate { .. }
            | FleetEvent::CertificateThings { .. }
            | FleetEvent::Quarantine(QuarantineEvent::Quarantined(_))
    )
}

/// Recomputes the Things rows at most once a tick when statuses changed and a Things list
/// filters or sorts by them.
fn statuses_changed(state: &mut State) {
    if std::mem::take(&mut state.fleet.status_changes) == 0 {
        return;
    }
    crate::tui::things::list::statuses_changed(state);
}

/// Connectivity asked again for the Things on screen once it is `REFRESH_SECONDS` old: the
/// visible rows of the Things list, or the Thing on its screen.
fn connectivity_on_screen(state: &mut State) -> Vec<Effect> {
    let names: Vec<String> = match state.screen() {
        Screen::Thing { name, .. } => vec![name.clone()],
        Screen::List(ListKind::Things, view) => {
            let end = (view.offset + state.page_rows).min(view.rows.len());
            view.rows[view.offset.min(end)..end]
                .iter()
                .map(|&i| state.fleet.things.items.at(i as usize).name().to_owned())
                .collect()
        }
        _ => return Vec::new(),
    };
    connectivity::load(
        &mut state.fleet,
        state.now,
        names.iter().map(String::as_str),
    )
}

/// The effects the console starts with.
pub fn start(state: &mut State) -> Vec<Effect> {
    state.fleet.things.loading = true;
    let mut effects = vec![
        Effect::Request(Request::ListThings {
            generation: state.fleet.things.generation,
        }),
        quarantine::ask_quarantined(state),
    ];
    if matches!(state.backend, crate::tui::state::Backend::Aws { .. }) {
        effects.push(Effect::Request(Request::LoadAccount));
    }
    let local = matches!(state.backend, crate::tui::state::Backend::Local);
    effects.extend(denied::start(&mut state.fleet.denied, state.now, local));
    effects.extend(violations::start(&mut state.fleet.violations, local));
    counted(state, effects)
}

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let effects = match msg {
        Msg::Action(action) => act(state, action),
        Msg::Click { row, double } => {
            if !crate::tui::things::list::click(state, row) {
                return Vec::new();
            }
            if double {
                open(state)
            } else {
                visible_loads(state)
            }
        }
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
                    FleetEvent::Quarantine(
                        QuarantineEvent::Progress { .. } | QuarantineEvent::BulkProgress { .. }
                    )
                );
            state.fleet.status_changes += u32::from(changes_statuses(&event));
            // Refusals and violations are read in the background, never counted as pending.
            let background = matches!(&*event, FleetEvent::Refusals(_) | FleetEvent::Violations(_));
            state.pending = state
                .pending
                .saturating_sub(usize::from(!more_to_come && !background));
            arrived(state, *event)
        }
        Msg::Traffic(event) => {
            traffic_said(state, &event);
            state.traffic.ingest(&event, state.now);
            connectivity::traffic(&mut state.fleet, state.now, &event);
            shadow::traffic(state, &event)
        }
        Msg::EditText(text) => {
            shadow_edit::typed(state, text);
            Vec::new()
        }
        Msg::Match => crate::tui::things::list::advance_matching(state),
        Msg::Tick { now, throttled } => {
            state.now = now;
            state.spinner = state.spinner.wrapping_add(1);
            if throttled > state.throttled {
                state.throttled = throttled;
                state.throttled_at = Some(now);
            }
            let mut effects = shadow::tick(state, now);
            effects.extend(connectivity_on_screen(state));
            effects.extend(denied::tick(&mut state.fleet.denied, now));
            effects.extend(violations::tick(&mut state.fleet.violations, now));
            effects.extend(quarantine::tick(state));
            statuses_changed(state);
            traffic::tick(state);
            effects
        }
        Msg::Resize { width, height } => {
            state.size = (width, height);
            state.page_rows = usize::from(height.saturating_sub(6)).max(1);
            clamp(state);
            visible_loads(state)
        }
        Msg::Configure(setup) => {
            configure(state, *setup);
            Vec::new()
        }
        Msg::TrafficStarted { target, down } => {
            if let Some(target) = target {
                state.traffic.target = target;
            }
            if let Some(reason) = down {
                state.traffic.link = Link::Down {
                    reason,
                    retry_in: std::time::Duration::ZERO,
                    since: state.now,
                };
            }
            Vec::new()
        }
        Msg::Note { level, text } => {
            state.say(level, text);
            Vec::new()
        }
    };
    counted(state, effects)
}

fn counted(state: &mut State, effects: Vec<Effect>) -> Vec<Effect> {
    state.pending += effects
        .iter()
        .filter(|e| {
            matches!(e, Effect::Request(request) if !matches!(request, Request::LoadRefusals { .. } | Request::LoadViolations))
        })
        .count();
    effects
}

/// An action goes to what has the focus.
fn act(state: &mut State, action: Action) -> Vec<Effect> {
    match state.focus() {
        Focus::Flow { .. } => flows::act(state, action),
        Focus::Editor | Focus::Merge => shadow_edit::act(state, action).unwrap_or_default(),
        Focus::Input(_) => input_action(state, action),
        Focus::Help => {
            help_action(state, action);
            Vec::new()
        }
        Focus::Screen => screen_action(state, action),
    }
}

/// The `?` help: closed, or scrolled within what it has past the screen.
fn help_action(state: &mut State, action: Action) {
    let (width, height) = state.size;
    let most = crate::tui::frame::help::max_scroll(state.help_lines, width, height);
    let page = state.page_rows;
    let scroll = &mut state.help_scroll;
    match action {
        Action::Back | Action::Help | Action::Quit => {
            state.help = false;
            *scroll = 0;
        }
        Action::Down => *scroll = (*scroll + 1).min(most),
        Action::Up => *scroll = scroll.saturating_sub(1),
        Action::PageDown => *scroll = (*scroll + page).min(most),
        Action::PageUp => *scroll = scroll.saturating_sub(page),
        Action::Top => *scroll = 0,
        Action::Bottom => *scroll = most,
        _ => {}
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
            state.prompt(InputKind::Command, String::new());
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
                view.sort = view.sort.next(*kind);
                let label = view.sort.label(*kind);
                let kind = *kind;
                recompute_rows(state, kind);
                state.say(Level::Info, format!("sorted {label}"));
            }
            visible_loads(state)
        }
        Action::Traffic => traffic::open(state),
        Action::Shadow => shadow::open_selected(state),
        Action::Can => ask_prompt(state),
        Action::History => crate::tui::navigate::open_history(state),
        Action::Mark => {
            select::toggle(state);
            step(state, 1)
        }
        Action::MarkAll => {
            select::mark_shown(state);
            Vec::new()
        }
        Action::Quarantine if bulk::wanted(state) => bulk::begin(state, Verb::Quarantine),
        Action::Release if bulk::wanted(state) => bulk::begin(state, Verb::Release),
        Action::Quarantine => quarantine::begin(state, Verb::Quarantine),
        Action::Release => quarantine::begin(state, Verb::Release),
        Action::Edit => shadow_edit::begin(state),
        Action::EditExternal => shadow_edit::begin_external(state),
        Action::Confirm
        | Action::Cancel
        | Action::Complete
        | Action::ClearLine
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
        (Action::Complete, InputKind::Command) => complete(state),
        (Action::Complete, _) => {
            // Tab takes the placeholder, for editing; typed text is never replaced.
            if let Some(input) = &mut state.input
                && input.text.is_empty()
                && !input.suggestion.is_empty()
            {
                input.text = std::mem::take(&mut input.suggestion);
            }
            input_changed(state)
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
        (Action::ClearLine, _) => {
            if let Some(input) = &mut state.input {
                input.text.clear();
            }
            input_changed(state)
        }
        (Action::Confirm, InputKind::Can) => ask(state, &input.text),
        (Action::Confirm, kind) => traffic::entered(state, kind, &input.text),
        // Other actions are keys typed as text by the key layer; nothing else to do here.
        _ => Vec::new(),
    }
}

/// A character typed (None: backspace) into what has the focus, when it takes text.
fn type_char(state: &mut State, c: Option<char>) -> Vec<Effect> {
    if state.focus() == (Focus::Flow { text: true }) {
        return flows::typed(state, c);
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
    input_changed(state)
}

/// The prompt's text changed: a filter or a traffic search follows it as it is typed.
fn input_changed(state: &mut State) -> Vec<Effect> {
    let Some(input) = &state.input else {
        return Vec::new();
    };
    match input.kind {
        InputKind::Filter => filter_changed(state),
        InputKind::Search => {
            state.traffic.search = input.text.clone();
            state.traffic.message_cursor = 0;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// The policies listing, unless a refresh has started another since.
fn policies_arrived(
    state: &mut State,
    generation: u64,
    result: Result<Vec<crate::fleet::model::PolicySummary>, String>,
) {
    if generation != state.fleet.policies.generation {
        return;
    }
    state.fleet.policies.loading = false;
    match result {
        Ok(items) => {
            state.fleet.policies.items = items;
            state.fleet.policies.loaded_once = true;
            state.fleet.policies.error = None;
            recompute_rows(state, ListKind::Policies);
        }
        Err(error) => {
            state.fleet.policies.error = Some(error.clone());
            state.say(Level::Error, error);
        }
    }
}

/// An answer: plain data is kept in `state.fleet`; the rest goes to the screen or flow that
/// asked.
fn arrived(state: &mut State, event: FleetEvent) -> Vec<Effect> {
    let event = match state.fleet.absorb(event, state.now) {
        Absorbed::Kept(say) => {
            if let Some(error) = say {
                state.say(Level::Error, error);
            }
            return Vec::new();
        }
        Absorbed::Not(event) => *event,
    };
    match event {
        FleetEvent::ThingsPage { generation, result } => things_page(state, generation, result),
        FleetEvent::Certificates { generation, result } => {
            certificates_arrived(state, generation, result)
        }
        FleetEvent::Policies { generation, result } => {
            policies_arrived(state, generation, result);
            Vec::new()
        }
        FleetEvent::Principals { thing, result } => {
            state.fleet.principals.insert(thing, into_load(result));
            visible_loads(state)
        }
        FleetEvent::Shadow {
            thing,
            name,
            result,
        } => {
            shadow::arrived(state, thing, name, result);
            Vec::new()
        }
        FleetEvent::Published { topic, error } => {
            flows::publish::published(state, &topic, error.as_deref());
            Vec::new()
        }
        FleetEvent::ShadowUpdated {
            result,
            journal_error,
        } => shadow_updated(state, result, journal_error),
        FleetEvent::Quarantine(
            event @ (QuarantineEvent::BulkPlanned(_)
            | QuarantineEvent::BulkProgress { .. }
            | QuarantineEvent::BulkDone(_)),
        ) => bulk::arrived(state, event),
        FleetEvent::Quarantine(event) => quarantine::arrived(state, event),
        FleetEvent::Connectivity { thing, result } => {
            let said = connectivity::arrived(&mut state.fleet, state.now, thing, result);
            if let Some(reason) = said {
                state.note(Level::Warning, reason);
            }
            Vec::new()
        }
        FleetEvent::Refusals(result) => {
            if let Some(reason) = denied::arrived(&mut state.fleet.denied, state.now, result) {
                state.note(Level::Warning, reason);
            }
            Vec::new()
        }
        FleetEvent::Violations(result) => {
            let (region, local) = match &state.backend {
                crate::tui::state::Backend::Local => (String::new(), true),
                crate::tui::state::Backend::Aws { region, .. } => (region.clone(), false),
            };
            let watched = &mut state.fleet.violations;
            if let Some((level, sentence)) =
                violations::arrived(watched, state.now, (&region, local), result)
            {
                state.note(level, sentence);
            }
            Vec::new()
        }
        event @ (FleetEvent::Searched { .. } | FleetEvent::GroupMembers { .. }) => {
            select::arrived(state, event);
            visible_loads(state)
        }
        // Plain data, kept by `absorb` above.
        _ => Vec::new(),
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
        state.say(
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
