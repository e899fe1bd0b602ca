//! `violations`: Device Defender Detect's active violations (`fleet/detect.rs`): which Thing
//! broke which behaviour of which security profile, the value measured against the rule, and
//! since when; NDJSON with `--output json`. `--follow` goes on asking and prints each violation
//! as it is raised and as it clears. Where no security profile exists, nothing is watched: that
//! is said on stderr and the exit code is 1, never an empty table that reads as "all is well".

use std::collections::{BTreeMap, BTreeSet};

use time::macros::format_description;

use super::CliError;
use super::args::{GlobalArgs, OutputFormat};
use super::text::{Layout, tab_line, truncate};
use crate::fleet::FleetClient;
use crate::fleet::violations::{Violation, Violations, poll_every};
use crate::untrusted::{escape, json_for_terminal};

pub async fn violations(
    client: &FleetClient,
    global: &GlobalArgs,
    thing: Option<&str>,
    follow: bool,
) -> Result<(), CliError> {
    let region = client.backend().region.clone();
    let local = client.backend().local;
    let read = || async {
        let found = client
            .violations(thing)
            .await
            .map_err(|e| CliError::new(e.exit_code(), e.violations_unknown()))?;
        match found.unwatched(&region, local) {
            Some(said) => Err(CliError::new(1, said)),
            None => Ok::<Violations, CliError>(found),
        }
    };
    let mut out = Output {
        format: global.output,
        layout: Layout::of(global.output),
        header: false,
        follow,
    };
    let first = read().await?;
    let mut shown: BTreeMap<String, Violation> = BTreeMap::new();
    if !out.print(&first.active, Change::Active)? || !follow {
        return Ok(());
    }
    shown.extend(
        first
            .active
            .into_iter()
            .map(|v| (v.violation_id.clone(), v)),
    );
    let every = poll_every(client.backend().local);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        let now = read().await?;
        let raised: Vec<Violation> = now
            .active
            .iter()
            .filter(|v| !shown.contains_key(&v.violation_id))
            .cloned()
            .collect();
        let current: BTreeSet<&str> = now.active.iter().map(|v| v.violation_id.as_str()).collect();
        let cleared: Vec<Violation> = shown
            .values()
            .filter(|v| !current.contains(v.violation_id.as_str()))
            .cloned()
            .collect();
        if !out.print(&raised, Change::Raised)? || !out.print(&cleared, Change::Cleared)? {
            return Ok(());
        }
        shown = now
            .active
            .into_iter()
            .map(|v| (v.violation_id.clone(), v))
            .collect();
    }
}

/// What a printed line says of its violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Active when asked (the first answer).
    Active,
    Raised,
    Cleared,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Raised => "raised",
            Self::Cleared => "cleared",
        }
    }
}

struct Output {
    format: OutputFormat,
    layout: Layout,
    header: bool,
    /// Lines say what changed (raised, cleared) when following.
    follow: bool,
}

impl Output {
    /// Prints violations; false once the reader has gone (a closed pipe).
    fn print(&mut self, violations: &[Violation], change: Change) -> Result<bool, CliError> {
        let mut text = String::new();
        if self.format == OutputFormat::Table && !self.header {
            let first = if self.follow { "EVENT" } else { "" };
            text.push_str(&table_line(
                first,
                "THING",
                "BEHAVIOR",
                "OBSERVED",
                "NORMAL",
                "SINCE",
                self.layout,
            ));
            self.header = true;
        }
        for violation in violations {
            text.push_str(&match self.format {
                OutputFormat::Json => {
                    let mut value = serde_json::to_value(violation).unwrap_or_default();
                    if self.follow {
                        value["event"] = change.word().into();
                    }
                    json_for_terminal(value.to_string()) + "\n"
                }
                OutputFormat::Table | OutputFormat::Text => {
                    row(violation, self.follow.then(|| change.word()), self.layout)
                }
            });
        }
        super::write_stdout(&text)
    }
}

fn row(violation: &Violation, change: Option<&str>, layout: Layout) -> String {
    let since = violation
        .since
        .and_then(|t| {
            t.format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
                .ok()
        })
        .unwrap_or_else(|| "?".to_owned());
    let behavior = format!(
        "{}/{} ({})",
        escape(&violation.security_profile),
        escape(&violation.behavior),
        escape(violation.metric_text())
    );
    table_line(
        change.unwrap_or_default(),
        &escape(&violation.thing_name),
        &behavior,
        &violation.observed_text(),
        // The operator is the service's text when it is not one of AWS's four.
        &escape(&violation.rule_text()),
        &since,
        layout,
    )
}

/// One line: the event (when following), Thing, profile/behaviour (metric), observed, the rule,
/// since (UTC, to the minute). The behaviour takes what the fixed columns leave on a terminal;
/// whole when piped; tab-separated with `--output text`.
fn table_line(
    event: &str,
    thing: &str,
    behavior: &str,
    observed: &str,
    rule: &str,
    since: &str,
    layout: Layout,
) -> String {
    if layout == Layout::Tabs {
        let fields = [thing, behavior, observed, rule, since];
        return if event.is_empty() {
            tab_line(&fields)
        } else {
            tab_line(&[&[event][..], &fields].concat())
        };
    }
    let event = if event.is_empty() {
        String::new()
    } else {
        format!("{event:<8} ")
    };
    let left = format!("{event}{:<18}  ", layout.cut(thing, 18));
    let right = format!("  {observed:>8}  {:<12}  {since:<16}", layout.cut(rule, 12));
    let used = unicode_width::UnicodeWidthStr::width(left.as_str())
        + unicode_width::UnicodeWidthStr::width(right.as_str());
    let line = match layout.width() {
        Some(width) => {
            let behavior_width = width.saturating_sub(used).max(12);
            format!(
                "{left}{:<behavior_width$}{right}",
                truncate(behavior, behavior_width)
            )
        }
        // Whole: the behaviour at its own width, at least the header's.
        None => format!("{left}{behavior:<40}{right}"),
    };
    format!("{}\n", line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation() -> Violation {
        Violation {
            violation_id: "v1".into(),
            thing_name: "cam\u{1b}[2J-04".into(),
            security_profile: "rogue-traffic".into(),
            behavior: "messages-sent".into(),
            metric: Some("aws:num-messages-sent".into()),
            comparison: Some("less-than-equals".into()),
            threshold: Some(100.0),
            duration_seconds: Some(300),
            observed: Some(512.0),
            since: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).ok(),
            last_seen: None,
        }
    }

    #[test]
    fn a_row_is_escaped_lines_up_with_the_header_and_fits_80_columns() {
        let line = row(&violation(), None, Layout::Fit(80));
        assert!(!line.trim_end().chars().any(char::is_control), "{line:?}");
        assert!(line.contains("cam\\x1b[2J-04"), "{line}");
        assert!(
            line.contains("512") && line.contains("≤ 100 in 5m"),
            "{line}"
        );
        assert!(line.contains("rogue-traffic/mes"), "{line}");
        assert!(line.trim_end().chars().count() <= 80, "{line}");
        let header = table_line(
            "",
            "THING",
            "BEHAVIOR",
            "OBSERVED",
            "NORMAL",
            "SINCE",
            Layout::Fit(80),
        );
        let column = |text: &str, cell: &str| text.find(cell).map(|at| text[..at].chars().count());
        assert_eq!(
            column(&header, "NORMAL"),
            column(&line, "≤ 100"),
            "{header}{line}"
        );
        assert_eq!(
            column(&header, "SINCE"),
            column(&line, "2023-"),
            "{header}{line}"
        );
    }
}
