//! The line being typed (`State::input`): the `/` filter, the `:` command line, a traffic
//! search, topic or JSON path, the `w` question. Keys and typed characters while it is open;
//! what Enter does is the feature's (`things/list.rs`, `command.rs`, `traffic/`, `thing/ask.rs`).

use crate::tui::action::Action;
use crate::tui::command::{command, complete};
use crate::tui::msg::Effect;
use crate::tui::state::{InputKind, State};
use crate::tui::thing::ask::ask;
use crate::tui::things::list::{filter_changed, visible_loads};
use crate::tui::things::rows::set_filter;
use crate::tui::traffic;

/// A key while a line is being typed: Enter takes it, Esc puts back what was there, Tab
/// completes.
pub fn act(state: &mut State, action: Action) -> Vec<Effect> {
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
            changed(state)
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
            changed(state)
        }
        (Action::Confirm, InputKind::Can) => ask(state, &input.text),
        (Action::Confirm, kind) => traffic::entered(state, kind, &input.text),
        // Other actions are keys typed as text by the key layer; nothing else to do here.
        _ => Vec::new(),
    }
}

/// A character typed into the line (None: backspace).
pub fn typed(state: &mut State, c: Option<char>) -> Vec<Effect> {
    let Some(input) = &mut state.input else {
        return Vec::new();
    };
    match c {
        Some(c) => input.text.push(c),
        None => {
            input.text.pop();
        }
    }
    changed(state)
}

/// The prompt's text changed: a filter or a traffic search follows it as it is typed.
fn changed(state: &mut State) -> Vec<Effect> {
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
