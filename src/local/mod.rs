//! The embedded local IoT Core: fleet state kept in a file, the AWS IoT and IoT data-plane REST
//! APIs on loopback, the shadow engine, the local CA and the demo fleet. Used in-process by
//! `--local` and headless by `iotfleet local serve`; it never touches the terminal.

pub mod api;
pub mod broker;
pub mod ca;
pub mod data_plane;
pub mod presence;
pub mod registry;
pub mod seed;
pub mod shadow;
pub mod simulator;
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
    /// Run the MQTT broker on this port (0 picks a free one); None runs no broker.
    pub mqtt_port: Option<u16>,
    /// Simulate the fleet's devices on the broker (needs `mqtt_port`).
    pub simulator: Option<simulator::SimulatorOptions>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ca(#[from] ca::CaError),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error(transparent)]
    Broker(#[from] broker::BrokerError),
}

/// A running local IoT Core. Dropping it stops the server.
#[derive(Debug)]
pub struct LocalCore {
    endpoint: String,
    core: Arc<api::Core>,
    server: tokio::task::JoinHandle<()>,
    broker: Option<broker::Broker>,
    simulator: Option<simulator::Simulator>,
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
        let mut state = state;
        if state.ca.is_none() && options.mqtt_port.is_some() {
            state.ca = Some(ca::LocalCa::generate()?);
        }
        let ca = state.ca.clone();
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
        let core = Arc::new(api::Core::new(store, "127.0.0.1".to_owned()));
        let broker = match (options.mqtt_port, &ca) {
            (Some(port), Some(ca)) => Some(broker::Broker::start(core.clone(), ca, port).await?),
            _ => None,
        };
        let simulator = match (&broker, &options.simulator) {
            (Some(broker), Some(simulate)) => Some(simulator::Simulator::start(
                &core.store.lock(),
                broker.port(),
                simulate,
            )),
            _ => None,
        };
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
            broker,
            simulator,
        })
    }

    /// The MQTT broker, when one was asked for.
    #[must_use]
    pub fn broker(&self) -> Option<&broker::Broker> {
        self.broker.as_ref()
    }

    /// How many devices the simulator runs (0 without one).
    #[must_use]
    pub fn simulated_devices(&self) -> usize {
        self.simulator
            .as_ref()
            .map_or(0, simulator::Simulator::devices)
    }

    /// How the operator connects to the broker: `mqtts://127.0.0.1:PORT` with the operator's
    /// certificate, trusting the local CA.
    #[must_use]
    pub fn mqtt_settings(
        &self,
        client_id: String,
    ) -> Option<crate::fleet::traffic::TrafficSettings> {
        let broker = self.broker.as_ref()?;
        let files = broker.files();
        Some(crate::fleet::traffic::TrafficSettings {
            host: "127.0.0.1".to_owned(),
            port: broker.port(),
            tls: Some(crate::fleet::traffic::TlsFiles {
                certificate: files.operator_certificate.clone(),
                key: files.operator_key.clone(),
                ca: Some(files.ca.clone()),
            }),
            client_id,
            websocket: None,
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
            local: true,
        }
    }

    /// Reads the state.
    /// The broker's sessions, as lifecycle events and GetThingConnectivityData report them.
    #[must_use]
    pub fn presence(&self) -> &presence::Presence {
        &self.core.presence
    }

    pub fn read<R>(&self, read: impl FnOnce(&FleetState) -> R) -> R {
        read(&self.core.store.lock())
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
