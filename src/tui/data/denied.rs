//! Who AWS IoT refused, as the console knows it: the newest refusals, counts per client id since
//! the console started reading, and how the reading goes. Read from the moment the console
//! opens (`fleet/denied.rs`), one FilterLogEvents at a time, every `DeniedView::every` (every
//! `RETRY` after a failure), so the Things list's DENIED column, the Thing screen and `:denied`
//! show the same counts. Why they cannot be read is said once (without hiding an error already
//! on the status line: `:denied` and the DENIED column's `?` keep saying it).

use crate::fleet::denied::{Cursor, Refusal};
use crate::fleet::denied::{LogEvent, poll_every};
use crate::tui::msg::{Effect, Request};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use time::OffsetDateTime;

/// Refusals kept for the `:denied` screen; counts go on past it.
pub const KEPT: usize = 5_000;
/// Client ids counted; refusals of any other are counted in `uncounted`.
pub const COUNTED: usize = 100_000;
/// How far back the console starts reading.
pub const SINCE: time::Duration = time::Duration::hours(1);
/// After a failure, how long before asking again.
pub const RETRY: Duration = Duration::from_mins(1);

/// How the reading goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// The first answer has not come yet.
    Starting,
    /// Answers come; the counts are true from `DeniedView::since`.
    Reading,
    /// The last ask failed: why (the log group missing says how to turn logging on).
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeniedView {
    /// Newest first, at most `KEPT`.
    pub refusals: VecDeque<Refusal>,
    /// Refusals per client id (a Thing's, when AWS's convention of client id = Thing name holds).
    pub counts: HashMap<String, u64>,
    pub uncounted: u64,
    pub total: u64,
    /// Where the reading started.
    pub since: OffsetDateTime,
    pub cursor: Cursor,
    pub feed: Feed,
    /// A request is in flight.
    pub asking: bool,
    /// When the last answer (or failure) came.
    pub answered: Option<OffsetDateTime>,
    /// How often to ask (`fleet::denied::poll_every`).
    pub every: Duration,
}

impl DeniedView {
    #[must_use]
    pub fn new(now: OffsetDateTime, every: Duration) -> Self {
        let since = now - SINCE;
        Self {
            refusals: VecDeque::new(),
            counts: HashMap::new(),
            uncounted: 0,
            total: 0,
            since,
            cursor: Cursor::since(since),
            feed: Feed::Starting,
            asking: false,
            answered: None,
            every,
        }
    }

    /// Takes new refusals in (oldest first).
    pub fn add(&mut self, fresh: Vec<Refusal>) {
        for refusal in fresh {
            self.total += 1;
            if let Some(count) = self.counts.get_mut(&refusal.client_id) {
                *count += 1;
            } else if self.counts.len() < COUNTED {
                self.counts.insert(refusal.client_id.clone(), 1);
            } else {
                self.uncounted += 1;
            }
            self.refusals.push_front(refusal);
        }
        self.refusals.truncate(KEPT);
    }

    /// The refusals of `thing` (as a client id) since `since`; None before anything was read.
    #[must_use]
    pub fn count(&self, thing: &str) -> Option<u64> {
        (self.feed == Feed::Reading || self.total > 0)
            .then(|| self.counts.get(thing).copied().unwrap_or(0))
    }

    /// The newest refusal of `thing` still kept.
    #[must_use]
    pub fn newest(&self, thing: &str) -> Option<&Refusal> {
        self.refusals.iter().find(|r| r.client_id == thing)
    }
}

impl Default for DeniedView {
    fn default() -> Self {
        Self::new(OffsetDateTime::UNIX_EPOCH, Duration::from_secs(5))
    }
}

/// The first read, as the console opens.
pub fn start(denied: &mut DeniedView, now: OffsetDateTime, local: bool) -> Vec<Effect> {
    *denied = DeniedView::new(now, poll_every(local));
    ask(denied)
}

/// Reads the refusals logged since the cursor (one at a time: callers check `asking`).
pub fn ask(denied: &mut DeniedView) -> Vec<Effect> {
    denied.asking = true;
    vec![Effect::Request(Request::LoadRefusals {
        start_ms: denied.cursor.start_ms(),
    })]
}

/// Asks again once the last answer is `every` old (`RETRY` after a failure).
pub fn tick(denied: &mut DeniedView, now: OffsetDateTime) -> Vec<Effect> {
    let wait = match denied.feed {
        Feed::Unknown(_) => RETRY,
        _ => denied.every,
    };
    let due = !denied.asking
        && denied
            .answered
            .is_some_and(|at| (now - at).unsigned_abs() >= wait);
    if due { ask(denied) } else { Vec::new() }
}

/// An answer: new refusals are counted; a failure is to be said once (until reading works
/// again): the reason returned.
pub fn arrived(
    denied: &mut DeniedView,
    now: OffsetDateTime,
    result: Result<Vec<LogEvent>, String>,
) -> Option<String> {
    denied.asking = false;
    denied.answered = Some(now);
    match result {
        Ok(events) => {
            let fresh = denied.cursor.absorb(&events);
            denied.add(fresh);
            denied.feed = Feed::Reading;
            None
        }
        Err(reason) => {
            let said = matches!(&denied.feed, Feed::Unknown(before) if *before == reason);
            denied.feed = Feed::Unknown(reason.clone());
            (!said).then_some(reason)
        }
    }
}
