//! The TAP 14 report: one test point per transcript, YAML blocks for failures,
//! suite errors as comments and `Bail out!`. Elsewhere: the counts (`report::score`).

use std::fmt::Write as _;

use super::score::Skips;
use super::suite_error_heading;
use crate::escape::{Lines, for_terminal};
use crate::grading::suite::transcript::{FormatError, Level};
use crate::grading::verdict::{Outcome, TranscriptResult};

/// A TAP 14 report: one test point per transcript, SKIP with its reason, a SHOULD
/// failure as `# TODO` (a warning), failures with a YAML block; a closing comment
/// when some were skipped (`Skips::note`). Suite errors are no test point: after
/// the last one, a comment per error (`# PATH:4: problem`) and `Bail out!`, TAP's
/// "the run itself went wrong".
pub fn tap(results: &[TranscriptResult], errors: &[FormatError]) -> String {
    let mut out = format!("TAP version 14\n1..{}\n", results.len());
    for (i, r) in results.iter().enumerate() {
        let n = i + 1;
        let path = r.path.display().to_string();
        let path = for_terminal(&path, Lines::Escape);
        match (&r.outcome, r.level) {
            (Outcome::Passed | Outcome::Blessed, _) => {
                let _ = writeln!(out, "ok {n} - {path}");
            }
            (Outcome::Skipped(why), _) => {
                let why = for_terminal(why, Lines::Escape);
                let _ = writeln!(out, "ok {n} - {path} # SKIP {why}");
            }
            (outcome, level) => {
                let todo = if level == Level::Should {
                    " # TODO SHOULD, a warning"
                } else {
                    ""
                };
                let _ = writeln!(out, "not ok {n} - {path}{todo}");
                // JSON strings are valid YAML scalars: no hand-written quoting.
                // Controls as escapes first: JSON leaves DEL and the C1 controls as they are.
                let scalar = |t: &str| {
                    serde_json::Value::from(for_terminal(t, Lines::Keep).as_ref()).to_string()
                };
                let _ = writeln!(out, "  ---");
                let _ = writeln!(out, "  level: {}", level.as_str());
                let _ = writeln!(out, "  category: {}", scalar(&r.category));
                if let Outcome::Broken(why) = outcome {
                    let _ = writeln!(out, "  error: {}", scalar(why));
                }
                let _ = writeln!(out, "  failures:");
                for f in &r.failures {
                    let _ = writeln!(out, "    - line: {}", f.line);
                    let _ = writeln!(out, "      message: {}", scalar(&f.message));
                }
                if let Some(repro) = &r.reproduction {
                    let _ = writeln!(out, "  reproduction: {}", scalar(repro));
                }
                let _ = writeln!(out, "  ...");
            }
        }
    }
    if let Some(note) = Skips::of(results).note() {
        let _ = writeln!(out, "# {note}");
    }
    if !errors.is_empty() {
        for e in errors {
            let _ = writeln!(out, "# {e}");
        }
        let _ = writeln!(out, "Bail out! {}", suite_error_heading(errors));
    }
    out
}
