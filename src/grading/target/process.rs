//! The one place the grading subsystem starts a program, and signals its process group.
//!
//! Here: `spawn` (`sh -c COMMAND` leading a process group of its own, the lab pair
//! in its environment, stdin from /dev/null, stdout and stderr on pipes, the
//! limits set in the child before `exec`), `signal_group`, and draining a child's
//! pipes: the `--no-box` path of a server under test, and a client under test.
//! Shell quoting and naming how a process ended are the box's (`crate::sandbox`),
//! re-exported here. Outside the unit tests and the box nothing else in the crate
//! calls `Command::new`.
//! Elsewhere: a server under test (`grading::target::unboxed`) and a client under
//! test (`grading::clients`), which call these.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use crate::auth::{DEFAULT_PASSWORD, DEFAULT_USER};
pub use crate::sandbox::{describe_status, shell_quote};

/// What the child gets before `exec`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// RLIMIT_FSIZE in bytes on the whole command: writes that would grow any file
    /// past it fail with EFBIG. (A fault meant for the server alone is set on its
    /// process once it listens: `grading::target::unboxed`.)
    pub file_size: Option<u64>,
    /// SIGXFSZ ignored (and so across `exec`), so that a write past a file size
    /// limit, set now or later, fails with EFBIG instead of killing the writer.
    pub ignore_file_size_signal: bool,
}

/// Starts `sh -c COMMAND` as the leader of a new process group (so that
/// `signal_group` reaches whatever it starts), with `WORDWIRE_USER` and
/// `WORDWIRE_PASSWORD` set to the lab pair, stdin from /dev/null, and stdout and
/// stderr on pipes for the caller to `drain`. `dir` is its current directory
/// (`None`: ours). With `limits`, they are set in the child before `exec`.
pub fn spawn(command: &str, dir: Option<&Path>, limits: Option<Limits>) -> std::io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("WORDWIRE_USER", DEFAULT_USER)
        .env("WORDWIRE_PASSWORD", DEFAULT_PASSWORD)
        .stdin(Stdio::null())
        // Pipes, not files: RLIMIT_FSIZE applies to every file the target writes.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(cwd) = dir {
        cmd.current_dir(cwd);
    }
    if let Some(limits) = limits {
        let file_size = limits.file_size;
        let ignore = limits.ignore_file_size_signal || file_size.is_some();
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (signal, setrlimit) on values copied in.
        unsafe {
            cmd.pre_exec(move || {
                if ignore {
                    // Fair for every language: an ignored SIGXFSZ stays ignored across
                    // exec, so a write past the limit fails with EFBIG instead of
                    // killing the target (Python ignores it anyway; C and Rust do not).
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                }
                if let Some(size) = file_size {
                    let limit = libc::rlimit {
                        rlim_cur: size as libc::rlim_t,
                        rlim_max: size as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    cmd.spawn()
}

/// Sends `signal` to the process group `pgid` leads (a child of `spawn`: its id is
/// its group's). A group that is gone already (ESRCH) is fine.
pub fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals the group `spawn` created
    // (process_group(0)); it touches no memory of ours.
    unsafe { libc::kill(-pgid, signal) };
}

/// Reads `from` to its end on a thread of its own, handing each piece to `sink`: a
/// child's stdout or stderr pipe, so the child never blocks on a full pipe.
pub fn drain(
    mut from: impl Read + Send + 'static,
    mut sink: impl FnMut(&[u8]) + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                return;
            }
            sink(&buf[..n]);
        }
    })
}
