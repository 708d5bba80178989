//! The golden transcripts as tests, and proof that the harness has teeth.
//!
//! Here: the per-status coverage rule (each transcript itself runs in `tests/golden.rs`), and `replay --target` against deliberately wrong tiny servers
//! (one that answers 200 to everything, one that ends lines with a bare LF).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use wordwire::grading::replay::{self, CONTRACT_STATUSES, Judge, Options};
use wordwire::grading::report;
use wordwire::grading::target::Target;
use wordwire::grading::verdict::Outcome;

fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts")
}

/// The suite `transcripts/SUITE` lists (not what a user added beside it).
fn all_transcripts() -> Vec<PathBuf> {
    wordwire::grading::suite::builtin::listed(&transcripts_dir()).expect("transcripts/SUITE")
}

/// The suite's transcripts under `methods/`.
fn methods() -> Vec<PathBuf> {
    let dir = transcripts_dir().join("methods");
    all_transcripts()
        .into_iter()
        .filter(|p| p.starts_with(&dir))
        .collect()
}

#[test]
fn every_contract_status_has_a_transcript() {
    let (counts, suite_errors) = replay::coverage(&all_transcripts());
    assert_eq!(suite_errors, [], "every transcript loads");
    let missing: Vec<u16> = CONTRACT_STATUSES
        .iter()
        .copied()
        .filter(|s| !counts.contains_key(s))
        .collect();
    assert!(
        missing.is_empty(),
        "statuses without a transcript: {missing:?}"
    );
}

/// A server that answers every chunk of bytes it reads with `answer`, keeping the connection open.
fn wrong_server(answer: impl Fn() -> Vec<u8> + Send + Sync + 'static) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let addr = listener.local_addr().expect("bound address");
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&answer()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn ok_response(line_end: &str) -> Vec<u8> {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    format!(
        "HTTP/1.1 200 OK{e}Date: {date}{e}Server: wrong/1.0{e}Content-Type: text/plain; charset=utf-8{e}Content-Length: 12{e}{e}added hello\n",
        e = line_end
    )
    .into_bytes()
}

#[test]
fn replay_against_a_server_that_answers_200_to_everything_fails_with_a_diff() {
    let addr = wrong_server(|| ok_response("\r\n"));
    // methods/: a 501 to get wrong and a transcript to skip (--auth-all). The whole suite
    // proved no more and took 10 s: a server that never closes makes each `expect-close`
    // wait out replay's 5 s.
    let output = Command::new(env!("CARGO_BIN_EXE_wordwire"))
        .args(["replay", "--jobs", "4", "--target", &addr.to_string()])
        .args(methods())
        .output()
        .expect("wordwire runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    // The unknown method should be 501; the diff shows both status lines.
    assert!(stdout.contains("FAIL    "), "{stdout}");
    assert!(
        stdout.contains("    - < HTTP/1.1 501 Not Implemented\\r\\n"),
        "{stdout}"
    );
    assert!(stdout.contains("    + < HTTP/1.1 200 OK\\r\\n"), "{stdout}");
    // Transcripts that need server flags or a store are skipped, and the summary says so.
    assert!(stdout.contains("skip"), "{stdout}");
    let summary = stdout.lines().last().unwrap_or("");
    assert!(
        summary.contains(" passed, ")
            && summary.contains(" failed")
            && !summary.contains(" 0 failed"),
        "{summary}"
    );
    // Not a terminal: no colour codes.
    assert!(!stdout.contains('\x1b'), "{stdout}");
}

#[test]
fn a_response_with_bare_lf_line_ends_fails_the_comparison() {
    let addr = wrong_server(|| ok_response("\n"));
    let path = transcripts_dir().join("methods/post-appends-word.transcript");
    let options = Options {
        target: Target::Addr(addr),
        judge: Some(Judge::Exact),
        ..Options::default()
    };
    let result = replay::replay_one(&path, &options);
    assert_eq!(result.outcome, Outcome::Failed);
    let details = report::plain(&report::failure_details(&result));
    assert!(details.contains("- < HTTP/1.1 200 OK\\r\\n"), "{details}");
    assert!(details.contains("+ < HTTP/1.1 200 OK\\n"), "{details}");
    // Date and Server are normalised, so only the line ends differ.
    assert!(details.contains("+ < Date: [DATE]\\n"), "{details}");
}

#[test]
fn a_correct_answer_from_another_server_passes_under_target() {
    let addr = wrong_server(|| ok_response("\r\n"));
    let path = transcripts_dir().join("methods/post-appends-word.transcript");
    let options = Options {
        target: Target::Addr(addr),
        judge: Some(Judge::Exact),
        ..Options::default()
    };
    let result = replay::replay_one(&path, &options);
    assert_eq!(
        result.outcome,
        Outcome::Passed,
        "{}",
        report::plain(&report::failure_details(&result))
    );
}

#[test]
fn json_and_junit_reports_name_each_transcript() {
    let addr = wrong_server(|| ok_response("\r\n"));
    for (format, needle) in [
        ("json", "\"outcome\":\"failed\""),
        ("junit", "<failure message="),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_wordwire"))
            .args([
                "replay",
                "--jobs",
                "4",
                "--format",
                format,
                "--target",
                &addr.to_string(),
            ])
            .args(methods())
            .output()
            .expect("wordwire runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains(needle), "{format}: {stdout}");
        assert!(
            stdout.contains("unknown-method-is-501"),
            "{format}: {stdout}"
        );
    }
}

#[test]
fn client_prints_status_and_body_and_exits_by_status() {
    let addr = wrong_server(|| ok_response("\r\n"));
    let output = Command::new(env!("CARGO_BIN_EXE_wordwire"))
        .args(["client", "--addr", &addr.to_string(), "post", "hello"])
        .env_remove("WORDWIRE_USER")
        .env_remove("WORDWIRE_PASSWORD")
        .output()
        .expect("wordwire runs");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "HTTP/1.1 200 OK\nadded hello\n"
    );
}

#[test]
fn client_connection_failure_is_one_line_and_nonzero() {
    // Bind then drop, so nothing listens on the port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = Command::new(env!("CARGO_BIN_EXE_wordwire"))
        .args(["client", "--addr", &format!("127.0.0.1:{port}"), "get"])
        .output()
        .expect("wordwire runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
}

/// `wordwire replay ARGS...` over the suite (`transcripts/SUITE`) and its exit code,
/// stdout and stderr; run in an empty directory, which a `--target-cmd` box copies (the
/// checkout is too big to).
fn replay_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let here = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_wordwire"))
        .current_dir(here.path())
        .arg("replay")
        .args(args)
        .args(all_transcripts())
        .output()
        .expect("wordwire runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn our_own_binary_started_per_transcript_passes_contract_level_and_exact() {
    let cmd = format!(
        "{} serve --addr {{addr}} --store {{store}}",
        env!("CARGO_BIN_EXE_wordwire")
    );
    // Our own binary, trusted, from the build directory (which a box does not show).
    let modes = [&["--no-box"][..], &["--no-box", "--exact"][..]];
    // Both runs at once: a run mostly waits for its servers to start and answer.
    let runs: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = modes
            .iter()
            .map(|mode| {
                let cmd = cmd.as_str();
                s.spawn(move || {
                    let mut args = vec!["--target-cmd", cmd];
                    args.extend_from_slice(mode);
                    replay_cli(&args)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().expect("a run")).collect()
    });
    for (mode, (code, stdout, _)) in modes.into_iter().zip(runs) {
        assert_eq!(code, Some(0), "{mode:?}: {stdout}");
        // The summary counts the skip against every server transcript and says why.
        let total = all_transcripts()
            .iter()
            .filter(|p| !wordwire::grading::clients::is_client_transcript(p))
            .count();
        assert!(
            stdout.ends_with(&format!(
                "\n{} passed, 0 failed, 1 of {total} SKIPPED (not played, not in the score): fault reads: no mechanism makes a read fail in any server (root reads any file, and a server may serve from memory); in-process only\nno box (--no-box): each server ran as the grader's user, with its files, environment and network\n",
                total - 1
            )),
            "{mode:?}: {stdout}"
        );
        // docs/GRADING.md's worked example shows how a correct server's run ends.
        if mode.is_empty() {
            let grading =
                std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/GRADING.md"))
                    .expect("docs/GRADING.md");
            let end = &stdout[stdout.rfind("\nscore ").expect("a score line") + 1..];
            assert!(
                grading.contains(&format!("```\n{end}```")),
                "docs/GRADING.md should show the end of the run:\n{end}"
            );
        }
        // The one skip: a read fault cannot be provoked in a server that serves from memory.
        let skips: Vec<&str> = stdout.lines().filter(|l| l.contains("] skip")).collect();
        assert_eq!(skips.len(), 1, "{skips:?}");
        assert!(skips[0].contains("read-fault-is-500"), "{skips:?}");
    }
}

#[test]
fn a_target_where_nothing_listens_is_one_line_and_exit_2() {
    // Bind then drop, so nothing listens on the port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let (code, stdout, stderr) = replay_cli(&["--target", &addr]);
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!("wordwire replay: cannot connect to {addr}: connection refused\n")
    );
}

#[test]
fn bless_says_how_many_files_it_rewrote_and_which() {
    let dir = tempfile::tempdir().unwrap();
    let original =
        std::fs::read_to_string(transcripts_dir().join("methods/post-appends-word.transcript"))
            .unwrap();
    // Fixtures are found in the nearest fixtures/ above a transcript.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::os::unix::fs::symlink(&fixtures, dir.path().join("fixtures")).unwrap();
    let suite = dir.path().join("transcripts");
    std::fs::create_dir(&suite).unwrap();
    std::fs::write(suite.join("same.transcript"), &original).unwrap();
    let broken = original.replacen("added hello", "added hellp", 1);
    assert_ne!(broken, original);
    std::fs::write(suite.join("wrong.transcript"), &broken).unwrap();
    let bless = || {
        let output = Command::new(env!("CARGO_BIN_EXE_wordwire"))
            .args(["replay", "--bless", "transcripts"])
            .current_dir(dir.path())
            .output()
            .expect("wordwire runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).to_string(),
        )
    };
    let (code, stdout) = bless();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.ends_with("\n--bless rewrote 1 file (read the diff before you commit): transcripts/wrong.transcript\n"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(suite.join("wrong.transcript")).unwrap(),
        original
    );
    let (code, stdout) = bless();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.ends_with("\n--bless rewrote no file\n"), "{stdout}");
}

/// `wordwire replay ARGS...` (no paths: the built-in suite): exit code, stdout, stderr.
fn replay_builtin(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wordwire"))
        .arg("replay")
        .args(args)
        .output()
        .expect("wordwire runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// The suite's paths as replay prints them (`transcripts/...`), those containing any of `patterns`.
fn shown_paths(patterns: &[&str], keep: impl Fn(&Path) -> bool) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    all_transcripts()
        .iter()
        .filter(|p| keep(p))
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .filter(|p| patterns.is_empty() || patterns.iter().any(|pattern| p.contains(pattern)))
        .map(|p| p + "\n")
        .collect()
}

#[test]
fn replay_list_prints_the_suite_a_run_would_play_and_filter_narrows_it() {
    let client = |p: &Path| wordwire::grading::clients::is_client_transcript(p);
    let (code, stdout, _) = replay_builtin(&["--list"]);
    assert_eq!(code, Some(0));
    assert_eq!(stdout, shown_paths(&[], |_| true));
    let (_, stdout, _) =
        replay_builtin(&["--list", "--filter", "methods/put", "--filter", "chunked"]);
    let expected = shown_paths(&["methods/put", "chunked"], |_| true);
    assert_eq!(stdout, expected);
    assert!(expected.lines().count() >= 4, "{expected}");
    // What each kind of run plays: server transcripts for a server, client ones for a client.
    let (_, stdout, _) = replay_builtin(&["--list", "--target-cmd", "unused {addr}"]);
    assert_eq!(stdout, shown_paths(&[], |p| !client(p)));
    let (_, stdout, _) = replay_builtin(&["--list", "--target", "127.0.0.1:9"]);
    assert_eq!(stdout, shown_paths(&[], |p| !client(p)));
    let (_, stdout, _) = replay_builtin(&["--list", "--client-cmd", "unused"]);
    assert_eq!(stdout, shown_paths(&[], client));
    // Given paths are listed as given.
    let (_, stdout, _) = replay_builtin(&[
        "--list",
        "--filter",
        "options",
        transcripts_dir().to_str().unwrap(),
    ]);
    assert_eq!(
        stdout,
        format!(
            "{}\n",
            transcripts_dir()
                .join("methods/options-is-204-with-allow.transcript")
                .display()
        )
    );
    let (code, stdout, stderr) = replay_builtin(&["--filter", "no-such-name"]);
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    assert_eq!(
        stderr,
        "wordwire replay: no transcript's path contains no-such-name (--list shows the paths)\n"
    );
}

#[test]
fn replay_filter_plays_the_subset_in_process_and_against_a_target_cmd() {
    let put = shown_paths(&["methods/put-"], |_| true);
    let n = put.lines().count();
    assert!(n >= 3, "{put}");
    let cmd = format!(
        "{} serve --addr {{addr}} --store {{store}}",
        env!("CARGO_BIN_EXE_wordwire")
    );
    for args in [
        vec!["--filter", "methods/put-"],
        // Our binary lies outside any submission's directory, where a box cannot run it.
        vec!["--filter", "methods/put-", "--no-box", "--target-cmd", &cmd],
    ] {
        let (code, stdout, _) = replay_builtin(&args);
        assert_eq!(code, Some(0), "{args:?}: {stdout}");
        assert!(
            stdout.contains(&format!("\n{n} passed, 0 failed\n")),
            "{args:?}: {stdout}"
        );
        for path in put.lines() {
            assert!(
                stdout.contains(&format!("ok      {path} (")),
                "{path} in {stdout}"
            );
        }
    }
}

#[test]
fn a_target_that_accepts_and_never_answers_is_one_line_and_exit_2_in_seconds() {
    // Accepts and holds every connection, reading nothing and answering nothing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = replay_cli(&["--target", &addr]);
    let took = started.elapsed();
    assert_eq!(code, Some(2), "{stdout}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "wordwire replay: {addr} accepted a connection but answered nothing to `GET /` in 3 s: is an HTTP server serving there (not stopped, not stuck)?\n"
        )
    );
    // The probe's wait, not a transcript's timeouts (92 s before).
    assert!(took < std::time::Duration::from_secs(8), "{took:?}");
}

#[test]
fn a_target_cmd_that_never_listens_is_an_error_naming_it() {
    let (code, stdout, _) = replay_cli(&["--target-cmd", "echo no port here >&2; exit 4"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("`echo no port here >&2; exit 4` exited before listening (exit status 4)"),
        "{stdout}"
    );
    // Its output once; the starts that failed alike say where it is, and the others
    // were not run (the start fails fast).
    // (Shown twice: on its progress line and in its details at the end.)
    assert_eq!(
        stdout
            .matches("its stderr ends:\n      no port here\n")
            .count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains("not run: the server's start failed alike twice (exit status 4)"),
        "{stdout}"
    );
}

/// The binary copied out of the build, as an installed one, and run where no
/// `transcripts/` exists: it replays the suite built into it, and `--export`
/// writes that suite out so that it replays from disk.
#[test]
fn an_installed_binary_replays_its_built_in_suite_from_any_directory() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let exe = dir.path().join("wordwire");
    std::fs::copy(env!("CARGO_BIN_EXE_wordwire"), &exe).expect("copy the binary");
    let run = |args: &[&str]| {
        let output = Command::new(&exe)
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("the copied binary runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).to_string(),
        )
    };
    let (code, stdout) = run(&["replay", "--jobs", "4"]);
    assert_eq!(code, Some(0), "{stdout}");
    let total = all_transcripts().len();
    assert!(
        stdout.contains(&format!("{total} passed, 0 failed")),
        "{stdout}"
    );
    // Shown as in the repository, not as the temporary copy.
    assert!(
        stdout.contains("] ok      transcripts/methods/post-appends-word.transcript"),
        "{stdout}"
    );
    let (code, stdout) = run(&["replay", "--export", "suite"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        dir.path()
            .join("suite/fixtures/methods/001-post-appends-word.http")
            .is_file()
    );
    let (code, stdout) = run(&["replay", "--jobs", "4", "suite/transcripts/methods"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    let (code, _) = run(&["replay", "--export", "suite"]);
    assert_eq!(code, Some(2), "export refuses to overwrite");
}
