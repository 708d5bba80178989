//! The `wordwire client` subcommand: its flags, the request each verb stands for, printing the answer.
//!
//! Here: flag names and defaults, exit codes (0 on 2xx, 1 on another status, 2
//! with no answer). Elsewhere: sending and reading (`client`), credentials (`cli::serve`).

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use crate::auth::Credentials;
use crate::cli::serve::CredentialArgs;
use crate::client::{ClientError, Request, Response, exchange_traced};
use crate::trace::{Tracer, stderr_sink};

/// `wordwire client`: send one request of the assignment and print the answer.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// Server address, HOST:PORT.
    #[arg(long, global = true, default_value = "127.0.0.1:12345")]
    pub addr: String,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Seconds to wait for the connection and for the answer.
    #[arg(long, global = true, default_value_t = 10.0)]
    pub timeout: f64,
    /// Print every byte sent (`>`) and received (`<`) on stderr as it goes, escaped as in
    /// a transcript, with the time since the connection was made.
    #[arg(long, global = true)]
    pub trace: bool,
    #[command(subcommand)]
    pub command: ClientCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Append WORD to the store.
    Post { word: String },
    /// Print the store (needs credentials).
    Get,
    /// Replace every OLD with NEW.
    Put { old: String, new: String },
    /// Remove every occurrence of WORD.
    Delete { word: String },
}

impl ClientArgs {
    /// The request the subcommand stands for.
    pub fn request(&self, credentials: &Credentials) -> Request {
        let (method, body) = match &self.command {
            ClientCommand::Post { word } => ("POST", word.clone()),
            ClientCommand::Get => ("GET", String::new()),
            ClientCommand::Put { old, new } => ("PUT", format!("{old} {new}")),
            ClientCommand::Delete { word } => ("DELETE", word.clone()),
        };
        let mut request = Request::new(method, "/")
            .header("Host", self.addr.clone())
            .header("Authorization", credentials.header_value())
            .header("Connection", "close");
        if !body.is_empty() {
            request = request
                .header("Content-Type", "text/plain; charset=utf-8")
                .body(body);
        }
        request
    }
}

/// Runs `wordwire client`: exit 0 on a 2xx answer, 1 on any other status, 2 if there was none.
pub fn run(args: ClientArgs) -> ExitCode {
    match run_client(&args) {
        Ok(response) => {
            let mut out = io::stdout().lock();
            let printed = writeln!(out, "{}", response.status_line())
                .and_then(|()| out.write_all(&response.body))
                .and_then(|()| out.flush());
            if let Err(e) = printed {
                eprintln!("wordwire client: writing the answer: {e}");
                return ExitCode::from(2);
            }
            if (200..300).contains(&response.status) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("wordwire client: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_client(args: &ClientArgs) -> Result<Response, ClientError> {
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(ClientError::BadTimeout);
    }
    let credentials = args
        .credentials
        .resolve()
        .map_err(ClientError::Credentials)?;
    let request = args.request(&credentials);
    let tracer = args.trace.then(|| Tracer::new(stderr_sink(), ""));
    exchange_traced(
        &args.addr,
        &request,
        Duration::from_secs_f64(args.timeout),
        tracer,
    )
}
