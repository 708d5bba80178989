//! The JSON report (`serde_json`): totals, the score, the skip reasons, the
//! categories, how the targets ran (`box`), each transcript with its failures and
//! plain diffs, then the suite errors, if any. Elsewhere: the counts (`report::score`), the diffs (`report::text`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::score::{Score, Skips, Tally};
use super::text::diff;
use super::{outcome_word, plain};
use crate::grading::suite::transcript::FormatError;
use crate::grading::verdict::TranscriptResult;

#[derive(Serialize)]
struct JsonReport<'a> {
    passed: usize,
    failed: usize,
    warnings: usize,
    skipped: usize,
    /// The transcripts judged: `score` is of these only.
    played: usize,
    total: usize,
    score: f64,
    skip_reasons: Vec<JsonSkip<'a>>,
    categories: &'a BTreeMap<String, Tally>,
    /// How the servers ran: the box's protections, or `no box (--no-box)`. Present
    /// only for servers the run started (`--target-cmd`, `grade`).
    #[serde(rename = "box", skip_serializing_if = "Option::is_none")]
    isolation: Option<&'a str>,
    transcripts: Vec<JsonTranscript<'a>>,
    /// Transcripts of the suite that could not be read: not in `transcripts` or
    /// any count. Present only when there are some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suite_errors: Vec<JsonSuiteError>,
}

#[derive(Serialize)]
struct JsonSuiteError {
    path: String,
    /// The line the problem is on; absent when the file could not be read at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    message: String,
    /// `PATH:LINE: message`, as the text report prints it.
    error: String,
}

#[derive(Serialize)]
struct JsonTranscript<'a> {
    path: String,
    outcome: &'static str,
    level: &'static str,
    category: &'a str,
    duration_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reproduction: Option<&'a str>,
    failures: Vec<JsonFailure<'a>>,
}

#[derive(Serialize)]
struct JsonSkip<'a> {
    reason: &'a str,
    count: usize,
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    line: usize,
    step: &'a str,
    message: &'a str,
    diff: String,
}

/// A JSON report: totals, the score, and per transcript its outcome, level,
/// category and failures with plain diffs; then the suite errors, if any.
/// `isolation`: how the servers ran (`Isolation::report_line`), for a run that started them.
pub fn json(
    results: &[TranscriptResult],
    errors: &[FormatError],
    isolation: Option<&str>,
) -> String {
    let score = Score::of(results);
    let report = JsonReport {
        passed: score.total.passed,
        failed: score.total.failed,
        warnings: score.total.warnings,
        skipped: score.total.skipped,
        played: score.total.played(),
        total: results.len(),
        score: score.percent,
        skip_reasons: Skips::of(results)
            .reasons
            .into_iter()
            .map(|(reason, count)| JsonSkip { reason, count })
            .collect(),
        categories: &score.categories,
        isolation,
        transcripts: results
            .iter()
            .map(|r| {
                let (outcome, reason) = outcome_word(&r.outcome);
                JsonTranscript {
                    path: r.path.display().to_string(),
                    outcome,
                    level: r.level.as_str(),
                    category: &r.category,
                    duration_ms: r.duration.as_millis(),
                    reason,
                    hint: r.hint.as_deref(),
                    reproduction: r.reproduction.as_deref(),
                    failures: r
                        .failures
                        .iter()
                        .map(|f| JsonFailure {
                            line: f.line,
                            step: &f.step,
                            message: &f.message,
                            diff: plain(&diff(f)),
                        })
                        .collect(),
                }
            })
            .collect(),
        suite_errors: errors
            .iter()
            .map(|e| JsonSuiteError {
                path: e.path.display().to_string(),
                line: (e.line > 0).then_some(e.line),
                message: e.message.clone(),
                error: e.to_string(),
            })
            .collect(),
    };
    let mut out =
        serde_json::to_string(&report).expect("a report of strings and numbers serializes");
    out.push('\n');
    out
}
