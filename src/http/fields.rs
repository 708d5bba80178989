//! What the field lines of a head say: Host, framing, connection options,
//! expectations and credentials, checked as they arrive.
//!
//! Here: `Fields` (the facts so far) and the checks that need the whole section.
//! Elsewhere: field-line syntax (`http::syntax`), Host value syntax (`http::target`).

use super::ParseError;
use std::ops::Range;

use super::message::{HeadLimits, Version};
use super::syntax::list_members;
use super::target::is_valid_host;

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

/// What the field lines said so far. What it keeps of the input it keeps as
/// offsets, which stay valid while the head's bytes arrive (`HeadParser`).
#[derive(Debug)]
pub(crate) struct Fields {
    version: Version,
    hosts: usize,
    /// Where the Content-Length digits are, without leading zeros (`0` stays `0`).
    content_length: Option<Range<usize>>,
    chunked: bool,
    pub(crate) connection_close: bool,
    pub(crate) connection_keep_alive: bool,
    pub(crate) expect_continue: bool,
    /// Where the value of Authorization is.
    pub(crate) authorization: Option<Range<usize>>,
}

impl Fields {
    #[inline]
    pub(crate) fn new(version: Version) -> Self {
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

    /// Folds one field line of `input` into the facts; names are case-insensitive
    /// (RFC 9110 §5.1). `value` is a part of `input`.
    #[inline]
    pub(crate) fn add(
        &mut self,
        input: &[u8],
        name: &[u8],
        value: &[u8],
    ) -> Result<(), ParseError> {
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
                match &self.content_length {
                    Some(seen) if &input[seen.clone()] != digits => {
                        return Err(ParseError::ConflictingContentLength);
                    }
                    Some(_) => {}
                    None => self.content_length = Some(range_in(input, digits)),
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
            self.authorization = Some(range_in(input, value));
        }
        Ok(())
    }

    /// The checks that need the whole field section, and the framing they leave.
    #[inline]
    pub(crate) fn finish(&self, input: &[u8], limits: &HeadLimits) -> Result<Framing, ParseError> {
        // RFC 9112 §3.2: an HTTP/1.1 request must carry Host.
        if self.version == Version::Http11 && self.hosts == 0 {
            return Err(ParseError::MissingHost);
        }
        let framing = match (self.chunked, &self.content_length) {
            // RFC 9112 §6.1: both present is a smuggling attempt; reject rather than pick one.
            (true, Some(_)) => return Err(ParseError::ConflictingLength),
            (true, None) => Framing::Chunked,
            (false, Some(digits)) => Framing::Length(content_length_within(
                &input[digits.clone()],
                limits.max_body,
            )?),
            (false, None) => Framing::None,
        };
        Ok(framing)
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

/// Where `part`, a part of `input`, lies in it.
fn range_in(input: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr().addr() - input.as_ptr().addr();
    debug_assert!(start + part.len() <= input.len(), "a part of the input");
    start..start + part.len()
}
