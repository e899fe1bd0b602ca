//! The presigned WebSocket URL AWS IoT accepts for MQTT over WSS signed with the operator's own
//! credentials: SigV4 query signing for the `iotdevicegateway` service on `GET /mqtt`, with the
//! session token appended after signing, as AWS IoT requires. Signed URLs are good for at most
//! 24 hours, so every reconnect signs afresh.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;

/// What a presigned URL is made from.
#[derive(Clone)]
pub struct Presign<'a> {
    /// The account's `iot:Data-ATS` endpoint host.
    pub host: &'a str,
    pub region: &'a str,
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub time: SystemTime,
    pub expires: Duration,
}

impl std::fmt::Debug for Presign<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presign")
            .field("host", &self.host)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// `wss://HOST/mqtt?X-Amz-Algorithm=...&X-Amz-Signature=...[&X-Amz-Security-Token=...]`.
pub fn presigned_url(input: &Presign<'_>) -> Result<String, String> {
    let identity = aws_credential_types::Credentials::new(
        input.access_key_id,
        input.secret_access_key,
        None,
        None,
        "iotfleet",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(input.expires);
    settings.session_token_mode = SessionTokenMode::Exclude;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(input.region)
        .name("iotdevicegateway")
        .time(input.time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let url = format!("https://{}/mqtt", input.host);
    let request = SignableRequest::new(
        "GET",
        &url,
        std::iter::once(("host", input.host)),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let (_, query) = instructions.into_parts();
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &query {
        pairs.append_pair(name, value);
    }
    if let Some(token) = input.session_token {
        pairs.append_pair("X-Amz-Security-Token", token);
    }
    Ok(format!("wss://{}/mqtt?{}", input.host, pairs.finish()))
}
