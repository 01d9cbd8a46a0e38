//! `crystalpot train-energy`: trains an energy model on energies, forces and stresses from
//! extended XYZ, keeping the best model by validation energy MAE, with a per-epoch CSV log
//! and the learning curve and parity plot next to the model. After every epoch a checkpoint
//! (`<model>.checkpoint.safetensors`) is replaced atomically; `--resume` continues a killed
//! run from it with the same result as an uninterrupted run.
//!
//! With `--baseline LINEAR_MODEL` the network learns the residual of that linear model (delta
//! learning) and the file written is the combined model (kind `"delta"`): its validation
//! errors are those of baseline plus correction.

use std::io::Write;
use std::path::{Path, PathBuf};

use crystalpot::model::delta::{self, DeltaMeta};
use crystalpot::model::energy::file::{self, Provenance};
use crystalpot::model::energy::{EnergyConfig, EnergyMeta};
use crystalpot::model::linear::{file as linear_file, LinearModel};
use crystalpot::train::energy::{self as training, EnergyTraining, Trainable};
use crystalpot::train::plots::{self, EpochPoint};
use crystalpot::train::split::train_validation_split;
use crystalpot::train::write_atomically;
use crystalpot::{Error, Result};

use super::sibling;

/// Train an energy model (energies, forces, stresses) for molecular dynamics.
#[derive(clap::Args)]
pub struct Args {
    /// Extended XYZ with `energy` (eV) and forces per frame (stress when present).
    #[arg(long)]
    data: PathBuf,
    /// Output model file (.safetensors); the log and plots are written next to it.
    #[arg(long)]
    out: PathBuf,
    /// Share of the frames held out for validation.
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Local cutoff (Å).
    #[arg(long, default_value_t = 5.0)]
    cutoff: f64,
    #[arg(long, default_value_t = 32)]
    width: usize,
    #[arg(long, default_value_t = 2)]
    layers: usize,
    #[arg(long, default_value_t = 1.0)]
    energy_weight: f64,
    #[arg(long, default_value_t = 1.0)]
    force_weight: f64,
    /// Weight of the stress loss (GPa²).
    #[arg(long, default_value_t = 0.01)]
    stress_weight: f64,
    /// Threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
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
    /// Continue from the checkpoint beside --out, if there is one, or from the checkpoint
    /// file CKPT, which must exist (same data and settings).
    #[arg(long, num_args = 0..=1, value_name = "CKPT")]
    resume: Option<Option<PathBuf>>,
    /// Linear model whose residual the network learns; --out is then the combined model.
    #[arg(long)]
    baseline: Option<PathBuf>,
}

/// What the command keeps in a checkpoint besides the training state.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    config: EnergyConfig,
    best: f64,
    /// Log lines so far, without the header.
    log: Vec<String>,
    /// (epoch, train loss, validation MAE) for the learning curve.
    points: Vec<(usize, f64, f64)>,
    seconds: f64,
    /// The baseline model file, for delta learning.
    #[serde(default)]
    baseline: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let (samples, symbols) =
        super::energy_frames(&args.data, args.skip_bad, args.swap_shear_stress)?;
    let mut config = EnergyConfig {
        cutoff: args.cutoff,
        width: args.width,
        layers: args.layers,
        ..EnergyConfig::new(symbols)
    };
    let (train_idx, val_idx) = train_validation_split(samples.len(), args.val_fraction, args.seed);
    let baseline = args
        .baseline
        .as_ref()
        .map(|path| -> Result<(Vec<u8>, LinearModel)> {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let model = linear_file::read(&bytes).map_err(|e| {
                Error::InvalidInput(format!(
                    "--baseline {}: not a linear model file: {e}",
                    path.display()
                ))
            })?;
            Ok((bytes, model))
        })
        .transpose()?;
    let pick = |idx: &[usize]| idx.iter().map(|&k| samples[k].clone()).collect::<Vec<_>>();
    let (train_samples, val_samples) = (pick(&train_idx), pick(&val_idx));
    // The network sees the baseline's residual; the plots compare the whole model with the data.
    let full_val_samples = val_samples.clone();
    let (train_samples, val_samples) = match &baseline {
        Some((_, model)) => (
            training::subtract_baseline(model, &train_samples)?,
            training::subtract_baseline(model, &val_samples)?,
        ),
        None => (train_samples, val_samples),
    };
    eprintln!(
        "{} training and {} validation frames; computing graphs and lattice sums…",
        train_samples.len(),
        val_samples.len()
    );
    let started = std::time::Instant::now();
    // The inputs hold the raw Φ; the scales fitted here divide it inside the network.
    let train_data = training::prepare(&train_samples, &config)?;
    let reference = training::fit_constants(&mut config, &train_samples, &train_data)?;
    let val_data = training::prepare(&val_samples, &config)?;
    let model = Trainable::new(&config, &reference, args.seed)?;
    let settings = EnergyTraining {
        energy_weight: args.energy_weight,
        force_weight: args.force_weight,
        stress_weight: args.stress_weight,
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed: args.seed,
        threads: args.threads,
    };
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("energy model of {}", file_name(&args.data)));
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let (checkpoint_path, saved) =
        super::saved_checkpoint(&args.out, &super::Resume::from_option(args.resume.clone()))?;
    let resume = saved
        .map(|(_, bytes)| training::Checkpoint::from_bytes(&bytes))
        .transpose()?;
    let mut record = match &resume {
        Some(c) => {
            let record: Record = serde_json::from_value(c.record.clone()).map_err(|e| {
                Error::Model(format!("{}: bad record: {e}", checkpoint_path.display()))
            })?;
            if record.config != config || record.baseline != args.baseline {
                return Err(Error::InvalidInput(format!(
                    "cannot resume from {}: it was written for another data set or architecture",
                    checkpoint_path.display()
                )));
            }
            eprintln!("resuming after epoch {}", c.epoch);
            record
        }
        None => Record {
            config: config.clone(),
            best: f64::INFINITY,
            log: Vec::new(),
            points: Vec::new(),
            seconds: 0.0,
            baseline: args.baseline.clone(),
        },
    };
    let log_path = sibling(&args.out, "log.csv");
    // The log is rewritten from the record: a killed run may have logged an epoch that its
    // checkpoint does not hold.
    let mut log = std::fs::File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
    writeln!(
        log,
        "epoch,train_loss,val_energy_mae_mev_per_atom,val_force_mae,val_stress_mae_gpa,seconds"
    )
    .and_then(|()| {
        record
            .log
            .iter()
            .try_for_each(|line| writeln!(log, "{line}"))
    })
    .map_err(|e| Error::io(&log_path, e))?;
    let bar = indicatif::ProgressBar::new(args.epochs as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} epochs, ETA {eta} {msg}")
            .expect("valid template"),
    );
    bar.set_position(resume.as_ref().map_or(0, |c| c.epoch as u64));
    let offset = record.seconds;
    let mut failure = None;
    training::train(
        &model,
        &train_data,
        &val_data,
        &settings,
        resume.as_ref(),
        |r, checkpoint| {
            let v = r.validation;
            bar.inc(1);
            bar.set_message(format!(
                "loss {:.3e}, val {:.2} meV/atom, {:.3} eV/Å",
                r.train_loss,
                v.energy_mae_mev_per_atom,
                v.force_mae.unwrap_or(f64::NAN)
            ));
            record.seconds = offset + started.elapsed().as_secs_f64();
            let line = format!(
                "{},{},{},{},{},{:.1}",
                r.epoch,
                r.train_loss,
                v.energy_mae_mev_per_atom,
                v.force_mae.map_or(String::new(), |x| x.to_string()),
                v.stress_mae_gpa.map_or(String::new(), |x| x.to_string()),
                record.seconds
            );
            let logged = writeln!(log, "{line}").map_err(|e| Error::io(&log_path, e));
            record.log.push(line);
            record
                .points
                .push((r.epoch, r.train_loss, v.energy_mae_mev_per_atom));
            let mut saved = Ok(());
            if v.energy_mae_mev_per_atom < record.best {
                record.best = v.energy_mae_mev_per_atom;
                let provenance = Provenance {
                    dataset: args.data.display().to_string(),
                    split: format!(
                        "seeded random split, seed {}, validation fraction {}",
                        args.seed, args.val_fraction
                    ),
                    metrics: serde_json::to_value(v).expect("metrics serialise"),
                    date: String::new(),
                    crystalpot_version: env!("CARGO_PKG_VERSION").into(),
                };
                let meta = EnergyMeta::new(&name, config.clone(), provenance);
                saved = file::write(&meta, &model.tensors())
                    .and_then(|bytes| match &baseline {
                        Some((base, _)) => delta::write(
                            &DeltaMeta {
                                format_version: delta::FORMAT_VERSION,
                                kind: delta::KIND.into(),
                                name: name.clone(),
                                provenance: meta.provenance.clone(),
                            },
                            base,
                            &bytes,
                        ),
                        None => Ok(bytes),
                    })
                    .and_then(|bytes| write_atomically(&args.out, &bytes));
            }
            let checkpoint = training::Checkpoint {
                record: serde_json::to_value(&record).expect("record serialises"),
                ..checkpoint.clone()
            };
            let kept = checkpoint
                .to_bytes()
                .and_then(|bytes| write_atomically(&checkpoint_path, &bytes));
            if let Err(e) = logged.and(saved).and(kept) {
                failure.get_or_insert(e);
            }
        },
    )?;
    bar.finish();
    if let Some(e) = failure {
        return Err(e);
    }
    let points: Vec<EpochPoint> = record
        .points
        .iter()
        .map(|&(epoch, train_loss, val_mae)| EpochPoint {
            epoch,
            train_loss,
            val_mae,
        })
        .collect();
    plots::learning_curve(
        &sibling(&args.out, "learning-curve.png"),
        &points,
        "meV/atom",
    )?;
    let best_model = crystalpot::Calculator::from_file(&args.out)?;
    let (mut predicted, mut reference) = (Vec::new(), Vec::new());
    for s in &full_val_samples {
        let r = best_model.compute(&s.structure, &crystalpot::model::Request::default())?;
        predicted.push(r.energy / s.structure.len() as f64);
        reference.push(s.targets[0] / s.structure.len() as f64);
    }
    plots::parity_plot(
        &sibling(&args.out, "parity.png"),
        &predicted,
        &reference,
        "energy (validation)",
        "eV/atom",
    )?;
    eprintln!(
        "best validation energy MAE {:.2} meV/atom; model {}, log {} ({:.0} s)",
        record.best,
        args.out.display(),
        log_path.display(),
        offset + started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
