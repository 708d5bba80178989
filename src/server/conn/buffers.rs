//! The read and output buffers an event loop lends its connections, and the spares it keeps.
//!
//! Here: `Buffers` and its bounds. Elsewhere: when a connection takes and gives back
//! its buffers (`server::conn`).

use super::FIRST_READ;

/// Spare buffers a loop keeps beside the ones its connections hold.
pub(super) const SPARE_BUFFERS: usize = 16;
/// An output buffer that grew past this (a burst of pipelined answers) is not kept.
pub(super) const SPARE_OUTPUT: usize = 4 * 1024;

/// Buffers a loop lends its connections. A connection that goes idle gives its
/// read and output buffers back and takes them again with its next request, so
/// a keep-alive request allocates nothing, and an idle connection still holds
/// none. At most `SPARE_BUFFERS` of each are kept, and only buffers of the
/// first size: a loop's spares are bounded however many connections it has.
pub(in crate::server) struct Buffers {
    pub(super) reads: Vec<Vec<u8>>,
    pub(super) outputs: Vec<Vec<u8>>,
    /// Bytes a lingering connection reads and drops.
    pub(super) scratch: Box<[u8]>,
}

impl Default for Buffers {
    fn default() -> Buffers {
        Buffers {
            reads: Vec::new(),
            outputs: Vec::new(),
            scratch: vec![0; 4096].into_boxed_slice(),
        }
    }
}

impl Buffers {
    pub(super) fn read_buffer(&mut self) -> Vec<u8> {
        self.reads.pop().unwrap_or_else(|| vec![0; FIRST_READ])
    }

    pub(super) fn output_buffer(&mut self) -> Vec<u8> {
        self.outputs.pop().unwrap_or_default()
    }

    /// How many read buffers are spare (for the in-memory driver's `Exchange`).
    pub(in crate::server) fn spare_reads(&self) -> usize {
        self.reads.len()
    }

    pub(super) fn give_back(&mut self, read: Vec<u8>, output: Vec<u8>) {
        if read.len() == FIRST_READ && self.reads.len() < SPARE_BUFFERS {
            self.reads.push(read);
        }
        if output.is_empty()
            && (1..=SPARE_OUTPUT).contains(&output.capacity())
            && self.outputs.len() < SPARE_BUFFERS
        {
            self.outputs.push(output);
        }
    }
}
