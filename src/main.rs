//! The `crystalpot` command-line tool.

mod cli;

use std::process::ExitCode;

use clap::Parser;

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
enum Command {
    /// N×N matrices of the complete Coulomb, London and Pauli lattice sums.
    Potentials(cli::potentials::Args),
    /// Energy, forces and stress with a physics (rigid-ion) model.
    Energy(cli::energy::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Potentials(args) => cli::potentials::run(args),
        Command::Energy(args) => cli::energy::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
