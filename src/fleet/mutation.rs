//! The one path every mutation takes (publish, shadow update and delete, quarantine, release),
//! in this order: refuse under read-only; journal the intent with the state before (nothing is
//! called when that write fails); make the call; journal the outcome. The CLI and the console
//! both come through here. Journal writes are synced file I/O: the console calls this from its
//! tasks, never from its event loop.

use std::future::Future;
use std::path::PathBuf;

use serde_json::Value;

use super::journal::Journal;
use super::{FleetClient, FleetError};

#[derive(Debug, thiserror::Error)]
pub enum MutationError {
    #[error("refused by --read-only: {0}")]
    ReadOnly(String),
    #[error("the journal could not be written, so nothing was changed: {0}")]
    Unjournaled(std::io::Error),
    #[error(transparent)]
    Fleet(#[from] FleetError),
    #[error("{done}, but the journal could not record it: {error}")]
    OutcomeUnjournaled { done: String, error: std::io::Error },
}

impl MutationError {
    /// The process exit code: 5 refused by read-only, else as the service's error, else 1.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::ReadOnly(_) => 5,
            Self::Fleet(error) => error.exit_code(),
            Self::Unjournaled(_) | Self::OutcomeUnjournaled { .. } => 1,
        }
    }
}

/// The journal of `client`'s backend and AWS account (a local fleet's own), recording the
/// caller's ARN as the actor (both asked of STS once), at `path` (None: the default journal).
pub async fn journal_for(
    path: Option<PathBuf>,
    client: &FleetClient,
) -> Result<Journal, FleetError> {
    let caller = client.caller().await?;
    Ok(Journal::new(path, client.backend(), Some(caller.account)).with_actor(caller.arn))
}

/// One change as the journal records its intent: `what` says, for a read-only refusal, what
/// would have changed; `action` and `target` key the entries; `before` is the state before and
/// `intended` what is about to be done.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub what: String,
    pub action: &'a str,
    pub target: &'a str,
    pub before: Value,
    pub intended: Value,
}

/// Where mutations are checked and journaled.
#[derive(Debug, Clone)]
pub struct Mutations {
    read_only: bool,
    journal: Journal,
}

impl Mutations {
    #[must_use]
    pub fn new(read_only: bool, journal: Journal) -> Self {
        Self { read_only, journal }
    }

    /// Mutations through `client`, journaled to `path` (None: the default journal) under its
    /// backend and AWS account (asked of STS once; the local core has none).
    pub async fn for_client(
        read_only: bool,
        path: Option<PathBuf>,
        client: &FleetClient,
    ) -> Result<Self, FleetError> {
        Ok(Self::new(read_only, journal_for(path, client).await?))
    }

    #[must_use]
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Refuses under read-only; `what` says what would have changed.
    pub fn refuse_if_read_only(&self, what: &str) -> Result<(), MutationError> {
        if self.read_only {
            Err(MutationError::ReadOnly(what.to_owned()))
        } else {
            Ok(())
        }
    }

    /// Refuses under read-only, then journals `ACTION plan` with the state before and what is
    /// intended. Nothing may be called unless this returns the intent.
    pub fn begin(&self, change: Change<'_>) -> Result<Intent<'_>, MutationError> {
        let Change {
            what,
            action,
            target,
            before,
            intended,
        } = change;
        self.refuse_if_read_only(&what)?;
        self.journal
            .write(
                &format!("{action} plan"),
                target,
                before.clone(),
                intended,
                "planned",
            )
            .map_err(MutationError::Unjournaled)?;
        Ok(Intent {
            journal: &self.journal,
            action: action.to_owned(),
            target: target.to_owned(),
            before,
        })
    }

    /// A mutation of one call: [`Mutations::begin`], the call, then the outcome journaled with
    /// `after` of what the call answered. A failed call is journaled and returned as it failed.
    pub async fn apply<T, F>(
        &self,
        change: Change<'_>,
        call: F,
        after: impl FnOnce(&T) -> Value,
    ) -> Result<T, MutationError>
    where
        F: Future<Output = Result<T, FleetError>>,
    {
        let (action, target) = (change.action.to_owned(), change.target.to_owned());
        let intent = self.begin(change)?;
        match call.await {
            Ok(answer) => {
                intent.finish(after(&answer), "ok").map_err(|error| {
                    MutationError::OutcomeUnjournaled {
                        done: format!("{action} of {target} was done"),
                        error,
                    }
                })?;
                Ok(answer)
            }
            Err(error) => {
                // Best effort: the error is what the caller must hear.
                let _ = intent.finish(Value::Null, &format!("error: {error}"));
                Err(MutationError::Fleet(error))
            }
        }
    }
}

/// A journaled intent: its steps and its outcome are journaled against it.
#[derive(Debug)]
pub struct Intent<'a> {
    journal: &'a Journal,
    action: String,
    target: String,
    before: Value,
}

impl Intent<'_> {
    /// Journals one completed (or failed) step of a multi-call mutation as `ACTION step`.
    pub fn step(&self, step: Value, detail: Value, result: &str) -> std::io::Result<()> {
        self.journal.write(
            &format!("{} step", self.action),
            &self.target,
            step,
            detail,
            result,
        )
    }

    /// Journals the outcome as `ACTION`, with the state before and `after`.
    pub fn finish(self, after: Value, result: &str) -> std::io::Result<()> {
        self.journal
            .write(&self.action, &self.target, self.before, after, result)
    }

    /// Journals something learnt after the outcome (a verification) as `ACTION SUFFIX`.
    pub fn note(&self, suffix: &str, after: Value, result: &str) -> std::io::Result<()> {
        self.journal.write(
            &format!("{} {suffix}", self.action),
            &self.target,
            Value::Null,
            after,
            result,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::BackendInfo;

    fn backend() -> BackendInfo {
        BackendInfo {
            region: "us-east-1".into(),
            profile: None,
            endpoint_url: None,
            local: true,
        }
    }

    fn change() -> Change<'static> {
        Change {
            what: "publish would send a message to a/b".into(),
            action: "publish",
            target: "a/b",
            before: Value::Null,
            intended: Value::Null,
        }
    }

    #[tokio::test]
    async fn nothing_is_called_when_read_only_or_the_intent_cannot_be_journaled() {
        let dir = tempfile::tempdir().unwrap();
        let called = std::sync::atomic::AtomicUsize::new(0);
        let call = || async {
            called.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, FleetError>(1)
        };
        let read_only = Mutations::new(
            true,
            Journal::new(Some(dir.path().join("j.jsonl")), &backend(), None),
        );
        let refused = read_only.apply(change(), call(), |_| Value::Null).await;
        assert!(matches!(refused, Err(MutationError::ReadOnly(_))));
        // A journal path that is a directory cannot be appended to.
        let unwritable = Mutations::new(
            false,
            Journal::new(Some(dir.path().to_path_buf()), &backend(), None),
        );
        let refused = unwritable.apply(change(), call(), |_| Value::Null).await;
        assert!(matches!(refused, Err(MutationError::Unjournaled(_))));
        assert_eq!(called.load(std::sync::atomic::Ordering::SeqCst), 0);

        let writable = Mutations::new(
            false,
            Journal::new(Some(dir.path().join("j.jsonl")), &backend(), None),
        );
        let answer = writable
            .apply(change(), call(), |n| Value::from(*n))
            .await
            .unwrap();
        assert_eq!(answer, 1);
        let entries = writable.journal().entries_for("a/b").unwrap();
        let actions: Vec<&str> = entries
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert_eq!(actions, ["publish plan", "publish"]);
        assert_eq!(entries[1]["after"], 1);
    }
}
