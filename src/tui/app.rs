//! The console's one event loop: terminal events, task answers, live traffic and a frame timer,
//! drawn at most every 16 ms and only when something changed; the terminal set up and restored
//! however the loop ends. What each event does is `console.rs`'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent};
use tokio::sync::mpsc;

use crate::config::files;
use crate::fleet::FleetClient;
use crate::tui::console::{App, Options, next_traffic};
use crate::tui::keys::key_of;
use crate::tui::msg::Msg;
use crate::tui::switch::next_switch;

/// Runs the console in the terminal until the user quits. The terminal is restored on quit, on
/// error, on SIGTERM and SIGHUP, and on panic (ratatui's hook restores it before the panic is
/// reported).
pub async fn run(client: FleetClient, options: Options) -> Result<(), String> {
    let loaded = files::load(
        options.theme.as_deref(),
        options.keymap.as_deref(),
        options.no_color,
    );
    // The mouse is on unless config.toml says `mouse = false` (it takes the terminal's own
    // text selection, which Shift-drag still gives in most terminals).
    let mouse = loaded.settings.mouse.unwrap_or(true);
    let mut app = App::new(client, options, loaded);
    app.osc52 = true;
    let mut terminal = ratatui::init();
    // Restored however this ends, the future dropped by a signal included (`main.rs`).
    let _restore = RestoreTerminal;
    set_mouse(mouse);
    event_loop(&mut app, &mut terminal, mouse).await
}

/// Takes the mouse's events from the terminal, or gives them back.
fn set_mouse(on: bool) {
    use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
    let _ = if on {
        ratatui::crossterm::execute!(std::io::stdout(), EnableMouseCapture)
    } else {
        ratatui::crossterm::execute!(std::io::stdout(), DisableMouseCapture)
    };
}

/// Restores the terminal when dropped.
struct RestoreTerminal;

impl Drop for RestoreTerminal {
    fn drop(&mut self) {
        set_mouse(false);
        ratatui::restore();
    }
}

const FRAME: Duration = Duration::from_millis(16);

async fn event_loop(
    app: &mut App,
    terminal: &mut ratatui::DefaultTerminal,
    mouse: bool,
) -> Result<(), String> {
    let (terminal_events, mut terminal_rx) = mpsc::unbounded_channel();
    // crossterm's read blocks; a thread feeds the loop (it ends with the process). It stands
    // aside while `$EDITOR` owns the terminal, so no key meant for the editor is taken.
    let paused = Arc::new(AtomicBool::new(false));
    let reader_paused = paused.clone();
    std::thread::spawn(move || {
        loop {
            if reader_paused.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            match event::poll(Duration::from_millis(50)) {
                Ok(true) => {
                    let sent = event::read().map(|event| terminal_events.send(event));
                    if !matches!(sent, Ok(Ok(()))) {
                        break;
                    }
                }
                Ok(false) => {}
                Err(_) => break,
            }
        }
    });
    let size = terminal.size().map_err(|e| e.to_string())?;
    app.handle(Msg::Resize {
        width: size.width,
        height: size.height,
    });
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    let mut clicks = Clicks::default();
    let mut dirty = true;
    let mut last_draw = tokio::time::Instant::now() - FRAME;
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal
                .draw(|frame| app.draw(frame))
                .map_err(|e| e.to_string())?;
            last_draw = tokio::time::Instant::now();
            dirty = false;
        }
        let next_frame = last_draw + FRAME;
        tokio::select! {
            Some(event) = terminal_rx.recv() => {
                terminal_event(app, &event, &mut clicks);
                while let Ok(event) = terminal_rx.try_recv() {
                    terminal_event(app, &event, &mut clicks);
                }
                dirty = true;
            }
            Some(msg) = app.events.recv() => {
                app.handle(msg);
                app.drain();
                dirty = true;
            }
            result = next_switch(&mut app.switching), if app.switching.is_some() => {
                app.switch_done(result);
                dirty = true;
            }
            Some(event) = next_traffic(&mut app.traffic_events) => {
                app.handle(Msg::Traffic(event));
                app.pump_traffic();
                dirty = true;
            }
            // A long list's filter is matched a slice at a time between frames.
            () = std::future::ready(()), if app.state.matching() => {
                app.handle(Msg::Match);
                dirty = true;
            }
            _ = ticks.tick() => {
                let animating = app.state.pending > 0 || app.state.throttling();
                let throttled = app.client().stats().throttled;
                app.handle(Msg::Tick { now: time::OffsetDateTime::now_utc(), throttled });
                dirty |= animating;
            }
            () = tokio::time::sleep_until(next_frame), if dirty => {}
        }
        if app.state.quit {
            return Ok(());
        }
        if let Some(text) = app.take_external() {
            paused.store(true, Ordering::Release);
            // Let a poll in progress finish before the editor reads the terminal.
            tokio::time::sleep(Duration::from_millis(60)).await;
            set_mouse(false);
            ratatui::restore();
            let result =
                crate::tui::shadow::external::edit(&text, &crate::tui::shadow::external::command());
            *terminal = ratatui::init();
            set_mouse(mouse);
            paused.store(false, Ordering::Release);
            app.external_done(result);
            dirty = true;
        }
    }
}

/// The last left click, to tell a double click.
#[derive(Debug, Default)]
struct Clicks {
    last: Option<(u16, std::time::Instant)>,
}

impl Clicks {
    const DOUBLE: Duration = Duration::from_millis(400);

    /// Whether a click on `row` now repeats the one before it.
    fn double(&mut self, row: u16) -> bool {
        let now = std::time::Instant::now();
        let double = self
            .last
            .is_some_and(|(last, at)| last == row && now.duration_since(at) <= Self::DOUBLE);
        // A double click ends the pair: a third click starts again.
        self.last = if double { None } else { Some((row, now)) };
        double
    }
}

fn terminal_event(app: &mut App, event: &TermEvent, clicks: &mut Clicks) {
    use ratatui::crossterm::event::{MouseButton, MouseEventKind};
    match event {
        TermEvent::Key(key) => {
            if let Some(key) = key_of(key) {
                app.key(key);
            }
        }
        TermEvent::Resize(width, height) => app.handle(Msg::Resize {
            width: *width,
            height: *height,
        }),
        // The wheel moves as the arrow keys do, in what has the focus (a list, the help).
        TermEvent::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollDown => app.handle(Msg::Action(crate::tui::action::Action::Down)),
            MouseEventKind::ScrollUp => app.handle(Msg::Action(crate::tui::action::Action::Up)),
            MouseEventKind::Down(MouseButton::Left) => {
                let double = clicks.double(mouse.row);
                app.handle(Msg::Click {
                    row: mouse.row,
                    double,
                });
            }
            _ => {}
        },
        _ => {}
    }
}
