//! The local fleet's state: tables of records (`table.rs`) kept in a snapshot file and a
//! write-ahead log beside it (`log.rs`), each byte of both checked on reading (`frame.rs`). A
//! change is made in a transaction that is written to the log before anyone sees it. Reading
//! is strict: a damaged byte, an unknown or missing table or field, a missing log segment is
//! refused with file, line and what failed, and the files are left untouched, never reset or
//! read in part. Files of earlier formats are read by `legacy.rs`.

mod frame;
mod legacy;
mod log;
mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::ca::LocalCa;
use super::shadow::ShadowRecord;
pub use table::Table;

/// The version of the state file's layout: 3 frames the snapshot and each log line with a
/// checksum. Formats 1 and 2 are read (`legacy.rs`) and rewritten as 3.
pub const FORMAT: u32 = 3;

/// The account id of a local fleet made before each fleet had its own (and moto's): such a
/// fleet keeps it, since its ARNs name it. A new fleet gets an id of its own
/// (`FleetState::account`).
pub const LEGACY_ACCOUNT: &str = "123456789012";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetState {
    pub format: u32,
    /// The last logged transaction this state holds.
    pub seq: u64,
    /// The fleet's AWS account id, made with it (`account()`: a fleet made before keeps the
    /// one its ARNs name).
    #[serde(deserialize_with = "crate::json_error::present")]
    pub account: Option<String>,
    #[serde(deserialize_with = "crate::json_error::present")]
    pub ca: Option<LocalCa>,
    pub things: Table<ThingRecord>,
    pub thing_types: Table<NamedRecord>,
    pub thing_groups: Table<GroupRecord>,
    pub certificates: Table<CertificateRecord>,
    pub policies: Table<PolicyRecord>,
    /// Device Defender Detect's security profiles (`detect.rs`).
    pub security_profiles: Table<SecurityProfileRecord>,
    /// The rules engine's topic rules (`rules.rs`).
    pub topic_rules: Table<TopicRuleRecord>,
    /// The calls that changed the fleet, as CloudTrail records them (`trail.rs`), by sequence.
    pub trail: Table<TrailRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThingRecord {
    pub id: String,
    #[serde(deserialize_with = "crate::json_error::present")]
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
    /// Principal ARNs (certificates) attached to the Thing.
    pub principals: BTreeSet<String>,
    /// The Thing groups it belongs to.
    pub groups: BTreeSet<String>,
    pub shadows: ThingShadows,
}

impl ThingRecord {
    /// Bytes of its attributes' keys and values: what a scan weighs it by.
    #[must_use]
    pub fn weight(&self) -> usize {
        self.attributes.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThingShadows {
    #[serde(deserialize_with = "crate::json_error::present")]
    pub classic: Option<ShadowRecord>,
    pub named: BTreeMap<String, ShadowRecord>,
    /// Versions of deleted shadows by name ("" for the classic one): deleting does not reset them.
    pub deleted_versions: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedRecord {
    pub id: String,
    pub created: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRecord {
    pub id: String,
    pub created: i64,
    /// Names of the policies attached to the group.
    pub policies: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRecord {
    pub pem: String,
    pub status: String,
    pub created: i64,
    pub last_modified: i64,
    #[serde(deserialize_with = "crate::json_error::present")]
    pub ca_certificate_id: Option<String>,
    /// The device's private key, for certificates the local CA issued (the simulator uses it).
    #[serde(deserialize_with = "crate::json_error::present")]
    pub private_key_pem: Option<String>,
    /// Names of the policies attached to the certificate.
    pub policies: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRecord {
    pub versions: BTreeMap<u32, PolicyVersionRecord>,
    pub default_version: u32,
    pub next_version: u32,
    pub created: i64,
    pub last_modified: i64,
}

/// A Device Defender security profile: its behaviours as AWS's API gives them (checked by
/// `detect.rs` when created), and the targets it is attached to (ARNs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityProfileRecord {
    #[serde(deserialize_with = "crate::json_error::present")]
    pub description: Option<String>,
    pub behaviors: Vec<serde_json::Value>,
    pub targets: BTreeSet<String>,
    pub version: i64,
    pub created: i64,
    pub last_modified: i64,
}

/// A topic rule: its SQL and the `FROM` filter read from it, and its actions as AWS's API gives
/// them (recorded, never run by the local core).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRuleRecord {
    pub sql: String,
    pub topic_pattern: String,
    #[serde(deserialize_with = "crate::json_error::present")]
    pub description: Option<String>,
    pub disabled: bool,
    #[serde(deserialize_with = "crate::json_error::present")]
    pub sql_version: Option<String>,
    pub actions: Vec<serde_json::Value>,
    #[serde(deserialize_with = "crate::json_error::present")]
    pub error_action: Option<serde_json::Value>,
    pub created: i64,
}

/// A recorded control-plane call (`trail.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailRecord {
    pub event_name: String,
    pub time_ms: i64,
    pub access_key: String,
    pub user: String,
    /// (CloudTrail resource type, name).
    pub resources: Vec<(String, String)>,
    pub parameters: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyVersionRecord {
    pub document: String,
    pub created: i64,
}

impl PolicyRecord {
    #[must_use]
    pub fn new(document: String, now: i64) -> Self {
        Self {
            versions: BTreeMap::from([(
                1,
                PolicyVersionRecord {
                    document,
                    created: now,
                },
            )]),
            default_version: 1,
            next_version: 2,
            created: now,
            last_modified: now,
        }
    }

    #[must_use]
    pub fn default_document(&self) -> &str {
        self.versions
            .get(&self.default_version)
            .map_or("", |v| v.document.as_str())
    }
}

impl FleetState {
    /// The fleet's account id: its own, or (a fleet made before fleets had their own) the one
    /// its ARNs name.
    #[must_use]
    pub fn account(&self) -> &str {
        self.account.as_deref().unwrap_or(LEGACY_ACCOUNT)
    }

    /// The policies attached to a target (a certificate or Thing group ARN), None when the
    /// target does not exist.
    #[must_use]
    pub fn attached_policies(&self, target: &str) -> Option<&BTreeSet<String>> {
        if let Some((_, group)) = target.split_once(":thinggroup/") {
            return self.thing_groups.get(group).map(|g| &g.policies);
        }
        let (_, id) = target.split_once(":cert/")?;
        self.certificates.get(id).map(|c| &c.policies)
    }

    /// The policies attached to a target, to change them; None when the target does not exist.
    pub fn attached_policies_mut(&mut self, target: &str) -> Option<&mut BTreeSet<String>> {
        if let Some((_, group)) = target.split_once(":thinggroup/") {
            return self.thing_groups.get_mut(group).map(|g| &mut g.policies);
        }
        let (_, id) = target.split_once(":cert/")?;
        self.certificates.get_mut(id).map(|c| &mut c.policies)
    }

    /// The transaction's changes, as the log's next line; `new_ca` when it made the CA.
    fn changes(&self, new_ca: bool) -> log::Written<'_> {
        log::Record {
            seq: self.seq + 1,
            ca: self.ca.as_ref().filter(|_| new_ca),
            things: self.things.changed(),
            thing_types: self.thing_types.changed(),
            thing_groups: self.thing_groups.changed(),
            certificates: self.certificates.changed(),
            policies: self.policies.changed(),
            security_profiles: self.security_profiles.changed(),
            topic_rules: self.topic_rules.changed(),
            trail: self.trail.changed(),
        }
    }

    fn has_changes(&self) -> bool {
        self.things.has_changes()
            || self.thing_types.has_changes()
            || self.thing_groups.has_changes()
            || self.certificates.has_changes()
            || self.policies.has_changes()
            || self.security_profiles.has_changes()
            || self.topic_rules.has_changes()
            || self.trail.has_changes()
    }

    fn commit(&mut self) {
        self.seq += 1;
        self.settle();
    }

    /// Takes the rows as they are, outside any transaction (a state built or read whole).
    fn settle(&mut self) {
        self.things.commit();
        self.thing_types.commit();
        self.thing_groups.commit();
        self.certificates.commit();
        self.policies.commit();
        self.security_profiles.commit();
        self.topic_rules.commit();
        self.trail.commit();
    }

    fn roll_back(&mut self) {
        self.things.roll_back();
        self.thing_types.roll_back();
        self.thing_groups.roll_back();
        self.certificates.roll_back();
        self.policies.roll_back();
        self.security_profiles.roll_back();
        self.topic_rules.roll_back();
        self.trail.roll_back();
    }

    fn replay(&mut self, record: log::Logged) {
        self.seq = record.seq;
        if record.ca.is_some() {
            self.ca = record.ca;
        }
        for (key, value) in record.things {
            self.things.replay(key, value);
        }
        for (key, value) in record.thing_types {
            self.thing_types.replay(key, value);
        }
        for (key, value) in record.thing_groups {
            self.thing_groups.replay(key, value);
        }
        for (key, value) in record.certificates {
            self.certificates.replay(key, value);
        }
        for (key, value) in record.policies {
            self.policies.replay(key, value);
        }
        for (key, value) in record.security_profiles {
            self.security_profiles.replay(key, value);
        }
        for (key, value) in record.topic_rules {
            self.topic_rules.replay(key, value);
        }
        for (key, value) in record.trail {
            self.trail.replay(key, value);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "local state file {path} is corrupt at {at}: {message}; it was left untouched: restore it from a backup, or move it and its log away to start a fresh demo fleet"
    )]
    Corrupt {
        path: PathBuf,
        /// Line and column, or line and the field's path.
        at: String,
        message: String,
    },
    #[error(
        "local state file {path} has format {found}, this iotfleet reads formats 1 to {FORMAT}; move it away to start a fresh demo fleet"
    )]
    Format { path: PathBuf, found: u32 },
    #[error(
        "local state log {path} jumps from transaction {after} to {found}: a segment of it is missing; it was left untouched"
    )]
    Gap {
        path: PathBuf,
        after: u64,
        found: u64,
    },
    #[error(
        "local state log segment {path} is missing: the state holds transactions up to {after} and the log goes on in it; the files were left untouched"
    )]
    MissingSegment { path: PathBuf, after: u64 },
    #[error(
        "local state file {path} is missing, but its log segments are beside it ({path}.log-*): move them away to start a fresh demo fleet"
    )]
    LogWithoutFile { path: PathBuf },
    #[error("local state file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StoreError {
    /// `line` is the file's line: a log line's JSON error says line 1 of that line.
    fn corrupt(path: &Path, line: usize, error: &serde_json::Error) -> Self {
        let at = crate::json_error::JsonError::of(error);
        Self::Corrupt {
            path: path.to_owned(),
            at: format!("line {line}, column {}", at.column),
            message: at.message,
        }
    }

    fn damaged(path: &Path, damage: frame::Damage) -> Self {
        Self::Corrupt {
            path: path.to_owned(),
            at: format!("line {}", damage.line),
            message: damage.what,
        }
    }
}

/// Why a record could not be decoded strictly: where in its JSON, and why.
#[derive(Debug)]
struct Undecodable {
    /// The field's path (`things.pump-01.shadows`), `.` for the whole.
    field: String,
    /// Line and column in the JSON; none when decoded from a value.
    position: Option<(usize, usize)>,
    message: String,
}

impl Undecodable {
    fn of<E: serde::de::Error + std::fmt::Display>(
        error: &serde_path_to_error::Error<E>,
        position: Option<(usize, usize)>,
    ) -> Self {
        Self {
            field: error.path().to_string(),
            position,
            message: error
                .inner()
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// The error, for JSON that starts at line `first_line` of `file`.
    fn at(self, file: &Path, first_line: usize) -> StoreError {
        let at = match self.position {
            Some((line, column)) => format!(
                "line {}, column {column} ({})",
                first_line + line.saturating_sub(1),
                self.field
            ),
            None => format!("line {first_line}, field {}", self.field),
        };
        StoreError::Corrupt {
            path: file.to_owned(),
            at,
            message: self.message,
        }
    }
}

/// Decodes `json` strictly (every field there, no other); the error names the field's path.
fn decode_slice<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, Undecodable> {
    serde_json::from_slice(json).map_err(|_| {
        // Again, slowly, to learn the field's path.
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Err(error) => {
                let inner = error.inner();
                let position = Some((inner.line(), inner.column()));
                Undecodable::of(&error, position)
            }
            Ok(_) => Undecodable {
                field: ".".to_owned(),
                position: None,
                message: "undecodable".to_owned(),
            },
        }
    })
}

/// Decodes a JSON value strictly; the error names the field's path.
fn decode(value: serde_json::Value) -> Result<FleetState, Undecodable> {
    serde_path_to_error::deserialize(value).map_err(|e| Undecodable::of(&e, None))
}

/// The state and, when it is kept in a file, its log.
#[derive(Debug)]
struct Kept {
    state: FleetState,
    log: Option<log::Log>,
}

/// The state behind a lock, and where it is kept (no file: in memory only, for tests).
#[derive(Debug)]
pub struct Store {
    kept: Mutex<Kept>,
    path: Option<PathBuf>,
    /// Counts committed transactions, so caches of derived facts (the broker's policy
    /// decisions) know when they are stale.
    revision: AtomicU64,
}

/// The state, read under the store's lock.
#[derive(Debug)]
pub struct Reading<'a>(MutexGuard<'a, Kept>);

impl std::ops::Deref for Reading<'_> {
    type Target = FleetState;

    fn deref(&self) -> &FleetState {
        &self.0.state
    }
}

impl Store {
    #[must_use]
    pub fn in_memory(mut state: FleetState) -> Self {
        state.settle();
        Self {
            kept: Mutex::new(Kept { state, log: None }),
            path: None,
            revision: AtomicU64::new(0),
        }
    }

    /// Reads the state file and replays its log, checking every byte. Returns None when there
    /// is no file yet.
    pub fn read_file(path: &Path) -> Result<Option<FleetState>, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return if log::has_segments(path).map_err(io)? {
                    Err(StoreError::LogWithoutFile {
                        path: path.to_owned(),
                    })
                } else {
                    Ok(None)
                };
            }
            Err(source) => return Err(io(source)),
        };
        let opened = frame::open_snapshot(&bytes).map_err(|d| StoreError::damaged(path, d))?;
        let mut state = match opened {
            frame::Snapshot::Framed(json) => {
                let state: FleetState = decode_slice(json).map_err(|e| e.at(path, 2))?;
                if state.format != FORMAT {
                    return Err(StoreError::Format {
                        path: path.to_owned(),
                        found: state.format,
                    });
                }
                let mut state = state;
                log::replay(path, &mut state)?;
                state
            }
            frame::Snapshot::Legacy(json) => {
                let mut state = legacy::read(path, json)?;
                log::replay_legacy(path, &mut state)?;
                state
            }
        };
        state.settle();
        Ok(Some(state))
    }

    /// A store kept in `path`, starting from `state` (which holds everything the file and its
    /// log held, when there was a file): the state is written at once and the log starts anew.
    pub fn with_file(path: PathBuf, mut state: FleetState) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        state.format = FORMAT;
        state.settle();
        let log = log::Log::start(&path, &state).map_err(io)?;
        Ok(Self {
            kept: Mutex::new(Kept {
                state,
                log: Some(log),
            }),
            path: Some(path),
            revision: AtomicU64::new(0),
        })
    }

    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The lock. A panic in a transaction leaves its changes behind; they are undone here.
    fn guard(&self) -> MutexGuard<'_, Kept> {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.state.has_changes() {
            kept.state.roll_back();
        }
        kept
    }

    /// The state, for reading.
    pub fn lock(&self) -> Reading<'_> {
        Reading(self.guard())
    }

    /// How many transactions changed the state; changes after every committed one.
    #[must_use]
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    /// Runs `change` on the state as one transaction: when it succeeds, the rows it changed are
    /// written to the log and only then kept; a failed change or a failed write is rolled back,
    /// so memory (and so the broker and every reader) is as it was. `failed` turns a failed
    /// write into `E`. A change that changes nothing writes nothing.
    pub fn transact<T, E>(
        &self,
        change: impl FnOnce(&mut FleetState) -> Result<T, E>,
        failed: impl FnOnce(StoreError) -> E,
    ) -> Result<T, E> {
        let mut guard = self.guard();
        let kept = &mut *guard;
        let had_ca = kept.state.ca.is_some();
        let roll_back = |state: &mut FleetState| {
            state.roll_back();
            if !had_ca {
                state.ca = None;
            }
        };
        let answer = match change(&mut kept.state) {
            Ok(answer) => answer,
            Err(error) => {
                roll_back(&mut kept.state);
                return Err(error);
            }
        };
        let new_ca = !had_ca && kept.state.ca.is_some();
        if !kept.state.has_changes() && !new_ca {
            return Ok(answer);
        }
        if let Some(log) = &mut kept.log
            && let Err(source) = log.append(&kept.state.changes(new_ca))
        {
            roll_back(&mut kept.state);
            return Err(failed(StoreError::Io {
                path: self.path.clone().unwrap_or_default(),
                source,
            }));
        }
        kept.state.commit();
        self.revision.fetch_add(1, Ordering::AcqRel);
        if let Some(log) = &mut kept.log
            && log.wants_compaction()
        {
            log.compact(&kept.state);
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thing(version: i64) -> ThingRecord {
        ThingRecord {
            id: "x".into(),
            version,
            ..ThingRecord::default()
        }
    }

    fn add(name: &'static str) -> impl FnOnce(&mut FleetState) -> Result<(), String> {
        move |state| {
            state.things.insert(name.into(), thing(1));
            Ok(())
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_corrupt_file_names_file_line_and_column_and_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let text = "{\"format\": 2,\n \"things\": {\n   \"pump-1\": {,}\n}}";
        std::fs::write(&path, text).unwrap();
        let error = Store::read_file(&path).unwrap_err().to_string();
        assert!(
            error.contains(&path.display().to_string()) && error.contains("line 3"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn state_and_log_round_trip_through_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/fleet.json");
        let mut state = FleetState::default();
        state.things.insert("pump-1".into(), thing(1));
        let store = Store::with_file(path.clone(), state).unwrap();
        store.transact(add("pump-2"), |e| e.to_string()).unwrap();
        store
            .transact(
                |state| {
                    state.things.remove("pump-1");
                    state.things.get_mut("pump-2").unwrap().version = 7;
                    Ok::<_, String>(())
                },
                |e| e.to_string(),
            )
            .unwrap();
        let read = Store::read_file(&path).unwrap().unwrap();
        assert_eq!(read, *store.lock());
        assert_eq!(read.seq, 2);
        assert_eq!(read.things.keys().collect::<Vec<_>>(), ["pump-2"]);
        assert_eq!(read.things["pump-2"].version, 7);
        assert_eq!(
            files(path.parent().unwrap()),
            ["fleet.json", "fleet.json.log-00000000000000000001"],
            "no temporary file left"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600, "it holds the CA's and devices' keys");
            let segment = path.with_file_name("fleet.json.log-00000000000000000001");
            assert_eq!(mode(&segment), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
    }

    #[test]
    fn a_change_whose_write_fails_is_neither_in_memory_nor_in_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let store = Store::with_file(path.clone(), FleetState::default()).unwrap();
        store.transact(add("pump-1"), |e| e.to_string()).unwrap();
        store.guard().log.as_mut().unwrap().tear_next_write = true;
        let failed = store.transact(add("pump-2"), |e| e.to_string());
        assert!(failed.is_err());
        assert!(!store.lock().things.contains_key("pump-2"), "rolled back");
        assert_eq!(store.lock().seq, 1);
        // The half-written line was cut off: the next change lands on a clean line.
        store.transact(add("pump-3"), |e| e.to_string()).unwrap();
        let read = Store::read_file(&path).unwrap().unwrap();
        assert_eq!(read.things.keys().collect::<Vec<_>>(), ["pump-1", "pump-3"]);
        // A refused change changes nothing either, and writes nothing.
        let refused = store.transact(
            |state| {
                state.things.remove("pump-1");
                Err::<(), String>("refused".into())
            },
            |e| e.to_string(),
        );
        assert_eq!(refused, Err("refused".to_owned()));
        assert!(store.lock().things.contains_key("pump-1"));
        assert_eq!(Store::read_file(&path).unwrap().unwrap(), *store.lock());
    }

    #[test]
    fn a_panicking_change_is_rolled_back() {
        let store = Store::in_memory(FleetState::default());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.transact::<(), String>(
                |state| {
                    state.things.insert("pump-1".into(), thing(1));
                    panic!("mid-change");
                },
                |e| e.to_string(),
            )
        }));
        assert!(panicked.is_err());
        assert!(store.lock().things.is_empty());
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_ignored_and_any_other_bad_line_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let store = Store::with_file(path.clone(), FleetState::default()).unwrap();
        store.transact(add("pump-1"), |e| e.to_string()).unwrap();
        let segment = path.with_file_name("fleet.json.log-00000000000000000001");
        let whole = std::fs::read_to_string(&segment).unwrap();
        std::fs::write(&segment, format!("{whole}{{\"seq\":2,\"things\":[[\"pu")).unwrap();
        let read = Store::read_file(&path).unwrap().unwrap();
        assert_eq!(read.things.keys().collect::<Vec<_>>(), ["pump-1"]);

        std::fs::write(&segment, format!("{{\"seq\":1,,}}\n{whole}")).unwrap();
        let error = Store::read_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("fleet.json.log-00000000000000000001") && error.contains("line 1"),
            "{error}"
        );
    }

    #[test]
    fn compaction_keeps_every_change_whenever_it_is_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let store = Store::with_file(path.clone(), FleetState::default()).unwrap();
        store.transact(add("pump-1"), |e| e.to_string()).unwrap();
        let first = path.with_file_name("fleet.json.log-00000000000000000001");
        let kept_segment = std::fs::read(&first).unwrap();
        {
            let mut guard = store.guard();
            let kept = &mut *guard;
            let log = kept.log.as_mut().unwrap();
            log.compact(&kept.state);
        }
        store.transact(add("pump-2"), |e| e.to_string()).unwrap();
        // Wait for the snapshot (dropping the log joins it).
        let state = store.lock().clone();
        drop(store);
        assert_eq!(
            files(dir.path()),
            ["fleet.json", "fleet.json.log-00000000000000000002"],
            "the older segment is gone"
        );
        assert_eq!(Store::read_file(&path).unwrap().unwrap(), state);
        // A crash between the snapshot and the deletion: the old segment is still there, and
        // its lines are older than the snapshot.
        std::fs::write(&first, kept_segment).unwrap();
        assert_eq!(Store::read_file(&path).unwrap().unwrap(), state);
        // A missing segment is refused, not skipped over.
        std::fs::remove_file(&first).unwrap();
        let mut old = state.clone();
        old.seq = 0;
        log::write_snapshot(&path, &old).unwrap();
        assert!(matches!(
            Store::read_file(&path),
            Err(StoreError::MissingSegment { after: 0, .. })
        ));
    }

    #[test]
    fn an_unknown_or_missing_field_is_refused_with_its_path_even_when_it_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let store = Store::with_file(path.clone(), FleetState::default()).unwrap();
        store.transact(add("pump-1"), |e| e.to_string()).unwrap();
        drop(store);
        let segment = path.with_file_name("fleet.json.log-00000000000000000001");
        let line = std::fs::read_to_string(&segment).unwrap();
        let json = &line[9..line.len() - 1];
        // Rewritten with a valid checksum: only strict decoding can tell.
        let renamed = json.replace("\"things\"", "\"thinks\"");
        std::fs::write(&segment, frame::line(renamed.as_bytes())).unwrap();
        let error = Store::read_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("line 1") && error.contains("unknown field `thinks`"),
            "{error}"
        );
        let missing = json.replace("\"thing_type\":null,", "");
        std::fs::write(&segment, frame::line(missing.as_bytes())).unwrap();
        let error = Store::read_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("things[0]") && error.contains("missing field `thing_type`"),
            "{error}"
        );
        // In the snapshot: the field's path.
        std::fs::write(&segment, line).unwrap();
        let state = serde_json::to_string(&Store::read_file(&path).unwrap().unwrap()).unwrap();
        let extra = state.replacen("\"version\":1,", "\"version\":1,\"colour\":\"red\",", 1);
        std::fs::write(&path, frame::snapshot(extra.as_bytes())).unwrap();
        let error = Store::read_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("line 2")
                && error.contains("things.pump-1")
                && error.contains("unknown field `colour`"),
            "{error}"
        );
    }

    #[test]
    fn a_format_2_file_and_its_log_are_read_then_rewritten_as_format_3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let text = r#"{"format":2,"seq":1,"account":"123456789012","ca":null,
            "things":{"pump-1":{"id":"t","thing_type":null,"attributes":{},"version":1,
                "principals":[],"groups":[],"shadows":{"classic":null,"named":{},"deleted_versions":{}}}},
            "thing_types":{},"thing_groups":{},"certificates":{},"policies":{}}"#;
        std::fs::write(&path, text).unwrap();
        let segment = path.with_file_name("fleet.json.log-00000000000000000002");
        let line = r#"{"seq":2,"things":[["pump-2",{"id":"u","thing_type":null,"attributes":{},"version":1,"principals":[],"shadows":{"classic":null,"named":{},"deleted_versions":{}}}]]}"#;
        std::fs::write(&segment, format!("{line}\n{{\"seq\":3,\"thi")).unwrap();
        let state = Store::read_file(&path).unwrap().unwrap();
        assert_eq!(
            state.seq, 2,
            "the torn last line of an old log is still skipped"
        );
        assert_eq!(
            state.things.keys().collect::<Vec<_>>(),
            ["pump-1", "pump-2"]
        );
        let mut state = state;
        state.format = FORMAT;
        Store::with_file(path.clone(), state.clone()).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("{\"format\":3,\"crc32\"")
        );
        assert_eq!(Store::read_file(&path).unwrap().unwrap(), state);
        assert!(!segment.exists(), "the old log is gone once rewritten");

        // An old file with a table renamed is refused, not read as an empty fleet.
        std::fs::write(&path, text.replace("\"things\"", "\"thinks\"")).unwrap();
        let error = Store::read_file(&path).unwrap_err().to_string();
        assert!(error.contains("unknown field `thinks`"), "{error}");
    }

    #[test]
    fn the_segments_form_a_chain_and_a_missing_or_unlinked_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let empty = FleetState {
            format: FORMAT,
            ..FleetState::default()
        };
        log::write_snapshot(&path, &empty).unwrap();
        let row = serde_json::to_string(&thing(1)).unwrap();
        let line = |seq: u64, name: &str| {
            frame::line(format!(r#"{{"seq":{seq},"things":[["{name}",{row}]]}}"#).as_bytes())
        };
        let segment = |n: u64| path.with_file_name(format!("fleet.json.log-{n:020}"));
        let mut first = line(1, "pump-1");
        first.extend(frame::line(br#"{"next":2}"#));
        std::fs::write(segment(1), &first).unwrap();
        std::fs::write(segment(2), line(2, "pump-2")).unwrap();
        let state = Store::read_file(&path).unwrap().unwrap();
        assert_eq!(
            state.things.keys().collect::<Vec<_>>(),
            ["pump-1", "pump-2"]
        );

        // The newest segment, named by the one before it, deleted.
        std::fs::remove_file(segment(2)).unwrap();
        assert!(matches!(
            Store::read_file(&path),
            Err(StoreError::MissingSegment { after: 1, .. })
        ));
        // A segment that nothing leads to (its predecessor's end line lost).
        std::fs::write(segment(1), line(1, "pump-1")).unwrap();
        std::fs::write(segment(2), line(2, "pump-2")).unwrap();
        let error = Store::read_file(&path).unwrap_err().to_string();
        assert!(error.contains("the log ends before it"), "{error}");
        // An empty one is a segment begun just before a crash: nothing was in it.
        std::fs::write(segment(2), "").unwrap();
        assert_eq!(Store::read_file(&path).unwrap().unwrap().seq, 1);
    }

    #[test]
    fn a_format_1_file_keeps_its_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let text = r#"{"format": 1,
            "things": {"pump-1": {"id": "t", "thing_type": null, "attributes": {}, "version": 1,
                "principals": [], "shadows": {"classic": null, "named": {}, "deleted_versions": {}}}},
            "thing_groups": {"site-a": {"id": "g", "created": 0, "things": ["pump-1"]}},
            "certificates": {"c1": {"pem": "", "status": "ACTIVE", "created": 0, "last_modified": 0,
                "ca_certificate_id": null, "private_key_pem": null}},
            "policies": {"p": {"versions": {"1": {"document": "{}", "created": 0}},
                "default_version": 1, "next_version": 2, "created": 0, "last_modified": 0,
                "targets": ["arn:aws:iot:eu-west-1:000000000000:cert/c1",
                            "arn:aws:iot:eu-west-1:000000000000:thinggroup/site-a"]}}}"#;
        std::fs::write(&path, text).unwrap();
        let state = Store::read_file(&path).unwrap().unwrap();
        assert_eq!(
            state.things["pump-1"].groups,
            BTreeSet::from(["site-a".into()])
        );
        assert_eq!(
            state.certificates["c1"].policies,
            BTreeSet::from(["p".into()])
        );
        assert_eq!(
            state.thing_groups["site-a"].policies,
            BTreeSet::from(["p".into()])
        );
        Store::with_file(path.clone(), state.clone()).unwrap();
        let again = Store::read_file(&path).unwrap().unwrap();
        assert_eq!(again.format, FORMAT);
        assert_eq!(
            again.certificates["c1"].policies,
            state.certificates["c1"].policies
        );
    }

    #[test]
    fn a_file_of_another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        std::fs::write(&path, r#"{"format": 99}"#).unwrap();
        assert!(matches!(
            Store::read_file(&path),
            Err(StoreError::Format { found: 99, .. })
        ));
    }
}
