//! A target in a box (`crate::sandbox`), the default of `grade` and `replay --target-cmd`.
//!
//! Here: one box per start: a private copy of the submission's directory (or of the
//! current directory) as the working directory, the store seeded in it as
//! `words.txt` (`{store}` names it), the lab pair as the only variables passed on;
//! the server found where it listens inside (port discovery: a command without
//! `{port}` or `{addr}` may listen anywhere), the write fault set on the listening
//! process only, its death, and the box stopped with every process in it.
//! Elsewhere: the box itself (`crate::sandbox`), what both kinds of start share
//! (`grading::target::foreign`).
//!
//! With a network namespace every box has its own loopback: `{port}` is the same
//! fixed port in each, and a hard-coded one works as well. Without one the box
//! shares the host's network, so `{port}` is a free port of the host's as without a
//! box, and a start whose port another program took is tried again on a fresh one.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::foreign::{self, Kill, Launch, StartError, Watch};
use super::gate::Signature;
use super::unboxed::{PORT_ATTEMPTS, free_port, port_is_taken, says_address_in_use};
use super::{BoxSetup, CommandTarget};
use crate::auth::{DEFAULT_PASSWORD, DEFAULT_USER};
use crate::grading::play::Connector;
use crate::sandbox::{Listener, Sandbox, SandboxError, Seed, Spec, describe_status};

/// `{port}` in a box of its own network: any port would do; every box uses this one.
pub const BOX_PORT: u16 = 8080;
/// The store's name in the box's copy (`{store}` is its absolute path).
pub const STORE_NAME: &str = "words.txt";

/// One started target in its box: the server listens.
pub struct BoxedTarget {
    sandbox: Option<Sandbox>,
    listener: Listener,
    /// Where the play connects, inside the box.
    addr: SocketAddr,
    store: PathBuf,
    /// The command as run (`{store}` as written), for messages.
    command: String,
    watch: Option<Arc<Watch>>,
}

/// Copies the submission into a fresh box, seeds the store, starts the command and
/// waits until a process of the box listens: on `{port}` if the command names it,
/// anywhere otherwise.
pub fn start(
    setup: &BoxSetup,
    target: &CommandTarget,
    launch: Launch<'_>,
) -> Result<BoxedTarget, StartError> {
    let source = match &target.dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| format!("cannot find the current directory to copy: {e}"))?,
    };
    let mut attempt = 1;
    loop {
        match start_once(setup, target, launch, &source) {
            Err((_, true)) if attempt < PORT_ATTEMPTS && !super::unboxed::killed(launch) => {
                attempt += 1
            }
            Err((e, _)) => return Err(e),
            Ok(started) => return Ok(started),
        }
    }
}

/// One start; on failure, also whether another program of the host listened on its
/// port (only without a network namespace).
fn start_once(
    setup: &BoxSetup,
    target: &CommandTarget,
    launch: Launch<'_>,
    source: &Path,
) -> Result<BoxedTarget, (StartError, bool)> {
    let plain = |message: String| (StartError::from(message), false);
    let own_network = setup.protections.net_ns;
    let addr = if own_network {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, BOX_PORT))
    } else {
        free_port().map_err(plain)?
    };
    let command = foreign::with_args(foreign::expand(&target.template, addr, None), launch.args);
    let mut spec = Spec::new(&setup.init, command.clone());
    spec.namespaces = setup.namespaces;
    spec.source = Some(source.to_path_buf());
    spec.seed = Some(Seed {
        // A course's data file for a command that names no `{store}`.
        name: match &target.data_file {
            Some(file) if !target.template.contains("{store}") => file.clone(),
            _ => STORE_NAME.into(),
        },
        bytes: launch.store.unwrap_or_default().to_vec(),
    });
    spec.env = vec![
        ("WORDWIRE_USER".into(), DEFAULT_USER.into()),
        ("WORDWIRE_PASSWORD".into(), DEFAULT_PASSWORD.into()),
    ];
    let sandbox = Sandbox::spawn(&spec).map_err(|e| match e {
        SandboxError::Copy(e) => plain(format!("cannot copy {} into a box: {e}", source.display())),
        e => plain(format!("cannot start `{command}` in a box: {e}")),
    })?;
    if let Some(watch) = launch.watch {
        watch.set(Some(Kill::Box(sandbox.killer())));
    }
    let port = foreign::names_its_port(&target.template).then_some(addr.port());
    let waited = sandbox.wait_listener(port, target.start_timeout);
    let listener = match waited {
        Ok(listener) => listener,
        Err(e) => {
            // Listening elsewhere than the {port} it was given: say where.
            let elsewhere: Vec<String> = match (&e, port) {
                (SandboxError::NotListening(_), Some(_)) => sandbox
                    .listeners()
                    .unwrap_or_default()
                    .iter()
                    .map(|l| l.addr.to_string())
                    .collect(),
                _ => Vec::new(),
            };
            let root = sandbox
                .work_dir()
                .parent()
                .unwrap_or(sandbox.work_dir())
                .display()
                .to_string();
            let output = sandbox.stop();
            if let Some(watch) = launch.watch {
                watch.set(None);
            }
            let note = foreign::output_note(&output);
            // Only a start that exited is tried again on another port, never one that hung.
            let exited = matches!(e, SandboxError::ExitedBeforeListening(_));
            let error = match e {
                SandboxError::ExitedBeforeListening(status) => {
                    let not_found = match status.code() {
                        Some(127) => {
                            " (127: a command was not found; the box's PATH is /usr/local/bin:/usr/bin:/bin)"
                        }
                        Some(126) => {
                            " (126: a command was found but could not be run: it has no execute bit, or it lies outside the box, which runs only the submission's copy and the system's directories such as /usr and /opt; `sh server.sh` needs no execute bit, and a program elsewhere must be copied into the submission or run with --no-box)"
                        }
                        _ => "",
                    };
                    StartError {
                        message: format!(
                            "`{command}` exited before listening ({}){not_found}",
                            describe_status(status)
                        ),
                        output: note,
                        signature: Some(Signature {
                            args: launch.args.to_vec(),
                            status,
                            output: foreign::comparable(
                                &output.stdout.text(),
                                &output.stderr.text(),
                                &[root, addr.port().to_string()],
                            ),
                        }),
                    }
                }
                SandboxError::NotListening(waited) => StartError {
                    message: format!(
                        "`{command}` did not listen within {} s (--start-timeout){}{}",
                        waited.as_secs_f64(),
                        match port {
                            Some(port) => format!(" on port {port}"),
                            None => String::new(),
                        },
                        if elsewhere.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (it listens on {}: without {{port}} and {{addr}} in the command it is found wherever it listens)",
                                elsewhere.join(", ")
                            )
                        }
                    ),
                    output: note,
                    signature: None,
                },
                e => StartError {
                    message: format!("`{command}` in its box: {e}"),
                    output: note,
                    signature: None,
                },
            };
            let said_in_use = exited
                && [&output.stdout, &output.stderr]
                    .iter()
                    .any(|o| says_address_in_use(&o.text()));
            let taken = !own_network && port.is_some_and(|p| port_is_taken(p) || said_in_use);
            return Err((error, taken));
        }
    };
    let store = sandbox
        .store()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| sandbox.work_dir().join(STORE_NAME));
    if let Some(bytes) = launch.write_limit
        && let Err(e) = sandbox.limit_file_size(listener.pid, bytes)
    {
        sandbox.stop();
        return Err(plain(format!(
            "cannot limit the writes of `{command}` (process {} of its box) for the fault: {e}",
            listener.pid
        )));
    }
    if let Some(watch) = launch.watch {
        watch.mark_listening();
    }
    Ok(BoxedTarget {
        addr: listener.loopback(),
        sandbox: Some(sandbox),
        listener,
        store,
        command,
        watch: launch.watch.cloned(),
    })
}

impl Connector for BoxedTarget {
    fn connect(&self, timeout: Duration) -> io::Result<TcpStream> {
        match &self.sandbox {
            Some(sandbox) => sandbox.connect(self.addr, timeout),
            None => Err(io::Error::other("the box has stopped")),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl BoxedTarget {
    /// The seeded store file (the same path inside the box and out).
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// Stops the box; `Some(message)` if the server had died, or dies within `grace`:
    /// its listener is gone (the command exited and nothing listens, or the process
    /// that listened stopped), with the command's status and the end of its output.
    pub fn finish(mut self, grace: Duration) -> Option<String> {
        let sandbox = self.sandbox.take()?;
        let deadline = Instant::now() + grace;
        let mut died = self.died(&sandbox);
        while died.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            died = self.died(&sandbox);
        }
        // The socket closes as the process ends, a moment before its status is known.
        let settle = Instant::now() + Duration::from_millis(300);
        while died == Some(None) && Instant::now() < settle {
            std::thread::sleep(Duration::from_millis(10));
            died = self.died(&sandbox);
        }
        if let Some(watch) = &self.watch {
            watch.set(None);
        }
        let Some(status) = died else {
            // A healthy server: the box is stopped while the next transcript plays.
            sandbox.stop_later();
            return None;
        };
        let output = sandbox.stop();
        let how = match status {
            Some(status) => describe_status(status),
            None => "its listening socket closed".to_string(),
        };
        Some(format!(
            "the target died during the transcript ({how}){}",
            foreign::output_note(&output)
        ))
    }

    /// `Some` once the server is gone: the command's status if it exited.
    fn died(&self, sandbox: &Sandbox) -> Option<Option<std::process::ExitStatus>> {
        let status = sandbox.status().ok().flatten();
        let listening = sandbox
            .listeners()
            .map(|found| found.iter().any(|l| l.inode == self.listener.inode))
            .unwrap_or(false);
        (!listening).then_some(status)
    }

    /// The command as run, for messages.
    pub fn command(&self) -> &str {
        &self.command
    }
}

impl Drop for BoxedTarget {
    fn drop(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            sandbox.stop();
        }
        if let Some(watch) = &self.watch {
            watch.set(None);
        }
    }
}
