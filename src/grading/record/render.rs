//! Writing a recorded timeline as a transcript that replays as it is.
//!
//! How the timeline becomes steps (`render`): see `grading::record`'s header.
//! Here: framing the server's bytes into responses as replay
//! frames them, the header comment and set-up lines, the text.
//! Elsewhere: recording the timeline (`grading::record::relay`), the grammar,
//! escapes and normalisation (`grading::suite::transcript`).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::relay::{Event, EventKind, connection_name};
use crate::client::{ReadError, Response, ResponseReader};
use crate::escape;
use crate::grading::judge::contract::check_body;
use crate::grading::suite::rooms::BodyRule;
use crate::grading::suite::transcript::{self, DEFAULT_TIMEOUT};
use crate::http::{BodyDecoder, HeadLimits, Method, Progress, parse_head};

/// What the header comment and set-up lines say about the server recorded against.
#[derive(Debug, Clone, Default)]
pub struct StartingState {
    /// `Some(addr)` for a server we did not start; `None` for the in-process one.
    pub upstream: Option<String>,
    /// `serve` flags of the in-process server.
    pub server_flags: Vec<String>,
    /// Starting store of the in-process server, if it had one.
    pub store: Option<Vec<u8>>,
    /// `Some(n)`: the recording stopped at `--max-bytes n`; what came after is not in it.
    pub cut_at: Option<u64>,
}

/// One response framed out of a connection's received bytes.
struct Framed {
    /// Index (into the timeline) of the event that completed it.
    at_event: usize,
    after_head: bool,
    /// The request was GET or HEAD: its body is the data, not a message.
    reads_data: bool,
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

/// For each request in the client's bytes, its method; stops at the first request the
/// server's parser cannot walk past.
fn request_methods(sent: &[u8]) -> Vec<Method> {
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
        heads.push(value.method.clone());
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
    let methods = request_methods(&sent);
    let last = Arc::new(AtomicUsize::new(0));
    let mut reader = ResponseReader::new(Chunks {
        chunks,
        close,
        last: last.clone(),
    });
    let mut side = ServerSide::default();
    let mut answered = 0;
    loop {
        let method = methods.get(answered);
        let after_head = method == Some(&Method::Head);
        let reads_data = matches!(method, Some(Method::Get | Method::Head));
        match reader.read_response(after_head) {
            Ok(response) => {
                if !response.is_interim() {
                    answered += 1;
                }
                side.responses.push_back(Framed {
                    at_event: last.load(Ordering::SeqCst),
                    after_head,
                    reads_data,
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
            for line in escape::render_lines(&bytes, '>') {
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
            // A message in any wording, so the recording replays against another server
            // at contract or assignment level (the bytes stay for byte-exact replay).
            let r = &framed.response;
            let data = framed.reads_data && r.status == 200;
            if !data
                && !r.body.is_empty()
                && check_body(&BodyRule::Message(None), &r.body).is_none()
            {
                let _ = writeln!(body, "  ~ body message");
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
                for line in escape::render_lines(&bytes, '<') {
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
            for line in escape::render_lines(&bytes, '<') {
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
    if let Some(n) = state.cut_at {
        let _ = writeln!(
            out,
            "# The recording stopped at {n} bytes (--max-bytes): what came after is not here."
        );
    }
    if !state.server_flags.is_empty() {
        let _ = writeln!(out, "server {}", state.server_flags.join(" "));
    }
    if let Some(bytes) = &state.store {
        out.push_str("store\n");
        let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if !bytes.is_empty() {
            for line in text.split(|&b| b == b'\n') {
                let rendered = escape::render_lines(line, '|');
                let _ = writeln!(out, "  {}", rendered.first().map_or("|", String::as_str));
            }
        }
    }
    out
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
                // POST's answer is a message: any wording replays at contract level.
                "  ~ body message",
                "half-close a",
                "expect-close a",
            ]
        );
    }

    #[test]
    fn a_message_gets_room_for_any_wording_and_the_data_does_not() {
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let events = [
            at(0, 0, EventKind::Open),
            at(1, 0, EventKind::Sent(get.clone())),
            at(
                2,
                0,
                EventKind::Received(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nalpha\n".to_vec(),
                ),
            ),
            at(3, 0, EventKind::Sent(get)),
            at(
                4,
                0,
                EventKind::Received(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n\r\nlogin\n".to_vec(),
                ),
            ),
        ];
        let text = render(
            &events,
            &StartingState::default(),
            Duration::from_millis(200),
        );
        let rooms: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "~ body message")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(rooms.len(), 1, "{text}");
        let before: Vec<&str> = text.lines().take(rooms[0]).collect();
        assert!(before.last().unwrap().contains("= body 6 bytes"), "{text}");
        assert!(before.iter().any(|l| l.contains("401")), "{text}");
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
            cut_at: None,
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
