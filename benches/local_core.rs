//! 100,000 Things in the local IoT Core: loading its state file, then listing every Thing in
//! pages of 250 through the fleet client, next to the plain SDK paginator in the same run; wall
//! time and the process's peak RSS (server and client share the process).
//! Run with `cargo bench --bench local_core`.

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use iotfleet::fleet::{FleetClient, ThingQuery};
use iotfleet::local::store::ThingRecord;
use iotfleet::local::{LocalCore, LocalOptions};

const THINGS: usize = 100_000;
const ROUNDS: usize = 3;

fn main() {
    common::runtime().block_on(run());
}

async fn run() {
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
            for i in 0..THINGS {
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
                state.things.insert(format!("device-{i:06}"), record);
            }
        })
        .expect("write the state file");
        let size = common::folder_bytes(dir.path());
        println!(
            "wrote {THINGS} Things to the state file's log in {:.0} ms (file and log {:.1} MiB)",
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
    let sdk = aws_sdk_iot::Client::new(&support::sdk_config(core.endpoint()).await);
    let (mut client_times, mut sdk_times, mut calls) = (Vec::new(), Vec::new(), 0);
    for _ in 0..ROUNDS {
        let before = client.stats().operations;
        let started = Instant::now();
        let things = client
            .list_things(ThingQuery::default())
            .collect_all()
            .await
            .expect("list");
        client_times.push(started.elapsed());
        calls = client.stats().operations - before;
        assert_eq!(things.len(), THINGS);

        let started = Instant::now();
        let things = sdk
            .list_things()
            .max_results(250)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("SDK list");
        sdk_times.push(started.elapsed());
        assert_eq!(things.len(), THINGS);
    }
    println!("list {THINGS} Things in pages of 250, median of {ROUNDS} rounds:");
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
}
