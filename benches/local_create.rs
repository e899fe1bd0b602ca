//! CreateThing through the local IoT Core's REST API, from 0 to 100,000 Things, by 4 clients
//! (the SDK, as a provisioning script would use it), with the state kept in a file: the rate
//! of each 10,000 is printed. The same 4 clients against a core without a file (memory only)
//! give the baseline of the same run: what the durability costs.
//! Run with `cargo bench --bench local_create`.
//!
//! The targets (issue 14): the last 10,000 at least 80% of the first 10,000's rate, and at
//! least 1,000/s.

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use iotfleet::local::{LocalCore, LocalOptions};

const THINGS: usize = 100_000;
const STEP: usize = 10_000;
const CLIENTS: usize = 4;

fn main() {
    common::runtime().block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = |state_file| LocalOptions {
        state_file,
        http_port: 0,
        seed: false,
        mqtt_port: None,
        simulator: None,
        aws_quotas: None,
        detect_speedup: 0,
    };

    let memory = LocalCore::start(options(None)).await.expect("start");
    let baseline = create(&support::Target::local(&memory), STEP).await;
    let baseline_rate = rate(baseline[0]);
    println!(
        "memory only (baseline): first {STEP} Things at {baseline_rate:.0}/s, {CLIENTS} clients"
    );
    drop(memory);

    let state_file = dir.path().join("fleet.json");
    let kept = LocalCore::start(options(Some(state_file.clone())))
        .await
        .expect("start");
    let steps = create(&support::Target::local(&kept), THINGS).await;
    let rates: Vec<f64> = steps.iter().copied().map(rate).collect();
    for (index, rate) in rates.iter().enumerate() {
        println!(
            "state file: Things {:>6} to {:>6}: {rate:>6.0}/s ({:.2}x the baseline)",
            index * STEP,
            (index + 1) * STEP,
            rate / baseline_rate
        );
    }
    let (first, last) = (rates[0], rates[rates.len() - 1]);
    let size = common::folder_bytes(dir.path());
    println!(
        "last {STEP} at {:.0}% of the first {STEP}'s rate; state file and log {:.1} MiB",
        last / first * 100.0,
        common::mib(size)
    );
    let met = last >= 0.8 * first && last >= 1000.0;
    println!(
        "targets (last >= 80% of first, and >= 1000/s): {}",
        if met { "met" } else { "NOT met" }
    );
    drop(kept);
    let restarted = LocalCore::start(options(Some(state_file)))
        .await
        .expect("restart");
    let count = restarted.read(|state| state.things.len());
    assert_eq!(count, THINGS, "every acknowledged Thing is in the file");
}

/// Creates `total` Things with `CLIENTS` concurrent clients; the time each 10,000 took.
async fn create(target: &support::Target, total: usize) -> Vec<Duration> {
    let iot = aws_sdk_iot::Client::new(&target.sdk_config().await);
    let claimed = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let marks = Arc::new(std::sync::Mutex::new(vec![Instant::now()]));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (iot, claimed, done, marks) =
                (iot.clone(), claimed.clone(), done.clone(), marks.clone());
            tokio::spawn(async move {
                loop {
                    let n = claimed.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    iot.create_thing()
                        .thing_name(format!("device-{n:06}"))
                        .attribute_payload(
                            aws_sdk_iot::types::AttributePayload::builder()
                                .attributes("site", format!("site-{}", n % 7))
                                .build(),
                        )
                        .send()
                        .await
                        .expect("CreateThing");
                    if (done.fetch_add(1, Ordering::Relaxed) + 1) % STEP == 0 {
                        marks.lock().expect("marks").push(Instant::now());
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("client");
    }
    let marks = marks.lock().expect("marks");
    marks.windows(2).map(|w| w[1] - w[0]).collect()
}

#[expect(clippy::cast_precision_loss, reason = "10,000 is exact in f64")]
fn rate(elapsed: Duration) -> f64 {
    STEP as f64 / elapsed.as_secs_f64()
}
