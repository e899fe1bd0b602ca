//! A styled line of a detail or report screen, some of them links to related objects, and how
//! those screens write a date and a time. A leaf: `detail.rs` and `report.rs` build lines, views
//! draw them. Untrusted text is escaped as it is added.

use time::OffsetDateTime;
use time::UtcOffset;
use time::macros::format_description;

use crate::config::theme::Slot;
use crate::tui::data::Load;
use crate::tui::state::Link;
use crate::untrusted::escape;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub slot: Slot,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    pub segments: Vec<Segment>,
    pub link: Option<Link>,
}

impl Line {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds untrusted text, escaped.
    #[must_use]
    pub fn text(mut self, text: &str, slot: Slot) -> Self {
        self.segments.push(Segment {
            text: escape(text).into_owned(),
            slot,
        });
        self
    }

    #[must_use]
    pub fn link(mut self, link: Link) -> Self {
        self.link = Some(link);
        self
    }
}

#[must_use]
pub fn field(label: &str, value: &str, slot: Slot) -> Line {
    Line::new()
        .text(&format!("{label:<12}"), Slot::Dim)
        .text(value, slot)
}

#[must_use]
pub fn heading(text: &str) -> Line {
    Line::new().text(text, Slot::Title)
}

/// The day of `time` where the console shows times (`zone`: UTC, or the local offset).
#[must_use]
pub fn date(time: OffsetDateTime, zone: UtcOffset) -> String {
    time.to_offset(zone)
        .format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// The time of day at `zone`, to the second.
#[must_use]
pub fn time_of_day(time: OffsetDateTime, zone: UtcOffset) -> String {
    time.to_offset(zone)
        .format(format_description!("[hour]:[minute]:[second]"))
        .unwrap_or_default()
}

/// How the times on screen are labelled: "UTC", or "UTC+01:00" for a local offset.
#[must_use]
pub fn zone_name(zone: UtcOffset) -> String {
    if zone.is_utc() {
        return "UTC".to_owned();
    }
    let (hours, minutes, _) = zone.as_hms();
    let sign = if zone.is_negative() { '-' } else { '+' };
    format!(
        "UTC{sign}{:02}:{:02}",
        hours.unsigned_abs(),
        minutes.unsigned_abs()
    )
}

/// A loaded report's lines; "loading…" or the error otherwise.
pub fn loaded<T>(load: Option<&Load<T>>, ready: impl FnOnce(&T) -> Vec<Line>) -> Vec<Line> {
    match load {
        Some(Load::Ready(report)) => ready(report),
        Some(Load::Failed(error)) => vec![Line::new().text(error, Slot::StatusError)],
        _ => vec![Line::new().text("loading…", Slot::Dim)],
    }
}
