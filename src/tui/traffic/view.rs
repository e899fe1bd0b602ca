//! The traffic screen: connection and counters, subscriptions, the topic tree with counts and
//! rate sparklines, the message list of the selected topic, and the selected payload (JSON in
//! colour, text, or hex). Every topic and payload is escaped before it reaches the terminal.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use time::UtcOffset;
use time::macros::format_description;

use crate::config::theme::{Slot, Theme};
use crate::fleet::traffic::messages::Kept;
use crate::tui::frame::line::time_of_day;
use crate::tui::frame::lines::styled;
use crate::tui::state::State;
use crate::tui::traffic::screen::{hex_lines, json_at};
use crate::tui::traffic::state::{Granted, Link, Pane, TrafficView, TreeRow};
use crate::untrusted::{escape, truncate};

const SPARK: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Seconds of rate shown next to a topic, when the pane is wide enough.
const SPARK_SECONDS: usize = 12;

pub fn draw(frame: &mut Frame<'_>, area: Rect, state: &State, theme: &Theme) {
    let view = &state.traffic;
    let now = state.now;
    let [status, subscriptions, talkers, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(4),
    ])
    .areas(area);
    let mut first = status_line(view, state.zone, theme);
    first.spans.extend(subscription_spans(view, theme));
    frame.render_widget(Paragraph::new(first), status);
    frame.render_widget(Paragraph::new(counter_line(view, theme)), subscriptions);
    frame.render_widget(Paragraph::new(talkers_line(view, theme)), talkers);
    let payload_rows = if body.height >= 14 {
        body.height / 2
    } else {
        0
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(payload_rows)]).areas(body);
    let tree_width = (top.width * 2 / 5).clamp(24, 48);
    let [topics, messages] =
        Layout::horizontal([Constraint::Length(tree_width), Constraint::Min(20)]).areas(top);
    let tree = view.tree(now);
    draw_tree(frame, topics, view, &tree, theme);
    let path = tree
        .get(view.topic_cursor)
        .map(|row| row.path.clone())
        .unwrap_or_default();
    draw_messages(frame, messages, view, (&path, state.zone), theme);
    if payload_rows > 0 {
        let selected = view.messages(&path).nth(view.message_cursor);
        draw_payload(frame, bottom, view, selected, theme);
    }
}

fn mib(bytes: usize) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a display figure")]
    let mib = bytes as f64 / (1024.0 * 1024.0);
    format!("{mib:.1}")
}

fn status_line(view: &TrafficView, zone: UtcOffset, theme: &Theme) -> Line<'static> {
    let target = escape(&view.target).into_owned();
    let spans = match &view.link {
        Link::Off | Link::Connecting => vec![Span::styled(
            format!("… connecting {target}"),
            theme.style(Slot::StatusWarning),
        )],
        Link::Connected { .. } => {
            let mut spans = vec![Span::styled(
                format!("● {target}"),
                theme.style(Slot::StatusInfo),
            )];
            if let Some((from, to)) = view.last_gap {
                spans.push(Span::styled(
                    format!(
                        " · gap {:.1} s at {}",
                        (to - from).as_seconds_f64(),
                        time_of_day(from, zone)
                    ),
                    theme.style(Slot::StatusWarning),
                ));
            }
            spans
        }
        Link::Down {
            reason,
            retry_in,
            since,
        } => vec![Span::styled(
            format!(
                "○ disconnected since {}: {} · retrying in {:.1} s",
                time_of_day(*since, zone),
                escape(reason),
                retry_in.as_secs_f64()
            ),
            theme.style(Slot::StatusError),
        )],
    };
    Line::from(spans)
}

/// Received, kept (and the memory they use), evicted, dropped and cut messages: every message
/// not shown is counted here.
fn counter_line(view: &TrafficView, theme: &Theme) -> Line<'static> {
    let history = &view.history;
    let mut spans = vec![Span::styled(
        format!(
            "received {} · kept {} ({}/{} MiB) · evicted {} · dropped {} · cut {}",
            history.received(),
            history.messages().len(),
            mib(history.used()),
            mib(history.budget()),
            history.evicted(),
            view.dropped,
            history.truncated()
        ),
        theme.style(Slot::Dim),
    )];
    if view.frozen.is_some() {
        spans.push(Span::styled("  FROZEN", theme.style(Slot::StatusWarning)));
    }
    if !view.search.is_empty() {
        spans.push(Span::styled(
            format!("  search: {}", escape(&view.search)),
            theme.style(Slot::Match),
        ));
    }
    Line::from(spans)
}

fn subscription_spans(view: &TrafficView, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled("  filters ", theme.style(Slot::Dim))];
    if view.subscriptions.is_empty() {
        spans.push(Span::styled("none: a to subscribe", theme.style(Slot::Dim)));
    }
    for subscription in &view.subscriptions {
        let (mark, slot) = match subscription.granted {
            Granted::Pending => ("…".to_owned(), Slot::Dim),
            Granted::Qos(qos) => (format!("✓q{qos}"), Slot::CertActive),
            Granted::Refused => ("✗ refused".to_owned(), Slot::StatusError),
        };
        spans.push(Span::styled(
            escape(&subscription.filter).into_owned(),
            theme.style(Slot::Text),
        ));
        spans.push(Span::styled(format!(" {mark}  "), theme.style(slot)));
    }
    spans
}

fn block(title: String, focused: bool, theme: &Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(theme.style(if focused { Slot::Title } else { Slot::Border }))
}

fn spark(rate: &[u32], seconds: usize) -> String {
    let recent = &rate[rate.len().saturating_sub(seconds)..];
    let max = recent.iter().copied().max().unwrap_or(0).max(1);
    recent
        .iter()
        .map(|&n| {
            let level = (u64::from(n) * 8).div_ceil(u64::from(max));
            SPARK[usize::try_from(level).unwrap_or(8).min(8)]
        })
        .collect()
}

/// First row to show so that `cursor` stays on a screen of `rows` rows.
fn scroll(cursor: usize, rows: usize) -> usize {
    cursor.saturating_sub(rows.saturating_sub(1))
}

/// The busiest Things of the last minute, by the Thing their topics name.
fn talkers_line(view: &TrafficView, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(
        "top talkers (last minute, by the Thing a topic names): ",
        theme.style(Slot::Dim),
    )];
    if view.talkers.is_empty() {
        spans.push(Span::styled("none yet", theme.style(Slot::Dim)));
    }
    for (index, (thing, minute)) in view.talkers.iter().enumerate() {
        if index > 0 {
            spans.push(Span::styled(" · ", theme.style(Slot::Dim)));
        }
        let slot = if index == 0 {
            Slot::StatusWarning
        } else {
            Slot::Text
        };
        spans.push(Span::styled(escape(thing).into_owned(), theme.style(slot)));
        spans.push(Span::styled(format!(" {minute}"), theme.style(Slot::Dim)));
    }
    Line::from(spans)
}

fn draw_tree(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &TrafficView,
    tree: &[TreeRow],
    theme: &Theme,
) {
    let focused = view.pane == Pane::Topics;
    let inner_rows = usize::from(area.height.saturating_sub(2));
    let width = usize::from(area.width.saturating_sub(2));
    let first = scroll(view.topic_cursor, inner_rows);
    let seconds = match width {
        40.. => SPARK_SECONDS,
        28.. => 6,
        _ => 0,
    };
    let lines: Vec<Line<'static>> = tree
        .iter()
        .enumerate()
        .skip(first)
        .take(inner_rows)
        .map(|(index, row)| {
            let count = if view.by_rate {
                format!("{}/min", row.minute)
            } else {
                row.count.to_string()
            };
            let spark = row
                .rate
                .as_deref()
                .map(|rate| spark(rate, seconds))
                .unwrap_or_default();
            let indent = "  ".repeat(row.depth.saturating_sub(1));
            let room = width
                .saturating_sub(indent.len() + count.len() + seconds + 2)
                .max(4);
            let label = truncate(&escape(&row.label), room);
            let pad = width
                .saturating_sub(indent.len() + label.chars().count() + count.len() + seconds + 2);
            let selected = index == view.topic_cursor;
            let slot = if selected && focused {
                Slot::Selection
            } else if selected {
                Slot::Match
            } else {
                Slot::Text
            };
            Line::from(vec![
                Span::styled(
                    format!("{indent}{label}{}", " ".repeat(pad)),
                    theme.style(slot),
                ),
                Span::styled(format!(" {count}"), theme.style(Slot::Dim)),
                Span::styled(format!(" {spark:<seconds$}"), theme.style(Slot::Link)),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(block(
            format!(
                " Topics ({}){} ",
                view.history.topics().len(),
                if view.by_rate { " busiest first" } else { "" }
            ),
            focused,
            theme,
        )),
        area,
    );
}

fn size(bytes: u32) -> String {
    match bytes {
        0..1024 => format!("{bytes}B"),
        1024..1_048_576 => format!("{:.1}K", f64::from(bytes) / 1024.0),
        _ => format!("{:.1}M", f64::from(bytes) / 1_048_576.0),
    }
}

/// The messages of the topic at `path`, their times at `zone`.
fn draw_messages(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &TrafficView,
    (path, zone): (&str, UtcOffset),
    theme: &Theme,
) {
    let focused = view.pane == Pane::Messages;
    let inner_rows = usize::from(area.height.saturating_sub(2));
    let width = usize::from(area.width.saturating_sub(2));
    let first = scroll(view.message_cursor, inner_rows);
    let time_format = format_description!("[hour]:[minute]:[second].[subsecond digits:3]");
    let lines: Vec<Line<'static>> = view
        .messages(path)
        .enumerate()
        .skip(first)
        .take(inner_rows)
        .map(|(index, message)| {
            let head = format!(
                "{} q{} {} {:>6} ",
                message
                    .received()
                    .to_offset(zone)
                    .format(time_format)
                    .unwrap_or_default(),
                message.qos,
                if message.retain { "r" } else { "-" },
                size(message.size),
            );
            let topic = escape(message.topic).into_owned();
            let preview = if view.json_path.is_empty() {
                escape(&String::from_utf8_lossy(
                    &message.payload[..message.payload.len().min(512)],
                ))
                .into_owned()
            } else {
                json_at(message.payload, &view.json_path).map_or_else(
                    || "-".to_owned(),
                    |value| escape(&value.to_string()).into_owned(),
                )
            };
            let rest = truncate(
                &format!("{topic}  {preview}"),
                width.saturating_sub(head.chars().count()).max(8),
            );
            let slot = match (index == view.message_cursor, focused) {
                (true, true) => Slot::Selection,
                (true, false) => Slot::Match,
                _ => Slot::Text,
            };
            Line::from(vec![
                Span::styled(head, theme.style(Slot::Dim)),
                Span::styled(rest, theme.style(slot)),
            ])
        })
        .collect();
    let title = if path.is_empty() {
        " Messages (newest first) ".to_owned()
    } else {
        format!(" {} ", truncate(&escape(path), width.saturating_sub(4)))
    };
    frame.render_widget(
        Paragraph::new(lines).block(block(title, focused, theme)),
        area,
    );
}

fn draw_payload(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &TrafficView,
    message: Option<Kept<'_>>,
    theme: &Theme,
) {
    let rows = usize::from(area.height.saturating_sub(2));
    let Some(message) = message else {
        frame.render_widget(
            Paragraph::new(Span::styled("no message selected", theme.style(Slot::Dim)))
                .block(block(" Payload ".into(), false, theme)),
            area,
        );
        return;
    };
    let kept = message.payload.len();
    let title = format!(
        " {} bytes{}{} · x hex ",
        message.size,
        if message.truncated() {
            format!(", first {kept} kept")
        } else {
            String::new()
        },
        if message.retain { " · retained" } else { "" },
    );
    let text = std::str::from_utf8(message.payload).ok();
    let json = text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
    // A JSON path narrows the view to its value (null when the payload has none there).
    let (json, title) = match (json, view.json_path.is_empty()) {
        (Some(_), false) => (
            Some(json_at(message.payload, &view.json_path).unwrap_or(serde_json::Value::Null)),
            format!("{title}· {} ", escape(&view.json_path)),
        ),
        (json, _) => (json, title),
    };
    let lines: Vec<Line<'static>> = match (view.hex, json, text) {
        (false, Some(value), _) => crate::tui::frame::json::json_lines(&value, 0)
            .iter()
            .take(rows)
            .map(|line| styled(line, theme))
            .collect(),
        (false, None, Some(text)) => text
            .lines()
            .take(rows)
            .map(|line| Line::styled(escape(line).into_owned(), theme.style(Slot::Text)))
            .collect(),
        _ => hex_lines(message.payload, rows)
            .into_iter()
            .map(|line| Line::styled(line, theme.style(Slot::Text)))
            .collect(),
    };
    frame.render_widget(
        Paragraph::new(lines).block(block(title, false, theme)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_busiest_second() {
        let mut rate = vec![0; 60];
        rate[59] = 10;
        rate[58] = 5;
        let line = spark(&rate, SPARK_SECONDS);
        assert_eq!(line.chars().count(), SPARK_SECONDS);
        assert!(line.ends_with("▄█"), "{line}");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(150), "150B");
        assert_eq!(size(1536), "1.5K");
        assert_eq!(size(1_048_576), "1.0M");
    }
}
