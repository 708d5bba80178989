//! A box for one run of an untrusted command: its own copy of the files, network,
//! processes and limits, built from what the kernel gives an unprivileged user.
//!
//! Here: `Sandbox::spawn` (a private copy of a submission directory, the data file
//! seeded in it, `sh -c COMMAND` started in the box), `connect` (a TCP connection
//! to the server inside), `listeners` and `wait_listener` (port discovery),
//! `status`, `limit_file_size` (the write fault on the server process only),
//! `stop` (every process of the box gone, the copy removed), `output` (stdout and
//! stderr, capped), and `Protections` (which layers applied, from `probe` once
//! per grader and from every box). Elsewhere: starting a target for a transcript
//! and judging it (the grader's target module), the box's side of it all
//! (`sandbox::init`).
//!
//! # Layers, and what happens without each
//!
//! - **User namespace** (`CLONE_NEWUSER`, the caller's uid and gid mapped to
//!   themselves). It is what lets an unprivileged user create the others; the
//!   capabilities it gives stop at the box, and are dropped before the command runs.
//!   A grader run as root also maps nobody (65534) and the command runs as nobody
//!   in a copy chowned to it: root without capabilities would still own, and read,
//!   `/etc/shadow` under the readable `/etc` (without a user namespace a root
//!   grader's command becomes nobody directly). Without
//!   it (Ubuntu 24.04's AppArmor default, `user.max_user_namespaces=0`) there are
//!   no network, PID or mount namespaces either, unless the caller is root.
//! - **Network namespace** with only `lo`, brought up with `SIOCSIFFLAGS`. Every
//!   box can bind the same port; nothing outside is reachable (no route leaves it).
//!   Without it the command shares the host's network: the caller must hand out a
//!   port (`{port}`) as before, and Landlock denies every outgoing TCP connect.
//! - **UTS namespace**: the host name is `localhost`, so a server that binds
//!   `gethostname()` binds loopback (and the TA's host name is not shown).
//! - **PID namespace**: the box's init is PID 1; when it dies the kernel kills every
//!   process in the box, `setsid` and double forks included, and a process inside
//!   can signal nothing outside (`kill -KILL $PPID` and `kill -9 -1` reach only the
//!   box). Without it the init is a child subreaper (orphans stay in its tree) and
//!   `stop` kills the tree by ancestry, which a process that forks fast enough could
//!   race; Landlock's signal scope still keeps it from signalling the grader.
//! - **Mount namespace** (inside the box's init): a `/proc` of the box's own PID
//!   namespace (no other process is visible) and the box's `tmp` bind-mounted on
//!   `/tmp`. Without it `/proc` is the host's (Landlock's ptrace rule still hides
//!   other processes' memory and environment) and only `TMPDIR` points at `tmp`.
//! - **Landlock** (ABI 1 and up, best effort): read and execute under `/usr`, `/bin`,
//!   `/sbin`, `/lib*`, `/etc`, `/opt`, `/proc`, `/sys` and the caller's
//!   `read_only` paths; read and write on `/dev/null`, `/dev/zero`, `/dev/full`,
//!   `/dev/random`, `/dev/urandom`; everything on the box's `work` and `tmp`;
//!   nothing else (no home, no siblings, no suite, no `--out`). ABI 6 adds the
//!   signal and abstract-socket scopes; ABI 4 the TCP rule used without a network
//!   namespace. Without it the files are protected only by the private copy.
//! - **rlimits** (always): address space, CPU seconds, open files, core dumps off,
//!   and processes. `RLIMIT_NPROC` counts every process of a *user*; since Linux
//!   5.14 the count is kept per user namespace, so in a fresh one it counts only the
//!   box's processes (threads included) and is a per-box limit. Without a user
//!   namespace it would count the TA's own processes too, so it is left unset
//!   (`Protections::process_limit` says which).
//! - **Environment**: cleared; PATH, HOME (the copy), LANG, TMPDIR, plus the
//!   caller's list.
//!
//! # How the box is made
//!
//! The grader is multi-threaded, and after `fork` a multi-threaded program may only
//! make async-signal-safe calls until `exec`; `unshare(CLONE_NEWUSER)` even refuses
//! a multi-threaded caller. So the box is set up by a fresh process: the grader
//! runs its own executable as `wordwire __box-init` (`INIT_ARG`) with the control
//! socket on fd 3 (the only work before that `exec` is a `dup2` and `setsid`), and
//! sends it an `InitSpec`. That process, the *helper*, is single-threaded:
//!
//! 1. it unshares the user (writing its maps), network (lo up), UTS and PID
//!    namespaces, each separately, keeping what worked;
//! 2. it forks the box's *init*, PID 1 of the new PID namespace, which dies with the
//!    helper (`PR_SET_PDEATHSIG`), unshares a mount namespace for `/proc` and
//!    `/tmp`, and forks the *command*: setsid, rlimits, Landlock, no capabilities,
//!    the cleared environment, `exec sh -c COMMAND` in the copy; the init then reaps
//!    every orphan and reports the command's exit status;
//! 3. the helper stays in the box's network namespace, outside its PID namespace,
//!    and answers the grader: it connects to `127.0.0.1:PORT` inside the box and
//!    passes the connected socket back with `SCM_RIGHTS` (an unprivileged grader
//!    cannot `setns` into a namespace owned by a child user namespace), lists the
//!    box's listeners (`sockets`: a netlink dump of its network namespace's LISTEN
//!    sockets, its own `/proc/self/net/tcp{,6}` as the fallback), and kills the init
//!    on `Stop`.
//!
//! The helper is tied to the grader by the control socket, not by
//! `PR_SET_PDEATHSIG`: the death signal fires when the *thread* that forked the child
//! ends, which in a grader with worker threads is not the grader ending. When the
//! grader dies, however it dies, the kernel closes its end; the helper sees the end of
//! the stream, kills the init (so the whole box) and removes the box's directory.

pub mod capture;
pub mod copy;
pub mod init;
pub mod proc;
pub mod sockets;
mod wire;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketFlags, SocketType};
use serde::{Deserialize, Serialize};

pub use capture::Captured;
pub use copy::{CopyError, CopyLimits};
pub use proc::Listener;
use wire::{InitSpec, Reply, Request};

/// The uid and gid a box runs as when the grader is root.
pub const NOBODY: u32 = 65534;

/// The hidden first argument that makes the `wordwire` binary a box's helper.
pub const INIT_ARG: &str = "__box-init";

/// How long the helper has to set the box up and start the command.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any other request but `Connect` may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the output readers get to reach the end of the pipes once the box is dead.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// The limits set in every process of the box (each is per process, except
/// `processes`, which is per box: see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// RLIMIT_AS in bytes. A JVM sizes its default heap below it.
    pub memory: Option<u64>,
    /// RLIMIT_CPU in seconds: SIGXCPU at it, SIGKILL a second later.
    pub cpu_seconds: Option<u64>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
    /// RLIMIT_NPROC, set only in a user namespace of the box's own.
    pub processes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory: Some(4 << 30),
            cpu_seconds: Some(600),
            open_files: Some(1024),
            processes: Some(256),
        }
    }
}

/// A file written into the copy before the command starts: the data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// A plain relative path inside the copy (`words.txt`, `data/store.txt`).
    pub name: PathBuf,
    pub bytes: Vec<u8>,
}

/// What to run, on what, in a box.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The `wordwire` executable, run as the box's helper (`std::env::current_exe()`
    /// in the binary; `env!("CARGO_BIN_EXE_wordwire")` in integration tests).
    pub init: PathBuf,
    /// Run as `sh -c COMMAND` in the copy. `{store}` in it becomes the seeded data
    /// file's absolute path, shell-quoted (the path exists only once the box does).
    pub command: String,
    /// The submission directory to copy; `None`: an empty directory.
    pub source: Option<PathBuf>,
    pub copy_limits: CopyLimits,
    pub seed: Option<Seed>,
    /// Variables passed on purpose (the lab credentials), beyond PATH, HOME, LANG, TMPDIR.
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    /// Extra directories the box may read and execute.
    pub read_only: Vec<PathBuf>,
    /// Bytes kept from each end of stdout and of stderr.
    pub output_keep: usize,
    /// `false`: no namespaces even where the kernel has them (Landlock and rlimits
    /// still apply).
    pub namespaces: bool,
}

impl Spec {
    /// `sh -c COMMAND` in an empty box, with the default limits.
    pub fn new(init: impl Into<PathBuf>, command: impl Into<String>) -> Spec {
        Spec {
            init: init.into(),
            command: command.into(),
            source: None,
            copy_limits: CopyLimits::default(),
            seed: None,
            env: Vec::new(),
            limits: Limits::default(),
            read_only: Vec::new(),
            output_keep: 4096,
            namespaces: true,
        }
    }
}

/// Which layers a box got (or, from `Sandbox::probe`, which a box gets here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protections {
    pub user_ns: bool,
    pub net_ns: bool,
    pub uts_ns: bool,
    pub pid_ns: bool,
    /// A private `/proc` and `/tmp`.
    pub mount_ns: bool,
    /// The Landlock ABI the kernel enforced, and whether every rule requested was.
    pub landlock: Option<Landlock>,
    /// RLIMIT_NPROC applied (only with a user namespace).
    pub process_limit: bool,
    /// The uid the command runs as: the caller's, or nobody's for a caller that is root.
    pub uid: u32,
    /// Why a layer that was tried did not apply, one line each.
    pub notes: Vec<String>,
}

/// Landlock as enforced in a box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Landlock {
    pub abi: u8,
    /// Every requested access right was handled (else a kernel older than the rules).
    pub full: bool,
}

impl Protections {
    /// Network, PID namespaces and Landlock all applied: the box's full guarantee.
    pub fn complete(&self) -> bool {
        self.net_ns && self.pid_ns && self.landlock.is_some()
    }
}

impl std::fmt::Display for Protections {
    /// `namespaces user, net, uts, pid, mount; landlock ABI 7; rlimits (processes per box)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spaces: Vec<&str> = [
            (self.user_ns, "user"),
            (self.net_ns, "net"),
            (self.uts_ns, "uts"),
            (self.pid_ns, "pid"),
            (self.mount_ns, "mount"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
        if spaces.is_empty() {
            write!(f, "no namespaces")?;
        } else {
            write!(f, "namespaces {}", spaces.join(", "))?;
        }
        match self.landlock {
            Some(Landlock { abi, full: true }) => write!(f, "; landlock ABI {abi}")?,
            Some(Landlock { abi, full: false }) => write!(f, "; landlock ABI {abi} (partial)")?,
            None => write!(f, "; no landlock")?,
        }
        if self.process_limit {
            write!(f, "; rlimits (processes per box)")
        } else {
            write!(f, "; rlimits (no process limit)")
        }
    }
}

/// Why a box could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The submission could not be copied. Example: a 100 MiB file over the cap.
    #[error(transparent)]
    Copy(#[from] CopyError),
    /// The seed's name is not a plain relative path. Example: `../words.txt`.
    #[error("the data file name {0:?} is not a plain relative path")]
    SeedName(PathBuf),
    /// The box's helper could not be started or did not answer. Example: `init` is
    /// not the `wordwire` binary.
    #[error("the box's helper: {0}")]
    Helper(String),
    /// The helper could not set the box up or start the command. Example: the
    /// box's directory is not under a path Landlock can open.
    #[error("{0}")]
    Setup(String),
    /// The command exited before anything in the box listened.
    #[error("the command exited before listening ({})", describe_status(*.0))]
    ExitedBeforeListening(ExitStatus),
    /// Nothing in the box listened within the time given.
    #[error("nothing in the box listened within {} ms", .0.as_millis())]
    NotListening(Duration),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// `exit status 3` or `killed by signal 9 (SIGKILL)`: how a process ended, for
/// messages (the box's command, a target without a box, a client under test).
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}{}", signal_name(signal)),
        _ => status.to_string(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGXCPU => " (SIGXCPU: over the CPU time limit)",
        libc::SIGXFSZ => " (SIGXFSZ: a write past the file size limit)",
        libc::SIGPIPE => " (SIGPIPE)",
        _ => "",
    }
}

/// `word` as one `sh` word: as it is if it is plain, else in single quotes. The one
/// quoting of the crate: `{store}` here, placeholders and appended flags in the
/// grader's targets, the client under test's words.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Stdout and stderr of a box, as captured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: Captured,
    pub stderr: Captured,
}

/// A handle another thread holds to end a box at once (a time limit): SIGKILL to
/// the box's init, which ends every process of a box with a PID namespace. Without
/// one, the command's session is killed too; `stop` finds the rest by ancestry.
#[derive(Debug, Clone)]
pub struct Killer {
    inner: Arc<KillerInner>,
}

#[derive(Debug)]
struct KillerInner {
    /// A pidfd of the box's init (never a reused pid), dropped when the box stops.
    pidfd: Mutex<Option<OwnedFd>>,
    /// The command's session, without a PID namespace (its leader's pid).
    session: Option<u32>,
}

impl Killer {
    /// Kills the box's processes now; nothing once the box has stopped.
    pub fn kill(&self) {
        let pidfd = self.inner.pidfd.lock().unwrap_or_else(|e| e.into_inner());
        let Some(pidfd) = pidfd.as_ref() else {
            return;
        };
        let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
        if let Some(session) = self.inner.session.and_then(|s| i32::try_from(s).ok())
            && let Some(group) = rustix::process::Pid::from_raw(session)
        {
            // Still held: the pidfd's process (the init) is not reaped, so neither is
            // its child the session leader, and its id names no other group.
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }

    fn disarm(&self) {
        *self.inner.pidfd.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// One box, running its command, until `stop` or drop.
pub struct Sandbox {
    ctl: Mutex<OwnedFd>,
    helper: Child,
    killer: Killer,
    protections: Protections,
    work: PathBuf,
    store: Option<PathBuf>,
    stdout: capture::Capture,
    stderr: capture::Capture,
    /// The command's status once seen (it is reported once).
    status: Mutex<Option<ExitStatus>>,
    stopped: bool,
    root: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("work", &self.work)
            .field("protections", &self.protections)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Which layers a box gets on this machine, as this user: found once per process by
    /// starting a box that runs `true`, and the same every call after.
    pub fn probe(init: &Path) -> &'static Result<Protections, String> {
        Sandbox::probe_with(init, true)
    }

    /// `probe` for boxes made with `Spec::namespaces` as given (`false`: what a
    /// machine without user namespaces gives), once per process for each.
    pub fn probe_with(init: &Path, namespaces: bool) -> &'static Result<Protections, String> {
        static PROBE: [OnceLock<Result<Protections, String>>; 2] =
            [OnceLock::new(), OnceLock::new()];
        PROBE[usize::from(namespaces)].get_or_init(|| {
            let mut spec = Spec::new(init, "true");
            spec.namespaces = namespaces;
            let sandbox = Sandbox::spawn(&spec).map_err(|e| e.to_string())?;
            let protections = sandbox.protections().clone();
            sandbox.stop();
            Ok(protections)
        })
    }

    /// Copies the submission, seeds the data file, and starts `sh -c COMMAND` in a
    /// box. Returns once the command has been `exec`ed (not once it listens:
    /// `wait_listener`).
    pub fn spawn(spec: &Spec) -> Result<Sandbox, SandboxError> {
        let root = tempfile::Builder::new().prefix("wordwire-box-").tempdir()?;
        let work = root.path().join("work");
        let tmp = root.path().join("tmp");
        std::fs::create_dir(&work)?;
        std::fs::create_dir(&tmp)?;
        if let Some(source) = &spec.source {
            copy::copy_tree(source, &work, spec.copy_limits)?;
        }
        let store = match &spec.seed {
            Some(seed) => Some(write_seed(&work, seed)?),
            None => None,
        };
        if rustix::process::geteuid().is_root() {
            // The box runs as nobody (in a user namespace or not: `init`): the copy
            // is nobody's, and the box's root only traversable.
            give_to_nobody(&work)?;
            give_to_nobody(&tmp)?;
            std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o711))?;
        }

        let (ours, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(io::Error::from)?;
        let pipe =
            || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(io::Error::from);
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let mut command = Command::new(&spec.init);
        command
            .arg(INIT_ARG)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::from(out_w))
            .stderr(Stdio::from(err_w));
        let theirs_raw = theirs.as_raw_fd();
        // SAFETY: runs in the forked child before exec and makes only async-signal-safe
        // calls (dup2, fcntl, setsid) on a descriptor number copied in.
        unsafe {
            command.pre_exec(move || {
                // The control socket on fd 3, without close-on-exec (dup2 clears it,
                // except when the numbers are equal).
                if theirs_raw == wire_fd() {
                    let flags = libc::fcntl(theirs_raw, libc::F_GETFD);
                    if flags < 0
                        || libc::fcntl(theirs_raw, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                } else if libc::dup2(theirs_raw, wire_fd()) < 0 {
                    return Err(io::Error::last_os_error());
                }
                // Out of the grader's session: no controlling terminal to write to, and
                // the terminal's Ctrl-C goes to the grader, which stops the box.
                libc::setsid();
                Ok(())
            });
        }
        let mut helper = command.spawn().map_err(|e| {
            SandboxError::Helper(format!("cannot run {}: {e}", spec.init.display()))
        })?;
        drop(theirs);
        drop(command);
        let stdout = capture::Capture::start(std::fs::File::from(out_r), spec.output_keep);
        let stderr = capture::Capture::start(std::fs::File::from(err_r), spec.output_keep);

        let command = match &store {
            Some(path) => spec
                .command
                .replace("{store}", &shell_quote(&path.to_string_lossy())),
            None => spec.command.clone(),
        };
        let init_spec = InitSpec {
            command,
            root: root.path().to_path_buf(),
            work: work.clone(),
            tmp,
            env: spec.env.clone(),
            limits: spec.limits,
            read_only: spec.read_only.clone(),
            namespaces: spec.namespaces,
        };
        let started = wire::send(ours.as_fd(), &Request::Start(Box::new(init_spec)), None)
            .and_then(|()| wire::recv::<Reply>(ours.as_fd(), Some(Instant::now() + START_TIMEOUT)));
        let fail = |helper: &mut Child, message: String| {
            let _ = helper.kill();
            let _ = helper.wait();
            message
        };
        let (reply, pidfd) = match started {
            Ok(answer) => answer,
            Err(e) => {
                let status = helper.try_wait().ok().flatten();
                let mut stderr = stderr;
                let said = stderr.finish(DRAIN_GRACE).text();
                let message = match status {
                    Some(status) => format!(
                        "{} exited ({}): {}",
                        spec.init.display(),
                        describe_status(status),
                        said.trim()
                    ),
                    None => format!("no answer from {}: {e}", spec.init.display()),
                };
                return Err(SandboxError::Helper(fail(&mut helper, message)));
            }
        };
        let (protections, session) = match reply {
            Reply::Started {
                protections,
                command_pid,
                ..
            } => (
                protections.clone(),
                (!protections.pid_ns).then_some(command_pid),
            ),
            Reply::Failed { message, .. } => {
                return Err(SandboxError::Setup(fail(&mut helper, message)));
            }
            other => {
                let message = format!("unexpected answer {other:?}");
                return Err(SandboxError::Helper(fail(&mut helper, message)));
            }
        };
        Ok(Sandbox {
            ctl: Mutex::new(ours),
            helper,
            killer: Killer {
                inner: Arc::new(KillerInner {
                    pidfd: Mutex::new(pidfd),
                    session,
                }),
            },
            protections,
            work,
            store,
            stdout,
            stderr,
            status: Mutex::new(None),
            stopped: false,
            root: Some(root),
        })
    }

    /// The layers this box got.
    pub fn protections(&self) -> &Protections {
        &self.protections
    }

    /// The private copy: the command's working directory (the same path inside the box).
    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// The seeded data file, for `{store}` (the same path inside the box).
    pub fn store(&self) -> Option<&Path> {
        self.store.as_deref()
    }

    /// A handle to kill the box from another thread.
    pub fn killer(&self) -> Killer {
        self.killer.clone()
    }

    fn request(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> io::Result<(Reply, Option<OwnedFd>)> {
        let ctl = self.ctl.lock().unwrap_or_else(|e| e.into_inner());
        wire::send(ctl.as_fd(), request, None)?;
        let (reply, fd) = wire::recv::<Reply>(ctl.as_fd(), Some(Instant::now() + timeout))?;
        if let Reply::Failed { errno, message } = reply {
            return Err(match errno {
                Some(errno) => {
                    let os = io::Error::from_raw_os_error(errno);
                    io::Error::new(os.kind(), message)
                }
                None => io::Error::other(message),
            });
        }
        Ok((reply, fd))
    }

    /// A TCP connection to `addr` as seen from inside the box (`127.0.0.1:12345`),
    /// opened by the helper there and handed over: an ordinary blocking `TcpStream`.
    pub fn connect(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let timeout_ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let (reply, fd) = self.request(
            &Request::Connect { addr, timeout_ms },
            timeout + REQUEST_TIMEOUT,
        )?;
        match (reply, fd) {
            (Reply::Connected, Some(fd)) => Ok(TcpStream::from(fd)),
            (reply, _) => Err(io::Error::other(format!("unexpected answer {reply:?}"))),
        }
    }

    /// The LISTEN sockets that processes of the box hold, in the order of the
    /// kernel's tables (IPv4 first).
    pub fn listeners(&self) -> io::Result<Vec<Listener>> {
        match self.request(&Request::Listeners, REQUEST_TIMEOUT)? {
            (Reply::Listeners(found), _) => Ok(found),
            (reply, _) => Err(io::Error::other(format!("unexpected answer {reply:?}"))),
        }
    }

    /// The command's exit status, once it has exited. (Processes it left behind may
    /// still run: the box ends at `stop`.)
    pub fn status(&self) -> io::Result<Option<ExitStatus>> {
        let mut seen = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if seen.is_none()
            && let (Reply::Status { command: Some(raw) }, _) =
                self.request(&Request::Status, REQUEST_TIMEOUT)?
        {
            *seen = Some(ExitStatus::from_raw(raw));
        }
        Ok(*seen)
    }

    /// Waits until a process of the box listens (on `port` if given), polling often
    /// at first and then every `sockets::LISTEN_POLL`; fails at once if the command
    /// exits first.
    pub fn wait_listener(
        &self,
        port: Option<u16>,
        timeout: Duration,
    ) -> Result<Listener, SandboxError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            let found = self.listeners()?;
            if let Some(listener) = found
                .iter()
                .find(|l| port.is_none_or(|p| l.addr.port() == p))
            {
                return Ok(*listener);
            }
            if let Some(status) = self.status()? {
                // It may have left a listener behind as it exited (`server &`).
                if let Some(listener) = self
                    .listeners()?
                    .into_iter()
                    .find(|l| port.is_none_or(|p| l.addr.port() == p))
                {
                    return Ok(listener);
                }
                if !status.success() {
                    return Err(SandboxError::ExitedBeforeListening(status));
                }
            }
            if Instant::now() >= deadline {
                return Err(SandboxError::NotListening(timeout));
            }
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(sockets::LISTEN_POLL);
        }
    }

    /// Sets RLIMIT_FSIZE to `bytes` on one process of the box (a listener's `pid`),
    /// so that *its* writes past `bytes` fail with EFBIG, and not those of a compile
    /// step that ran before it. SIGXFSZ is ignored in the whole box, so the write
    /// fails rather than killing the server, in every language.
    pub fn limit_file_size(&self, pid: u32, bytes: u64) -> io::Result<()> {
        self.request(&Request::LimitFileSize { pid, bytes }, REQUEST_TIMEOUT)
            .map(|_| ())
    }

    /// What the box wrote to stdout and stderr so far.
    pub fn output(&self) -> Output {
        Output {
            stdout: self.stdout.snapshot(),
            stderr: self.stderr.snapshot(),
        }
    }

    /// Kills every process of the box, waits for them, removes the copy, and returns
    /// the output.
    pub fn stop(mut self) -> Output {
        self.shut();
        Output {
            stdout: self.stdout.finish(DRAIN_GRACE),
            stderr: self.stderr.finish(DRAIN_GRACE),
        }
    }

    /// Stops the box as `stop` does, on a thread of its own, its output unread: a
    /// caller whose server is healthy need not wait for the kill, the reaping and the
    /// removal of the copy. `wait_for_stops` waits for every such stop.
    /// At most `MAX_STOPPING` run at once: past that (a server that fills its copy
    /// with files slows each removal) the caller stops the box itself, as it does
    /// when no thread can be made.
    pub fn stop_later(self) {
        let mut stopping = STOPPING.lock().unwrap_or_else(|e| e.into_inner());
        // A stop that has ended needs no join: its handle is let go.
        stopping.retain(|t| !t.is_finished());
        if stopping.len() >= MAX_STOPPING {
            drop(stopping);
            drop(self);
            return;
        }
        let sandbox = self;
        let thread = std::thread::Builder::new()
            .name("box-stop".into())
            .spawn(move || drop(sandbox));
        // On an error the closure, and the box in it, were dropped: stopped here.
        if let Ok(thread) = thread {
            stopping.push(thread);
        }
    }

    fn shut(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let stopped = self.request(&Request::Stop, REQUEST_TIMEOUT);
        if stopped.is_err() {
            // The helper does not answer: kill the init directly (the box with it),
            // then the helper.
            self.killer.kill();
            let _ = self.helper.kill();
        }
        self.killer.disarm();
        let _ = self.helper.wait();
        if let Some(root) = self.root.take() {
            let _ = root.close();
        }
    }
}

/// How many boxes may be stopping on threads of their own at once.
const MAX_STOPPING: usize = 8;

/// The boxes being stopped on threads of their own (`Sandbox::stop_later`).
static STOPPING: Mutex<Vec<std::thread::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Waits until every box given to `Sandbox::stop_later` is stopped, its processes
/// reaped and its copy removed: a run calls it before it returns.
pub fn wait_for_stops() {
    let threads = std::mem::take(&mut *STOPPING.lock().unwrap_or_else(|e| e.into_inner()));
    for thread in threads {
        let _ = thread.join();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shut();
    }
}

/// The control socket's number in the helper.
const fn wire_fd() -> i32 {
    3
}

/// `chown -R nobody:nobody`, symlinks not followed (the copy has none).
fn give_to_nobody(path: &Path) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            give_to_nobody(&entry?.path())?;
        }
    }
    Ok(())
}

/// Writes the seed into the copy; its name must be plain (no `..`, not absolute).
fn write_seed(work: &Path, seed: &Seed) -> Result<PathBuf, SandboxError> {
    use std::path::Component;
    let plain = !seed.name.as_os_str().is_empty()
        && seed
            .name
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(SandboxError::SeedName(seed.name.clone()));
    }
    let path = work.join(&seed.name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // The copy may hold a file (or a symlink: it was skipped) of that name: replace it.
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, &seed.bytes)?;
    Ok(path)
}
