//! The request-target: its four forms (RFC 9112 §3.2) and the rules for the
//! authority it names, which `Host` follows too (RFC 9110 §7.2).
//!
//! Here: classifying a target, the path wordwire routes on, `Host` value syntax.
//! Elsewhere: whether the path exists (`handler`), how many `Host` lines (`http::fields`).

use compact_str::CompactString;

use super::ParseError;

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

/// Classifies a request-target by its form (RFC 9112 §3.2), and returns it with
/// the target as sent.
///
/// ```text
/// origin-form    = absolute-path [ "?" query ]          ; "/..."
/// absolute-form  = ("http" / "https") "://" authority path-abempty [ "?" query ]
/// authority-form = uri-host ":" port                    ; port = 1*DIGIT here
/// asterisk-form  = "*"
/// ```
#[inline]
pub(crate) fn parse_target(target: &[u8]) -> Result<(RequestTarget, CompactString), ParseError> {
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
    // RFC 9112 §3.2.1: origin-form, what nearly every request sends, is decided here,
    // the other forms out of line, so that this stays small enough to inline.
    if target.first() == Some(&b'/') {
        let path_end = query.unwrap_or(text.len());
        let path = CompactString::new(&text[..path_end]);
        // Without a query the target is its path: a copy rather than a second construction.
        let raw = match query {
            None => path.clone(),
            Some(_) => CompactString::new(text),
        };
        return Ok((RequestTarget::Path(path), raw));
    }
    Ok((
        parse_other_target_form(text, query)?,
        CompactString::new(text),
    ))
}

/// The form of a checked request-target `text` that is not origin-form, whose first `?` is at `query`.
#[inline(never)]
fn parse_other_target_form(text: &str, query: Option<usize>) -> Result<RequestTarget, ParseError> {
    let target = text.as_bytes();
    // RFC 9112 §3.2.4: asterisk-form.
    if target == b"*" {
        return Ok(RequestTarget::Asterisk);
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
        // RFC 9112 §3.2.2: this authority, not Host, is the one in force, so it is held
        // to the same rules (which exclude an empty host and userinfo, RFC 9110 §4.2.1, §4.2.4).
        if !is_valid_host(authority) {
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

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2) with a host that
/// is not empty; also the rule for the authority of an absolute-form target.
///
/// ```text
/// uri-host    = IP-literal / IPv4address / reg-name
/// IP-literal  = "[" ( IPv6address / IPvFuture ) "]"   ; checked here as "[" 1*( unreserved / sub-delims / ":" ) "]"
/// reg-name    = 1*( unreserved / pct-encoded / sub-delims )
/// port        = *DIGIT
/// ```
///
/// RFC 9112 §3.2 lets a client send an empty Host for a URI without an authority;
/// an origin server has no use for one, and RFC 9110 §4.2.1 forbids an empty host
/// in an http URI, so an empty host (`""`, `":80"`) is refused.
#[inline(always)]
pub(crate) fn is_valid_host(value: &[u8]) -> bool {
    let is_reg_name_byte = |b: u8| REG_NAME_BYTE[usize::from(b)];
    if value.first().is_none_or(|&b| b == b':') {
        return false;
    }
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
