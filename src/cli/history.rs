//! `history`: who changed a Thing, certificate or policy (`fleet/history.rs`): CloudTrail's
//! events naming it and the journal's entries about it, newest first, each marked with its
//! source; NDJSON with `--output json`. History that cannot be read is said on stderr with exit
//! 1, after whatever could be read, never an empty table that reads as "nobody touched it".

use time::macros::format_description;

use super::CliError;
use super::args::{GlobalArgs, OutputFormat};
use super::text::{output_width, truncate};
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
        OutputFormat::Table => {
            let width = output_width();
            text.push_str(&line("TIME", "WHO", "WHAT", "SOURCE", "DETAIL", width));
            for event in &found.events {
                text.push_str(&row(event, width));
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

fn row(event: &Event, width: usize) -> String {
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
        width,
    )
}

/// One line: time, who (at most 24 wide), what (18), source, then the detail in what is left.
fn line(time: &str, who: &str, what: &str, source: &str, detail: &str, width: usize) -> String {
    let left = format!(
        "{time:<19}  {:<24}  {:<18}  {source:<10}  ",
        truncate(who, 24),
        truncate(what, 18)
    );
    let rest = width
        .saturating_sub(unicode_width::UnicodeWidthStr::width(left.as_str()))
        .max(12);
    format!(
        "{}\n",
        format!("{left}{}", truncate(detail, rest)).trim_end()
    )
}
