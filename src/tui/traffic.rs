//! The traffic screen's state and what it derives: subscriptions and their fate, the connection
//! and its gaps, the message history under its memory budget, the topic tree with counts and
//! rates, the message list (per topic, searched, frozen), and the payload of the selected
//! message; and the screen's keys, prompts and publish confirmation. Pure: `update` calls in
//! here, views read the state.

use std::sync::Arc;

use time::OffsetDateTime;

use super::action::Action;
use super::msg::Effect;
use super::state::{Confirm, Input, InputKind, Level, Message, Screen, State};
use crate::fleet::traffic::TrafficEvent;
use crate::fleet::traffic::filter::{check_filter, check_topic};
use crate::fleet::traffic::history::{DEFAULT_BUDGET, History, Kept};

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
            TrafficEvent::Published { .. } => {}
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

    /// The topic tree, fully expanded: a root row, then every level of every topic seen.
    #[must_use]
    pub fn tree(&self, now: OffsetDateTime) -> Vec<TreeRow> {
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
            for &row in &open {
                rows[row].count += count;
            }
            for depth in shared..levels.len() {
                let leaf = depth + 1 == levels.len();
                open.push(rows.len());
                rows.push(TreeRow {
                    depth: depth + 1,
                    label: levels[depth].to_owned(),
                    path: levels[..=depth].join("/"),
                    count,
                    rate: leaf.then(|| {
                        self.history
                            .topics()
                            .get(&**topic)
                            .map(|stats| stats.rate(now))
                            .unwrap_or_default()
                    }),
                });
            }
            previous = levels;
        }
        rows
    }

    /// The kept messages under `path` that match the search, newest first, as the view shows
    /// them (messages after a freeze are held back). Lazily: callers take what they show.
    pub fn messages<'s, 'p>(
        &'s self,
        path: &'p str,
    ) -> impl Iterator<Item = &'s Kept> + use<'s, 'p> {
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
                    || contains_ignoring_case(&m.payload, search)
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
    pub fn selected_message(&self, now: OffsetDateTime) -> Option<&Kept> {
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

/// The filters the traffic screen starts with: every topic, and every shadow topic (MQTT's `#`
/// does not match topics that start with `$`).
pub const DEFAULT_FILTERS: [&str; 2] = ["#", "$aws/things/+/shadow/#"];

/// Opens the traffic screen for the Thing selected (in the Things list or its detail screen):
/// its topics and shadow topics, searched by its name. Elsewhere, everything.
pub fn open(state: &mut State) -> Vec<Effect> {
    let thing = state.selected_thing();
    match thing {
        Some(thing) => open_for(state, Some(thing)),
        None => open_all(state),
    }
}

/// Opens the traffic screen on everything: the default filters, no search.
pub fn open_all(state: &mut State) -> Vec<Effect> {
    state.traffic.search.clear();
    let mut effects = open_for(state, None);
    for filter in DEFAULT_FILTERS {
        if state.traffic.add(filter) {
            effects.push(Effect::Subscribe(filter.to_owned()));
        }
    }
    effects
}

/// Opens the traffic screen, adding the filters of `thing` and searching for it. Connects on
/// first use.
pub fn open_for(state: &mut State, thing: Option<String>) -> Vec<Effect> {
    let view = &mut state.traffic;
    let mut effects = Vec::new();
    if !view.started {
        view.started = true;
        view.link = Link::Connecting;
        effects.push(Effect::TrafficConnect);
    }
    if let Some(thing) = thing {
        for filter in device_filters(&thing) {
            if view.add(&filter) {
                effects.push(Effect::Subscribe(filter));
            }
        }
        view.search = thing;
        view.topic_cursor = 0;
        view.message_cursor = 0;
    }
    if !matches!(state.screen(), Screen::Traffic) {
        state.screens.push(Screen::Traffic);
    }
    state.message = None;
    effects
}

fn prompt(state: &mut State, kind: InputKind, text: String) {
    state.input = Some(Input {
        kind,
        text: text.clone(),
        before: text,
    });
}

fn say(state: &mut State, level: Level, text: impl Into<String>) {
    state.message = Some(Message {
        level,
        text: text.into(),
    });
}

/// The traffic screen's own keys; None when the action is not the screen's to handle.
pub fn act(state: &mut State, action: Action) -> Option<Vec<Effect>> {
    if !matches!(state.screen(), Screen::Traffic) {
        return None;
    }
    let now = state.now;
    let page = isize::try_from(state.page_rows / 2).unwrap_or(10).max(1);
    let view = &mut state.traffic;
    match action {
        Action::Up => view.step(-1, now),
        Action::Down => view.step(1, now),
        Action::PageUp => view.step(-page, now),
        Action::PageDown => view.step(page, now),
        Action::Top => view.step(isize::MIN / 2, now),
        Action::Bottom => view.step(isize::MAX / 2, now),
        Action::NextPane | Action::Open if view.pane == Pane::Topics => view.pane = Pane::Messages,
        Action::NextPane => view.pane = Pane::Topics,
        Action::Hex => view.hex = !view.hex,
        Action::JsonPath => {
            let text = view.json_path.clone();
            prompt(state, InputKind::JsonPath, text);
        }
        Action::Freeze => {
            view.frozen = match view.frozen {
                Some(_) => None,
                None => Some(view.history.received()),
            };
            view.message_cursor = 0;
        }
        Action::Clear => {
            view.history.clear();
            view.topic_cursor = 0;
            view.message_cursor = 0;
            view.frozen = view.frozen.map(|_| view.history.received());
        }
        Action::Filter => {
            let text = view.search.clone();
            prompt(state, InputKind::Search, text);
        }
        Action::Subscribe => prompt(state, InputKind::Subscribe, String::new()),
        Action::Unsubscribe => {
            let last = view
                .subscriptions
                .last()
                .map(|s| s.filter.clone())
                .unwrap_or_default();
            prompt(state, InputKind::Unsubscribe, last);
        }
        Action::Publish => {
            if state.read_only {
                say(
                    state,
                    Level::Error,
                    "refused by --read-only: publishing is a mutation",
                );
            } else {
                let topic = view
                    .selected_message(now)
                    .map(|m| format!("{} ", m.topic))
                    .unwrap_or_default();
                prompt(state, InputKind::Publish, topic);
            }
        }
        Action::Copy => {
            let payload = view
                .selected_message(now)
                .map(|m| String::from_utf8_lossy(&m.payload).into_owned());
            return Some(match payload {
                Some(text) => {
                    say(state, Level::Info, "copied the payload");
                    vec![Effect::Copy(text)]
                }
                None => Vec::new(),
            });
        }
        _ => return None,
    }
    Some(Vec::new())
}

/// Enter on a traffic prompt. A bad filter or topic keeps the typed text, with the reason.
pub fn entered(state: &mut State, kind: InputKind, text: &str) -> Vec<Effect> {
    let text = text.trim();
    match kind {
        InputKind::Search => {
            state.input = None;
            Vec::new()
        }
        InputKind::Subscribe => {
            if let Err(reason) = check_filter(text) {
                say(state, Level::Error, reason);
                return Vec::new();
            }
            state.input = None;
            if state.traffic.add(text) {
                vec![Effect::Subscribe(text.to_owned())]
            } else {
                say(state, Level::Info, format!("already subscribed to {text}"));
                Vec::new()
            }
        }
        InputKind::Unsubscribe => {
            let view = &mut state.traffic;
            let before = view.subscriptions.len();
            view.subscriptions.retain(|s| s.filter != text);
            if view.subscriptions.len() == before {
                say(state, Level::Error, format!("not subscribed to '{text}'"));
                return Vec::new();
            }
            state.input = None;
            vec![Effect::Unsubscribe(text.to_owned())]
        }
        InputKind::Publish => {
            let (topic, payload) = text.split_once(' ').unwrap_or((text, ""));
            if let Err(reason) = check_topic(topic) {
                say(state, Level::Error, reason);
                return Vec::new();
            }
            state.input = None;
            say(
                state,
                Level::Warning,
                format!(
                    "publish {} bytes to {topic} (QoS 0)? {} to send, {} or {} to cancel",
                    payload.len(),
                    state.answer_keys.yes,
                    state.answer_keys.no,
                    state.answer_keys.esc()
                ),
            );
            state.confirm = Some(Confirm::Publish {
                topic: topic.to_owned(),
                payload: payload.to_owned(),
                qos: 0,
            });
            Vec::new()
        }
        InputKind::JsonPath => {
            match pointer(text) {
                Ok(_) => {
                    text.clone_into(&mut state.traffic.json_path);
                    state.input = None;
                }
                Err(reason) => say(state, Level::Error, reason),
            }
            Vec::new()
        }
        InputKind::Filter | InputKind::Command | InputKind::Can => Vec::new(),
    }
}

/// The answer to a confirmation.
pub fn answer(state: &mut State, yes: bool) -> Vec<Effect> {
    let Some(Confirm::Publish {
        topic,
        payload,
        qos,
    }) = state.confirm.take()
    else {
        return Vec::new();
    };
    if !yes {
        say(state, Level::Info, "not published");
        return Vec::new();
    }
    if state.read_only {
        say(state, Level::Error, "refused by --read-only");
        return Vec::new();
    }
    say(state, Level::Info, format!("publishing to {topic}"));
    vec![Effect::Publish {
        topic,
        payload,
        qos,
    }]
}

/// A JSON path as the user writes it (`reading.speed`, `$.items[0].id`, empty for the whole
/// payload) as a JSON pointer, or why it is not one.
pub fn pointer(path: &str) -> Result<String, String> {
    let path = path.trim();
    let path = path
        .strip_prefix("$.")
        .or_else(|| path.strip_prefix('$'))
        .unwrap_or(path);
    let mut out = String::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, indices) = part
            .split_once('[')
            .map_or((part, ""), |(k, rest)| (k, rest));
        if !key.is_empty() {
            out.push('/');
            out.push_str(&key.replace('~', "~0").replace('/', "~1"));
        }
        if indices.is_empty() {
            continue;
        }
        for index in format!("[{indices}").split('[').skip(1) {
            let number = index
                .strip_suffix(']')
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    format!("'{part}': an index is a number in brackets, like items[0]")
                })?;
            out.push('/');
            out.push_str(number);
        }
    }
    Ok(out)
}

/// The value at `path` in a JSON payload; None when the payload is not JSON or has no such value.
#[must_use]
pub fn json_at(payload: &[u8], path: &str) -> Option<serde_json::Value> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    value.pointer(&pointer(path).ok()?).cloned()
}

/// Whether `needle` occurs in `haystack`, ASCII letters compared without case; no allocation,
/// since the search runs over every kept message while the user types.
fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

/// The filters that show one device: its topics (any first level, then its name) and its
/// shadow topics.
#[must_use]
pub fn device_filters(thing: &str) -> [String; 2] {
    [
        format!("+/{thing}/#"),
        format!("$aws/things/{thing}/shadow/#"),
    ]
}

/// Classic hex dump lines: offset, 16 bytes in hex, and their printable ASCII.
#[must_use]
pub fn hex_lines(payload: &[u8], limit: usize) -> Vec<String> {
    payload
        .chunks(16)
        .take(limit)
        .enumerate()
        .map(|(row, chunk)| {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        char::from(b)
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{:08x}  {:<47}  {ascii}", row * 16, hex.join(" "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::traffic::TrafficMessage;
    use bytes::Bytes;
    use std::time::Duration;

    fn message(topic: &str, payload: &str) -> TrafficEvent {
        TrafficEvent::Message(TrafficMessage {
            topic: topic.into(),
            payload: Bytes::from(payload.to_owned()),
            qos: 0,
            retain: false,
            received: OffsetDateTime::UNIX_EPOCH,
        })
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::from_secs(100)
    }

    #[test]
    fn the_tree_counts_every_level_and_lists_per_topic() {
        let mut view = TrafficView::default();
        for (topic, payload) in [
            ("fleet/pump-01/telemetry", "1"),
            ("fleet/pump-01/telemetry", "2"),
            ("fleet/pump-02/telemetry", "3"),
            ("$aws/things/pump-01/shadow/update", "4"),
        ] {
            view.ingest(&message(topic, payload), now());
        }
        let rows: Vec<(usize, String, u64)> = view
            .tree(now())
            .into_iter()
            .map(|r| (r.depth, r.label, r.count))
            .collect();
        assert_eq!(
            rows,
            [
                (0, "all topics".into(), 4),
                (1, "$aws".into(), 1),
                (2, "things".into(), 1),
                (3, "pump-01".into(), 1),
                (4, "shadow".into(), 1),
                (5, "update".into(), 1),
                (1, "fleet".into(), 3),
                (2, "pump-01".into(), 2),
                (3, "telemetry".into(), 2),
                (2, "pump-02".into(), 1),
                (3, "telemetry".into(), 1),
            ]
        );
        let under = |path: &str| -> Vec<String> {
            view.messages(path)
                .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
                .collect()
        };
        assert_eq!(under("fleet/pump-01"), ["2", "1"]);
        assert_eq!(under(""), ["4", "3", "2", "1"]);
        // A prefix that is not a whole level matches nothing.
        assert!(under("fleet/pump-0").is_empty());
    }

    #[test]
    fn freeze_holds_the_list_while_messages_keep_arriving() {
        let mut view = TrafficView::default();
        view.ingest(&message("a/b", "old"), now());
        view.frozen = Some(view.history.received());
        view.ingest(&message("a/b", "new"), now());
        let shown: Vec<_> = view.messages("").map(|m| m.payload.clone()).collect();
        assert_eq!(shown, [Bytes::from("old")]);
        assert_eq!(view.tree(now())[0].count, 2, "the counts keep moving");
        view.frozen = None;
        assert_eq!(view.messages("").count(), 2);
    }

    #[test]
    fn search_matches_topic_or_payload_case_insensitively() {
        let mut view = TrafficView::default();
        view.ingest(&message("fleet/pump-01/t", r#"{"alarm":"HIGH"}"#), now());
        view.ingest(&message("fleet/pump-02/t", "ok"), now());
        view.search = "high".into();
        assert_eq!(view.messages("").count(), 1);
        view.search = "PUMP-02".into();
        assert_eq!(view.messages("").count(), 1);
    }

    #[test]
    fn a_reconnection_records_the_gap_and_subscriptions_are_answered_again() {
        let mut view = TrafficView::default();
        view.add("#");
        view.ingest(&TrafficEvent::Connected, now());
        view.ingest(
            &TrafficEvent::Subscribed {
                filter: "#".into(),
                qos: 1,
            },
            now(),
        );
        let down = now() + Duration::from_secs(5);
        let back = now() + Duration::from_secs(9);
        view.ingest(
            &TrafficEvent::Disconnected {
                reason: "broker gone".into(),
                retry_in: Duration::from_secs(1),
            },
            down,
        );
        view.ingest(
            &TrafficEvent::Disconnected {
                reason: "refused".into(),
                retry_in: Duration::from_secs(2),
            },
            down + Duration::from_secs(2),
        );
        assert_eq!(view.disconnects, 1);
        view.ingest(&TrafficEvent::Connected, back);
        assert_eq!(view.last_gap, Some((down, back)));
        assert_eq!(view.subscriptions[0].granted, Granted::Pending);
        view.ingest(&TrafficEvent::Dropped(7), back);
        assert_eq!(view.dropped, 7);
    }

    #[test]
    fn json_paths_read_as_people_write_them() {
        assert_eq!(pointer("reading.speed").unwrap(), "/reading/speed");
        assert_eq!(pointer("$.items[0].id").unwrap(), "/items/0/id");
        assert_eq!(pointer("m[1][2]").unwrap(), "/m/1/2");
        assert_eq!(pointer("").unwrap(), "");
        assert!(pointer("items[x]").is_err());
        let payload = br#"{"reading":{"speed":40},"items":[{"id":"a"}]}"#;
        assert_eq!(
            json_at(payload, "reading.speed"),
            Some(serde_json::json!(40))
        );
        assert_eq!(
            json_at(payload, "items[0].id"),
            Some(serde_json::json!("a"))
        );
        assert_eq!(json_at(payload, "reading.nope"), None);
        assert_eq!(json_at(b"not json", "a"), None);
    }

    #[test]
    fn hex_dump_shows_offsets_and_printable_bytes() {
        let lines = hex_lines(b"\x1b[2Jhello\x00", 4);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert!(
            line.starts_with("00000000  1b 5b 32 4a 68 65 6c 6c 6f 00 "),
            "{line}"
        );
        // The ASCII column lines up after 16 bytes' worth of hex, control bytes as dots.
        assert_eq!(line.find(".[2Jhello."), Some(8 + 2 + 47 + 2), "{line}");
        assert_eq!(
            hex_lines(&[0u8; 40], 2).len(),
            2,
            "limited to the rows asked for"
        );
    }
}
