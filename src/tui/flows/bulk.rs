//! `Q` and the release key on the Things list with Things marked: one batch for all of them
//! (`fleet::quarantine::batch`). A task plans it; the flow's popup shows the plan (Things,
//! certificates counted once, shared certificates, Things isolated beyond the marks, calls by
//! action) and asks for the number of Things typed, then why; the run's progress shows its rate
//! and the time left; the result lists every Thing's outcome. Refused with `--read-only`.

use std::fmt::Write as _;

use crate::fleet::quarantine::Options;
use crate::fleet::quarantine::batch::{BatchPlan, BatchReport, ThingResult};
use crate::fleet::quarantine::run::Verb;
use crate::tui::data::ListKind;
use crate::tui::flows::flow::{Change, Flow, Outcome, Plan, Progress, Stage};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, QuarantineEvent, Request};
use crate::tui::state::{Screen, State};

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
    state.flow = Some(Flow {
        change: Change::Batch {
            verb,
            things: things.clone(),
        },
        stage: Stage::Planning,
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
    let Some(Flow {
        change: Change::Batch { verb, .. },
        stage,
    }) = state.flow.as_mut().filter(|f| f.stage == Stage::Planning)
    else {
        return;
    };
    *stage = match result {
        Ok(plan) if plan.prepared.is_empty() => {
            let mut reason = format!(
                "nothing to {verb}: {} of {} Things have nothing to do",
                plan.unchanged.len(),
                plan.things.len(),
            );
            for unplanned in &plan.unplanned {
                let _ = write!(reason, "; {}: {}", unplanned.thing, unplanned.error);
            }
            Stage::Refused(reason)
        }
        Ok(plan) => Stage::Confirm {
            plan: Plan::Batch(plan),
            typed: String::new(),
        },
        Err(error) => Stage::Refused(error),
    };
}

/// Runs the confirmed batch, every Thing's hold with the reason given.
pub fn run(state: &mut State) -> Vec<Effect> {
    let options = options(state);
    let now = state.now;
    let Some(flow) = state.flow.as_mut() else {
        return Vec::new();
    };
    let plan = match &flow.stage {
        Stage::Confirm {
            plan: Plan::Batch(plan),
            ..
        } => plan.clone(),
        Stage::Reason {
            plan: Plan::Batch(plan),
            reason,
        } => {
            let mut plan = plan.clone();
            let reason = reason.trim();
            for prepared in &mut plan.prepared {
                prepared.reason = (!reason.is_empty()).then(|| reason.to_owned());
            }
            plan
        }
        _ => return Vec::new(),
    };
    flow.stage = Stage::Running(Progress::Batch {
        id: plan.id.clone(),
        total: plan.things.len(),
        done: 0,
        failed: 0,
        started: now,
        last: None,
    });
    vec![Effect::Request(Request::RunBulk { plan, options })]
}

fn progress(state: &mut State, done_now: usize, total_now: usize, result: &ThingResult) {
    if let Some(Flow {
        stage:
            Stage::Running(Progress::Batch {
                done,
                total,
                failed,
                last,
                ..
            }),
        ..
    }) = state.flow.as_mut()
    {
        *done = done_now;
        *total = total_now;
        *failed += usize::from(!result.ok());
        *last = Some(result.clone());
    }
}

/// The batch ended: the result stays on screen; what it changed is read again.
fn finished(state: &mut State, result: Result<Box<BatchReport>, String>) -> Vec<Effect> {
    let Some(Flow {
        change: Change::Batch { verb, things },
        stage,
    }) = state.flow.as_mut()
    else {
        return Vec::new();
    };
    let (verb, things) = (*verb, things.clone());
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
            *stage = Stage::Finished(Outcome::Batch(report));
            state.say(level, text);
        }
        Err(error) => {
            *stage = Stage::Failed(error.clone());
            state.say(
                Level::Error,
                format!("{verb} of the marked Things failed: {error}"),
            );
        }
    }
    crate::tui::flows::quarantine::reread(state, &things)
}
