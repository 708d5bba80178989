//! The `wordwire record` flags.
//!
//! Here: flag names and defaults. Elsewhere: relaying and writing the transcript (`grading::record`).

use std::path::PathBuf;

/// `wordwire record`: relay connections to a server and write them down as a transcript.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Where clients connect: HOST:PORT, http://HOST:PORT/ or a bare PORT (on 127.0.0.1);
    /// port 0 picks a free port (the address is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8081", value_parser = super::address::Address)]
    pub listen: String,
    /// The server to relay to; without it, an in-process wordwire server on a
    /// temporary store (flags after `--` go to it). HOST:PORT, http://HOST:PORT/ or a bare PORT.
    #[arg(long, value_name = "ADDR", value_parser = super::address::Address)]
    pub upstream: Option<String>,
    /// The transcript to write (default: standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Stop after the first connection has closed, instead of at Ctrl-C.
    #[arg(long)]
    pub once: bool,
    /// Print every byte relayed, escaped, with the time since its connection started (stderr).
    #[arg(long)]
    pub trace: bool,
    /// A silence longer than this before a client action becomes a `wait` step (milliseconds).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub pause: u64,
    /// Start the in-process server's temporary store as a copy of FILE (written as a `store` block).
    #[arg(long, value_name = "FILE", conflicts_with = "upstream")]
    pub seed: Option<PathBuf>,
    /// Stop recording past N bytes (sent and received together): the transcript holds
    /// what came before, and says that it stopped (default: no limit).
    #[arg(long, value_name = "N")]
    pub max_bytes: Option<u64>,
    /// `wordwire serve` flags for the in-process server (after `--`).
    #[arg(last = true, value_name = "SERVE-FLAGS")]
    pub server_flags: Vec<String>,
}
