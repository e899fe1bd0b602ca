//! The `?` overlay: every binding of every layer, from the live keymap, so a remapped key shows
//! as it is.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::config::theme::Slot;
use crate::tui::action::Action;
use crate::tui::frame::Context;
use crate::tui::keys::{KeyResolver, Layer};
use crate::tui::state::State;
use crate::untrusted::escape;

/// The help's lines, unstyled: a heading, a binding (keys, description) or a note.
enum Entry {
    Heading(&'static str),
    Binding(String, String),
    Note(&'static str, Slot),
}

/// Every binding of every layer, one line per action, then the commands.
fn entries(keys: &KeyResolver) -> Vec<Entry> {
    let mut out = Vec::new();
    for (layer, title) in [
        (Layer::Global, "Everywhere"),
        (Layer::List, "Lists"),
        (Layer::Detail, "Details"),
        (Layer::Traffic, "Traffic"),
        (Layer::Shadow, "Shadow"),
        (Layer::Editor, "Shadow editor"),
        (Layer::Input, "Filter and command line"),
        (Layer::Help, "This help"),
    ] {
        let bindings = keys.layer(layer);
        if bindings.is_empty() {
            continue;
        }
        out.push(Entry::Heading(title));
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
        out.extend(
            actions
                .into_iter()
                .map(|(keys, desc)| Entry::Binding(keys, desc)),
        );
    }
    out.push(Entry::Heading("Commands"));
    // Short lines: a column of the help at 80 columns is 38 wide.
    for (text, slot) in [
        ("  :things :certs :policies", Slot::Text),
        ("  :thing NAME :policy NAME", Slot::Text),
        ("  :cert ID (its first digits do)", Slot::Text),
        ("  :traffic [THING] :audit :denied", Slot::Text),
        ("  :quarantined :violations", Slot::Text),
        ("  :search QUERY :unmark", Slot::Text),
        ("  :mark group GROUP", Slot::Text),
        ("  :theme NAME :time local|utc :q", Slot::Text),
        ("  Q, R act on the marked Things", Slot::Dim),
        ("  Tab completes commands, names", Slot::Dim),
        ("  and a prompt's suggestion", Slot::Dim),
    ] {
        out.push(Entry::Note(text, slot));
    }
    out
}

/// How many lines the help has with this keymap (the scroll's bound).
#[must_use]
pub fn line_count(keys: &KeyResolver) -> usize {
    entries(keys).len()
}

/// Where the help goes in a terminal of this size: whether in two columns, and the popup.
fn placement(lines: usize, area: Rect) -> (bool, Rect) {
    let height = area.height.saturating_sub(2);
    let two_columns = lines > usize::from(height.saturating_sub(2)) && area.width >= 76;
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
    (two_columns, popup)
}

/// How far the help can scroll in a terminal of `width` x `height`: the rows of its longer
/// column past those the popup shows (0 when it all fits).
#[must_use]
pub fn max_scroll(lines: usize, width: u16, height: u16) -> usize {
    let (two_columns, popup) = placement(lines, Rect::new(0, 0, width, height));
    let column = if two_columns {
        lines.div_ceil(2) + 1
    } else {
        lines
    };
    column.saturating_sub(usize::from(popup.height.saturating_sub(2)))
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, context: Context<'_>, scroll: usize) {
    let theme = context.theme;
    let mut lines: Vec<Line<'static>> = entries(context.keys)
        .into_iter()
        .map(|entry| match entry {
            Entry::Heading(title) => Line::from(Span::styled(title, theme.style(Slot::Title))),
            Entry::Binding(keys, desc) => Line::from(vec![
                Span::styled(format!("  {keys:<20} "), theme.style(Slot::FooterKey)),
                Span::styled(desc, theme.style(Slot::Text)),
            ]),
            Entry::Note(text, slot) => Line::from(Span::styled(text, theme.style(slot))),
        })
        .collect();
    let (two_columns, popup) = placement(lines.len(), area);
    let most = max_scroll(lines.len(), area.width, area.height);
    let scroll = scroll.min(most);
    let more = if most > 0 {
        " Keys (j/k scroll, Esc closes) "
    } else {
        " Keys (Esc closes) "
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Slot::Border))
        .title(Span::styled(more, theme.style(Slot::Title)));
    frame.render_widget(Clear, popup);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let offset = (u16::try_from(scroll).unwrap_or(u16::MAX), 0);
    if two_columns {
        let [left, right] =
            ratatui::layout::Layout::horizontal([ratatui::layout::Constraint::Percentage(50); 2])
                .areas(inner);
        let second = split(&mut lines);
        frame.render_widget(Paragraph::new(lines).scroll(offset), left);
        frame.render_widget(Paragraph::new(second).scroll(offset), right);
    } else {
        frame.render_widget(Paragraph::new(lines).scroll(offset), inner);
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

/// The `?` help: closed, or scrolled within what it has past the screen.
pub fn act(state: &mut State, action: Action) {
    let (width, height) = state.size;
    let most = max_scroll(state.help_lines, width, height);
    let page = state.page_rows;
    let scroll = &mut state.help_scroll;
    match action {
        Action::Back | Action::Help | Action::Quit => {
            state.help = false;
            *scroll = 0;
        }
        Action::Down => *scroll = (*scroll + 1).min(most),
        Action::Up => *scroll = scroll.saturating_sub(1),
        Action::PageDown => *scroll = (*scroll + page).min(most),
        Action::PageUp => *scroll = scroll.saturating_sub(page),
        Action::Top => *scroll = 0,
        Action::Bottom => *scroll = most,
        _ => {}
    }
}
