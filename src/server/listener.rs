//! The listening socket and the options of every accepted stream, set explicitly with `socket2`.
//!
//! Here: address reuse, backlog, non-blocking mode, TCP_NODELAY.
//! Elsewhere: accepting and serving streams (`server::event_loop`, `server::conn`).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

/// Pending connections the kernel queues before `accept` (capped by `net.core.somaxconn`).
pub const BACKLOG: i32 = 1024;

/// Creates, binds and listens on `addr`; the socket is non-blocking, for the event loops.
pub fn bind(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// A handle on the same listening socket for one more event loop (a `dup`).
pub fn share(listener: &Socket) -> io::Result<mio::net::TcpListener> {
    let socket = listener.try_clone()?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// Sets the per-connection options of an accepted stream (accepted non-blocking).
/// There are no kernel timeouts: the event loop keeps every deadline itself.
pub fn configure(stream: &mio::net::TcpStream) -> io::Result<()> {
    // Responses go out in one write; Nagle would only delay them.
    SockRef::from(stream).set_tcp_nodelay(true)
}
