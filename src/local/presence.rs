//! Who is connected to the local broker, as AWS IoT tells it: the lifecycle events published on
//! `$aws/events/presence/connected/CLIENTID` and `.../disconnected/CLIENTID` (with AWS's fields),
//! the subscription events, and GetThingConnectivityData for a Thing (whose client id is its
//! name). The broker records sessions here; the REST API reads them. Pure bookkeeping: it
//! publishes nothing itself.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde_json::{Value, json};

/// Why a session ended, in AWS's words (`disconnectReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    ClientInitiatedDisconnect,
    ServerInitiatedDisconnect,
    DuplicateClientId,
    MqttKeepAliveTimeout,
    ConnectionLost,
    ForbiddenAccess,
    ClientError,
    Unknown,
}

impl DisconnectReason {
    #[must_use]
    pub fn as_aws(self) -> &'static str {
        match self {
            Self::ClientInitiatedDisconnect => "CLIENT_INITIATED_DISCONNECT",
            Self::ServerInitiatedDisconnect => "SERVER_INITIATED_DISCONNECT",
            Self::DuplicateClientId => "DUPLICATE_CLIENTID",
            Self::MqttKeepAliveTimeout => "MQTT_KEEP_ALIVE_TIMEOUT",
            Self::ConnectionLost => "CONNECTION_LOST",
            Self::ForbiddenAccess => "FORBIDDEN_ACCESS",
            Self::ClientError => "CLIENT_ERROR",
            Self::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    connected: bool,
    /// Epoch milliseconds of the last connect or disconnect.
    since_ms: i64,
    reason: Option<DisconnectReason>,
    identifier: String,
    principal: String,
    version: u64,
}

/// What fleet indexing's connectivity fields say of a client: its newest session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub connected: bool,
    /// Epoch milliseconds of the last connect or disconnect.
    pub since_ms: i64,
    pub reason: Option<DisconnectReason>,
}

/// The sessions of the broker by client id, the newest of each.
#[derive(Debug, Default)]
pub struct Presence {
    sessions: Mutex<HashMap<String, Session>>,
}

/// A lifecycle event to publish: topic and JSON payload.
pub type Event = (String, Value);

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A session of `client_id` authenticated as `principal` opened (`session` identifies it);
    /// the event to publish.
    pub fn connected(
        &self,
        client_id: &str,
        principal: &str,
        session: &str,
        ip: Option<String>,
        now_ms: i64,
    ) -> Event {
        let mut sessions = self.lock();
        let entry = sessions.entry(client_id.to_owned()).or_insert(Session {
            connected: false,
            since_ms: now_ms,
            reason: None,
            identifier: String::new(),
            principal: String::new(),
            version: 0,
        });
        entry.connected = true;
        entry.since_ms = now_ms;
        entry.reason = None;
        session.clone_into(&mut entry.identifier);
        principal.clone_into(&mut entry.principal);
        entry.version += 1;
        let mut payload = json!({
            "clientId": client_id,
            "timestamp": now_ms,
            "eventType": "connected",
            "sessionIdentifier": session,
            "principalIdentifier": principal,
            "versionNumber": entry.version,
        });
        if let Some(ip) = ip {
            payload["ipAddress"] = json!(ip);
        }
        (
            format!("$aws/events/presence/connected/{client_id}"),
            payload,
        )
    }

    /// The session `session` of `client_id` ended for `reason`; the event to publish, None when a
    /// newer session of the same client id has taken over (its own events say so).
    pub fn disconnected(
        &self,
        client_id: &str,
        session: &str,
        reason: DisconnectReason,
        now_ms: i64,
    ) -> Option<Event> {
        let mut sessions = self.lock();
        let entry = sessions.get_mut(client_id)?;
        if entry.identifier != session {
            return None;
        }
        entry.connected = false;
        entry.since_ms = now_ms;
        entry.reason = Some(reason);
        entry.version += 1;
        Some((
            format!("$aws/events/presence/disconnected/{client_id}"),
            json!({
                "clientId": client_id,
                "timestamp": now_ms,
                "eventType": "disconnected",
                "clientInitiatedDisconnect": reason == DisconnectReason::ClientInitiatedDisconnect,
                "sessionIdentifier": entry.identifier,
                "principalIdentifier": entry.principal,
                "disconnectReason": reason.as_aws(),
                "versionNumber": entry.version,
            }),
        ))
    }

    /// A subscription (or unsubscription, `subscribed` false) by `client_id`; the event.
    #[must_use]
    pub fn subscription(
        &self,
        client_id: &str,
        filter: &str,
        subscribed: bool,
        now_ms: i64,
    ) -> Event {
        let sessions = self.lock();
        let (session, principal) = sessions
            .get(client_id)
            .map(|s| (s.identifier.clone(), s.principal.clone()))
            .unwrap_or_default();
        let kind = if subscribed {
            "subscribed"
        } else {
            "unsubscribed"
        };
        (
            format!("$aws/events/subscriptions/{kind}/{client_id}"),
            json!({
                "clientId": client_id,
                "timestamp": now_ms,
                "eventType": kind,
                "sessionIdentifier": session,
                "principalIdentifier": principal,
                "topics": [filter],
            }),
        )
    }

    /// The newest session of `client_id`: connected, since (epoch milliseconds), and why it
    /// ended; None when the client was never seen.
    #[must_use]
    pub fn link(&self, client_id: &str) -> Option<Link> {
        self.lock().get(client_id).map(|s| Link {
            connected: s.connected,
            since_ms: s.since_ms,
            reason: s.reason,
        })
    }

    /// GetThingConnectivityData's answer for a Thing, whose client id is its name: connected,
    /// since when (a timestamp, so epoch seconds on the wire, to the millisecond), and why the
    /// last session ended. A client never seen is not connected and has no timestamp.
    #[must_use]
    pub fn connectivity(&self, thing: &str) -> Value {
        let sessions = self.lock();
        let mut out = json!({"thingName": thing, "connected": false});
        if let Some(session) = sessions.get(thing) {
            out["connected"] = json!(session.connected);
            #[expect(
                clippy::cast_precision_loss,
                reason = "epoch milliseconds fit a double exactly for millennia"
            )]
            let seconds = session.since_ms as f64 / 1000.0;
            out["timestamp"] = json!(seconds);
            if let Some(reason) = session.reason {
                out["disconnectReason"] = json!(reason.as_aws());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_connects_and_disconnects_with_aws_fields_and_a_newer_one_wins() {
        let presence = Presence::default();
        assert_eq!(presence.connectivity("pump-1")["connected"], false);
        let (topic, connected) = presence.connected("pump-1", "abc", "s1", None, 1000);
        assert_eq!(topic, "$aws/events/presence/connected/pump-1");
        assert_eq!(connected["eventType"], "connected");
        assert_eq!(connected["principalIdentifier"], "abc");
        assert_eq!(presence.connectivity("pump-1")["connected"], true);
        assert_eq!(presence.connectivity("pump-1")["timestamp"], 1.0);

        // A second session takes the client id over; the first one's end says nothing.
        presence.connected("pump-1", "abc", "s2", None, 2000);
        assert!(
            presence
                .disconnected("pump-1", "s1", DisconnectReason::DuplicateClientId, 2001)
                .is_none()
        );
        let (topic, gone) = presence
            .disconnected(
                "pump-1",
                "s2",
                DisconnectReason::ServerInitiatedDisconnect,
                3000,
            )
            .unwrap();
        assert_eq!(topic, "$aws/events/presence/disconnected/pump-1");
        assert_eq!(gone["disconnectReason"], "SERVER_INITIATED_DISCONNECT");
        assert_eq!(gone["clientInitiatedDisconnect"], false);
        assert_eq!(gone["versionNumber"], 3);
        let data = presence.connectivity("pump-1");
        assert_eq!(data["connected"], false);
        assert_eq!(data["disconnectReason"], "SERVER_INITIATED_DISCONNECT");
        assert_eq!(data["timestamp"], 3.0);
    }
}
