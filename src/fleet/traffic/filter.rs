//! MQTT topic names and filters as AWS IoT accepts them: `#` only as the last level, `+` only as
//! a whole level, at most 256 bytes and 7 slashes (8 levels). Pure, with messages that say what
//! is wrong and where.

/// AWS IoT's limit on a topic's length in bytes.
pub const MAX_TOPIC_BYTES: usize = 256;
/// AWS IoT's limit on forward slashes in a topic (reserved `$aws/` topics excepted).
pub const MAX_SLASHES: usize = 7;

/// Checks a topic filter for subscribing.
pub fn check_filter(filter: &str) -> Result<(), String> {
    check_common(filter, "topic filter")?;
    let levels: Vec<&str> = filter.split('/').collect();
    for (index, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || index + 1 != levels.len()) {
            return Err(format!(
                "topic filter '{filter}': '#' must be a whole level and the last one (level {})",
                index + 1
            ));
        }
        if level.contains('+') && *level != "+" {
            return Err(format!(
                "topic filter '{filter}': '+' must be a whole level (level {} is '{level}')",
                index + 1
            ));
        }
    }
    Ok(())
}

/// Checks a topic name for publishing: no wildcards.
pub fn check_topic(topic: &str) -> Result<(), String> {
    check_common(topic, "topic")?;
    if topic.contains(['#', '+']) {
        return Err(format!(
            "topic '{topic}': '#' and '+' are wildcards, not allowed in a topic to publish to"
        ));
    }
    Ok(())
}

fn check_common(text: &str, what: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if text.len() > MAX_TOPIC_BYTES {
        return Err(format!(
            "{what} is {} bytes; AWS IoT allows at most {MAX_TOPIC_BYTES}",
            text.len()
        ));
    }
    if text.contains('\0') {
        return Err(format!("{what} contains a NUL character"));
    }
    let slashes = text.matches('/').count();
    let reserved = text.starts_with("$aws/");
    if slashes > MAX_SLASHES && !reserved {
        return Err(format!(
            "{what} '{text}' has {slashes} '/' characters; AWS IoT allows at most {MAX_SLASHES}"
        ));
    }
    Ok(())
}

/// Whether `topic` matches `filter` by MQTT's rules (for routing received messages).
#[must_use]
pub fn matches(filter: &str, topic: &str) -> bool {
    // Topics starting with $ are not matched by filters starting with a wildcard.
    if topic.starts_with('$') && filter.starts_with(['#', '+']) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match (level, topic_levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (expected, Some(actual)) if expected == actual => {}
            _ => return false,
        }
    }
    topic_levels.next().is_none()
}

/// Whether every topic `inner` matches is matched by `outer` too (so subscribing to both would
/// deliver those messages twice). Filters are taken as valid (`check_filter`).
#[must_use]
pub fn covers(outer: &str, inner: &str) -> bool {
    // A filter starting with a wildcard matches no `$` topic; one starting with `$` only those.
    if outer.starts_with(['#', '+']) && inner.starts_with('$') {
        return false;
    }
    let mut inner_levels = inner.split('/');
    for level in outer.split('/') {
        match (level, inner_levels.next()) {
            // `a/#` matches `a` itself too.
            ("#", _) => return true,
            ("+", Some(next)) if next != "#" => {}
            (expected, Some(next)) if expected == next && next != "+" && next != "#" => {}
            _ => return false,
        }
    }
    inner_levels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_covers_those_whose_every_topic_it_matches() {
        for (outer, inner) in [
            ("#", "+/camera-04/#"),
            ("#", "fleet/camera-04/telemetry"),
            ("$aws/things/+/shadow/#", "$aws/things/camera-04/shadow/#"),
            ("fleet/#", "fleet"),
            ("fleet/+/telemetry", "fleet/+/telemetry"),
            ("+/+", "a/b"),
        ] {
            assert!(covers(outer, inner), "{outer} covers {inner}");
        }
        for (outer, inner) in [
            ("#", "$aws/things/camera-04/shadow/#"),
            ("+/camera-04/#", "#"),
            ("fleet/+", "fleet/#"),
            ("fleet/a", "fleet/+"),
            ("fleet", "fleet/#"),
            ("fleet/+/telemetry", "fleet/a/telemetry/x"),
        ] {
            assert!(!covers(outer, inner), "{outer} does not cover {inner}");
        }
    }

    #[test]
    fn wildcards_are_checked_with_a_reason() {
        assert!(check_filter("devices/+/telemetry").is_ok());
        assert!(check_filter("#").is_ok());
        assert!(check_filter("$aws/things/+/shadow/#").is_ok());
        assert!(check_filter("a/#/b").unwrap_err().contains("last"));
        assert!(check_filter("a/b#").unwrap_err().contains("whole level"));
        assert!(
            check_filter("a/b+/c")
                .unwrap_err()
                .contains("'+' must be a whole level")
        );
        assert!(check_filter("").unwrap_err().contains("empty"));
        assert!(check_filter(&"a".repeat(257)).unwrap_err().contains("256"));
        assert!(
            check_filter("1/2/3/4/5/6/7/8/9")
                .unwrap_err()
                .contains("at most 7")
        );
        assert!(check_topic("a/+/b").unwrap_err().contains("wildcards"));
    }

    #[test]
    fn filters_match_topics_as_mqtt_does() {
        assert!(matches("devices/+/telemetry", "devices/pump-1/telemetry"));
        assert!(!matches(
            "devices/+/telemetry",
            "devices/pump-1/x/telemetry"
        ));
        assert!(matches("devices/#", "devices"));
        assert!(matches("devices/#", "devices/a/b"));
        assert!(!matches("#", "$aws/things/x/shadow/update"));
        assert!(matches(
            "$aws/things/+/shadow/#",
            "$aws/things/x/shadow/update/accepted"
        ));
    }
}
