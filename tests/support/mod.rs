//! Test support: real peers (moto today; the local IoT Core joins as a second backend), the
//! skip-or-require rule for a missing peer, and fleet seeding through the AWS SDK.
#![allow(
    dead_code,
    reason = "each test binary uses its own part of the support module"
)]

pub mod console;
pub mod mosquitto;
pub mod moto;
pub mod raw_mqtt;
pub mod seed;
pub mod served;
pub mod traffic;

use iotfleet::fleet::{ConnectionSettings, FleetClient, StaticCredentials};

/// The region every test fleet lives in.
pub const REGION: &str = "us-east-1";

/// True when a missing peer must fail the test instead of skipping it (`.ci/run` sets it).
#[must_use]
pub fn peers_required() -> bool {
    std::env::var("IOTFLEET_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Reports a missing peer: one SKIP line naming the install command, or a failure when peers
/// are required.
pub fn peer_missing(peer: &str, why: &str, install: &str) {
    let test = std::thread::current().name().unwrap_or("test").to_owned();
    assert!(
        !peers_required(),
        "{peer} is required (IOTFLEET_REQUIRE_PEERS=1) but unavailable: {why}; install with: {install}"
    );
    eprintln!("SKIP {test}: {peer} unavailable ({why}); install with: {install}");
}

/// A backend the contract suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Moto,
    /// The embedded local IoT Core, in process, empty, on a free port.
    Local,
}

/// AWS behaviours that not every test backend has (ARCHITECTURE.md, "Test peers"). A contract test that
/// needs one runs only against backends that have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// ListCertificates and ListPolicies honour pageSize and return a marker.
    PaginatedCertificateAndPolicyLists,
    /// DescribeCertificate's own validity fields match the PEM.
    CertificateValidityFields,
    /// `{"state": {"desired": null}}` removes the whole desired section.
    DesiredNullRemovesTheSection,
    /// CreatePolicy rejects a malformed document with MalformedPolicyException.
    MalformedPolicyRejected,
    /// DeleteThing of a Thing that does not exist succeeds (moto answers 404).
    DeleteOfAnUnknownThingSucceeds,
    /// GetEffectivePolicies answers (moto answers 500).
    EffectivePolicies,
    /// GetThingConnectivityData answers (moto answers 500).
    ConnectivityData,
    /// SearchIndex reads the whole query syntax the README documents: ranges, phrases, shadow
    /// and connectivity fields, AWS's errors with a position, pages (moto reads names, types,
    /// groups, attributes by equality and AND/OR/NOT, in one page, and says every Thing is
    /// connected).
    FullSearchSyntax,
    /// Device Defender Detect: security profiles and ListActiveViolations (moto has neither).
    DeviceDefenderDetect,
    /// CloudTrail LookupEvents over the calls the backend served (moto answers 500).
    CloudTrailLookup,
}

impl Backend {
    /// Every behaviour listed is one moto lacks and the local core has.
    #[must_use]
    pub fn has(self, _behaviour: Behaviour) -> bool {
        match self {
            Self::Moto => false,
            Self::Local => true,
        }
    }
}

/// What keeps a test's backend alive and to itself.
#[derive(Debug)]
enum Hold {
    Moto(tokio::sync::MutexGuard<'static, ()>),
    Local(Box<iotfleet::local::LocalCore>),
}

/// Where a test's clients go: an endpoint and the credentials it takes (moto takes any; a local
/// core only its fleet's own key).
#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Target {
    /// moto at `endpoint`.
    #[must_use]
    pub fn moto(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        }
    }

    /// A local core, signed for with its fleet's key.
    #[must_use]
    pub fn local(core: &iotfleet::local::LocalCore) -> Self {
        Self {
            endpoint: core.endpoint().to_owned(),
            access_key_id: core.credentials().access_key_id.clone(),
            secret_access_key: core.credentials().secret_access_key.clone(),
        }
    }

    /// Connection settings for the product client (as against AWS: an endpoint and keys).
    #[must_use]
    pub fn settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            profile: None,
            region: Some(REGION.to_owned()),
            endpoint_url: Some(self.endpoint.clone()),
            static_credentials: Some(StaticCredentials {
                access_key_id: self.access_key_id.clone(),
                secret_access_key: self.secret_access_key.clone(),
            }),
            local: false,
            quotas: None,
        }
    }

    /// An SDK configuration for seeding it.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                &self.access_key_id,
                &self.secret_access_key,
                None,
                None,
                "tests",
            ))
            .load()
            .await
    }

    /// Environment for running the `iotfleet` binary against it, isolated from the developer's
    /// own AWS configuration and XDG directories.
    #[must_use]
    pub fn cli_env(&self, home: &std::path::Path) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("HOME", home.display().to_string()),
            ("XDG_STATE_HOME", home.join("state").display().to_string()),
            (
                "AWS_CONFIG_FILE",
                home.join("aws-config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                home.join("aws-credentials").display().to_string(),
            ),
        ]
    }
}

/// A fresh, empty fleet on one backend: the product client under test, and plain SDK clients to
/// seed it. Holding it keeps other tests of this binary off the same backend.
#[derive(Debug)]
pub struct TestFleet {
    pub backend: Backend,
    pub endpoint: String,
    /// The endpoint and the keys it takes.
    pub target: Target,
    pub client: FleetClient,
    pub iot: aws_sdk_iot::Client,
    pub data: aws_sdk_iotdataplane::Client,
    /// CloudWatch Logs, to seed AWS IoT's log group.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    _hold: Hold,
}

impl TestFleet {
    /// An empty fleet on `backend`, or None (after a SKIP line) when the backend is unavailable.
    pub async fn start(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Moto => {
                let (endpoint, exclusive) = moto::fresh().await?;
                Some(Self::connect(backend, Target::moto(&endpoint), Hold::Moto(exclusive)).await)
            }
            Backend::Local => {
                let core =
                    iotfleet::local::LocalCore::start(iotfleet::local::LocalOptions::default())
                        .await
                        .expect("the local IoT Core starts");
                Some(
                    Self::connect(backend, Target::local(&core), Hold::Local(Box::new(core))).await,
                )
            }
        }
    }

    async fn connect(backend: Backend, target: Target, hold: Hold) -> Self {
        let client = FleetClient::connect(&target.settings())
            .await
            .expect("the fleet client connects");
        let sdk_config = target.sdk_config().await;
        Self {
            backend,
            client,
            iot: aws_sdk_iot::Client::new(&sdk_config),
            data: aws_sdk_iotdataplane::Client::new(&sdk_config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk_config),
            endpoint: target.endpoint.clone(),
            target,
            _hold: hold,
        }
    }

    #[must_use]
    pub fn has(&self, behaviour: Behaviour) -> bool {
        let has = self.backend.has(behaviour);
        if !has {
            let test = std::thread::current().name().unwrap_or("test").to_owned();
            eprintln!(
                "SKIP {test} on {:?}: the backend lacks {behaviour:?} (ARCHITECTURE.md, test peers)",
                self.backend
            );
        }
        has
    }
}

/// boto3, from the moto virtualenv: a third-party client of the local core's REST API.
pub fn boto3_python() -> Option<std::path::PathBuf> {
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/peers/moto-venv/bin/python");
    if python.exists() {
        Some(python)
    } else {
        peer_missing("boto3", "no virtualenv with moto and boto3", moto::INSTALL);
        None
    }
}

/// Runs `script` with boto3's `iot` client for `target` as `iot`; its stdout as JSON.
/// Asynchronously: the core answers on this test's runtime.
pub async fn boto3(python: &std::path::Path, target: &Target, script: &str) -> serde_json::Value {
    let program = format!(
        "import boto3, json\niot = boto3.client('iot', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='{}', aws_secret_access_key='{}')\n{script}",
        target.endpoint, target.access_key_id, target.secret_access_key
    );
    let output = tokio::process::Command::new(python)
        .args(["-c", &program])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .expect("run python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}
