//! A target without a box (`--no-box`): the command as the grader's own child.
//!
//! Here: a fresh port (`{port}`) and store file (`{store}`) per start, the command in
//! the submission's directory (or ours) leading a process group of its own with the
//! lab pair in its environment, waiting until the port listens, the write fault on
//! the listening process only, noticing a target that died, and stopping the whole
//! process group (TERM, then KILL). It gives up what the box gives: the command runs
//! as the grader's user, with its files, environment and network, and a process that
//! leaves the group (`setsid`) outlives the transcript.
//! Elsewhere: the start in a box (`grading::target::boxed`), what both share
//! (`grading::target::foreign`).
//!
//! Readiness is a LISTEN socket on the port (`sandbox::sockets`: netlink, or
//! `/proc/net/tcp{,6}`), held by a process of the target's group, not a probe
//! connection: a probe would count against `--max-connections 1` until the target
//! noticed its close. Where neither answers a connect probe is used.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::CommandTarget;
use super::foreign::{self, Kill, Launch, STOP_GRACE, StartError, Watch};
use super::gate::Signature;
use super::process::{self, Limits, describe_status, drain};
use crate::grading::play::Connector;
use crate::sandbox::sockets::LISTEN_POLL;

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

/// One started target without a box: its process group, address and store file.
pub struct UnboxedTarget {
    child: Child,
    addr: SocketAddr,
    store: PathBuf,
    /// The command line as run, for messages.
    command: String,
    tail: Arc<Mutex<Tail>>,
    drains: Vec<JoinHandle<()>>,
    watch: Option<Arc<Watch>>,
    /// Holds the store directory until the target has stopped.
    _dir: tempfile::TempDir,
}

/// Ports this process handed out: the kernel may give a just-released port to the
/// next `bind(0)`, and two parallel transcripts must never share one.
static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A port on 127.0.0.1 that was free a moment ago (bound, then released) and that
/// no other transcript of this run was given.
pub(super) fn free_port() -> Result<SocketAddr, String> {
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

/// Starts on a port another program took first before giving up.
pub(super) const PORT_ATTEMPTS: usize = 3;

/// Starts `sh -c TEMPLATE` (placeholders expanded, the launch's flags appended) on a
/// fresh port with a fresh store, and waits until it listens. A start whose port
/// another program took first (it failed to bind while that program listened there,
/// or it said the address was in use: another program's connection may hold the
/// port a moment, which no listener shows) is tried again on a fresh port rather
/// than judging the wrong program.
pub fn start(target: &CommandTarget, launch: Launch<'_>) -> Result<UnboxedTarget, StartError> {
    let mut attempt = 1;
    loop {
        match start_once(target, launch) {
            // A target the watch killed (the time limit) is not started again.
            Err((e, true)) if attempt < PORT_ATTEMPTS && !killed(launch) => {
                drop(e);
                attempt += 1;
            }
            Err((e, _)) => return Err(e),
            Ok(started) => return Ok(started),
        }
    }
}

/// Whether the launch's watch has killed its target: the time limit, not a taken port.
pub(super) fn killed(launch: Launch<'_>) -> bool {
    launch.watch.is_some_and(|w| w.killed())
}

/// One start; on failure, also whether another program listened on its port.
fn start_once(
    target: &CommandTarget,
    launch: Launch<'_>,
) -> Result<UnboxedTarget, (StartError, bool)> {
    let plain = |message: String| (StartError::from(message), false);
    let dir = tempfile::tempdir().map_err(|e| plain(format!("temporary directory: {e}")))?;
    let store_path = dir.path().join("words.txt");
    std::fs::write(&store_path, launch.store.unwrap_or_default())
        .map_err(|e| plain(format!("writing the starting store: {e}")))?;
    let addr = free_port().map_err(plain)?;
    let command = foreign::with_args(
        foreign::expand(&target.template, addr, Some(&store_path)),
        launch.args,
    );
    // Where /proc cannot name the listening process, the limit is on the whole command
    // (the old way: a build step before the server is limited too).
    let whole_command = launch
        .write_limit
        .filter(|_| !Path::new("/proc/net/tcp").exists());
    let limits = Limits {
        file_size: whole_command,
        ignore_file_size_signal: launch.write_limit.is_some(),
    };
    let mut child = process::spawn(&command, target.dir.as_deref(), Some(limits))
        .map_err(|e| plain(format!("cannot run `{command}`: {e}")))?;
    if let Some(watch) = launch.watch {
        watch.set(Some(Kill::Group(child.id() as libc::pid_t)));
    }
    let tail = Arc::new(Mutex::new(Tail::default()));
    let mut drains = Vec::new();
    if let Some(out) = child.stdout.take() {
        drains.push(drain(out, push_to(&tail)));
    }
    if let Some(err) = child.stderr.take() {
        drains.push(drain(err, push_to(&tail)));
    }
    let mut started = UnboxedTarget {
        child,
        addr,
        store: store_path,
        command,
        tail,
        drains,
        watch: launch.watch.cloned(),
        _dir: dir,
    };
    let pid = started.wait_listening(target.start_timeout)?;
    if let (Some(bytes), Some(pid), None) = (launch.write_limit, pid, whole_command) {
        limit_file_size(pid, bytes).map_err(|e| {
            plain(format!(
                "cannot limit the writes of `{}` (process {pid}) for the fault: {e}",
                started.command
            ))
        })?;
    }
    if let Some(watch) = launch.watch {
        watch.mark_listening();
    }
    Ok(started)
}

/// RLIMIT_FSIZE on one process: its writes past `bytes` fail with EFBIG (SIGXFSZ is
/// ignored in the whole command), and not those of a build step before it.
fn limit_file_size(pid: u32, bytes: u64) -> io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| io::Error::other("no such process"))?;
    let limit = rustix::process::Rlimit {
        current: Some(bytes),
        maximum: Some(bytes),
    };
    rustix::process::prlimit(Some(pid), rustix::process::Resource::Fsize, limit)?;
    Ok(())
}

impl Connector for UnboxedTarget {
    fn connect(&self, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_timeout(&self.addr, timeout)
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl UnboxedTarget {
    /// The store file the target was given as `{store}`.
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// Waits until a process of the group listens on the port; returns that process
    /// (`None`: found by a connect probe, without `/proc`).
    fn wait_listening(&mut self, timeout: Duration) -> Result<Option<u32>, (StartError, bool)> {
        let deadline = Instant::now() + timeout;
        let group = self.child.id() as libc::pid_t;
        let mut someone_else = false;
        // Poll often at first, then back off a little (a Java compile takes seconds).
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(status) = self.exited() {
                self.stop_group();
                let output = self.tail_text();
                let taken = someone_else || says_address_in_use(&output);
                let error = StartError {
                    message: format!(
                        "`{}` exited before listening on {} ({})",
                        self.command,
                        self.addr,
                        describe_status(status)
                    ),
                    output: tail_note(&output),
                    signature: Some(Signature {
                        args: Vec::new(),
                        status,
                        output: foreign::comparable(
                            &output,
                            "",
                            &[
                                self.store.display().to_string(),
                                self.addr.port().to_string(),
                            ],
                        ),
                    }),
                };
                return Err((error, taken));
            }
            match listener_on(self.addr, group) {
                Listener::Target(pid) => return Ok(pid),
                Listener::SomeoneElse => someone_else = true,
                Listener::None => {}
            }
            if Instant::now() >= deadline {
                self.stop_group();
                let error = StartError {
                    message: format!(
                        "`{}` did not listen on {} within {} s (--start-timeout; did it use {{port}} or {{addr}}?)",
                        self.command,
                        self.addr,
                        timeout.as_secs_f64()
                    ),
                    output: tail_note(&self.tail_text()),
                    signature: None,
                };
                return Err((error, false));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(LISTEN_POLL);
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the group; `Some(message)` if the target had exited, or exits within
    /// `grace`: its status and the end of its output.
    pub fn finish(mut self, grace: Duration) -> Option<String> {
        let deadline = Instant::now() + grace;
        while self.exited().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let died = self.exited().map(|status| {
            format!(
                "the target died during the transcript ({}){}",
                describe_status(status),
                tail_note(&self.tail_text())
            )
        });
        self.stop_group();
        for drain in self.drains.drain(..) {
            let _ = drain.join();
        }
        died
    }

    /// Once the target is gone, waits (up to 500 ms) for the drains to reach the end
    /// of the pipes, so that its last words are in; then its output's tail.
    fn tail_text(&self) -> String {
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.drains.iter().any(|d| !d.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let tail: Vec<u8> = self
            .tail
            .lock()
            .map(|t| t.0.iter().copied().collect())
            .unwrap_or_default();
        String::from_utf8_lossy(&tail).into_owned()
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
}

impl Drop for UnboxedTarget {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.stop_group();
        }
    }
}

/// True if `output` says a bind failed on an address in use (EADDRINUSE, whose
/// text every runtime prints alike: Python's `[Errno 98] Address already in use`,
/// Java's `BindException: Address already in use`, Go's `bind: address already in
/// use`, C's `perror`).
pub(super) fn says_address_in_use(output: &str) -> bool {
    output.to_lowercase().contains("address already in use")
}

/// `; its output ends:\n      ...` with the last lines of `text`, or nothing.
fn tail_note(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = &lines[lines.len().saturating_sub(5)..];
    if last.is_empty() {
        String::new()
    } else {
        format!("; its output ends:\n      {}", last.join("\n      "))
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
    /// A process of the target's group (which one, when `/proc` says).
    Target(Option<u32>),
    /// Only sockets of other programs.
    SomeoneElse,
    None,
}

/// Who listens at `addr`'s port: a LISTEN socket (`sandbox::sockets`) held open by
/// a process of `group` is the target's. Without `/proc`, a connection probe.
fn listener_on(addr: SocketAddr, group: libc::pid_t) -> Listener {
    let probe = || {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_ok() {
            Listener::Target(None)
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
        Some((pid, inode)) => {
            let sure = here.iter().any(|s| s.inode == inode && s.sure);
            // `[::]:PORT` takes 127.0.0.1 only if it is dual-stack, which /proc does not say.
            if sure || probe() != Listener::None {
                Listener::Target(Some(pid))
            } else {
                Listener::None
            }
        }
        None => Listener::SomeoneElse,
    }
}

/// The first process of `group` that holds one of `inodes` as a socket descriptor,
/// and that inode.
fn held_by_group(inodes: &[u64], group: libc::pid_t) -> Option<(u32, u64)> {
    use crate::sandbox::proc;
    proc::pids().into_iter().find_map(|pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        if proc::parse_pgrp(&stat)? != group {
            return None;
        }
        let inode = proc::socket_inodes(pid)
            .into_iter()
            .find(|i| inodes.contains(i))?;
        Some((pid, inode))
    })
}

/// A LISTEN socket that 127.0.0.1 may reach.
struct ListenSocket {
    port: u16,
    inode: u64,
    /// 127.0.0.1 surely reaches it (not only maybe, as `[::]` may when the kernel
    /// does not say whether it is IPv6-only).
    sure: bool,
}

/// The LISTEN sockets that 127.0.0.1 may reach (127.0.0.1 itself, `0.0.0.0`, a
/// dual-stack `[::]`; another program's `[::1]` must not pass for the target), or
/// `None` without netlink and `/proc`.
fn listening_sockets() -> Option<Vec<ListenSocket>> {
    let sockets = crate::sandbox::sockets::listening()?;
    Some(
        sockets
            .into_iter()
            .filter_map(|s| {
                let sure = match s.addr.ip() {
                    IpAddr::V4(ip) => ip == Ipv4Addr::LOCALHOST || ip.is_unspecified(),
                    IpAddr::V6(ip) if ip.is_unspecified() => match s.v6only {
                        Some(true) => return None,
                        Some(false) => true,
                        None => false,
                    },
                    IpAddr::V6(_) => return None,
                };
                if !sure && !s.addr.ip().is_unspecified() {
                    return None;
                }
                Some(ListenSocket {
                    port: s.addr.port(),
                    inode: s.inode,
                    sure,
                })
            })
            .collect(),
    )
}

/// True if a program listens on `port` on this host's loopback (or every address):
/// a start without a network namespace that failed may have lost its port to it.
pub(super) fn port_is_taken(port: u16) -> bool {
    listening_sockets().is_some_and(|s| s.iter().any(|s| s.port == port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::target::{CommandTarget, Isolation};
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    fn target(template: &str, dir: Option<PathBuf>) -> CommandTarget {
        CommandTarget::new(template.to_string(), None, dir, Isolation::Unboxed)
    }

    fn launch<'a>(watch: Option<&'a Arc<Watch>>) -> Launch<'a> {
        Launch {
            transcript: Path::new("t.transcript"),
            args: &[],
            store: Some(b"alpha\n"),
            write_limit: None,
            watch,
        }
    }

    #[test]
    fn a_listener_counts_as_the_targets_only_when_its_group_holds_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // SAFETY: getpgrp has no preconditions.
        let ours = unsafe { libc::getpgrp() };
        assert_eq!(
            listener_on(addr, ours),
            Listener::Target(Some(std::process::id()))
        );
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
        // Another test may be given the port at once: it is no longer ours, at least.
        assert!(!matches!(listener_on(addr, ours), Listener::Target(_)));
    }

    #[test]
    fn a_target_the_time_limit_killed_is_not_started_again_as_on_a_taken_port() {
        // Another process group listens on the port (as when another program took it),
        // then the time limit kills the target: that is the limit, not a taken port.
        let dir = tempfile::tempdir().unwrap();
        let watch = Arc::new(Watch::default());
        let cmd = "echo start >> attempts; setsid python3 -c 'import os,socket,sys,time; s=socket.socket(); s.bind((\"127.0.0.1\", int(sys.argv[1]))); s.listen(); open(\"listening\", \"w\").write(str(os.getpid())); time.sleep(5)' {port} & exec sleep 1000";
        let killer = {
            let watch = watch.clone();
            let listening = dir.path().join("listening");
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(8);
                while !listening.exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                // Time for the start to see the other group on its port.
                std::thread::sleep(Duration::from_millis(300));
                watch.kill();
            })
        };
        let err = start(
            &target(cmd, Some(dir.path().to_path_buf())),
            launch(Some(&watch)),
        )
        .err()
        .expect("a killed target cannot start");
        killer.join().unwrap();
        // The other group is ours to end (it would exit by itself after 5 s).
        let other = std::fs::read_to_string(dir.path().join("listening")).unwrap();
        if let Ok(pid) = other.trim().parse::<libc::pid_t>() {
            process::signal_group(pid, libc::SIGKILL);
        }
        let attempts = std::fs::read_to_string(dir.path().join("attempts")).unwrap();
        assert_eq!(attempts, "start\n", "{}", err.message);
    }

    #[test]
    fn a_target_that_never_listens_fails_with_its_output() {
        let err = start(
            &target("echo booting; echo oops >&2; exit 3", None),
            launch(None),
        )
        .err()
        .expect("a target that exits cannot start");
        assert!(err.message.contains("exited before listening"), "{err:?}");
        assert!(err.message.contains("exit status 3"), "{err:?}");
        assert!(err.output.contains("oops"), "{err:?}");
        // Both streams, as they came (two readers: in either order).
        let signature = err.signature.expect("compared with other starts");
        assert!(
            ["booting\noops\n\0", "oops\nbooting\n\0"].contains(&signature.output.as_str()),
            "{signature:?}"
        );
    }

    #[test]
    fn a_watch_kills_the_group_from_another_thread_and_the_start_fails() {
        let watch = Arc::new(Watch::default());
        let killer = {
            let watch = watch.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                watch.kill();
            })
        };
        // Never listens: without the watch it would wait the start timeout.
        let err = start(&target("sleep 1000", None), launch(Some(&watch)))
            .err()
            .expect("a killed target cannot start");
        killer.join().unwrap();
        assert!(err.message.contains("exited before listening"), "{err:?}");
        assert!(err.message.contains("signal 9"), "{err:?}");
    }

    #[test]
    fn the_command_runs_in_the_given_directory_not_the_store_s() {
        let dir = tempfile::tempdir().unwrap();
        let err = start(
            &target("pwd; exit 1", Some(dir.path().to_path_buf())),
            launch(None),
        )
        .err()
        .unwrap();
        let real = dir.path().canonicalize().unwrap();
        assert!(err.output.contains(&real.display().to_string()), "{err:?}");
    }

    #[test]
    fn a_listening_target_is_found_and_its_group_stopped() {
        // A python one-liner that listens on {port}; sh stays as its parent.
        let cmd = "python3 -c 'import socket,sys,time; s=socket.socket(); s.bind((\"127.0.0.1\", int(sys.argv[1]))); s.listen(); time.sleep(60)' {port}; echo never";
        let started = start(&target(cmd, None), launch(None)).expect("the target starts");
        assert_eq!(std::fs::read(started.store()).unwrap(), b"alpha\n");
        let addr = started.addr;
        assert!(TcpStream::connect(addr).is_ok());
        let began = Instant::now();
        assert_eq!(started.finish(Duration::ZERO), None);
        assert!(began.elapsed() < STOP_GRACE, "TERM stops a plain process");
        assert!(TcpStream::connect(addr).is_err(), "the group is gone");
    }
}
