//! The moto peer: one `moto[server]==5.2.5` process per test binary on a free loopback port,
//! started on first use, reset before each test, and ended with the test process (it exits when
//! its standard input closes).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::MutexGuard;

pub const INSTALL: &str = "scripts/install-peers.sh (a virtualenv with moto[server]==5.2.5)";

/// Tests of one binary share the server; this keeps them from seeing each other's fleets.
static EXCLUSIVE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

struct Server {
    endpoint: String,
    /// Kept so the pipe to the server's stdin stays open for the life of the test process.
    child: Mutex<Child>,
}

/// The Python of the virtualenv holding moto: `IOTFLEET_MOTO_PYTHON`, else the one
/// `scripts/install-peers.sh` makes under `target/peers/`.
fn python() -> PathBuf {
    std::env::var_os("IOTFLEET_MOTO_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/peers/moto-venv/bin/python"),
        PathBuf::from,
    )
}

fn start() -> Result<Server, String> {
    let python = python();
    if !python.exists() {
        return Err(format!("no Python at {}", python.display()));
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_peer.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("reading moto's port: {e}"))?;
    let port: u16 = line.trim().parse().map_err(|_| {
        let _ = child.kill();
        format!(
            "moto did not start (is moto[server]==5.2.5 installed for {}?)",
            python.display()
        )
    })?;
    Ok(Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        child: Mutex::new(child),
    })
}

/// The endpoint of a freshly reset moto, held exclusively until the guard drops; None after a
/// SKIP line when moto is not installed.
pub async fn fresh() -> Option<(String, MutexGuard<'static, ()>)> {
    let guard = EXCLUSIVE.lock().await;
    let server = match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(why) => {
            super::peer_missing("moto", why, INSTALL);
            return None;
        }
    };
    reset(&server.endpoint).await;
    Some((server.endpoint.clone(), guard))
}

/// A second moto of the test's own (another endpoint, another fleet), ended when dropped; None
/// after a SKIP line when moto is not installed.
pub struct Separate {
    pub endpoint: String,
    child: Child,
}

impl Drop for Separate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[must_use]
pub fn separate() -> Option<Separate> {
    match start() {
        Ok(server) => Some(Separate {
            endpoint: server.endpoint,
            child: server
                .child
                .into_inner()
                .expect("the child is not shared yet"),
        }),
        Err(why) => {
            super::peer_missing("moto", &why, INSTALL);
            None
        }
    }
}

/// `POST /moto-api/reset`, with a plain HTTP/1.1 request to keep the test dependencies small.
async fn reset(endpoint: &str) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = endpoint.trim_start_matches("http://");
    let mut stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(address),
    )
    .await
    .expect("moto answers within 10 s")
    .expect("connect to moto");
    let request = format!(
        "POST /moto-api/reset HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send reset");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read reset response");
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
        "moto reset failed: {response}"
    );
}
