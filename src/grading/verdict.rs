//! What grading found, as every later stage reads it: the data model of results.
//!
//! Here: `StepFailure` (one step that did not go as the transcript says, made by
//! `grading::play` and `grading::clients`), `Outcome` and `TranscriptResult` (one
//! transcript's verdict, made by `grading::replay` and `grading::class`).
//! Elsewhere: everything that produces them; the reports (`grading::report`) and
//! `summary.csv` (`grading::class`) only read them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::suite::transcript::{FormatError, Header, Level};

/// One step that did not go as the transcript says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    /// 1-based line of the step in the transcript.
    pub line: usize,
    /// The step as written, e.g. `expect a`.
    pub step: String,
    /// What went wrong, in one line.
    pub message: String,
    /// Rendered expected text (empty when the step has no expected bytes).
    pub expected: Vec<String>,
    /// Rendered text of what arrived.
    pub actual: Vec<String>,
}

/// How one transcript ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// It failed and `--bless` rewrote its expected responses.
    Blessed,
    Failed,
    /// The transcript could not be played (the server would not start; a file that
    /// stopped loading after `readable` checked the suite).
    Broken(String),
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct TranscriptResult {
    pub path: PathBuf,
    pub outcome: Outcome,
    pub duration: Duration,
    pub failures: Vec<StepFailure>,
    pub level: Level,
    pub category: String,
    /// What the contract says (the transcript's `hint`).
    pub hint: Option<String>,
    /// A shell line that sends the transcript's first connection's bytes with `nc`.
    pub reproduction: Option<String>,
}

impl TranscriptResult {
    /// `outcome` for the transcript at `path`, before anything else is known: no
    /// failures, no time taken, a MUST of no category, no hint or reproduction.
    /// The one constructor: the others, and the setters below, start from it.
    pub fn new(path: &Path, outcome: Outcome) -> TranscriptResult {
        TranscriptResult {
            path: path.to_path_buf(),
            outcome,
            duration: Duration::ZERO,
            failures: vec![],
            level: Level::Must,
            category: String::new(),
            hint: None,
            reproduction: None,
        }
    }

    /// A transcript that could not be loaded: an error saying what is wrong with the
    /// file, in the category (and at the level) its lines give, else its directory's.
    pub fn unloadable(path: &Path, error: &FormatError) -> TranscriptResult {
        let header = Header::scan(path);
        TranscriptResult::new(path, Outcome::Broken(error.problem()))
            .placed(header.level, header.category)
    }

    /// The same, with the level, category and hint of a transcript's `header`.
    pub fn described_by(self, header: &Header) -> TranscriptResult {
        self.placed(header.level, header.category.clone())
            .hinted(header.hint.clone())
    }

    /// The same, at `level` in `category`.
    pub fn placed(mut self, level: Level, category: String) -> TranscriptResult {
        self.level = level;
        self.category = category;
        self
    }

    /// The same, with `hint`.
    pub fn hinted(mut self, hint: Option<String>) -> TranscriptResult {
        self.hint = hint;
        self
    }

    /// The same, having taken `duration`.
    pub fn taking(mut self, duration: Duration) -> TranscriptResult {
        self.duration = duration;
        self
    }
}
