//! HTTP/1.1 message syntax, with no I/O: parsing request heads and bodies, encoding responses.
//!
//! Here: `request` (the head's lines), `message` (the version and the limits
//! every part of the parse reads), `syntax` (the grammar heads and
//! bodies share), `target` (request-target forms, Host syntax), `fields` (what the
//! field lines say), `body` (Content-Length and chunked decoding), `error` (what is
//! wrong with a message and which status that becomes), `response` (encoding),
//! `status` (the statuses wordwire sends).
//! Elsewhere: reading and writing sockets and choosing keep-alive (`server::conn`),
//! deciding what a well-formed request means (`handler`).

pub mod body;
pub mod error;
mod fields;
mod message;
pub mod request;
pub mod response;
pub mod status;
mod syntax;
mod target;

pub use body::{BodyDecoder, BodyPart};
pub use error::ParseError;
pub use fields::Framing;
pub use message::{HeadLimits, Version};
pub use request::{Examined, HeadParser, Method, RequestHead, Work, parse_head};
pub use status::Status;
pub use target::RequestTarget;

/// The outcome of feeding a parser the bytes received so far, when they are not wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<T> {
    /// A complete item and how many input bytes it used.
    Done { value: T, consumed: usize },
    /// The input is a valid prefix; read more bytes and call again with all of them.
    NeedMore,
}
