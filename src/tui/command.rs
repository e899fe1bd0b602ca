//! The `:` command line: its commands, and Tab completing commands and names.

use super::msg::Effect;
use super::state::{Level, Link, ListKind, Report, State};
use super::{select, traffic};
use crate::fleet::model::certificate_id_from_arn;

use super::list::open_list;
use super::navigate::{follow, open_report};

/// The commands of the `:` line, for completion and help.
const COMMANDS: [&str; 17] = [
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
            follow(state, Link::Certificate(id))
        }
        ("traffic", "") => {
            done(state);
            traffic::open_all(state)
        }
        ("audit", "") => {
            done(state);
            open_report(state, Report::Audit)
        }
        ("denied", "") => {
            done(state);
            open_report(state, Report::Denied)
        }
        ("quarantined", "") => {
            done(state);
            open_report(state, Report::Quarantined)
        }
        ("violations", "") => {
            done(state);
            open_report(state, Report::Violations)
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

/// Tab on the command line: completes a command, then a Thing, policy or theme name.
pub fn complete(state: &mut State) {
    let Some(input) = &state.input else { return };
    let text = input.text.clone();
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
            let names: Vec<String> = match verb {
                "thing" => state.things.items.iter().map(|t| t.name.clone()).collect(),
                "policy" => state
                    .policies
                    .items
                    .iter()
                    .map(|p| p.name.clone())
                    .collect(),
                "cert" => state
                    .certificates
                    .items
                    .iter()
                    .map(|c| c.id.clone())
                    .collect(),
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
        [] => {
            state.say(Level::Warning, format!("no completion for '{text}'"));
            return;
        }
        [only] => format!("{prefix}{only}{}", if prefix.is_empty() { " " } else { "" }),
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
}
