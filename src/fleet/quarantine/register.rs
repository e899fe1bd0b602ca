//! Every quarantined Thing and whether its quarantine holds: the Things the deny-all policy
//! reaches and those the journal holds (`holds.rs`), each judged by the policies in force now
//! (every ACTIVE certificate isolated, the deny-all proven by its content). `statuses` gives
//! the word every list shows, QUARANTINED or NOT ISOLATED, with why; `register` adds each
//! Thing's holds (who, when, why) for `:quarantined`. Calls grow with the quarantined Things,
//! never with the fleet.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::holds::{self, Hold, Record};
use crate::fleet::client::CONCURRENT_CALLS;
use crate::fleet::journal::Journal;
use crate::fleet::{FleetClient, FleetError, inventory};

/// The quarantine status of every Thing under quarantine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statuses {
    /// Isolated by the policies in force: QUARANTINED.
    pub isolated: BTreeSet<String>,
    /// Held by a quarantine, or reached by the deny-all policy, yet able to act: NOT ISOLATED,
    /// with why.
    pub broken: BTreeMap<String, String>,
    /// The open holds, by Thing (none when the journal could not be read).
    pub holds: BTreeMap<String, Vec<Hold>>,
    /// What could not be read (the journal), said once each.
    pub notes: Vec<String>,
}

impl Statuses {
    /// "QUARANTINED", "NOT ISOLATED", or None for a Thing under no quarantine.
    #[must_use]
    pub fn word(&self, thing: &str) -> Option<&'static str> {
        if self.broken.contains_key(thing) {
            Some("NOT ISOLATED")
        } else if self.isolated.contains(thing) {
            Some("QUARANTINED")
        } else {
            None
        }
    }

    /// Every Thing under quarantine, isolated or not.
    #[must_use]
    pub fn things(&self) -> BTreeSet<String> {
        self.isolated
            .iter()
            .chain(self.broken.keys())
            .cloned()
            .collect()
    }
}

/// Why a Thing's ACTIVE certificates `open` let it act, naming those attached after its oldest
/// hold was planned.
fn unisolated_why(open: &[String], holds: &[Hold]) -> String {
    let named: Vec<String> = open
        .iter()
        .map(|id| {
            let short: String = id.chars().take(12).collect();
            match holds.first() {
                Some(hold) if !hold.certificates.is_empty() && !hold.certificates.contains(id) => {
                    format!(
                        "certificate {short}… (ACTIVE) was attached after the quarantine of {} and carries no deny-all",
                        hold.since
                    )
                }
                _ => format!("certificate {short}… (ACTIVE) carries no deny-all"),
            }
        })
        .collect();
    named.join("; ")
}

/// The quarantine status of every Thing the deny-all policy reaches or the journal holds. A held
/// Thing the deny-all does not reach (a policy-version quarantine, a detached policy) is judged
/// from its own report.
pub async fn statuses(client: &FleetClient, journal: &Journal) -> Result<Statuses, FleetError> {
    let mut notes = Vec::new();
    let reached = inventory::quarantined_things(client).await?;
    let records: BTreeMap<String, Record> = match journal.entries(None) {
        Ok(entries) => holds::records(&entries),
        Err(error) => {
            notes.push(format!("the journal could not be read: {error}"));
            BTreeMap::new()
        }
    };
    let holds: BTreeMap<String, Vec<Hold>> = records
        .into_iter()
        .filter(|(_, record)| !record.holds.is_empty())
        .map(|(thing, record)| (thing, record.holds))
        .collect();
    let mut statuses = Statuses {
        isolated: reached.isolated.clone(),
        broken: reached
            .unisolated
            .iter()
            .map(|(thing, open)| {
                let held = holds.get(thing).map_or(&[][..], Vec::as_slice);
                (thing.clone(), unisolated_why(open, held))
            })
            .collect(),
        holds,
        notes,
    };
    let unjudged: Vec<String> = statuses
        .holds
        .keys()
        .filter(|t| !reached.isolated.contains(*t) && !reached.unisolated.contains_key(*t))
        .cloned()
        .collect();
    let judged: Vec<(String, Result<(), String>)> = futures_util::stream::iter(unjudged)
        .map(|thing| async move {
            let verdict = judge(client, &thing).await?;
            Ok::<_, FleetError>((thing, verdict))
        })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await?;
    for (thing, verdict) in judged {
        match verdict {
            Ok(()) => {
                statuses.isolated.insert(thing);
            }
            Err(why) => {
                let why = match statuses.holds.get(&thing).and_then(|h| h.first()) {
                    Some(hold) => format!("held by {} since {}, but {why}", hold.id, hold.since),
                    None => why,
                };
                statuses.broken.insert(thing, why);
            }
        }
    }
    Ok(statuses)
}

/// Whether the policies in force isolate `thing` now, from its own report; else why not.
async fn judge(client: &FleetClient, thing: &str) -> Result<Result<(), String>, FleetError> {
    match inventory::thing_report(client, thing).await {
        Ok(report) if report.is_quarantined() => Ok(Ok(())),
        Ok(report) => Ok(Err(not_isolated_why(&report, &[]))),
        Err(FleetError::NotFound { .. }) => Ok(Err("the Thing no longer exists".to_owned())),
        Err(error) => Err(error),
    }
}

/// Why a Thing's report says it is not isolated: the ACTIVE certificates without a deny-all
/// (naming those attached after its oldest hold), or that no policy denies it everything.
fn not_isolated_why(report: &inventory::ThingReport, holds: &[Hold]) -> String {
    let open: Vec<String> = report
        .certificates
        .iter()
        .filter(|c| {
            c.isolated_by.is_empty()
                && c.certificate.status == crate::fleet::model::CertificateStatus::Active
        })
        .map(|c| c.certificate.id.clone())
        .collect();
    if open.is_empty() {
        "no policy in force denies it everything".to_owned()
    } else {
        unisolated_why(&open, holds)
    }
}

/// A Thing's quarantine status from its own report and its open holds: QUARANTINED when the
/// policies in force isolate it; NOT ISOLATED, with why, when a hold or a deny-all on one of
/// its certificates says it should be and it is not; None when it is under no quarantine.
#[must_use]
pub fn status_of(
    report: &inventory::ThingReport,
    holds: &[Hold],
) -> Option<(&'static str, String)> {
    if report.is_quarantined() {
        return Some(("QUARANTINED", String::new()));
    }
    let reached = report
        .certificates
        .iter()
        .any(|c| !c.isolated_by.is_empty());
    if holds.is_empty() && !reached {
        return None;
    }
    let why = not_isolated_why(report, holds);
    Some((
        "NOT ISOLATED",
        match holds.first() {
            Some(hold) => format!("held by {} since {}, but {why}", hold.id, hold.since),
            None => why,
        },
    ))
}

/// One quarantined Thing, as `:quarantined` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Isolation {
    pub thing: String,
    /// Whether the policies in force isolate it now.
    pub verified: bool,
    /// How: which policy isolates which certificate; or why it is not isolated.
    pub how: String,
    /// Its open holds, oldest first, from this journal.
    pub holds: Vec<Hold>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Register {
    /// By Thing name.
    pub isolations: Vec<Isolation>,
    /// What could not be read (the journal), said once each.
    pub notes: Vec<String>,
}

/// Gathers the register: every Thing `statuses` names, with how it is isolated (each read
/// again: its report) and its holds.
pub async fn register(client: &FleetClient, journal: &Journal) -> Result<Register, FleetError> {
    let statuses = statuses(client, journal).await?;
    let statuses = &statuses;
    let isolations: Vec<Isolation> = futures_util::stream::iter(statuses.things())
        .map(|thing| async move {
            let holds = statuses.holds.get(&thing).cloned().unwrap_or_default();
            if let Some(why) = statuses.broken.get(&thing) {
                return Ok(Isolation {
                    thing,
                    verified: false,
                    how: format!("NOT ISOLATED: {why}"),
                    holds,
                });
            }
            let how = match inventory::thing_report(client, &thing).await {
                Ok(report) => report
                    .certificates
                    .iter()
                    .filter(|c| !c.isolated_by.is_empty())
                    .map(|c| {
                        format!(
                            "certificate {}… carries {}",
                            c.certificate.id.chars().take(12).collect::<String>(),
                            c.isolated_by.join(", ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                Err(error) => return Err(error),
            };
            Ok(Isolation {
                thing,
                verified: true,
                how,
                holds,
            })
        })
        .buffered(CONCURRENT_CALLS)
        .try_collect()
        .await?;
    Ok(Register {
        isolations,
        notes: statuses.notes.clone(),
    })
}
