//! Every session of a certificate the service has shown: AWS lists no sessions by certificate,
//! so they are read from what AWS IoT's logging writes to CloudWatch Logs' `AWSIotLogsV2` (a
//! `Connect` and `Disconnect` at level INFO, a refused publish or subscribe at ERROR), each
//! naming the certificate as `principalId` and the session's client id. A client id whose last
//! event is not a disconnect or a refused connect may hold a session: a quarantine closes each
//! (DeleteConnection, whatever the client id), and its verification says how many it saw and
//! what it could not see. The local core logs its broker's sessions the same way.

use std::collections::BTreeMap;

use serde_json::Value;

use super::client::FleetClient;
use super::error::FleetError;

/// How far back the log is read: a session over mutual TLS may last days.
pub const LOOKBACK: time::Duration = time::Duration::days(7);
/// Pages read at most per certificate.
pub const MAX_PAGES: usize = 4;
/// Client ids kept at most per certificate (a device that makes up client ids would otherwise
/// make a plan without end; the deny-all refuses the rest).
pub const MAX_SESSIONS: usize = 100;

/// What the log says of one certificate's sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Client ids that may hold a session, sorted.
    pub client_ids: Vec<String>,
    /// More were seen than `MAX_SESSIONS`.
    pub truncated: bool,
}

/// The client ids of `events` (log lines of `AWSIotLogsV2`) that name `certificate` and whose
/// last event does not end their session.
#[must_use]
pub fn open_sessions(certificate: &str, events: &[super::denied::LogEvent]) -> Seen {
    let mut last: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    for event in events {
        let Ok(line) = serde_json::from_str::<Value>(&event.message) else {
            continue;
        };
        let text = |key: &str| line.get(key).and_then(Value::as_str);
        if text("principalId") != Some(certificate) {
            continue;
        }
        let Some(client_id) = text("clientId") else {
            continue;
        };
        let ended = matches!(
            (text("eventType"), text("status")),
            (Some("Disconnect"), _) | (Some("Connect"), Some("Failure"))
        );
        let entry = last
            .entry(client_id.to_owned())
            .or_insert((event.timestamp_ms, ended));
        if event.timestamp_ms >= entry.0 {
            *entry = (event.timestamp_ms, ended);
        }
    }
    let open: Vec<String> = last
        .into_iter()
        .filter(|(_, (_, ended))| !ended)
        .map(|(client_id, _)| client_id)
        .collect();
    Seen {
        truncated: open.len() > MAX_SESSIONS,
        client_ids: open.into_iter().take(MAX_SESSIONS).collect(),
    }
}

impl FleetClient {
    /// The sessions `AWSIotLogsV2` shows for `certificate` over the last `LOOKBACK`.
    pub async fn certificate_sessions(&self, certificate: &str) -> Result<Seen, FleetError> {
        let since = time::OffsetDateTime::now_utc() - LOOKBACK;
        let start = i64::try_from(since.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let pattern = format!(r#"{{ $.principalId = "{certificate}" }}"#);
        let events = self.log_events(&pattern, start, Some(MAX_PAGES)).await?;
        Ok(open_sessions(certificate, &events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::denied::LogEvent;

    fn event(at: i64, json: &str) -> LogEvent {
        LogEvent {
            id: at.to_string(),
            timestamp_ms: at,
            message: json.to_owned(),
        }
    }

    #[test]
    fn a_client_id_is_open_until_its_session_ends() {
        let events = [
            event(
                1,
                r#"{"eventType":"Connect","status":"Success","clientId":"victim","principalId":"c1"}"#,
            ),
            event(
                2,
                r#"{"eventType":"Connect","status":"Success","clientId":"victim-alt","principalId":"c1"}"#,
            ),
            event(
                3,
                r#"{"eventType":"Publish-In","status":"Failure","clientId":"victim-v5","principalId":"c1"}"#,
            ),
            event(
                4,
                r#"{"eventType":"Connect","status":"Success","clientId":"gone","principalId":"c1"}"#,
            ),
            event(
                5,
                r#"{"eventType":"Disconnect","status":"Success","clientId":"gone","principalId":"c1"}"#,
            ),
            event(
                6,
                r#"{"eventType":"Connect","status":"Failure","clientId":"refused","principalId":"c1"}"#,
            ),
            event(
                7,
                r#"{"eventType":"Connect","status":"Success","clientId":"other","principalId":"c2"}"#,
            ),
            event(8, "not json"),
        ];
        assert_eq!(
            open_sessions("c1", &events).client_ids,
            ["victim", "victim-alt", "victim-v5"]
        );
    }
}
