//! `crystalpot energy`: energy, forces and stress of any model that gives energies.

use std::path::PathBuf;

use serde_json::json;

use crystalpot::lattice::per_atom::set_default_method;
use crystalpot::model::Request;
use crystalpot::{Calculator, Result};

/// Energy (eV), forces (eV/Å) and stress (eV/Å^3, positive under tension) of every structure
/// in FILE.
#[derive(clap::Args)]
pub struct Args {
    /// Model file (a rigid-ion JSON model, or any energy model).
    #[arg(long)]
    model: PathBuf,
    /// Structure file: CIF, POSCAR/CONTCAR or extended XYZ (all frames).
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Reject structures with atoms closer than this (Å).
    #[arg(long, default_value_t = 0.5)]
    min_distance: f64,
    /// Lattice-sum method: exact Ewald with rigorous bounds, smooth PME (N log N, estimated
    /// errors), or auto (exact unless PME is much cheaper: large cells).
    #[arg(long, default_value = "auto", value_parser = ["ewald", "pme", "auto"])]
    method: String,
}

pub fn run(args: Args) -> Result<()> {
    set_default_method(args.method.parse()?);
    let calc = Calculator::from_file(&args.model)?;
    let info = calc.info();
    let structures = super::read_structures(&args.file, args.min_distance)?;
    let mut values = Vec::new();
    for s in &structures {
        // The file's structures were checked against --min-distance already.
        let r = calc.compute(
            s,
            &Request {
                min_distance: 0.0,
                uncertainty: true,
                ..Request::all()
            },
        )?;
        let forces = r.forces.clone().unwrap_or_default();
        let stress = r.stress(s.volume()).expect("virial requested");
        if args.json {
            values.push(json!({
                "structure": super::structure_json(s),
                "model": info.name,
                "energy": r.energy,
                "energy_error_bound": r.energy_error_bound,
                "energy_std": r.energy_std,
                "per_atom_energies": r.per_atom_energies,
                "forces": forces.iter().map(|f| [f[0], f[1], f[2]]).collect::<Vec<_>>(),
                "stress": (0..3).map(|i| [stress[(i, 0)], stress[(i, 1)], stress[(i, 2)]]).collect::<Vec<_>>(),
                "units": {"energy": "eV", "forces": "eV/Å", "stress": "eV/Å^3"},
                "warnings": r.warnings,
            }));
            continue;
        }
        println!("{} ({} atoms), model {:?}", s.formula(), s.len(), info.name);
        println!(
            "energy  {:.12} eV  (error bound {:.1e} eV; an estimate if PME ran)",
            r.energy, r.energy_error_bound
        );
        if let Some(std) = r.energy_std {
            println!("energy standard deviation over the model's committee {std:.3e} eV");
        }
        println!("forces (eV/Å):");
        for (sym, f) in s.symbols().iter().zip(&forces) {
            println!("  {sym:<3} {:>18.10} {:>18.10} {:>18.10}", f[0], f[1], f[2]);
        }
        println!("stress (eV/Å^3, positive under tension):");
        for i in 0..3 {
            println!(
                "  {:>18.10e} {:>18.10e} {:>18.10e}",
                stress[(i, 0)],
                stress[(i, 1)],
                stress[(i, 2)]
            );
        }
    }
    if args.json {
        super::print_json(values);
    }
    Ok(())
}
