//! The confirmations: every change the console makes is one `Flow` (`flow.rs`), planned, shown,
//! confirmed by one rule for its keys, run and reported: a quarantine or release of one Thing
//! (`quarantine.rs`) or of the marked Things (`bulk.rs`), a publish (`publish.rs`), a shadow
//! edit applied (`shadow/edit.rs` makes it). `view.rs` draws the popups and their footer.

pub mod batch_view;
pub mod bulk;
pub mod flow;
pub mod publish;
pub mod quarantine;
pub mod view;

use flow::{Answer, Change, Progress, Stage};

use crate::fleet::quarantine::run::Verb;
use crate::tui::action::Action;
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, Request};
use crate::tui::state::State;

/// A key while a flow has the focus, by the one rule (`Answer::of`).
pub fn act(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(flow) = &state.flow else {
        return Vec::new();
    };
    match Answer::of(flow, action) {
        Answer::Confirm => confirm(state),
        Answer::Toggle => quarantine::toggle(state),
        Answer::Cancel => {
            cancel(state);
            Vec::new()
        }
        Answer::Busy => {
            if let Some(busy) = match flow.change {
                Change::Thing { .. } => {
                    Some("the run goes on to its end; it is journaled step by step")
                }
                Change::Batch { .. } => {
                    Some("the batch goes on to its end; each Thing is journaled as it goes")
                }
                Change::Publish { .. } | Change::Shadow { .. } => None,
            } {
                state.say(Level::Warning, busy);
            }
            Vec::new()
        }
        Answer::Close => {
            state.flow = None;
            Vec::new()
        }
        Answer::None => Vec::new(),
    }
}

/// A character typed while the flow takes text (None: backspace).
pub fn typed(state: &mut State, c: Option<char>) -> Vec<Effect> {
    if let Some(flow) = state.flow.as_mut() {
        flow.type_char(c);
    }
    Vec::new()
}

/// Confirmed: what had to be typed is checked; a quarantine asks why next; anything else runs.
fn confirm(state: &mut State) -> Vec<Effect> {
    let Some(flow) = state.flow.as_mut() else {
        return Vec::new();
    };
    if let Stage::Confirm { plan, typed } = &flow.stage {
        if let Some(expected) = flow.to_type()
            && *typed != expected
        {
            let what = match flow.change {
                Change::Batch { .. } => expected,
                _ => "the Thing's name exactly".to_owned(),
            };
            let text = format!(
                "type {what} to confirm, or {} to cancel",
                state.answer_keys.esc()
            );
            state.say(Level::Warning, text);
            return Vec::new();
        }
        if flow.verb() == Some(Verb::Quarantine) {
            flow.stage = Stage::Reason {
                plan: plan.clone(),
                reason: String::new(),
            };
            return Vec::new();
        }
    }
    match flow.change {
        Change::Thing { .. } => quarantine::run(state),
        Change::Batch { .. } => bulk::run(state),
        Change::Publish { .. } => publish::run(state),
        Change::Shadow { .. } => apply_shadow(state),
    }
}

/// Cancelled before its run: nothing was changed, and it is said so.
fn cancel(state: &mut State) {
    let Some(flow) = state.flow.take() else {
        return;
    };
    match flow.change {
        Change::Thing { verb, .. } | Change::Batch { verb, .. } => {
            state.say(
                Level::Info,
                format!("{verb} cancelled: nothing was changed"),
            );
        }
        Change::Publish { .. } => state.say(Level::Info, "not published"),
        // Back to the draft, which is kept.
        Change::Shadow { .. } => {
            if let Some(edit) = state.edit.as_mut() {
                edit.open = true;
            }
            state.message = None;
        }
    }
}

/// A shadow edit's patch sent; the edit ends when the answer comes (`shadow/edit.rs`).
fn apply_shadow(state: &mut State) -> Vec<Effect> {
    let Some(flow) = state.flow.as_mut() else {
        return Vec::new();
    };
    let Change::Shadow {
        thing,
        name,
        desired,
        version,
        before,
    } = &flow.change
    else {
        return Vec::new();
    };
    let effect = Effect::Request(Request::UpdateShadow {
        thing: thing.clone(),
        name: name.clone(),
        desired: desired.clone(),
        version: *version,
        before: before.clone(),
    });
    flow.stage = Stage::Running(Progress::Call);
    state.say(Level::Info, "applying…");
    vec![effect]
}

#[cfg(test)]
mod tests;
