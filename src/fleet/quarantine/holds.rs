//! Holds (DESIGN.md, "Holds"): each quarantine of a Thing, alone or as one Thing of a batch, is
//! a hold on it, recorded in the journal's plan entry with its id, incident, actor and reason. A
//! Thing stays isolated while any hold is open. A release names the holds it closes (its scope:
//! the Thing's own quarantines, one hold, or one batch's); what every quarantine since the last
//! full release changed is undone only when the last hold closes, so a release never takes away
//! what another open hold needs. Pure over journal entries; `run.rs` and `batch.rs` write them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::plan::{PlanError, Step};
pub use crate::fleet::model::Hold;

/// Which of a Thing's holds a release closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The Thing's own quarantines: those not made as part of a batch.
    Own,
    /// One hold, by id.
    Hold(String),
    /// The holds of one batch.
    Batch(String),
}

impl Scope {
    #[must_use]
    pub fn closes(&self, hold: &Hold) -> bool {
        match self {
            Self::Own => hold.batch.is_none(),
            Self::Hold(id) => hold.id == *id,
            Self::Batch(batch) => hold.batch.as_deref() == Some(batch.as_str()),
        }
    }

    /// The scope of a Thing released together with another (`--with-shared`): the same batch's
    /// holds for a batch's release, else its own.
    #[must_use]
    pub fn together(&self) -> Self {
        match self {
            Self::Batch(batch) => Self::Batch(batch.clone()),
            Self::Own | Self::Hold(_) => Self::Own,
        }
    }
}

/// What the journal says of one Thing: its open holds, oldest first, and every step the
/// quarantines since its last full release planned (what the last release undoes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub holds: Vec<Hold>,
    pub steps: Vec<Step>,
}

impl Record {
    /// The ids of the holds a release of `scope` closes on `thing`. The Thing's own holds are
    /// those not made with a batch; a Thing held by one batch alone is its own too (no other
    /// incident holds it). Refused when `scope` closes nothing and the Thing is held: by several
    /// batches (which one is meant?), or not by the hold named.
    pub fn closing(&self, thing: &str, scope: &Scope) -> Result<Vec<String>, PlanError> {
        let mut closed: Vec<String> = self
            .holds
            .iter()
            .filter(|h| scope.closes(h))
            .map(|h| h.id.clone())
            .collect();
        if closed.is_empty() && *scope == Scope::Own && self.holds.len() == 1 {
            closed.push(self.holds[0].id.clone());
        }
        if closed.is_empty() && !self.holds.is_empty() {
            let holds = self
                .holds
                .iter()
                .map(|h| format!("{} (`{}`)", h.describe(), h.release_command()))
                .collect();
            return Err(match scope {
                Scope::Hold(id) => PlanError::NoSuchHold {
                    thing: thing.to_owned(),
                    id: id.clone(),
                    holds,
                },
                Scope::Own | Scope::Batch(_) => PlanError::WhichHold {
                    thing: thing.to_owned(),
                    holds,
                },
            });
        }
        Ok(closed)
    }
}

/// The id a quarantine plan entry gives its hold: its own `hold`, else (entries written before
/// holds) its batch, else one made from its time, so every reading names it the same.
fn hold_id(entry: &Value) -> String {
    let after = &entry["after"];
    after["hold"]
        .as_str()
        .or_else(|| after["batch"].as_str())
        .map_or_else(
            || format!("hold-{}", entry["time"].as_str().unwrap_or("unknown")),
            str::to_owned,
        )
}

/// The records of every Thing in `entries` (one backend's and account's, oldest first) with an
/// open hold or steps not yet undone.
#[must_use]
pub fn records<'a>(entries: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, Record> {
    let mut records: BTreeMap<String, Record> = BTreeMap::new();
    // Per Thing: the hold its latest plan entry opened, and the holds its latest release plan
    // said it would close (None: every one, as releases before holds did).
    let mut planned: BTreeMap<String, String> = BTreeMap::new();
    let mut closing: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for entry in entries {
        let Some(thing) = entry["target"].as_str() else {
            continue;
        };
        let after = &entry["after"];
        match (entry["action"].as_str(), entry["result"].as_str()) {
            (Some("quarantine plan"), _) => {
                let record = records.entry(thing.to_owned()).or_default();
                let steps: Vec<Step> =
                    serde_json::from_value(after["steps"].clone()).unwrap_or_default();
                record.steps.extend(steps);
                let id = hold_id(entry);
                let text = |key: &str| after[key].as_str().map(str::to_owned);
                let fresh = Hold {
                    id: id.clone(),
                    thing: thing.to_owned(),
                    batch: text("batch"),
                    incident: text("incident"),
                    reason: text("reason"),
                    by: entry["identity"].as_str().unwrap_or_default().to_owned(),
                    actor: entry["actor"].as_str().map(str::to_owned),
                    since: entry["time"].as_str().unwrap_or_default().to_owned(),
                    completed: false,
                    certificates: entry["before"]["certificates"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["id"].as_str().map(str::to_owned))
                        .collect(),
                };
                // A resumed batch or a run again of the same hold keeps its first record.
                if !record.holds.iter().any(|h| h.id == id) {
                    record.holds.push(fresh);
                }
                planned.insert(thing.to_owned(), id);
            }
            (Some("quarantine"), Some("ok")) => {
                if let (Some(record), Some(id)) = (records.get_mut(thing), planned.get(thing))
                    && let Some(hold) = record.holds.iter_mut().find(|h| h.id == *id)
                {
                    hold.completed = true;
                }
            }
            (Some("release plan"), _) => {
                let closes = after["closes"].as_array().map(|ids| {
                    ids.iter()
                        .filter_map(|id| id.as_str().map(str::to_owned))
                        .collect()
                });
                closing.insert(thing.to_owned(), closes);
            }
            (Some("release"), Some("ok")) => {
                let closes = closing.remove(thing).flatten();
                if let Some(record) = records.get_mut(thing) {
                    match closes {
                        Some(ids) => record.holds.retain(|h| !ids.contains(&h.id)),
                        None => record.holds.clear(),
                    }
                    if record.holds.is_empty() {
                        records.remove(thing);
                    }
                }
            }
            _ => {}
        }
    }
    records
}

/// A new hold id for a quarantine of one Thing.
#[must_use]
pub fn new_id() -> String {
    stamped_id("hold")
}

/// `PREFIX-YYYYMMDDTHHMMSSZ-RANDOM`: the time and four random bytes (hold and batch ids).
#[must_use]
pub fn stamped_id(prefix: &str) -> String {
    let mut bytes = [0u8; 4];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{prefix}-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:08x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        u32::from_be_bytes(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(thing: &str, time: &str, hold: Option<&str>, batch: Option<&str>) -> Value {
        json!({
            "time": time, "identity": "alice", "action": "quarantine plan", "target": thing,
            "after": {"steps": [{"call": "attach_policy", "policy": "deny", "target": format!("cert/{thing}")}],
                      "hold": hold, "batch": batch, "reason": format!("why {time}")},
            "result": "planned"
        })
    }

    fn done(action: &str, thing: &str) -> Value {
        json!({"time": "t", "action": action, "target": thing, "after": null, "result": "ok"})
    }

    fn release_plan(thing: &str, closes: Option<&[&str]>) -> Value {
        json!({"time": "t", "action": "release plan", "target": thing,
               "after": {"closes": closes}, "result": "planned"})
    }

    #[test]
    fn nested_holds_stay_open_until_the_last_is_closed() {
        let entries = [
            plan("rb-a", "1", Some("h1"), None),
            done("quarantine", "rb-a"),
            plan("rb-a", "2", Some("b2"), Some("b2")),
            plan("rb-b", "2", Some("b2"), Some("b2")),
            done("quarantine", "rb-b"),
        ];
        let now = records(&entries);
        let a = &now["rb-a"];
        assert_eq!(
            a.holds.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["h1", "b2"]
        );
        assert!(a.holds[0].completed && !a.holds[1].completed);
        assert_eq!(
            a.closing("rb-a", &Scope::Batch("b2".into())).unwrap(),
            ["b2"]
        );
        assert_eq!(a.closing("rb-a", &Scope::Own).unwrap(), ["h1"]);
        // rb-b's one hold is its own; a hold rb-a does not have is refused, naming its two.
        assert_eq!(now["rb-b"].closing("rb-b", &Scope::Own).unwrap(), ["b2"]);
        let refused = a.closing("rb-a", &Scope::Hold("h9".into())).unwrap_err();
        assert!(
            refused.to_string().contains("h1 since 1 by alice"),
            "{refused}"
        );
        assert!(
            refused
                .to_string()
                .contains("`iotfleet release --batch b2`"),
            "{refused}"
        );
        assert_eq!(a.steps.len(), 2);

        // The batch's release closes b2 only: rb-a keeps h1 and every step; rb-b is done.
        let mut later = entries.to_vec();
        later.extend([
            release_plan("rb-a", Some(&["b2"])),
            done("release", "rb-a"),
            release_plan("rb-b", Some(&["b2"])),
            done("release", "rb-b"),
        ]);
        let now = records(&later);
        assert!(!now.contains_key("rb-b"));
        assert_eq!(now["rb-a"].holds.len(), 1);
        assert_eq!(now["rb-a"].steps.len(), 2);
        // Then its own release: nothing left.
        later.extend([release_plan("rb-a", Some(&["h1"])), done("release", "rb-a")]);
        assert!(records(&later).is_empty());
    }

    #[test]
    fn entries_from_before_holds_are_read_as_holds() {
        let entries = [
            plan("pump", "2026-01-01T00:00:00Z", None, None),
            plan("pump", "2026-01-02T00:00:00Z", None, None),
            plan("cam", "2026-01-03T00:00:00Z", None, Some("batch-1")),
        ];
        let now = records(&entries);
        assert_eq!(now["pump"].holds[0].id, "hold-2026-01-01T00:00:00Z");
        assert_eq!(now["pump"].holds.len(), 2);
        assert_eq!(now["cam"].holds[0].id, "batch-1");
        assert_eq!(
            now["cam"].holds[0].release_command(),
            "iotfleet release --batch batch-1"
        );
        // A release without `closes` (before holds) closes every hold.
        let mut later = entries.to_vec();
        later.extend([release_plan("pump", None), done("release", "pump")]);
        assert!(!records(&later).contains_key("pump"));
    }

    #[test]
    fn a_failed_release_closes_nothing() {
        let entries = [
            plan("pump", "1", Some("h1"), None),
            release_plan("pump", Some(&["h1"])),
            json!({"time": "t", "action": "release", "target": "pump", "result": "failed at step 1"}),
        ];
        assert_eq!(records(&entries)["pump"].holds.len(), 1);
    }
}
