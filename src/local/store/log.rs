//! The state file's write-ahead log: each transaction appends one line holding the rows it
//! changed and is acknowledged only once that line is on disk (`fdatasync`), so a mutation
//! costs the same with 100,000 Things as with 50. The log lives in segments beside the state
//! file (`FILE.log-SEQUENCE`, named by the first sequence number they may hold); when the
//! current segment outgrows the last snapshot, a new segment is started and a snapshot of the
//! state is written in the background, after which the older segments are deleted.
//!
//! Crash safety: the snapshot names the last sequence number it holds, and reading replays
//! only newer lines, so a crash at any step (mid-append, mid-snapshot, before the deletions)
//! reads back every acknowledged change exactly once. A line cut short by a crash was never
//! acknowledged and is ignored.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use super::super::ca::LocalCa;
use super::{
    CertificateRecord, FleetState, GroupRecord, NamedRecord, PolicyRecord, SecurityProfileRecord,
    StoreError, ThingRecord, TopicRuleRecord, TrailRecord,
};

/// A segment is compacted once it holds this much, or as much as the last snapshot if more:
/// writing snapshots thus costs at most about as much as writing the log.
const COMPACT_AT: u64 = 8 << 20;

/// One logged transaction: the rows it changed in each table, as they are after it (None:
/// removed). Generic so the same shape is written from borrowed rows and read into owned ones.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Record<K, Th, Ty, G, C, P, S, R, E, A> {
    pub seq: u64,
    /// The local CA, when the transaction made it (it is never replaced).
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub ca: Option<A>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub things: Vec<(K, Option<Th>)>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub thing_types: Vec<(K, Option<Ty>)>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub thing_groups: Vec<(K, Option<G>)>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<(K, Option<C>)>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<(K, Option<P>)>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub security_profiles: Vec<(K, Option<S>)>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub topic_rules: Vec<(K, Option<R>)>,
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub trail: Vec<(K, Option<E>)>,
}

pub(super) type Written<'a> = Record<
    &'a str,
    &'a ThingRecord,
    &'a NamedRecord,
    &'a GroupRecord,
    &'a CertificateRecord,
    &'a PolicyRecord,
    &'a SecurityProfileRecord,
    &'a TopicRuleRecord,
    &'a TrailRecord,
    &'a LocalCa,
>;

pub(super) type Logged = Record<
    String,
    ThingRecord,
    NamedRecord,
    GroupRecord,
    CertificateRecord,
    PolicyRecord,
    SecurityProfileRecord,
    TopicRuleRecord,
    TrailRecord,
    LocalCa,
>;

/// The log being written: its current segment, and the background snapshot.
#[derive(Debug)]
pub(super) struct Log {
    state_file: PathBuf,
    segment: File,
    /// Bytes of the current segment known to be whole lines.
    written: u64,
    /// Why no more can be written, after a failed write could not be cut back.
    broken: Option<String>,
    /// The size of the last snapshot; compaction waits until the log outgrows it.
    snapshot_bytes: Arc<AtomicU64>,
    /// Compact once `written` reaches this (raised after a failed compaction).
    compact_at: u64,
    compaction: Option<JoinHandle<()>>,
    /// Test hook: the next append writes half its line, then fails.
    #[cfg(test)]
    pub tear_next_write: bool,
}

impl Log {
    /// Starts the log of a state file whose snapshot (of `bytes` bytes) holds everything so
    /// far: older segments are deleted and a new one begins after `seq`.
    pub fn start(state_file: &Path, seq: u64, bytes: u64) -> std::io::Result<Self> {
        let segment = open_segment(&segment_path(state_file, seq + 1))?;
        for (start, path) in segments(state_file)? {
            if start <= seq {
                std::fs::remove_file(path)?;
            }
        }
        sync_parent(state_file)?;
        Ok(Self {
            state_file: state_file.to_owned(),
            segment,
            written: 0,
            broken: None,
            snapshot_bytes: Arc::new(AtomicU64::new(bytes)),
            compact_at: COMPACT_AT.max(bytes),
            compaction: None,
            #[cfg(test)]
            tear_next_write: false,
        })
    }

    /// Appends one transaction and waits until it is on disk. A failed write is cut back off the
    /// segment, so the log never holds a change its caller was told failed.
    pub fn append(&mut self, record: &Written<'_>) -> std::io::Result<()> {
        if let Some(reason) = &self.broken {
            return Err(std::io::Error::other(reason.clone()));
        }
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        match self.write(&line) {
            Ok(()) => {
                self.written += line.len() as u64;
                Ok(())
            }
            Err(error) => {
                let cut = self
                    .segment
                    .set_len(self.written)
                    .and_then(|()| self.segment.sync_data());
                if let Err(cut) = cut {
                    self.broken = Some(format!(
                        "the state log beside {} could not be cut back after a failed write ({cut}); restart the local core",
                        self.state_file.display()
                    ));
                }
                Err(error)
            }
        }
    }

    fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if std::mem::take(&mut self.tear_next_write) {
            self.segment.write_all(&line[..line.len() / 2])?;
            return Err(std::io::Error::other("torn write (test)"));
        }
        self.segment.write_all(line)?;
        self.segment.sync_data()
    }

    /// Whether the current segment has grown enough to be compacted, and no compaction runs.
    pub fn wants_compaction(&self) -> bool {
        let threshold = self
            .compact_at
            .max(self.snapshot_bytes.load(Ordering::Relaxed));
        self.written >= threshold && self.compaction.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Starts a new segment after `state.seq` and writes a snapshot of `state` in the
    /// background, which then deletes the older segments. The copy of the state is the only
    /// cost paid under the caller's lock. Failures are logged and retried at twice the size.
    pub fn compact(&mut self, state: &FleetState) {
        if let Some(previous) = self.compaction.take() {
            let _ = previous.join();
        }
        let start = state.seq + 1;
        let segment = open_segment(&segment_path(&self.state_file, start))
            .and_then(|segment| sync_parent(&self.state_file).map(|()| segment));
        let segment = match segment {
            Ok(segment) => segment,
            Err(error) => {
                tracing::error!(%error, "cannot start a new segment of the state log; compaction postponed");
                self.compact_at = self.written.saturating_mul(2);
                return;
            }
        };
        self.segment = segment;
        self.written = 0;
        let snapshot = state.clone();
        let state_file = self.state_file.clone();
        let snapshot_bytes = self.snapshot_bytes.clone();
        self.compaction = Some(std::thread::spawn(move || {
            let written = write_snapshot(&state_file, &snapshot).and_then(|bytes| {
                snapshot_bytes.store(bytes, Ordering::Relaxed);
                for (older, path) in segments(&state_file)? {
                    if older < start {
                        std::fs::remove_file(path)?;
                    }
                }
                sync_parent(&state_file)
            });
            if let Err(error) = written {
                tracing::error!(%error, file = %state_file.display(), "cannot compact the local state log; its segments are kept and replayed");
            }
        }));
    }
}

impl Drop for Log {
    /// Waits for a snapshot being written, so a later core on the same file never sees an
    /// older snapshot land after its own.
    fn drop(&mut self) {
        if let Some(compaction) = self.compaction.take() {
            let _ = compaction.join();
        }
    }
}

/// Replays onto `state` every logged transaction newer than it, segment by segment. A last
/// line cut short (a crash while writing it, so never acknowledged) is ignored; any other
/// unreadable line is an error naming the segment, line and column.
pub(super) fn replay(state_file: &Path, state: &mut FleetState) -> Result<(), StoreError> {
    let all = segments(state_file).map_err(|source| StoreError::Io {
        path: state_file.to_owned(),
        source,
    })?;
    let count = all.len();
    for (index, (_, path)) in all.into_iter().enumerate() {
        let text = std::fs::read_to_string(&path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        let last_segment = index + 1 == count;
        let mut lines = text.split_inclusive('\n').enumerate().peekable();
        while let Some((number, line)) = lines.next() {
            let last_line = last_segment && lines.peek().is_none();
            if !line.ends_with('\n') && last_line {
                break;
            }
            let record: Logged = match serde_json::from_str(line) {
                Ok(record) => record,
                Err(_) if last_line => break,
                Err(error) => return Err(StoreError::corrupt(&path, number + 1, &error)),
            };
            if record.seq <= state.seq {
                continue;
            }
            if record.seq != state.seq + 1 {
                return Err(StoreError::Gap {
                    path,
                    after: state.seq,
                    found: record.seq,
                });
            }
            state.replay(record);
        }
    }
    Ok(())
}

/// Whether any log segment lies beside the state file.
pub(super) fn has_segments(state_file: &Path) -> std::io::Result<bool> {
    Ok(!segments(state_file)?.is_empty())
}

/// Writes the whole state to its file atomically (temporary file, `fsync`, rename, `fsync` of
/// the folder); returns its size.
pub(super) fn write_snapshot(state_file: &Path, state: &FleetState) -> std::io::Result<u64> {
    if let Some(parent) = state_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Private: the state file holds the local CA's key and every device's key.
        crate::config::paths::create_private_dir_all(parent)?;
    }
    let temporary = state_file.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = private_file(&temporary, true)?;
    let json = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    file.write_all(&json).and_then(|()| file.sync_all())?;
    std::fs::rename(&temporary, state_file)?;
    sync_parent(state_file)?;
    Ok(json.len() as u64)
}

fn segment_path(state_file: &Path, start: u64) -> PathBuf {
    let mut name = state_file.file_name().unwrap_or_default().to_owned();
    name.push(format!(".log-{start:020}"));
    state_file.with_file_name(name)
}

/// The log segments beside the state file, by first sequence number.
fn segments(state_file: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let Some(name) = state_file.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{name}.log-");
    let folder = match state_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => parent.to_owned(),
        None => PathBuf::from("."),
    };
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let start = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(start) = start {
            found.push((start, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

fn open_segment(path: &Path) -> std::io::Result<File> {
    private_file(path, false)
}

/// A file only its owner can read (0600): for writing from the start (`truncate`) or appending.
fn private_file(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    if truncate {
        options.write(true).truncate(true);
    } else {
        options.append(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes renames, creations and deletions in the state file's folder durable.
fn sync_parent(state_file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(parent) = state_file.parent() {
        let folder = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        File::open(folder)?.sync_all()?;
    }
    Ok(())
}
