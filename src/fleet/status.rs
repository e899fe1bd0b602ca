//! The status words of a Thing, as `/` in the console and `things --status` match them:
//! quarantined, denied, online, offline, expiring, expired, shared, revoked, inactive; and what
//! each means of one certificate; `matching` asks the service which Things have them.

use std::collections::BTreeSet;

use futures_util::{StreamExt as _, TryStreamExt as _};
use time::OffsetDateTime;

use super::audit::EXPIRING_DAYS;
use super::client::{CONCURRENT_CALLS, FleetClient};
use super::denied;
use super::error::FleetError;
use super::journal::Journal;
use super::model::{Certificate, CertificateStatus, certificate_id_from_arn};
use super::quarantine::register;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Word {
    Quarantined,
    Denied,
    Online,
    Offline,
    Expiring,
    Expired,
    Shared,
    Revoked,
    Inactive,
}

impl Word {
    pub const ALL: [Word; 9] = [
        Word::Quarantined,
        Word::Denied,
        Word::Online,
        Word::Offline,
        Word::Expiring,
        Word::Expired,
        Word::Shared,
        Word::Revoked,
        Word::Inactive,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Word::Quarantined => "quarantined",
            Word::Denied => "denied",
            Word::Online => "online",
            Word::Offline => "offline",
            Word::Expiring => "expiring",
            Word::Expired => "expired",
            Word::Shared => "shared",
            Word::Revoked => "revoked",
            Word::Inactive => "inactive",
        }
    }

    #[must_use]
    pub fn parse(word: &str) -> Option<Word> {
        Word::ALL
            .into_iter()
            .find(|w| w.name().eq_ignore_ascii_case(word))
    }

    /// Whether it is known for every Thing (not only for the rows that were on screen).
    #[must_use]
    pub fn fleet_wide(self) -> bool {
        matches!(self, Word::Quarantined | Word::Denied)
    }
}

/// Whether a certificate gives its Thing the status `word` (for the certificate words).
#[must_use]
pub fn certificate_has(word: Word, certificate: &Certificate, now: OffsetDateTime) -> bool {
    let days = certificate.validity.map(|v| v.days_to_expiry(now));
    match word {
        Word::Revoked => certificate.status == CertificateStatus::Revoked,
        Word::Inactive => certificate.status == CertificateStatus::Inactive,
        Word::Expired => days.is_some_and(|d| d < 0),
        Word::Expiring => {
            certificate.status == CertificateStatus::Active
                && days.is_some_and(|d| (0..EXPIRING_DAYS).contains(&d))
        }
        _ => false,
    }
}

/// Status words separated by commas (`offline,expiring`), for `things --status`.
pub fn parse_list(text: &str) -> Result<Vec<Word>, String> {
    text.split(',')
        .map(|part| {
            Word::parse(part.trim()).ok_or_else(|| {
                let known: Vec<&str> = Word::ALL.iter().map(|w| w.name()).collect();
                format!("'{part}' is not a status: use {}", known.join(", "))
            })
        })
        .collect()
}

/// The refusals counted for `denied`: those of the last hour.
pub const DENIED_WITHIN: time::Duration = time::Duration::hours(1);

/// Keeps the Things of `names` that have every status of `words`, asking the service: the
/// fleet-wide words first (the deny-all policy's reach and `journal`'s holds, the refusals of
/// the last hour), then per remaining Thing its connectivity and its certificates, with bounded
/// concurrency. `quarantined` keeps every Thing under quarantine, isolated or NOT ISOLATED
/// (the listing says which). A status that cannot be known (connectivity without fleet
/// indexing, refusals without IoT logging) is an error saying why, never an empty answer.
pub async fn matching(
    client: &FleetClient,
    journal: &Journal,
    mut names: Vec<String>,
    words: &[Word],
) -> Result<Vec<String>, String> {
    let mut words = words.to_vec();
    words.sort_by_key(|w| !w.fleet_wide());
    for word in words {
        if names.is_empty() {
            break;
        }
        names = match word {
            Word::Quarantined => {
                let under = register::statuses(client, journal)
                    .await
                    .map_err(|e| e.to_string())?
                    .things();
                names.retain(|n| under.contains(n));
                names
            }
            Word::Denied => {
                let since = OffsetDateTime::now_utc() - DENIED_WITHIN;
                let start = i64::try_from(since.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
                let events = client
                    .log_failures(start, None)
                    .await
                    .map_err(|e| e.refusals_unknown(&client.backend().region))?;
                let refused: BTreeSet<String> = events
                    .iter()
                    .filter_map(denied::parse)
                    .map(|r| r.client_id)
                    .collect();
                names.retain(|n| refused.contains(n));
                names
            }
            // Asked per remaining Thing, with bounded concurrency.
            _ => {
                futures_util::stream::iter(names)
                    .map(|name| async move {
                        let keep = if matches!(word, Word::Online | Word::Offline) {
                            let known = client
                                .connectivity(&name)
                                .await
                                .map_err(|e| format!("{name}: {}", e.connectivity_unknown()))?;
                            known.connected == (word == Word::Online)
                        } else {
                            thing_has(client, &name, word)
                                .await
                                .map_err(|e| e.to_string())?
                        };
                        Ok::<_, String>(keep.then_some(name))
                    })
                    .buffered(CONCURRENT_CALLS)
                    .try_filter_map(|kept| async move { Ok(kept) })
                    .try_collect()
                    .await?
            }
        };
    }
    Ok(names)
}

/// Whether one of the Thing's certificates gives it a certificate status word (`shared`: the
/// certificate is attached to another Thing too).
async fn thing_has(client: &FleetClient, thing: &str, word: Word) -> Result<bool, FleetError> {
    let now = OffsetDateTime::now_utc();
    for principal in client.thing_principals(thing).await? {
        let Some(id) = certificate_id_from_arn(&principal) else {
            continue;
        };
        let holds = if word == Word::Shared {
            client.principal_things(&principal).await?.len() > 1
        } else {
            certificate_has(word, &client.describe_certificate(id).await?, now)
        };
        if holds {
            return Ok(true);
        }
    }
    Ok(false)
}
