//! Turns the bytes of a request head into a `RequestHead`, or says why it can't.
//!
//! Here: the request-line and field-line grammar, and the line and section limits.
//! Elsewhere: reading the socket (`server::conn`), body framing (`http::body`).

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
pub fn parse_head(input: &[u8], limits: &HeadLimits) -> Result<Progress<RequestHead>, ParseError> {
    let _ = (input, limits);
    unimplemented!("parser: see issue 2")
}
