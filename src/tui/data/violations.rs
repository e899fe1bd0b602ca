//! Device Defender Detect's active violations, as the console knows them: how many per Thing,
//! and how the reading goes. Asked from the moment the console opens (`fleet/violations.rs`),
//! every `ViolationsView::every` (every `RETRY` after a failure), so the Things list's VIOL
//! column, the Thing screen and `:violations` show the same. Why they cannot be read, or that
//! nothing is watched, is said once (`:violations` and the column's `?` keep saying it).

use crate::fleet::violations::Violation;
use crate::fleet::violations::{Violations, poll_every};
use crate::tui::msg::{Effect, Level, Request};
use std::collections::HashMap;
use std::time::Duration;
use time::OffsetDateTime;

/// After a failure, how long before asking again.
pub const RETRY: Duration = Duration::from_mins(1);

/// How the reading goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// The first answer has not come yet.
    Starting,
    /// Answers come: the violations are those active at the last answer.
    Watching,
    /// No security profile exists: nothing is watched (the sentence says so, and how to set
    /// one up).
    Unwatched(String),
    /// The last ask failed: why.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ViolationsView {
    /// Active at the last answer, by Thing, profile and behaviour.
    pub active: Vec<Violation>,
    /// Active violations per Thing.
    pub counts: HashMap<String, usize>,
    pub feed: Feed,
    /// A request is in flight.
    pub asking: bool,
    /// When the last answer (or failure) came.
    pub answered: Option<OffsetDateTime>,
    /// How often to ask (`fleet::violations::poll_every`).
    pub every: Duration,
    /// Whether the backend is the local core (its datapoints differ from AWS's: said on the
    /// screen).
    pub local: bool,
}

impl ViolationsView {
    #[must_use]
    pub fn new(every: Duration, local: bool) -> Self {
        Self {
            active: Vec::new(),
            counts: HashMap::new(),
            feed: Feed::Starting,
            asking: false,
            answered: None,
            every,
            local,
        }
    }

    /// Takes an answer: the violations active now.
    pub fn set(&mut self, mut active: Vec<Violation>) {
        active.sort_by(|a, b| {
            (&a.thing_name, &a.security_profile, &a.behavior).cmp(&(
                &b.thing_name,
                &b.security_profile,
                &b.behavior,
            ))
        });
        self.counts.clear();
        for violation in &active {
            *self.counts.entry(violation.thing_name.clone()).or_default() += 1;
        }
        self.active = active;
        self.feed = Feed::Watching;
    }

    /// The Thing's active violations; None while they are not known (before the first answer,
    /// after a failure, or where nothing is watched).
    #[must_use]
    pub fn count(&self, thing: &str) -> Option<usize> {
        (self.feed == Feed::Watching).then(|| self.counts.get(thing).copied().unwrap_or(0))
    }

    /// The Thing's active violations.
    pub fn of<'a>(&'a self, thing: &'a str) -> impl Iterator<Item = &'a Violation> + 'a {
        self.active.iter().filter(move |v| v.thing_name == thing)
    }
}

impl Default for ViolationsView {
    fn default() -> Self {
        Self::new(Duration::from_secs(30), false)
    }
}

/// The first read, as the console opens.
pub fn start(view: &mut ViolationsView, local: bool) -> Vec<Effect> {
    *view = ViolationsView::new(poll_every(local), local);
    ask(view)
}

/// Asks for the active violations (one at a time: callers check `asking`).
pub fn ask(view: &mut ViolationsView) -> Vec<Effect> {
    view.asking = true;
    vec![Effect::Request(Request::LoadViolations)]
}

/// Asks again once the last answer is `every` old (`RETRY` after a failure or where nothing
/// is watched).
pub fn tick(view: &mut ViolationsView, now: OffsetDateTime) -> Vec<Effect> {
    let wait = match view.feed {
        Feed::Watching | Feed::Starting => view.every,
        Feed::Unknown(_) | Feed::Unwatched(_) => RETRY,
    };
    let due = !view.asking
        && view
            .answered
            .is_some_and(|at| (now - at).unsigned_abs() >= wait);
    if due { ask(view) } else { Vec::new() }
}

/// An answer: the violations active now; a failure, or nothing watched, is to be said once
/// (until it changes): what to say returned. `region` is the console's ("" locally).
pub fn arrived(
    view: &mut ViolationsView,
    now: OffsetDateTime,
    (region, local): (&str, bool),
    result: Result<Violations, String>,
) -> Option<(Level, String)> {
    view.asking = false;
    view.answered = Some(now);
    let (feed, level, sentence) = match result {
        Ok(found) => match found.unwatched(region, local) {
            None => {
                view.set(found.active);
                return None;
            }
            Some(sentence) => (Feed::Unwatched(sentence.clone()), Level::Info, sentence),
        },
        Err(reason) => (Feed::Unknown(reason.clone()), Level::Warning, reason),
    };
    let say = (view.feed != feed).then_some((level, sentence));
    view.feed = feed;
    view.active.clear();
    view.counts.clear();
    say
}
