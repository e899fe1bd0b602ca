//! The audit journal: one JSON line per mutation (time, identity, actor, backend, account,
//! action, target, before, after, result) appended to `$XDG_STATE_HOME/iotfleet/journal.jsonl`
//! and synced before the mutation is reported done. Records are keyed by backend and AWS
//! account (a local fleet's own account too), so a release in one account or fleet never
//! replays another's. Written through `fleet::mutation`.

use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use super::model::BackendInfo;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Who acted: the local user, and the AWS profile or client certificate used.
    pub identity: String,
    /// Who the service knows acted: the caller's ARN (STS GetCallerIdentity), absent where
    /// there is none (MQTT-only entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Where: "local", or the AWS region and endpoint.
    pub backend: String,
    /// The AWS account (STS GetCallerIdentity); absent for the local core and MQTT-only entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub action: String,
    pub target: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    /// "ok", or the error.
    pub result: String,
}

/// The journal's default place.
#[must_use]
pub fn default_path() -> Option<PathBuf> {
    crate::config::paths::state_dir().map(|dir| dir.join("journal.jsonl"))
}

/// Appends one entry to `path`, else to the default journal; an error when there is neither.
pub fn record(path: Option<&Path>, entry: &Entry) -> std::io::Result<()> {
    match path {
        Some(path) => append(path, entry),
        None => append(
            &default_path().ok_or_else(|| std::io::Error::other("no state directory"))?,
            entry,
        ),
    }
}

/// Appends one entry and syncs it to disk. When the file does not end with a newline (a torn
/// last write: a crash, a full disk), the entry begins on a fresh line, so the torn line is the
/// only one lost.
pub fn append(path: &Path, entry: &Entry) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::config::paths::create_private_dir_all(parent)?;
    }
    let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true).read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let length = file.metadata()?.len();
    if length > 0 {
        let mut last = [0u8; 1];
        file.seek(std::io::SeekFrom::Start(length - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
    }
    file.write_all(&line)?;
    file.sync_data()
}

/// A journal bound to one backend and account: who acts, where, and the file.
#[derive(Debug, Clone)]
pub struct Journal {
    path: Option<PathBuf>,
    identity: String,
    actor: Option<String>,
    backend: String,
    account: Option<String>,
    /// The entries as read once by [`Journal::read_once`], by target, in order.
    copy: Option<std::sync::Arc<Vec<serde_json::Value>>>,
}

impl Journal {
    /// `path` None means the default journal; `account` is the AWS account the credentials
    /// belong to (a local fleet's own).
    #[must_use]
    pub fn new(path: Option<PathBuf>, backend: &BackendInfo, account: Option<String>) -> Self {
        Self {
            path,
            account,
            actor: None,
            identity: match &backend.profile {
                Some(profile) => format!("{} (profile {profile})", local_user()),
                None => local_user(),
            },
            backend: if backend.local {
                "local".to_owned()
            } else {
                match &backend.endpoint_url {
                    Some(url) => format!("aws {} {url}", backend.region),
                    None => format!("aws {}", backend.region),
                }
            },
            copy: None,
        }
    }

    /// A journal for MQTT-only mutations (a publish with a client certificate has no AWS
    /// account to name): `backend` names the broker.
    #[must_use]
    pub fn for_mqtt(path: Option<PathBuf>, identity: String, backend: String) -> Self {
        Self {
            path,
            identity,
            actor: None,
            backend,
            account: None,
            copy: None,
        }
    }

    /// This journal with its entries read once, now: a reader that asks about many targets (a
    /// batch release, Thing by Thing) reads the file once, not once per target. Entries written
    /// after this are not in the copy; writing through it still appends to the file.
    pub fn read_once(&self) -> std::io::Result<Self> {
        let entries = self.entries(None)?;
        Ok(Self {
            copy: Some(std::sync::Arc::new(entries)),
            ..self.clone()
        })
    }

    /// This journal, recording `actor` (the caller's ARN) as who acted in each entry.
    #[must_use]
    pub fn with_actor(self, actor: String) -> Self {
        Self {
            actor: Some(actor),
            ..self
        }
    }

    /// Where entries go: "local", or "aws REGION [ENDPOINT]".
    #[must_use]
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// Appends one entry stamped now, with this journal's identity and backend.
    pub fn write(
        &self,
        action: &str,
        target: &str,
        before: serde_json::Value,
        after: serde_json::Value,
        result: &str,
    ) -> std::io::Result<()> {
        let entry = Entry {
            time: OffsetDateTime::now_utc(),
            identity: self.identity.clone(),
            actor: self.actor.clone(),
            backend: self.backend.clone(),
            account: self.account.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            before,
            after,
            result: result.to_owned(),
        };
        record(self.path.as_deref(), &entry)
    }

    /// This backend's and account's entries about `target`, oldest first; no journal yet is no
    /// entries. A line that is not JSON (a torn last write) is skipped.
    pub fn entries_for(&self, target: &str) -> std::io::Result<Vec<serde_json::Value>> {
        self.entries(Some(target))
    }

    /// This backend's and account's entries, about `target` only when given, oldest first.
    pub fn entries(&self, target: Option<&str>) -> std::io::Result<Vec<serde_json::Value>> {
        if let Some(copy) = &self.copy {
            return Ok(copy
                .iter()
                .filter(|entry| target.is_none_or(|target| entry["target"] == target))
                .cloned()
                .collect());
        }
        let path = match &self.path {
            Some(path) => path.clone(),
            None => match default_path() {
                Some(path) => path,
                None => return Ok(Vec::new()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        Ok(text
            .lines()
            .filter(|line| target.is_none_or(|target| line.contains(target)))
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|entry| {
                target.is_none_or(|target| entry["target"] == target)
                    && entry["backend"] == self.backend.as_str()
                    && self.is_mine(entry["account"].as_str())
            })
            .collect())
    }

    /// Whether an entry of `account` is this journal's. A local fleet made before each had its
    /// own account keeps the one its ARNs name, and its entries from then have none.
    fn is_mine(&self, account: Option<&str>) -> bool {
        account == self.account.as_deref()
            || (self.backend == "local"
                && account.is_none()
                && self.account.as_deref() == Some(LEGACY_LOCAL_ACCOUNT))
    }
}

/// The account of every local fleet made before each had its own (its entries name none).
pub const LEGACY_LOCAL_ACCOUNT: &str = "123456789012";

/// The local user, for the identity field.
#[must_use]
pub fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn entries_are_appended_one_json_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/journal.jsonl");
        let entry = Entry {
            time: OffsetDateTime::UNIX_EPOCH,
            identity: "alice".into(),
            actor: None,
            backend: "local".into(),
            account: None,
            action: "publish".into(),
            target: "a/b".into(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"qos": 1}),
            result: "ok".into(),
        };
        append(&path, &entry).unwrap();
        append(&path, &entry).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["action"], "publish");
        assert_eq!(first["time"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn an_entry_after_a_torn_line_starts_a_fresh_one_and_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, r#"{"time":"2026-01-01T00:00:00Z","target":"pump"#).unwrap();
        let backend = BackendInfo {
            region: "us-east-1".into(),
            profile: None,
            endpoint_url: None,
            local: false,
        };
        let journal = Journal::new(Some(path.clone()), &backend, Some("111111111111".into()));
        journal
            .write(
                "quarantine plan",
                "pump-1",
                Value::Null,
                Value::Null,
                "planned",
            )
            .unwrap();
        let entries = journal.entries_for("pump-1").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["account"], "111111111111");
        // Another account's journal, same backend and Thing, sees none of it.
        let other = Journal::new(Some(path.clone()), &backend, Some("222222222222".into()));
        assert!(other.entries_for("pump-1").unwrap().is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let fresh = dir.path().join("new.jsonl");
            Journal::new(Some(fresh.clone()), &backend, None)
                .write("publish", "a/b", Value::Null, Value::Null, "ok")
                .unwrap();
            let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_copy_read_once_answers_as_the_file_did_then() {
        let dir = tempfile::tempdir().unwrap();
        let backend = BackendInfo {
            region: "us-east-1".into(),
            profile: None,
            endpoint_url: None,
            local: true,
        };
        let journal = Journal::new(Some(dir.path().join("journal.jsonl")), &backend, None);
        let write = |target: &str| {
            journal
                .write(
                    "quarantine plan",
                    target,
                    Value::Null,
                    Value::Null,
                    "planned",
                )
                .unwrap();
        };
        write("pump-1");
        write("pump-2");
        let copy = journal.read_once().unwrap();
        write("pump-1");
        assert_eq!(copy.entries_for("pump-1").unwrap().len(), 1);
        assert_eq!(copy.entries(None).unwrap().len(), 2);
        assert_eq!(journal.entries_for("pump-1").unwrap().len(), 2);
        assert_eq!(
            copy.entries_for("pump-2").unwrap(),
            journal.entries_for("pump-2").unwrap()
        );
    }
}
