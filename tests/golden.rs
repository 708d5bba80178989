//! Every golden transcript (those `transcripts/SUITE` lists) as its own test case,
//! named by its path under `transcripts/`, replayed against a fresh in-process server.
//!
//! `cargo test --test golden -- framing` runs the framing transcripts only;
//! a failure prints the transcript's diff of expected and received bytes.

use std::path::Path;

use libtest_mimic::{Arguments, Failed, Trial};
use wordwire::grading::replay::{self, Options};
use wordwire::grading::report;
use wordwire::grading::suite::builtin;
use wordwire::grading::verdict::Outcome;

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts");
    // The suite transcripts/SUITE lists: a user's own file there is not part of it.
    let files = builtin::listed(&root).expect("transcripts/SUITE lists the suite");
    assert!(!files.is_empty(), "no transcripts under {}", root.display());
    let trials = files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .with_extension("")
                .display()
                .to_string();
            Trial::test(name, move || replay_transcript(&path))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn replay_transcript(path: &Path) -> Result<(), Failed> {
    // Client transcripts (`transcripts/client/`) test our own client, the binary.
    let options = Options {
        client_cmd: Some(format!(
            "'{}' client --addr {{addr}}",
            env!("CARGO_BIN_EXE_wordwire")
        )),
        ..Options::default()
    };
    let result = replay::replay_one(path, &options);
    match result.outcome {
        Outcome::Passed => Ok(()),
        _ => Err(report::plain(&report::failure_details(&result)).into()),
    }
}
