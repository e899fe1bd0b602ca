//! What the console has read from the fleet, and the background readers and tasks that fill it
//! (connectivity, refusals, violations): every screen reads it, `update` folds answers into it,
//! and none of it is what a screen shows of it (a cursor, a filter, a scroll).

pub mod connectivity;
pub mod denied;
pub mod tasks;
pub mod violations;

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::fleet::inventory::{CertificateReport, PolicyReport, ThingReport};
use crate::fleet::model::{Certificate, CertificateSummary, Connectivity, PolicySummary, Shadow};
use crate::tui::msg::FleetEvent;
use crate::tui::things::listed::ListedThings;

/// A shadow: its Thing, and its name (None: the classic shadow).
pub type ShadowKey = (String, Option<String>);

/// Something loading, loaded, or failed (with the message to show).
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(String),
}

impl<T> Load<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Self::Ready(value) => Some(value),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Things,
    Certificates,
    Policies,
}

/// The history on the `History` report: of which resource, and what was read.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryView {
    pub resource: String,
    pub load: Load<crate::fleet::history::History>,
}

/// A loaded list and how its loading goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<Items> {
    pub items: Items,
    pub loading: bool,
    pub loaded_once: bool,
    pub error: Option<String>,
    /// Bumped by a refresh, so pages of an older listing are ignored.
    pub generation: u64,
}

impl<Items: Default> Default for Listing<Items> {
    fn default() -> Self {
        Self {
            items: Items::default(),
            loading: false,
            loaded_once: false,
            error: None,
            generation: 0,
        }
    }
}

/// Everything read from the fleet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetData {
    /// The AWS account of the credentials, once known.
    pub account: Option<String>,
    pub things: Listing<ListedThings>,
    /// The listed Things' usual ARN prefix ("arn:aws:iot:REGION:ACCOUNT:thing/"), from the
    /// first one listed: a Thing keeps its ARN only when it is not this and its name.
    pub thing_arn_prefix: String,
    pub certificates: Listing<Vec<CertificateSummary>>,
    pub policies: Listing<Vec<PolicySummary>>,
    /// Principal ARNs per Thing, loaded for the rows on screen.
    pub principals: HashMap<String, Load<Vec<String>>>,
    /// Described certificates by id, loaded for the rows on screen.
    pub certificate_details: HashMap<String, Load<Certificate>>,
    /// Things per certificate ARN, loaded for the certificate rows on screen.
    pub certificate_things: HashMap<String, Load<Vec<String>>>,
    pub thing_reports: HashMap<String, Load<ThingReport>>,
    /// Shadow names per Thing ("classic" first when it exists), for the Thing screen.
    pub thing_shadows: HashMap<String, Load<Vec<String>>>,
    /// The topic rules reading each Thing's topics (`fleet/rules.rs`).
    pub thing_rules: HashMap<String, Load<Vec<crate::fleet::rules::TopicRule>>>,
    pub certificate_reports: HashMap<String, Load<CertificateReport>>,
    pub policy_reports: HashMap<String, Load<PolicyReport>>,
    /// Connectivity of the Things on screen, and when each was last asked for.
    pub connectivity: HashMap<String, (Load<Connectivity>, OffsetDateTime)>,
    /// Why connectivity is unknown, said once (fleet indexing's connectivity off, ...).
    pub connectivity_note: Option<String>,
    /// Things whose connectivity is being asked (the last answer stays shown meanwhile).
    pub connectivity_asking: std::collections::HashSet<String>,
    /// Status answers since the Things rows were last computed (recomputed at the next tick
    /// when the filter or sort follows them).
    pub status_changes: u32,
    /// The last audit, once `:audit` ran.
    pub audit: Option<Load<crate::fleet::audit::AuditReport>>,
    /// Who AWS IoT refused, read since the console opened.
    pub denied: crate::tui::data::denied::DeniedView,
    /// Device Defender Detect's active violations.
    pub violations: crate::tui::data::violations::ViolationsView,
    /// The history report's resource and events.
    pub history: Option<HistoryView>,
    /// Every isolated Thing (`:quarantined`), once asked for.
    pub isolations: Option<Load<crate::fleet::quarantine::register::Register>>,
    /// What each loaded Thing may do on its own topics, worked out when its report arrives.
    pub own_permissions: HashMap<String, Vec<crate::fleet::permissions::Answer>>,
    /// AWS's answers (TestAuthorization) to the same question, on AWS only.
    pub aws_asked: HashMap<String, Load<Vec<crate::fleet::permissions::AwsAnswer>>>,
    /// Things the policies in force isolate (calls growing with the quarantines; asked again
    /// after a run, and every `quarantine::RECHECK` for quarantines made elsewhere).
    pub quarantined: std::collections::HashSet<String>,
    /// Things a quarantine holds, or the deny-all reaches, that can act: NOT ISOLATED, with why.
    pub not_isolated: HashMap<String, String>,
    /// The journal's open holds, by Thing.
    pub holds: HashMap<String, Vec<crate::fleet::model::Hold>>,
    /// When the quarantined Things were asked for (false) or last answered (true).
    pub quarantined_asked: Option<(OffsetDateTime, bool)>,
    /// Shadows by Thing and name (None: classic), loaded when their screen opens.
    pub shadows: HashMap<ShadowKey, Load<Shadow>>,
}

/// What an answer that is only data left to say: nothing, or an error for the status line.
#[derive(Debug)]
pub enum Absorbed {
    Kept(Option<String>),
    /// Not plain data: a screen or flow takes it (`update::arrived`).
    Not(Box<FleetEvent>),
}

fn error_of<T>(result: &Result<T, String>) -> Option<String> {
    result.as_ref().err().cloned()
}

fn into_load<T>(result: Result<T, String>) -> Load<T> {
    match result {
        Ok(value) => Load::Ready(value),
        Err(error) => Load::Failed(error),
    }
}

impl FleetData {
    /// Keeps an answer that only fills the data (a report, a certificate, an account...);
    /// hands back any other.
    pub fn absorb(&mut self, event: FleetEvent, now: OffsetDateTime) -> Absorbed {
        let say = match event {
            FleetEvent::Certificate { id, result } => {
                self.certificate_details.insert(id, into_load(result));
                None
            }
            FleetEvent::CertificateThings { arn, result } => {
                self.certificate_things.insert(arn, into_load(result));
                None
            }
            FleetEvent::ThingReport { name, result } => {
                if let Ok(report) = &result {
                    let checks = crate::fleet::permissions::own_checks(&name);
                    let own = crate::fleet::permissions::evaluate_all(report, &checks, now);
                    self.own_permissions.insert(name.clone(), own);
                }
                let say = error_of(&result);
                self.thing_reports.insert(name, into_load(result));
                say
            }
            FleetEvent::History { resource, history } => {
                if let Some(view) = self.history.as_mut().filter(|v| v.resource == resource) {
                    view.load = Load::Ready(*history);
                }
                None
            }
            FleetEvent::ThingRules { name, result } => {
                self.thing_rules.insert(name, into_load(result));
                None
            }
            FleetEvent::ThingShadows { name, result } => {
                self.thing_shadows.insert(name, into_load(result));
                None
            }
            FleetEvent::CertificateReport { id, result } => {
                let say = error_of(&result);
                self.certificate_reports.insert(id, into_load(result));
                say
            }
            FleetEvent::PolicyReport { name, result } => {
                let say = error_of(&result);
                self.policy_reports.insert(name, into_load(result));
                say
            }
            FleetEvent::Account(result) => {
                match result {
                    Ok(account) => self.account = Some(account),
                    Err(error) => tracing::warn!(%error, "cannot tell the AWS account"),
                }
                None
            }
            FleetEvent::Audit(result) => {
                let say = error_of(&result).map(|error| format!("the audit failed: {error}"));
                self.audit = Some(into_load(result));
                say
            }
            FleetEvent::AwsAnswered { thing, result } => {
                self.aws_asked.insert(thing, into_load(result));
                None
            }
            FleetEvent::Isolations(result) => {
                let say = error_of(&result)
                    .map(|error| format!("cannot list the quarantined Things: {error}"));
                self.isolations = Some(into_load(result));
                say
            }
            event => return Absorbed::Not(Box::new(event)),
        };
        Absorbed::Kept(say)
    }

    /// Whether what is loaded says the Thing is quarantined: its certificate carries the
    /// deny-all policy, or (once its report is loaded) a policy's default version is deny-all.
    #[must_use]
    pub fn is_quarantined(&self, thing: &str) -> bool {
        match self.thing_reports.get(thing) {
            Some(Load::Ready(report)) => report.is_quarantined(),
            _ => self.quarantined.contains(thing),
        }
    }

    /// Why a Thing under quarantine can act (NOT ISOLATED): from its report once loaded (with
    /// its holds), else from the fleet-wide answer.
    #[must_use]
    pub fn not_isolated(&self, thing: &str) -> Option<String> {
        let holds = self.holds.get(thing).map_or(&[][..], Vec::as_slice);
        match self.thing_reports.get(thing) {
            Some(Load::Ready(report)) => {
                match crate::fleet::quarantine::register::status_of(report, holds) {
                    Some(("NOT ISOLATED", why)) => Some(why),
                    _ => None,
                }
            }
            _ => self.not_isolated.get(thing).cloned(),
        }
    }

    /// Number of items in a list.
    #[must_use]
    pub fn list_len(&self, kind: ListKind) -> usize {
        match kind {
            ListKind::Things => self.things.items.len(),
            ListKind::Certificates => self.certificates.items.len(),
            ListKind::Policies => self.policies.items.len(),
        }
    }
}

#[cfg(test)]
mod tests;
