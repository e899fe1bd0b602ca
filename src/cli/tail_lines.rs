//! How `tail` writes each message, into one buffer that is reused: NDJSON, or a table or text
//! line. The hot path allocates nothing per message: clean text is escaped by copying it, a JSON
//! payload is checked and copied compact rather than parsed into a tree and printed again, and
//! the time is formatted once a second.

use std::fmt::Write as _;

use base64::Engine as _;

use super::args::OutputFormat;
use super::text::{Layout, truncate};
use crate::fleet::traffic::TrafficMessage;
use crate::untrusted::{escape, escape_into, json_compact_into, json_string_into};

/// The lines of messages not yet written out.
#[derive(Debug)]
pub struct Lines {
    json: bool,
    layout: Layout,
    out: String,
    /// The second the prefixes below are for.
    second: Option<i64>,
    /// `2026-12-01T01:02:03` and `01:02:03` of that second (UTC).
    date_time: String,
    clock: String,
}

impl Lines {
    #[must_use]
    pub fn new(format: OutputFormat, layout: Layout) -> Self {
        Self {
            json: format == OutputFormat::Json,
            layout,
            out: String::with_capacity(1 << 16),
            second: None,
            date_time: String::new(),
            clock: String::new(),
        }
    }

    /// The text waiting to be written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.out
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.out.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Forgets what was written out, keeping the buffer's memory.
    pub fn clear(&mut self) {
        self.out.clear();
    }

    /// Appends `message`'s line.
    pub fn push(&mut self, message: &TrafficMessage) {
        self.tick(message.received);
        if self.json {
            self.json_line(message);
        } else {
            self.table_line(message);
        }
    }

    fn tick(&mut self, at: time::OffsetDateTime) {
        let second = at.unix_timestamp();
        if self.second == Some(second) {
            return;
        }
        self.second = Some(second);
        let at = at.to_offset(time::UtcOffset::UTC);
        self.date_time.clear();
        let _ = write!(
            self.date_time,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        self.clock.clear();
        self.clock.push_str(&self.date_time[11..]);
    }

    /// `{"time":…,"topic":…,"qos":…,"retain":…,"size":…,"payload_format":…,"payload":…}`: a JSON
    /// payload as JSON (compacted to one line), UTF-8 as a string, anything else as base64.
    fn json_line(&mut self, message: &TrafficMessage) {
        let out = &mut self.out;
        out.push_str("{\"time\":\"");
        out.push_str(&self.date_time);
        out.push('.');
        push_number(out, message.received.microsecond().into(), 6, b'0');
        out.push_str("Z\",\"topic\":");
        json_string_into(out, &message.topic);
        out.push_str(",\"qos\":");
        push_number(out, message.qos.into(), 1, b'0');
        out.push_str(if message.retain {
            ",\"retain\":true,\"size\":"
        } else {
            ",\"retain\":false,\"size\":"
        });
        push_number(out, message.payload.len() as u64, 1, b'0');
        out.push_str(",\"payload_format\":");
        let mark = out.len();
        out.push_str("\"json\",\"payload\":");
        if !json_compact_into(out, &message.payload) {
            out.truncate(mark);
            if let Ok(text) = std::str::from_utf8(&message.payload) {
                out.push_str("\"text\",\"payload\":");
                json_string_into(out, text);
            } else {
                out.push_str("\"base64\",\"payload\":\"");
                base64::engine::general_purpose::STANDARD.encode_string(&message.payload, out);
                out.push('"');
            }
        }
        out.push_str("}\n");
    }

    /// Time, QoS, retain, size, topic, payload: whole when piped (a binary payload in hex),
    /// tab-separated with `--output text`, cut to the terminal's width on one (a binary payload
    /// as its first 16 bytes).
    fn table_line(&mut self, message: &TrafficMessage) {
        let millis = message.received.millisecond();
        if let Layout::Fit(width) = self.layout {
            self.fitted_line(message, width, millis);
            return;
        }
        let tabs = self.layout == Layout::Tabs;
        let out = &mut self.out;
        out.push_str(&self.clock);
        out.push('.');
        push_number(out, millis.into(), 3, b'0');
        if tabs {
            out.push('\t');
            push_number(out, message.qos.into(), 1, b'0');
            out.push_str(if message.retain {
                "\tretained\t"
            } else {
                "\t-\t"
            });
            push_number(out, message.payload.len() as u64, 1, b'0');
            out.push('\t');
        } else {
            out.push_str("  q");
            push_number(out, message.qos.into(), 1, b'0');
            out.push_str(if message.retain { " R " } else { " - " });
            push_number(out, message.payload.len() as u64, 7, b' ');
            out.push_str("  ");
        }
        escape_into(out, &message.topic);
        out.push_str(if tabs { "\t" } else { "  " });
        payload_into(out, &message.payload, usize::MAX);
        out.push('\n');
    }

    /// On a terminal: the payload cut to what the line leaves (rare, and read by a person).
    fn fitted_line(&mut self, message: &TrafficMessage, width: usize, millis: u16) {
        let retained = if message.retain { "R" } else { "-" };
        let head = format!(
            "{}.{millis:03}  q{} {retained} {:>7}  {}  ",
            self.clock,
            message.qos,
            message.payload.len(),
            escape(&message.topic)
        );
        let mut payload = String::new();
        payload_into(&mut payload, &message.payload, 16);
        let room = width
            .saturating_sub(unicode_width::UnicodeWidthStr::width(head.as_str()))
            .max(10);
        let _ = writeln!(self.out, "{head}{}", truncate(&payload, room));
    }
}

/// `n` in decimal, filled on the left with `fill` to `width` digits: the formatting machinery
/// of `write!` cost more than the rest of a line.
fn push_number(out: &mut String, mut n: u64, width: usize, fill: u8) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in digits.len() - at..width {
        out.push(char::from(fill));
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

/// A payload as text: UTF-8 escaped, else `<binary: ff 00 …>` of at most `bytes` bytes.
fn payload_into(out: &mut String, payload: &[u8], bytes: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if let Ok(text) = std::str::from_utf8(payload) {
        escape_into(out, text);
        return;
    }
    out.push_str("<binary:");
    for byte in payload.iter().take(bytes) {
        out.push(' ');
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn message(payload: &'static [u8]) -> TrafficMessage {
        TrafficMessage {
            topic: "devices/\u{1b}[2J".into(),
            payload: Bytes::from_static(payload),
            qos: 1,
            retain: true,
            received: time::OffsetDateTime::from_unix_timestamp_nanos(1_764_550_923_123_456_789)
                .unwrap(),
        }
    }

    fn line(format: OutputFormat, layout: Layout, payload: &'static [u8]) -> String {
        let mut lines = Lines::new(format, layout);
        lines.push(&message(payload));
        lines.as_str().to_owned()
    }

    #[test]
    fn ndjson_keeps_json_text_and_binary_apart_and_exact() {
        let json = line(OutputFormat::Json, Layout::Whole, b"{ \"t\" : [1, 2.50] }");
        assert_eq!(
            json,
            "{\"time\":\"2025-12-01T01:02:03.123456Z\",\"topic\":\"devices/\\u001b[2J\",\"qos\":1,\
             \"retain\":true,\"size\":19,\"payload_format\":\"json\",\"payload\":{\"t\":[1,2.50]}}\n"
        );
        let text = line(
            OutputFormat::Json,
            Layout::Whole,
            b"\x1b]0;title\x07 \xc2\x9b",
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["payload_format"], "text");
        assert_eq!(
            value["payload"], "\u{1b}]0;title\u{7} \u{9b}",
            "exact in value"
        );
        assert!(!text.trim_end().chars().any(char::is_control), "{text:?}");
        let binary: serde_json::Value = serde_json::from_str(&line(
            OutputFormat::Json,
            Layout::Whole,
            &[0xff, 0x00, 0x01],
        ))
        .unwrap();
        assert_eq!(
            (
                binary["payload_format"].as_str(),
                binary["payload"].as_str()
            ),
            (Some("base64"), Some("/wAB"))
        );
        // A payload that is JSON but spans lines stays one NDJSON line.
        let spread = line(OutputFormat::Json, Layout::Whole, b"{\n\"a\": 1\n}\n");
        assert_eq!(spread.lines().count(), 1, "{spread:?}");
    }

    #[test]
    fn numbers_are_written_in_decimal_filled_to_their_width() {
        let cases: [(u64, usize, u8, &str); 6] = [
            (5, 6, b'0', "000005"),
            (123_456, 6, b'0', "123456"),
            (0, 1, b'0', "0"),
            (300, 7, b' ', "    300"),
            (12_345_678, 7, b' ', "12345678"),
            (u64::MAX, 1, b'0', "18446744073709551615"),
        ];
        for (n, width, fill, expected) in cases {
            let mut out = String::from(">");
            push_number(&mut out, n, width, fill);
            assert_eq!(out, format!(">{expected}"));
        }
    }

    #[test]
    fn table_and_text_lines_are_whole_escaped_and_tab_separated() {
        let whole = line(OutputFormat::Table, Layout::Whole, &[b'x'; 300]);
        assert_eq!(
            whole,
            format!(
                "01:02:03.123  q1 R     300  devices/\\x1b[2J  {}\n",
                "x".repeat(300)
            )
        );
        let binary = line(OutputFormat::Table, Layout::Whole, &[0xff; 40]);
        assert_eq!(
            binary.matches(" ff").count(),
            40,
            "every byte, not 16: {binary}"
        );
        assert_eq!(
            line(OutputFormat::Text, Layout::Tabs, b"a\tb"),
            "01:02:03.123\t1\tretained\t3\tdevices/\\x1b[2J\ta\\tb\n"
        );
        let fitted = line(
            OutputFormat::Table,
            Layout::Fit(80),
            b"\x1b[2J\x1b]52;c;aGk=\x07 and more text than fits in the line at all, by far",
        );
        assert!(fitted.trim_end().chars().count() <= 80, "{fitted}");
        assert!(
            !fitted.trim_end().chars().any(char::is_control),
            "{fitted:?}"
        );
        assert!(
            line(OutputFormat::Table, Layout::Fit(80), &[0xff, 0xfe]).contains("<binary: ff fe>")
        );
    }
}
