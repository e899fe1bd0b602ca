//! The embedded local IoT Core: fleet state kept in a file, the AWS IoT and IoT data-plane REST
//! APIs on loopback, the shadow engine, the local CA and the demo fleet. Used in-process by
//! `--local` and headless by `iotfleet local serve`; it never touches the terminal.

pub mod api;
pub mod ca;
pub mod data_plane;
pub mod registry;
pub mod seed;
pub mod shadow;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

use crate::fleet::{ConnectionSettings, StaticCredentials};
use store::{FORMAT, FleetState, Store, StoreError};

/// The credentials clients use against the local core (it does not check signatures).
pub const ACCESS_KEY_ID: &str = "iotfleet-local";
pub const SECRET_ACCESS_KEY: &str = "iotfleet-local";

#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// The state file; None keeps the fleet in memory only (tests).
    pub state_file: Option<PathBuf>,
    /// 0 picks a free port.
    pub http_port: u16,
    /// Seed the demo fleet when there is no state yet (otherwise start empty).
    pub seed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ca(#[from] ca::CaError),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
}

/// A running local IoT Core. Dropping it stops the server.
#[derive(Debug)]
pub struct LocalCore {
    endpoint: String,
    core: Arc<api::Core>,
    server: tokio::task::JoinHandle<()>,
}

impl LocalCore {
    /// Loads (or seeds) the fleet and starts serving on 127.0.0.1.
    pub async fn start(options: LocalOptions) -> Result<Self, LocalError> {
        let existing = match &options.state_file {
            Some(path) => Store::read_file(path)?,
            None => None,
        };
        let state = match existing {
            Some(state) => state,
            None if options.seed => seed::demo_fleet(time::OffsetDateTime::now_utc())?,
            None => FleetState {
                format: FORMAT,
                ..FleetState::default()
            },
        };
        let store = match options.state_file {
            Some(path) => Store::with_file(path, state)?,
            None => Store::in_memory(state),
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.http_port))
            .await
            .map_err(|source| LocalError::Listen {
                port: options.http_port,
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| LocalError::Listen {
                port: options.http_port,
                source,
            })?
            .port();
        let core = Arc::new(api::Core {
            store,
            host: "127.0.0.1".to_owned(),
        });
        let app = api::router(core.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "local IoT Core server stopped");
            }
        });
        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            core,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`, for both the IoT and the IoT data-plane APIs.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The state file, when the fleet is kept in one.
    #[must_use]
    pub fn state_file(&self) -> Option<&std::path::Path> {
        self.core.store.path()
    }

    /// Settings that point the fleet client at this core.
    #[must_use]
    pub fn connection_settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            profile: None,
            region: Some(seed::REGION.to_owned()),
            endpoint_url: Some(self.endpoint.clone()),
            static_credentials: Some(StaticCredentials {
                access_key_id: ACCESS_KEY_ID.to_owned(),
                secret_access_key: SECRET_ACCESS_KEY.to_owned(),
            }),
        }
    }

    /// Runs `change` on the state and writes it (bulk loads for benchmarks and tests).
    pub fn modify(&self, change: impl FnOnce(&mut FleetState)) -> Result<(), StoreError> {
        let mut state = self.core.store.lock();
        change(&mut state);
        self.core.store.persist(&state)
    }
}

impl Drop for LocalCore {
    fn drop(&mut self) {
        self.server.abort();
    }
}
