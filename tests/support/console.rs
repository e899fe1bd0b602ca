//! Drawing the console in tests: ratatui's TestBackend, the screen as text.

use iotfleet::tui::App;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The console drawn at `width`x`height`, one line of text per row.
#[must_use]
pub fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| app.draw(frame)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}
