//! The box's side: the helper (`wordwire __box-init`), the box's init, and the
//! command's last steps before `exec`.
//!
//! Here: entering the namespaces (user maps, `lo` up, host name), the init (PID 1:
//! mounts, reaping, the command's status), the command's limits, Landlock and
//! capabilities, and the helper's answers to the grader (connect, listeners,
//! status, file-size limit, stop). Every process here is single-threaded: the
//! helper is a fresh `exec` that starts no thread, and the init and the command
//! are forked from it, so code after each `fork` may allocate and lock freely.
//! Elsewhere: the layers and why (`sandbox`'s module doc), the messages
//! (`sandbox::wire`), `/proc` (`sandbox::proc`).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, LandlockStatus, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};
use rustix::process::{Pid, Resource, Rlimit, Signal, WaitOptions};
use rustix::thread::UnshareFlags;
use serde::{Deserialize, Serialize};

use super::proc::{descendants, listeners_held_by};
use super::wire::{self, InitSpec, Reply, Request};
use super::{Landlock, Protections};

/// System paths the box may read and execute (those that exist).
const SYSTEM_READ: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/proc", "/sys",
];
/// Devices the box may read and write.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];
/// The command's PATH.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What the command's process tells the helper before it `exec`s (one JSON line),
/// or why it could not.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CommandReport {
    /// The command's pid as the helper sees it (without a PID namespace: the host's).
    pid: u32,
    mount_ns: bool,
    landlock: Option<Landlock>,
    process_limit: bool,
    notes: Vec<String>,
    error: Option<String>,
}

/// `wordwire __box-init`: the helper of one box, its control socket on fd 3.
pub fn main() -> ExitCode {
    // SAFETY: F_GETFD only reads the flags of descriptor 3, which is either open or
    // not; nothing is dereferenced.
    if unsafe { libc::fcntl(super::wire_fd(), libc::F_GETFD) } < 0 {
        eprintln!("wordwire {}: run by the grader only", super::INIT_ARG);
        return ExitCode::from(2);
    }
    // SAFETY: descriptor 3 is open (checked above) and was handed to this process as
    // its control socket; nothing else in this fresh process owns it.
    let ctl = unsafe { OwnedFd::from_raw_fd(super::wire_fd()) };
    let _ = rustix::io::fcntl_setfd(&ctl, rustix::io::FdFlags::CLOEXEC);
    match helper(ctl) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wordwire {}: {message}", super::INIT_ARG);
            ExitCode::FAILURE
        }
    }
}

fn helper(ctl: OwnedFd) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let (request, _) = wire::recv::<Request>(ctl.as_fd(), Some(deadline))
        .map_err(|e| format!("reading the spec: {e}"))?;
    let Request::Start(spec) = request else {
        return Err("the first request is not Start".into());
    };
    // The command runs as the caller, except a root caller's, which runs as nobody
    // (mapped in a user namespace, or directly without one): root, even without
    // capabilities, still owns and reads `/etc/shadow` under the readable `/etc`.
    let caller = rustix::process::getuid();
    let mut protections = Protections {
        uid: if caller.is_root() {
            super::NOBODY
        } else {
            caller.as_raw()
        },
        ..Protections::default()
    };
    if spec.namespaces
        && let Err(message) = enter_namespaces(&mut protections)
    {
        let _ = wire::send(
            ctl.as_fd(),
            &Reply::Failed {
                errno: None,
                message: message.clone(),
            },
            None,
        );
        return Err(message);
    }
    let pipe = |flags| rustix::pipe::pipe_with(flags).map_err(|e| format!("pipe: {e}"));
    let (report_r, report_w) = pipe(rustix::pipe::PipeFlags::CLOEXEC)?;
    let (status_r, status_w) =
        pipe(rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK)?;
    let helper_pid = rustix::process::getpid();
    // The init's way to see that the helper died before its death signal was armed
    // (inside its PID namespace its parent's pid reads as 0).
    let helper_pidfd =
        rustix::process::pidfd_open(helper_pid, rustix::process::PidfdFlags::empty()).ok();
    // SAFETY: this process is single-threaded (a fresh exec that started no thread),
    // so the child may run any code, not only async-signal-safe calls.
    let init = unsafe { libc::fork() };
    if init == 0 {
        drop(ctl);
        drop(report_r);
        drop(status_r);
        let code = box_init(&spec, &protections, helper_pidfd, report_w, status_w);
        std::process::exit(code);
    }
    drop(report_w);
    drop(status_w);
    drop(helper_pidfd);
    let Some(init) = Pid::from_raw(init) else {
        let error = io::Error::last_os_error();
        let _ = wire::send(ctl.as_fd(), &Reply::failed("fork", &error), None);
        return Err(format!("fork: {error}"));
    };
    // From here the helper writes nothing: the pipes end when the box's processes do.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
    let report = read_report(report_r, Instant::now() + Duration::from_secs(10));
    if let Some(error) = report.error {
        end_box(init, false, false);
        let _ = wire::send(
            ctl.as_fd(),
            &Reply::Failed {
                errno: None,
                message: error,
            },
            None,
        );
        return Ok(());
    }
    protections.mount_ns = report.mount_ns;
    protections.landlock = report.landlock;
    protections.process_limit = report.process_limit;
    protections.notes.extend(report.notes);
    let pidfd = rustix::process::pidfd_open(init, rustix::process::PidfdFlags::empty()).ok();
    let started = Reply::Started {
        init_pid: init.as_raw_pid() as u32,
        command_pid: report.pid,
        protections: protections.clone(),
    };
    if wire::send(ctl.as_fd(), &started, pidfd.as_ref().map(|fd| fd.as_fd())).is_err() {
        end_box(init, protections.pid_ns, false);
        let _ = std::fs::remove_dir_all(&spec.root);
        return Ok(());
    }
    drop(pidfd);
    serve(ctl, init, status_r, &spec, protections.pid_ns);
    Ok(())
}

/// The command's report, read until every copy of the pipe's write end is closed
/// (the command's at its `exec`, close-on-exec).
fn read_report(from: OwnedFd, deadline: Instant) -> CommandReport {
    let mut file = std::fs::File::from(from);
    let mut text = String::new();
    let _ = rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::NONBLOCK);
    let mut buf = [0u8; 4096];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return CommandReport {
                        error: Some("the box did not start its command within 10 s".into()),
                        ..CommandReport::default()
                    };
                }
                let mut fds = [rustix::event::PollFd::new(
                    &file,
                    rustix::event::PollFlags::IN,
                )];
                let wait = rustix::event::Timespec {
                    tv_sec: 0,
                    tv_nsec: 50_000_000,
                };
                let _ = rustix::event::poll(&mut fds, Some(&wait));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return CommandReport {
                    error: Some(format!("reading the box's report: {e}")),
                    ..CommandReport::default()
                };
            }
        }
    }
    let mut report = CommandReport {
        error: Some("the box ended before its command started".into()),
        ..CommandReport::default()
    };
    for line in text.lines() {
        match serde_json::from_str::<CommandReport>(line) {
            // A later line is an `exec` that failed after the report.
            Ok(later) if later.error.is_some() => report.error = later.error,
            Ok(first) => report = first,
            Err(_) => {}
        }
    }
    report
}

/// Unshares the user (with maps), network (`lo` up), UTS and PID namespaces, each
/// as far as the kernel allows. An error is a state the helper cannot go on from.
fn enter_namespaces(p: &mut Protections) -> Result<(), String> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    // SAFETY (each unshare_unsafe below): the helper is single-threaded and none of
    // the flags is CLONE_FILES, so no other thread can see a changed descriptor table.
    // Root maps nobody too, which only a process outside the namespace may write.
    let mapper = if uid == 0 {
        Some(Mapper::fork()?)
    } else {
        None
    };
    match unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER) } {
        Ok(()) => {
            match mapper {
                Some(mapper) => mapper.map(),
                None => write_maps(uid, gid),
            }
            .map_err(|e| format!("user namespace maps: {e}"))?;
            p.user_ns = true;
        }
        Err(e) => p.notes.push(format!("no user namespace: {e}")),
    }
    if !p.user_ns && uid != 0 {
        p.notes
            .push("no network, PID or mount namespace without a user namespace".into());
        return Ok(());
    }
    match unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) } {
        Ok(()) => {
            loopback_up().map_err(|e| format!("bringing up lo: {e}"))?;
            p.net_ns = true;
        }
        Err(e) => p.notes.push(format!("no network namespace: {e}")),
    }
    match unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWUTS) } {
        Ok(()) => {
            rustix::system::sethostname(b"localhost").map_err(|e| format!("sethostname: {e}"))?;
            p.uts_ns = true;
        }
        Err(e) => p.notes.push(format!("no UTS namespace: {e}")),
    }
    match unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWPID) } {
        Ok(()) => p.pid_ns = true,
        Err(e) => p.notes.push(format!("no PID namespace: {e}")),
    }
    Ok(())
}

/// Maps the caller's uid and gid to themselves in the new user namespace (the one
/// mapping an unprivileged process may write; setgroups must be denied first).
fn write_maps(uid: u32, gid: u32) -> io::Result<()> {
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// A child the helper forks, while still root in the host's user namespace, to
/// write the maps of a root caller: root to root and nobody to nobody, so that the
/// command can run as nobody (root in the box, even without capabilities, would
/// still own and read `/etc/shadow`). More than one's own id may only be mapped by a
/// process with CAP_SETUID in the parent namespace, which the helper loses when it
/// unshares.
struct Mapper {
    pid: Pid,
    go: OwnedFd,
    /// Reaped: its pid may name another process now.
    reaped: bool,
}

impl Mapper {
    fn fork() -> Result<Mapper, String> {
        let (wait_r, go) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| format!("pipe: {e}"))?;
        let helper = rustix::process::getpid().as_raw_pid();
        // SAFETY: the helper is single-threaded (see `helper`).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            drop(go);
            let mut byte = [0u8; 1];
            let ready = rustix::io::read(&wait_r, &mut byte).is_ok_and(|n| n == 1);
            let nobody = super::NOBODY;
            let map = format!("0 0 1\n{nobody} {nobody} 1");
            let written = ready
                && std::fs::write(format!("/proc/{helper}/uid_map"), &map).is_ok()
                && std::fs::write(format!("/proc/{helper}/gid_map"), &map).is_ok();
            std::process::exit(if written { 0 } else { 1 });
        }
        let pid =
            Pid::from_raw(pid).ok_or_else(|| format!("fork: {}", io::Error::last_os_error()))?;
        Ok(Mapper {
            pid,
            go,
            reaped: false,
        })
    }

    /// Tells the mapper the namespace exists, and waits for its maps.
    fn map(mut self) -> io::Result<()> {
        rustix::io::write(&self.go, b"g")?;
        let waited = rustix::process::waitpid(Some(self.pid), WaitOptions::empty())?;
        self.reaped = true;
        match waited {
            Some((_, status)) if status.exit_status() == Some(0) => Ok(()),
            _ => Err(io::Error::other("the mapper could not write the maps")),
        }
    }
}

impl Drop for Mapper {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // Unused (no user namespace): let it end.
        let _ = rustix::process::kill_process(self.pid, Signal::KILL);
        let _ = rustix::process::waitpid(Some(self.pid), WaitOptions::empty());
    }
}

/// `ip link set lo up`, without `ip`: SIOCSIFFLAGS on any socket of the namespace.
fn loopback_up() -> io::Result<()> {
    let socket = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        None,
    )?;
    // SAFETY: ifreq is a plain C struct (a name and a union of integers and
    // addresses) for which all-zero bytes are a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    request.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads one ifreq, which lives until the call returns.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The box's init: PID 1 of the box's PID namespace (or a child subreaper without
/// one). Sets up the mounts, forks the command, reaps every process that ends,
/// and writes the command's wait status to `status_w`. Returns only on failure.
fn box_init(
    spec: &InitSpec,
    protections: &Protections,
    helper: Option<OwnedFd>,
    report_w: OwnedFd,
    status_w: OwnedFd,
) -> i32 {
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    if let Some(helper) = helper {
        // A pidfd is readable once its process has exited: the helper died before
        // the death signal was armed.
        let mut fds = [rustix::event::PollFd::new(
            &helper,
            rustix::event::PollFlags::IN,
        )];
        let now = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if rustix::event::poll(&mut fds, Some(&now)).unwrap_or(0) > 0 {
            return 1;
        }
    }
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    let mut notes = Vec::new();
    let mut mount_ns = false;
    if protections.user_ns && protections.pid_ns {
        match private_mounts(spec) {
            Ok(()) => mount_ns = true,
            Err(e) => notes.push(format!("no private /proc and /tmp: {e}")),
        }
    }
    // SAFETY: the init is single-threaded (forked from the single-threaded helper).
    let command = unsafe { libc::fork() };
    if command == 0 {
        drop(status_w);
        run_command(spec, protections, mount_ns, notes, report_w);
    }
    let Some(command) = Pid::from_raw(command) else {
        let report = CommandReport {
            error: Some(format!("fork: {}", io::Error::last_os_error())),
            ..CommandReport::default()
        };
        write_report(&report_w, &report);
        return 1;
    };
    drop(report_w);
    let mut status_w = std::fs::File::from(status_w);
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid == command => {
                let _ = status_w.write_all(&status.as_raw().to_ne_bytes());
            }
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            // No process left: wait for the helper's SIGKILL (or death signal).
            Err(_) => std::thread::sleep(Duration::from_secs(3600)),
        }
    }
}

/// A mount namespace of the init's own: a `/proc` of the box's PID namespace, the
/// box's `tmp` on `/tmp`, and the box's directory at its own path again if it was
/// under `/tmp` (so that `work` and `{store}` are the same path inside and out).
fn private_mounts(spec: &InitSpec) -> io::Result<()> {
    use rustix::mount::{MountFlags, MountPropagationFlags};
    // SAFETY: as in enter_namespaces: single-threaded, not CLONE_FILES.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS) }?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )?;
    rustix::mount::mount(
        "proc",
        "/proc",
        "proc",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        None,
    )?;
    let root = rustix::fs::open(
        &spec.root,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    rustix::mount::mount_bind(&spec.tmp, "/tmp")?;
    if let Ok(below) = spec.root.strip_prefix("/tmp") {
        let again = Path::new("/tmp").join(below);
        std::fs::create_dir_all(&again)?;
        rustix::mount::mount_bind(format!("/proc/self/fd/{}", root.as_raw_fd()), &again)?;
    }
    Ok(())
}

fn write_report(to: &OwnedFd, report: &CommandReport) {
    if let Ok(mut line) = serde_json::to_vec(report) {
        line.push(b'\n');
        let _ = rustix::io::write(to, &line);
    }
}

/// The command's process: limits, Landlock, no capabilities, the cleared
/// environment, then `exec sh -c COMMAND`. Never returns.
fn run_command(
    spec: &InitSpec,
    protections: &Protections,
    mount_ns: bool,
    mut notes: Vec<String>,
    report_w: OwnedFd,
) -> ! {
    let _ = rustix::process::setsid();
    let mut report = CommandReport {
        pid: rustix::process::getpid().as_raw_pid() as u32,
        mount_ns,
        ..CommandReport::default()
    };
    if let Err(error) = set_limits(spec, protections, &mut report) {
        report.error = Some(format!("setting the box's limits: {error}"));
    }
    // SAFETY: SIG_IGN installs no handler; the process is single-threaded. An
    // ignored SIGXFSZ stays ignored across exec, so a write past RLIMIT_FSIZE fails
    // with EFBIG instead of killing the writer, in every language.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let tmp = if mount_ns {
        Path::new("/tmp")
    } else {
        spec.tmp.as_path()
    };
    match restrict(spec, protections, tmp) {
        Ok(landlock) => report.landlock = landlock,
        Err(error) => notes.push(format!("no landlock: {error}")),
    }
    if protections.uid == super::NOBODY
        && rustix::process::getuid().is_root()
        && let Err(error) = become_nobody()
    {
        report.error = Some(format!("becoming nobody: {error}"));
    }
    drop_capabilities();
    report.notes = notes;
    write_report(&report_w, &report);
    if report.error.is_some() {
        std::process::exit(127);
    }
    let error = Command::new("/bin/sh")
        .arg("-c")
        .arg(&spec.command)
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", &spec.work)
        .env("LANG", "C.UTF-8")
        .env("TMPDIR", tmp)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.work)
        .exec();
    write_report(
        &report_w,
        &CommandReport {
            error: Some(format!(
                "cannot run /bin/sh in {}: {error}",
                spec.work.display()
            )),
            ..CommandReport::default()
        },
    );
    std::process::exit(127);
}

fn set_limits(
    spec: &InitSpec,
    protections: &Protections,
    report: &mut CommandReport,
) -> io::Result<()> {
    let set = |resource, soft: u64, hard: u64| {
        rustix::process::setrlimit(
            resource,
            Rlimit {
                current: Some(soft),
                maximum: Some(hard),
            },
        )
    };
    let limits = &spec.limits;
    set(Resource::Core, 0, 0)?;
    if let Some(bytes) = limits.memory {
        set(Resource::As, bytes, bytes)?;
    }
    if let Some(seconds) = limits.cpu_seconds {
        // SIGXCPU at the soft limit, SIGKILL at the hard one.
        set(Resource::Cpu, seconds, seconds + 1)?;
    }
    if let Some(files) = limits.open_files {
        set(Resource::Nofile, files, files)?;
    }
    // Per user namespace since Linux 5.14: in the box's own it counts only the box.
    if let Some(processes) = limits.processes
        && protections.user_ns
    {
        set(Resource::Nproc, processes, processes)?;
        report.process_limit = true;
    }
    Ok(())
}

/// Landlock for the command and all it starts: see the module doc of `sandbox`.
fn restrict(
    spec: &InitSpec,
    protections: &Protections,
    tmp: &Path,
) -> Result<Option<Landlock>, landlock::RulesetError> {
    let abi = ABI::V7;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))?
        .scope(Scope::from_all(abi))?;
    if !protections.net_ns {
        // The host's network: no TCP connection out (the grader connects in).
        ruleset = ruleset.handle_access(AccessNet::ConnectTcp)?;
    }
    let read = spec
        .read_only
        .iter()
        .map(|p| p.as_path())
        .chain(SYSTEM_READ.iter().map(Path::new));
    let status = ruleset
        .create()?
        .add_rules(path_beneath_rules(read, AccessFs::from_read(abi)))?
        .add_rules(path_beneath_rules(
            DEVICES,
            AccessFs::from_read(abi) | AccessFs::from_write(abi),
        ))?
        .add_rules(path_beneath_rules(
            [spec.work.as_path(), tmp],
            AccessFs::from_all(abi),
        ))?
        .restrict_self()?;
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => format!("{effective_abi:?}")
            .trim_start_matches('V')
            .parse::<u8>()
            .ok(),
        _ => None,
    };
    Ok(match (status.ruleset, abi) {
        (RulesetStatus::NotEnforced, _) | (_, None) => None,
        (ruleset, Some(abi)) => Some(Landlock {
            abi,
            full: ruleset == RulesetStatus::FullyEnforced,
        }),
    })
}

/// Root's caller's box runs as nobody, no supplementary group left (the grader
/// made the copy nobody's). Before `drop_capabilities`: its secure bits would keep
/// the capabilities across the change of uid.
fn become_nobody() -> io::Result<()> {
    let nobody = super::NOBODY;
    rustix::thread::set_thread_groups(&[])?;
    rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(nobody))?;
    rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(nobody))?;
    Ok(())
}

/// No capabilities survive the `exec`, root's included: a grader run as root maps
/// root to root, and root in the box's user namespace would otherwise keep
/// CAP_DAC_OVERRIDE over files that root owns (Landlock still applies). Errors are
/// ignored: without a user namespace an unprivileged process has none to drop.
fn drop_capabilities() {
    use rustix::thread::{CapabilitiesSecureBits as Bits, CapabilitySet};
    let _ = rustix::thread::set_capabilities_secure_bits(
        Bits::NO_ROOT
            | Bits::NO_ROOT_LOCKED
            | Bits::NO_SETUID_FIXUP
            | Bits::NO_SETUID_FIXUP_LOCKED
            | Bits::NO_CAP_AMBIENT_RAISE
            | Bits::NO_CAP_AMBIENT_RAISE_LOCKED,
    );
    for capability in CapabilitySet::all().iter() {
        let _ = rustix::thread::remove_capability_from_bounding_set(capability);
    }
    let _ = rustix::thread::clear_ambient_capability_set();
    let _ = rustix::thread::set_capabilities(
        None,
        rustix::thread::CapabilitySets {
            effective: CapabilitySet::empty(),
            permitted: CapabilitySet::empty(),
            inheritable: CapabilitySet::empty(),
        },
    );
}

/// The helper's loop: one reply per request until `Stop`, or the end of the stream
/// (the grader died): then the box is killed and its directory removed.
fn serve(ctl: OwnedFd, init: Pid, status_r: OwnedFd, spec: &InitSpec, pid_ns: bool) {
    let init_raw = init.as_raw_pid() as u32;
    let mut status_r = std::fs::File::from(status_r);
    let mut command: Option<i32> = None;
    // Once the init is reaped its pid may name another process: never signal it again.
    let mut init_gone = false;
    loop {
        let request = match wire::recv::<Request>(ctl.as_fd(), None) {
            Ok((request, _)) => request,
            Err(_) => {
                end_box(init, pid_ns, init_gone);
                let _ = std::fs::remove_dir_all(&spec.root);
                return;
            }
        };
        let reply = match request {
            Request::Connect { addr, timeout_ms } => {
                match TcpStream::connect_timeout(&addr, Duration::from_millis(timeout_ms)) {
                    Ok(stream) => {
                        let _ = wire::send(ctl.as_fd(), &Reply::Connected, Some(stream.as_fd()));
                        continue;
                    }
                    Err(e) => Reply::failed(&format!("connecting to {addr} in the box"), &e),
                }
            }
            Request::Listeners => {
                let mut pids = descendants(init_raw);
                pids.push(init_raw);
                Reply::Listeners(listeners_held_by(&pids))
            }
            Request::Status => {
                let mut read_status = |command: &mut Option<i32>| {
                    let mut raw = [0u8; 4];
                    if command.is_none() && status_r.read_exact(&mut raw).is_ok() {
                        *command = Some(i32::from_ne_bytes(raw));
                    }
                };
                read_status(&mut command);
                if command.is_none() && !init_gone {
                    init_gone = matches!(
                        rustix::process::waitpid(Some(init), WaitOptions::NOHANG),
                        Ok(Some(_))
                    );
                }
                if command.is_none() && init_gone {
                    read_status(&mut command);
                    // The init was killed (a `Killer`) before it could report: the
                    // kernel killed the command with it.
                    command.get_or_insert(libc::SIGKILL);
                }
                Reply::Status { command }
            }
            Request::LimitFileSize { pid, bytes } => {
                let limit = Rlimit {
                    current: Some(bytes),
                    maximum: Some(bytes),
                };
                match Pid::from_raw(pid as i32).filter(|_| descendants(init_raw).contains(&pid)) {
                    Some(target) => {
                        match rustix::process::prlimit(Some(target), Resource::Fsize, limit) {
                            Ok(_) => Reply::Done,
                            Err(e) => Reply::failed("prlimit", &e.into()),
                        }
                    }
                    None => Reply::Failed {
                        errno: Some(libc::ESRCH),
                        message: format!("process {pid} is not in the box"),
                    },
                }
            }
            Request::Stop => {
                end_box(init, pid_ns, init_gone);
                let _ = wire::send(ctl.as_fd(), &Reply::Done, None);
                return;
            }
            Request::Start(_) => Reply::Failed {
                errno: None,
                message: "the box has started already".into(),
            },
        };
        if wire::send(ctl.as_fd(), &reply, None).is_err() {
            end_box(init, pid_ns, init_gone);
            let _ = std::fs::remove_dir_all(&spec.root);
            return;
        }
    }
}

/// Kills every process of the box and reaps the init. With a PID namespace the
/// init's death kills the rest and its reaping waits for them; without one the
/// init's descendants are killed first, by ancestry, until none is left.
fn end_box(init: Pid, pid_ns: bool, init_gone: bool) {
    if init_gone {
        return;
    }
    if !pid_ns {
        let root = init.as_raw_pid() as u32;
        for _ in 0..100 {
            let left = descendants(root);
            if left.is_empty() {
                break;
            }
            for pid in left {
                if let Some(pid) = Pid::from_raw(pid as i32) {
                    let _ = rustix::process::kill_process(pid, Signal::KILL);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let _ = rustix::process::kill_process(init, Signal::KILL);
    let _ = rustix::process::waitpid(Some(init), WaitOptions::empty());
}
