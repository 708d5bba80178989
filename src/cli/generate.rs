//! `wordwire completions SHELL` and `wordwire man [SUBCOMMAND]`: files generated from the clap definition.
//!
//! Here: shell completion scripts (`clap_complete`) and roff man pages
//! (`clap_mangen`), written to any `Write`. Elsewhere: the definition itself (`cli`).

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// `wordwire completions`: prints a completion script for a shell.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `wordwire man`: prints a man page in roff.
#[derive(Debug, Clone, clap::Args)]
pub struct ManArgs {
    /// The page of one subcommand (`wordwire-serve(1)`) instead of `wordwire(1)`.
    pub subcommand: Option<String>,
}

/// Writes the completion script for `shell`. Built in memory first: clap_complete
/// panics when its writer fails (`wordwire completions bash | head`).
pub fn write_completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "wordwire", &mut script);
    out.write_all(&script)
}

/// Writes `wordwire(1)`, or `wordwire-SUBCOMMAND(1)`. Errors if there is no such subcommand.
/// Rendered in memory and written at once: `clap_mangen` writes a page in pieces, and the
/// reader of `wordwire man | head -1` closing after the first piece made it fail with
/// "Broken pipe" (exit 2).
pub fn write_man(subcommand: Option<&str>, out: &mut dyn Write) -> io::Result<()> {
    let mut command = Cli::command();
    // `build` gives each subcommand its display name (`wordwire-serve`) and usage line.
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => command.find_subcommand(name).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no subcommand {name:?}; see wordwire --help"),
            )
        })?,
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    out.write_all(&roff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe whose reader goes away after the first write it sees.
    struct ReadOnce {
        writes: usize,
        bytes: Vec<u8>,
    }

    impl Write for ReadOnce {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            if self.writes > 1 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_man_page_is_written_in_one_write() {
        for subcommand in [None, Some("serve")] {
            let mut out = ReadOnce {
                writes: 0,
                bytes: Vec::new(),
            };
            write_man(subcommand, &mut out).unwrap();
            assert!(
                out.bytes.starts_with(b".ie \\n(.g .ds Aq"),
                "{subcommand:?}"
            );
        }
    }
}
