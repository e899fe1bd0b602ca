//! Model types of the fleet, our own: the TUI and CLI see these, never an SDK type. Field names
//! are the stable names of `--output json`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::OffsetDateTime;

/// A Thing as ListThings returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThingSummary {
    pub name: String,
    pub arn: String,
    pub thing_type: Option<String>,
    pub attributes: Attributes,
    pub version: i64,
}

/// A listed Thing's attributes, by name: a sorted list, exactly as long as it needs to be (AWS
/// allows 50 a Thing; most have a few). A `BTreeMap` spent a node of about 540 bytes on every
/// Thing of a page or a search's results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(Box<[(Box<str>, Box<str>)]>);

impl Attributes {
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(key, _)| key.as_ref().cmp(name))
            .ok()
            .map(|at| self.0[at].1.as_ref())
    }

    /// Name and value, by name.
    #[must_use]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone {
        self.0
            .iter()
            .map(|(key, value)| (key.as_ref(), value.as_ref()))
    }

    #[must_use]
    pub fn values(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.0.iter().map(|(_, value)| value.as_ref())
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// As a map: a name given twice keeps its last value.
impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let map: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        Self::from(map)
    }
}

impl From<BTreeMap<String, String>> for Attributes {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(
            map.into_iter()
                .map(|(key, value)| (key.into_boxed_str(), value.into_boxed_str()))
                .collect(),
        )
    }
}

impl From<&Attributes> for BTreeMap<String, String> {
    fn from(attributes: &Attributes) -> Self {
        attributes
            .iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect()
    }
}

impl PartialEq<BTreeMap<String, String>> for Attributes {
    fn eq(&self, other: &BTreeMap<String, String>) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other)
                .all(|((k, v), (ok, ov))| k == ok && v == ov)
    }
}

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// A certificate principal and what is attached to it: its policies' names and its Things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateLinks {
    pub arn: String,
    pub certificate: Certificate,
    pub policies: Vec<String>,
    pub things: Vec<String>,
}

/// Whether a Thing's device is connected, as AWS IoT's connectivity says (GetThingConnectivityData:
/// fleet indexing connectivity on AWS, the broker's sessions on the local core). AWS counts a
/// device as the Thing's when its client id is the Thing's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connectivity {
    pub connected: bool,
    /// When it connected (connected) or disconnected (not); None when never seen.
    #[serde(with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// Why the last session ended (AWS's `disconnectReason`, such as
    /// `SERVER_INITIATED_DISCONNECT`).
    pub disconnect_reason: Option<String>,
}

impl Connectivity {
    /// The connectivity in words, with `at` writing its time: "online since …", "offline since
    /// …: REASON", "never seen connected".
    #[must_use]
    pub fn sentence(&self, at: impl Fn(OffsetDateTime) -> String) -> String {
        match (self.connected, self.since) {
            (true, Some(since)) => format!("online since {}", at(since)),
            (true, None) => "online".to_owned(),
            (false, None) => "never seen connected".to_owned(),
            (false, Some(since)) => match &self.disconnect_reason {
                Some(reason) => format!("offline since {}: {reason}", at(since)),
                None => format!("offline since {}", at(since)),
            },
        }
    }
}

/// A Thing as fleet indexing's SearchIndex returns it: what the index holds, which on AWS lags
/// the registry by seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexedThing {
    pub name: String,
    pub id: Option<String>,
    pub thing_type: Option<String>,
    pub groups: Vec<String>,
    pub attributes: Attributes,
    /// None where the index has no connectivity data.
    pub connectivity: Option<Connectivity>,
    /// The indexed shadow document (reported, desired, delta, hasDelta, version, named ones
    /// under `name`), when the index holds shadows and the Thing has one.
    pub shadow: Option<serde_json::Value>,
}

/// One page of a streamed Thing listing. `more` is false on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingPage {
    pub things: Vec<ThingSummary>,
    pub more: bool,
}

/// A Thing as DescribeThing returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thing {
    pub name: String,
    pub arn: String,
    pub id: Option<String>,
    pub thing_type: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
    pub default_client_id: Option<String>,
    pub billing_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThingGroupRef {
    pub name: String,
    pub arn: String,
}

/// The status of an X.509 certificate in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub enum CertificateStatus {
    Active,
    Inactive,
    Revoked,
    PendingTransfer,
    RegisterInactive,
    PendingActivation,
    Other(String),
}

impl CertificateStatus {
    #[must_use]
    pub fn from_aws(text: &str) -> Self {
        match text {
            "ACTIVE" => Self::Active,
            "INACTIVE" => Self::Inactive,
            "REVOKED" => Self::Revoked,
            "PENDING_TRANSFER" => Self::PendingTransfer,
            "REGISTER_INACTIVE" => Self::RegisterInactive,
            "PENDING_ACTIVATION" => Self::PendingActivation,
            other => Self::Other(other.to_owned()),
        }
    }

    #[must_use]
    pub fn as_aws(&self) -> &str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::Revoked => "REVOKED",
            Self::PendingTransfer => "PENDING_TRANSFER",
            Self::RegisterInactive => "REGISTER_INACTIVE",
            Self::PendingActivation => "PENDING_ACTIVATION",
            Self::Other(text) => text,
        }
    }
}

impl fmt::Display for CertificateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_aws())
    }
}

impl From<CertificateStatus> for String {
    fn from(status: CertificateStatus) -> Self {
        status.as_aws().to_owned()
    }
}

/// A certificate as ListCertificates returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateSummary {
    pub id: String,
    pub arn: String,
    pub status: CertificateStatus,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
}

/// The validity window read from the certificate's own PEM, not from the service's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Validity {
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Whole days from `now` until expiry, rounded down: 0 on the last day, negative once expired.
    #[must_use]
    pub fn days_to_expiry(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_seconds().div_euclid(86_400)
    }
}

/// How long ago a certificate expired at `not_after`, in whole days passed, as the audit, the
/// screens and the verbs all say it: "today", "1 day ago", "N days ago".
#[must_use]
pub fn expired_ago(not_after: OffsetDateTime, now: OffsetDateTime) -> String {
    match (now - not_after).whole_days() {
        days if days <= 0 => "today".to_owned(),
        1 => "1 day ago".to_owned(),
        days => format!("{days} days ago"),
    }
}

/// A certificate as DescribeCertificate returns it, with what its PEM says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Certificate {
    pub id: String,
    pub arn: String,
    pub status: CertificateStatus,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_modified: Option<OffsetDateTime>,
    pub ca_certificate_id: Option<String>,
    /// None when the PEM is missing or cannot be parsed; `pem_problem` says why.
    pub validity: Option<Validity>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub serial: Option<String>,
    pub pem_problem: Option<String>,
    #[serde(skip)]
    pub pem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySummary {
    pub name: String,
    pub arn: String,
}

/// A policy with its default version's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub name: String,
    pub arn: String,
    pub default_version_id: Option<String>,
    pub document: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_modified: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    pub version_id: String,
    pub is_default: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
}

/// A Device Shadow document: the service's JSON, with the parts every view needs lifted out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shadow {
    pub thing: String,
    /// None for the classic (unnamed) shadow.
    pub name: Option<String>,
    pub version: Option<u64>,
    pub timestamp: Option<i64>,
    pub desired: Option<serde_json::Value>,
    pub reported: Option<serde_json::Value>,
    pub delta: Option<serde_json::Value>,
    pub metadata: Option<serde_json::Value>,
}

impl Shadow {
    /// Builds the model from the body of GetThingShadow.
    pub(crate) fn from_document(
        thing: &str,
        name: Option<&str>,
        document: &serde_json::Value,
    ) -> Self {
        let state = document.get("state");
        let section = |key: &str| state.and_then(|s| s.get(key)).cloned();
        Self {
            thing: thing.to_owned(),
            name: name.map(str::to_owned),
            version: document.get("version").and_then(serde_json::Value::as_u64),
            timestamp: document
                .get("timestamp")
                .and_then(serde_json::Value::as_i64),
            desired: section("desired"),
            reported: section("reported"),
            delta: section("delta"),
            metadata: document.get("metadata").cloned(),
        }
    }
}

/// Extracts the certificate id from a certificate ARN (`arn:aws:iot:REGION:ACCOUNT:cert/ID`).
#[must_use]
pub fn certificate_id_from_arn(arn: &str) -> Option<&str> {
    let (prefix, id) = arn.rsplit_once(":cert/")?;
    (prefix.starts_with("arn:") && !id.is_empty() && !id.contains('/')).then_some(id)
}

/// The account an ARN names (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`): twelve digits,
/// else None.
#[must_use]
pub fn account_from_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(account)) = (parts.next(), parts.nth(3)) else {
        return None;
    };
    (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn attributes_read_as_the_map_they_replace() {
        let map = BTreeMap::from([
            ("site".to_owned(), "plant-2".to_owned()),
            ("firmware".to_owned(), "2.4.1".to_owned()),
            ("model".to_owned(), String::new()),
        ]);
        let attributes = Attributes::from(map.clone());
        assert_eq!(attributes, map);
        for (name, value) in &map {
            assert_eq!(attributes.get(name), Some(value.as_str()));
        }
        assert_eq!(attributes.get("absent"), None);
        assert_eq!(attributes.len(), 3);
        assert_eq!(
            serde_json::to_string(&attributes).unwrap(),
            serde_json::to_string(&map).unwrap(),
            "the same JSON object, names in order"
        );
        // Collected as a map is: a name given twice keeps its last value.
        let collected: Attributes = [("b", "1"), ("a", "2"), ("b", "3")].into_iter().collect();
        assert_eq!(
            collected.iter().collect::<Vec<_>>(),
            [("a", "2"), ("b", "3")]
        );
        assert_eq!(BTreeMap::from(&collected).len(), 2);
        assert!(Attributes::default().is_empty());
    }

    #[test]
    fn the_account_of_an_arn_is_its_fifth_part_when_twelve_digits() {
        assert_eq!(
            account_from_arn("arn:aws:iot:eu-west-1:123456789012:thing/pump-1"),
            Some("123456789012")
        );
        assert_eq!(
            account_from_arn("arn:aws:iot:eu-west-1::thing/pump-1"),
            None
        );
        assert_eq!(account_from_arn("not-an-arn:a:b:c:123456789012:x"), None);
    }

    #[test]
    fn expired_ago_counts_whole_days_passed_wherever_it_is_said() {
        let not_after = datetime!(2026-01-01 00:00 UTC);
        let now = datetime!(2026-01-11 05:00 UTC);
        // 10 days and 5 hours: 10 days ago (the screens said 11 while the audit said 10).
        assert_eq!(expired_ago(not_after, now), "10 days ago");
        assert_eq!(
            expired_ago(not_after, datetime!(2026-01-02 01:00 UTC)),
            "1 day ago"
        );
        assert_eq!(
            expired_ago(not_after, datetime!(2026-01-01 05:00 UTC)),
            "today"
        );
    }

    #[test]
    fn days_to_expiry_counts_whole_days_and_goes_negative() {
        let validity = Validity {
            not_before: datetime!(2026-01-01 0:00 UTC),
            not_after: datetime!(2026-02-01 12:00 UTC),
        };
        assert_eq!(validity.days_to_expiry(datetime!(2026-01-01 12:00 UTC)), 31);
        assert_eq!(validity.days_to_expiry(datetime!(2026-02-01 11:00 UTC)), 0);
        assert_eq!(validity.days_to_expiry(datetime!(2026-02-01 13:00 UTC)), -1);
        assert_eq!(validity.days_to_expiry(datetime!(2026-02-03 13:00 UTC)), -3);
    }

    #[test]
    fn certificate_ids_come_only_from_certificate_arns() {
        assert_eq!(
            certificate_id_from_arn("arn:aws:iot:eu-west-1:123456789012:cert/abc123"),
            Some("abc123")
        );
        assert_eq!(
            certificate_id_from_arn("arn:aws:cognito-identity:eu-west-1:1:identitypool/x"),
            None
        );
        assert_eq!(certificate_id_from_arn("cert/abc"), None);
    }

    #[test]
    fn shadow_sections_are_lifted_from_the_document() {
        let doc = serde_json::json!({
            "state": {"desired": {"speed": 40}, "reported": {"speed": 10}, "delta": {"speed": 40}},
            "metadata": {}, "version": 7, "timestamp": 1_700_000_000
        });
        let shadow = Shadow::from_document("pump-1", None, &doc);
        assert_eq!(shadow.version, Some(7));
        assert_eq!(shadow.delta, Some(serde_json::json!({"speed": 40})));
    }
}

/// One open quarantine of a Thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub id: String,
    pub thing: String,
    /// The batch it belongs to, for a Thing quarantined with others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who ran it: the local user (and AWS profile).
    pub by: String,
    /// The caller the service knows: the IAM ARN on AWS, the signing key's owner locally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// When it was planned (RFC 3339).
    pub since: String,
    /// Whether its run went to the end (a hold whose run was cut short is open all the same:
    /// what it did is in effect until a release undoes it).
    pub completed: bool,
    /// The Thing's certificates when it was planned: one attached since is named as such.
    #[serde(skip)]
    pub certificates: Vec<String>,
}

impl Hold {
    /// "ID (incident X, batch B) since TIME by WHO (ACTOR): REASON", for plans and lists (a
    /// single quarantine's id starts `hold-`, a batch's `batch-`).
    #[must_use]
    pub fn describe(&self) -> String {
        use fmt::Write as _;
        let mut text = self.id.clone();
        let mut kind = Vec::new();
        if let Some(incident) = &self.incident {
            kind.push(format!("incident {incident}"));
        }
        if let Some(batch) = self.batch.as_ref().filter(|b| **b != self.id) {
            kind.push(format!("batch {batch}"));
        }
        if !kind.is_empty() {
            let _ = write!(text, " ({})", kind.join(", "));
        }
        let since =
            OffsetDateTime::parse(&self.since, &time::format_description::well_known::Rfc3339)
                .ok()
                .and_then(|at| {
                    at.format(time::macros::format_description!(
                        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
                    ))
                    .ok()
                })
                .unwrap_or_else(|| self.since.clone());
        let _ = write!(text, " since {since} by {}", self.by);
        if let Some(actor) = &self.actor {
            let _ = write!(text, " ({actor})");
        }
        match &self.reason {
            Some(reason) => {
                let _ = write!(text, ": {reason}");
            }
            None => text.push_str(": no reason given"),
        }
        if !self.completed {
            text.push_str(" [its run did not finish]");
        }
        text
    }

    /// The command that closes this hold.
    #[must_use]
    pub fn release_command(&self) -> String {
        match &self.batch {
            Some(batch) if *batch == self.id => format!("iotfleet release --batch {batch}"),
            _ if self.batch.is_some() => {
                format!("iotfleet release {} --hold {}", self.thing, self.id)
            }
            _ => format!("iotfleet release {}", self.thing),
        }
    }
}

/// Where the client is pointed, for status lines and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    pub region: String,
    pub profile: Option<String>,
    /// The control-plane endpoint override, when there is one.
    pub endpoint_url: Option<String>,
    /// The embedded local IoT Core rather than AWS (or moto).
    pub local: bool,
}

/// An audit finding's severity, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub const ALL: [Self; 5] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Info,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
            Self::Info => "INFO",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!("unknown severity '{text}': use critical, high, medium, low or info")
            })
    }
}

/// The object a finding is about; Enter on the finding opens it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "type", content = "name", rename_all = "lowercase")]
pub enum Resource {
    Thing(String),
    Certificate(String),
    Policy(String),
    /// Something of AWS's findings we have no screen for (a CA, a role, an account).
    Other(String),
}

/// "certificate 1a2b3c4d5e6f…" as the screens show it; the alternate form (`{:#}`) gives the
/// whole id, for text that is piped or parsed.
impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Thing(name) => write!(f, "thing {name}"),
            Self::Certificate(id) if f.alternate() => write!(f, "certificate {id}"),
            Self::Certificate(id) => match id.char_indices().nth(12) {
                Some((end, _)) => write!(f, "certificate {}…", &id[..end]),
                None => write!(f, "certificate {id}"),
            },
            Self::Policy(name) => write!(f, "policy {name}"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

/// Who found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// iotfleet's own checks.
    Local,
    /// AWS IoT Device Defender (ListAuditFindings).
    Aws,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub check: String,
    pub resource: Resource,
    pub reason: String,
    pub fix: String,
    pub source: Source,
    /// The Things it concerns (those using a certificate; the Thing itself).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub things: Vec<String>,
}

/// What a device asks AWS IoT to do, as the policy engine judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceAction {
    Connect,
    Publish,
    Subscribe,
    Receive,
}

impl DeviceAction {
    pub const ALL: [Self; 4] = [Self::Connect, Self::Publish, Self::Subscribe, Self::Receive];

    /// The IAM action AWS IoT authorizes.
    #[must_use]
    pub fn iam(self) -> &'static str {
        match self {
            Self::Connect => "iot:Connect",
            Self::Publish => "iot:Publish",
            Self::Subscribe => "iot:Subscribe",
            Self::Receive => "iot:Receive",
        }
    }

    /// The ARN resource type it is judged on: Subscribe on the topic filter, Connect on the
    /// client id, the others on the topic.
    #[must_use]
    pub fn resource_type(self) -> &'static str {
        match self {
            Self::Connect => "client",
            Self::Subscribe => "topicfilter",
            Self::Publish | Self::Receive => "topic",
        }
    }
}

impl fmt::Display for DeviceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Publish => "publish",
            Self::Subscribe => "subscribe",
            Self::Receive => "receive",
        })
    }
}

impl FromStr for DeviceAction {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.to_string().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!("unknown action '{text}': use connect, publish, subscribe or receive")
            })
    }
}
