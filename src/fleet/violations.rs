//! Device Defender Detect: the violations AWS IoT reports for devices that stray from their
//! security profiles' behaviours (ListActiveViolations), each with what was measured, the
//! threshold it crossed and since when. Whether Detect watches anything at all is asked first
//! (ListSecurityProfiles), so "no violations" is never said where nothing is watched. The local
//! core answers the same calls for its own broker's measurements.

use serde::Serialize;
use time::OffsetDateTime;

use super::client::{FleetClient, MAX_PAGE_SIZE, PageToken, to_time};
use super::error::{FleetError, Operation};

/// How often the console and `violations --follow` ask: the local core takes a datapoint every
/// 5 s; AWS every period of minutes, and ListActiveViolations' quota is shared per account.
#[must_use]
pub fn poll_every(local: bool) -> std::time::Duration {
    if local {
        std::time::Duration::from_secs(1)
    } else {
        std::time::Duration::from_secs(30)
    }
}

/// The commands that set Detect up, said when no security profile exists.
pub const SET_UP: &str = "aws iot create-security-profile --security-profile-name NAME --behaviors FILE.json, then aws iot attach-security-profile --security-profile-name NAME --security-profile-target-arn arn:aws:iot:REGION:ACCOUNT:all/registered-things";

/// One active violation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    pub violation_id: String,
    pub thing_name: String,
    pub security_profile: String,
    pub behavior: String,
    /// AWS's metric name, such as `aws:num-messages-sent`.
    pub metric: Option<String>,
    /// `greater-than`, `less-than-equals`…
    pub comparison: Option<String>,
    /// The behaviour's threshold (a count, or a number for some metrics).
    pub threshold: Option<f64>,
    pub duration_seconds: Option<i32>,
    /// The value that last violated it.
    pub observed: Option<f64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
}

impl Violation {
    /// The metric in a word or two: "messages sent", "auth failures"; AWS's name otherwise.
    #[must_use]
    pub fn metric_text(&self) -> &str {
        match self.metric.as_deref() {
            Some("aws:num-messages-sent") => "messages sent",
            Some("aws:num-messages-received") => "messages received",
            Some("aws:num-authorization-failures") => "auth failures",
            Some("aws:num-connection-attempts") => "connect attempts",
            Some("aws:num-disconnects") => "disconnects",
            Some("aws:message-byte-size") => "message bytes",
            Some(other) => other,
            None => "?",
        }
    }

    /// The rule that was broken, as "≤ 100 in 5m" (normal is at most 100 in 5 minutes).
    #[must_use]
    pub fn rule_text(&self) -> String {
        let operator = match self.comparison.as_deref() {
            Some("less-than") => "<",
            Some("less-than-equals") => "≤",
            Some("greater-than") => ">",
            Some("greater-than-equals") => "≥",
            Some(other) => other,
            None => "?",
        };
        let threshold = self.threshold.map_or_else(|| "?".to_owned(), number);
        match self.duration_seconds {
            Some(seconds) if seconds % 60 == 0 => {
                format!("{operator} {threshold} in {}m", seconds / 60)
            }
            Some(seconds) => format!("{operator} {threshold} in {seconds}s"),
            None => format!("{operator} {threshold}"),
        }
    }

    /// The value that broke it.
    #[must_use]
    pub fn observed_text(&self) -> String {
        self.observed.map_or_else(|| "?".to_owned(), number)
    }
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// What Detect says: how many security profiles watch this region, and the active violations
/// (none asked when no profile exists).
#[derive(Debug, Clone, PartialEq)]
pub struct Violations {
    pub profiles: usize,
    pub active: Vec<Violation>,
}

impl Violations {
    /// Said when no profile exists: nothing is watched, so no violation means nothing.
    #[must_use]
    pub fn unwatched(&self, region: &str, local: bool) -> Option<String> {
        (self.profiles == 0).then(|| {
            if local {
                format!(
                    "Device Defender Detect watches nothing: the local core has no security profile. Set one up with: {SET_UP}"
                )
            } else {
                format!(
                    "Device Defender Detect watches nothing in {region}: it has no security profile (AWS offers Detect only to accounts that used it before 31 August 2026). Set one up with: {SET_UP}"
                )
            }
        })
    }
}

impl FleetError {
    /// Why violations could not be read, said plainly. An endpoint without Device Defender is
    /// named as such: moto answers HTTP 500 with no AWS error at all; other services name the
    /// operation unknown.
    #[must_use]
    pub fn violations_unknown(&self) -> String {
        match self {
            Self::Service { action, code, .. } if code.is_empty() => format!(
                "violations unknown: this endpoint does not answer Device Defender Detect ({action} failed without an AWS error)"
            ),
            Self::Service { code, .. }
                if code.contains("NotImplemented") || code.contains("UnknownOperation") =>
            {
                format!(
                    "violations unknown: this endpoint does not answer Device Defender Detect ({self})"
                )
            }
            _ => format!("violations unknown: {self}"),
        }
    }
}

impl FleetClient {
    /// The active violations, of one Thing or of all, after checking that a security profile
    /// exists (when none does, nothing is watched and `active` is empty).
    pub async fn violations(&self, thing: Option<&str>) -> Result<Violations, FleetError> {
        let operation = Operation::new("iot:ListSecurityProfiles");
        let profiles = self
            .iot()
            .list_security_profiles()
            .max_results(MAX_PAGE_SIZE)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?
            .security_profile_identifiers
            .unwrap_or_default()
            .len();
        if profiles == 0 {
            return Ok(Violations {
                profiles,
                active: Vec::new(),
            });
        }
        let operation = Operation::new("iot:ListActiveViolations");
        let mut active = Vec::new();
        // A token returned twice ends the listing with an error rather than looping.
        let mut token = PageToken::default();
        loop {
            let out = self
                .iot()
                .list_active_violations()
                .set_thing_name(thing.map(str::to_owned))
                .max_results(MAX_PAGE_SIZE)
                .set_next_token(token.next.clone())
                .send()
                .await
                .map_err(|e| self.fail(&operation, e))?;
            active.extend(
                out.active_violations
                    .unwrap_or_default()
                    .into_iter()
                    .map(from_sdk),
            );
            token.advance(out.next_token, operation.action)?;
            if token.finished {
                return Ok(Violations { profiles, active });
            }
        }
    }
}

#[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn from_sdk(v: aws_sdk_iot::types::ActiveViolation) -> Violation {
    let behavior = v.behavior;
    let criteria = behavior.as_ref().and_then(|b| b.criteria.as_ref());
    let value = |m: &aws_sdk_iot::types::MetricValue| m.count.map(|c| c as f64).or(m.number);
    Violation {
        violation_id: v.violation_id.unwrap_or_default(),
        thing_name: v.thing_name.unwrap_or_default(),
        security_profile: v.security_profile_name.unwrap_or_default(),
        behavior: behavior
            .as_ref()
            .map(|b| b.name.clone())
            .unwrap_or_default(),
        metric: behavior.as_ref().and_then(|b| b.metric.clone()),
        comparison: criteria
            .and_then(|c| c.comparison_operator.as_ref())
            .map(|o| o.as_str().to_owned()),
        threshold: criteria.and_then(|c| c.value.as_ref()).and_then(value),
        duration_seconds: criteria.and_then(|c| c.duration_seconds),
        observed: v.last_violation_value.as_ref().and_then(value),
        since: v.violation_start_time.and_then(to_time).map(to_millisecond),
        last_seen: v.last_violation_time.and_then(to_time).map(to_millisecond),
    }
}

/// AWS gives these times in epoch seconds with a fraction, which reads back with float noise in
/// the nanoseconds (`.035000085`): kept to the millisecond the service means.
fn to_millisecond(time: OffsetDateTime) -> OffsetDateTime {
    let nanos = time.nanosecond();
    let rounded = (nanos + 500_000) / 1_000_000 * 1_000_000;
    match time.replace_nanosecond(rounded) {
        Ok(time) => time,
        // 999.5 ms and more: the next second.
        Err(_) => time.replace_nanosecond(0).unwrap_or(time) + time::Duration::SECOND,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_the_millisecond_not_the_float_noise() {
        let noisy = OffsetDateTime::from_unix_timestamp_nanos(1_764_543_471_035_000_085).unwrap();
        assert_eq!(
            to_millisecond(noisy),
            OffsetDateTime::from_unix_timestamp_nanos(1_764_543_471_035_000_000).unwrap()
        );
        let late = OffsetDateTime::from_unix_timestamp_nanos(1_764_543_471_999_999_900).unwrap();
        assert_eq!(
            to_millisecond(late),
            OffsetDateTime::from_unix_timestamp(1_764_543_472).unwrap()
        );
    }

    #[test]
    fn the_rule_reads_as_what_is_normal() {
        let violation = Violation {
            violation_id: "v".into(),
            thing_name: "t".into(),
            security_profile: "p".into(),
            behavior: "b".into(),
            metric: Some("aws:num-authorization-failures".into()),
            comparison: Some("less-than".into()),
            threshold: Some(5.0),
            duration_seconds: Some(900),
            observed: Some(12.0),
            since: None,
            last_seen: None,
        };
        assert_eq!(violation.rule_text(), "< 5 in 15m");
        assert_eq!(violation.metric_text(), "auth failures");
        assert_eq!(violation.observed_text(), "12");
    }
}
