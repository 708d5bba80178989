//! What the fuzz targets share: small limits, and a store that counts writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wordwire::http::HeadLimits;
use wordwire::store::{Snapshot, Store, StoreError};
use wordwire::word::Word;

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

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

impl Store for CountingStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Arc::new(b"seed\n".to_vec()))
    }
    fn append(&self, _: &Word) -> Result<(), StoreError> {
        self.write();
        Ok(())
    }
    fn replace_all(&self, _: &Word, _: &Word) -> Result<usize, StoreError> {
        self.write();
        Ok(1)
    }
    fn delete_all(&self, _: &Word) -> Result<usize, StoreError> {
        self.write();
        Ok(1)
    }
}
