//! A flood through a real broker (mosquitto, plain TCP and mutual TLS): ~150-byte JSON on 1,000
//! topics, read in the same run by `mosquitto_sub -t '#'`, by `iotfleet tail '#'` in each output
//! (JSON, text, and the table as a pipe gets it), and by the console's ingest path (the traffic
//! screen's own code and loop: the client's queue, `update` folding each message into the history
//! under its budget, frames drawn to ratatui's TestBackend at 30 fps), each as a separate process; CPU
//! microseconds per message (user + system, from the shell's `times`) and its ratio to
//! mosquitto_sub's in the same round, the median of three rounds (one run on this machine moves
//! by a fifth), completeness, and for the console its memory and frames.
//! Run with `cargo bench --bench traffic_flood` (IOTFLEET_FLOOD=N,M for other counts, default
//! 200000 and 1000000; IOTFLEET_FLOOD_BASELINE=PATH adds `tail --output json` of another
//! iotfleet binary, to compare builds in one run; IOTFLEET_FLOOD_ONLY=WORD, only mosquitto_sub
//! and the readers whose name holds WORD; needs mosquitto and mosquitto-clients:
//! scripts/install-peers.sh). Then the drain: each reader stopped while the largest count queues
//! in the broker, resumed, and timed until it has the last message; the console's longest time
//! between frames while it drains.

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};

/// Set in the child process that plays the console: `COUNT URL CERT KEY CA` (`-` for no TLS).
const READER: &str = "IOTFLEET_BENCH_CONSOLE_READER";

fn main() {
    if let Ok(args) = std::env::var(READER) {
        console_reader(&args);
        return;
    }
    let counts: Vec<u64> = std::env::var("IOTFLEET_FLOOD").ok().map_or_else(
        || vec![200_000, 1_000_000],
        |n| n.split(',').filter_map(|c| c.trim().parse().ok()).collect(),
    );
    let Some(broker) = support::mosquitto::Mosquitto::start() else {
        return;
    };
    let runtime = common::runtime();
    for &count in &counts {
        for tls in [false, true] {
            run(&runtime, &broker, count, tls);
        }
    }
    println!("(mosquitto_sub's and tail's CPU include `wc -l` counting their output lines)");
    if let Some(&count) = counts.iter().max() {
        drain(&runtime, &broker, count);
    }
}

/// Each reader subscribes, is stopped (SIGSTOP) while `count` messages are published and queue
/// in the broker, then resumed: how fast it empties the backlog, from SIGCONT to its last message.
fn drain(runtime: &tokio::runtime::Runtime, broker: &support::mosquitto::Mosquitto, count: u64) {
    let url = format!("mqtt://127.0.0.1:{}", broker.plain_port);
    let port = broker.plain_port.to_string();
    let total = count.to_string();
    let bench = std::env::current_exe().expect("the bench binary");
    let mut readers: Vec<(&str, Command)> = Vec::new();
    let mut sub = Command::new("mosquitto_sub");
    sub.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "#",
        "-C",
        &total,
        "-W",
        "300",
    ]);
    readers.push(("mosquitto_sub", sub));
    for output in ["json", "text"] {
        let mut tail = Command::new(env!("CARGO_BIN_EXE_iotfleet"));
        tail.args(["tail", "#", "--count", &total, "--timeout", "300"])
            .args(["--output", output, "--mqtt-url", &url])
            .env("AWS_EC2_METADATA_DISABLED", "true");
        readers.push((
            if output == "json" {
                "tail json"
            } else {
                "tail text"
            },
            tail,
        ));
    }
    let mut console = Command::new(&bench);
    console.env(READER, format!("{count} {url} - - -"));
    readers.push(("console", console));
    println!(
        "drain: {count} messages queued in mosquitto (plain TCP) while the reader is stopped, then emptied:"
    );
    let only = std::env::var("IOTFLEET_FLOOD_ONLY").unwrap_or_default();
    readers.retain(|(name, _)| *name == "mosquitto_sub" || name.contains(only.as_str()));
    for (name, mut command) in readers {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the reader");
        let stdout = child.stdout.take().expect("stdout");
        // Counts the lines printed (the console reader prints its count and report instead).
        let reading = std::thread::spawn(move || {
            use std::io::Read;
            let mut stdout = stdout;
            let mut buffer = vec![0u8; 1 << 20];
            let mut lines = 0u64;
            let mut text = Vec::new();
            loop {
                match stdout.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        lines += newlines(&buffer[..n]);
                        if text.len() < 4096 {
                            text.extend_from_slice(&buffer[..n.min(4096)]);
                        }
                    }
                }
            }
            (lines, String::from_utf8_lossy(&text).into_owned())
        });
        std::thread::sleep(Duration::from_millis(1500));
        signal(child.id(), "STOP");
        runtime.block_on(flood(broker, None, count));
        // The broker takes the last messages in.
        std::thread::sleep(Duration::from_millis(500));
        signal(child.id(), "CONT");
        let resumed = Instant::now();
        child.wait().expect("the reader ends");
        let elapsed = resumed.elapsed();
        let (lines, text) = reading.join().expect("the counting thread");
        let (received, report) = if name == "console" {
            let mut report = text.lines();
            (
                report
                    .next()
                    .and_then(|l| l.trim().parse().ok())
                    .unwrap_or(0),
                report.next().map(str::to_owned),
            )
        } else {
            (lines, None)
        };
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let rate = received as f64 / elapsed.as_secs_f64();
        println!(
            "  {name:<21} {:>5.2} s   {:>9.0} messages/s   {received}/{count} received",
            elapsed.as_secs_f64(),
            rate
        );
        if let Some(report) = report {
            println!("                        {report}");
        }
    }
}

#[expect(clippy::naive_bytecount, reason = "fast enough for a reader's output")]
fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

fn run(
    runtime: &tokio::runtime::Runtime,
    broker: &support::mosquitto::Mosquitto,
    count: u64,
    tls: bool,
) {
    let operator = broker.identity("operator");
    let (sub_options, tail_options, console_options) = options(broker, &operator, tls);
    let iotfleet = env!("CARGO_BIN_EXE_iotfleet");
    let tail = |binary: &str, output: &str| {
        format!(
            "{binary} tail '#' --count {count} --timeout 120 --output {output} {tail_options} 2>/dev/null"
        )
    };
    let mut readers = vec![
        (
            "mosquitto_sub".to_owned(),
            format!("mosquitto_sub -h 127.0.0.1 {sub_options} -t '#' -C {count} -W 120"),
        ),
        ("tail json".to_owned(), tail(iotfleet, "json")),
        ("tail text".to_owned(), tail(iotfleet, "text")),
        ("tail table".to_owned(), tail(iotfleet, "table")),
    ];
    if let Ok(baseline) = std::env::var("IOTFLEET_FLOOD_BASELINE") {
        readers.push(("tail json (baseline)".to_owned(), tail(&baseline, "json")));
    }
    readers.push((
        "console ingest".to_owned(),
        format!(
            "{READER}='{count} {console_options}' {bench}",
            bench = std::env::current_exe().expect("the bench binary").display(),
        ),
    ));
    println!(
        "flood of {count} messages (~150-byte JSON, 1,000 topics, QoS 0) through mosquitto, {}: median of {ROUNDS} rounds, each reader's ratio to mosquitto_sub's CPU in its round",
        if tls { "mutual TLS" } else { "plain TCP" }
    );
    // IOTFLEET_FLOOD_ONLY=WORD runs mosquitto_sub and the readers whose name holds WORD.
    let only = std::env::var("IOTFLEET_FLOOD_ONLY").unwrap_or_default();
    readers.retain(|(name, _)| name == "mosquitto_sub" || name.contains(only.as_str()));
    let mut results: Vec<Vec<Round>> = vec![Vec::new(); readers.len()];
    for _ in 0..ROUNDS {
        for (index, (name, command)) in readers.iter().enumerate() {
            results[index].push(read_flood(runtime, broker, name, command, count, tls));
        }
    }
    for (index, (name, _)) in readers.iter().enumerate() {
        let rounds = &results[index];
        let mut cpu: Vec<f64> = rounds.iter().map(|r| r.0).collect();
        let mut ratios: Vec<f64> = rounds
            .iter()
            .zip(&results[0])
            .map(|(r, reference)| r.0 / reference.0)
            .collect();
        let mut wall: Vec<f64> = rounds.iter().map(|r| r.2).collect();
        let fewest = rounds.iter().map(|r| r.1).min().unwrap_or(0);
        let (low, high) = (min(&ratios), max(&ratios));
        println!(
            "  {name:<21} {:>6.2} CPU-µs per message  {:>5.2}x ({low:.2}-{high:.2})   fewest received {fewest}/{count}   wall {:.1} s",
            median(&mut cpu),
            median(&mut ratios),
            median(&mut wall),
        );
        if let Some(report) = rounds.last().and_then(|r| r.3.as_ref()) {
            println!("                        last round: {report}");
        }
    }
}

/// One reader's round: CPU µs per message, messages received, wall seconds, the console's report.
type Round = (f64, u64, f64, Option<String>);

/// Rounds of each flood: the ratios are medians (this machine's noise moves one run by a fifth).
const ROUNDS: usize = 3;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// One reader through one flood.
fn read_flood(
    runtime: &tokio::runtime::Runtime,
    broker: &support::mosquitto::Mosquitto,
    name: &str,
    command: &str,
    count: u64,
    tls: bool,
) -> Round {
    let operator = broker.identity("operator");
    // A reader's output goes to wc (the console reader counts for itself); `times` reports the
    // CPU of the shell's children.
    let console = name == "console ingest";
    let counted = if console {
        command.to_owned()
    } else {
        format!("{command} | wc -l")
    };
    let reader = Command::new("sh")
        .arg("-c")
        .arg(format!("{counted}; times"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the reader");
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    runtime.block_on(flood(broker, tls.then_some(&operator), count));
    let output = reader.wait_with_output().expect("the reader ends");
    let wall = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let received: u64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let report = if console {
        lines.next().map(str::to_owned)
    } else {
        None
    };
    let cpu = lines.nth(1).map_or(0.0, children_cpu_seconds);
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let per_message = cpu * 1e6 / received.max(1) as f64;
    (per_message, received, wall, report)
}

/// How each reader connects: mosquitto_sub's options, tail's, and the console reader's
/// `URL CERT KEY CA` (`-` for no TLS).
fn options(
    broker: &support::mosquitto::Mosquitto,
    operator: &iotfleet::fleet::traffic::TlsFiles,
    tls: bool,
) -> (String, String, String) {
    if tls {
        (
            format!(
                "-p {} --cafile {} --cert {} --key {}",
                broker.port,
                broker.ca.display(),
                operator.certificate.display(),
                operator.key.display()
            ),
            format!(
                "--mqtt-url {} --cert {} --key {} --ca {}",
                broker.url(),
                operator.certificate.display(),
                operator.key.display(),
                broker.ca.display()
            ),
            format!(
                "{} {} {} {}",
                broker.url(),
                operator.certificate.display(),
                operator.key.display(),
                broker.ca.display()
            ),
        )
    } else {
        let url = format!("mqtt://127.0.0.1:{}", broker.plain_port);
        (
            format!("-p {}", broker.plain_port),
            format!("--mqtt-url {url}"),
            format!("{url} - - -"),
        )
    }
}

/// The console's ingest path, as the traffic screen runs it, reading until the flood is counted:
/// prints the messages received, then a line on its memory.
#[expect(
    clippy::too_many_lines,
    reason = "the console's loop, read top to bottom"
)]
fn console_reader(args: &str) {
    use iotfleet::tui::{App, Options};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let fields: Vec<&str> = args.split(' ').collect();
    let [count, url, certificate, key, ca] = fields[..] else {
        panic!("{READER} wants COUNT URL CERT KEY CA");
    };
    let count: u64 = count.parse().expect("a count");
    let tls = (certificate != "-").then(|| iotfleet::fleet::traffic::TlsFiles {
        certificate: certificate.into(),
        key: key.into(),
        ca: Some(ca.into()),
    });
    let runtime = common::runtime();
    runtime.block_on(async {
        // The registry side is an empty in-memory local core; traffic goes to the flood's broker.
        let core = iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions::default())
            .await
            .expect("local core");
        let client = iotfleet::fleet::FleetClient::connect(&core.connection_settings())
            .await
            .expect("client");
        let traffic = iotfleet::fleet::traffic::TrafficSettings::from_url(
            url,
            tls,
            "bench-console".into(),
            None,
        )
        .expect("settings");
        let options = Options {
            read_only: true,
            traffic: Some(Ok(traffic)),
            ..Options::new(iotfleet::tui::state::Backend::Local)
        };
        let loaded = iotfleet::config::files::load_from(None, None, None, false);
        let mut app = App::new(client, options, loaded);
        app.handle(iotfleet::tui::msg::Msg::Resize {
            width: 200,
            height: 50,
        });
        for c in ":traffic".chars() {
            app.key(iotfleet::config::keymap::Key::parse(&c.to_string()).unwrap());
        }
        app.key(iotfleet::config::keymap::Key::parse("<Enter>").unwrap());
        let mut terminal = Terminal::new(TestBackend::new(200, 50)).unwrap();
        // The console's own loop: wake for traffic, fold in all that has come, draw at most
        // every 33 ms while anything changed.
        let frame = Duration::from_millis(33);
        let deadline = Instant::now() + Duration::from_mins(3);
        let mut frames = 0u64;
        let mut last_draw = tokio::time::Instant::now();
        let mut dirty = false;
        let mut quiet_since = Instant::now();
        // Once messages flow: the longest time between two frames, and the longest draw.
        let mut flowing = false;
        let mut longest_gap = Duration::ZERO;
        let mut longest_draw = Duration::ZERO;
        loop {
            tokio::select! {
                _ = app.next_traffic() => {
                    dirty = true;
                    quiet_since = Instant::now();
                }
                () = tokio::time::sleep_until(last_draw + frame), if dirty => {}
                () = tokio::time::sleep(Duration::from_millis(100)), if !dirty => {}
            }
            if dirty && last_draw.elapsed() >= frame {
                if flowing {
                    longest_gap = longest_gap.max(last_draw.elapsed());
                }
                let drawing = Instant::now();
                terminal.draw(|f| app.draw(f)).expect("draw");
                longest_draw = longest_draw.max(drawing.elapsed());
                frames += 1;
                last_draw = tokio::time::Instant::now();
                dirty = false;
                flowing = app.state.traffic.history.received() > 0;
            }
            let seen = app.state.traffic.history.received() + app.state.traffic.dropped;
            // Quiet for 10 s once messages came: the rest is not coming.
            if seen >= count
                || Instant::now() > deadline
                || (seen > 0 && quiet_since.elapsed() > Duration::from_secs(10))
            {
                break;
            }
        }
        let view = &app.state.traffic;
        let history = &view.history;
        let kept = history.messages().len();
        let payload: usize = history.messages().map(|m| m.payload.len()).sum();
        println!("{}", history.received());
        println!(
            "console: dropped {} · kept {kept} ({:.1} MiB of a {:.0} MiB budget) · evicted {} · {} frames, at most {:.0} ms apart, the slowest drawn in {:.1} ms · bookkeeping {} B per kept message beyond its payload · {} payload chunks allocated · peak RSS {:.1} MiB",
            view.dropped,
            common::mib(history.used() as u64),
            common::mib(history.budget() as u64),
            history.evicted(),
            frames,
            common::ms(longest_gap),
            common::ms(longest_draw),
            (history.used() - payload) / kept.max(1),
            history.chunks_allocated(),
            common::peak_rss_mib(),
        );
    });
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

/// Publishes `count` messages as fast as the broker takes them (the client's queue pushes back),
/// with mutual TLS as `identity`, else on the plain listener.
async fn flood(
    broker: &support::mosquitto::Mosquitto,
    identity: Option<&iotfleet::fleet::traffic::TlsFiles>,
    count: u64,
) {
    let port = if identity.is_some() {
        broker.port
    } else {
        broker.plain_port
    };
    let mut options = MqttOptions::new("flood", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    if let Some(identity) = identity {
        let config = iotfleet::fleet::traffic::client::tls_config(identity, port).expect("tls");
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            std::sync::Arc::new(config),
        )));
    }
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
