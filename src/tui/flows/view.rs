//! A flow's popup and footer. Of one Thing: the plan with its warnings, then each step's progress,
//! then the result and what to do next; of the marked Things, `batch_view.rs`. A publish and a
//! shadow edit are confirmed on the status line and the shadow screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::config::theme::{Slot, Theme};
use crate::fleet::quarantine::Plan;
use crate::fleet::quarantine::run::{Prepared, Report, Verb};
use crate::tui::flows::batch_view::draw_batch;
use crate::tui::flows::flow::{Change, Flow, Outcome, Plan as Planned, Progress, Stage};
use crate::tui::frame::popup::{popup, reason_line};
use crate::tui::msg::AnswerKeys;
use crate::untrusted::escape;

/// The popup of a quarantine or release: of one Thing, or of the marked Things.
pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    flow: &Flow,
    now: time::OffsetDateTime,
    spinner: &str,
    keys: &AnswerKeys,
    theme: &Theme,
) {
    match &flow.change {
        Change::Thing { verb, thing, .. } => {
            draw_thing(frame, area, flow, (*verb, thing), spinner, keys, theme);
        }
        Change::Batch { verb, things } => {
            draw_batch(
                frame,
                area,
                flow,
                (*verb, things.len()),
                now,
                spinner,
                keys,
                theme,
            );
        }
        Change::Publish { .. } | Change::Shadow { .. } => {}
    }
}

fn draw_thing(
    frame: &mut Frame<'_>,
    area: Rect,
    flow: &Flow,
    (verb, thing): (Verb, &str),
    spinner: &str,
    keys: &AnswerKeys,
    theme: &Theme,
) {
    let closes = format!("{} or {} closes", keys.enter(), keys.esc());
    let title = match verb {
        Verb::Quarantine => format!(" Quarantine {} ", escape(thing)),
        Verb::Release => format!(" Release {} ", escape(thing)),
    };
    let text = |t: &str, slot: Slot| Span::styled(escape(t).into_owned(), theme.style(slot));
    let mut lines: Vec<Line<'_>> = Vec::new();
    match &flow.stage {
        Stage::Planning => lines.push(Line::from(text(
            &format!("{spinner} reading its certificates and policies…"),
            Slot::Dim,
        ))),
        Stage::Confirm {
            plan: Planned::Thing(prepared),
            typed,
        } => {
            confirm_lines(
                &mut lines,
                flow,
                (verb, thing),
                prepared,
                typed,
                keys,
                theme,
            );
        }
        Stage::Reason {
            plan: Planned::Thing(prepared),
            reason,
        } => {
            plan_lines(&mut lines, &prepared.plan, None, theme);
            lines.push(Line::default());
            lines.push(reason_line(reason, keys, theme));
        }
        Stage::Running(Progress::Steps {
            plan,
            current,
            done,
        }) => plan_lines(&mut lines, plan, Some((*current, done, spinner)), theme),
        Stage::Finished(Outcome::Thing(report)) => {
            result_lines(&mut lines, verb, report, &closes, theme);
        }
        Stage::Refused(reason) => {
            lines.push(Line::from(text(reason, Slot::StatusWarning)));
            lines.push(Line::from(text(
                &format!("Nothing was changed. {closes}"),
                Slot::Dim,
            )));
        }
        Stage::Failed(reason) => {
            lines.push(Line::from(text(reason, Slot::StatusError)));
            lines.push(Line::from(text(
                &format!("The journal has the steps done; run it again to complete it. {closes}"),
                Slot::Dim,
            )));
        }
        _ => {}
    }
    popup(frame, area, title, lines, theme);
}

/// The certificates (status, policies, Things), the plan, and how to confirm.
fn confirm_lines(
    lines: &mut Vec<Line<'_>>,
    flow: &Flow,
    (verb, thing): (Verb, &str),
    prepared: &Prepared,
    typed: &str,
    keys: &AnswerKeys,
    theme: &Theme,
) {
    let text = |t: &str, slot: Slot| Span::styled(escape(t).into_owned(), theme.style(slot));
    for certificate in &prepared.subject.certificates {
        let policies: Vec<&str> = certificate
            .policies
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        lines.push(Line::from(vec![
            text("certificate ", Slot::Dim),
            text(
                &certificate.id.chars().take(12).collect::<String>(),
                Slot::Text,
            ),
            text(&format!("… {}", certificate.status), Slot::Dim),
            text("  policies ", Slot::Dim),
            text(
                &if policies.is_empty() {
                    "none".to_owned()
                } else {
                    policies.join(", ")
                },
                Slot::Text,
            ),
            text("  things ", Slot::Dim),
            text(&certificate.things.join(", "), Slot::Text),
        ]));
    }
    plan_lines(lines, &prepared.plan, None, theme);
    lines.push(Line::default());
    if flow.takes_text() {
        lines.push(Line::from(vec![
            text("Type ", Slot::StatusWarning),
            text(thing, Slot::Title),
            text(
                &format!(" and {} to confirm: ", keys.enter()),
                Slot::StatusWarning,
            ),
            text(typed, Slot::Text),
            text("▏", Slot::Dim),
        ]));
    } else {
        lines.push(Line::from(vec![
            text(&keys.yes, Slot::FooterKey),
            text(&format!(" {verb} · "), Slot::Text),
            text(&format!("{}/{}", keys.no, keys.esc()), Slot::FooterKey),
            text(" cancel", Slot::Text),
        ]));
    }
}

/// Each step with what it did, then the outcome or what to do about a failure.
fn result_lines(
    lines: &mut Vec<Line<'_>>,
    verb: Verb,
    report: &Report,
    closes: &str,
    theme: &Theme,
) {
    let text = |t: &str, slot: Slot| Span::styled(escape(t).into_owned(), theme.style(slot));
    let done: Vec<String> = report.done.iter().map(|d| d.detail.clone()).collect();
    let current = report.failed.as_ref().map_or(done.len(), |f| f.step - 1);
    plan_lines(lines, &report.plan, Some((current, &done, "✗")), theme);
    if let Some(verification) = &report.verification {
        lines.push(Line::from(text(
            "verified from the policies in force:",
            Slot::Dim,
        )));
        for (line, check) in verification.lines().iter().zip(&verification.certificates) {
            let slot = if check.isolated() {
                Slot::CertActive
            } else {
                Slot::StatusError
            };
            lines.push(Line::from(text(&format!("  {line}"), slot)));
        }
        if let Some(sessions) = &verification.sessions {
            lines.push(Line::from(text(&format!("  {sessions}"), Slot::Dim)));
        }
    }
    lines.push(Line::default());
    match report.advice() {
        Some(advice) => lines.push(Line::from(text(&advice, Slot::StatusError))),
        None => lines.push(Line::from(match verb {
            Verb::Quarantine => vec![
                text(" QUARANTINED · VERIFIED ", Slot::ThingQuarantined),
                text("  every step done and journaled; R releases it", Slot::Text),
            ],
            Verb::Release if !report.plan.held_by.is_empty() => vec![
                text(" QUARANTINED ", Slot::ThingQuarantined),
                text(
                    "  this hold is closed and journaled; the holds above keep it isolated",
                    Slot::Text,
                ),
            ],
            Verb::Release => vec![text(
                "Released: every step done and journaled.",
                Slot::CertActive,
            )],
        })),
    }
    lines.push(Line::from(text(closes, Slot::Dim)));
}

/// The keys a flow's popup takes, for the footer, as the keymap binds them.
#[must_use]
pub fn footer<'a>(flow: &Flow, keys: &AnswerKeys, theme: &Theme) -> Paragraph<'a> {
    let no = format!("{} {}", keys.no, keys.cancel);
    let closes = format!("{} {}", keys.confirm, keys.cancel);
    let toggle = (
        keys.complete.as_str(),
        "deactivate certificates too, or not",
    );
    let typed = match flow.change {
        Change::Batch { .. } => "the number of Things",
        _ => "the Thing's name",
    };
    let hints: Vec<(&str, &str)> = match &flow.stage {
        Stage::Confirm { .. } if flow.takes_text() => {
            let mut hints = vec![(typed, "type"), (&keys.confirm, "confirm")];
            if flow.toggles() {
                hints.push(toggle);
            }
            hints.push((&keys.cancel, "cancel"));
            hints
        }
        Stage::Confirm { .. } if flow.toggles() => {
            vec![(&keys.yes, "confirm"), toggle, (&no, "cancel")]
        }
        Stage::Confirm { .. } => vec![(&keys.yes, "confirm"), (&no, "cancel")],
        Stage::Reason { .. } => vec![
            ("type", "the reason"),
            (&keys.confirm, "quarantine"),
            (&keys.cancel, "cancel"),
        ],
        Stage::Planning => vec![(&keys.cancel, "cancel")],
        Stage::Running(Progress::Batch { .. }) => {
            vec![("", "working: each Thing is journaled as it is done")]
        }
        Stage::Running(_) => vec![("", "working: each step is journaled as it completes")],
        Stage::Finished(_) | Stage::Refused(_) | Stage::Failed(_) => vec![(&closes, "close")],
    };
    let mut spans = Vec::new();
    for (keys, desc) in hints {
        spans.push(Span::styled(keys.to_owned(), theme.style(Slot::FooterKey)));
        spans.push(Span::styled(
            format!(" {desc}  "),
            theme.style(Slot::FooterDesc),
        ));
    }
    Paragraph::new(Line::from(spans))
}

/// Warnings, then one line per call: pending, running (spinner), done (what it did), failed.
fn plan_lines(
    lines: &mut Vec<Line<'_>>,
    plan: &Plan,
    progress: Option<(usize, &Vec<String>, &str)>,
    theme: &Theme,
) {
    let text = |t: &str, slot: Slot| Span::styled(escape(t).into_owned(), theme.style(slot));
    if let Some(strategy) = plan.strategy {
        lines.push(Line::from(vec![
            text("strategy ", Slot::Dim),
            text(&strategy.to_string(), Slot::Text),
        ]));
    }
    for warning in &plan.warnings {
        lines.push(Line::from(text(
            &format!("! {warning}"),
            Slot::StatusWarning,
        )));
    }
    for problem in &plan.unrestorable {
        lines.push(Line::from(text(
            &format!("! cannot restore: {problem}"),
            Slot::StatusError,
        )));
    }
    // What stops downstream weighs on the decision; once steps run, their progress has the room.
    if progress.is_none() {
        for impact in &plan.impact {
            lines.push(Line::from(text(&format!("~ {impact}"), Slot::Dim)));
        }
    }
    for (index, step) in plan.steps.iter().enumerate() {
        let (mark, slot, after) = match progress {
            None => ("·".to_owned(), Slot::Text, String::new()),
            Some((_, done, _)) if index < done.len() => (
                "✓".to_owned(),
                Slot::CertActive,
                format!(" — {}", done[index]),
            ),
            Some((current, _, mark)) if index == current => {
                (mark.to_owned(), Slot::StatusWarning, String::new())
            }
            Some(_) => (" ".to_owned(), Slot::Dim, String::new()),
        };
        lines.push(Line::from(vec![
            text(&format!("{mark} {}. ", index + 1), slot),
            text(&step.to_string(), Slot::Text),
            text(&format!("  {}", step.action()), Slot::Dim),
            text(&after, Slot::CertActive),
        ]));
    }
}
