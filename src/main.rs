//! The `crystalpot` command-line tool.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}

#[derive(Parser)]
#[command(
    name = "crystalpot",
    version,
    about = "Complete interatomic potentials and PotNet"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {}
