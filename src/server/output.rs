//! What a connection has still to send: the queue of encoded answers, and the
//! `writev` that sends it.
//!
//! Here: `Output` (heads and line bodies in one buffer, store snapshots shared
//! rather than copied, partial writes at any byte), and the `Date` value.
//! Elsewhere: what to queue and when (`server::conn`), encoding (`http::response`).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::Snapshot;

/// Slices per `writev`: enough for the heads and bodies of many pipelined answers.
const MAX_SLICES: usize = 32;

/// Responses not yet sent, in order: encoded heads and line bodies in one
/// buffer, store snapshots shared rather than copied.
#[derive(Default)]
pub(super) struct Output {
    pub(super) bytes: Vec<u8>,
    /// `bytes[..bytes_sent]` has been written.
    bytes_sent: usize,
    parts: VecDeque<Part>,
    /// Bytes of `parts.front()` already written.
    front_sent: usize,
    /// Bytes queued and not yet written.
    unsent: usize,
}

enum Part {
    /// The next this many bytes of `Output::bytes`.
    Bytes(usize),
    Shared(Snapshot),
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Bytes(len) => *len,
            Part::Shared(words) => words.len(),
        }
    }
}

impl Output {
    pub(super) fn is_empty(&self) -> bool {
        self.unsent == 0
    }

    pub(super) fn len(&self) -> usize {
        self.unsent
    }

    /// Queues what was appended to `bytes` since it was `from` long.
    pub(super) fn mark_bytes(&mut self, from: usize) {
        let added = self.bytes.len() - from;
        if added == 0 {
            return;
        }
        self.unsent += added;
        match self.parts.back_mut() {
            Some(Part::Bytes(len)) => *len += added,
            _ => self.parts.push_back(Part::Bytes(added)),
        }
    }

    pub(super) fn push_shared(&mut self, words: Snapshot) {
        if words.is_empty() {
            return;
        }
        self.unsent += words.len();
        self.parts.push_back(Part::Shared(words));
    }

    /// One `writev` of as much queued output as fits in `MAX_SLICES` slices.
    pub(super) fn write_to(&mut self, stream: &mut (impl Write + ?Sized)) -> io::Result<usize> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut count = 0;
        let mut offset = self.bytes_sent;
        for (i, part) in self.parts.iter().take(MAX_SLICES).enumerate() {
            let skip = if i == 0 { self.front_sent } else { 0 };
            slices[i] = match part {
                Part::Bytes(len) => {
                    let slice = IoSlice::new(&self.bytes[offset + skip..offset + len]);
                    offset += len;
                    slice
                }
                Part::Shared(words) => IoSlice::new(&words[skip..]),
            };
            count = i + 1;
        }
        let written = stream.write_vectored(&slices[..count])?;
        self.advance(written);
        Ok(written)
    }

    fn advance(&mut self, mut written: usize) {
        self.unsent -= written;
        while written > 0 {
            let Some(front) = self.parts.front() else {
                break;
            };
            let left = front.len() - self.front_sent;
            if written < left {
                self.front_sent += written;
                break;
            }
            written -= left;
            if let Part::Bytes(len) = front {
                self.bytes_sent += len;
            }
            self.parts.pop_front();
            self.front_sent = 0;
        }
        if self.parts.is_empty() {
            self.bytes.clear();
            self.bytes_sent = 0;
        }
    }
}

/// The `Date` value, formatted once per second rather than per response.
#[derive(Default)]
pub(super) struct DateCache {
    second: u64,
    text: String,
}

impl DateCache {
    pub(super) fn now(&mut self) -> &str {
        let second = coarse_second();
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
        }
        &self.text
    }
}

/// Seconds since the epoch from the coarse real-time clock: a read of the
/// kernel's last tick (a few milliseconds old at most), without the hardware
/// counter the precise clock reads. A `Date` has one-second resolution.
fn coarse_second() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write; the clock id is a constant.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) };
    if read == 0 {
        u64::try_from(now.tv_sec).unwrap_or(0)
    } else {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Queues `head1`, a shared body, then `head2` (as `respond` does for two
    /// pipelined answers).
    fn two_answers() -> (Output, Vec<u8>) {
        let mut out = Output::default();
        out.bytes.extend_from_slice(b"HEAD1\r\n");
        out.mark_bytes(0);
        out.push_shared(Arc::new(b"words\n".to_vec()));
        let from = out.bytes.len();
        out.bytes.extend_from_slice(b"HEAD2\r\nbody\n");
        out.mark_bytes(from);
        (out, b"HEAD1\r\nwords\nHEAD2\r\nbody\n".to_vec())
    }

    /// What `write_to` would hand to `writev` now, concatenated.
    fn unsent(out: &Output) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut offset = out.bytes_sent;
        for (i, part) in out.parts.iter().enumerate() {
            let skip = if i == 0 { out.front_sent } else { 0 };
            match part {
                Part::Bytes(len) => {
                    bytes.extend_from_slice(&out.bytes[offset + skip..offset + len]);
                    offset += len;
                }
                Part::Shared(words) => bytes.extend_from_slice(&words[skip..]),
            }
        }
        bytes
    }

    #[test]
    fn queued_answers_go_out_in_order_whole() {
        let (out, expected) = two_answers();
        assert_eq!(out.len(), expected.len());
        assert_eq!(unsent(&out), expected);
    }

    #[test]
    fn a_partial_write_at_any_byte_leaves_exactly_the_rest() {
        let (_, expected) = two_answers();
        for first in 0..=expected.len() {
            for second in 0..=expected.len() - first {
                let (mut out, _) = two_answers();
                out.advance(first);
                assert_eq!(unsent(&out), &expected[first..], "after {first}");
                out.advance(second);
                assert_eq!(
                    unsent(&out),
                    &expected[first + second..],
                    "after {first} then {second}"
                );
                assert_eq!(out.len(), expected.len() - first - second);
            }
        }
    }

    #[test]
    fn a_fully_written_queue_forgets_its_bytes() {
        let (mut out, expected) = two_answers();
        out.advance(expected.len());
        assert!(out.is_empty());
        assert!(out.parts.is_empty());
        assert_eq!((out.bytes.len(), out.bytes_sent), (0, 0));
    }

    #[test]
    fn an_empty_snapshot_queues_nothing() {
        let mut out = Output::default();
        out.push_shared(Arc::new(Vec::new()));
        assert!(out.is_empty());
        assert!(out.parts.is_empty());
    }

    #[test]
    fn the_date_is_now_to_the_second() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let text = DateCache::default().now().to_owned();
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let date = httpdate::parse_http_date(&text).unwrap();
        let date = date.duration_since(UNIX_EPOCH).unwrap().as_secs();
        // The coarse clock may be one tick behind a second boundary.
        assert!((before - 1..=after).contains(&date), "{text}");
    }
}
