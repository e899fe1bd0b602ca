//! Who is online: a Thing's connectivity, asked only for the Things on screen (the list's visible
//! rows, the Thing screen) and asked again at most every `REFRESH_SECONDS`. While live traffic
//! carries AWS's lifecycle events (`$aws/events/presence/connected|disconnected/CLIENTID`), they
//! update it at once. When it cannot be known (AWS without fleet indexing's connectivity) it is
//! "unknown", never "offline", and the reason is said once.

use serde_json::Value;
use time::OffsetDateTime;

use crate::fleet::model::Connectivity;
use crate::fleet::traffic::TrafficEvent;
use crate::tui::data::{FleetData, Load};
use crate::tui::msg::{Effect, Request};

/// A Thing's connectivity is asked again after this long, while it is on screen.
pub const REFRESH_SECONDS: i64 = 30;
/// Opening a Thing's screen asks again when the last answer is older than this: the screen is
/// where a responder reads whether the device is connected now.
pub const OPEN_SECONDS: i64 = 5;

/// Asks for the connectivity of `things` never asked for, or answered (or failed) more than
/// `REFRESH_SECONDS` ago; never for one already being asked. A failure is not asked again at
/// once: without fleet indexing every answer fails, and the screen must not ask on every tick.
/// While asked again, the last answer stays shown (and matched by `/online`).
pub fn load<'a>(
    fleet: &mut FleetData,
    now: OffsetDateTime,
    things: impl IntoIterator<Item = &'a str>,
) -> Vec<Effect> {
    load_within(fleet, now, things, REFRESH_SECONDS)
}

/// As `load`, with answers older than `seconds` asked again.
pub fn load_within<'a>(
    fleet: &mut FleetData,
    now: OffsetDateTime,
    things: impl IntoIterator<Item = &'a str>,
    seconds: i64,
) -> Vec<Effect> {
    let mut effects = Vec::new();
    for thing in things {
        if fleet.connectivity_asking.contains(thing) {
            continue;
        }
        let due = match fleet.connectivity.get(thing) {
            None => true,
            Some((Load::Loading, _)) => false,
            Some((Load::Ready(_) | Load::Failed(_), at)) => (now - *at).whole_seconds() >= seconds,
        };
        if due {
            fleet
                .connectivity
                .entry(thing.to_owned())
                .or_insert((Load::Loading, now));
            fleet.connectivity_asking.insert(thing.to_owned());
            effects.push(Effect::Request(Request::LoadConnectivity(thing.to_owned())));
        }
    }
    effects
}

/// Forgets what is known of a Thing's connectivity, so the next `load` asks at once (after a
/// quarantine or release, or `r`).
pub fn forget(fleet: &mut FleetData, thing: &str) {
    fleet.connectivity.remove(thing);
    fleet.connectivity_asking.remove(thing);
}

/// The answer arrived; the first reason it cannot be known is returned, to be said once.
pub fn arrived(
    fleet: &mut FleetData,
    now: OffsetDateTime,
    thing: String,
    result: Result<Connectivity, String>,
) -> Option<String> {
    let mut say = None;
    fleet.connectivity_asking.remove(&thing);
    let load = match result {
        Ok(connectivity) => Load::Ready(connectivity),
        Err(reason) => {
            if fleet.connectivity_note.is_none() {
                say = Some(reason.clone());
                fleet.connectivity_note = Some(reason.clone());
            }
            Load::Failed(reason)
        }
    };
    fleet.connectivity.insert(thing, (load, now));
    say
}

/// A lifecycle event seen on live traffic updates the Thing whose name is its client id.
pub fn traffic(fleet: &mut FleetData, now: OffsetDateTime, event: &TrafficEvent) {
    let TrafficEvent::Message(message) = event else {
        return;
    };
    let Some((connected, client_id)) = presence_topic(&message.topic) else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<Value>(&message.payload) else {
        return;
    };
    let since = body
        .get("timestamp")
        .and_then(Value::as_i64)
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok());
    let disconnect_reason = body
        .get("disconnectReason")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|_| !connected);
    let connectivity = Connectivity {
        connected,
        since,
        disconnect_reason,
    };
    fleet
        .connectivity
        .insert(client_id.to_owned(), (Load::Ready(connectivity), now));
}

/// `$aws/events/presence/connected/CLIENTID` (true) or `.../disconnected/CLIENTID` (false).
fn presence_topic(topic: &str) -> Option<(bool, &str)> {
    let rest = topic.strip_prefix("$aws/events/presence/")?;
    let (kind, client_id) = rest.split_once('/')?;
    let connected = match kind {
        "connected" => true,
        "disconnected" => false,
        _ => return None,
    };
    (!client_id.is_empty() && !client_id.contains('/')).then_some((connected, client_id))
}

/// What the ONLINE column says of a Thing, and whether it is online (None: not known).
#[must_use]
pub fn summary(fleet: &FleetData, now: OffsetDateTime, thing: &str) -> (String, Option<bool>) {
    match fleet.connectivity.get(thing) {
        None | Some((Load::Loading, _)) => ("…".to_owned(), None),
        Some((Load::Failed(_), _)) => ("unknown".to_owned(), None),
        Some((Load::Ready(c), _)) => match (c.connected, c.since) {
            (true, Some(since)) => (format!("● {}", ago(since, now)), Some(true)),
            (true, None) => ("● online".to_owned(), Some(true)),
            (false, None) => ("never seen".to_owned(), Some(false)),
            (false, Some(since)) => {
                let why = c.disconnect_reason.as_deref().map_or("", short_reason);
                (
                    format!("○ {} {why}", ago(since, now)).trim_end().to_owned(),
                    Some(false),
                )
            }
        },
    }
}

/// AWS's `disconnectReason` in a word, for a narrow column (the Thing screen shows it whole).
fn short_reason(reason: &str) -> &'static str {
    match reason {
        "CLIENT_INITIATED_DISCONNECT" => "left",
        "SERVER_INITIATED_DISCONNECT" => "kicked",
        "DUPLICATE_CLIENTID" => "dup id",
        "MQTT_KEEP_ALIVE_TIMEOUT" => "timeout",
        "CONNECTION_LOST" => "lost",
        "FORBIDDEN_ACCESS" => "denied",
        "CLIENT_ERROR" => "error",
        "AUTHENTICATION_FAILED" => "auth",
        "THROTTLED" => "throttled",
        _ => "",
    }
}

/// How long ago, in the largest whole unit: `12s`, `5m`, `3h`, `2d`.
#[must_use]
pub fn ago(since: OffsetDateTime, now: OffsetDateTime) -> String {
    let seconds = (now - since).whole_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_presence_topics_of_one_client_count() {
        assert_eq!(
            presence_topic("$aws/events/presence/connected/pump-1"),
            Some((true, "pump-1"))
        );
        assert_eq!(
            presence_topic("$aws/events/presence/disconnected/pump-1"),
            Some((false, "pump-1"))
        );
        assert_eq!(presence_topic("$aws/events/presence/connected/"), None);
        assert_eq!(
            presence_topic("$aws/events/subscriptions/subscribed/x"),
            None
        );
        assert_eq!(presence_topic("fleet/pump-1/telemetry"), None);
    }

    #[test]
    fn ages_in_the_largest_whole_unit() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(10);
        let ago = |seconds: i64| ago(now - time::Duration::seconds(seconds), now);
        assert_eq!(ago(5), "5s");
        assert_eq!(ago(125), "2m");
        assert_eq!(ago(7300), "2h");
        assert_eq!(ago(200_000), "2d");
        assert_eq!(ago(-3), "0s", "a clock ahead of ours is now");
    }
}
