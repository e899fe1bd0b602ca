//! The mosquitto peer: a broker on a free loopback port with mutual TLS (`require_certificate`,
//! `use_identity_as_username`) and an ACL file, certificates made with rcgen, stopped and
//! started again on the same port for reconnect tests, killed on drop.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iotfleet::fleet::traffic::TlsFiles;

pub const INSTALL: &str = "scripts/install-peers.sh (apt-get install mosquitto)";

#[derive(Debug)]
pub struct Mosquitto {
    pub port: u16,
    /// MQTT over WebSocket with TLS, anonymous: AWS checks a SigV4 signature here, mosquitto
    /// accepts any.
    pub websocket_port: u16,
    /// Plain MQTT on TCP, anonymous, for the benches' plain runs (loopback only).
    pub plain_port: u16,
    pub ca: PathBuf,
    dir: tempfile::TempDir,
    binary: PathBuf,
    child: Option<Child>,
}

fn binary() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("mosquitto"))
        .find(|path| path.is_file())
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

impl Mosquitto {
    /// Starts mosquitto with its certificates and ACL, or None after a SKIP line.
    pub fn start() -> Option<Self> {
        let Some(binary) = binary() else {
            super::peer_missing(
                "mosquitto",
                "no mosquitto binary on PATH or in /usr/sbin",
                INSTALL,
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = |name: &str| dir.path().join(name);

        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        write(&path("ca.pem"), &ca_cert.pem());
        let issue = |name: &str, server: bool| {
            let key = rcgen::KeyPair::generate().unwrap();
            let names = if server {
                vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
            } else {
                Vec::new()
            };
            let mut params = rcgen::CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let cert = params.signed_by(&key, &issuer).unwrap();
            write(&path(&format!("{name}.pem")), &cert.pem());
            write(&path(&format!("{name}.key")), &key.serialize_pem());
        };
        issue("server", true);
        for client in ["operator", "device-1"] {
            issue(client, false);
        }
        write(
            &path("acl"),
            "user operator\ntopic readwrite #\n\nuser device-1\ntopic readwrite devices/device-1/#\ntopic deny devices/device-2/#\n",
        );
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (port, websocket_port, plain_port) = (free(), free(), free());
        // A deep queue per client: by default mosquitto queues at most 1,000 QoS 1 messages
        // for a client that reads slowly and drops the rest without a trace, and the flood
        // tests count every message. (0, documented as no maximum, lost the allowed message
        // after a denied one in mosquitto 2.0.11.)
        let config = format!(
            "per_listener_settings true\npersistence false\nlog_dest none\nmax_queued_messages 1000000\n\n\
             listener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n\
             require_certificate true\nuse_identity_as_username true\nacl_file {acl}\n\n\
             listener {websocket_port} 127.0.0.1\nprotocol websockets\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\nallow_anonymous true\n\n\
             listener {plain_port} 127.0.0.1\nallow_anonymous true\n",
            ca = path("ca.pem").display(),
            cert = path("server.pem").display(),
            key = path("server.key").display(),
            acl = path("acl").display(),
        );
        write(&path("mosquitto.conf"), &config);
        let mut broker = Self {
            port,
            websocket_port,
            plain_port,
            ca: path("ca.pem"),
            dir,
            binary,
            child: None,
        };
        broker.run();
        Some(broker)
    }

    /// The TLS files of a client identity (`operator` may do anything, `device-1` only its topics).
    #[must_use]
    pub fn identity(&self, name: &str) -> TlsFiles {
        TlsFiles {
            certificate: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}.key")),
            ca: Some(self.ca.clone()),
        }
    }

    #[must_use]
    pub fn url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err()
            || TcpStream::connect(("127.0.0.1", self.websocket_port)).is_err()
        {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}
