//! A raw MQTT 3.1.1 client over mutual TLS, for what a well-behaved client library refuses to
//! send: wildcards in a PUBLISH, QoS 2, oversized topics, malformed packets. Blocking (std and
//! rustls): call it from `spawn_blocking` or a plain thread.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// MQTT packet types, as the high nibble of the first byte.
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const SUBACK: u8 = 9;
pub const PINGRESP: u8 = 13;

/// One connection to the broker.
pub struct RawMqtt {
    stream: StreamOwned<ClientConnection, TcpStream>,
}

impl std::fmt::Debug for RawMqtt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawMqtt")
    }
}

/// A Last Will: topic, QoS, payload.
pub type RawWill<'a> = (&'a str, u8, &'a [u8]);

impl RawMqtt {
    /// Opens TLS to 127.0.0.1:`port` with `certificate` and `key`, trusting `ca`; no MQTT yet.
    pub fn open(port: u16, ca: &Path, certificate: &Path, key: &Path) -> io::Result<Self> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).map_err(io::Error::other)? {
            roots
                .add(cert.map_err(io::Error::other)?)
                .map_err(io::Error::other)?;
        }
        let chain = CertificateDer::pem_file_iter(certificate)
            .map_err(io::Error::other)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io::Error::other)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(io::Error::other)?;
        let config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(io::Error::other)?;
        let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
        let connection = ClientConnection::new(Arc::new(config), name).map_err(io::Error::other)?;
        let socket = TcpStream::connect(("127.0.0.1", port))?;
        socket.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Self {
            stream: StreamOwned::new(connection, socket),
        })
    }

    /// Sends CONNECT as `client_id` (clean session, keep-alive 60 s) and returns the CONNACK
    /// return code, or None when the broker closed the connection instead.
    pub fn connect(
        &mut self,
        client_id: &str,
        will: Option<RawWill<'_>>,
    ) -> io::Result<Option<u8>> {
        self.send(&connect(client_id, will))?;
        Ok(self
            .read_packet()?
            .filter(|(kind, _)| *kind == CONNACK)
            .and_then(|(_, body)| body.get(1).copied()))
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// The next packet, as (type, body); None when the broker closed the connection. Times out
    /// after 5 s with an error.
    pub fn read_packet(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        let mut first = [0u8; 1];
        match self.stream.read(&mut first) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) if closed(&e) => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut length = 0usize;
        for shift in 0..4 {
            let mut byte = [0u8; 1];
            if let Err(e) = self.stream.read_exact(&mut byte) {
                return if closed(&e) { Ok(None) } else { Err(e) };
            }
            length |= usize::from(byte[0] & 0x7f) << (7 * shift);
            if byte[0] & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0u8; length];
        if let Err(e) = self.stream.read_exact(&mut body) {
            return if closed(&e) { Ok(None) } else { Err(e) };
        }
        Ok(Some((first[0] >> 4, body)))
    }

    /// Whether the connection is still open: a PINGREQ answered by PINGRESP (other packets
    /// before it are skipped).
    pub fn alive(&mut self) -> bool {
        if self.send(&[0xc0, 0]).is_err() {
            return false;
        }
        loop {
            match self.read_packet() {
                Ok(Some((PINGRESP, _))) => return true,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return false,
            }
        }
    }
}

fn closed(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

fn string(out: &mut Vec<u8>, text: &[u8]) {
    out.extend_from_slice(&u16::try_from(text.len()).unwrap().to_be_bytes());
    out.extend_from_slice(text);
}

/// A fixed header with the remaining length, then `body`.
#[must_use]
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut length = body.len();
    loop {
        let mut byte = u8::try_from(length % 128).unwrap();
        length /= 128;
        if length > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if length == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

#[must_use]
pub fn connect(client_id: &str, will: Option<RawWill<'_>>) -> Vec<u8> {
    let mut body = Vec::new();
    string(&mut body, b"MQTT");
    body.push(4);
    let mut flags = 0x02;
    if let Some((_, qos, _)) = will {
        flags |= 0x04 | (qos << 3);
    }
    body.push(flags);
    body.extend_from_slice(&60u16.to_be_bytes());
    string(&mut body, client_id.as_bytes());
    if let Some((topic, _, payload)) = will {
        string(&mut body, topic.as_bytes());
        string(&mut body, payload);
    }
    packet(0x10, &body)
}

/// A PUBLISH of `payload` on `topic` at `qos` (packet id 1 when QoS > 0).
#[must_use]
pub fn publish(topic: &str, qos: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    string(&mut body, topic.as_bytes());
    if qos > 0 {
        body.extend_from_slice(&1u16.to_be_bytes());
    }
    body.extend_from_slice(payload);
    packet(0x30 | (qos << 1), &body)
}

/// A SUBSCRIBE of `filters` (filter, requested QoS) with packet id `id`.
#[must_use]
pub fn subscribe(id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    for (filter, qos) in filters {
        string(&mut body, filter.as_bytes());
        body.push(*qos);
    }
    packet(0x82, &body)
}
