//! Gradescope's `results.json` (the autograder results format): one test per
//! transcript played, with `score` and `max_score` (the category's weight from the
//! course's `[grading.weights]`, 1 when not named), `name`, `output` (the reasons, the
//! hint, the reproduction), `visibility`, and `tags` (the level, `MUST` or `SHOULD`,
//! and the category); the total `score`. Skipped transcripts (contract only, not
//! scored) are listed with a `max_score` of 0. Suite errors go to the top `output`.
//! Elsewhere: the weights (`crate::course`), the outcome words (`report`).

use serde::Serialize;

use super::text::diff;
use super::{outcome_word, plain, suite_error_heading};
use crate::course::Course;
use crate::grading::suite::transcript::FormatError;
use crate::grading::verdict::{Outcome, TranscriptResult};

#[derive(Serialize)]
struct Results {
    score: f64,
    output: String,
    visibility: &'static str,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    score: f64,
    max_score: f64,
    output: String,
    visibility: &'static str,
    tags: Vec<String>,
}

/// Rounds points to what a grade book shows (four decimals).
fn round(points: f64) -> f64 {
    (points * 10_000.0).round() / 10_000.0
}

/// The results of one submission (or one replay) as Gradescope's `results.json`.
pub fn gradescope(results: &[TranscriptResult], errors: &[FormatError], course: &Course) -> String {
    let mut total = 0.0;
    let mut tests = Vec::new();
    for r in results {
        let scored = !matches!(r.outcome, Outcome::Skipped(_));
        let max = if scored {
            course.weight(&r.category)
        } else {
            0.0
        };
        // Partial credit: the share of the transcript's checks that passed.
        let score = max * r.credit();
        total += score;
        let (word, reason) = outcome_word(&r.outcome);
        let mut output = format!("{word} ({} {})", r.level.as_str(), r.category);
        if r.checks.total > 0 && r.outcome == Outcome::Failed {
            output.push_str(&format!(
                ", {} of {} checks passed",
                r.checks.passed, r.checks.total
            ));
        }
        if let Some(reason) = reason {
            output.push_str(&format!(": {reason}"));
        }
        for f in &r.failures {
            output.push_str(&format!(
                "\n\nline {}, `{}`: {}\n{}",
                f.line,
                f.step,
                f.message,
                plain(&diff(f))
            ));
        }
        if !r.failures.is_empty() {
            if let Some(hint) = &r.hint {
                output.push_str(&format!("\n\nhint: {hint}"));
            }
            if let Some(repro) = &r.reproduction {
                output.push_str(&format!("\n\nreproduce: {repro}"));
            }
        }
        for source in &r.sources {
            output.push_str(&format!("\nsource: {source}"));
        }
        tests.push(Test {
            name: r
                .path
                .with_extension("")
                .display()
                .to_string()
                .trim_start_matches("transcripts/")
                .to_string(),
            score: round(score),
            max_score: round(max),
            output,
            visibility: "visible",
            tags: vec![r.level.as_str().to_string(), r.category.clone()],
        });
    }
    let output = if errors.is_empty() {
        String::new()
    } else {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("{}\n{}", suite_error_heading(errors), lines.join("\n"))
    };
    let report = Results {
        score: round(total),
        output,
        visibility: "visible",
        tests,
    };
    let mut text = serde_json::to_string_pretty(&report).expect("the report serialises");
    text.push('\n');
    text
}
