//! The traffic screen's keys and prompts (a publish is confirmed as a flow, `flows/publish.rs`),
//! and what it derives for the view (payload at a JSON path, hex lines, a device's filters). Its
//! state (subscriptions, link, messages, topic tree, message list) is `state.rs`. Pure: `update`
//! calls in here.

use std::collections::{HashMap, HashSet};

use crate::fleet::traffic::TrafficEvent;
use crate::fleet::traffic::filter::{check_filter, check_topic, covers};
use crate::tui::action::Action;
use crate::tui::msg::{Effect, Level};
use crate::tui::state::{InputKind, Screen, State};
use crate::tui::traffic::state::{Link, Pane};

/// The filters the traffic screen starts with: every topic, every shadow topic, and AWS's
/// lifecycle events, which also keep the ONLINE column current (MQTT's `#` does not match topics
/// that start with `$`).
pub const DEFAULT_FILTERS: [&str; 3] = ["#", "$aws/things/+/shadow/#", "$aws/events/presence/#"];

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
        effects.extend(subscribe_once(state, filter));
    }
    effects
}

/// Subscribes to `filter` unless a subscription already covers it, dropping those it covers:
/// overlapping subscriptions would deliver (and count) each message twice.
fn subscribe_once(state: &mut State, filter: &str) -> Vec<Effect> {
    let view = &mut state.traffic;
    if view.subscriptions.iter().any(|s| covers(&s.filter, filter)) {
        return Vec::new();
    }
    let covered: Vec<String> = view
        .subscriptions
        .iter()
        .filter(|s| covers(filter, &s.filter))
        .map(|s| s.filter.clone())
        .collect();
    view.subscriptions.retain(|s| !covered.contains(&s.filter));
    view.add(filter);
    let mut effects = vec![Effect::Subscribe(filter.to_owned())];
    effects.extend(covered.into_iter().map(Effect::Unsubscribe));
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
            effects.extend(subscribe_once(state, &filter));
        }
        let view = &mut state.traffic;
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
    state.prompt(kind, text);
}

fn prompt_suggesting(state: &mut State, kind: InputKind, suggestion: String) {
    state.prompt_suggesting(kind, suggestion);
}

/// How many talkers the traffic screen names.
pub const TALKERS: usize = 5;

/// Works out the busiest Things of the last minute, once a second while the traffic screen is
/// on top: a topic counts for the Thing it names (`$aws/things/NAME/…`, or the first level that
/// is a Thing's name, as in `fleet/NAME/telemetry`); MQTT does not say who published.
pub fn tick(state: &mut State) {
    if !matches!(state.screen(), Screen::Traffic) {
        return;
    }
    let now = state.now;
    if state
        .traffic
        .talkers_at
        .is_some_and(|at| (now - at).whole_seconds() < 1)
    {
        return;
    }
    let things: HashSet<&str> = state
        .fleet
        .things
        .items
        .iter()
        .map(crate::tui::things::listed::ListedThing::name)
        .collect();
    let mut busy: HashMap<&str, u64> = HashMap::new();
    for (topic, stats) in state.traffic.history.topics() {
        let levels: Vec<&str> = topic.split('/').collect();
        let named = match levels.as_slice() {
            ["$aws", "things", thing, ..] => Some(*thing),
            ["$aws", ..] => None,
            _ => levels.iter().copied().find(|level| things.contains(level)),
        };
        if let Some(thing) = named {
            let minute: u64 = stats.rate(now).iter().map(|&n| u64::from(n)).sum();
            *busy.entry(thing).or_default() += minute;
        }
    }
    let mut talkers: Vec<(String, u64)> = busy
        .into_iter()
        .filter(|(_, minute)| *minute > 0)
        .map(|(thing, minute)| (thing.to_owned(), minute))
        .collect();
    talkers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    talkers.truncate(TALKERS);
    state.traffic.talkers = talkers;
    state.traffic.talkers_at = Some(now);
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
        Action::Sort => {
            // The selected topic stays selected in the new order.
            let path = view.selected_path(now);
            view.by_rate = !view.by_rate;
            view.topic_cursor = view
                .tree(now)
                .iter()
                .position(|row| row.path == path)
                .unwrap_or(0);
            let order = if view.by_rate {
                "busiest first (messages in the last minute)"
            } else {
                "by name"
            };
            state.say(Level::Info, format!("topics sorted {order}"));
            return Some(Vec::new());
        }
        Action::JsonPath => {
            let current = view.json_path.clone();
            prompt_suggesting(state, InputKind::JsonPath, current);
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
            prompt_suggesting(state, InputKind::Unsubscribe, last);
        }
        Action::Publish => {
            if state.read_only {
                state.say(
                    Level::Error,
                    "refused by --read-only: publishing is a mutation",
                );
            } else {
                let topic = view
                    .selected_message(now)
                    .map(|m| format!("{} ", m.topic))
                    .unwrap_or_default();
                prompt_suggesting(state, InputKind::Publish, topic);
            }
        }
        Action::Copy => {
            let payload = view
                .selected_message(now)
                .map(|m| String::from_utf8_lossy(m.payload).into_owned());
            return Some(match payload {
                Some(text) => {
                    state.say(Level::Info, "copied the payload");
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
                state.say(Level::Error, reason);
                return Vec::new();
            }
            state.input = None;
            if state.traffic.add(text) {
                vec![Effect::Subscribe(text.to_owned())]
            } else {
                state.say(Level::Info, format!("already subscribed to {text}"));
                Vec::new()
            }
        }
        InputKind::Unsubscribe => {
            let view = &mut state.traffic;
            let before = view.subscriptions.len();
            view.subscriptions.retain(|s| s.filter != text);
            if view.subscriptions.len() == before {
                state.say(Level::Error, format!("not subscribed to '{text}'"));
                return Vec::new();
            }
            state.input = None;
            vec![Effect::Unsubscribe(text.to_owned())]
        }
        InputKind::Publish => {
            let (topic, payload) = text.split_once(' ').unwrap_or((text, ""));
            if let Err(reason) = check_topic(topic) {
                state.say(Level::Error, reason);
                return Vec::new();
            }
            state.input = None;
            crate::tui::flows::publish::begin(state, topic, payload);
            Vec::new()
        }
        InputKind::JsonPath => {
            match pointer(text) {
                Ok(_) => {
                    text.clone_into(&mut state.traffic.json_path);
                    state.input = None;
                }
                Err(reason) => state.say(Level::Error, reason),
            }
            Vec::new()
        }
        InputKind::Filter | InputKind::Command | InputKind::Can => Vec::new(),
    }
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

/// Live traffic's connection began: where it goes, or why it is down.
pub fn started(state: &mut State, target: Option<String>, down: Option<String>) {
    if let Some(target) = target {
        state.traffic.target = target;
    }
    if let Some(reason) = down {
        state.traffic.link = Link::Down {
            reason,
            retry_in: std::time::Duration::ZERO,
            since: state.now,
        };
    }
}

/// What live traffic's connection says on the status line: a publish acknowledged, credentials
/// about to expire.
pub fn said(state: &mut State, event: &TrafficEvent) {
    match event {
        TrafficEvent::Published { topic } => {
            state.say(Level::Info, format!("published to {topic}"));
        }
        TrafficEvent::CredentialsExpire { at } => state.say(
            Level::Warning,
            format!(
                "the AWS credentials of live traffic expire at {} {} and could not be renewed \
                 yet; if an SSO session has ended, run `aws sso login`",
                crate::tui::frame::line::time_of_day(*at, state.zone),
                crate::tui::frame::line::zone_name(state.zone)
            ),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::fleet::traffic::{TrafficEvent, TrafficMessage};
    use crate::tui::traffic::state::{Granted, TrafficView};
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
                .map(|m| String::from_utf8_lossy(m.payload).into_owned())
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
        let shown: Vec<_> = view.messages("").map(|m| m.payload.to_vec()).collect();
        assert_eq!(shown, [b"old".to_vec()]);
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
