//! The listening socket and the options of every accepted stream, set explicitly with `socket2`.
//!
//! Here: address reuse, backlog, the accept poll interval, TCP_NODELAY and
//! the kernel-level read and write timeouts.
//! Elsewhere: what is done with an accepted stream (`server`, `server::conn`).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Pending connections the kernel queues before `accept` (capped by `net.core.somaxconn`).
pub const BACKLOG: i32 = 1024;

/// How often a blocked `accept` wakes to notice a shutdown.
pub const ACCEPT_POLL: Duration = Duration::from_millis(100);

/// Creates, binds and listens on `addr`.
pub fn bind(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(BACKLOG)?;
    // On Linux SO_RCVTIMEO bounds accept(2) too, so the accept loop can poll the shutdown flag.
    socket.set_read_timeout(Some(ACCEPT_POLL))?;
    Ok(socket)
}

/// Sets the per-connection options and hands back a std stream.
/// `timeout` bounds a blocked write (a peer that never reads); reads get
/// their timeout per phase from `server::conn`.
pub fn configure(socket: Socket, timeout: Duration) -> io::Result<TcpStream> {
    // Responses go out in one write; Nagle would only delay them.
    socket.set_tcp_nodelay(true)?;
    socket.set_read_timeout(Some(timeout))?;
    socket.set_write_timeout(Some(timeout))?;
    Ok(socket.into())
}
