//! Presenting replay results: a line per transcript, diffs, and JSON or JUnit XML for CI.
//!
//! Here: text with ANSI styles (the caller's `anstream` stream drops them when the
//! output is not a terminal), and the two machine-readable formats.
//! Elsewhere: producing the results (`replay`), playing steps (`replay::session`).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use super::session::StepFailure;
use super::transcript::{StepKind, Transcript};
use super::{Outcome, Target, TranscriptResult};

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
    out
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
    Some(format!("{input} | nc {addr}"))
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

/// The closing line: `N passed, M failed`, then skipped and blessed counts if any.
pub fn summary_line(results: &[TranscriptResult]) -> String {
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let passed = count(|o| matches!(o, Outcome::Passed | Outcome::Blessed));
    let failed = count(|o| matches!(o, Outcome::Failed | Outcome::Broken(_)));
    let skipped = count(|o| matches!(o, Outcome::Skipped(_)));
    let mut line = format!("{passed} passed, {failed} failed");
    if skipped > 0 {
        let _ = write!(line, ", {skipped} skipped");
    }
    line
}

/// A JSON report: totals and, per transcript, its outcome and failures with plain diffs.
pub fn json(results: &[TranscriptResult]) -> String {
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let mut out = format!(
        "{{\"passed\":{},\"failed\":{},\"skipped\":{},\"transcripts\":[",
        count(|o| matches!(o, Outcome::Passed | Outcome::Blessed)),
        count(|o| matches!(o, Outcome::Failed | Outcome::Broken(_))),
        count(|o| matches!(o, Outcome::Skipped(_))),
    );
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (outcome, reason) = match &r.outcome {
            Outcome::Passed => ("passed", None),
            Outcome::Blessed => ("blessed", None),
            Outcome::Failed => ("failed", None),
            Outcome::Broken(why) => ("error", Some(why.as_str())),
            Outcome::Skipped(why) => ("skipped", Some(why.as_str())),
        };
        let _ = write!(
            out,
            "{{\"path\":{},\"outcome\":\"{outcome}\",\"duration_ms\":{}",
            json_string(&r.path.display().to_string()),
            r.duration.as_millis()
        );
        if let Some(reason) = reason {
            let _ = write!(out, ",\"reason\":{}", json_string(reason));
        }
        out.push_str(",\"failures\":[");
        for (j, f) in r.failures.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"line\":{},\"step\":{},\"message\":{},\"diff\":{}}}",
                f.line,
                json_string(&f.step),
                json_string(&f.message),
                json_string(&plain(&diff(f)))
            );
        }
        out.push_str("]}");
    }
    out.push_str("]}\n");
    out
}

/// A JUnit XML report, one `testcase` per transcript.
pub fn junit(results: &[TranscriptResult]) -> String {
    let failures = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Broken(_)))
        .count();
    let skipped = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skipped(_)))
        .count();
    let total: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"wordwire-replay\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{total:.3}\">",
        results.len()
    );
    for r in results {
        let _ = write!(
            out,
            "  <testcase classname=\"transcripts\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&r.path.display().to_string()),
            r.duration.as_secs_f64()
        );
        match &r.outcome {
            Outcome::Passed | Outcome::Blessed => out.push_str("/>\n"),
            Outcome::Skipped(why) => {
                let _ = writeln!(
                    out,
                    ">\n    <skipped message=\"{}\"/>\n  </testcase>",
                    xml_escape(why)
                );
            }
            Outcome::Failed | Outcome::Broken(_) => {
                let message = match (&r.outcome, r.failures.first()) {
                    (Outcome::Broken(why), _) => why.clone(),
                    (_, Some(f)) => format!("line {}: {}", f.line, f.message),
                    _ => "failed".to_string(),
                };
                let _ = writeln!(
                    out,
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                    xml_escape(&message),
                    xml_escape(&plain(&failure_details(r)))
                );
            }
        }
    }
    out.push_str("</testsuite>\n");
    out
}

/// Text without ANSI escape sequences.
pub fn plain(text: &str) -> String {
    anstream::adapter::strip_str(text).to_string()
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('?'),
            c => out.push(c),
        }
    }
    out
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

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(xml_escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
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
