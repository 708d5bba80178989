//! The `wordwire client` subcommand: its flags, the request each verb stands for, printing the answer.
//!
//! Here: flag names and defaults, exit codes (0 on 2xx, 1 on another status, 2
//! with no answer). Elsewhere: sending and reading (`client`), credentials (`cli::serve`).

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use crate::auth::Credentials;
use crate::cli::serve::{CredentialArgs, Env, process_env};
use crate::client::{ClientError, Request, Response, exchange_traced};
use crate::trace::{Tracer, stderr_sink};

/// `wordwire client`: send one request of the assignment and print the answer.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// Server address: HOST:PORT, [V6]:PORT, http://HOST:PORT/, or a bare PORT (on 127.0.0.1).
    #[arg(long, global = true, default_value = "127.0.0.1:12345", value_parser = super::address::Address)]
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
        if body.is_empty() && !matches!(self.command, ClientCommand::Get) {
            // POST, PUT and DELETE always frame their body, even an empty one (docs/CLIENT.md).
            request = request.header("Content-Length", "0");
        } else if !body.is_empty() {
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
    // Duration::from_secs_f64 panics past its range, and a value under a nanosecond becomes
    // the zero timeout that the socket calls refuse: both are the user's input, so check here.
    if !super::SECONDS.contains(&args.timeout) {
        return Err(ClientError::BadTimeout);
    }
    let credentials =
        credentials(&args.credentials, &process_env).map_err(ClientError::Credentials)?;
    let request = args.request(&credentials);
    let tracer = args.trace.then(|| Tracer::new(stderr_sink(), ""));
    exchange_traced(
        &args.addr,
        &request,
        Duration::from_secs_f64(args.timeout),
        tracer,
    )
}

/// The client's credentials: as `serve`'s, and `-u USER:PASSWORD` as curl takes it (split at
/// the first colon, which a user name cannot hold, RFC 7617 §2). Where curl would prompt for a
/// missing password (`-u USER`, `-u USER:`), this says what to give instead: a client run by
/// scripts and by `replay --client-cmd` must never wait for a keyboard.
fn credentials(args: &CredentialArgs, env: &Env) -> Result<Credentials, String> {
    let advice = |user: &str| {
        format!(
            "the client does not prompt for one (curl would): give -u {user}:PASSWORD, \
             or -u {user} with --password-file FILE or WORDWIRE_PASSWORD"
        )
    };
    let Some(given) = &args.user else {
        return args.resolve_with(env);
    };
    match given.split_once(':') {
        Some((user, "")) => Err(format!(
            "-u {given} has no password after the colon, and {}",
            advice(user)
        )),
        Some((user, password)) => {
            if args.password_file.is_some() {
                return Err(
                    "a password in -u USER:PASSWORD and --password-file: give one of them".into(),
                );
            }
            // The pair is checked by the one resolver, the password given as if it came from
            // the environment (the user is set, so nothing else is read there).
            let only = CredentialArgs {
                user: Some(user.to_owned()),
                password_file: None,
            };
            let password = password.to_owned();
            only.resolve_with(&move |name| {
                Ok((name == "WORDWIRE_PASSWORD").then(|| password.clone()))
            })
        }
        None if args.password_file.is_none() && env("WORDWIRE_PASSWORD")?.is_none() => {
            Err(format!("-u {given} has no password, and {}", advice(given)))
        }
        None => args.resolve_with(env),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        client: ClientArgs,
    }

    fn args(timeout: &str) -> ClientArgs {
        // Port 1 on loopback: nothing listens, and a refusal is not what these tests look at.
        Wrapper::try_parse_from([
            "client",
            "--addr",
            "127.0.0.1:1",
            "--timeout",
            timeout,
            "get",
        ])
        .unwrap()
        .client
    }

    #[test]
    fn an_empty_word_is_sent_with_content_length_0() {
        let credentials = Credentials::lab_default();
        for verb in [&["post", ""][..], &["delete", ""], &["put", "", ""]] {
            let args = Wrapper::try_parse_from(["client"].iter().chain(verb))
                .unwrap()
                .client;
            let bytes = String::from_utf8(args.request(&credentials).to_bytes()).unwrap();
            let length = if verb[0] == "put" { "1" } else { "0" };
            assert!(
                bytes.contains(&format!("\r\nContent-Length: {length}\r\n")),
                "{verb:?}: {bytes:?}"
            );
        }
        let get = Wrapper::try_parse_from(["client", "get"]).unwrap().client;
        let bytes = String::from_utf8(get.request(&credentials).to_bytes()).unwrap();
        assert!(!bytes.contains("Content-Length"), "{bytes:?}");
    }

    #[test]
    fn a_timeout_out_of_range_is_refused_in_one_line_not_a_panic() {
        for bad in ["0", "nan", "inf", "1e30", "86401", "1e-10"] {
            let error = run_client(&args(bad)).unwrap_err();
            assert!(matches!(error, ClientError::BadTimeout), "{bad}: {error}");
            assert_eq!(
                error.to_string(),
                "--timeout must be seconds, at least 0.001 and at most 86400",
                "{bad}"
            );
        }
        for good in ["0.001", "2", "86400"] {
            let error = run_client(&args(good)).unwrap_err();
            assert!(!matches!(error, ClientError::BadTimeout), "{good}: {error}");
        }
    }
}
