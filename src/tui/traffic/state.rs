//! The traffic screen's state: subscriptions and their fate, the connection and its gaps, the
//! message history under its memory budget, the topic tree with counts and rates, and the
//! message list (per topic, searched, frozen).

use std::sync::Arc;

use time::OffsetDateTime;

use crate::fleet::traffic::TrafficEvent;
use crate::fleet::traffic::messages::{DEFAULT_BUDGET, History, Kept};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    Pending,
    Qos(u8),
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub filter: String,
    pub granted: Granted,
}

/// The connection, as the screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Off,
    Connecting,
    Connected {
        since: OffsetDateTime,
    },
    Down {
        reason: String,
        retry_in: std::time::Duration,
        since: OffsetDateTime,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Topics,
    Messages,
}

/// A row of the topic tree: one topic level, with the messages received at or below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    pub depth: usize,
    pub label: String,
    /// The topic (or topic prefix) the row stands for; empty for the root row.
    pub path: String,
    pub count: u64,
    /// Messages in the last minute at or below the row.
    pub minute: u64,
    /// Messages per second over the last minute, for leaf rows.
    pub rate: Option<Vec<u32>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrafficView {
    /// Where the connection goes (`host:port`), for the status line.
    pub target: String,
    pub history: History,
    pub subscriptions: Vec<Subscription>,
    pub link: Link,
    /// Times the connection dropped, and the last gap (from drop to reconnect).
    pub disconnects: u64,
    pub last_gap: Option<(OffsetDateTime, OffsetDateTime)>,
    /// Messages the client dropped because the console fell behind.
    pub dropped: u64,
    /// While frozen: how many messages had been received when the view froze.
    pub frozen: Option<u64>,
    pub pane: Pane,
    pub topic_cursor: usize,
    /// In the message list, 0 is the newest.
    pub message_cursor: usize,
    /// Messages whose topic or payload contains this are listed (ASCII letters in any case).
    pub search: String,
    pub hex: bool,
    /// When set, JSON payloads are shown as the value at this path (`reading.speed`).
    pub json_path: String,
    /// Whether the connection was started (it runs until the console quits).
    pub started: bool,
    /// The topic tree's order: busiest first (`s`), or by name.
    pub by_rate: bool,
    /// The busiest Things of the last minute, by the Thing their topics name, busiest first
    /// (`tui/traffic.rs` works them out once a second).
    pub talkers: Vec<(String, u64)>,
    pub talkers_at: Option<OffsetDateTime>,
}

impl TrafficView {
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Self {
            target: String::new(),
            history: History::new(budget),
            subscriptions: Vec::new(),
            link: Link::Off,
            disconnects: 0,
            last_gap: None,
            dropped: 0,
            frozen: None,
            pane: Pane::Topics,
            topic_cursor: 0,
            message_cursor: 0,
            search: String::new(),
            hex: false,
            json_path: String::new(),
            started: false,
            by_rate: false,
            talkers: Vec::new(),
            talkers_at: None,
        }
    }

    /// Folds one event from the traffic client in.
    pub fn ingest(&mut self, event: &TrafficEvent, now: OffsetDateTime) {
        match event {
            TrafficEvent::Message(message) => self.history.push(message),
            TrafficEvent::Connected => {
                if let Link::Down { since, .. } = self.link {
                    self.last_gap = Some((since, now));
                }
                self.link = Link::Connected { since: now };
                // The client subscribes everything again; each answer comes anew.
                for subscription in &mut self.subscriptions {
                    subscription.granted = Granted::Pending;
                }
            }
            TrafficEvent::Disconnected { reason, retry_in } => {
                let since = match &self.link {
                    Link::Connected { .. } => {
                        self.disconnects += 1;
                        now
                    }
                    Link::Down { since, .. } => *since,
                    Link::Off | Link::Connecting => now,
                };
                self.link = Link::Down {
                    reason: reason.clone(),
                    retry_in: *retry_in,
                    since,
                };
            }
            TrafficEvent::Subscribed { filter, qos } => self.grant(filter, Granted::Qos(*qos)),
            TrafficEvent::SubscriptionRefused { filter } => self.grant(filter, Granted::Refused),
            TrafficEvent::Dropped(count) => self.dropped += count,
            // Said on the status line (`update`).
            TrafficEvent::Published { .. } | TrafficEvent::CredentialsExpire { .. } => {}
        }
    }

    fn grant(&mut self, filter: &str, granted: Granted) {
        if let Some(subscription) = self.subscriptions.iter_mut().find(|s| s.filter == filter) {
            subscription.granted = granted;
        }
    }

    /// Adds a filter to the list; false when it is there already.
    pub fn add(&mut self, filter: &str) -> bool {
        if self.subscriptions.iter().any(|s| s.filter == filter) {
            return false;
        }
        self.subscriptions.push(Subscription {
            filter: filter.to_owned(),
            granted: Granted::Pending,
        });
        true
    }

    /// The topic tree, fully expanded: a root row, then every level of every topic seen; by
    /// name, or with `by_rate` siblings busiest first (messages in the last minute, then all).
    #[must_use]
    pub fn tree(&self, now: OffsetDateTime) -> Vec<TreeRow> {
        if self.by_rate {
            return self.tree_by_rate(now);
        }
        let mut topics: Vec<(&Arc<str>, u64)> = self
            .history
            .topics()
            .iter()
            .map(|(topic, stats)| (topic, stats.count))
            .collect();
        topics.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let total = topics.iter().map(|(_, count)| count).sum();
        let mut rows = vec![TreeRow {
            depth: 0,
            label: "all topics".to_owned(),
            path: String::new(),
            count: total,
            minute: 0,
            rate: None,
        }];
        // Each topic adds the levels it does not share with the previous one; counts of shared
        // prefixes accumulate on the rows already made.
        let mut open: Vec<usize> = Vec::new();
        let mut previous: Vec<&str> = Vec::new();
        for (topic, count) in topics {
            let levels: Vec<&str> = topic.split('/').collect();
            let shared = previous
                .iter()
                .zip(&levels)
                .take_while(|(a, b)| a == b)
                .count()
                .min(levels.len() - 1);
            open.truncate(shared);
            let rate = self
                .history
                .topics()
                .get(&**topic)
                .map(|stats| stats.rate(now))
                .unwrap_or_default();
            let minute: u64 = rate.iter().map(|&n| u64::from(n)).sum();
            rows[0].minute += minute;
            for &row in &open {
                rows[row].count += count;
                rows[row].minute += minute;
            }
            for depth in shared..levels.len() {
                let leaf = depth + 1 == levels.len();
                open.push(rows.len());
                rows.push(TreeRow {
                    depth: depth + 1,
                    label: levels[depth].to_owned(),
                    path: levels[..=depth].join("/"),
                    count,
                    minute,
                    rate: leaf.then(|| rate.clone()),
                });
            }
            previous = levels;
        }
        rows
    }

    /// The tree with siblings busiest first: a node per level, its counts summed from the
    /// topics at or below it, flattened depth first.
    fn tree_by_rate(&self, now: OffsetDateTime) -> Vec<TreeRow> {
        #[derive(Default)]
        struct Node<'a> {
            children: std::collections::BTreeMap<&'a str, Node<'a>>,
            count: u64,
            minute: u64,
            rate: Option<Vec<u32>>,
        }
        fn flatten(node: &Node<'_>, depth: usize, path: &str, rows: &mut Vec<TreeRow>) {
            let mut children: Vec<(&&str, &Node<'_>)> = node.children.iter().collect();
            children.sort_by(|a, b| {
                (b.1.minute, b.1.count)
                    .cmp(&(a.1.minute, a.1.count))
                    .then(a.0.cmp(b.0))
            });
            for (label, child) in children {
                let path = if depth == 0 {
                    (*label).to_owned()
                } else {
                    format!("{path}/{label}")
                };
                rows.push(TreeRow {
                    depth: depth + 1,
                    label: (*label).to_owned(),
                    path: path.clone(),
                    count: child.count,
                    minute: child.minute,
                    rate: child.rate.clone(),
                });
                flatten(child, depth + 1, &path, rows);
            }
        }
        let mut root = Node::default();
        for (topic, stats) in self.history.topics() {
            let rate = stats.rate(now);
            let minute: u64 = rate.iter().map(|&n| u64::from(n)).sum();
            let mut node = &mut root;
            node.count += stats.count;
            node.minute += minute;
            for level in topic.split('/') {
                node = node.children.entry(level).or_default();
                node.count += stats.count;
                node.minute += minute;
            }
            node.rate = Some(rate);
        }
        let mut rows = vec![TreeRow {
            depth: 0,
            label: "all topics".to_owned(),
            path: String::new(),
            count: root.count,
            minute: root.minute,
            rate: None,
        }];
        flatten(&root, 0, "", &mut rows);
        rows
    }

    /// The kept messages under `path` that match the search, newest first, as the view shows
    /// them (messages after a freeze are held back). Lazily: callers take what they show.
    pub fn messages<'s, 'p>(
        &'s self,
        path: &'p str,
    ) -> impl Iterator<Item = Kept<'s>> + use<'s, 'p> {
        let held = self
            .frozen
            .map_or(0, |at| self.history.received().saturating_sub(at));
        let search = self.search.as_bytes();
        self.history
            .messages()
            .rev()
            .skip(usize::try_from(held).unwrap_or(usize::MAX))
            .filter(move |m| {
                path.is_empty()
                    || (m.topic.starts_with(path)
                        && matches!(m.topic.as_bytes().get(path.len()), None | Some(b'/')))
            })
            .filter(move |m| {
                search.is_empty()
                    || contains_ignoring_case(m.topic.as_bytes(), search)
                    || contains_ignoring_case(m.payload, search)
            })
    }

    /// The path of the selected tree row.
    #[must_use]
    pub fn selected_path(&self, now: OffsetDateTime) -> String {
        self.tree(now)
            .into_iter()
            .nth(self.topic_cursor)
            .map(|row| row.path)
            .unwrap_or_default()
    }

    /// The selected message, if any.
    #[must_use]
    pub fn selected_message(&self, now: OffsetDateTime) -> Option<Kept<'_>> {
        let path = self.selected_path(now);
        self.messages(&path).nth(self.message_cursor)
    }

    /// Moves the cursor of the focused pane by `delta`, within bounds.
    pub fn step(&mut self, delta: isize, now: OffsetDateTime) {
        let len = match self.pane {
            Pane::Topics => self.tree(now).len(),
            Pane::Messages => self.messages(&self.selected_path(now)).count(),
        };
        let cursor = match self.pane {
            Pane::Topics => &mut self.topic_cursor,
            Pane::Messages => &mut self.message_cursor,
        };
        let target = cursor.saturating_add_signed(delta);
        *cursor = target.min(len.saturating_sub(1));
        if self.pane == Pane::Topics {
            self.message_cursor = 0;
        }
    }
}

impl Default for TrafficView {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET)
    }
}

/// Whether `needle` occurs in `haystack`, ASCII letters compared without case; no allocation,
/// since the search runs over every kept message while the user types.
fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}
