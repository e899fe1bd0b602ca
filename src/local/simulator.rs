//! The device simulator: each seeded Thing with a certificate connects to the local broker with
//! its own certificate and client id, publishes telemetry JSON on `fleet/THING/telemetry`, and
//! answers shadow deltas by reporting the desired values, as firmware would. One rogue device
//! publishes abnormally fast and keeps trying topics its policy denies. A device the broker
//! refuses (inactive certificate, a quarantine) retries with backoff, so its traffic stops.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use super::store::FleetState;

/// How the simulated fleet behaves.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// Each device publishes telemetry this often.
    pub telemetry_every: Duration,
    /// The misbehaving device, if any: it publishes every `rogue_every` and tries denied topics.
    pub rogue: Option<String>,
    pub rogue_every: Duration,
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        Self {
            telemetry_every: Duration::from_secs(5),
            rogue: Some(super::seed::ROGUE_DEVICE.to_owned()),
            rogue_every: Duration::from_millis(50),
        }
    }
}

/// A device to simulate: its Thing, kind and identity.
#[derive(Debug, Clone)]
struct Device {
    thing: String,
    kind: String,
    certificate_pem: String,
    key_pem: String,
}

/// The simulated devices, running until dropped.
#[derive(Debug)]
pub struct Simulator {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Simulator {
    /// Starts one device per Thing that has a certificate with a private key in `state`.
    #[must_use]
    pub fn start(state: &FleetState, port: u16, options: &SimulatorOptions) -> Self {
        let Some(ca) = state.ca.as_ref() else {
            return Self { tasks: Vec::new() };
        };
        let ca_pem = Arc::new(ca.certificate_pem.clone());
        let devices: Vec<Device> = state
            .things
            .iter()
            .filter_map(|(name, thing)| {
                let record = thing.principals.iter().find_map(|principal| {
                    let id = principal.rsplit_once("cert/")?.1;
                    state.certificates.get(id)
                })?;
                Some(Device {
                    thing: name.clone(),
                    kind: thing.thing_type.clone().unwrap_or_default(),
                    certificate_pem: record.pem.clone(),
                    key_pem: record.private_key_pem.clone()?,
                })
            })
            .collect();
        let tasks = devices
            .into_iter()
            .enumerate()
            .map(|(index, device)| {
                let rogue = options.rogue.as_deref() == Some(device.thing.as_str());
                let every = if rogue {
                    options.rogue_every
                } else {
                    options.telemetry_every
                };
                // Spread the fleet's first messages over one interval.
                let offset = options.telemetry_every / 50 * u32::try_from(index % 50).unwrap_or(0);
                tokio::spawn(run_device(
                    device,
                    ca_pem.clone(),
                    port,
                    every,
                    offset,
                    rogue,
                ))
            })
            .collect();
        Self { tasks }
    }

    /// How many devices are simulated.
    #[must_use]
    pub fn devices(&self) -> usize {
        self.tasks.len()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn tls(device: &Device, ca_pem: &str) -> Option<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.ok()?).ok()?;
    }
    let chain = CertificateDer::pem_slice_iter(device.certificate_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let key = PrivateKeyDer::from_pem_slice(device.key_pem.as_bytes()).ok()?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .ok()
}

/// One reading of a device of `kind`, varying smoothly with `seq`.
fn telemetry(kind: &str, seq: u64, wobble: f64) -> Value {
    #[allow(clippy::cast_precision_loss, reason = "a demo sine wave")]
    let phase = (seq as f64 / 12.0).sin() * wobble;
    let round = |v: f64| (v * 10.0).round() / 10.0;
    let reading = match kind {
        "pump" => {
            json!({"speed": round(37.0 + 3.0 * phase), "pressure_bar": round(3.2 + 0.3 * phase), "temperature_c": round(41.0 + phase)})
        }
        "sensor" => {
            json!({"temperature_c": round(21.5 + 2.0 * phase), "humidity_pct": round(45.0 + 5.0 * phase)})
        }
        "gateway" => json!({"connected_devices": 6, "cpu_pct": round(23.0 + 9.0 * phase)}),
        "camera" => json!({"fps": 25, "bitrate_kbps": round(4100.0 + 300.0 * phase)}),
        _ => json!({"value": round(phase)}),
    };
    json!({"seq": seq, "time": time::OffsetDateTime::now_utc().unix_timestamp(), "reading": reading})
}

async fn run_device(
    device: Device,
    ca_pem: Arc<String>,
    port: u16,
    every: Duration,
    offset: Duration,
    rogue: bool,
) {
    let Some(config) = tls(&device, &ca_pem) else {
        tracing::warn!(thing = %device.thing, "simulator: the device's certificate or key does not load");
        return;
    };
    let mut options = MqttOptions::new(device.thing.clone(), "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
        Arc::new(config),
    )));
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    tokio::time::sleep(offset).await;
    let topic = format!("fleet/{}/telemetry", device.thing);
    let shadow = format!("$aws/things/{}/shadow", device.thing);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq = 0u64;
    let mut failures = 0u32;
    let mut connected = false;
    loop {
        tokio::select! {
            event = eventloop.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    connected = true;
                    failures = 0;
                    let _ = client.try_subscribe(format!("{shadow}/update/delta"), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    answer_delta(&client, &shadow, &publish.payload);
                }
                Ok(_) => {}
                Err(error) => {
                    connected = false;
                    failures += 1;
                    tracing::debug!(thing = %device.thing, %error, "simulator: connection lost");
                    let wait = if rogue { 1 } else { 2u64.saturating_pow(failures.min(3)) };
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
            },
            _ = tick.tick(), if connected => {
                seq += 1;
                let payload = telemetry(&device.kind, seq, if rogue { 4.0 } else { 1.0 });
                let _ = client.try_publish(&topic, QoS::AtMostOnce, false, payload.to_string());
                // The rogue device probes another device's topics every few seconds.
                if rogue && seq.is_multiple_of(60) {
                    let _ = client.try_publish(
                        "fleet/pump-01/command",
                        QoS::AtLeastOnce,
                        false,
                        r#"{"command":"open-valve","force":true}"#,
                    );
                }
            }
        }
    }
}

/// Reports the desired values of a delta, as firmware that applied them would.
fn answer_delta(client: &AsyncClient, shadow: &str, payload: &Bytes) {
    let Ok(delta) = serde_json::from_slice::<Value>(payload) else {
        return;
    };
    let Some(state) = delta.get("state").filter(|s| s.is_object()) else {
        return;
    };
    let report = json!({"state": {"reported": state}});
    let _ = client.try_publish(
        format!("{shadow}/update"),
        QoS::AtLeastOnce,
        false,
        report.to_string(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_is_json_per_kind() {
        let pump = telemetry("pump", 3, 1.0);
        assert_eq!(pump["seq"], 3);
        assert!(pump["reading"]["speed"].is_number());
        assert!(telemetry("camera", 1, 1.0)["reading"]["fps"].is_number());
        assert!(telemetry("anything", 1, 1.0)["reading"]["value"].is_number());
    }

    #[test]
    fn a_device_tls_config_loads_from_its_pem_and_a_bad_key_is_refused() {
        let ca = super::super::ca::LocalCa::generate().unwrap();
        let now = time::OffsetDateTime::now_utc();
        let issued = ca
            .issue("pump-1", now, now + time::Duration::days(1))
            .unwrap();
        let device = Device {
            thing: "pump-1".into(),
            kind: "pump".into(),
            certificate_pem: issued.certificate_pem,
            key_pem: issued.key_pem,
        };
        assert!(tls(&device, &ca.certificate_pem).is_some());
        let broken = Device {
            key_pem: "not a key".into(),
            ..device
        };
        assert!(tls(&broken, &ca.certificate_pem).is_none());
    }
}
