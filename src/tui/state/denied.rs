//! What the console knows of who AWS IoT refused: the newest refusals, counts per client id
//! since the console started reading, and how the reading goes (`tui/denied.rs` changes it).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use time::OffsetDateTime;

use crate::fleet::refusals::{Cursor, Refusal};

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
    /// How often to ask (`refusals::poll_every`).
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
