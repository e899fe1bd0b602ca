//! Carries a quarantine or release plan out through the one mutation path
//! (`fleet::mutation`): refused under read-only; the journal gets the plan (with the state
//! before) before the first call, one entry per completed step after it, and one closing entry
//! with the state before and after; nothing is called unless the plan entry was written. Every step is
//! idempotent, so running the verb again after an interruption converges: a rerun plans only
//! what remains, and a release undoes what every quarantine since the last release recorded.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use std::collections::{BTreeMap, BTreeSet};

use super::facts::{self, Depth, Snapshot};
use super::holds::{self, Hold, Record, Scope};
use super::plan::{self, DENY_ALL_DOCUMENT, Options, Plan, PlanError, Step, Subject};
use super::verify::{self, Verification};
use crate::fleet::journal::Journal;
use crate::fleet::mutation::{Change, Intent, Mutations};
use crate::fleet::{FleetClient, FleetError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Quarantine,
    Release,
}

impl Verb {
    /// The journal's action name of the closing entry; the plan and steps add " plan" and
    /// " step".
    #[must_use]
    pub fn action(self) -> &'static str {
        match self {
            Self::Quarantine => "quarantine",
            Self::Release => "release",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.action())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error(transparent)]
    Fleet(#[from] FleetError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the journal could not be {0}: {1}")]
    Journal(&'static str, std::io::Error),
    #[error(transparent)]
    Mutation(#[from] crate::fleet::mutation::MutationError),
    /// The observer stopped the run (tests inject interruptions this way).
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl QuarantineError {
    /// The process exit code (ARCHITECTURE.md, "Exit codes"): a refused plan is a conflict (4).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Fleet(error) => error.exit_code(),
            Self::Plan(_) => 4,
            Self::Mutation(error) => error.exit_code(),
            Self::Journal(..) | Self::Interrupted(_) => 1,
        }
    }
}

/// A plan ready to confirm, with the facts it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub verb: Verb,
    pub subject: Subject,
    pub plan: Plan,
    pub reason: Option<String>,
    /// The incident a quarantine is part of, as the operator names it.
    pub incident: Option<String>,
    /// The batch this Thing's run belongs to (`batch.rs`), recorded in its plan entry; its id
    /// is the hold's.
    pub batch: Option<String>,
    /// A quarantine's hold (`holds.rs`), when it is not a batch's.
    pub hold: Option<String>,
    /// A release's holds closed, by Thing (the Thing's own and those released together).
    pub closes: BTreeMap<String, Vec<String>>,
    depth: Depth,
}

impl Prepared {
    /// A quarantine of `thing` planned with one disconnect step and no facts, for the
    /// console's tests.
    #[cfg(test)]
    #[must_use]
    pub fn for_tests(thing: &str) -> Self {
        Self {
            verb: Verb::Quarantine,
            subject: Subject {
                thing: thing.to_owned(),
                certificates: Vec::new(),
                deny_all: plan::DenyAllPolicy::default(),
                client_ids: Vec::new(),
                sessions: Vec::new(),
                sessions_unknown: None,
            },
            plan: Plan {
                thing: thing.to_owned(),
                strategy: None,
                steps: vec![Step::DeleteConnection {
                    client_id: thing.to_owned(),
                }],
                warnings: Vec::new(),
                also_isolated: Vec::new(),
                together: Vec::new(),
                unrestorable: Vec::new(),
                impact: Vec::new(),
                held_by: Vec::new(),
            },
            reason: None,
            incident: None,
            batch: None,
            hold: Some("hold-test".to_owned()),
            closes: BTreeMap::new(),
            depth: Depth::Defaults,
        }
    }

    /// A release of `subject` by `plan`, closing the holds of `closes`.
    fn release(
        subject: Subject,
        plan: Plan,
        closes: BTreeMap<String, Vec<String>>,
        depth: Depth,
    ) -> Self {
        Self {
            verb: Verb::Release,
            subject,
            plan,
            reason: None,
            incident: None,
            batch: None,
            hold: None,
            closes,
            depth,
        }
    }

    /// Whether there is nothing to do: no call to make and, for a release, no hold to close. A
    /// quarantine is never empty: it records its hold even on a Thing isolated already.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.verb == Verb::Release
            && self.plan.steps.is_empty()
            && self.closes.values().all(Vec::is_empty)
    }
}

/// Gathers the facts of `thing` and plans its quarantine, a new hold on it; the plan names
/// the holds it has already (from `journal`).
pub async fn prepare_quarantine(
    client: &FleetClient,
    journal: &Journal,
    thing: &str,
    options: Options,
    reason: Option<String>,
) -> Result<Prepared, QuarantineError> {
    let depth = match options.strategy {
        plan::Strategy::DenyOverlay => Depth::Defaults,
        plan::Strategy::PolicyVersion => Depth::Versions,
    };
    let mut subject = facts::gather(client, thing, depth).await?;
    facts::sessions(client, &mut subject).await;
    let mut plan = plan::plan(&subject, options)?;
    let held = holds::records(&journal.entries_for(thing).map_err(read_error)?)
        .remove(thing)
        .map(|record| record.holds)
        .unwrap_or_default();
    if !held.is_empty() {
        plan.warnings.push(format!(
            "{thing} is held already by {}: this quarantine adds a hold of its own, and it stays isolated until every hold is released",
            describe(&held)
        ));
        plan.held_by = held;
    }
    Ok(Prepared {
        verb: Verb::Quarantine,
        subject,
        plan,
        reason,
        incident: None,
        batch: None,
        hold: Some(holds::new_id()),
        closes: BTreeMap::new(),
        depth,
    })
}

fn read_error(error: std::io::Error) -> QuarantineError {
    QuarantineError::Journal("read", error)
}

/// Holds in words, joined.
fn describe(held: &[Hold]) -> String {
    held.iter()
        .map(Hold::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Names, in the plan, what stops downstream when the Thing is isolated: the topic rules that
/// read its topics (`fleet/rules.rs`), or that none does. Rules that cannot be read are said
/// so in the plan; that is never a reason not to isolate.
pub async fn name_impact(client: &FleetClient, prepared: &mut Prepared) {
    let topics = crate::fleet::rules::device_topics(&prepared.plan.thing);
    prepared.plan.impact = match client.rules_reading(&topics).await {
        Ok(rules) if rules.is_empty() => vec!["no topic rule reads its topics".to_owned()],
        Ok(rules) => rules
            .iter()
            .map(|rule| format!("its data stops reaching topic rule {}", rule.sentence()))
            .collect(),
        Err(error) => vec![format!("topic rules unknown: {error}")],
    };
}

/// Plans the release of `thing`'s own holds (`Scope::Own`); see [`prepare_release_of`].
pub async fn prepare_release(
    client: &FleetClient,
    journal: &Journal,
    thing: &str,
    with_shared: bool,
) -> Result<Prepared, QuarantineError> {
    prepare_release_of(client, journal, thing, &Scope::Own, with_shared).await
}

/// Plans a release that closes the holds `scope` names on `thing` (`holds.rs`). While the Thing
/// keeps another hold nothing is called: the release closes its holds and its plan names those
/// that keep the Thing isolated. Once none is left, the plan undoes what every quarantine since
/// its last full release recorded (or, without a record, what can be seen). A release that
/// would free another Thing whose open hold needs a certificate they share is refused, naming
/// it, unless `with_shared`: then that Thing's holds of the same scope close too (and so on for
/// the Things it shares with), and the release is refused still when one of them keeps a hold
/// of another scope.
pub async fn prepare_release_of(
    client: &FleetClient,
    journal: &Journal,
    thing: &str,
    scope: &Scope,
    with_shared: bool,
) -> Result<Prepared, QuarantineError> {
    let records = holds::records(&journal.entries(None).map_err(read_error)?);
    let mut things = vec![thing.to_owned()];
    let mut subjects: Vec<Subject> = Vec::new();
    let mut recorded: Option<Vec<Step>> = None;
    let mut closes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut deepest = Depth::Defaults;
    loop {
        for (index, name) in things.iter().enumerate().skip(subjects.len()) {
            let name = name.clone();
            let here = if index == 0 {
                scope.clone()
            } else {
                scope.together()
            };
            let record = records.get(&name);
            let closing = match record {
                Some(record) => record.closing(&name, &here)?,
                None => Vec::new(),
            };
            let kept: Vec<Hold> = record
                .map(|r| r.holds.iter().filter(|h| !closing.contains(&h.id)).cloned())
                .into_iter()
                .flatten()
                .collect();
            if index > 0 && !kept.is_empty() {
                return Err(PlanError::HeldElsewhere {
                    thing: thing.to_owned(),
                    other: name,
                    holds: kept.iter().map(Hold::describe).collect(),
                }
                .into());
            }
            if !kept.is_empty() {
                return kept_isolated(client, name, closing, kept).await;
            }
            let depth = depth_for(record);
            if depth == Depth::VersionDocuments {
                deepest = depth;
            }
            subjects.push(facts::gather(client, &name, depth).await?);
            if let Some(record) = record {
                recorded
                    .get_or_insert_with(Vec::new)
                    .extend(record.steps.iter().cloned());
            }
            closes.insert(name, closing);
        }
        let mut gathered = subjects.iter().cloned();
        let Some(first) = gathered.next() else {
            return Err(QuarantineError::Fleet(FleetError::InvalidResponse {
                action: "iot:DescribeThing",
                detail: format!("no facts gathered for {thing}"),
            }));
        };
        let subject = facts::merge(first, gathered);
        let mut plan = plan::release_plan(&subject, recorded.as_deref());
        plan.together = things[1..].to_vec();
        let open = held_beside(&records, &subject, &things);
        let freed = plan::freed_by_release(&subject, &plan, &open);
        if freed.is_empty() {
            let mut marked = open.clone();
            marked.extend(plan.together.iter().cloned());
            let sharing = plan::sharing(&subject, &things, &marked);
            if !plan.together.is_empty() {
                plan.warnings.insert(
                    0,
                    format!(
                        "released together with {}: their own open quarantines hold a certificate {thing} shares",
                        plan.together.join(", ")
                    ),
                );
            }
            plan.warnings.extend(sharing);
            return Ok(Prepared::release(subject, plan, closes, deepest));
        }
        if !with_shared {
            return Err(QuarantineError::Plan(PlanError::SharedRelease {
                thing: thing.to_owned(),
                holders: freed,
            }));
        }
        for (other, _) in freed {
            if !things.contains(&other) {
                things.push(other);
            }
        }
    }
}

/// How deep to gather a Thing's facts for its release: a policy-version quarantine's
/// versions are read to find its deny-all ones.
fn depth_for(record: Option<&Record>) -> Depth {
    let versions = record.is_some_and(|r| {
        r.steps
            .iter()
            .any(|step| matches!(step, Step::CreateDenyAllVersion { .. }))
    });
    if versions {
        Depth::VersionDocuments
    } else {
        Depth::Defaults
    }
}

/// The release of a Thing that keeps other holds: its `closed` holds close, nothing is called,
/// and the plan names the holds that keep it isolated.
async fn kept_isolated(
    client: &FleetClient,
    thing: String,
    closed: Vec<String>,
    kept: Vec<Hold>,
) -> Result<Prepared, QuarantineError> {
    let subject = facts::gather(client, &thing, Depth::Defaults).await?;
    let mut plan = plan::release_plan(&subject, Some(&[]));
    plan.warnings.push(format!(
        "{thing} stays isolated: still held by {} (released with `{}`)",
        describe(&kept),
        kept.iter()
            .map(Hold::release_command)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join("`, `")
    ));
    plan.held_by = kept;
    let closing = BTreeMap::from([(thing, closed)]);
    Ok(Prepared::release(subject, plan, closing, Depth::Defaults))
}

/// The Things reached by `subject`'s certificates, other than `released`, that have an open
/// hold in the journal.
fn held_beside(
    records: &BTreeMap<String, Record>,
    subject: &Subject,
    released: &[String],
) -> BTreeSet<String> {
    subject
        .certificates
        .iter()
        .flat_map(|c| c.things.iter())
        .filter(|other| !released.contains(other) && records.contains_key(*other))
        .cloned()
        .collect()
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepDone {
    pub step: Step,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// 1-based, as shown.
    pub step: usize,
    pub call: &'static str,
    pub error: String,
}

/// The outcome of a run, for the CLI's output and the console's result popup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub verb: Verb,
    pub thing: String,
    /// Printed beside the report already.
    #[serde(skip)]
    pub plan: Plan,
    pub done: Vec<StepDone>,
    pub failed: Option<Failure>,
    pub before: Snapshot,
    /// The state read again after the run (None when that read failed).
    pub after: Option<Snapshot>,
    /// After a completed quarantine: whether the Thing is isolated, per certificate, from what
    /// the service says now.
    pub verification: Option<Verification>,
    /// Why the verification could not be made.
    pub verification_error: Option<String>,
    /// After a release: the released Things that the policies in force still isolate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub still_isolated: Vec<String>,
}

impl Report {
    /// What to do next, after a failure.
    #[must_use]
    pub fn advice(&self) -> Option<String> {
        let thing = &self.thing;
        if self.failed.is_none() && self.verb == Verb::Release {
            return self.release_incomplete();
        }
        let Some(failure) = self.failed.as_ref() else {
            if let Some(error) = &self.verification_error {
                return Some(format!(
                    "every step ran, but the isolation could not be verified: {error}. Check with `iotfleet thing {thing}`"
                ));
            }
            return match &self.verification {
                Some(verification) if !verification.verified => Some(format!(
                    "every step ran, but {thing} is NOT isolated: {}. Run `iotfleet quarantine {thing}` again, and see `iotfleet audit`",
                    verification
                        .lines()
                        .into_iter()
                        .filter(|line| line.contains("NOT ISOLATED"))
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
                _ => None,
            };
        };
        Some(match self.verb {
            Verb::Quarantine => format!(
                "step {} ({}) failed: {}. Steps done are recorded; run `iotfleet quarantine {thing}` again to complete it, or `iotfleet release {thing}` to undo them",
                failure.step, failure.call, failure.error
            ),
            Verb::Release => format!(
                "step {} ({}) failed: {}. Run `iotfleet release {thing}` again to complete the release",
                failure.step, failure.call, failure.error
            ),
        })
    }
}

impl Report {
    /// After a release that left other holds open: their ids, joined.
    #[must_use]
    pub fn still_held_by(&self) -> Option<String> {
        (self.verb == Verb::Release && !self.plan.held_by.is_empty()).then(|| {
            self.plan
                .held_by
                .iter()
                .map(|h| h.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// After a completed release: what it could not restore, and who is still isolated though
    /// no hold keeps them.
    fn release_incomplete(&self) -> Option<String> {
        let mut problems = self.plan.unrestorable.clone();
        let held = !self.plan.held_by.is_empty();
        if !held && !self.still_isolated.is_empty() {
            problems.push(format!(
                "the policies in force still isolate {} (see `iotfleet thing NAME`)",
                self.still_isolated.join(", ")
            ));
        }
        (!problems.is_empty())
            .then(|| format!("the release is incomplete: {}", problems.join("; ")))
    }
}

/// A run's progress, for a progress line; returning an error from the observer stops the run
/// there, as a crash would (nothing more is called or journaled).
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// About to call step `index` (0-based) of `total`.
    Starting {
        index: usize,
        total: usize,
        step: &'a Step,
    },
    /// Step `index` was called and succeeded; its journal entry is next.
    Called {
        index: usize,
        step: &'a Step,
        detail: &'a str,
    },
}

/// Carries out `prepared`, journaling as the module says.
pub async fn execute(
    client: &FleetClient,
    mutations: &Mutations,
    prepared: Prepared,
    observe: &mut (dyn FnMut(Progress<'_>) -> Result<(), String> + Send),
) -> Result<Report, QuarantineError> {
    let Prepared {
        verb,
        subject,
        plan,
        reason,
        incident,
        batch,
        hold,
        closes,
        depth,
    } = prepared;
    let action = verb.action();
    let thing = plan.thing.clone();
    let before = Snapshot::of(&subject);
    let planned = match verb {
        Verb::Quarantine => json!({
            "strategy": plan.strategy,
            "steps": plan.steps,
            "warnings": plan.warnings,
            "also_isolated": plan.also_isolated,
            "reason": reason,
            "incident": incident,
            "batch": batch,
            // A batch's Things are held under the batch's id.
            "hold": batch.clone().or(hold),
        }),
        Verb::Release => release_entry(&plan, &closes),
    };
    let intent = mutations.begin(Change {
        what: format!("{action} would change {thing}"),
        action,
        target: &thing,
        before: serde_json::to_value(&before).unwrap_or(Value::Null),
        intended: planned,
    })?;
    plan_together(mutations.journal(), action, &plan, &closes)
        .map_err(|error| QuarantineError::Journal("written, so nothing was changed", error))?;

    let total = plan.steps.len();
    let (done, failed) = run_steps(client, &intent, &plan, observe).await?;

    let (after, still_isolated) = read_after(
        client,
        &plan,
        depth,
        verb == Verb::Release && failed.is_none(),
    )
    .await;
    let (verification, verification_error) = if verb == Verb::Quarantine && failed.is_none() {
        match verify::verify(client, &thing).await {
            Ok(mut verification) => {
                verification.sessions = Some(sessions_note(&subject, &done));
                (Some(verification), None)
            }
            Err(error) => (None, Some(error.to_string())),
        }
    } else {
        (None, None)
    };
    let result = match &failed {
        None => "ok".to_owned(),
        Some(failure) => format!(
            "failed at step {} of {total} ({}): {}",
            failure.step, failure.call, failure.error
        ),
    };
    let verified = match (&verification, &verification_error) {
        (Some(v), _) if v.verified => Some("verified".to_owned()),
        (Some(_), _) => Some("NOT ISOLATED".to_owned()),
        (None, Some(error)) => Some(format!("error: {error}")),
        (None, None) => None,
    };
    let journal_after = |error| QuarantineError::Journal("written after the run", error);
    if let Some(result) = verified {
        intent
            .note(
                "verify",
                serde_json::to_value(&verification).unwrap_or(Value::Null),
                &result,
            )
            .map_err(journal_after)?;
    }
    intent
        .finish(serde_json::to_value(&after).unwrap_or(Value::Null), &result)
        .map_err(journal_after)?;
    journal_together(mutations.journal(), action, &plan, &result).map_err(journal_after)?;
    Ok(Report {
        verb,
        thing,
        plan,
        done,
        failed,
        before,
        after,
        verification,
        verification_error,
        still_isolated,
    })
}

/// What a release's plan entry records: its steps, the holds it closes (`holds.rs` reads them)
/// and those that keep the Thing isolated.
fn release_entry(plan: &Plan, closes: &BTreeMap<String, Vec<String>>) -> Value {
    json!({
        "steps": plan.steps,
        "warnings": plan.warnings,
        "together": plan.together,
        "closes": closes.get(&plan.thing).cloned().unwrap_or_default(),
        "held_by": plan.held_by.iter().map(|h| &h.id).collect::<Vec<_>>(),
    })
}

/// Things released together get their own plan entries (and closing ones, `journal_together`),
/// so each record closes, with the holds each closes.
fn plan_together(
    journal: &Journal,
    action: &str,
    plan: &Plan,
    closes: &BTreeMap<String, Vec<String>>,
) -> std::io::Result<()> {
    for other in &plan.together {
        journal.write(
            &format!("{action} plan"),
            other,
            Value::Null,
            json!({
                "together_with": plan.thing,
                "closes": closes.get(other).cloned().unwrap_or_default(),
            }),
            "planned",
        )?;
    }
    Ok(())
}

/// What the quarantine could check of every session of the Thing's certificates: the service
/// lists no sessions by certificate, so the sessions AWS IoT's log showed were each closed
/// (DeleteConnection, without their Last Will), and any other is left to the deny-all, which
/// refuses every action it takes.
#[must_use]
pub fn sessions_note(subject: &Subject, done: &[StepDone]) -> String {
    let closed = done
        .iter()
        .filter(|d| {
            matches!(&d.step, Step::DeleteConnection { client_id } if subject.sessions.contains(client_id))
                && d.detail == "disconnected"
        })
        .count();
    let seen = subject.sessions.len();
    match &subject.sessions_unknown {
        Some(reason) if seen == 0 => format!(
            "sessions: AWS lists none by certificate and the log is unreadable ({reason}); the deny-all refuses any session"
        ),
        Some(reason) => format!(
            "sessions: {closed} of {seen} more seen in AWSIotLogsV2 closed (the log is incomplete: {reason}); the deny-all refuses any other"
        ),
        None if seen == 0 => {
            "sessions: no other seen in AWSIotLogsV2; the deny-all refuses any".to_owned()
        }
        None => format!(
            "sessions: {closed} of {seen} more seen in AWSIotLogsV2 closed, wills dropped; AWS lists none by certificate: the deny-all refuses any other"
        ),
    }
}

/// One entry per Thing released together with the plan's own.
fn journal_together(
    journal: &Journal,
    action: &str,
    plan: &Plan,
    result: &str,
) -> std::io::Result<()> {
    for other in &plan.together {
        journal.write(
            action,
            other,
            Value::Null,
            json!({ "together_with": plan.thing }),
            result,
        )?;
    }
    Ok(())
}

/// The state after a run, of the Thing and those released with it (None when a read failed);
/// after a completed release, also those the policies in force still isolate.
async fn read_after(
    client: &FleetClient,
    plan: &Plan,
    depth: Depth,
    released: bool,
) -> (Option<Snapshot>, Vec<String>) {
    let mut subjects = Vec::new();
    for name in std::iter::once(&plan.thing).chain(&plan.together) {
        match facts::gather(client, name, depth).await {
            Ok(subject) => subjects.push(subject),
            Err(_) => return (None, Vec::new()),
        }
    }
    let still_isolated = if released {
        subjects
            .iter()
            .filter(|s| plan::is_quarantined(s))
            .map(|s| s.thing.clone())
            .collect()
    } else {
        Vec::new()
    };
    let mut subjects = subjects.into_iter();
    let after = subjects
        .next()
        .map(|first| Snapshot::of(&facts::merge(first, subjects)));
    (after, still_isolated)
}

/// Calls each step in turn and journals it; stops at the first failure, which is returned with
/// the steps done before it.
async fn run_steps(
    client: &FleetClient,
    intent: &Intent<'_>,
    plan: &Plan,
    observe: &mut (dyn FnMut(Progress<'_>) -> Result<(), String> + Send),
) -> Result<(Vec<StepDone>, Option<Failure>), QuarantineError> {
    let total = plan.steps.len();
    let mut done = Vec::with_capacity(total);
    let mut failed = None;
    for (index, step) in plan.steps.iter().enumerate() {
        observe(Progress::Starting { index, total, step }).map_err(QuarantineError::Interrupted)?;
        let step_json = serde_json::to_value(step).unwrap_or(Value::Null);
        match call(client, step).await {
            Ok(detail) => {
                observe(Progress::Called {
                    index,
                    step,
                    detail: &detail,
                })
                .map_err(QuarantineError::Interrupted)?;
                intent
                    .step(step_json, json!({ "detail": detail }), "ok")
                    .map_err(|error| {
                        QuarantineError::Journal(
                            "written after a completed step; run the verb again, it converges",
                            error,
                        )
                    })?;
                done.push(StepDone {
                    step: step.clone(),
                    detail,
                });
            }
            Err(error) => {
                let text = error.to_string();
                // Best effort: the closing entry says the same.
                let _ = intent.step(step_json, Value::Null, &format!("error: {text}"));
                failed = Some(Failure {
                    step: index + 1,
                    call: step.action(),
                    error: text,
                });
                break;
            }
        }
    }
    Ok((done, failed))
}

/// Makes one call; what is already in place counts as done. Returns what happened, in words.
async fn call(client: &FleetClient, step: &Step) -> Result<String, FleetError> {
    Ok(match step {
        Step::CreatePolicy { policy } => {
            match client.create_policy(policy, DENY_ALL_DOCUMENT).await {
                Ok(()) => "created".to_owned(),
                Err(FleetError::Conflict { .. }) => "existed already".to_owned(),
                Err(error) => return Err(error),
            }
        }
        Step::AttachPolicy { policy, target } => {
            client.attach_policy(policy, target).await?;
            "attached".to_owned()
        }
        Step::DetachPolicy { policy, target } => match client.detach_policy(policy, target).await {
            Ok(()) => "detached".to_owned(),
            Err(FleetError::NotFound { .. }) => "was not attached".to_owned(),
            Err(error) => return Err(error),
        },
        Step::RestoreDenyAll { policy, .. } => {
            let version = client
                .create_default_policy_version(policy, DENY_ALL_DOCUMENT)
                .await?;
            format!("version {version}, deny-all, is the default again")
        }
        Step::CreateDenyAllVersion { policy, .. } => {
            let version = client
                .create_default_policy_version(policy, DENY_ALL_DOCUMENT)
                .await?;
            format!("version {version} is the default")
        }
        Step::SetDefaultVersion { policy, version } => {
            client.set_default_policy_version(policy, version).await?;
            format!("version {version} is the default")
        }
        Step::DeletePolicyVersion { policy, version } => {
            match client.delete_policy_version(policy, version).await {
                Ok(()) => "deleted".to_owned(),
                Err(FleetError::NotFound { .. }) => "was gone already".to_owned(),
                Err(error) => return Err(error),
            }
        }
        Step::SetCertificateStatus { id, to, .. } => {
            client.set_certificate_status(id, to).await?;
            to.clone()
        }
        Step::DeleteConnection { client_id } => {
            if client.delete_connection(client_id).await? {
                "disconnected".to_owned()
            } else {
                "was not connected".to_owned()
            }
        }
    })
}
