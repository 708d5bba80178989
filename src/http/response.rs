//! Encodes responses: status line, the fields every response carries, and the body.
//!
//! Here: reason phrases, field order and framing fields (RFC 9110 §8.6, §6.6.1).
//! Elsewhere: choosing the status and body (`handler`), choosing keep-alive or close
//! and writing to the socket (`server::conn`), the current time (`server::conn` passes it in).

use crate::store::Snapshot;

use super::Status;

/// `Server` field value: name and version of this build.
pub const SERVER: &str = concat!("wordwire/", env!("CARGO_PKG_VERSION"));

/// Methods the resource supports, for `Allow` (RFC 9110 §10.2.1).
pub const ALLOW: &str = "GET, HEAD, POST, PUT, DELETE, OPTIONS";

/// Challenge sent with 401 (RFC 7617 §2).
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"wordwire\", charset=\"UTF-8\"";

/// The body of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No content and no `Content-Length` (only for 1xx and 204).
    None,
    /// A one-line human-readable message; the LF is added when encoding.
    Line(String),
    /// The store's bytes, shared without copying.
    Words(Snapshot),
}

impl Body {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::None => b"",
            Body::Line(text) => text.as_bytes(),
            Body::Words(words) => words.as_slice(),
        }
    }
}

/// A response before framing: what the handler decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    pub body: Body,
    /// Send `Allow` (OPTIONS, 501).
    pub allow: bool,
    /// Send the Basic challenge (401).
    pub challenge: bool,
    /// Send `Retry-After` with this many seconds (503).
    pub retry_after: Option<u32>,
    /// Why a 5xx happened, for the server's log only; never sent to the peer.
    pub cause: Option<String>,
}

impl Response {
    /// A response whose body is one line of text.
    pub fn line(status: Status, text: impl Into<String>) -> Response {
        let mut text = text.into();
        text.push('\n');
        Response {
            status,
            body: Body::Line(text),
            allow: false,
            challenge: false,
            retry_after: None,
            cause: None,
        }
    }

    /// 204 with `Allow`, the answer to OPTIONS.
    pub fn options() -> Response {
        Response {
            status: Status::NoContent,
            body: Body::None,
            allow: true,
            challenge: false,
            retry_after: None,
            cause: None,
        }
    }

    /// 200 with the store's bytes.
    pub fn words(snapshot: Snapshot) -> Response {
        Response {
            status: Status::Ok,
            body: Body::Words(snapshot),
            allow: false,
            challenge: false,
            retry_after: None,
            cause: None,
        }
    }

    pub fn with_allow(mut self) -> Response {
        self.allow = true;
        self
    }

    pub fn with_challenge(mut self) -> Response {
        self.challenge = true;
        self
    }

    /// 500 for a failure inside the server (a panic); `cause` goes to the log only.
    pub fn internal_error(cause: impl Into<String>) -> Response {
        Response::line(
            Status::InternalServerError,
            "internal error while handling the request",
        )
        .with_cause(cause)
    }

    pub fn with_cause(mut self, cause: impl Into<String>) -> Response {
        self.cause = Some(cause.into());
        self
    }

    pub fn with_retry_after(mut self, seconds: u32) -> Response {
        self.retry_after = Some(seconds);
        self
    }
}

/// What the `Connection` field says about the connection after this response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// HTTP/1.1 default: no `Connection` field.
    KeepAliveDefault,
    /// An HTTP/1.0 client asked to keep the connection: `Connection: keep-alive`.
    KeepAliveExplicit,
    /// `Connection: close`; the server closes after sending.
    Close,
}

/// Appends the status line and fields of `response` to `out`, ending with the
/// empty line. `date` is an IMF-fixdate (RFC 9110 §5.6.7). The caller sends the
/// body after it unless the request was HEAD; `Content-Length` is the body's
/// length either way (RFC 9110 §8.6).
pub fn encode_head(response: &Response, persistence: Persistence, date: &str, out: &mut Vec<u8>) {
    let status = response.status;
    out.extend_from_slice(b"HTTP/1.1 ");
    push_number(out, u64::from(status.code()));
    out.push(b' ');
    out.extend_from_slice(status.reason().as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(date.as_bytes());
    out.extend_from_slice(b"\r\nServer: ");
    out.extend_from_slice(SERVER.as_bytes());
    out.extend_from_slice(b"\r\n");
    if response.allow {
        out.extend_from_slice(b"Allow: ");
        out.extend_from_slice(ALLOW.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if response.challenge {
        out.extend_from_slice(b"WWW-Authenticate: ");
        out.extend_from_slice(WWW_AUTHENTICATE.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(seconds) = response.retry_after {
        out.extend_from_slice(b"Retry-After: ");
        push_number(out, u64::from(seconds));
        out.extend_from_slice(b"\r\n");
    }
    // RFC 9110 §8.6: no Content-Length in 1xx or 204.
    if !matches!(response.body, Body::None)
        && !matches!(status, Status::NoContent | Status::Continue)
    {
        out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
        push_number(out, response.body.as_bytes().len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    match persistence {
        Persistence::KeepAliveDefault => {}
        Persistence::KeepAliveExplicit => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        Persistence::Close => out.extend_from_slice(b"Connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// `HTTP/1.1 100 Continue` (RFC 9110 §15.2.1), sent before reading an expected body.
pub fn encode_continue(date: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\nDate: ");
    out.extend_from_slice(date.as_bytes());
    out.extend_from_slice(b"\r\nServer: ");
    out.extend_from_slice(SERVER.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

fn push_number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const DATE: &str = "Thu, 26 Nov 2026 05:00:00 GMT";

    fn head(response: &Response, persistence: Persistence) -> String {
        let mut out = Vec::new();
        encode_head(response, persistence, DATE, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_line_response_has_every_required_field_in_order() {
        let text = head(
            &Response::line(Status::Ok, "added hello"),
            Persistence::KeepAliveDefault,
        );
        assert_eq!(
            text,
            format!(
                "HTTP/1.1 200 OK\r\nDate: {DATE}\r\nServer: {SERVER}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Length: 12\r\n\r\n"
            )
        );
    }

    #[test]
    fn options_204_has_allow_and_no_content_length() {
        let text = head(&Response::options(), Persistence::KeepAliveDefault);
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"));
        assert!(text.contains("\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n"));
        assert!(!text.contains("Content-Length"));
    }

    #[test]
    fn an_empty_store_still_gets_content_length_zero() {
        let text = head(&Response::words(Arc::new(Vec::new())), Persistence::Close);
        assert!(
            text.contains("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn unauthorized_carries_the_basic_challenge_and_503_retry_after() {
        let text = head(
            &Response::line(Status::Unauthorized, "x").with_challenge(),
            Persistence::KeepAliveDefault,
        );
        assert!(text.contains("WWW-Authenticate: Basic realm=\"wordwire\", charset=\"UTF-8\"\r\n"));
        let text = head(
            &Response::line(Status::ServiceUnavailable, "x").with_retry_after(1),
            Persistence::Close,
        );
        assert!(text.contains("\r\nRetry-After: 1\r\n"));
    }

    #[test]
    fn http10_keep_alive_is_said_explicitly() {
        let text = head(
            &Response::line(Status::Ok, "x"),
            Persistence::KeepAliveExplicit,
        );
        assert!(text.ends_with("Connection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn continue_has_date_and_server_and_nothing_else() {
        let mut out = Vec::new();
        encode_continue(DATE, &mut out);
        assert_eq!(
            out,
            format!("HTTP/1.1 100 Continue\r\nDate: {DATE}\r\nServer: {SERVER}\r\n\r\n")
                .into_bytes()
        );
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0u64, 7, 10, 8192, u64::MAX] {
            let mut out = Vec::new();
            push_number(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
