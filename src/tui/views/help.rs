//! The `?` overlay: every binding of every layer, from the live keymap, so a remapped key shows
//! as it is.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::Context;
use crate::config::theme::Slot;
use crate::tui::keys::Layer;
use crate::untrusted::escape;

pub fn draw(frame: &mut Frame<'_>, area: Rect, context: Context<'_>) {
    let theme = context.theme;
    let mut lines = Vec::new();
    for (layer, title) in [
        (Layer::Global, "Everywhere"),
        (Layer::List, "Lists"),
        (Layer::Detail, "Details"),
        (Layer::Traffic, "Traffic"),
        (Layer::Shadow, "Shadow"),
        (Layer::Editor, "Shadow editor"),
        (Layer::Input, "Filter and command line"),
    ] {
        let bindings = context.keys.layer(layer);
        if bindings.is_empty() {
            continue;
        }
        lines.push(Line::from(Span::styled(title, theme.style(Slot::Title))));
        // One line per action, with every key bound to it.
        let mut actions: Vec<(String, String)> = Vec::new();
        for bound in bindings {
            let keys = bound
                .keys
                .iter()
                .map(ToString::to_string)
                .collect::<String>();
            // Descriptions come from keymap files: escaped like any text from outside.
            let desc = if bound.desc.is_empty() {
                bound.action.name().to_owned()
            } else {
                escape(&bound.desc).into_owned()
            };
            match actions.iter_mut().find(|(_, d)| *d == desc) {
                Some((all, _)) => {
                    all.push(' ');
                    all.push_str(&keys);
                }
                None => actions.push((keys, desc)),
            }
        }
        for (keys, desc) in actions {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<20} "), theme.style(Slot::FooterKey)),
                Span::styled(desc, theme.style(Slot::Text)),
            ]));
        }
    }
    lines.push(Line::from(Span::styled(
        "Commands",
        theme.style(Slot::Title),
    )));
    for (text, slot) in [
        ("  :things :certs :policies :thing NAME", Slot::Text),
        ("  :policy NAME :cert ID :theme NAME :q", Slot::Text),
        ("  :traffic [THING] :audit :denied :quarantined", Slot::Text),
        ("  :violations", Slot::Text),
        ("  :search QUERY :mark group GROUP :unmark", Slot::Text),
        (
            "  Q and R act on the marked Things, when any are",
            Slot::Dim,
        ),
    ] {
        lines.push(Line::from(Span::styled(text, theme.style(slot))));
    }
    let height = area.height.saturating_sub(2);
    let two_columns = lines.len() > usize::from(height.saturating_sub(2)) && area.width >= 76;
    let width = if two_columns {
        area.width.saturating_sub(2).min(110)
    } else {
        area.width.saturating_sub(4).min(70)
    };
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + 1,
        width,
        height,
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Slot::Border))
        .title(Span::styled(
            " Keys (Esc closes) ",
            theme.style(Slot::Title),
        ));
    frame.render_widget(Clear, popup);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    if two_columns {
        let [left, right] =
            ratatui::layout::Layout::horizontal([ratatui::layout::Constraint::Percentage(50); 2])
                .areas(inner);
        let second = split(&mut lines);
        frame.render_widget(Paragraph::new(lines), left);
        frame.render_widget(Paragraph::new(second), right);
    } else {
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// Splits the lines in two columns: the first keeps half (rounded up), and a heading that
/// would end it goes with its keys, to the top of the second.
fn split(lines: &mut Vec<Line<'static>>) -> Vec<Line<'static>> {
    let mut half = lines.len().div_ceil(2);
    let heading = |line: &Line<'_>| {
        line.spans
            .first()
            .is_some_and(|span| !span.content.starts_with(' '))
    };
    if half > 1 && heading(&lines[half - 1]) {
        half -= 1;
    }
    lines.split_off(half)
}
