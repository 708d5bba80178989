//! Reads HTTP/1.1 responses off a byte stream, one after another, keeping their exact bytes.
//!
//! Here: `ResponseReader` (status line, field lines, and a body delimited by
//! Content-Length, chunked coding or the close of the connection; 1xx interim
//! responses come back as responses of their own), `Response`, `ReadError`.
//! Every `Response` keeps the exact bytes it was read from, so `replay` can
//! compare them byte for byte. Elsewhere: sending requests (`client`).
//!
//! The reader is deliberately lenient about line ends (a bare LF ends a line too):
//! a grader must be able to frame a wrong answer in order to show it, and the
//! exact bytes in `Response::raw` still carry every CR the server did or did not send.

use std::io::{self, Read};

/// How a response's body was delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body by rule: a 1xx, 204 or 304 status, or the answer to HEAD.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`; `Response::body` is the decoded content.
    Chunked,
    /// Neither: the body is everything up to the close of the connection.
    UntilClose,
}

/// One response as read: its parts, and the exact bytes they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `HTTP/1.1`, as sent.
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// Field lines in order, names as sent, values trimmed of OWS.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The content: decoded if the body was chunked.
    pub body: Vec<u8>,
    pub framing: BodyFraming,
    /// Every byte of the response: head, body and any chunked framing.
    pub raw: Vec<u8>,
    /// How many bytes of `raw` are the head: status line, field lines, empty line.
    pub head_len: usize,
}

impl Response {
    /// The value of the first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// A 1xx response, which precedes the final one (RFC 9110 §15.2).
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// The head's exact bytes: status line, field lines and the empty line.
    pub fn head(&self) -> &[u8] {
        &self.raw[..self.head_len]
    }

    pub fn status_line(&self) -> String {
        format!("{} {} {}", self.version, self.status, self.reason)
    }
}

/// Why no complete response could be read. Each variant keeps the bytes that did arrive.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer closed the connection before sending any byte of a response.
    #[error("connection closed before a response")]
    Closed,
    /// The peer closed the connection in the middle of a response.
    /// Example: `Content-Length: 10` and then 4 bytes and a close.
    #[error("connection closed after {} bytes of a response", partial.len())]
    Truncated { partial: Vec<u8> },
    /// The bytes are not an HTTP/1.1 response. Example: `hello\r\n\r\n`.
    #[error("malformed response: {reason}")]
    Malformed { reason: String, partial: Vec<u8> },
    /// Nothing more arrived within the stream's read timeout.
    #[error("no complete response within the read timeout ({} bytes received)", partial.len())]
    TimedOut { partial: Vec<u8> },
    /// The operating system reported an error (e.g. connection reset).
    #[error("{source} ({} bytes received)", partial.len())]
    Io {
        #[source]
        source: io::Error,
        partial: Vec<u8>,
    },
}

impl ReadError {
    /// The bytes of the unfinished response that arrived before the failure.
    pub fn partial(&self) -> &[u8] {
        match self {
            ReadError::Closed => &[],
            ReadError::Truncated { partial }
            | ReadError::Malformed { partial, .. }
            | ReadError::TimedOut { partial }
            | ReadError::Io { partial, .. } => partial,
        }
    }
}

/// Reads responses one after another from a stream, keeping bytes that
/// belong to the next response (pipelining) for the next call.
pub struct ResponseReader<R> {
    inner: R,
    buf: Vec<u8>,
    eof: bool,
    /// The most bytes one response may take (`MAX_RESPONSE`, or the caller's).
    max_response: usize,
}

/// How far a chunked body has been decoded: its chunks before `pos` (an offset in the
/// body's bytes) are in `body`, so that a read decodes only what is new, not the whole
/// body again.
#[derive(Debug, Default)]
struct ChunkedSoFar {
    pos: usize,
    body: Vec<u8>,
}

/// The largest response read: a server that never stops sending (a body without a length
/// that never closes, endless chunks) is malformed past it, instead of filling the memory
/// of the client, or of the grader, until the allocator aborts. A GET of a store of
/// 256 MiB, some forty million words, still fits.
pub const MAX_RESPONSE: usize = 256 << 20;

/// How much of a response over `MAX_RESPONSE` its error keeps, for the report.
const KEPT_OF_TOO_LARGE: usize = 4096;

/// The result of trying to parse from the buffer.
enum Parsed<T> {
    Done(T, usize),
    NeedMore,
}

impl<R: Read> ResponseReader<R> {
    pub fn new(inner: R) -> ResponseReader<R> {
        ResponseReader {
            inner,
            buf: Vec::new(),
            eof: false,
            max_response: MAX_RESPONSE,
        }
    }

    /// As `new`, with another limit on the bytes of one response: `grading::play` reads a
    /// server under test with 1 MiB (`play::MAX_RESPONSE`), the tests with less.
    pub fn with_max_response(inner: R, max_response: usize) -> ResponseReader<R> {
        ResponseReader {
            max_response,
            ..ResponseReader::new(inner)
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Bytes received but not yet part of a returned response.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the bytes received but not yet part of a returned response.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Reads more bytes into the buffer. `Ok(0)` means the peer closed.
    pub fn fill(&mut self) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        let mut chunk = [0u8; 8192];
        loop {
            match self.inner.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one response. `after_head` says the request was HEAD, so the
    /// response has no body whatever its fields say (RFC 9110 §9.3.2).
    pub fn read_response(&mut self, after_head: bool) -> Result<Response, ReadError> {
        // The chunks of this response decoded so far: each read decodes only what is new.
        let mut chunked = ChunkedSoFar::default();
        loop {
            let parsed = parse_response_from(&self.buf, after_head, self.eof, &mut chunked);
            match parsed {
                Err(reason) => {
                    return Err(ReadError::Malformed {
                        reason,
                        partial: std::mem::take(&mut self.buf),
                    });
                }
                Ok(Parsed::Done(mut response, used)) => {
                    response.raw = self.buf.drain(..used).collect();
                    return Ok(response);
                }
                Ok(Parsed::NeedMore) => {}
            }
            if self.buf.len() > self.max_response {
                let mut partial = std::mem::take(&mut self.buf);
                partial.truncate(KEPT_OF_TOO_LARGE);
                return Err(ReadError::Malformed {
                    reason: format!(
                        "the response is over {} bytes and has not ended",
                        self.max_response
                    ),
                    partial,
                });
            }
            if self.eof {
                return Err(self.closed_error());
            }
            match self.fill() {
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {
                    return Err(ReadError::TimedOut {
                        partial: std::mem::take(&mut self.buf),
                    });
                }
                Err(source) => {
                    return Err(ReadError::Io {
                        source,
                        partial: std::mem::take(&mut self.buf),
                    });
                }
            }
        }
    }

    fn closed_error(&mut self) -> ReadError {
        if self.buf.is_empty() {
            ReadError::Closed
        } else {
            ReadError::Truncated {
                partial: std::mem::take(&mut self.buf),
            }
        }
    }
}

/// True for the errors a socket read timeout produces (the kind differs by platform).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Where the unfinished response in `partial` stopped, as a phrase for a message:
/// `in the head: no empty line ended it`, `in the body: Content-Length 10, 2 bytes of it sent`.
/// `None` if nothing arrived, or if the bytes are not an unfinished response.
pub fn where_it_stopped(partial: &[u8], after_head: bool) -> Option<String> {
    if take_line(partial).is_none() {
        return (!partial.is_empty()).then(|| "in the status line: no line end came".to_string());
    }
    let Some((response, pos)) = parse_head(partial).ok()? else {
        return Some("in the head: no empty line ended it".to_string());
    };
    let sent = partial.len() - pos;
    match body_framing(&response, after_head).ok()? {
        BodyFraming::None => None,
        BodyFraming::Length(n) => Some(format!(
            "in the body: Content-Length {n}, {sent} bytes of it sent"
        )),
        BodyFraming::Chunked => {
            Some("in the chunked body: its last chunk (`0` and an empty line) never came".to_string())
        }
        BodyFraming::UntilClose => Some(
            "in the body: with neither Content-Length nor chunked coding it ends only when the connection closes"
                .to_string(),
        ),
    }
}

/// Splits off one line ending in LF (with or without CR before it).
/// Returns the line without its terminator and the bytes used.
fn take_line(input: &[u8]) -> Option<(&[u8], usize)> {
    let lf = input.iter().position(|&b| b == b'\n')?;
    let line = &input[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, lf + 1))
}

/// The status line and field lines at the start of `input`, as a `Response` without a body,
/// and the bytes they took; `None` until the empty line that ends them has come.
fn parse_head(input: &[u8]) -> Result<Option<(Response, usize)>, String> {
    let Some((status_line, mut pos)) = take_line(input) else {
        return Ok(None);
    };
    let (version, status, reason) = parse_status_line(status_line)?;
    let mut headers = Vec::new();
    loop {
        let Some((line, used)) = take_line(&input[pos..]) else {
            return Ok(None);
        };
        pos += used;
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':').ok_or_else(|| {
            format!(
                "field line without a colon: {}",
                String::from_utf8_lossy(line)
            )
        })?;
        let name = String::from_utf8_lossy(&line[..colon]).into_owned();
        let value = line[colon + 1..].trim_ascii().to_vec();
        headers.push((name, value));
    }
    let response = Response {
        version,
        status,
        reason,
        headers,
        body: Vec::new(),
        framing: BodyFraming::None,
        raw: Vec::new(),
        head_len: pos,
    };
    Ok(Some((response, pos)))
}

/// The largest response head read (curl's limit on a header is the same 100 KiB): past it
/// the response is malformed, so a server that never ends its head cannot make a reader,
/// which parses the buffer again after each read, spin and grow without bound.
const MAX_HEAD: usize = 100 * 1024;

/// Parses one response from the start of `input`. `eof` says no more bytes will come,
/// which ends a body delimited by the close of the connection.
#[cfg(test)]
fn parse_response(input: &[u8], after_head: bool, eof: bool) -> Result<Parsed<Response>, String> {
    parse_response_from(input, after_head, eof, &mut ChunkedSoFar::default())
}

/// As `parse_response`, going on from the chunks of `input` that `chunked` holds already.
fn parse_response_from(
    input: &[u8],
    after_head: bool,
    eof: bool,
    chunked: &mut ChunkedSoFar,
) -> Result<Parsed<Response>, String> {
    let Some((mut response, pos)) = parse_head(input)? else {
        if input.len() > MAX_HEAD {
            return Err(format!(
                "the response head is over {MAX_HEAD} bytes and has not ended"
            ));
        }
        return Ok(Parsed::NeedMore);
    };
    response.framing = body_framing(&response, after_head)?;
    let rest = &input[pos..];
    match response.framing {
        BodyFraming::None => Ok(Parsed::Done(response, pos)),
        BodyFraming::Length(n) => {
            let n = usize::try_from(n).map_err(|_| "Content-Length too large".to_string())?;
            if rest.len() < n {
                return Ok(Parsed::NeedMore);
            }
            response.body = rest[..n].to_vec();
            Ok(Parsed::Done(response, pos + n))
        }
        BodyFraming::UntilClose => {
            if !eof {
                return Ok(Parsed::NeedMore);
            }
            response.body = rest.to_vec();
            Ok(Parsed::Done(response, input.len()))
        }
        BodyFraming::Chunked => match decode_chunked(rest, chunked)? {
            Parsed::NeedMore => Ok(Parsed::NeedMore),
            Parsed::Done(body, used) => {
                response.body = body;
                Ok(Parsed::Done(response, pos + used))
            }
        },
    }
}

/// `HTTP-version SP 3DIGIT SP reason-phrase` (RFC 9112 §4); the reason may be empty.
fn parse_status_line(line: &[u8]) -> Result<(String, u16, String), String> {
    let text = String::from_utf8_lossy(line);
    let bad = || format!("not a status line: {text:?}");
    let (version, rest) = text.split_once(' ').ok_or_else(bad)?;
    if !version.starts_with("HTTP/") {
        return Err(bad());
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let status = code.parse().map_err(|_| bad())?;
    Ok((version.to_string(), status, reason.to_string()))
}

/// RFC 9112 §6.3, from the client's side.
fn body_framing(response: &Response, after_head: bool) -> Result<BodyFraming, String> {
    if after_head || response.is_interim() || response.status == 204 || response.status == 304 {
        return Ok(BodyFraming::None);
    }
    if let Some(te) = response.header("transfer-encoding") {
        let last = te.rsplit(|&b| b == b',').next().unwrap_or(te).trim_ascii();
        if last.eq_ignore_ascii_case(b"chunked") {
            return Ok(BodyFraming::Chunked);
        }
        return Ok(BodyFraming::UntilClose);
    }
    let mut length: Option<u64> = None;
    for (name, value) in &response.headers {
        if !name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        for item in value.split(|&b| b == b',') {
            let item = std::str::from_utf8(item.trim_ascii()).unwrap_or("");
            let n: u64 = item
                .parse()
                .map_err(|_| format!("bad Content-Length {item:?}"))?;
            if length.is_some_and(|seen| seen != n) {
                return Err("differing Content-Length values".to_string());
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(BodyFraming::UntilClose, BodyFraming::Length))
}

/// Decodes a chunked body (RFC 9112 §7.1), trailers included and discarded, from the
/// chunks `so_far` holds on; each complete chunk is added to `so_far`.
fn decode_chunked(input: &[u8], so_far: &mut ChunkedSoFar) -> Result<Parsed<Vec<u8>>, String> {
    let mut pos = so_far.pos;
    loop {
        let Some((line, used)) = take_line(&input[pos..]) else {
            return Ok(Parsed::NeedMore);
        };
        pos += used;
        let size_text = line
            .split(|&b| b == b';')
            .next()
            .unwrap_or(line)
            .trim_ascii();
        let size = std::str::from_utf8(size_text)
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or_else(|| format!("bad chunk-size {:?}", String::from_utf8_lossy(line)))?;
        if size == 0 {
            loop {
                let Some((trailer, used)) = take_line(&input[pos..]) else {
                    return Ok(Parsed::NeedMore);
                };
                pos += used;
                if trailer.is_empty() {
                    return Ok(Parsed::Done(std::mem::take(&mut so_far.body), pos));
                }
            }
        }
        if input.len() < pos + size {
            return Ok(Parsed::NeedMore);
        }
        let data = &input[pos..pos + size];
        let Some((end, used)) = take_line(&input[pos + size..]) else {
            return Ok(Parsed::NeedMore);
        };
        if !end.is_empty() {
            return Err("chunk data not followed by a line end".to_string());
        }
        // The chunk is complete: keep it, and start there next time.
        so_far.body.extend_from_slice(data);
        pos += size + used;
        so_far.pos = pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that sends `head` and then `a` bytes until `total`, then times out.
    struct EndlessHead {
        head: &'static [u8],
        sent: usize,
        total: usize,
    }

    impl Read for EndlessHead {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.sent >= self.total {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let n = buf.len().min(self.total - self.sent);
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = self.head.get(self.sent + i).copied().unwrap_or(b'a');
            }
            self.sent += n;
            Ok(n)
        }
    }

    /// A server that sends `head` and then body bytes without end.
    struct EndlessBody {
        head: &'static [u8],
        sent: usize,
    }

    impl Read for EndlessBody {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = self.head.get(self.sent + i).copied().unwrap_or(b'a');
            }
            self.sent += buf.len();
            Ok(buf.len())
        }
    }

    #[test]
    fn a_response_that_never_ends_is_malformed_past_the_limit() {
        // A body until close that never closed (or endless chunks) grew the buffer until the
        // allocator aborted the process (2.2 GB in 5 s from a local server).
        for head in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
        ] {
            let mut reader =
                ResponseReader::with_max_response(EndlessBody { head, sent: 0 }, 1 << 20);
            match reader.read_response(false) {
                Err(ReadError::Malformed { reason, partial }) => {
                    assert_eq!(
                        reason,
                        "the response is over 1048576 bytes and has not ended"
                    );
                    assert_eq!(partial.len(), KEPT_OF_TOO_LARGE);
                    assert!(partial.starts_with(head));
                }
                other => panic!("expected Malformed, got {other:?}"),
            }
        }
    }

    /// A chunked response of `chunks` chunks of 4 KiB, read 4 KiB at a time.
    struct ManyChunks {
        wire: Vec<u8>,
        sent: usize,
    }

    impl Read for ManyChunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(4096).min(self.wire.len() - self.sent);
            buf[..n].copy_from_slice(&self.wire[self.sent..self.sent + n]);
            self.sent += n;
            Ok(n)
        }
    }

    /// Hands out `wire` one byte per read.
    struct ByteAtATime(Vec<u8>, usize);

    impl Read for ByteAtATime {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(&b) = self.0.get(self.1) else {
                return Ok(0);
            };
            buf[0] = b;
            self.1 += 1;
            Ok(1)
        }
    }

    #[test]
    fn pipelined_chunked_responses_read_a_byte_at_a_time_each_get_their_own_body() {
        let one = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n";
        let two = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n";
        let mut reader = ResponseReader::new(ByteAtATime([&one[..], two].concat(), 0));
        let first = reader.read_response(false).unwrap();
        assert_eq!(
            (first.body.as_slice(), first.raw.as_slice()),
            (&b"abcde"[..], &one[..])
        );
        let second = reader.read_response(false).unwrap();
        assert_eq!(
            (second.body.as_slice(), second.raw.as_slice()),
            (&b"z"[..], &two[..])
        );
        assert!(matches!(
            reader.read_response(false),
            Err(ReadError::Closed)
        ));
    }

    #[test]
    fn a_chunked_body_is_decoded_once_not_again_after_every_read() {
        // Each read decoded the body again from its first chunk: 8 MiB took 0.14 s, 256 MiB
        // of endless chunks would take hours to reach MAX_RESPONSE. 32 MiB here, 8192 reads;
        // the bound is generous for a loaded machine and a debug build.
        let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..8192 {
            wire.extend_from_slice(b"1000\r\n");
            wire.extend_from_slice(&[b'a'; 4096]);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let started = std::time::Instant::now();
        let response = ResponseReader::new(ManyChunks { wire, sent: 0 })
            .read_response(false)
            .unwrap();
        assert_eq!(response.body.len(), 32 << 20);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_head_that_never_ends_is_malformed_past_100_kib() {
        // Each read re-parsed the whole buffer: an endless field line made replay and the
        // client spin (43 s of CPU for 500 MB) and grow without bound.
        let mut reader = ResponseReader::new(EndlessHead {
            head: b"HTTP/1.1 200 OK\r\nX: ",
            sent: 0,
            total: 4 << 20,
        });
        match reader.read_response(false) {
            Err(ReadError::Malformed { reason, partial }) => {
                assert_eq!(
                    reason,
                    "the response head is over 102400 bytes and has not ended"
                );
                assert!(partial.len() <= MAX_HEAD + 8192, "{}", partial.len());
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    fn read_all(input: &[u8], after_head: bool) -> Vec<Result<Response, ReadError>> {
        let mut reader = ResponseReader::new(input);
        let mut out = Vec::new();
        loop {
            let r = reader.read_response(after_head);
            let stop = r.is_err();
            out.push(r);
            if stop {
                return out;
            }
        }
    }

    #[test]
    fn content_length_body_is_read_and_raw_bytes_kept() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nadded hello\n";
        let mut reader = ResponseReader::new(&wire[..]);
        let r = reader.read_response(false).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert_eq!(r.body, b"added hello\n");
        assert_eq!(r.raw, wire);
        assert_eq!(r.head(), b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
        assert!(matches!(
            reader.read_response(false),
            Err(ReadError::Closed)
        ));
    }

    #[test]
    fn pipelined_responses_are_read_in_order() {
        let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n";
        let all = read_all(wire, false);
        let statuses: Vec<u16> = all
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|r| r.status)
            .collect();
        assert_eq!(statuses, [100, 200, 204]);
    }

    #[test]
    fn chunked_body_is_decoded_and_raw_kept() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nT: v\r\n\r\nextra";
        let mut reader = ResponseReader::new(&wire[..]);
        let r = reader.read_response(false).unwrap();
        assert_eq!(r.body, b"hello!");
        assert_eq!(r.framing, BodyFraming::Chunked);
        assert_eq!(
            r.head(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        assert_eq!(r.raw, &wire[..wire.len() - 5]);
        assert_eq!(reader.buffered(), b"extra");
    }

    #[test]
    fn body_without_length_runs_to_close() {
        let wire = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        let r = ResponseReader::new(&wire[..]).read_response(false).unwrap();
        assert_eq!(r.body, b"all of it");
        assert_eq!(r.framing, BodyFraming::UntilClose);
    }

    #[test]
    fn head_response_has_no_body_whatever_its_length() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let r = ResponseReader::new(&wire[..]).read_response(true).unwrap();
        assert!(r.body.is_empty());
        assert_eq!(r.raw, wire);
    }

    #[test]
    fn bare_lf_responses_are_framed_but_keep_their_bytes() {
        let wire = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok";
        let r = ResponseReader::new(&wire[..]).read_response(false).unwrap();
        assert_eq!(r.body, b"ok");
        assert_eq!(r.raw, wire);
    }

    #[test]
    fn short_body_then_close_is_truncated() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        let err = ResponseReader::new(&wire[..])
            .read_response(false)
            .unwrap_err();
        assert!(matches!(err, ReadError::Truncated { .. }), "{err:?}");
        assert_eq!(err.partial(), wire);
    }

    #[test]
    fn garbage_is_malformed() {
        let err = ResponseReader::new(&b"hello\r\n\r\n"[..])
            .read_response(false)
            .unwrap_err();
        assert!(matches!(err, ReadError::Malformed { .. }), "{err:?}");
    }

    #[test]
    fn an_unfinished_response_says_where_it_stopped() {
        let at = |wire: &[u8]| where_it_stopped(wire, false);
        assert_eq!(at(b""), None);
        assert_eq!(
            at(b"HTTP/1.1 200"),
            Some("in the status line: no line end came".into())
        );
        assert_eq!(
            at(b"HTTP/1.1 200 OK\r\nContent-Len"),
            Some("in the head: no empty line ended it".into())
        );
        assert_eq!(
            at(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"),
            Some("in the body: Content-Length 10, 2 bytes of it sent".into())
        );
        assert_eq!(
            at(b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\r\nok\r\n"),
            Some("in the chunked body: its last chunk (`0` and an empty line) never came".into())
        );
        assert!(
            at(b"HTTP/1.1 200 OK\r\n\r\nwords")
                .unwrap()
                .contains("ends only when the connection closes")
        );
        // The answer to HEAD has no body, whatever its fields say.
        assert_eq!(
            where_it_stopped(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true),
            None
        );
    }

    #[test]
    fn every_prefix_of_a_response_needs_more() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        for end in 0..wire.len() {
            assert!(
                matches!(
                    parse_response(&wire[..end], false, false),
                    Ok(Parsed::NeedMore)
                ),
                "prefix {end}"
            );
        }
        assert!(
            matches!(parse_response(wire, false, false), Ok(Parsed::Done(_, n)) if n == wire.len())
        );
    }
}
