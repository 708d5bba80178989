//! `--target-cmd`: starts the implementation under test for one transcript and stops it.
//!
//! Here: the placeholders (`{port}`, `{host}`, `{addr}`, `{store}`), the fresh store
//! directory, the environment (the lab pair), the child's limits (RLIMIT_FSIZE for
//! `fault writes`), waiting until the port listens, noticing a target that died,
//! and stopping the whole process group (TERM, then KILL), also from another
//! thread when a transcript is over its time limit (`Watch`).
//! The command runs in the caller's current directory (or the one given), so a
//! relative path in it (`python3 server.py`) is found; the store is only `{store}`.
//! Elsewhere: mapping our serve flags to the target's (`grading::target::flags`), playing
//! the steps (`grading::play`).
//!
//! Readiness is a LISTEN socket on the port in `/proc/net/tcp{,6}`, not a probe
//! connection: a probe would count against `--max-connections 1` until the target
//! noticed its close. Where `/proc` is not readable a connect probe is used.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::process::{self, Limits, describe_status, drain, shell_quote};

/// How long the target has to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the target has to exit after SIGTERM before it gets SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// How much of the target's output is kept for messages.
const TAIL_BYTES: usize = 2048;

/// The last bytes the target wrote to stdout and stderr, interleaved as they came.
#[derive(Debug, Default)]
struct Tail(VecDeque<u8>);

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend(bytes);
        let excess = self.0.len().saturating_sub(TAIL_BYTES);
        self.0.drain(..excess);
    }
}

/// A handle another thread holds on the target of one transcript: `kill` ends its
/// process group (now, or as soon as it is started), for a per-transcript time limit.
#[derive(Debug, Default)]
pub struct Watch {
    /// The process group of the running target, while it runs.
    pgid: Mutex<Option<libc::pid_t>>,
    killed: AtomicBool,
}

impl Watch {
    /// SIGKILLs the target's process group, and any target started later under this watch.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        let pgid = self.pgid.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pgid) = *pgid {
            // The slot is cleared when the target stops, before its id could name
            // an unrelated group.
            process::signal_group(pgid, libc::SIGKILL);
        }
    }

    /// True once `kill` was called.
    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    fn set(&self, pgid: Option<libc::pid_t>) {
        *self.pgid.lock().unwrap_or_else(|e| e.into_inner()) = pgid;
    }
}

/// Where and under what watch a target starts.
#[derive(Debug, Clone, Default)]
pub struct Place {
    /// The command's current directory; `None`: the caller's.
    pub dir: Option<PathBuf>,
    /// Lets another thread kill the target (a transcript time limit).
    pub watch: Option<Arc<Watch>>,
    /// A course's `[server] port`: where a command without `{port}` or `{addr}` listens.
    pub port: Option<u16>,
    /// A course's `[store] file`, relative to `dir`: the data file a command without
    /// `{store}` uses itself, seeded before the start and given its old bytes back after
    /// the stop.
    pub data_file: Option<PathBuf>,
    /// A course's `[server] start-timeout`; `None`: `START_TIMEOUT`.
    pub start_timeout: Option<Duration>,
}

/// One started target: its process group, address and store file.
pub struct Started {
    child: Child,
    addr: SocketAddr,
    store: PathBuf,
    /// The command line as run, for messages.
    command: String,
    /// The ends of its stdout and its stderr, kept apart.
    tail: Arc<Mutex<Tail>>,
    tail_err: Arc<Mutex<Tail>>,
    drains: Vec<JoinHandle<()>>,
    watch: Option<Arc<Watch>>,
    /// A course's data file and what it held before the start (`None`: it did not exist).
    restore: Option<(PathBuf, Option<Vec<u8>>)>,
    /// Holds the store directory until the target has stopped.
    _dir: tempfile::TempDir,
}

/// `template` with `{port}`, `{host}`, `{addr}` and `{store}` replaced; values are
/// shell-quoted when they need it.
pub fn expand(template: &str, addr: SocketAddr, store: &Path) -> String {
    template
        .replace("{port}", &addr.port().to_string())
        .replace("{host}", &addr.ip().to_string())
        .replace("{addr}", &addr.to_string())
        .replace("{store}", &shell_quote(&store.display().to_string()))
}

/// Ports this process handed out: the kernel may give a just-released port to the
/// next `bind(0)`, and two parallel transcripts must never share one.
static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A port on 127.0.0.1 that was free a moment ago (bound, then released) and that
/// no other transcript of this run was given.
fn free_port() -> Result<SocketAddr, String> {
    for _ in 0..100 {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot find a free port: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot find a free port: {e}"))?;
        let mut taken = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if !taken.contains(&addr.port()) {
            if taken.len() >= 4096 {
                // Long ago enough: that transcript has finished.
                taken.remove(0);
            }
            taken.push(addr.port());
            return Ok(addr);
        }
    }
    Err("cannot find a free port: every one offered was already handed out".into())
}

impl Started {
    /// Starts `sh -c TEMPLATE` (placeholders expanded, `extra_args` appended, each
    /// shell-quoted) on a fresh port with a fresh store holding `store`, and waits
    /// until it listens. On failure the message names the command and ends with
    /// the tail of its output.
    pub fn start(
        template: &str,
        extra_args: &[String],
        store: Option<&[u8]>,
        limits: Limits,
        place: &Place,
    ) -> Result<Started, String> {
        // A port is free when handed out, but another program (another replay, a
        // test's server) may bind it before the target does: then the target fails
        // to bind while that program's LISTEN socket is on the port. Start again on
        // a fresh port rather than judging the wrong program.
        let mut attempt = 1;
        loop {
            match Started::start_once(template, extra_args, store, limits, place) {
                Err(Failure::PortTaken(_)) if attempt < PORT_ATTEMPTS => attempt += 1,
                Err(Failure::PortTaken(message) | Failure::Other(message)) => {
                    return Err(message);
                }
                Ok(started) => return Ok(started),
            }
        }
    }

    fn start_once(
        template: &str,
        extra_args: &[String],
        store: Option<&[u8]>,
        limits: Limits,
        place: &Place,
    ) -> Result<Started, Failure> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        // `{store}` in the command: the grader's fresh store; else the course's data file.
        let data_file = place
            .data_file
            .as_ref()
            .filter(|_| !template.contains("{store}"));
        let (store_path, restore) = match data_file {
            Some(rel) => {
                let base = match &place.dir {
                    Some(d) => d.clone(),
                    None => std::env::current_dir()
                        .map_err(|e| format!("the current directory: {e}"))?,
                };
                let path = base.join(rel);
                let before = std::fs::read(&path).ok();
                (path.clone(), Some((path, before)))
            }
            None => (dir.path().join("words.txt"), None),
        };
        std::fs::write(&store_path, store.unwrap_or_default())
            .map_err(|e| format!("writing the starting store {}: {e}", store_path.display()))?;
        let fixed = place
            .port
            .filter(|_| !template.contains("{port}") && !template.contains("{addr}"));
        let addr = match fixed {
            Some(port) => {
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                // The last transcript's server may still be dying with the port.
                let deadline = Instant::now() + STOP_GRACE;
                while listening_sockets().is_some_and(|s| s.iter().any(|l| l.port == port))
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                addr
            }
            None => free_port()?,
        };
        let mut command = expand(template, addr, &store_path);
        for arg in extra_args {
            command.push(' ');
            command.push_str(&shell_quote(arg));
        }
        let mut child = process::spawn(&command, place.dir.as_deref(), Some(limits))
            .map_err(|e| format!("cannot run `{command}`: {e}"))?;
        if let Some(watch) = &place.watch {
            watch.set(Some(child.id() as libc::pid_t));
            if watch.killed() {
                watch.kill();
            }
        }
        let tail = Arc::new(Mutex::new(Tail::default()));
        let tail_err = Arc::new(Mutex::new(Tail::default()));
        let mut drains = Vec::new();
        if let Some(out) = child.stdout.take() {
            drains.push(drain(out, push_to(&tail)));
        }
        if let Some(err) = child.stderr.take() {
            drains.push(drain(err, push_to(&tail_err)));
        }
        let mut started = Started {
            child,
            addr,
            store: store_path,
            command,
            tail,
            tail_err,
            drains,
            watch: place.watch.clone(),
            restore,
            _dir: dir,
        };
        started.wait_listening(place.start_timeout.unwrap_or(START_TIMEOUT))?;
        Ok(started)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store file the target was given as `{store}`.
    pub fn store(&self) -> &Path {
        &self.store
    }

    fn wait_listening(&mut self, timeout: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + timeout;
        let group = self.child.id() as libc::pid_t;
        let mut someone_else = false;
        // Reading /proc/net/tcp costs the kernel time per socket (tens of ms with
        // tens of thousands in TIME_WAIT): poll often at first, then back off.
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(status) = self.exited() {
                self.stop_group();
                let message = format!(
                    "`{}` exited before listening on {} ({}){}",
                    self.command,
                    self.addr,
                    describe_status(status),
                    self.tail_note()
                );
                return Err(if someone_else {
                    Failure::PortTaken(message)
                } else {
                    Failure::Other(message)
                });
            }
            match listener_on(self.addr, group) {
                Listener::Target => return Ok(()),
                Listener::SomeoneElse => someone_else = true,
                Listener::None => {}
            }
            if Instant::now() >= deadline {
                self.stop_group();
                return Err(Failure::Other(format!(
                    "`{}` did not listen on {} within {} s (did it use {{port}} or {{addr}}?){}",
                    self.command,
                    self.addr,
                    timeout.as_secs(),
                    self.tail_note()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(80));
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `Some(message)` if the target has exited, or exits within `grace` (a failed
    /// play may have seen it dying): its status or signal and output tail.
    pub fn death(&mut self, grace: Duration) -> Option<String> {
        let deadline = Instant::now() + grace;
        while self.exited().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = self.exited()?;
        // `tail_note` waits for the drains to reach the end of the pipes.
        Some(format!(
            "the target died during the transcript ({}){}",
            describe_status(status),
            self.tail_note()
        ))
    }

    /// `; its stderr ends: ...` and `; its stdout ends: ...`, each with the last lines
    /// the target wrote there (a traceback is on stderr: up to 20 of its lines are kept),
    /// or nothing. Once the target is gone, waits (up to 500 ms) for the drains to reach
    /// the end of the pipes, so that its last words are in.
    fn tail_note(&self) -> String {
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.drains.iter().any(|d| !d.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let last = |tail: &Arc<Mutex<Tail>>, keep: usize| {
            let bytes: Vec<u8> = tail
                .lock()
                .map(|t| t.0.iter().copied().collect())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            lines[lines.len().saturating_sub(keep)..].join("\n      ")
        };
        let mut note = String::new();
        for (name, text) in [
            ("stderr", last(&self.tail_err, 20)),
            ("stdout", last(&self.tail, 5)),
        ] {
            if !text.is_empty() {
                note.push_str(&format!("; its {name} ends:\n      {text}"));
            }
        }
        note
    }

    fn stop_group(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        process::signal_group(pgid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while self.exited().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // The shell may have exited and left its children: KILL whatever is left.
        process::signal_group(pgid, libc::SIGKILL);
        if let Some(watch) = &self.watch {
            // Before `wait`: once reaped, the id may name another process.
            watch.set(None);
        }
        let _ = self.child.wait();
    }

    /// Stops the process group (TERM, KILL after `STOP_GRACE`) and removes the store.
    pub fn stop(mut self) {
        self.stop_group();
        for drain in self.drains.drain(..) {
            let _ = drain.join();
        }
        self.restore_data_file();
    }

    /// Gives a course's data file the bytes it had before the start (removes it if
    /// there was none), so grading leaves a submission's directory as it found it.
    fn restore_data_file(&mut self) {
        if let Some((path, before)) = self.restore.take() {
            let _ = match before {
                Some(bytes) => std::fs::write(&path, bytes),
                None => std::fs::remove_file(&path),
            };
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.stop_group();
        }
        self.restore_data_file();
    }
}

/// A `drain` sink that keeps the last lines in `tail`.
fn push_to(tail: &Arc<Mutex<Tail>>) -> impl FnMut(&[u8]) + Send + 'static {
    let tail = tail.clone();
    move |bytes| {
        if let Ok(mut tail) = tail.lock() {
            tail.push(bytes);
        }
    }
}

/// Who listens on 127.0.0.1 (or every address) at a port.
#[derive(Debug, PartialEq)]
enum Listener {
    /// A process of the target's group.
    Target,
    /// Only sockets of other programs.
    SomeoneElse,
    None,
}

/// Why a start failed: `PortTaken` when the target died while another program
/// listened on its port (worth another port), else anything else.
enum Failure {
    PortTaken(String),
    Other(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Other(message)
    }
}

/// Starts on a port another program took first before giving up.
const PORT_ATTEMPTS: usize = 3;

/// Who listens at `addr`'s port: a LISTEN socket in `/proc/net/tcp{,6}` held open by
/// a process of `group` is the target's. Without `/proc`, a connection probe.
fn listener_on(addr: SocketAddr, group: libc::pid_t) -> Listener {
    let probe = || {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_ok() {
            Listener::Target
        } else {
            Listener::None
        }
    };
    let Some(sockets) = listening_sockets() else {
        return probe();
    };
    let here: Vec<&ListenSocket> = sockets.iter().filter(|s| s.port == addr.port()).collect();
    if here.is_empty() {
        return Listener::None;
    }
    let inodes: Vec<u64> = here.iter().map(|s| s.inode).collect();
    match held_by_group(&inodes, group) {
        Some(inode) => {
            let sure = here.iter().any(|s| s.inode == inode && s.sure);
            // `[::]:PORT` takes 127.0.0.1 only if it is dual-stack, which /proc does not say.
            if sure { Listener::Target } else { probe() }
        }
        None => Listener::SomeoneElse,
    }
}

/// The first of `inodes` that a process of `group` holds as a socket descriptor.
fn held_by_group(inodes: &[u64], group: libc::pid_t) -> Option<u64> {
    let procs = std::fs::read_dir("/proc").ok()?;
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|p| p.parse::<libc::pid_t>().ok());
        if pgrp != Some(group) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path())
                && let Some(inode) = link
                    .to_str()
                    .and_then(|l| l.strip_prefix("socket:["))
                    .and_then(|l| l.strip_suffix(']'))
                    .and_then(|l| l.parse::<u64>().ok())
                && inodes.contains(&inode)
            {
                return Some(inode);
            }
        }
    }
    None
}

/// `/proc/net/tcp{,6}` addresses (hex, as the kernel writes them) that surely take a
/// connection to 127.0.0.1: itself, 0.0.0.0 and `::ffff:127.0.0.1`. Another
/// program's `[::1]:PORT` must not pass for the target.
const LOOPBACK_V4: [&str; 3] = ["0100007F", "00000000", "0000000000000000FFFF00000100007F"];
/// `::`, which takes 127.0.0.1 unless the socket is IPV6_V6ONLY.
const ANY_V6: &str = "00000000000000000000000000000000";

/// A LISTEN socket that 127.0.0.1 may reach.
struct ListenSocket {
    port: u16,
    inode: u64,
    /// 127.0.0.1 surely reaches it (not only maybe, as `::` does).
    sure: bool,
}

/// The LISTEN sockets that 127.0.0.1 may reach, or `None` without `/proc`.
fn listening_sockets() -> Option<Vec<ListenSocket>> {
    let mut sockets = Vec::new();
    let mut any = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        any = true;
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; st 0A is LISTEN; column 9 is the inode.
            if let (Some(local), Some(&"0A"), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
                && let Some((ip, port)) = local.rsplit_once(':')
                && let Ok(port) = u16::from_str_radix(port, 16)
                && let Ok(inode) = inode.parse::<u64>()
            {
                let sure = LOOPBACK_V4.contains(&ip);
                if sure || ip == ANY_V6 {
                    sockets.push(ListenSocket { port, inode, sure });
                }
            }
        }
    }
    any.then_some(sockets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn a_listener_counts_as_the_targets_only_when_its_group_holds_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // SAFETY: getpgrp has no preconditions.
        let ours = unsafe { libc::getpgrp() };
        assert_eq!(listener_on(addr, ours), Listener::Target);
        let mut other = Command::new("sleep")
            .arg("5")
            .process_group(0)
            .spawn()
            .unwrap();
        let theirs = other.id() as libc::pid_t;
        assert_eq!(listener_on(addr, theirs), Listener::SomeoneElse);
        other.kill().unwrap();
        other.wait().unwrap();
        drop(listener);
        assert_eq!(listener_on(addr, ours), Listener::None);
    }

    #[test]
    fn placeholders_are_expanded_and_quoted() {
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        assert_eq!(
            expand(
                "srv --port {port} --host {host} -a {addr} -s {store}",
                addr,
                Path::new("/tmp/a b/w.txt")
            ),
            "srv --port 4321 --host 127.0.0.1 -a 127.0.0.1:4321 -s '/tmp/a b/w.txt'"
        );
        assert_eq!(shell_quote("--max-body"), "--max-body");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn a_target_that_never_listens_fails_with_its_output() {
        let err = Started::start(
            "echo booting; echo oops >&2; exit 3",
            &[],
            None,
            Limits::default(),
            &Place::default(),
        )
        .err()
        .expect("a target that exits cannot start");
        assert!(err.contains("exited before listening"), "{err}");
        assert!(err.contains("exit status 3"), "{err}");
        assert!(err.contains("oops"), "{err}");
    }

    #[test]
    fn stdout_and_stderr_are_shown_apart_and_a_traceback_is_kept_whole() {
        // Twelve lines of traceback after eight lines of stdout, interleaved in time.
        let cmd = "for i in 1 2 3 4 5 6 7 8; do echo out$i; done; echo Traceback >&2; for i in 1 2 3 4 5 6 7 8 9 10; do echo \"  frame $i\" >&2; echo more$i; done; echo 'OSError: port in use' >&2; exit 1";
        let err = Started::start(cmd, &[], None, Limits::default(), &Place::default())
            .err()
            .expect("a target that exits cannot start");
        let (_, after) = err.split_once("; its stderr ends:").expect(&err);
        let (stderr, stdout) = after.split_once("; its stdout ends:").expect(&err);
        assert!(stderr.contains("Traceback"), "{err}");
        assert!(stderr.trim_end().ends_with("OSError: port in use"), "{err}");
        assert!(!stderr.contains("more"), "{err}");
        assert!(stdout.trim_end().ends_with("more10"), "{err}");
        assert!(!stdout.contains("frame"), "{err}");
    }

    #[test]
    fn a_watch_kills_the_group_from_another_thread_and_the_start_fails() {
        let watch = Arc::new(Watch::default());
        let place = Place {
            dir: None,
            watch: Some(watch.clone()),
            ..Place::default()
        };
        let killer = {
            let watch = watch.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                watch.kill();
            })
        };
        // Never listens: without the watch it would wait START_TIMEOUT.
        let err = Started::start("sleep 1000", &[], None, Limits::default(), &place)
            .err()
            .expect("a killed target cannot start");
        killer.join().unwrap();
        assert!(err.contains("exited before listening"), "{err}");
        assert!(err.contains("signal 9"), "{err}");
    }

    #[test]
    fn the_command_runs_in_the_given_directory_not_the_store_s() {
        let dir = tempfile::tempdir().unwrap();
        let place = Place {
            dir: Some(dir.path().to_path_buf()),
            ..Place::default()
        };
        let err = Started::start("pwd; exit 1", &[], None, Limits::default(), &place)
            .err()
            .unwrap();
        let real = dir.path().canonicalize().unwrap();
        assert!(err.contains(&real.display().to_string()), "{err}");
    }

    #[test]
    fn a_listening_target_is_found_and_its_group_stopped() {
        // A python one-liner that listens on {port}; sh stays as its parent.
        let cmd = "python3 -c 'import socket,sys,time; s=socket.socket(); s.bind((\"127.0.0.1\", int(sys.argv[1]))); s.listen(); time.sleep(60)' {port}; echo never";
        let started = Started::start(
            cmd,
            &[],
            Some(b"alpha\n"),
            Limits::default(),
            &Place::default(),
        )
        .expect("the target starts");
        assert_eq!(std::fs::read(started.store()).unwrap(), b"alpha\n");
        let addr = started.addr();
        assert!(TcpStream::connect(addr).is_ok());
        let began = Instant::now();
        started.stop();
        assert!(began.elapsed() < STOP_GRACE, "TERM stops a plain process");
        assert!(TcpStream::connect(addr).is_err(), "the group is gone");
    }
}
