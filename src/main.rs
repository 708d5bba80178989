//! The `wordwire` binary: parse flags, call into the library, turn errors into one line and an exit code.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use wordwire::auth::{DEFAULT_PASSWORD, DEFAULT_USER};
use wordwire::cli::ServeArgs;
use wordwire::server::Server;
use wordwire::store::FileStore;

/// A word-store server on raw HTTP/1.1 sockets, its client, and a conformance harness.
#[derive(Parser)]
#[command(name = "wordwire", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Send one request of the assignment and print the answer.
    Client(wordwire::client::ClientArgs),
    /// Replay golden transcripts against an in-process server or --target.
    Replay(wordwire::replay::ReplayArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return flag_error(error),
    };
    match cli.command {
        Command::Serve(args) => match serve(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("wordwire: error: {message}");
                ExitCode::FAILURE
            }
        },
        Command::Client(args) => wordwire::client::run(args),
        Command::Replay(args) => wordwire::replay::run(args),
    }
}

/// Help and version go out whole; a bad flag becomes clap's first line only.
fn flag_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
    }
    let text = error.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    eprintln!("wordwire: {first} (see wordwire --help)");
    ExitCode::from(2)
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    let config = args.to_config()?;
    let (store, recoveries) =
        FileStore::open(&args.store, args.sync.into()).map_err(|e| e.to_string())?;
    let lab_pair = config.credentials.is_lab_default();
    let server = Server::bind(config, Arc::new(store)).map_err(|e| e.to_string())?;
    for recovery in &recoveries {
        eprintln!("store: {recovery}");
    }
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, server.shutdown_flag())
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }
    if lab_pair {
        eprintln!(
            "using the lab credentials {DEFAULT_USER}:{DEFAULT_PASSWORD} (loopback only; set WORDWIRE_USER and WORDWIRE_PASSWORD to change them)"
        );
    }
    eprintln!("store: {}", args.store.display());
    eprintln!("listening on {}", server.local_addr());
    let _ = std::io::stderr().flush();
    server.run().map_err(|e| e.to_string())?;
    eprintln!("shut down cleanly");
    Ok(())
}
