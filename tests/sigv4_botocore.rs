//! The presigned MQTT-over-WebSocket URL checked against an independent SigV4 implementation:
//! botocore's SigV4QueryAuth (from the moto virtualenv), with a fixed time and fixed credentials.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use iotfleet::fleet::traffic::sigv4::{Presign, presigned_url};

const HOST: &str = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com";
/// 2026-01-02T03:04:05Z
const TIME: u64 = 1_767_323_045;

fn botocore_url() -> Option<String> {
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/peers/moto-venv/bin/python");
    if !python.exists() {
        support::peer_missing(
            "botocore",
            "no virtualenv with moto and botocore",
            support::moto::INSTALL,
        );
        return None;
    }
    let script = format!(
        r#"
import datetime
from unittest import mock
import botocore.auth
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
fixed = datetime.datetime.fromtimestamp({TIME}, datetime.timezone.utc).replace(tzinfo=None)
request = AWSRequest(method="GET", url="https://{HOST}/mqtt")
auth = SigV4QueryAuth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "iotdevicegateway", "eu-west-1", expires=86400)
with mock.patch.object(botocore.auth, "get_current_datetime", return_value=fixed):
    auth.add_auth(request)
print(request.url)
"#
    );
    let output = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap().trim().to_owned())
}

fn query(url: &str) -> Vec<(String, String)> {
    let (_, query) = url.split_once('?').expect("a query");
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn the_presigned_url_matches_botocore_and_appends_the_session_token_unsigned() {
    let Some(expected) = botocore_url() else {
        return;
    };
    let mut input = Presign {
        host: HOST,
        region: "eu-west-1",
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token: None,
        time: UNIX_EPOCH + Duration::from_secs(TIME),
        expires: Duration::from_hours(24),
    };
    let ours = presigned_url(&input).unwrap();
    assert!(ours.starts_with(&format!("wss://{HOST}/mqtt?")), "{ours}");
    assert_eq!(
        query(&ours),
        query(&expected),
        "\nours:     {ours}\nbotocore: {expected}"
    );

    input.session_token = Some("FwoGZXIvYXdzEJr//token+with/slashes=");
    let with_token = presigned_url(&input).unwrap();
    let mut pairs = query(&with_token);
    pairs.retain(|(name, value)| {
        !(name == "X-Amz-Security-Token" && value == "FwoGZXIvYXdzEJr//token+with/slashes=")
    });
    assert_eq!(
        pairs,
        query(&expected),
        "the token is appended after signing and the signature is unchanged"
    );
    assert!(
        with_token.ends_with("X-Amz-Security-Token=FwoGZXIvYXdzEJr%2F%2Ftoken%2Bwith%2Fslashes%3D"),
        "{with_token}"
    );
}
