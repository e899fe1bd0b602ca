//! A flood through a real broker (mosquitto, mutual TLS): ~150-byte JSON on 1,000 topics, read
//! by `iotfleet tail '#' --output json` and by `mosquitto_sub -t '#'` in the same run, each as a
//! separate process; CPU microseconds per message (user + system, from the shell's `times`) and
//! completeness. Run with `cargo bench --bench traffic_flood` (IOTFLEET_FLOOD=N to change the
//! count; needs mosquitto and mosquitto-clients: scripts/install-peers.sh).

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};

fn main() {
    let count: u64 = std::env::var("IOTFLEET_FLOOD")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let Some(broker) = support::mosquitto::Mosquitto::start() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let operator = broker.identity("operator");
    let files = format!(
        "--cafile {} --cert {} --key {}",
        broker.ca.display(),
        operator.certificate.display(),
        operator.key.display()
    );
    let iotfleet = env!("CARGO_BIN_EXE_iotfleet");
    let readers = [
        (
            "mosquitto_sub",
            format!(
                "mosquitto_sub -h 127.0.0.1 -p {} {files} -t '#' -C {count} -W 120",
                broker.port
            ),
        ),
        (
            "iotfleet tail",
            format!(
                "{iotfleet} tail '#' --count {count} --timeout 120 --output json --mqtt-url {} --cert {} --key {} --ca {} 2>/dev/null",
                broker.url(),
                operator.certificate.display(),
                operator.key.display(),
                broker.ca.display()
            ),
        ),
    ];
    println!(
        "flood of {count} messages (~150-byte JSON, 1,000 topics, QoS 0) through mosquitto with mutual TLS:"
    );
    for (name, command) in readers {
        // The reader's output goes to wc; `times` reports the CPU of the shell's children.
        let reader = Command::new("sh")
            .arg("-c")
            .arg(format!("{command} | wc -l; times"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the reader");
        std::thread::sleep(Duration::from_millis(1500));
        let started = Instant::now();
        runtime.block_on(flood(&broker, &operator, count));
        let output = reader.wait_with_output().expect("the reader ends");
        let text = String::from_utf8_lossy(&output.stdout);
        let mut lines = text.lines();
        let received: u64 = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        let cpu = lines.nth(1).map_or(0.0, children_cpu_seconds);
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let per_message = cpu * 1e6 / received.max(1) as f64;
        println!(
            "  {name:<14} {per_message:>6.2} CPU-µs per message   {received}/{count} received   wall {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    println!("(the reader's CPU includes `wc -l`, the same for both)");
}

/// `times` prints "0m1.234s 0m0.567s" for the children: user plus system, in seconds.
fn children_cpu_seconds(line: &str) -> f64 {
    line.split_whitespace()
        .filter_map(|field| {
            let (minutes, seconds) = field.trim_end_matches('s').split_once('m')?;
            Some(minutes.parse::<f64>().ok()? * 60.0 + seconds.parse::<f64>().ok()?)
        })
        .sum()
}

/// Publishes `count` messages as fast as the broker takes them (the client's queue pushes back).
async fn flood(
    broker: &support::mosquitto::Mosquitto,
    identity: &iotfleet::fleet::traffic::TlsFiles,
    count: u64,
) {
    let mut options = MqttOptions::new("flood", "127.0.0.1", broker.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    let config = iotfleet::fleet::traffic::client::tls_config(identity, broker.port).expect("tls");
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
        std::sync::Arc::new(config),
    )));
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let driver = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Disconnect)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    for i in 0..count {
        let payload = format!(
            r#"{{"device":"pump-{:04}","seq":{i},"temperature_c":21.{},"pressure_bar":3.2,"status":"ok","firmware":"2.4.1"}}"#,
            i % 1000,
            i % 10
        );
        client
            .publish(
                format!("fleet/pump-{:04}/telemetry", i % 1000),
                QoS::AtMostOnce,
                false,
                payload,
            )
            .await
            .expect("publish");
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(30), driver).await;
}
