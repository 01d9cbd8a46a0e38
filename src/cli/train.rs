//! `crystalpot train`: trains a PotNet property model.
//!
//! Beside the model `M.safetensors` (the best epoch by validation MAE) it writes
//! `M.checkpoint.safetensors` (every epoch, atomically: `--resume` continues from it),
//! `M.log.csv` (one line per epoch) and, at the end, `M.learning-curve.png` and
//! `M.parity.png`. Inputs (graphs, lattice sums) are cached under `--cache`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Deserialize;

use crystalpot::model::potnet::config::{Architecture, ModelMeta, Provenance};
use crystalpot::model::potnet::features::CrystalInput;
use crystalpot::train::dataset::{self, BadSamples, Sample};
use crystalpot::train::plots::{self, EpochPoint};
use crystalpot::train::potnet::{
    self, cache, EpochRecord, Loss, PotnetTraining, Schedule, Trainer,
};
use crystalpot::train::split::train_validation_split;
use crystalpot::train::write_atomically;
use crystalpot::{Error, Result};

use super::sibling;

/// Train a PotNet model on a property of crystals.
#[derive(clap::Args)]
pub struct Args {
    /// Training data: CSV with a `cif` column, a folder with id_prop.csv, or extended XYZ.
    #[arg(long)]
    data: PathBuf,
    /// Target column (or extended XYZ header key).
    #[arg(long)]
    target: String,
    /// Validation data (default: a seeded share of --data, see --val-fraction).
    #[arg(long)]
    val: Option<PathBuf>,
    /// Output model file (.safetensors); log, checkpoint and plots are written beside it.
    #[arg(long)]
    out: PathBuf,
    /// Settings as JSON (keys as the options below, with underscores); options given on the
    /// command line win.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue a run bit for bit: from the checkpoint beside --out (`--resume`; none there
    /// starts afresh) or from the checkpoint file CKPT (`--resume CKPT`, which must exist).
    /// The checkpoint's settings are kept; new checkpoints are written beside --out.
    #[arg(long, num_args = 0..=1, value_name = "CKPT")]
    resume: Option<Option<PathBuf>>,
    /// Folder of the input cache (default: crystalpot-cache beside --out).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Skip unusable rows (listed on stderr) instead of failing.
    #[arg(long)]
    skip_bad: bool,
    /// Threads (default 2).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Stop this invocation after this many epochs, leaving the checkpoint (to split a run
    /// into sessions with --resume).
    #[arg(long)]
    stop_after: Option<usize>,
    #[command(flatten)]
    hyper: Hyper,
}

/// Settings that can come from --config or the command line.
#[derive(clap::Args, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct Hyper {
    /// Share of --data held out for validation when --val is absent [0.1].
    #[arg(long)]
    val_fraction: Option<f64>,
    /// Seed of the split, the initial weights and the batch order [0].
    #[arg(long)]
    seed: Option<u64>,
    /// [100]
    #[arg(long)]
    epochs: Option<usize>,
    /// [64]
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate [1e-3].
    #[arg(long)]
    lr: Option<f64>,
    /// AdamW weight decay [1e-5].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// one-cycle or cosine [one-cycle].
    #[arg(long)]
    schedule: Option<Schedule>,
    /// mse or l1 [mse].
    #[arg(long)]
    loss: Option<Loss>,
    /// Stop after this many epochs without a better validation MAE [never].
    #[arg(long)]
    patience: Option<usize>,
    /// Node/edge feature width [256].
    #[arg(long)]
    width: Option<usize>,
    /// Message-passing layers [3].
    #[arg(long)]
    layers: Option<usize>,
    /// Width after pooling [= width].
    #[arg(long)]
    output_dim: Option<usize>,
    /// Local graph cutoff in Å [4.0].
    #[arg(long)]
    cutoff: Option<f64>,
    /// [16]
    #[arg(long)]
    max_neighbors: Option<usize>,
    /// Unit of the target, stored in the model [none].
    #[arg(long)]
    unit: Option<String>,
    /// The target grows with the number of atoms.
    #[arg(long)]
    #[serde(default)]
    extensive: bool,
    /// Model name stored in the file.
    #[arg(long)]
    name: Option<String>,
}

impl Hyper {
    /// Command-line values over the config file's.
    fn merge(self, file: Hyper) -> Hyper {
        macro_rules! pick {
            ($($f:ident),*) => { Hyper { $($f: self.$f.or(file.$f),)* extensive: self.extensive || file.extensive } };
        }
        pick!(
            val_fraction,
            seed,
            epochs,
            batch_size,
            lr,
            weight_decay,
            schedule,
            loss,
            patience,
            width,
            layers,
            output_dim,
            cutoff,
            max_neighbors,
            unit,
            name
        )
    }
}

pub fn run(args: Args) -> Result<()> {
    // candle's matrix products read RAYON_NUM_THREADS; everything else uses the global pool.
    // Its elementwise operations would use a second pool whose threads spin while waiting,
    // which halves throughput on a shared machine: they run on the calling thread instead.
    std::env::set_var("RAYON_NUM_THREADS", args.threads.max(1).to_string());
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    keep_freed_memory();
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build_global()
        .map_err(|e| Error::InvalidInput(format!("cannot start {} threads: {e}", args.threads)))?;
    let hyper = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            let file: Hyper = serde_json::from_str(&text)
                .map_err(|e| Error::InvalidInput(format!("{}: {e}", p.display())))?;
            args.hyper.clone().merge(file)
        }
        None => args.hyper.clone(),
    };
    let started = Instant::now();
    let bad = if args.skip_bad {
        BadSamples::Skip
    } else {
        BadSamples::Fail
    };
    let (checkpoint_path, saved) =
        super::saved_checkpoint(&args.out, &super::Resume::from_option(args.resume.clone()))?;
    let resumed = saved
        .map(|(from, bytes)| {
            Trainer::from_checkpoint(&bytes).map_err(|e| {
                Error::InvalidInput(format!("cannot resume from {}: {e}", from.display()))
            })
        })
        .transpose()?;
    let fraction = hyper.val_fraction.unwrap_or(0.1);
    let seed = resumed
        .as_ref()
        .map_or(hyper.seed.unwrap_or(0), |t| t.settings.seed);
    let (train, val, split) = load_data(&args, bad, fraction, seed)?;
    let fresh = new_meta(&args, &hyper, &train, &val, split)?;
    let mut trainer = match resumed {
        Some(t) => {
            // The same data and split, or the continued run would silently change course.
            let (then, now) = (&t.meta.provenance, &fresh.provenance);
            if (&then.dataset, &then.split) != (&now.dataset, &now.split) {
                return Err(Error::InvalidInput(format!(
                    "{} was trained on {:?} ({:?}), not {:?} ({:?}): resume with the same \
                     data and split options",
                    checkpoint_path.display(),
                    then.dataset,
                    then.split,
                    now.dataset,
                    now.split
                )));
            }
            eprintln!(
                "resuming {} after epoch {}",
                checkpoint_path.display(),
                t.progress.epoch
            );
            t
        }
        None => Trainer::new(fresh, settings(&hyper))?,
    };
    eprintln!(
        "{} training and {} validation structures; graphs and lattice sums…",
        train.len(),
        val.len()
    );
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let cache_dir = args
        .cache
        .clone()
        .unwrap_or_else(|| cache::default_dir(&args.out));
    let structures = |s: &[Sample]| s.iter().map(|s| s.structure.clone()).collect::<Vec<_>>();
    let train_inputs = cache::inputs(&structures(&train), &trainer.meta, Some(&cache_dir))?;
    let val_inputs = cache::inputs(&structures(&val), &trainer.meta, Some(&cache_dir))?;
    eprintln!("inputs ready ({:.0} s)", started.elapsed().as_secs_f64());
    let target = trainer.meta.targets[0].clone();
    let train_targets: Vec<Vec<f64>> = train
        .iter()
        .map(|s| vec![(s.targets[0] - target.mean) / target.std])
        .collect();
    let val_targets: Vec<f64> = val.iter().map(|s| s.targets[0]).collect();

    let log_path = sibling(&args.out, "log.csv");
    write_log(&log_path, &trainer.progress.history)?;
    let steps = trainer.steps_per_epoch(train.len());
    let bar = indicatif::ProgressBar::new(steps * trainer.settings.epochs as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} epoch {prefix} ETA {eta} {msg}")
            .expect("valid template"),
    );
    bar.set_position(trainer.progress.step);
    bar.reset_eta();
    let mut last_val = trainer
        .progress
        .history
        .last()
        .map_or(String::from("-"), |r| {
            format!("{:.4} {}", r.val_mae, target.unit)
        });
    let already = trainer.progress.history.last().map_or(0.0, |r| r.seconds);
    let session = Instant::now();
    let mut epochs_run = 0;
    while !trainer.finished() && args.stop_after.is_none_or(|n| epochs_run < n) {
        bar.set_prefix(format!(
            "{}/{}",
            trainer.progress.epoch + 1,
            trainer.settings.epochs
        ));
        let loss = trainer.train_epoch(&train_inputs, &train_targets, |running| {
            bar.inc(1);
            bar.set_message(format!("loss {running:.4}, val MAE {last_val}"));
        })?;
        let (metrics, _) = trainer.validate(&val_inputs, &val_targets)?;
        let record = EpochRecord {
            epoch: trainer.progress.epoch,
            train_loss: loss,
            val_mae: metrics.mae,
            val_rmse: metrics.rmse,
            seconds: already + session.elapsed().as_secs_f64(),
        };
        last_val = format!("{:.4} {}", metrics.mae, target.unit);
        if bar.is_hidden() {
            // Not a terminal (a log file): one line per epoch instead of the bar.
            eprintln!(
                "epoch {}: loss {loss:.4}, val MAE {last_val}, {:.0} s",
                record.epoch, record.seconds
            );
        }
        if trainer.record(record) {
            let mut model_meta = trainer.meta.clone();
            model_meta.provenance.metrics = Some(serde_json::json!({
                "validation": metrics, "epoch": record.epoch,
            }));
            model_meta.provenance.date = Some(today());
            let model = crystalpot::model::potnet::PotnetModel::new(
                model_meta,
                trainer
                    .net
                    .state_dict()
                    .map_err(|e| Error::Model(e.to_string()))?,
            )?;
            write_atomically(&args.out, &model.to_bytes()?)?;
        }
        write_atomically(&checkpoint_path, &trainer.checkpoint_bytes()?)?;
        append_log(&log_path, &record)?;
        epochs_run += 1;
    }
    bar.finish();
    if !trainer.finished() {
        eprintln!(
            "stopped after epoch {} (continue with --resume)",
            trainer.progress.epoch
        );
        return Ok(());
    }
    finish(&args, &trainer, &val_inputs, &val_targets)?;
    eprintln!(
        "best validation MAE {:.5} {} at epoch {}; model {} ({:.0} s)",
        trainer.progress.best_val_mae,
        target.unit,
        trainer.progress.best_epoch,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Training and validation samples and a description of the split.
fn load_data(
    args: &Args,
    bad: BadSamples,
    fraction: f64,
    seed: u64,
) -> Result<(Vec<Sample>, Vec<Sample>, String)> {
    let read = |path: &Path| -> Result<Vec<Sample>> {
        let data = dataset::load(path, std::slice::from_ref(&args.target), bad)?;
        for s in &data.skipped {
            eprintln!("skipped {}: {}", s.location, s.reason);
        }
        Ok(data.samples)
    };
    let samples = read(&args.data)?;
    Ok(match &args.val {
        Some(v) => (
            samples,
            read(v)?,
            format!(
                "training {}, validation {}",
                args.data.display(),
                v.display()
            ),
        ),
        None => {
            let (t, v) = train_validation_split(samples.len(), fraction, seed);
            let pick = |idx: &[usize]| idx.iter().map(|&k| samples[k].clone()).collect();
            (
                pick(&t),
                pick(&v),
                format!(
                    "seeded random split of {}: seed {seed}, validation fraction {fraction}",
                    args.data.display()
                ),
            )
        }
    })
}

fn settings(h: &Hyper) -> PotnetTraining {
    let d = PotnetTraining::default();
    PotnetTraining {
        epochs: h.epochs.unwrap_or(d.epochs),
        batch_size: h.batch_size.unwrap_or(d.batch_size),
        learning_rate: h.lr.unwrap_or(d.learning_rate),
        weight_decay: h.weight_decay.unwrap_or(d.weight_decay),
        schedule: h.schedule.unwrap_or(d.schedule),
        loss: h.loss.unwrap_or(d.loss),
        patience: h.patience.or(d.patience),
        seed: h.seed.unwrap_or(d.seed),
    }
}

/// Metadata of a new model: architecture and graph from the settings, the target
/// normalised by the training set's mean and standard deviation.
fn new_meta(
    args: &Args,
    h: &Hyper,
    train: &[Sample],
    val: &[Sample],
    split: String,
) -> Result<ModelMeta> {
    let values: Vec<f64> = train.iter().map(|s| s.targets[0]).collect();
    let d = Architecture::default();
    let width = h.width.unwrap_or(d.fc_features);
    let structures: Vec<_> = train.iter().chain(val).map(|s| &s.structure).collect();
    let mut meta = potnet::model_meta(
        &h.name
            .clone()
            .unwrap_or_else(|| format!("PotNet {} of {}", args.target, args.data.display())),
        Architecture {
            conv_layers: h.layers.unwrap_or(d.conv_layers),
            fc_features: width,
            output_dim: h.output_dim.unwrap_or(width),
            ..d
        },
        potnet::target(
            &args.target,
            h.unit.as_deref().unwrap_or_default(),
            h.extensive,
            &values,
        ),
        &structures,
        Provenance {
            dataset: Some(format!(
                "{} ({} training, {} validation structures)",
                args.data.display(),
                train.len(),
                val.len()
            )),
            split: Some(split),
            crystalpot_version: env!("CARGO_PKG_VERSION").into(),
            notes: Some(format!(
                "trained with crystalpot train: {}",
                serde_json::to_string(&settings(h)).expect("settings serialise")
            )),
            ..Provenance::default()
        },
    )?;
    if let Some(c) = h.cutoff {
        meta.graph.cutoff = c;
    }
    if let Some(m) = h.max_neighbors {
        meta.graph.max_neighbors = m;
    }
    meta.validate()?;
    Ok(meta)
}

/// The learning curve and the best model's parity plot on the validation set.
fn finish(
    args: &Args,
    trainer: &Trainer,
    val_inputs: &[CrystalInput],
    val_targets: &[f64],
) -> Result<()> {
    let points: Vec<EpochPoint> = trainer
        .progress
        .history
        .iter()
        .map(|r| EpochPoint {
            epoch: r.epoch,
            train_loss: r.train_loss,
            val_mae: r.val_mae,
        })
        .collect();
    let unit = &trainer.meta.targets[0].unit;
    plots::learning_curve(&sibling(&args.out, "learning-curve.png"), &points, unit)?;
    let best = crystalpot::model::potnet::PotnetModel::from_file(&args.out)?;
    let predicted: Vec<f64> = best
        .predict_inputs(val_inputs)?
        .into_iter()
        .map(|p| p[0])
        .collect();
    plots::parity_plot(
        &sibling(&args.out, "parity.png"),
        &predicted,
        val_targets,
        &format!("{} (validation)", args.target),
        unit,
    )
}

const LOG_HEADER: &str = "epoch,train_loss,val_mae,val_rmse,seconds";

/// Writes the log of the epochs recorded so far (a resumed run drops a killed epoch's line).
fn write_log(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let mut text = format!("{LOG_HEADER}\n");
    for r in history {
        text.push_str(&log_line(r));
    }
    write_atomically(path, text.as_bytes())
}

fn append_log(path: &Path, r: &EpochRecord) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(log_line(r).as_bytes())
        .map_err(|e| Error::io(path, e))
}

fn log_line(r: &EpochRecord) -> String {
    format!(
        "{},{},{},{},{:.1}\n",
        r.epoch, r.train_loss, r.val_mae, r.val_rmse, r.seconds
    )
}

/// Today's UTC date, YYYY-MM-DD (civil-from-days, H. Hinnant's algorithm).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Keeps large freed blocks in the heap: every training step allocates and frees the same
/// activation-sized buffers, which glibc would otherwise return to the kernel (mmap/munmap)
/// and fault in and zero again on the next step (a fifth of the run time).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; called before any training thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
