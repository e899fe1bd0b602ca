//! The quarantine and release popup: the plan with its warnings, then each step's progress,
//! then the result and what to do next.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::config::theme::{Slot, Theme};
use crate::fleet::quarantine::Plan;
use crate::fleet::quarantine::run::{Prepared, Report, Verb};
use crate::tui::flows::quarantine_state::{Flow, Stage};
use crate::tui::state::AnswerKeys;
use crate::untrusted::escape;

pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    flow: &Flow,
    spinner: &str,
    keys: &AnswerKeys,
    theme: &Theme,
) {
    let closes = format!("{} or {} closes", keys.enter(), keys.esc());
    let title = match flow.verb {
        Verb::Quarantine => format!(" Quarantine {} ", escape(&flow.thing)),
        Verb::Release => format!(" Release {} ", escape(&flow.thing)),
    };
    let text = |t: &str, slot: Slot| Span::styled(escape(t).into_owned(), theme.style(slot));
    let mut lines: Vec<Line<'_>> = Vec::new();
    match &flow.stage {
        Stage::Planning => lines.push(Line::from(text(
            &format!("{spinner} reading its certificates and policies…"),
            Slot::Dim,
        ))),
        Stage::Confirm { prepared, typed } => {
            confirm_lines(&mut lines, flow, prepared, typed, keys, theme);
        }
        Stage::Reason { prepared, reason } => {
            plan_lines(&mut lines, &prepared.plan, None, theme);
            lines.push(Line::default());
            lines.push(reason_line(reason, keys, theme));
        }
        Stage::Running {
            plan,
            current,
            done,
        } => plan_lines(&mut lines, plan, Some((*current, done, spinner)), theme),
        Stage::Finished(report) => result_lines(&mut lines, flow.verb, report, &closes, theme),
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
    }
    popup(frame, area, title, lines, theme);
}

/// The reason's prompt, with what has been typed: it goes to the journal with the hold.
pub(super) fn reason_line<'a>(reason: &str, keys: &AnswerKeys, theme: &Theme) -> Line<'a> {
    let text = |t: &str, slot: Slot| Span::styled(escape(t).into_owned(), theme.style(slot));
    Line::from(vec![
        text("Why? ", Slot::StatusWarning),
        text(
            &format!(
                "(kept with the hold; {} alone leaves it empty) ",
                keys.enter()
            ),
            Slot::Dim,
        ),
        text(reason, Slot::Text),
        text("▏", Slot::Dim),
    ])
}

/// A popup in the middle of `area`, as tall as its wrapped lines (and no taller than `area`).
pub(super) fn popup(
    frame: &mut Frame<'_>,
    area: Rect,
    title: String,
    lines: Vec<Line<'_>>,
    theme: &Theme,
) {
    let width = area.width.saturating_sub(4).min(96);
    let inner = width.saturating_sub(2).max(1);
    // Wrapped height, roughly: each line's width over the inner width.
    let needed: u16 = lines
        .iter()
        .map(|l| u16::try_from(l.width().div_ceil(usize::from(inner)).max(1)).unwrap_or(1))
        .sum();
    let height = (needed + 2).min(area.height.saturating_sub(2));
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Slot::StatusWarning))
        .title(Span::styled(title, theme.style(Slot::Title)));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .style(theme.style(Slot::Text))
            .wrap(Wrap { trim: false }),
        popup,
    );
}

/// The certificates (status, policies, Things), the plan, and how to confirm.
fn confirm_lines(
    lines: &mut Vec<Line<'_>>,
    flow: &Flow,
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
    if flow.needs_name() {
        lines.push(Line::from(vec![
            text("Type ", Slot::StatusWarning),
            text(&flow.thing, Slot::Title),
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
            text(&format!(" {} · ", flow.verb), Slot::Text),
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

/// The keys the popup takes, for the footer, as the keymap binds them.
#[must_use]
pub fn footer<'a>(flow: &Flow, keys: &AnswerKeys, theme: &Theme) -> Paragraph<'a> {
    let no = format!("{} {}", keys.no, keys.cancel);
    let closes = format!("{} {}", keys.confirm, keys.cancel);
    let toggle = (
        keys.complete.as_str(),
        "deactivate certificates too, or not",
    );
    let hints: Vec<(&str, &str)> = match &flow.stage {
        Stage::Confirm { .. } if flow.needs_name() => vec![
            ("the Thing's name", "type"),
            (&keys.confirm, "confirm"),
            toggle,
            (&keys.cancel, "cancel"),
        ],
        Stage::Confirm { .. } if flow.verb == Verb::Quarantine => {
            vec![(&keys.yes, "confirm"), toggle, (&no, "cancel")]
        }
        Stage::Confirm { .. } => vec![(&keys.yes, "confirm"), (&no, "cancel")],
        Stage::Reason { .. } => vec![
            ("type", "the reason"),
            (&keys.confirm, "quarantine"),
            (&keys.cancel, "cancel"),
        ],
        Stage::Planning => vec![(&keys.cancel, "cancel")],
        Stage::Running { .. } => vec![("", "working: each step is journaled as it completes")],
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
