//! Listing 10,000 Things from moto through the fleet client, next to the plain SDK paginator
//! over the same fleet in the same run: wall time, time to the first page, calls made.
//! Run with `cargo bench --bench list_things` (needs moto: scripts/install-peers.sh).

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use iotfleet::fleet::ThingQuery;

const THINGS: usize = 10_000;
const ROUNDS: usize = 5;

fn main() {
    common::runtime().block_on(run());
}

async fn run() {
    let Some(fleet) = support::TestFleet::start(support::Backend::Moto).await else {
        return;
    };
    let started = Instant::now();
    support::seed::bare_things(&fleet.iot, THINGS, 32).await;
    println!(
        "seeded {THINGS} Things into moto in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut client_times = Vec::new();
    let mut first_pages = Vec::new();
    let mut sdk_times = Vec::new();
    let mut calls = (0, 0);
    for _ in 0..ROUNDS {
        let before = fleet.client.stats();
        let started = Instant::now();
        let mut pages = fleet.client.list_things(ThingQuery::default());
        let mut count = 0;
        let mut first_page = None;
        while let Some(page) = pages.next_page().await {
            count += page.expect("a page").things.len();
            first_page.get_or_insert_with(|| started.elapsed());
        }
        client_times.push(started.elapsed());
        first_pages.push(first_page.expect("at least one page"));
        let after = fleet.client.stats();
        calls = (
            after.operations - before.operations,
            after.requests - before.requests,
        );
        assert_eq!(count, THINGS, "the client listed every Thing");

        let started = Instant::now();
        let things = fleet
            .iot
            .list_things()
            .into_paginator()
            .page_size(250)
            .items()
            .send()
            .try_collect()
            .await
            .expect("SDK paginator");
        sdk_times.push(started.elapsed());
        assert_eq!(things.len(), THINGS, "the SDK listed every Thing");
    }
    let client = common::median(&mut client_times);
    let sdk = common::median(&mut sdk_times);
    println!("list {THINGS} Things, median of {ROUNDS} rounds, pages of 250:");
    println!(
        "  iotfleet client   {:>8.1} ms  first page after {:.1} ms  {} API calls, {} HTTP requests",
        common::ms(client),
        common::ms(common::median(&mut first_pages)),
        calls.0,
        calls.1
    );
    println!("  plain SDK         {:>8.1} ms", common::ms(sdk));
    println!(
        "  ratio client/SDK  {:>8.2}",
        client.as_secs_f64() / sdk.as_secs_f64()
    );
}
