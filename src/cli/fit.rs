//! `crystalpot fit`: fits a linear (atomic cluster expansion) energy model to energies,
//! forces and stresses from extended XYZ by Bayesian linear regression, on a seeded split,
//! and prints the basis size, the evidence-chosen regularisation, the errors and the time.

use std::path::PathBuf;

use crystalpot::model::energy::file::Provenance;
use crystalpot::model::linear::basis::BasisConfig;
use crystalpot::model::linear::{file, LinearConfig};
use crystalpot::train::linear::{fit, FitSettings};
use crystalpot::train::split::train_validation_split;
use crystalpot::train::write_atomically;
use crystalpot::{Error, Result};

/// Fit a linear ACE energy model (seconds to minutes) for molecular dynamics.
#[derive(clap::Args)]
pub struct Args {
    /// Extended XYZ with `energy` (eV) and forces per frame (stress when present).
    #[arg(long)]
    data: PathBuf,
    /// Output model file (.safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Share of the frames held out for validation (0: fit on all).
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Local cutoff (Å).
    #[arg(long, default_value_t = 5.0)]
    cutoff: f64,
    /// Radial functions per channel.
    #[arg(long, default_value_t = 8)]
    n_max: usize,
    #[arg(long, default_value_t = 4)]
    l_max: usize,
    /// Maximum total degree Σ(n + l) per correlation order 1, 2, 3[, 4], comma-separated.
    #[arg(long, default_value = "7,7,5,3", value_delimiter = ',')]
    degrees: Vec<usize>,
    /// Accepted energy error (eV/atom); rows are weighted by its inverse.
    #[arg(long, default_value_t = 1e-3)]
    energy_sigma: f64,
    /// Accepted force error (eV/Å).
    #[arg(long, default_value_t = 0.03)]
    force_sigma: f64,
    /// Accepted stress error (GPa).
    #[arg(long, default_value_t = 0.1)]
    stress_sigma: f64,
    /// Committee members drawn from the posterior for the energy's standard deviation.
    #[arg(long, default_value_t = 16)]
    committee: usize,
    /// Leave out the complete 1/r⁶ dispersion column.
    #[arg(long)]
    no_long_range: bool,
    /// Skip frames that cannot be used (listed on stderr) instead of failing.
    #[arg(long)]
    skip_bad: bool,
    /// Swap the yz and xz stress components as read (mlearn's Cu, Ni and Mo sets write
    /// `virial_stress_kB` as xx yy zz xy xz yz, its Si, Ge and Li sets as xx yy zz xy yz xz).
    #[arg(long)]
    swap_shear_stress: bool,
    /// Model name stored in the file.
    #[arg(long)]
    name: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    let (samples, symbols) =
        super::energy_frames(&args.data, args.skip_bad, args.swap_shear_stress)?;
    let n = symbols.len();
    let config = LinearConfig {
        elements: symbols,
        cutoff: args.cutoff,
        basis: BasisConfig {
            n_max: args.n_max,
            l_max: args.l_max,
            degrees: args.degrees.clone(),
        },
        inner: vec![args.cutoff / 2.0; n * n],
        tolerance: 1e-9,
    };
    let (train_idx, val_idx) = if args.val_fraction > 0.0 {
        train_validation_split(samples.len(), args.val_fraction, args.seed)
    } else {
        ((0..samples.len()).collect(), Vec::new())
    };
    let pick = |idx: &[usize]| idx.iter().map(|&k| samples[k].clone()).collect::<Vec<_>>();
    let (train, validation) = (pick(&train_idx), pick(&val_idx));
    let settings = FitSettings {
        energy_sigma: args.energy_sigma,
        force_sigma: args.force_sigma,
        stress_sigma: args.stress_sigma,
        committee: args.committee,
        long_range: !args.no_long_range,
        seed: args.seed,
    };
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("linear model of {}", args.data.display()));
    let provenance = Provenance {
        dataset: args.data.display().to_string(),
        split: format!(
            "seeded random split, seed {}, validation fraction {}",
            args.seed, args.val_fraction
        ),
        metrics: serde_json::Value::Null,
        date: String::new(),
        crystalpot_version: env!("CARGO_PKG_VERSION").into(),
    };
    eprintln!(
        "{} training and {} validation frames; assembling the design matrix…",
        train.len(),
        validation.len()
    );
    let bar = indicatif::ProgressBar::new(train.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} frames, ETA {eta}")
            .expect("valid template"),
    );
    let (model, report) = fit(
        config,
        &name,
        &train,
        &validation,
        &settings,
        provenance,
        || bar.inc(1),
    )?;
    bar.finish_and_clear();
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_atomically(&args.out, &file::write(&model)?)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("report serialises")
    );
    Ok(())
}
