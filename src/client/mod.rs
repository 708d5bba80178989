//! The crate's one HTTP/1.1 client: writing a request and reading the answer off a connection.
//!
//! Here: `Request` (encoding) and `exchange` (one request on a new connection,
//! optionally traced byte by byte through `trace::TracedStream`).
//! Elsewhere: reading responses (`client::response`), the `wordwire client`
//! subcommand (`cli::client`), scripted conversations and comparison (`replay`).

pub mod response;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub use response::{
    BodyFraming, ReadError, Response, ResponseReader, is_timeout, where_it_stopped,
};

use crate::trace::{TracedStream, Tracer};

/// A request to encode. `to_bytes` adds `Content-Length` when there is a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// Field lines in the order they are sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: impl Into<String>, target: impl Into<String>) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The HTTP/1.1 message: request-line, field lines, CRLF, body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        let has_length = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
        if !self.body.is_empty() && !has_length {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// Why `wordwire client` could not get an answer. Each becomes a one-line error and exit 2.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Example: `--user alice` with no password anywhere.
    #[error("{0}")]
    Credentials(String),
    #[error("--timeout must be seconds, at least 0.001 and at most 86400")]
    BadTimeout,
    /// The address as given, control characters escaped (`\r\n` in it must not end the line).
    #[error("cannot resolve {}: {source}", .addr.escape_debug())]
    Resolve {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("sending to {addr}: {source}")]
    Send {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("reading the answer from {addr}: {source}")]
    Receive {
        addr: String,
        #[source]
        source: ReadError,
    },
    /// The connection or the answer did not come in time; names the flag that sets it.
    /// Example: a server that accepts and never answers, with `--timeout 2`.
    #[error("{}", timed_out(addr, *waited, *connected, *received))]
    TimedOut {
        addr: String,
        waited: Duration,
        /// False: the connection itself was not made in time.
        connected: bool,
        /// Bytes of the answer that arrived before the silence.
        received: usize,
    },
}

/// `no answer from ADDR within 2 s (--timeout)`, with what did arrive if anything.
fn timed_out(addr: &str, waited: Duration, connected: bool, received: usize) -> String {
    let secs = waited.as_secs_f64();
    match (connected, received) {
        (false, _) => {
            format!("cannot connect to {addr}: no connection within {secs} s (--timeout)")
        }
        (true, 0) => format!("no answer from {addr} within {secs} s (--timeout)"),
        (true, n) => format!(
            "no complete answer from {addr}: {n} bytes, then nothing for {secs} s (--timeout)"
        ),
    }
}

/// Sends `request` on a new connection to `addr` and reads the final response
/// (interim 1xx responses are skipped).
pub fn exchange(addr: &str, request: &Request, timeout: Duration) -> Result<Response, ClientError> {
    exchange_traced(addr, request, timeout, None)
}

/// As `exchange`; with a `tracer`, every byte sent and received is traced as it goes,
/// timed from the moment the connection is established.
pub fn exchange_traced(
    addr: &str,
    request: &Request,
    timeout: Duration,
    tracer: Option<Tracer>,
) -> Result<Response, ClientError> {
    let resolved: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            addr: addr.to_string(),
            source,
        })?
        .collect();
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address");
    let mut stream = None;
    for candidate in resolved {
        match TcpStream::connect_timeout(&candidate, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = e,
        }
    }
    let stream = stream.ok_or_else(|| {
        if is_timeout(&last_error) {
            ClientError::TimedOut {
                addr: addr.to_string(),
                waited: timeout,
                connected: false,
                received: 0,
            }
        } else {
            ClientError::Connect {
                addr: addr.to_string(),
                source: last_error,
            }
        }
    })?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|source| ClientError::Send {
            addr: addr.to_string(),
            source,
        })?;
    match tracer {
        Some(tracer) => {
            let peer = stream
                .peer_addr()
                .map_or_else(|_| addr.to_string(), |a| a.to_string());
            let tracer = Tracer::restarted(tracer);
            tracer.note(&format!("connected to {peer}"));
            converse(TracedStream::new(stream, tracer), addr, request, timeout)
        }
        None => converse(stream, addr, request, timeout),
    }
}

/// Writes the request on `stream` and reads until the final response; `timeout` is
/// the stream's read timeout, named in the error when it expires.
fn converse<S: Read + Write>(
    mut stream: S,
    addr: &str,
    request: &Request,
    timeout: Duration,
) -> Result<Response, ClientError> {
    stream
        .write_all(&request.to_bytes())
        .map_err(|source| ClientError::Send {
            addr: addr.to_string(),
            source,
        })?;
    let mut reader = ResponseReader::new(stream);
    let after_head = request.method.eq_ignore_ascii_case("HEAD");
    loop {
        let response = reader
            .read_response(after_head)
            .map_err(|source| match source {
                ReadError::TimedOut { partial } => ClientError::TimedOut {
                    addr: addr.to_string(),
                    waited: timeout,
                    connected: true,
                    received: partial.len(),
                },
                source => ClientError::Receive {
                    addr: addr.to_string(),
                    source,
                },
            })?;
        if !response.is_interim() {
            return Ok(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_gets_content_length_for_a_body() {
        let bytes = Request::new("POST", "/")
            .header("Host", "h")
            .body("hi")
            .to_bytes();
        assert_eq!(
            bytes,
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"
        );
    }

    #[test]
    fn a_timeout_names_the_flag_that_sets_it_in_one_line() {
        let err = |connected, received| {
            ClientError::TimedOut {
                addr: "127.0.0.1:9".into(),
                waited: Duration::from_secs_f64(1.5),
                connected,
                received,
            }
            .to_string()
        };
        assert_eq!(
            err(true, 0),
            "no answer from 127.0.0.1:9 within 1.5 s (--timeout)"
        );
        assert_eq!(
            err(true, 41),
            "no complete answer from 127.0.0.1:9: 41 bytes, then nothing for 1.5 s (--timeout)"
        );
        assert_eq!(
            err(false, 0),
            "cannot connect to 127.0.0.1:9: no connection within 1.5 s (--timeout)"
        );
    }

    #[test]
    fn a_server_that_never_answers_is_a_timeout_after_the_bytes_that_came() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
                .unwrap();
            // Held open, silent, until the client has given up.
            let _ = conn.read(&mut buf);
        });
        let err =
            exchange(&addr, &Request::new("GET", "/"), Duration::from_millis(200)).unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::TimedOut {
                    connected: true,
                    received: 41,
                    ..
                }
            ),
            "{err:?}"
        );
        server.join().unwrap();
    }
}
