//! The formats' cases: every format on the same results.

use super::nc::printf_escape;
use super::*;
use crate::grading::suite::transcript::Level;
use crate::grading::verdict::{StepFailure, TranscriptResult};

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
        ..TranscriptResult::new(std::path::Path::new(path), Outcome::Passed)
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
    let value: serde_json::Value = serde_json::from_str(&json(&results, &[], None)).unwrap();
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
        html("t", &results, &[], None).contains(
            "<p class=\"score\">Score <b>40%</b>: 1 passed, 1 failed, 1 warnings (SHOULD), 0 skipped.</p>\n<table"
        ),
        "{}",
        html("t", &results, &[], None)
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
    let note =
        "3 of 6 SKIPPED (not played, not in the score): 2: needs a fresh store; 1: needs --x & <y>";
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
    let value: serde_json::Value = serde_json::from_str(&json(&results, &[], None)).unwrap();
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
    let page = html("t", &results, &[], None);
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
    let with: serde_json::Value = serde_json::from_str(&json(&results, &errors, None)).unwrap();
    let without: serde_json::Value = serde_json::from_str(&json(&results, &[], None)).unwrap();
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
    let page = html("t", &results, &errors, None);
    assert_balanced(&page);
    assert!(
        page.contains(&format!(
            "<h2>Suite error</h2>\n<p><b>{heading}</b></p>\n<pre>s/bad.transcript:4: unknown or malformed directive: frob &lt;c&gt;\ns/gone.transcript: cannot read: is a directory</pre>\n</section>\n<p class=\"score\">Score <b>40%</b>: 1 passed, 1 failed, 1 warnings (SHOULD), 0 skipped.</p>"
        )),
        "{page}"
    );
    assert!(!html("t", &results, &[], None).contains("Suite error"));
}

#[test]
fn json_and_junit_are_well_formed_and_escaped() {
    let value: serde_json::Value = serde_json::from_str(&json(&sample(), &[], None)).unwrap();
    assert_eq!(
        value["transcripts"][1]["failures"][0]["message"],
        "status <200>, expected \"400\" & more"
    );
    assert_eq!(value["transcripts"][3]["reason"], "needs <x>");
    assert_eq!(value["transcripts"][2]["level"], "SHOULD");
    let xml = junit(&sample(), &[]);
    assert!(
        xml.contains("message=\"line 2: status &lt;200&gt;, expected &quot;400&quot; &amp; more\""),
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
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b", "small", "span",
    "code", "pre", "table", "tr", "th", "td", "section",
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
    let page = html("grade <&>", &results, &[], None);
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

/// What a hostile server's output can hold: a carriage return and ESC sequences that
/// redraw the line as a pass, and an OSC 52 write to the clipboard.
const FAKE_PASS: &str =
    "exit 1; its output ends:\n      \r\x1b[2K\x1b[32mALL PASSED\x1b[0m\x1b]52;c;cm0gLXJmIH4K\x07";

#[test]
fn a_servers_escape_sequences_reach_no_format_raw() {
    let mut broken = result(
        "eve\x1b[31m/wordwire-cmd",
        Outcome::Broken(FAKE_PASS.into()),
        Level::Must,
    );
    broken.failures[0].message = FAKE_PASS.into();
    let results = vec![broken];
    let text = format!(
        "{}\n{}",
        result_line(&results[0]),
        failure_details(&results[0])
    );
    let page = html("wordwire grade: eve", &results, &[], None);
    let tap = tap(&results, &[]);
    for (format, out) in [("text", plain(&text)), ("html", page), ("tap", tap)] {
        for raw in ['\x1b', '\r', '\x07'] {
            assert!(!out.contains(raw), "{format} holds {raw:?}: {out}");
        }
        assert!(out.contains("\\x1B[32mALL PASSED"), "{format}: {out}");
        assert!(out.contains("\\x1B]52;c;"), "{format}: {out}");
    }
}

#[test]
fn a_transcript_on_two_connections_reproduces_as_a_script_that_plays_both() {
    use std::io::{Read, Write};
    let text = "open a\nopen b\nsend b\n> GET /b HTTP/1.1\\r\\n\\r\\n\nexpect b\n< HTTP/1.1 200 OK\\r\\n\nsend a\n> GET /a HTTP/1.1\\r\\nAuthorization: Basic d29yZHdpcmU6d29yZHdpcmU=\\r\\n\\r\\n\nexpect a\n< HTTP/1.1 200 OK\\r\\n\n";
    let t = crate::grading::suite::transcript::Transcript::parse(
        std::path::Path::new("t.transcript"),
        text,
    )
    .unwrap();
    let course =
        crate::course::Course::parse("[auth]\nheader = \"X-Token: abc\"\n[server]\nport = 1\n")
            .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = reproduction(
        &t,
        &crate::grading::target::Target::InProcess,
        Some(&course),
    )
    .unwrap()
    .replace("/127.0.0.1/1 ", &format!("/127.0.0.1/{port} "));
    assert!(script.starts_with("# a bash script"), "{script}");
    assert!(script.contains("exec 4<>/dev/tcp/127.0.0.1/"), "{script}");
    assert!(script.contains("X-Token: abc"), "{script}");
    // Each connection gets back what it asked for: the script keeps them apart.
    let server = std::thread::spawn(move || {
        let mut conns: Vec<std::net::TcpStream> =
            (0..2).map(|_| listener.accept().unwrap().0).collect();
        let mut answered = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while answered < 2 && std::time::Instant::now() < deadline {
            for conn in &mut conns {
                conn.set_read_timeout(Some(std::time::Duration::from_millis(50)))
                    .unwrap();
                let mut buf = [0u8; 256];
                if let Ok(n) = conn.read(&mut buf)
                    && n > 0
                {
                    let path = String::from_utf8_lossy(&buf[..n])
                        .split(' ')
                        .nth(1)
                        .unwrap()
                        .to_string();
                    conn.write_all(format!("got {path}\n").as_bytes()).unwrap();
                    answered += 1;
                }
            }
        }
    });
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("bash runs");
    server.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, "== b:\ngot /b\n== a:\ngot /a\n", "{script}");
}

#[test]
fn gradescope_results_carry_weighted_partial_scores_tags_and_no_points_for_skips() {
    let course = crate::course::Course::parse("[grading.weights]\nmethods = 2\n").unwrap();
    let mut failed = result(
        "transcripts/methods/a.transcript",
        Outcome::Failed,
        Level::Must,
    );
    failed.checks = crate::grading::verdict::Checks {
        passed: 3,
        total: 4,
    };
    let mut passed = result(
        "transcripts/auth/b.transcript",
        Outcome::Passed,
        Level::Should,
    );
    passed.category = "auth".into();
    let skipped = result(
        "transcripts/framing/c.transcript",
        Outcome::Skipped("contract only, not scored".into()),
        Level::Must,
    );
    let text = gradescope(&[failed, passed, skipped], &[], &course);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tests = json["tests"].as_array().unwrap();
    assert_eq!(tests[0]["name"], "methods/a");
    assert_eq!(tests[0]["max_score"], 2.0);
    assert_eq!(tests[0]["score"], 1.5);
    assert_eq!(tests[0]["tags"], serde_json::json!(["MUST", "methods"]));
    assert!(
        tests[0]["output"]
            .as_str()
            .unwrap()
            .contains("3 of 4 checks passed")
    );
    assert!(
        tests[0]["output"]
            .as_str()
            .unwrap()
            .contains("status <200>")
    );
    assert_eq!(tests[1]["score"], 1.0);
    assert_eq!(tests[1]["tags"], serde_json::json!(["SHOULD", "auth"]));
    assert_eq!(tests[2]["max_score"], 0.0);
    assert_eq!(tests[2]["visibility"], "visible");
    assert_eq!(json["score"], 2.5);
}

#[test]
fn in_the_assignment_profile_each_request_reproduces_on_a_connection_of_its_own() {
    let text = "open a\nsend a\n> POST / HTTP/1.1\\r\\n\\r\\n\nexpect a\n< HTTP/1.1 200 OK\\r\\n\nsend a\n> GET / HTTP/1.1\\r\\n\\r\\n\nexpect a\n< HTTP/1.1 200 OK\\r\\n\n";
    let t = crate::grading::suite::transcript::Transcript::parse(
        std::path::Path::new("t.transcript"),
        text,
    )
    .unwrap();
    let target = crate::grading::target::Target::InProcess;
    let course = crate::course::Course::parse("[server]\nport = 12345\n").unwrap();
    assert_eq!(
        reproduction(&t, &target, Some(&course)).unwrap(),
        "printf 'POST / HTTP/1.1\\r\\n\\r\\n' | nc 127.0.0.1 12345; printf 'GET / HTTP/1.1\\r\\nAuthorization: Basic d29yZHdpcmU6d29yZHdpcmU=\\r\\n\\r\\n' | nc 127.0.0.1 12345"
    );
    // (the GET got the course's credentials: GET is in its `[auth] methods`.)
    // The contract keeps the connection: one nc.
    assert_eq!(
        reproduction(&t, &target, None).unwrap(),
        "{ printf 'POST / HTTP/1.1\\r\\n\\r\\n'; printf 'GET / HTTP/1.1\\r\\n\\r\\n'; } | nc 127.0.0.1 PORT"
    );
}
