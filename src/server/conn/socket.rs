//! The socket edge of a connection: the one file of `server::conn` that names a TCP stream.
//!
//! Here: `Socket`, the `Transport` over `mio`'s `TcpStream` that makes the system calls
//! (read, `writev`, the half-close), with `--trace` showing every byte as it passes.
//! Elsewhere: the state machine that drives any `Transport` (`server::conn`), the
//! scripted one of the tests and the fuzzer (`server::memory`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use mio::net::TcpStream;

use super::Transport;
use crate::trace::{self, Direction, Tracer};

/// The server's side of a TCP connection (the thin edge that makes the system
/// calls), and with `--trace` the tracer that shows every byte read (`>`) and
/// written (`<`) as it goes, timed from the accept.
pub(in crate::server) struct Socket {
    stream: TcpStream,
    /// Boxed: most connections have none, and every open connection keeps this field.
    trace: Option<Box<Tracer>>,
}

impl Socket {
    pub(in crate::server) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        trace: Option<&trace::Sink>,
    ) -> Socket {
        let trace = trace.map(|sink| Box::new(Tracer::new(Arc::clone(sink), format!("{peer} "))));
        if let Some(tracer) = &trace {
            tracer.note("accepted");
        }
        Socket { stream, trace }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        match &self.trace {
            Some(tracer) if n == 0 => tracer.note("end of stream from the client"),
            Some(tracer) => tracer.bytes(Direction::ToServer, &buf[..n]),
            None => {}
        }
        Ok(n)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, slices: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = self.stream.write_vectored(slices)?;
        if let Some(tracer) = &self.trace {
            let written: Vec<u8> = slices
                .iter()
                .flat_map(|s| s.iter())
                .take(n)
                .copied()
                .collect();
            tracer.bytes(Direction::ToClient, &written);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Transport for Socket {
    fn shutdown_write(&mut self) -> io::Result<()> {
        if let Some(tracer) = &self.trace {
            tracer.note("write side shut (lingering close)");
        }
        self.stream.shutdown(Shutdown::Write)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(tracer) = &self.trace {
            tracer.note("closed");
        }
    }
}
