//! `w` on a Thing: "may it ACTION TARGET?", answered by the local policy engine from its loaded
//! report, and on AWS asked of AWS (TestAuthorization) too.

use crate::fleet::permissions::{self, DeviceAction};
use crate::tui::data::{ListKind, Load};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, Request};
use crate::tui::navigate::open;
use crate::tui::state::{InputKind, Screen, State};
use crate::tui::things::list::selected_index;

/// `w` on a Thing, or on the Things list (which opens the selected Thing first): the question
/// line, empty, offering the Thing's telemetry topic as its placeholder.
pub fn ask_prompt(state: &mut State) -> Vec<Effect> {
    let effects = match state.screen() {
        Screen::Thing { .. } => Vec::new(),
        Screen::List(ListKind::Things, _) if selected_index(state).is_some() => open(state),
        _ => {
            state.say(
                Level::Info,
                "open a Thing to ask what it may do (connect, publish, subscribe, receive)",
            );
            return Vec::new();
        }
    };
    if let Screen::Thing { name, .. } = state.screen() {
        let topic = crate::fleet::rules::device_topics(name)
            .into_iter()
            .next()
            .unwrap_or_default();
        state.prompt_suggesting(InputKind::Can, format!("publish {topic}"));
    }
    effects
}

/// `ACTION TARGET` about the Thing on screen, answered by the local policy engine from its
/// loaded report; a mistake keeps the text on the line with the reason.
pub fn ask(state: &mut State, text: &str) -> Vec<Effect> {
    let Screen::Thing { name, .. } = state.screen() else {
        return Vec::new();
    };
    let name = name.clone();
    let Some(Load::Ready(report)) = state.fleet.thing_reports.get(&name) else {
        state.say(Level::Warning, "the Thing is still loading");
        return Vec::new();
    };
    let (action, target) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    let action: DeviceAction = match action.parse() {
        Ok(action) => action,
        Err(reason) => {
            state.say(Level::Error, reason);
            return Vec::new();
        }
    };
    let target = target.trim();
    if target.is_empty() {
        state.say(
            Level::Error,
            "say what: a topic, a topic filter or a client id",
        );
        return Vec::new();
    }
    let answers = permissions::evaluate_for(report, action, target, state.now);
    let summary = match answers.iter().find(|a| a.cannot_connect.is_none()) {
        _ if answers.is_empty() => format!("{name} has no certificate: it may do nothing"),
        Some(answer) if answer.allowed => format!("{name} may {action} {target}: ALLOWED"),
        None => format!(
            "{name} may not {action} {target}: no certificate of it can connect ({})",
            answers
                .iter()
                .filter_map(|a| a.cannot_connect.as_deref())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("{name} may not {action} {target}"),
    };
    state.input = None;
    state.say(Level::Info, summary);
    state.asked.insert(name.clone(), answers);
    if matches!(state.backend, crate::tui::state::Backend::Aws { .. }) {
        state.fleet.aws_asked.insert(name.clone(), Load::Loading);
        return vec![Effect::Request(Request::AskAws {
            thing: name,
            action,
            target: target.to_owned(),
        })];
    }
    state.fleet.aws_asked.remove(&name);
    Vec::new()
}
