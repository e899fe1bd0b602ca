//! Every isolated Thing: the Things the deny-all policy isolates and those the journal says were
//! quarantined and not released since, each with who, when and why from the journal, and whether
//! the policies in force isolate it now (judged by content: every ACTIVE certificate denied
//! everything, as `ThingReport::is_quarantined` says). Calls grow with the quarantined Things,
//! never with the fleet.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use crate::fleet::client::CONCURRENT_CALLS;
use crate::fleet::journal::Journal;
use crate::fleet::{FleetClient, FleetError, inventory};

/// A quarantine as the journal recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineRecord {
    pub since: String,
    pub by: String,
    pub reason: Option<String>,
}

/// One isolated Thing, or one the journal says is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Isolation {
    pub thing: String,
    /// Whether the policies in force isolate it now.
    pub verified: bool,
    /// How: which policy isolates which certificate; or why it is not isolated.
    pub how: String,
    /// The journal's record, when this journal holds one.
    pub journal: Option<QuarantineRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Register {
    /// By Thing name.
    pub isolations: Vec<Isolation>,
    /// What could not be read (the journal), said once each.
    pub notes: Vec<String>,
}

/// The latest completed quarantine of each Thing in this backend's journal that no completed
/// release followed: when, by whom, why.
pub fn journal_quarantines(
    journal: &Journal,
    things: &BTreeSet<String>,
) -> std::io::Result<BTreeMap<String, QuarantineRecord>> {
    let mut out = BTreeMap::new();
    for thing in things {
        let mut record: Option<QuarantineRecord> = None;
        let mut reason = None;
        for entry in journal.entries_for(thing)? {
            match (entry["action"].as_str(), entry["result"].as_str()) {
                (Some("quarantine plan"), _) => {
                    reason = entry["after"]["reason"].as_str().map(str::to_owned);
                }
                (Some("quarantine"), Some("ok")) => {
                    record = Some(QuarantineRecord {
                        since: entry["time"].as_str().unwrap_or_default().to_owned(),
                        by: entry["identity"].as_str().unwrap_or_default().to_owned(),
                        reason: reason.clone(),
                    });
                }
                (Some("release"), Some("ok")) => record = None,
                _ => {}
            }
        }
        if let Some(record) = record {
            out.insert(thing.clone(), record);
        }
    }
    Ok(out)
}

/// The Things this journal says were quarantined (released since or not).
fn journaled(journal: &Journal) -> std::io::Result<BTreeSet<String>> {
    Ok(journal
        .entries(None)?
        .into_iter()
        .filter(|entry| entry["action"] == "quarantine")
        .filter_map(|entry| entry["target"].as_str().map(str::to_owned))
        .collect())
}

/// Gathers the register: the deny-all policy's Things and the journal's open quarantines, each
/// read again (its report) and judged by the policies in force.
pub async fn register(client: &FleetClient, journal: &Journal) -> Result<Register, FleetError> {
    let mut notes = Vec::new();
    let mut candidates = inventory::quarantined_things(client).await?;
    let records = journaled(journal)
        .and_then(|things| journal_quarantines(journal, &things))
        .unwrap_or_else(|error| {
            notes.push(format!("the journal could not be read: {error}"));
            BTreeMap::new()
        });
    candidates.extend(records.keys().cloned());
    let judged: Vec<Isolation> = futures_util::stream::iter(candidates)
        .map(|thing| async move {
            match inventory::thing_report(client, &thing).await {
                Ok(report) => {
                    let how: Vec<String> = report
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
                        .collect();
                    let verified = report.is_quarantined();
                    let how = if verified {
                        how.join("; ")
                    } else if how.is_empty() {
                        "NOT ISOLATED: no policy in force denies it everything".to_owned()
                    } else {
                        format!(
                            "NOT ISOLATED: an ACTIVE certificate carries no deny-all policy ({})",
                            how.join("; ")
                        )
                    };
                    Ok((thing, verified, how))
                }
                Err(FleetError::NotFound { .. }) => Ok((
                    thing,
                    false,
                    "NOT ISOLATED: the Thing no longer exists".to_owned(),
                )),
                Err(error) => Err(error),
            }
        })
        .buffered(CONCURRENT_CALLS)
        .map_ok(|(thing, verified, how)| Isolation {
            journal: records.get(&thing).cloned(),
            thing,
            verified,
            how,
        })
        .try_collect()
        .await?;
    Ok(Register {
        isolations: judged,
        notes,
    })
}
