//! The `wordwire grade` flags.
//!
//! Here: flag names and defaults. Elsewhere: finding submissions, playing the
//! suite against each, the reports and the summary (`grading::class`).

use std::path::PathBuf;

/// `wordwire grade`: grade a directory of submissions.
#[derive(Debug, clap::Args)]
pub struct GradeArgs {
    /// The submissions: one subdirectory each, holding `wordwire-cmd` (one line,
    /// the start command, as for `replay --target-cmd`; {port} {host} {addr} {store}
    /// are optional in a box, where the server is found wherever it listens and the
    /// store is words.txt in its directory) and optionally `flags.toml` (as for
    /// `--target-flags`). The command runs in a copy of its subdirectory.
    pub submissions: PathBuf,
    /// Where the reports go: NAME.html per submission and summary.csv.
    #[arg(long, value_name = "DIR", default_value = "grades")]
    pub out: PathBuf,
    /// Transcripts played at once, over all submissions.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Each transcript's time limit, counted from when the submission listens (the
    /// start has --start-timeout); past it the transcript fails and every process of
    /// the submission's box is killed.
    #[arg(long, value_name = "SECS", default_value_t = 20.0, value_parser = seconds)]
    pub transcript_timeout: f64,
    /// How long each start has to listen (a compile step takes seconds). A start
    /// that exits the same way twice, or finds no command, is not tried again.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = seconds)]
    pub start_timeout: f64,
    /// Servers each job starts ahead of the transcript it plays (at most 16), so that
    /// a start overlaps the plays before it; each is a live server, in a box of its
    /// own, while it waits (0: each starts as its transcript plays, which suits a
    /// submission that needs much memory).
    #[arg(long, value_name = "N", default_value_t = crate::grading::target::AHEAD as u16, value_parser = clap::value_parser!(u16).range(0..=16))]
    pub ahead: u16,
    /// Of the servers started ahead, how many start at once, over all jobs (default:
    /// the machine's cores); the rest wait their turn, one a play waits for first,
    /// then the one begun first, so that a start is not slowed by those needed
    /// later. For a start a play waits for, one that has not listened after 2 s no
    /// longer counts.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub starts: Option<u16>,
    /// Run the submissions without a box: as your user, in their own directories,
    /// with your files, environment and network, and only their process groups
    /// stopped. By default each start runs in a box of its own (docs/GRADING.md, The box).
    #[arg(long)]
    pub no_box: bool,
    /// Transcript files or directories to play instead of the suite built into the binary.
    #[arg(long, value_name = "PATH")]
    pub suite: Vec<PathBuf>,

    // What survives a run (issue 22, results that survive).
    /// Grade only the submissions without a NAME.html in --out (after an interrupted
    /// run); summary.csv keeps the earlier rows of the others.
    #[arg(long)]
    pub resume: bool,
    /// A course file (`wordwire course init`): the assignment as the TA set it; its
    /// [server] start is the command of a submission without `wordwire-cmd`.
    #[arg(long, value_name = "FILE")]
    pub course: Option<PathBuf>,
    /// What is written per submission besides NAME.html: `gradescope` adds
    /// OUT/NAME/results.json in Gradescope's format.
    #[arg(long, value_enum, default_value_t = GradeFormat::Html)]
    pub format: GradeFormat,
}

/// `wordwire grade --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GradeFormat {
    /// NAME.html per submission and summary.csv.
    Html,
    /// The same, and OUT/NAME/results.json (Gradescope's results format).
    Gradescope,
}

pub(crate) fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if super::SECONDS.contains(&secs) => Ok(secs),
        _ => Err(format!(
            "`{text}` is not a number of seconds from 0.001 to 86400"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_timeout_out_of_range_says_the_range() {
        for bad in ["0", "1e-10", "86401", "abc"] {
            assert_eq!(
                seconds(bad).unwrap_err(),
                format!("`{bad}` is not a number of seconds from 0.001 to 86400"),
            );
        }
        assert_eq!(seconds("0.5"), Ok(0.5));
    }
}
