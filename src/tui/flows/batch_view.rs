//! The popup of a batch of the marked Things: its one plan and the number to type, then a
//! progress bar with the rate and the time left, then every Thing's result.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::config::theme::{Slot, Theme};
use crate::fleet::quarantine::batch::{BatchPlan, BatchReport};
use crate::fleet::quarantine::run::Verb;
use crate::tui::flows::flow::{Flow, Outcome, Plan as Planned, Progress, Stage};
use crate::tui::frame::popup::{popup, reason_line};
use crate::tui::msg::AnswerKeys;
use crate::untrusted::escape;

/// Results listed at most; the rest are counted.
const RESULTS_SHOWN: usize = 12;

#[expect(
    clippy::too_many_arguments,
    reason = "a frame, its flow, and what drawing needs"
)]
pub fn draw_batch(
    frame: &mut Frame<'_>,
    area: Rect,
    flow: &Flow,
    (verb, count): (Verb, usize),
    now: time::OffsetDateTime,
    spinner: &str,
    keys: &AnswerKeys,
    theme: &Theme,
) {
    let closes = format!("{} or {} closes", keys.enter(), keys.esc());
    let title = match verb {
        Verb::Quarantine => format!(" Quarantine {count} marked Things "),
        Verb::Release => format!(" Release {count} marked Things "),
    };
    let text =
        |t: &str, slot: Slot| Line::from(Span::styled(escape(t).into_owned(), theme.style(slot)));
    let mut lines: Vec<Line<'_>> = Vec::new();
    match &flow.stage {
        Stage::Planning => lines.push(text(
            &format!("{spinner} reading every Thing's certificates and policies…"),
            Slot::Dim,
        )),
        Stage::Confirm {
            plan: Planned::Batch(plan),
            typed,
        } => {
            batch_plan_lines(&mut lines, plan, theme);
            lines.push(text(
                &format!(
                    "Type {} and {} to {} them, {} cancels: {typed}",
                    plan.prepared.len(),
                    keys.enter(),
                    verb,
                    keys.esc()
                ),
                Slot::StatusWarning,
            ));
        }
        Stage::Reason {
            plan: Planned::Batch(plan),
            reason,
        } => {
            batch_plan_lines(&mut lines, plan, theme);
            lines.push(reason_line(reason, keys, theme));
        }
        Stage::Running(Progress::Batch {
            id,
            total,
            done,
            failed,
            started,
            last,
        }) => {
            const WIDTH: usize = 30;
            let filled = WIDTH * done / (*total).max(1);
            let seconds = (now - *started).as_seconds_f64().max(0.001);
            #[expect(clippy::cast_precision_loss, reason = "counts of Things are small")]
            let rate = *done as f64 / seconds;
            #[expect(clippy::cast_precision_loss, reason = "counts of Things are small")]
            let left = (total - done) as f64 / rate.max(0.001);
            lines.push(text(&format!("Batch {id}"), Slot::Dim));
            lines.push(text(
                &format!(
                    "[{}{}] {done}/{total}  {rate:.1} Things/s  {} left",
                    "#".repeat(filled),
                    ".".repeat(WIDTH - filled),
                    if *done == 0 {
                        "…".to_owned()
                    } else {
                        format!("{left:.0} s")
                    }
                ),
                Slot::Text,
            ));
            if *failed > 0 {
                lines.push(text(
                    &format!("{failed} not done so far"),
                    Slot::StatusError,
                ));
            }
            if let Some(last) = last {
                lines.push(text(
                    &format!(
                        "{spinner} {}: {} ({})",
                        last.thing, last.outcome, last.detail
                    ),
                    Slot::Dim,
                ));
            }
        }
        Stage::Finished(Outcome::Batch(report)) => {
            batch_result_lines(&mut lines, report, &closes, theme);
        }
        Stage::Refused(reason) => {
            lines.push(text(reason, Slot::StatusWarning));
            lines.push(text(&format!("Nothing was changed. {closes}"), Slot::Dim));
        }
        Stage::Failed(reason) => {
            lines.push(text(reason, Slot::StatusError));
            lines.push(text(
                &format!("Each Thing done is journaled; Q again resumes the batch. {closes}"),
                Slot::Dim,
            ));
        }
        _ => {}
    }
    popup(frame, area, title, lines, theme);
}

fn batch_plan_lines(lines: &mut Vec<Line<'_>>, plan: &BatchPlan, theme: &Theme) {
    let text =
        |t: &str, slot: Slot| Line::from(Span::styled(escape(t).into_owned(), theme.style(slot)));
    lines.push(text(
        &format!(
            "Batch {}{}",
            plan.id,
            if plan.resumed { " (resumed)" } else { "" }
        ),
        Slot::Dim,
    ));
    lines.push(text(
        &format!(
            "{} to change, {} with nothing to do; {} certificates",
            plan.prepared.len(),
            plan.unchanged.len(),
            plan.certificates
        ),
        Slot::Text,
    ));
    for unplanned in &plan.unplanned {
        lines.push(text(
            &format!(
                "! {} cannot be planned: {}",
                unplanned.thing, unplanned.error
            ),
            Slot::StatusWarning,
        ));
    }
    for shared in &plan.shared_certificates {
        lines.push(text(
            &format!(
                "! certificate {}… is shared by {}",
                shared.id.chars().take(12).collect::<String>(),
                shared.things.join(", ")
            ),
            Slot::StatusWarning,
        ));
    }
    if !plan.also_isolated.is_empty() {
        lines.push(text(
            &format!(
                "! also isolated, not marked (a shared certificate): {}",
                plan.also_isolated.join(", ")
            ),
            Slot::StatusWarning,
        ));
    }
    for warning in &plan.warnings {
        lines.push(text(&format!("! {warning}"), Slot::StatusWarning));
    }
    let calls = plan
        .calls
        .iter()
        .map(|(action, n)| format!("{n} {}", action.trim_start_matches("iot:")))
        .collect::<Vec<_>>()
        .join(", ");
    lines.push(text(
        &format!("Calls: {} ({calls})", plan.total_calls()),
        Slot::Text,
    ));
}

fn batch_result_lines(
    lines: &mut Vec<Line<'_>>,
    report: &BatchReport,
    closes: &str,
    theme: &Theme,
) {
    let text =
        |t: &str, slot: Slot| Line::from(Span::styled(escape(t).into_owned(), theme.style(slot)));
    let failures = report.failures();
    // Those not done first: they are what needs doing.
    let mut results: Vec<_> = report.results.iter().collect();
    results.sort_by_key(|r| r.ok());
    for result in results.iter().take(RESULTS_SHOWN) {
        let slot = if result.ok() {
            Slot::Text
        } else {
            Slot::StatusError
        };
        lines.push(text(
            &format!(
                "{:<20} {:<12} {}",
                result.thing, result.outcome, result.detail
            ),
            slot,
        ));
    }
    if results.len() > RESULTS_SHOWN {
        lines.push(text(
            &format!("… and {} more", results.len() - RESULTS_SHOWN),
            Slot::Dim,
        ));
    }
    let done = report.results.len() - failures;
    let undo = match report.verb {
        Verb::Quarantine => format!(" Undo: iotfleet release --batch {}.", report.id),
        Verb::Release => String::new(),
    };
    lines.push(text(
        &format!(
            "{done} of {} done in {:.1} s, batch {}.{undo} {closes}",
            report.results.len(),
            report.seconds,
            report.id
        ),
        if failures == 0 {
            Slot::Text
        } else {
            Slot::StatusError
        },
    ));
}
