//! What can be wrong with a request message, and the status each fault becomes.
//!
//! Here: the `ParseError` enum and its mapping to a status code.
//! Elsewhere: detecting the faults (`http::request`, `http::body`).

/// A request message that cannot be accepted. After any of these the framing
/// of the connection is in doubt, so the server answers and closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("malformed request")]
    Malformed,
}

impl ParseError {
    /// The response status for this fault.
    pub fn status(&self) -> u16 {
        400
    }
}
