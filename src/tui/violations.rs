//! Device Defender Detect in the console: the active violations (`fleet/detect.rs`) are asked
//! from the moment it opens, every `ViolationsView::every` (every `state::violations::RETRY`
//! after a failure), so the Things list's VIOL column, the Thing screen and `:violations` show
//! the same. Why they cannot be read, or that nothing is watched, is said once (`:violations`
//! and the column's `?` keep saying it).

use super::msg::{Effect, Request};
use super::state::violations::{Feed, RETRY, ViolationsView};
use super::state::{Level, State};
use crate::fleet::detect::{Violations, poll_every};

/// The first read, as the console opens.
pub fn start(state: &mut State) -> Vec<Effect> {
    let local = matches!(state.backend, super::state::Backend::Local);
    state.violations = ViolationsView::new(poll_every(local), local);
    ask(state)
}

/// Asks for the active violations (one at a time: callers check `asking`).
pub fn ask(state: &mut State) -> Vec<Effect> {
    state.violations.asking = true;
    vec![Effect::Request(Request::LoadViolations)]
}

/// Asks again once the last answer is `every` old (`RETRY` after a failure or where nothing
/// is watched).
pub fn tick(state: &mut State) -> Vec<Effect> {
    let view = &state.violations;
    let wait = match view.feed {
        Feed::Watching | Feed::Starting => view.every,
        Feed::Unknown(_) | Feed::Unwatched(_) => RETRY,
    };
    let due = !view.asking
        && view
            .answered
            .is_some_and(|at| (state.now - at).unsigned_abs() >= wait);
    if due { ask(state) } else { Vec::new() }
}

/// An answer: the violations active now; a failure, or nothing watched, is said once (until it
/// changes).
pub fn arrived(state: &mut State, result: Result<Violations, String>) {
    let (region, local) = match &state.backend {
        super::state::Backend::Local => (String::new(), true),
        super::state::Backend::Aws { region, .. } => (region.clone(), false),
    };
    let view = &mut state.violations;
    view.asking = false;
    view.answered = Some(state.now);
    let (said, level, sentence) = match result {
        Ok(found) => match found.unwatched(&region, local) {
            None => {
                view.set(found.active);
                return;
            }
            Some(sentence) => (Feed::Unwatched(sentence.clone()), Level::Info, sentence),
        },
        Err(reason) => (Feed::Unknown(reason.clone()), Level::Warning, reason),
    };
    if view.feed != said {
        state.note(level, sentence);
    }
    state.violations.feed = said;
    state.violations.active.clear();
    state.violations.counts.clear();
}
