//! The local core's CloudWatch Logs: its broker's refusals (a refused connect, publish or
//! subscribe) and its sessions' connects and disconnects (as AWS IoT logs them at level INFO,
//! naming the certificate: how a quarantine finds every session of one), written as AWS IoT's
//! logging writes them to the `AWSIotLogsV2` group, and
//! FilterLogEvents over them, with CloudWatch's request, answer and error shapes, so the console
//! reads them with the same calls as on AWS. PutLogEvents adds events as on AWS (tests and demos
//! seed the same events on moto and here). Kept in memory in time order, the newest
//! `MAX_EVENTS`; a restart starts an empty log, as a new log group would.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use serde_json::{Value, json};

use super::registry::{ApiError, ApiResult};

/// The log group, as AWS IoT names it.
pub const LOG_GROUP: &str = "AWSIotLogsV2";
/// The one log stream the broker writes.
pub const STREAM: &str = "local-broker";
/// Events kept; the oldest go first.
pub const MAX_EVENTS: usize = 20_000;
/// FilterLogEvents' largest and default page.
const PAGE_LIMIT: usize = 10_000;

/// A session that began (`Connect`) or ended (`Disconnect`).
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    pub event_type: &'static str,
    pub client_id: &'a str,
    /// The certificate id.
    pub principal_id: &'a str,
    pub source_ip: Option<&'a str>,
    pub disconnect_reason: Option<&'a str>,
}

/// `2026-12-06 21:40:00.123`, as AWS IoT's log lines write their time.
fn stamp(now_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// One refusal to log.
#[derive(Debug, Clone, Copy)]
pub struct Refused<'a> {
    /// AWS's `eventType`: `Connect`, `Publish-In`, `Subscribe`.
    pub event_type: &'static str,
    pub client_id: &'a str,
    /// The certificate id, when the certificate is registered.
    pub principal_id: Option<&'a str>,
    pub topic: Option<&'a str>,
    /// AWS's `reason`: `AUTHORIZATION_FAILURE`, `AUTHENTICATION_FAILURE`.
    pub reason: &'static str,
    pub details: &'a str,
    pub source_ip: Option<&'a str>,
}

#[derive(Debug)]
struct Stored {
    id: u64,
    timestamp_ms: i64,
    message: String,
}

#[derive(Debug, Default)]
struct Events {
    next_id: u64,
    events: VecDeque<Stored>,
}

#[derive(Debug, Default)]
pub struct IotLogs {
    events: Mutex<Events>,
    /// The fleet's account id, which every event names.
    account: String,
}

impl IotLogs {
    /// An empty log of the fleet whose account is `account`.
    #[must_use]
    pub fn new(account: &str) -> Self {
        Self {
            events: Mutex::default(),
            account: account.to_owned(),
        }
    }

    /// Logs a refusal at `now_ms`, as AWS IoT's logging would (level ERROR, status Failure).
    pub fn record(&self, refused: &Refused<'_>, now_ms: i64) {
        let message = self.message(refused, now_ms);
        self.insert(now_ms, message);
    }

    /// Logs a session's successful `Connect` or `Disconnect` (with AWS's `disconnectReason`) at
    /// `now_ms`, as AWS IoT's logging does at level INFO.
    pub fn record_session(&self, session: &Session<'_>, now_ms: i64) {
        let mut message = json!({
            "timestamp": stamp(now_ms),
            "logLevel": "INFO",
            "accountId": self.account,
            "status": "Success",
            "eventType": session.event_type,
            "protocol": "MQTT",
            "clientId": session.client_id,
            "principalId": session.principal_id,
        });
        if let Some(ip) = session.source_ip {
            message["sourceIp"] = ip.into();
        }
        if let Some(reason) = session.disconnect_reason {
            message["disconnectReason"] = reason.into();
        }
        self.insert(now_ms, message.to_string());
    }

    /// Keeps the log in time order (a put event may be older than the newest), dropping the
    /// oldest past `MAX_EVENTS`.
    fn insert(&self, timestamp_ms: i64, message: String) {
        let mut log = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let id = log.next_id;
        log.next_id += 1;
        let at = log
            .events
            .partition_point(|e| e.timestamp_ms <= timestamp_ms);
        log.events.insert(
            at,
            Stored {
                id,
                timestamp_ms,
                message,
            },
        );
        if log.events.len() > MAX_EVENTS {
            log.events.pop_front();
        }
    }

    /// PutLogEvents (`Logs_20140328.PutLogEvents`) into `LOG_GROUP`, any stream.
    pub fn put(&self, request: &Value) -> ApiResult {
        check_group(request)?;
        let events = request
            .get("logEvents")
            .and_then(Value::as_array)
            .filter(|events| !events.is_empty() && events.len() <= 10_000)
            .ok_or_else(|| invalid("logEvents must hold 1 to 10000 events".to_owned()))?;
        let times: Vec<Option<i64>> = events
            .iter()
            .map(|e| e.get("timestamp").and_then(Value::as_i64))
            .collect();
        if times.windows(2).any(|pair| pair[0] > pair[1]) {
            return Err(invalid(
                "Log events in a single PutLogEvents request must be in chronological order."
                    .to_owned(),
            ));
        }
        for event in events {
            let (Some(timestamp), Some(message)) = (
                event.get("timestamp").and_then(Value::as_i64),
                event.get("message").and_then(Value::as_str),
            ) else {
                return Err(invalid(
                    "each log event needs a timestamp (ms) and a message".to_owned(),
                ));
            };
            self.insert(timestamp, message.to_owned());
        }
        Ok(json!({}))
    }

    /// The JSON line AWS IoT writes for a refusal.
    fn message(&self, refused: &Refused<'_>, now_ms: i64) -> String {
        let mut message = json!({
            "timestamp": stamp(now_ms),
            "logLevel": "ERROR",
            "accountId": self.account,
            "status": "Failure",
            "eventType": refused.event_type,
            "protocol": "MQTT",
            "clientId": refused.client_id,
            "reason": refused.reason,
            "details": refused.details,
        });
        for (key, value) in [
            ("topicName", refused.topic),
            ("principalId", refused.principal_id),
            ("sourceIp", refused.source_ip),
        ] {
            if let Some(value) = value {
                message[key] = value.into();
            }
        }
        message.to_string()
    }

    /// FilterLogEvents (`Logs_20140328.FilterLogEvents`) on `LOG_GROUP`: events from
    /// `startTime` to `endTime` matching `filterPattern`, oldest first, `limit` a page, with a
    /// `nextToken` while more remain.
    pub fn filter(&self, request: &Value) -> ApiResult {
        check_group(request)?;
        let number = |key: &str| request.get(key).and_then(Value::as_i64);
        let start = number("startTime").unwrap_or(i64::MIN);
        let end = number("endTime").unwrap_or(i64::MAX);
        let limit = match number("limit") {
            None => PAGE_LIMIT,
            Some(n) if (1..=10_000).contains(&n) => usize::try_from(n).unwrap_or(PAGE_LIMIT),
            Some(n) => {
                return Err(invalid(format!(
                    "limit {n} is out of range: it must be from 1 to 10000"
                )));
            }
        };
        // A token is the time and id of the next event: the log is in (time, id) order.
        let after = match request.get("nextToken").and_then(Value::as_str) {
            None => None,
            Some(token) => Some(
                token
                    .split_once('-')
                    .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.parse::<u64>().ok()?)))
                    .ok_or_else(|| {
                        invalid(format!("nextToken {token:?} is not one this log gave"))
                    })?,
            ),
        };
        let pattern = Pattern::parse(
            request
                .get("filterPattern")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )?;
        let log = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let mut matching = log.events.iter().filter(|e| {
            after.is_none_or(|after| (e.timestamp_ms, e.id) >= after)
                && (start..=end).contains(&e.timestamp_ms)
                && pattern.matches(&e.message)
        });
        let page: Vec<Value> = matching
            .by_ref()
            .take(limit)
            .map(|e| {
                json!({
                    "logStreamName": STREAM,
                    "timestamp": e.timestamp_ms,
                    "ingestionTime": e.timestamp_ms,
                    "message": e.message,
                    "eventId": format!("{:020}", e.id),
                })
            })
            .collect();
        let mut answer = json!({
            "events": page,
            "searchedLogStreams": [{"logStreamName": STREAM, "searchedCompletely": true}],
        });
        if let Some(next) = matching.next() {
            answer["nextToken"] = format!("{}-{}", next.timestamp_ms, next.id).into();
        }
        Ok(answer)
    }
}

fn check_group(request: &Value) -> Result<(), ApiError> {
    if request.get("logGroupName").and_then(Value::as_str) == Some(LOG_GROUP) {
        return Ok(());
    }
    Err(ApiError {
        status: 400,
        code: "ResourceNotFoundException",
        message: format!(
            "The specified log group does not exist: the local core logs only to {LOG_GROUP}"
        ),
    })
}

fn invalid(message: String) -> ApiError {
    ApiError {
        status: 400,
        code: "InvalidParameterException",
        message,
    }
}

/// The filter patterns the local core understands: none (everything), one JSON equality
/// (`{ $.status = "Failure" }`), or terms every one of which the message contains.
enum Pattern {
    All,
    Equals { key: String, value: String },
    Terms(Vec<String>),
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, ApiError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::All);
        }
        if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            let equality = inner.split_once('=').and_then(|(key, value)| {
                let key = key.trim().strip_prefix("$.")?;
                let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
                let simple =
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                simple.then(|| (key.to_owned(), value.to_owned()))
            });
            return match equality {
                Some((key, value)) => Ok(Self::Equals { key, value }),
                None => Err(invalid(format!(
                    "the local core understands a JSON filter pattern of one equality, {{ $.KEY = \"VALUE\" }}, not {text}"
                ))),
            };
        }
        Ok(Self::Terms(
            text.split_whitespace()
                .map(|t| t.trim_matches('"').to_owned())
                .collect(),
        ))
    }

    fn matches(&self, message: &str) -> bool {
        match self {
            Self::All => true,
            Self::Equals { key, value } => serde_json::from_str::<Value>(message)
                .ok()
                .and_then(|body| body.get(key).and_then(Value::as_str).map(|v| v == value))
                .unwrap_or(false),
            Self::Terms(terms) => terms.iter().all(|t| message.contains(t.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(client: &str) -> Refused<'_> {
        Refused {
            event_type: "Publish-In",
            client_id: client,
            principal_id: Some("c0ffee"),
            topic: Some("dt/pump-03/telemetry"),
            reason: "AUTHORIZATION_FAILURE",
            details: "not allowed",
            source_ip: Some("127.0.0.1"),
        }
    }

    #[test]
    fn filter_pages_by_time_and_pattern_with_aws_shapes() {
        let logs = IotLogs::default();
        for (i, client) in ["a", "b", "c"].into_iter().enumerate() {
            logs.record(&refused(client), 1_000 + i64::try_from(i).unwrap());
        }
        let page = logs
            .filter(
                &json!({"logGroupName": LOG_GROUP, "startTime": 1_001, "limit": 1,
                "filterPattern": "{ $.status = \"Failure\" }"}),
            )
            .unwrap();
        let first: Value =
            serde_json::from_str(page["events"][0]["message"].as_str().unwrap()).unwrap();
        assert_eq!(first["clientId"], "b");
        assert_eq!(first["topicName"], "dt/pump-03/telemetry");
        let token = page["nextToken"].as_str().unwrap();
        let rest = logs
            .filter(&json!({"logGroupName": LOG_GROUP, "startTime": 1_001, "nextToken": token}))
            .unwrap();
        assert_eq!(rest["events"].as_array().unwrap().len(), 1);
        assert!(rest.get("nextToken").is_none());
        let none = logs
            .filter(
                &json!({"logGroupName": LOG_GROUP, "filterPattern": "{ $.status = \"Success\" }"}),
            )
            .unwrap();
        assert!(none["events"].as_array().unwrap().is_empty());
        let error = logs.filter(&json!({"logGroupName": "other"})).unwrap_err();
        assert_eq!(error.code, "ResourceNotFoundException");
        let error = logs
            .filter(&json!({"logGroupName": LOG_GROUP, "filterPattern": "{ $.a > 1 }"}))
            .unwrap_err();
        assert_eq!(error.code, "InvalidParameterException");
    }

    #[test]
    fn a_put_event_older_than_the_newest_is_read_in_time_order() {
        let logs = IotLogs::default();
        logs.record(&refused("late"), 2_000);
        logs.put(&json!({"logGroupName": LOG_GROUP, "logStreamName": "s",
            "logEvents": [{"timestamp": 1_000, "message": "{\"status\":\"Failure\"}"}]}))
            .unwrap();
        let page = logs
            .filter(&json!({"logGroupName": LOG_GROUP, "limit": 1}))
            .unwrap();
        assert_eq!(page["events"][0]["timestamp"], 1_000);
        let rest = logs
            .filter(&json!({"logGroupName": LOG_GROUP, "nextToken": page["nextToken"]}))
            .unwrap();
        assert_eq!(rest["events"][0]["timestamp"], 2_000);
        let error = logs
            .put(&json!({"logGroupName": LOG_GROUP, "logEvents": []}))
            .unwrap_err();
        assert_eq!(error.code, "InvalidParameterException");
    }

    #[test]
    fn the_log_keeps_the_newest_events_only() {
        let logs = IotLogs::default();
        for i in 0..=MAX_EVENTS {
            logs.record(&refused("x"), i64::try_from(i).unwrap());
        }
        let page = logs.filter(&json!({"logGroupName": LOG_GROUP})).unwrap();
        assert_eq!(page["events"][0]["timestamp"], 1, "the oldest was dropped");
        let second = logs
            .filter(&json!({"logGroupName": LOG_GROUP, "nextToken": page["nextToken"]}))
            .unwrap();
        assert_eq!(
            page["events"].as_array().unwrap().len() + second["events"].as_array().unwrap().len(),
            MAX_EVENTS
        );
    }
}
