//! Reads what an X.509 certificate says about itself (validity, subject, issuer, serial) from
//! its PEM, with x509-parser. Pure: no I/O.

use x509_parser::pem::parse_x509_pem;

use super::model::Validity;

/// The facts of a certificate that the registry's summary does not give reliably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemFacts {
    pub validity: Validity,
    pub subject: String,
    pub issuer: String,
    /// Hexadecimal, lower case, no separators.
    pub serial: String,
}

/// Parses the first certificate of a PEM text. The error says what is wrong, for display.
pub fn read_pem(pem: &str) -> Result<PemFacts, String> {
    if pem.trim().is_empty() {
        return Err("the service returned no certificate PEM".into());
    }
    let (_, block) =
        parse_x509_pem(pem.as_bytes()).map_err(|e| format!("not a PEM certificate: {e}"))?;
    let certificate = block
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let validity = certificate.validity();
    Ok(PemFacts {
        validity: Validity {
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
        },
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        serial: certificate.raw_serial_as_string().replace(':', ""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_pem_say_what_is_wrong() {
        assert!(read_pem("").unwrap_err().contains("no certificate PEM"));
        assert!(
            read_pem("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }
}
