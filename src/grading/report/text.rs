//! The text report: a line per finished transcript, every failure with a diff of
//! expected and received lines, the closing line, and the block of suite errors.
//!
//! Here: the wording and the ANSI styles (the caller's `anstream` stream drops them
//! when the output is not a terminal; `report::plain` strips them for the other
//! formats that carry this text).
//! Elsewhere: the counts (`report::score`), the reproduction line (`report::nc`).

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use super::score::{Score, Skips};
use super::{BOLD, DIM, GREEN, RED, YELLOW, suite_error_heading};
use crate::escape::{Lines, for_terminal};
use crate::grading::suite::transcript::FormatError;
use crate::grading::verdict::{Outcome, StepFailure, TranscriptResult};

/// `ok    path (12 ms)`-style line for one finished transcript.
pub fn result_line(result: &TranscriptResult) -> String {
    let (style, word) = match &result.outcome {
        Outcome::Passed => (GREEN, "ok"),
        Outcome::Blessed => (YELLOW, "blessed"),
        Outcome::Failed => (RED, "FAIL"),
        Outcome::Broken(_) => (RED, "ERROR"),
        Outcome::Skipped(_) => (YELLOW, "skip"),
    };
    let mut line = format!(
        "{style}{word:<7}{style:#} {} {DIM}({} ms){DIM:#}",
        shown(&result.path.display().to_string()),
        result.duration.as_millis()
    );
    match &result.outcome {
        Outcome::Skipped(why) | Outcome::Broken(why) => {
            let _ = write!(line, ": {}", for_terminal(why, Lines::Keep));
        }
        _ => {}
    }
    line
}

/// Every failure of a transcript with a diff of expected (`-`) and received (`+`) lines.
pub fn failure_details(result: &TranscriptResult) -> String {
    let mut out = String::new();
    let path = result.path.display().to_string();
    let path = shown(&path);
    if let Outcome::Broken(why) = &result.outcome {
        let _ = writeln!(
            out,
            "{BOLD}{path}{BOLD:#}: {}",
            for_terminal(why, Lines::Keep)
        );
    }
    for failure in &result.failures {
        let _ = writeln!(
            out,
            "{BOLD}{path}:{}{BOLD:#}: `{}`: {}",
            failure.line,
            shown(&failure.step),
            for_terminal(&failure.message, Lines::Keep)
        );
        out.push_str(&diff(failure));
    }
    if let Some(hint) = &result.hint {
        let _ = writeln!(out, "    {YELLOW}hint{YELLOW:#}: {hint}");
    }
    // What the failed behaviour breaks: the assignment line, course key or RFC sentence.
    if !result.failures.is_empty() {
        for source in &result.sources {
            let _ = writeln!(out, "    {YELLOW}source{YELLOW:#}: {source}");
        }
    }
    if let Some(repro) = &result.reproduction {
        let _ = writeln!(out, "    {YELLOW}try{YELLOW:#}:  {repro}");
    }
    out
}

/// One line of text that may come from a submission (a path with its directory's name,
/// a line received), its control characters shown as escapes: no `\r` or ESC sequence
/// from a server reaches the terminal.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    for_terminal(text, Lines::Escape)
}

/// A unified diff of one failure's expected and received text, `-` expected, `+` received.
pub fn diff(failure: &StepFailure) -> String {
    let mut out = String::new();
    if failure.expected.is_empty() && failure.actual.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "    {RED}- expected{RED:#}  {GREEN}+ received{GREEN:#}"
    );
    let expected: Vec<&str> = failure.expected.iter().map(String::as_str).collect();
    let actual: Vec<&str> = failure.actual.iter().map(String::as_str).collect();
    let diff = TextDiff::from_slices(&expected, &actual);
    for (i, group) in diff.grouped_ops(4).iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, "    {DIM}...{DIM:#}");
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let (style, sign) = match change.tag() {
                    ChangeTag::Delete => (RED, '-'),
                    ChangeTag::Insert => (GREEN, '+'),
                    ChangeTag::Equal => (DIM, ' '),
                };
                let _ = writeln!(out, "    {style}{sign} {}{style:#}", shown(change.value()));
            }
        }
    }
    out
}

/// The closing line: `N passed, M failed`, then the warnings if any, then what was
/// skipped, why and how to play it (`Skips::note`).
/// A SHOULD transcript that failed is a warning, not a failure.
pub fn summary_line(results: &[TranscriptResult]) -> String {
    let t = Score::of(results).total;
    let mut line = format!("{} passed, {} failed", t.passed, t.failed);
    if t.warnings > 0 {
        let _ = write!(line, ", {} warnings", t.warnings);
    }
    if let Some(note) = Skips::of(results).note() {
        let _ = write!(line, ", {YELLOW}{note}{YELLOW:#}");
    }
    line
}

/// The text report's block of suite errors: `SUITE ERROR: ` and the heading, then a
/// line per error in the form editors jump to (`PATH:4: problem`); `None` if none.
pub fn suite_errors(errors: &[FormatError]) -> Option<String> {
    error_block(&suite_error_heading(errors), errors)
}

/// The same block after `replay --coverage`'s table, whose counts leave the files out:
/// `SUITE ERROR: 1 transcript of the suite could not be read: not in the counts above`.
pub fn coverage_suite_errors(errors: &[FormatError]) -> Option<String> {
    let n = errors.len();
    let heading = format!(
        "{n} transcript{} of the suite could not be read: not in the counts above",
        if n == 1 { "" } else { "s" }
    );
    error_block(&heading, errors)
}

fn error_block(heading: &str, errors: &[FormatError]) -> Option<String> {
    if errors.is_empty() {
        return None;
    }
    let mut out = format!("{RED}{BOLD}SUITE ERROR{BOLD:#}{RED:#}{RED}: {heading}{RED:#}\n");
    for e in errors {
        let _ = writeln!(out, "{e}");
    }
    Some(out)
}
