//! Turns the bytes of a request head into a `RequestHead`, or says why it can't.
//!
//! Here: the request-line and field-line grammar, and the line and section limits.
//! Elsewhere: reading the socket (`server::conn`), body framing (`http::body`).
//!
//! How it is written: `nom` combinators state the small grammars (`HTTP-version`,
//! `token`; chunk lines and extensions in `http::body`), and the per-byte scans that
//! dominate a request (finding line ends, field names and values, the target) are
//! plain loops over `&[u8]` with lookup tables and eight-bytes-at-a-time checks.
//! The hot path was profiled against `httparse` (`cargo bench --bench parser`,
//! `bench/RESULTS.md`): the combinator versions of those scans cost about 2x.
//! The unit tests (every case on every prefix) and proptests (incremental equals
//! one-shot on arbitrary bytes) hold both kinds of code to the same results.

use compact_str::CompactString;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, satisfy};
use nom::combinator::all_consuming;
use nom::{IResult, Parser};
use smallvec::SmallVec;

use super::{ParseError, Progress};

/// Size limits applied while parsing a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request-line, in bytes, without its line terminator; empty lines
    /// skipped before it count too. Longer: 414. Also bounds a chunk-size line (longer: 400).
    pub max_line: usize,
    /// Largest field section (all field lines and the empty line after them), and
    /// largest trailer section of a chunked body. Larger: 431.
    pub max_header_bytes: usize,
    /// Largest body a `Content-Length` may announce. Larger: 413.
    pub max_body: u64,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// The request-target, classified by its form (RFC 9112 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTarget {
    /// origin-form or absolute-form: the path without query, e.g. `/` for `/?x=1`
    /// and for `http://host:1/` (an empty absolute path becomes `/`). Stored
    /// inline, without a heap allocation, up to 24 bytes.
    Path(CompactString),
    /// asterisk-form `*`.
    Asterisk,
    /// authority-form `host:port` (only meaningful with CONNECT).
    Authority,
}

/// How the body of the request is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: neither Content-Length nor Transfer-Encoding.
    None,
    /// `Content-Length: n`, already checked against `max_body`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
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
pub fn parse_head(input: &[u8], limits: &HeadLimits) -> Result<Progress<RequestHead>, ParseError> {
    // RFC 9112 §2.2: empty lines before the request-line are ignored; they count
    // toward max_line so that a stream of them cannot keep the parser busy.
    let mut pos = 0;
    let (line, line_end) = loop {
        match scan_line(input, pos) {
            // The fault a byte-at-a-time reader meets first wins: the limit, if the
            // bytes before the CR already exceed it, else the bare CR.
            Line::BareCr { at } if at > limits.max_line => {
                return Err(ParseError::RequestLineTooLong);
            }
            Line::BareCr { .. } => return Err(ParseError::BareCr),
            Line::Partial { len } => {
                if pos + len > limits.max_line {
                    return Err(ParseError::RequestLineTooLong);
                }
                return Ok(Progress::NeedMore);
            }
            Line::Complete { content, end } => {
                if pos + content.len() > limits.max_line {
                    return Err(ParseError::RequestLineTooLong);
                }
                if !content.is_empty() {
                    break (content, end);
                }
                pos = end;
            }
        }
    };
    let RequestLine {
        method,
        target,
        raw_target,
        version,
    } = parse_request_line(line)?;

    let section_start = line_end;
    let mut pos = line_end;
    let mut fields = Fields::new(version);
    loop {
        if let Some(field) = scan_plain_field_line(input, pos) {
            if field.end - section_start > limits.max_header_bytes {
                return Err(ParseError::HeaderSectionTooLarge);
            }
            fields.add(field.name, field.value)?;
            pos = field.end;
            continue;
        }
        match scan_line(input, pos) {
            // As for the request-line: the first fault in byte order wins.
            Line::BareCr { at } if at + 1 - section_start > limits.max_header_bytes => {
                return Err(ParseError::HeaderSectionTooLarge);
            }
            Line::BareCr { .. } => return Err(ParseError::BareCr),
            Line::Partial { .. } => {
                if input.len() - section_start > limits.max_header_bytes {
                    return Err(ParseError::HeaderSectionTooLarge);
                }
                return Ok(Progress::NeedMore);
            }
            Line::Complete { content, end } => {
                if end - section_start > limits.max_header_bytes {
                    return Err(ParseError::HeaderSectionTooLarge);
                }
                if content.is_empty() {
                    let framing = fields.finish(limits)?;
                    let head = RequestHead {
                        method,
                        raw_target,
                        target,
                        version,
                        framing,
                        connection_close: fields.connection_close,
                        connection_keep_alive: fields.connection_keep_alive,
                        expect_continue: fields.expect_continue,
                        authorization: fields.authorization.map(SmallVec::from_slice),
                    };
                    return Ok(Progress::Done {
                        value: head,
                        consumed: end,
                    });
                }
                let (name, value) = parse_field_line(content)?;
                fields.add(name, value)?;
                pos = end;
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
/// `scan_line` and `parse_field_line` then handle; on the lines it accepts they give the
/// same name, value and end, so this changes only the speed.
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

/// How many bytes at the start of `input` are field-value bytes (`is_field_value_byte`).
fn field_value_len(input: &[u8]) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let mut at = 0;
    // Eight bytes at a time; a word's first control byte (below 0x20, or DEL) ends
    // the value unless it is HTAB. Fewer than eight bytes left: the byte loop below.
    while let Some(chunk) = input.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("a slice of 8 bytes"));
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let del = word ^ (ONES * 0x7F);
        let has_del = del.wrapping_sub(ONES) & !del & HIGHS;
        let flagged = below_space | has_del;
        if flagged != 0 {
            // A borrow can flag bytes after a control byte, never before one, so the
            // lowest flagged byte is the first control byte of the word.
            at += flagged.trailing_zeros() as usize / 8;
            // HTAB is the one control byte a value may hold: go on after it.
            if input[at] != b'\t' {
                return at;
            }
            at += 1;
            continue;
        }
        at += 8;
    }
    at + input[at..]
        .iter()
        .position(|&b| !is_field_value_byte(b))
        .unwrap_or(input.len() - at)
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

/// The parts of a request-line, checked.
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

/// Classifies a request-target by its form (RFC 9112 §3.2), and returns it with
/// the target as sent.
///
/// ```text
/// origin-form    = absolute-path [ "?" query ]          ; "/..."
/// absolute-form  = ("http" / "https") "://" authority path-abempty [ "?" query ]
/// authority-form = uri-host ":" port                    ; port = 1*DIGIT here
/// asterisk-form  = "*"
/// ```
fn parse_target(target: &[u8]) -> Result<(RequestTarget, CompactString), ParseError> {
    // RFC 9112 §3.2: the target is visible ASCII; a fragment is never sent (RFC 9110 §7.1).
    // The same pass notes the first `?`, where an origin-form path ends.
    let mut query = None;
    for (at, &b) in target.iter().enumerate() {
        if !(0x21..=0x7E).contains(&b) || b == b'#' {
            return Err(ParseError::InvalidTarget);
        }
        if b == b'?' && query.is_none() {
            query = Some(at);
        }
    }
    // Visible ASCII, so valid UTF-8: the one conversion, whose slices below are
    // all at ASCII bytes and so at char boundaries.
    let text =
        std::str::from_utf8(target).expect("request-target bytes were checked to be visible ASCII");
    let form = parse_target_form(text, query)?;
    Ok((form, CompactString::new(text)))
}

/// The form of a checked request-target `text` whose first `?` is at `query`.
fn parse_target_form(text: &str, query: Option<usize>) -> Result<RequestTarget, ParseError> {
    let target = text.as_bytes();
    // RFC 9112 §3.2.4: asterisk-form.
    if target == b"*" {
        return Ok(RequestTarget::Asterisk);
    }
    // RFC 9112 §3.2.1: origin-form.
    if target.starts_with(b"/") {
        let path = &text[..query.unwrap_or(text.len())];
        return Ok(RequestTarget::Path(CompactString::new(path)));
    }
    // RFC 9112 §3.2.2: absolute-form; the scheme is case-insensitive (RFC 3986 §3.1).
    if let Some(after) = strip_prefix_ignore_case(target, b"http://")
        .or_else(|| strip_prefix_ignore_case(target, b"https://"))
    {
        let after_start = target.len() - after.len();
        let authority_end = after
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        // RFC 9110 §4.2.1: an http URI has a non-empty host; §4.2.4: no userinfo.
        if authority.is_empty() || authority.contains(&b'@') {
            return Err(ParseError::InvalidTarget);
        }
        let path_start = after_start + authority_end;
        let path_end = query.unwrap_or(text.len()).max(path_start);
        let path = match &text[path_start..path_end] {
            "" => "/",
            path => path,
        };
        return Ok(RequestTarget::Path(CompactString::new(path)));
    }
    // RFC 9112 §3.2.3: authority-form.
    if let Some(colon) = target.iter().rposition(|&b| b == b':') {
        let (host, port) = (&target[..colon], &target[colon + 1..]);
        let host_ok = !host.is_empty() && !host.iter().any(|b| b"/?@".contains(b));
        let port_ok = !port.is_empty() && port.iter().all(u8::is_ascii_digit);
        if host_ok && port_ok {
            return Ok(RequestTarget::Authority);
        }
    }
    Err(ParseError::InvalidTarget)
}

fn strip_prefix_ignore_case<'a>(input: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = input.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &input[prefix.len()..])
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

/// Which bytes are `tchar` (RFC 9110 §5.6.2), as a table so a name costs one lookup per byte.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// `tchar` (RFC 9110 §5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `OWS = *( SP / HTAB )` (RFC 9110 §5.6.3).
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `field-vchar / SP / HTAB` (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB.
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF)
}

/// `token = 1*tchar` (RFC 9110 §5.6.2).
pub(crate) fn token(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(is_tchar)(input)
}

/// Removes leading and trailing OWS.
pub(crate) fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b, tail @ ..] = value
        && is_ows(*b)
    {
        value = tail;
    }
    trim_trailing_ows(value)
}

/// Removes trailing OWS.
fn trim_trailing_ows(mut value: &[u8]) -> &[u8] {
    while let [head @ .., b] = value
        && is_ows(*b)
    {
        value = head;
    }
    value
}

/// The members of a comma-separated list (RFC 9110 §5.6.1), each trimmed of OWS.
fn list_members(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5), one line
/// without its terminator. Returns the name and the value trimmed of OWS.
pub(crate) fn parse_field_line(line: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    // RFC 9112 §5.2: obs-fold (a line starting with SP or HTAB) is rejected.
    if line.first().is_some_and(|&b| is_ows(b)) {
        return Err(ParseError::ObsoleteLineFolding);
    }
    let name_len = line
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(line.len());
    if name_len == 0 {
        return Err(ParseError::InvalidFieldName);
    }
    let (name, after_name) = line.split_at(name_len);
    let space = after_name
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(after_name.len());
    let Some((b':', value)) = after_name[space..].split_first() else {
        return Err(ParseError::InvalidFieldName);
    };
    // RFC 9112 §5.1: no whitespace is allowed between the field name and colon.
    if space > 0 {
        return Err(ParseError::WhitespaceBeforeColon);
    }
    // RFC 9110 §5.5: CR, LF, NUL and other controls are invalid in a value.
    if !value.iter().all(|&b| is_field_value_byte(b)) {
        return Err(ParseError::InvalidFieldValue);
    }
    Ok((name, trim_ows(value)))
}

/// What the field lines said so far, as slices of the input.
struct Fields<'a> {
    version: Version,
    hosts: usize,
    /// The Content-Length digits without leading zeros (`0` stays `0`).
    content_length: Option<&'a [u8]>,
    chunked: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
    authorization: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    fn new(version: Version) -> Self {
        Fields {
            version,
            hosts: 0,
            content_length: None,
            chunked: false,
            connection_close: false,
            connection_keep_alive: false,
            expect_continue: false,
            authorization: None,
        }
    }

    /// Folds one field line into the facts; names are case-insensitive (RFC 9110 §5.1).
    fn add(&mut self, name: &[u8], value: &'a [u8]) -> Result<(), ParseError> {
        if name.eq_ignore_ascii_case(b"host") {
            self.hosts += 1;
            // RFC 9112 §3.2: more than one Host field line is a 400.
            if self.hosts > 1 {
                return Err(ParseError::DuplicateHost);
            }
            // RFC 9112 §3.2: so is a Host field with an invalid field value.
            if !is_valid_host(value) {
                return Err(ParseError::InvalidHost);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            for member in list_members(value) {
                if member.is_empty() || !member.iter().all(u8::is_ascii_digit) {
                    return Err(ParseError::InvalidContentLength);
                }
                let digits = match member.iter().position(|&b| b != b'0') {
                    Some(first) => &member[first..],
                    None => &member[member.len() - 1..],
                };
                // RFC 9112 §6.3: a list of identical values is that value; differing values are a 400.
                match self.content_length {
                    Some(seen) if seen != digits => {
                        return Err(ParseError::ConflictingContentLength);
                    }
                    _ => self.content_length = Some(digits),
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // RFC 9112 §6.1: a server MAY reject Transfer-Encoding in HTTP/1.0; framing would be in doubt.
            if self.version == Version::Http10 {
                return Err(ParseError::TransferEncodingInHttp10);
            }
            for member in list_members(value) {
                // RFC 9112 §6.1: chunked is applied once and last; wordwire knows no other coding.
                if self.chunked || !member.eq_ignore_ascii_case(b"chunked") {
                    return Err(ParseError::UnsupportedTransferEncoding);
                }
                self.chunked = true;
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            // RFC 9110 §7.6.1: Connection is a list of options.
            for member in list_members(value) {
                if member.eq_ignore_ascii_case(b"close") {
                    self.connection_close = true;
                } else if member.eq_ignore_ascii_case(b"keep-alive") {
                    self.connection_keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            // RFC 9110 §10.1.1: 100-continue is case-insensitive; other expectations are ignored.
            if list_members(value).any(|m| m.eq_ignore_ascii_case(b"100-continue")) {
                self.expect_continue = true;
            }
        } else if name.eq_ignore_ascii_case(b"authorization") {
            // RFC 9110 §5.3: Authorization is not a list, so two lines cannot be combined.
            if self.authorization.is_some() {
                return Err(ParseError::DuplicateAuthorization);
            }
            self.authorization = Some(value);
        }
        Ok(())
    }

    /// The checks that need the whole field section, and the framing they leave.
    fn finish(&self, limits: &HeadLimits) -> Result<Framing, ParseError> {
        // RFC 9112 §3.2: an HTTP/1.1 request must carry Host.
        if self.version == Version::Http11 && self.hosts == 0 {
            return Err(ParseError::MissingHost);
        }
        let framing = match (self.chunked, self.content_length) {
            // RFC 9112 §6.1: both present is a smuggling attempt; reject rather than pick one.
            (true, Some(_)) => return Err(ParseError::ConflictingLength),
            (true, None) => Framing::Chunked,
            (false, Some(digits)) => {
                Framing::Length(content_length_within(digits, limits.max_body)?)
            }
            (false, None) => Framing::None,
        };
        Ok(framing)
    }
}

/// Which bytes are `unreserved / sub-delims` (RFC 3986 §2.3, §2.2): a reg-name
/// without its pct-encoded triplets. A table, as for `TCHAR`, because every
/// request's Host value is checked byte by byte.
const REG_NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        b += 1;
    }
    table
};

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2), or empty (RFC 9112 §3.2).
///
/// ```text
/// uri-host    = IP-literal / IPv4address / reg-name
/// IP-literal  = "[" ( IPv6address / IPvFuture ) "]"   ; checked here as "[" 1*( unreserved / sub-delims / ":" ) "]"
/// reg-name    = *( unreserved / pct-encoded / sub-delims )
/// port        = *DIGIT
/// ```
fn is_valid_host(value: &[u8]) -> bool {
    let is_reg_name_byte = |b: u8| REG_NAME_BYTE[usize::from(b)];
    let (host, port) = match value.strip_prefix(b"[") {
        Some(literal) => {
            let Some(close) = literal.iter().position(|&b| b == b']') else {
                return false;
            };
            let inside = &literal[..close];
            if inside.is_empty() || !inside.iter().all(|&b| is_reg_name_byte(b) || b == b':') {
                return false;
            }
            match &literal[close + 1..] {
                [] => (&[][..], None),
                [b':', port @ ..] => (&[][..], Some(port)),
                _ => return false,
            }
        }
        None => (value, None),
    };
    // Runs of plain reg-name bytes, each ended by a pct-encoded triplet, the end, or
    // (outside brackets) the `:` before the port: one pass, with no search for the last `:`
    // first, since a host with a `:` in it is invalid whichever `:` starts the port.
    let mut rest = host;
    while let Some(stop) = rest.iter().position(|&b| !is_reg_name_byte(b)) {
        rest = match &rest[stop..] {
            [b'%', h1, h2, tail @ ..] if h1.is_ascii_hexdigit() && h2.is_ascii_hexdigit() => tail,
            [b':', after @ ..] if port.is_none() => return after.iter().all(u8::is_ascii_digit),
            _ => return false,
        };
    }
    port.is_none_or(|port| port.iter().all(u8::is_ascii_digit))
}

/// The value of checked Content-Length digits, or `BodyTooLarge` past `max_body` or `u64`.
fn content_length_within(digits: &[u8], max_body: u64) -> Result<u64, ParseError> {
    let mut value: u64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(ParseError::BodyTooLarge)?;
    }
    if value > max_body {
        return Err(ParseError::BodyTooLarge);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_line: 8192,
        max_header_bytes: 16384,
        max_body: 8192,
    };

    fn parse(input: &[u8]) -> Result<Progress<RequestHead>, ParseError> {
        parse_head(input, &LIMITS)
    }

    /// A head with no body and no flags, for struct-update in the tests.
    fn head(
        method: Method,
        raw_target: &str,
        target: RequestTarget,
        version: Version,
    ) -> RequestHead {
        RequestHead {
            method,
            raw_target: raw_target.into(),
            target,
            version,
            framing: Framing::None,
            connection_close: false,
            connection_keep_alive: false,
            expect_continue: false,
            authorization: None,
        }
    }

    fn root() -> RequestTarget {
        RequestTarget::Path("/".into())
    }

    /// Every proper prefix of `input` needs more; all of it is `expected`, using every byte.
    fn assert_parses_to(input: &[u8], expected: RequestHead) {
        assert_parses_with(input, &LIMITS, expected);
    }

    fn assert_parses_with(input: &[u8], limits: &HeadLimits, expected: RequestHead) {
        for end in 0..input.len() {
            assert_eq!(
                parse_head(&input[..end], limits),
                Ok(Progress::NeedMore),
                "prefix {:?}",
                String::from_utf8_lossy(&input[..end])
            );
        }
        assert_eq!(
            parse_head(input, limits),
            Ok(Progress::Done {
                value: expected,
                consumed: input.len()
            })
        );
    }

    /// All of `input` is rejected with `expected` (whose status is `status`);
    /// each proper prefix needs more or is already rejected the same way.
    fn assert_rejects(input: &[u8], expected: ParseError, status: u16) {
        assert_rejects_with(input, &LIMITS, expected, status);
    }

    fn assert_rejects_with(input: &[u8], limits: &HeadLimits, expected: ParseError, status: u16) {
        assert_eq!(expected.status(), status);
        for end in 0..input.len() {
            match parse_head(&input[..end], limits) {
                Ok(Progress::NeedMore) => {}
                Err(e) if e == expected => {}
                other => panic!(
                    "prefix {:?} gave {other:?}",
                    String::from_utf8_lossy(&input[..end])
                ),
            }
        }
        assert_eq!(
            parse_head(input, limits),
            Err(expected),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }

    // Valid requests.

    #[test]
    fn netcat_get_with_bare_lf_is_accepted() {
        assert_parses_to(
            b"GET / HTTP/1.1\nHost: localhost\n\n",
            head(Method::Get, "/", root(), Version::Http11),
        );
    }

    #[test]
    fn curl_get_with_credentials_is_accepted() {
        assert_parses_to(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1:12345\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\
              Authorization:  Basic d29yZHdpcmU6d29yZHdpcmU= \t\r\n\r\n",
            RequestHead {
                authorization: Some(b"Basic d29yZHdpcmU6d29yZHdpcmU="[..].into()),
                ..head(Method::Get, "/", root(), Version::Http11)
            },
        );
    }

    #[test]
    fn post_with_content_length_and_expect_is_accepted() {
        assert_parses_to(
            b"POST /?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\
              Connection: keep-alive\r\n\r\n",
            RequestHead {
                framing: Framing::Length(5),
                expect_continue: true,
                connection_keep_alive: true,
                ..head(Method::Post, "/?x=1", root(), Version::Http11)
            },
        );
    }

    #[test]
    fn chunked_post_is_accepted() {
        assert_parses_to(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \r\n\r\n",
            RequestHead {
                framing: Framing::Chunked,
                ..head(Method::Post, "/", root(), Version::Http11)
            },
        );
    }

    #[test]
    fn absolute_form_without_path_means_root() {
        assert_parses_to(
            b"GET HTTP://example.com:8080?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
            head(
                Method::Get,
                "HTTP://example.com:8080?q=1",
                root(),
                Version::Http11,
            ),
        );
    }

    #[test]
    fn absolute_form_keeps_its_path_without_query() {
        assert_parses_to(
            b"PUT https://h/a/b?c HTTP/1.1\r\nHost: h\r\n\r\n",
            head(
                Method::Put,
                "https://h/a/b?c",
                RequestTarget::Path("/a/b".into()),
                Version::Http11,
            ),
        );
    }

    #[test]
    fn options_asterisk_is_accepted() {
        assert_parses_to(
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            head(
                Method::Options,
                "*",
                RequestTarget::Asterisk,
                Version::Http11,
            ),
        );
    }

    #[test]
    fn http10_without_host_is_accepted() {
        assert_parses_to(
            b"GET / HTTP/1.0\r\n\r\n",
            head(Method::Get, "/", root(), Version::Http10),
        );
    }

    #[test]
    fn http10_keep_alive_is_reported() {
        assert_parses_to(
            b"HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            RequestHead {
                connection_keep_alive: true,
                ..head(Method::Head, "/", root(), Version::Http10)
            },
        );
    }

    #[test]
    fn connection_list_sets_both_flags() {
        assert_parses_to(
            b"DELETE / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive,, upgrade , CLOSE\r\n\r\n",
            RequestHead {
                connection_close: true,
                connection_keep_alive: true,
                ..head(Method::Delete, "/", root(), Version::Http11)
            },
        );
    }

    #[test]
    fn empty_lines_before_request_line_are_skipped_and_consumed() {
        assert_parses_to(
            b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            head(Method::Get, "/", root(), Version::Http11),
        );
    }

    #[test]
    fn unknown_and_lowercase_methods_are_other() {
        assert_parses_to(
            b"PATCH / HTTP/1.1\r\nHost: a\r\n\r\n",
            head(
                Method::Other("PATCH".to_owned()),
                "/",
                root(),
                Version::Http11,
            ),
        );
        assert_parses_to(
            b"get / HTTP/1.1\r\nHost: a\r\n\r\n",
            head(
                Method::Other("get".to_owned()),
                "/",
                root(),
                Version::Http11,
            ),
        );
    }

    #[test]
    fn authority_form_is_classified() {
        assert_parses_to(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            head(
                Method::Other("CONNECT".to_owned()),
                "example.com:443",
                RequestTarget::Authority,
                Version::Http11,
            ),
        );
    }

    #[test]
    fn repeated_identical_content_lengths_are_one_value() {
        assert_parses_to(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 005\r\ncontent-length: 5\r\n\r\n",
            RequestHead {
                framing: Framing::Length(5),
                ..head(Method::Post, "/", root(), Version::Http11)
            },
        );
    }

    #[test]
    fn zero_content_length_is_a_length() {
        assert_parses_to(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n",
            RequestHead {
                framing: Framing::Length(0),
                ..head(Method::Post, "/", root(), Version::Http11)
            },
        );
    }

    #[test]
    fn content_length_equal_to_max_body_is_accepted() {
        assert_parses_to(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8192\r\n\r\n",
            RequestHead {
                framing: Framing::Length(8192),
                ..head(Method::Post, "/", root(), Version::Http11)
            },
        );
    }

    #[test]
    fn empty_host_and_case_insensitive_names_are_accepted() {
        assert_parses_to(
            b"GET / HTTP/1.1\r\nhOsT:\r\nX-Obs: caf\xc3\xa9\t\x80\r\n\r\n",
            head(Method::Get, "/", root(), Version::Http11),
        );
    }

    #[test]
    fn other_expectations_are_ignored() {
        assert_parses_to(
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n",
            RequestHead {
                framing: Framing::Length(1),
                ..head(Method::Post, "/", root(), Version::Http11)
            },
        );
    }

    #[test]
    fn consumed_stops_at_the_end_of_the_head() {
        let input = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
        let Ok(Progress::Done { consumed, .. }) = parse(input) else {
            panic!("head should be complete");
        };
        assert_eq!(&input[consumed..], b"hello");
    }

    #[test]
    fn pipelined_requests_parse_one_after_another() {
        let input: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
            POST / HTTP/1.1\nHost: a\nContent-Length: 3\n\nabc\
            DELETE / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        let Ok(Progress::Done { value, consumed }) = parse(input) else {
            panic!("first head should be complete");
        };
        assert_eq!(value, head(Method::Get, "/", root(), Version::Http11));
        let input = &input[consumed..];
        let Ok(Progress::Done { value, consumed }) = parse(input) else {
            panic!("second head should be complete");
        };
        assert_eq!(value.method, Method::Post);
        assert_eq!(value.framing, Framing::Length(3));
        let input = &input[consumed + 3..];
        let Ok(Progress::Done { value, consumed }) = parse(input) else {
            panic!("third head should be complete");
        };
        assert_eq!(value.method, Method::Delete);
        assert!(value.connection_close);
        assert_eq!(consumed, input.len());
        assert_eq!(parse(&input[consumed..]), Ok(Progress::NeedMore));
    }

    // Limits.

    fn small_limits() -> HeadLimits {
        HeadLimits {
            max_line: 16,
            max_header_bytes: 20,
            max_body: 100,
        }
    }

    #[test]
    fn request_line_of_exactly_max_line_is_accepted() {
        // "GET /12 HTTP/1.1" is 16 bytes.
        assert_parses_with(
            b"GET /12 HTTP/1.1\r\nHost: a\r\n\r\n",
            &small_limits(),
            head(
                Method::Get,
                "/12",
                RequestTarget::Path("/12".into()),
                Version::Http11,
            ),
        );
    }

    #[test]
    fn request_line_longer_than_max_line_is_414() {
        assert_rejects_with(
            b"GET /123 HTTP/1.1\r\nHost: a\r\n\r\n",
            &small_limits(),
            ParseError::RequestLineTooLong,
            414,
        );
    }

    #[test]
    fn long_request_line_is_414_before_its_end_arrives() {
        let mut input = b"GET /".to_vec();
        input.resize(8193, b'a');
        assert_eq!(parse(&input[..8192]), Ok(Progress::NeedMore));
        assert_eq!(parse(&input), Err(ParseError::RequestLineTooLong));
    }

    #[test]
    fn endless_empty_lines_before_request_line_are_414() {
        assert_eq!(parse(&b"\r\n".repeat(4096)), Ok(Progress::NeedMore));
        assert_eq!(
            parse(&b"\r\n".repeat(4097)),
            Err(ParseError::RequestLineTooLong)
        );
        assert_eq!(
            parse(&b"\n".repeat(8193)),
            Err(ParseError::RequestLineTooLong)
        );
    }

    #[test]
    fn field_section_of_exactly_max_header_bytes_is_accepted() {
        // "Host: a\r\n" (9) + "X-Y: 12345\r\n" (12) + "\r\n" (2) = 23 bytes.
        let limits = HeadLimits {
            max_header_bytes: 23,
            ..LIMITS
        };
        assert_parses_with(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Y: 12345\r\n\r\n",
            &limits,
            head(Method::Get, "/", root(), Version::Http11),
        );
    }

    #[test]
    fn field_section_larger_than_max_header_bytes_is_431() {
        assert_rejects_with(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Y: 123456\r\n\r\n",
            &HeadLimits {
                max_header_bytes: 23,
                ..LIMITS
            },
            ParseError::HeaderSectionTooLarge,
            431,
        );
    }

    #[test]
    fn large_field_section_is_431_before_it_ends() {
        let mut input = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
        input.resize(16 + 16385, b'a');
        assert_eq!(parse(&input[..input.len() - 1]), Ok(Progress::NeedMore));
        assert_eq!(parse(&input), Err(ParseError::HeaderSectionTooLarge));
    }

    // Rejections.

    #[test]
    fn malformed_request_lines_are_400() {
        for input in [
            &b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"GET /\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
            b"GET / \r\nHost: a\r\n\r\n",
            b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET\r\n\r\n",
        ] {
            assert_rejects(input, ParseError::MalformedRequestLine, 400);
        }
    }

    #[test]
    fn method_that_is_not_a_token_is_400() {
        assert_rejects(
            b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseError::InvalidMethod,
            400,
        );
        assert_rejects(
            b"G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseError::InvalidMethod,
            400,
        );
    }

    #[test]
    fn targets_in_no_known_form_are_400() {
        for input in [
            &b"GET foo HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http://user@h/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET ftp://h/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET h: HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET :80 HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_rejects(input, ParseError::InvalidTarget, 400);
        }
    }

    #[test]
    fn malformed_versions_are_400() {
        for input in [
            &b"GET / http/1.1\r\nHost: a\r\n\r\n"[..],
            b"GET / HTTP/1.10\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/a.b\r\nHost: a\r\n\r\n",
            b"GET / HTTP/11\r\nHost: a\r\n\r\n",
        ] {
            assert_rejects(input, ParseError::MalformedVersion, 400);
        }
    }

    #[test]
    fn other_well_formed_versions_are_505() {
        for input in [
            &b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"[..],
            b"GET / HTTP/0.9\r\n\r\n",
            b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        ] {
            assert_rejects(input, ParseError::UnsupportedVersion, 505);
        }
    }

    #[test]
    fn field_names_that_are_not_tokens_are_400() {
        for input in [
            &b"GET / HTTP/1.1\r\nHost: a\r\nFo@o: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nTwo Words: x\r\n\r\n",
        ] {
            assert_rejects(input, ParseError::InvalidFieldName, 400);
        }
    }

    #[test]
    fn whitespace_before_colon_is_400() {
        assert_rejects(
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            ParseError::WhitespaceBeforeColon,
            400,
        );
        assert_rejects(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A\t: 1\r\n\r\n",
            ParseError::WhitespaceBeforeColon,
            400,
        );
    }

    #[test]
    fn obs_fold_is_400() {
        assert_rejects(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n",
            ParseError::ObsoleteLineFolding,
            400,
        );
        assert_rejects(
            b"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",
            ParseError::ObsoleteLineFolding,
            400,
        );
    }

    #[test]
    fn control_characters_in_values_are_400() {
        for input in [
            &b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7fb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \x01\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\x0b\r\n\r\n",
        ] {
            assert_rejects(input, ParseError::InvalidFieldValue, 400);
        }
    }

    #[test]
    fn bare_cr_is_400() {
        for input in [
            &b"GET / HTTP/1.1\rHost: a\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
            b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_rejects(input, ParseError::BareCr, 400);
        }
    }

    #[test]
    fn bare_cr_is_400_before_the_line_ends() {
        assert_eq!(parse(b"GET / HTTP/1.1\r"), Ok(Progress::NeedMore));
        assert_eq!(parse(b"GET / HTTP/1.1\rH"), Err(ParseError::BareCr));
    }

    #[test]
    fn a_bare_cr_past_a_limit_gets_the_limit_status_however_the_bytes_arrive() {
        // Found by arbitrary_bytes_split_anywhere_agree_with_the_one_shot_result: whole,
        // these gave 400 (bare CR) while a byte-at-a-time peer got 431 or 414.
        let limits = HeadLimits {
            max_line: 15,
            max_header_bytes: 9,
            ..LIMITS
        };
        assert_rejects_with(
            b"POST / HTTP/1.1\r\nHost: a\r\n:::\r:",
            &limits,
            ParseError::HeaderSectionTooLarge,
            431,
        );
        assert_rejects_with(
            b"GET /aaaaaaaaaaaaaaaa\rx",
            &limits,
            ParseError::RequestLineTooLong,
            414,
        );
        // A bare CR that comes before the limit is reached is still the bare CR.
        assert_rejects_with(
            b"GET /\rxxxxxxxxxxxxxxxxxxxx\r\n",
            &limits,
            ParseError::BareCr,
            400,
        );
    }

    #[test]
    fn http11_without_host_is_400() {
        assert_rejects(
            b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
            ParseError::MissingHost,
            400,
        );
    }

    #[test]
    fn two_host_lines_are_400_even_in_http10() {
        assert_rejects(
            b"GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n",
            ParseError::DuplicateHost,
            400,
        );
        assert_rejects(
            b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            ParseError::DuplicateHost,
            400,
        );
    }

    #[test]
    fn host_values_in_uri_host_port_form_are_accepted() {
        for value in [
            &b""[..],
            b"example.com",
            b"127.0.0.1:12345",
            b"[::1]:8080",
            b"[::1]",
            b"ex%41mple:",
            b"a-b_c~d!$&'()*+,;=",
        ] {
            let input = [&b"GET / HTTP/1.1\r\nHost: "[..], value, b"\r\n\r\n"].concat();
            assert_parses_to(&input, head(Method::Get, "/", root(), Version::Http11));
        }
    }

    #[test]
    fn host_with_an_invalid_value_is_400() {
        // RFC 9112 §3.2: "a Host header field with an invalid field value" is a 400.
        for value in [
            &b"a b"[..],
            b"a/b",
            b"user@host",
            b"host:80x",
            b"host:8:0x",
            b"[::1",
            b"[::1]x",
            b"[]",
            b"ex%4",
            b"ex%zz",
            b"\"quoted\"",
            b"caf\xc3\xa9",
        ] {
            let input = [&b"GET / HTTP/1.1\r\nHost: "[..], value, b"\r\n\r\n"].concat();
            assert_rejects(&input, ParseError::InvalidHost, 400);
        }
    }

    #[test]
    fn two_authorization_lines_are_400() {
        assert_rejects(
            b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic a\r\nAuthorization: Basic b\r\n\r\n",
            ParseError::DuplicateAuthorization,
            400,
        );
    }

    #[test]
    fn malformed_content_lengths_are_400() {
        for value in [
            &b""[..],
            b"+5",
            b"-1",
            b"5 5",
            b"0x5",
            b"5,",
            b",5",
            b"five",
            b"5\t;",
        ] {
            let input = [
                &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "[..],
                value,
                b"\r\n\r\n",
            ]
            .concat();
            assert_rejects(&input, ParseError::InvalidContentLength, 400);
        }
    }

    #[test]
    fn differing_content_lengths_are_400() {
        assert_rejects(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
            ParseError::ConflictingContentLength,
            400,
        );
        assert_rejects(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n",
            ParseError::ConflictingContentLength,
            400,
        );
    }

    #[test]
    fn transfer_encoding_with_content_length_is_400() {
        assert_rejects(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            ParseError::ConflictingLength,
            400,
        );
        assert_rejects(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\nHost: a\r\n\r\n",
            ParseError::ConflictingLength,
            400,
        );
    }

    #[test]
    fn transfer_encodings_other_than_chunked_are_400() {
        for lines in [
            &b"Transfer-Encoding: gzip\r\n"[..],
            b"Transfer-Encoding: chunked, chunked\r\n",
            b"Transfer-Encoding: gzip, chunked\r\n",
            b"Transfer-Encoding: chunked, gzip\r\n",
            b"Transfer-Encoding: chunked;x=1\r\n",
            b"Transfer-Encoding:\r\n",
            b"Transfer-Encoding: chunked,\r\n",
            b"Transfer-Encoding: identity\r\n",
            b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        ] {
            let input = [&b"POST / HTTP/1.1\r\nHost: a\r\n"[..], lines, b"\r\n"].concat();
            assert_rejects(&input, ParseError::UnsupportedTransferEncoding, 400);
        }
    }

    #[test]
    fn transfer_encoding_in_http10_is_400() {
        assert_rejects(
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            ParseError::TransferEncodingInHttp10,
            400,
        );
    }

    #[test]
    fn content_length_over_max_body_is_413() {
        for value in [
            &b"8193"[..],
            b"18446744073709551615",
            b"18446744073709551616",
            b"99999999999999999999999999999",
        ] {
            let input = [
                &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "[..],
                value,
                b"\r\n\r\n",
            ]
            .concat();
            assert_rejects(&input, ParseError::BodyTooLarge, 413);
        }
    }

    // Properties.

    /// A valid request, and what parsing it must give.
    fn valid_request() -> impl Strategy<Value = (Vec<u8>, RequestHead)> {
        let method = prop_oneof![
            Just(Method::Get),
            Just(Method::Head),
            Just(Method::Post),
            Just(Method::Put),
            Just(Method::Delete),
            Just(Method::Options),
            "[A-Z]{1,8}".prop_map(Method::Other),
        ];
        (
            method,
            "/[A-Za-z0-9._~-]{0,12}",
            proptest::option::of("[a-z0-9=&]{0,8}"),
            any::<bool>(),
            0u8..3,
            0u64..=8192,
            any::<(bool, bool, bool)>(),
            proptest::collection::vec(("X-[a-z]{1,8}", "[ -~]{0,20}"), 0..4),
            proptest::collection::vec(any::<bool>(), 12),
        )
            .prop_map(
                |(method, path, query, http11, body, len, flags, extra, crlf)| {
                    let method = match method {
                        // Generated tokens may collide with a known method's spelling.
                        Method::Other(name) => parse_method(name.as_bytes()).unwrap_or(Method::Get),
                        known => known,
                    };
                    let method_text = method.as_str();
                    let raw_target = match &query {
                        Some(q) => format!("{path}?{q}"),
                        None => path.clone(),
                    };
                    let version = if http11 {
                        Version::Http11
                    } else {
                        Version::Http10
                    };
                    let mut lines = vec![format!(
                        "{method_text} {raw_target} HTTP/1.{}",
                        u8::from(http11)
                    )];
                    if http11 || flags.0 {
                        lines.push("Host: example".to_owned());
                    }
                    let framing = match body {
                        1 => {
                            lines.push(format!("Content-Length: {len}"));
                            Framing::Length(len)
                        }
                        2 if http11 => {
                            lines.push("Transfer-Encoding: chunked".to_owned());
                            Framing::Chunked
                        }
                        _ => Framing::None,
                    };
                    if flags.1 {
                        lines.push("Connection: close".to_owned());
                    }
                    let authorization = flags.2.then(|| {
                        lines.push("Authorization: Basic YTpi".to_owned());
                        b"Basic YTpi"[..].into()
                    });
                    for (name, value) in extra {
                        lines.push(format!("{name}:{value}"));
                    }
                    lines.push(String::new());
                    let mut bytes = Vec::new();
                    for (line, crlf) in lines.iter().zip(crlf.iter().cycle()) {
                        bytes.extend_from_slice(line.as_bytes());
                        bytes.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
                    }
                    let expected = RequestHead {
                        method,
                        raw_target: raw_target.into(),
                        target: RequestTarget::Path(path.into()),
                        version,
                        framing,
                        connection_close: flags.1,
                        connection_keep_alive: false,
                        expect_continue: false,
                        authorization,
                    };
                    (bytes, expected)
                },
            )
    }

    proptest! {
        #[test]
        fn field_value_len_counts_the_same_bytes_as_a_byte_loop(
            input in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b'\t'), Just(b'\r'), Just(0x7F), Just(b'a')],
                0..40,
            ),
        ) {
            let expected = input
                .iter()
                .position(|&b| !is_field_value_byte(b))
                .unwrap_or(input.len());
            prop_assert_eq!(field_value_len(&input), expected);
        }

        #[test]
        fn parse_head_never_panics_on_arbitrary_bytes(
            input in proptest::collection::vec(any::<u8>(), 0..600),
            max_line in 0usize..64,
            max_header_bytes in 0usize..128,
        ) {
            let _ = parse_head(&input, &LIMITS);
            let _ = parse_head(&input, &HeadLimits { max_line, max_header_bytes, max_body: 10 });
        }

        #[test]
        fn parse_head_never_panics_after_a_valid_request_line(
            input in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' ')],
                0..400,
            ),
        ) {
            let input = [&b"POST / HTTP/1.1\r\nHost: a\r\n"[..], &input].concat();
            let _ = parse(&input);
        }

        /// Incremental = one-shot on any bytes, not only valid heads: a prefix of a
        /// rejected input needs more or is rejected the same way, a prefix of a
        /// complete head needs more, and a prefix of a valid prefix needs more.
        /// So the status a peer gets never depends on how TCP split its bytes.
        #[test]
        fn arbitrary_bytes_split_anywhere_agree_with_the_one_shot_result(
            start in prop_oneof![
                Just(&b""[..]),
                Just(&b"GET / HTTP/1.1\r\n"[..]),
                Just(&b"POST / HTTP/1.1\r\nHost: a\r\n"[..]),
            ],
            tail in proptest::collection::vec(
                prop_oneof![
                    any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), Just(b'a'),
                ],
                0..120,
            ),
            max_line in 4usize..40,
            max_header_bytes in 4usize..60,
        ) {
            let input = [start, &tail].concat();
            let limits = HeadLimits { max_line, max_header_bytes, max_body: 100 };
            let whole = parse_head(&input, &limits);
            for end in 0..input.len() {
                let prefix = parse_head(&input[..end], &limits);
                match (&whole, &prefix) {
                    (_, Ok(Progress::NeedMore)) => {}
                    (Err(w), Err(p)) => prop_assert_eq!(w, p, "prefix of {} bytes", end),
                    (Ok(Progress::Done { consumed, .. }), Ok(Progress::Done { .. })) if end >= *consumed => {
                        prop_assert_eq!(&prefix, &parse_head(&input[..*consumed], &limits));
                    }
                    _ => prop_assert!(false, "prefix of {} bytes gave {:?}, whole gave {:?}", end, prefix, whole),
                }
            }
        }

        #[test]
        fn valid_request_split_anywhere_gives_the_one_shot_result(
            (input, expected) in valid_request(),
            split in any::<proptest::sample::Index>(),
        ) {
            let one_shot = parse(&input);
            prop_assert_eq!(
                &one_shot,
                &Ok(Progress::Done { value: expected, consumed: input.len() })
            );
            let split = split.index(input.len());
            prop_assert_eq!(parse(&input[..split]), Ok(Progress::NeedMore));
            prop_assert_eq!(parse(&input), one_shot);
        }
    }
}
