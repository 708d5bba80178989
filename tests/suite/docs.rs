//! The pages (README.md, docs/*.md) against the program: a walk works in the order it is
//! written, and a command's output shown on a page is what the binary prints.
//! Here: reading the pages' code blocks and checking them. Elsewhere: the behaviour itself.

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
