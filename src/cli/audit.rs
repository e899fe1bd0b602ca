//! `audit`: the local checks over the whole fleet, with AWS Device Defender's findings beside
//! them where the account has them. Exit 0 even with findings; `--fail-on LEVEL` exits
//! `ANSWER_IS_NO` (6) when a finding is at that severity or worse, for CI.

use serde::Serialize;

use super::CliError;
use super::args::{GlobalArgs, OutputFormat};
use super::text::{Layout, Report, tab_line};
use crate::fleet::FleetClient;
use crate::fleet::audit::{self, Finding, Severity, Source};

#[derive(Serialize)]
struct Output<'a> {
    count: usize,
    /// Findings per severity, every severity present.
    by_severity: Vec<(&'static str, usize)>,
    findings: &'a [Finding],
    /// What could not be read (AWS's findings, the journal), said once each.
    notes: &'a [String],
}

pub async fn audit(
    client: &FleetClient,
    global: &GlobalArgs,
    fail_on: Option<Severity>,
) -> Result<(), CliError> {
    let journal = crate::fleet::mutation::journal_for(None, client).await?;
    let report = audit::audit(client, &journal, !global.local).await?;
    let by_severity: Vec<(&'static str, usize)> = report
        .counts()
        .into_iter()
        .map(|(s, n)| (s.name(), n))
        .collect();
    let (findings, notes) = (&report.findings, &report.notes);
    let text = match global.output {
        OutputFormat::Json => super::to_json(&Output {
            count: findings.len(),
            by_severity: by_severity.clone(),
            findings,
            notes,
        }),
        OutputFormat::Table => table(findings, &by_severity, notes, Layout::of(global.output)),
        OutputFormat::Text => {
            // Records only on stdout; what could not be read is said on stderr.
            for note in notes {
                eprintln!("iotfleet: note: {}", crate::untrusted::escape(note));
            }
            records(findings)
        }
    };
    super::print(&text)?;
    if let Some(level) = fail_on {
        let failing = findings.iter().filter(|f| f.severity <= level).count();
        if failing > 0 {
            return Err(CliError::new(
                super::ANSWER_IS_NO,
                format!("{failing} finding(s) at {} or worse", level.name()),
            ));
        }
    }
    Ok(())
}

/// `--output text`: a finding a line (severity, check, resource, source, reason, fix).
fn records(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            let source = match f.source {
                Source::Local => "local",
                Source::Aws => "aws",
            };
            tab_line(&[
                f.severity.name(),
                &f.check,
                &format!("{:#}", f.resource),
                source,
                &f.reason,
                &f.fix,
            ])
        })
        .collect()
}

fn table(
    findings: &[Finding],
    by_severity: &[(&'static str, usize)],
    notes: &[String],
    layout: Layout,
) -> String {
    let mut out = Report::new(layout.width());
    for severity in Severity::ALL {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == severity).collect();
        if group.is_empty() {
            continue;
        }
        out.line(0, &format!("{} ({})", severity.name(), group.len()));
        for finding in group {
            let source = match finding.source {
                Source::Local => "",
                Source::Aws => " [AWS Device Defender]",
            };
            // Cut to 12 digits on a terminal only; piped, the whole id.
            let resource = if layout.width().is_some() {
                finding.resource.to_string()
            } else {
                format!("{:#}", finding.resource)
            };
            out.line(2, &format!("{}  {resource}{source}", finding.check));
            out.line(6, &finding.reason);
            out.line(6, &format!("fix: {}", finding.fix));
        }
        out.blank();
    }
    for note in notes {
        out.line(0, &format!("note: {note}"));
    }
    let summary = if findings.is_empty() {
        "no findings".to_owned()
    } else {
        format!(
            "{} findings: {}",
            findings.len(),
            by_severity
                .iter()
                .map(|(s, n)| format!("{n} {}", s.to_lowercase()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    out.line(0, &summary);
    out.finish()
}
