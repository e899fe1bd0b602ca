//! The console as a value: its state, keymap and theme; keys through the keymap to actions,
//! messages through `update`, effects to tasks (`data/tasks.rs`), live traffic's connection, a
//! switch of profile or region, the external editor and the clipboard. It runs without a
//! terminal too, which is how key-flow tests drive it; `app.rs` is the loop around it.

use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use ratatui_textarea::TextArea;
use tokio::sync::mpsc;

use crate::config::files::{self, Loaded};
use crate::config::keymap::{Key, KeyCode};
use crate::config::theme::Theme;
use crate::fleet::FleetClient;
use crate::fleet::traffic::{self, TrafficEvent, TrafficHandle, TrafficSettings};
use crate::tui::data::tasks::Runner;
use crate::tui::frame as views;
use crate::tui::keys::{self, KeyResolver, Layer, Resolution};
use crate::tui::msg::Level;
use crate::tui::msg::{Effect, Msg, Setup};
use crate::tui::state::{Backend, Focus, State};
use crate::tui::switch::{Reconnect, Switched, next_switch};
use crate::tui::update;

/// How the console was asked to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub backend: Backend,
    pub read_only: bool,
    pub theme: Option<String>,
    pub keymap: Option<String>,
    pub no_color: bool,
    /// Where live traffic connects, or why it cannot; None: no traffic in this console.
    pub traffic: Option<Result<TrafficSettings, String>>,
    /// The traffic history's memory budget in bytes (else config.toml's, else 64 MiB).
    pub history_budget: Option<usize>,
    /// The audit journal (default `$XDG_STATE_HOME/iotfleet/journal.jsonl`).
    pub journal: Option<std::path::PathBuf>,
    /// The local time's offset from UTC, where it could be read (`:time local`).
    pub local_zone: Option<time::UtcOffset>,
    /// How to connect again as another profile or in another region; None on the local core.
    pub reconnect: Option<Reconnect>,
}

impl Options {
    /// The console on `backend` with every other option at its default: writable, the
    /// configured theme and keymap, no live traffic, the default history budget and journal.
    #[must_use]
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            read_only: false,
            theme: None,
            keymap: None,
            no_color: false,
            traffic: None,
            history_budget: None,
            journal: None,
            local_zone: None,
            reconnect: None,
        }
    }
}

/// Traffic events waiting for the console; when it is full the socket waits (see the client).
pub const TRAFFIC_QUEUE: usize = 50_000;
/// The longest a turn of the loop folds in traffic, so keys and frames stay responsive in a
/// flood (a frame is due every 33 ms): a backlog of a million comes in slices.
const TRAFFIC_SLICE: Duration = Duration::from_millis(5);

pub struct App {
    pub state: State,
    pub(crate) keys: KeyResolver,
    pub(crate) theme: Theme,
    pub(crate) options: Options,
    pub(crate) runner: Runner,
    pub(crate) events: mpsc::UnboundedReceiver<Msg>,
    /// Everything copied, in order; the terminal gets it as OSC 52 when `osc52` is on.
    pub copied: Vec<String>,
    pub(crate) osc52: bool,
    pub(crate) traffic: Option<TrafficHandle>,
    pub(crate) traffic_events: Option<mpsc::Receiver<TrafficEvent>>,
    /// The embedded editor of a shadow's desired state (its text is mirrored into the state).
    pub(crate) editor: Option<TextArea<'static>>,
    /// Text waiting to be edited in `$EDITOR` once the loop has given the terminal up.
    pub(crate) external: Option<String>,
    /// The configuration as the state took it, to give a fresh state after a switch.
    pub(crate) setup: Setup,
    /// A connection being made for `:profile` or `:region`.
    pub(crate) switching: Option<tokio::sync::oneshot::Receiver<Result<Switched, String>>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Builds the console on a client and loaded configuration; problems in the configuration
    /// files are shown as the first message.
    #[must_use]
    pub fn new(client: FleetClient, options: Options, loaded: Loaded) -> Self {
        let (sender, events) = mpsc::unbounded_channel();
        let (keys, keymap_problems) = KeyResolver::new(&loaded.keymap);
        let read_only = options.read_only || loaded.settings.read_only;
        let mut state = State::new(
            options.backend.clone(),
            read_only,
            time::OffsetDateTime::now_utc(),
        );
        state.local_zone = options.local_zone;
        let history_budget = options
            .history_budget
            .or(loaded
                .settings
                .history_mib
                .map(|mib| mib.saturating_mul(1024 * 1024)))
            .unwrap_or(traffic::messages::DEFAULT_BUDGET);
        let mut problems: Vec<String> =
            loaded.problems.into_iter().chain(keymap_problems).collect();
        let mut quarantine_strategy = crate::fleet::quarantine::Strategy::default();
        if let Some(strategy) = &loaded.settings.quarantine_strategy {
            match strategy.parse() {
                Ok(strategy) => quarantine_strategy = strategy,
                Err(error) => problems.push(format!("config.toml quarantine_strategy: {error}")),
            }
        }
        if loaded.settings.local_time {
            match options.local_zone {
                Some(zone) => state.zone = zone,
                None => problems.push(
                    "config.toml local_time: the local offset cannot be read; times are in UTC"
                        .to_owned(),
                ),
            }
        }
        for problem in &problems {
            tracing::warn!(%problem, "configuration");
        }
        let setup = Setup {
            history_budget,
            answer_keys: keys.answer_keys(),
            help_lines: crate::tui::frame::help::line_count(&keys),
            profiles: if options.reconnect.is_some() {
                crate::fleet::profiles::Profiles::read()
            } else {
                crate::fleet::profiles::Profiles::default()
            },
            quarantine_strategy,
            problems,
        };
        let mutations = crate::tui::data::tasks::MutationSettings {
            read_only,
            journal: options.journal.clone(),
        };
        let mut app = Self {
            state,
            keys,
            theme: loaded.theme,
            options,
            runner: Runner::new(client, sender, mutations),
            events,
            copied: Vec::new(),
            osc52: false,
            traffic: None,
            traffic_events: None,
            editor: None,
            external: None,
            setup: Setup {
                problems: Vec::new(),
                ..setup.clone()
            },
            switching: None,
        };
        app.handle(Msg::Configure(Box::new(setup)));
        let effects = update::start(&mut app.state);
        app.run_effects(effects);
        app
    }

    /// The keymap layers that apply now, most specific first: those of what has the focus.
    #[must_use]
    pub fn layers(&self) -> Vec<Layer> {
        keys::layers(self.state.focus(), self.state.screen())
    }

    /// A key press: through the keymap to an action, or typed into what takes text.
    pub fn key(&mut self, key: Key) {
        let focus = self.state.focus();
        let layers = self.layers();
        let msg = match self.keys.resolve(key, &layers) {
            Resolution::Action(action) => Msg::Action(action),
            Resolution::Unbound(key) if focus == Focus::Editor => {
                let Some(editor) = &mut self.editor else {
                    return;
                };
                if !editor.input(editor_input(key)) {
                    return;
                }
                Msg::EditText(editor.lines().join("\n"))
            }
            Resolution::Unbound(key) if focus.takes_text() => match key {
                Key {
                    code: KeyCode::Char(c),
                    ctrl: false,
                    alt: false,
                } => Msg::Typed(c),
                Key {
                    code: KeyCode::Backspace,
                    ..
                } => Msg::Erase,
                Key {
                    code: KeyCode::Char('u'),
                    ctrl: true,
                    ..
                } => Msg::ClearInput,
                _ => return,
            },
            Resolution::Pending | Resolution::Unbound(_) => return,
        };
        self.handle(msg);
    }

    pub fn handle(&mut self, msg: Msg) {
        let effects = update::update(&mut self.state, msg);
        self.run_effects(effects);
        if self.state.edit.is_none() {
            self.editor = None;
        }
    }

    pub(crate) fn run_effects(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Copy(text) => self.copy(text),
                Effect::SetTheme(name) => self.set_theme(&name),
                Effect::TrafficConnect => self.connect_traffic(),
                Effect::OpenEditor(text) => self.open_editor(&text),
                Effect::ExternalEditor(text) => {
                    self.open_editor(&text);
                    self.external = Some(text);
                }
                Effect::Subscribe(filter) => self.traffic_command(|t| t.subscribe(&filter)),
                Effect::Unsubscribe(filter) => self.traffic_command(|t| t.unsubscribe(&filter)),
                Effect::Publish {
                    topic,
                    payload,
                    qos,
                } => self.publish(&topic, payload, qos),
                Effect::Request(request) => self.runner.spawn(request),
                Effect::Reconnect { profile, region } => self.reconnect(profile, region),
            }
        }
    }

    /// `:profile` or `:region`: a new connection is made in a task; the console goes on with the
    /// old one until it is ready.
    fn reconnect(&mut self, profile: Option<String>, region: Option<String>) {
        let Some(base) = self.options.reconnect.clone() else {
            self.state.switching = None;
            self.handle(Msg::Note {
                level: Level::Error,
                text: "this console cannot switch profile or region".into(),
            });
            return;
        };
        self.switching = Some(crate::tui::switch::connect(base, profile, region));
    }

    /// The new connection takes over: the old one's answers still in flight go nowhere (their
    /// channel is dropped), live traffic is disconnected (it connects again on `t`), and the
    /// screens start again from the Things list, loaded from the new account and region.
    pub(crate) fn switch_done(&mut self, result: Result<Switched, String>) {
        self.switching = None;
        let switched = match result {
            Ok(switched) => switched,
            Err(error) => {
                let target = self.state.switching.take().unwrap_or_default();
                self.handle(Msg::Note {
                    level: Level::Error,
                    text: format!(
                        "cannot connect to {target}: {error}; still on the old connection"
                    ),
                });
                return;
            }
        };
        let info = switched.client.backend().clone();
        if let Some(reconnect) = &mut self.options.reconnect {
            reconnect.settings = switched.settings;
        }
        self.options.traffic = Some(switched.traffic);
        self.traffic = None;
        self.traffic_events = None;
        let (sender, events) = mpsc::unbounded_channel();
        self.events = events;
        self.runner = self.runner.with_client(switched.client, sender);
        let mut state = State::new(
            Backend::Aws {
                region: info.region.clone(),
                profile: crate::fleet::profiles::in_use(info.profile.as_deref()),
                endpoint: info.endpoint_url.clone(),
            },
            self.state.read_only,
            time::OffsetDateTime::now_utc(),
        );
        state.zone = self.state.zone;
        state.local_zone = self.state.local_zone;
        let (width, height) = self.state.size;
        self.state = state;
        self.editor = None;
        self.handle(Msg::Configure(Box::new(self.setup.clone())));
        self.handle(Msg::Resize { width, height });
        let effects = update::start(&mut self.state);
        self.run_effects(effects);
        let profile = info.profile.as_deref().unwrap_or("default");
        self.handle(Msg::Note {
            level: Level::Info,
            text: format!("connected: profile {profile}, region {}", info.region),
        });
    }

    /// Takes the text an `$EDITOR` session was asked for (the event loop runs it).
    pub fn take_external(&mut self) -> Option<String> {
        self.external.take()
    }

    /// The text came back from `$EDITOR`: into the embedded editor, checked as if typed.
    pub fn external_done(&mut self, result: Result<String, String>) {
        match result {
            Ok(text) => {
                let text = text.trim_end().to_owned();
                self.editor = None;
                self.open_editor(&text);
                self.handle(Msg::EditText(text));
            }
            Err(error) => {
                self.handle(Msg::Note {
                    level: Level::Error,
                    text: error,
                });
            }
        }
    }

    /// Shows the embedded editor with `text`, unless it already holds this draft.
    fn open_editor(&mut self, text: &str) {
        if self
            .editor
            .as_ref()
            .is_some_and(|editor| editor.lines().join("\n") == text)
        {
            return;
        }
        let mut editor = TextArea::new(text.lines().map(str::to_owned).collect());
        editor.set_cursor_line_style(ratatui::style::Style::default());
        self.editor = Some(editor);
    }

    fn connect_traffic(&mut self) {
        let (target, down) = match &self.options.traffic {
            Some(Ok(settings)) => {
                let target = format!("{}:{}", settings.host, settings.port);
                match traffic::connect(settings, TRAFFIC_QUEUE) {
                    Ok((handle, events)) => {
                        self.traffic = Some(handle);
                        self.traffic_events = Some(events);
                        (Some(target), None)
                    }
                    Err(reason) => (Some(target), Some(reason)),
                }
            }
            Some(Err(reason)) => (None, Some(reason.clone())),
            None => (None, Some("no MQTT endpoint in this console".into())),
        };
        self.handle(Msg::TrafficStarted { target, down });
    }

    fn traffic_command(&mut self, command: impl FnOnce(&TrafficHandle) -> Result<(), String>) {
        if let Some(Err(error)) = self.traffic.as_ref().map(command) {
            self.handle(Msg::Note {
                level: Level::Error,
                text: error,
            });
        }
    }

    /// Sends a confirmed publish through the mutation path, in a task: journaled before it is
    /// sent, never on this loop.
    fn publish(&mut self, topic: &str, payload: String, qos: u8) {
        let Some(handle) = self.traffic.clone() else {
            self.handle(Msg::Note {
                level: Level::Error,
                text: format!("publish to {topic} failed: not connected"),
            });
            return;
        };
        let broker = match self.state.backend {
            Backend::Local => format!("local mqtt {}", self.state.traffic.target),
            Backend::Aws { .. } => format!("mqtt {}", self.state.traffic.target),
        };
        self.runner
            .publish(handle, broker, topic.to_owned(), payload, qos);
    }

    /// Waits for traffic, then folds in what has arrived (for at most a slice). Returns how many
    /// events; never returns while traffic is off. Cancel-safe: nothing is taken before it ends.
    pub async fn next_traffic(&mut self) -> usize {
        let Some(event) = next_traffic(&mut self.traffic_events).await else {
            return std::future::pending().await;
        };
        self.handle(Msg::Traffic(event));
        1 + self.pump_traffic()
    }

    /// Folds in the traffic events that have arrived, for at most `TRAFFIC_SLICE`. Returns how
    /// many.
    pub fn pump_traffic(&mut self) -> usize {
        let Some(mut events) = self.traffic_events.take() else {
            return 0;
        };
        let started = std::time::Instant::now();
        let mut count = 0;
        // Taken 256 at a time: the queue's room is given back once a batch (a lock each time),
        // and the clock read once.
        let mut batch = Vec::with_capacity(256);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        while started.elapsed() < TRAFFIC_SLICE {
            let std::task::Poll::Ready(taken) = events.poll_recv_many(&mut cx, &mut batch, 256)
            else {
                break;
            };
            for event in batch.drain(..) {
                self.handle(Msg::Traffic(event));
            }
            count += taken;
            if taken < 256 {
                break;
            }
        }
        self.traffic_events = Some(events);
        count
    }

    fn copy(&mut self, text: String) {
        if self.osc52 {
            // OSC 52: the terminal (local, or at the far end of SSH, or tmux with
            // set-clipboard on) puts the text on the clipboard.
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            let mut stdout = std::io::stdout();
            let _ = write!(stdout, "\x1b]52;c;{encoded}\x07").and_then(|()| stdout.flush());
        }
        self.copied.push(text);
    }

    fn set_theme(&mut self, name: &str) {
        if files::theme_text(name).is_none() {
            let names = files::THEMES.map(|(n, _)| n).join(", ");
            self.handle(Msg::Note {
                level: Level::Error,
                text: format!("unknown theme '{name}': the themes are {names}"),
            });
            return;
        }
        let loaded = files::load(
            Some(name),
            self.options.keymap.as_deref(),
            self.options.no_color,
        );
        self.theme = loaded.theme;
        let note = if loaded.problems.is_empty() {
            Msg::Note {
                level: Level::Info,
                text: format!("theme {name}"),
            }
        } else {
            Msg::Note {
                level: Level::Error,
                text: loaded.problems.join(" | "),
            }
        };
        self.handle(note);
    }

    /// Applies every message that has arrived, without waiting. True when there was any.
    pub fn drain(&mut self) -> bool {
        let mut any = false;
        while let Ok(msg) = self.events.try_recv() {
            self.handle(msg);
            any = true;
        }
        any
    }

    /// Waits for one message, or a switch of profile or region to be ready (at most `limit`),
    /// and applies it. False when none came.
    pub async fn step(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        self.step_until(deadline).await
    }

    async fn step_until(&mut self, deadline: tokio::time::Instant) -> bool {
        let switching = self.switching.is_some();
        tokio::select! {
            msg = tokio::time::timeout_at(deadline, self.events.recv()) => match msg {
                Ok(Some(msg)) => {
                    self.handle(msg);
                    true
                }
                _ => false,
            },
            result = next_switch(&mut self.switching), if switching => {
                self.switch_done(result);
                true
            }
        }
    }

    /// Waits until no request is in flight and no switch is being made (or `limit` passes),
    /// applying results as they come.
    pub async fn settle(&mut self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.state.pending > 0 || self.switching.is_some() {
            if !self.step_until(deadline).await {
                return;
            }
        }
        self.drain();
    }

    pub fn draw(&self, frame: &mut ratatui::Frame<'_>) {
        let layers = self.layers();
        views::draw(
            frame,
            &self.state,
            views::Context {
                theme: &self.theme,
                keys: &self.keys,
                layers: &layers,
                editor: self.editor.as_ref(),
            },
        );
    }

    #[must_use]
    pub fn client(&self) -> &FleetClient {
        self.runner.client()
    }
}

pub(crate) async fn next_traffic(
    events: &mut Option<mpsc::Receiver<TrafficEvent>>,
) -> Option<TrafficEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

/// A key as the embedded editor reads it.
pub(crate) fn editor_input(key: Key) -> ratatui_textarea::Input {
    use ratatui_textarea::Key as K;
    let code = match key.code {
        KeyCode::Char(c) => K::Char(c),
        KeyCode::Enter => K::Enter,
        KeyCode::Esc => K::Esc,
        KeyCode::Tab => K::Tab,
        KeyCode::BackTab => K::Null,
        KeyCode::Backspace => K::Backspace,
        KeyCode::Delete => K::Delete,
        KeyCode::Up => K::Up,
        KeyCode::Down => K::Down,
        KeyCode::Left => K::Left,
        KeyCode::Right => K::Right,
        KeyCode::Home => K::Home,
        KeyCode::End => K::End,
        KeyCode::PageUp => K::PageUp,
        KeyCode::PageDown => K::PageDown,
        KeyCode::F(n) => K::F(n),
    };
    ratatui_textarea::Input {
        key: code,
        ctrl: key.ctrl,
        alt: key.alt,
        shift: false,
    }
}
