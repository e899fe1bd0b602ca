//! Who is asking: every request to the local core's REST APIs must carry a SigV4 signature made
//! with the fleet's own key (`credentials.rs`), verified as AWS verifies one: the key is known,
//! the credential scope names this fleet's region and a service the core answers, the request
//! time is within 15 minutes of now, and the signature over the canonical request (computed by
//! aws-sigv4 from the headers the client signed and the body it sent) matches. Anything else is
//! refused with AWS's error for it, so a local user without the key gets nowhere. Pure: the
//! HTTP layer (`api.rs`) turns a refusal into each protocol's error shape.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::{HeaderMap, Uri};

use super::credentials::{Credentials, USER};

/// How far a request's time may be from the core's clock, as AWS allows.
pub const MAX_SKEW: Duration = Duration::from_mins(15);

/// The signing names the local core answers: AWS IoT, its data plane, STS, CloudWatch Logs and
/// CloudTrail.
pub const SERVICES: &[&str] = &["iot", "iotdata", "sts", "logs", "cloudtrail"];

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key: String,
    /// The IAM user the key belongs to.
    pub user: String,
    /// The signing name the request was signed for (`iot`, `iotdata`, `sts`, ...).
    pub service: String,
    pub region: String,
}

/// Why a request was refused, as AWS says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No signature at all.
    #[error("Missing Authentication Token")]
    Missing,
    /// An Authorization header that is not a SigV4 signature, or lacks a part.
    #[error("{0}")]
    Incomplete(String),
    /// A key this fleet does not have.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// A known key, but the signature, its scope or its time is wrong.
    #[error("{0}")]
    Signature(String),
}

impl Refusal {
    /// The error code of a REST-JSON or JSON 1.1 service (AWS IoT, CloudWatch Logs, CloudTrail).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationTokenException",
            Self::Incomplete(_) => "IncompleteSignatureException",
            Self::UnknownKey => "UnrecognizedClientException",
            Self::Signature(_) => "InvalidSignatureException",
        }
    }

    /// The error code STS (the query protocol) gives for the same refusal.
    #[must_use]
    pub fn sts_code(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationToken",
            Self::Incomplete(_) => "IncompleteSignature",
            Self::UnknownKey => "InvalidClientTokenId",
            Self::Signature(_) => "SignatureDoesNotMatch",
        }
    }
}

/// The parts of `AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
/// SignedHeaders=a;b, Signature=HEX`.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, Refusal> {
    let incomplete = |what: &str| {
        Refusal::Incomplete(format!(
            "Authorization header requires {what}. Authorization={header}"
        ))
    };
    let rest = header
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| incomplete("the AWS4-HMAC-SHA256 algorithm"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        if let Some(value) = part.strip_prefix("Credential=") {
            credential = Some(value);
        } else if let Some(value) = part.strip_prefix("SignedHeaders=") {
            signed = Some(value);
        } else if let Some(value) = part.strip_prefix("Signature=") {
            signature = Some(value);
        }
    }
    let credential = credential.ok_or_else(|| incomplete("'Credential' parameter"))?;
    let signed = signed.ok_or_else(|| incomplete("'SignedHeaders' parameter"))?;
    let signature = signature.ok_or_else(|| incomplete("'Signature' parameter"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(incomplete(
            "a Credential of KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    Ok(Authorization {
        key,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// A request as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path and query, as sent (percent-encoded).
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The signing name and region a request's Authorization header claims, unverified: how the
/// core routes it (both AWS IoT services share paths) and shapes an error.
#[must_use]
pub fn claimed_scope(headers: &HeaderMap) -> Option<(String, String)> {
    let header = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let parsed = parse_authorization(header).ok()?;
    Some((parsed.service.to_owned(), parsed.region.to_owned()))
}

fn time_of(x_amz_date: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let at = time::PrimitiveDateTime::parse(x_amz_date, format).ok()?;
    Some(at.assume_utc().into())
}

/// Verifies `request`'s signature with `credentials` for `region` at `now`.
pub fn verify(
    credentials: &Credentials,
    region: &str,
    request: Request<'_>,
    now: SystemTime,
) -> Result<Caller, Refusal> {
    let Some(header) = request.headers.get(http::header::AUTHORIZATION) else {
        return Err(Refusal::Missing);
    };
    let header = header
        .to_str()
        .map_err(|_| Refusal::Incomplete("the Authorization header is not ASCII".to_owned()))?;
    let claimed = parse_authorization(header)?;
    if claimed.key != credentials.access_key_id {
        return Err(Refusal::UnknownKey);
    }
    if !SERVICES.contains(&claimed.service) {
        return Err(Refusal::Signature(format!(
            "Credential should be scoped to correct service: the local IoT Core answers {}, not '{}'.",
            SERVICES.join(", "),
            claimed.service
        )));
    }
    if claimed.region != region {
        return Err(Refusal::Signature(format!(
            "Credential should be scoped to a valid region, not '{}': this local fleet is in {region}.",
            claimed.region
        )));
    }
    let x_amz_date = request
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Refusal::Incomplete(
                "Authorization header requires existence of a 'X-Amz-Date' header.".to_owned(),
            )
        })?;
    let at = time_of(x_amz_date).ok_or_else(|| {
        Refusal::Incomplete(format!(
            "X-Amz-Date must be in the ISO8601 basic format, not '{x_amz_date}'."
        ))
    })?;
    if !x_amz_date.starts_with(claimed.date) {
        return Err(Refusal::Signature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
            claimed.date,
            &x_amz_date[..x_amz_date.len().min(8)]
        )));
    }
    let skew = now.duration_since(at).unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW {
        return Err(Refusal::Signature(format!(
            "Signature expired: {x_amz_date} is more than 15 minutes from the local core's time; check the clock"
        )));
    }
    if !claimed.signed_headers.contains(&"host") {
        return Err(Refusal::Signature(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    let expected = signature(credentials, &claimed, request, at)?;
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        expected.as_bytes(),
        claimed.signature.as_bytes(),
    )
    .is_err()
    {
        return Err(Refusal::Signature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".to_owned(),
        ));
    }
    Ok(Caller {
        access_key: claimed.key.to_owned(),
        user: USER.to_owned(),
        service: claimed.service.to_owned(),
        region: claimed.region.to_owned(),
    })
}

/// The signature the client should have sent: the canonical request over exactly the headers
/// it signed (their values joined as AWS joins repeated ones) and the body it sent.
fn signature(
    credentials: &Credentials,
    claimed: &Authorization<'_>,
    request: Request<'_>,
    at: SystemTime,
) -> Result<String, Refusal> {
    let mut signed: Vec<(&str, String)> = Vec::with_capacity(claimed.signed_headers.len());
    for name in &claimed.signed_headers {
        let values: Vec<&str> = request
            .headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return Err(Refusal::Signature(format!(
                "the signed header '{name}' is not in the request"
            )));
        }
        signed.push((name, values.join(",")));
    }
    let host = signed
        .iter()
        .find(|(name, _)| *name == "host")
        .map_or("localhost", |(_, value)| value.as_str());
    let path_and_query = request
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let url = format!("http://{host}{path_and_query}");
    let unreadable = |e: &dyn std::fmt::Display| {
        Refusal::Signature(format!("the request cannot be checked: {e}"))
    };
    let signable = SignableRequest::new(
        request.method,
        url,
        signed.iter().map(|(name, value)| (*name, value.as_str())),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| unreadable(&e))?;
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        None,
        None,
        "local-fleet",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Sign exactly what the client signed: nothing left out, nothing added.
    settings.excluded_headers = Some(Vec::new());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(claimed.region)
        .name(claimed.service)
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| unreadable(&e))?
        .into();
    let output = sign(signable, &params).map_err(|e| unreadable(&e))?;
    Ok(output.signature().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
        }
    }

    /// A request signed by aws-sigv4 as an SDK signs one, with `key`/`secret`.
    fn signed(secret: &str, region: &str, service: &str, at: SystemTime) -> (HeaderMap, Uri) {
        let identity =
            aws_credential_types::Credentials::new("AKIDEXAMPLE", secret, None, None, "test")
                .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let request = SignableRequest::new(
            "GET",
            "http://127.0.0.1:8080/things?maxResults=2",
            [("host", "127.0.0.1:8080")].into_iter(),
            SignableBody::Bytes(b""),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:8080".parse().unwrap());
        let (added, _) = instructions.into_parts();
        for header in added {
            headers.insert(
                http::HeaderName::from_bytes(header.name().as_bytes()).unwrap(),
                header.value().parse().unwrap(),
            );
        }
        (headers, "/things?maxResults=2".parse().unwrap())
    }

    fn check(headers: &HeaderMap, uri: &Uri, now: SystemTime) -> Result<Caller, Refusal> {
        verify(
            &credentials(),
            "us-east-1",
            Request {
                method: "GET",
                uri,
                headers,
                body: b"",
            },
            now,
        )
    }

    #[test]
    fn a_request_signed_with_the_fleets_key_is_its_caller() {
        let now = SystemTime::now();
        let (headers, uri) = signed(&credentials().secret_access_key, "us-east-1", "iot", now);
        let caller = check(&headers, &uri, now).unwrap();
        assert_eq!(
            (caller.user.as_str(), caller.service.as_str()),
            (USER, "iot")
        );
    }

    #[test]
    fn unsigned_foreign_wrong_and_stale_requests_get_awss_errors() {
        let now = SystemTime::now();
        let uri: Uri = "/things".parse().unwrap();
        assert_eq!(check(&HeaderMap::new(), &uri, now), Err(Refusal::Missing));

        let (wrong_secret, uri) = signed("not-the-secret", "us-east-1", "iot", now);
        let refused = check(&wrong_secret, &uri, now).unwrap_err();
        assert_eq!(refused.code(), "InvalidSignatureException");
        assert!(refused.to_string().contains("does not match"), "{refused}");

        let (mut other_key, uri) = signed("x", "us-east-1", "iot", now);
        let auth = other_key["authorization"]
            .to_str()
            .unwrap()
            .replace("AKIDEXAMPLE", "AKIAOTHER");
        other_key.insert("authorization", auth.parse().unwrap());
        assert_eq!(check(&other_key, &uri, now), Err(Refusal::UnknownKey));
        assert_eq!(Refusal::UnknownKey.code(), "UnrecognizedClientException");

        let secret = credentials().secret_access_key;
        let (region, uri) = signed(&secret, "eu-west-1", "iot", now);
        assert!(
            check(&region, &uri, now)
                .unwrap_err()
                .to_string()
                .contains("valid region")
        );
        let (service, uri) = signed(&secret, "us-east-1", "s3", now);
        assert!(
            check(&service, &uri, now)
                .unwrap_err()
                .to_string()
                .contains("correct service")
        );
        let an_hour_ago = now - Duration::from_hours(1);
        let (stale, uri) = signed(&secret, "us-east-1", "iot", an_hour_ago);
        assert!(
            check(&stale, &uri, now)
                .unwrap_err()
                .to_string()
                .contains("Signature expired")
        );

        // A signed request whose query was changed on the way is refused.
        let (headers, _) = signed(&secret, "us-east-1", "iot", now);
        let changed: Uri = "/things?maxResults=250".parse().unwrap();
        assert!(matches!(
            check(&headers, &changed, now),
            Err(Refusal::Signature(_))
        ));
    }
}
