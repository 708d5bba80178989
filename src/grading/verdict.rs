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
    /// What requires the behaviour (`source` lines, as `KIND TEXT`).
    pub sources: Vec<String>,
    /// The positive twin's path (resolved against the transcript's directory): a
    /// rejection earns its points only when the twin passed in the same run.
    pub twin: Option<PathBuf>,
    /// The checks inside the transcript (status, the rest of each response, the data
    /// file after each write) and how many passed: partial credit.
    pub checks: Checks,
}

/// The checks of one played transcript: each `expect` is two (its status; the rest of
/// the response: the body, and the fields at contract level), each `expect-store` one.
/// A step never reached (the play stopped at a close) counts as failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checks {
    pub passed: u32,
    pub total: u32,
}

impl TranscriptResult {
    /// The share of the transcript's points it earns: 1 when it passed, nothing when it
    /// was not played or its twin revoked it, else the share of its checks that passed.
    pub fn credit(&self) -> f64 {
        match self.outcome {
            Outcome::Passed | Outcome::Blessed => 1.0,
            Outcome::Failed if self.checks.total > 0 => {
                f64::from(self.checks.passed) / f64::from(self.checks.total)
            }
            _ => 0.0,
        }
    }
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
            sources: vec![],
            twin: None,
            checks: Checks::default(),
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
    pub fn described_by(mut self, header: &Header) -> TranscriptResult {
        self.sources = header
            .sources
            .iter()
            .map(|s| format!("{} {}", s.kind.as_str(), s.text))
            .collect();
        self.twin = header.twin.as_ref().map(|twin| {
            let dir = self.path.parent().unwrap_or(Path::new(""));
            lexical(&dir.join(twin))
        });
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

/// `path` with `.` and `name/..` taken out, without touching the file system.
pub fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The step a twin's failure is reported under.
const TWIN_STEP: &str = "(the positive twin)";

/// No credit without the positive twin: a rejection whose twin was played in the same
/// run (`results`, one submission's) and did not pass earns nothing, its partial credit
/// included; one that passed becomes a failure that says why. A twin not in the run, or
/// skipped (not played), leaves it as it is.
pub fn apply_twins(results: &mut [TranscriptResult]) {
    let passed: std::collections::HashMap<PathBuf, bool> = results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Skipped(_)))
        .map(|r| (lexical(&r.path), r.outcome == Outcome::Passed))
        .collect();
    for r in results.iter_mut() {
        let Some(twin) = &r.twin else { continue };
        if !matches!(r.outcome, Outcome::Passed | Outcome::Failed)
            || passed.get(twin) != Some(&false)
            || r.failures.iter().any(|f| f.step == TWIN_STEP)
        {
            continue;
        }
        let name = twin
            .file_stem()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        r.outcome = Outcome::Failed;
        r.checks.passed = 0;
        r.failures.push(StepFailure {
            line: 0,
            step: TWIN_STEP.to_string(),
            message: format!(
                "no credit for this rejection: its valid twin {name} did not pass, so the refusal need not come from checking the request (a server that refuses everything passes every rejection)"
            ),
            expected: vec![],
            actual: vec![],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(twin_outcome: Outcome) -> Vec<TranscriptResult> {
        let twin = TranscriptResult::new(Path::new("t/methods/post.transcript"), twin_outcome);
        let mut rejection =
            TranscriptResult::new(Path::new("t/methods/post-400.transcript"), Outcome::Passed);
        rejection.twin = Some(lexical(Path::new("t/methods/../methods/post.transcript")));
        rejection.checks = Checks {
            passed: 2,
            total: 2,
        };
        vec![twin, rejection]
    }

    #[test]
    fn a_rejection_earns_nothing_when_its_twin_failed_and_is_left_alone_otherwise() {
        let mut failed = rejection(Outcome::Failed);
        apply_twins(&mut failed);
        apply_twins(&mut failed);
        assert_eq!(failed[1].outcome, Outcome::Failed);
        assert_eq!(failed[1].credit(), 0.0);
        assert_eq!(failed[1].failures.len(), 1, "applied once");
        for outcome in [Outcome::Passed, Outcome::Skipped("contract only".into())] {
            let mut results = rejection(outcome);
            apply_twins(&mut results);
            assert_eq!(results[1].outcome, Outcome::Passed);
            assert_eq!(results[1].credit(), 1.0);
        }
    }
}
