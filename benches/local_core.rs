//! 100,000 Things in the local IoT Core (IOTFLEET_THINGS=N for another count): loading its state
//! file, then listing every Thing in pages of 250 through the fleet client, next to the plain
//! SDK paginator in the same run; wall time and the process's peak RSS (server and client share
//! the process); then `iotfleet things --output json` and `--output text` as a user runs them,
//! their wall time and peak RSS (a child process, measured by Python's getrusage).
//! Run with `cargo bench --bench local_core`.

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use iotfleet::fleet::{FleetClient, ThingQuery};
use iotfleet::local::store::ThingRecord;
use iotfleet::local::{LocalCore, LocalOptions};

const ROUNDS: usize = 3;

fn main() {
    common::runtime().block_on(run());
}

async fn run() {
    let things: usize = std::env::var("IOTFLEET_THINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let state_file = dir.path().join("fleet.json");
    let options = LocalOptions {
        state_file: Some(state_file.clone()),
        http_port: 0,
        seed: false,
        mqtt_port: None,
        simulator: None,
        aws_quotas: None,
        detect_speedup: 0,
    };
    {
        let core = LocalCore::start(options.clone()).await.expect("start");
        let started = Instant::now();
        core.modify(|state| {
            for (name, record) in (0..things).map(thing) {
                state.things.insert(name, record);
            }
        })
        .expect("write the state file");
        let size = common::folder_bytes(dir.path());
        println!(
            "wrote {things} Things to the state file's log in {:.0} ms (file and log {:.1} MiB)",
            common::ms(started.elapsed()),
            common::mib(size)
        );
    }
    common::reset_peak_rss();
    let started = Instant::now();
    let core = LocalCore::start(options)
        .await
        .expect("restart from the file");
    println!(
        "loaded the state file in {:.0} ms; peak RSS since writing it {:.0} MiB",
        common::ms(started.elapsed()),
        common::peak_rss_mib()
    );

    let client = FleetClient::connect(&core.connection_settings())
        .await
        .expect("client");
    let sdk = aws_sdk_iot::Client::new(&support::Target::local(&core).sdk_config().await);
    let (mut client_times, mut sdk_times, mut calls) = (Vec::new(), Vec::new(), 0);
    for _ in 0..ROUNDS {
        let before = client.stats().operations;
        let started = Instant::now();
        let listed = client
            .list_things(ThingQuery::default())
            .collect_all()
            .await
            .expect("list");
        client_times.push(started.elapsed());
        calls = client.stats().operations - before;
        assert_eq!(listed.len(), things);

        let started = Instant::now();
        let listed = sdk
            .list_things()
            .max_results(250)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("SDK list");
        sdk_times.push(started.elapsed());
        assert_eq!(listed.len(), things);
    }
    println!("list {things} Things in pages of 250, median of {ROUNDS} rounds:");
    println!(
        "  iotfleet client   {:>7.0} ms  {calls} API calls",
        common::ms(common::median(&mut client_times))
    );
    println!(
        "  plain SDK         {:>7.0} ms",
        common::ms(common::median(&mut sdk_times))
    );
    println!(
        "  ratio client/SDK  {:>7.2}",
        common::median(&mut client_times).as_secs_f64()
            / common::median(&mut sdk_times).as_secs_f64()
    );
    println!(
        "peak RSS of the process (local core + client + one full listing held): {:.0} MiB",
        common::peak_rss_mib()
    );
    verbs(&support::Target::local(&core));
}

/// The `i`th Thing of the fleet: a name, two attributes.
fn thing(i: usize) -> (String, ThingRecord) {
    let attributes = [
        ("site".to_owned(), format!("site-{}", i % 7)),
        ("serial".to_owned(), format!("SN-{i:08}")),
    ];
    let record = ThingRecord {
        id: format!("id-{i}"),
        thing_type: None,
        attributes: attributes.into(),
        version: 1,
        ..ThingRecord::default()
    };
    (format!("device-{i:06}"), record)
}

/// `iotfleet things --output json` and `--output text` against `target`, as a user runs them:
/// wall time, lines printed and the child's peak RSS.
fn verbs(target: &support::Target) {
    let home = tempfile::tempdir().expect("a home");
    for output in ["json", "text"] {
        let started = Instant::now();
        let measured = std::process::Command::new("python3")
            .args([
                "-c",
                "import resource, subprocess, sys\n\
                 done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)\n\
                 print(done.returncode, done.stdout.count(b'\\n'), \
                 resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
                env!("CARGO_BIN_EXE_iotfleet"),
                "things",
                "--output",
                output,
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(target.cli_env(home.path()))
            .output()
            .expect("python3 runs iotfleet");
        let said = String::from_utf8_lossy(&measured.stdout);
        let fields: Vec<u64> = said
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [exit, lines, max_kib] = fields[..] else {
            panic!("python3 said {said:?}");
        };
        assert_eq!(exit, 0, "iotfleet things --output {output} failed");
        #[expect(clippy::cast_precision_loss, reason = "KiB far below 2^52")]
        let mib = max_kib as f64 / 1024.0;
        println!(
            "iotfleet things --output {output:<4}  {:>7.0} ms  {lines} lines  peak RSS {mib:.1} MiB",
            common::ms(started.elapsed())
        );
    }
}
