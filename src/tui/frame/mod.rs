//! Draws `State`: status bar, the screen on top of the stack, message or input line, footer of
//! the keys that work here, and the help overlay. Functions of state, theme and keymap only:
//! no I/O. Untrusted text is escaped before it becomes a span.

pub mod help;
pub mod json;
pub mod line;
pub mod lines;
pub mod popup;

use std::fmt::Write as _;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::config::theme::{Slot, Theme};
use crate::tui::action::Action;
use crate::tui::data::Load;
use crate::tui::keys::{KeyResolver, Layer};
use crate::tui::msg::Level;
use crate::tui::state::{Backend, InputKind, Screen, State};
use crate::tui::{flows, shadow, things, traffic};
use crate::untrusted::escape;
use unicode_width::UnicodeWidthStr as _;

/// The smallest terminal the console draws in; below it, it says so.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// What views need besides the state.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub theme: &'a Theme,
    pub keys: &'a KeyResolver,
    pub layers: &'a [Layer],
    /// The shadow editor, while a desired-state edit is open.
    pub editor: Option<&'a ratatui_textarea::TextArea<'static>>,
}

pub fn draw(frame: &mut Frame<'_>, state: &State, context: Context<'_>) {
    let area = frame.area();
    let theme = context.theme;
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small: {}x{}, iotfleet needs at least {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.style(Slot::StatusWarning))
                .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [status, main, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(status_bar(state, theme), status);
    match state.screen() {
        Screen::List(kind, view) => things::view::draw(frame, main, state, *kind, view, theme),
        Screen::Traffic => traffic::view::draw(frame, main, state, theme),
        Screen::Shadow {
            thing,
            name,
            metadata,
        } => shadow::view::draw(
            frame,
            main,
            state,
            (thing, name.as_deref()),
            *metadata,
            context.editor,
            theme,
        ),
        screen => lines::draw(frame, main, state, screen, theme),
    }
    frame.render_widget(message_line(state, theme), message);
    // A flow's keys, by the one rule, whatever shows it (a popup, the status line, the diff).
    let footer_text = match &state.flow {
        Some(flow) => flows::view::footer(flow, &state.answer_keys, theme),
        None => footer_line(context, state.screen(), footer.width),
    };
    frame.render_widget(footer_text, footer);
    if state.help {
        help::draw(frame, area, context, state.help_scroll);
    }
    if let Some(flow) = state.flow.as_ref().filter(|flow| flow.is_popup()) {
        let spinner = SPINNER[state.spinner % SPINNER.len()];
        flows::view::draw(
            frame,
            main,
            flow,
            state.now,
            spinner,
            &state.answer_keys,
            theme,
        );
    }
}

fn status_bar<'a>(state: &State, theme: &Theme) -> Paragraph<'a> {
    let mut spans = match &state.backend {
        Backend::Local => vec![Span::styled(
            " LOCAL · embedded IoT Core, not AWS ",
            theme.style(Slot::StatusLocal),
        )],
        Backend::Aws {
            region,
            profile,
            endpoint,
        } => {
            let mut text = match &state.fleet.account {
                Some(account) => format!(" AWS {account} {region}"),
                None => format!(" AWS {region}"),
            };
            match profile {
                Some(profile) => {
                    let _ = write!(text, " · profile {profile}");
                }
                None => text.push_str(" · keys from the environment"),
            }
            if let Some(endpoint) = endpoint {
                let _ = write!(text, " · {endpoint}");
            }
            text.push(' ');
            vec![Span::styled(
                escape(&text).into_owned(),
                theme.style(Slot::StatusAws),
            )]
        }
    };
    let bar = theme.style(Slot::StatusBar);
    spans.push(Span::styled(" iotfleet", bar));
    if state.read_only {
        spans.push(Span::styled(" · read-only", bar));
    }
    if !state.zone.is_utc() {
        spans.push(Span::styled(
            format!(
                " · times {}",
                crate::tui::frame::line::zone_name(state.zone)
            ),
            bar,
        ));
    }
    if state.pending > 0 {
        let spinner = SPINNER[state.spinner % SPINNER.len()];
        spans.push(Span::styled(
            format!(" · {spinner} {} pending", state.pending),
            bar,
        ));
    }
    if let Some(Load::Ready(report)) = &state.fleet.audit {
        let counts: Vec<String> = report
            .counts()
            .into_iter()
            .map(|(severity, n)| format!("{n} {}", severity.name().to_lowercase()))
            .collect();
        if !counts.is_empty() {
            spans.push(Span::styled(format!(" · audit {}", counts.join(" ")), bar));
        }
    }
    if state.throttling() {
        spans.push(Span::styled(
            " · throttled, retrying",
            theme.style(Slot::StatusWarning),
        ));
    }
    Paragraph::new(Line::from(spans)).style(bar)
}

fn message_line<'a>(state: &State, theme: &Theme) -> Paragraph<'a> {
    if let Some(input) = &state.input {
        let prompt = match input.kind {
            InputKind::Filter | InputKind::Search => "/",
            InputKind::Command => ":",
            InputKind::Subscribe => "subscribe to filter: ",
            InputKind::Unsubscribe => "unsubscribe from: ",
            InputKind::Publish => "publish TOPIC PAYLOAD: ",
            InputKind::JsonPath => "JSON path (reading.speed, items[0].id; empty for all): ",
            InputKind::Can => "may it (connect|publish|subscribe|receive) TARGET? ",
        };
        let mut spans = vec![
            Span::styled(prompt, theme.style(Slot::FooterKey)),
            Span::styled(escape(&input.text).into_owned(), theme.style(Slot::Text)),
            Span::styled("█", theme.style(Slot::Dim)),
        ];
        if input.text.is_empty() && !input.suggestion.is_empty() {
            // A placeholder: not part of what Enter sends; Tab takes it.
            spans.push(Span::styled(
                format!("{}  (Tab)", escape(input.suggestion.trim_end())),
                theme.style(Slot::Dim),
            ));
        }
        let line = Line::from(spans);
        let line = match &state.message {
            Some(message) if input.kind != InputKind::Filter => {
                let mut spans = line.spans;
                spans.push(Span::styled(
                    format!("   {}", escape(&message.text)),
                    level_style(message.level, theme),
                ));
                Line::from(spans)
            }
            _ => line,
        };
        return Paragraph::new(line);
    }
    match &state.message {
        Some(message) => Paragraph::new(Span::styled(
            escape(&message.text).into_owned(),
            level_style(message.level, theme),
        )),
        None => Paragraph::new(""),
    }
}

fn level_style(level: Level, theme: &Theme) -> Style {
    theme.style(match level {
        Level::Info => Slot::StatusInfo,
        Level::Warning => Slot::StatusWarning,
        Level::Error => Slot::StatusError,
    })
}

/// The keys that work here, from the live keymap.
/// What the footer names first, most useful first: what acts on the row (open it, its traffic,
/// shadow, quarantine), then finding and marking; moving the cursor is left to `?`.
const FOOTER_FIRST: [Action; 14] = [
    Action::Open,
    Action::Filter,
    Action::Traffic,
    Action::Shadow,
    Action::Quarantine,
    Action::Release,
    Action::Can,
    Action::History,
    Action::Mark,
    Action::Subscribe,
    Action::Publish,
    Action::Edit,
    Action::Command,
    Action::Back,
];

/// Actions about a Thing, named only where a Thing is on screen or selected.
const ABOUT_A_THING: [Action; 6] = [
    Action::Traffic,
    Action::Shadow,
    Action::Quarantine,
    Action::Release,
    Action::Can,
    Action::Mark,
];

/// The footer: the hints of the layers on top, the most useful first, each whole or not at
/// all, with `? Help` always last so the rest is one key away; the cursor keys are not named.
fn footer_line<'a>(context: Context<'_>, screen: &Screen, width: u16) -> Paragraph<'a> {
    let theme = context.theme;
    let about_a_thing = matches!(
        screen,
        Screen::List(crate::tui::data::ListKind::Things, _) | Screen::Thing { .. }
    );
    let mut hints: Vec<(String, Action, String)> = context
        .keys
        .hints(context.layers)
        .into_iter()
        .filter(|(_, action, _)| {
            !matches!(
                action,
                Action::Up
                    | Action::Down
                    | Action::PageUp
                    | Action::PageDown
                    | Action::Top
                    | Action::Bottom
            ) && (about_a_thing || !ABOUT_A_THING.contains(action))
        })
        .collect();
    let rank = |action: &Action| {
        FOOTER_FIRST
            .iter()
            .position(|first| first == action)
            .unwrap_or(FOOTER_FIRST.len())
    };
    hints.sort_by_key(|(_, action, _)| rank(action));
    let help = hints
        .iter()
        .position(|(_, action, _)| *action == Action::Help)
        .map(|at| hints.remove(at));
    let text_width = |keys: &str, desc: &str| keys.width() + 1 + escape(desc).width() + 2;
    let mut room =
        usize::from(width).saturating_sub(help.as_ref().map_or(0, |(k, _, d)| text_width(k, d)));
    let mut spans = Vec::new();
    let push = |spans: &mut Vec<Span<'a>>, keys: String, desc: &str| {
        spans.push(Span::styled(keys, theme.style(Slot::FooterKey)));
        // Descriptions come from keymap files: escaped like any text from outside.
        spans.push(Span::styled(
            format!(" {}  ", escape(desc)),
            theme.style(Slot::FooterDesc),
        ));
    };
    for (keys, _, desc) in hints {
        let needed = text_width(&keys, &desc);
        if needed > room {
            continue;
        }
        room -= needed;
        push(&mut spans, keys, &desc);
    }
    if let Some((keys, _, desc)) = help {
        push(&mut spans, keys, &desc);
    }
    Paragraph::new(Line::from(spans))
}
