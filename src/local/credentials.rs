//! A local fleet's credentials: an access key id and secret made with the fleet and kept beside
//! its state file (`FILE.credentials`, readable by the user alone), the only key the local core's
//! REST APIs accept (`auth.rs` verifies each request's SigV4 signature with it, as AWS does).
//! `local serve` prints them and `--local` reads them, so the aws CLI, boto3 and the SDKs work
//! with them and nobody else gets in. A leaf: no HTTP, no MQTT.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The IAM user the local fleet's key belongs to: its operator.
pub const USER: &str = "local-operator";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the local fleet's credentials {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the local fleet's credentials {} are damaged ({detail}); they were left untouched: move the file away and a new key is made at the next start",
        path.display()
    )]
    Damaged { path: PathBuf, detail: String },
    #[error("cannot write the local fleet's credentials {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `count` characters drawn from `alphabet` by the system's random source.
fn random(alphabet: &[u8], count: usize) -> String {
    let mut bytes = vec![0u8; count];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    bytes
        .iter()
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect()
}

impl Credentials {
    /// A new key, shaped as AWS's: `AKIA` and 16 characters, a 40-character secret.
    #[must_use]
    pub fn generate() -> Self {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        Self {
            access_key_id: format!("AKIA{}", random(UPPER, 16)),
            secret_access_key: random(SECRET, 40),
        }
    }

    /// Where a fleet's credentials are kept: `FILE.credentials` beside its state file.
    #[must_use]
    pub fn path_beside(state: &Path) -> PathBuf {
        let mut name = state.file_name().unwrap_or_default().to_os_string();
        name.push(".credentials");
        state.with_file_name(name)
    }

    /// The credentials kept beside `state`; None when there are none yet.
    pub fn load(state: &Path) -> Result<Option<Self>, CredentialsError> {
        let path = Self::path_beside(state);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CredentialsError::Read { path, source }),
        };
        let credentials: Self =
            serde_json::from_str(&text).map_err(|error| CredentialsError::Damaged {
                path: path.clone(),
                detail: error.to_string(),
            })?;
        if credentials.access_key_id.is_empty() || credentials.secret_access_key.is_empty() {
            return Err(CredentialsError::Damaged {
                path,
                detail: "an empty key".to_owned(),
            });
        }
        Ok(Some(credentials))
    }

    /// The credentials kept beside `state`, made and written (0600, atomically) when there are
    /// none: a fleet made before they existed gets its key at its first start.
    pub fn load_or_create(state: &Path) -> Result<Self, CredentialsError> {
        if let Some(credentials) = Self::load(state)? {
            return Ok(credentials);
        }
        let credentials = Self::generate();
        let path = Self::path_beside(state);
        let write = |source| CredentialsError::Write {
            path: path.clone(),
            source,
        };
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp-{}", std::process::id()));
        let temporary = path.with_file_name(name);
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(true).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let json = serde_json::to_vec_pretty(&credentials).map_err(std::io::Error::other);
        json.and_then(|json| {
            let mut file = options.open(&temporary)?;
            std::io::Write::write_all(&mut file, &json)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(write)?;
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_gets_its_own_key_once_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("fleet.json");
        let made = Credentials::load_or_create(&state).unwrap();
        assert!(made.access_key_id.starts_with("AKIA") && made.access_key_id.len() == 20);
        assert_eq!(made.secret_access_key.len(), 40);
        assert_eq!(Credentials::load_or_create(&state).unwrap(), made);
        assert_ne!(Credentials::generate(), made);
        assert!(!format!("{made:?}").contains(&made.secret_access_key));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let bits = std::fs::metadata(Credentials::path_beside(&state))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(bits & 0o777, 0o600);
        }
        std::fs::write(Credentials::path_beside(&state), "{").unwrap();
        let damaged = Credentials::load_or_create(&state).unwrap_err();
        assert!(damaged.to_string().contains("damaged"), "{damaged}");
    }
}
