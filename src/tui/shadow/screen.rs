//! The Device Shadow screen's logic: opening a Thing's classic or named shadow, loading it, and
//! following it while it is open (on its `update/documents` topic when live traffic runs, and
//! by a refresh every few seconds otherwise), saying so when someone else moves its version.
//! Pure: `update` calls in here, views read the state.

use time::OffsetDateTime;

use crate::fleet::model::Shadow;
use crate::fleet::traffic::TrafficEvent;
use crate::tui::action::Action;
use crate::tui::data::{Load, ShadowKey};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, Request};
use crate::tui::state::{Screen, State};

/// While the screen is open without live traffic, the shadow is read again this often.
pub const REFRESH_SECONDS: i64 = 5;

/// `$aws/things/T/shadow` or `$aws/things/T/shadow/name/N`.
#[must_use]
pub fn topic_prefix(thing: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("$aws/things/{thing}/shadow/name/{name}"),
        None => format!("$aws/things/{thing}/shadow"),
    }
}

/// Opens the shadow screen of the Thing selected (Things list) or shown (Thing screen).
pub fn open_selected(state: &mut State) -> Vec<Effect> {
    let thing = state.selected_thing();
    if let Some(thing) = thing {
        return open(state, thing, None);
    }
    state.say(Level::Info, "select a Thing to see its shadow");
    Vec::new()
}

/// Opens (or switches to) the shadow `name` of `thing`, loading it and its Thing's shadow names.
pub fn open(state: &mut State, thing: String, name: Option<String>) -> Vec<Effect> {
    let mut effects = vec![Effect::Request(Request::LoadShadow {
        thing: thing.clone(),
        name: name.clone(),
    })];
    if !state.fleet.thing_shadows.contains_key(&thing) {
        state
            .fleet
            .thing_shadows
            .insert(thing.clone(), Load::Loading);
        effects.push(Effect::Request(Request::LoadThingShadows(thing.clone())));
    }
    state
        .fleet
        .shadows
        .entry((thing.clone(), name.clone()))
        .or_insert(Load::Loading);
    if state.traffic.started {
        let filter = format!("{}/update/documents", topic_prefix(&thing, name.as_deref()));
        if state.traffic.add(&filter) {
            effects.push(Effect::Subscribe(filter));
        }
    }
    let screen = Screen::Shadow {
        thing,
        name,
        metadata: false,
    };
    if matches!(state.screen(), Screen::Shadow { .. }) {
        *state.screen_mut() = screen;
    } else {
        state.screens.push(screen);
    }
    state.shadow_checked = Some(state.now);
    effects
}

/// The shadow screen's own keys; None when the action is not the screen's to handle.
pub fn act(state: &mut State, action: Action) -> Option<Vec<Effect>> {
    let Screen::Shadow {
        thing,
        name,
        metadata,
    } = state.screen().clone()
    else {
        return None;
    };
    match action {
        Action::NextShadow => {
            let Some(Load::Ready(names)) = state.fleet.thing_shadows.get(&thing) else {
                return Some(Vec::new());
            };
            // The classic shadow (listed as "classic" when it exists) can always be opened.
            let mut choices: Vec<Option<String>> = names
                .iter()
                .map(|n| (n != "classic").then(|| n.clone()))
                .collect();
            if !choices.contains(&None) {
                choices.insert(0, None);
            }
            let index = choices.iter().position(|c| *c == name).map_or(0, |i| i + 1);
            let next = choices[index % choices.len()].clone();
            Some(open(state, thing, next))
        }
        Action::Metadata => {
            *state.screen_mut() = Screen::Shadow {
                thing,
                name,
                metadata: !metadata,
            };
            Some(Vec::new())
        }
        Action::Refresh => {
            state.shadow_checked = Some(state.now);
            Some(vec![Effect::Request(Request::LoadShadow { thing, name })])
        }
        _ => None,
    }
}

/// A shadow arrived: kept, and a version that moved while it was shown is said out loud.
pub fn arrived(
    state: &mut State,
    thing: String,
    name: Option<String>,
    result: Result<Shadow, String>,
) {
    let key = (thing, name);
    let before = match state.fleet.shadows.get(&key) {
        Some(Load::Ready(shadow)) => shadow.version,
        _ => None,
    };
    if let Ok(shadow) = &result
        && let (Some(before), Some(now)) = (before, shadow.version)
        && now > before
    {
        state.say(
            Level::Warning,
            format!("changed by someone else: version {before} → {now}"),
        );
    }
    let load = match result {
        Ok(shadow) => Load::Ready(shadow),
        Err(error) => Load::Failed(error),
    };
    state.fleet.shadows.insert(key, load);
}

/// The shadow on screen, if the screen is a shadow screen.
fn shown(state: &State) -> Option<ShadowKey> {
    match state.screen() {
        Screen::Shadow { thing, name, .. } => Some((thing.clone(), name.clone())),
        _ => None,
    }
}

/// On a clock tick: the shadow on screen is read again when it has not been for a while.
pub fn tick(state: &mut State, now: OffsetDateTime) -> Vec<Effect> {
    let Some((thing, name)) = shown(state) else {
        return Vec::new();
    };
    let due = state
        .shadow_checked
        .is_none_or(|at| (now - at).whole_seconds() >= REFRESH_SECONDS);
    let loading = matches!(
        state.fleet.shadows.get(&(thing.clone(), name.clone())),
        Some(Load::Loading)
    );
    if !due || loading {
        return Vec::new();
    }
    state.shadow_checked = Some(now);
    vec![Effect::Request(Request::LoadShadow { thing, name })]
}

/// A traffic event: the shadow on screen changed when its `update/documents` topic speaks.
pub fn traffic(state: &mut State, event: &TrafficEvent) -> Vec<Effect> {
    // Cheap test first: this runs for every message while the screen is open.
    let TrafficEvent::Message(message) = event else {
        return Vec::new();
    };
    if !message.topic.ends_with("/update/documents") {
        return Vec::new();
    }
    let Some((thing, name)) = shown(state) else {
        return Vec::new();
    };
    if message.topic != format!("{}/update/documents", topic_prefix(&thing, name.as_deref())) {
        return Vec::new();
    }
    state.shadow_checked = Some(state.now);
    vec![Effect::Request(Request::LoadShadow { thing, name })]
}
