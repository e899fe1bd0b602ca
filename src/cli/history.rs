//! `history`: who changed a Thing, certificate or policy (`fleet/history.rs`): CloudTrail's
//! events naming it and the journal's entries about it, newest first, each marked with its
//! source; NDJSON with `--output json`. History that cannot be read is said on stderr with exit
//! 1, after whatever could be read, never an empty table that reads as "nobody touched it".

use time::macros::format_description;

use super::CliError;
use super::args::{GlobalArgs, OutputFormat};
use super::text::{Layout, tab_line, truncate};
use crate::fleet::FleetClient;
use crate::fleet::history::{Event, history};
use crate::untrusted::{escape, json_for_terminal};

pub async fn run(
    client: &FleetClient,
    global: &GlobalArgs,
    resource: &str,
) -> Result<(), CliError> {
    let journal = crate::fleet::mutation::journal_for(None, client).await?;
    let found = history(client, &journal, resource).await;
    let mut text = String::new();
    match global.output {
        OutputFormat::Json => {
            for event in &found.events {
                text.push_str(&json_for_terminal(
                    serde_json::to_string(event).unwrap_or_default(),
                ));
                text.push('\n');
            }
        }
        OutputFormat::Table | OutputFormat::Text => {
            let layout = Layout::of(global.output);
            if layout != Layout::Tabs {
                text.push_str(&line("TIME", "WHO", "WHAT", "SOURCE", "DETAIL", layout));
            }
            for event in &found.events {
                text.push_str(&row(event, layout));
            }
        }
    }
    super::write_stdout(&text)?;
    if found.truncated {
        eprintln!("note: CloudTrail has more events than the newest 200 shown");
    }
    let unknown: Vec<&str> = [&found.trail_unknown, &found.journal_unknown]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, unknown.join("; ")))
    }
}

fn row(event: &Event, layout: Layout) -> String {
    let time = event
        .time
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    line(
        &time,
        &escape(&event.who),
        &escape(&event.what),
        event.source.word(),
        &escape(&event.detail),
        layout,
    )
}

/// One line: time, who (at most 24 wide on a terminal), what (18), source, then the detail in
/// what is left; whole when piped; tab-separated with `--output text`.
fn line(time: &str, who: &str, what: &str, source: &str, detail: &str, layout: Layout) -> String {
    if layout == Layout::Tabs {
        return tab_line(&[time, who, what, source, detail]);
    }
    let left = format!(
        "{time:<19}  {:<24}  {:<18}  {source:<10}  ",
        layout.cut(who, 24),
        layout.cut(what, 18)
    );
    let detail = match layout.width() {
        Some(width) => {
            let rest = width
                .saturating_sub(unicode_width::UnicodeWidthStr::width(left.as_str()))
                .max(12);
            truncate(detail, rest)
        }
        None => detail.to_owned(),
    };
    format!("{}\n", format!("{left}{detail}").trim_end())
}
