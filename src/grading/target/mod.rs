//! The server a transcript plays against, and the only place grading starts a process.
//!
//! Here: `Target` (in-process, a running `--target`, or a `--target-cmd` started
//! per transcript: `CommandTarget`), `Isolation` (each start in a box, or `--no-box`,
//! and the one line every report carries about it); `start`, starting a foreign
//! program whichever way it runs, now (`Started`) or ahead on a thread
//! (`Starting`), and stopping it; `queue`, the turns of the starts ahead
//! (`--starts`); `foreign`, what both ways share (`Launch`, the placeholders, a
//! failed start's message, `Watch` for the time limit); `boxed`, the start in a box
//! (`crate::sandbox`: the store, the lab pair, port discovery, the write fault on
//! the server's process only); `unboxed`, the start without one (its own process
//! group, the LISTEN wait); `gate`, failing fast on a start that cannot work; `process`,
//! the one `spawn` of an unboxed program (a server or a client under test) and its
//! group's signals; `flags`, the `--target-flags` map; `local`, our own server
//! in-process for one transcript.
//! Elsewhere: playing the steps through the connector it gives (`grading::play`),
//! choosing the target for a run (`grading::replay`, `grading::class`), the box
//! itself (`crate::sandbox`).

pub mod boxed;
pub mod flags;
pub mod foreign;
pub mod gate;
pub mod local;
pub mod process;
pub mod queue;
pub mod start;
pub mod unboxed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::sandbox::{Protections, Sandbox};

/// How long a target has to listen by default (`--start-timeout`).
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How many servers each job starts ahead by default (`--ahead`): bench/SANDBOX.md
/// has what each depth gave a class of Python servers.
pub const AHEAD: usize = 6;

/// Which server a transcript plays against.
#[derive(Debug, Clone, Default)]
pub enum Target {
    /// Our own server, in-process, one per transcript.
    #[default]
    InProcess,
    /// A running server shared by every transcript (`--target`).
    Addr(SocketAddr),
    /// A command that starts the server under test, once per transcript (`--target-cmd`,
    /// a submission's `wordwire-cmd`).
    Command(CommandTarget),
}

/// A server started by a command for each transcript, and how.
#[derive(Debug, Clone)]
pub struct CommandTarget {
    /// The command, with its placeholders (`{port}`, `{host}`, `{addr}`, `{store}`).
    pub template: String,
    pub flags: Option<flags::FlagMap>,
    /// The submission's directory: copied into each box as its working directory, or
    /// the command's current directory without a box. `None`: the grader's own.
    pub dir: Option<PathBuf>,
    pub isolation: Isolation,
    /// How long the command has to listen (a Java compile takes seconds).
    pub start_timeout: Duration,
    /// A course's `[store] file`: the data file seeded in the box for a command that
    /// names no `{store}` (`None`: `words.txt`).
    pub data_file: Option<PathBuf>,
    /// Shared by every transcript of this target: stops starting it after a start that
    /// cannot work (`gate`).
    pub gate: Arc<gate::StartGate>,
    /// How many servers each job starts ahead of the transcript it plays (`--ahead`,
    /// `grading::ahead`); 0: each starts as its transcript plays.
    pub ahead: usize,
    /// How many servers started ahead start at once, over all jobs (`--starts`,
    /// `queue`): the rest wait, one a play waits for first, then the one begun first.
    pub starts: usize,
}

impl CommandTarget {
    /// Takes a course's `[server] start-timeout` and `[store] file` (the data file a box
    /// seeds for a command without `{store}`).
    pub fn follow(&mut self, course: &crate::course::Course) {
        self.start_timeout = course.start_timeout;
        self.data_file = Some(course.store_file.clone());
    }

    /// Whether this target's starts must run one at a time under `course`: without a
    /// box, a fixed port or a data file in a shared directory (a command without
    /// `{store}`) is one for every start; each box has its own.
    pub fn shares_a_machine(&self, course: Option<&crate::course::Course>) -> bool {
        matches!(self.isolation, Isolation::Unboxed)
            && course.is_some_and(|c| c.port.is_some() || !self.template.contains("{store}"))
    }

    /// `template` run in `dir` (`None`: the current directory), the default start timeout.
    pub fn new(
        template: String,
        flags: Option<flags::FlagMap>,
        dir: Option<PathBuf>,
        isolation: Isolation,
    ) -> CommandTarget {
        CommandTarget {
            template,
            flags,
            dir,
            isolation,
            start_timeout: START_TIMEOUT,
            data_file: None,
            gate: Arc::default(),
            ahead: AHEAD,
            starts: queue::cores(),
        }
    }
}

/// Whether each start of a command runs in a box (`crate::sandbox`) or as the grader's
/// own child (`--no-box`).
#[derive(Debug, Clone)]
pub enum Isolation {
    Boxed(Arc<BoxSetup>),
    /// `--no-box`: the command runs as the grader's user, with its files, environment
    /// and network, in a process group of its own.
    Unboxed,
}

/// Set to `0` or `off`: every box is made without namespaces, as on a machine
/// without user namespaces (Ubuntu 24.04's default), to see and test what that
/// machine gives (docs/GRADING.md, The box).
pub const NAMESPACES_VAR: &str = "WORDWIRE_BOX_NAMESPACES";

/// What every box of a run is made with.
#[derive(Debug, Clone)]
pub struct BoxSetup {
    /// The `wordwire` executable, run as each box's helper.
    pub init: PathBuf,
    /// Whether to make the namespaces (`false`: `NAMESPACES_VAR`).
    pub namespaces: bool,
    /// The layers a box gets on this machine (`Sandbox::probe`, once per run).
    pub protections: Protections,
}

impl Isolation {
    /// A box for every start, with the layers this machine gives (probed once, with
    /// `init` as the helper), or none with `no_box`. An error: no box can be made at
    /// all (the kernel refuses even the helper's setup).
    pub fn for_run(no_box: bool, init: &Path, namespaces: bool) -> Result<Isolation, String> {
        if no_box {
            return Ok(Isolation::Unboxed);
        }
        match Sandbox::probe_with(init, namespaces) {
            Ok(protections) => Ok(Isolation::Boxed(Arc::new(BoxSetup {
                init: init.to_path_buf(),
                namespaces,
                protections: protections.clone(),
            }))),
            Err(e) => Err(format!(
                "cannot make a box for the submissions ({e}); --no-box runs them without one, as your user, with your files and network"
            )),
        }
    }

    /// `Isolation::for_run` with this program as the helper, and namespaces unless
    /// `NAMESPACES_VAR` says `0` or `off`.
    pub fn for_this_run(no_box: bool) -> Result<Isolation, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find the wordwire executable for the box: {e}"))?;
        let namespaces = !std::env::var(NAMESPACES_VAR).is_ok_and(|v| v == "0" || v == "off");
        Isolation::for_run(no_box, &exe, namespaces)
    }

    /// The line every report carries: `box: namespaces user, net, uts, pid, mount;
    /// landlock ABI 7; rlimits (processes per box)`, or `no box (--no-box)`.
    pub fn report_line(&self) -> String {
        match self {
            Isolation::Boxed(setup) => format!("box: {}", setup.protections),
            Isolation::Unboxed => "no box (--no-box): each server ran as the grader's user, with its files, environment and network".to_string(),
        }
    }

    /// What is said once at the start of a run, on stderr: the report line, then, for
    /// each layer this machine does not give, what that leaves open.
    pub fn announcement(&self) -> String {
        let mut lines = vec![self.report_line()];
        match self {
            Isolation::Unboxed => lines.push(
                "  --no-box: a server can read your files and environment, reach your network, signal the grader; only its process group is stopped after each transcript".to_string(),
            ),
            Isolation::Boxed(setup) => {
                let p = &setup.protections;
                let mut missing = Vec::new();
                if !setup.namespaces {
                    lines.push(format!("  ({NAMESPACES_VAR}=0: boxes without namespaces, on purpose)"));
                }
                if !p.net_ns {
                    missing.push("no network namespace: each server shares this machine's network, must listen on the {port} it is given, and only TCP connects out are refused (Landlock ABI 4+)");
                }
                if !p.pid_ns {
                    missing.push("no PID namespace: a server's processes are found and killed by ancestry (a process that forks fast enough could race it)");
                }
                if p.landlock.is_none() {
                    missing.push("no Landlock: a server can read and write whatever your user can (only its copy of the submission is private)");
                } else if p.landlock.is_some_and(|l| !l.full) {
                    missing.push("Landlock is older than the rules: some accesses are not restricted");
                }
                if !p.mount_ns {
                    missing.push("no mount namespace: /tmp and /proc are the host's (TMPDIR points into the box)");
                }
                if !p.process_limit {
                    missing.push("no per-box process limit (no user namespace)");
                }
                for m in missing {
                    lines.push(format!("  incomplete box: {m}"));
                }
                for note in &p.notes {
                    lines.push(format!("  ({note})"));
                }
            }
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}
