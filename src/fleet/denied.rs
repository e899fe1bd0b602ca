//! Who is being refused: AWS IoT's authorization failures (a refused Connect, Publish-In or
//! Subscribe), read from CloudWatch Logs' `AWSIotLogsV2` group, where AWS IoT's logging writes
//! them. FilterLogEvents is asked again and again from a [`Cursor`], which reads a little way
//! back each time (CloudWatch can take an event in after a later one) and drops what it has
//! already seen. The local core answers the same calls for its own broker's refusals, so one
//! path serves AWS, moto and `--local`.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::client::FleetClient;
use super::error::{FleetError, Operation, ResourceKind};

/// The log group AWS IoT's logging (v2) writes to.
pub const LOG_GROUP: &str = "AWSIotLogsV2";
/// Asks CloudWatch for failures only; what comes back is checked again here (moto ignores JSON
/// patterns).
pub const FILTER_PATTERN: &str = r#"{ $.status = "Failure" }"#;
/// How far back each poll reads again, for events CloudWatch takes in late. An event that
/// arrives later than this after a newer one is not seen.
pub const LATENESS_MS: i64 = 15_000;
/// FilterLogEvents' largest page.
pub const PAGE_LIMIT: i32 = 10_000;
/// Pages one poll reads at most; the next poll goes on from the newest event read.
pub const MAX_PAGES_PER_POLL: usize = 5;
/// How often the console and `denied --follow` ask: the local core is cheap to ask; AWS
/// limits FilterLogEvents per account to a few calls a second, shared by everyone.
#[must_use]
pub fn poll_every(local: bool) -> std::time::Duration {
    if local {
        std::time::Duration::from_millis(500)
    } else {
        std::time::Duration::from_secs(5)
    }
}

/// The command that turns AWS IoT's logging on, said when the log group is missing.
pub const TURN_ON: &str =
    "aws iot set-v2-logging-options --role-arn ROLE_ARN --default-log-level ERROR";

/// One refused request, as AWS IoT logged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub client_id: String,
    /// The certificate id (AWS's `principalId`), when known.
    pub principal_id: Option<String>,
    /// AWS's `eventType`: `Connect`, `Publish-In`, `Subscribe`.
    pub event_type: String,
    /// The topic of a refused publish or subscribe.
    pub topic_name: Option<String>,
    /// AWS's `reason`, such as `AUTHORIZATION_FAILURE`.
    pub reason: String,
    pub details: Option<String>,
    pub source_ip: Option<String>,
    /// CloudWatch's event id, which tells a repeat from a new event.
    #[serde(skip)]
    pub event_id: String,
}

impl Refusal {
    /// What was refused, in a word: connect, publish, subscribe.
    #[must_use]
    pub fn action(&self) -> &str {
        match self.event_type.as_str() {
            "Connect" | "Connection.AuthNError" => "connect",
            "Publish-In" => "publish",
            "Subscribe" => "subscribe",
            other => other,
        }
    }

    /// What it was refused on: the topic, or for a connect the client id.
    #[must_use]
    pub fn target(&self) -> &str {
        self.topic_name.as_deref().unwrap_or(&self.client_id)
    }
}

/// One CloudWatch Logs event, as FilterLogEvents returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub id: String,
    pub timestamp_ms: i64,
    pub message: String,
}

/// The refusal a log event records, or None for any other event (successes, other event types,
/// text that is not AWS IoT's JSON).
#[must_use]
pub fn parse(event: &LogEvent) -> Option<Refusal> {
    let body: Value = serde_json::from_str(&event.message).ok()?;
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    if text("status")? != "Failure" {
        return None;
    }
    let event_type = text("eventType")?;
    if !matches!(
        event_type.as_str(),
        "Connect" | "Connection.AuthNError" | "Publish-In" | "Subscribe"
    ) {
        return None;
    }
    let time =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(event.timestamp_ms) * 1_000_000)
            .ok()?;
    Some(Refusal {
        time,
        client_id: text("clientId").unwrap_or_default(),
        principal_id: text("principalId"),
        event_type,
        topic_name: text("topicName"),
        reason: text("reason").unwrap_or_else(|| "unknown".to_owned()),
        details: text("details"),
        source_ip: text("sourceIp"),
        event_id: event.id.clone(),
    })
}

/// Where the next poll reads from, and the events already seen in the part it reads again.
/// Its memory is bounded by the events of `LATENESS_MS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    since_ms: i64,
    newest_ms: i64,
    seen: HashMap<String, i64>,
}

impl Cursor {
    /// Reads from `since` on.
    #[must_use]
    pub fn since(since: OffsetDateTime) -> Self {
        let ms = i64::try_from(since.unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
        Self {
            since_ms: ms,
            newest_ms: ms,
            seen: HashMap::new(),
        }
    }

    /// The `startTime` of the next FilterLogEvents.
    #[must_use]
    pub fn start_ms(&self) -> i64 {
        self.since_ms
            .max(self.newest_ms.saturating_sub(LATENESS_MS))
    }

    /// The refusals among `events` not seen before, oldest first; moves the cursor on.
    pub fn absorb(&mut self, events: &[LogEvent]) -> Vec<Refusal> {
        let start = self.start_ms();
        let mut fresh = Vec::new();
        for event in events {
            if event.timestamp_ms < start || self.seen.contains_key(&event.id) {
                continue;
            }
            self.seen.insert(event.id.clone(), event.timestamp_ms);
            self.newest_ms = self.newest_ms.max(event.timestamp_ms);
            fresh.extend(parse(event));
        }
        let start = self.start_ms();
        self.seen.retain(|_, at| *at >= start);
        fresh.sort_by_key(|r| r.time);
        fresh
    }
}

impl FleetError {
    /// Why refusals cannot be read, said plainly: without AWS IoT's logging the `AWSIotLogsV2`
    /// group does not exist, and the fix is to turn it on.
    #[must_use]
    pub fn refusals_unknown(&self, region: &str) -> String {
        match self {
            Self::NotFound {
                kind: ResourceKind::LogGroup,
                name,
            } => format!(
                "refusals unknown: CloudWatch Logs has no {name} log group in {region}, so AWS IoT logging is off there; turn it on with: {TURN_ON}"
            ),
            _ => format!("refusals unknown: {self}"),
        }
    }
}

impl FleetClient {
    /// The log events of `LOG_GROUP` from `start_ms` on that `FILTER_PATTERN` matches, at most
    /// `max_pages` pages of `PAGE_LIMIT` (all of them when None).
    pub async fn log_failures(
        &self,
        start_ms: i64,
        max_pages: Option<usize>,
    ) -> Result<Vec<LogEvent>, FleetError> {
        self.log_events(FILTER_PATTERN, start_ms, max_pages).await
    }

    /// The log events of `LOG_GROUP` from `start_ms` on that `pattern` matches (moto ignores
    /// JSON patterns: callers check what comes back), at most `max_pages` pages of `PAGE_LIMIT`
    /// (all of them when None).
    pub async fn log_events(
        &self,
        pattern: &str,
        start_ms: i64,
        max_pages: Option<usize>,
    ) -> Result<Vec<LogEvent>, FleetError> {
        let operation = Operation::on("logs:FilterLogEvents", ResourceKind::LogGroup, LOG_GROUP);
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let out = self
                .logs()
                .filter_log_events()
                .log_group_name(LOG_GROUP)
                .filter_pattern(pattern)
                .start_time(start_ms)
                .limit(PAGE_LIMIT)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| self.fail(&operation, e))?;
            pages += 1;
            events.extend(
                out.events
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| LogEvent {
                        id: e.event_id.unwrap_or_default(),
                        timestamp_ms: e.timestamp.unwrap_or_default(),
                        message: e.message.unwrap_or_default(),
                    }),
            );
            token = out.next_token.filter(|t| !t.is_empty());
            if token.is_none() || max_pages.is_some_and(|max| pages >= max) {
                return Ok(events);
            }
        }
    }

    /// The refusals logged since the cursor's last poll, oldest first.
    pub async fn refusals(&self, cursor: &mut Cursor) -> Result<Vec<Refusal>, FleetError> {
        let events = self
            .log_failures(cursor.start_ms(), Some(MAX_PAGES_PER_POLL))
            .await?;
        Ok(cursor.absorb(&events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, ms: i64, message: &Value) -> LogEvent {
        LogEvent {
            id: id.to_owned(),
            timestamp_ms: ms,
            message: message.to_string(),
        }
    }

    fn publish_in(client: &str, topic: &str) -> Value {
        serde_json::json!({
            "timestamp": "2026-11-30 10:00:00.000", "logLevel": "ERROR", "status": "Failure",
            "eventType": "Publish-In", "protocol": "MQTT", "topicName": topic,
            "clientId": client, "principalId": "abc", "sourceIp": "10.0.0.1",
            "reason": "AUTHORIZATION_FAILURE", "details": "Authorization Failure"
        })
    }

    #[test]
    fn a_missing_log_group_says_logging_is_off_and_how_to_turn_it_on() {
        let op = Operation::on(
            "logs:FilterLogEvents",
            ResourceKind::LogGroup,
            "AWSIotLogsV2",
        );
        let missing = FleetError::from_service(
            &op,
            None,
            400,
            "ResourceNotFoundException".into(),
            "The specified log group does not exist.".into(),
        );
        let said = missing.refusals_unknown("eu-west-1");
        assert!(
            said.contains("no AWSIotLogsV2 log group in eu-west-1")
                && said.contains("set-v2-logging-options"),
            "{said}"
        );
        let denied = FleetError::from_service(
            &op,
            None,
            400,
            "AccessDeniedException".into(),
            String::new(),
        );
        assert!(
            denied
                .refusals_unknown("eu-west-1")
                .contains("logs:FilterLogEvents")
        );
    }

    #[test]
    fn a_refused_publish_is_read_and_a_success_or_other_text_is_not() {
        let refusal = parse(&event("1", 1_000, &publish_in("camera-04", "dt/pump-03/x"))).unwrap();
        assert_eq!(
            (refusal.action(), refusal.target(), refusal.reason.as_str()),
            ("publish", "dt/pump-03/x", "AUTHORIZATION_FAILURE")
        );
        assert_eq!(refusal.principal_id.as_deref(), Some("abc"));
        let mut ok = publish_in("camera-04", "t");
        ok["status"] = "Success".into();
        assert_eq!(parse(&event("2", 1, &ok)), None);
        let mut other = publish_in("camera-04", "t");
        other["eventType"] = "Publish-Out".into();
        assert_eq!(parse(&event("3", 1, &other)), None);
        let text = LogEvent {
            id: "4".into(),
            timestamp_ms: 1,
            message: "not json".into(),
        };
        assert_eq!(parse(&text), None);
        let connect = serde_json::json!({"status": "Failure", "eventType": "Connect",
            "clientId": "pump-03", "reason": "AUTHORIZATION_FAILURE"});
        let refusal = parse(&event("5", 1, &connect)).unwrap();
        assert_eq!((refusal.action(), refusal.target()), ("connect", "pump-03"));
    }

    #[test]
    fn the_cursor_reads_back_for_late_events_and_never_yields_one_twice() {
        let since = OffsetDateTime::from_unix_timestamp(1_000).unwrap();
        let mut cursor = Cursor::since(since);
        assert_eq!(cursor.start_ms(), 1_000_000);
        let first = [
            event("a", 1_000_500, &publish_in("c", "t/1")),
            event("b", 1_030_000, &publish_in("c", "t/2")),
        ];
        assert_eq!(cursor.absorb(&first).len(), 2);
        // The next poll starts LATENESS_MS before the newest, and reads b again.
        assert_eq!(cursor.start_ms(), 1_030_000 - LATENESS_MS);
        let again = [
            event("late", 1_020_000, &publish_in("c", "t/late")),
            event("b", 1_030_000, &publish_in("c", "t/2")),
            event("c", 1_031_000, &publish_in("c", "t/3")),
        ];
        let fresh = cursor.absorb(&again);
        let topics: Vec<&str> = fresh.iter().map(Refusal::target).collect();
        assert_eq!(topics, ["t/late", "t/3"]);
        // What lies before the window is forgotten: memory stays bounded.
        assert!(cursor.seen.keys().all(|id| id != "a"));
        // An event older than the window is not taken (it was read, or is too late).
        assert!(
            cursor
                .absorb(&[event("old", 1_000_600, &publish_in("c", "t/old"))])
                .is_empty()
        );
    }
}
