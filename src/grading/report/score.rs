//! The score every format shows: counts per category and in all, the weighted
//! percentage, what was skipped and why, and the text table of them.
//!
//! Here: `Tally`, `Score` (MUST counts 2, SHOULD 1, skipped transcripts are not
//! judged) and `Skips`. Elsewhere: each format's layout of them (`report::*`),
//! `summary.csv` (`grading::class`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::Style;
use serde::Serialize;

use super::{BOLD, RED, YELLOW};
use crate::grading::suite::transcript::Level;
use crate::grading::verdict::{Outcome, TranscriptResult};

/// Passed, failed and skipped counts of one category, or of the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub passed: usize,
    /// MUST transcripts that failed (or could not be played).
    pub failed: usize,
    /// SHOULD transcripts that failed: warnings, not failures of the run.
    pub warnings: usize,
    pub skipped: usize,
}

impl Tally {
    /// The transcripts that were played and judged: all but the skipped ones.
    pub fn played(&self) -> usize {
        self.passed + self.failed + self.warnings
    }

    fn add(&mut self, r: &TranscriptResult) {
        match (&r.outcome, r.level) {
            (Outcome::Passed | Outcome::Blessed, _) => self.passed += 1,
            (Outcome::Skipped(_), _) => self.skipped += 1,
            (_, Level::Should) => self.warnings += 1,
            (_, Level::Must) => self.failed += 1,
        }
    }
}

/// The score: per category and in all, and the percentage of judged transcripts
/// (not skipped) that passed, a MUST counting 2 and a SHOULD 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    pub categories: BTreeMap<String, Tally>,
    pub total: Tally,
    pub percent: f64,
}

impl Score {
    pub fn of(results: &[TranscriptResult]) -> Score {
        let mut score = Score::default();
        let (mut got, mut possible) = (0u32, 0u32);
        for r in results {
            score
                .categories
                .entry(r.category.clone())
                .or_default()
                .add(r);
            score.total.add(r);
            let weight = if r.level == Level::Must { 2 } else { 1 };
            match r.outcome {
                Outcome::Skipped(_) => {}
                Outcome::Passed | Outcome::Blessed => {
                    got += weight;
                    possible += weight;
                }
                _ => possible += weight,
            }
        }
        score.percent = if possible == 0 {
            0.0
        } else {
            (f64::from(got) * 1000.0 / f64::from(possible)).round() / 10.0
        };
        score
    }

    /// The table: one row per category, MUST failures first, then the total and the score.
    pub fn table(&self) -> String {
        let mut rows: Vec<(&String, &Tally)> = self.categories.iter().collect();
        rows.sort_by_key(|(name, t)| {
            (
                std::cmp::Reverse(t.failed),
                std::cmp::Reverse(t.warnings),
                *name,
            )
        });
        let mut out = format!(
            "{BOLD}{:<12} {:>6} {:>6} {:>8} {:>7}{BOLD:#}\n",
            "category", "passed", "failed", "warnings", "skipped"
        );
        let mut row = |name: &str, t: &Tally| {
            let style = if t.failed > 0 {
                RED
            } else if t.warnings > 0 {
                YELLOW
            } else {
                Style::new()
            };
            let _ = writeln!(
                out,
                "{style}{name:<12} {:>6} {:>6} {:>8} {:>7}{style:#}",
                t.passed, t.failed, t.warnings, t.skipped
            );
        };
        for (name, t) in rows {
            row(name, t);
        }
        row("all", &self.total);
        let _ = write!(out, "score {}%", self.percent);
        if self.total.skipped > 0 {
            let all = self.total.played() + self.total.skipped;
            let _ = write!(
                out,
                " of the {} played ({YELLOW}{} of {all} skipped{YELLOW:#})",
                self.total.played(),
                self.total.skipped
            );
        }
        out.push('\n');
        out
    }
}

/// What was skipped: how many of how many, and why, for every format's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skips<'a> {
    pub skipped: usize,
    pub total: usize,
    /// Each reason and how many transcripts it skipped, the most frequent first.
    pub reasons: Vec<(&'a str, usize)>,
}

impl<'a> Skips<'a> {
    pub fn of(results: &'a [TranscriptResult]) -> Skips<'a> {
        let mut reasons: Vec<(&str, usize)> = Vec::new();
        for r in results {
            if let Outcome::Skipped(why) = &r.outcome {
                match reasons.iter_mut().find(|(w, _)| *w == why.as_str()) {
                    Some((_, n)) => *n += 1,
                    None => reasons.push((why, 1)),
                }
            }
        }
        // Stable: reasons skipping as many keep the order they were first met.
        reasons.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        Skips {
            skipped: reasons.iter().map(|&(_, n)| n).sum(),
            total: results.len(),
            reasons,
        }
    }

    /// `24 of 42 SKIPPED (not played, not in the score): WHY`, with `N: WHY; M: WHY`
    /// when there are several reasons; `None` when nothing was skipped.
    pub fn note(&self) -> Option<String> {
        let why = match self.reasons.as_slice() {
            [] => return None,
            [(why, _)] => why.to_string(),
            several => several
                .iter()
                .map(|(why, n)| format!("{n}: {why}"))
                .collect::<Vec<_>>()
                .join("; "),
        };
        Some(format!(
            "{} of {} SKIPPED (not played, not in the score): {why}",
            self.skipped, self.total
        ))
    }
}
