//! A connection's bytes: reading into its buffer, writing its output queue, and the
//! lingering close, all through its `Transport`; its buffers lent by the loop.
//!
//! Here: `fill` (one read, end of stream recorded, the read deadline moved on),
//! `flush` (the write deadline), `drain` (lingering close), taking and giving back
//! buffers. Elsewhere: what the bytes mean and when to read (`server::conn`).

use std::io;

use super::{Buffers, Connection, Cx, Flow, LINGER_BYTES, MIN_READ, Phase, Transport};

impl<S: Transport> Connection<S> {
    /// Writes queued output until it is all sent or the socket is full.
    pub(super) fn flush(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        let mut progressed = false;
        while !self.out.is_empty() {
            match self.out.write_to(&mut self.stream) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => progressed = true,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if self.out.is_empty() {
            self.write_deadline = None;
        } else if progressed || self.write_deadline.is_none() {
            // The write timeout equals the read timeout, counted from the last progress.
            self.write_deadline = Some(cx.now + cx.shared.config.read_timeout);
        }
        Ok(())
    }

    /// One read into the buffer. End of stream is recorded, not a failure.
    pub(super) fn fill(&mut self, cx: &mut Cx<'_>) -> Result<(), ReadFailure> {
        if self.buf.is_empty() {
            self.buf = cx.buffers.read_buffer();
        } else if self.buf.len() - self.end < MIN_READ {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < MIN_READ {
                // Bounded: the parser rejects heads over the limits, and bodies
                // are bounded by --max-body before they are read.
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let room = self.buf.len() - self.end;
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.peer_closed = true;
                    self.readable = false;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    // A short read emptied the socket; the next bytes bring a new
                    // event. Unless the peer hung up: then read on, to see the end.
                    if n < room && !self.hung_up {
                        self.readable = false;
                    }
                    let started = match &mut self.phase {
                        Phase::Head(started) => Some(started),
                        Phase::Body(receiving) => Some(&mut receiving.started),
                        _ => None,
                    };
                    if let Some(started) = started {
                        started.read_until =
                            started.deadline.min(cx.now + cx.shared.config.read_timeout);
                    }
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Err(ReadFailure::Blocked);
                }
                Err(_) => return Err(ReadFailure::Broken),
            }
        }
    }

    /// Lingering close: drop what the peer sends until it closes, or enough
    /// time or bytes have gone by.
    pub(super) fn drain(&mut self, cx: &mut Cx<'_>) -> Flow {
        let Phase::Linger { drained, .. } = &mut self.phase else {
            return Flow::Open;
        };
        loop {
            match self.stream.read(&mut cx.buffers.scratch) {
                Ok(0) => return Flow::Close,
                Ok(n) => {
                    *drained += n;
                    if *drained >= LINGER_BYTES {
                        return Flow::Close;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Flow::Open;
                }
                Err(_) => return Flow::Close,
            }
        }
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// A connection waiting for its next request keeps no buffers: they go
    /// back to the loop's spares.
    pub(super) fn release_idle_buffers(&mut self, buffers: &mut Buffers) {
        if matches!(self.phase, Phase::Idle { .. }) && self.start == self.end {
            let read = std::mem::take(&mut self.buf);
            let output = if self.out.is_empty() {
                std::mem::take(&mut self.out.bytes)
            } else {
                Vec::new()
            };
            buffers.give_back(read, output);
        }
    }

    /// A closed connection's buffers go back to the loop's spares.
    pub(in crate::server) fn recycle(mut self, buffers: &mut Buffers) {
        let mut output = std::mem::take(&mut self.out.bytes);
        output.clear();
        buffers.give_back(std::mem::take(&mut self.buf), output);
    }

    /// The output buffer, taken from the loop's spares if the connection has none.
    pub(super) fn output_bytes(&mut self, buffers: &mut Buffers) -> &mut Vec<u8> {
        if self.out.bytes.capacity() == 0 {
            self.out.bytes = buffers.output_buffer();
        }
        &mut self.out.bytes
    }
}

/// Why a read gave no bytes.
pub(super) enum ReadFailure {
    /// Nothing to read now; wait for readiness.
    Blocked,
    /// The socket failed (reset, etc.); nothing can be sent.
    Broken,
}
