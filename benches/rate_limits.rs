//! AWS IoT's request-rate quotas at fleet scale: the local IoT Core serves 100,000 Things
//! (1,000 of them cameras with a certificate each) and emulates AWS IoT Core's per-API quotas,
//! all scaled by one factor so the run fits a bench (`IOTFLEET_QUOTA_FACTOR`, default 100:
//! ListThingPrincipals 1,000 a second instead of 10). Through the client's limiter, the audit
//! and a bulk quarantine (and release) of the 1,000 cameras; then the same work by a client
//! without quotas, which fans out blindly. For each: calls, throttled answers, failures, the
//! busiest operation's achieved rate against its emulated quota, and wall time.
//! Run with `cargo bench --bench rate_limits` (`IOTFLEET_BENCH_THINGS` to change the fleet).

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use futures_util::StreamExt as _;
use iotfleet::fleet::journal::Journal;
use iotfleet::fleet::mutation::Mutations;
use iotfleet::fleet::quarantine::batch;
use iotfleet::fleet::quarantine::plan::Options;
use iotfleet::fleet::quotas::Quotas;
use iotfleet::fleet::{FleetClient, audit};
use iotfleet::local::store::ThingRecord;
use iotfleet::local::{LocalCore, LocalOptions};

const CAMERAS: usize = 1_000;
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish"],"Resource":"*"}]}"#;

fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    common::runtime().block_on(run());
}

async fn run() {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a count"
    )]
    let things = env_number("IOTFLEET_BENCH_THINGS", 100_000.0) as usize;
    let factor = env_number("IOTFLEET_QUOTA_FACTOR", 100.0);
    let dir = tempfile::tempdir().expect("temporary directory");
    let state_file = dir.path().join("fleet.json");
    let options = LocalOptions {
        state_file: Some(state_file),
        ..LocalOptions::default()
    };
    let started = Instant::now();
    seed(&options, things).await;
    println!(
        "seeded {things} Things ({CAMERAS} cameras with a certificate and a policy) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let core = LocalCore::start(LocalOptions {
        aws_quotas: Some(Quotas::aws().scaled(factor)),
        ..options
    })
    .await
    .expect("restart with quotas");
    println!("AWS IoT Core's quotas emulated, every one times {factor}\n");
    println!(
        "{:<22} {:>8} {:>9} {:>7} {:>7}  {:<34} {:>8}",
        "work",
        "limiter",
        "requests",
        "thrott.",
        "failed",
        "busiest operation: achieved/quota",
        "wall s"
    );
    let cameras: Vec<String> = (0..CAMERAS).map(|i| format!("cam-{i:04}")).collect();
    let dir = tempfile::tempdir().expect("journal directory");
    for limiter in [true, false] {
        measure(&core, limiter, &cameras, dir.path()).await;
    }
}

/// The audit, the quarantine of the cameras and its release, by a client with the limiter on
/// or off (a client for each, so each one's figures are its own).
async fn measure(core: &LocalCore, limiter: bool, cameras: &[String], dir: &std::path::Path) {
    let mut settings = core.connection_settings();
    if !limiter {
        settings.quotas = None;
    }
    // A client for each piece of work, so each one's figures are its own.
    let client = || async { FleetClient::connect(&settings).await.expect("client") };
    let auditor = client().await;
    let journal = Journal::new(
        Some(dir.join(format!("journal-{limiter}.jsonl"))),
        auditor.backend(),
        None,
    );
    let mutations = Mutations::new(false, journal.clone());

    let started = Instant::now();
    let failed = usize::from(audit::audit(&auditor, &journal, false).await.is_err());
    row("audit", limiter, &auditor, failed, started);
    pause().await;

    let quarantiner = client().await;
    let started = Instant::now();
    let plan = batch::plan_quarantine(
        &quarantiner,
        &journal,
        cameras.to_vec(),
        Options::default(),
        batch::Why::default(),
    )
    .await
    .expect("plan");
    let id = plan.id.clone();
    let report = batch::execute(
        &quarantiner,
        &mutations,
        plan,
        Options::default(),
        &mut |_| {},
    )
    .await
    .expect("run");
    row(
        "quarantine 1,000",
        limiter,
        &quarantiner,
        report.failures(),
        started,
    );
    pause().await;

    let releaser = client().await;
    let started = Instant::now();
    let failures = match batch::plan_release(&releaser, &journal, &id, false).await {
        Ok(plan) => batch::execute(&releaser, &mutations, plan, Options::default(), &mut |_| {})
            .await
            .map_or(CAMERAS, |r| r.failures()),
        Err(error) => {
            println!("  release could not be planned: {error}");
            CAMERAS
        }
    };
    row("release 1,000", limiter, &releaser, failures, started);
    pause().await;
}

/// Lets the emulated buckets fill again before the next piece of work.
async fn pause() {
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
}

/// The demo of scale: `things` bare Things and the cameras, written without quotas.
async fn seed(options: &LocalOptions, things: usize) {
    let core = LocalCore::start(options.clone()).await.expect("start");
    core.modify(|state| {
        for i in 0..things.saturating_sub(CAMERAS) {
            state.things.insert(
                format!("device-{i:06}"),
                ThingRecord {
                    id: format!("id-{i}"),
                    version: 1,
                    ..ThingRecord::default()
                },
            );
        }
    })
    .expect("write the bare Things");
    let iot = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    iot.create_policy()
        .policy_name("camera-device")
        .policy_document(POLICY)
        .send()
        .await
        .expect("CreatePolicy");
    futures_util::stream::iter(0..CAMERAS)
        .map(|i| {
            let iot = iot.clone();
            async move {
                let name = format!("cam-{i:04}");
                support::seed::thing(&iot, &name, None, &[("site", "plant-north")]).await;
                let certificate = iot
                    .create_keys_and_certificate()
                    .set_as_active(true)
                    .send()
                    .await
                    .expect("CreateKeysAndCertificate");
                let arn = certificate.certificate_arn.expect("arn");
                support::seed::attach_policy(&iot, "camera-device", &arn).await;
                support::seed::attach_thing(&iot, &name, &arn).await;
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// One line: what `client` sent, and its busiest operation (the nearest its emulated quota,
/// from its first request to its last).
fn row(work: &str, limiter: bool, client: &FleetClient, failed: usize, started: Instant) {
    let wall = started.elapsed().as_secs_f64();
    let quotas = Quotas::aws().scaled(env_number("IOTFLEET_QUOTA_FACTOR", 100.0));
    let stats = client.limits();
    let requests: u64 = stats.iter().map(|s| s.requests).sum();
    let throttled: u64 = stats.iter().map(|s| s.throttled).sum();
    let busiest = stats
        .iter()
        .filter(|s| s.requests > 10)
        .filter_map(|s| quotas.rate(&s.action).map(|q| (s, q)))
        .max_by(|(a, qa), (b, qb)| (a.achieved / qa).total_cmp(&(b.achieved / qb)))
        .map_or_else(String::new, |(s, quota)| {
            format!(
                "{} {:.0}/{quota:.0} ({:.0} %)",
                s.action.trim_start_matches("iot:"),
                s.achieved,
                100.0 * s.achieved / quota
            )
        });
    println!(
        "{work:<22} {:>8} {requests:>9} {throttled:>7} {failed:>7}  {busiest:<34} {wall:>8.1}",
        if limiter { "on" } else { "off" }
    );
}
