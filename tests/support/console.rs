//! Drawing the console in tests: ratatui's TestBackend, the screen as text.

use std::time::Duration;

use iotfleet::config::keymap::Key;
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

/// How long a key's requests may take to be answered before a test gives up waiting.
pub const SETTLE: Duration = Duration::from_secs(20);

/// The console on `client`, sized 120x40, once its first requests are answered (at most
/// `settle`).
pub async fn opened(
    client: iotfleet::fleet::FleetClient,
    options: iotfleet::tui::Options,
    loaded: iotfleet::config::files::Loaded,
    settle: Duration,
) -> App {
    let mut app = App::new(client, options, loaded);
    app.handle(iotfleet::tui::msg::Msg::Resize {
        width: 120,
        height: 40,
    });
    app.settle(settle).await;
    app
}

/// Presses each key, in the keymap's notation ("<Enter>", "<C-u>"); a longer word without
/// brackets is typed letter by letter.
pub fn press(app: &mut App, keys: &[&str]) {
    for key in keys {
        if key.len() > 1 && !key.starts_with('<') {
            for c in key.chars() {
                app.key(Key::parse(&c.to_string()).unwrap());
            }
        } else {
            app.key(Key::parse(key).unwrap());
        }
    }
}

/// [`press`], waiting after each key until the requests it started are answered.
pub async fn keys(app: &mut App, sequence: &[&str]) {
    for key in sequence {
        press(app, &[key]);
        app.settle(SETTLE).await;
    }
}

/// Runs the console's clock until `done` holds (or `limit` passes): a tick every 100 ms, as
/// the loop gives, with results applied as they come. Returns whether `done` held.
pub async fn run_until(app: &mut App, limit: Duration, done: impl Fn(&App) -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done(app) {
            return true;
        }
        app.handle(iotfleet::tui::msg::Msg::Tick {
            now: time::OffsetDateTime::now_utc(),
            throttled: 0,
        });
        let _ = app.step(Duration::from_millis(100)).await;
        app.drain();
    }
    done(app)
}
