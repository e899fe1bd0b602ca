//! The local fleet's state: tables of records (`table.rs`) kept in a snapshot file and a
//! write-ahead log beside it (`log.rs`). A change is made in a transaction that is written to
//! the log before anyone sees it; a file that cannot be read is refused with file, line and
//! column (and left untouched, never reset).

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

/// The version of the state file's layout. Format 1 (policies listing their targets, groups
/// their Things) is read and rewritten as format 2 (each side keeps its own links).
pub const FORMAT: u32 = 2;

/// The account id of a local fleet made before each fleet had its own (and moto's): such a
/// fleet keeps it, since its ARNs name it. A new fleet gets an id of its own
/// (`FleetState::account`).
pub const LEGACY_ACCOUNT: &str = "123456789012";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FleetState {
    pub format: u32,
    /// The last logged transaction this state holds.
    pub seq: u64,
    /// The fleet's AWS account id, made with it (`account()`: a fleet made before keeps the
    /// one its ARNs name).
    pub account: Option<String>,
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
pub struct ThingRecord {
    pub id: String,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
    /// Principal ARNs (certificates) attached to the Thing.
    pub principals: BTreeSet<String>,
    /// The Thing groups it belongs to.
    #[serde(default)]
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
pub struct ThingShadows {
    pub classic: Option<ShadowRecord>,
    pub named: BTreeMap<String, ShadowRecord>,
    /// Versions of deleted shadows by name ("" for the classic one): deleting does not reset them.
    pub deleted_versions: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRecord {
    pub id: String,
    pub created: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub id: String,
    pub created: i64,
    /// Names of the policies attached to the group.
    #[serde(default)]
    pub policies: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRecord {
    pub pem: String,
    pub status: String,
    pub created: i64,
    pub last_modified: i64,
    pub ca_certificate_id: Option<String>,
    /// The device's private key, for certificates the local CA issued (the simulator uses it).
    pub private_key_pem: Option<String>,
    /// Names of the policies attached to the certificate.
    #[serde(default)]
    pub policies: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct SecurityProfileRecord {
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
pub struct TopicRuleRecord {
    pub sql: String,
    pub topic_pattern: String,
    pub description: Option<String>,
    pub disabled: bool,
    pub sql_version: Option<String>,
    pub actions: Vec<serde_json::Value>,
    pub error_action: Option<serde_json::Value>,
    pub created: i64,
}

/// A recorded control-plane call (`trail.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        "local state file {path} is corrupt at line {line}, column {column}: {message}; it was left untouched: fix it, or move it away to start a fresh demo fleet"
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "local state file {path} has format {found}, this iotfleet reads formats 1 and {FORMAT}; move it away to start a fresh demo fleet"
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
            line,
            column: at.column,
            message: at.message,
        }
    }
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

    /// Reads the state file and replays its log. Returns None when there is no file yet.
    pub fn read_file(path: &Path) -> Result<Option<FleetState>, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
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
        let parse_error = |e: serde_json::Error| StoreError::corrupt(path, e.line(), &e);
        let mut state: FleetState = serde_json::from_str(&text).map_err(parse_error)?;
        match state.format {
            FORMAT => {}
            1 => {
                let links: format_1::Links = serde_json::from_str(&text).map_err(parse_error)?;
                links.apply(&mut state);
            }
            found => {
                return Err(StoreError::Format {
                    path: path.to_owned(),
                    found,
                });
            }
        }
        log::replay(path, &mut state)?;
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
        let bytes = log::write_snapshot(&path, &state).map_err(io)?;
        let log = log::Log::start(&path, state.seq, bytes).map_err(io)?;
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

/// Reading format 1, where a policy listed its targets and a group its Things.
mod format_1 {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::Deserialize;

    use super::FleetState;

    #[derive(Deserialize)]
    pub struct Links {
        #[serde(default)]
        thing_groups: BTreeMap<String, Group>,
        #[serde(default)]
        policies: BTreeMap<String, Policy>,
    }

    #[derive(Deserialize)]
    struct Group {
        #[serde(default)]
        things: BTreeSet<String>,
    }

    #[derive(Deserialize)]
    struct Policy {
        #[serde(default)]
        targets: BTreeSet<String>,
    }

    impl Links {
        pub fn apply(self, state: &mut FleetState) {
            for (group, members) in self.thing_groups {
                for thing in members.things {
                    if let Some(record) = state.things.get_mut(&thing) {
                        record.groups.insert(group.clone());
                    }
                }
            }
            for (policy, attached) in self.policies {
                for target in attached.targets {
                    if let Some(policies) = state.attached_policies_mut(&target) {
                        policies.insert(policy.clone());
                    }
                }
            }
        }
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
        std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        assert!(matches!(
            Store::read_file(&path),
            Err(StoreError::Gap {
                after: 0,
                found: 2,
                ..
            })
        ));
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
