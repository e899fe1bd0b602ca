//! One owner per state file, whatever path names it: the path is resolved first (`resolve`:
//! symlinks followed, relative paths made absolute), so two names of one file meet at one lock
//! and the file is written where it is, never over a link. The first process to open a state
//! file holds an exclusive lock on `FILE.lock` for its lifetime and advertises its REST endpoint and MQTT broker in
//! `FILE.owner.json`, both private to the user. Another process on the same file reads the
//! advertisement and talks to the running core instead of loading a copy of its own, so a
//! change it makes is the owner's change: enforced by the owner's broker and kept in the owner's
//! writes. The operating system releases the lock of a process that dies, so a stale lock is
//! simply taken over (and its stale advertisement rewritten).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What an owner advertises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub http: String,
    /// None when the owner runs no broker.
    pub mqtt: Option<MqttAdvert>,
}

/// How to reach the owner's broker as the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqttAdvert {
    pub port: u16,
    pub ca: PathBuf,
    pub operator_certificate: PathBuf,
    pub operator_key: PathBuf,
}

/// The lock of an owning process; dropping it withdraws the advertisement and frees the file.
#[derive(Debug)]
pub struct Ownership {
    _lock: File,
    advert: PathBuf,
}

/// The outcome of opening a state file.
#[derive(Debug)]
pub enum Claim {
    /// This process owns the file now.
    Owner(Ownership),
    /// Another process owns it and advertises this.
    Held(Advert),
}

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is held by another iotfleet process that has not said where it serves ({}); try again, or stop that process",
        state.display(),
        advert.display()
    )]
    Unadvertised { state: PathBuf, advert: PathBuf },
    #[error("cannot advertise the local core in {}: {source}", path.display())]
    Advertise {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot resolve the state file {}: {source}", path.display())]
    Resolve {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The file `state` names, as one absolute path without symlinks: the file itself when it
/// exists (through any chain of links), else the resolved folder (made, private, when missing)
/// and the name. Two names of one file resolve alike; a bind mount of its folder shares the
/// lock file's inode, which is what the lock is taken on.
pub fn resolve(state: &Path) -> Result<PathBuf, OwnerError> {
    let failed = |source| OwnerError::Resolve {
        path: state.to_owned(),
        source,
    };
    match std::fs::canonicalize(state) {
        Ok(path) => return Ok(path),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(failed(error)),
        Err(_) => {}
    }
    // A dangling link: the file it names is to be made where it points.
    if let Ok(target) = std::fs::read_link(state) {
        let target = match state.parent() {
            Some(parent) if target.is_relative() => parent.join(target),
            _ => target,
        };
        return resolve(&target);
    }
    let name = state.file_name().ok_or_else(|| {
        failed(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    let parent = match state.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => parent.to_owned(),
        None => PathBuf::from("."),
    };
    crate::config::paths::create_private_dir_all(&parent).map_err(failed)?;
    Ok(std::fs::canonicalize(&parent).map_err(failed)?.join(name))
}

fn beside(state: &Path, suffix: &str) -> PathBuf {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    state.with_file_name(name)
}

/// Creates `path` (and its folder) readable and writable by the user alone.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Claims `state`: its lock when free, else the owner's advertisement (waiting up to `wait`
/// for an owner that has just started to write it).
pub fn claim(state: &Path, wait: Duration) -> Result<Claim, OwnerError> {
    let lock_path = beside(state, ".lock");
    let advert = beside(state, ".owner.json");
    if let Some(parent) = lock_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::config::paths::create_private_dir_all(parent).map_err(|source| {
            OwnerError::Lock {
                path: lock_path.clone(),
                source,
            }
        })?;
    }
    let lock = private_options()
        .open(&lock_path)
        .map_err(|source| OwnerError::Lock {
            path: lock_path.clone(),
            source,
        })?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        match lock.try_lock() {
            Ok(()) => {
                return Ok(Claim::Owner(Ownership {
                    _lock: lock,
                    advert,
                }));
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(OwnerError::Lock {
                    path: lock_path,
                    source,
                });
            }
        }
        if let Some(found) = std::fs::read(&advert)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Advert>(&bytes).ok())
        {
            return Ok(Claim::Held(found));
        }
        if std::time::Instant::now() >= deadline {
            return Err(OwnerError::Unadvertised {
                state: state.to_owned(),
                advert,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Ownership {
    /// Writes the advertisement (atomically, private to the user).
    pub fn advertise(&self, advert: &Advert) -> Result<(), OwnerError> {
        let io = |source| OwnerError::Advertise {
            path: self.advert.clone(),
            source,
        };
        let temporary = beside(&self.advert, &format!(".tmp-{}", std::process::id()));
        let mut file = private_options()
            .truncate(true)
            .open(&temporary)
            .map_err(io)?;
        let json = serde_json::to_vec_pretty(advert).map_err(|e| io(std::io::Error::other(e)))?;
        std::io::Write::write_all(&mut file, &json)
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        std::fs::rename(&temporary, &self.advert).map_err(io)
    }
}

impl Drop for Ownership {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.advert);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_claim_owns_the_file_and_a_second_finds_it_advertised() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("fleet.json");
        let Claim::Owner(owner) = claim(&state, Duration::ZERO).unwrap() else {
            panic!("the first claim owns the file")
        };
        // Held, but not yet advertised: said plainly after the wait.
        let error = claim(&state, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(error, OwnerError::Unadvertised { .. }), "{error}");
        let advert = Advert {
            pid: 42,
            http: "http://127.0.0.1:1".into(),
            mqtt: None,
        };
        owner.advertise(&advert).unwrap();
        match claim(&state, Duration::ZERO).unwrap() {
            Claim::Held(found) => assert_eq!(found, advert),
            Claim::Owner(_) => panic!("held by the first"),
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&beside(&state, ".owner.json")), 0o600);
            assert_eq!(mode(&beside(&state, ".lock")), 0o600);
        }
        // The owner gone (a dead process's lock is released the same way), the file is free.
        drop(owner);
        assert!(!beside(&state, ".owner.json").exists());
        assert!(matches!(
            claim(&state, Duration::ZERO).unwrap(),
            Claim::Owner(_)
        ));
    }
}
