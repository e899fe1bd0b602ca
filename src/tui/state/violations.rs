//! What the console knows of Device Defender Detect: the active violations, how many per Thing,
//! and how the reading goes (`tui/violations.rs` changes it).

use std::collections::HashMap;
use std::time::Duration;

use time::OffsetDateTime;

use crate::fleet::detect::Violation;

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
    /// How often to ask (`detect::poll_every`).
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
