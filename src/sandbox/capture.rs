//! A box's stdout or stderr: read to its end on a thread of its own, a bounded part kept.
//!
//! Here: `Captured` (the first and the last `keep` bytes and the count of all of
//! them) and the thread that fills it from a pipe. Nothing waits on a pipe without
//! a deadline: the box's end of every pipe closes when the box's processes are
//! killed (`Sandbox::stop`), and `Capture::finish` waits a bounded time after that.
//! Elsewhere: rendering it for a report (the caller escapes control characters).

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The bytes a box wrote to one stream: its start and its end, and how many in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// Up to `keep` bytes from the start.
    pub head: Vec<u8>,
    /// Up to `keep` bytes from the end, after `head` (never overlapping it).
    pub tail: Vec<u8>,
    /// Every byte written, kept or not.
    pub total: u64,
}

impl Captured {
    /// The bytes between `head` and `tail` that were counted and dropped.
    pub fn dropped(&self) -> u64 {
        self.total - self.head.len() as u64 - self.tail.len() as u64
    }

    /// `head`, a `[... N bytes dropped ...]` line where bytes were dropped, and `tail`.
    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped() > 0 {
            text.push_str(&format!("\n[... {} bytes dropped ...]\n", self.dropped()));
        }
        text.push_str(&String::from_utf8_lossy(&self.tail));
        text
    }
}

/// `Captured` while it is being filled.
#[derive(Debug)]
struct Filling {
    keep: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Filling {
    fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.keep - self.head.len();
        if room > 0 {
            let n = room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() >= self.keep {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.keep..]);
        } else {
            let excess = (self.tail.len() + bytes.len()).saturating_sub(self.keep);
            self.tail.drain(..excess);
            self.tail.extend(bytes);
        }
    }

    fn snapshot(&self) -> Captured {
        Captured {
            head: self.head.clone(),
            tail: self.tail.iter().copied().collect(),
            total: self.total,
        }
    }
}

/// One stream being read on its own thread.
#[derive(Debug)]
pub struct Capture {
    filling: Arc<Mutex<Filling>>,
    reader: Option<JoinHandle<()>>,
}

impl Capture {
    /// Reads `from` to its end on a new thread, keeping `keep` bytes at each end.
    pub fn start(mut from: impl Read + Send + 'static, keep: usize) -> Capture {
        let filling = Arc::new(Mutex::new(Filling {
            keep,
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
        }));
        let sink = filling.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    return;
                }
                if let Ok(mut filling) = sink.lock() {
                    filling.push(&buf[..n]);
                }
            }
        });
        Capture {
            filling,
            reader: Some(reader),
        }
    }

    /// What was read so far.
    pub fn snapshot(&self) -> Captured {
        self.filling
            .lock()
            .map(|f| f.snapshot())
            .unwrap_or_default()
    }

    /// Waits up to `grace` for the end of the stream, then returns what was read:
    /// a reader still blocked then (a writer outside the box's reach) is left to end
    /// on its own, never waited for.
    pub fn finish(&mut self, grace: Duration) -> Captured {
        let deadline = Instant::now() + grace;
        if let Some(reader) = self.reader.take() {
            while !reader.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
        self.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(keep: usize, pieces: &[&[u8]]) -> Captured {
        let mut f = Filling {
            keep,
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
        };
        for piece in pieces {
            f.push(piece);
        }
        f.snapshot()
    }

    #[test]
    fn short_output_is_kept_whole_in_the_head() {
        let c = filled(8, &[b"abc", b"de"]);
        assert_eq!(
            (c.head.as_slice(), c.tail.as_slice()),
            (&b"abcde"[..], &b""[..])
        );
        assert_eq!((c.total, c.dropped()), (5, 0));
        assert_eq!(c.text(), "abcde");
    }

    #[test]
    fn long_output_keeps_both_ends_and_counts_the_middle() {
        let c = filled(4, &[b"0123", b"45", b"6789abcdef", b"gh"]);
        assert_eq!(c.head, b"0123");
        assert_eq!(c.tail, b"efgh");
        assert_eq!((c.total, c.dropped()), (18, 10));
        assert_eq!(c.text(), "0123\n[... 10 bytes dropped ...]\nefgh");
        // The same bytes in other pieces keep the same.
        assert_eq!(filled(4, &[b"0123456789abcdefgh"]), c);
        let bytes: Vec<&[u8]> = b"0123456789abcdefgh".chunks(1).collect();
        assert_eq!(filled(4, &bytes), c);
    }

    #[test]
    fn a_stream_is_read_to_its_end() {
        let mut capture = Capture::start(std::io::Cursor::new(vec![b'x'; 100_000]), 16);
        let c = capture.finish(Duration::from_secs(5));
        assert_eq!((c.head.len(), c.tail.len(), c.total), (16, 16, 100_000));
    }
}
