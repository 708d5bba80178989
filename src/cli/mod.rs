//! The command line at the edge: every subcommand's flags, parsed by clap.
//!
//! Here: the top-level `Cli` and its subcommands; each subcommand's flags in
//! its own file (`serve`, `client`, `record`, `replay`, `grade`, `generate`); the address
//! syntax every address flag shares (`address`). Elsewhere: what each subcommand does
//! (`server`, `client`, `grading::record`, `grading::replay`, `grading::class`), turning
//! errors into exit codes (`main`).

pub mod address;
pub mod client;
pub mod course;
pub mod generate;
pub mod grade;
pub mod record;
pub mod replay;
pub mod serve;

use clap::{Parser, Subcommand};

/// Every timeout flag's range, in seconds: from a millisecond (less than a nanosecond would
/// be a zero timeout) to a day.
pub const SECONDS: std::ops::RangeInclusive<f64> = 0.001..=86_400.0;

pub use client::{ClientArgs, ClientCommand};
pub use serve::{CredentialArgs, Env, ServeArgs, Sync, no_env, process_env};

/// `wordwire`; its about line is the package description in Cargo.toml.
#[derive(Parser)]
#[command(name = "wordwire", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Send one request of the assignment and print the answer.
    Client(ClientArgs),
    /// Replay golden transcripts against an in-process server or --target.
    Replay(replay::ReplayArgs),
    /// Grade a directory of submissions: an HTML report each and summary.csv.
    Grade(grade::GradeArgs),
    /// Relay connections to a server and write what passed as a transcript.
    Record(record::RecordArgs),
    /// Write or check a course file: how a class's assignment is judged.
    Course(course::CourseArgs),
    /// Print a shell completion script.
    ///
    /// bash: `wordwire completions bash > ~/.local/share/bash-completion/completions/wordwire`
    ///
    /// zsh: `wordwire completions zsh > ~/.zfunc/_wordwire` (with `~/.zfunc` in `fpath`)
    ///
    /// fish: `wordwire completions fish > ~/.config/fish/completions/wordwire.fish`
    Completions(generate::CompletionsArgs),
    /// Print a man page in roff.
    ///
    /// `wordwire man | man -l -` reads it; `wordwire man serve` is the page of one subcommand.
    Man(generate::ManArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_passes_clap_s_own_checks() {
        // Duplicate names, a global flag clashing with a subcommand's, bad defaults: all panic here.
        Cli::command().debug_assert();
    }
}
