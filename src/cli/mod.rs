//! Subcommands of the `crystalpot` tool: each file parses its arguments, calls the library
//! and prints. Nothing here computes physics.

pub mod energy;
pub mod evaluate;
pub mod fit;
pub mod import_potnet;
pub mod lammps_input;
pub mod models;
pub mod potentials;
pub mod predict;
pub mod train;
pub mod train_energy;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crystalpot::train::dataset::{self, BadSamples, Sample};
use crystalpot::{io, Result, Structure};

/// Reads every structure of a file (several for multi-frame extended XYZ), rejecting atoms
/// closer than `min_distance` Å.
pub fn read_structures(path: &Path, min_distance: f64) -> Result<Vec<Structure>> {
    let structures = io::read_structures(path)?;
    for s in &structures {
        crystalpot::neighbors::check_min_distance(s, min_distance).map_err(|e| match e {
            crystalpot::Error::InvalidStructure(m) => {
                crystalpot::Error::InvalidStructure(format!("{}: {m}", path.display()))
            }
            other => other,
        })?;
    }
    Ok(structures)
}

/// The frames of an energy data set (extended XYZ with `energy`, forces, stresses) and the
/// sorted element symbols they contain; frames that cannot be used fail the load, or with
/// `skip_bad` are listed on stderr and left out. What `fit` and `train-energy` both read.
/// `swap_shear` swaps the yz and xz stress components as read: the mlearn sets do not agree
/// on the order of their `virial_stress_kB` (see docs/fitting.md).
pub fn energy_frames(
    path: &Path,
    skip_bad: bool,
    swap_shear: bool,
) -> Result<(Vec<Sample>, Vec<String>)> {
    let bad = if skip_bad {
        BadSamples::Skip
    } else {
        BadSamples::Fail
    };
    let mut data = dataset::load(path, &["energy".to_string()], bad)?;
    if swap_shear {
        dataset::swap_shear_stress(&mut data.samples);
    }
    for s in &data.skipped {
        eprintln!("skipped {}: {}", s.location, s.reason);
    }
    let mut elements: Vec<u8> = data
        .samples
        .iter()
        .flat_map(|s| s.structure.numbers().to_vec())
        .collect();
    elements.sort_unstable();
    elements.dedup();
    let symbols = elements
        .iter()
        .map(|&z| crystalpot::elements::symbol(z).unwrap_or("?").to_string())
        .collect();
    Ok((data.samples, symbols))
}

/// A structure as JSON: formula, lattice rows, element symbols and Cartesian positions.
pub fn structure_json(s: &Structure) -> Value {
    let m = s.lattice().matrix();
    json!({
        "formula": s.formula(),
        "lattice": (0..3).map(|i| [m[(i, 0)], m[(i, 1)], m[(i, 2)]]).collect::<Vec<_>>(),
        "species": s.symbols(),
        "positions": s.positions().iter().map(|p| [p[0], p[1], p[2]]).collect::<Vec<_>>(),
    })
}

/// Prints one JSON value per structure: the object itself for one, an array for several.
pub fn print_json(values: Vec<Value>) {
    let out = if values.len() == 1 {
        values.into_iter().next().expect("one value")
    } else {
        Value::Array(values)
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("JSON values serialise")
    );
}

/// A file beside a trained model: `<stem>.<suffix>` (log, checkpoint, plots).
pub fn sibling(model: &Path, suffix: &str) -> PathBuf {
    let stem = model
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    model.with_file_name(format!("{stem}.{suffix}"))
}

/// Where a resumed run reads its checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum Resume {
    /// A fresh run.
    No,
    /// The checkpoint beside the model; if there is none, the run starts afresh.
    Beside,
    /// This checkpoint file, which must exist.
    From(PathBuf),
}

impl Resume {
    /// From a `--resume [CKPT]` option (`num_args = 0..=1`).
    pub fn from_option(option: Option<Option<PathBuf>>) -> Self {
        match option {
            None => Resume::No,
            Some(None) => Resume::Beside,
            Some(Some(path)) => Resume::From(path),
        }
    }
}

/// A checkpoint's bytes and the path they were read from.
pub type SavedCheckpoint = (PathBuf, Vec<u8>);

/// The checkpoint path beside `model` (where every epoch's checkpoint is written) and, when
/// resuming, the bytes of the checkpoint to continue: a missing checkpoint beside the model
/// starts the run afresh (said on stderr), a missing named checkpoint is an error. The bytes
/// come with the path they were read from, for messages.
pub fn saved_checkpoint(
    model: &Path,
    resume: &Resume,
) -> Result<(PathBuf, Option<SavedCheckpoint>)> {
    let path = sibling(model, "checkpoint.safetensors");
    let from = match resume {
        Resume::No => return Ok((path, None)),
        Resume::Beside if !path.exists() => {
            eprintln!("no checkpoint at {}: starting afresh", path.display());
            return Ok((path, None));
        }
        Resume::Beside => path.clone(),
        Resume::From(p) if !p.is_file() => {
            return Err(crystalpot::Error::InvalidInput(format!(
                "--resume {}: no such checkpoint file (a run writes \
                 <model>.checkpoint.safetensors beside its --out every epoch)",
                p.display()
            )))
        }
        Resume::From(p) => p.clone(),
    };
    let bytes = std::fs::read(&from).map_err(|e| crystalpot::Error::io(&from, e))?;
    Ok((path, Some((from, bytes))))
}
