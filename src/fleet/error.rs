//! Typed errors of the fleet client: every SDK failure is mapped here once, keeping the IAM
//! action and the resource so a message can say what failed and what to do.

use std::error::Error as StdError;
use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The kind of object an operation was about, for "not found" messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Thing,
    ThingGroup,
    Certificate,
    Policy,
    PolicyVersion,
    Shadow,
    Principal,
    Connection,
    LogGroup,
    Batch,
    TopicRule,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Thing => "Thing",
            Self::ThingGroup => "Thing group",
            Self::Certificate => "certificate",
            Self::Policy => "policy",
            Self::PolicyVersion => "policy version",
            Self::Shadow => "shadow",
            Self::Principal => "principal",
            Self::Connection => "MQTT client",
            Self::LogGroup => "log group",
            Self::Batch => "batch",
            Self::TopicRule => "topic rule",
        })
    }
}

/// What an operation was about: its IAM action (`iot:ListThings`) and, when it names one object,
/// that object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub action: &'static str,
    pub resource: Option<(ResourceKind, String)>,
}

impl Operation {
    #[must_use]
    pub fn new(action: &'static str) -> Self {
        Self {
            action,
            resource: None,
        }
    }

    #[must_use]
    pub fn on(action: &'static str, kind: ResourceKind, name: impl Into<String>) -> Self {
        Self {
            action,
            resource: Some((kind, name.into())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{kind} '{name}' not found")]
    NotFound { kind: ResourceKind, name: String },

    #[error("access denied: the caller may not perform {action}{}", detail_suffix(.message))]
    AccessDenied {
        action: &'static str,
        message: String,
    },

    #[error("throttled by AWS on {action} after retries; try again shortly")]
    Throttled { action: &'static str },

    #[error("conflict on {action}: {message}")]
    Conflict {
        action: &'static str,
        message: String,
    },

    #[error("{}", credentials_message(.profile.as_deref(), .detail))]
    Credentials {
        profile: Option<String>,
        detail: String,
    },

    #[error(
        "no AWS region configured: pass --region REGION, set AWS_REGION, or use --local for the embedded fleet"
    )]
    MissingRegion,

    #[error("network error on {action}: {detail}")]
    Network {
        action: &'static str,
        detail: String,
    },

    #[error("{action} rejected the request: {message}")]
    InvalidRequest {
        action: &'static str,
        message: String,
    },

    #[error("{action} failed: {code}{}", detail_suffix(.message))]
    Service {
        action: &'static str,
        code: String,
        message: String,
    },

    #[error("unexpected response from {action}: {detail}")]
    InvalidResponse {
        action: &'static str,
        detail: String,
    },
}

fn detail_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    }
}

fn credentials_message(profile: Option<&str>, detail: &str) -> String {
    let fix = match profile {
        Some(profile) => format!(
            "run `aws sso login --profile {profile}` if it uses SSO, or check that profile in ~/.aws/config"
        ),
        None => "set AWS_PROFILE or pass --profile (after `aws sso login` or `aws configure`), set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_owned(),
    };
    format!("no usable AWS credentials: {fix}, or use --local for the embedded fleet ({detail})")
}

impl FleetError {
    /// Maps any SDK error of any operation. Service error codes are matched by name because the
    /// IoT and IoT data-plane SDKs each have their own generated error enums with the same codes.
    pub(crate) fn from_sdk<E>(
        operation: &Operation,
        profile: Option<&str>,
        error: &SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let action = operation.action;
        if let Some(detail) = credentials_cause(error) {
            return Self::Credentials {
                profile: profile.map(str::to_owned),
                detail,
            };
        }
        match error {
            SdkError::ServiceError(context) => {
                let status = context.raw().status().as_u16();
                let code = context.err().code().unwrap_or_default().to_owned();
                let message = context.err().message().unwrap_or_default().to_owned();
                Self::from_service(operation, profile, status, code, message)
            }
            SdkError::TimeoutError(_) => Self::Network {
                action,
                detail: "timed out".into(),
            },
            SdkError::DispatchFailure(_) => Self::Network {
                action,
                detail: source_chain(error),
            },
            SdkError::ResponseError(_) => Self::InvalidResponse {
                action,
                detail: source_chain(error),
            },
            _ => Self::Service {
                action,
                code: "ClientError".into(),
                message: source_chain(error),
            },
        }
    }

    pub(crate) fn from_service(
        operation: &Operation,
        profile: Option<&str>,
        status: u16,
        code: String,
        message: String,
    ) -> Self {
        let action = operation.action;
        match (code.as_str(), status) {
            ("ResourceNotFoundException", _) | (_, 404) => match &operation.resource {
                Some((kind, name)) => Self::NotFound {
                    kind: *kind,
                    name: name.clone(),
                },
                None => Self::Service {
                    action,
                    code,
                    message,
                },
            },
            ("AccessDeniedException" | "UnauthorizedException" | "ForbiddenException", _) => {
                Self::AccessDenied { action, message }
            }
            (
                "ExpiredTokenException"
                | "ExpiredToken"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "InvalidSignatureException"
                | "SignatureDoesNotMatch",
                _,
            ) => Self::Credentials {
                profile: profile.map(str::to_owned),
                detail: format!("{code}: {message}"),
            },
            ("ThrottlingException" | "TooManyRequestsException", _) | (_, 429) => {
                Self::Throttled { action }
            }
            (
                "ConflictException"
                | "ConflictingResourceUpdateException"
                | "VersionConflictException"
                | "ResourceAlreadyExistsException"
                | "DeleteConflictException",
                _,
            )
            | (_, 409) => Self::Conflict { action, message },
            ("InvalidRequestException", _) | (_, 400) => Self::InvalidRequest { action, message },
            (_, 403) => Self::AccessDenied { action, message },
            _ => Self::Service {
                action,
                code,
                message,
            },
        }
    }

    /// Why a Thing's connectivity could not be read, said plainly. AWS answers
    /// GetThingConnectivityData only with fleet indexing's connectivity turned on; without it the
    /// state is unknown, never "offline".
    #[must_use]
    pub fn connectivity_unknown(&self) -> String {
        let indexing_off = match self {
            Self::InvalidRequest { .. } => true,
            Self::Service { code, .. } => code == "IndexNotReadyException",
            _ => false,
        };
        if indexing_off {
            "connectivity unknown: AWS answers it only with fleet indexing's connectivity on \
             (aws iot update-indexing-configuration --thing-indexing-configuration \
             thingIndexingMode=REGISTRY,thingConnectivityIndexingMode=STATUS)"
                .to_owned()
        } else {
            format!("connectivity unknown: {self}")
        }
    }

    /// The process exit code for this error (ARCHITECTURE.md, "Exit codes").
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NotFound { .. } => 3,
            Self::Conflict { .. } => 4,
            _ => 1,
        }
    }
}

/// Finds a credentials failure anywhere in the error's source chain: the SDK reports a provider
/// that found nothing, or an expired SSO token, as a construction or dispatch failure.
fn credentials_cause(error: &(dyn StdError + 'static)) -> Option<String> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(cred) =
            e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
        {
            return Some(source_chain(cred));
        }
        current = e.source();
    }
    None
}

/// One line from an error and its causes, without repeating a cause already in the text.
pub(crate) fn source_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(cause) = current {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = cause.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(code: &str, status: u16) -> FleetError {
        let op = Operation::on("iot:DescribeThing", ResourceKind::Thing, "pump-1");
        FleetError::from_service(&op, Some("prod"), status, code.into(), "msg".into())
    }

    #[test]
    fn unknown_connectivity_names_fleet_indexing_when_that_is_why() {
        for (code, status) in [
            ("InvalidRequestException", 400),
            ("IndexNotReadyException", 400),
        ] {
            let said = from(code, status).connectivity_unknown();
            assert!(
                said.starts_with("connectivity unknown")
                    && said.contains("thingConnectivityIndexingMode=STATUS"),
                "{code}: {said}"
            );
        }
        let said = from("InternalFailureException", 500).connectivity_unknown();
        assert!(
            said.starts_with("connectivity unknown: ") && !said.contains("indexing"),
            "{said}"
        );
    }

    #[test]
    fn service_codes_map_to_kinds_and_exit_codes() {
        assert!(matches!(
            from("ResourceNotFoundException", 404),
            FleetError::NotFound { .. }
        ));
        assert_eq!(from("ResourceNotFoundException", 404).exit_code(), 3);
        assert!(matches!(
            from("ConflictException", 409),
            FleetError::Conflict { .. }
        ));
        assert_eq!(from("ConflictException", 409).exit_code(), 4);
        assert!(matches!(
            from("ThrottlingException", 429),
            FleetError::Throttled { .. }
        ));
        assert!(matches!(
            from("ExpiredTokenException", 403),
            FleetError::Credentials { .. }
        ));
        assert!(matches!(
            from("InternalFailureException", 500),
            FleetError::Service { .. }
        ));
    }

    #[test]
    fn access_denied_names_the_iam_action() {
        let text = from("AccessDeniedException", 403).to_string();
        assert!(text.contains("iot:DescribeThing"), "{text}");
    }

    #[test]
    fn credentials_message_names_the_sso_login_command() {
        let text = from("ExpiredTokenException", 403).to_string();
        assert!(text.contains("aws sso login --profile prod"), "{text}");
        assert!(text.contains("--local"), "{text}");
    }
}
