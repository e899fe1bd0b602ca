//! Who is being refused: the console reads AWS IoT's refusals (`fleet/refusals.rs`) from the
//! moment it opens, one FilterLogEvents at a time, every `DeniedView::every` (every
//! `state::denied::RETRY` after a failure), so the Things list's DENIED column, the Thing screen
//! and `:denied` show the same counts. Why they cannot be read is said once (without hiding an
//! error already on the status line: `:denied` and the DENIED column's `?` keep saying it).

use super::msg::{Effect, Request};
use super::state::denied::{DeniedView, Feed, RETRY};
use super::state::{Level, State};
use crate::fleet::refusals::{LogEvent, poll_every};

/// The first read, as the console opens.
pub fn start(state: &mut State) -> Vec<Effect> {
    let local = matches!(state.backend, super::state::Backend::Local);
    state.denied = DeniedView::new(state.now, poll_every(local));
    ask(state)
}

/// Reads the refusals logged since the cursor (one at a time: callers check `asking`).
pub fn ask(state: &mut State) -> Vec<Effect> {
    state.denied.asking = true;
    vec![Effect::Request(Request::LoadRefusals {
        start_ms: state.denied.cursor.start_ms(),
    })]
}

/// Asks again once the last answer is `every` old (`RETRY` after a failure).
pub fn tick(state: &mut State) -> Vec<Effect> {
    let denied = &state.denied;
    let wait = match denied.feed {
        Feed::Unknown(_) => RETRY,
        _ => denied.every,
    };
    let due = !denied.asking
        && denied
            .answered
            .is_some_and(|at| (state.now - at).unsigned_abs() >= wait);
    if due { ask(state) } else { Vec::new() }
}

/// An answer: new refusals are counted; a failure is said once (until reading works again).
pub fn arrived(state: &mut State, result: Result<Vec<LogEvent>, String>) {
    let denied = &mut state.denied;
    denied.asking = false;
    denied.answered = Some(state.now);
    match result {
        Ok(events) => {
            let fresh = denied.cursor.absorb(&events);
            denied.add(fresh);
            denied.feed = Feed::Reading;
        }
        Err(reason) => {
            let said = matches!(&denied.feed, Feed::Unknown(before) if *before == reason);
            denied.feed = Feed::Unknown(reason.clone());
            if !said {
                state.note(Level::Warning, reason);
            }
        }
    }
}
