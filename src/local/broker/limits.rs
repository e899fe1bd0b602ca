//! AWS IoT Core's message broker limits, kept by the local broker so that firmware tested here
//! does not first fail on AWS. Each figure is from "AWS IoT Core message broker and protocol
//! limits and quotas" (<https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits>)
//! unless its comment names another page; none of them is adjustable on AWS.
//!
//! A breach is answered as AWS answers it: a CONNECT is refused, a PUBLISH or SUBSCRIBE that
//! breaks the protocol closes the connection (AWS logs it as `CLIENT_ERROR`), a PUBLISH over the
//! per-connection rate is discarded (QUOTA_EXCEEDED under MQTT 5).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use rmqtt::codec::types::QoS;

use crate::fleet::quotas::Bucket;

/// "Client ID size: 128 bytes of UTF-8 encoded characters."
pub const MAX_CLIENT_ID_BYTES: usize = 128;

/// "Topic size: The topic passed to the message broker when publishing a message can be no
/// larger than 256 bytes of UTF-8 encoded characters." The same holds for a topic filter.
pub const MAX_TOPIC_BYTES: usize = 256;

/// "Maximum number of slashes in topic and topic filter: A topic in a publish or subscribe
/// request can have no more than 7 forward slashes (/). This excludes the first 3 slashes in the
/// mandatory segments for Basic Ingest topics ($AWS/rules/rule-name/)."
pub const MAX_TOPIC_SLASHES: usize = 7;

/// "Message size: The payload for every publish request can be no larger than 128 KB. AWS IoT
/// Core rejects publish and connect requests larger than this size."
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

/// "Subscriptions per connection: AWS IoT Core supports 50 subscriptions per connection."
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 50;

/// "Inbound publish requests per connection: 100 per second. ... Publish requests that exceed
/// this limit are discarded."
pub const PUBLISHES_PER_SECOND_PER_CONNECTION: f64 = 100.0;

/// How a request breaks AWS's limits, in words for the client's reason string and the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    /// "AWS IoT Core does not support publishing or subscribing with QoS level 2" (AWS IoT
    /// differences from MQTT specifications,
    /// <https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences>).
    #[error("QoS 2 is not supported by AWS IoT Core")]
    Qos2,
    /// MQTT 3.1.1 section 4.7.1: wildcards are for topic filters, never a topic name.
    #[error("a topic name may not contain the wildcards + or #: {0}")]
    Wildcard(String),
    #[error("topic of {0} bytes is longer than AWS IoT Core's {MAX_TOPIC_BYTES}")]
    TopicTooLong(usize),
    #[error("topic has {0} slashes, more than AWS IoT Core's {MAX_TOPIC_SLASHES}")]
    TooManySlashes(usize),
    #[error("payload of {0} bytes is larger than AWS IoT Core's {MAX_PAYLOAD_BYTES}")]
    PayloadTooLarge(usize),
    #[error(
        "more than {PUBLISHES_PER_SECOND_PER_CONNECTION} publishes per second on one connection: discarded"
    )]
    RateExceeded,
}

/// Checks the shape of a topic name (PUBLISH, Last Will) or topic filter (SUBSCRIBE). A
/// SUBSCRIBE asking QoS 2 never gets here as such: rmqtt grants it QoS 1 first.
pub fn check_topic(topic: &str, filter: bool) -> Result<(), Breach> {
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(Breach::TopicTooLong(topic.len()));
    }
    if !filter && topic.contains(['+', '#']) {
        return Err(Breach::Wildcard(topic.to_owned()));
    }
    let slashes = topic.matches('/').count() - basic_ingest_prefix_slashes(topic);
    if slashes > MAX_TOPIC_SLASHES {
        return Err(Breach::TooManySlashes(slashes));
    }
    Ok(())
}

/// The slashes of a Basic Ingest prefix (`$aws/rules/RULE/`), which do not count.
fn basic_ingest_prefix_slashes(topic: &str) -> usize {
    let mut levels = topic.splitn(4, '/');
    match (levels.next(), levels.next(), levels.next(), levels.next()) {
        (Some(first), Some(second), Some(_), Some(_))
            if first.eq_ignore_ascii_case("$aws") && second == "rules" =>
        {
            3
        }
        _ => 0,
    }
}

/// Checks a PUBLISH, or a Last Will at CONNECT, against AWS's limits.
pub fn check_publish(topic: &str, qos: QoS, payload_len: usize) -> Result<(), Breach> {
    if qos == QoS::ExactlyOnce {
        return Err(Breach::Qos2);
    }
    check_topic(topic, false)?;
    if payload_len > MAX_PAYLOAD_BYTES {
        return Err(Breach::PayloadTooLarge(payload_len));
    }
    Ok(())
}

/// The inbound publish rate of each connection, keyed by client id and session start so that a
/// reconnect starts afresh, as a new connection does on AWS.
#[derive(Debug, Default)]
pub struct PublishRates {
    buckets: Mutex<HashMap<(String, i64), Bucket>>,
}

impl PublishRates {
    /// Takes one publish from the connection's allowance, or says it is over the rate.
    pub fn admit(&self, client_id: &str, session_start: i64, now: Instant) -> Result<(), Breach> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets
            .entry((client_id.to_owned(), session_start))
            .or_insert_with(|| Bucket::new(PUBLISHES_PER_SECOND_PER_CONNECTION, now));
        if bucket.try_take(now) {
            Ok(())
        } else {
            Err(Breach::RateExceeded)
        }
    }

    /// Forgets a connection that ended.
    pub fn forget(&self, client_id: &str, session_start: i64) {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(client_id.to_owned(), session_start));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn topics_are_held_to_aws_limits() {
        assert_eq!(check_topic("a/b/c", false), Ok(()));
        assert_eq!(
            check_topic("a/+/c", false),
            Err(Breach::Wildcard("a/+/c".into()))
        );
        assert_eq!(
            check_topic("a/#", false),
            Err(Breach::Wildcard("a/#".into()))
        );
        assert_eq!(check_topic("a/+/#", true), Ok(()));
        assert_eq!(check_topic("1/2/3/4/5/6/7/8", false), Ok(()));
        assert_eq!(
            check_topic("1/2/3/4/5/6/7/8/9", false),
            Err(Breach::TooManySlashes(8))
        );
        // The Basic Ingest prefix does not count, and the shadow topics fit.
        assert_eq!(check_topic("$aws/rules/r/1/2/3/4/5/6/7/8", false), Ok(()));
        assert_eq!(
            check_topic("$aws/things/t/shadow/name/s/update/accepted", true),
            Ok(())
        );
        assert_eq!(check_topic(&"a".repeat(256), false), Ok(()));
        assert_eq!(
            check_topic(&"a".repeat(257), false),
            Err(Breach::TopicTooLong(257))
        );
    }

    #[test]
    fn a_qos_2_or_large_publish_is_refused() {
        assert_eq!(check_publish("t", QoS::ExactlyOnce, 1), Err(Breach::Qos2));
        assert_eq!(
            check_publish("t", QoS::AtLeastOnce, MAX_PAYLOAD_BYTES),
            Ok(())
        );
        assert_eq!(
            check_publish("t", QoS::AtMostOnce, MAX_PAYLOAD_BYTES + 1),
            Err(Breach::PayloadTooLarge(MAX_PAYLOAD_BYTES + 1))
        );
    }

    #[test]
    fn a_connection_gets_its_rate_and_a_new_one_starts_afresh() {
        let rates = PublishRates::default();
        let start = Instant::now();
        let admitted = (0..150)
            .filter(|_| rates.admit("dev", 1, start).is_ok())
            .count();
        assert_eq!(admitted, 100);
        assert_eq!(rates.admit("other", 1, start), Ok(()));
        assert_eq!(
            rates.admit("dev", 1, start + Duration::from_millis(100)),
            Ok(())
        );
        rates.forget("dev", 1);
        assert_eq!(rates.admit("dev", 2, start), Ok(()));
    }
}
