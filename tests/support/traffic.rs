//! Waiting on a traffic connection's events in tests.

use std::time::Duration;

use iotfleet::fleet::traffic::TrafficEvent;
use tokio::sync::mpsc::Receiver;

/// How long a test waits for an event before failing.
pub const WAIT: Duration = Duration::from_secs(15);

/// Waits for the first event that `want` accepts, failing after `WAIT`.
pub async fn expect<T>(
    events: &mut Receiver<TrafficEvent>,
    what: &str,
    mut want: impl FnMut(&TrafficEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"));
        let event =
            event.unwrap_or_else(|| panic!("the connection ended while waiting for {what}"));
        if let Some(found) = want(&event) {
            return found;
        }
    }
}

/// The events that arrive within `window` from now.
pub async fn drain(events: &mut Receiver<TrafficEvent>, window: Duration) -> Vec<TrafficEvent> {
    let deadline = tokio::time::Instant::now() + window;
    let mut out = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        out.push(event);
    }
    out
}
