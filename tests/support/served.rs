//! `iotfleet local serve` as a user runs it, in the background, with what it printed.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `iotfleet local serve` in the background, stopped on drop; `target` is what it printed: its
/// endpoint and the fleet's key.
pub struct Served {
    pub child: Child,
    pub endpoint: String,
    pub target: super::Target,
    /// The fleet's account id, as printed.
    pub account: String,
    /// The broker's port and the CA that signs its certificate, from the printed
    /// `mosquitto_sub` line.
    pub mqtt_port: String,
    pub ca: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(home: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotfleet"))
        .args(["local", "serve", "--state"])
        .arg(home.join("fleet.json"))
        .env_clear()
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start local serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let account = lines
        .find_map(|line| {
            line.trim()
                .strip_prefix("account")
                .map(|rest| rest.trim().to_owned())
        })
        .expect("local serve prints the fleet's account");
    let endpoint = lines
        .find_map(|line| {
            line.trim()
                .strip_prefix("export AWS_ENDPOINT_URL=")
                .map(str::to_owned)
        })
        .expect("local serve prints AWS_ENDPOINT_URL");
    let keys = lines.next().expect("local serve prints the fleet's key");
    let printed = |name: &str| {
        keys.split_whitespace()
            .find_map(|word| word.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {keys:?}"))
            .to_owned()
    };
    let target = super::Target {
        endpoint: endpoint.clone(),
        access_key_id: printed("AWS_ACCESS_KEY_ID"),
        secret_access_key: printed("AWS_SECRET_ACCESS_KEY"),
    };
    let mosquitto: Vec<String> = lines
        .find(|line| line.trim_start().starts_with("mosquitto_sub "))
        .expect("local serve prints how to subscribe")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let after = |flag: &str| {
        let at = mosquitto.iter().position(|w| w == flag).expect(flag);
        mosquitto[at + 1].clone()
    };
    Served {
        child,
        endpoint,
        target,
        account,
        mqtt_port: after("-p"),
        ca: after("--cafile"),
    }
}
