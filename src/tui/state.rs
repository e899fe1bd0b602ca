//! Everything the console shows, as plain data: the screen stack, what has loaded, the filter
//! and command line, messages. Only `update` changes it; views only read it.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::tui::data::FleetData;
use crate::tui::flows::quarantine_state::Flow;
use crate::tui::shadow::edit_state::ShadowEdit;
use crate::tui::traffic::state::TrafficView;

/// A shadow: its Thing, and its name (None: the classic shadow).
pub type ShadowKey = (String, Option<String>);

/// Something loading, loaded, or failed (with the message to show).
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(String),
}

impl<T> Load<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Self::Ready(value) => Some(value),
            _ => None,
        }
    }
}

/// Where the console is pointed, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The embedded local IoT Core: shown as a banner nobody can miss.
    Local,
    Aws {
        region: String,
        profile: Option<String>,
        endpoint: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Things,
    Certificates,
    Policies,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// As the service listed them.
    #[default]
    Listed,
    Name,
    /// Things by type, certificates by status.
    Kind,
    /// Things by status, most urgent first (`tui/status.rs`).
    Status,
    /// Things by their soonest certificate expiry.
    Expiry,
    /// Things by when their device was last seen, most recent first.
    LastSeen,
}

impl Sort {
    /// The next sort of `list`: the status sorts are the Things list's.
    #[must_use]
    pub fn next(self, list: ListKind) -> Self {
        match (self, list) {
            (Self::Listed, _) => Self::Name,
            (Self::Name, _) => Self::Kind,
            (Self::Kind, ListKind::Things) => Self::Status,
            (Self::Status, _) => Self::Expiry,
            (Self::Expiry, _) => Self::LastSeen,
            (Self::Kind | Self::LastSeen, _) => Self::Listed,
        }
    }

    #[must_use]
    pub fn label(self, list: ListKind) -> &'static str {
        match (self, list) {
            (Self::Listed, _) => "as listed",
            (Self::Name, ListKind::Certificates) => "by id",
            (Self::Name, _) => "by name",
            (Self::Kind, ListKind::Certificates) => "by status",
            (Self::Kind, _) => "by type",
            (Self::Status, _) => "by status (most urgent first; what is loaded)",
            (Self::Expiry, _) => "by soonest certificate expiry (where loaded)",
            (Self::LastSeen, _) => "by last seen (where loaded)",
        }
    }

    /// Whether the order follows statuses that change as they load.
    #[must_use]
    pub fn by_status(self) -> bool {
        matches!(self, Self::Status | Self::Expiry | Self::LastSeen)
    }
}

/// A list screen's own state: cursor, scroll, filter, sort, and the rows it shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListView {
    pub selected: usize,
    pub offset: usize,
    pub filter: String,
    pub sort: Sort,
    /// Indices into the list's items, in display order, after filter and sort. While
    /// `matching`, the rows kept so far.
    pub rows: Vec<u32>,
    /// The filter's score of each row, once matched (empty without a filter, or when the rows
    /// came back from `history`).
    pub scores: Vec<u32>,
    /// The filter still being matched against a long list, a slice a frame.
    pub matching: Option<Box<crate::tui::things::matching::Matching>>,
    /// Statuses changed while `matching`: the rows are matched again once it is done.
    pub outdated: bool,
    /// The rows of each shorter filter typed on the way to this one, so erasing is instant.
    pub history: Vec<(String, Vec<u32>)>,
    /// With status words in the filter that are not known fleet-wide: for how many Things
    /// they are known (the rows that were loaded).
    pub status_known: Option<usize>,
    /// A fleet search (`:search`): the list shows only its matches.
    pub search: Option<SearchView>,
    /// The row selected when `r` began a refresh (its name or id) and how far below the top
    /// of the screen it was: the cursor goes back to it when it arrives again.
    pub keep: Option<(String, usize)>,
}

/// A fleet indexing search and the names it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchView {
    pub query: String,
    pub names: Load<std::collections::HashSet<String>>,
}

/// A related object a detail screen links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Thing(String),
    Certificate(String),
    Policy(String),
}

#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a handful of screens on the stack; a list's is the one most used"
)]
pub enum Screen {
    List(ListKind, ListView),
    Thing {
        name: String,
        cursor: usize,
        scroll: usize,
    },
    Certificate {
        id: String,
        cursor: usize,
        scroll: usize,
    },
    Policy {
        name: String,
        cursor: usize,
        scroll: usize,
    },
    /// Live MQTT traffic (its state is `State::traffic`, kept while other screens are open).
    Traffic,
    /// A Thing's classic (`name` None) or named shadow; `metadata` shows per-key timestamps.
    Shadow {
        thing: String,
        name: Option<String>,
        metadata: bool,
    },
    /// A report: lines of findings or events, each linked to its object, filtered by `/`
    /// (`State::report_filters`).
    Report {
        report: Report,
        cursor: usize,
        scroll: usize,
    },
}

impl Screen {
    #[must_use]
    pub fn list(kind: ListKind) -> Self {
        Self::List(kind, ListView::default())
    }
}

/// The report screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Report {
    /// The audit's findings (`State::audit`).
    Audit,
    /// Who AWS IoT refused (`State::denied`).
    Denied,
    /// Every isolated Thing, with the journal's who, when and why.
    Quarantined,
    /// Device Defender Detect's active violations (`State::violations`).
    Violations,
    /// Who changed a Thing, certificate or policy (`State::history`).
    History,
}

/// The history on the `History` report: of which resource, and what was read.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryView {
    pub resource: String,
    pub load: Load<crate::fleet::history::History>,
}

/// A line being typed: the filter (`/`) or the command line (`:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: InputKind,
    pub text: String,
    /// What the filter was before typing began, restored on cancel.
    pub before: String,
    /// A value offered while the line is empty (the selected message's topic for `p`, the last
    /// filter for `u`): drawn as a placeholder, taken only by Tab, so typing never appends to it.
    pub suggestion: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
    /// Search the traffic screen's messages.
    Search,
    Subscribe,
    Unsubscribe,
    /// `TOPIC PAYLOAD` to publish (confirmed before it is sent).
    Publish,
    /// A JSON path (`reading.speed`, `items[0].id`) to show of each payload.
    JsonPath,
    /// `ACTION TARGET` to ask the policy engine about the Thing on screen.
    Can,
}

/// What is on top, and so takes the keys: the one answer the keymap, `update`, the footer and
/// the prompts all ask (`State::focus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The quarantine or release popup; `name` while it wants the Thing's name typed.
    Quarantine {
        name: bool,
    },
    /// The embedded editor of a shadow's desired state.
    Editor,
    /// A line being typed: the filter, the command line, a search or topic.
    Input(InputKind),
    /// A publish waiting for its yes.
    Publish,
    /// A shadow edit under review, in conflict, or being applied.
    Review,
    Help,
    /// The screen on top of the stack.
    Screen,
}

impl Focus {
    /// Whether keys the keymap does not bind are typed as text.
    #[must_use]
    pub fn takes_text(self) -> bool {
        matches!(self, Self::Input(_) | Self::Quarantine { name: true })
    }
}

/// The keys that answer a confirmation, as the keymap's `[confirm]` and `[input]` layers bind
/// them, for the prompts that name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerKeys {
    pub yes: String,
    pub no: String,
    /// The input layer's confirm and cancel (Enter, Esc), and complete (Tab).
    pub confirm: String,
    pub cancel: String,
    pub complete: String,
    pub mine: String,
    pub theirs: String,
}

impl AnswerKeys {
    /// The cancel key as a sentence names it: `Esc` for `<Esc>`.
    #[must_use]
    pub fn esc(&self) -> &str {
        prose(&self.cancel)
    }

    /// The confirm key as a sentence names it: `Enter` for `<Enter>`.
    #[must_use]
    pub fn enter(&self) -> &str {
        prose(&self.confirm)
    }
}

fn prose(key: &str) -> &str {
    key.strip_prefix('<')
        .and_then(|k| k.strip_suffix('>'))
        .unwrap_or(key)
}

impl Default for AnswerKeys {
    /// The default keymap's (a test checks they agree).
    fn default() -> Self {
        Self {
            yes: "y".into(),
            no: "n".into(),
            confirm: "<Enter>".into(),
            cancel: "<Esc>".into(),
            complete: "<Tab>".into(),
            mine: "m".into(),
            theirs: "t".into(),
        }
    }
}

/// A mutation waiting for the user's yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Publish {
        topic: String,
        payload: String,
        qos: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

/// A loaded list and how its loading goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<Items> {
    pub items: Items,
    pub loading: bool,
    pub loaded_once: bool,
    pub error: Option<String>,
    /// Bumped by a refresh, so pages of an older listing are ignored.
    pub generation: u64,
}

impl<Items: Default> Default for Listing<Items> {
    fn default() -> Self {
        Self {
            items: Items::default(),
            loading: false,
            loaded_once: false,
            error: None,
            generation: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// What was read from the fleet (`data/`), apart from what the screens show.
    pub fleet: FleetData,
    pub backend: Backend,
    pub read_only: bool,
    /// Never empty: the last is on screen, Esc pops.
    pub screens: Vec<Screen>,
    pub input: Option<Input>,
    pub confirm: Option<Confirm>,
    /// What `/` keeps of each report's lines.
    pub report_filters: HashMap<Report, String>,
    /// The last question asked about each Thing's permissions (`w`), with its answers.
    pub asked: HashMap<String, Vec<crate::fleet::permissions::Answer>>,
    /// A quarantine or release in progress (its popup).
    pub quarantine: Option<Flow>,
    /// A bulk quarantine or release of the marked Things in progress (its popup).
    pub bulk: Option<crate::tui::flows::bulk_state::BulkFlow>,
    /// Things marked for a bulk quarantine or release (`select.rs`), by name.
    pub marked: std::collections::BTreeSet<String>,
    /// The strategy `Q` plans with (`quarantine_strategy` in config.toml).
    pub quarantine_strategy: crate::fleet::quarantine::Strategy,
    pub help: bool,
    /// How far the `?` help is scrolled, and how many lines it has (from the keymap).
    pub help_scroll: usize,
    pub help_lines: usize,
    /// The terminal's width and height.
    pub size: (u16, u16),
    /// Where times are shown: UTC, or the local offset (`:time local`, `local_time = true`).
    pub zone: time::UtcOffset,
    /// The local offset, read once at start (None where it cannot be known).
    pub local_zone: Option<time::UtcOffset>,
    /// The AWS profiles and regions to switch to (`:profile`, `:region`).
    pub profiles: crate::fleet::profiles::Profiles,
    /// A switch of profile or region in progress: what it connects to.
    pub switching: Option<String>,
    /// The keys prompts name for yes, no, cancel, mine and theirs.
    pub answer_keys: AnswerKeys,
    pub traffic: TrafficView,
    /// When the shadow on screen was last asked for.
    pub shadow_checked: Option<OffsetDateTime>,
    /// A desired-state edit in progress (kept when the editor is closed, until applied).
    pub edit: Option<ShadowEdit>,
    pub message: Option<Message>,
    /// Requests in flight.
    pub pending: usize,
    /// Throttled responses seen, and when the count last grew (for "throttled, retrying").
    pub throttled: u64,
    pub throttled_at: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
    pub spinner: usize,
    /// Rows a list screen can show, from the last terminal size.
    pub page_rows: usize,
    pub quit: bool,
}

impl State {
    #[must_use]
    pub fn new(backend: Backend, read_only: bool, now: OffsetDateTime) -> Self {
        Self {
            fleet: FleetData::default(),
            backend,
            read_only,
            screens: vec![Screen::list(ListKind::Things)],
            input: None,
            confirm: None,
            report_filters: HashMap::new(),
            asked: HashMap::new(),
            quarantine: None,
            marked: std::collections::BTreeSet::new(),
            bulk: None,
            quarantine_strategy: crate::fleet::quarantine::Strategy::default(),
            help: false,
            answer_keys: AnswerKeys::default(),
            help_scroll: 0,
            help_lines: 0,
            size: (80, 24),
            zone: time::UtcOffset::UTC,
            local_zone: None,
            profiles: crate::fleet::profiles::Profiles::default(),
            switching: None,
            traffic: TrafficView::default(),
            shadow_checked: None,
            edit: None,
            message: None,
            pending: 0,
            throttled: 0,
            throttled_at: None,
            now,
            spinner: 0,
            page_rows: 20,
            quit: false,
        }
    }

    /// The screen on top of the stack.
    ///
    /// # Panics
    ///
    /// Never: the stack always holds the first list screen.
    #[must_use]
    pub fn screen(&self) -> &Screen {
        self.screens
            .last()
            .expect("the screen stack is never empty")
    }

    /// The screen on top of the stack, to change.
    ///
    /// # Panics
    ///
    /// Never: the stack always holds the first list screen.
    pub fn screen_mut(&mut self) -> &mut Screen {
        self.screens
            .last_mut()
            .expect("the screen stack is never empty")
    }

    /// Opens a prompt line. What the status line said before is about something else: it goes,
    /// so an old error does not sit under the new prompt.
    pub fn prompt(&mut self, kind: InputKind, text: String) {
        self.message = None;
        self.input = Some(Input {
            kind,
            before: text.clone(),
            text,
            suggestion: String::new(),
        });
    }

    /// Opens an empty prompt offering `suggestion` as its placeholder (Tab takes it).
    pub fn prompt_suggesting(&mut self, kind: InputKind, suggestion: String) {
        self.prompt(kind, String::new());
        if let Some(input) = &mut self.input {
            input.suggestion = suggestion;
        }
    }

    /// Shows a message on the status line (the last one stays until another replaces it).
    pub fn say(&mut self, level: Level, text: impl Into<String>) {
        self.message = Some(Message {
            level,
            text: text.into(),
        });
    }

    /// Says something noticed in the background (a read that keeps failing), unless an error
    /// is on the status line: that stays until the user acts.
    pub fn note(&mut self, level: Level, text: impl Into<String>) {
        if !self
            .message
            .as_ref()
            .is_some_and(|m| m.level == Level::Error)
        {
            self.say(level, text);
        }
    }

    /// What is on top and takes the keys.
    #[must_use]
    pub fn focus(&self) -> Focus {
        if let Some(flow) = &self.quarantine {
            return Focus::Quarantine {
                name: flow.takes_text(),
            };
        }
        if let Some(flow) = &self.bulk {
            // Its number is typed while the plan waits for it, then the reason.
            return Focus::Quarantine {
                name: flow.takes_text(),
            };
        }
        let edit = self.shown_edit();
        if edit.is_some_and(|e| e.stage == crate::tui::shadow::edit_state::Stage::Editing) {
            return Focus::Editor;
        }
        if let Some(input) = &self.input {
            return Focus::Input(input.kind);
        }
        if self.confirm.is_some() {
            return Focus::Publish;
        }
        if edit.is_some() {
            return Focus::Review;
        }
        if self.help {
            return Focus::Help;
        }
        Focus::Screen
    }

    /// The shadow edit, when it is on screen: its shadow is the screen on top, and the editor is
    /// open or the edit is past editing.
    #[must_use]
    pub fn shown_edit(&self) -> Option<&ShadowEdit> {
        self.edit.as_ref().filter(|edit| {
            matches!(self.screen(), Screen::Shadow { thing, name, .. }
                if *thing == edit.thing && *name == edit.name)
                && (edit.open || edit.stage != crate::tui::shadow::edit_state::Stage::Editing)
        })
    }

    /// True while a throttled response was seen in the last five seconds.
    #[must_use]
    pub fn throttling(&self) -> bool {
        self.throttled_at
            .is_some_and(|at| (self.now - at).whole_seconds() < 5)
    }

    /// The Thing selected in the Things list, or shown on its own screen.
    #[must_use]
    pub fn selected_thing(&self) -> Option<String> {
        match self.screen() {
            Screen::Thing { name, .. } => Some(name.clone()),
            Screen::List(ListKind::Things, view) => view
                .rows
                .get(view.selected)
                .and_then(|&i| self.fleet.things.items.get(i as usize))
                .map(|t| t.name().to_owned()),
            _ => None,
        }
    }

    /// What `/` keeps of a report ("" for everything).
    #[must_use]
    pub fn report_filter(&self, report: Report) -> &str {
        self.report_filters.get(&report).map_or("", String::as_str)
    }

    /// Whether a list's filter is still being matched (`Msg::Match` matches more of it).
    #[must_use]
    pub fn matching(&self) -> bool {
        self.screens
            .iter()
            .any(|s| matches!(s, Screen::List(_, view) if view.matching.is_some()))
    }
}
