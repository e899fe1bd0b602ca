//! Every isolated Thing: the Things the deny-all policy isolates and those the journal says were
//! quarantined and not released since, each with who, when and why from the journal, and whether
//! the policies in force isolate it now (judged by content: every ACTIVE certificate denied
//! everything, as `ThingReport::is_quarantined` says). Calls grow with the quarantined Things,
//! never with the fleet.

use std::collections::BTreeMap;

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
/// release followed: when, by whom, why. The journal is read once.
pub fn open_quarantines(journal: &Journal) -> std::io::Result<BTreeMap<String, QuarantineRecord>> {
    // Per Thing: its open record, and the reason of its latest plan.
    let mut things: BTreeMap<String, (Option<QuarantineRecord>, Option<String>)> = BTreeMap::new();
    for entry in journal.entries(None)? {
        let Some(target) = entry["target"].as_str() else {
            continue;
        };
        let action = entry["action"].as_str();
        if !matches!(action, Some("quarantine plan" | "quarantine" | "release")) {
            continue;
        }
        let (record, reason) = things.entry(target.to_owned()).or_default();
        match (action, entry["result"].as_str()) {
            (Some("quarantine plan"), _) => {
                *reason = entry["after"]["reason"].as_str().map(str::to_owned);
            }
            (Some("quarantine"), Some("ok")) => {
                *record = Some(QuarantineRecord {
                    since: entry["time"].as_str().unwrap_or_default().to_owned(),
                    by: entry["identity"].as_str().unwrap_or_default().to_owned(),
                    reason: reason.clone(),
                });
            }
            (Some("release"), Some("ok")) => *record = None,
            _ => {}
        }
    }
    Ok(things
        .into_iter()
        .filter_map(|(thing, (record, _))| Some((thing, record?)))
        .collect())
}

/// Gathers the register: the deny-all policy's Things and the journal's open quarantines, each
/// read again (its report) and judged by the policies in force.
pub async fn register(client: &FleetClient, journal: &Journal) -> Result<Register, FleetError> {
    let mut notes = Vec::new();
    let mut candidates = inventory::quarantined_things(client).await?;
    let records = open_quarantines(journal).unwrap_or_else(|error| {
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
