//! Client transcripts: our own `wordwire client` passes them all, a broken client fails with diffs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{TestServer, binary, python3};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn client_transcripts() -> Vec<PathBuf> {
    let files = crate::support::suite_files("transcripts/client");
    assert!(files.len() >= 6, "{files:?}");
    files
}

fn replay_client(cmd: &str) -> Output {
    Command::new(binary())
        .args(["replay", "--client-cmd", cmd])
        .current_dir(root())
        .env_remove("WORDWIRE_USER")
        .env_remove("WORDWIRE_PASSWORD")
        .output()
        .expect("wordwire replay runs")
}

#[test]
fn our_own_client_passes_every_client_transcript() {
    let n = client_transcripts().len();
    let output = replay_client(&format!("'{}' client --addr {{addr}}", binary()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    // Only client transcripts are played with --client-cmd.
    assert!(
        stdout.ends_with(&format!("\n{n} passed, 0 failed\n")),
        "{stdout}"
    );
}

#[test]
fn a_broken_client_fails_every_client_transcript_with_a_diff() {
    let n = client_transcripts().len();
    let output = replay_client(&format!(
        "{} tests/clients/broken_client.py {{host}} {{port}}",
        python3()
    ));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.ends_with(&format!("\n0 passed, {n} failed\n")),
        "{stdout}"
    );
    // Bare LF, no Host and a short Content-Length show in the request diff.
    assert!(
        stdout.contains("    - > POST / HTTP/1.1\\r\\n\n"),
        "{stdout}"
    );
    assert!(stdout.contains("    + > POST / HTTP/1.1\\n\n"), "{stdout}");
    assert!(stdout.contains("    - > Host: [HOST]\\r\\n\n"), "{stdout}");
    assert!(!stdout.contains("    + > Host:"), "{stdout}");
    assert!(
        stdout.contains("    + > Content-Length: 4\\n\n"),
        "{stdout}"
    );
    // Printing the chunk framing instead of the decoded body fails the stdout check.
    assert!(
        stdout.contains("`expect-stdout alpha\\nbeta\\n`: stdout lacks this text"),
        "{stdout}"
    );
    assert!(stdout.contains("    + | 6\\r\\n\n"), "{stdout}");
    // Reporting success after an early close fails the exit check.
    assert!(
        stdout.contains("    - ! a non-zero exit status\n"),
        "{stdout}"
    );
}

#[test]
fn with_a_client_command_a_transcript_that_cannot_be_read_is_a_suite_error_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("get.transcript");
    std::fs::copy(&client_transcripts()[0], &good).unwrap();
    // Not valid UTF-8: which kind of transcript it is cannot be told, nor can it be played.
    let unreadable = dir.path().join("latin1.transcript");
    std::fs::write(&unreadable, b"listen\n\xff\n").unwrap();
    let output = Command::new(binary())
        .args(["replay", "--client-cmd"])
        .arg(format!("'{}' client --addr {{addr}}", binary()))
        .arg(dir.path())
        .output()
        .expect("wordwire replay runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.ends_with(&format!(
            "\n1 passed, 0 failed\n\nSUITE ERROR: 1 transcript of the suite could not be read: not played, not in the score (the fault is in the suite, not in the server)\n\
             {}: cannot read: stream did not contain valid UTF-8\n",
            unreadable.display()
        )),
        "{stdout}"
    );
}

#[test]
fn server_grading_leaves_client_transcripts_out_and_coverage_ignores_them() {
    let output = Command::new(binary())
        .args(["replay", "--coverage"])
        .current_dir(root())
        .output()
        .expect("wordwire replay runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let server = TestServer::start("", |_| {});
    let output = Command::new(binary())
        .args(["replay", "--target", &server.addr.to_string()])
        .current_dir(root())
        .output()
        .expect("wordwire replay runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("transcripts/methods/"), "{stdout}");
    assert!(!stdout.contains("transcripts/client/"), "{stdout}");
    // Without a client command, a client transcript is skipped, not failed.
    let result = wordwire::grading::replay::replay_one(
        &client_transcripts()[0],
        &wordwire::grading::replay::Options::default(),
    );
    assert!(
        matches!(
            result.outcome,
            wordwire::grading::verdict::Outcome::Skipped(_)
        ),
        "{:?}",
        result.outcome
    );
}

#[test]
fn client_transcripts_carry_their_header_into_every_report() {
    // The built-in ones: the category is the directory's name, in every format.
    for format in ["json", "junit", "tap", "html", "text"] {
        let output = Command::new(binary())
            .args(["replay", "--format", format])
            .args(crate::support::suite_files("transcripts/client"))
            .current_dir(root())
            .output()
            .expect("wordwire replay runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{format}: {stdout}");
        match format {
            "json" => {
                let report: serde_json::Value =
                    serde_json::from_str(&stdout).expect("the JSON report parses");
                let categories: Vec<&String> = report["categories"]
                    .as_object()
                    .expect("categories is an object")
                    .keys()
                    .collect();
                assert_eq!(categories, ["client"], "{stdout}");
                let transcripts = report["transcripts"].as_array().expect("an array");
                assert!(
                    transcripts.iter().all(|t| t["category"] == "client"),
                    "{stdout}"
                );
            }
            "junit" => {
                assert_eq!(
                    stdout.matches("<testcase classname=\"client\" ").count(),
                    client_transcripts().len(),
                    "{stdout}"
                );
                assert!(!stdout.contains("classname=\"\""), "{stdout}");
            }
            "html" => assert!(
                stdout.contains("<tr class=\"good\"><td>client</td>"),
                "{stdout}"
            ),
            "text" => assert!(stdout.lines().any(|l| l.starts_with("client ")), "{stdout}"),
            // TAP names a category only in a failure's YAML block: see below.
            _ => {}
        }
    }
    // A header of its own: category, level and hint are read, whether it plays,
    // fails or is skipped (no client command).
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("mine.transcript");
    let text = std::fs::read_to_string(
        root().join("transcripts/client/post-200-prints-status-and-body.transcript"),
    )
    .expect("the transcript reads");
    std::fs::write(
        &path,
        format!("category requests\nlevel SHOULD\nhint CLIENT: say it.\n{text}"),
    )
    .expect("the copy is written");
    let played = wordwire::grading::replay::Options {
        client_cmd: Some(format!("'{}' client --addr {{addr}}", binary())),
        ..wordwire::grading::replay::Options::default()
    };
    let failing = wordwire::grading::replay::Options {
        client_cmd: Some("false {addr}".to_string()),
        ..wordwire::grading::replay::Options::default()
    };
    for (options, passed) in [
        (played, Some(true)),
        (failing, Some(false)),
        (Default::default(), None),
    ] {
        let result = wordwire::grading::replay::replay_one(&path, &options);
        match passed {
            Some(true) => assert_eq!(result.outcome, wordwire::grading::verdict::Outcome::Passed),
            Some(false) => assert_eq!(result.outcome, wordwire::grading::verdict::Outcome::Failed),
            None => assert!(matches!(
                result.outcome,
                wordwire::grading::verdict::Outcome::Skipped(_)
            )),
        }
        assert_eq!(result.category, "requests", "{:?}", result.outcome);
        assert_eq!(
            result.level,
            wordwire::grading::suite::transcript::Level::Should
        );
        assert_eq!(result.hint.as_deref(), Some("CLIENT: say it."));
    }
    let tap = wordwire::grading::report::tap(
        &[wordwire::grading::replay::replay_one(
            &path,
            &wordwire::grading::replay::Options {
                client_cmd: Some("false {addr}".to_string()),
                ..wordwire::grading::replay::Options::default()
            },
        )],
        &[],
    );
    assert!(tap.contains("  category: \"requests\"\n"), "{tap}");
}
