//! Bulk quarantine and release: one plan for a selection of Things, carried out Thing by Thing
//! through `run.rs` (each Thing journaled as a single quarantine is, its plan entry naming the
//! batch), under one batch entry of its own: `quarantine batch plan` before the first Thing,
//! `quarantine batch` after the last. Things that share a certificate or policy run one after
//! another, each planned again from fresh facts after the one before; the others run a few at
//! a time. Running the same selection again after an interruption resumes the open batch (the
//! same id): Things already isolated plan nothing. `release --batch ID` releases exactly the
//! Things that batch changed, each as its own record says.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};

use super::holds::Scope;
use super::plan::{DENY_ALL_POLICY, Options, PlanError, Step};
use super::run::{self, Prepared, QuarantineError, Verb};
use crate::fleet::journal::Journal;
use crate::fleet::model::certificate_id_from_arn;
use crate::fleet::mutation::{Change, Mutations};
use crate::fleet::{FleetClient, FleetError};

/// How many independent Things run at once (the limiter paces their calls).
pub const CONCURRENCY: usize = 16;

/// The journal's action of a batch (its plan entry adds " plan").
fn batch_action(verb: Verb) -> &'static str {
    match verb {
        Verb::Quarantine => "quarantine batch",
        Verb::Release => "release batch",
    }
}

/// A Thing of the selection that cannot be planned, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unplanned {
    pub thing: String,
    pub error: String,
}

/// A certificate more than one Thing uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedCertificate {
    pub id: String,
    pub things: Vec<String>,
}

/// The plan of a whole selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchPlan {
    pub id: String,
    pub verb: Verb,
    /// Whether this continues an open batch of the same selection.
    pub resumed: bool,
    /// For a release: the quarantine batch it undoes.
    pub releases: Option<String>,
    /// Which holds a release closes: the batch's, or each Thing's own.
    #[serde(skip)]
    pub scope: Option<Scope>,
    /// The selection, in order.
    pub things: Vec<String>,
    /// Those with something to do, with their plans.
    #[serde(skip)]
    pub prepared: Vec<Prepared>,
    /// Those with nothing to do: already isolated (quarantine) or not quarantined (release).
    pub unchanged: Vec<String>,
    pub unplanned: Vec<Unplanned>,
    /// Distinct certificates the plans touch.
    pub certificates: usize,
    pub shared_certificates: Vec<SharedCertificate>,
    /// Things outside the selection that a shared certificate isolates too.
    pub also_isolated: Vec<String>,
    /// Every plan's warnings, each once.
    pub warnings: Vec<String>,
    /// Distinct calls, by IAM action (a step two Things' plans share is one call).
    pub calls: BTreeMap<&'static str, usize>,
}

impl BatchPlan {
    #[must_use]
    pub fn total_calls(&self) -> usize {
        self.calls.values().sum()
    }
}

/// A new batch id: the time and four random bytes.
#[must_use]
pub fn new_id() -> String {
    super::holds::stamped_id("batch")
}

/// The batches of `verb` in this journal whose plan entry has no closing entry, by id, with
/// their selections.
fn open_batches(
    journal: &Journal,
    verb: Verb,
) -> std::io::Result<BTreeMap<String, BTreeSet<String>>> {
    let action = batch_action(verb);
    let plan_action = format!("{action} plan");
    let mut open = BTreeMap::new();
    for entry in journal.entries(None)? {
        let Some(target) = entry["target"].as_str() else {
            continue;
        };
        match entry["action"].as_str() {
            Some(a) if a == plan_action => {
                let things: Vec<String> =
                    serde_json::from_value(entry["after"]["things"].clone()).unwrap_or_default();
                // A resumed batch's plan entries add to its selection.
                open.entry(target.to_owned())
                    .or_insert_with(BTreeSet::new)
                    .extend(things);
            }
            Some(a) if a == action && entry["result"] == "ok" => {
                open.remove(target);
            }
            _ => {}
        }
    }
    Ok(open)
}

/// The Things whose quarantine plan entries name batch `id`, in the order they were planned.
pub fn batch_members(journal: &Journal, id: &str) -> std::io::Result<Vec<String>> {
    let mut members = Vec::new();
    for entry in journal.entries(None)? {
        if entry["action"] == "quarantine plan"
            && entry["after"]["batch"] == id
            && let Some(thing) = entry["target"].as_str()
            && !members.iter().any(|m| m == thing)
        {
            members.push(thing.to_owned());
        }
    }
    Ok(members)
}

/// Why a batch is run, recorded with each of its Things' holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Why {
    pub reason: Option<String>,
    pub incident: Option<String>,
}

/// Plans the quarantine of every Thing of `things` (asked a few at a time).
pub async fn plan_quarantine(
    client: &FleetClient,
    journal: &Journal,
    things: Vec<String>,
    options: Options,
    why: Why,
) -> Result<BatchPlan, QuarantineError> {
    let (id, resumed) = batch_id(journal, Verb::Quarantine, &things)?;
    // Every Thing's holds come from one read of the journal.
    let journal = journal
        .read_once()
        .map_err(|error| QuarantineError::Journal("read", error))?;
    // Owned futures, so the whole plan can run in a spawned task.
    let results: Vec<Result<Prepared, QuarantineError>> =
        futures_util::stream::iter(things.clone())
            .map(|thing| {
                let (client, journal, why) = (client.clone(), journal.clone(), why.clone());
                async move {
                    let mut prepared =
                        run::prepare_quarantine(&client, &journal, &thing, options, why.reason)
                            .await?;
                    prepared.incident = why.incident;
                    Ok(prepared)
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
    Ok(summarise(id, Verb::Quarantine, resumed, things, results))
}

/// Plans the release of the Things batch `id` changed. A Thing whose release would free another
/// Thing's open quarantine is released with it when that Thing is in the batch too; otherwise
/// it is refused, naming the other, unless `with_shared`.
pub async fn plan_release(
    client: &FleetClient,
    journal: &Journal,
    id: &str,
    with_shared: bool,
) -> Result<BatchPlan, QuarantineError> {
    let things =
        batch_members(journal, id).map_err(|error| QuarantineError::Journal("read", error))?;
    if things.is_empty() {
        return Err(QuarantineError::Fleet(FleetError::NotFound {
            kind: crate::fleet::ResourceKind::Batch,
            name: id.to_owned(),
        }));
    }
    let scope = Scope::Batch(id.to_owned());
    let mut plan = release_things(client, journal, things, &scope, with_shared).await?;
    plan.releases = Some(id.to_owned());
    Ok(plan)
}

/// Plans the release of `things` (marked in the console) as one batch, each Thing's own holds
/// as its record says; Things released together with an earlier one of them are planned once.
pub async fn plan_release_things(
    client: &FleetClient,
    journal: &Journal,
    things: Vec<String>,
    with_shared: bool,
) -> Result<BatchPlan, QuarantineError> {
    release_things(client, journal, things, &Scope::Own, with_shared).await
}

/// Plans the release of the holds `scope` names on each of `things`.
async fn release_things(
    client: &FleetClient,
    journal: &Journal,
    things: Vec<String>,
    scope: &Scope,
    with_shared: bool,
) -> Result<BatchPlan, QuarantineError> {
    // Every Thing's records come from one read of the journal.
    let journal = journal
        .read_once()
        .map_err(|error| QuarantineError::Journal("read", error))?;
    let mut results = Vec::with_capacity(things.len());
    for thing in &things {
        results.push(
            prepare_release_within(client, &journal, thing, scope, &things, with_shared).await,
        );
    }
    let (release_id, resumed) = batch_id(&journal, Verb::Release, &things)?;
    let mut plan = summarise(release_id, Verb::Release, resumed, things, results);
    plan.scope = Some(scope.clone());
    // A Thing released together with an earlier one has nothing left of its own to do.
    let mut together: BTreeSet<String> = BTreeSet::new();
    plan.prepared.retain(|p| {
        let keep = !together.contains(&p.plan.thing);
        together.extend(p.plan.together.iter().cloned());
        keep
    });
    Ok(plan)
}

/// Plans the release of `thing`'s holds of `scope`, together with the Things whose open
/// holds need a certificate it shares when they are all `members` of the batch (or
/// `with_shared`).
async fn prepare_release_within(
    client: &FleetClient,
    journal: &Journal,
    thing: &str,
    scope: &Scope,
    members: &[String],
    with_shared: bool,
) -> Result<Prepared, QuarantineError> {
    let prepared = run::prepare_release_of(client, journal, thing, scope, with_shared).await;
    if let Err(QuarantineError::Plan(PlanError::SharedRelease { holders, .. })) = &prepared
        && holders.iter().all(|(other, _)| members.contains(other))
    {
        return run::prepare_release_of(client, journal, thing, scope, true).await;
    }
    prepared
}

/// The id of an open batch whose selection holds every Thing of this one, to resume; else a new
/// one. A selection by query can shrink on the way (`connectivity.connected:true` no longer
/// matches the Things already disconnected), so a subset resumes too.
fn batch_id(
    journal: &Journal,
    verb: Verb,
    things: &[String],
) -> Result<(String, bool), QuarantineError> {
    let open =
        open_batches(journal, verb).map_err(|error| QuarantineError::Journal("read", error))?;
    Ok(open
        .into_iter()
        .rev()
        .find(|(_, selection)| things.iter().all(|t| selection.contains(t)))
        .map_or_else(|| (new_id(), false), |(id, _)| (id, true)))
}

fn summarise(
    id: String,
    verb: Verb,
    resumed: bool,
    things: Vec<String>,
    results: Vec<Result<Prepared, QuarantineError>>,
) -> BatchPlan {
    let mut plan = BatchPlan {
        id,
        verb,
        resumed,
        releases: None,
        scope: None,
        things,
        prepared: Vec::new(),
        unchanged: Vec::new(),
        unplanned: Vec::new(),
        certificates: 0,
        shared_certificates: Vec::new(),
        also_isolated: Vec::new(),
        warnings: Vec::new(),
        calls: BTreeMap::new(),
    };
    let mut certificates: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut steps: BTreeSet<String> = BTreeSet::new();
    let mut also: BTreeSet<String> = BTreeSet::new();
    for (thing, result) in plan.things.clone().into_iter().zip(results) {
        let prepared = match result {
            Ok(prepared) => prepared,
            Err(error) => {
                plan.unplanned.push(Unplanned {
                    thing,
                    error: error.to_string(),
                });
                continue;
            }
        };
        if prepared.is_empty() {
            plan.unchanged.push(thing);
            continue;
        }
        for certificate in &prepared.subject.certificates {
            let users = certificates.entry(certificate.id.clone()).or_default();
            users.extend(certificate.things.iter().cloned());
        }
        for step in &prepared.plan.steps {
            let key = serde_json::to_string(step).unwrap_or_default();
            if steps.insert(key) {
                *plan.calls.entry(step.action()).or_default() += 1;
            }
        }
        also.extend(prepared.plan.also_isolated.iter().cloned());
        for warning in &prepared.plan.warnings {
            if !plan.warnings.contains(warning) {
                plan.warnings.push(warning.clone());
            }
        }
        plan.prepared.push(prepared);
    }
    plan.certificates = certificates.len();
    plan.shared_certificates = certificates
        .into_iter()
        .filter(|(_, users)| users.len() > 1)
        .map(|(id, users)| SharedCertificate {
            id,
            things: users.into_iter().collect(),
        })
        .collect();
    let selected: BTreeSet<&String> = plan.things.iter().collect();
    plan.also_isolated = also.into_iter().filter(|t| !selected.contains(t)).collect();
    plan
}

/// How one Thing of a batch ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThingResult {
    pub thing: String,
    /// "verified", "released", "still held" (its hold closed, another keeps it isolated),
    /// "NOT ISOLATED", "failed", "unchanged", "not planned".
    pub outcome: String,
    pub detail: String,
}

impl ThingResult {
    #[must_use]
    pub fn ok(&self) -> bool {
        matches!(
            self.outcome.as_str(),
            "verified" | "released" | "still held" | "unchanged"
        )
    }
}

/// The outcome of a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchReport {
    pub id: String,
    pub verb: Verb,
    pub results: Vec<ThingResult>,
    pub seconds: f64,
}

impl BatchReport {
    #[must_use]
    pub fn failures(&self) -> usize {
        self.results.iter().filter(|r| !r.ok()).count()
    }
}

/// Progress of a batch: `done` of `total` Things finished, the last one's result.
#[derive(Debug, Clone)]
pub struct BatchProgress<'a> {
    pub done: usize,
    pub total: usize,
    pub last: &'a ThingResult,
}

/// The results of the Things a batch plan has nothing to run for: unchanged, or not planned.
fn settled(batch: &BatchPlan) -> Vec<ThingResult> {
    batch
        .unchanged
        .iter()
        .map(|thing| ThingResult {
            thing: thing.clone(),
            outcome: "unchanged".into(),
            detail: match batch.verb {
                Verb::Quarantine => "already isolated".into(),
                Verb::Release => "not quarantined".into(),
            },
        })
        .chain(batch.unplanned.iter().map(|u| ThingResult {
            thing: u.thing.clone(),
            outcome: "not planned".into(),
            detail: u.error.clone(),
        }))
        .collect()
}

/// Carries out a batch plan: its plan entry, then every Thing (see the module), then its
/// closing entry with every Thing's result.
pub async fn execute(
    client: &FleetClient,
    mutations: &Mutations,
    batch: BatchPlan,
    options: Options,
    observe: &mut (dyn FnMut(BatchProgress<'_>) + Send),
) -> Result<BatchReport, QuarantineError> {
    let started = std::time::Instant::now();
    let action = batch_action(batch.verb);
    let intent = mutations.begin(Change {
        what: format!(
            "{} would change {} Things",
            batch.verb,
            batch.prepared.len()
        ),
        action,
        target: &batch.id,
        before: Value::Null,
        intended: json!({
            "things": batch.things,
            "to_change": batch.prepared.iter().map(|p| &p.plan.thing).collect::<Vec<_>>(),
            "calls": batch.calls,
            "resumed": batch.resumed,
            "releases": batch.releases,
        }),
    })?;
    let mut results = settled(&batch);
    let total = results.len() + batch.prepared.len();
    for (done, last) in results.iter().enumerate() {
        observe(BatchProgress {
            done: done + 1,
            total,
            last,
        });
    }
    let id = batch.id.clone();
    let verb = batch.verb;
    let scope = batch.scope.clone().unwrap_or(Scope::Own);
    let chains = chains(batch.prepared);
    let members = std::sync::Arc::new(batch.things.clone());
    let mut running = futures_util::stream::iter(chains)
        .map(|chain| {
            let (client, mutations) = (client.clone(), mutations.clone());
            let (id, members, scope) = (id.clone(), members.clone(), scope.clone());
            async move {
                let run = Run {
                    options,
                    batch: &id,
                    members: &members,
                    scope: &scope,
                };
                run_chain(&client, &mutations, chain, run).await
            }
        })
        .buffer_unordered(CONCURRENCY);
    while let Some(chain_results) = running.next().await {
        for result in chain_results {
            observe(BatchProgress {
                done: results.len() + 1,
                total,
                last: &result,
            });
            results.push(result);
        }
    }
    drop(running);
    let order: HashMap<&String, usize> = batch
        .things
        .iter()
        .enumerate()
        .map(|(i, t)| (t, i))
        .collect();
    results.sort_by_key(|r| order.get(&r.thing).copied().unwrap_or(usize::MAX));
    let failures = results.iter().filter(|r| !r.ok()).count();
    let outcome = if failures == 0 {
        "ok".to_owned()
    } else {
        format!("{failures} of {total} Things not done")
    };
    intent
        .finish(
            serde_json::to_value(&results).unwrap_or(Value::Null),
            &outcome,
        )
        .map_err(|error| QuarantineError::Journal("written after the run", error))?;
    Ok(BatchReport {
        id,
        verb,
        results,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The resources a plan's calls change, by which Things must not run at once: certificates and
/// policies (the deny-all policy only when a plan repairs it: creating it is idempotent).
fn resources(prepared: &Prepared) -> Vec<String> {
    let mut keys: Vec<String> = prepared
        .subject
        .certificates
        .iter()
        .map(|c| format!("certificate {}", c.id))
        .collect();
    for step in &prepared.plan.steps {
        match step {
            Step::CreateDenyAllVersion { policy, .. }
            | Step::SetDefaultVersion { policy, .. }
            | Step::DeletePolicyVersion { policy, .. }
            | Step::RestoreDenyAll { policy, .. } => keys.push(format!("policy {policy}")),
            Step::AttachPolicy { policy, target } | Step::DetachPolicy { policy, target }
                if policy != DENY_ALL_POLICY =>
            {
                keys.push(format!("policy {policy}"));
                if let Some(id) = certificate_id_from_arn(target) {
                    keys.push(format!("certificate {id}"));
                }
            }
            _ => {}
        }
    }
    keys
}

/// Groups the plans into chains that share no resource with another chain (union-find over
/// their resources), each in selection order.
fn chains(prepared: Vec<Prepared>) -> Vec<Vec<Prepared>> {
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut parent: Vec<usize> = (0..prepared.len()).collect();
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (index, p) in prepared.iter().enumerate() {
        for key in resources(p) {
            match owner.get(&key) {
                Some(&other) => {
                    let (a, b) = (root(&mut parent, index), root(&mut parent, other));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    owner.insert(key, index);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<Prepared>> = BTreeMap::new();
    for (index, p) in prepared.into_iter().enumerate() {
        let r = root(&mut parent, index);
        groups.entry(r).or_default().push(p);
    }
    groups.into_values().collect()
}

/// What every chain of a batch runs under.
#[derive(Debug, Clone, Copy)]
struct Run<'a> {
    options: Options,
    batch: &'a str,
    members: &'a [String],
    /// A release's holds to close.
    scope: &'a Scope,
}

/// Runs one chain in order; every Thing after the first is planned again from fresh facts,
/// since the one before may have changed what they share.
async fn run_chain(
    client: &FleetClient,
    mutations: &Mutations,
    chain: Vec<Prepared>,
    run: Run<'_>,
) -> Vec<ThingResult> {
    let Run {
        options,
        batch,
        members,
        scope,
    } = run;
    let mut results = Vec::with_capacity(chain.len());
    for (index, prepared) in chain.into_iter().enumerate() {
        let thing = prepared.plan.thing.clone();
        let verb = prepared.verb;
        let fresh = if index == 0 {
            Ok(prepared)
        } else {
            match verb {
                Verb::Quarantine => run::prepare_quarantine(
                    client,
                    mutations.journal(),
                    &thing,
                    options,
                    prepared.reason.clone(),
                )
                .await
                .map(|mut fresh| {
                    fresh.incident.clone_from(&prepared.incident);
                    fresh
                }),
                Verb::Release => {
                    prepare_release_within(
                        client,
                        mutations.journal(),
                        &thing,
                        scope,
                        members,
                        false,
                    )
                    .await
                }
            }
        };
        let mut prepared = match fresh {
            Ok(prepared) => prepared,
            Err(error) => {
                results.push(ThingResult {
                    thing,
                    outcome: "failed".into(),
                    detail: error.to_string(),
                });
                continue;
            }
        };
        if prepared.is_empty() {
            results.push(ThingResult {
                thing,
                outcome: "unchanged".into(),
                detail: "done by an earlier Thing of the batch".into(),
            });
            continue;
        }
        prepared.batch = Some(batch.to_owned());
        results.push(
            match run::execute(client, mutations, prepared, &mut |_| Ok(())).await {
                Ok(report) => outcome_of(&report),
                Err(error) => ThingResult {
                    thing,
                    outcome: "failed".into(),
                    detail: error.to_string(),
                },
            },
        );
    }
    results
}

fn outcome_of(report: &run::Report) -> ThingResult {
    let thing = report.thing.clone();
    if let Some(failure) = &report.failed {
        return ThingResult {
            thing,
            outcome: "failed".into(),
            detail: format!(
                "step {} ({}): {}",
                failure.step, failure.call, failure.error
            ),
        };
    }
    match report.verb {
        Verb::Release => match report.advice() {
            None if !report.plan.held_by.is_empty() => ThingResult {
                thing,
                outcome: "still held".into(),
                detail: format!(
                    "its hold here is closed; it stays isolated by {}",
                    report
                        .plan
                        .held_by
                        .iter()
                        .map(super::holds::Hold::describe)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            },
            None => ThingResult {
                thing,
                outcome: "released".into(),
                detail: calls(report.done.len()),
            },
            Some(advice) => ThingResult {
                thing,
                outcome: "failed".into(),
                detail: advice,
            },
        },
        Verb::Quarantine => match (&report.verification, &report.verification_error) {
            (Some(v), _) if v.verified => ThingResult {
                thing,
                outcome: "verified".into(),
                detail: format!("{}, isolation verified", calls(report.done.len())),
            },
            (Some(v), _) => ThingResult {
                thing,
                outcome: "NOT ISOLATED".into(),
                detail: v
                    .lines()
                    .into_iter()
                    .filter(|l| l.contains("NOT ISOLATED"))
                    .collect::<Vec<_>>()
                    .join("; "),
            },
            (None, error) => ThingResult {
                thing,
                outcome: "failed".into(),
                detail: format!(
                    "could not be verified: {}",
                    error.as_deref().unwrap_or("no answer")
                ),
            },
        },
    }
}

fn calls(n: usize) -> String {
    if n == 1 {
        "1 call".to_owned()
    } else {
        format!("{n} calls")
    }
}
