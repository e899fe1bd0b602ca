//! `denied`: who AWS IoT refused, from the `AWSIotLogsV2` log group (`fleet/refusals.rs`):
//! each refused connect, publish or subscribe since `--since`, oldest first, one line each
//! (NDJSON with `--output json`); `--follow` goes on printing them as they are logged.

use std::time::Duration;

use time::OffsetDateTime;
use time::macros::format_description;

use super::CliError;
use super::args::{GlobalArgs, OutputFormat};
use super::text::{Layout, tab_line, truncate};
use crate::fleet::FleetClient;
use crate::fleet::denied::{Cursor, Refusal, poll_every};
use crate::untrusted::{escape, json_for_terminal};

pub async fn denied(
    client: &FleetClient,
    global: &GlobalArgs,
    follow: bool,
    since: Duration,
) -> Result<(), CliError> {
    let region = client.backend().region.clone();
    let unknown =
        |e: crate::fleet::FleetError| CliError::new(e.exit_code(), e.refusals_unknown(&region));
    let start = OffsetDateTime::now_utc() - since;
    let mut cursor = Cursor::since(start);
    let mut out = Output {
        format: global.output,
        layout: Layout::of(global.output),
        header: false,
    };
    // The first read takes every page; the following polls go on from the newest.
    let events = client
        .log_failures(cursor.start_ms(), None)
        .await
        .map_err(unknown)?;
    if !out.print(&cursor.absorb(&events))? || !follow {
        return Ok(());
    }
    let every = poll_every(client.backend().local);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        let fresh = client.refusals(&mut cursor).await.map_err(unknown)?;
        if !out.print(&fresh)? {
            return Ok(());
        }
    }
}

struct Output {
    format: OutputFormat,
    layout: Layout,
    /// Whether the table's header is out.
    header: bool,
}

impl Output {
    /// Prints refusals; false once the reader has gone (a closed pipe).
    fn print(&mut self, refusals: &[Refusal]) -> Result<bool, CliError> {
        let mut text = String::new();
        if self.format == OutputFormat::Table && !self.header {
            text.push_str(&table_line(
                "TIME",
                "CLIENT",
                "ACTION",
                "TARGET",
                "REASON",
                self.layout,
            ));
            self.header = true;
        }
        for refusal in refusals {
            text.push_str(&match self.format {
                OutputFormat::Json => {
                    json_for_terminal(serde_json::to_string(refusal).unwrap_or_default()) + "\n"
                }
                OutputFormat::Table | OutputFormat::Text => row(refusal, self.layout),
            });
        }
        super::write_stdout(&text)
    }
}

fn row(refusal: &Refusal, layout: Layout) -> String {
    let time = refusal
        .time
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    table_line(
        &time,
        &escape(&refusal.client_id),
        refusal.action(),
        &escape(refusal.target()),
        &escape(&refusal.reason),
        layout,
    )
}

/// One line: time, client (at most 18 wide), action, then the target and the reason sharing
/// the rest, 3 to 2, whatever the cells hold, so the header and every row line up; whole when
/// piped; tab-separated with `--output text`.
fn table_line(
    time: &str,
    client: &str,
    action: &str,
    target: &str,
    reason: &str,
    layout: Layout,
) -> String {
    if layout == Layout::Tabs {
        return tab_line(&[time, client, action, target, reason]);
    }
    let left = format!("{time:<19}  {:<18}  {action:<9}  ", layout.cut(client, 18));
    let line = match layout.width() {
        Some(width) => {
            let rest = width
                .saturating_sub(unicode_width::UnicodeWidthStr::width(left.as_str()) + 2)
                .max(12);
            let target_width = rest * 3 / 5;
            let reason_width = rest - target_width;
            format!(
                "{left}{:<target_width$}  {}",
                truncate(target, target_width),
                truncate(reason, reason_width)
            )
        }
        None => format!("{left}{target:<30}  {reason}"),
    };
    format!("{}\n", line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_escaped_and_fits_the_width() {
        let refusal = Refusal {
            time: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            client_id: "cam\u{1b}[2J-04".into(),
            principal_id: None,
            event_type: "Publish-In".into(),
            topic_name: Some("dt/pump-03/telemetry/a/very/long/topic/that/goes/on".into()),
            reason: "AUTHORIZATION_FAILURE".into(),
            details: None,
            source_ip: None,
            event_id: "1".into(),
        };
        let line = row(&refusal, Layout::Fit(80));
        assert!(!line.trim_end().chars().any(char::is_control), "{line:?}");
        assert!(
            line.contains("cam\\x1b[2J-04") && line.contains("publish"),
            "{line}"
        );
        assert!(line.trim_end().chars().count() <= 80, "{line}");
        let header = table_line(
            "TIME",
            "CLIENT",
            "ACTION",
            "TARGET",
            "REASON",
            Layout::Fit(80),
        );
        let column = |text: &str, cell: &str| text.find(cell).map(|at| text[..at].chars().count());
        assert_eq!(
            column(&header, "REASON"),
            column(&line, "AUTHORIZ"),
            "the header and the rows line up:\n{header}{line}"
        );
    }
}
