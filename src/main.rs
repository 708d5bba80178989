//! The `wordwire` binary: parse flags (clap prints its own errors, exit 2), call into the library,
//! turn errors into one line and an exit code.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use wordwire::auth::{DEFAULT_PASSWORD, DEFAULT_USER};
use wordwire::cli::{Cli, Command, ServeArgs};
use wordwire::server::{ServeError, Server};
use wordwire::store::FileStore;

fn main() -> ExitCode {
    // A box's helper, run by the grader (`sandbox`); not a command for people.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == wordwire::sandbox::INIT_ARG)
    {
        return wordwire::sandbox::init::main();
    }
    // A flag error is clap's own message (usage, suggestion, valid values) and exit 2.
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("wordwire: error: {message}");
                ExitCode::FAILURE
            }
        },
        Command::Client(args) => wordwire::cli::client::run(args),
        Command::Replay(args) => wordwire::grading::replay::run(args),
        Command::Grade(args) => wordwire::grading::class::run(args),
        Command::Record(args) => wordwire::grading::record::run(args),
        Command::Course(args) => wordwire::cli::course::run(args),
        Command::Completions(args) => {
            match wordwire::cli::generate::write_completions(args.shell, &mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("wordwire completions: {error}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Man(args) => {
            match wordwire::cli::generate::write_man(
                args.subcommand.as_deref(),
                &mut std::io::stdout(),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("wordwire man: {error}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    let config = args.to_config()?;
    let (store, recoveries) =
        FileStore::open(&args.store, args.sync.into()).map_err(|e| e.to_string())?;
    let lab_pair = config.credentials.is_lab_default();
    let store = Arc::new(store);
    let server = match Server::bind(config, store.clone()) {
        Ok(server) => server,
        Err(error) => {
            // A failed start leaves no store or lock file that it created itself.
            if let Some(store) = Arc::into_inner(store) {
                store.abandon();
            }
            return Err(with_hint(&error));
        }
    };
    drop(store);
    for recovery in &recoveries {
        eprintln!("store: {recovery}");
    }
    // The first signal sets the flag (a graceful stop); a second one, with the flag
    // set, exits at once with 130: acknowledged writes are durable, others recover.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, server.shutdown_flag())
            .and_then(|_| signal_hook::flag::register(signal, server.shutdown_flag()))
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

/// The error, and for a taken port what to do about it (the flag is `serve`'s, so it is
/// said here rather than in `server`).
fn with_hint(error: &ServeError) -> String {
    match error {
        ServeError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
            format!(
                "{error}; another process listens there: stop it, or choose another port \
                 (--addr 127.0.0.1:0 picks a free one and prints it)"
            )
        }
        _ => error.to_string(),
    }
}
