//! The MQTT traffic client (rumqttc, MQTT 3.1.1): connects over TLS with an X.509 client
//! certificate (port 8883, or 443 with ALPN `x-amzn-mqtt-ca` as AWS IoT wants) or plain TCP for
//! local brokers, subscribes to filters that can be added and removed while running, reconnects
//! with exponential backoff and jitter and subscribes again, and reports every state change.
//! Received messages go to a bounded queue. When it is full the socket waits (TCP holds the
//! broker back, and a backlog queued there comes through whole); a reader stuck for longer than
//! [`STALL`] has messages dropped and counted, so the connection stays alive. Never buffered
//! without bound, and no loss uncounted.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{
    AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::filter::check_filter;

/// Largest packet accepted: AWS IoT caps payloads at 128 KiB; other brokers allow more, and the
/// history truncates for display anyway.
const MAX_PACKET_BYTES: usize = 4 * 1024 * 1024;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct TrafficSettings {
    pub host: String,
    pub port: u16,
    pub tls: Option<TlsFiles>,
    pub client_id: String,
    /// MQTT over WebSocket (`wss://`), signed with these AWS credentials on every connection.
    pub websocket: Option<WebSocketSigning>,
}

/// How to sign WebSocket connections: AWS credentials, the region, and an optional CA bundle
/// (the system roots otherwise).
#[derive(Debug, Clone)]
pub struct WebSocketSigning {
    pub credentials: aws_credential_types::provider::SharedCredentialsProvider,
    pub region: String,
    pub ca: Option<PathBuf>,
}

/// PEM files for mutual TLS; without `ca`, the system's roots are trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
    pub ca: Option<PathBuf>,
}

impl TrafficSettings {
    /// From `--mqtt-url mqtt://HOST[:PORT]`, `mqtts://HOST[:PORT]` (with `--cert/--key/--ca`) or
    /// `wss://HOST[:PORT]` (with `signing`).
    pub fn from_url(
        url: &str,
        tls: Option<TlsFiles>,
        client_id: String,
        signing: Option<WebSocketSigning>,
    ) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("'{url}' is not an MQTT URL"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                Some(
                    port.parse::<u16>()
                        .map_err(|_| format!("'{url}': port '{port}' is not a number"))?,
                ),
            ),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err(format!("'{url}' has no host"));
        }
        let (port, tls, websocket) = match scheme {
            "mqtts" => {
                let tls = tls.ok_or_else(|| format!("{url}: mutual TLS needs --cert and --key"))?;
                (port.unwrap_or(8883), Some(tls), None)
            }
            "mqtt" => (port.unwrap_or(1883), None, None),
            "wss" => {
                let signing = signing.ok_or_else(|| format!("{url}: MQTT over WebSocket is signed with AWS credentials; none are configured"))?;
                (port.unwrap_or(443), None, Some(signing))
            }
            other => {
                return Err(format!(
                    "'{url}': scheme '{other}' is not mqtt://, mqtts:// or wss://"
                ));
            }
        };
        Ok(Self {
            host: host.trim_matches(['[', ']']).to_owned(),
            port,
            tls,
            client_id,
            websocket,
        })
    }
}

/// A received message, as the traffic views and `tail` need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficMessage {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    pub received: OffsetDateTime,
}

/// What the connection is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrafficEvent {
    Connected,
    /// The connection failed or dropped; the next attempt comes after `retry_in`.
    Disconnected {
        reason: String,
        retry_in: Duration,
    },
    Subscribed {
        filter: String,
        qos: u8,
    },
    /// The broker refused the subscription (not authorised, or a bad filter).
    SubscriptionRefused {
        filter: String,
    },
    Message(TrafficMessage),
    /// Messages dropped because the reader fell behind, since the last report.
    Dropped(u64),
    /// A publish left (QoS 0) or was acknowledged by the broker (QoS 1).
    Published {
        topic: String,
    },
    /// The AWS credentials that sign the WebSocket expire soon, and asking again gave no later
    /// ones (an SSO session that ends needs `aws sso login`). Said once per expiry.
    CredentialsExpire {
        at: OffsetDateTime,
    },
}

#[derive(Debug)]
enum Command {
    Subscribe(String),
    Unsubscribe(String),
    Publish {
        topic: String,
        payload: Bytes,
        qos: u8,
        retain: bool,
    },
}

/// Controls a running connection; dropping every handle ends it.
#[derive(Debug, Clone)]
pub struct TrafficHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl TrafficHandle {
    /// Adds a filter (checked first); it is subscribed now and after every reconnect.
    pub fn subscribe(&self, filter: &str) -> Result<(), String> {
        check_filter(filter)?;
        self.commands
            .send(Command::Subscribe(filter.to_owned()))
            .map_err(|_| "the connection has ended".to_owned())
    }

    pub fn unsubscribe(&self, filter: &str) -> Result<(), String> {
        self.commands
            .send(Command::Unsubscribe(filter.to_owned()))
            .map_err(|_| "the connection has ended".to_owned())
    }

    pub fn publish(
        &self,
        topic: &str,
        payload: Bytes,
        qos: u8,
        retain: bool,
    ) -> Result<(), String> {
        super::filter::check_topic(topic)?;
        if qos > 1 {
            return Err("AWS IoT has no QoS 2: use 0 or 1".into());
        }
        self.commands
            .send(Command::Publish {
                topic: topic.to_owned(),
                payload,
                qos,
                retain,
            })
            .map_err(|_| "the connection has ended".to_owned())
    }
}

fn read_certs(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    Ok(certs)
}

/// The roots to trust: the CA bundle given, else the system's.
fn roots(ca: Option<&PathBuf>) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(ca) => {
            for cert in read_certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(roots)
}

fn config_builder()
-> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
}

/// Reads the TLS files into a rustls configuration (aws-lc-rs provider; ALPN for port 443).
pub fn tls_config(files: &TlsFiles, port: u16) -> Result<rustls::ClientConfig, String> {
    let chain = read_certs(&files.certificate)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("{}: no private key: {e}", files.key.display()))?;
    let mut config = config_builder()?
        .with_root_certificates(roots(files.ca.as_ref())?)
        .with_client_auth_cert(chain, key)
        .map_err(|e| {
            format!(
                "{} and {} do not make a client identity: {e}",
                files.certificate.display(),
                files.key.display()
            )
        })?;
    if port == 443 {
        config.alpn_protocols = vec![b"x-amzn-mqtt-ca".to_vec()];
    }
    Ok(config)
}

/// Starts the connection task. `queue` bounds the messages waiting for the reader.
pub fn connect(
    settings: &TrafficSettings,
    queue: usize,
) -> Result<(TrafficHandle, mpsc::Receiver<TrafficEvent>), String> {
    let mut options = MqttOptions::new(
        settings.client_id.clone(),
        settings.host.clone(),
        settings.port,
    );
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    options.set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    if let Some(files) = &settings.tls {
        let config = tls_config(files, settings.port)?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(config),
        )));
    }
    let signer = settings.websocket.clone().map(Signer::new);
    if let Some(signer) = &signer {
        options = websocket_options(settings, signer)?;
    }
    let (client, eventloop) = AsyncClient::new(options, 256);
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (events, event_rx) = mpsc::channel(queue.max(1));
    tokio::spawn(run(client, eventloop, command_rx, events, signer));
    Ok((TrafficHandle { commands }, event_rx))
}

/// How soon before they expire cached credentials are asked for again.
const RENEW_BEFORE: Duration = Duration::from_mins(5);
/// How soon before they expire credentials that could not be renewed are warned of.
const WARN_BEFORE: Duration = Duration::from_mins(15);

/// Signs the WebSocket requests of one connection: with credentials kept until 5 minutes before
/// they expire (asking the provider on every reconnect made an SSO or IMDS call each time), and
/// what went wrong kept for the connection loop to say.
struct Signer {
    signing: WebSocketSigning,
    cached: tokio::sync::Mutex<Option<aws_credential_types::Credentials>>,
    news: std::sync::Mutex<SigningNews>,
}

#[derive(Debug, Default)]
struct SigningNews {
    /// Why the last request could not be signed.
    error: Option<String>,
    /// When the credentials in use expire, if they do.
    expires: Option<std::time::SystemTime>,
    /// The expiry already warned of.
    warned: Option<std::time::SystemTime>,
}

impl Signer {
    fn new(signing: WebSocketSigning) -> Arc<Self> {
        Arc::new(Self {
            signing,
            cached: tokio::sync::Mutex::new(None),
            news: std::sync::Mutex::new(SigningNews::default()),
        })
    }

    fn news(&self) -> std::sync::MutexGuard<'_, SigningNews> {
        self.news
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The credentials to sign with: the cached ones while they have 5 minutes left.
    async fn credentials(&self) -> Result<aws_credential_types::Credentials, String> {
        use aws_credential_types::provider::ProvideCredentials as _;
        let mut cached = self.cached.lock().await;
        let now = std::time::SystemTime::now();
        if let Some(credentials) = cached.as_ref()
            && credentials
                .expiry()
                .is_none_or(|expiry| expiry > now + RENEW_BEFORE)
        {
            return Ok(credentials.clone());
        }
        match self.signing.credentials.provide_credentials().await {
            Ok(fresh) => {
                *cached = Some(fresh.clone());
                Ok(fresh)
            }
            // Not yet expired: better than none; the expiry warning says what to do.
            Err(_)
                if cached
                    .as_ref()
                    .is_some_and(|c| c.expiry().is_none_or(|e| e > now)) =>
            {
                Ok(cached.clone().expect("checked above"))
            }
            Err(error) => Err(crate::fleet::error::source_chain(&error)),
        }
    }

    /// Signs a request to `authority`, noting what went wrong or when the credentials expire.
    async fn sign(&self, authority: &str) -> Result<http::Uri, String> {
        let signed = match self.credentials().await {
            Ok(credentials) => {
                self.news().expires = credentials.expiry();
                sign_with(&self.signing, &credentials, authority)
            }
            Err(error) => Err(error),
        };
        self.news().error = signed.as_ref().err().cloned();
        signed
    }

    /// Why a connection failed, in the words that help: the signing error when the request
    /// went unsigned, what AWS's 403 means otherwise.
    fn explain(&self, reason: String) -> String {
        if let Some(error) = self.news().error.clone() {
            return format!(
                "the WebSocket request could not be signed ({error}); check the AWS credentials \
                 (an SSO session needs `aws sso login`)"
            );
        }
        if reason.contains("403") {
            return format!(
                "{reason}: AWS refused the signed request; the credentials need iot:Connect on \
                 this client id, or have expired"
            );
        }
        reason
    }

    /// When the credentials in use expire within 15 minutes, not said before.
    fn expiring(&self) -> Option<std::time::SystemTime> {
        let mut news = self.news();
        let at = news.expires?;
        let soon = at <= std::time::SystemTime::now() + WARN_BEFORE;
        (soon && news.warned != Some(at)).then(|| {
            news.warned = Some(at);
            at
        })
    }
}

/// MQTT over WSS: the URL is signed again for every connection attempt (a signed URL is good for
/// at most 24 hours, and credentials rotate), in rumqttc's request hook.
fn websocket_options(
    settings: &TrafficSettings,
    signer: &Arc<Signer>,
) -> Result<MqttOptions, String> {
    let signing = &signer.signing;
    let authority = if settings.port == 443 {
        settings.host.clone()
    } else {
        format!("{}:{}", settings.host, settings.port)
    };
    let mut options = MqttOptions::new(
        settings.client_id.clone(),
        format!("wss://{authority}/mqtt"),
        settings.port,
    );
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    options.set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    let config = config_builder()?
        .with_root_certificates(roots(signing.ca.as_ref())?)
        .with_no_client_auth();
    options.set_transport(Transport::Wss(TlsConfiguration::Rustls(Arc::new(config))));
    let signer = signer.clone();
    options.set_request_modifier(move |mut request: http::Request<()>| {
        let signer = signer.clone();
        let authority = authority.clone();
        async move {
            match signer.sign(&authority).await {
                Ok(uri) => *request.uri_mut() = uri,
                // Sent unsigned, AWS answers 403: the loop says why (`Signer::explain`).
                Err(error) => tracing::warn!(%error, "cannot sign the MQTT WebSocket request"),
            }
            request
        }
    });
    Ok(options)
}

/// The presigned `wss://AUTHORITY/mqtt` URL, good for 24 hours.
fn sign_with(
    signing: &WebSocketSigning,
    credentials: &aws_credential_types::Credentials,
    authority: &str,
) -> Result<http::Uri, String> {
    let url = super::sigv4::presigned_url(&super::sigv4::Presign {
        host: authority,
        region: &signing.region,
        access_key_id: credentials.access_key_id(),
        secret_access_key: credentials.secret_access_key(),
        session_token: credentials.session_token(),
        time: std::time::SystemTime::now(),
        expires: Duration::from_hours(24),
    })?;
    url.parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())
}

fn qos_of(qos: u8) -> QoS {
    if qos == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

/// Backoff after `failures` consecutive failures: 0.5 s doubling to 30 s, with ±25 % jitter.
#[must_use]
pub fn backoff(failures: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << failures.min(6)).min(30_000);
    let mut jitter = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut jitter);
    let spread = base / 4;
    let offset = u64::from(u16::from_le_bytes(jitter)) % (2 * spread + 1);
    Duration::from_millis(base - spread + offset)
}

/// The connection task's bookkeeping: which filters to (re)subscribe, which packet ids belong
/// to which filter or publish, and how the reader is keeping up.
struct Session {
    client: AsyncClient,
    events: mpsc::Sender<TrafficEvent>,
    filters: BTreeSet<String>,
    /// Sent only while connected; on (re)connection every filter is sent again.
    connected: bool,
    /// Filters sent and waiting for their packet id, then for their SUBACK.
    unsent: VecDeque<String>,
    awaiting: BTreeMap<u16, String>,
    /// Publishes waiting for their packet id, then (QoS 1) for their PUBACK.
    publishing: VecDeque<String>,
    inflight: BTreeMap<u16, String>,
    /// Publishes rumqttc's request queue had no room for yet, in order; none is ever dropped.
    backlog: VecDeque<(String, Bytes, u8, bool)>,
    failures: u32,
    /// Messages dropped since the reader was found stuck, not yet reported.
    dropped: u64,
    dropping: bool,
}

/// How long a full queue is waited on before the reader counts as stuck.
pub const STALL: Duration = Duration::from_secs(1);

impl Session {
    /// Queues an event for the reader, waiting while the queue is full (the socket is not read
    /// meanwhile); a reader stuck for `STALL` has messages dropped and counted until half the
    /// queue is free again (a publish's confirmation goes with them, not counted as a message).
    /// What the connection does is never dropped: the status the reader shows is the last one
    /// said. False once nobody reads.
    async fn emit(&mut self, event: TrafficEvent) -> bool {
        let message = matches!(event, TrafficEvent::Message(_));
        if !message && !matches!(event, TrafficEvent::Published { .. }) {
            return self.events.send(event).await.is_ok();
        }
        if self.dropping && !self.recover() {
            self.dropped += u64::from(message);
            return true;
        }
        let event = match self.events.try_send(event) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Full(event)) => event,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
        };
        // Wait for half the queue at once: the next many go in without a wait (and a timer)
        // each.
        let half = (self.events.max_capacity() / 2).max(1);
        if let Ok(reserved) = tokio::time::timeout(STALL, self.events.reserve_many(half)).await {
            let Some(permit) = reserved.ok().and_then(|mut permits| permits.next()) else {
                return false;
            };
            permit.send(event);
            return true;
        }
        tracing::warn!("the traffic reader is stuck: dropping messages, counted");
        self.dropping = true;
        self.dropped += u64::from(message);
        true
    }

    /// Ends dropping once half the queue is free, and reports the count. True when it ended.
    fn recover(&mut self) -> bool {
        if self.events.capacity() * 2 < self.events.max_capacity() {
            return false;
        }
        let dropped = std::mem::take(&mut self.dropped);
        self.dropping = false;
        dropped == 0 || self.events.try_send(TrafficEvent::Dropped(dropped)).is_ok()
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Subscribe(filter) => {
                let new = self.filters.insert(filter.clone());
                if new
                    && self.connected
                    && self
                        .client
                        .try_subscribe(filter.clone(), QoS::AtLeastOnce)
                        .is_ok()
                {
                    self.unsent.push_back(filter);
                }
            }
            Command::Unsubscribe(filter) => {
                self.filters.remove(&filter);
                let _ = self.client.try_unsubscribe(filter);
            }
            Command::Publish {
                topic,
                payload,
                qos,
                retain,
            } => {
                self.backlog.push_back((topic, payload, qos, retain));
                self.flush();
            }
        }
    }

    /// Hands waiting publishes to rumqttc while its request queue has room.
    fn flush(&mut self) {
        while let Some((topic, payload, qos, retain)) = self.backlog.front() {
            let sent =
                self.client
                    .try_publish(topic.clone(), qos_of(*qos), *retain, payload.clone());
            if sent.is_err() {
                // Full: the event loop drains it, and the next poll flushes again.
                return;
            }
            if let Some((topic, ..)) = self.backlog.pop_front() {
                self.publishing.push_back(topic);
            }
        }
    }

    /// What a polled packet means for the reader; `read` is when its bytes were read.
    fn packet(&mut self, event: Event, read: OffsetDateTime) -> Option<TrafficEvent> {
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                self.failures = 0;
                self.connected = true;
                // A clean session forgets subscriptions: subscribe everything again.
                self.unsent.clear();
                self.awaiting.clear();
                for filter in &self.filters {
                    if self
                        .client
                        .try_subscribe(filter.clone(), QoS::AtLeastOnce)
                        .is_ok()
                    {
                        self.unsent.push_back(filter.clone());
                    }
                }
                Some(TrafficEvent::Connected)
            }
            Event::Outgoing(Outgoing::Subscribe(pkid)) => {
                if let Some(filter) = self.unsent.pop_front() {
                    self.awaiting.insert(pkid, filter);
                }
                None
            }
            Event::Incoming(Packet::SubAck(ack)) => {
                self.awaiting
                    .remove(&ack.pkid)
                    .map(|filter| match ack.return_codes.first() {
                        Some(rumqttc::SubscribeReasonCode::Success(qos)) => {
                            TrafficEvent::Subscribed {
                                filter,
                                qos: *qos as u8,
                            }
                        }
                        _ => TrafficEvent::SubscriptionRefused { filter },
                    })
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => match self.publishing.pop_front() {
                // QoS 0 has no packet id and no acknowledgement: sent is all there is.
                Some(topic) if pkid == 0 => Some(TrafficEvent::Published { topic }),
                Some(topic) => {
                    self.inflight.insert(pkid, topic);
                    None
                }
                None => None,
            },
            Event::Incoming(Packet::PubAck(ack)) => self
                .inflight
                .remove(&ack.pkid)
                .map(|topic| TrafficEvent::Published { topic }),
            Event::Incoming(Packet::Publish(publish)) => {
                Some(TrafficEvent::Message(TrafficMessage {
                    topic: publish.topic,
                    payload: publish.payload,
                    qos: publish.qos as u8,
                    retain: publish.retain,
                    received: read,
                }))
            }
            _ => None,
        }
    }
}

/// How long reads pause under a flood, so that each read takes many messages: reading each
/// message or two as it lands costs a wake-up, a `recv` and an ACK apiece, which was most of the
/// reader's CPU. Messages wait in the socket meanwhile (TCP pushes back on the broker; nothing is
/// lost), at most a millisecond or two more, and only while they arrive less than this apart.
const GATHER: Duration = Duration::from_millis(1);

/// Packets rumqttc takes from the network in one go (`max_readb_count` less one): a read that
/// returns fewer found the socket empty.
const READ_BATCH: usize = 9;

/// When the reader last found the socket empty, to tell a flood (the next read finds more within
/// `GATHER`) from a trickle.
#[derive(Debug, Default)]
struct Gatherer {
    emptied: Option<std::time::Instant>,
}

impl Gatherer {
    /// After a read of `packets`: how long to wait before the next one.
    fn after_read(&mut self, packets: usize, now: std::time::Instant) -> Option<Duration> {
        if packets >= READ_BATCH {
            // More is waiting: read on.
            return None;
        }
        let dense = self
            .emptied
            .is_some_and(|emptied| now.duration_since(emptied) < GATHER);
        self.emptied = Some(now);
        dense.then_some(GATHER)
    }
}

async fn run(
    client: AsyncClient,
    mut eventloop: rumqttc::EventLoop,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<TrafficEvent>,
    signer: Option<Arc<Signer>>,
) {
    let mut session = Session {
        client,
        events,
        filters: BTreeSet::new(),
        connected: false,
        unsent: VecDeque::new(),
        awaiting: BTreeMap::new(),
        publishing: VecDeque::new(),
        inflight: BTreeMap::new(),
        backlog: VecDeque::new(),
        failures: 0,
        dropped: 0,
        dropping: false,
    };
    let mut gatherer = Gatherer::default();
    let mut read = OffsetDateTime::now_utc();
    let mut pause = None;
    loop {
        // rumqttc hands out the packets of one read a poll at a time; when none is left, the
        // next poll reads the network.
        let reads = eventloop.state.events.is_empty();
        if reads && let Some(pause) = pause.take() {
            tokio::time::sleep(pause).await;
        }
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => session.command(command),
                None => return,
            },
            // Drops are reported as the reader catches up, even when no message follows.
            () = tokio::time::sleep(Duration::from_millis(100)), if session.dropping => {
                session.recover();
            }
            polled = eventloop.poll() => match polled {
                Ok(event) => {
                    if reads {
                        read = OffsetDateTime::now_utc();
                        let packets = 1 + eventloop.state.events.len();
                        pause = gatherer.after_read(packets, std::time::Instant::now());
                    }
                    session.flush();
                    let connected = matches!(event, Event::Incoming(Packet::ConnAck(_)));
                    if let Some(event) = session.packet(event, read)
                        && !session.emit(event).await
                    {
                        return;
                    }
                    // Checked as each connection is made, not per message.
                    if connected
                        && let Some(at) = signer.as_ref().and_then(|s| s.expiring())
                        && !session
                            .emit(TrafficEvent::CredentialsExpire {
                                at: OffsetDateTime::from(at),
                            })
                            .await
                    {
                        return;
                    }
                }
                Err(error) => {
                    session.connected = false;
                    let retry_in = backoff(session.failures);
                    session.failures = session.failures.saturating_add(1);
                    let reason = match &signer {
                        Some(signer) => signer.explain(error.to_string()),
                        None => error.to_string(),
                    };
                    tracing::info!(%reason, ?retry_in, "MQTT connection lost");
                    if !session
                        .emit(TrafficEvent::Disconnected { reason, retry_in })
                        .await
                    {
                        return;
                    }
                    tokio::time::sleep(retry_in).await;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_hosts_ports_and_say_what_is_missing() {
        let tls = TlsFiles {
            certificate: "c.pem".into(),
            key: "k.pem".into(),
            ca: None,
        };
        let settings = TrafficSettings::from_url(
            "mqtts://a1b2-ats.iot.eu-west-1.amazonaws.com",
            Some(tls.clone()),
            "id".into(),
            None,
        )
        .unwrap();
        assert_eq!(
            (settings.host.as_str(), settings.port),
            ("a1b2-ats.iot.eu-west-1.amazonaws.com", 8883)
        );
        assert_eq!(
            TrafficSettings::from_url("mqtt://127.0.0.1:1884", None, "id".into(), None)
                .unwrap()
                .port,
            1884
        );
        assert!(
            TrafficSettings::from_url("mqtts://host", None, "id".into(), None)
                .unwrap_err()
                .contains("--cert")
        );
        assert!(
            TrafficSettings::from_url("mqtt://host:port", None, "id".into(), None)
                .unwrap_err()
                .contains("not a number")
        );
    }

    #[test]
    fn reads_pause_only_in_a_flood_and_never_while_more_is_waiting() {
        let start = std::time::Instant::now();
        let at = |micros: u64| start + Duration::from_micros(micros);
        let mut gatherer = Gatherer::default();
        // A trickle: each read empties the socket, a second apart: never a pause.
        assert_eq!(gatherer.after_read(1, at(0)), None);
        assert_eq!(gatherer.after_read(1, at(1_000_000)), None);
        // A flood: the socket is emptied again within the gathering time: pause.
        assert_eq!(gatherer.after_read(2, at(1_000_300)), Some(GATHER));
        // A full read leaves more waiting: read on at once, whatever the pace.
        assert_eq!(gatherer.after_read(READ_BATCH, at(1_000_400)), None);
        assert_eq!(gatherer.after_read(3, at(1_000_500)), Some(GATHER));
        // The flood ends: the next message a second later is read at once.
        assert_eq!(gatherer.after_read(1, at(2_000_500)), None);
    }

    #[test]
    fn backoff_grows_to_thirty_seconds_with_jitter() {
        let first = backoff(0);
        assert!((375..=625).contains(&first.as_millis()), "{first:?}");
        let late = backoff(20);
        assert!((22_500..=37_500).contains(&late.as_millis()), "{late:?}");
    }

    #[tokio::test]
    async fn each_websocket_connection_is_signed_afresh_with_the_token_appended() {
        let credentials = aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                Some("token".into()),
                None,
                "test",
            ),
        );
        let signing = WebSocketSigning {
            credentials,
            region: "eu-west-1".into(),
            ca: None,
        };
        let uri = Signer::new(signing)
            .sign("example-ats.iot.eu-west-1.amazonaws.com")
            .await
            .unwrap();
        assert_eq!(uri.scheme_str(), Some("wss"));
        assert_eq!(uri.path(), "/mqtt");
        let query = uri.query().unwrap();
        assert!(
            query.contains("X-Amz-Credential=AKIDEXAMPLE%2F")
                && query.contains("%2Feu-west-1%2Fiotdevicegateway%2Faws4_request"),
            "{query}"
        );
        assert!(
            query.contains("X-Amz-Signature=") && query.ends_with("X-Amz-Security-Token=token"),
            "{query}"
        );
    }

    /// A credentials provider that counts how often it is asked, answering credentials that
    /// expire `lasting` from now (or an error when None).
    #[derive(Debug)]
    struct Counting {
        asked: Arc<std::sync::atomic::AtomicUsize>,
        lasting: Option<Duration>,
    }

    impl aws_credential_types::provider::ProvideCredentials for Counting {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.asked
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            aws_credential_types::provider::future::ProvideCredentials::ready(match self.lasting {
                Some(lasting) => Ok(aws_credential_types::Credentials::new(
                    "AKID",
                    "secret",
                    Some("token".into()),
                    Some(std::time::SystemTime::now() + lasting),
                    "counting",
                )),
                None => Err(
                    aws_credential_types::provider::error::CredentialsError::not_loaded(
                        "the SSO session has expired",
                    ),
                ),
            })
        }
    }

    fn signer(lasting: Option<Duration>) -> (Arc<Signer>, Arc<std::sync::atomic::AtomicUsize>) {
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let signing = WebSocketSigning {
            credentials: aws_credential_types::provider::SharedCredentialsProvider::new(Counting {
                asked: asked.clone(),
                lasting,
            }),
            region: "eu-west-1".into(),
            ca: None,
        };
        (Signer::new(signing), asked)
    }

    #[tokio::test]
    async fn reconnects_sign_with_cached_credentials_until_five_minutes_before_they_expire() {
        let host = "example-ats.iot.eu-west-1.amazonaws.com";
        let (lasting, asked) = signer(Some(Duration::from_hours(1)));
        for _ in 0..5 {
            lasting.sign(host).await.unwrap();
        }
        assert_eq!(
            asked.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "asked once"
        );
        assert_eq!(lasting.expiring(), None, "an hour left: nothing to say");

        let (short, asked) = signer(Some(Duration::from_mins(4)));
        short.sign(host).await.unwrap();
        short.sign(host).await.unwrap();
        assert_eq!(
            asked.load(std::sync::atomic::Ordering::Relaxed),
            2,
            "less than 5 minutes left: asked again"
        );
        assert!(short.expiring().is_some(), "said once");
        assert_eq!(short.expiring(), None, "and not again for the same expiry");
    }

    #[tokio::test]
    async fn a_request_that_cannot_be_signed_says_why_instead_of_a_bare_403() {
        let (failing, _) = signer(None);
        let error = failing.sign("host").await.unwrap_err();
        assert!(error.contains("the SSO session has expired"), "{error}");
        let said = failing.explain("HTTP error: 403 Forbidden".into());
        assert!(
            said.starts_with("the WebSocket request could not be signed (")
                && said.contains("aws sso login"),
            "{said}"
        );
        let (signing, _) = signer(Some(Duration::from_hours(1)));
        signing.sign("host").await.unwrap();
        let said = signing.explain("HTTP error: 403 Forbidden".into());
        assert!(said.contains("need iot:Connect"), "{said}");
        assert_eq!(
            signing.explain("connection refused".into()),
            "connection refused"
        );
    }
}
