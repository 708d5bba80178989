//! `wordwire record`: a relay that passes bytes both ways unchanged and writes what passed as a transcript.
//!
//! Here: accepting, relaying with two plain threads per connection (a learner's
//! tool, not the server: no event loop), the timeline of what each side did,
//! and turning that timeline into a transcript that replays as it is.
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

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cli::record::RecordArgs;
use crate::client::{ReadError, Response, ResponseReader};
use crate::grading::suite::transcript::{self, DEFAULT_TIMEOUT};
use crate::grading::target::local::LocalServer;
use crate::http::{BodyDecoder, HeadLimits, Method, Progress, parse_head};
use crate::trace::{self, Direction, Tracer};

/// What one side of one connection did, in the order the relay saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The relay accepted the client and connected to the server.
    Open,
    /// Bytes from the client, as one read returned them.
    Sent(Vec<u8>),
    /// The client ended its input (FIN).
    HalfClose,
    /// The client reset the connection.
    Reset,
    /// Bytes from the server, as one read returned them.
    Received(Vec<u8>),
    /// The server closed (FIN or reset).
    ServerClosed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Index of the connection, in accept order.
    pub conn: usize,
    /// Time since the recording started.
    pub at: Duration,
    pub kind: EventKind,
}

/// What the header comment and set-up lines say about the server recorded against.
#[derive(Debug, Clone, Default)]
pub struct StartingState {
    /// `Some(addr)` for a server we did not start; `None` for the in-process one.
    pub upstream: Option<String>,
    /// `serve` flags of the in-process server.
    pub server_flags: Vec<String>,
    /// Starting store of the in-process server, if it had one.
    pub store: Option<Vec<u8>>,
}

struct Shared {
    start: Instant,
    events: Mutex<Vec<Event>>,
    stopping: AtomicBool,
    trace: Option<trace::Sink>,
    /// Connections whose both directions have ended.
    finished: AtomicUsize,
}

impl Shared {
    fn push(&self, conn: usize, kind: EventKind) {
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        let mut events = self
            .events
            .lock()
            .expect("no thread panics while holding the event lock");
        events.push(Event {
            conn,
            at: self.start.elapsed(),
            kind,
        });
    }
}

/// A running relay; `finish` stops it and returns the timeline.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accepted: Arc<AtomicUsize>,
    acceptor: Option<JoinHandle<()>>,
    /// Both sockets of every connection, to shut them at the end.
    sockets: Arc<Mutex<Vec<(TcpStream, TcpStream)>>>,
    pumps: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    /// Listens on `listen` and relays every connection to `upstream`. With `trace`,
    /// every byte is also written to that sink as it passes.
    pub fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        trace: Option<trace::Sink>,
    ) -> io::Result<Relay> {
        let listener = TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            trace,
            finished: AtomicUsize::new(0),
        });
        let accepted = Arc::new(AtomicUsize::new(0));
        let sockets = Arc::new(Mutex::new(Vec::new()));
        let pumps = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let shared = shared.clone();
            let accepted = accepted.clone();
            let sockets = sockets.clone();
            let pumps = pumps.clone();
            std::thread::spawn(move || {
                accept_loop(listener, upstream, &shared, &accepted, &sockets, &pumps);
            })
        };
        Ok(Relay {
            addr,
            shared,
            accepted,
            acceptor: Some(acceptor),
            sockets,
            pumps,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections whose both directions have ended.
    pub fn finished(&self) -> usize {
        self.shared.finished.load(Ordering::SeqCst)
    }

    /// Waits (up to `within`) until `n` connections have ended on both sides.
    pub fn wait_finished(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.finished() < n {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Stops accepting, cuts the connections still open (recording nothing more),
    /// and returns the timeline.
    pub fn finish(mut self) -> Vec<Event> {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for (client, server) in self
            .sockets
            .lock()
            .expect("no panic holds the socket lock")
            .iter()
        {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
        let pumps = std::mem::take(&mut *self.pumps.lock().expect("no panic holds the pump lock"));
        for pump in pumps {
            let _ = pump.join();
        }
        std::mem::take(
            &mut *self
                .shared
                .events
                .lock()
                .expect("no thread panics while holding the event lock"),
        )
    }
}

fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    shared: &Arc<Shared>,
    accepted: &AtomicUsize,
    sockets: &Mutex<Vec<(TcpStream, TcpStream)>>,
    pumps: &Mutex<Vec<JoinHandle<()>>>,
) {
    while !shared.stopping.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => {
                eprintln!("wordwire record: accept: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let server = match TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) {
            Ok(server) => server,
            Err(e) => {
                eprintln!(
                    "wordwire record: cannot connect to {upstream}: {e}; dropping the client"
                );
                continue;
            }
        };
        let conn = accepted.fetch_add(1, Ordering::SeqCst);
        let tracer = shared
            .trace
            .clone()
            .map(|sink| Tracer::new(sink, format!("{} ", connection_name(conn))));
        if let Some(tracer) = &tracer {
            tracer.note(&format!("accepted; relaying to {upstream}"));
        }
        let opened = (|| -> io::Result<_> {
            client.set_nonblocking(false)?;
            // Each burst should leave as it came, so that pauses mean the same on both sides.
            client.set_nodelay(true)?;
            server.set_nodelay(true)?;
            Ok((
                client.try_clone()?,
                server.try_clone()?,
                client.try_clone()?,
                server.try_clone()?,
            ))
        })();
        let Ok((client_w, server_w, client_keep, server_keep)) = opened else {
            continue;
        };
        shared.push(conn, EventKind::Open);
        sockets
            .lock()
            .expect("no panic holds the socket lock")
            .push((client_keep, server_keep));
        let done = Arc::new(AtomicUsize::new(0));
        let up = {
            let (shared, tracer, done) = (shared.clone(), tracer.clone(), done.clone());
            std::thread::spawn(move || {
                pump_to_server(conn, client, server_w, &shared, tracer.as_ref());
                if done.fetch_add(1, Ordering::SeqCst) == 1 {
                    shared.finished.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let down = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                pump_to_client(conn, server, client_w, &shared, tracer.as_ref());
                if done.fetch_add(1, Ordering::SeqCst) == 1 {
                    shared.finished.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let mut pumps = pumps.lock().expect("no panic holds the pump lock");
        pumps.push(up);
        pumps.push(down);
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

/// Client → server. Each read is recorded before it is forwarded, so that anything
/// the server sends in answer is recorded after it.
fn pump_to_server(
    conn: usize,
    mut client: TcpStream,
    mut server: TcpStream,
    shared: &Shared,
    tracer: Option<&Tracer>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        match client.read(&mut buf) {
            Ok(0) => {
                shared.push(conn, EventKind::HalfClose);
                if let Some(t) = tracer {
                    t.note("the client half-closed");
                }
                let _ = server.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                shared.push(conn, EventKind::Sent(buf[..n].to_vec()));
                if let Some(t) = tracer {
                    t.bytes(Direction::ToServer, &buf[..n]);
                }
                if server.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                if is_reset(&e) {
                    shared.push(conn, EventKind::Reset);
                    if let Some(t) = tracer {
                        t.note("the client reset the connection");
                    }
                }
                let _ = server.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Server → client, recorded before it is forwarded.
fn pump_to_client(
    conn: usize,
    mut server: TcpStream,
    mut client: TcpStream,
    shared: &Shared,
    tracer: Option<&Tracer>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        match server.read(&mut buf) {
            Ok(n) if n > 0 => {
                shared.push(conn, EventKind::Received(buf[..n].to_vec()));
                if let Some(t) = tracer {
                    t.bytes(Direction::ToClient, &buf[..n]);
                }
                // A client that has gone away must not stop the recording of what the server sent.
                let _ = client.write_all(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => {
                if matches!(&result, Ok(0)) || result.as_ref().is_err_and(is_reset) {
                    shared.push(conn, EventKind::ServerClosed);
                    if let Some(t) = tracer {
                        t.note("the server closed");
                    }
                }
                let _ = client.shutdown(Shutdown::Write);
                return;
            }
        }
    }
}

/// `a` … `z`, then `c27`, `c28`, …
pub fn connection_name(index: usize) -> String {
    match u8::try_from(index) {
        Ok(i) if i < 26 => char::from(b'a' + i).to_string(),
        _ => format!("c{}", index + 1),
    }
}

/// One response framed out of a connection's received bytes.
struct Framed {
    /// Index (into the timeline) of the event that completed it.
    at_event: usize,
    after_head: bool,
    response: Response,
}

/// What the server side of one connection comes to.
#[derive(Default)]
struct ServerSide {
    responses: VecDeque<Framed>,
    /// Bytes after the last complete response, and why they are not one.
    leftover: Option<(Vec<u8>, String)>,
}

/// The received chunks of one connection, read by `ResponseReader` one at a time,
/// remembering which event the last byte handed out came from.
struct Chunks {
    chunks: VecDeque<(usize, Vec<u8>)>,
    /// The event index of the server's close, if it closed.
    close: Option<usize>,
    last: Arc<AtomicUsize>,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some((index, chunk)) = self.chunks.front_mut() else {
            return match self.close {
                Some(index) => {
                    self.last.store(index, Ordering::SeqCst);
                    Ok(0)
                }
                None => Err(io::ErrorKind::WouldBlock.into()),
            };
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.last.store(*index, Ordering::SeqCst);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.chunks.pop_front();
        }
        Ok(n)
    }
}

/// For each request in the client's bytes, whether it was HEAD; stops at the first
/// request the server's parser cannot walk past.
fn head_requests(sent: &[u8]) -> Vec<bool> {
    let limits = HeadLimits {
        max_line: 1 << 20,
        max_header_bytes: 1 << 24,
        max_body: u64::MAX,
    };
    let mut heads = Vec::new();
    let mut pos = 0;
    while pos < sent.len() {
        let Ok(Progress::Done { value, consumed }) = parse_head(&sent[pos..], &limits) else {
            break;
        };
        heads.push(value.method == Method::Head);
        pos += consumed;
        let mut decoder = BodyDecoder::new(value.framing, &limits);
        match decoder.decode_into(&sent[pos..], &mut Vec::new()) {
            Ok((used, true)) => pos += used,
            _ => break,
        }
    }
    heads
}

fn frame_server_side(events: &[Event], conn: usize) -> ServerSide {
    let mut sent = Vec::new();
    let mut chunks = VecDeque::new();
    let mut close = None;
    for (i, e) in events.iter().enumerate().filter(|(_, e)| e.conn == conn) {
        match &e.kind {
            EventKind::Sent(bytes) => sent.extend_from_slice(bytes),
            EventKind::Received(bytes) => chunks.push_back((i, bytes.clone())),
            EventKind::ServerClosed => close = Some(i),
            _ => {}
        }
    }
    let heads = head_requests(&sent);
    let last = Arc::new(AtomicUsize::new(0));
    let mut reader = ResponseReader::new(Chunks {
        chunks,
        close,
        last: last.clone(),
    });
    let mut side = ServerSide::default();
    let mut answered = 0;
    loop {
        let after_head = heads.get(answered).copied().unwrap_or(false);
        match reader.read_response(after_head) {
            Ok(response) => {
                if !response.is_interim() {
                    answered += 1;
                }
                side.responses.push_back(Framed {
                    at_event: last.load(Ordering::SeqCst),
                    after_head,
                    response,
                });
            }
            Err(ReadError::Closed) => return side,
            Err(ReadError::TimedOut { partial }) if partial.is_empty() => return side,
            Err(e) => {
                let why = match &e {
                    ReadError::TimedOut { .. } => {
                        "no complete response when the recording ended".to_string()
                    }
                    other => other.to_string(),
                };
                side.leftover = Some((e.partial().to_vec(), why));
                return side;
            }
        }
    }
}

/// The transcript text for a timeline. `pause` is the threshold for `wait` and for
/// merging reads into one `send`.
pub fn render(events: &[Event], state: &StartingState, pause: Duration) -> String {
    let conns = events.iter().map(|e| e.conn + 1).max().unwrap_or(0);
    let mut sides: Vec<ServerSide> = (0..conns).map(|c| frame_server_side(events, c)).collect();
    let mut body = String::new();
    // The previous step: its time, and (for a send) its connection, to merge bursts.
    // No wait before the first step: the time before the first connection is the learner's.
    let mut last_at = events.first().map_or(Duration::ZERO, |e| e.at);
    let mut last_send: Option<usize> = None;
    let mut server_closed = vec![false; conns];
    let mut dropped = vec![0usize; conns];
    let mut longest_wait_for_server = Duration::ZERO;
    let mut last_client_action = last_at;
    let mut pending_send: Option<(usize, Vec<u8>)> = None;
    let flush_send = |body: &mut String, pending: &mut Option<(usize, Vec<u8>)>| {
        if let Some((conn, bytes)) = pending.take() {
            let _ = writeln!(body, "send {}", connection_name(conn));
            for line in transcript::render_lines(&bytes, '>') {
                let _ = writeln!(body, "  {line}");
            }
        }
    };
    for (i, event) in events.iter().enumerate() {
        let name = connection_name(event.conn);
        let client_action = matches!(
            event.kind,
            EventKind::Open | EventKind::Sent(_) | EventKind::HalfClose | EventKind::Reset
        );
        if client_action && server_closed[event.conn] {
            if let EventKind::Sent(bytes) = &event.kind {
                dropped[event.conn] += bytes.len();
            }
            continue;
        }
        if client_action {
            let gap = event.at.saturating_sub(last_at);
            let merge = matches!(event.kind, EventKind::Sent(_))
                && last_send == Some(event.conn)
                && gap <= pause;
            if merge {
                if let (EventKind::Sent(bytes), Some((_, pending))) =
                    (&event.kind, &mut pending_send)
                {
                    pending.extend_from_slice(bytes);
                }
                last_at = event.at;
                last_client_action = event.at;
                continue;
            }
            flush_send(&mut body, &mut pending_send);
            if gap > pause {
                let _ = writeln!(body, "wait {}", gap.as_millis());
            }
            last_send = None;
            match &event.kind {
                EventKind::Open => {
                    let _ = writeln!(body, "open {name}");
                }
                EventKind::Sent(bytes) => {
                    pending_send = Some((event.conn, bytes.clone()));
                    last_send = Some(event.conn);
                }
                EventKind::HalfClose => {
                    let _ = writeln!(body, "half-close {name}");
                }
                EventKind::Reset => {
                    let _ = writeln!(body, "close {name}");
                }
                _ => unreachable!("only client actions reach here"),
            }
            last_at = event.at;
            last_client_action = event.at;
            continue;
        }
        // A server event: the responses it completed, then the close.
        let side = &mut sides[event.conn];
        let mut wrote = false;
        while side.responses.front().is_some_and(|r| r.at_event == i) {
            let framed = side.responses.pop_front().expect("front was just checked");
            flush_send(&mut body, &mut pending_send);
            let head = if framed.after_head { " HEAD" } else { "" };
            let _ = writeln!(body, "expect {name}{head}");
            let normalised = transcript::normalise(&framed.response.raw);
            let stated = transcript::body_line(&framed.response);
            for line in transcript::render_expect(&normalised, Some(&stated)) {
                let _ = writeln!(body, "  {line}");
            }
            wrote = true;
        }
        if event.kind == EventKind::ServerClosed {
            flush_send(&mut body, &mut pending_send);
            server_closed[event.conn] = true;
            if let Some((bytes, why)) = side.leftover.take() {
                let _ = writeln!(
                    body,
                    "# connection {name}: {why}; the server then closed. Its last bytes, not replayable:"
                );
                for line in transcript::render_lines(&bytes, '<') {
                    let _ = writeln!(body, "#   {line}");
                }
            } else {
                let _ = writeln!(body, "expect-close {name}");
            }
            wrote = true;
        }
        if wrote {
            longest_wait_for_server =
                longest_wait_for_server.max(event.at.saturating_sub(last_client_action));
            last_at = event.at;
            last_send = None;
        }
    }
    flush_send(&mut body, &mut pending_send);
    for (conn, side) in sides.iter_mut().enumerate() {
        if let Some((bytes, why)) = side.leftover.take() {
            let _ = writeln!(
                body,
                "# connection {}: {why}; {} bytes not shown as an expect:",
                connection_name(conn),
                bytes.len()
            );
            for line in transcript::render_lines(&bytes, '<') {
                let _ = writeln!(body, "#   {line}");
            }
        }
        if dropped[conn] > 0 {
            let _ = writeln!(
                body,
                "# connection {}: the client sent {} more bytes after the server closed; not replayed",
                connection_name(conn),
                dropped[conn]
            );
        }
    }
    let mut out = header(state, conns);
    // An expect waits `timeout` for its bytes; the slowest answer recorded must fit, with room.
    let needed = longest_wait_for_server * 2 + Duration::from_secs(1);
    if needed > DEFAULT_TIMEOUT {
        let _ = writeln!(out, "timeout {}", needed.as_millis());
    }
    out.push_str(&body);
    out
}

fn header(state: &StartingState, conns: usize) -> String {
    let mut out = String::from("# Recorded by `wordwire record`");
    let _ = writeln!(
        out,
        ": {conns} connection{}.",
        if conns == 1 { "" } else { "s" }
    );
    match &state.upstream {
        Some(addr) => {
            let _ = writeln!(
                out,
                "# Starting state: whatever the server at {addr} held when the recording began\n\
                 # (wordwire cannot see it). `wordwire replay` runs this against an in-process\n\
                 # wordwire server with an empty store and default flags; `--target` against yours."
            );
        }
        None => {
            let store = match &state.store {
                None => "an empty store".to_string(),
                Some(bytes) => {
                    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
                    format!(
                        "a store of {lines} line{} (the store block)",
                        if lines == 1 { "" } else { "s" }
                    )
                }
            };
            let flags = if state.server_flags.is_empty() {
                "default flags".to_string()
            } else {
                format!("the flags `{}`", state.server_flags.join(" "))
            };
            let _ = writeln!(
                out,
                "# Starting state: an in-process wordwire server with {flags} on {store}."
            );
        }
    }
    if !state.server_flags.is_empty() {
        let _ = writeln!(out, "server {}", state.server_flags.join(" "));
    }
    if let Some(bytes) = &state.store {
        out.push_str("store\n");
        let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if !bytes.is_empty() {
            for line in text.split(|&b| b == b'\n') {
                let rendered = transcript::render_lines(line, '|');
                let _ = writeln!(out, "  {}", rendered.first().map_or("|", String::as_str));
            }
        }
    }
    out
}

/// Runs `wordwire record`: 0 when the transcript was written, 2 if it could not run.
pub fn run(args: RecordArgs) -> ExitCode {
    match run_record(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wordwire record: {e}");
            ExitCode::from(2)
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
            resolve(addr)?
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
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
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
        stop.load(Ordering::SeqCst) || (args.once && relay.accepted() > 0 && relay.finished() > 0)
    };
    while !done() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let events = relay.finish();
    if let Some(server) = local {
        server.stop()?;
    }
    let text = render(&events, &state, Duration::from_millis(args.pause));
    let conns = events.iter().filter(|e| e.kind == EventKind::Open).count();
    Ok((text, conns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64, conn: usize, kind: EventKind) -> Event {
        Event {
            conn,
            at: Duration::from_millis(ms),
            kind,
        }
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: wordwire/0.1.0\r\nContent-Length: 3\r\n\r\nok\n";

    #[test]
    fn bursts_merge_pauses_wait_and_responses_are_placed_where_they_completed() {
        let events = [
            at(0, 0, EventKind::Open),
            at(
                1,
                0,
                EventKind::Sent(b"POST / HTTP/1.1\r\nHost: x\r\n".to_vec()),
            ),
            at(2, 0, EventKind::Sent(b"Content-Length: 2\r\n\r\n".to_vec())),
            at(500, 0, EventKind::Sent(b"hi".to_vec())),
            at(501, 0, EventKind::Received(OK[..20].to_vec())),
            at(502, 0, EventKind::Received(OK[20..].to_vec())),
            at(503, 0, EventKind::HalfClose),
            at(504, 0, EventKind::ServerClosed),
        ];
        let text = render(
            &events,
            &StartingState::default(),
            Duration::from_millis(200),
        );
        let steps: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            steps,
            [
                "open a",
                "send a",
                "  > POST / HTTP/1.1\\r\\n",
                "  > Host: x\\r\\n",
                "  > Content-Length: 2\\r\\n",
                "  > \\r\\n",
                "wait 498",
                "send a",
                "  > hi",
                "expect a",
                "  < HTTP/1.1 200 OK\\r\\n",
                "  < Date: [DATE]\\r\\n",
                "  < Server: [SERVER]\\r\\n",
                "  < Content-Length: 3\\r\\n",
                "  < \\r\\n",
                "  < ok\\n",
                "  = body 3 bytes",
                "half-close a",
                "expect-close a",
            ]
        );
    }

    #[test]
    fn a_head_request_is_expected_as_head() {
        let events = [
            at(0, 0, EventKind::Open),
            at(
                1,
                0,
                EventKind::Sent(
                    b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                ),
            ),
            at(
                2,
                0,
                EventKind::Received(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n".to_vec()),
            ),
            at(
                3,
                0,
                EventKind::Received(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n".to_vec()),
            ),
        ];
        let text = render(
            &events,
            &StartingState::default(),
            Duration::from_millis(200),
        );
        assert!(
            text.contains("expect a HEAD\n  < HTTP/1.1 200 OK\\r\\n"),
            "{text}"
        );
        assert!(
            text.contains("expect a\n  < HTTP/1.1 200 OK\\r\\n"),
            "{text}"
        );
    }

    #[test]
    fn a_slow_answer_raises_the_timeout_and_a_store_is_written_as_a_block() {
        let events = [
            at(0, 0, EventKind::Open),
            at(
                1,
                0,
                EventKind::Sent(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
            ),
            at(9001, 0, EventKind::Received(OK.to_vec())),
        ];
        let state = StartingState {
            upstream: None,
            server_flags: vec!["--auth-all".into()],
            store: Some(b"alpha\nbeta\n".to_vec()),
        };
        let text = render(&events, &state, Duration::from_millis(200));
        assert!(
            text.contains(
                "\nserver --auth-all\nstore\n  | alpha\n  | beta\ntimeout 19000\nopen a\n"
            ),
            "{text}"
        );
        assert!(text.starts_with("# Recorded by `wordwire record`: 1 connection.\n# Starting state: an in-process wordwire server with the flags `--auth-all` on a store of 2 lines"), "{text}");
    }

    #[test]
    fn a_response_cut_off_by_the_close_becomes_a_comment_and_the_file_still_parses() {
        let events = [
            at(0, 0, EventKind::Open),
            at(
                1,
                0,
                EventKind::Sent(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
            ),
            at(2, 0, EventKind::Received(OK[..30].to_vec())),
            at(3, 0, EventKind::ServerClosed),
            at(4, 0, EventKind::Sent(b"late".to_vec())),
        ];
        let text = render(
            &events,
            &StartingState::default(),
            Duration::from_millis(200),
        );
        assert!(!text.contains("expect-close"), "{text}");
        assert!(text.contains("#   < HTTP/1.1 200 OK\\r\\n\n"), "{text}");
        assert!(
            text.contains("the client sent 4 more bytes after the server closed"),
            "{text}"
        );
        let t =
            crate::grading::suite::transcript::Transcript::parse(std::path::Path::new("x"), &text);
        assert!(t.is_ok(), "{text}");
    }

    #[test]
    fn connections_are_named_by_letter_then_number() {
        assert_eq!(connection_name(0), "a");
        assert_eq!(connection_name(25), "z");
        assert_eq!(connection_name(26), "c27");
    }
}
