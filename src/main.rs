// Temporary wiring of `client` and `replay` until the lead's main.rs lands; keep tiny.
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "wordwire")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Client(wordwire::client::ClientArgs),
    Replay(wordwire::replay::ReplayArgs),
}

fn main() -> std::process::ExitCode {
    match Cli::parse().command {
        Command::Client(args) => wordwire::client::run(args),
        Command::Replay(args) => wordwire::replay::run(args),
    }
}
