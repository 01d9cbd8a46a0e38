//! `crystalpot evaluate`: errors of a model on a labelled data set.
//!
//! Property models (PotNet) are scored on one target: count, MAE, RMSE, R², max error.
//! Models with an energy (energy models, rigid-ion models) are scored on energies per atom,
//! forces and stresses of extended XYZ frames.

use std::path::PathBuf;

use indicatif::ProgressBar;
use rayon::prelude::*;
use serde_json::json;

use crystalpot::calculator::Model;
use crystalpot::model::Request;
use crystalpot::train::dataset::{self, BadSamples, Sample, EV_PER_A3_IN_GPA};
use crystalpot::train::energy::{summarize, Comparison};
use crystalpot::train::metrics::Metrics;
use crystalpot::train::plots;
use crystalpot::{Calculator, Error, Result};

/// Scores a model on labelled data.
#[derive(clap::Args)]
pub struct Args {
    /// Model file (default: the repository's PotNet model, models/potnet.safetensors).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Labelled data: a CSV table with a structure column, a folder with id_prop.csv, or
    /// extended XYZ (energy models: energies, forces and stresses of the frames).
    #[arg(long)]
    data: PathBuf,
    /// Target to score a property model on (default: the model's first target).
    #[arg(long)]
    target: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Write a parity plot (PNG) of predicted against true values.
    #[arg(long)]
    parity: Option<PathBuf>,
    /// Skip unusable samples (listed on stderr) instead of failing.
    #[arg(long)]
    skip_bad: bool,
}

pub fn run(args: Args) -> Result<()> {
    let path = args
        .model
        .clone()
        .unwrap_or_else(|| PathBuf::from(super::predict::DEFAULT_MODEL));
    let calc = Calculator::from_file(&path)?;
    let bad = if args.skip_bad {
        BadSamples::Skip
    } else {
        BadSamples::Fail
    };
    match calc.model() {
        Model::Potnet(m) => {
            let meta = m.meta();
            let target = args
                .target
                .clone()
                .unwrap_or_else(|| meta.targets[0].name.clone());
            let index = meta
                .targets
                .iter()
                .position(|t| t.name == target)
                .ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "the model predicts {}, not {target}",
                        meta.targets
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
            let data = load(&args, &target, bad)?;
            let structures: Vec<_> = data.iter().map(|s| s.structure.clone()).collect();
            let predicted: Vec<f64> = m.predict(&structures)?.iter().map(|p| p[index]).collect();
            let truth: Vec<f64> = data.iter().map(|s| s.targets[0]).collect();
            let metrics = Metrics::new(&predicted, &truth);
            let unit = &meta.targets[index].unit;
            if let Some(png) = &args.parity {
                plots::parity_plot(png, &predicted, &truth, &target, unit)?;
            }
            if args.json {
                let v = json!({"n": metrics.n, "mae": metrics.mae, "rmse": metrics.rmse,
                    "r2": metrics.r2, "max_error": metrics.max_error, "target": target, "unit": unit});
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("JSON serialises")
                );
            } else {
                println!(
                    "{target} ({unit}) on {} structures: MAE {:.5}, RMSE {:.5}, R² {:.4}, max error {:.5}",
                    metrics.n, metrics.mae, metrics.rmse, metrics.r2, metrics.max_error
                );
            }
        }
        _ => {
            let data = load(&args, "energy", bad)?;
            let bar = ProgressBar::new(data.len() as u64);
            let results = data
                .par_iter()
                .map(|s| {
                    let c = compare(&calc, s);
                    bar.inc(1);
                    c
                })
                .collect::<Result<Vec<_>>>()?;
            bar.finish_and_clear();
            let metrics = summarize(&results);
            if let Some(png) = &args.parity {
                let (p, t): (Vec<f64>, Vec<f64>) = results.iter().map(|r| r.energy).unzip();
                plots::parity_plot(png, &p, &t, "energy", "eV/atom")?;
            }
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&metrics).expect("JSON serialises")
                );
            } else {
                let or_dash = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.4}"));
                println!(
                    "{} frames: energy MAE {:.2} meV/atom (RMSE {:.2}), force MAE {} eV/Å (RMSE {}), stress MAE {} GPa",
                    metrics.n,
                    metrics.energy_mae_mev_per_atom,
                    metrics.energy_rmse_mev_per_atom,
                    or_dash(metrics.force_mae),
                    or_dash(metrics.force_rmse),
                    or_dash(metrics.stress_mae_gpa)
                );
            }
        }
    }
    Ok(())
}

fn load(args: &Args, target: &str, bad: BadSamples) -> Result<Vec<Sample>> {
    let data = dataset::load(&args.data, &[target.to_string()], bad)?;
    for s in &data.skipped {
        eprintln!("skipped {}: {}", s.location, s.reason);
    }
    Ok(data.samples)
}

/// The model's energy per atom, forces and stress against a frame's labels.
fn compare(calc: &Calculator, sample: &Sample) -> Result<Comparison> {
    let s = &sample.structure;
    let request = Request {
        forces: sample.forces.is_some(),
        virial: sample.stress.is_some(),
        ..Request::default()
    };
    let r = calc.compute(s, &request)?;
    let n = s.len() as f64;
    let flat = |v: &[crystalpot::Vec3]| {
        v.iter()
            .flat_map(|x| [x[0], x[1], x[2]])
            .collect::<Vec<_>>()
    };
    let forces = match (&r.forces, &sample.forces) {
        (Some(p), Some(t)) => Some((flat(p), flat(t))),
        _ => None,
    };
    let stress = match (r.stress(s.volume()), sample.stress) {
        (Some(p), Some(t)) => Some((
            (p * EV_PER_A3_IN_GPA).as_slice().to_vec(),
            (t * EV_PER_A3_IN_GPA).as_slice().to_vec(),
        )),
        _ => None,
    };
    Ok(Comparison {
        energy: (r.energy / n, sample.targets[0] / n),
        forces,
        stress,
    })
}
