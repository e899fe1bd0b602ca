//! The local IoT Core's shared heart: the store, the broker's sessions, and the channel to the
//! broker, which the REST API (`api.rs`) and the broker (`broker/`) both hold. A leaf: it knows
//! neither HTTP nor MQTT.

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;

use super::broker::shadow_topics::Publication;
use super::credentials::Credentials;
use super::registry::{ApiError, ApiResult};
use super::store::{FleetState, Store};

/// Who the fleet is to its callers: its AWS account id, made with it, and the one key its REST
/// APIs accept.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: String,
    pub credentials: Credentials,
}

/// How much work the broker's queue holds (shadow requests, announcements, disconnections);
/// past it a request waits at most `WORK_WAIT` and is then refused, with the reason, rather
/// than queued without bound.
pub const WORK_QUEUE: usize = 10_000;
pub const WORK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// How many Things a scan looks at per hold of the store's lock.
pub const SCAN_SLICE: usize = 2048;
/// The weight (bytes of attributes) past which a scan visits a Thing with the lock let go.
pub const HEAVY_THING: usize = 16 * 1024;

/// Work for the broker's own task (shadow service, announcements, DeleteConnection), in arrival
/// order.
#[derive(Debug)]
pub enum BrokerWork {
    /// A request published by a client to a shadow topic.
    Request { topic: String, payload: Bytes },
    /// Messages to publish for a change made elsewhere (REST).
    Announce(Vec<Publication>),
    /// DeleteConnection over REST: kick the client (without its Last Will when
    /// `prevent_will`); `done` says whether it was connected.
    Disconnect {
        client_id: String,
        prevent_will: bool,
        done: tokio::sync::oneshot::Sender<bool>,
    },
}

impl super::registry::ThingScan for Core {
    fn scan(
        &self,
        after: Option<&str>,
        visit: &mut dyn FnMut(&str, &super::store::ThingRecord) -> std::ops::ControlFlow<()>,
    ) {
        self.scan_things(after, |name, record| visit(name, record));
    }
}

/// What the HTTP handlers share.
#[derive(Debug)]
pub struct Core {
    pub store: Store,
    pub identity: Identity,
    /// The host DescribeEndpoint answers with.
    pub host: String,
    /// Where shadow changes made over REST are announced on MQTT, once the broker runs.
    shadow_sink: OnceLock<mpsc::Sender<BrokerWork>>,
    /// `HOST:PORT` of the MQTT broker, once it runs.
    mqtt_endpoint: OnceLock<String>,
    /// The broker's sessions: lifecycle events and connectivity.
    pub presence: super::presence::Presence,
    /// The broker's refusals, as CloudWatch Logs' `AWSIotLogsV2` holds them on AWS.
    pub logs: super::logs::IotLogs,
    /// AWS's request-rate quotas, when the core emulates them.
    pub throttle: Option<super::quotas::Throttle>,
    /// Device Defender Detect: the broker's counts and the violations they raise.
    pub detect: super::detect::Detector,
}

impl Core {
    #[must_use]
    pub fn new(store: Store, identity: Identity, host: String) -> Self {
        let logs = super::logs::IotLogs::new(&identity.account);
        Self {
            store,
            identity,
            host,
            shadow_sink: OnceLock::new(),
            mqtt_endpoint: OnceLock::new(),
            presence: super::presence::Presence::default(),
            logs,
            throttle: None,
            detect: super::detect::Detector::default(),
        }
    }

    /// `HOST:PORT` of the MQTT broker, once it runs.
    #[must_use]
    pub fn mqtt_endpoint(&self) -> Option<&str> {
        self.mqtt_endpoint.get().map(String::as_str)
    }

    /// Connects the broker: its address answers DescribeEndpoint, and REST shadow changes are
    /// announced to it.
    pub fn attach_broker(&self, port: u16, sink: mpsc::Sender<BrokerWork>) {
        let _ = self.mqtt_endpoint.set(format!("{}:{port}", self.host));
        let _ = self.shadow_sink.set(sink);
    }

    /// Announces a REST shadow change on MQTT. The change is made already; with the broker's
    /// queue full the announcement is dropped, and said in the log.
    pub(super) fn announce(&self, publications: Vec<Publication>) {
        if let Some(sink) = self.shadow_sink.get()
            && !publications.is_empty()
            && let Err(error) = sink.try_send(BrokerWork::Announce(publications))
        {
            tracing::warn!(%error, "a shadow change was not announced on MQTT: the broker's work queue is full");
        }
    }

    /// DeleteConnection: kicks the client off the broker, without its Last Will when
    /// `prevent_will`; "not found" when it is not connected (or no broker runs), as AWS answers.
    pub(super) async fn disconnect(&self, client_id: &str, prevent_will: bool) -> ApiResult {
        let not_found = || ApiError::not_found(format!("no connection with client id {client_id}"));
        let sink = self.shadow_sink.get().ok_or_else(not_found)?;
        let (done, answer) = tokio::sync::oneshot::channel();
        let work = BrokerWork::Disconnect {
            client_id: client_id.to_owned(),
            prevent_will,
            done,
        };
        match sink.send_timeout(work, WORK_WAIT).await {
            Ok(()) => {}
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                return Err(ApiError {
                    status: 503,
                    code: "ServiceUnavailableException",
                    message: format!(
                        "the local broker is busy (its work queue is full): {client_id} was not disconnected; try again"
                    ),
                });
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => return Err(not_found()),
        }
        if answer.await.unwrap_or(false) {
            Ok(json!({}))
        } else {
            Err(not_found())
        }
    }

    pub(super) fn read<R>(&self, operation: impl FnOnce(&FleetState) -> R) -> R {
        operation(&self.store.lock())
    }

    /// Visits the Things after `token` (exclusive) in name order until `visit` breaks, a slice of
    /// `SCAN_SLICE` at a time under the store's lock, letting writers in between slices: a
    /// search or a filtered listing over a million Things never holds the lock for all of them.
    /// A Thing heavier than `HEAVY_THING` (attributes from before AWS's limits were kept) is
    /// copied out and visited with the lock let go, so no one Thing holds the store either.
    /// Things made or removed between slices are seen or not, as on AWS (no snapshot).
    pub(super) fn scan_things(
        &self,
        token: Option<&str>,
        mut visit: impl FnMut(&str, &super::store::ThingRecord) -> std::ops::ControlFlow<()>,
    ) {
        let mut after: Option<String> = token.filter(|t| !t.is_empty()).map(str::to_owned);
        loop {
            let (more, heavy) = self.read(|state| {
                let range = match &after {
                    Some(after) => state.things.range::<str, _>((
                        std::ops::Bound::Excluded(after.as_str()),
                        std::ops::Bound::Unbounded,
                    )),
                    None => state.things.range::<str, _>(..),
                };
                for (count, (name, record)) in range.enumerate() {
                    if count == SCAN_SLICE {
                        return (true, None);
                    }
                    if record.weight() > HEAVY_THING {
                        return (true, Some((name.clone(), record.clone())));
                    }
                    if visit(name, record).is_break() {
                        return (false, None);
                    }
                    after = Some(name.clone());
                }
                (false, None)
            });
            if let Some((name, record)) = heavy {
                if visit(&name, &record).is_break() {
                    return;
                }
                after = Some(name);
            }
            if !more {
                return;
            }
        }
    }

    /// Runs a mutation; it takes effect (in memory, so for the broker too) only once the state
    /// file is written, and a failed write is an InternalFailureException that changed nothing.
    pub(super) fn write(&self, operation: impl FnOnce(&mut FleetState) -> ApiResult) -> ApiResult {
        self.store.transact(operation, |e| {
            tracing::error!(error = %e, "cannot write the local state file");
            ApiError {
                status: 500,
                code: "InternalFailureException",
                message: format!("the change was not made: {e}"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_broker_queue_is_a_clear_503_after_the_wait_not_a_hang() {
        let identity = Identity {
            account: crate::local::store::LEGACY_ACCOUNT.to_owned(),
            credentials: Credentials::generate(),
        };
        let core = Core::new(
            Store::in_memory(FleetState::default()),
            identity,
            "127.0.0.1".into(),
        );
        // A broker that has stopped taking work: its queue of one is full (the answer comes
        // after WORK_WAIT, 5 s).
        let (sink, _stalled) = mpsc::channel(1);
        sink.try_send(BrokerWork::Announce(Vec::new())).unwrap();
        core.attach_broker(1, sink);
        let error = core.disconnect("pump-1", true).await.unwrap_err();
        assert_eq!(
            (error.status, error.code),
            (503, "ServiceUnavailableException")
        );
        assert!(error.message.contains("busy"), "{}", error.message);
    }
}
