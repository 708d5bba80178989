//! Turns the bytes of a request head into a `RequestHead`, or says why it can't.
//!
//! Here: the request-line and field-line grammar, and the line and section limits.
//! Elsewhere: reading the socket (`server::conn`), body framing (`http::body`).

use nom::bytes::complete::{tag, take_till1, take_while, take_while1};
use nom::character::complete::{char, satisfy};
use nom::combinator::{all_consuming, opt, rest};
use nom::{IResult, Parser};

use super::{ParseError, Progress};

/// Size limits applied while parsing a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request-line, in bytes, without its line terminator. Longer: 414.
    pub max_line: usize,
    /// Largest field section (all field lines and the empty line after them). Larger: 431.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// The request-target, classified by its form (RFC 9112 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTarget {
    /// origin-form or absolute-form: the path without query, e.g. `/` for `/?x=1`
    /// and for `http://host:1/` (an empty absolute path becomes `/`).
    Path(String),
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// The request-target exactly as sent, for the access log.
    pub raw_target: String,
    pub target: RequestTarget,
    pub version: Version,
    pub framing: Framing,
    /// A `close` token in `Connection`.
    pub connection_close: bool,
    /// A `keep-alive` token in `Connection`.
    pub connection_keep_alive: bool,
    /// `Expect: 100-continue` (case-insensitive).
    pub expect_continue: bool,
    /// The value of `Authorization`, trimmed of OWS, if present.
    pub authorization: Option<Vec<u8>>,
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
        match scan_line(input, pos)? {
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
        match scan_line(input, pos)? {
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
                    let facts = fields.finish(limits)?;
                    let head = RequestHead {
                        method,
                        raw_target,
                        target,
                        version,
                        framing: facts.framing,
                        connection_close: fields.connection_close,
                        connection_keep_alive: fields.connection_keep_alive,
                        expect_continue: fields.expect_continue,
                        authorization: fields.authorization.map(<[u8]>::to_vec),
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
}

/// Finds the line that starts at `input[start..]`.
fn scan_line(input: &[u8], start: usize) -> Result<Line<'_>, ParseError> {
    let rest = &input[start..];
    let (content, line) = match rest.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            // RFC 9112 §2.2: a line ends in CRLF or, leniently, in a lone LF.
            let content = rest[..lf].strip_suffix(b"\r").unwrap_or(&rest[..lf]);
            let line = Line::Complete {
                content,
                end: start + lf + 1,
            };
            (content, line)
        }
        None => {
            let content = rest.strip_suffix(b"\r").unwrap_or(rest);
            (content, Line::Partial { len: content.len() })
        }
    };
    // RFC 9112 §2.2: a CR not followed by LF is rejected, not treated as a line end.
    if content.contains(&b'\r') {
        return Err(ParseError::BareCr);
    }
    Ok(line)
}

/// The parts of a request-line, checked.
struct RequestLine {
    method: Method,
    target: RequestTarget,
    raw_target: String,
    version: Version,
}

/// `request-line = method SP request-target SP HTTP-version` (RFC 9112 §3), exactly one SP each.
fn parse_request_line(line: &[u8]) -> Result<RequestLine, ParseError> {
    let parsed: IResult<&[u8], (&[u8], char, &[u8], char, &[u8])> = (
        take_till1(|b| b == b' '),
        char(' '),
        take_till1(|b| b == b' '),
        char(' '),
        rest,
    )
        .parse(line);
    let Ok((_, (method, _, target, _, version))) = parsed else {
        return Err(ParseError::MalformedRequestLine);
    };
    // RFC 9112 §3: a single SP between the parts, and nothing after the version.
    if version.is_empty() || version.contains(&b' ') {
        return Err(ParseError::MalformedRequestLine);
    }
    Ok(RequestLine {
        method: parse_method(method)?,
        target: parse_target(target)?,
        // Checked by parse_target to be visible ASCII, so each byte is one char.
        raw_target: target.iter().map(|&b| char::from(b)).collect(),
        version: parse_version(version)?,
    })
}

/// `method = token` (RFC 9110 §9.1), case-sensitive.
fn parse_method(method: &[u8]) -> Result<Method, ParseError> {
    if !method.iter().all(|&b| is_tchar(b)) {
        return Err(ParseError::InvalidMethod);
    }
    Ok(match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        b"POST" => Method::Post,
        b"PUT" => Method::Put,
        b"DELETE" => Method::Delete,
        b"OPTIONS" => Method::Options,
        // All tchar, so ASCII: one char per byte.
        other => Method::Other(other.iter().map(|&b| char::from(b)).collect()),
    })
}

/// Classifies a request-target by its form (RFC 9112 §3.2).
///
/// ```text
/// origin-form    = absolute-path [ "?" query ]          ; "/..."
/// absolute-form  = ("http" / "https") "://" authority path-abempty [ "?" query ]
/// authority-form = uri-host ":" port                    ; port = 1*DIGIT here
/// asterisk-form  = "*"
/// ```
fn parse_target(target: &[u8]) -> Result<RequestTarget, ParseError> {
    // RFC 9112 §3.2: the target is visible ASCII; a fragment is never sent (RFC 9110 §7.1).
    if !target.iter().all(|b| (0x21..=0x7E).contains(b)) || target.contains(&b'#') {
        return Err(ParseError::InvalidTarget);
    }
    // RFC 9112 §3.2.4: asterisk-form.
    if target == b"*" {
        return Ok(RequestTarget::Asterisk);
    }
    // RFC 9112 §3.2.1: origin-form.
    if target.starts_with(b"/") {
        return Ok(RequestTarget::Path(path_of(target)));
    }
    // RFC 9112 §3.2.2: absolute-form; the scheme is case-insensitive (RFC 3986 §3.1).
    if let Some(after) = strip_prefix_ignore_case(target, b"http://")
        .or_else(|| strip_prefix_ignore_case(target, b"https://"))
    {
        let authority_end = after
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        // RFC 9110 §4.2.1: an http URI has a non-empty host; §4.2.4: no userinfo.
        if authority.is_empty() || authority.contains(&b'@') {
            return Err(ParseError::InvalidTarget);
        }
        let path = path_of(&after[authority_end..]);
        let path = if path.is_empty() {
            "/".to_owned()
        } else {
            path
        };
        return Ok(RequestTarget::Path(path));
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

/// The path part of `path [ "?" query ]`, which is visible ASCII.
fn path_of(path_and_query: &[u8]) -> String {
    path_and_query
        .iter()
        .take_while(|&&b| b != b'?')
        .map(|&b| char::from(b))
        .collect()
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

/// `tchar` (RFC 9110 §5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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
    let parsed: IResult<&[u8], (&[u8], &[u8], Option<char>)> =
        (token, take_while(is_ows), opt(char(':'))).parse(line);
    let Ok((value, (name, space, colon))) = parsed else {
        return Err(ParseError::InvalidFieldName);
    };
    if colon.is_none() {
        return Err(ParseError::InvalidFieldName);
    }
    // RFC 9112 §5.1: no whitespace is allowed between the field name and colon.
    if !space.is_empty() {
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

/// What `Fields::finish` decides once the field section is complete.
struct Facts {
    framing: Framing,
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

    /// The checks that need the whole field section.
    fn finish(&self, limits: &HeadLimits) -> Result<Facts, ParseError> {
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
        Ok(Facts { framing })
    }
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
