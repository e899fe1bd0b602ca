//! `Q` and the release key on the Things list with Things marked: one batch for all of them
//! (`fleet::quarantine::batch`). A task plans it; the popup shows the plan (Things, certificates
//! counted once, shared certificates, Things isolated beyond the marks, calls by action) and asks
//! for the number of Things typed; the run's progress shows its rate and the time left; the
//! result lists every Thing's outcome. Refused with `--read-only`.

use std::fmt::Write as _;

use crate::fleet::quarantine::Options;
use crate::fleet::quarantine::batch::{BatchPlan, BatchReport, ThingResult};
use crate::fleet::quarantine::run::Verb;
use crate::tui::action::Action;
use crate::tui::flows::bulk_state::{BulkFlow, BulkStage};
use crate::tui::flows::quarantine::MAX_REASON;
use crate::tui::msg::{Effect, QuarantineEvent, Request};
use crate::tui::state::{Level, ListKind, Screen, State};

/// Whether `Q` means the marked Things: there are marks and the Things list is on screen.
#[must_use]
pub fn wanted(state: &State) -> bool {
    !state.marked.is_empty() && matches!(state.screen(), Screen::List(ListKind::Things, _))
}

fn options(state: &State) -> Options {
    Options {
        strategy: state.quarantine_strategy,
        deactivate_certs: false,
    }
}

/// Plans the batch of the marked Things.
pub fn begin(state: &mut State, verb: Verb) -> Vec<Effect> {
    let things: Vec<String> = state.marked.iter().cloned().collect();
    if state.read_only {
        state.say(
            Level::Error,
            format!(
                "refused by --read-only: {verb} would change {} Things",
                things.len()
            ),
        );
        return Vec::new();
    }
    state.bulk = Some(BulkFlow {
        verb,
        things: things.clone(),
        stage: BulkStage::Planning,
    });
    vec![Effect::Request(Request::PlanBulk {
        verb,
        things,
        options: options(state),
    })]
}

/// Folds in what the batch's tasks reported.
pub fn arrived(state: &mut State, event: QuarantineEvent) -> Vec<Effect> {
    match event {
        QuarantineEvent::BulkPlanned(result) => planned(state, result),
        QuarantineEvent::BulkProgress { done, total, last } => {
            progress(state, done, total, &last);
        }
        QuarantineEvent::BulkDone(result) => return finished(state, result),
        _ => {}
    }
    Vec::new()
}

fn planned(state: &mut State, result: Result<Box<BatchPlan>, String>) {
    let Some(flow) = state
        .bulk
        .as_mut()
        .filter(|f| f.stage == BulkStage::Planning)
    else {
        return;
    };
    flow.stage = match result {
        Ok(plan) if plan.prepared.is_empty() => {
            let mut reason = format!(
                "nothing to {}: {} of {} Things have nothing to do",
                flow.verb,
                plan.unchanged.len(),
                plan.things.len(),
            );
            for unplanned in &plan.unplanned {
                let _ = write!(reason, "; {}: {}", unplanned.thing, unplanned.error);
            }
            BulkStage::Refused(reason)
        }
        Ok(plan) => BulkStage::Confirm {
            plan,
            typed: String::new(),
        },
        Err(error) => BulkStage::Refused(error),
    };
}

/// An action while the popup is up; None when there is none.
pub fn act(state: &mut State, action: Action) -> Option<Vec<Effect>> {
    let flow = state.bulk.as_mut()?;
    let count = flow.count();
    Some(match (&flow.stage, action) {
        (BulkStage::Confirm { typed, .. }, Action::Confirm) => {
            if count.is_some_and(|n| *typed == n.to_string()) {
                confirmed(state)
            } else {
                let text = format!(
                    "type {} to confirm, or {} to cancel",
                    count.unwrap_or_default(),
                    state.answer_keys.esc()
                );
                state.say(Level::Warning, text);
                Vec::new()
            }
        }
        // Enter takes the reason as typed (empty: none).
        (BulkStage::Reason { .. }, Action::Confirm) => run(state),
        (
            BulkStage::Confirm { .. } | BulkStage::Reason { .. } | BulkStage::Planning,
            Action::Cancel | Action::Back,
        ) => {
            let verb = flow.verb;
            state.bulk = None;
            state.say(
                Level::Info,
                format!("{verb} cancelled: nothing was changed"),
            );
            Vec::new()
        }
        (
            BulkStage::Finished(_) | BulkStage::Refused(_) | BulkStage::Failed(_),
            Action::Confirm | Action::Cancel | Action::Back,
        ) => {
            state.bulk = None;
            Vec::new()
        }
        (BulkStage::Running { .. }, Action::Cancel | Action::Back) => {
            state.say(
                Level::Warning,
                "the batch goes on to its end; each Thing is journaled as it goes",
            );
            Vec::new()
        }
        _ => Vec::new(),
    })
}

/// A digit of the count, or a character of the reason, typed (None: backspace).
pub fn typed(state: &mut State, c: Option<char>) -> Vec<Effect> {
    match state.bulk.as_mut().map(|flow| &mut flow.stage) {
        Some(BulkStage::Confirm { typed, .. }) => match c {
            Some(c) if c.is_ascii_digit() && typed.len() < 9 => typed.push(c),
            Some(_) => {}
            None => {
                typed.pop();
            }
        },
        Some(BulkStage::Reason { reason, .. }) => match c {
            Some(c) if reason.chars().count() < MAX_REASON => reason.push(c),
            Some(_) => {}
            None => {
                reason.pop();
            }
        },
        _ => {}
    }
    Vec::new()
}

/// The count is confirmed: a quarantine asks why next; a release runs.
fn confirmed(state: &mut State) -> Vec<Effect> {
    let Some(flow) = state.bulk.as_mut() else {
        return Vec::new();
    };
    let BulkStage::Confirm { plan, .. } = &flow.stage else {
        return Vec::new();
    };
    if flow.verb == Verb::Quarantine {
        flow.stage = BulkStage::Reason {
            plan: plan.clone(),
            reason: String::new(),
        };
        return Vec::new();
    }
    run(state)
}

fn run(state: &mut State) -> Vec<Effect> {
    let options = options(state);
    let now = state.now;
    let Some(flow) = state.bulk.as_mut() else {
        return Vec::new();
    };
    let plan = match &flow.stage {
        BulkStage::Confirm { plan, .. } => plan.clone(),
        BulkStage::Reason { plan, reason } => {
            let mut plan = plan.clone();
            let reason = reason.trim();
            for prepared in &mut plan.prepared {
                prepared.reason = (!reason.is_empty()).then(|| reason.to_owned());
            }
            plan
        }
        _ => return Vec::new(),
    };
    flow.stage = BulkStage::Running {
        id: plan.id.clone(),
        total: plan.things.len(),
        done: 0,
        failed: 0,
        started: now,
        last: None,
    };
    vec![Effect::Request(Request::RunBulk { plan, options })]
}

fn progress(state: &mut State, done_now: usize, total_now: usize, result: &ThingResult) {
    if let Some(BulkFlow {
        stage:
            BulkStage::Running {
                done,
                total,
                failed,
                last,
                ..
            },
        ..
    }) = state.bulk.as_mut()
    {
        *done = done_now;
        *total = total_now;
        *failed += usize::from(!result.ok());
        *last = Some(result.clone());
    }
}

/// The batch ended: the result stays on screen; what it changed is read again.
fn finished(state: &mut State, result: Result<Box<BatchReport>, String>) -> Vec<Effect> {
    let Some(flow) = state.bulk.as_mut() else {
        return Vec::new();
    };
    let verb = flow.verb;
    let things = flow.things.clone();
    match result {
        Ok(report) => {
            let failures = report.failures();
            let (level, text) = if failures == 0 {
                (
                    Level::Info,
                    format!(
                        "{} Things done ({verb}), batch {}",
                        report.results.len(),
                        report.id
                    ),
                )
            } else {
                (
                    Level::Error,
                    format!(
                        "{failures} of {} Things not done in batch {}: Q again resumes it",
                        report.results.len(),
                        report.id
                    ),
                )
            };
            flow.stage = BulkStage::Finished(report);
            state.say(level, text);
        }
        Err(error) => {
            flow.stage = BulkStage::Failed(error.clone());
            state.say(
                Level::Error,
                format!("{verb} of the marked Things failed: {error}"),
            );
        }
    }
    crate::tui::flows::quarantine::reread(state, &things)
}
