//! Device Defender Detect on the local core at 100,000 Things: the cost of one datapoint (every
//! behaviour of the demo profile judged on every Thing it targets, under the state's lock),
//! with 1,000 devices sending, against a plain walk over the same Things in the same run.
//! Run with `cargo bench --bench detect` (`IOTFLEET_BENCH_THINGS` sets the fleet's size).

use std::time::Instant;

use iotfleet::local::detect::{Detector, Metric, attach_security_profile, create_security_profile};
use iotfleet::local::registry::Call;
use iotfleet::local::store::{FleetState, ThingRecord};
use serde_json::json;

const ROUNDS: usize = 20;
const SENDING: usize = 1_000;

fn main() {
    let things: usize = std::env::var("IOTFLEET_BENCH_THINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let call = Call {
        account: "123456789012",
        region: "us-east-1",
        now: 1_700_000_000,
    };
    let mut state = FleetState::default();
    for i in 0..things {
        state
            .things
            .insert(format!("device-{i:06}"), ThingRecord::default());
    }
    let behavior = json!({"name": "messages-sent", "metric": "aws:num-messages-sent",
        "criteria": {"comparisonOperator": "less-than-equals", "value": {"count": 100},
            "durationSeconds": 300}});
    create_security_profile(
        &mut state,
        call,
        "baseline",
        &json!({"behaviors": [behavior]}),
    )
    .expect("profile");
    attach_security_profile(
        &mut state,
        "baseline",
        "arn:aws:iot:us-east-1:123456789012:all/registered-things",
    )
    .expect("attach");
    let detector = Detector::default();
    let start_ms = 1_800_000_000_000_i64;
    // 1,000 devices sending for 5 minutes, one in ten past the threshold.
    for device in 0..SENDING {
        let messages = if device % 10 == 0 { 150 } else { 60 };
        for m in 0..messages {
            detector.count(
                &format!("device-{device:06}"),
                Metric::MessagesSent,
                start_ms + m * 2_000,
            );
        }
    }
    let now = start_ms + 300_000;
    let mut walks = Vec::new();
    let mut datapoints = Vec::new();
    for _ in 0..ROUNDS {
        let began = Instant::now();
        let named = state.things.keys().filter(|k| k.ends_with('7')).count();
        std::hint::black_box(named);
        walks.push(began.elapsed().as_secs_f64() * 1000.0);
        let began = Instant::now();
        detector.evaluate(&state, now);
        datapoints.push(began.elapsed().as_secs_f64() * 1000.0);
    }
    let answer = detector
        .list_active_violations(&state, &iotfleet::local::detect::ViolationQuery::default())
        .expect("violations");
    let active = answer["activeViolations"].as_array().map_or(0, Vec::len);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let walk = median(&mut walks);
    let datapoint = median(&mut datapoints);
    println!(
        "{things} Things, {SENDING} sending, {active} violating: a datapoint takes {datapoint:.1} ms (median of {ROUNDS}), a plain walk over the Things {walk:.1} ms: {:.0}x",
        datapoint / walk
    );
}
