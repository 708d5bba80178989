//! The listening socket and the options of every accepted stream, set explicitly with `socket2`.
//!
//! Here: address reuse, backlog, non-blocking mode, TCP_NODELAY (set once, on
//! the listener: Linux copies it to every accepted stream), and registering the
//! listener so that a new connection wakes one loop, not all of them.
//! Elsewhere: accepting and serving streams (`server::event_loop`, `server::conn`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Pending connections the kernel queues before `accept` (capped by `net.core.somaxconn`).
pub const BACKLOG: i32 = 1024;

/// Creates, binds and listens on `addr`; the socket is non-blocking, for the event loops.
pub fn bind(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    // Responses go out in one write; Nagle would only delay them. An accepted
    // stream inherits the option, which saves a setsockopt per connection.
    socket.set_tcp_nodelay(true)?;
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

/// Adds the listener to `poll` under `token`, level-triggered and with
/// `EPOLLEXCLUSIVE`: every loop's epoll holds the one listening socket, and a
/// new connection wakes one loop that sleeps in `epoll_wait`, not every loop
/// (a thundering herd of failed `accept4` calls). `mio` has no such interest,
/// so this is one `epoll_ctl` on its descriptor; `mio` decodes the event's
/// token as usual, and `Registry::deregister` removes it.
pub fn register_exclusive(
    poll: &mio::Poll,
    listener: &mio::net::TcpListener,
    token: mio::Token,
) -> io::Result<()> {
    let mut event = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLEXCLUSIVE) as u32,
        u64: token.0 as u64,
    };
    // SAFETY: both descriptors are open for the call; `event` is a valid epoll_event.
    let done = unsafe {
        libc::epoll_ctl(
            poll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            listener.as_raw_fd(),
            &mut event,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;
    use std::time::Duration;

    /// The option set on the listener is on every accepted stream, so accepting
    /// sets nothing per connection.
    #[test]
    fn accepted_streams_have_tcp_nodelay() {
        let listener = share(&bind("127.0.0.1:0".parse().unwrap()).unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).unwrap();
        let accepted = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        assert!(accepted.nodelay().unwrap());
    }

    /// With two loops' epolls holding the listener exclusively, one connection
    /// wakes exactly one of two waiters.
    #[test]
    fn a_connection_wakes_one_exclusive_waiter() {
        let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let listener = share(&socket).unwrap();
                let mut poll = mio::Poll::new().unwrap();
                register_exclusive(&poll, &listener, mio::Token(7)).unwrap();
                std::thread::spawn(move || {
                    let mut events = mio::Events::with_capacity(4);
                    poll.poll(&mut events, Some(Duration::from_millis(500)))
                        .unwrap();
                    let woken = events.iter().any(|e| e.token() == mio::Token(7));
                    drop(listener);
                    woken
                })
            })
            .collect();
        // Both threads are asleep in epoll_wait well before this.
        std::thread::sleep(Duration::from_millis(100));
        let _client = TcpStream::connect(addr).unwrap();
        let woken: usize = waiters
            .into_iter()
            .map(|w| usize::from(w.join().unwrap()))
            .sum();
        assert_eq!(woken, 1);
    }
}
