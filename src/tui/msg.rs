//! The console's messages, in a leaf module every part of it may import: `Msg` (everything that
//! changes the state), `FleetEvent` (what a request brought back), `Request` (I/O the task runner
//! starts, whose result comes back as a `FleetEvent`) and `Effect` (what `update` asks for: a
//! request, or something only the console's loop can do).

use time::OffsetDateTime;

use crate::fleet::audit::AuditReport;
use crate::fleet::denied::LogEvent;
use crate::fleet::inventory::{CertificateReport, PolicyReport, ThingReport};
use crate::fleet::model::{
    Certificate, CertificateSummary, Connectivity, PolicySummary, Shadow, ThingPage,
};
use crate::fleet::permissions::{AwsAnswer, DeviceAction};
use crate::fleet::quarantine::Options;
use crate::fleet::quarantine::Strategy;
use crate::fleet::quarantine::register::Register;
use crate::fleet::quarantine::run::{Prepared, Report, Verb};
use crate::fleet::traffic::TrafficEvent;
use crate::tui::action::Action;

/// Everything that can change the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Action(Action),
    /// A left click on a screen row (0 is the top line); `double` when it repeats the click
    /// before on that row within 400 ms.
    Click {
        row: u16,
        double: bool,
    },
    /// A character typed into the filter or command line.
    Typed(char),
    /// Backspace in the filter or command line.
    Erase,
    /// Ctrl-U in the filter or command line.
    ClearInput,
    /// Boxed: reports are large and messages are many.
    Fleet(Box<FleetEvent>),
    /// From the live MQTT connection.
    Traffic(TrafficEvent),
    /// The shadow editor's text, after each key.
    EditText(String),
    /// A slice more of a list's filter still being matched (`State::matching`); the loop sends
    /// it between frames while there is one.
    Match,
    Tick {
        now: OffsetDateTime,
        throttled: u64,
    },
    Resize {
        width: u16,
        height: u16,
    },
    /// The console's configuration, once at start.
    Configure(Box<Setup>),
    /// The live MQTT connection was started towards `target` (`HOST:PORT`), or could not be
    /// (`down` says why).
    TrafficStarted {
        target: Option<String>,
        down: Option<String>,
    },
    /// Something the console's loop did itself (the clipboard, a theme, a subscription) and the
    /// status line should say.
    Note {
        level: Level,
        text: String,
    },
}

/// What the console starts with, from its options and configuration files.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// The traffic history's memory budget, in bytes.
    pub history_budget: usize,
    /// The keys prompts name, from the keymap.
    pub answer_keys: AnswerKeys,
    /// How many lines the `?` help has with this keymap.
    pub help_lines: usize,
    /// The AWS profiles and regions `:profile` and `:region` offer (none on the local core).
    pub profiles: crate::fleet::profiles::Profiles,
    pub quarantine_strategy: Strategy,
    /// Problems in the configuration files, shown as the first message.
    pub problems: Vec<String>,
}

/// Results of effects. Errors are the messages to show (access denied names the IAM action).
#[derive(Debug, Clone, PartialEq)]
pub enum FleetEvent {
    ThingsPage {
        generation: u64,
        result: Result<ThingPage, String>,
    },
    Certificates {
        generation: u64,
        result: Result<Vec<CertificateSummary>, String>,
    },
    Policies {
        generation: u64,
        result: Result<Vec<PolicySummary>, String>,
    },
    Principals {
        thing: String,
        result: Result<Vec<String>, String>,
    },
    Certificate {
        id: String,
        result: Result<Certificate, String>,
    },
    CertificateThings {
        arn: String,
        result: Result<Vec<String>, String>,
    },
    ThingReport {
        name: String,
        result: Result<ThingReport, String>,
    },
    Shadow {
        thing: String,
        name: Option<String>,
        result: Result<Shadow, String>,
    },
    /// The answer to UpdateShadow: the accepted document, or (whether it was a version
    /// conflict, the message).
    /// A confirmed publish went through the mutation path; `error` says why it did not.
    Published {
        topic: String,
        error: Option<String>,
    },
    ShadowUpdated {
        result: Result<serde_json::Value, (bool, String)>,
        /// Set when the journal could not be written.
        journal_error: Option<String>,
    },
    ThingShadows {
        name: String,
        result: Result<Vec<String>, String>,
    },
    /// A resource's control-plane history (CloudTrail and the journal).
    History {
        resource: String,
        history: Box<crate::fleet::history::History>,
    },
    /// The topic rules reading a Thing's topics.
    ThingRules {
        name: String,
        result: Result<Vec<crate::fleet::rules::TopicRule>, String>,
    },
    CertificateReport {
        id: String,
        result: Result<CertificateReport, String>,
    },
    PolicyReport {
        name: String,
        result: Result<PolicyReport, String>,
    },
    /// A Thing's connectivity, or why it is unknown.
    Connectivity {
        thing: String,
        result: Result<Connectivity, String>,
    },
    Account(Result<String, String>),
    /// Log events of refusals from a `startTime`, or why they cannot be read.
    Refusals(Result<Vec<LogEvent>, String>),
    /// Every isolated Thing, with the journal's who, when and why.
    Isolations(Result<Register, String>),
    /// Device Defender Detect's active violations, or why they cannot be read.
    Violations(Result<crate::fleet::violations::Violations, String>),
    /// Quarantine and release: plans, progress, results.
    Quarantine(QuarantineEvent),
    Searched {
        query: String,
        result: Result<Vec<String>, SearchFailure>,
    },
    GroupMembers {
        group: String,
        result: Result<Vec<String>, String>,
    },
    Audit(Result<AuditReport, String>),
    AwsAnswered {
        thing: String,
        result: Result<Vec<AwsAnswer>, String>,
    },
}

/// Why a search gave no names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchFailure {
    /// The account has no fleet index: why, with the command that turns it on.
    NoIndex(String),
    /// The query is not valid: where and why.
    Invalid(String),
    Other(String),
}

/// What the quarantine and release tasks report back.
#[derive(Debug, Clone, PartialEq)]
pub enum QuarantineEvent {
    /// A batch plan of the marked Things (or why there is none).
    BulkPlanned(Result<Box<crate::fleet::quarantine::batch::BatchPlan>, String>),
    /// A Thing of the running batch finished: `done` of `total`.
    BulkProgress {
        done: usize,
        total: usize,
        last: crate::fleet::quarantine::batch::ThingResult,
    },
    BulkDone(Result<Box<crate::fleet::quarantine::batch::BatchReport>, String>),
    /// Every Thing under quarantine, isolated or not, with its holds.
    Quarantined(Result<Box<crate::fleet::quarantine::register::Statuses>, String>),
    Planned {
        thing: String,
        result: Result<Box<Prepared>, String>,
    },
    /// Step `index` of a run started (`detail` None) or completed; more events follow.
    Progress {
        thing: String,
        index: usize,
        detail: Option<String>,
    },
    Done {
        thing: String,
        result: Result<Box<Report>, String>,
    },
}

/// I/O for the task runner to start; its result arrives as a `FleetEvent` (and counts as in
/// flight until it does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    ListThings {
        generation: u64,
    },
    /// A fleet indexing search (`:search`).
    Search {
        query: String,
    },
    /// The members of a Thing group, to mark them.
    GroupMembers {
        group: String,
    },
    ListCertificates {
        generation: u64,
    },
    ListPolicies {
        generation: u64,
    },
    LoadPrincipals(String),
    DescribeCertificate(String),
    /// The Things of a certificate, by ARN.
    LoadCertificateThings(String),
    LoadThingReport(String),
    LoadThingShadows(String),
    /// The topic rules whose `FROM` filter matches the Thing's topics.
    LoadThingRules(String),
    /// Who changed a Thing, certificate or policy (CloudTrail LookupEvents and the journal).
    LoadHistory(String),
    LoadShadow {
        thing: String,
        name: Option<String>,
    },
    LoadCertificateReport(String),
    LoadPolicyReport(String),
    /// Whether a Thing's device is connected (GetThingConnectivityData).
    LoadConnectivity(String),
    /// Which AWS account the credentials belong to.
    LoadAccount,
    /// Refusals logged from `start_ms` on (FilterLogEvents on AWSIotLogsV2).
    LoadRefusals {
        start_ms: i64,
    },
    /// Every isolated Thing, judged by the policies in force, with the journal's records.
    LoadIsolations,
    /// Device Defender Detect's active violations (ListActiveViolations).
    LoadViolations,
    /// Apply a reviewed desired-state edit (journaled with `before`).
    UpdateShadow {
        thing: String,
        name: Option<String>,
        /// The patch: new values, `null` for removed keys.
        desired: serde_json::Value,
        /// The version the edit started from; a newer shadow is a conflict.
        version: Option<u64>,
        before: serde_json::Value,
    },
    /// Which Things carry the deny-all policy.
    LoadQuarantined,
    /// Run the audit over the whole fleet.
    LoadAudit,
    /// Ask AWS (TestAuthorization) what the local engine was asked about a Thing.
    AskAws {
        thing: String,
        action: DeviceAction,
        target: String,
    },
    /// Gather the facts and plan a quarantine or release.
    PlanQuarantine {
        verb: Verb,
        thing: String,
        /// For a quarantine: strategy and whether certificates are deactivated too.
        options: Options,
    },
    /// Carry out a confirmed plan (journaled step by step).
    RunQuarantine(Box<Prepared>),
    /// Plan the quarantine or release of the marked Things as one batch.
    PlanBulk {
        verb: Verb,
        things: Vec<String>,
        options: Options,
    },
    /// Carry out a confirmed batch plan.
    RunBulk {
        plan: Box<crate::fleet::quarantine::batch::BatchPlan>,
        options: Options,
    },
}

/// What `update` asks for: a request for the task runner, or what only the console's loop can
/// do (the clipboard, the theme, the MQTT connection, the editors, a confirmed publish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Request(Request),
    /// Connect again as another AWS profile or in another region (`:profile`, `:region`);
    /// None keeps the profile, or takes the new profile's region.
    Reconnect {
        profile: Option<String>,
        region: Option<String>,
    },
    /// Write text to the clipboard (OSC 52).
    Copy(String),
    /// Switch to a shipped theme.
    SetTheme(String),
    /// Start the live MQTT connection (once).
    TrafficConnect,
    Subscribe(String),
    Unsubscribe(String),
    /// Show the embedded editor with this text.
    OpenEditor(String),
    /// Edit this text in `$EDITOR` (the console suspends the terminal), then in the embedded one.
    ExternalEditor(String),
    /// Publish, already confirmed; the console journals it.
    Publish {
        topic: String,
        payload: String,
        qos: u8,
    },
}

impl From<Request> for Effect {
    fn from(request: Request) -> Self {
        Self::Request(request)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// The keys that answer a confirmation, as the keymap's `[confirm]` and `[input]` layers bind
/// them, for the prompts that name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerKeys {
    pub yes: String,
    pub no: String,
    /// The input layer's confirm and cancel (Enter, Esc), and complete (Tab).
    pub confirm: String,
    pub cancel: String,
    pub complete: String,
    pub mine: String,
    pub theirs: String,
}

impl AnswerKeys {
    /// The cancel key as a sentence names it: `Esc` for `<Esc>`.
    #[must_use]
    pub fn esc(&self) -> &str {
        prose(&self.cancel)
    }

    /// The confirm key as a sentence names it: `Enter` for `<Enter>`.
    #[must_use]
    pub fn enter(&self) -> &str {
        prose(&self.confirm)
    }
}

fn prose(key: &str) -> &str {
    key.strip_prefix('<')
        .and_then(|k| k.strip_suffix('>'))
        .unwrap_or(key)
}

impl Default for AnswerKeys {
    /// The default keymap's (a test checks they agree).
    fn default() -> Self {
        Self {
            yes: "y".into(),
            no: "n".into(),
            confirm: "<Enter>".into(),
            cancel: "<Esc>".into(),
            complete: "<Tab>".into(),
            mine: "m".into(),
            theirs: "t".into(),
        }
    }
}
