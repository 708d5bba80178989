//! What every part of a request's parse shares: the HTTP version and the size limits.
//!
//! Here: `Version` and `HeadLimits`, below the head parser (`http::request`), the
//! field lines (`http::fields`) and the body decoder (`http::body`), which all read
//! them, so that none of those imports another for them.

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}
