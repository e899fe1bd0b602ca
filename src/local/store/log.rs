//! The state file's write-ahead log: each transaction appends one line holding the rows it
//! changed and is acknowledged only once that line is on disk (`fdatasync`), so a mutation
//! costs the same with 100,000 Things as with 50. The log lives in segments beside the state
//! file (`FILE.log-SEQUENCE`, named by the first sequence number they may hold); when the
//! current segment outgrows the last snapshot, a new segment is started and a snapshot of the
//! state is written in the background, after which the older segments are deleted.
//!
//! Crash safety: the snapshot names the last sequence number it holds, and reading replays
//! only newer lines, so a crash at any step (mid-append, mid-snapshot, before the deletions)
//! reads back every acknowledged change exactly once. A final line cut short by a crash (no
//! newline) was never acknowledged and is ignored; nothing else is.
//!
//! The live segments form a chain, so that a missing one is noticed wherever it was: a
//! snapshot holding transactions up to S is continued by segment S+1, which exists before the
//! snapshot is written; a segment that was followed by another ends with the line
//! `{"next":N}`, written before anything goes into segment N. Reading follows the chain from
//! the snapshot; a missing link is refused, and so is a segment with lines that nothing leads
//! to.

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
    StoreError, ThingRecord, TopicRuleRecord, TrailRecord, decode_slice, frame, legacy,
};

/// A segment is compacted once it holds this much, or as much as the last snapshot if more:
/// writing snapshots thus costs at most about as much as writing the log.
const COMPACT_AT: u64 = 8 << 20;

/// One logged transaction: the rows it changed in each table, as they are after it (None:
/// removed). Generic so the same shape is written from borrowed rows and read into owned ones.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// The last line of a segment that another one follows: it names the next one.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    next: u64,
}

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
    /// Starts the log of `state` (which holds everything its file and log held): begins an
    /// empty segment after `state.seq`, writes the snapshot, then deletes the older segments.
    pub fn start(state_file: &Path, state: &FleetState) -> std::io::Result<Self> {
        create_folder(state_file)?;
        let segment = new_segment(state_file, state.seq + 1)?;
        let bytes = write_snapshot(state_file, state)?;
        for (start, path) in segments(state_file)? {
            if start <= state.seq {
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
        let json = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        self.append_line(&frame::line(&json))
    }

    /// Appends one framed line and waits until it is on disk, or cuts it back off.
    fn append_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        match self.write(line) {
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
        // The new segment exists before the old one names it, and is named before it is used.
        let end = serde_json::to_vec(&End { next: start }).map_err(std::io::Error::other);
        let segment = new_segment(&self.state_file, start).and_then(|segment| {
            self.append_line(&frame::line(&end?))?;
            Ok(segment)
        });
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

/// Replays onto `state` (a framed snapshot) its log: the chain of segments from the one after
/// it, every line checked. Only a final line cut short by a crash is skipped.
pub(super) fn replay(state_file: &Path, state: &mut FleetState) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    let mut start = state.seq + 1;
    loop {
        let path = segment_path(state_file, start);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::MissingSegment {
                    path,
                    after: state.seq,
                });
            }
            Err(source) => return Err(io(&path)(source)),
        };
        match replay_segment(&path, &bytes, state)? {
            Some(next) if next == state.seq + 1 => start = next,
            Some(next) => {
                return Err(StoreError::Gap {
                    path,
                    after: state.seq,
                    found: next,
                });
            }
            None => break,
        }
    }
    // A segment with lines past the chain's end: the chain was cut (an end line lost).
    for (later, path) in segments(state_file).map_err(io(state_file))? {
        let size = std::fs::metadata(&path).map_err(io(&path))?.len();
        if later > start && size > 0 {
            return Err(StoreError::Corrupt {
                path,
                at: "line 1".to_owned(),
                message: format!(
                    "this segment holds transactions, but the log ends before it (segment {})",
                    segment_path(state_file, start).display()
                ),
            });
        }
    }
    Ok(())
}

/// Replays one framed segment; returns the segment that follows it, if it names one.
fn replay_segment(
    path: &Path,
    bytes: &[u8],
    state: &mut FleetState,
) -> Result<Option<u64>, StoreError> {
    let damaged = |line: usize, message: String| StoreError::Corrupt {
        path: path.to_owned(),
        at: format!("line {line}"),
        message,
    };
    let mut next = None;
    for (index, raw) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let Some(body) = raw.strip_suffix(b"\n") else {
            // The final piece, without a newline: a line cut short by a crash, never
            // acknowledged. Kept only if it is whole and checks (only its newline was lost).
            if next.is_none()
                && let Ok(frame::Line::Framed(json)) = frame::open_line(raw)
                && let Ok(record) = decode_slice::<Logged>(json)
                && record.seq == state.seq + 1
            {
                state.replay(record);
            } else {
                tracing::warn!(segment = %path.display(), line = number, "ignoring the log's last line, cut short by a crash");
            }
            break;
        };
        if next.is_some() {
            return Err(damaged(
                number,
                "a line after the segment's end line".to_owned(),
            ));
        }
        let json = match frame::open_line(body) {
            Ok(frame::Line::Framed(json)) => json,
            Ok(frame::Line::Legacy(_)) => {
                return Err(damaged(
                    number,
                    "it has no checksum (8 hex digits and a space) before its JSON".to_owned(),
                ));
            }
            Err(what) => return Err(damaged(number, what)),
        };
        if json.starts_with(b"{\"next\":") {
            let end: End = decode_slice(json).map_err(|e| e.at(path, number))?;
            next = Some(end.next);
            continue;
        }
        let record: Logged = decode_slice(json).map_err(|e| e.at(path, number))?;
        apply(path, record, state)?;
    }
    Ok(next)
}

/// Applies a logged transaction if `state` does not hold it yet; a jump is refused.
fn apply(path: &Path, record: Logged, state: &mut FleetState) -> Result<(), StoreError> {
    if record.seq <= state.seq {
        return Ok(());
    }
    if record.seq != state.seq + 1 {
        return Err(StoreError::Gap {
            path: path.to_owned(),
            after: state.seq,
            found: record.seq,
        });
    }
    state.replay(record);
    Ok(())
}

/// Replays onto `state` (a file of format 1 or 2) the unframed lines of its log, segment by
/// segment, as they were read then: a last line that does not read was cut short by a crash
/// and is ignored; any other unreadable line is refused with its segment and line.
pub(super) fn replay_legacy(state_file: &Path, state: &mut FleetState) -> Result<(), StoreError> {
    let all = segments(state_file).map_err(|source| StoreError::Io {
        path: state_file.to_owned(),
        source,
    })?;
    let count = all.len();
    for (index, (_, path)) in all.into_iter().enumerate() {
        let bytes = std::fs::read(&path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        let last_segment = index + 1 == count;
        let mut lines = bytes
            .split_inclusive(|&b| b == b'\n')
            .enumerate()
            .peekable();
        while let Some((number, line)) = lines.next() {
            let last_line = last_segment && lines.peek().is_none();
            let Some(body) = line.strip_suffix(b"\n") else {
                break;
            };
            let record = match legacy_line(body) {
                Ok(record) => record,
                Err(_) if last_line => break,
                Err(error) => return Err(error.at(&path, number + 1)),
            };
            apply(&path, record, state)?;
        }
    }
    Ok(())
}

/// An unframed log line, decoded as its format wrote it.
fn legacy_line(body: &[u8]) -> Result<Logged, super::Undecodable> {
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| super::Undecodable {
            field: ".".to_owned(),
            position: Some((e.line(), e.column())),
            message: crate::json_error::JsonError::of(&e).message,
        })?;
    legacy::upgrade_line(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| super::Undecodable::of(&e, None))
}

/// Whether any log segment lies beside the state file.
pub(super) fn has_segments(state_file: &Path) -> std::io::Result<bool> {
    Ok(!segments(state_file)?.is_empty())
}

/// Writes the whole state to its file, framed, atomically (temporary file, `fsync`, rename, `fsync` of
/// the folder); returns its size.
pub(super) fn write_snapshot(state_file: &Path, state: &FleetState) -> std::io::Result<u64> {
    create_folder(state_file)?;
    let temporary = state_file.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = private_file(&temporary, true)?;
    let json = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    let framed = frame::snapshot(&json);
    file.write_all(&framed).and_then(|()| file.sync_all())?;
    std::fs::rename(&temporary, state_file)?;
    sync_parent(state_file)?;
    Ok(framed.len() as u64)
}

/// Creates the state file's folder, private: the state holds the local CA's key and every
/// device's key.
fn create_folder(state_file: &Path) -> std::io::Result<()> {
    match state_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => crate::config::paths::create_private_dir_all(parent),
        None => Ok(()),
    }
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

/// Begins segment `start`, empty (anything in it was never acknowledged: the state it follows
/// holds everything before it), and makes it durable.
fn new_segment(state_file: &Path, start: u64) -> std::io::Result<File> {
    let path = segment_path(state_file, start);
    private_file(&path, true)?;
    let segment = private_file(&path, false)?;
    sync_parent(state_file)?;
    Ok(segment)
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
