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
    /// Energy, forces and stress with any energy model (linear, energy network, rigid-ion).
    Energy(cli::energy::Args),
    /// Properties of many structures with a PotNet model.
    Predict(cli::predict::Args),
    /// Convert an original PotNet state dict + config into a model file.
    ImportPotnet(cli::import_potnet::Args),
    /// Errors of a model on labelled data (MAE, RMSE, R², max error; energy/force/stress).
    Evaluate(cli::evaluate::Args),
    /// Train a PotNet model on a property of crystals (CSV, id_prop folder, extended XYZ).
    Train(Box<cli::train::Args>),
    /// Train an energy model on energies, forces and stresses (extended XYZ).
    TrainEnergy(cli::train_energy::Args),
    /// Fit a linear (atomic cluster expansion) energy model by Bayesian least squares.
    Fit(cli::fit::Args),
    /// LAMMPS input lines (pair_style, pair_coeff, kspace, charges) for a model.
    LammpsInput(cli::lammps_input::Args),
    /// The shipped models (or those of a folder): kind, elements, validation errors.
    Models(cli::models::Args),
}

fn main() -> ExitCode {
    // Exit quietly when the reader of our output goes away (`crystalpot … | head`), as Unix
    // tools do, instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let result = match Cli::parse().command {
        Command::Potentials(args) => cli::potentials::run(args),
        Command::Energy(args) => cli::energy::run(args),
        Command::Predict(args) => cli::predict::run(args),
        Command::ImportPotnet(args) => cli::import_potnet::run(args),
        Command::Evaluate(args) => cli::evaluate::run(args),
        Command::Train(args) => cli::train::run(*args),
        Command::TrainEnergy(args) => cli::train_energy::run(args),
        Command::Fit(args) => cli::fit::run(args),
        Command::LammpsInput(args) => cli::lammps_input::run(args),
        Command::Models(args) => cli::models::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
