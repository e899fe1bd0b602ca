//! Carries a quarantine or release plan out. The journal gets the plan (with the state before)
//! before the first call, one entry per completed step after it, and one closing entry with the
//! state before and after; nothing is called unless the plan entry was written. Every step is
//! idempotent, so running the verb again after an interruption converges: a rerun plans only
//! what remains, and a release undoes what every quarantine since the last release recorded.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use super::facts::{self, Depth, Snapshot};
use super::plan::{self, DENY_ALL_DOCUMENT, Options, Plan, PlanError, Step, Subject};
use super::verify::{self, Verification};
use crate::fleet::journal::Journal;
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
    /// The observer stopped the run (tests inject interruptions this way).
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl QuarantineError {
    /// The process exit code (DESIGN.md section 6): a refused plan is a conflict (4).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Fleet(error) => error.exit_code(),
            Self::Plan(_) => 4,
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
    depth: Depth,
}

impl Prepared {
    /// Whether there is nothing to do (already isolated, or nothing to release).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.plan.steps.is_empty()
    }
}

/// Gathers the facts of `thing` and plans its quarantine.
pub async fn prepare_quarantine(
    client: &FleetClient,
    thing: &str,
    options: Options,
    reason: Option<String>,
) -> Result<Prepared, QuarantineError> {
    let depth = match options.strategy {
        plan::Strategy::DenyOverlay => Depth::Defaults,
        plan::Strategy::PolicyVersion => Depth::Versions,
    };
    let subject = facts::gather(client, thing, depth).await?;
    let plan = plan::plan(&subject, options)?;
    Ok(Prepared {
        verb: Verb::Quarantine,
        subject,
        plan,
        reason,
        depth,
    })
}

/// Plans the release of `thing` from what the journal recorded (or, without a record, from
/// what can be seen).
pub async fn prepare_release(
    client: &FleetClient,
    journal: &Journal,
    thing: &str,
) -> Result<Prepared, QuarantineError> {
    let recorded = recorded_quarantine(journal, thing)
        .map_err(|error| QuarantineError::Journal("read", error))?;
    let versions = recorded
        .iter()
        .flatten()
        .any(|step| matches!(step, Step::CreateDenyAllVersion { .. }));
    let depth = if versions {
        Depth::VersionDocuments
    } else {
        Depth::Defaults
    };
    let subject = facts::gather(client, thing, depth).await?;
    let plan = plan::release_plan(&subject, recorded.as_deref());
    Ok(Prepared {
        verb: Verb::Release,
        subject,
        plan,
        reason: None,
        depth,
    })
}

/// The steps every quarantine of `thing` planned since its last completed release, in order;
/// None when there is no such quarantine in this backend's journal.
pub fn recorded_quarantine(journal: &Journal, thing: &str) -> std::io::Result<Option<Vec<Step>>> {
    let mut recorded: Option<Vec<Step>> = None;
    for entry in journal.entries_for(thing)? {
        match entry["action"].as_str() {
            Some("quarantine plan") => {
                let steps: Vec<Step> =
                    serde_json::from_value(entry["after"]["steps"].clone()).unwrap_or_default();
                recorded.get_or_insert_with(Vec::new).extend(steps);
            }
            Some("release") if entry["result"] == "ok" => recorded = None,
            _ => {}
        }
    }
    Ok(recorded)
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
}

impl Report {
    /// What to do next, after a failure.
    #[must_use]
    pub fn advice(&self) -> Option<String> {
        let thing = &self.thing;
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
    journal: &Journal,
    prepared: Prepared,
    observe: &mut (dyn FnMut(Progress<'_>) -> Result<(), String> + Send),
) -> Result<Report, QuarantineError> {
    let Prepared {
        verb,
        subject,
        plan,
        reason,
        depth,
    } = prepared;
    let action = verb.action();
    let thing = plan.thing.clone();
    let before = Snapshot::of(&subject);
    let before_json = serde_json::to_value(&before).unwrap_or(Value::Null);
    let planned = json!({
        "strategy": plan.strategy,
        "steps": plan.steps,
        "warnings": plan.warnings,
        "also_isolated": plan.also_isolated,
        "reason": reason,
    });
    journal
        .write(
            &format!("{action} plan"),
            &thing,
            before_json.clone(),
            planned,
            "planned",
        )
        .map_err(|error| QuarantineError::Journal("written, so nothing was changed", error))?;

    let total = plan.steps.len();
    let (done, failed) = run_steps(client, journal, action, &plan, observe).await?;

    let after = facts::gather(client, &thing, depth)
        .await
        .ok()
        .map(|subject| Snapshot::of(&subject));
    let (verification, verification_error) = if verb == Verb::Quarantine && failed.is_none() {
        match verify::verify(client, &thing).await {
            Ok(verification) => (Some(verification), None),
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
    journal
        .write(
            action,
            &thing,
            before_json,
            serde_json::to_value(&after).unwrap_or(Value::Null),
            &result,
        )
        .map_err(|error| QuarantineError::Journal("written after the run", error))?;
    if verification.is_some() || verification_error.is_some() {
        let result = match (&verification, &verification_error) {
            (Some(v), _) if v.verified => "verified".to_owned(),
            (Some(_), _) => "NOT ISOLATED".to_owned(),
            (None, error) => format!("error: {}", error.as_deref().unwrap_or_default()),
        };
        journal
            .write(
                &format!("{action} verify"),
                &thing,
                Value::Null,
                serde_json::to_value(&verification).unwrap_or(Value::Null),
                &result,
            )
            .map_err(|error| QuarantineError::Journal("written after the run", error))?;
    }
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
    })
}

/// Calls each step in turn and journals it; stops at the first failure, which is returned with
/// the steps done before it.
async fn run_steps(
    client: &FleetClient,
    journal: &Journal,
    action: &str,
    plan: &Plan,
    observe: &mut (dyn FnMut(Progress<'_>) -> Result<(), String> + Send),
) -> Result<(Vec<StepDone>, Option<Failure>), QuarantineError> {
    let total = plan.steps.len();
    let mut done = Vec::with_capacity(total);
    let mut failed = None;
    for (index, step) in plan.steps.iter().enumerate() {
        observe(Progress::Starting { index, total, step }).map_err(QuarantineError::Interrupted)?;
        match call(client, step).await {
            Ok(detail) => {
                observe(Progress::Called {
                    index,
                    step,
                    detail: &detail,
                })
                .map_err(QuarantineError::Interrupted)?;
                journal
                    .write(
                        &format!("{action} step"),
                        &plan.thing,
                        serde_json::to_value(step).unwrap_or(Value::Null),
                        json!({ "detail": detail }),
                        "ok",
                    )
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
                // Best effort: the closing entry below says the same.
                let step_json = serde_json::to_value(step).unwrap_or(Value::Null);
                let result = format!("error: {text}");
                let _ = journal.write(
                    &format!("{action} step"),
                    &plan.thing,
                    step_json,
                    Value::Null,
                    &result,
                );
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
