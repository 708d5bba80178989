//! Presenting replay results: a line per transcript, diffs, the score table, and
//! JSON, JUnit XML, TAP and a self-contained HTML page.
//!
//! Here: text with ANSI styles (the caller's `anstream` stream drops them when the
//! output is not a terminal), the score (`Score`), `nc` reproductions, and the
//! machine-readable formats (JSON through `serde_json`, XML through `quick-xml`).
//! Elsewhere: producing the results (`replay`), playing steps (`grading::play`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_xml::Writer;
use quick_xml::escape::escape;
use quick_xml::events::BytesText;
use serde::Serialize;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use super::suite::transcript::{FormatError, Level, StepKind, Transcript};
use super::target::Target;
use super::verdict::{Outcome, StepFailure, TranscriptResult};

const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

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
        result.path.display(),
        result.duration.as_millis()
    );
    match &result.outcome {
        Outcome::Skipped(why) | Outcome::Broken(why) => {
            let _ = write!(line, ": {why}");
        }
        _ => {}
    }
    line
}

/// Every failure of a transcript with a diff of expected (`-`) and received (`+`) lines.
pub fn failure_details(result: &TranscriptResult) -> String {
    let mut out = String::new();
    if let Outcome::Broken(why) = &result.outcome {
        let _ = writeln!(out, "{BOLD}{}{BOLD:#}: {why}", result.path.display());
    }
    for failure in &result.failures {
        let _ = writeln!(
            out,
            "{BOLD}{}:{}{BOLD:#}: `{}`: {}",
            result.path.display(),
            failure.line,
            failure.step,
            failure.message
        );
        out.push_str(&diff(failure));
    }
    if let Some(hint) = &result.hint {
        let _ = writeln!(out, "    {YELLOW}hint{YELLOW:#}: {hint}");
    }
    if let Some(repro) = &result.reproduction {
        let _ = writeln!(out, "    {YELLOW}try{YELLOW:#}:  {repro}");
    }
    out
}

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
                let _ = writeln!(out, "    {style}{sign} {}{style:#}", change.value());
            }
        }
    }
    out
}

/// `printf '...' | nc HOST PORT` sending what the transcript's first connection sends
/// (with `sleep`s where it pauses), for a student to paste; `None` if it sends nothing.
pub fn reproduction(t: &Transcript, target: &Target) -> Option<String> {
    let first = t.steps.iter().find_map(|s| match &s.kind {
        StepKind::Open(c) => Some(c.clone()),
        _ => None,
    })?;
    let mut parts = Vec::new();
    let mut pending_wait = None;
    for step in &t.steps {
        match &step.kind {
            StepKind::Send { conn, bytes } if *conn == first => {
                if let Some(ms) = pending_wait.take()
                    && !parts.is_empty()
                {
                    parts.push(format!("sleep {}", seconds(ms)));
                }
                parts.push(format!("printf '{}'", printf_escape(bytes)));
            }
            StepKind::Wait(d) => pending_wait = Some(d.as_millis()),
            _ => {}
        }
    }
    if parts.is_empty() {
        return None;
    }
    let addr = match target {
        Target::Addr(addr) => format!("{} {}", addr.ip(), addr.port()),
        _ => "127.0.0.1 PORT".to_string(),
    };
    let input = if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("{{ {}; }}", parts.join("; "))
    };
    let mut setup = Vec::new();
    if let Some(store) = t.store.as_deref().filter(|s| !s.is_empty()) {
        let words: Vec<String> = String::from_utf8_lossy(store)
            .lines()
            .map(str::to_string)
            .collect();
        setup.push(format!("store holding {}", words.join(" ")));
    }
    if let Some(flags) = t.server_flags.as_deref().filter(|f| !f.is_empty()) {
        setup.push(format!("server flags {}", flags.join(" ")));
    }
    let setup = if setup.is_empty() {
        String::new()
    } else {
        format!("  # first start it with: {}", setup.join("; "))
    };
    Some(format!("{input} | nc {addr}{setup}"))
}

fn seconds(ms: u128) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Bytes as the format string of POSIX `printf` inside single quotes: `\r` `\n`,
/// octal for other control bytes, `%%` and `'\''`.
fn printf_escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'%' => out.push_str("%%"),
            b'\'' => out.push_str("'\\''"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03o}");
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

/// What suite errors are, for every format: `1 transcript of the suite could not be
/// read: not played, not in the score (the fault is in the suite, not in the server)`.
pub fn suite_error_heading(errors: &[FormatError]) -> String {
    let n = errors.len();
    format!(
        "{n} transcript{} of the suite could not be read: not played, not in the score (the fault is in the suite, not in the server)",
        if n == 1 { "" } else { "s" }
    )
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

/// `passed|failed|skipped` (plus `blessed` and `error`), and the reason if any.
fn outcome_word(outcome: &Outcome) -> (&'static str, Option<&str>) {
    match outcome {
        Outcome::Passed => ("passed", None),
        Outcome::Blessed => ("blessed", None),
        Outcome::Failed => ("failed", None),
        Outcome::Broken(why) => ("error", Some(why.as_str())),
        Outcome::Skipped(why) => ("skipped", Some(why.as_str())),
    }
}

/// A JSON report: totals, the score, and per transcript its outcome, level,
/// category and failures with plain diffs; then the suite errors, if any.
pub fn json(results: &[TranscriptResult], errors: &[FormatError]) -> String {
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

/// XML 1.0 cannot carry most control characters, even escaped.
fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c as u32) < 0x20 && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// A JUnit XML report, one `testcase` per transcript (SHOULD failures are
/// reported as passing cases with their failure in `system-out`). A suite error
/// comes first, as a case of class `suite` with an `<error>` (JUnit's "could not
/// run", apart from the failures), counted in `errors` and only there.
pub fn junit(results: &[TranscriptResult], errors: &[FormatError]) -> String {
    let score = Score::of(results);
    let total: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let written = w
        .create_element("testsuite")
        .with_attribute(("name", "wordwire-replay"))
        .with_attribute(("tests", (results.len() + errors.len()).to_string().as_str()))
        .with_attribute(("failures", score.total.failed.to_string().as_str()))
        .with_attribute(("errors", errors.len().to_string().as_str()))
        .with_attribute(("skipped", score.total.skipped.to_string().as_str()))
        .with_attribute(("time", format!("{total:.3}").as_str()))
        .write_inner_content(|w| {
            for e in errors {
                w.create_element("testcase")
                    .with_attribute(("classname", "suite"))
                    .with_attribute(("name", xml_safe(&e.path.display().to_string()).as_str()))
                    .with_attribute(("time", "0.000"))
                    .write_inner_content(|w| {
                        w.create_element("error")
                            .with_attribute(("message", xml_safe(&e.to_string()).as_str()))
                            .with_attribute(("type", "suite error"))
                            .write_text_content(BytesText::new(&suite_error_heading(errors)))?;
                        Ok(())
                    })?;
            }
            for r in results {
                let case = w
                    .create_element("testcase")
                    .with_attribute(("classname", r.category.as_str()))
                    .with_attribute(("name", xml_safe(&r.path.display().to_string()).as_str()))
                    .with_attribute(("time", format!("{:.3}", r.duration.as_secs_f64()).as_str()));
                match (&r.outcome, r.level) {
                    (Outcome::Passed | Outcome::Blessed, _) => {
                        case.write_empty()?;
                    }
                    (Outcome::Skipped(why), _) => {
                        case.write_inner_content(|w| {
                            w.create_element("skipped")
                                .with_attribute(("message", xml_safe(why).as_str()))
                                .write_empty()?;
                            Ok(())
                        })?;
                    }
                    (_, level) => {
                        let message = match (&r.outcome, r.failures.first()) {
                            (Outcome::Broken(why), _) => why.clone(),
                            (_, Some(f)) => format!("line {}: {}", f.line, f.message),
                            _ => "failed".to_string(),
                        };
                        let details = xml_safe(&plain(&failure_details(r)));
                        case.write_inner_content(|w| {
                            if level == Level::Should {
                                w.create_element("system-out").write_text_content(
                                    BytesText::new(&format!("warning (SHOULD): {details}")),
                                )?;
                            } else {
                                w.create_element("failure")
                                    .with_attribute(("message", xml_safe(&message).as_str()))
                                    .write_text_content(BytesText::new(&details))?;
                            }
                            Ok(())
                        })?;
                    }
                }
            }
            // After the cases, as the JUnit schema orders it: why the skipped ones were.
            if let Some(note) = Skips::of(results).note() {
                w.create_element("system-out")
                    .write_text_content(BytesText::new(&xml_safe(&note)))?;
            }
            Ok(())
        });
    written.expect("writing XML into a Vec cannot fail");
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        &String::from_utf8(w.into_inner()).expect("quick-xml writes the UTF-8 it is given"),
    );
    out.push('\n');
    out
}

/// A TAP 14 report: one test point per transcript, SKIP with its reason, a SHOULD
/// failure as `# TODO` (a warning), failures with a YAML block; a closing comment
/// when some were skipped (`Skips::note`). Suite errors are no test point: after
/// the last one, a comment per error (`# PATH:4: problem`) and `Bail out!`, TAP's
/// "the run itself went wrong".
pub fn tap(results: &[TranscriptResult], errors: &[FormatError]) -> String {
    let mut out = format!("TAP version 14\n1..{}\n", results.len());
    for (i, r) in results.iter().enumerate() {
        let n = i + 1;
        let path = r.path.display();
        match (&r.outcome, r.level) {
            (Outcome::Passed | Outcome::Blessed, _) => {
                let _ = writeln!(out, "ok {n} - {path}");
            }
            (Outcome::Skipped(why), _) => {
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
                let scalar = |t: &str| serde_json::Value::from(t).to_string();
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

/// One self-contained HTML page: the score table, then every failure with its
/// expected and received lines side by side (CR and LF visible, as in a
/// transcript), the hint and the `nc` reproduction.
pub fn html(title: &str, results: &[TranscriptResult], errors: &[FormatError]) -> String {
    let score = Score::of(results);
    let e = |t: &str| escape(t).to_string();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\n{}\n</style></head><body>\n<h1>{}</h1>\n",
        e(title),
        HTML_STYLE,
        e(title)
    );
    if !errors.is_empty() {
        // Inline, so that a page without suite errors keeps its bytes.
        let _ = writeln!(
            out,
            "<section class=\"suite-error\" style=\"border:2px solid #c00;background:#fdd;padding:0 1em\"><h2>Suite error</h2>\n<p><b>{}</b></p>\n<pre>{}</pre>\n</section>",
            e(&suite_error_heading(errors)),
            e(&errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"))
        );
    }
    let skips = Skips::of(results);
    match skips.note() {
        None => {
            let _ = writeln!(
                out,
                "<p class=\"score\">Score <b>{}%</b>: {} passed, {} failed, {} warnings (SHOULD), 0 skipped.</p>",
                score.percent, score.total.passed, score.total.failed, score.total.warnings
            );
        }
        Some(note) => {
            let _ = writeln!(
                out,
                "<p class=\"score\">Score <b>{}%</b> of the {} played: {} passed, {} failed, {} warnings (SHOULD).</p>\n<p class=\"score\"><b>{}</b></p>",
                score.percent,
                score.total.played(),
                score.total.passed,
                score.total.failed,
                score.total.warnings,
                e(&note)
            );
        }
    }
    out.push_str("<table class=\"summary\"><tr><th>category</th><th>passed</th><th>failed</th><th>warnings</th><th>skipped</th></tr>\n");
    for (name, t) in &score.categories {
        let class = if t.failed > 0 {
            "bad"
        } else if t.warnings > 0 {
            "warn"
        } else {
            "good"
        };
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(name),
            t.passed,
            t.failed,
            t.warnings,
            t.skipped
        );
    }
    out.push_str("</table>\n");
    let mut failing: Vec<&TranscriptResult> = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Broken(_)))
        .collect();
    failing.sort_by_key(|r| r.level);
    if !failing.is_empty() {
        out.push_str("<h2>Failures</h2>\n");
    }
    for r in failing {
        let _ = writeln!(
            out,
            "<section class=\"failure\"><h3><span class=\"level {}\">{}</span> {} <small>({})</small></h3>",
            r.level.as_str().to_lowercase(),
            r.level.as_str(),
            e(&r.path.display().to_string()),
            e(&r.category)
        );
        if let Outcome::Broken(why) = &r.outcome {
            let _ = writeln!(out, "<p class=\"message\">{}</p>", e(why));
        }
        for f in &r.failures {
            let _ = writeln!(
                out,
                "<p class=\"message\">line {}: <code>{}</code>: {}</p>",
                f.line,
                e(&f.step),
                e(&f.message)
            );
            if !f.expected.is_empty() || !f.actual.is_empty() {
                let _ = writeln!(
                    out,
                    "<table class=\"sides\"><tr><th>expected</th><th>received</th></tr><tr><td><pre>{}</pre></td><td><pre>{}</pre></td></tr></table>",
                    e(&f.expected.join("\n")),
                    e(&f.actual.join("\n"))
                );
            }
        }
        if let Some(hint) = &r.hint {
            let _ = writeln!(out, "<p class=\"hint\">{}</p>", e(hint));
        }
        if let Some(repro) = &r.reproduction {
            let _ = writeln!(out, "<p>Try it:</p><pre class=\"repro\">{}</pre>", e(repro));
        }
        out.push_str("</section>\n");
    }
    out.push_str("<h2>Every transcript</h2>\n<table class=\"all\"><tr><th>transcript</th><th>level</th><th>outcome</th><th>ms</th></tr>\n");
    for r in results {
        let (word, reason) = outcome_word(&r.outcome);
        let _ = writeln!(
            out,
            "<tr class=\"{word}\"><td>{}</td><td>{}</td><td>{word}{}</td><td>{}</td></tr>",
            e(&r.path.display().to_string()),
            r.level.as_str(),
            reason.map(|w| format!(": {}", e(w))).unwrap_or_default(),
            r.duration.as_millis()
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

const HTML_STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}\
.bad td,.failed td,.error td{background:#fdd}.warn td{background:#ffd}.good td{background:#dfd}.skipped td{color:#777}\
.sides{width:100%;table-layout:fixed}.sides pre{white-space:pre-wrap;word-break:break-all;margin:0}\
.level{font-size:.8em;padding:.1em .4em;border-radius:.3em;color:#fff}.level.must{background:#c00}.level.should{background:#c80}\
.hint{font-style:italic}.repro{background:#eee;padding:.5em;white-space:pre-wrap;word-break:break-all}.score{font-size:1.2em}";

/// Text without ANSI escape sequences.
pub fn plain(text: &str) -> String {
    anstream::adapter::strip_str(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_escapes_survive_the_shell() {
        assert_eq!(
            printf_escape(b"GET / HTTP/1.1\r\nX: 100%\x01'\\\n"),
            "GET / HTTP/1.1\\r\\nX: 100%%\\001'\\''\\\\\\n"
        );
        let escaped = printf_escape(b"a\r\n%\x7f'b\\");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '{escaped}'"))
            .output()
            .expect("sh runs");
        assert_eq!(out.stdout, b"a\r\n%\x7f'b\\");
    }

    fn result(path: &str, outcome: Outcome, level: Level) -> TranscriptResult {
        TranscriptResult {
            path: path.into(),
            outcome,
            duration: std::time::Duration::from_millis(3),
            failures: vec![StepFailure {
                line: 2,
                step: "expect a".into(),
                message: "status <200>, expected \"400\" & more".into(),
                expected: vec!["< HTTP/1.1 400 Bad Request\\r\\n".into()],
                actual: vec!["< HTTP/1.1 200 OK\\r\\n".into()],
            }],
            level,
            category: "methods".into(),
            hint: Some("CONTRACT <Methods>".into()),
            reproduction: Some("printf 'x' | nc 127.0.0.1 PORT".into()),
        }
    }

    fn sample() -> Vec<TranscriptResult> {
        let mut passed = result("a/ok.transcript", Outcome::Passed, Level::Must);
        passed.failures.clear();
        vec![
            passed,
            result("a/bad.transcript", Outcome::Failed, Level::Must),
            result("a/warn.transcript", Outcome::Failed, Level::Should),
            result(
                "a/skip.transcript",
                Outcome::Skipped("needs <x>".into()),
                Level::Must,
            ),
        ]
    }

    #[test]
    fn the_score_weighs_must_twice_and_leaves_skips_out() {
        let score = Score::of(&sample());
        assert_eq!(
            score.total,
            Tally {
                passed: 1,
                failed: 1,
                warnings: 1,
                skipped: 1
            }
        );
        // 2 of 2 + 2 + 1 possible points.
        assert_eq!(score.percent, 40.0);
        assert!(
            plain(&score.table()).ends_with("\nscore 40% of the 3 played (1 of 4 skipped)\n"),
            "{}",
            score.table()
        );
        assert_eq!(
            plain(&summary_line(&sample())),
            "1 passed, 1 failed, 1 warnings, 1 of 4 SKIPPED (not played, not in the score): needs <x>"
        );
    }

    /// `sample()` without its skipped transcript.
    fn sample_without_skips() -> Vec<TranscriptResult> {
        let mut results = sample();
        results.retain(|r| !matches!(r.outcome, Outcome::Skipped(_)));
        results
    }

    #[test]
    fn a_run_without_skips_says_nothing_of_them() {
        let results = sample_without_skips();
        assert_eq!(Skips::of(&results).note(), None);
        let table = plain(&Score::of(&results).table());
        assert!(table.ends_with("\nscore 40%\n"), "{table}");
        assert_eq!(
            plain(&summary_line(&results)),
            "1 passed, 1 failed, 1 warnings"
        );
        let value: serde_json::Value = serde_json::from_str(&json(&results, &[])).unwrap();
        assert_eq!(value["played"], 3);
        assert_eq!(value["total"], 3);
        assert_eq!(value["skip_reasons"], serde_json::json!([]));
        assert!(!junit(&results, &[]).contains("SKIPPED"));
        assert!(
            tap(&results, &[]).ends_with("  ...\n"),
            "{}",
            tap(&results, &[])
        );
        assert!(
            html("t", &results, &[]).contains(
                "<p class=\"score\">Score <b>40%</b>: 1 passed, 1 failed, 1 warnings (SHOULD), 0 skipped.</p>\n<table"
            ),
            "{}",
            html("t", &results, &[])
        );
    }

    #[test]
    fn every_format_says_how_many_were_skipped_of_how_many_and_why() {
        let mut results = sample_without_skips();
        for (path, why) in [
            ("a/s1.transcript", "needs a fresh store"),
            ("a/s2.transcript", "needs --x & <y>"),
            ("a/s3.transcript", "needs a fresh store"),
        ] {
            results.push(result(path, Outcome::Skipped(why.into()), Level::Must));
        }
        // Grouped, the most frequent reason first.
        let skips = Skips::of(&results);
        assert_eq!(
            skips,
            Skips {
                skipped: 3,
                total: 6,
                reasons: vec![("needs a fresh store", 2), ("needs --x & <y>", 1)],
            }
        );
        let note = "3 of 6 SKIPPED (not played, not in the score): 2: needs a fresh store; 1: needs --x & <y>";
        assert_eq!(skips.note().as_deref(), Some(note));
        // The score is of the three played: 2 of 2 + 2 + 1 points.
        let table = plain(&Score::of(&results).table());
        assert!(
            table.ends_with("\nscore 40% of the 3 played (3 of 6 skipped)\n"),
            "{table}"
        );
        assert_eq!(
            plain(&summary_line(&results)),
            format!("1 passed, 1 failed, 1 warnings, {note}")
        );
        let value: serde_json::Value = serde_json::from_str(&json(&results, &[])).unwrap();
        assert_eq!(
            (
                &value["played"],
                &value["skipped"],
                &value["total"],
                &value["score"]
            ),
            (
                &serde_json::json!(3),
                &serde_json::json!(3),
                &serde_json::json!(6),
                &serde_json::json!(40.0)
            )
        );
        assert_eq!(
            value["skip_reasons"],
            serde_json::json!([
                {"reason": "needs a fresh store", "count": 2},
                {"reason": "needs --x & <y>", "count": 1},
            ])
        );
        let xml = junit(&results, &[]);
        assert!(
            xml.contains(" tests=\"6\" failures=\"1\" errors=\"0\" skipped=\"3\" "),
            "{xml}"
        );
        assert!(
            xml.ends_with(
                "  </testcase>\n  <system-out>3 of 6 SKIPPED (not played, not in the score): 2: needs a fresh store; 1: needs --x &amp; &lt;y&gt;</system-out>\n</testsuite>\n"
            ),
            "{xml}"
        );
        let tap = tap(&results, &[]);
        assert!(tap.ends_with(&format!("  ...\nok 4 - a/s1.transcript # SKIP needs a fresh store\nok 5 - a/s2.transcript # SKIP needs --x & <y>\nok 6 - a/s3.transcript # SKIP needs a fresh store\n# {note}\n")), "{tap}");
        let page = html("t", &results, &[]);
        assert_balanced(&page);
        assert!(
            page.contains(
                "<p class=\"score\">Score <b>40%</b> of the 3 played: 1 passed, 1 failed, 1 warnings (SHOULD).</p>\n\
                 <p class=\"score\"><b>3 of 6 SKIPPED (not played, not in the score): 2: needs a fresh store; 1: needs --x &amp; &lt;y&gt;</b></p>\n<table"
            ),
            "{page}"
        );
    }

    #[test]
    fn a_suite_error_is_reported_apart_in_every_format_and_scores_nothing() {
        let results = sample_without_skips();
        let errors = [
            FormatError {
                path: "s/bad.transcript".into(),
                line: 4,
                message: "unknown or malformed directive: frob <c>".into(),
            },
            FormatError {
                path: "s/gone.transcript".into(),
                line: 0,
                message: "cannot read: is a directory".into(),
            },
        ];
        let heading = "2 transcripts of the suite could not be read: not played, not in the score (the fault is in the suite, not in the server)";
        assert_eq!(
            suite_error_heading(&errors[..1]),
            "1 transcript of the suite could not be read: not played, not in the score (the fault is in the suite, not in the server)"
        );
        assert_eq!(suite_errors(&[]), None);
        assert_eq!(
            plain(&suite_errors(&errors).unwrap()),
            format!(
                "SUITE ERROR: {heading}\ns/bad.transcript:4: unknown or malformed directive: frob <c>\ns/gone.transcript: cannot read: is a directory\n"
            )
        );
        // JSON: the counts and the score are those without the errors, listed apart.
        let with: serde_json::Value = serde_json::from_str(&json(&results, &errors)).unwrap();
        let without: serde_json::Value = serde_json::from_str(&json(&results, &[])).unwrap();
        for key in [
            "passed",
            "failed",
            "played",
            "total",
            "score",
            "transcripts",
        ] {
            assert_eq!(with[key], without[key], "{key}");
        }
        assert_eq!(without.get("suite_errors"), None);
        assert_eq!(
            with["suite_errors"],
            serde_json::json!([
                {"path": "s/bad.transcript", "line": 4, "message": "unknown or malformed directive: frob <c>",
                 "error": "s/bad.transcript:4: unknown or malformed directive: frob <c>"},
                {"path": "s/gone.transcript", "message": "cannot read: is a directory",
                 "error": "s/gone.transcript: cannot read: is a directory"},
            ])
        );
        // JUnit: JUnit's errors (could not run), not its failures.
        let xml = junit(&results, &errors);
        assert!(
            xml.contains(" tests=\"5\" failures=\"1\" errors=\"2\" skipped=\"0\" "),
            "{xml}"
        );
        assert!(
            xml.contains(&format!(
                "<testcase classname=\"suite\" name=\"s/bad.transcript\" time=\"0.000\">\n    <error message=\"s/bad.transcript:4: unknown or malformed directive: frob &lt;c&gt;\" type=\"suite error\">{heading}</error>\n  </testcase>"
            )),
            "{xml}"
        );
        assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
        // TAP: no test point of its own; the plan is of the transcripts played.
        let tap = tap(&results, &errors);
        assert!(tap.starts_with("TAP version 14\n1..3\n"), "{tap}");
        assert!(
            tap.ends_with(&format!(
                "  ...\n# s/bad.transcript:4: unknown or malformed directive: frob <c>\n# s/gone.transcript: cannot read: is a directory\nBail out! {heading}\n"
            )),
            "{tap}"
        );
        // HTML: a section before the score, which is unchanged.
        let page = html("t", &results, &errors);
        assert_balanced(&page);
        assert!(
            page.contains(&format!(
                "<h2>Suite error</h2>\n<p><b>{heading}</b></p>\n<pre>s/bad.transcript:4: unknown or malformed directive: frob &lt;c&gt;\ns/gone.transcript: cannot read: is a directory</pre>\n</section>\n<p class=\"score\">Score <b>40%</b>: 1 passed, 1 failed, 1 warnings (SHOULD), 0 skipped.</p>"
            )),
            "{page}"
        );
        assert!(!html("t", &results, &[]).contains("Suite error"));
    }

    #[test]
    fn json_and_junit_are_well_formed_and_escaped() {
        let value: serde_json::Value = serde_json::from_str(&json(&sample(), &[])).unwrap();
        assert_eq!(
            value["transcripts"][1]["failures"][0]["message"],
            "status <200>, expected \"400\" & more"
        );
        assert_eq!(value["transcripts"][3]["reason"], "needs <x>");
        assert_eq!(value["transcripts"][2]["level"], "SHOULD");
        let xml = junit(&sample(), &[]);
        assert!(
            xml.contains(
                "message=\"line 2: status &lt;200&gt;, expected &quot;400&quot; &amp; more\""
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<skipped message=\"needs &lt;x&gt;\"/>"),
            "{xml}"
        );
        assert_eq!(
            xml.matches("<failure ").count(),
            1,
            "a SHOULD failure is not a JUnit failure"
        );
    }

    #[test]
    fn tap_carries_every_outcome() {
        let tap = tap(&sample(), &[]);
        assert!(tap.starts_with("TAP version 14\n1..4\n"), "{tap}");
        assert!(tap.contains("ok 1 - a/ok.transcript\n"));
        assert!(tap.contains("not ok 2 - a/bad.transcript\n"));
        assert!(tap.contains("not ok 3 - a/warn.transcript # TODO"));
        assert!(tap.contains("ok 4 - a/skip.transcript # SKIP needs <x>"));
    }

    /// The tags the HTML page is made of; text that made any other tag was not escaped.
    const HTML_TAGS: &[&str] = &[
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b", "small",
        "span", "code", "pre", "table", "tr", "th", "td", "section",
    ];

    /// Every `<` of `page` opens one of `HTML_TAGS` (or the doctype), and every
    /// element but `meta` is closed in order.
    fn assert_balanced(page: &str) {
        let body = page
            .strip_prefix("<!DOCTYPE html>\n")
            .expect("starts with the doctype");
        let mut open: Vec<&str> = vec![];
        for piece in body.split('<').skip(1) {
            let (tag, _) = piece
                .split_once('>')
                .unwrap_or_else(|| panic!("a `<` that is not a tag: <{piece}"));
            let (closing, tag) = match tag.strip_prefix('/') {
                Some(name) => (true, name),
                None => (false, tag),
            };
            let name = tag.split(' ').next().unwrap_or_default();
            assert!(HTML_TAGS.contains(&name), "unescaped text: <{piece}");
            if closing {
                assert_eq!(open.pop(), Some(name), "</{name}> closes the wrong element");
            } else if name != "meta" {
                open.push(name);
            }
        }
        assert!(open.is_empty(), "never closed: {open:?}");
    }

    #[test]
    fn html_shows_every_transcript_its_verdict_and_failures_escaped() {
        let mut results = sample();
        let mut broken = result(
            "a/<odd> & name.transcript",
            Outcome::Broken("exited <1> & said \"no\"".into()),
            Level::Must,
        );
        broken.failures.clear();
        broken.category = "start <up>".into();
        broken.hint = None;
        broken.reproduction = None;
        results.push(broken);
        let page = html("grade <&>", &results, &[]);
        assert_balanced(&page);
        assert!(
            page.contains("<title>grade &lt;&amp;&gt;</title>"),
            "{page}"
        );
        assert!(page.contains("<h1>grade &lt;&amp;&gt;</h1>"), "{page}");
        // 2 of 2 + 2 + 1 + 2 possible points.
        assert!(
            page.contains(
                "<p class=\"score\">Score <b>28.6%</b> of the 4 played: 1 passed, 2 failed, 1 warnings (SHOULD).</p>\n<p class=\"score\"><b>1 of 5 SKIPPED (not played, not in the score): needs &lt;x&gt;</b></p>"
            ),
            "{page}"
        );
        assert!(
            page.contains("<tr class=\"bad\"><td>methods</td><td>1</td><td>1</td><td>1</td><td>1</td></tr>\n<tr class=\"bad\"><td>start &lt;up&gt;</td><td>0</td><td>1</td><td>0</td><td>0</td></tr>\n"),
            "{page}"
        );
        // Every transcript, in the given order, with its level and verdict.
        let (_, all) = page
            .split_once("<h2>Every transcript</h2>\n")
            .expect("the table of every transcript");
        assert_eq!(
            all.lines().collect::<Vec<_>>(),
            [
                "<table class=\"all\"><tr><th>transcript</th><th>level</th><th>outcome</th><th>ms</th></tr>",
                "<tr class=\"passed\"><td>a/ok.transcript</td><td>MUST</td><td>passed</td><td>3</td></tr>",
                "<tr class=\"failed\"><td>a/bad.transcript</td><td>MUST</td><td>failed</td><td>3</td></tr>",
                "<tr class=\"failed\"><td>a/warn.transcript</td><td>SHOULD</td><td>failed</td><td>3</td></tr>",
                "<tr class=\"skipped\"><td>a/skip.transcript</td><td>MUST</td><td>skipped: needs &lt;x&gt;</td><td>3</td></tr>",
                "<tr class=\"error\"><td>a/&lt;odd&gt; &amp; name.transcript</td><td>MUST</td><td>error: exited &lt;1&gt; &amp; said &quot;no&quot;</td><td>3</td></tr>",
                "</table>",
                "</body></html>",
            ]
        );
        // The failures, MUST first: each with its messages, both sides, hint and reproduction.
        let (_, failures) = page
            .split_once("<h2>Failures</h2>\n")
            .expect("a failures section");
        let (failures, _) = failures.split_once("<h2>").expect("then the table");
        let bad = "<section class=\"failure\"><h3><span class=\"level must\">MUST</span> a/bad.transcript <small>(methods)</small></h3>\n\
            <p class=\"message\">line 2: <code>expect a</code>: status &lt;200&gt;, expected &quot;400&quot; &amp; more</p>\n\
            <table class=\"sides\"><tr><th>expected</th><th>received</th></tr><tr><td><pre>&lt; HTTP/1.1 400 Bad Request\\r\\n</pre></td><td><pre>&lt; HTTP/1.1 200 OK\\r\\n</pre></td></tr></table>\n\
            <p class=\"hint\">CONTRACT &lt;Methods&gt;</p>\n\
            <p>Try it:</p><pre class=\"repro\">printf &apos;x&apos; | nc 127.0.0.1 PORT</pre>\n\
            </section>\n";
        let odd = "<section class=\"failure\"><h3><span class=\"level must\">MUST</span> a/&lt;odd&gt; &amp; name.transcript <small>(start &lt;up&gt;)</small></h3>\n\
            <p class=\"message\">exited &lt;1&gt; &amp; said &quot;no&quot;</p>\n\
            </section>\n";
        let warn = bad
            .replace("level must\">MUST", "level should\">SHOULD")
            .replace("a/bad", "a/warn");
        assert_eq!(failures, format!("{bad}{odd}{warn}"));
        assert!(
            !page.contains("<script") && !page.contains("http://") && !page.contains("https://"),
            "self-contained"
        );
    }

    #[test]
    fn diff_marks_expected_and_received_lines() {
        let failure = StepFailure {
            line: 3,
            step: "expect a".into(),
            message: "response differs".into(),
            expected: vec!["< HTTP/1.1 400 Bad Request\\r\\n".into(), "< \\r\\n".into()],
            actual: vec!["< HTTP/1.1 200 OK\\r\\n".into(), "< \\r\\n".into()],
        };
        let text = plain(&diff(&failure));
        assert!(
            text.contains("    - < HTTP/1.1 400 Bad Request\\r\\n\n"),
            "{text}"
        );
        assert!(text.contains("    + < HTTP/1.1 200 OK\\r\\n\n"), "{text}");
        assert!(text.contains("      < \\r\\n\n"), "{text}");
    }
}
