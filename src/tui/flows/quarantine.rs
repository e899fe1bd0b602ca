//! The quarantine and release keys: a task gathers the facts and plans; a popup shows the plan
//! and asks for `y` (or, when a shared certificate isolates other Things too, the Thing's name);
//! the run reports each step as it completes; the result says what to do on failure. Both are
//! refused with `--read-only`.

use crate::fleet::model::certificate_id_from_arn;
use crate::fleet::quarantine::Options;
use crate::fleet::quarantine::run::{Prepared, Report, Verb};
use crate::tui::action::Action;
use crate::tui::data::connectivity;
use crate::tui::flows::quarantine_state::{Flow, Stage};
use crate::tui::msg::{Effect, QuarantineEvent, Request};
use crate::tui::state::{Level, Load, State};
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
    state.quarantine = Some(Flow {
        verb,
        thing: thing.clone(),
        options,
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
    let Some(flow) = state
        .quarantine
        .as_mut()
        .filter(|f| f.thing == thing && f.stage == Stage::Planning)
    else {
        return;
    };
    flow.stage = match result {
        Ok(prepared) if prepared.is_empty() => {
            let mut reason = format!("nothing to {}: ", flow.verb);
            reason.push_str(match flow.verb {
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
            prepared,
            typed: String::new(),
        },
        Err(error) => Stage::Refused(error),
    };
}

/// An action while the popup is up; None when there is no popup.
pub fn act(state: &mut State, action: Action) -> Option<Vec<Effect>> {
    let flow = state.quarantine.as_mut()?;
    let needs_name = flow.needs_name();
    Some(match (&mut flow.stage, action) {
        (Stage::Confirm { typed, .. }, Action::Confirm) if needs_name => {
            if *typed == flow.thing {
                confirmed(state)
            } else {
                let text = format!(
                    "type the Thing's name exactly to confirm, or {} to cancel",
                    state.answer_keys.esc()
                );
                state.say(Level::Warning, text);
                Vec::new()
            }
        }
        // Tab plans again with (or without) deactivating the certificates.
        (Stage::Confirm { .. }, Action::Complete) if flow.verb == Verb::Quarantine => {
            flow.options.deactivate_certs = !flow.options.deactivate_certs;
            flow.stage = Stage::Planning;
            vec![Effect::Request(Request::PlanQuarantine {
                verb: flow.verb,
                thing: flow.thing.clone(),
                options: flow.options,
            })]
        }
        // Without a name to type, the yes of the [confirm] layer runs it (Enter does not).
        (Stage::Confirm { .. }, Action::Yes) if !needs_name => confirmed(state),
        // Enter takes the reason as typed (empty: none).
        (Stage::Reason { .. }, Action::Confirm) => run(state),
        (Stage::Reason { .. }, Action::Cancel | Action::Back) => {
            state.quarantine = None;
            state.say(Level::Info, "quarantine cancelled: nothing was changed");
            Vec::new()
        }
        (Stage::Confirm { .. } | Stage::Planning, Action::Cancel | Action::Back | Action::No) => {
            let verb = flow.verb;
            state.quarantine = None;
            state.say(
                Level::Info,
                format!("{verb} cancelled: nothing was changed"),
            );
            Vec::new()
        }
        (
            Stage::Finished(_) | Stage::Refused(_) | Stage::Failed(_),
            Action::Confirm | Action::Cancel | Action::Back,
        ) => {
            state.quarantine = None;
            Vec::new()
        }
        (Stage::Running { .. }, Action::Cancel | Action::Back) => {
            state.say(
                Level::Warning,
                "the run goes on to its end; it is journaled step by step",
            );
            Vec::new()
        }
        _ => Vec::new(),
    })
}

/// The longest reason kept: a sentence or two, not a report.
pub const MAX_REASON: usize = 500;

/// A character of the Thing's name, or of the reason, typed while the popup asks for it
/// (None: backspace).
pub fn typed(state: &mut State, c: Option<char>) -> Vec<Effect> {
    let text = match state.quarantine.as_mut() {
        Some(Flow {
            stage: Stage::Confirm { typed, .. },
            ..
        }) => typed,
        Some(Flow {
            stage: Stage::Reason { reason, .. },
            ..
        }) if reason.chars().count() < MAX_REASON || c.is_none() => reason,
        _ => return Vec::new(),
    };
    match c {
        Some(c) => text.push(c),
        None => {
            text.pop();
        }
    }
    Vec::new()
}

/// The plan is confirmed: a quarantine asks why next; a release runs.
fn confirmed(state: &mut State) -> Vec<Effect> {
    let Some(flow) = state.quarantine.as_mut() else {
        return Vec::new();
    };
    let Stage::Confirm { prepared, .. } = &flow.stage else {
        return Vec::new();
    };
    if flow.verb == Verb::Quarantine {
        flow.stage = Stage::Reason {
            prepared: prepared.clone(),
            reason: String::new(),
        };
        return Vec::new();
    }
    run(state)
}

fn run(state: &mut State) -> Vec<Effect> {
    let Some(flow) = state.quarantine.as_mut() else {
        return Vec::new();
    };
    let prepared = match &flow.stage {
        Stage::Confirm { prepared, .. } => prepared.clone(),
        Stage::Reason { prepared, reason } => {
            let mut prepared = prepared.clone();
            let reason = reason.trim();
            prepared.reason = (!reason.is_empty()).then(|| reason.to_owned());
            prepared
        }
        _ => return Vec::new(),
    };
    flow.stage = Stage::Running {
        plan: prepared.plan.clone(),
        current: 0,
        done: Vec::new(),
    };
    vec![Effect::Request(Request::RunQuarantine(prepared))]
}

/// Step `index` started (`detail` None) or completed (with what it did).
fn progress(state: &mut State, thing: &str, index: usize, detail: Option<String>) {
    if let Some(Flow {
        stage: Stage::Running { current, done, .. },
        ..
    }) = state.quarantine.as_mut().filter(|f| f.thing == thing)
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
    let verb = match state.quarantine.as_ref().filter(|f| f.thing == thing) {
        Some(flow) => flow.verb,
        None => return Vec::new(),
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
    if let Some(flow) = state.quarantine.as_mut() {
        flow.stage = match result {
            Ok(report) => Stage::Finished(report),
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
        connectivity::forget(state, thing);
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
    effects.extend(connectivity::load(state, things.iter().map(String::as_str)));
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
