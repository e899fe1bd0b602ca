//! The local fleet's state and its file: one JSON document, written atomically (temporary file
//! and rename) after each mutation, refused with file, line and column when corrupt (the file is
//! then left untouched, never reset).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::ca::LocalCa;
use super::shadow::ShadowRecord;

/// The version of the state file's layout.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FleetState {
    pub format: u32,
    pub ca: Option<LocalCa>,
    pub things: BTreeMap<String, ThingRecord>,
    pub thing_types: BTreeMap<String, NamedRecord>,
    pub thing_groups: BTreeMap<String, GroupRecord>,
    pub certificates: BTreeMap<String, CertificateRecord>,
    pub policies: BTreeMap<String, PolicyRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThingRecord {
    pub id: String,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
    /// Principal ARNs (certificates) attached to the Thing.
    pub principals: BTreeSet<String>,
    pub shadows: ThingShadows,
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
    pub things: BTreeSet<String>,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub versions: BTreeMap<u32, PolicyVersionRecord>,
    pub default_version: u32,
    pub next_version: u32,
    pub created: i64,
    pub last_modified: i64,
    /// Target ARNs (certificates, Thing groups) the policy is attached to.
    pub targets: BTreeSet<String>,
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
            targets: BTreeSet::new(),
        }
    }

    #[must_use]
    pub fn default_document(&self) -> &str {
        self.versions
            .get(&self.default_version)
            .map_or("", |v| v.document.as_str())
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
        "local state file {path} has format {found}, this iotfleet reads format {FORMAT}; move it away to start a fresh demo fleet"
    )]
    Format { path: PathBuf, found: u32 },
    #[error("local state file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The state behind a lock, and where it is kept (None: in memory only, for tests).
#[derive(Debug)]
pub struct Store {
    state: Mutex<FleetState>,
    path: Option<PathBuf>,
    /// Counts writes, so caches of derived facts (the broker's policy decisions) know when
    /// they are stale.
    revision: AtomicU64,
}

impl Store {
    #[must_use]
    pub fn in_memory(state: FleetState) -> Self {
        Self {
            state: Mutex::new(state),
            path: None,
            revision: AtomicU64::new(0),
        }
    }

    /// Opens the state file. Returns None for the state when there is no file yet.
    pub fn read_file(path: &Path) -> Result<Option<FleetState>, StoreError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let state: FleetState = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        })?;
        if state.format != FORMAT {
            return Err(StoreError::Format {
                path: path.to_owned(),
                found: state.format,
            });
        }
        Ok(Some(state))
    }

    /// A store kept in `path`, starting from `state`, which is written at once.
    pub fn with_file(path: PathBuf, state: FleetState) -> Result<Self, StoreError> {
        let store = Self {
            state: Mutex::new(state),
            path: Some(path),
            revision: AtomicU64::new(0),
        };
        store.persist(&store.lock())?;
        Ok(store)
    }

    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The state, for reading. A panic while the lock was held leaves the state as it was.
    pub fn lock(&self) -> MutexGuard<'_, FleetState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many times the state was written; changes after every mutation.
    #[must_use]
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    /// Runs `change` on a copy of the state; when it succeeds, the copy is written to the file and
    /// only then becomes the state, so a failed change or a failed write leaves memory (and so
    /// the broker and every reader) as it was. `failed` turns a failed write into `E`.
    pub fn transact<T, E>(
        &self,
        change: impl FnOnce(&mut FleetState) -> Result<T, E>,
        failed: impl FnOnce(StoreError) -> E,
    ) -> Result<T, E> {
        let mut state = self.lock();
        let mut next = state.clone();
        let answer = change(&mut next)?;
        self.persist(&next).map_err(failed)?;
        *state = next;
        Ok(answer)
    }

    /// Writes the state to its file atomically; nothing to do in memory.
    pub fn persist(&self, state: &FleetState) -> Result<(), StoreError> {
        self.revision.fetch_add(1, Ordering::AcqRel);
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Private: the state file holds the local CA's key and every device's key.
            crate::config::paths::create_private_dir_all(parent).map_err(io)?;
        }
        let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(true).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(io)?;
        let json = serde_json::to_vec(state).map_err(|e| io(std::io::Error::other(e)))?;
        file.write_all(&json)
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_file_names_file_line_and_column_and_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let text = "{\"format\": 1,\n \"things\": {\n   \"pump-1\": {,}\n}}";
        std::fs::write(&path, text).unwrap();
        let error = Store::read_file(&path).unwrap_err().to_string();
        assert!(
            error.contains(&path.display().to_string()) && error.contains("line 3"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/fleet.json");
        let mut state = FleetState {
            format: FORMAT,
            ..FleetState::default()
        };
        state.things.insert(
            "pump-1".into(),
            ThingRecord {
                id: "x".into(),
                version: 1,
                ..ThingRecord::default()
            },
        );
        Store::with_file(path.clone(), state.clone()).unwrap();
        assert_eq!(Store::read_file(&path).unwrap(), Some(state));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600, "it holds the CA's and devices' keys");
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn a_change_whose_write_fails_is_not_kept_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        let store = Store::with_file(path.clone(), FleetState::default()).unwrap();
        let add = |state: &mut FleetState| {
            state.things.insert("pump-1".into(), ThingRecord::default());
            Ok::<(), String>(())
        };
        // The file's place taken by a folder: the write fails.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let failed = store.transact(add, |e| e.to_string());
        assert!(failed.is_err());
        assert!(store.lock().things.is_empty(), "not applied in memory");
        std::fs::remove_dir(&path).unwrap();
        store.transact(add, |e| e.to_string()).unwrap();
        assert!(store.lock().things.contains_key("pump-1"));
        // A refused change changes nothing either.
        let refused = store.transact(
            |state| {
                state.things.clear();
                Err::<(), String>("refused".into())
            },
            |e| e.to_string(),
        );
        assert_eq!(refused, Err("refused".to_owned()));
        assert!(store.lock().things.contains_key("pump-1"));
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
