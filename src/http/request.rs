//! Turns the bytes of a request head into a `RequestHead`, or says why it can't.
//!
//! Here: the request-line and the line structure of a head, the line and section
//! limits. Elsewhere: the shared grammar (`http::syntax`), target forms and Host
//! (`http::target`), what the fields mean (`http::fields`), reading the socket
//! (`server::conn`), bodies (`http::body`).
//!
//! How it is written: `nom` combinators state the small grammars (`HTTP-version`,
//! `token`; chunk lines and extensions in `http::body`), and the per-byte scans that
//! dominate a request (finding line ends, field names and values, the target) are
//! plain loops over `&[u8]` with lookup tables and eight-bytes-at-a-time checks.
//! The hot path was profiled against `httparse` (`cargo bench --bench parser`, and
//! in instructions `bench/parser-instructions.sh`; `bench/RESULTS.md`): the
//! combinator versions of those scans cost about 2x.
//! The unit tests (every case on every prefix, in `request/tests.rs`) and proptests
//! (incremental equals one-shot on arbitrary bytes) hold both kinds of code to the
//! same results.

use compact_str::CompactString;
use nom::bytes::complete::tag;
use nom::character::complete::{char, satisfy};
use nom::combinator::all_consuming;
use nom::{IResult, Parser};
use smallvec::SmallVec;

use super::fields::{Fields, Framing};
use super::message::{HeadLimits, Version};
use super::syntax::{field_value_len, is_ows, is_tchar, parse_field_line, trim_trailing_ows};
use super::target::{RequestTarget, parse_target};
use super::{ParseError, Progress};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    /// Any other syntactically valid method token (case-sensitive, RFC 9110 §9.1).
    Other(String),
}

impl Method {
    /// The method token as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(name) => name,
        }
    }
}

/// What wordwire needs from a well-formed request head. Headers it does not
/// use are checked for syntax and then dropped, so no header is stored.
///
/// A head owns its parts, so it can go to a worker thread while the connection
/// reads on; the target and credentials of a usual request are stored inline,
/// so parsing one allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// The request-target exactly as sent, for the access log; inline up to 24 bytes.
    pub raw_target: CompactString,
    pub target: RequestTarget,
    pub version: Version,
    pub framing: Framing,
    /// A `close` token in `Connection`.
    pub connection_close: bool,
    /// A `keep-alive` token in `Connection`.
    pub connection_keep_alive: bool,
    /// `Expect: 100-continue` (case-insensitive).
    pub expect_continue: bool,
    /// The value of `Authorization`, trimmed of OWS, if present. Inline up to 64
    /// bytes: `Basic` credentials of a user and password of up to 42 bytes together.
    pub authorization: Option<SmallVec<[u8; 64]>>,
}

/// Parses one request head from the start of `input`.
///
/// ```text
/// HTTP-message = *( [ CR ] LF ) request-line *( field-line CRLF ) CRLF    ; RFC 9112 §2.1, §2.2
/// request-line = method SP request-target SP HTTP-version              ; RFC 9112 §3
/// field-line   = field-name ":" OWS field-value OWS                    ; RFC 9112 §5
/// ```
///
/// Every line may end in CRLF or in a single LF (RFC 9112 §2.2); a CR anywhere
/// else is `BareCr`. Returns `NeedMore` for any valid prefix of a head, and
/// `Done { consumed }` with `consumed` counting the empty line that ends it.
///
/// Limits: the request-line, together with any empty lines skipped before it,
/// longer than `max_line` bytes (terminator excluded) is `RequestLineTooLong`;
/// the field section (after the request-line, up to and including the empty
/// line) larger than `max_header_bytes` is `HeaderSectionTooLarge`. Both are
/// reported as soon as the bytes received exceed the limit, without waiting
/// for the line to end. A `Content-Length` over `max_body` is `BodyTooLarge`.
///
/// A caller that gets `NeedMore` and calls again with more bytes parses the
/// first ones again; `HeadParser` does not.
pub fn parse_head(input: &[u8], limits: &HeadLimits) -> Result<Progress<RequestHead>, ParseError> {
    State::default().parse(input, limits, &mut ())
}

/// `parse_head` for a head that arrives in pieces: between calls it keeps the
/// facts of the complete lines and where the unfinished line starts, so each
/// call looks only at that line and the new bytes, and the bytes of a head
/// are looked at a bounded number of times however it is split (a trickled
/// head re-parsed from its first byte on every read costs quadratic time).
///
/// Each call must pass the same bytes as the last one, plus any new ones, less
/// what `take_empty_lines` gave back; the results are those `parse_head` gives
/// on the same bytes. After `Done` or an error it starts afresh, at the next head.
///
/// `W` counts the bytes looked at: nothing (`()`, the default, which compiles
/// to no code) or `Examined`, for the tests and the fuzzer that bound the work.
#[derive(Debug)]
pub struct HeadParser<W = ()> {
    /// The state of an unfinished head; boxed only when a head turns out
    /// unfinished, so a head that arrives whole allocates nothing.
    unfinished: Option<Box<State>>,
    /// Bytes of empty lines before the request-line that the caller dropped
    /// (`take_empty_lines`): they still count toward `max_line`.
    skipped: usize,
    work: W,
}

impl Default for HeadParser {
    fn default() -> HeadParser {
        HeadParser {
            unfinished: None,
            skipped: 0,
            work: (),
        }
    }
}

impl HeadParser<Examined> {
    /// A parser that counts the input bytes it looks at (`examined`).
    pub fn counting() -> HeadParser<Examined> {
        HeadParser {
            unfinished: None,
            skipped: 0,
            work: Examined::default(),
        }
    }

    /// How many input bytes all calls so far have looked at (scans that met the
    /// same byte twice count it twice).
    pub fn examined(&self) -> usize {
        self.work.0
    }
}

impl<W: Work> HeadParser<W> {
    /// Parses the head at the start of `input`, resuming where the last call stopped.
    pub fn parse(
        &mut self,
        input: &[u8],
        limits: &HeadLimits,
    ) -> Result<Progress<RequestHead>, ParseError> {
        let reduced;
        let limits = match self.skipped {
            0 => limits,
            // `take_empty_lines` keeps `skipped` within `max_line`.
            skipped => {
                reduced = HeadLimits {
                    max_line: limits.max_line - skipped,
                    ..*limits
                };
                &reduced
            }
        };
        let parsed = match &mut self.unfinished {
            Some(state) => state.parse(input, limits, &mut self.work),
            None => {
                let mut state = State::default();
                let parsed = state.parse(input, limits, &mut self.work);
                match parsed {
                    // A state that has seen nothing (no input, or a lone CR) is the
                    // default one: nothing to keep.
                    Ok(Progress::NeedMore) if state.scanned > 0 => {
                        self.unfinished = Some(Box::new(state));
                    }
                    Ok(Progress::NeedMore) => {}
                    _ => self.skipped = 0,
                }
                return parsed;
            }
        };
        if !matches!(parsed, Ok(Progress::NeedMore)) {
            self.unfinished = None;
            self.skipped = 0;
        }
        parsed
    }

    /// After `parse` gave `NeedMore`: if all it has seen are empty lines before a
    /// request-line (RFC 9112 §2.2), perhaps followed by the CR of one more, it
    /// forgets the complete ones and returns their length in bytes, which the
    /// caller drops from the front of its input before it calls `parse` again.
    /// They still count toward `max_line`. `None` once a request-line has begun:
    /// then a request has started.
    pub fn take_empty_lines(&mut self) -> Option<usize> {
        let empty = match self.unfinished.as_deref() {
            None => 0,
            // Nothing scanned past the last complete line, which is an empty one
            // (or there would be a section): what is left is nothing or a CR.
            Some(State {
                section: None,
                pos,
                scanned,
            }) if pos == scanned => *pos,
            Some(_) => return None,
        };
        self.unfinished = None;
        self.skipped += empty;
        Some(empty)
    }
}

/// How a parse counts the input bytes it looks at.
pub trait Work {
    /// `bytes` more were looked at.
    fn add(&mut self, bytes: usize);
}

/// Counts nothing: what `parse_head` and the connection's parser use.
impl Work for () {
    #[inline(always)]
    fn add(&mut self, _: usize) {}
}

/// The input bytes looked at, for tests that bound a parser's work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Examined(pub usize);

impl Work for Examined {
    fn add(&mut self, bytes: usize) {
        self.0 += bytes;
    }
}

/// Where a head's parse stands between calls.
#[derive(Debug, Default)]
struct State {
    /// Offset of the first line that is not complete.
    pos: usize,
    /// `input[pos..scanned]` holds no CR or LF.
    scanned: usize,
    /// Once the request-line is complete: it, and what the field lines said.
    section: Option<Section>,
}

/// A complete request-line and the field lines after it so far.
#[derive(Debug)]
struct Section {
    line: RequestLine,
    /// Offset of the field section's first byte.
    start: usize,
    fields: Fields,
}

impl State {
    /// `parse_head` from where the last call stopped; adds the bytes it looks at to `examined`.
    fn parse(
        &mut self,
        input: &[u8],
        limits: &HeadLimits,
        examined: &mut impl Work,
    ) -> Result<Progress<RequestHead>, ParseError> {
        // Resuming: unless a CR or LF came after the bytes already scanned, the
        // unfinished line still is, and only its limit has to be checked again.
        if self.scanned > self.pos {
            let new = &input[self.scanned..];
            examined.add(new.len());
            let stop = find_cr_or_lf(new);
            // A final CR may yet be followed by its LF: the line is still unfinished.
            let unfinished = stop.is_none_or(|at| at + 1 == new.len() && new[at] == b'\r');
            if unfinished {
                // As in `Line::Partial`, a final CR is not counted toward the line's length.
                self.scanned += stop.unwrap_or(new.len());
                return match &self.section {
                    None if self.scanned > limits.max_line => Err(ParseError::RequestLineTooLong),
                    Some(section) if input.len() - section.start > limits.max_header_bytes => {
                        Err(ParseError::HeaderSectionTooLarge)
                    }
                    _ => Ok(Progress::NeedMore),
                };
            }
        }
        // Resuming takes the section out and puts it back if the head is still
        // unfinished; a head parsed in one call keeps its parts in locals throughout.
        let Section {
            line,
            start,
            mut fields,
        } = match self.section.take() {
            Some(section) => section,
            None => {
                // RFC 9112 §2.2: empty lines before the request-line are ignored; they count
                // toward max_line so that a stream of them cannot keep the parser busy.
                let (line, line_end) = loop {
                    // A TLS record (https:// to this plain server) is refused at its first
                    // byte, which no method starts with: the line it starts may never end.
                    if input.get(self.pos) == Some(&TLS_HANDSHAKE) {
                        examined.add(1);
                        return Err(if self.pos + 1 > limits.max_line {
                            ParseError::RequestLineTooLong
                        } else {
                            ParseError::TlsHandshake
                        });
                    }
                    match scan_line(input, self.pos) {
                        // The fault a byte-at-a-time reader meets first wins: the limit, if
                        // the bytes before the CR already exceed it, else the bare CR.
                        Line::BareCr { at } if at > limits.max_line => {
                            return Err(ParseError::RequestLineTooLong);
                        }
                        Line::BareCr { .. } => return Err(ParseError::BareCr),
                        Line::Partial { len } => {
                            examined.add(input.len() - self.pos);
                            if self.pos + len > limits.max_line {
                                return Err(ParseError::RequestLineTooLong);
                            }
                            self.scanned = self.pos + len;
                            return Ok(Progress::NeedMore);
                        }
                        Line::Complete { content, end } => {
                            examined.add(end - self.pos);
                            if self.pos + content.len() > limits.max_line {
                                return Err(ParseError::RequestLineTooLong);
                            }
                            if !content.is_empty() {
                                break (content, end);
                            }
                            self.pos = end;
                        }
                    }
                };
                let line = parse_request_line(line)?;
                self.pos = line_end;
                Section {
                    fields: Fields::new(line.version),
                    line,
                    start: line_end,
                }
            }
        };
        let mut pos = self.pos;
        loop {
            if let Some(field) = scan_plain_field_line(input, pos) {
                examined.add(field.end - pos);
                if field.end - start > limits.max_header_bytes {
                    return Err(ParseError::HeaderSectionTooLarge);
                }
                fields.add(input, field.name, field.value)?;
                pos = field.end;
                continue;
            }
            // The empty line that ends the head (RFC 9112 §2.1), taken without the
            // search for a line end that `scan_line` would make.
            let empty_line_end = match &input[pos..] {
                [b'\r', b'\n', ..] => Some(pos + 2),
                [b'\n', ..] => Some(pos + 1),
                _ => None,
            };
            if let Some(end) = empty_line_end {
                examined.add(end - pos);
                if end - start > limits.max_header_bytes {
                    return Err(ParseError::HeaderSectionTooLarge);
                }
                let framing = fields.finish(input, limits)?;
                let head = RequestHead {
                    method: line.method,
                    raw_target: line.raw_target,
                    target: line.target,
                    version: line.version,
                    framing,
                    connection_close: fields.connection_close,
                    connection_keep_alive: fields.connection_keep_alive,
                    expect_continue: fields.expect_continue,
                    authorization: fields
                        .authorization
                        .map(|value| SmallVec::from_slice(&input[value])),
                };
                return Ok(Progress::Done {
                    value: head,
                    consumed: end,
                });
            }
            match scan_line(input, pos) {
                // As for the request-line: the first fault in byte order wins.
                Line::BareCr { at } if at + 1 - start > limits.max_header_bytes => {
                    return Err(ParseError::HeaderSectionTooLarge);
                }
                Line::BareCr { .. } => return Err(ParseError::BareCr),
                Line::Partial { len } => {
                    // Scanned twice: by `scan_plain_field_line`, then by `scan_line`.
                    examined.add(2 * (input.len() - pos));
                    if input.len() - start > limits.max_header_bytes {
                        return Err(ParseError::HeaderSectionTooLarge);
                    }
                    self.pos = pos;
                    self.scanned = pos + len;
                    self.section = Some(Section {
                        line,
                        start,
                        fields,
                    });
                    return Ok(Progress::NeedMore);
                }
                // Not the empty line, which was taken above: a field line.
                Line::Complete { content, end } => {
                    examined.add(end - pos);
                    if end - start > limits.max_header_bytes {
                        return Err(ParseError::HeaderSectionTooLarge);
                    }
                    let (name, value) = parse_field_line(content)?;
                    fields.add(input, name, value)?;
                    pos = end;
                }
            }
        }
    }
}

/// One line of a head, found by `scan_line`.
enum Line<'a> {
    /// A complete line: its content without the terminator, and the offset just past the terminator.
    Complete { content: &'a [u8], end: usize },
    /// No LF yet; `len` bytes of content so far, not counting a final CR that may start a CRLF.
    Partial { len: usize },
    /// A CR not followed by LF, at offset `at` of the input (RFC 9112 §2.2).
    BareCr { at: usize },
}

/// A complete, valid field line found by `scan_plain_field_line`.
struct PlainFieldLine<'a> {
    name: &'a [u8],
    /// Trimmed of OWS.
    value: &'a [u8],
    /// Offset just past the line terminator.
    end: usize,
}

/// The common case in one pass: a complete line `token ":" field-value` ending in CRLF
/// or LF, with only field-value bytes (no controls but HTAB) after the colon.
///
/// Returns `None` for anything else (the empty line, a partial line, any error), which
/// the caller then takes apart with `scan_line` and `parse_field_line`; on the lines it
/// accepts they give the same name, value and end, so this changes only the speed.
fn scan_plain_field_line(input: &[u8], start: usize) -> Option<PlainFieldLine<'_>> {
    let rest = &input[start..];
    let name_len = rest.iter().position(|&b| !is_tchar(b))?;
    if name_len == 0 || rest[name_len] != b':' {
        return None;
    }
    // The leading OWS is skipped here rather than trimmed after the scan.
    let mut value_start = name_len + 1;
    while rest.get(value_start).is_some_and(|&b| is_ows(b)) {
        value_start += 1;
    }
    let stop = value_start + field_value_len(&rest[value_start..]);
    let (content_end, end) = match rest.get(stop..stop + 2) {
        Some([b'\r', b'\n']) => (stop, stop + 2),
        _ if rest.get(stop) == Some(&b'\n') => (stop, stop + 1),
        _ => return None,
    };
    Some(PlainFieldLine {
        name: &rest[..name_len],
        value: trim_trailing_ows(&rest[value_start..content_end]),
        end: start + end,
    })
}

/// Finds the line that starts at `input[start..]`, in one pass to its first CR or LF.
fn scan_line(input: &[u8], start: usize) -> Line<'_> {
    let rest = &input[start..];
    let Some(at) = find_cr_or_lf(rest) else {
        return Line::Partial { len: rest.len() };
    };
    let content = &rest[..at];
    if rest[at] == b'\n' {
        // RFC 9112 §2.2: a line ends in CRLF or, leniently, in a lone LF.
        return Line::Complete {
            content,
            end: start + at + 1,
        };
    }
    match rest.get(at + 1) {
        Some(b'\n') => Line::Complete {
            content,
            end: start + at + 2,
        },
        // A final CR may yet be followed by its LF.
        None => Line::Partial { len: at },
        // RFC 9112 §2.2: a CR not followed by LF is rejected, not treated as a line end.
        Some(_) => Line::BareCr { at: start + at },
    }
}

/// The offset of the first CR or LF in `input`.
///
/// Eight bytes at a time, as in `field_value_len`, rather than `memchr2`: a line
/// here is usually a few dozen bytes or, at the end of a head, none, and the
/// call costs more than such a search.
fn find_cr_or_lf(input: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let mut at = 0;
    while let Some(chunk) = input.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("a slice of 8 bytes"));
        let cr = word ^ (ONES * u64::from(b'\r'));
        let lf = word ^ (ONES * u64::from(b'\n'));
        let flagged = (cr.wrapping_sub(ONES) & !cr | lf.wrapping_sub(ONES) & !lf) & HIGHS;
        if flagged != 0 {
            // A borrow flags bytes only after a zero byte, so the lowest flag is exact.
            return Some(at + flagged.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    input[at..]
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .map(|len| at + len)
}

/// The first byte of a TLS record carrying a handshake (RFC 8446 §5.1: `ContentType`
/// handshake(22)), as a ClientHello begins: not a `tchar`, so no request-line starts with it.
const TLS_HANDSHAKE: u8 = 0x16;

/// The parts of a request-line, checked.
#[derive(Debug)]
struct RequestLine {
    method: Method,
    target: RequestTarget,
    raw_target: CompactString,
    version: Version,
}

/// `request-line = method SP request-target SP HTTP-version` (RFC 9112 §3), exactly one SP each.
fn parse_request_line(line: &[u8]) -> Result<RequestLine, ParseError> {
    let (method, after_method) = split_at_sp(line).ok_or(ParseError::MalformedRequestLine)?;
    let (target, version) = split_at_sp(after_method).ok_or(ParseError::MalformedRequestLine)?;
    // What nearly every request sends needs no further look: it holds no SP.
    let usual_version = match version {
        b"HTTP/1.1" => Some(Version::Http11),
        b"HTTP/1.0" => Some(Version::Http10),
        _ => None,
    };
    // RFC 9112 §3: a single SP between the parts, and nothing after the version.
    if usual_version.is_none() && (version.is_empty() || version.contains(&b' ')) {
        return Err(ParseError::MalformedRequestLine);
    }
    let method = parse_method(method)?;
    let (target, raw_target) = parse_target(target)?;
    let version = match usual_version {
        Some(version) => version,
        None => parse_version(version)?,
    };
    Ok(RequestLine {
        method,
        target,
        raw_target,
        version,
    })
}

/// Splits `part SP rest` at the first SP, where `part` is not empty.
fn split_at_sp(input: &[u8]) -> Option<(&[u8], &[u8])> {
    // A byte loop, not `memchr`: the method and the usual target are a few bytes,
    // shorter than what a `memchr` call costs to set up.
    match input.iter().position(|&b| b == b' ') {
        Some(0) | None => None,
        Some(sp) => Some((&input[..sp], &input[sp + 1..])),
    }
}

/// `method = token` (RFC 9110 §9.1), case-sensitive.
fn parse_method(method: &[u8]) -> Result<Method, ParseError> {
    Ok(match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        b"POST" => Method::Post,
        b"PUT" => Method::Put,
        b"DELETE" => Method::Delete,
        b"OPTIONS" => Method::Options,
        other if other.iter().all(|&b| is_tchar(b)) => {
            // All tchar, so ASCII: one char per byte.
            Method::Other(other.iter().map(|&b| char::from(b)).collect())
        }
        _ => return Err(ParseError::InvalidMethod),
    })
}

/// `HTTP-version = "HTTP" "/" DIGIT "." DIGIT` (RFC 9112 §2.3), case-sensitive.
fn parse_version(version: &[u8]) -> Result<Version, ParseError> {
    let digit = || satisfy(|c: char| c.is_ascii_digit());
    let parsed: IResult<&[u8], (&[u8], char, char, char)> =
        all_consuming((tag(&b"HTTP/"[..]), digit(), char('.'), digit())).parse(version);
    match parsed {
        Ok((_, (_, '1', _, '0'))) => Ok(Version::Http10),
        Ok((_, (_, '1', _, '1'))) => Ok(Version::Http11),
        // RFC 9110 §15.6.6: a well-formed major or minor version we do not speak.
        Ok(_) => Err(ParseError::UnsupportedVersion),
        Err(_) => Err(ParseError::MalformedVersion),
    }
}

#[cfg(test)]
mod tests;
