//! The in-process server a transcript runs against: a temporary store, the transcript's
//! `serve` flags, and optionally a store whose reads or writes fail.
//!
//! Here: turning a transcript's `server`, `store` and `fault` lines into a running server.
//! Elsewhere: what the server does (`server`), flag parsing (`cli::ServeArgs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;

use crate::cli::ServeArgs;
use crate::grading::suite::transcript::{Fault, Transcript};
use crate::server::{RunningServer, Server};
use crate::store::{Change, Done, FileStore, Snapshot, Store, StoreError};

/// A `Store` that fails the calls its `Fault` names with an I/O error and passes
/// the rest to `inner`: how a transcript provokes a 500 without a full disk.
pub struct FaultyStore<S> {
    pub inner: S,
    pub fault: Fault,
    /// Named in the injected error.
    pub path: PathBuf,
}

impl<S: Store> Store for FaultyStore<S> {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        match self.fault {
            Fault::Reads => Err(self.injected("read")),
            Fault::Writes => self.inner.snapshot(),
        }
    }

    /// A faulted write fails at once, without waiting for anything; the others go to `inner`.
    fn submit(&self, change: Change, done: Done) {
        match (self.fault, &change) {
            (Fault::Reads, _) => self.inner.submit(change, done),
            (Fault::Writes, Change::Append(_)) => done(Err(self.injected("append to"))),
            (Fault::Writes, Change::Replace { .. } | Change::Delete(_)) => {
                done(Err(self.injected("rewrite")))
            }
        }
    }
}

impl<S> FaultyStore<S> {
    fn injected(&self, action: &'static str) -> StoreError {
        let source = std::io::Error::other("fault injected by the transcript");
        StoreError::io(action, &self.path, source)
    }
}

/// A server started for one transcript; `stop` shuts it down and removes its store.
pub struct LocalServer {
    running: RunningServer,
    /// The store file, for `expect-store`.
    store: PathBuf,
    /// Holds the temporary store directory until the server has stopped.
    _dir: tempfile::TempDir,
}

/// `serve`'s own flag parser, so a transcript's `server` line means what it means on the command line.
#[derive(clap::Parser)]
#[command(name = "serve")]
struct ServeFlags {
    #[command(flatten)]
    serve: ServeArgs,
}

impl LocalServer {
    /// Starts the server the transcript asks for on 127.0.0.1, port 0, with the
    /// transcript's flags, its starting store (empty if none) in a temporary
    /// directory, and its fault if any. The access log is off.
    pub fn start(t: &Transcript) -> Result<LocalServer, String> {
        let flags = t.server_flags.as_deref().unwrap_or(&[]);
        LocalServer::start_with(flags, t.store.as_deref(), "the starting store", t.fault)
    }

    /// Starts a server with `serve` flags `flags` (no `--addr`/`--store`), starting
    /// store bytes `store` (empty if `None`) and an optional fault. A store the server
    /// refuses is named `store_name` in the error (what the temporary file is a copy of).
    pub fn start_with(
        flags: &[String],
        store: Option<&[u8]>,
        store_name: &str,
        fault: Option<Fault>,
    ) -> Result<LocalServer, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let path = dir.path().join("words.txt");
        if let Some(store) = store {
            std::fs::write(&path, store).map_err(|e| format!("writing the starting store: {e}"))?;
        }
        let flags = flags.iter().map(String::as_str);
        let argv = ["serve", "--addr", "127.0.0.1:0"]
            .into_iter()
            .chain(flags)
            .chain([
                "--store",
                path.to_str().ok_or("temporary path is not UTF-8")?,
            ]);
        let args = ServeFlags::try_parse_from(argv)
            .map_err(|e| {
                format!(
                    "server flags: {}",
                    e.render().to_string().lines().next().unwrap_or("")
                )
            })?
            .serve;
        // Transcripts carry their own credentials; the caller's environment must not change them.
        let mut config = args.to_config_with(&crate::cli::no_env)?;
        config.access_log = false;
        // The temporary file's name means nothing to the user: name what it is a copy of.
        let (store, _recoveries) = FileStore::open(&path, args.sync.into()).map_err(|e| {
            e.to_string()
                .replace(&path.display().to_string(), store_name)
        })?;
        let store: Arc<dyn Store> = match fault {
            Some(fault) => Arc::new(FaultyStore {
                inner: store,
                fault,
                path: path.clone(),
            }),
            None => Arc::new(store),
        };
        let running = Server::bind(config, store)
            .map_err(|e| e.to_string())?
            .spawn();
        Ok(LocalServer {
            running,
            store: path,
            _dir: dir,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.addr()
    }

    /// The store file the server was started on.
    pub fn store_path(&self) -> &Path {
        &self.store
    }

    /// Stops the server as SIGTERM would, then removes the temporary store.
    pub fn stop(self) -> Result<(), String> {
        self.running.shutdown().map_err(|e| e.to_string())
    }
}
