//! Safe display of untrusted text (Thing names, attributes, policy documents, payloads).
//!
//! Everything that came from a device or another person passes through here before it reaches a
//! terminal. Nothing in this module writes to a terminal itself.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for characters a terminal may act on instead of showing: C0 and C1 controls, DEL, and
/// the Unicode bidirectional overrides that can make text read differently from what it is.
#[must_use]
pub fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Returns `text` with every control character, escape sequence introducer and bidi override
/// shown as a visible escape (`\x1b`, `\n`, `\u{9b}`), so a value cannot move the cursor, set the
/// window title or write the clipboard. Borrowed when nothing needed escaping.
#[must_use]
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hazard) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_hazard(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// Makes serialised JSON safe to print. `serde_json` already escapes U+0000 to U+001F inside
/// strings, but passes DEL and the C1 controls (U+0080 to U+009F, which include the 8-bit CSI and
/// OSC introducers) through raw. Outside strings JSON is pure ASCII punctuation, so any such
/// character in the text is inside a string and its `\uXXXX` form keeps the JSON equal in value.
#[must_use]
pub fn json_for_terminal(json: String) -> String {
    let needs_escape = |c: char| matches!(c, '\u{7f}'..='\u{9f}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !json.chars().any(needs_escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Cuts `text` to at most `width` display columns, ending in `…` when cut.
#[must_use]
pub fn truncate(text: &str, width: usize) -> String {
    if unicode_width::UnicodeWidthStr::width(text) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            escape("pump-17 ünïcode ✓"),
            Cow::Borrowed("pump-17 ünïcode ✓")
        ));
    }

    #[test]
    fn csi_clear_screen_is_shown_not_run() {
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\x1b[2Jb");
    }

    #[test]
    fn osc52_clipboard_write_and_bel_are_shown() {
        assert_eq!(escape("\u{1b}]52;c;aGk=\u{7}"), "\\x1b]52;c;aGk=\\x07");
    }

    #[test]
    fn c1_csi_del_newlines_and_bidi_are_shown() {
        assert_eq!(
            escape("x\u{9b}2J\u{7f}\n\t\u{202e}"),
            "x\\u{9b}2J\\x7f\\n\\t\\u{202e}"
        );
    }

    #[test]
    fn json_keeps_its_value_and_loses_raw_c1() {
        let value = serde_json::json!({"name": "a\u{9b}b\u{7f}\u{1b}"});
        let safe = json_for_terminal(serde_json::to_string(&value).unwrap());
        assert!(!safe.chars().any(char::is_control), "{safe:?}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }
}
