//! The Device Shadow screen: desired, reported and delta side by side (stacked below 100
//! columns) as coloured JSON, with the version, when each section last changed, and on demand
//! the per-key timestamps; keys that are in the delta are marked in desired and reported.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui_textarea::TextArea;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::config::theme::{Slot, Theme};
use crate::fleet::model::Shadow;
use crate::tui::data::Load;
use crate::tui::flows::flow::{Change as FlowChange, Flow, Stage as FlowStage};
use crate::tui::frame::lines::styled;
use crate::tui::msg::AnswerKeys;
use crate::tui::shadow::edit_state::{Change, ChangeKind, ShadowEdit, Stage};
use crate::tui::state::State;
use crate::untrusted::escape;

/// Side by side from this width; stacked below it.
const SIDE_BY_SIDE: u16 = 100;

fn time_of(seconds: i64, zone: time::UtcOffset) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.to_offset(zone)
                .format(format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second]"
                ))
                .ok()
        })
        .unwrap_or_else(|| "-".to_owned())
}

/// The newest `timestamp` anywhere in a metadata section.
fn newest(metadata: &Value) -> Option<i64> {
    match metadata {
        Value::Object(map) => map
            .iter()
            .filter_map(|(key, value)| {
                if key == "timestamp" {
                    value.as_i64()
                } else {
                    newest(value)
                }
            })
            .max(),
        Value::Array(items) => items.iter().filter_map(newest).max(),
        _ => None,
    }
}

/// The JSON of one section; first-level keys in `delta` drawn as matches.
fn section_lines(
    value: Option<&Value>,
    delta: Option<&Value>,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let Some(value) = value else {
        return vec![Line::styled("(none)", theme.style(Slot::Dim))];
    };
    let changed: Vec<String> = delta
        .and_then(Value::as_object)
        .map(|d| {
            d.keys()
                .map(|k| escape(&serde_json::to_string(k).unwrap_or_default()).into_owned())
                .collect()
        })
        .unwrap_or_default();
    crate::tui::frame::json::json_lines(value, 0)
        .iter()
        .map(|line| {
            let mut line = line.clone();
            let first_level = line.segments.first().is_some_and(|s| s.text == "  ");
            for segment in &mut line.segments {
                if first_level && segment.slot == Slot::JsonKey && changed.contains(&segment.text) {
                    segment.slot = Slot::Match;
                }
            }
            styled(&line, theme)
        })
        .collect()
}

pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    state: &State,
    (thing, name): (&str, Option<&str>),
    metadata: bool,
    editor: Option<&TextArea<'static>>,
    theme: &Theme,
) {
    let label = format!(
        " Shadow {} · {} ",
        escape(thing),
        name.map_or_else(|| "classic".to_owned(), |n| escape(n).into_owned())
    );
    let shadow = match state
        .fleet
        .shadows
        .get(&(thing.to_owned(), name.map(str::to_owned)))
    {
        Some(Load::Ready(shadow)) => shadow,
        other => {
            let text = match other {
                Some(Load::Failed(error)) => escape(error).into_owned(),
                _ => "loading…".to_owned(),
            };
            frame.render_widget(
                Paragraph::new(Span::styled(text, theme.style(Slot::Dim)))
                    .block(Block::default().borders(Borders::ALL).title(label)),
                area,
            );
            return;
        }
    };
    let [header, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(3)]).areas(area);
    frame.render_widget(
        Paragraph::new(header_lines(shadow, &label, state.zone, theme)),
        header,
    );
    let meta = shadow.metadata.as_ref();
    let (desired, reported) = if metadata {
        (
            meta.and_then(|m| m.get("desired")),
            meta.and_then(|m| m.get("reported")),
        )
    } else {
        (shadow.desired.as_ref(), shadow.reported.as_ref())
    };
    let suffix = if metadata { " timestamps" } else { "" };
    let panes: [(String, Vec<Line<'static>>); 3] = [
        (
            format!(" desired{suffix} "),
            section_lines(desired, shadow.delta.as_ref(), theme),
        ),
        (
            format!(" reported{suffix} "),
            section_lines(reported, shadow.delta.as_ref(), theme),
        ),
        (
            " delta ".to_owned(),
            section_lines(shadow.delta.as_ref(), None, theme),
        ),
    ];
    let areas: [Rect; 3] = if body.width >= SIDE_BY_SIDE {
        Layout::horizontal([Constraint::Ratio(1, 3); 3]).areas(body)
    } else {
        Layout::vertical([Constraint::Ratio(1, 3); 3]).areas(body)
    };
    let edit = state
        .edit
        .as_ref()
        .filter(|e| e.thing == thing && e.name.as_deref() == name)
        .filter(|e| e.open || e.stage != Stage::Editing || state.edit_in_flow());
    // Its change confirmed or applied: the diff, not the editor.
    let confirming = match &state.flow {
        Some(Flow {
            change: FlowChange::Shadow { .. },
            stage,
        }) => Some(matches!(stage, FlowStage::Running(_))),
        _ => None,
    };
    let editing = |e: &ShadowEdit| e.stage == Stage::Editing && confirming.is_none();
    let mut panes = panes;
    if let Some(edit) = edit {
        match editor {
            Some(editor) if editing(edit) => draw_editor(frame, areas[0], edit, editor, theme),
            _ => panes[0] = edit_pane(edit, confirming, shadow, &state.answer_keys, theme),
        }
    }
    for (index, ((title, lines), pane)) in panes.into_iter().zip(areas).enumerate() {
        if index == 0 && edit.is_some_and(editing) && editor.is_some() {
            continue;
        }
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(title)
                    .border_style(theme.style(Slot::Border)),
            ),
            pane,
        );
    }
}

fn compact(value: &Value) -> String {
    escape(&serde_json::to_string(value).unwrap_or_default()).into_owned()
}

/// A diff as lines: `+ path: value`, `~ path: old → new`, `- path` (removed).
fn change_lines(changes: &[Change], theme: &Theme) -> Vec<Line<'static>> {
    if changes.is_empty() {
        return vec![Line::styled("(no changes)", theme.style(Slot::Dim))];
    }
    changes
        .iter()
        .map(|change| {
            let path = escape(&change.path).into_owned();
            let (text, slot) = match (change.kind, &change.old, &change.new) {
                (ChangeKind::Added, _, Some(new)) => {
                    (format!("+ {path}: {}", compact(new)), Slot::CertActive)
                }
                (ChangeKind::Changed, Some(old), Some(new)) => (
                    format!("~ {path}: {} → {}", compact(old), compact(new)),
                    Slot::StatusWarning,
                ),
                _ => (format!("- {path} (removed: null)"), Slot::StatusError),
            };
            Line::styled(text, theme.style(slot))
        })
        .collect()
}

/// The desired pane while an edit is reviewed, applied (`applying`: Some(true)), or in conflict.
fn edit_pane(
    edit: &ShadowEdit,
    applying: Option<bool>,
    shadow: &Shadow,
    keys: &AnswerKeys,
    theme: &Theme,
) -> (String, Vec<Line<'static>>) {
    let draft = crate::tui::shadow::merge::parse(&edit.text).unwrap_or(Value::Null);
    let base = edit
        .base_version
        .map_or_else(|| "a new shadow".to_owned(), |v| format!("version {v}"));
    match (edit.stage, applying) {
        (_, Some(false)) | (Stage::Editing, None) => (
            format!(" apply to {base}? {}/{} ", keys.yes, keys.no),
            change_lines(
                &crate::tui::shadow::merge::diff(&edit.base_desired, &draft),
                theme,
            ),
        ),
        (_, Some(true)) => (
            " applying… ".to_owned(),
            change_lines(
                &crate::tui::shadow::merge::diff(&edit.base_desired, &draft),
                theme,
            ),
        ),
        (Stage::Conflict, None) => {
            let newer = shadow.desired.clone().unwrap_or(Value::Null);
            let mut lines = vec![Line::styled(
                format!(
                    "changed by someone else since {base}, now version {}:",
                    shadow
                        .version
                        .map_or_else(|| "-".to_owned(), |v| v.to_string())
                ),
                theme.style(Slot::Title),
            )];
            lines.extend(change_lines(
                &crate::tui::shadow::merge::diff(&edit.base_desired, &newer),
                theme,
            ));
            lines.push(Line::styled("your edit (kept):", theme.style(Slot::Title)));
            lines.extend(change_lines(
                &crate::tui::shadow::merge::diff(&edit.base_desired, &draft),
                theme,
            ));
            if edit.conflicts.is_empty() {
                let title = format!(" conflict: {} merges yours onto theirs ", keys.yes);
                return (title, lines);
            }
            lines.push(Line::styled(
                format!(
                    "changed by both ({} keeps yours, {} theirs, in turn):",
                    keys.mine, keys.theirs
                ),
                theme.style(Slot::Title),
            ));
            for conflict in &edit.conflicts {
                let value =
                    |v: &Option<Value>| v.as_ref().map_or_else(|| "removed".to_owned(), compact);
                let (chosen, slot) = match conflict.choice {
                    None => ("choose", Slot::StatusError),
                    Some(crate::tui::shadow::edit_state::Side::Mine) => ("yours", Slot::CertActive),
                    Some(crate::tui::shadow::edit_state::Side::Theirs) => {
                        ("theirs", Slot::CertActive)
                    }
                };
                lines.push(Line::styled(
                    format!(
                        "! {}: yours {} · theirs {} → {chosen}",
                        escape(&conflict.shown()),
                        value(&conflict.mine),
                        value(&conflict.theirs)
                    ),
                    theme.style(slot),
                ));
            }
            (" conflict: choose, then y ".to_owned(), lines)
        }
    }
}

/// The embedded editor, with the draft's validity under it.
fn draw_editor(
    frame: &mut Frame<'_>,
    area: Rect,
    edit: &ShadowEdit,
    editor: &TextArea<'static>,
    theme: &Theme,
) {
    let [text, status] = Layout::vertical([Constraint::Min(2), Constraint::Length(1)]).areas(area);
    let mut editor = editor.clone();
    editor.set_block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(
                " desired from {} · ^S review ",
                edit.base_version
                    .map_or_else(|| "new".to_owned(), |v| format!("v{v}"))
            ))
            .border_style(theme.style(Slot::Title)),
    );
    frame.render_widget(&editor, text);
    let line = match &edit.error {
        Some(error) => Line::styled(
            format!(
                "line {}, column {}: {}",
                error.line,
                error.column,
                escape(&error.message)
            ),
            theme.style(Slot::StatusError),
        ),
        None => Line::styled("valid JSON", theme.style(Slot::CertActive)),
    };
    frame.render_widget(Paragraph::new(line), status);
}

fn header_lines(
    shadow: &Shadow,
    label: &str,
    zone: time::UtcOffset,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let time_of = |seconds| time_of(seconds, zone);
    let meta = shadow.metadata.as_ref();
    let changed = |section: &str| {
        meta.and_then(|m| m.get(section))
            .and_then(newest)
            .map_or_else(|| "-".to_owned(), time_of)
    };
    vec![
        Line::from(vec![
            Span::styled(label.to_owned(), theme.style(Slot::Title)),
            Span::styled(
                format!(
                    " version {} · updated {}",
                    shadow
                        .version
                        .map_or_else(|| "-".to_owned(), |v| v.to_string()),
                    shadow.timestamp.map_or_else(|| "-".to_owned(), time_of)
                ),
                theme.style(Slot::Text),
            ),
        ]),
        Line::from(vec![Span::styled(
            format!(
                " desired {} · reported {} · {}",
                changed("desired"),
                changed("reported"),
                match &shadow.delta {
                    Some(Value::Object(delta)) if delta.len() == 1 => "1 key differs".to_owned(),
                    Some(Value::Object(delta)) => format!("{} keys differ", delta.len()),
                    _ => "in sync".to_owned(),
                }
            ),
            theme.style(Slot::Dim),
        )]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_timestamp_is_found_at_any_depth() {
        let meta = serde_json::json!({"a": {"timestamp": 5}, "b": {"c": {"timestamp": 9}}, "d": [{"timestamp": 7}]});
        assert_eq!(newest(&meta), Some(9));
        assert_eq!(newest(&serde_json::json!({})), None);
    }
}
