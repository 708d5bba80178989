//! The server a transcript plays against, and the only place grading starts a process.
//!
//! Here: `Target` (in-process, a running `--target`, or a `--target-cmd` started
//! per transcript); `foreign`, starting, watching and stopping a foreign program
//! (placeholders, a fresh store, the lab pair, RLIMIT_FSIZE faults, the LISTEN wait,
//! its death, the process group's stop, `Watch` for the time limit); `process`, the one
//! `spawn` of a program (a server or a client under test) and its group's signals;
//! `flags`, the `--target-flags` map; `local`, our own server in-process for one transcript.
//! Elsewhere: playing the steps against the address it gives (`grading::play`),
//! choosing the target for a run (`grading::replay`, `grading::class`).

pub mod flags;
pub mod foreign;
pub mod local;
pub mod process;

use std::net::SocketAddr;
use std::path::PathBuf;

/// Which server a transcript plays against.
#[derive(Debug, Clone, Default)]
pub enum Target {
    /// Our own server, in-process, one per transcript.
    #[default]
    InProcess,
    /// A running server shared by every transcript (`--target`).
    Addr(SocketAddr),
    /// A command that starts the server under test, once per transcript (`--target-cmd`).
    Command {
        template: String,
        flags: Option<flags::FlagMap>,
        /// The command's current directory; `None`: ours.
        dir: Option<PathBuf>,
    },
}
