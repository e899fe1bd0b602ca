//! The quarantine and release of one Thing: a task gathers the facts and plans; the flow's popup
//! shows the plan and asks for `y` (or, when a shared certificate isolates other Things too, the
//! Thing's name), then why; the run reports each step as it completes; the result says what to
//! do on failure. Both are refused with `--read-only`. Also who is quarantined, asked at start,
//! after a run and every `RECHECK`.

use crate::fleet::model::certificate_id_from_arn;
use crate::fleet::quarantine::Options;
use crate::fleet::quarantine::run::{Prepared, Report, Verb};
use crate::tui::data::Load;
use crate::tui::data::connectivity;
use crate::tui::flows::flow::{Change, Flow, Outcome, Plan, Progress, Stage};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, QuarantineEvent, Request};
use crate::tui::state::State;
use crate::tui::things::list::visible_loads;

/// How often the quarantined Things are asked again, for quarantines and releases made by
/// another operator or process.
pub const RECHECK: time::Duration = time::Duration::minutes(1);

/// Asks which Things are quarantined (at start, after a run, on `r`).
pub fn ask_quarantined(state: &mut State) -> Effect {
    state.fleet.quarantined_asked = Some((state.now, false));
    Effect::Request(Request::LoadQuarantined)
}

/// Asks again once the last answer is `RECHECK` old (never while asking).
pub fn tick(state: &mut State) -> Option<Effect> {
    let due = matches!(state.fleet.quarantined_asked,
        Some((at, true)) if state.now - at >= RECHECK);
    due.then(|| ask_quarantined(state))
}

/// Folds in what a task reported.
pub fn arrived(state: &mut State, event: QuarantineEvent) -> Vec<Effect> {
    if matches!(event, QuarantineEvent::Quarantined(_)) {
        state.fleet.quarantined_asked = Some((state.now, true));
    }
    match event {
        QuarantineEvent::Quarantined(Ok(statuses)) => {
            state.fleet.quarantined = statuses.isolated.into_iter().collect();
            state.fleet.not_isolated = statuses.broken.into_iter().collect();
            state.fleet.holds = statuses.holds.into_iter().collect();
        }
        // The list still works; the Thing's own screen tells the truth.
        QuarantineEvent::Quarantined(Err(error)) => {
            tracing::warn!(%error, "cannot tell which Things are quarantined");
        }
        QuarantineEvent::Planned { thing, result } => planned(state, &thing, result),
        QuarantineEvent::Progress {
            thing,
            index,
            detail,
        } => progress(state, &thing, index, detail),
        QuarantineEvent::Done { thing, result } => return finished(state, &thing, result),
        // The batch's own events go to `bulk.rs` (see `update::arrived`).
        QuarantineEvent::BulkPlanned(_)
        | QuarantineEvent::BulkProgress { .. }
        | QuarantineEvent::BulkDone(_) => {}
    }
    Vec::new()
}

/// `Q` or the release key on a Thing.
pub fn begin(state: &mut State, verb: Verb) -> Vec<Effect> {
    let Some(thing) = state.selected_thing() else {
        state.say(
            Level::Warning,
            format!("select a Thing to {verb} (in the Things list or on its screen)"),
        );
        return Vec::new();
    };
    if state.read_only {
        state.say(
            Level::Error,
            format!("refused by --read-only: {verb} would change {thing}"),
        );
        return Vec::new();
    }
    let options = Options {
        strategy: state.quarantine_strategy,
        deactivate_certs: false,
    };
    state.flow = Some(Flow {
        change: Change::Thing {
            verb,
            thing: thing.clone(),
            options,
        },
        stage: Stage::Planning,
    });
    vec![Effect::Request(Request::PlanQuarantine {
        verb,
        thing,
        options,
    })]
}

/// The plan arrived (or could not be made).
fn planned(state: &mut State, thing: &str, result: Result<Box<Prepared>, String>) {
    let Some(Flow {
        change: Change::Thing { verb, .. },
        stage,
    }) = state.flow.as_mut().filter(|f| {
        matches!(&f.change, Change::Thing { thing: t, .. } if t == thing)
            && f.stage == Stage::Planning
    })
    else {
        return;
    };
    *stage = match result {
        Ok(prepared) if prepared.is_empty() => {
            let mut reason = format!("nothing to {verb}: ");
            reason.push_str(match verb {
                Verb::Quarantine => "it is isolated already",
                Verb::Release => "no quarantine of it is in effect",
            });
            for warning in &prepared.plan.warnings {
                reason.push_str("; ");
                reason.push_str(warning);
            }
            Stage::Refused(reason)
        }
        Ok(prepared) => Stage::Confirm {
            plan: Plan::Thing(prepared),
            typed: String::new(),
        },
        Err(error) => Stage::Refused(error),
    };
}

/// Tab on the plan: planned again with (or without) deactivating the certificates.
pub fn toggle(state: &mut State) -> Vec<Effect> {
    let Some(Flow {
        change: Change::Thing {
            verb,
            thing,
            options,
        },
        stage,
    }) = state.flow.as_mut()
    else {
        return Vec::new();
    };
    options.deactivate_certs = !options.deactivate_certs;
    *stage = Stage::Planning;
    vec![Effect::Request(Request::PlanQuarantine {
        verb: *verb,
        thing: thing.clone(),
        options: *options,
    })]
}

/// Runs the confirmed plan, with the reason given.
pub fn run(state: &mut State) -> Vec<Effect> {
    let Some(flow) = state.flow.as_mut() else {
        return Vec::new();
    };
    let prepared = match &flow.stage {
        Stage::Confirm {
            plan: Plan::Thing(prepared),
            ..
        } => prepared.clone(),
        Stage::Reason {
            plan: Plan::Thing(prepared),
            reason,
        } => {
            let mut prepared = prepared.clone();
            let reason = reason.trim();
            prepared.reason = (!reason.is_empty()).then(|| reason.to_owned());
            prepared
        }
        _ => return Vec::new(),
    };
    flow.stage = Stage::Running(Progress::Steps {
        plan: prepared.plan.clone(),
        current: 0,
        done: Vec::new(),
    });
    vec![Effect::Request(Request::RunQuarantine(prepared))]
}

/// Step `index` started (`detail` None) or completed (with what it did).
fn progress(state: &mut State, thing: &str, index: usize, detail: Option<String>) {
    if let Some(Flow {
        stage: Stage::Running(Progress::Steps { current, done, .. }),
        ..
    }) = state
        .flow
        .as_mut()
        .filter(|f| matches!(&f.change, Change::Thing { thing: t, .. } if t == thing))
    {
        *current = index;
        if let Some(detail) = detail {
            done.push(detail);
            *current = index + 1;
        }
    }
}

/// The run ended: the result stays on screen; the Thing's views are read again.
fn finished(state: &mut State, thing: &str, result: Result<Box<Report>, String>) -> Vec<Effect> {
    let verb = match state.flow.as_ref().map(|f| &f.change) {
        Some(Change::Thing { verb, thing: t, .. }) if t == thing => *verb,
        _ => return Vec::new(),
    };
    let (level, text) = match &result {
        Ok(report) => match report.advice() {
            Some(advice) => (Level::Error, advice),
            None => (
                Level::Info,
                match verb {
                    // No advice after a quarantine means its verification passed.
                    Verb::Quarantine => format!("{thing} is QUARANTINED and VERIFIED"),
                    Verb::Release if report.still_held_by().is_some() => format!(
                        "{thing}: its hold is closed; it stays QUARANTINED, held by {}",
                        report.still_held_by().unwrap_or_default()
                    ),
                    Verb::Release if report.plan.together.is_empty() => {
                        format!("{thing} is released")
                    }
                    Verb::Release => format!(
                        "{thing} and {} are released",
                        report.plan.together.join(", ")
                    ),
                },
            ),
        },
        Err(error) => (Level::Error, format!("{verb} of {thing} failed: {error}")),
    };
    state.say(level, text);
    if let Some(flow) = state.flow.as_mut() {
        flow.stage = match result {
            Ok(report) => Stage::Finished(Outcome::Thing(report)),
            Err(error) => Stage::Failed(error),
        };
    }
    let mut effects = reread(state, &[thing.to_owned()]);
    effects.push(Effect::Request(Request::LoadThingReport(thing.to_owned())));
    effects
}

/// After a quarantine or release of `things` (one, or a batch): what it changed is read again
/// rather than shown stale until `r`: who is quarantined, the Things' reports and connectivity
/// (the run disconnected or let back the devices), and their certificates' status (a
/// deactivating quarantine set them INACTIVE; the list's CERT column said ACTIVE), with the
/// certificates listing when it was loaded.
pub fn reread(state: &mut State, things: &[String]) -> Vec<Effect> {
    let mut effects = vec![ask_quarantined(state)];
    for thing in things {
        state.fleet.thing_reports.remove(thing);
        connectivity::forget(&mut state.fleet, thing);
        if let Some(Load::Ready(principals)) = state.fleet.principals.get(thing) {
            let ids: Vec<String> = principals
                .iter()
                .filter_map(|p| certificate_id_from_arn(p))
                .map(str::to_owned)
                .collect();
            for id in ids {
                state.fleet.certificate_details.remove(&id);
                state.fleet.certificate_reports.remove(&id);
            }
        }
    }
    let now = state.now;
    effects.extend(connectivity::load(
        &mut state.fleet,
        now,
        things.iter().map(String::as_str),
    ));
    if state.fleet.certificates.loaded_once && !state.fleet.certificates.loading {
        state.fleet.certificates.generation += 1;
        state.fleet.certificates.loading = true;
        effects.push(Effect::Request(Request::ListCertificates {
            generation: state.fleet.certificates.generation,
        }));
    }
    for effect in visible_loads(state) {
        if !effects.contains(&effect) {
            effects.push(effect);
        }
    }
    effects
}
