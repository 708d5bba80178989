//! Presenting results: one module per format, all reading the same data model.
//!
//! The data model is `grading::verdict`'s `TranscriptResult`s of a run (or of one
//! submission) and the suite errors beside them (`FormatError`s, which no format
//! counts as a result); `score` derives the counts every format shows from them.
//! Formats: `text` (a line per transcript, diffs, the closing line, the suite-error
//! block; ANSI styles, dropped by the caller's `anstream` stream off a terminal),
//! `score` (the table), `nc` (reproductions to paste), `json` (`serde_json`),
//! `junit` (`quick-xml`), `tap`, `html` (one self-contained page).
//! Reports read results and never re-run anything.
//! Elsewhere: producing the results (`grading::replay`, `grading::class`), playing
//! steps (`grading::play`), `summary.csv` (`grading::class`).

pub mod gradescope;
pub mod html;
pub mod json;
pub mod junit;
pub mod nc;
pub mod score;
pub mod tap;
pub mod text;

pub use gradescope::gradescope;
pub use html::html;
pub use json::json;
pub use junit::junit;
pub use nc::reproduction;
pub use score::{Score, Skips, Tally};
pub use tap::tap;
pub use text::{
    coverage_suite_errors, diff, failure_details, result_line, suite_errors, summary_line,
};

use anstyle::{AnsiColor, Style};

use super::suite::transcript::FormatError;
use super::verdict::Outcome;

// The styles of the text report and the score table (`anstream` drops them off a terminal).
const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// What suite errors are, for every format: `1 transcript of the suite could not be
/// read: not played, not in the score (the fault is in the suite, not in the server)`.
pub fn suite_error_heading(errors: &[FormatError]) -> String {
    let n = errors.len();
    format!(
        "{n} transcript{} of the suite could not be read: not played, not in the score (the fault is in the suite, not in the server)",
        if n == 1 { "" } else { "s" }
    )
}

/// `passed|failed|skipped` (plus `blessed` and `error`), and the reason if any.
pub(super) fn outcome_word(outcome: &Outcome) -> (&'static str, Option<&str>) {
    match outcome {
        Outcome::Passed => ("passed", None),
        Outcome::Blessed => ("blessed", None),
        Outcome::Failed => ("failed", None),
        Outcome::Broken(why) => ("error", Some(why.as_str())),
        Outcome::Skipped(why) => ("skipped", Some(why.as_str())),
    }
}

/// Text without ANSI escape sequences.
pub fn plain(text: &str) -> String {
    anstream::adapter::strip_str(text).to_string()
}

#[cfg(test)]
mod tests;
