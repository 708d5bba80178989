//! `wordwire course init` and `wordwire course check`, as a TA runs them.

use std::process::Command;

use crate::support::{binary, run_binary};

fn stdout_of(args: &[&str], dir: &std::path::Path) -> (Option<i32>, String, String) {
    let output = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run wordwire");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn init_writes_a_template_that_check_accepts_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_binary(&["course", "init", "course.toml"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    let written = std::fs::read_to_string(dir.path().join("course.toml")).unwrap();
    assert_eq!(written, wordwire::course::TEMPLATE);
    let (code, stdout, stderr) = stdout_of(&["course", "check", "course.toml"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("port = 12345\n"), "{stdout}");
    assert!(stdout.contains("server-error = [501, 500]\n"), "{stdout}");
    // A second init leaves the edited file alone.
    std::fs::write(dir.path().join("course.toml"), "[server]\nport = 8000\n").unwrap();
    let (code, stderr) = run_binary(&["course", "init", "course.toml"], dir.path());
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        "wordwire course: course.toml exists; not overwritten (remove it, or choose another name)\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("course.toml")).unwrap(),
        "[server]\nport = 8000\n"
    );
}

#[test]
fn init_without_a_file_prints_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = stdout_of(&["course", "init"], dir.path());
    assert_eq!(code, Some(0));
    assert_eq!(stdout, wordwire::course::TEMPLATE);
}

#[test]
fn check_shows_the_defaults_a_file_leaves_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[rules]\nput = \"first\"\n").unwrap();
    let (code, stdout, stderr) = stdout_of(&["course", "check", "c.toml"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("put = \"first\"\ndelete = \"every\"\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("header = \"Authorization: Basic d29yZHdpcmU6d29yZHdpcmU=\"\n"),
        "{stdout}"
    );
    assert!(stdout.contains("profile = \"assignment\"\n"), "{stdout}");
}

#[test]
fn a_bad_course_file_is_one_line_with_its_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[statuses]\n\ntimeout = [99]\n").unwrap();
    let (code, stderr) = run_binary(&["course", "check", "c.toml"], dir.path());
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        "wordwire course: c.toml:3: timeout: 99 is not an HTTP status (100 to 599)\n"
    );
    let (code, stderr) = run_binary(&["course", "check", "missing.toml"], dir.path());
    assert_eq!(code, Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("wordwire course: missing.toml: "),
        "{stderr}"
    );
}
