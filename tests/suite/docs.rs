//! The pages (README.md, docs/*.md) against the program: a walk works in the order it is
//! written, and a command's output shown on a page is what the binary prints.
//! Here: reading the pages' blocks, running the commands they show (a server on port 0
//! where they need one, the page's own shell lines where they can run as written) and
//! comparing, with ports, durations and temporary paths redacted. Elsewhere: the behaviour
//! itself. Plain tests rather than trycmd: trycmd checks `$ command` console blocks with no
//! server to talk to, and these pages show `sh` blocks to paste and outputs apart.

use std::path::Path;

/// A page of the checkout, as text.
fn page(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of the page's ```sh blocks, in page order, each with the line it is on.
fn shell_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    for (number, line) in text.lines().enumerate() {
        match line.trim_end() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            command if in_sh => lines.push((number + 1, command)),
            _ => {}
        }
    }
    lines
}

#[test]
fn the_lab_starts_a_server_before_each_target_that_needs_one() {
    // Issue 24: step 6 graded `--target 127.0.0.1:12345` after step 3 had stopped the
    // server and nothing had started it again ("cannot connect ... connection refused").
    // The lab's terminal 1 holds one long-running command at a time: a `wordwire serve`
    // (port 12345 by default) or a `wordwire record`, which replaces it.
    let lab = page("docs/LAB.md");
    let mut serving = false;
    let mut targets = 0;
    for (number, command) in shell_lines(&lab) {
        if command.starts_with("wordwire serve") && !command.contains("--addr") {
            serving = true;
        } else if command.starts_with("wordwire record") {
            serving = false;
        } else if command.contains("--target 127.0.0.1:12345") {
            targets += 1;
            assert!(
                serving,
                "docs/LAB.md:{number}: `{command}` with no server on 127.0.0.1:12345 \
                 (the last long-running command in terminal 1 was not `wordwire serve`)"
            );
        }
    }
    assert_eq!(targets, 1, "the lab grades a running server once");
}

/// The page's text with every run of white space one space, as a sentence reads across lines.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The fenced block that follows the first `marker` on the page (its lines, without the fences).
fn block_after(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("the page no longer says {marker:?}"));
    let rest = &text[at + marker.len()..];
    let open = rest.find("\n```").expect("a block after the marker") + 1;
    let body = &rest[open..];
    let body = &body[body.find('\n').expect("the fence's line") + 1..];
    let close = body.find("\n```").expect("the block's closing fence");
    format!("{}\n", &body[..close])
}

/// What changes from run to run, as a page shows it: ports become `[PORT]`, durations `[TIME]`
/// (with the padding before them).
fn redact(text: &str) -> String {
    let ports = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    // With the spaces before it: a table pads a duration to its column's width.
    let times = regex::Regex::new(r" +\d+(\.\d+)? (s|ms)\b").unwrap();
    // The box's Landlock version is the kernel's.
    let abi = regex::Regex::new(r"landlock ABI \d+").unwrap();
    let text = ports.replace_all(text, "127.0.0.1:[PORT]");
    let text = abi.replace_all(&text, "landlock ABI [N]");
    times.replace_all(&text, " [TIME] $2").into_owned()
}

/// `wordwire ARGS` in `dir`, without credentials in the environment: exit code, stdout, stderr.
fn run_in(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = std::process::Command::new(crate::support::binary())
        .args(args)
        .current_dir(dir)
        .env_remove("WORDWIRE_USER")
        .env_remove("WORDWIRE_PASSWORD")
        .output()
        .expect("wordwire runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_readme_shows_what_serve_prints_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(crate::support::binary());
    command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("WORDWIRE_USER")
        .env_remove("WORDWIRE_PASSWORD")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let server = crate::support::ServerProcess::spawn(command);
    let printed = format!("{}\n", server.log.lock().unwrap().join("\n"));
    let shown = block_after(&page("README.md"), "The server prints where it listens");
    assert_eq!(redact(&printed), redact(&shown));
}

#[test]
fn grading_shows_what_a_broken_suite_prints_in_a_replay_and_in_coverage() {
    let work = tempfile::tempdir().unwrap();
    let suite = work.path().join("suite");
    let shown_path = |text: &str| text.replace(suite.to_str().unwrap(), "/tmp/suite");
    let grading = page("docs/GRADING.md");
    let (code, _, _) = run_in(work.path(), &["replay", "--export", "suite"]);
    assert_eq!(code, Some(0));
    std::fs::write(
        suite.join("transcripts/methods/bad.transcript"),
        "open c\nfrobnicate c\n",
    )
    .unwrap();

    let (code, stdout, _) = run_in(work.path(), &["replay", "suite/transcripts"]);
    assert_eq!(code, Some(3), "{stdout}");
    let shown = block_after(&grading, "the 51 others play and the run ends (exit 3)");
    assert!(
        stdout.ends_with(&shown.replace("/tmp/suite", "suite")),
        "docs/GRADING.md shows\n{shown}\nthe command ends\n{stdout}"
    );

    let (code, stdout, _) = run_in(work.path(), &["replay", "--coverage", "suite/transcripts"]);
    assert_eq!(code, Some(3), "{stdout}");
    let shown = block_after(
        &grading,
        "wordwire replay --coverage /tmp/suite/transcripts\n```",
    );
    assert_eq!(shown_path(&stdout.replace("suite/", "/tmp/suite/")), shown);
}

#[test]
fn the_pages_show_what_a_running_target_prints() {
    let server = crate::support::TestServer::start("", |_| {});
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run_in(
        dir.path(),
        &["replay", "--target", &server.addr.to_string()],
    );
    assert_eq!(code, Some(0), "{stdout}");
    let grading = page("docs/GRADING.md");
    let shown = block_after(&grading, "failed, and ends:");
    assert!(
        stdout.ends_with(&shown),
        "docs/GRADING.md shows\n{shown}\nthe command ends\n{stdout}"
    );
    // The last line's counts and the score line, where the pages quote them.
    let last = stdout.lines().last().unwrap();
    let counts = &last[..last.find(" SKIPPED").unwrap()];
    let score = stdout
        .lines()
        .find(|l| l.starts_with("score "))
        .unwrap()
        .trim_start_matches("score ");
    assert!(
        words(&page("README.md")).contains(&format!("`{counts} SKIPPED")),
        "README.md should quote `{counts} SKIPPED"
    );
    assert!(
        words(&grading).contains(&format!("(`score {score}`)")),
        "docs/GRADING.md should quote `score {score}`"
    );
}

/// GRADING.md's class (alice correct, bob without auth, carol never listening) is set up by
/// the page's own commands, and what `grade` prints is what GRADING.md and README.md show,
/// times redacted. It is graded in two runs at once: alice and bob with the page's flags
/// (README.md's class is exactly these two), and carol alone with a 1 s start limit and 16
/// jobs: her transcripts only wait out the start limit (5 s on the page, 33 of them), and her
/// counts do not depend on it. One run of all three with a short limit failed alice and bob under a
/// load average of 30, their Python servers starved past it. Alice's row is also the proof
/// that a correct Python server passes every transcript but the read fault.
#[test]
fn the_class_on_the_pages_grades_as_they_show() {
    let work = tempfile::tempdir().unwrap();
    let class = work.path().join("class");
    let grades = work.path().join("grades");
    let grading = page("docs/GRADING.md");
    let shown_block = block_after(&grading, "are not submissions.");
    let (setup, command) = shown_block
        .trim_end()
        .rsplit_once('\n')
        .expect("the setup, then the grade command");
    assert_eq!(
        command,
        "wordwire grade /tmp/class --out /tmp/grades --transcript-timeout 5 --start-timeout 5",
        "the command this test runs"
    );
    let setup = setup
        .replace("/tmp/class", class.to_str().unwrap())
        .replace("python3 ", &format!("{} ", crate::support::python3()));
    let sh = |script: &str| {
        std::process::Command::new("sh")
            .args(["-c", script])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("WORDWIRE_USER")
            .env_remove("WORDWIRE_PASSWORD")
            .output()
            .expect("sh runs")
    };
    let done = sh(&setup);
    assert!(done.status.success(), "{setup}: {done:?}");
    let alone = work.path().join("carol-alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::rename(class.join("carol"), alone.join("carol")).unwrap();
    let grade = |dir: &Path, out: &Path, flags: &[&str]| {
        let output = std::process::Command::new(crate::support::binary())
            .arg("grade")
            .arg(dir)
            .arg("--out")
            .arg(out)
            .args(flags)
            .env_remove("WORDWIRE_USER")
            .env_remove("WORDWIRE_PASSWORD")
            .output()
            .expect("wordwire runs");
        let shown = |text: &[u8]| {
            redact(&String::from_utf8_lossy(text).replace(out.to_str().unwrap(), "/tmp/grades"))
        };
        let csv = std::fs::read_to_string(out.join("summary.csv"))
            .unwrap_or_default()
            // CRLF line ends (RFC 4180), which a page shows as lines.
            .replace("\r\n", "\n");
        (
            output.status.code(),
            shown(&output.stdout),
            shown(&output.stderr),
            csv,
        )
    };
    let carol_out = work.path().join("carol-grades");
    let ((code, stdout, stderr, csv), (carol_code, carol_stdout, _, carol_csv)) =
        std::thread::scope(|s| {
            let carol = s.spawn(|| {
                grade(
                    &alone,
                    &carol_out,
                    &["--start-timeout", "1", "--jobs", "16"],
                )
            });
            let two = grade(
                &class,
                &grades,
                &["--transcript-timeout", "5", "--start-timeout", "5"],
            );
            (two, carol.join().expect("carol's run"))
        });
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert_eq!(carol_code, Some(1), "{carol_stdout}");

    // README.md's class is alice and bob: the two-submission run, as it is.
    let readme = block_after(&page("README.md"), "(times vary), and exits 1 because bob");
    assert_eq!(stdout, redact(&readme), "README.md's table");

    // GRADING.md's table: the same with carol's row, and three submissions.
    let carol_row = carol_stdout
        .lines()
        .find(|l| l.starts_with("carol "))
        .expect("carol's row");
    let mut three: Vec<String> = stdout
        .lines()
        .map(|l| l.replace("2 submissions", "3 submissions"))
        .collect();
    three.insert(3, carol_row.to_owned());
    let table = redact(&block_after(&grading, "then the table (exit 1"));
    assert_eq!(
        table.lines().collect::<Vec<_>>(),
        three,
        "docs/GRADING.md's table"
    );
    let bob = block_after(&grading, "terminal), such as");
    assert!(
        stderr.contains(&redact(&bob).replace("[2/3]", "[2/2]")),
        "docs/GRADING.md's progress line {bob:?} in\n{stderr}"
    );
    let csv = format!(
        "{csv}{}",
        carol_csv.lines().nth(1).expect("carol's csv row")
    );
    assert_eq!(
        format!("{csv}\n"),
        block_after(&grading, "(spreadsheets and Python's `csv` read both):"),
        "docs/GRADING.md's summary.csv"
    );
    // The same rows with the suite error's column, further down the page.
    let with_errors: Vec<String> = csv.lines().map(|l| format!("{l},1")).collect();
    let shown_with_errors = block_after(&grading, "and `/tmp/grades/summary.csv` is");
    assert_eq!(
        shown_with_errors.lines().skip(1).collect::<Vec<_>>(),
        with_errors[1..],
        "docs/GRADING.md's summary.csv of an incomplete suite"
    );

    // Alice: every category whole, and the one transcript skipped is the read fault.
    assert!(
        csv.contains("\nalice,3/3,2/2,7/7,1/1,9/9,3/3,16/16,3/3,100,0,0,1,\n"),
        "{csv}"
    );
    let alice = std::fs::read_to_string(grades.join("alice.html")).unwrap();
    assert_eq!(
        alice.matches("<tr class=\"skipped\">").count(),
        1,
        "{alice}"
    );
    assert!(
        alice.contains("<tr class=\"skipped\"><td>transcripts/failures/read-fault-is-500.transcript</td><td>MUST</td><td>skipped: fault reads: no mechanism makes a read fail in any server"),
        "{alice}"
    );
}

/// Whether `tool --version` runs; without it a check that needs the tool says so and passes,
/// except under CI (`CI=true`), whose machine has every tool of scripts/interop-deps.txt.
fn have(tool: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing under CI"
        );
        eprintln!("{tool} is not installed: the pages' {tool} lines are not checked");
    }
    found
}

#[test]
fn the_readme_s_curl_lines_get_the_answers_their_comments_say() {
    if !have("curl") {
        return;
    }
    let readme = page("README.md");
    let block = block_after(&readme, "**curl**");
    let server = crate::support::TestServer::start("", |_| {});
    let addr = server.addr.to_string();
    let mut checked = 0;
    for line in block.lines() {
        let (command, said) = line.split_once(" # ").expect("each line says what it gets");
        let said = said.trim();
        let command = command.replace("127.0.0.1:12345", &addr);
        let output = std::process::Command::new("sh")
            .args(["-c", &command])
            .output()
            .expect("sh runs");
        let stdout = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let context = format!("README.md: `{line}`:\n{stdout}{stderr}");
        if command.contains("https://") {
            // curl's own words for a TLS handshake answered in plain text.
            assert_eq!(output.status.code(), Some(35), "{context}");
            assert!(said.contains("wrong version number"), "{context}");
            assert!(stderr.contains("wrong version number"), "{context}");
            checked += 1;
            continue;
        }
        // curl -i prints the head's empty line only when a body follows it.
        let (head, body) = stdout.split_once("\n\n").unwrap_or((&stdout, ""));
        let head = format!("{}\n", head.trim_end());
        if let Some(fields) = said.strip_prefix("HEAD: ") {
            assert_eq!(fields, "GET's fields, no body");
            assert!(head.starts_with("HTTP/1.1 200 OK\n"), "{context}");
            assert!(head.contains("\nContent-Length: "), "{context}");
            assert_eq!(body, "", "{context}");
            checked += 1;
            continue;
        }
        let (status, rest) = said.split_at(3);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{context}"
        );
        match rest {
            ", body: the file" => assert_eq!(body, "hello\n", "{context}"),
            " with Allow" => assert!(
                head.contains("\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\n"),
                "{context}"
            ),
            _ => assert_eq!(body, format!("{}\n", rest.trim_start()), "{context}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 11, "{block}");
}

#[test]
fn the_client_pages_show_what_the_client_transcripts_give() {
    let shown = block_after(&page("docs/CLIENT.md"), "`CMD delete WORD`.");
    let mut checked = 0;
    let mut ours = None;
    for line in shown.lines() {
        let Some((command, said)) = line.split_once(" # ") else {
            continue;
        };
        let said = said.trim().trim_start_matches("ours: ");
        let command = command
            .replace("wordwire ", &format!("{} ", crate::support::binary()))
            .replace("python3 ", &format!("{} ", crate::support::python3()));
        let output = std::process::Command::new("sh")
            .args(["-c", &command])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("sh runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            stdout.lines().last(),
            Some(said),
            "docs/CLIENT.md: `{line}`"
        );
        if let Some(passed) = said.strip_suffix(" passed, 0 failed") {
            ours = passed.parse::<usize>().ok();
        }
        checked += 1;
    }
    assert_eq!(checked, 2, "{shown}");
    // LAB step 7 says our client's count in words.
    let ours = ours.expect("a line for our client");
    let number = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let said = format!("Ours passes all {}.", number[ours.min(9)]);
    assert!(
        words(&page("docs/LAB.md")).contains(&said),
        "docs/LAB.md should say {said:?}"
    );
}

#[test]
fn grading_counts_the_methods_transcripts_as_the_suite_holds_them() {
    let methods = crate::support::suite_files("transcripts/methods").len();
    let said = format!("The first reruns the methods only (`{methods} passed, 0 failed`)");
    assert!(
        words(&page("docs/GRADING.md")).contains(&said),
        "docs/GRADING.md should say {said:?}"
    );
}

#[test]
fn the_lab_shows_lines_that_client_trace_prints() {
    let server = crate::support::TestServer::start("", |_| {});
    let dir = tempfile::tempdir().unwrap();
    let addr = server.addr.to_string();
    let (code, _, trace) = run_in(
        dir.path(),
        &["client", "--addr", &addr, "--trace", "post", "world"],
    );
    assert_eq!(code, Some(0), "{trace}");
    let trace = redact(&trace);
    let shown = block_after(
        &page("docs/LAB.md"),
        "where CR and LF were, and the milliseconds since",
    );
    let mut checked = 0;
    for line in shown.lines().filter(|l| *l != "...") {
        assert!(
            trace.lines().any(|l| l == redact(line)),
            "docs/LAB.md step 2 shows {line:?}; the trace is\n{trace}"
        );
        checked += 1;
    }
    assert_eq!(checked, 4, "{shown}");
}
