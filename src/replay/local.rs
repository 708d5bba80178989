//! The in-process server a transcript runs against: a temporary store, the transcript's
//! `serve` flags, and optionally a store whose reads or writes fail.
//!
//! Here: turning a transcript's `server`, `store` and `fault` lines into a running server.
//! Elsewhere: what the server does (`server`), flag parsing (`cli::ServeArgs`).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::transcript::{Fault, Transcript};
use crate::store::{Snapshot, Store, StoreError};
use crate::word::Word;

/// A `Store` that fails the calls its `Fault` names with an I/O error and passes
/// the rest to `inner`: how a transcript provokes a 500 without a full disk.
pub struct FaultyStore<S> {
    pub inner: S,
    pub fault: Fault,
    /// Named in the injected error.
    pub path: PathBuf,
}

impl<S: Store> FaultyStore<S> {
    fn injected(&self, action: &'static str) -> StoreError {
        StoreError::Io {
            action,
            path: self.path.clone(),
            source: std::io::Error::other("fault injected by the transcript"),
        }
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        match self.fault {
            Fault::Reads => Err(self.injected("read")),
            Fault::Writes => self.inner.snapshot(),
        }
    }

    fn append(&self, word: &Word) -> Result<(), StoreError> {
        match self.fault {
            Fault::Writes => Err(self.injected("append to")),
            Fault::Reads => self.inner.append(word),
        }
    }

    fn replace_all(&self, old: &Word, new: &Word) -> Result<usize, StoreError> {
        match self.fault {
            Fault::Writes => Err(self.injected("rewrite")),
            Fault::Reads => self.inner.replace_all(old, new),
        }
    }

    fn delete_all(&self, word: &Word) -> Result<usize, StoreError> {
        match self.fault {
            Fault::Writes => Err(self.injected("rewrite")),
            Fault::Reads => self.inner.delete_all(word),
        }
    }
}

/// A server started for one transcript; `stop` shuts it down and removes its store.
pub struct LocalServer {
    addr: SocketAddr,
}

impl LocalServer {
    /// Starts the server the transcript asks for on 127.0.0.1, port 0.
    pub fn start(t: &Transcript) -> Result<LocalServer, String> {
        let _ = t;
        Err("the in-process server is not merged yet".to_string())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stop(self) -> Result<(), String> {
        Ok(())
    }
}
