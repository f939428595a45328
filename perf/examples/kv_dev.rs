//! Temporary driver of the kv commands (until they are wired into rill-bench).
use clap::{Parser, Subcommand};
use rill_perf::kv_cli;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Kv(Box<kv_cli::KvArgs>),
    KvChild(kv_cli::KvChildArgs),
}

fn main() {
    let outcome = match Cli::parse().command {
        Command::Kv(a) => kv_cli::kv_command(&a),
        Command::KvChild(a) => kv_cli::child_command(&a),
    };
    if let Err(e) = outcome {
        eprintln!("kv_dev: {e}");
        std::process::exit(1);
    }
}
