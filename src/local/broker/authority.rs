//! Who a connection is and what it may do. A device is known by its client certificate (mapped
//! to the registry's certificate by subject and serial, which is what the TLS layer reports) and
//! is judged by `src/policy/` against the policies in effect for that certificate, with its
//! Thing's name and attributes as policy variables, so what a device may do locally is what AWS
//! IoT would let it do. The console's own certificate is the operator, allowed everything.
//! A CONNECT's Last Will is judged too (`iot:Publish` on its topic, and `iot:RetainPublish` for
//! a retained one), and judged again when it would be published, against the policies and the
//! certificate's status in force then (a quarantine since the CONNECT drops it); the will of a
//! connection ended by DeleteConnection with `preventWillMessage` is remembered here so the
//! broker drops it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use super::super::core::Core;
use super::super::registry;
use super::super::seed::REGION;
use crate::policy::{NamedPolicy, PolicyDocument, Request, RequestContext, evaluate};

/// A certificate as the TLS layer describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertKey {
    pub subject: String,
    /// Lower-case hexadecimal without leading zeros.
    pub serial: String,
}

impl CertKey {
    /// The key of the first certificate in `pem`.
    #[must_use]
    pub fn of_pem(pem: &str) -> Option<Self> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
        let certificate = block.parse_x509().ok()?;
        Some(Self {
            subject: certificate.subject().to_string(),
            serial: certificate.serial.to_str_radix(16),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Operator,
    Device { principal: String },
}

/// Why a CONNECT was refused, as AWS IoT's log says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRefused {
    /// The registered certificate's id, when there is one.
    pub principal_id: Option<String>,
    /// `AUTHENTICATION_FAILURE` (no usable certificate) or `AUTHORIZATION_FAILURE` (the
    /// policies do not allow it).
    pub reason: &'static str,
    pub details: String,
}

impl ConnectRefused {
    fn authentication(principal_id: Option<String>, details: String) -> Self {
        Self {
            principal_id,
            reason: "AUTHENTICATION_FAILURE",
            details,
        }
    }

    fn authorization(principal_id: String, details: String) -> Self {
        Self {
            principal_id: Some(principal_id),
            reason: "AUTHORIZATION_FAILURE",
            details,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Publish,
    Subscribe,
    Receive,
}

impl Action {
    fn iam(self) -> &'static str {
        match self {
            Action::Publish => "iot:Publish",
            Action::Subscribe => "iot:Subscribe",
            Action::Receive => "iot:Receive",
        }
    }

    fn resource(self, account: &str, topic: &str) -> String {
        let kind = if self == Action::Subscribe {
            "topicfilter"
        } else {
            "topic"
        };
        arn(account, &format!("{kind}/{topic}"))
    }
}

/// An ARN of the fleet's account (`account`) and region.
fn arn(account: &str, resource: &str) -> String {
    format!("arn:aws:iot:{REGION}:{account}:{resource}")
}

/// The policies and request context of one connection, as of one revision of the state.
#[derive(Debug)]
struct Grant {
    revision: u64,
    policies: Vec<(String, PolicyDocument)>,
    context: RequestContext,
}

impl Grant {
    fn allows(&self, action: &str, resource: &str) -> bool {
        let named: Vec<NamedPolicy<'_>> = self
            .policies
            .iter()
            .map(|(name, document)| NamedPolicy { name, document })
            .collect();
        evaluate(&named, Request { action, resource }, &self.context).allowed()
    }
}

#[derive(Debug)]
struct Connection {
    /// The peer address tells a connection from a newer one that took over its client id.
    peer: Option<std::net::SocketAddr>,
    /// When its session was created (ms), as its Last Will's sender names it.
    created_ms: i64,
    identity: Identity,
    grant: Option<Arc<Grant>>,
}

/// A session asking to connect.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    pub client_id: &'a str,
    /// When the broker created the session (ms): with the client id, it names its Last Will.
    pub created_ms: i64,
    pub peer: Option<std::net::SocketAddr>,
}

/// A Last Will asked for at CONNECT: its topic, and whether it is to be retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Will<'a> {
    pub topic: &'a str,
    pub retain: bool,
}

/// How many suppressed wills are remembered: each is dropped within moments of its kick, so a
/// few hundred cover any burst of quarantines.
const SUPPRESSED_WILLS: usize = 1024;
/// How many ended sessions' wills stay known (an MQTT 5 will may be delayed past the end of its
/// session): the oldest are forgotten first, and a will no longer known is not published.
const ENDED_WILLS: usize = 4096;

/// Who asked for the Last Wills of sessions still known, by (client id, created ms): the
/// certificate's principal (None: the operator).
#[derive(Debug, Default)]
struct Wills {
    by_session: HashMap<(String, i64), Option<String>>,
    /// Sessions that have ended, oldest first.
    ended: VecDeque<(String, i64)>,
}

#[derive(Debug)]
pub struct Authority {
    core: Arc<Core>,
    operator: CertKey,
    /// Sessions (client id, creation time in ms) whose Last Will must not be published.
    suppressed_wills: Mutex<VecDeque<(String, i64)>>,
    wills: Mutex<Wills>,
    /// Registry certificates by key, rebuilt when a key is not found and the state has changed.
    certificates: Mutex<(u64, HashMap<CertKey, String>)>,
    connections: Mutex<HashMap<String, Connection>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Authority {
    #[must_use]
    pub fn new(core: Arc<Core>, operator: CertKey) -> Self {
        Self {
            core,
            operator,
            certificates: Mutex::new((u64::MAX, HashMap::new())),
            connections: Mutex::new(HashMap::new()),
            suppressed_wills: Mutex::new(VecDeque::new()),
            wills: Mutex::new(Wills::default()),
        }
    }

    /// Whether the Last Will of the session `client_id` created at `created_ms` may be published
    /// on `topic` now: not suppressed by DeleteConnection, asked for by a session this broker
    /// authenticated, and (for a device) its certificate still ACTIVE with policies that allow
    /// `iot:Publish` there (and `iot:RetainPublish` for a retained will).
    #[must_use]
    pub fn will_allowed(
        &self,
        client_id: &str,
        created_ms: i64,
        topic: &str,
        retain: bool,
    ) -> bool {
        if self.will_suppressed(client_id, created_ms) {
            return false;
        }
        let asked_by = lock(&self.wills)
            .by_session
            .get(&(client_id.to_owned(), created_ms))
            .cloned();
        let principal = match asked_by {
            None => return false,
            Some(None) => return true,
            Some(Some(principal)) => principal,
        };
        let state = self.core.store.lock();
        let id = principal.rsplit('/').next().unwrap_or_default();
        if state.certificates.get(id).map(|c| c.status.as_str()) != Some("ACTIVE") {
            return false;
        }
        let grant = Grant {
            revision: 0,
            policies: registry::effective_policies(&state, &principal),
            context: registry::request_context(&state, &principal, Some(client_id)),
        };
        let resource = arn(&self.core.identity.account, &format!("topic/{topic}"));
        grant.allows("iot:Publish", &resource)
            && (!retain || grant.allows("iot:RetainPublish", &resource))
    }

    /// The session `client_id` created at `created_ms` is being disconnected with
    /// `preventWillMessage`: its Last Will is dropped.
    pub fn suppress_will(&self, client_id: &str, created_ms: i64) {
        let mut wills = lock(&self.suppressed_wills);
        if wills.len() == SUPPRESSED_WILLS {
            wills.pop_front();
        }
        wills.push_back((client_id.to_owned(), created_ms));
    }

    /// Whether the Last Will of that session must be dropped.
    #[must_use]
    pub fn will_suppressed(&self, client_id: &str, created_ms: i64) -> bool {
        lock(&self.suppressed_wills)
            .iter()
            .any(|(id, created)| id == client_id && *created == created_ms)
    }

    fn certificate_id(&self, key: &CertKey) -> Option<String> {
        let revision = self.core.store.revision();
        let mut index = lock(&self.certificates);
        if let Some(id) = index.1.get(key) {
            return Some(id.clone());
        }
        if index.0 != revision {
            let state = self.core.store.lock();
            index.1 = state
                .certificates
                .iter()
                .filter_map(|(id, record)| Some((CertKey::of_pem(&record.pem)?, id.clone())))
                .collect();
            index.0 = revision;
        }
        index.1.get(key).cloned()
    }

    /// Decides a CONNECT: the operator, or an ACTIVE registry certificate whose policies allow
    /// `iot:Connect` on `client/CLIENT_ID` and, when it asks for a Last Will, `iot:Publish` on the
    /// will's topic (and `iot:RetainPublish` for a retained will), as AWS IoT does. The reason is
    /// logged, never sent to the device.
    pub fn authenticate(
        &self,
        session: &Session<'_>,
        key: Option<&CertKey>,
        will: Option<Will<'_>>,
    ) -> Result<Identity, ConnectRefused> {
        let Session {
            client_id,
            created_ms,
            peer,
        } = *session;
        let key = key
            .ok_or_else(|| ConnectRefused::authentication(None, "no client certificate".into()))?;
        let identity = if *key == self.operator {
            Identity::Operator
        } else {
            let id = self.certificate_id(key).ok_or_else(|| {
                ConnectRefused::authentication(
                    None,
                    format!("certificate {} is not registered", key.subject),
                )
            })?;
            let status = self
                .core
                .store
                .lock()
                .certificates
                .get(&id)
                .map(|c| c.status.clone())
                .unwrap_or_default();
            if status != "ACTIVE" {
                let details = format!("certificate {id} is {status}");
                return Err(ConnectRefused::authentication(Some(id), details));
            }
            let identity = Identity::Device {
                principal: arn(&self.core.identity.account, &format!("cert/{id}")),
            };
            let grant = self.grant(client_id, &identity);
            let account = &self.core.identity.account;
            if !grant.allows("iot:Connect", &arn(account, &format!("client/{client_id}"))) {
                let details = format!(
                    "the policies of certificate {id} do not allow iot:Connect as {client_id}"
                );
                return Err(ConnectRefused::authorization(id, details));
            }
            if let Some(will) = will {
                let topic = arn(account, &format!("topic/{}", will.topic));
                for action in ["iot:Publish", "iot:RetainPublish"] {
                    if (action == "iot:Publish" || will.retain) && !grant.allows(action, &topic) {
                        let details = format!(
                            "the policies of certificate {id} do not allow {action} on its Last Will topic {}",
                            will.topic
                        );
                        return Err(ConnectRefused::authorization(id, details));
                    }
                }
            }
            identity
        };
        if will.is_some() {
            let principal = match &identity {
                Identity::Operator => None,
                Identity::Device { principal } => Some(principal.clone()),
            };
            lock(&self.wills)
                .by_session
                .insert((client_id.to_owned(), created_ms), principal);
        }
        lock(&self.connections).insert(
            client_id.to_owned(),
            Connection {
                peer,
                created_ms,
                identity: identity.clone(),
                grant: None,
            },
        );
        Ok(identity)
    }

    fn grant(&self, client_id: &str, identity: &Identity) -> Arc<Grant> {
        let Identity::Device { principal } = identity else {
            unreachable!("the operator needs no grant");
        };
        let revision = self.core.store.revision();
        let state = self.core.store.lock();
        Arc::new(Grant {
            revision,
            policies: registry::effective_policies(&state, principal),
            context: registry::request_context(&state, principal, Some(client_id)),
        })
    }

    /// Whether the connection `client_id` may do `action` on `topic` (a filter for Subscribe).
    #[must_use]
    pub fn allows(&self, client_id: &str, action: Action, topic: &str) -> bool {
        let revision = self.core.store.revision();
        let (identity, cached) = {
            let connections = lock(&self.connections);
            let Some(connection) = connections.get(client_id) else {
                return false;
            };
            (connection.identity.clone(), connection.grant.clone())
        };
        if identity == Identity::Operator {
            return true;
        }
        let grant = match cached {
            Some(grant) if grant.revision == revision => grant,
            _ => {
                let grant = self.grant(client_id, &identity);
                if let Some(connection) = lock(&self.connections).get_mut(client_id) {
                    connection.grant = Some(grant.clone());
                }
                grant
            }
        };
        grant.allows(
            action.iam(),
            &action.resource(&self.core.identity.account, topic),
        )
    }

    /// Who the connection `client_id` authenticated as, while it is connected.
    #[must_use]
    pub fn identity_of(&self, client_id: &str) -> Option<Identity> {
        lock(&self.connections)
            .get(client_id)
            .map(|c| c.identity.clone())
    }

    /// Who the connection `client_id` from `peer` authenticated as (not a newer one that took
    /// its client id over).
    #[must_use]
    pub fn session_identity(
        &self,
        client_id: &str,
        peer: Option<std::net::SocketAddr>,
    ) -> Option<Identity> {
        lock(&self.connections)
            .get(client_id)
            .filter(|c| c.peer == peer)
            .map(|c| c.identity.clone())
    }

    /// Drops what is known of a closed connection (not of a newer one with the same client id);
    /// its Last Will stays known a while, for a will delayed past the session's end.
    pub fn forget(&self, client_id: &str, peer: Option<std::net::SocketAddr>) {
        let mut connections = lock(&self.connections);
        let Some(connection) = connections.get(client_id).filter(|c| c.peer == peer) else {
            return;
        };
        let session = (client_id.to_owned(), connection.created_ms);
        connections.remove(client_id);
        drop(connections);
        let mut wills = lock(&self.wills);
        if wills.by_session.contains_key(&session) {
            wills.ended.push_back(session);
            while wills.ended.len() > ENDED_WILLS {
                if let Some(oldest) = wills.ended.pop_front() {
                    wills.by_session.remove(&oldest);
                }
            }
        }
    }
}
