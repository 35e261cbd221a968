//! A run's timeline for people: lanes of spans and marks in simulated
//! milliseconds (the node's lives and pauses, full disks, faults, client
//! connections, the checkers' verdicts), from which `run --html` draws an
//! SVG picture. Built at the end of a run from what the simulation kept;
//! bounded so that a long run still gives a page a browser opens.

/// Marks one lane keeps, at most; beyond, marks are thinned evenly and the
/// lane says how many it dropped.
pub const MARKS_PER_LANE_MAX: usize = 2000;

/// What a lane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneKind {
    /// The node: up, paused, down, and its restarts.
    Node,
    /// The disk: full-disk episodes, and calls that failed.
    Disk,
    /// The faults that fired.
    Faults,
    /// One client: its connections, the replies it got.
    Client,
    /// The checkers' verdicts at the end (and at each restart).
    Checker,
}

impl LaneKind {
    pub fn name(self) -> &'static str {
        match self {
            LaneKind::Node => "node",
            LaneKind::Disk => "disk",
            LaneKind::Faults => "faults",
            LaneKind::Client => "client",
            LaneKind::Checker => "checker",
        }
    }
}

/// Something that lasts: `class` names its kind for the picture's style
/// (`up`, `paused`, `down`, `disk-full`, `connection`, `quiet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start_ms: u64,
    pub end_ms: u64,
    pub label: String,
    pub class: &'static str,
}

/// Something that happens at one moment: `class` names its kind (`crash`,
/// `restart`, `fault`, `reply`, `error`, `pass`, `fail`, `disk-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub at_ms: u64,
    pub label: String,
    pub class: &'static str,
}

/// One row of the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    pub name: String,
    pub kind: LaneKind,
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
    /// Marks thinned away to respect [`MARKS_PER_LANE_MAX`].
    pub marks_dropped: usize,
}

impl Lane {
    pub fn new(name: impl Into<String>, kind: LaneKind) -> Self {
        Lane {
            name: name.into(),
            kind,
            spans: Vec::new(),
            marks: Vec::new(),
            marks_dropped: 0,
        }
    }

    /// Keeps at most [`MARKS_PER_LANE_MAX`] marks, evenly spread, always
    /// keeping every mark that is not a plain `reply`.
    pub fn thin(&mut self) {
        if self.marks.len() <= MARKS_PER_LANE_MAX {
            return;
        }
        let plain = self.marks.iter().filter(|m| m.class == "reply").count();
        let keep_plain = MARKS_PER_LANE_MAX.saturating_sub(self.marks.len() - plain);
        let step = plain.div_ceil(keep_plain.max(1)).max(1);
        let mut seen = 0;
        let before = self.marks.len();
        self.marks.retain(|mark| {
            if mark.class != "reply" {
                return true;
            }
            seen += 1;
            keep_plain > 0 && (seen - 1) % step == 0
        });
        self.marks_dropped = before - self.marks.len();
    }
}

/// The whole picture of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The title: scenario, seed, verdict.
    pub title: String,
    pub end_ms: u64,
    pub lanes: Vec<Lane>,
    /// The run passed every required checker.
    pub passed: bool,
    /// The checkers' verdict lines, for the page's legend.
    pub verdicts: Vec<String>,
    /// The command that replays the run.
    pub replay: String,
}
