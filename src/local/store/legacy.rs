//! Reading the state files of earlier formats, unframed: format 1 (policies listing their
//! targets, groups their Things) and format 2 (each side keeps its own links), and their log
//! lines. What later formats added is filled in (empty tables, null options, no links), then
//! the result is decoded as strictly as format 3, so a damaged old file is refused, never read
//! in part; the core then rewrites it as format 3.

use serde_json::{Map, Value};

use super::{FleetState, StoreError, decode};

/// A field a row gained, and the value a row written before it has.
type Added = (&'static str, fn() -> Value);

/// The tables of a state, and the fields each of their rows gained since format 1, with the
/// value a row written before them has.
const ADDED: &[(&str, &[Added])] = &[
    ("things", &[("groups", empty_list), ("thing_type", null)]),
    ("thing_types", &[]),
    ("thing_groups", &[("policies", empty_list)]),
    (
        "certificates",
        &[
            ("policies", empty_list),
            ("ca_certificate_id", null),
            ("private_key_pem", null),
        ],
    ),
    ("policies", &[]),
    ("security_profiles", &[("description", null)]),
    (
        "topic_rules",
        &[
            ("description", null),
            ("sql_version", null),
            ("error_action", null),
        ],
    ),
    ("trail", &[]),
];

/// The fields of a shadow that may be missing from an old file.
const SHADOW_OPTIONS: &[&str] = &[
    "desired",
    "reported",
    "metadata_desired",
    "metadata_reported",
];

fn empty_list() -> Value {
    Value::Array(Vec::new())
}

fn null() -> Value {
    Value::Null
}

/// Reads a state file of format 1 or 2 (`json`, the whole file).
pub fn read(path: &std::path::Path, json: &[u8]) -> Result<FleetState, StoreError> {
    let corrupt = |e: &serde_json::Error| StoreError::corrupt(path, e.line(), e);
    let mut value: Value = serde_json::from_slice(json).map_err(|e| corrupt(&e))?;
    let Some(object) = value.as_object_mut() else {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            at: "line 1".to_owned(),
            message: "the state is not a JSON object".to_owned(),
        });
    };
    let format = object.get("format").and_then(Value::as_u64).unwrap_or(0);
    let links = match format {
        1 => Some(format_1::Links::read(object)),
        2 => None,
        found => {
            return Err(StoreError::Format {
                path: path.to_owned(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
    };
    for (key, empty) in [
        ("seq", Value::from(0)),
        ("account", Value::Null),
        ("ca", Value::Null),
    ] {
        object.entry(key).or_insert(empty);
    }
    for (table, _) in ADDED {
        let rows = object
            .entry(*table)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(rows) = rows.as_object_mut() {
            for row in rows.values_mut() {
                upgrade_row(table, row);
            }
        }
    }
    let mut state: FleetState = decode(value).map_err(|e| e.at(path, 1))?;
    if let Some(links) = links {
        links.apply(&mut state);
    }
    Ok(state)
}

/// Fills in what a row of `table` written by an earlier format lacks.
pub fn upgrade_row(table: &str, row: &mut Value) {
    let Some(fields) = row.as_object_mut() else {
        return;
    };
    if let Some((_, added)) = ADDED.iter().find(|(name, _)| *name == table) {
        for (field, value) in *added {
            fields.entry(*field).or_insert_with(value);
        }
    }
    if table == "things"
        && let Some(shadows) = fields.get_mut("shadows").and_then(Value::as_object_mut)
    {
        let mut all: Vec<&mut Value> = Vec::new();
        for (key, value) in shadows.iter_mut() {
            match key.as_str() {
                "classic" => all.push(value),
                "named" => all.extend(
                    value
                        .as_object_mut()
                        .into_iter()
                        .flat_map(|n| n.values_mut()),
                ),
                _ => {}
            }
        }
        for shadow in all.into_iter().filter_map(Value::as_object_mut) {
            for field in SHADOW_OPTIONS {
                shadow.entry(*field).or_insert(Value::Null);
            }
        }
    }
}

/// Fills in what an unframed log line (`{"seq":…,"things":[[name,row]…]…}`) lacks.
pub fn upgrade_line(line: &mut Value) {
    let Some(tables) = line.as_object_mut() else {
        return;
    };
    for (table, changes) in tables.iter_mut() {
        for change in changes.as_array_mut().into_iter().flatten() {
            if let Some(row) = change.as_array_mut().and_then(|pair| pair.get_mut(1)) {
                upgrade_row(table, row);
            }
        }
    }
}

/// Format 1, where a policy listed its targets and a group its Things: the links are taken out
/// of the rows (which no longer have those fields) and given to each side.
mod format_1 {
    use std::collections::BTreeSet;

    use serde_json::{Map, Value};

    use super::super::FleetState;

    #[derive(Debug, Default)]
    pub struct Links {
        group_things: Vec<(String, BTreeSet<String>)>,
        policy_targets: Vec<(String, BTreeSet<String>)>,
    }

    fn take(rows: Option<&mut Value>, field: &str) -> Vec<(String, BTreeSet<String>)> {
        let mut out = Vec::new();
        for (name, row) in rows.and_then(Value::as_object_mut).into_iter().flatten() {
            let listed = row.as_object_mut().and_then(|row| row.remove(field));
            let names = listed
                .as_ref()
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            out.push((name.clone(), names));
        }
        out
    }

    impl Links {
        pub fn read(state: &mut Map<String, Value>) -> Self {
            Self {
                group_things: take(state.get_mut("thing_groups"), "things"),
                policy_targets: take(state.get_mut("policies"), "targets"),
            }
        }

        pub fn apply(self, state: &mut FleetState) {
            for (group, members) in self.group_things {
                for thing in members {
                    if let Some(record) = state.things.get_mut(&thing) {
                        record.groups.insert(group.clone());
                    }
                }
            }
            for (policy, attached) in self.policy_targets {
                for target in attached {
                    if let Some(policies) = state.attached_policies_mut(&target) {
                        policies.insert(policy.clone());
                    }
                }
            }
        }
    }
}
