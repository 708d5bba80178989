//! The word store: the text file is the source of truth, memory holds a copy for fast reads.
//!
//! Here: the `Store` interface the handler uses, and `FileStore`, its durable implementation.
//! Elsewhere: deciding what a request means (`handler`); atomic file replacement (`store::atomic`);
//! validating and recovering the file at start (`store::recover`).

use std::path::PathBuf;
use std::sync::Arc;

use crate::word::Word;

/// The exact bytes of the store file at one instant, shared without copying.
pub type Snapshot = Arc<Vec<u8>>;

/// Whether a write is fsync'd before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync every change before answering (the default).
    Always,
    /// Leave flushing to the OS; a crash may lose acknowledged writes.
    None,
}

/// Why the store could not do what was asked. Every variant but the start-up
/// ones becomes a 500; the server keeps running.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the store's lock. Example: a second `wordwire serve` on the same file.
    #[error("{path} is in use by another wordwire server (lock file {lock} is held)")]
    Locked { path: PathBuf, lock: PathBuf },
    /// A complete line of the file is not a word. The file is left untouched.
    /// Example: a line `hello world`. The server refuses to start.
    #[error("{path}:{line}: line is not a word (1-64 ASCII letters or digits); fix or remove it")]
    InvalidLine { path: PathBuf, line: usize },
    /// An operating-system call failed. Example: disk full during append. Becomes 500.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An earlier failure left the file's durability in doubt, so writes are refused
    /// until a restart. Becomes 500.
    #[error("store is read-only after an earlier failure: {reason}")]
    ReadOnly { reason: String },
}

/// What the handler may do with the words. Implementations serialise writes;
/// reads never wait for a write's fsync.
pub trait Store: Send + Sync {
    /// The file's bytes as of the last acknowledged change.
    fn snapshot(&self) -> Result<Snapshot, StoreError>;
    /// Appends `word` as a new last line. Durable on return unless `SyncMode::None`.
    fn append(&self, word: &Word) -> Result<(), StoreError>;
    /// Replaces every line equal to `old` with `new`; returns how many. With 0 the file is not touched.
    fn replace_all(&self, old: &Word, new: &Word) -> Result<usize, StoreError>;
    /// Removes every line equal to `word`; returns how many. With 0 the file is not touched.
    fn delete_all(&self, word: &Word) -> Result<usize, StoreError>;
}
