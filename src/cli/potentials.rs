//! `crystalpot potentials`: the N×N matrices of the three complete lattice sums (and, on
//! request, the screened Coulomb sum).

use std::path::PathBuf;

use serde_json::json;

use crystalpot::lattice::potnet::{potnet_sums, PotnetSettings};
use crystalpot::lattice::{pair_matrices, Potential, Tolerance};
use crystalpot::{Error, Result, Structure};

/// Coulomb (1/Å), London (1/Å^6) and Pauli (dimensionless) sums (optionally screened
/// Coulomb, 1/Å) for every atom pair of every structure in FILE, each with a rigorous bound on
/// its error.
#[derive(clap::Args)]
pub struct Args {
    /// Structure file: CIF, POSCAR/CONTCAR or extended XYZ (all frames).
    file: PathBuf,
    /// Accuracy of every matrix entry (absolute, or relative to the largest entry with --relative).
    #[arg(long, default_value_t = 1e-10)]
    tol: f64,
    /// Interpret --tol relative to the largest entry of each matrix.
    #[arg(long)]
    relative: bool,
    /// exact: converged sums with error bounds; potnet: the published PotNet code's values.
    #[arg(long, value_enum, default_value_t = Mode::Exact)]
    mode: Mode,
    /// Decay constant α of the Pauli term e^(-αr) in 1/Å (exact mode).
    #[arg(long, default_value_t = 3.0)]
    pauli_alpha: f64,
    /// Include the i = j, k = 0 term (= 1) in the Pauli diagonal, as PotNet does (exact mode).
    #[arg(long)]
    pauli_self: bool,
    /// Also the screened Coulomb (Yukawa) sum Σ' e^(-κr)/r with this κ in 1/Å (exact mode;
    /// JSON key "screened_coulomb").
    #[arg(long, value_name = "KAPPA")]
    screened: Option<f64>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Reject structures with atoms closer than this (Å).
    #[arg(long, default_value_t = 0.5)]
    min_distance: f64,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exact,
    Potnet,
}

/// (JSON key, unit) of every kind computed, in order: the three always, screened on request.
fn kinds(args: &Args) -> Vec<(&'static str, &'static str)> {
    let mut kinds = vec![("coulomb", "1/Å"), ("london", "1/Å^6"), ("pauli", "1")];
    if args.screened.is_some() {
        kinds.push(("screened_coulomb", "1/Å"));
    }
    kinds
}

pub fn run(args: Args) -> Result<()> {
    if args.screened.is_some() && args.mode == Mode::Potnet {
        return Err(Error::InvalidInput(
            "--screened needs --mode exact: the PotNet code has no screened Coulomb sum".into(),
        ));
    }
    let kinds = kinds(&args);
    let structures = super::read_structures(&args.file, args.min_distance)?;
    let mut values = Vec::new();
    for s in &structures {
        let matrices = compute(s, &args)?;
        if args.json {
            let mut obj =
                json!({ "structure": super::structure_json(s), "mode": mode_name(args.mode) });
            for ((kind, unit), (values, bound)) in kinds.iter().zip(&matrices) {
                obj[*kind] = json!({
                    "matrix": values.chunks(s.len()).collect::<Vec<_>>(),
                    "error_bound": bound,
                    "unit": unit,
                });
            }
            if let Some(kappa) = args.screened {
                obj["screened_coulomb"]["kappa"] = json!(kappa);
            }
            values.push(obj);
            continue;
        }
        println!(
            "{} ({} atoms), mode {}",
            s.formula(),
            s.len(),
            mode_name(args.mode)
        );
        for ((kind, unit), (values, bound)) in kinds.iter().zip(&matrices) {
            match bound {
                Some(b) => println!("{kind} ({unit}), error bound {b:.2e}:"),
                None => println!("{kind} ({unit}), no error bound (PotNet truncation):"),
            }
            for row in values.chunks(s.len()) {
                let cells: Vec<String> = row.iter().map(|x| format!("{x:>20.12e}")).collect();
                println!("  {}", cells.join(" "));
            }
        }
    }
    if args.json {
        super::print_json(values);
    }
    Ok(())
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Exact => "exact",
        Mode::Potnet => "potnet",
    }
}

/// The matrices of `kinds` (N*N, row-major) with their error bounds (none in potnet mode).
fn compute(s: &Structure, args: &Args) -> Result<Vec<(Vec<f64>, Option<f64>)>> {
    if args.mode == Mode::Potnet {
        let sums = potnet_sums(s, &PotnetSettings::default())?;
        return Ok(vec![
            (sums.coulomb, None),
            (sums.london, None),
            (sums.pauli, None),
        ]);
    }
    let tol = if args.relative {
        Tolerance::Relative(args.tol)
    } else {
        Tolerance::Absolute(args.tol)
    };
    let mut potentials = vec![
        Potential::InversePower(1.0),
        Potential::InversePower(6.0),
        Potential::Exponential {
            alpha: args.pauli_alpha,
            include_self: args.pauli_self,
        },
    ];
    potentials.extend(args.screened.map(|kappa| Potential::Screened { kappa }));
    Ok(pair_matrices(s, &potentials, tol)?
        .into_iter()
        .map(|m| (m.values, Some(m.error_bound)))
        .collect())
}
