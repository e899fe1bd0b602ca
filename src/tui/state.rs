//! Everything the console shows, as plain data: the screen stack, what has loaded, the filter
//! and command line, messages. Only `update` changes it; views only read it.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::tui::data::{FleetData, ListKind, Load};
use crate::tui::flows::flow::{Change, Flow};
use crate::tui::msg::{AnswerKeys, Level};
use crate::tui::shadow::edit_state::ShadowEdit;
use crate::tui::traffic::state::TrafficView;

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
    /// A change being confirmed, run or reported (`flows/`); `text` while it wants something
    /// typed (a Thing's name, a number of Things, a reason).
    Flow {
        text: bool,
    },
    /// The embedded editor of a shadow's desired state.
    Editor,
    /// A line being typed: the filter, the command line, a search or topic.
    Input(InputKind),
    /// A shadow edit in conflict with a newer shadow: each key both changed gets a side.
    Merge,
    Help,
    /// The screen on top of the stack.
    Screen,
}

impl Focus {
    /// Whether keys the keymap does not bind are typed as text.
    #[must_use]
    pub fn takes_text(self) -> bool {
        matches!(self, Self::Input(_) | Self::Flow { text: true })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
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
    /// What `/` keeps of each report's lines.
    pub report_filters: HashMap<Report, String>,
    /// The last question asked about each Thing's permissions (`w`), with its answers.
    pub asked: HashMap<String, Vec<crate::fleet::permissions::Answer>>,
    /// The change being confirmed, run or reported (`flows/`).
    pub flow: Option<Flow>,
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
            report_filters: HashMap::new(),
            asked: HashMap::new(),
            flow: None,
            marked: std::collections::BTreeSet::new(),
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

    /// Takes the configuration in; its problems are the first message.
    pub fn configure(&mut self, setup: crate::tui::msg::Setup) {
        self.traffic = crate::tui::traffic::state::TrafficView::new(setup.history_budget);
        self.answer_keys = setup.answer_keys;
        self.help_lines = setup.help_lines;
        self.profiles = setup.profiles;
        self.quarantine_strategy = setup.quarantine_strategy;
        if !setup.problems.is_empty() {
            self.say(Level::Error, setup.problems.join(" | "));
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
        if let Some(flow) = &self.flow {
            return Focus::Flow {
                text: flow.takes_text(),
            };
        }
        let edit = self.shown_edit();
        if edit.is_some_and(|e| e.stage == crate::tui::shadow::edit_state::Stage::Editing) {
            return Focus::Editor;
        }
        if let Some(input) = &self.input {
            return Focus::Input(input.kind);
        }
        if edit.is_some() {
            return Focus::Merge;
        }
        if self.help {
            return Focus::Help;
        }
        Focus::Screen
    }

    /// Whether the shadow edit's change is being confirmed or applied (a flow).
    #[must_use]
    pub fn edit_in_flow(&self) -> bool {
        matches!(
            self.flow,
            Some(Flow {
                change: Change::Shadow { .. },
                ..
            })
        )
    }

    /// The shadow edit, when it is on screen: its shadow is the screen on top, and the editor is
    /// open or the edit is past editing (confirmed, applied, or in conflict).
    #[must_use]
    pub fn shown_edit(&self) -> Option<&ShadowEdit> {
        self.edit.as_ref().filter(|edit| {
            matches!(self.screen(), Screen::Shadow { thing, name, .. }
                if *thing == edit.thing && *name == edit.name)
                && (edit.open
                    || edit.stage != crate::tui::shadow::edit_state::Stage::Editing
                    || self.edit_in_flow())
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
