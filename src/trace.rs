//! The wire view: every byte sent and received, as it goes, in the transcript's escaped form.
//!
//! Here: `Tracer` (one connection's clock and where its lines go) and `TracedStream`
//! (a `Read + Write` wrapper that traces what passes through it). A line is
//! `[  12.345 ms] > POST / HTTP/1.1\r\n`: the time since the connection started,
//! `>` for bytes towards the server and `<` for bytes towards the client, and the
//! bytes escaped by the transcript writer's own escaper (`escape::render_lines`),
//! so what the trace shows can be pasted into a transcript as it is.
//! Elsewhere: who traces (`client --trace`, `record --trace`).

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::escape::render_lines;

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client towards the server: `>`, as in a transcript's `send`.
    ToServer,
    /// From the server towards the client: `<`, as in a transcript's `expect`.
    ToClient,
}

impl Direction {
    fn sigil(self) -> char {
        match self {
            Direction::ToServer => '>',
            Direction::ToClient => '<',
        }
    }
}

/// Where trace lines go; shared by the connections of one command.
pub type Sink = Arc<Mutex<dyn Write + Send>>;

/// A sink writing to standard error.
pub fn stderr_sink() -> Sink {
    Arc::new(Mutex::new(io::stderr()))
}

/// Traces one connection: its start instant, a prefix for its lines (the
/// connection's name in `record`), and the sink.
#[derive(Clone)]
pub struct Tracer {
    sink: Sink,
    start: Instant,
    prefix: String,
}

impl Tracer {
    /// A tracer whose clock starts now.
    pub fn new(sink: Sink, prefix: impl Into<String>) -> Tracer {
        Tracer {
            sink,
            start: Instant::now(),
            prefix: prefix.into(),
        }
    }

    /// The same tracer with its clock started again now (when the connection is made).
    pub fn restarted(tracer: Tracer) -> Tracer {
        Tracer {
            start: Instant::now(),
            ..tracer
        }
    }

    /// The lines for `bytes` going `direction`, `ms` after the start (without line breaks).
    pub fn lines(&self, ms: f64, direction: Direction, bytes: &[u8]) -> Vec<String> {
        render_lines(bytes, direction.sigil())
            .into_iter()
            .map(|line| format!("{}{} {line}", self.prefix, stamp(ms)))
            .collect()
    }

    fn elapsed_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    /// Writes the lines for one burst of bytes.
    pub fn bytes(&self, direction: Direction, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let lines = self.lines(self.elapsed_ms(), direction, bytes);
        self.write_lines(&lines);
    }

    /// Writes an event that is not data, e.g. `* connected to 127.0.0.1:12345`.
    pub fn note(&self, text: &str) {
        let line = format!("{}{} * {text}", self.prefix, stamp(self.elapsed_ms()));
        self.write_lines(&[line]);
    }

    fn write_lines(&self, lines: &[String]) {
        // A trace that cannot be written (closed stderr) must not break the exchange it watches.
        if let Ok(mut sink) = self.sink.lock() {
            for line in lines {
                let _ = writeln!(sink, "{line}");
            }
            let _ = sink.flush();
        }
    }
}

/// `[  12.345 ms]`: fixed width up to 100 s, so the sigils line up.
fn stamp(ms: f64) -> String {
    format!("[{ms:>9.3} ms]")
}

/// A stream that traces each read as `<` and each write as `>`, as a client sees them.
pub struct TracedStream<S> {
    inner: S,
    tracer: Tracer,
}

impl<S> TracedStream<S> {
    pub fn new(inner: S, tracer: Tracer) -> TracedStream<S> {
        TracedStream { inner, tracer }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }
}

impl<S: Read> Read for TracedStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.tracer.note("closed by the server");
        } else {
            self.tracer.bytes(Direction::ToClient, &buf[..n]);
        }
        Ok(n)
    }
}

impl<S: Write> Write for TracedStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.tracer.bytes(Direction::ToServer, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_escape_cr_lf_and_nul_and_carry_the_time() {
        let tracer = Tracer::new(stderr_sink(), "a ");
        let lines = tracer.lines(
            1.5,
            Direction::ToServer,
            b"POST / HTTP/1.1\r\nHost: x\r\n\r\nhi\x00",
        );
        assert_eq!(
            lines,
            [
                "a [    1.500 ms] > POST / HTTP/1.1\\r\\n",
                "a [    1.500 ms] > Host: x\\r\\n",
                "a [    1.500 ms] > \\r\\n",
                "a [    1.500 ms] > hi\\x00",
            ]
        );
        assert_eq!(
            tracer.lines(2000.0, Direction::ToClient, b"HTTP/1.1 200 OK\n"),
            ["a [ 2000.000 ms] < HTTP/1.1 200 OK\\n"]
        );
    }

    #[test]
    fn a_traced_stream_writes_both_directions_to_the_sink() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink: Sink = Arc::new(Mutex::new(Shared(out.clone())));
        let mut stream = TracedStream::new(
            io::Cursor::new(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()),
            Tracer::new(sink, ""),
        );
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).unwrap();
        assert_eq!(n, 27);
        assert_eq!(stream.read(&mut buf).unwrap(), 0);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let shapes: Vec<&str> = text.lines().map(|l| &l[14..]).collect();
        assert_eq!(
            shapes,
            [
                " < HTTP/1.1 204 No Content\\r\\n",
                " < \\r\\n",
                " * closed by the server"
            ]
        );
    }
}
