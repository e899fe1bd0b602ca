//! The `:` command line: its commands, and Tab completing commands and names.

use crate::fleet::model::certificate_id_from_arn;
use crate::tui::data::ListKind;
use crate::tui::msg::Effect;
use crate::tui::msg::Level;
use crate::tui::state::{Link, Report, Screen, State};
use crate::tui::things::select;
use crate::tui::traffic;

use crate::tui::frame::line::zone_name;
use crate::tui::navigate::{follow, open_report};
use crate::tui::things::list::{load_listing, open_list};
use crate::tui::things::rows::set_filter;

/// The commands of the `:` line, for completion and help.
const COMMANDS: [&str; 20] = [
    "things",
    "search",
    "mark",
    "unmark",
    "certs",
    "policies",
    "thing",
    "policy",
    "cert",
    "traffic",
    "audit",
    "denied",
    "quarantined",
    "violations",
    "theme",
    "time",
    "profile",
    "region",
    "help",
    "quit",
];

pub fn command(state: &mut State, text: &str) -> Vec<Effect> {
    let (verb, argument) = text
        .split_once(' ')
        .map_or((text, ""), |(v, a)| (v, a.trim()));
    let done = |state: &mut State| state.input = None;
    match (verb, argument) {
        ("q" | "quit" | "q!", _) => {
            done(state);
            state.quit = true;
            Vec::new()
        }
        ("things", "") => {
            done(state);
            open_list(state, ListKind::Things)
        }
        ("certs" | "certificates", "") => {
            done(state);
            open_list(state, ListKind::Certificates)
        }
        ("policies", "") => {
            done(state);
            open_list(state, ListKind::Policies)
        }
        ("help", "") => {
            done(state);
            state.help = true;
            Vec::new()
        }
        ("thing", name) if !name.is_empty() => {
            done(state);
            follow(state, Link::Thing(name.to_owned()))
        }
        ("policy", name) if !name.is_empty() => {
            done(state);
            follow(state, Link::Policy(name.to_owned()))
        }
        ("cert", id) if !id.is_empty() => {
            let id = certificate_id_from_arn(id).unwrap_or(id).to_owned();
            done(state);
            certificate(state, &id)
        }
        ("traffic", "") => {
            done(state);
            traffic::open_all(state)
        }
        (report @ ("audit" | "denied" | "quarantined" | "violations"), "") => {
            done(state);
            let report = match report {
                "audit" => Report::Audit,
                "denied" => Report::Denied,
                "quarantined" => Report::Quarantined,
                _ => Report::Violations,
            };
            open_report(state, report)
        }
        ("traffic", thing) => {
            done(state);
            traffic::open_for(state, Some(thing.to_owned()))
        }
        ("search", query) if !query.is_empty() => {
            done(state);
            select::search(state, query)
        }
        ("mark", rest) if rest.starts_with("group ") => {
            let group = rest["group ".len()..].trim().to_owned();
            done(state);
            select::mark_group(state, &group)
        }
        ("unmark", "") => {
            done(state);
            select::clear(state);
            Vec::new()
        }
        ("time", zone @ ("utc" | "local")) => {
            done(state);
            show_times(state, zone == "local");
            Vec::new()
        }
        ("profile", name) if !name.is_empty() => {
            let name = name.to_owned();
            switch(state, Some(name), None)
        }
        ("region", name) if !name.is_empty() => {
            let name = name.to_owned();
            switch(state, None, Some(name))
        }
        ("theme", name) if !name.is_empty() => {
            done(state);
            vec![Effect::SetTheme(name.to_owned())]
        }
        _ => {
            // The typed text stays on the line, to be corrected.
            state.say(
                Level::Error,
                format!("unknown command '{text}': try {}", COMMANDS.join(", ")),
            );
            Vec::new()
        }
    }
}

/// `:profile NAME` or `:region NAME`: the console connects again there, in place (the AWS
/// config's profile, with its own region unless `:region` follows; `--endpoint-url` stays). A
/// name the AWS config does not have is refused with the ones it has; the local IoT Core has
/// neither.
fn switch(state: &mut State, profile: Option<String>, region: Option<String>) -> Vec<Effect> {
    if state.backend == crate::tui::state::Backend::Local {
        state.say(
            Level::Error,
            "the local IoT Core has no AWS profiles or regions: run iotfleet without --local",
        );
        return Vec::new();
    }
    if state.switching.is_some() {
        state.say(Level::Warning, "a switch is already in progress");
        return Vec::new();
    }
    // A change in flight reports on the connection that makes it: it is seen to its end first.
    if state.flow.is_some() || state.edit.is_some() {
        state.say(
            Level::Warning,
            "a quarantine, release or shadow edit is open: finish or close it (Esc) first",
        );
        return Vec::new();
    }
    if let Some(name) = &profile
        && !state.profiles.names.contains(name)
    {
        let known = if state.profiles.names.is_empty() {
            "the AWS config names none (~/.aws/config, ~/.aws/credentials)".to_owned()
        } else {
            format!("known: {}", state.profiles.names.join(", "))
        };
        state.say(Level::Error, format!("no AWS profile '{name}': {known}"));
        return Vec::new();
    }
    if let Some(name) = &region
        && !crate::fleet::profiles::looks_like_region(name)
    {
        state.say(
            Level::Error,
            format!("'{name}' is not a region name (as in eu-west-1); Tab completes them"),
        );
        return Vec::new();
    }
    state.input = None;
    let target = match (&profile, &region) {
        (Some(profile), _) => format!("profile {profile}"),
        (None, Some(region)) => format!("region {region}"),
        (None, None) => return Vec::new(),
    };
    state.say(Level::Info, format!("connecting to {target}…"));
    state.switching = Some(target);
    vec![Effect::Reconnect { profile, region }]
}

/// `:time local` and `:time utc`: where times are shown from now on.
fn show_times(state: &mut State, local: bool) {
    if !local {
        state.zone = time::UtcOffset::UTC;
        state.say(Level::Info, "times in UTC");
        return;
    }
    match state.local_zone {
        Some(zone) => {
            state.zone = zone;
            state.say(
                Level::Info,
                format!("times in local time, {}", zone_name(zone)),
            );
        }
        None => state.say(
            Level::Warning,
            "the local offset could not be read (set TZ); times stay in UTC",
        ),
    }
}

/// A certificate's id is 64 hex digits, where the screens show its first 16.
const ID_LENGTH: usize = 64;

/// `:cert ID`: the whole id opens it; a shorter one opens the one known certificate it starts,
/// else the certificates list filtered by it (loading the list when it has not been), so an id
/// copied from a screen's 16 digits is enough.
fn certificate(state: &mut State, id: &str) -> Vec<Effect> {
    let id = id.to_ascii_lowercase();
    if id.len() == ID_LENGTH {
        return follow(state, Link::Certificate(id));
    }
    let matching: Vec<String> = certificate_ids(state)
        .into_iter()
        .filter(|known| known.starts_with(&id))
        .collect();
    if let [only] = matching.as_slice() {
        return follow(state, Link::Certificate(only.clone()));
    }
    // The filter first, then the rows on screen are described: only those it shows.
    if !matches!(state.screen(), Screen::List(ListKind::Certificates, _)) {
        state.screens.push(Screen::list(ListKind::Certificates));
    }
    let mut effects = load_listing(state, ListKind::Certificates);
    set_filter(state, &id);
    effects.extend(crate::tui::things::list::visible_loads(state));
    if matching.len() > 1 {
        state.say(
            Level::Info,
            format!(
                "{} certificates start with {id}: choose one",
                matching.len()
            ),
        );
    }
    effects
}

/// Every certificate id the console knows: the listing's and those of the Things it has read.
fn certificate_ids(state: &State) -> Vec<String> {
    let mut ids: Vec<String> = state
        .fleet
        .certificates
        .items
        .iter()
        .map(|c| c.id.clone())
        .chain(state.fleet.thing_reports.values().flat_map(|load| {
            match load {
                crate::tui::data::Load::Ready(report) => report
                    .certificates
                    .iter()
                    .map(|c| c.certificate.id.clone())
                    .collect(),
                _ => Vec::new(),
            }
        }))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Tab on the command line: completes a command, then a Thing (`thing`, `traffic`), policy,
/// certificate or theme name. Completing a policy or certificate loads that listing once, when
/// it has not been, and says so.
pub fn complete(state: &mut State) -> Vec<Effect> {
    let Some(input) = &state.input else {
        return Vec::new();
    };
    let text = input.text.clone();
    let mut effects = Vec::new();
    let (candidates, prefix): (Vec<String>, String) = match text.split_once(' ') {
        None => (
            COMMANDS
                .iter()
                .filter(|c| c.starts_with(&text))
                .map(|c| (*c).to_owned())
                .collect(),
            String::new(),
        ),
        Some((verb, partial)) => {
            let listing = match verb {
                "policy" => Some(ListKind::Policies),
                "cert" => Some(ListKind::Certificates),
                _ => None,
            };
            if let Some(kind) = listing {
                effects = load_listing(state, kind);
            }
            let names: Vec<String> = match verb {
                "thing" | "traffic" => state
                    .fleet
                    .things
                    .items
                    .iter()
                    .map(|t| t.name().to_owned())
                    .collect(),
                "policy" => state
                    .fleet
                    .policies
                    .items
                    .iter()
                    .map(|p| p.name.clone())
                    .collect(),
                "cert" => certificate_ids(state),
                "time" => vec!["local".to_owned(), "utc".to_owned()],
                "profile" => state.profiles.names.clone(),
                "region" => state.profiles.regions.clone(),
                "theme" => crate::config::files::THEMES
                    .iter()
                    .map(|(n, _)| (*n).to_owned())
                    .collect(),
                _ => Vec::new(),
            };
            (
                names
                    .into_iter()
                    .filter(|n| n.starts_with(partial))
                    .take(1000)
                    .collect(),
                format!("{verb} "),
            )
        }
    };
    let completed = match candidates.as_slice() {
        [] if !effects.is_empty() => {
            state.say(
                Level::Info,
                "loading the names to complete; press Tab again",
            );
            return effects;
        }
        [] => {
            state.say(Level::Warning, format!("no completion for '{text}'"));
            return effects;
        }
        [only] => {
            // What an earlier Tab said ("loading…", the candidates) no longer holds.
            state.message = None;
            format!("{prefix}{only}{}", if prefix.is_empty() { " " } else { "" })
        }
        many => {
            let common = many.iter().skip(1).fold(many[0].clone(), |acc, n| {
                acc.chars()
                    .zip(n.chars())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect()
            });
            let shown: Vec<&str> = many.iter().take(8).map(String::as_str).collect();
            let more = if many.len() > 8 {
                format!(" … {} more", many.len() - 8)
            } else {
                String::new()
            };
            state.say(Level::Info, format!("{}{more}", shown.join("  ")));
            format!("{prefix}{common}")
        }
    };
    if let Some(input) = &mut state.input {
        input.text = completed;
    }
    effects
}
