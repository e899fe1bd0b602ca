//! The local IoT Core's MQTT broker: rmqtt used as a library, on 127.0.0.1 with mutual TLS from
//! the local CA. Every CONNECT, PUBLISH, SUBSCRIBE and delivery is judged by the policies of the
//! connecting certificate (`authority.rs`); the Device Shadow topics are answered by the one
//! shadow engine (`shadow_topics.rs`); retained messages are kept (`retained.rs`).
//!
//! Denials behave as AWS IoT's: CONNACK "not authorised"; a refused PUBLISH is a PUBACK reason
//! code under MQTT 5 and a disconnect under 3.1.1; a refused SUBSCRIBE is a SUBACK failure; a
//! message a subscriber may not receive is not delivered to it.

pub mod authority;
pub mod limits;
pub mod retained;
pub mod shadow_topics;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rmqtt::codec::types::QoS;
use rmqtt::codec::v5::{PublishAckReason, SubscribeAckReason};
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::server::MqttServer;
use rmqtt::session::SessionState;
use rmqtt::types::{
    AuthResult, CodecPublish, From as Sender, FromType, Id, LastWill, Publish, PublishAclResult,
    PublishResult, SubscribeAclResult, TopicName,
};
use tokio::sync::mpsc;

use super::ca::LocalCa;
use super::core::{BrokerWork, Core, WORK_QUEUE, WORK_WAIT};
use super::detect::Metric;
use super::presence::DisconnectReason;
use super::registry::Call;
use super::seed::REGION;
use authority::{Action, Authority, CertKey, Identity, Will};
use shadow_topics::Publication;

/// AWS IoT's largest message (`limits::MAX_PAYLOAD_BYTES`), plus room for the topic and header;
/// the payload itself is checked by `limits`.
pub const MAX_PACKET_BYTES: u32 = 128 * 1024 + 1024;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("local CA: {0}")]
    Ca(#[from] super::ca::CaError),
    #[error("cannot write the broker's TLS files in {}: {source}", dir.display())]
    Files {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen for MQTT on 127.0.0.1:{port}: {message}")]
    Listen { port: u16, message: String },
}

/// The PEM files of a running broker, in a private directory removed when it stops.
#[derive(Debug)]
pub struct BrokerFiles {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub operator_certificate: PathBuf,
    pub operator_key: PathBuf,
    server_certificate: PathBuf,
    server_key: PathBuf,
}

impl BrokerFiles {
    fn write(ca: &LocalCa) -> Result<(Self, CertKey), BrokerError> {
        let mut random = [0u8; 6];
        aws_lc_rs::rand::fill(&mut random).expect("the system random source works");
        let dir = std::env::temp_dir().join(format!(
            "iotfleet-broker-{}-{}",
            std::process::id(),
            super::ca::hex(&random)
        ));
        let server = ca.issue_server()?;
        let now = time::OffsetDateTime::now_utc();
        let operator = ca.issue(
            "iotfleet operator",
            now - time::Duration::days(1),
            now + time::Duration::days(365),
        )?;
        let operator_key = CertKey::of_pem(&operator.certificate_pem)
            .expect("a certificate the local CA just issued parses");
        let files = Self {
            ca: dir.join("ca.pem"),
            operator_certificate: dir.join("operator.pem"),
            operator_key: dir.join("operator.key"),
            server_certificate: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            dir,
        };
        let io = |source| BrokerError::Files {
            dir: files.dir.clone(),
            source,
        };
        create_private_dir(&files.dir).map_err(io)?;
        for (path, text) in [
            (&files.ca, &ca.certificate_pem),
            (&files.operator_certificate, &operator.certificate_pem),
            (&files.operator_key, &operator.key_pem),
            (&files.server_certificate, &server.certificate_pem),
            (&files.server_key, &server.key_pem),
        ] {
            write_private(path, text).map_err(io)?;
        }
        Ok((files, operator_key))
    }
}

/// Writes a file readable by the user alone (the operator's key is among them).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A running broker. Dropping it stops listening, disconnects every client and removes its
/// files.
#[derive(Debug)]
pub struct Broker {
    port: u16,
    files: BrokerFiles,
    authority: Arc<Authority>,
    scx: ServerContext,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").finish_non_exhaustive()
    }
}

impl Broker {
    /// Starts the broker for `core` on 127.0.0.1:`port` (0 picks a free port). REST shadow
    /// changes are announced on MQTT from then on.
    pub async fn start(core: Arc<Core>, ca: &LocalCa, port: u16) -> Result<Self, BrokerError> {
        // rmqtt builds rustls configurations from the process default provider when both ring
        // and aws-lc-rs are compiled in; pick ours before anything asks.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let (files, operator) = BrokerFiles::write(ca)?;
        let scx = ServerContext::new().build().await;
        let authority = Arc::new(Authority::new(core.clone(), operator));
        *scx.extends.retain_mut().await =
            Box::new(retained::RetainedMessages::new(authority.clone()));
        let (work, work_rx) = mpsc::channel(WORK_QUEUE);
        let rates = Arc::new(limits::PublishRates::default());
        let register = scx.extends.hook_mgr().register();
        for typ in [
            Type::ClientAuthenticate,
            Type::ClientConnected,
            Type::ClientSubscribeCheckAcl,
            Type::MessagePublishCheckAcl,
            Type::MessageExpiryCheck,
            Type::ClientDisconnected,
        ] {
            register
                .add(
                    typ,
                    Box::new(Hooks {
                        authority: authority.clone(),
                        rates: rates.clone(),
                        shadow: work.clone(),
                        core: core.clone(),
                    }),
                )
                .await;
        }
        register.start().await;

        let (port, listener) = listen(port, &files)?;
        core.attach_broker(port, work);
        let server = MqttServer::new(scx.clone()).listener(listener).build();
        let mut tasks = vec![tokio::spawn(async move {
            if let Err(error) = server.run().await {
                tracing::error!(%error, "the local MQTT broker stopped");
            }
        })];
        tasks.push(tokio::spawn(shadow_service(
            core,
            scx.clone(),
            authority.clone(),
            work_rx,
        )));
        Ok(Self {
            port,
            files,
            authority,
            scx,
            tasks,
        })
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    #[must_use]
    pub fn files(&self) -> &BrokerFiles {
        &self.files
    }

    /// Disconnects the client `client_id` (DeleteConnection); it must connect again and be
    /// judged afresh. Its Last Will is published unless `prevent_will`. Returns whether it was
    /// connected.
    pub async fn disconnect(&self, client_id: &str, prevent_will: bool) -> bool {
        disconnect(&self.scx, &self.authority, client_id, prevent_will).await
    }

    /// Whether `client_id` is connected and authenticated as a device or the operator.
    #[must_use]
    pub fn identity_of(&self, client_id: &str) -> Option<Identity> {
        self.authority.identity_of(client_id)
    }
}

/// Kicks `client_id` off the broker, without its Last Will when `prevent_will`; false when it
/// is not connected.
async fn disconnect(
    scx: &ServerContext,
    authority: &Authority,
    client_id: &str,
    prevent_will: bool,
) -> bool {
    let shared = scx.extends.shared().await;
    let Some(id) = shared
        .iter()
        .map(|entry| entry.id())
        .find(|id| &*id.client_id == client_id)
    else {
        return false;
    };
    if prevent_will {
        authority.suppress_will(client_id, id.create_time);
    }
    let mut entry = shared.entry(id);
    entry.kick(true, true, true).await.is_ok()
}

impl Drop for Broker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // rmqtt has no stop: with the listener gone, end the sessions it spawned.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let scx = self.scx.clone();
            runtime.spawn(async move {
                let shared = scx.extends.shared().await;
                let ids: Vec<Id> = shared.iter().map(|entry| entry.id()).collect();
                for id in ids {
                    let _ = shared.entry(id).kick(true, true, true).await;
                }
            });
        }
        let _ = std::fs::remove_dir_all(&self.files.dir);
    }
}

/// Binds the TLS listener. rmqtt does not report the port it bound, so a free port is found
/// first (and the bind retried should another process take it in between).
fn listen(port: u16, files: &BrokerFiles) -> Result<(u16, rmqtt::net::Listener), BrokerError> {
    let mut attempts = 0;
    loop {
        let chosen = if port == 0 {
            std::net::TcpListener::bind(("127.0.0.1", 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| BrokerError::Listen {
                    port,
                    message: e.to_string(),
                })?
                .port()
        } else {
            port
        };
        let bound = rmqtt::net::Builder::new()
            .name("mqtts")
            .laddr(SocketAddr::from(([127, 0, 0, 1], chosen)))
            .reuseaddr(Some(true))
            .allow_anonymous(false)
            // AWS IoT has no QoS 2: rmqtt grants a SUBSCRIBE asking for it QoS 1 (as an MQTT 5
            // server whose CONNACK says Maximum QoS 1 does); a QoS 2 PUBLISH is refused by
            // `limits`.
            .max_qos_allowed(QoS::AtLeastOnce)
            .max_packet_size(MAX_PACKET_BYTES)
            .max_clientid_len(limits::MAX_CLIENT_ID_BYTES)
            .max_subscriptions(limits::MAX_SUBSCRIPTIONS_PER_CONNECTION)
            .max_inflight(std::num::NonZeroU16::new(64).expect("64 is not zero"))
            .max_mqueue_len(10_000)
            .tls_cross_certificate(true)
            .tls_cert(Some(files.server_certificate.display().to_string()))
            .tls_key(Some(files.server_key.display().to_string()))
            .tls_client_ca_certs(Some(files.ca.display().to_string()))
            .collect_cert_info(true)
            .bind()
            .and_then(rmqtt::net::Listener::tls);
        match bound {
            Ok(listener) => return Ok((chosen, listener)),
            Err(_) if port == 0 && attempts < 5 => attempts += 1,
            Err(error) => {
                return Err(BrokerError::Listen {
                    port: chosen,
                    message: error.to_string(),
                });
            }
        }
    }
}

struct Hooks {
    authority: Arc<Authority>,
    rates: Arc<limits::PublishRates>,
    shadow: mpsc::Sender<BrokerWork>,
    core: Arc<Core>,
}

/// AWS's `disconnectReason` for how rmqtt says a session ended.
fn disconnect_reason(reason: &rmqtt::types::Reason) -> DisconnectReason {
    use rmqtt::types::Reason;
    match reason {
        Reason::ConnectDisconnect(_) => DisconnectReason::ClientInitiatedDisconnect,
        Reason::ConnectKicked(true) => DisconnectReason::ServerInitiatedDisconnect,
        Reason::ConnectKicked(false) => DisconnectReason::DuplicateClientId,
        Reason::ConnectKeepaliveTimeout => DisconnectReason::MqttKeepAliveTimeout,
        Reason::ConnectRemoteClose
        | Reason::ConnectReadWriteError
        | Reason::ConnectReadWriteTimeout => DisconnectReason::ConnectionLost,
        // A PUBLISH refused under MQTT 3.1.1 ends the session (it has no reason code): rmqtt
        // says so with the PUBACK reason it could not send.
        Reason::PublishResult(_)
        | Reason::SubscribeRefused
        | Reason::MqttError(rmqtt::net::MqttError::PublishAckReason(..)) => {
            DisconnectReason::ForbiddenAccess
        }
        Reason::ProtocolError(_) | Reason::MqttError(_) => DisconnectReason::ClientError,
        Reason::Reasons(reasons) => reasons
            .iter()
            .map(disconnect_reason)
            .find(|r| *r != DisconnectReason::Unknown)
            .unwrap_or(DisconnectReason::Unknown),
        // A dropped TCP or TLS connection comes as an I/O error.
        Reason::Error(text) if text.starts_with("io error") => DisconnectReason::ConnectionLost,
        _ => DisconnectReason::Unknown,
    }
}

/// The session identifier its lifecycle events carry: the same at connect and disconnect.
fn session_identifier(id: &Id) -> String {
    format!("{:x}-{}", id.create_time, id.client_id)
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or_default()
}

impl Hooks {
    /// Publishes a lifecycle event through the shadow service's queue (it publishes in order);
    /// with the queue full it is dropped, and said in the log.
    fn announce(&self, (topic, payload): super::presence::Event) {
        let work = BrokerWork::Announce(vec![Publication { topic, payload }]);
        if let Err(error) = self.shadow.try_send(work) {
            tracing::warn!(%error, "a lifecycle event was dropped: the broker's work queue is full");
        }
    }

    /// Logs a refusal where the console reads them (`AWSIotLogsV2`, as on AWS). A device's
    /// principal is its certificate id, known from its connection unless `principal` says it.
    fn refused(
        &self,
        id: &Id,
        event_type: &'static str,
        topic: Option<&str>,
        reason: &'static str,
        details: &str,
        principal: Option<&str>,
    ) {
        let connected_as = match self.authority.identity_of(&id.client_id) {
            Some(Identity::Device { principal }) => {
                Some(principal.rsplit('/').next().unwrap_or_default().to_owned())
            }
            _ => None,
        };
        let source_ip = id.remote_addr.map(|a| a.ip().to_string());
        if reason == "AUTHORIZATION_FAILURE" {
            self.core
                .detect
                .count(&id.client_id, Metric::AuthorizationFailures, now_ms());
        }
        self.core.logs.record(
            &super::logs::Refused {
                event_type,
                client_id: &id.client_id,
                principal_id: principal.or(connected_as.as_deref()),
                topic,
                reason,
                details,
                source_ip: source_ip.as_deref(),
            },
            now_ms(),
        );
    }

    /// A session opened: recorded, and its `connected` event published.
    fn connected(&self, id: &Id) {
        let source_ip = id.remote_addr.map(|a| a.ip().to_string());
        let principal = match self.authority.identity_of(&id.client_id) {
            Some(Identity::Device { principal }) => {
                let certificate = principal.rsplit('/').next().unwrap_or_default().to_owned();
                self.core.logs.record_session(
                    &super::logs::Session {
                        event_type: "Connect",
                        client_id: &id.client_id,
                        principal_id: &certificate,
                        source_ip: source_ip.as_deref(),
                        disconnect_reason: None,
                    },
                    now_ms(),
                );
                certificate
            }
            _ => "iotfleet-operator".to_owned(),
        };
        let event = self.core.presence.connected(
            &id.client_id,
            &principal,
            &session_identifier(id),
            source_ip,
            now_ms(),
        );
        self.announce(event);
    }

    /// Decides a PUBLISH: refused as AWS IoT refuses it when the policies do not allow it; a
    /// shadow request is handed to the shadow service (refused, with the reason, when its queue
    /// stays full).
    async fn publish_acl(
        &self,
        session: &rmqtt::session::Session,
        publish: &Publish,
    ) -> PublishAclResult {
        let client = &session.id.client_id;
        let topic = &publish.topic;
        if let Err(breach) = limits::check_publish(topic, publish.qos, publish.payload.len())
            .and_then(|()| {
                self.rates
                    .admit(client, session.id.create_time, std::time::Instant::now())
            })
        {
            return self.breached(&session.id, "Publish-In", topic, &breach);
        }
        if self.authority.allows(client, Action::Publish, topic) {
            if shadow_topics::parse_request(topic).is_some() {
                let work = BrokerWork::Request {
                    topic: topic.to_string(),
                    payload: publish.payload.clone(),
                };
                if self.shadow.send_timeout(work, WORK_WAIT).await.is_err() {
                    tracing::warn!(%client, %topic, "shadow request refused: the shadow service is busy");
                    return PublishAclResult::rejected(
                        false,
                        Some("the shadow service is busy (its queue is full); try again".into()),
                    );
                }
            }
            self.core
                .detect
                .count(client, Metric::MessagesSent, now_ms());
            return PublishAclResult::allow();
        }
        tracing::info!(%client, %topic, "publish refused by policy");
        self.refused(
            &session.id,
            "Publish-In",
            Some(topic),
            "AUTHORIZATION_FAILURE",
            "Authorization Failure",
            None,
        );
        let mqtt5 = session
            .connect_info()
            .await
            .is_ok_and(|c| c.proto_ver() == rmqtt::codec::types::MQTT_LEVEL_5);
        PublishAclResult::rejected(!mqtt5, Some("Not authorized".into()))
    }

    /// Refuses a PUBLISH that breaks AWS's limits as AWS does: one over the rate is discarded
    /// (QUOTA_EXCEEDED under MQTT 5), any other closes the connection; logged as CLIENT_ERROR.
    fn breached(
        &self,
        id: &Id,
        event_type: &'static str,
        topic: &str,
        breach: &limits::Breach,
    ) -> PublishAclResult {
        tracing::info!(client = %id.client_id, %topic, %breach, "publish refused: AWS's limits");
        self.refused(
            id,
            event_type,
            Some(topic),
            "CLIENT_ERROR",
            &breach.to_string(),
            None,
        );
        let (code, disconnect) = match breach {
            limits::Breach::RateExceeded => (PublishAckReason::QuotaExceeded, false),
            limits::Breach::Qos2 | limits::Breach::PayloadTooLarge(_) => {
                (PublishAckReason::ImplementationSpecificError, true)
            }
            limits::Breach::Wildcard(_)
            | limits::Breach::TopicTooLong(_)
            | limits::Breach::TooManySlashes(_) => (PublishAckReason::TopicNameInvalid, true),
        };
        PublishAclResult(PublishResult::reason_code(
            code,
            Some(breach.to_string().into()),
            disconnect,
        ))
    }

    /// Decides a CONNECT: its Last Will within AWS's limits, its certificate registered and
    /// active, and its policies allowing the connection (and the Will).
    fn authenticate(&self, connect: &rmqtt::types::ConnectInfo) -> AuthResult {
        let id = connect.id();
        self.core
            .detect
            .count(&id.client_id, Metric::ConnectionAttempts, now_ms());
        let key = connect.cert().and_then(|cert| {
            Some(CertKey {
                subject: cert.subject.clone(),
                serial: cert.serial.clone()?,
            })
        });
        let will = connect.last_will();
        if let Some(breach) = will.as_ref().and_then(|will| will_breach(will).err()) {
            tracing::info!(client = %id.client_id, %breach, "MQTT connection refused: its Last Will breaks AWS's limits");
            self.refused(
                id,
                "Connect",
                None,
                "CLIENT_ERROR",
                &format!("Last Will: {breach}"),
                None,
            );
            return AuthResult::NotAuthorized;
        }
        let will = will.as_ref().map(|will| Will {
            topic: match will {
                LastWill::V3(will) => &will.topic,
                LastWill::V5(will) => &will.topic,
            },
            retain: will.retain(),
        });
        match self.authority.authenticate(
            &authority::Session {
                client_id: &id.client_id,
                created_ms: id.create_time,
                peer: id.remote_addr,
            },
            key.as_ref(),
            will,
        ) {
            // Not a superuser, even the operator: rmqtt skips the ACL hooks for one, and
            // they are where shadow requests are served (`allows` lets the operator do
            // everything anyway).
            Ok(_) => AuthResult::Allow(false, None),
            Err(refused) => {
                tracing::info!(client = %id.client_id, reason = %refused.details, "MQTT connection refused");
                self.refused(
                    id,
                    "Connect",
                    None,
                    refused.reason,
                    &refused.details,
                    refused.principal_id.as_deref(),
                );
                AuthResult::NotAuthorized
            }
        }
    }

    /// Whether a message from `from` on `topic` may reach `client_id`: it may receive there, and
    /// the message is not a Last Will that DeleteConnection suppressed or that the policies in
    /// force now do not let its session publish (a quarantine since its CONNECT).
    fn delivers(&self, client_id: &str, from: &Sender, topic: &str, retain: bool) -> bool {
        let dropped = matches!(from.typ(), FromType::LastWill)
            && !self
                .authority
                .will_allowed(&from.id.client_id, from.id.create_time, topic, retain);
        !dropped && self.authority.allows(client_id, Action::Receive, topic)
    }

    /// A session ended: its grant forgotten, and its `disconnected` event published.
    fn disconnected(&self, id: &Id, reason: &rmqtt::types::Reason) {
        let reason = disconnect_reason(reason);
        if let Some(Identity::Device { principal }) = self
            .authority
            .session_identity(&id.client_id, id.remote_addr)
        {
            self.core.logs.record_session(
                &super::logs::Session {
                    event_type: "Disconnect",
                    client_id: &id.client_id,
                    principal_id: principal.rsplit('/').next().unwrap_or_default(),
                    source_ip: id.remote_addr.map(|a| a.ip().to_string()).as_deref(),
                    disconnect_reason: Some(reason.as_aws()),
                },
                now_ms(),
            );
        }
        self.authority.forget(&id.client_id, id.remote_addr);
        self.rates.forget(&id.client_id, id.create_time);
        self.core
            .detect
            .count(&id.client_id, Metric::Disconnects, now_ms());
        if let Some(event) = self.core.presence.disconnected(
            &id.client_id,
            &session_identifier(id),
            reason,
            now_ms(),
        ) {
            self.announce(event);
        }
    }
}

#[async_trait::async_trait]
impl Handler for Hooks {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(connect) => {
                let result = self.authenticate(connect);
                (false, Some(HookResult::AuthResult(result)))
            }
            Parameter::ClientConnected(session) => {
                self.connected(&session.id);
                (true, acc)
            }
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                let filter = &subscribe.topic_filter;
                let result = if let Err(breach) = limits::check_topic(filter, true) {
                    tracing::info!(client = %session.id.client_id, %filter, %breach, "subscription refused: AWS's limits");
                    let details = breach.to_string();
                    self.refused(
                        &session.id,
                        "Subscribe",
                        Some(filter),
                        "CLIENT_ERROR",
                        &details,
                        None,
                    );
                    SubscribeAclResult::new_failure(SubscribeAckReason::TopicFilterInvalid)
                } else if self
                    .authority
                    .allows(&session.id.client_id, Action::Subscribe, filter)
                {
                    let event = self.core.presence.subscription(
                        &session.id.client_id,
                        filter,
                        true,
                        now_ms(),
                    );
                    self.announce(event);
                    // AWS IoT has no QoS 2.
                    let qos = subscribe.opts.qos().less_value(QoS::AtLeastOnce);
                    SubscribeAclResult::new_success(qos, None)
                } else {
                    tracing::info!(client = %session.id.client_id, %filter, "subscription refused by policy");
                    self.refused(
                        &session.id,
                        "Subscribe",
                        Some(filter),
                        "AUTHORIZATION_FAILURE",
                        "Authorization Failure",
                        None,
                    );
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let result = self.publish_acl(session, publish).await;
                (false, Some(HookResult::PublishAclResult(result)))
            }
            // rmqtt's delivery hook cannot drop a message; its expiry check can, and a message
            // the subscriber may not receive is, for it, as good as expired.
            // A Last Will suppressed by DeleteConnection is, for everyone, expired too.
            Parameter::MessageExpiryCheck(session, from, publish) => {
                if self.delivers(&session.id.client_id, from, &publish.topic, publish.retain) {
                    (true, acc)
                } else {
                    (false, Some(HookResult::MessageExpiry))
                }
            }
            Parameter::ClientDisconnected(session, reason) => {
                self.disconnected(&session.id, reason);
                (true, acc)
            }
            _ => (true, acc),
        }
    }
}

/// Whether a Last Will keeps AWS's limits (a CONNECT whose Will does not is refused).
fn will_breach(will: &LastWill<'_>) -> Result<(), limits::Breach> {
    let (topic, qos, message) = match will {
        LastWill::V3(will) => (&will.topic, will.qos, &will.message),
        LastWill::V5(will) => (&will.topic, will.qos, &will.message),
    };
    limits::check_publish(topic, qos, message.len())
}

fn to_publish(publication: &Publication) -> Publish {
    Publish::from(CodecPublish {
        dup: false,
        retain: false,
        qos: QoS::AtLeastOnce,
        topic: TopicName::from(publication.topic.clone()),
        packet_id: None,
        payload: Bytes::from(serde_json::to_vec(&publication.payload).unwrap_or_default()),
        properties: None,
    })
}

/// Answers shadow requests in order and publishes what the shadow engine says, as AWS IoT's
/// shadow service does.
async fn shadow_service(
    core: Arc<Core>,
    scx: ServerContext,
    authority: Arc<Authority>,
    mut work: mpsc::Receiver<BrokerWork>,
) {
    let sender = Id::new(scx.node.id(), 0, None, None, "$aws/shadow".into(), None);
    while let Some(item) = work.recv().await {
        let publications = match item {
            BrokerWork::Announce(publications) => publications,
            BrokerWork::Disconnect {
                client_id,
                prevent_will,
                done,
            } => {
                let _ = done.send(disconnect(&scx, &authority, &client_id, prevent_will).await);
                continue;
            }
            BrokerWork::Request { topic, payload } => {
                let Some(request) = shadow_topics::parse_request(&topic) else {
                    continue;
                };
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let call = Call {
                    account: &core.identity.account,
                    region: REGION,
                    now,
                };
                // Answered only once written: a change that could not be kept is not made, and
                // no `accepted` says otherwise. A `get` changes nothing and writes nothing.
                core.store
                    .transact(
                        |state| Ok(shadow_topics::handle(state, call, request, &payload)),
                        |error| {
                            tracing::error!(%error, "cannot write the local state file: a shadow request over MQTT was dropped");
                        },
                    )
                    .unwrap_or_default()
            }
        };
        for publication in &publications {
            let from = Sender::from_system(sender.clone());
            if let Err(error) =
                SessionState::forwards(&scx, from, to_publish(publication), false, None).await
            {
                tracing::warn!(%error, topic = %publication.topic, "cannot publish a shadow message");
            }
        }
    }
}
