//! `update(&mut State, Msg) -> Vec<Effect>`: every change to the console's state, pure (no I/O,
//! no terminal, no clock), so it is tested without tokio (`tests/`). A router, and only that: a
//! message goes to what has the focus (`State::focus`: a flow, the editor, the line being typed,
//! the help) or to the screen on top and then the global keys; an answer is kept in
//! `state.fleet` when it is plain data, else handed to the feature that asked. Effects say what
//! I/O to start.

use crate::fleet::quarantine::run::Verb;
use crate::tui::action::Action;
use crate::tui::data::{Absorbed, ListKind, Load, connectivity, denied, violations};
use crate::tui::flows::{self, bulk, quarantine};
use crate::tui::frame::help;
use crate::tui::msg::{Effect, FleetEvent, Level, Msg, QuarantineEvent, Request};
use crate::tui::navigate::{self, back, copy, open, refresh};
use crate::tui::prompt;
use crate::tui::shadow::{edit, screen as shadow};
use crate::tui::state::{Focus, InputKind, State};
use crate::tui::thing::ask::ask_prompt;
use crate::tui::things::list::{
    self, certificates_arrived, filter_prompt, open_list, page, step, things_page, visible_loads,
};
use crate::tui::things::{select, status};
use crate::tui::traffic;

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
        Msg::Click { row, double } => navigate::clicked(state, row, double),
        Msg::Typed(c) => typed(state, Some(c)),
        Msg::Erase => typed(state, None),
        Msg::ClearInput => {
            if let Some(input) = &mut state.input {
                input.text.clear();
            }
            list::filter_changed(state)
        }
        Msg::Fleet(event) => {
            let more_to_come = matches!(&*event, FleetEvent::ThingsPage { result: Ok(page), .. } if page.more)
                || matches!(
                    &*event,
                    FleetEvent::Quarantine(
                        QuarantineEvent::Progress { .. } | QuarantineEvent::BulkProgress { .. }
                    )
                );
            state.fleet.status_changes += u32::from(status::changed_by(&event));
            // Refusals and violations are read in the background, never counted as pending.
            let background = matches!(&*event, FleetEvent::Refusals(_) | FleetEvent::Violations(_));
            state.pending = state
                .pending
                .saturating_sub(usize::from(!more_to_come && !background));
            arrived(state, *event)
        }
        Msg::Traffic(event) => {
            traffic::said(state, &event);
            state.traffic.ingest(&event, state.now);
            connectivity::traffic(&mut state.fleet, state.now, &event);
            shadow::traffic(state, &event)
        }
        Msg::EditText(text) => {
            edit::typed(state, text);
            Vec::new()
        }
        Msg::Match => list::advance_matching(state),
        Msg::Tick { now, throttled } => {
            state.now = now;
            state.spinner = state.spinner.wrapping_add(1);
            if throttled > state.throttled {
                state.throttled = throttled;
                state.throttled_at = Some(now);
            }
            let mut effects = shadow::tick(state, now);
            let names = navigate::things_on_screen(state);
            let names = names.iter().map(String::as_str);
            effects.extend(connectivity::load(&mut state.fleet, now, names));
            effects.extend(denied::tick(&mut state.fleet.denied, now));
            effects.extend(violations::tick(&mut state.fleet.violations, now));
            effects.extend(quarantine::tick(state));
            crate::tui::things::rows::statuses_changed(state);
            traffic::tick(state);
            effects
        }
        Msg::Resize { width, height } => list::resized(state, width, height),
        Msg::Configure(setup) => {
            state.configure(*setup);
            Vec::new()
        }
        Msg::TrafficStarted { target, down } => {
            traffic::started(state, target, down);
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

/// A character typed (None: backspace) into what has the focus, when it takes text.
fn typed(state: &mut State, c: Option<char>) -> Vec<Effect> {
    if state.focus() == (Focus::Flow { text: true }) {
        return flows::typed(state, c);
    }
    prompt::typed(state, c)
}

/// An action goes to what has the focus.
fn act(state: &mut State, action: Action) -> Vec<Effect> {
    match state.focus() {
        Focus::Flow { .. } => flows::act(state, action),
        Focus::Editor | Focus::Merge => edit::act(state, action).unwrap_or_default(),
        Focus::Input(_) => prompt::act(state, action),
        Focus::Help => {
            help::act(state, action);
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
        Action::Sort => list::sort(state),
        Action::Traffic => traffic::open(state),
        Action::Shadow => shadow::open_selected(state),
        Action::Can => ask_prompt(state),
        Action::History => navigate::open_history(state),
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
        Action::Edit => edit::begin(state),
        Action::EditExternal => edit::begin_external(state),
        // The rest are a flow's, the line's, or another screen's keys.
        _ => Vec::new(),
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
            list::policies_arrived(state, generation, result);
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
        } => edit::applied(state, result, journal_error),
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

fn into_load<T>(result: Result<T, String>) -> Load<T> {
    match result {
        Ok(value) => Load::Ready(value),
        Err(error) => Load::Failed(error),
    }
}
