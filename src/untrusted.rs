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
    if is_plain(text) || !text.chars().any(is_hazard) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text);
    Cow::Owned(out)
}

/// True when `text` is printable ASCII only: nothing to escape, for JSON strings either unless
/// it holds `"` or `\`. Checked a byte at a time, the common case of device payloads.
fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// [`escape`] appended to `out`, copying clean text in one piece (the hot path of `tail`).
pub fn escape_into(out: &mut String, text: &str) {
    if is_plain(text) {
        out.push_str(text);
        return;
    }
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
}

/// Characters a JSON text may hold raw that a terminal acts on: DEL, the C1 controls and the
/// bidi overrides (JSON itself escapes U+0000 to U+001F).
fn json_hazard(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as a JSON string (quotes included) appended to `out`, safe to print: controls, DEL,
/// C1 and bidi overrides as `\uXXXX`, so the value read back is `text` exactly.
pub fn json_string_into(out: &mut String, text: &str) {
    out.push('"');
    if is_plain(text) && !text.contains(['"', '\\']) {
        out.push_str(text);
    } else {
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || json_hazard(c) => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// A JSON text, checked valid (UTF-8 and grammar, without building it in memory), appended to
/// `out` on one line: whitespace between tokens dropped, and inside strings the characters a
/// terminal acts on written as `\uXXXX` (equal in value). False, with `out` untouched, when
/// `bytes` is not JSON.
pub fn json_compact_into(out: &mut String, bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return false;
    }
    // Runs of plain bytes are skipped in tight loops and copied whole. `"`, `\` and whitespace
    // are ASCII, never part of a longer UTF-8 sequence; what a terminal acts on starts with DEL
    // (0x7f), 0xc2 (C1) or 0xe2 (bidi), looked at closely only then. Outside strings valid JSON
    // is ASCII punctuation, literals and numbers.
    let data = text.as_bytes();
    let end = data.len();
    let mut start = 0;
    let mut at = 0;
    loop {
        // Outside a string: up to whitespace (dropped) or a string's opening quote.
        while at < end && !matches!(data[at], b'"' | b' ' | b'\t' | b'\n' | b'\r') {
            at += 1;
        }
        if at >= end {
            break;
        }
        if data[at] != b'"' {
            out.push_str(&text[start..at]);
            at += 1;
            start = at;
            continue;
        }
        at += 1;
        // Inside the string, to its closing quote.
        loop {
            while at < end && !matches!(data[at], b'"' | b'\\' | 0x7f | 0xc2 | 0xe2) {
                at += 1;
            }
            if at >= end {
                break;
            }
            match data[at] {
                b'"' => {
                    at += 1;
                    break;
                }
                // The escaped character is ASCII in valid JSON (`"\/bfnrtu`).
                b'\\' => at += 2,
                _ => {
                    let c = text[at..].chars().next().unwrap_or_default();
                    if json_hazard(c) {
                        out.push_str(&text[start..at]);
                        let _ = write!(out, "\\u{:04x}", c as u32);
                        start = at + c.len_utf8();
                    }
                    at += c.len_utf8();
                }
            }
        }
    }
    out.push_str(&text[start..]);
    true
}

/// Makes serialised JSON safe to print. `serde_json` already escapes U+0000 to U+001F inside
/// strings, but passes DEL and the C1 controls (U+0080 to U+009F, which include the 8-bit CSI and
/// OSC introducers) through raw. Outside strings JSON is pure ASCII punctuation, so any such
/// character in the text is inside a string and its `\uXXXX` form keeps the JSON equal in value.
#[must_use]
pub fn json_for_terminal(json: String) -> String {
    if !json.chars().any(json_hazard) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if json_hazard(c) {
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
    fn json_strings_and_compacted_documents_keep_their_value_and_lose_what_a_terminal_runs() {
        for text in ["pump-1", "a\"b\\c", "x\u{9b}2J\u{7f}\n\t\u{1b}\u{202e}é✓"] {
            let mut out = String::new();
            json_string_into(&mut out, text);
            assert!(
                !out.chars().any(|c| c.is_control() || json_hazard(c)),
                "{out:?}"
            );
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text);
        }
        let document = "{ \"a\" : [1, 2.50 ,\n {\"b\": \"x \\\" y\u{9b}\"}],\r\n\t\"c\":null , \"d\" : \"é ✓\\\\\" }";
        let mut out = String::from("head ");
        assert!(json_compact_into(&mut out, document.as_bytes()));
        assert_eq!(
            out,
            "head {\"a\":[1,2.50,{\"b\":\"x \\\" y\\u009b\"}],\"c\":null,\"d\":\"é ✓\\\\\"}"
        );
        let value: serde_json::Value = serde_json::from_str(&out[5..]).unwrap();
        assert_eq!(
            value,
            serde_json::from_str::<serde_json::Value>(document).unwrap()
        );
        for not_json in [&b"{\"a\":"[..], b"plain text", b"\xff\xfe", b"{} {}"] {
            let mut out = String::from("kept");
            assert!(!json_compact_into(&mut out, not_json));
            assert_eq!(out, "kept");
        }
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
