//! The local core's Device Defender Detect: security profiles whose behaviours watch AWS's
//! cloud-side metrics of each registered Thing (messages sent, authorization failures,
//! connection attempts, disconnects), counted by the broker as they happen, and the violations
//! they raise, answered with Defender's calls (CreateSecurityProfile, AttachSecurityProfile,
//! ListActiveViolations, ...) in AWS's shapes. Profiles are kept in the state file; counts and
//! violations in memory (a restart starts them afresh).
//!
//! One difference from AWS, said wherever violations are shown: AWS takes a datapoint when each
//! `durationSeconds` period closes; the local core takes one every `TICK` over the last
//! `durationSeconds` (a sliding window), so a violation shows here within seconds where AWS may
//! take a period. Thresholds, operators, `consecutiveDatapointsToAlarm` and `...ToClear` mean
//! the same. Statistical thresholds, ML Detect, device-side and custom metrics are refused by
//! name rather than accepted and never evaluated.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use super::registry::{ApiError, ApiResult, Call, new_id, offset_page, page_size, with_next};
use super::store::{FleetState, SecurityProfileRecord};

/// How often the local core takes a datapoint of every behaviour.
pub const TICK: Duration = Duration::from_secs(5);
/// The durations AWS accepts for a cloud-side count, in seconds.
const DURATIONS: [i64; 5] = [300, 600, 900, 1800, 3600];
/// The longest of them: counts older than this are forgotten.
const LONGEST: i64 = 3600;
/// Counts are kept in buckets of a tick (5 s at real speed): a window may reach one bucket
/// further back than its duration.
const BUCKETS_PER_TICK: i64 = 1;
/// The most behaviours a profile may have (AWS's limit).
const MAX_BEHAVIORS: usize = 100;

/// The cloud-side metrics the broker measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    MessagesSent,
    AuthorizationFailures,
    ConnectionAttempts,
    Disconnects,
}

impl Metric {
    const ALL: [Self; 4] = [
        Self::MessagesSent,
        Self::AuthorizationFailures,
        Self::ConnectionAttempts,
        Self::Disconnects,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::MessagesSent => "aws:num-messages-sent",
            Self::AuthorizationFailures => "aws:num-authorization-failures",
            Self::ConnectionAttempts => "aws:num-connection-attempts",
            Self::Disconnects => "aws:num-disconnects",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

impl Comparison {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "less-than" => Self::LessThan,
            "less-than-equals" => Self::LessThanEquals,
            "greater-than" => Self::GreaterThan,
            "greater-than-equals" => Self::GreaterThanEquals,
            _ => return None,
        })
    }

    /// Whether `observed` is normal; a behaviour is violated when it is not.
    fn normal(self, observed: u64, threshold: u64) -> bool {
        match self {
            Self::LessThan => observed < threshold,
            Self::LessThanEquals => observed <= threshold,
            Self::GreaterThan => observed > threshold,
            Self::GreaterThanEquals => observed >= threshold,
        }
    }
}

/// A behaviour as the local core evaluates it, read from AWS's JSON.
#[derive(Debug, Clone)]
struct Behavior {
    name: String,
    metric: Metric,
    comparison: Comparison,
    threshold: u64,
    duration_s: i64,
    to_alarm: u32,
    to_clear: u32,
}

impl Behavior {
    /// Reads one behaviour of a CreateSecurityProfile body, refusing what AWS refuses and what
    /// the local core cannot measure.
    fn parse(value: &Value) -> Result<Self, ApiError> {
        let name = value["name"]
            .as_str()
            .filter(|n| valid_name(n))
            .ok_or_else(|| {
                ApiError::invalid("a behavior needs a name of 1 to 128 of a-z, A-Z, 0-9, :, _, -")
            })?;
        let invalid = |what: String| ApiError::invalid(format!("behavior {name}: {what}"));
        let metric_name = value["metric"]
            .as_str()
            .ok_or_else(|| invalid("a metric is required".into()))?;
        let metric = Metric::parse(metric_name).ok_or_else(|| {
            invalid(format!(
                "the iotfleet local IoT Core measures {} only, not {metric_name}",
                Metric::ALL.map(Metric::name).join(", ")
            ))
        })?;
        if value.get("metricDimension").is_some() {
            return Err(invalid(
                "metric dimensions are not evaluated by the iotfleet local IoT Core".into(),
            ));
        }
        let criteria = &value["criteria"];
        for unsupported in ["statisticalThreshold", "mlDetectionConfig"] {
            if criteria.get(unsupported).is_some() {
                return Err(invalid(format!(
                    "{unsupported} is not evaluated by the iotfleet local IoT Core; give a value.count"
                )));
            }
        }
        let operator = criteria["comparisonOperator"].as_str().unwrap_or_default();
        let comparison = Comparison::parse(operator).ok_or_else(|| {
            invalid(format!(
                "comparisonOperator {operator:?} is not one of less-than, less-than-equals, greater-than, greater-than-equals"
            ))
        })?;
        let threshold = criteria["value"]["count"]
            .as_u64()
            .ok_or_else(|| invalid("criteria.value.count must be a non-negative integer".into()))?;
        let duration_s = criteria["durationSeconds"].as_i64().unwrap_or_default();
        if !DURATIONS.contains(&duration_s) {
            return Err(invalid(format!(
                "durationSeconds must be one of 300, 600, 900, 1800 or 3600 for {metric_name}"
            )));
        }
        let datapoints = |key: &str| -> Result<u32, ApiError> {
            match criteria.get(key) {
                None | Some(Value::Null) => Ok(1),
                Some(v) => v
                    .as_u64()
                    .filter(|n| (1..=10).contains(n))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| invalid(format!("{key} must be 1 to 10"))),
            }
        };
        Ok(Self {
            name: name.to_owned(),
            metric,
            comparison,
            threshold,
            duration_s,
            to_alarm: datapoints("consecutiveDatapointsToAlarm")?,
            to_clear: datapoints("consecutiveDatapointsToClear")?,
        })
    }
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))
}

/// How fast the detector's time runs: `speedup` times real time for its windows and ticks
/// (tests use it to see a 300 s window pass; 1 otherwise).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub speedup: u32,
}

impl Clock {
    fn window_ms(self, duration_s: i64) -> i64 {
        (duration_s * 1000 / i64::from(self.speedup.max(1))).max(1)
    }

    /// The time between datapoints.
    #[must_use]
    pub fn tick(self) -> Duration {
        (TICK / self.speedup.max(1)).max(Duration::from_millis(20))
    }

    fn bucket_ms(self) -> i64 {
        let tick = i64::try_from(self.tick().as_millis()).unwrap_or(5000);
        (tick / BUCKETS_PER_TICK).max(1)
    }
}

/// One metric of one client: counts per bucket, oldest first, only buckets with a count.
#[derive(Debug, Default)]
struct Series {
    buckets: VecDeque<(i64, u64)>,
}

impl Series {
    fn add(&mut self, bucket: i64) {
        match self.buckets.back_mut() {
            Some((last, count)) if *last == bucket => *count += 1,
            _ => self.buckets.push_back((bucket, 1)),
        }
    }

    /// The count in buckets from `first` on.
    fn since(&self, first: i64) -> u64 {
        self.buckets
            .iter()
            .rev()
            .take_while(|(bucket, _)| *bucket >= first)
            .map(|(_, count)| count)
            .sum()
    }

    fn forget_before(&mut self, first: i64) {
        while self
            .buckets
            .front()
            .is_some_and(|(bucket, _)| *bucket < first)
        {
            self.buckets.pop_front();
        }
    }
}

/// A behaviour watched on one Thing: the runs of datapoints that violated or did not, and the
/// violation, while active.
#[derive(Debug, Default)]
struct Watch {
    violating_run: u32,
    normal_run: u32,
    active: Option<Active>,
}

#[derive(Debug, Clone)]
struct Active {
    id: String,
    started_ms: i64,
    last_ms: i64,
    last_value: u64,
}

/// (profile, behaviour, Thing).
type WatchKey = (String, String, String);

#[derive(Debug, Default)]
struct Inner {
    /// Per client id, a series per metric (indexed by `Metric::index`).
    clients: HashMap<String, [Series; 4]>,
    watches: BTreeMap<WatchKey, Watch>,
}

/// The broker's counts and the violations they raise.
#[derive(Debug)]
pub struct Detector {
    clock: Clock,
    inner: Mutex<Inner>,
}

impl Default for Detector {
    fn default() -> Self {
        Self::new(Clock { speedup: 1 })
    }
}

impl Detector {
    #[must_use]
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            inner: Mutex::default(),
        }
    }

    #[must_use]
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Counts one event of `metric` for the client at `now_ms`.
    pub fn count(&self, client_id: &str, metric: Metric, now_ms: i64) {
        let bucket = now_ms.div_euclid(self.clock.bucket_ms());
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let series = match inner.clients.get_mut(client_id) {
            Some(series) => series,
            None => inner.clients.entry(client_id.to_owned()).or_default(),
        };
        series[metric.index()].add(bucket);
    }

    /// Takes one datapoint of every behaviour of every profile on every Thing it targets, raising
    /// and clearing violations; forgets counts older than the longest window.
    pub fn evaluate(&self, state: &FleetState, now_ms: i64) {
        let bucket_ms = self.clock.bucket_ms();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Inner { clients, watches } = &mut *inner;
        let mut seen: BTreeSet<WatchKey> = BTreeSet::new();
        for (profile, record) in state.security_profiles.iter() {
            let behaviors: Vec<Behavior> = record
                .behaviors
                .iter()
                .filter_map(|b| Behavior::parse(b).ok())
                .collect();
            if behaviors.is_empty() {
                continue;
            }
            for thing in targeted_things(state, record) {
                let series = clients.get(thing);
                for behavior in &behaviors {
                    let first = (now_ms - self.clock.window_ms(behavior.duration_s) + 1)
                        .div_euclid(bucket_ms);
                    let observed = series.map_or(0, |s| s[behavior.metric.index()].since(first));
                    let key = (profile.clone(), behavior.name.clone(), thing.to_owned());
                    let normal = behavior.comparison.normal(observed, behavior.threshold);
                    if normal && !watches.contains_key(&key) {
                        continue;
                    }
                    let watch = watches.entry(key.clone()).or_default();
                    datapoint(watch, behavior, normal, observed, now_ms);
                    if watch.active.is_none() && watch.violating_run == 0 {
                        watches.remove(&key);
                    } else {
                        seen.insert(key);
                    }
                }
            }
        }
        // A profile deleted or detached, a behaviour removed, a Thing deleted: its violations go.
        watches.retain(|key, _| seen.contains(key));
        let oldest = (now_ms - self.clock.window_ms(LONGEST)).div_euclid(bucket_ms);
        clients.retain(|_, series| {
            for s in series.iter_mut() {
                s.forget_before(oldest);
            }
            series.iter().any(|s| !s.buckets.is_empty())
        });
    }

    /// ListActiveViolations: every active violation, by Thing, profile and behaviour.
    pub fn list_active_violations(
        &self,
        state: &FleetState,
        query: &ViolationQuery<'_>,
    ) -> ApiResult {
        let size = page_size(query.max_results, 250, "maxResults")?;
        if let Some(profile) = query.security_profile
            && !state.security_profiles.contains_key(profile)
        {
            return Err(ApiError::not_found(format!(
                "security profile {profile} does not exist"
            )));
        }
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rows: Vec<(&str, &WatchKey, &Active)> = inner
            .watches
            .iter()
            .filter_map(|(key, watch)| Some((key.2.as_str(), key, watch.active.as_ref()?)))
            .filter(|(thing, key, _)| {
                query.thing.is_none_or(|t| t == *thing)
                    && query.security_profile.is_none_or(|p| p == key.0)
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(b.0).then_with(|| a.1.cmp(b.1)));
        let violations: Vec<Value> = rows
            .into_iter()
            .map(|(_, (profile, behavior, thing), active)| {
                let behavior = state
                    .security_profiles
                    .get(profile)
                    .and_then(|p| p.behaviors.iter().find(|b| b["name"] == **behavior))
                    .cloned()
                    .unwrap_or_else(|| json!({"name": behavior}));
                json!({
                    "violationId": active.id,
                    "thingName": thing,
                    "securityProfileName": profile,
                    "behavior": behavior,
                    "lastViolationValue": {"count": active.last_value},
                    "lastViolationTime": seconds(active.last_ms),
                    "violationStartTime": seconds(active.started_ms),
                    "verificationState": "UNKNOWN",
                })
            })
            .collect();
        drop(inner);
        let (page, next) = offset_page(&violations, query.next_token, size)?;
        Ok(with_next(
            json!({"activeViolations": page}),
            "nextToken",
            next,
        ))
    }
}

/// One datapoint of a behaviour on a Thing.
fn datapoint(watch: &mut Watch, behavior: &Behavior, normal: bool, observed: u64, now_ms: i64) {
    if normal {
        watch.violating_run = 0;
        watch.normal_run += 1;
        if watch.normal_run >= behavior.to_clear {
            watch.active = None;
        }
        return;
    }
    watch.normal_run = 0;
    watch.violating_run += 1;
    match &mut watch.active {
        Some(active) => {
            active.last_ms = now_ms;
            active.last_value = observed;
        }
        None if watch.violating_run >= behavior.to_alarm => {
            watch.active = Some(Active {
                id: new_id(),
                started_ms: now_ms,
                last_ms: now_ms,
                last_value: observed,
            });
        }
        None => {}
    }
}

fn seconds(ms: i64) -> f64 {
    #[expect(
        clippy::cast_precision_loss,
        reason = "epoch milliseconds fit f64 exactly"
    )]
    let ms = ms as f64;
    ms / 1000.0
}

/// The Things a profile watches: all registered Things, or the members of its Thing groups.
fn targeted_things<'s>(
    state: &'s FleetState,
    record: &'s SecurityProfileRecord,
) -> BTreeSet<&'s str> {
    let everyone = record
        .targets
        .iter()
        .any(|t| t.ends_with(":all/registered-things"));
    let groups: BTreeSet<&str> = record
        .targets
        .iter()
        .filter_map(|t| t.split_once(":thinggroup/").map(|(_, g)| g))
        .collect();
    state
        .things
        .iter()
        .filter(|(_, thing)| everyone || thing.groups.iter().any(|g| groups.contains(g.as_str())))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// ListActiveViolations' filters and page.
#[derive(Debug, Default)]
pub struct ViolationQuery<'a> {
    pub thing: Option<&'a str>,
    pub security_profile: Option<&'a str>,
    pub next_token: Option<&'a str>,
    pub max_results: Option<i64>,
}

fn profile<'s>(state: &'s FleetState, name: &str) -> Result<&'s SecurityProfileRecord, ApiError> {
    state
        .security_profiles
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("security profile {name} does not exist")))
}

/// CreateSecurityProfile.
pub fn create_security_profile(
    state: &mut FleetState,
    call: Call<'_>,
    name: &str,
    body: &Value,
) -> ApiResult {
    if !valid_name(name) {
        return Err(ApiError::invalid(format!(
            "security profile name {name:?} must be 1 to 128 of a-z, A-Z, 0-9, :, _, -"
        )));
    }
    if state.security_profiles.contains_key(name) {
        return Err(ApiError {
            status: 409,
            code: "ResourceAlreadyExistsException",
            message: format!("security profile {name} already exists"),
        });
    }
    for unsupported in [
        "alertTargets",
        "additionalMetricsToRetainV2",
        "metricsExportConfig",
    ] {
        if body.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(ApiError::invalid(format!(
                "{unsupported} is not kept by the iotfleet local IoT Core"
            )));
        }
    }
    let behaviors = behaviors(body)?;
    state.security_profiles.insert(
        name.to_owned(),
        SecurityProfileRecord {
            description: body["securityProfileDescription"]
                .as_str()
                .map(str::to_owned),
            behaviors,
            targets: BTreeSet::new(),
            version: 1,
            created: call.now,
            last_modified: call.now,
        },
    );
    Ok(json!({
        "securityProfileName": name,
        "securityProfileArn": call.arn(&format!("securityprofile/{name}")),
    }))
}

fn behaviors(body: &Value) -> Result<Vec<Value>, ApiError> {
    let behaviors = match &body["behaviors"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items.clone(),
        _ => return Err(ApiError::invalid("behaviors must be a list")),
    };
    if behaviors.len() > MAX_BEHAVIORS {
        return Err(ApiError::invalid(format!(
            "a security profile has at most {MAX_BEHAVIORS} behaviors"
        )));
    }
    let mut names = BTreeSet::new();
    for behavior in &behaviors {
        let parsed = Behavior::parse(behavior)?;
        if !names.insert(parsed.name.clone()) {
            return Err(ApiError::invalid(format!(
                "behavior name {} is given twice",
                parsed.name
            )));
        }
    }
    Ok(behaviors)
}

/// DescribeSecurityProfile.
pub fn describe_security_profile(state: &FleetState, call: Call<'_>, name: &str) -> ApiResult {
    let record = profile(state, name)?;
    Ok(json!({
        "securityProfileName": name,
        "securityProfileArn": call.arn(&format!("securityprofile/{name}")),
        "securityProfileDescription": record.description,
        "behaviors": record.behaviors,
        "version": record.version,
        "creationDate": record.created,
        "lastModifiedDate": record.last_modified,
    }))
}

/// ListSecurityProfiles.
pub fn list_security_profiles(
    state: &FleetState,
    call: Call<'_>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> ApiResult {
    let size = page_size(max_results, 250, "maxResults")?;
    let all: Vec<Value> = state
        .security_profiles
        .keys()
        .map(|name| json!({"name": name, "arn": call.arn(&format!("securityprofile/{name}"))}))
        .collect();
    let (page, next) = offset_page(&all, next_token, size)?;
    Ok(with_next(
        json!({"securityProfileIdentifiers": page}),
        "nextToken",
        next,
    ))
}

/// DeleteSecurityProfile.
pub fn delete_security_profile(state: &mut FleetState, name: &str) -> ApiResult {
    profile(state, name)?;
    state.security_profiles.remove(name);
    Ok(json!({}))
}

/// AttachSecurityProfile: all registered Things, or a Thing group that exists.
pub fn attach_security_profile(state: &mut FleetState, name: &str, target: &str) -> ApiResult {
    profile(state, name)?;
    if target.ends_with(":all/unregistered-things") {
        return Err(ApiError::invalid(
            "the iotfleet local IoT Core evaluates registered Things only: attach all/registered-things or a Thing group",
        ));
    }
    let known = target.starts_with("arn:aws:iot:")
        && (target.ends_with(":all/registered-things")
            || target
                .split_once(":thinggroup/")
                .is_some_and(|(_, group)| state.thing_groups.contains_key(group)));
    if !known {
        return Err(ApiError::not_found(format!(
            "security profile target {target} is neither all/registered-things nor an existing Thing group"
        )));
    }
    if let Some(record) = state.security_profiles.get_mut(name) {
        record.targets.insert(target.to_owned());
    }
    Ok(json!({}))
}

/// DetachSecurityProfile.
pub fn detach_security_profile(state: &mut FleetState, name: &str, target: &str) -> ApiResult {
    profile(state, name)?;
    if let Some(record) = state.security_profiles.get_mut(name) {
        record.targets.remove(target);
    }
    Ok(json!({}))
}

/// ListTargetsForSecurityProfile.
pub fn list_targets_for_security_profile(state: &FleetState, name: &str) -> ApiResult {
    let record = profile(state, name)?;
    let targets: Vec<Value> = record
        .targets
        .iter()
        .map(|arn| json!({"arn": arn}))
        .collect();
    Ok(json!({"securityProfileTargets": targets}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::store::ThingRecord;

    const CALL: Call<'static> = Call {
        account: "123456789012",
        region: "us-east-1",
        now: 1_700_000_000,
    };

    fn messages_sent(limit: u64, to_alarm: u32, to_clear: u32) -> Value {
        json!({"name": "messages-sent", "metric": "aws:num-messages-sent",
            "criteria": {"comparisonOperator": "less-than-equals", "value": {"count": limit},
                "durationSeconds": 300, "consecutiveDatapointsToAlarm": to_alarm,
                "consecutiveDatapointsToClear": to_clear}})
    }

    /// Two Things, one in group `cameras`, and a profile with `behavior` on `target`.
    fn fleet(behavior: &Value, target: &str) -> FleetState {
        let mut state = FleetState::default();
        for (name, group) in [("camera-04", Some("cameras")), ("pump-01", None)] {
            state.things.insert(
                name.to_owned(),
                ThingRecord {
                    groups: group.into_iter().map(str::to_owned).collect(),
                    ..ThingRecord::default()
                },
            );
        }
        state.thing_groups.insert(
            "cameras".to_owned(),
            super::super::store::GroupRecord::default(),
        );
        create_security_profile(
            &mut state,
            CALL,
            "baseline",
            &json!({"behaviors": [behavior]}),
        )
        .unwrap();
        attach_security_profile(&mut state, "baseline", target).unwrap();
        state
    }

    fn active(detector: &Detector, state: &FleetState) -> Vec<(String, u64)> {
        let answer = detector
            .list_active_violations(state, &ViolationQuery::default())
            .unwrap();
        answer["activeViolations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["thingName"].as_str().unwrap().to_owned(),
                    v["lastViolationValue"]["count"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    const ALL: &str = "arn:aws:iot:us-east-1:123456789012:all/registered-things";
    const SECOND: i64 = 1000;

    #[test]
    fn a_thing_past_its_threshold_violates_and_clears_once_its_window_is_quiet() {
        let state = fleet(&messages_sent(100, 1, 1), ALL);
        let detector = Detector::default();
        let start = 1_000_000 * SECOND;
        for i in 0..101 {
            detector.count("camera-04", Metric::MessagesSent, start + i * 10);
        }
        for i in 0..100 {
            detector.count("pump-01", Metric::MessagesSent, start + i * 10);
        }
        detector.evaluate(&state, start + 5 * SECOND);
        assert_eq!(active(&detector, &state), [("camera-04".to_owned(), 101)]);
        let id = |d: &Detector| {
            d.list_active_violations(&state, &ViolationQuery::default())
                .unwrap()["activeViolations"][0]["violationId"]
                .clone()
        };
        let first = id(&detector);
        // Still inside the 300 s window: the same violation goes on.
        detector.evaluate(&state, start + 290 * SECOND);
        assert_eq!(id(&detector), first);
        // The window (counted in buckets of 5 s) has moved past every message: cleared.
        detector.evaluate(&state, start + 306 * SECOND);
        assert_eq!(active(&detector, &state), []);
    }

    #[test]
    fn consecutive_datapoints_are_needed_to_alarm_and_to_clear() {
        let state = fleet(&messages_sent(0, 2, 2), ALL);
        let detector = Detector::default();
        let t = 2_000_000 * SECOND;
        detector.count("pump-01", Metric::MessagesSent, t);
        detector.evaluate(&state, t + 5 * SECOND);
        assert_eq!(active(&detector, &state), [], "one datapoint is not two");
        detector.evaluate(&state, t + 10 * SECOND);
        assert_eq!(active(&detector, &state), [("pump-01".to_owned(), 1)]);
        detector.evaluate(&state, t + 400 * SECOND);
        assert_eq!(
            active(&detector, &state).len(),
            1,
            "one normal datapoint is not two"
        );
        detector.evaluate(&state, t + 405 * SECOND);
        assert_eq!(active(&detector, &state), []);
    }

    #[test]
    fn a_group_target_watches_its_members_only_and_a_deleted_profile_takes_its_violations() {
        let mut state = fleet(
            &messages_sent(0, 1, 1),
            "arn:aws:iot:us-east-1:123456789012:thinggroup/cameras",
        );
        let detector = Detector::default();
        let t = 3_000_000 * SECOND;
        detector.count("camera-04", Metric::MessagesSent, t);
        detector.count("pump-01", Metric::MessagesSent, t);
        detector.count("not-a-thing", Metric::MessagesSent, t);
        detector.evaluate(&state, t + SECOND);
        assert_eq!(active(&detector, &state), [("camera-04".to_owned(), 1)]);
        delete_security_profile(&mut state, "baseline").unwrap();
        detector.evaluate(&state, t + 2 * SECOND);
        assert_eq!(active(&detector, &state), []);
    }

    #[test]
    fn a_less_than_behaviour_flags_a_quiet_thing_and_counts_are_kept_per_metric() {
        let behavior = json!({"name": "alive", "metric": "aws:num-connection-attempts",
            "criteria": {"comparisonOperator": "greater-than-equals", "value": {"count": 1},
                "durationSeconds": 600}});
        let state = fleet(&behavior, ALL);
        let detector = Detector::default();
        let t = 4_000_000 * SECOND;
        detector.count("camera-04", Metric::ConnectionAttempts, t);
        detector.count("pump-01", Metric::MessagesSent, t);
        detector.evaluate(&state, t + SECOND);
        assert_eq!(active(&detector, &state), [("pump-01".to_owned(), 0)]);
    }

    #[test]
    fn what_aws_refuses_and_what_is_not_measured_here_are_refused_by_name() {
        let mut state = FleetState::default();
        let refused = |state: &mut FleetState, behavior: Value| {
            create_security_profile(state, CALL, "p", &json!({"behaviors": [behavior]}))
                .unwrap_err()
                .message
        };
        let mut statistical = messages_sent(1, 1, 1);
        statistical["criteria"]["statisticalThreshold"] = json!({"statistic": "p90"});
        assert!(refused(&mut state, statistical).contains("statisticalThreshold"));
        let mut short = messages_sent(1, 1, 1);
        short["criteria"]["durationSeconds"] = json!(60);
        assert!(refused(&mut state, short).contains("300, 600, 900, 1800 or 3600"));
        let mut eleven = messages_sent(1, 1, 1);
        eleven["criteria"]["consecutiveDatapointsToAlarm"] = json!(11);
        assert!(refused(&mut state, eleven).contains("1 to 10"));
        let mut other = messages_sent(1, 1, 1);
        other["metric"] = json!("aws:listening-tcp-ports");
        assert!(refused(&mut state, other).contains("measures aws:num-messages-sent"));
        let twice = json!({"behaviors": [messages_sent(1, 1, 1), messages_sent(2, 1, 1)]});
        assert!(
            create_security_profile(&mut state, CALL, "p", &twice)
                .unwrap_err()
                .message
                .contains("given twice")
        );
        assert!(state.security_profiles.is_empty());
        create_security_profile(&mut state, CALL, "p", &json!({})).unwrap();
        let unregistered = "arn:aws:iot:us-east-1:123456789012:all/unregistered-things";
        assert!(
            attach_security_profile(&mut state, "p", unregistered)
                .unwrap_err()
                .message
                .contains("registered Things only")
        );
        let missing = "arn:aws:iot:us-east-1:123456789012:thinggroup/none";
        assert_eq!(
            attach_security_profile(&mut state, "p", missing)
                .unwrap_err()
                .status,
            404
        );
    }

    #[test]
    fn counts_older_than_the_longest_window_are_forgotten() {
        let state = FleetState::default();
        let detector = Detector::default();
        let t = 5_000_000 * SECOND;
        detector.count("camera-04", Metric::MessagesSent, t);
        detector.evaluate(&state, t + 3599 * SECOND);
        assert_eq!(detector.inner.lock().unwrap().clients.len(), 1);
        detector.evaluate(&state, t + 3606 * SECOND);
        assert!(detector.inner.lock().unwrap().clients.is_empty());
    }
}
