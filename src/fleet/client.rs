//! The one AWS IoT client: registry reads over aws-sdk-iot and shadow reads over
//! aws-sdk-iotdataplane, for AWS, moto or the local IoT Core alike. Returns model types and
//! [`FleetError`]; no SDK type leaves this file.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_iot::config::Region;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::service_config::ServiceConfigKey;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::certificate::read_pem;
use super::error::{FleetError, Operation, ResourceKind};
use super::limiter::{Limiter, Tagger};
pub use super::model::BackendInfo;
use super::model::{
    Certificate, CertificateLinks, CertificateStatus, CertificateSummary, Connectivity, Policy,
    PolicySummary, PolicyVersion, Shadow, Thing, ThingGroupRef, ThingPage, ThingSummary,
    certificate_id_from_arn,
};

/// AWS caps ListThings pages at 250; asking for the most means the fewest round trips.
pub const MAX_PAGE_SIZE: i32 = 250;
/// How many calls a fan-out (per certificate, per policy) keeps in flight.
pub const CONCURRENT_CALLS: usize = 8;

/// How to reach the service. Built by the CLI from flags; `None` means "the standard AWS chain".
#[derive(Debug, Clone, Default)]
pub struct ConnectionSettings {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Fixed credentials (the local IoT Core, tests) instead of the provider chain.
    pub static_credentials: Option<StaticCredentials>,
    /// The embedded local IoT Core (journal entries say "local").
    pub local: bool,
    /// The request rates to pace control-plane calls by (AWS's, or the local core's when it
    /// emulates them); None paces nothing (moto), though in-flight requests stay bounded.
    pub quotas: Option<super::quotas::Quotas>,
}

#[derive(Clone)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Counts of what the client sent, to prove "no N+1" and to show pending work.
#[derive(Debug, Default)]
struct CallCounters {
    operations: AtomicU64,
    requests: AtomicU64,
    throttled: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// API operations started (one per SDK call, whatever its retries).
    pub operations: u64,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Responses that said the caller was throttled (each was retried by the SDK).
    pub throttled: u64,
}

#[derive(Debug)]
struct CountingInterceptor(Arc<CallCounters>);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "iotfleet-call-counter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.operations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let throttled = response.status().as_u16() == 429
            || response
                .headers()
                .get("x-amzn-errortype")
                .is_some_and(|t| t.starts_with("Throttling"));
        if throttled {
            self.0.throttled.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The fleet client. Cheap to clone: clones share connections, credentials and counters.
/// Who the client's credentials are, as STS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    /// `arn:aws:iam::ACCOUNT:user/NAME`, an assumed role's session, ...
    pub arn: String,
}

#[derive(Debug, Clone)]
pub struct FleetClient {
    iot: aws_sdk_iot::Client,
    credentials: aws_credential_types::provider::SharedCredentialsProvider,
    sts: aws_sdk_sts::Client,
    data: Arc<OnceCell<aws_sdk_iotdataplane::Client>>,
    /// CloudWatch Logs, where AWS IoT's logging writes refusals (`refusals.rs`).
    logs: aws_sdk_cloudwatchlogs::Client,
    /// CloudTrail, where AWS records who changed what (`history.rs`).
    trail: aws_sdk_cloudtrail::Client,
    data_config: aws_sdk_iotdataplane::config::Builder,
    data_endpoint_configured: bool,
    info: BackendInfo,
    counters: Arc<CallCounters>,
    /// Paces and bounds every control-plane request (`limiter.rs`).
    limiter: Limiter,
    /// The account, asked of STS once.
    caller: Arc<OnceCell<Caller>>,
}

impl FleetClient {
    /// Loads configuration the way the aws CLI does (flags, then `AWS_*` variables, then the
    /// profile), checks that a region and credentials exist, and builds the clients. Fails with a
    /// message saying what to configure rather than at the first call.
    pub async fn connect(settings: &ConnectionSettings) -> Result<Self, FleetError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        );
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(creds) = &settings.static_credentials {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                creds.access_key_id.clone(),
                creds.secret_access_key.clone(),
                None,
                None,
                "iotfleet-static",
            ));
        }
        let sdk_config = loader.load().await;
        let profile = settings
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));

        let provider =
            sdk_config
                .credentials_provider()
                .ok_or_else(|| FleetError::Credentials {
                    profile: profile.clone(),
                    detail: "no credentials provider".into(),
                })?;
        match tokio::time::timeout(Duration::from_secs(20), provider.provide_credentials()).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                return Err(FleetError::Credentials {
                    profile,
                    detail: super::error::source_chain(&error),
                });
            }
            Err(_) => {
                return Err(FleetError::Credentials {
                    profile,
                    detail: "the credential providers timed out".into(),
                });
            }
        }

        let region = sdk_config
            .region()
            .ok_or(FleetError::MissingRegion)?
            .to_string();

        let counters = Arc::new(CallCounters::default());
        let limiter = Limiter::new(settings.quotas.clone());
        let iot_config = aws_sdk_iot::config::Builder::from(&sdk_config)
            .http_client(
                limiter.wrap(
                    sdk_config
                        .http_client()
                        .unwrap_or_else(super::limiter::default_https_client),
                ),
            )
            .interceptor(Tagger { service: "iot" })
            .interceptor(CountingInterceptor(counters.clone()))
            .build();
        let data_config = aws_sdk_iotdataplane::config::Builder::from(&sdk_config)
            .interceptor(CountingInterceptor(counters.clone()));
        let data_endpoint_configured = configured_endpoint(&sdk_config, "IoT Data Plane").is_some();
        let endpoint_url = configured_endpoint(&sdk_config, "IoT");

        Ok(Self {
            iot: aws_sdk_iot::Client::from_conf(iot_config),
            credentials: provider.clone(),
            sts: aws_sdk_sts::Client::new(&sdk_config),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(&sdk_config)
                    .interceptor(CountingInterceptor(counters.clone()))
                    .build(),
            ),
            trail: trail_client(&sdk_config, &counters),
            data: Arc::new(OnceCell::new()),
            data_config,
            data_endpoint_configured,
            info: BackendInfo {
                region,
                profile,
                endpoint_url,
                local: settings.local,
            },
            counters,
            limiter,
            caller: Arc::new(OnceCell::new()),
        })
    }

    /// How each control-plane operation fared against its quota.
    #[must_use]
    pub fn limits(&self) -> Vec<super::limiter::ActionStats> {
        self.limiter.stats()
    }

    #[must_use]
    pub fn backend(&self) -> &BackendInfo {
        &self.info
    }

    #[must_use]
    pub fn stats(&self) -> CallStats {
        CallStats {
            operations: self.counters.operations.load(Ordering::Relaxed),
            requests: self.counters.requests.load(Ordering::Relaxed),
            throttled: self.counters.throttled.load(Ordering::Relaxed),
        }
    }

    #[expect(
        clippy::needless_pass_by_value,
        reason = "called from map_err, which hands the error over"
    )]
    pub(super) fn fail<E>(
        &self,
        operation: &Operation,
        error: SdkError<E, HttpResponse>,
    ) -> FleetError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        FleetError::from_sdk(operation, self.info.profile.as_deref(), &error)
    }

    /// The AWS IoT control-plane client, for the modules of `fleet/` that own an operation.
    pub(super) fn iot(&self) -> &aws_sdk_iot::Client {
        &self.iot
    }

    /// The CloudWatch Logs client.
    pub(super) fn logs(&self) -> &aws_sdk_cloudwatchlogs::Client {
        &self.logs
    }

    /// The CloudTrail client.
    pub(super) fn trail(&self) -> &aws_sdk_cloudtrail::Client {
        &self.trail
    }

    /// The account's `iot:Data-ATS` endpoint host (DescribeEndpoint), where devices and MQTT
    /// clients connect.
    pub async fn data_endpoint(&self) -> Result<String, FleetError> {
        let operation = Operation::new("iot:DescribeEndpoint");
        let out = self
            .iot
            .describe_endpoint()
            .endpoint_type("iot:Data-ATS")
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        out.endpoint_address
            .ok_or_else(|| FleetError::InvalidResponse {
                action: operation.action,
                detail: "no endpointAddress".into(),
            })
    }

    /// The data-plane client. Its endpoint is the configured one when set (moto, the local core,
    /// `AWS_ENDPOINT_URL_IOT_DATA_PLANE`), otherwise the account's `iot:Data-ATS` endpoint, looked up
    /// once on first use.
    async fn data(&self) -> Result<&aws_sdk_iotdataplane::Client, FleetError> {
        self.data
            .get_or_try_init(|| async {
                let mut config = self.data_config.clone();
                if !self.data_endpoint_configured {
                    let address = self.data_endpoint().await?;
                    config = config.endpoint_url(format!("https://{address}"));
                }
                Ok(aws_sdk_iotdataplane::Client::from_conf(config.build()))
            })
            .await
    }

    /// The credentials provider, for signing requests the SDK does not make (MQTT over
    /// WebSocket). It caches and refreshes like the SDK's own.
    #[must_use]
    pub fn credentials(&self) -> aws_credential_types::provider::SharedCredentialsProvider {
        self.credentials.clone()
    }

    /// The AWS account the credentials belong to (STS GetCallerIdentity, asked once), for the
    /// status bar and the journal's key.
    pub async fn account(&self) -> Result<String, FleetError> {
        Ok(self.caller().await?.account)
    }

    /// Who the credentials are (STS GetCallerIdentity, asked once): the account and the
    /// caller's ARN, which the journal records as the actor of every mutation.
    pub async fn caller(&self) -> Result<Caller, FleetError> {
        self.caller
            .get_or_try_init(|| async {
                let operation = Operation::new("sts:GetCallerIdentity");
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| self.fail(&operation, e))?;
                let account = out.account.ok_or_else(|| FleetError::InvalidResponse {
                    action: operation.action,
                    detail: "no Account".into(),
                })?;
                Ok(Caller {
                    account,
                    arn: out.arn.unwrap_or_default(),
                })
            })
            .await
            .cloned()
    }

    /// Lists Things page by page, so a screen can show the first page while the rest load.
    #[must_use]
    pub fn list_things(&self, query: ThingQuery) -> ThingPages {
        ThingPages {
            client: self.clone(),
            query,
            token: PageToken::default(),
        }
    }

    pub async fn describe_thing(&self, name: &str) -> Result<Thing, FleetError> {
        let operation = Operation::on("iot:DescribeThing", ResourceKind::Thing, name);
        let out = self
            .iot
            .describe_thing()
            .thing_name(name)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(Thing {
            name: out.thing_name.unwrap_or_else(|| name.to_owned()),
            arn: out.thing_arn.unwrap_or_default(),
            id: out.thing_id,
            thing_type: out.thing_type_name,
            attributes: out.attributes.unwrap_or_default().into_iter().collect(),
            version: out.version,
            default_client_id: out.default_client_id,
            billing_group: out.billing_group_name,
        })
    }

    /// GetThingConnectivityData: whether the Thing's device is connected, since when, and why
    /// its last session ended.
    pub async fn connectivity(&self, thing: &str) -> Result<Connectivity, FleetError> {
        let operation = Operation::on("iot:GetThingConnectivityData", ResourceKind::Thing, thing);
        let out = self
            .iot
            .get_thing_connectivity_data()
            .thing_name(thing)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        let connected = out.connected.ok_or_else(|| FleetError::Service {
            action: operation.action,
            code: "NoConnectivity".to_owned(),
            message: "the answer says neither connected nor disconnected".to_owned(),
        })?;
        Ok(Connectivity {
            connected,
            since: out.timestamp.and_then(to_time),
            disconnect_reason: out.disconnect_reason.map(|r| r.as_str().to_owned()),
        })
    }

    pub async fn thing_groups(&self, thing: &str) -> Result<Vec<ThingGroupRef>, FleetError> {
        let operation = Operation::on("iot:ListThingGroupsForThing", ResourceKind::Thing, thing);
        let groups = self
            .iot
            .list_thing_groups_for_thing()
            .thing_name(thing)
            .into_paginator()
            .page_size(MAX_PAGE_SIZE)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(groups
            .into_iter()
            .map(|g| ThingGroupRef {
                name: g.group_name.unwrap_or_default(),
                arn: g.group_arn.unwrap_or_default(),
            })
            .collect())
    }

    /// The principals (certificate ARNs, usually) attached to a Thing.
    /// The names of a Thing group's member Things (ListThingsInThingGroup, every page).
    pub async fn things_in_group(&self, group: &str) -> Result<Vec<String>, FleetError> {
        let operation = Operation::on(
            "iot:ListThingsInThingGroup",
            ResourceKind::ThingGroup,
            group,
        );
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .iot
                .list_things_in_thing_group()
                .thing_group_name(group)
                .max_results(MAX_PAGE_SIZE)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| self.fail(&operation, e))?;
            names.extend(out.things.unwrap_or_default());
            match out.next_token.filter(|t| !t.is_empty()) {
                Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                _ => return Ok(names),
            }
        }
    }

    pub async fn thing_principals(&self, thing: &str) -> Result<Vec<String>, FleetError> {
        let operation = Operation::on("iot:ListThingPrincipals", ResourceKind::Thing, thing);
        self.iot
            .list_thing_principals()
            .thing_name(thing)
            .into_paginator()
            .page_size(MAX_PAGE_SIZE)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.fail(&operation, e))
    }

    /// The Things a principal (a certificate ARN) is attached to.
    pub async fn principal_things(&self, principal: &str) -> Result<Vec<String>, FleetError> {
        let operation = Operation::on(
            "iot:ListPrincipalThings",
            ResourceKind::Principal,
            principal,
        );
        self.iot
            .list_principal_things()
            .principal(principal)
            .into_paginator()
            .page_size(MAX_PAGE_SIZE)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.fail(&operation, e))
    }

    pub async fn list_certificates(&self) -> Result<Vec<CertificateSummary>, FleetError> {
        let operation = Operation::new("iot:ListCertificates");
        let certificates = self
            .iot
            .list_certificates()
            .into_paginator()
            .page_size(MAX_PAGE_SIZE)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(certificates
            .into_iter()
            .map(|c| CertificateSummary {
                id: c.certificate_id.unwrap_or_default(),
                arn: c.certificate_arn.unwrap_or_default(),
                status: status_of(c.status.as_ref()),
                created: c.creation_date.and_then(to_time),
            })
            .collect())
    }

    /// Describes a certificate; validity, subject and issuer come from its PEM, since the
    /// service's own validity summary is not available everywhere (moto fakes it).
    pub async fn describe_certificate(&self, id: &str) -> Result<Certificate, FleetError> {
        let operation = Operation::on("iot:DescribeCertificate", ResourceKind::Certificate, id);
        let out = self
            .iot
            .describe_certificate()
            .certificate_id(id)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        let description =
            out.certificate_description
                .ok_or_else(|| FleetError::InvalidResponse {
                    action: operation.action,
                    detail: "no certificateDescription".into(),
                })?;
        let pem = description.certificate_pem.unwrap_or_default();
        let parsed = read_pem(&pem);
        let (validity, subject, issuer, serial, pem_problem) = match parsed {
            Ok(facts) => (
                Some(facts.validity),
                Some(facts.subject),
                Some(facts.issuer),
                Some(facts.serial),
                None,
            ),
            Err(problem) => (None, None, None, None, Some(problem)),
        };
        Ok(Certificate {
            id: description.certificate_id.unwrap_or_else(|| id.to_owned()),
            arn: description.certificate_arn.unwrap_or_default(),
            status: status_of(description.status.as_ref()),
            created: description.creation_date.and_then(to_time),
            last_modified: description.last_modified_date.and_then(to_time),
            ca_certificate_id: description.ca_certificate_id,
            validity,
            subject,
            issuer,
            serial,
            pem_problem,
            pem,
        })
    }

    /// Each certificate among `principals` (other principals are skipped) with what is attached
    /// to it: DescribeCertificate, ListAttachedPolicies and ListPrincipalThings for each, at most
    /// `CONCURRENT_CALLS` certificates at a time, in the order given.
    pub async fn certificates_of(
        &self,
        principals: impl IntoIterator<Item = String>,
    ) -> Result<Vec<CertificateLinks>, FleetError> {
        use futures_util::{StreamExt as _, TryStreamExt as _};
        let certificates = principals
            .into_iter()
            .filter(|p| certificate_id_from_arn(p).is_some());
        futures_util::stream::iter(certificates)
            .map(|arn| async move {
                let id = certificate_id_from_arn(&arn).unwrap_or_default();
                let (certificate, policies, things) = futures_util::try_join!(
                    self.describe_certificate(id),
                    self.attached_policies(&arn),
                    self.principal_things(&arn)
                )?;
                Ok::<_, FleetError>(CertificateLinks {
                    arn,
                    certificate,
                    policies: policies.into_iter().map(|p| p.name).collect(),
                    things,
                })
            })
            .buffered(CONCURRENT_CALLS)
            .try_collect()
            .await
    }

    /// The policies attached to a target (a certificate ARN or a Thing group ARN).
    pub async fn attached_policies(&self, target: &str) -> Result<Vec<PolicySummary>, FleetError> {
        let operation = Operation::on("iot:ListAttachedPolicies", ResourceKind::Principal, target);
        let policies = self
            .iot
            .list_attached_policies()
            .target(target)
            .into_paginator()
            .page_size(MAX_PAGE_SIZE)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(policies.into_iter().map(policy_summary).collect())
    }

    pub async fn list_policies(&self) -> Result<Vec<PolicySummary>, FleetError> {
        let operation = Operation::new("iot:ListPolicies");
        let policies = self
            .iot
            .list_policies()
            .into_paginator()
            .page_size(MAX_PAGE_SIZE)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(policies.into_iter().map(policy_summary).collect())
    }

    /// A policy with the document of its default version.
    pub async fn get_policy(&self, name: &str) -> Result<Policy, FleetError> {
        let operation = Operation::on("iot:GetPolicy", ResourceKind::Policy, name);
        let out = self
            .iot
            .get_policy()
            .policy_name(name)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(Policy {
            name: out.policy_name.unwrap_or_else(|| name.to_owned()),
            arn: out.policy_arn.unwrap_or_default(),
            default_version_id: out.default_version_id,
            document: out.policy_document.unwrap_or_default(),
            created: out.creation_date.and_then(to_time),
            last_modified: out.last_modified_date.and_then(to_time),
        })
    }

    pub async fn policy_versions(&self, name: &str) -> Result<Vec<PolicyVersion>, FleetError> {
        let operation = Operation::on("iot:ListPolicyVersions", ResourceKind::Policy, name);
        let out = self
            .iot
            .list_policy_versions()
            .policy_name(name)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(out
            .policy_versions
            .unwrap_or_default()
            .into_iter()
            .map(|v| PolicyVersion {
                version_id: v.version_id.unwrap_or_default(),
                is_default: v.is_default_version,
                created: v.create_date.and_then(to_time),
            })
            .collect())
    }

    /// The targets (certificate ARNs, Thing group ARNs) a policy is attached to.
    pub async fn policy_targets(&self, name: &str) -> Result<Vec<String>, FleetError> {
        let operation = Operation::on("iot:ListTargetsForPolicy", ResourceKind::Policy, name);
        self.iot
            .list_targets_for_policy()
            .policy_name(name)
            .into_paginator()
            .page_size(MAX_PAGE_SIZE)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.fail(&operation, e))
    }

    /// The document of one version of a policy.
    pub async fn policy_version_document(
        &self,
        name: &str,
        version: &str,
    ) -> Result<String, FleetError> {
        let operation = Operation::on(
            "iot:GetPolicyVersion",
            ResourceKind::PolicyVersion,
            format!("{name} version {version}"),
        );
        let out = self
            .iot
            .get_policy_version()
            .policy_name(name)
            .policy_version_id(version)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(out.policy_document.unwrap_or_default())
    }

    /// CreatePolicy. A policy of that name existing already is a `Conflict`.
    pub async fn create_policy(&self, name: &str, document: &str) -> Result<(), FleetError> {
        let operation = Operation::on("iot:CreatePolicy", ResourceKind::Policy, name);
        self.iot
            .create_policy()
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(())
    }

    /// AttachPolicy to a target (a certificate ARN or a Thing group ARN); attaching twice is
    /// not an error.
    pub async fn attach_policy(&self, name: &str, target: &str) -> Result<(), FleetError> {
        let operation = Operation::on("iot:AttachPolicy", ResourceKind::Policy, name);
        self.iot
            .attach_policy()
            .policy_name(name)
            .target(target)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(())
    }

    pub async fn detach_policy(&self, name: &str, target: &str) -> Result<(), FleetError> {
        let operation = Operation::on("iot:DetachPolicy", ResourceKind::Policy, name);
        self.iot
            .detach_policy()
            .policy_name(name)
            .target(target)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(())
    }

    /// CreatePolicyVersion made the default at once; returns the new version's id.
    pub async fn create_default_policy_version(
        &self,
        name: &str,
        document: &str,
    ) -> Result<String, FleetError> {
        let operation = Operation::on("iot:CreatePolicyVersion", ResourceKind::Policy, name);
        let out = self
            .iot
            .create_policy_version()
            .policy_name(name)
            .policy_document(document)
            .set_as_default(true)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        out.policy_version_id
            .ok_or_else(|| FleetError::InvalidResponse {
                action: operation.action,
                detail: "no policyVersionId".into(),
            })
    }

    pub async fn set_default_policy_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<(), FleetError> {
        let operation = Operation::on(
            "iot:SetDefaultPolicyVersion",
            ResourceKind::PolicyVersion,
            format!("{name} version {version}"),
        );
        self.iot
            .set_default_policy_version()
            .policy_name(name)
            .policy_version_id(version)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(())
    }

    pub async fn delete_policy_version(&self, name: &str, version: &str) -> Result<(), FleetError> {
        let operation = Operation::on(
            "iot:DeletePolicyVersion",
            ResourceKind::PolicyVersion,
            format!("{name} version {version}"),
        );
        self.iot
            .delete_policy_version()
            .policy_name(name)
            .policy_version_id(version)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(())
    }

    /// UpdateCertificate to `status` (`ACTIVE`, `INACTIVE`, ...).
    pub async fn set_certificate_status(&self, id: &str, status: &str) -> Result<(), FleetError> {
        let operation = Operation::on("iot:UpdateCertificate", ResourceKind::Certificate, id);
        self.iot
            .update_certificate()
            .certificate_id(id)
            .new_status(aws_sdk_iot::types::CertificateStatus::from(status))
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(())
    }

    /// DeleteConnection (data plane): disconnects the MQTT client `client_id`, with
    /// `preventWillMessage` so its Last Will is not published (a quarantined device must not get
    /// a last word out). Returns false when no such client was connected (the service answers
    /// "not found").
    pub async fn delete_connection(&self, client_id: &str) -> Result<bool, FleetError> {
        let operation = Operation::on("iot:DeleteConnection", ResourceKind::Connection, client_id);
        let sent = self
            .data()
            .await?
            .delete_connection()
            .client_id(client_id)
            .prevent_will_message(true)
            .send()
            .await
            .map_err(|e| self.fail(&operation, e));
        match sent {
            Ok(_) => Ok(true),
            Err(FleetError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// AWS IoT Device Defender's audit findings since `since` (ListAuditFindings), marked as
    /// AWS's. An account without Defender answers with an error, which the caller shows as a note.
    pub async fn audit_findings(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<super::model::Finding>, FleetError> {
        use super::model::{Finding, Resource, Severity, Source};
        let operation = Operation::new("iot:ListAuditFindings");
        let to_smithy =
            |time: OffsetDateTime| aws_smithy_types::DateTime::from_secs(time.unix_timestamp());
        let findings = self
            .iot
            .list_audit_findings()
            .start_time(to_smithy(since))
            .end_time(to_smithy(OffsetDateTime::now_utc()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(findings
            .into_iter()
            .map(|f| {
                let identifier = f
                    .non_compliant_resource
                    .as_ref()
                    .and_then(|r| r.resource_identifier.as_ref());
                let resource = match identifier {
                    Some(id) if id.device_certificate_id.is_some() => {
                        Resource::Certificate(id.device_certificate_id.clone().unwrap_or_default())
                    }
                    Some(id) if id.policy_version_identifier.is_some() => Resource::Policy(
                        id.policy_version_identifier
                            .as_ref()
                            .and_then(|p| p.policy_name.clone())
                            .unwrap_or_default(),
                    ),
                    Some(id) => Resource::Other(
                        id.client_id
                            .clone()
                            .or_else(|| id.ca_certificate_id.clone())
                            .or_else(|| id.iam_role_arn.clone())
                            .or_else(|| id.role_alias_arn.clone())
                            .or_else(|| id.account.clone())
                            .unwrap_or_default(),
                    ),
                    None => Resource::Other(String::new()),
                };
                Finding {
                    severity: match f
                        .severity
                        .as_ref()
                        .map(aws_sdk_iot::types::AuditFindingSeverity::as_str)
                    {
                        Some("CRITICAL") => Severity::Critical,
                        Some("HIGH") => Severity::High,
                        Some("MEDIUM") => Severity::Medium,
                        _ => Severity::Low,
                    },
                    check: f.check_name.unwrap_or_default(),
                    resource,
                    reason: f.reason_for_non_compliance.unwrap_or_default(),
                    fix: "see the finding in the AWS IoT console (Device Defender, Audit)"
                        .to_owned(),
                    source: Source::Aws,
                    things: Vec::new(),
                }
            })
            .collect())
    }

    /// TestAuthorization: AWS's decision (ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY) for
    /// `principal` (a certificate ARN) connected as `client_id` doing `action` on `resource`.
    pub async fn test_authorization(
        &self,
        principal: &str,
        client_id: &str,
        action: super::model::DeviceAction,
        resource: &str,
    ) -> Result<String, FleetError> {
        let mut decisions = self
            .test_authorizations(principal, client_id, &[(action, resource.to_owned())])
            .await?;
        Ok(decisions.remove(0))
    }

    /// TestAuthorization for several questions at once (AWS takes ten a call; more are sent in
    /// more calls): one decision per question, in order.
    pub async fn test_authorizations(
        &self,
        principal: &str,
        client_id: &str,
        questions: &[(super::model::DeviceAction, String)],
    ) -> Result<Vec<String>, FleetError> {
        let operation = Operation::new("iot:TestAuthorization");
        let mut decisions = Vec::with_capacity(questions.len());
        for chunk in questions.chunks(10) {
            let mut request = self
                .iot
                .test_authorization()
                .principal(principal)
                .client_id(client_id);
            for (action, resource) in chunk {
                let action_type = aws_sdk_iot::types::ActionType::from(
                    action.to_string().to_ascii_uppercase().as_str(),
                );
                request = request.auth_infos(
                    aws_sdk_iot::types::AuthInfo::builder()
                        .action_type(action_type)
                        .resources(resource)
                        .build()
                        .map_err(|e| FleetError::InvalidResponse {
                            action: operation.action,
                            detail: e.to_string(),
                        })?,
                );
            }
            let out = request.send().await.map_err(|e| self.fail(&operation, e))?;
            let results = out.auth_results.unwrap_or_default();
            if results.len() != chunk.len() {
                return Err(FleetError::InvalidResponse {
                    action: operation.action,
                    detail: format!(
                        "{} authResults for {} authInfos",
                        results.len(),
                        chunk.len()
                    ),
                });
            }
            for result in results {
                decisions.push(
                    result
                        .auth_decision
                        .map(|d| d.as_str().to_owned())
                        .ok_or_else(|| FleetError::InvalidResponse {
                            action: operation.action,
                            detail: "no authDecision".into(),
                        })?,
                );
            }
        }
        Ok(decisions)
    }

    /// The classic shadow (`name` None) or a named shadow of a Thing.
    pub async fn get_shadow(&self, thing: &str, name: Option<&str>) -> Result<Shadow, FleetError> {
        let operation = Operation::on(
            "iot:GetThingShadow",
            ResourceKind::Shadow,
            shadow_label(thing, name),
        );
        let out = self
            .data()
            .await?
            .get_thing_shadow()
            .thing_name(thing)
            .set_shadow_name(name.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        let payload = out
            .payload
            .map(aws_smithy_types::Blob::into_inner)
            .unwrap_or_default();
        let document: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|e| FleetError::InvalidResponse {
                action: operation.action,
                detail: format!("shadow document is not JSON: {e}"),
            })?;
        Ok(Shadow::from_document(thing, name, &document))
    }

    /// UpdateThingShadow with `body` (`{"state": {...}, "version": N}`); returns the accepted
    /// document. A stale `version` is a `Conflict` (409): nothing was changed.
    pub async fn update_shadow(
        &self,
        thing: &str,
        name: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, FleetError> {
        let operation = Operation::on(
            "iot:UpdateThingShadow",
            ResourceKind::Shadow,
            shadow_label(thing, name),
        );
        let out = self
            .data()
            .await?
            .update_thing_shadow()
            .thing_name(thing)
            .set_shadow_name(name.map(str::to_owned))
            .payload(aws_smithy_types::Blob::new(body.to_string()))
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        let payload = out
            .payload
            .map(aws_smithy_types::Blob::into_inner)
            .unwrap_or_default();
        serde_json::from_slice(&payload).map_err(|e| FleetError::InvalidResponse {
            action: operation.action,
            detail: format!("the accepted document is not JSON: {e}"),
        })
    }

    /// DeleteThingShadow.
    pub async fn delete_shadow(&self, thing: &str, name: Option<&str>) -> Result<(), FleetError> {
        let operation = Operation::on(
            "iot:DeleteThingShadow",
            ResourceKind::Shadow,
            shadow_label(thing, name),
        );
        self.data()
            .await?
            .delete_thing_shadow()
            .thing_name(thing)
            .set_shadow_name(name.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.fail(&operation, e))?;
        Ok(())
    }

    pub async fn named_shadows(&self, thing: &str) -> Result<Vec<String>, FleetError> {
        let operation = Operation::on("iot:ListNamedShadowsForThing", ResourceKind::Thing, thing);
        let data = self.data().await?;
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = data
                .list_named_shadows_for_thing()
                .thing_name(thing)
                .page_size(100)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.fail(&operation, e))?;
            names.extend(out.results.unwrap_or_default());
            token = out.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(names);
            }
        }
    }
}

/// Server-side filters of ListThings (AWS has no name filter; match names client-side).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThingQuery {
    pub thing_type: Option<String>,
    pub attribute: Option<(String, String)>,
    /// Page size; None asks for the maximum (250).
    pub page_size: Option<i32>,
}

/// Where a paged listing stands: the token to send next, and whether the last page came.
#[derive(Debug, Default)]
pub(super) struct PageToken {
    pub(super) next: Option<String>,
    pub(super) finished: bool,
}

impl PageToken {
    /// Takes the token a page returned; the same token twice is the service's fault (a loop),
    /// and ends the listing.
    pub(super) fn advance(
        &mut self,
        next: Option<String>,
        action: &'static str,
    ) -> Result<(), FleetError> {
        let next = next.filter(|t| !t.is_empty());
        if next.is_some() && next == self.next {
            self.finished = true;
            return Err(FleetError::InvalidResponse {
                action,
                detail: "the service returned the same page token twice".into(),
            });
        }
        self.finished = next.is_none();
        self.next = next;
        Ok(())
    }
}

/// A Thing listing in progress: call [`ThingPages::next_page`] until it returns `None`.
#[derive(Debug)]
pub struct ThingPages {
    client: FleetClient,
    query: ThingQuery,
    token: PageToken,
}

impl ThingPages {
    /// The next page, `None` after the last one. After an error the listing can be resumed by
    /// calling again: the failed page is asked for again.
    pub async fn next_page(&mut self) -> Option<Result<ThingPage, FleetError>> {
        if self.token.finished {
            return None;
        }
        let operation = Operation::new("iot:ListThings");
        let (attribute_name, attribute_value) = self.query.attribute.clone().unzip();
        let result = self
            .client
            .iot
            .list_things()
            .max_results(self.query.page_size.unwrap_or(MAX_PAGE_SIZE))
            .set_next_token(self.token.next.clone())
            .set_thing_type_name(self.query.thing_type.clone())
            .set_attribute_name(attribute_name)
            .set_attribute_value(attribute_value)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(error) => return Some(Err(self.client.fail(&operation, error))),
        };
        if let Err(error) = self.token.advance(out.next_token, operation.action) {
            return Some(Err(error));
        }
        let things = out
            .things
            .unwrap_or_default()
            .into_iter()
            .map(|t| ThingSummary {
                name: t.thing_name.unwrap_or_default(),
                arn: t.thing_arn.unwrap_or_default(),
                thing_type: t.thing_type_name,
                attributes: t.attributes.unwrap_or_default().into_iter().collect(),
                version: t.version,
            })
            .collect();
        Some(Ok(ThingPage {
            things,
            more: !self.token.finished,
        }))
    }

    /// Every remaining Thing, for verbs that print the whole list.
    pub async fn collect_all(mut self) -> Result<Vec<ThingSummary>, FleetError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await {
            all.extend(page?.things);
        }
        Ok(all)
    }
}

/// The CloudTrail client, its calls counted with the others.
fn trail_client(
    sdk_config: &aws_types::SdkConfig,
    counters: &Arc<CallCounters>,
) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::from_conf(
        aws_sdk_cloudtrail::config::Builder::from(sdk_config)
            .interceptor(CountingInterceptor(counters.clone()))
            .build(),
    )
}

/// The endpoint override for one service: `--endpoint-url`, else `AWS_ENDPOINT_URL_<SERVICE>` or
/// the profile's `endpoint_url`, else `AWS_ENDPOINT_URL` (the order aws-config applies).
fn configured_endpoint(sdk_config: &aws_types::SdkConfig, service_id: &str) -> Option<String> {
    if sdk_config.get_origin("endpoint_url").is_client_config() {
        return sdk_config.endpoint_url().map(str::to_owned);
    }
    let key = ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    sdk_config
        .service_config()
        .and_then(|config| config.load_config(key))
        .or_else(|| sdk_config.endpoint_url().map(str::to_owned))
}

fn status_of(status: Option<&aws_sdk_iot::types::CertificateStatus>) -> CertificateStatus {
    status.map_or(CertificateStatus::Other("UNKNOWN".into()), |s| {
        CertificateStatus::from_aws(s.as_str())
    })
}

fn policy_summary(policy: aws_sdk_iot::types::Policy) -> PolicySummary {
    PolicySummary {
        name: policy.policy_name.unwrap_or_default(),
        arn: policy.policy_arn.unwrap_or_default(),
    }
}

pub(super) fn to_time(date: aws_smithy_types::DateTime) -> Option<OffsetDateTime> {
    let nanos = i128::from(date.secs()) * 1_000_000_000 + i128::from(date.subsec_nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}
/// How a shadow is named in errors: `THING (classic)` or `THING/NAME`.
fn shadow_label(thing: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{thing}/{name}"),
        None => format!("{thing} (classic)"),
    }
}
