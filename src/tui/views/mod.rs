//! Draws `State`: status bar, the screen on top of the stack, message or input line, footer of
//! the keys that work here, and the help overlay. Functions of state, theme and keymap only:
//! no I/O. Untrusted text is escaped before it becomes a span.

mod bulk;
mod detail;
mod help;
mod list;
mod quarantine;
mod shadow;
mod traffic;

use std::fmt::Write as _;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::keys::{KeyResolver, Layer};
use super::state::{Backend, InputKind, Level, Load, Screen, State};
use crate::config::theme::{Slot, Theme};
use crate::untrusted::escape;

/// The smallest terminal the console draws in; below it, it says so.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

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
        Screen::List(kind, view) => list::draw(frame, main, state, *kind, view, theme),
        Screen::Traffic => traffic::draw(frame, main, state, theme),
        Screen::Shadow {
            thing,
            name,
            metadata,
        } => shadow::draw(
            frame,
            main,
            state,
            (thing, name.as_deref()),
            *metadata,
            context.editor,
            theme,
        ),
        screen => detail::draw(frame, main, state, screen, theme),
    }
    frame.render_widget(message_line(state, theme), message);
    let footer_text = match &state.quarantine {
        Some(flow) => quarantine::footer(flow, &state.answer_keys, theme),
        None => footer_line(context),
    };
    frame.render_widget(footer_text, footer);
    if state.help {
        help::draw(frame, area, context);
    }
    if let Some(flow) = &state.quarantine {
        let spinner = SPINNER[state.spinner % SPINNER.len()];
        quarantine::draw(frame, main, flow, spinner, &state.answer_keys, theme);
    }
    if let Some(flow) = &state.bulk {
        let spinner = SPINNER[state.spinner % SPINNER.len()];
        bulk::draw(
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
            let mut text = match &state.account {
                Some(account) => format!(" AWS {account} {region}"),
                None => format!(" AWS {region}"),
            };
            if let Some(profile) = profile {
                let _ = write!(text, " · profile {profile}");
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
    if state.pending > 0 {
        let spinner = SPINNER[state.spinner % SPINNER.len()];
        spans.push(Span::styled(
            format!(" · {spinner} {} pending", state.pending),
            bar,
        ));
    }
    if let Some(Load::Ready(report)) = &state.audit {
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
        let line = Line::from(vec![
            Span::styled(prompt, theme.style(Slot::FooterKey)),
            Span::styled(escape(&input.text).into_owned(), theme.style(Slot::Text)),
            Span::styled("█", theme.style(Slot::Dim)),
        ]);
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
fn footer_line<'a>(context: Context<'_>) -> Paragraph<'a> {
    let theme = context.theme;
    let mut spans = Vec::new();
    for (keys, _, desc) in context.keys.hints(context.layers) {
        spans.push(Span::styled(keys, theme.style(Slot::FooterKey)));
        spans.push(Span::styled(
            format!(" {desc}  "),
            theme.style(Slot::FooterDesc),
        ));
    }
    Paragraph::new(Line::from(spans))
}
