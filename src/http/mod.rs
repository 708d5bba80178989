//! HTTP/1.1 message syntax, with no I/O: parsing request heads and bodies, encoding responses.
//!
//! Here: `request` (request-line and field lines), `body` (chunked decoding),
//! `error` (what is wrong with a message and which status that becomes), `response` (encoding),
//! `status` (the statuses wordwire sends).
//! Elsewhere: reading and writing sockets and choosing keep-alive (`server::conn`),
//! deciding what a well-formed request means (`handler`).

pub mod body;
pub mod error;
pub mod request;
pub mod response;
pub mod status;

pub use body::{ChunkedDecoder, Decoded};
pub use error::ParseError;
pub use request::{Framing, HeadLimits, Method, RequestHead, RequestTarget, Version, parse_head};
pub use status::Status;

/// The outcome of feeding a parser the bytes received so far, when they are not wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<T> {
    /// A complete item and how many input bytes it used.
    Done { value: T, consumed: usize },
    /// The input is a valid prefix; read more bytes and call again with all of them.
    NeedMore,
}
