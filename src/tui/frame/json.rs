//! A JSON value as indented, styled lines (a shadow's sections, a message's payload), every
//! string escaped.

use serde_json::Value;

use crate::config::theme::Slot;
use crate::tui::frame::line::Line;

/// Pretty JSON as coloured lines, indented by `level` steps of two spaces.
#[must_use]
pub fn json_lines(value: &Value, level: usize) -> Vec<Line> {
    let mut out = Vec::new();
    json_value(
        &mut out,
        Line::new().text(&"  ".repeat(level), Slot::Text),
        value,
        level,
        "",
    );
    out
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn json_value(out: &mut Vec<Line>, line: Line, value: &Value, level: usize, trailing: &str) {
    let pad = |n: usize| "  ".repeat(n);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push(line.text("{", Slot::JsonPunctuation));
            let count = map.len();
            for (i, (key, item)) in map.iter().enumerate() {
                let comma = if i + 1 < count { "," } else { "" };
                let start = Line::new()
                    .text(&pad(level + 1), Slot::Text)
                    .text(&json_string(key), Slot::JsonKey)
                    .text(": ", Slot::JsonPunctuation);
                json_value(out, start, item, level + 1, comma);
            }
            out.push(
                Line::new()
                    .text(&pad(level), Slot::Text)
                    .text(&format!("}}{trailing}"), Slot::JsonPunctuation),
            );
        }
        Value::Array(items) if !items.is_empty() => {
            out.push(line.text("[", Slot::JsonPunctuation));
            for (i, item) in items.iter().enumerate() {
                let comma = if i + 1 < items.len() { "," } else { "" };
                json_value(
                    out,
                    Line::new().text(&pad(level + 1), Slot::Text),
                    item,
                    level + 1,
                    comma,
                );
            }
            out.push(
                Line::new()
                    .text(&pad(level), Slot::Text)
                    .text(&format!("]{trailing}"), Slot::JsonPunctuation),
            );
        }
        scalar => {
            let (text, slot) = match scalar {
                Value::String(s) => (json_string(s), Slot::JsonString),
                Value::Number(n) => (n.to_string(), Slot::JsonNumber),
                Value::Bool(b) => (b.to_string(), Slot::JsonBool),
                Value::Null => ("null".to_owned(), Slot::JsonNull),
                Value::Object(_) => ("{}".to_owned(), Slot::JsonPunctuation),
                Value::Array(_) => ("[]".to_owned(), Slot::JsonPunctuation),
            };
            out.push(line.text(&text, slot).text(trailing, Slot::JsonPunctuation));
        }
    }
}
