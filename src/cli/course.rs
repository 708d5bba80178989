//! The `wordwire course` subcommands: write a course file's template, check one.
//!
//! Here: their flags and what they print. Elsewhere: the keys, their defaults and
//! their checks (`course`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::course::{Course, TEMPLATE};

/// `wordwire course`: the file that says how a class's assignment is judged.
#[derive(Debug, clap::Args)]
pub struct CourseArgs {
    #[command(subcommand)]
    pub command: CourseCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CourseCommand {
    /// Write a commented course file of this assignment's reading (to FILE, or standard output).
    Init {
        /// The file to create; it must not exist yet (standard output without it).
        file: Option<PathBuf>,
    },
    /// Check a course file and print every key with the value in force.
    Check {
        /// The course file.
        file: PathBuf,
    },
}

/// Runs a `course` subcommand: 0 on success, 1 with one line on stderr otherwise.
pub fn run(args: CourseArgs) -> ExitCode {
    let result = match args.command {
        CourseCommand::Init { file: None } => write_stdout(TEMPLATE),
        CourseCommand::Init { file: Some(path) } => init(&path),
        CourseCommand::Check { file } => {
            Course::load(&file).and_then(|c| write_stdout(&c.to_toml()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wordwire course: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Creates `path` with the template; an existing file (or a symlink) is left alone.
fn init(path: &std::path::Path) -> Result<(), String> {
    let shown = path.display();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                format!("{shown} exists; not overwritten (remove it, or choose another name)")
            }
            _ => format!("cannot create {shown}: {e}"),
        })?;
    file.write_all(TEMPLATE.as_bytes())
        .map_err(|e| format!("cannot write {shown}: {e}"))?;
    eprintln!("wrote {shown}: edit it, then `wordwire course check {shown}`");
    Ok(())
}

fn write_stdout(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // `wordwire course init | head` is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| format!("cannot write to standard output: {e}")),
    }
}
