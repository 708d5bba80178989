//! wordwire: an HTTP/1.1 word-store server on sockets it configures itself,
//! its client, and a conformance harness of golden transcripts.
//!
//! See `ARCHITECTURE.md` for the module map and the path of a request.

pub mod auth;
pub mod cli;
pub mod client;
pub mod course;
pub mod escape;
pub mod grading;
pub mod handler;
pub mod http;
pub mod sandbox;
pub mod server;
pub mod store;
pub mod trace;
pub mod word;
