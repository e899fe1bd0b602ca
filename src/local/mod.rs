//! The embedded local IoT Core: fleet state kept in a file, the AWS IoT and IoT data-plane REST
//! APIs on loopback, the shadow engine, the local CA and the demo fleet. Used in-process by
//! `--local` and headless by `iotfleet local serve`; it never touches the terminal.

pub mod api;
pub mod auth;
pub mod broker;
pub mod ca;
pub mod core;
pub mod credentials;
pub mod data_plane;
pub mod detect;
pub mod http;
pub mod logs;
pub mod owner;
pub mod presence;
pub mod quotas;
pub mod registry;
pub mod rules;
pub mod search;
pub mod seed;
pub mod shadow;
pub mod simulator;
pub mod store;
pub mod trail;

use std::path::PathBuf;
use std::sync::Arc;

use crate::fleet::{ConnectionSettings, StaticCredentials};
use credentials::Credentials;
use store::{FORMAT, FleetState, Store, StoreError};

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
    /// Answer ThrottlingException past these request rates, as AWS does.
    pub aws_quotas: Option<crate::fleet::quotas::Quotas>,
    /// Device Defender Detect's windows and datapoints pass this many times faster than real
    /// time (tests see a 300 s window pass in 5 s); 0 and 1 are real time.
    pub detect_speedup: u32,
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
    #[error(transparent)]
    Owner(#[from] owner::OwnerError),
    #[error(transparent)]
    Credentials(#[from] credentials::CredentialsError),
    #[error(
        "{} is in use by iotfleet process {pid}, but its credentials ({}) cannot be read: {reason}",
        state.display(),
        Credentials::path_beside(state).display()
    )]
    HeldWithoutCredentials {
        state: PathBuf,
        pid: u32,
        reason: String,
    },
    #[error(
        "{} is in use by iotfleet process {pid}, which runs no MQTT broker; wait for it to finish (or stop it) and try again",
        state.display()
    )]
    HeldWithoutBroker { state: PathBuf, pid: u32 },
}

/// How long a process waits for the owner of a state file to advertise itself, or for an owner
/// without a broker (a verb that will finish soon) to let go.
const OWNER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A local IoT Core: running in this process, or (when another process owns the state file)
/// the one that process runs. Dropping an owned one stops its server.
#[derive(Debug)]
pub struct LocalCore {
    endpoint: String,
    /// The state file as resolved (symlinks followed), the one every owner locks.
    state_file: Option<PathBuf>,
    /// The fleet's key, which every request must be signed with.
    credentials: Credentials,
    /// The core this process runs; None when another process owns the state file.
    owned: Option<Owned>,
    /// The owner's advertisement, when another process owns the state file.
    remote: Option<owner::Advert>,
}

#[derive(Debug)]
struct Owned {
    core: Arc<core::Core>,
    server: tokio::task::JoinHandle<()>,
    /// Device Defender Detect's datapoints, while a broker runs.
    detection: Option<tokio::task::JoinHandle<()>>,
    broker: Option<broker::Broker>,
    simulator: Option<simulator::Simulator>,
    /// Held for the core's lifetime; withdraws the advertisement when dropped (last).
    _ownership: Option<owner::Ownership>,
}

impl LocalCore {
    /// Loads (or seeds) the fleet and starts serving on 127.0.0.1; or, when another process owns
    /// the state file, connects to the core it runs (see `owner`).
    pub async fn start(mut options: LocalOptions) -> Result<Self, LocalError> {
        // One owner per file, whatever path names it: symlinks and relative paths resolved.
        options.state_file = options
            .state_file
            .as_deref()
            .map(owner::resolve)
            .transpose()?;
        let ownership = match &options.state_file {
            None => None,
            Some(path) => match Self::claim(path, options.mqtt_port.is_some()).await? {
                owner::Claim::Owner(ownership) => Some(ownership),
                owner::Claim::Held(advert) => return Self::remote(path, advert),
            },
        };
        let state = Self::initial_state(&options)?;
        let ca = state.ca.clone();
        let credentials = match &options.state_file {
            Some(path) => Credentials::load_or_create(path)?,
            None => Credentials::generate(),
        };
        let identity = core::Identity {
            account: state.account().to_owned(),
            credentials: credentials.clone(),
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
        let core = Arc::new(Self::core(
            store,
            identity,
            options.aws_quotas.clone(),
            options.detect_speedup,
        ));
        let broker = match (options.mqtt_port, &ca) {
            (Some(port), Some(ca)) => Some(broker::Broker::start(core.clone(), ca, port).await?),
            _ => None,
        };
        // Detect measures the broker's devices: without a broker there is nothing to judge.
        let detection = broker.as_ref().map(|_| detection(core.clone()));
        let simulator = match (&broker, &options.simulator) {
            (Some(broker), Some(simulate)) => Some(simulator::Simulator::start(
                &core.store.lock(),
                broker.port(),
                simulate,
            )),
            _ => None,
        };
        let app = api::router(core.clone());
        let server = tokio::spawn(http::serve(listener, app));
        let endpoint = format!("http://127.0.0.1:{port}");
        if let Some(ownership) = &ownership {
            ownership.advertise(&owner::Advert {
                pid: std::process::id(),
                http: endpoint.clone(),
                mqtt: broker.as_ref().map(|broker| {
                    let files = broker.files();
                    owner::MqttAdvert {
                        port: broker.port(),
                        ca: files.ca.clone(),
                        operator_certificate: files.operator_certificate.clone(),
                        operator_key: files.operator_key.clone(),
                    }
                }),
            })?;
        }
        Ok(Self {
            endpoint,
            state_file: core.store.path().map(std::path::Path::to_path_buf),
            credentials,
            owned: Some(Owned {
                core,
                server,
                detection,
                broker,
                simulator,
                _ownership: ownership,
            }),
            remote: None,
        })
    }

    /// The core another process runs on `path`, reached with the fleet's key kept beside it.
    fn remote(path: &std::path::Path, advert: owner::Advert) -> Result<Self, LocalError> {
        tracing::info!(pid = advert.pid, http = %advert.http, "the state file is in use: using its core");
        let held = |reason: String| LocalError::HeldWithoutCredentials {
            state: path.to_owned(),
            pid: advert.pid,
            reason,
        };
        let credentials = match Credentials::load(path) {
            Ok(Some(credentials)) => credentials,
            Ok(None) => return Err(held("there is no such file".to_owned())),
            Err(error) => return Err(held(error.to_string())),
        };
        Ok(Self {
            endpoint: advert.http.clone(),
            state_file: Some(path.to_owned()),
            credentials,
            owned: None,
            remote: Some(advert),
        })
    }

    /// The state file's fleet; a new one, with an account id of its own, seeded with the demo
    /// fleet (or empty); a CA made when the broker needs one.
    fn initial_state(options: &LocalOptions) -> Result<FleetState, LocalError> {
        let existing = match &options.state_file {
            Some(path) => Store::read_file(path)?,
            None => None,
        };
        let mut state = match existing {
            Some(state) => state,
            None if options.seed => {
                seed::demo_fleet(time::OffsetDateTime::now_utc(), &new_account())?
            }
            None => FleetState {
                format: FORMAT,
                account: Some(new_account()),
                ..FleetState::default()
            },
        };
        if state.ca.is_none() && options.mqtt_port.is_some() {
            state.ca = Some(ca::LocalCa::generate()?);
        }
        Ok(state)
    }

    /// The core's shared heart, with the request quotas and Detect's clock the options ask for.
    fn core(
        store: Store,
        identity: core::Identity,
        aws_quotas: Option<crate::fleet::quotas::Quotas>,
        detect_speedup: u32,
    ) -> core::Core {
        let mut core = core::Core::new(store, identity, "127.0.0.1".to_owned());
        core.throttle = aws_quotas.map(quotas::Throttle::new);
        core.detect = detect::Detector::new(detect::Clock {
            speedup: detect_speedup.max(1),
        });
        core
    }

    /// Claims the state file, waiting (a little) for an owner without the broker this process
    /// needs to finish.
    async fn claim(path: &std::path::Path, mqtt: bool) -> Result<owner::Claim, LocalError> {
        let deadline = tokio::time::Instant::now() + OWNER_WAIT;
        loop {
            let owned_path = path.to_owned();
            let claimed =
                tokio::task::spawn_blocking(move || owner::claim(&owned_path, OWNER_WAIT)).await;
            let claimed = claimed.map_err(|e| owner::OwnerError::Lock {
                path: PathBuf::new(),
                source: std::io::Error::other(e),
            })??;
            match claimed {
                owner::Claim::Held(advert) if mqtt && advert.mqtt.is_none() => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(LocalError::HeldWithoutBroker {
                            state: path.to_owned(),
                            pid: advert.pid,
                        });
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                other => return Ok(other),
            }
        }
    }

    /// Whether another process owns the state file and this one uses its core.
    #[must_use]
    pub fn is_remote(&self) -> bool {
        self.owned.is_none()
    }

    /// The process that owns the state file, when it is another one.
    #[must_use]
    pub fn owner_pid(&self) -> Option<u32> {
        self.remote.as_ref().map(|advert| advert.pid)
    }

    /// The core this process runs.
    ///
    /// # Panics
    /// When another process owns the state file (tests and benchmarks own theirs).
    fn owned(&self) -> &Owned {
        self.owned
            .as_ref()
            .expect("the state file is owned by another process: its core is not in this one")
    }

    /// Device Defender Detect of the core this process runs (tests count events with it).
    ///
    /// # Panics
    /// When another process owns the state file.
    #[must_use]
    pub fn detector(&self) -> &detect::Detector {
        &self.owned().core.detect
    }

    /// Takes one Detect datapoint at `now_ms` (the broker takes them every tick; a core without
    /// a broker takes none).
    ///
    /// # Panics
    /// When another process owns the state file.
    pub fn take_datapoint(&self, now_ms: i64) {
        let core = &self.owned().core;
        core.read(|state| core.detect.evaluate(state, now_ms));
    }

    /// The MQTT broker, when one was asked for.
    #[must_use]
    pub fn broker(&self) -> Option<&broker::Broker> {
        self.owned.as_ref()?.broker.as_ref()
    }

    /// How many devices the simulator runs (0 without one).
    #[must_use]
    pub fn simulated_devices(&self) -> usize {
        self.owned
            .as_ref()
            .and_then(|owned| owned.simulator.as_ref())
            .map_or(0, simulator::Simulator::devices)
    }

    /// How the operator connects to the broker (this process's, or the owner's):
    /// `mqtts://127.0.0.1:PORT` with the operator's certificate, trusting the local CA.
    #[must_use]
    pub fn mqtt_settings(
        &self,
        client_id: String,
    ) -> Option<crate::fleet::traffic::TrafficSettings> {
        let (port, certificate, key, ca) = match (self.broker(), &self.remote) {
            (Some(broker), _) => {
                let files = broker.files();
                (
                    broker.port(),
                    files.operator_certificate.clone(),
                    files.operator_key.clone(),
                    files.ca.clone(),
                )
            }
            (
                None,
                Some(owner::Advert {
                    mqtt: Some(mqtt), ..
                }),
            ) => (
                mqtt.port,
                mqtt.operator_certificate.clone(),
                mqtt.operator_key.clone(),
                mqtt.ca.clone(),
            ),
            _ => return None,
        };
        Some(crate::fleet::traffic::TrafficSettings {
            host: "127.0.0.1".to_owned(),
            port,
            tls: Some(crate::fleet::traffic::TlsFiles {
                certificate,
                key,
                ca: Some(ca),
            }),
            client_id,
            websocket: None,
        })
    }

    /// The fleet's key: `local serve` prints it, and every client signs with it.
    #[must_use]
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The fleet's account id (the core this process runs).
    ///
    /// # Panics
    /// When another process owns the state file.
    #[must_use]
    pub fn account(&self) -> &str {
        &self.owned().core.identity.account
    }

    /// `http://127.0.0.1:PORT`, for both the IoT and the IoT data-plane APIs.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The state file, when the fleet is kept in one.
    #[must_use]
    pub fn state_file(&self) -> Option<&std::path::Path> {
        self.state_file.as_deref()
    }

    /// Settings that point the fleet client at this core.
    #[must_use]
    pub fn connection_settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            profile: None,
            region: Some(seed::REGION.to_owned()),
            endpoint_url: Some(self.endpoint.clone()),
            static_credentials: Some(StaticCredentials {
                access_key_id: self.credentials.access_key_id.clone(),
                secret_access_key: self.credentials.secret_access_key.clone(),
            }),
            local: true,
            // Where the core emulates AWS's quotas, the client paces itself by them as on AWS.
            quotas: self
                .owned
                .as_ref()
                .and_then(|owned| owned.core.throttle.as_ref())
                .map(|throttle| throttle.quotas().clone()),
        }
    }

    /// The broker's sessions, as lifecycle events and GetThingConnectivityData report them.
    ///
    /// # Panics
    /// When another process owns the state file.
    #[must_use]
    pub fn presence(&self) -> &presence::Presence {
        &self.owned().core.presence
    }

    /// Reads the state.
    ///
    /// # Panics
    /// When another process owns the state file.
    pub fn read<R>(&self, read: impl FnOnce(&FleetState) -> R) -> R {
        read(&self.owned().core.store.lock())
    }

    /// Runs `change` on the state and writes it (bulk loads for benchmarks and tests).
    ///
    /// # Panics
    /// When another process owns the state file.
    pub fn modify(&self, change: impl FnOnce(&mut FleetState)) -> Result<(), StoreError> {
        self.owned().core.store.transact(
            |state| {
                change(state);
                Ok(())
            },
            |error| error,
        )
    }
}

/// A new fleet's AWS account id: twelve random digits.
fn new_account() -> String {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    format!("{:012}", u64::from_be_bytes(bytes) % 1_000_000_000_000)
}

/// Takes Device Defender Detect's datapoints every tick while the core runs.
fn detection(core: Arc<core::Core>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(core.detect.clock().tick());
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            let now_ms =
                i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                    .unwrap_or_default();
            core.read(|state| core.detect.evaluate(state, now_ms));
        }
    })
}

impl Drop for LocalCore {
    fn drop(&mut self) {
        if let Some(owned) = &self.owned {
            owned.server.abort();
            if let Some(detection) = &owned.detection {
                detection.abort();
            }
        }
    }
}
