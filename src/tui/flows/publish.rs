//! A publish from the traffic screen (`p TOPIC PAYLOAD`), confirmed by `y` before it is sent;
//! what the broker says comes back as a message. Refused with `--read-only`.

use crate::tui::flows::flow::{Change, Flow};
use crate::tui::msg::Effect;
use crate::tui::msg::Level;
use crate::tui::state::State;

/// Asks for the yes (the topic checked by the caller).
pub fn begin(state: &mut State, topic: &str, payload: &str) {
    state.say(
        Level::Warning,
        format!(
            "publish {} bytes to {topic} (QoS 0)? {} to send, {} or {} to cancel",
            payload.len(),
            state.answer_keys.yes,
            state.answer_keys.no,
            state.answer_keys.esc()
        ),
    );
    state.flow = Some(Flow::confirming(Change::Publish {
        topic: topic.to_owned(),
        payload: payload.to_owned(),
        qos: 0,
    }));
}

/// Confirmed: sent, and the flow ends (the answer is said when it comes).
pub fn run(state: &mut State) -> Vec<Effect> {
    let Some(Flow {
        change: Change::Publish {
            topic,
            payload,
            qos,
        },
        ..
    }) = state.flow.take()
    else {
        return Vec::new();
    };
    if state.read_only {
        state.say(Level::Error, "refused by --read-only");
        return Vec::new();
    }
    state.say(Level::Info, format!("publishing to {topic}"));
    vec![Effect::Publish {
        topic,
        payload,
        qos,
    }]
}

/// A publish that went through the mutation path; a problem is shown.
pub fn published(state: &mut State, topic: &str, error: Option<&str>) {
    if let Some(error) = error {
        state.say(Level::Error, format!("publish to {topic} failed: {error}"));
    }
}
