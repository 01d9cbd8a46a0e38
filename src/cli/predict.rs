//! `crystalpot predict`: properties of many structures with a PotNet model.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use crystalpot::calculator::Model;
use crystalpot::model::potnet::PotnetModel;
use crystalpot::{Calculator, Error, Result, Structure};

/// The model `predict` uses without `--model`: shipped in the repository by the training work.
pub const DEFAULT_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/potnet.safetensors");

/// Files read and predicted together: bounds memory and sets the progress granularity.
const FILES_PER_STEP: usize = 256;

/// Predicted properties of every structure in the given files (every frame of an extended
/// XYZ file), batched, with a progress bar on stderr for many files.
#[derive(clap::Args)]
pub struct Args {
    /// PotNet model file (default: the repository's models/potnet.safetensors).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Structure files: CIF, POSCAR/CONTCAR or extended XYZ.
    #[arg(required = true)]
    structures: Vec<PathBuf>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Reject structures with atoms closer than this (Å).
    #[arg(long, default_value_t = 0.5)]
    min_distance: f64,
}

fn load_model(path: Option<&Path>) -> Result<PotnetModel> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from(DEFAULT_MODEL);
            if !p.is_file() {
                return Err(Error::Model(format!(
                    "no default PotNet model at {}: pass --model FILE (a model file, e.g. made \
                     from an original PotNet state dict with `crystalpot import-potnet`)",
                    p.display()
                )));
            }
            p
        }
    };
    match Calculator::from_file(&path)?.model() {
        Model::Potnet(m) => {
            if let Some(note) = m.meta().invariance_note() {
                eprintln!("note: {note}");
            }
            Ok((**m).clone())
        }
        _ => Err(Error::Model(format!(
            "{} is not a PotNet model (use `crystalpot energy` for energy models)",
            path.display()
        ))),
    }
}

pub fn run(args: Args) -> Result<()> {
    let model = load_model(args.model.as_deref())?;
    let meta = model.meta();
    let bar = if args.structures.len() > 1 {
        ProgressBar::new(args.structures.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files, {per_sec}, ETA {eta}")
            .expect("valid template"),
    );
    for files in args.structures.chunks(FILES_PER_STEP) {
        // (file, frame, structure), in order.
        let read: Vec<Vec<(usize, Structure)>> = files
            .par_iter()
            .map(|f| {
                Ok(super::read_structures(f, args.min_distance)?
                    .into_iter()
                    .enumerate()
                    .collect())
            })
            .collect::<Result<_>>()?;
        let structures: Vec<Structure> = read.iter().flatten().map(|(_, s)| s.clone()).collect();
        let mut predictions = model.predict(&structures)?.into_iter();
        for (file, frames) in files.iter().zip(&read) {
            for (frame, s) in frames {
                let values = predictions.next().expect("one prediction per structure");
                let label = if frames.len() > 1 {
                    format!("{}#{frame}", file.display())
                } else {
                    file.display().to_string()
                };
                let line = if args.json {
                    let targets: serde_json::Map<_, _> = meta
                        .targets
                        .iter()
                        .zip(&values)
                        .map(|(t, v)| (t.name.clone(), json!({"value": v, "unit": t.unit})))
                        .collect();
                    json!({"file": file, "frame": frame, "formula": s.formula(),
                           "model": meta.name, "predictions": targets})
                    .to_string()
                } else {
                    let targets: Vec<String> = meta
                        .targets
                        .iter()
                        .zip(&values)
                        .map(|(t, v)| {
                            format!("{} = {v:.6} {}", t.name, t.unit)
                                .trim_end()
                                .to_string()
                        })
                        .collect();
                    format!(
                        "{label} {}: {} (model {})",
                        s.formula(),
                        targets.join(", "),
                        meta.name
                    )
                };
                bar.suspend(|| println!("{line}"));
            }
        }
        bar.inc(files.len() as u64);
    }
    bar.finish_and_clear();
    Ok(())
}
