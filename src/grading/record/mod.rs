//! `wordwire record`: a relay that passes bytes both ways unchanged and writes what passed as a transcript.
//!
//! Here: running the command: the in-process server or `--upstream`, the `-o`
//! file (checked at the start, written at the end), Ctrl-C or `--once`.
//! `relay`: accepting and relaying with two plain threads per connection (a
//! learner's tool, not the server: no event loop), the timeline of what each side
//! did. `render`: that timeline as a transcript that replays as it is.
//! Elsewhere: the transcript format, its escaper and normalisation
//! (`grading::suite::transcript`), the in-process server (`grading::target::local`), the
//! trace lines (`trace`).
//!
//! How the timeline becomes steps (`render`): each accepted connection is a named
//! connection (`a`, `b`, ...); the client's bytes become `send` steps, one per
//! burst (reads closer together than the pause threshold are one burst); a pause
//! above the threshold before a client action becomes `wait`; the client's end of
//! input becomes `half-close`, a reset `close`. The server's bytes are framed into
//! responses as replay frames them (`client::ResponseReader`; whether a request was
//! HEAD is read off the client's bytes with `http::parse_head`) and each becomes an
//! `expect` block, normalised as replay normalises, placed where the response was
//! complete; the server's close becomes `expect-close`.

pub mod relay;
pub mod render;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use relay::{Event, EventKind, Relay, connection_name};
pub use render::{StartingState, render};

use crate::cli::record::RecordArgs;
use crate::grading::target::local::LocalServer;
use crate::trace;

/// Runs `wordwire record`: 0 when the transcript was written, 1 if it could not start or
/// write (a taken port, a seed that is not a store, an output it cannot write), as `serve`
/// exits 1 for what stops it; a flag clap refuses is clap's exit 2.
pub fn run(args: RecordArgs) -> ExitCode {
    match run_record(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wordwire record: {e}");
            ExitCode::FAILURE
        }
    }
}

fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} resolves to no address"))
}

/// The transcript file, opened before anything is recorded so that a path that cannot be
/// written is said at the start, not after the session; emptied and written at the end.
struct Output {
    file: File,
    path: PathBuf,
    /// `open` created the file; a start that fails removes it again.
    created: bool,
    /// A regular file (emptied before the write), not a FIFO or a device.
    regular: bool,
}

impl Output {
    /// Opens `path` for writing, creating it if needed but truncating nothing yet (a start
    /// that fails leaves an earlier transcript as it was). The open is non-blocking, so that
    /// a FIFO that no process reads is an error now (ENXIO) rather than a hang in open(2) at
    /// the end; writes then block again, as a FIFO's reader may be slower than the writer.
    fn open(path: &Path) -> Result<Output, String> {
        let cannot = |e: io::Error| match e.raw_os_error() {
            Some(libc::ENXIO) => format!(
                "cannot write {}: a FIFO that no process reads",
                path.display()
            ),
            _ => format!("cannot write {}: {e}", path.display()),
        };
        let existed = path.symlink_metadata().is_ok();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(cannot)?;
        clear_nonblocking(&file).map_err(cannot)?;
        let regular = file.metadata().is_ok_and(|meta| meta.is_file());
        Ok(Output {
            file,
            path: path.to_path_buf(),
            created: !existed,
            regular,
        })
    }

    /// Replaces the file's content with `text`.
    fn write(mut self, text: &str) -> Result<(), String> {
        if self.regular {
            self.file.set_len(0)
        } else {
            Ok(())
        }
        .and_then(|()| self.file.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }

    /// For a start that failed: removes the file if `open` created it.
    fn abandon(self) {
        if self.created && self.regular {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn clear_nonblocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor that `file` owns and keeps open for the call.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above; only O_NONBLOCK changes.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn run_record(args: &RecordArgs) -> Result<(), String> {
    let output = args.output.as_deref().map(Output::open).transpose()?;
    let (text, conns) = match record_session(args) {
        Ok(recorded) => recorded,
        Err(error) => {
            if let Some(output) = output {
                output.abandon();
            }
            return Err(error);
        }
    };
    match output {
        Some(output) => {
            let path = output.path.clone();
            output.write(&text)?;
            eprintln!(
                "wrote {} ({conns} connection{})",
                path.display(),
                if conns == 1 { "" } else { "s" }
            );
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| format!("writing the transcript: {e}"))?;
        }
    }
    Ok(())
}

/// Relays until Ctrl-C (or, with `--once`, the end of the first connection); the transcript
/// and how many connections it holds.
fn record_session(args: &RecordArgs) -> Result<(String, usize), String> {
    let listen = resolve(&args.listen)?;
    let mut state = StartingState::default();
    let mut local = None;
    let upstream = match &args.upstream {
        Some(addr) => {
            if !args.server_flags.is_empty() {
                return Err(
                    "serve flags after `--` need the in-process server: drop --upstream".into(),
                );
            }
            state.upstream = Some(addr.clone());
            let resolved = resolve(addr)?;
            // Said now, not as a transcript without steps once the clients have tried.
            if let Err(e) = std::net::TcpStream::connect_timeout(&resolved, Duration::from_secs(3))
            {
                return Err(format!(
                    "cannot reach the upstream {addr}: {}: start that server first (or drop --upstream to record an in-process wordwire)",
                    crate::grading::play::io_message(&e)
                ));
            }
            resolved
        }
        None => {
            if let Some(flag) = args
                .server_flags
                .iter()
                .find(|f| ["--addr", "--store"].contains(&f.split('=').next().unwrap_or("")))
            {
                return Err(format!(
                    "{flag}: record sets its server's address and store itself (a starting store: --seed FILE)"
                ));
            }
            let store = match &args.seed {
                Some(path) => Some(
                    std::fs::read(path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                ),
                None => None,
            };
            let name = args.seed.as_ref().map(|seed| seed.display().to_string());
            let name = name.as_deref().unwrap_or("the starting store");
            let server = LocalServer::start_with(&args.server_flags, store.as_deref(), name, None)?;
            let addr = server.addr();
            state.server_flags = args.server_flags.clone();
            state.store = store;
            local = Some(server);
            addr
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }
    let sink = args.trace.then(trace::stderr_sink);
    let relay = Relay::start(listen, upstream, sink)
        .map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::AddrInUse {
                "; another process listens there: stop it, or choose another port (--listen 127.0.0.1:0 picks a free one and prints it)"
            } else {
                ""
            };
            format!("cannot listen on {listen}: {e}{hint}")
        })?;
    if let Some(n) = args.max_bytes {
        relay.set_max_bytes(n);
    }
    let what = if local.is_some() {
        "an in-process wordwire server"
    } else {
        "the server"
    };
    eprintln!("listening on {}", relay.addr());
    eprintln!(
        "relaying to {what} at {upstream}; {} writes the transcript",
        if args.once {
            "the end of the first connection"
        } else {
            "Ctrl-C"
        }
    );
    let _ = io::stderr().flush();
    let done = || {
        stop.load(Ordering::SeqCst)
            || relay.full()
            || (args.once && relay.accepted() > 0 && relay.finished() > 0)
    };
    while !done() {
        std::thread::sleep(Duration::from_millis(20));
    }
    if relay.full() {
        state.cut_at = args.max_bytes;
        eprintln!(
            "--max-bytes {} reached: stopped recording after {} bytes; the transcript holds what came before",
            args.max_bytes.unwrap_or(0),
            relay.recorded()
        );
    }
    let events = relay.finish();
    if let Some(server) = local {
        server.stop()?;
    }
    let text = render(&events, &state, Duration::from_millis(args.pause));
    let conns = events.iter().filter(|e| e.kind == EventKind::Open).count();
    Ok((text, conns))
}
