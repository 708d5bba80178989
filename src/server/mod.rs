//! The server: a listening socket, one thread per connection under a cap, and shutdown.
//!
//! Here: `Config` (an accepted combination of flags) and `Server` (bind, run, shut down).
//! Elsewhere: socket options and accepting (`server::listener`), one connection's
//! request loop and timeouts (`server::conn`), what a request means (`handler`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::auth::Credentials;
use crate::http::HeadLimits;

/// Everything `serve` needs besides the store, already checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub credentials: Credentials,
    /// Every method needs credentials, not only GET and HEAD.
    pub auth_all: bool,
    /// Longest silence allowed between bytes of a request that has started.
    pub read_timeout: Duration,
    /// Longest time from a request's first byte to its last.
    pub request_timeout: Duration,
    /// Longest silence allowed on a keep-alive connection between requests.
    pub idle_timeout: Duration,
    /// Status sent when a request times out: 504 (the assignment's) or 408 (RFC 9110's).
    pub timeout_status: u16,
    /// Open connections allowed at once; the next gets 503.
    pub max_connections: usize,
    pub limits: HeadLimits,
    /// Write one line per request to stderr.
    pub access_log: bool,
}

impl Config {
    /// The contract's defaults, for `addr` and `credentials`.
    pub fn new(addr: SocketAddr, credentials: Credentials) -> Config {
        Config {
            addr,
            credentials,
            auth_all: false,
            read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            timeout_status: 504,
            max_connections: 1024,
            limits: HeadLimits {
                max_line: 8192,
                max_header_bytes: 16384,
                max_body: 8192,
            },
            access_log: true,
        }
    }
}
