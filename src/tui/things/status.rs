//! A Thing's status as the console knows it: the words `/` matches (quarantined, online,
//! offline, expiring, expired, shared, revoked, inactive, denied) and the keys `s` sorts by
//! (status, expiry, last seen). Each is true of what is loaded and never guessed: quarantined
//! and denied are known for the whole fleet (one call, and the refusals read all along); the
//! others only for the Things whose connectivity or certificates have been loaded (the rows
//! that were on screen), and a Thing not known to have a status is not matched.

use time::OffsetDateTime;

use crate::fleet::model::{Certificate, certificate_id_from_arn};
pub use crate::fleet::status::Word;
use crate::fleet::status::certificate_has;
use crate::tui::data::Load;
use crate::tui::msg::{FleetEvent, QuarantineEvent};
use crate::tui::state::State;

/// Whether `thing` has the status `word`: None when it is not known.
#[must_use]
pub fn holds(word: Word, state: &State, thing: &str) -> Option<bool> {
    match word {
        Word::Quarantined => {
            Some(state.fleet.is_quarantined(thing) || state.fleet.not_isolated(thing).is_some())
        }
        Word::Denied => state.fleet.denied.count(thing).map(|n| n > 0),
        Word::Online | Word::Offline => match state.fleet.connectivity.get(thing) {
            Some((Load::Ready(known), _)) => Some(known.connected == (word == Word::Online)),
            _ => None,
        },
        Word::Shared => {
            let certificates = certificates(state, thing)?;
            certificates
                .iter()
                .map(|c| match state.fleet.certificate_things.get(&c.arn) {
                    Some(Load::Ready(things)) => Some(things.len() > 1),
                    _ => None,
                })
                .try_fold(false, |any, shared| Some(any || shared?))
        }
        Word::Revoked | Word::Inactive | Word::Expired | Word::Expiring => {
            let certificates = certificates(state, thing)?;
            Some(
                certificates
                    .iter()
                    .any(|c| certificate_has(word, c, state.now)),
            )
        }
    }
}

/// The Thing's certificates, when its principals and each certificate are loaded.
fn certificates<'a>(state: &'a State, thing: &str) -> Option<Vec<&'a Certificate>> {
    let Some(Load::Ready(principals)) = state.fleet.principals.get(thing) else {
        return None;
    };
    principals
        .iter()
        .filter_map(|p| certificate_id_from_arn(p))
        .map(|id| match state.fleet.certificate_details.get(id) {
            Some(Load::Ready(certificate)) => Some(certificate),
            _ => None,
        })
        .collect()
}

/// A filter split into its status words and the text matched fuzzily.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub words: Vec<Word>,
    pub text: String,
}

impl Filter {
    #[must_use]
    pub fn parse(filter: &str) -> Self {
        let mut words = Vec::new();
        let mut text = Vec::new();
        for part in filter.split_whitespace() {
            match Word::parse(part) {
                Some(word) => words.push(word),
                None => text.push(part),
            }
        }
        let text = if words.is_empty() {
            filter.to_owned()
        } else {
            text.join(" ")
        };
        Self { words, text }
    }

    /// Whether `thing` is known to have every status word.
    #[must_use]
    pub fn keeps(&self, state: &State, thing: &str) -> bool {
        self.words
            .iter()
            .all(|w| holds(*w, state, thing) == Some(true))
    }

    /// Whether every word is known for the whole fleet.
    #[must_use]
    pub fn fleet_wide(&self) -> bool {
        self.words.iter().all(|w| w.fleet_wide())
    }
}

/// The sort rank of a Thing's status, most urgent first: quarantined, refused, revoked,
/// expired, inactive, expiring, offline, online, then nothing known.
#[must_use]
pub fn rank(state: &State, thing: &str) -> u8 {
    [
        Word::Quarantined,
        Word::Denied,
        Word::Revoked,
        Word::Expired,
        Word::Inactive,
        Word::Expiring,
        Word::Offline,
        Word::Online,
    ]
    .into_iter()
    .zip(0u8..)
    .find(|(word, _)| holds(*word, state, thing) == Some(true))
    .map_or(8, |(_, rank)| rank)
}

/// Days until the soonest expiry among the Thing's certificates; None when not known.
#[must_use]
pub fn expiry_days(state: &State, thing: &str) -> Option<i64> {
    certificates(state, thing)?
        .iter()
        .filter_map(|c| c.validity.map(|v| v.days_to_expiry(state.now)))
        .min()
}

/// When the device was last seen: now while online, else when it went offline; None when it
/// was never seen or is not known.
#[must_use]
pub fn last_seen(state: &State, thing: &str) -> Option<OffsetDateTime> {
    match state.fleet.connectivity.get(thing) {
        Some((Load::Ready(known), _)) if known.connected => Some(state.now),
        Some((Load::Ready(known), _)) => known.since,
        _ => None,
    }
}

/// How many Things a status word is known for, to say how much a filter saw.
#[must_use]
pub fn known_for(state: &State, filter: &Filter) -> usize {
    state
        .fleet
        .things
        .items
        .iter()
        .filter(|t| {
            filter
                .words
                .iter()
                .all(|w| holds(*w, state, t.name()).is_some())
        })
        .count()
}

/// Whether an answer can change a Thing's status.
#[must_use]
pub fn changed_by(event: &FleetEvent) -> bool {
    matches!(
        event,
        FleetEvent::Connectivity { .. }
            | FleetEvent::Refusals(Ok(_))
            | FleetEvent::Violations(Ok(_))
            | FleetEvent::Principals { .. }
            | FleetEvent::Certificate { .. }
            | FleetEvent::CertificateThings { .. }
            | FleetEvent::Quarantine(QuarantineEvent::Quarantined(_))
    )
}
