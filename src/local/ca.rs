//! The local IoT Core's certificate authority: generated on first use (never checked in), it
//! issues device certificates with real X.509 validity. Also computes certificate ids as AWS does
//! (SHA-256 of the DER encoding, hex).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The CA as stored in the local state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalCa {
    pub certificate_pem: String,
    pub key_pem: String,
}

/// A device certificate and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub id: String,
    pub certificate_pem: String,
    pub key_pem: String,
    pub public_key_pem: String,
}

#[derive(Debug, thiserror::Error)]
#[error("local CA: {0}")]
pub struct CaError(String);

impl From<rcgen::Error> for CaError {
    fn from(error: rcgen::Error) -> Self {
        Self(error.to_string())
    }
}

impl LocalCa {
    /// A new ECDSA P-256 CA valid for ten years.
    pub fn generate() -> Result<Self, CaError> {
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "iotfleet local IoT Core CA");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "iotfleet (local, not AWS)");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let certificate = params.self_signed(&key)?;
        Ok(Self {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Issues the local broker's server certificate for 127.0.0.1 and localhost, valid for a
    /// year from now.
    pub fn issue_server(&self) -> Result<Issued, CaError> {
        let ca_key = rcgen::KeyPair::from_pem(&self.key_pem)?;
        let issuer = rcgen::Issuer::from_ca_cert_pem(&self.certificate_pem, ca_key)?;
        let key = rcgen::KeyPair::generate()?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "iotfleet local MQTT broker");
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(365);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&random_serial()));
        let certificate = params.signed_by(&key, &issuer)?;
        Ok(Issued {
            id: id_of_der(certificate.der()),
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            public_key_pem: key.public_key_pem(),
        })
    }

    /// Issues a client certificate for `common_name` valid from `not_before` to `not_after`.
    pub fn issue(
        &self,
        common_name: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Issued, CaError> {
        let ca_key = rcgen::KeyPair::from_pem(&self.key_pem)?;
        let issuer = rcgen::Issuer::from_ca_cert_pem(&self.certificate_pem, ca_key)?;
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.not_before = not_before;
        params.not_after = not_after;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&random_serial()));
        let certificate = params.signed_by(&key, &issuer)?;
        Ok(Issued {
            id: id_of_der(certificate.der()),
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            public_key_pem: key.public_key_pem(),
        })
    }
}

fn random_serial() -> [u8; 16] {
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).expect("the system random source works");
    serial[0] &= 0x7f; // a positive INTEGER
    serial
}

/// The certificate id AWS IoT gives a certificate: SHA-256 of its DER encoding, lower-case hex.
#[must_use]
pub fn id_of_der(der: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref())
}

/// Lower-case hexadecimal of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The id of the first certificate in a PEM text, or why there is none.
pub fn id_of_pem(pem: &str) -> Result<String, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    block
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    Ok(id_of_der(&block.contents))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::certificate::read_pem;

    #[test]
    fn issued_certificates_carry_the_requested_validity_and_issuer() {
        let ca = LocalCa::generate().unwrap();
        let not_before = time::macros::datetime!(2026-01-01 0:00 UTC);
        let not_after = time::macros::datetime!(2026-12-31 0:00 UTC);
        let issued = ca.issue("pump-1", not_before, not_after).unwrap();
        let facts = read_pem(&issued.certificate_pem).unwrap();
        assert_eq!(
            (facts.validity.not_before, facts.validity.not_after),
            (not_before, not_after)
        );
        assert_eq!(facts.subject, "CN=pump-1");
        assert!(
            facts.issuer.contains("iotfleet local IoT Core CA"),
            "{}",
            facts.issuer
        );
        assert_eq!(id_of_pem(&issued.certificate_pem).unwrap(), issued.id);
        assert_eq!(issued.id.len(), 64);
    }
}
