//! What the fuzz targets share: small limits, and a store that counts writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wordwire::http::HeadLimits;
use wordwire::store::{Change, Done, Snapshot, Store, StoreError};

/// Small limits, so that the fuzzer reaches them.
pub const LIMITS: HeadLimits = HeadLimits {
    max_line: 256,
    max_header_bytes: 512,
    max_body: 256,
};

/// A store that holds nothing and counts the writes it is asked for.
#[derive(Default)]
pub struct CountingStore {
    writes: AtomicUsize,
}

impl CountingStore {
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

impl Store for CountingStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Arc::new(b"seed\n".to_vec()))
    }
    fn submit(&self, _: Change, done: Done) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        done(Ok(1))
    }
}
