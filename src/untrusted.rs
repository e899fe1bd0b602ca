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
/// `bytes` is not JSON, or nests deeper than `MAX_DEPTH` (as `serde_json` refuses to).
pub fn json_compact_into(out: &mut String, bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mark = out.len();
    if Compactor::new(text, out).run() {
        true
    } else {
        out.truncate(mark);
        false
    }
}

/// Containers deeper than this are not taken as JSON (`serde_json`'s limit too).
const MAX_DEPTH: usize = 128;

/// Bytes that end a run of plain string bytes: the closing quote, an escape, a control (raw,
/// not JSON), and the first bytes of what a terminal acts on: DEL (0x7f), C1 (0xc2 0x80-0x9f)
/// and the bidi controls (0xe2 0x80 …).
const STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stop[b] = true;
        b += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop[0x7f] = true;
    stop[0xc2] = true;
    stop[0xe2] = true;
    stop
};

/// What may come next in the JSON being checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A value, or (right after `[`) the array's end.
    Value {
        or_end: bool,
    },
    /// A member's name, or (right after `{`) the object's end.
    Key {
        or_end: bool,
    },
    Colon,
    /// A comma or the end of the container.
    Comma,
    /// Nothing: the document is whole.
    Nothing,
}

/// One pass over a JSON text that checks its grammar while copying it compact: runs of bytes
/// are copied whole, whitespace between tokens is dropped, terminal controls in strings escaped.
struct Compactor<'a> {
    text: &'a str,
    data: &'a [u8],
    out: &'a mut String,
    at: usize,
    /// Where the bytes not yet copied start.
    start: usize,
    /// Which containers are open, innermost last: true for an object.
    open: [bool; MAX_DEPTH],
    depth: usize,
}

impl<'a> Compactor<'a> {
    fn new(text: &'a str, out: &'a mut String) -> Self {
        Self {
            text,
            data: text.as_bytes(),
            out,
            at: 0,
            start: 0,
            open: [false; MAX_DEPTH],
            depth: 0,
        }
    }

    fn run(mut self) -> bool {
        let mut next = Next::Value { or_end: false };
        loop {
            self.skip_whitespace();
            let Some(&b) = self.data.get(self.at) else {
                self.out.push_str(&self.text[self.start..]);
                return next == Next::Nothing;
            };
            next = match (next, b) {
                (Next::Value { or_end: true }, b']') | (Next::Comma, b']' | b'}') => {
                    if self.depth == 0 || self.open[self.depth - 1] != (b == b'}') {
                        return false;
                    }
                    self.depth -= 1;
                    self.at += 1;
                    self.after_value()
                }
                (Next::Key { or_end: true }, b'}') => {
                    self.depth -= 1;
                    self.at += 1;
                    self.after_value()
                }
                (Next::Value { .. }, b'{' | b'[') => {
                    if self.depth == MAX_DEPTH {
                        return false;
                    }
                    self.open[self.depth] = b == b'{';
                    self.depth += 1;
                    self.at += 1;
                    if b == b'{' {
                        Next::Key { or_end: true }
                    } else {
                        Next::Value { or_end: true }
                    }
                }
                (Next::Value { .. }, b'"') => {
                    if !self.string() {
                        return false;
                    }
                    self.after_value()
                }
                (Next::Value { .. }, b'-' | b'0'..=b'9') => {
                    if !self.number() {
                        return false;
                    }
                    self.after_value()
                }
                (Next::Value { .. }, b't' | b'f' | b'n') => {
                    let rest = &self.data[self.at..];
                    let Some(word) = [&b"true"[..], b"false", b"null"]
                        .into_iter()
                        .find(|word| rest.starts_with(word))
                    else {
                        return false;
                    };
                    self.at += word.len();
                    self.after_value()
                }
                (Next::Key { .. }, b'"') => {
                    if !self.string() {
                        return false;
                    }
                    Next::Colon
                }
                (Next::Colon, b':') => {
                    self.at += 1;
                    Next::Value { or_end: false }
                }
                (Next::Comma, b',') => {
                    self.at += 1;
                    if self.open[self.depth - 1] {
                        Next::Key { or_end: false }
                    } else {
                        Next::Value { or_end: false }
                    }
                }
                _ => return false,
            };
        }
    }

    fn after_value(&self) -> Next {
        if self.depth == 0 {
            Next::Nothing
        } else {
            Next::Comma
        }
    }

    /// Whitespace is dropped: what comes before it is copied, and copying starts again after.
    fn skip_whitespace(&mut self) {
        if !matches!(self.data.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            return;
        }
        self.out.push_str(&self.text[self.start..self.at]);
        while matches!(self.data.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
        self.start = self.at;
    }

    /// A string, from its opening quote past its closing one.
    fn string(&mut self) -> bool {
        let data = self.data;
        let end = data.len();
        self.at += 1;
        loop {
            while self.at < end && !STRING_STOP[data[self.at] as usize] {
                self.at += 1;
            }
            let Some(&b) = data.get(self.at) else {
                return false;
            };
            match b {
                b'"' => {
                    self.at += 1;
                    return true;
                }
                b'\\' => match data.get(self.at + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 2,
                    Some(b'u')
                        if data
                            .get(self.at + 2..self.at + 6)
                            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) =>
                    {
                        self.at += 6;
                    }
                    _ => return false,
                },
                // A raw control character is not JSON.
                0x00..=0x1f => return false,
                _ => {
                    let c = self.text[self.at..].chars().next().unwrap_or_default();
                    if json_hazard(c) {
                        self.out.push_str(&self.text[self.start..self.at]);
                        let _ = write!(self.out, "\\u{:04x}", c as u32);
                        self.start = self.at + c.len_utf8();
                    }
                    self.at += c.len_utf8();
                }
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> bool {
        let data = self.data;
        let digits = |at: &mut usize| {
            let from = *at;
            while data.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        let mut at = self.at;
        if data[at] == b'-' {
            at += 1;
        }
        match data.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => {
                digits(&mut at);
            }
            _ => return false,
        }
        if data.get(at) == Some(&b'.') {
            at += 1;
            if !digits(&mut at) {
                return false;
            }
        }
        if matches!(data.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(data.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if !digits(&mut at) {
                return false;
            }
        }
        self.at = at;
        true
    }
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

    /// A number below `n` from a xorshift generator.
    fn roll(seed: &mut u64, n: usize) -> usize {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        usize::try_from(*seed % n as u64).expect("below n")
    }

    /// A random JSON document, nested at most `depth` deep, with whitespace, escapes, numbers
    /// of every form and text a terminal acts on.
    fn random_json(seed: &mut u64, depth: u32, out: &mut String) {
        let spaces = [" ", "", "\n\t", "\r\n ", ""];
        out.push_str(spaces[roll(seed, 5)]);
        match if depth == 0 {
            roll(seed, 4)
        } else {
            roll(seed, 6)
        } {
            0 => out.push_str(["true", "false", "null"][roll(seed, 3)]),
            1 => out.push_str(
                [
                    "0", "-0", "12", "-3.250", "1e5", "2E-7", "6.02e+23", "-0.0e0",
                ][roll(seed, 8)],
            ),
            2 | 3 => {
                out.push('"');
                for _ in 0..roll(seed, 6) {
                    out.push_str(
                        [
                            "a", "é✓", "\\\"", "\\\\", "\\u00e9", "\\n", "\u{9b}", "\u{7f}",
                            "\u{202e}", "\\/", " ",
                        ][roll(seed, 11)],
                    );
                }
                out.push('"');
            }
            4 => {
                out.push('[');
                for i in 0..roll(seed, 4) {
                    if i > 0 {
                        out.push(',');
                    }
                    random_json(seed, depth - 1, out);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..roll(seed, 4) {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}\"k{i}\" : ", spaces[roll(seed, 5)]);
                    random_json(seed, depth - 1, out);
                }
                out.push('}');
            }
        }
        out.push_str(spaces[roll(seed, 5)]);
    }

    #[test]
    fn json_compact_takes_what_serde_json_takes_and_keeps_its_value() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut checked = (0, 0);
        for round in 0..20_000 {
            let mut document = String::new();
            random_json(&mut seed, 4, &mut document);
            // Half are broken: a byte dropped, doubled or replaced by one that matters to JSON.
            if round % 2 == 1 && !document.is_empty() {
                let mut bytes = document.into_bytes();
                let at = roll(&mut seed, bytes.len());
                let alphabet = b"{}[],:\"\\ 0-.eEtfn\x01";
                let b = alphabet[roll(&mut seed, alphabet.len())];
                match roll(&mut seed, 3) {
                    0 => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, bytes[at]),
                    _ => bytes[at] = b,
                }
                document = String::from_utf8_lossy(&bytes).into_owned();
            }
            let expected = serde_json::from_str::<serde_json::Value>(&document).ok();
            let mut out = String::from("x");
            let taken = json_compact_into(&mut out, document.as_bytes());
            assert_eq!(taken, expected.is_some(), "{document:?} -> {out:?}");
            if let Some(value) = expected {
                checked.0 += 1;
                let compact = &out[1..];
                assert_eq!(
                    serde_json::from_str::<serde_json::Value>(compact).unwrap(),
                    value,
                    "{document:?} -> {compact:?}"
                );
                assert!(
                    !compact.chars().any(|c| c.is_control() || json_hazard(c)),
                    "{compact:?}"
                );
                assert!(compact.len() <= document.len() + 5 * 3 * 6);
            } else {
                checked.1 += 1;
                assert_eq!(out, "x", "out untouched when not JSON");
            }
        }
        assert!(checked.0 > 10_000 && checked.1 > 3_000, "{checked:?}");
        // Deeper than serde_json goes is not taken as JSON either.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err());
        assert!(!json_compact_into(&mut String::new(), deep.as_bytes()));
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(json_compact_into(&mut String::new(), fine.as_bytes()));
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
