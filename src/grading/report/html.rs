//! The HTML report: one self-contained page per run (`replay --format html`) or
//! per submission (`grade`'s NAME.html): the score, every failure with expected
//! and received side by side, the hint and the reproduction, every transcript.
//! Elsewhere: the counts (`report::score`).

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::score::{Score, Skips};
use super::{outcome_word, suite_error_heading};
use crate::escape::{Lines, for_terminal};
use crate::grading::suite::transcript::FormatError;
use crate::grading::verdict::{Outcome, TranscriptResult};

/// One self-contained HTML page: the score table, then every failure with its
/// expected and received lines side by side (CR and LF visible, as in a
/// transcript), the hint and the `nc` reproduction. `isolation`: how the servers ran
/// (`Isolation::report_line`), said under the score, for a run that started them.
pub fn html(
    title: &str,
    results: &[TranscriptResult],
    errors: &[FormatError],
    isolation: Option<&str>,
) -> String {
    let score = Score::of(results);
    // A submission's text (its output, what it sent, its name) with its control
    // characters shown as escapes, then escaped for HTML: `cat NAME.html` is safe too.
    let e = |t: &str| escape(for_terminal(t, Lines::Keep)).to_string();
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
    if let Some(line) = isolation {
        let _ = writeln!(out, "<p class=\"box\">{}</p>", e(line));
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
