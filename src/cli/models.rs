//! `crystalpot models`: the model files of a folder (by default the shipped `models/`) with
//! their kind, elements and recorded validation errors, so that a user picks one without
//! opening each file.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crystalpot::{Calculator, Error, Result};

/// The shipped models of the repository.
pub const SHIPPED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");

/// Lists the models of a folder.
#[derive(clap::Args)]
pub struct Args {
    /// Folder to list (default: the shipped models).
    #[arg(default_value = SHIPPED_DIR)]
    dir: PathBuf,
    /// One JSON object per model (`file`, then what `cpot_model_info` gives) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let files = model_files(&args.dir)?;
    if files.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: no model files (*.safetensors, *.json) in this folder",
            args.dir.display()
        )));
    }
    for file in files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let info = match Calculator::from_file(&file) {
            Ok(calc) => calc.info(),
            Err(e) => {
                eprintln!("{name}: cannot be loaded: {e}");
                continue;
            }
        };
        if args.json {
            let mut object = serde_json::to_value(&info)
                .map_err(|e| Error::Model(format!("{name}: description not serialisable: {e}")))?;
            object["file"] = json!(name);
            println!("{object}");
        } else {
            let errors = info.validation.as_ref().map_or_else(
                || "no validation figures".to_string(),
                |v| summary(v, &info.targets),
            );
            // A property model knows dozens of elements: count them (--json lists them).
            let elements = match info.elements.len() {
                n if n > 6 => format!("{n} elements"),
                _ => info.elements.join(" "),
            };
            println!("{name:<34} {:<9} {elements:<16} {errors}", info.kind);
        }
    }
    Ok(())
}

/// Model files of a folder, sorted: safetensors and JSON files, without the training
/// by-products that share those extensions (checkpoints, training settings).
fn model_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            let model_like = name.ends_with(".safetensors") || name.ends_with(".json");
            let by_product =
                name.ends_with(".checkpoint.safetensors") || name.ends_with(".train-config.json");
            p.is_file() && model_like && !by_product
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The validation errors in one line, units stated: energy models record energy (meV/atom),
/// force (eV/Å) and stress (GPa) MAEs; property models an MAE in their target's unit.
fn summary(validation: &Value, targets: &[crystalpot::calculator::TargetInfo]) -> String {
    let figure = |key: &str| validation.get(key).and_then(Value::as_f64);
    let mut parts = Vec::new();
    if let Some(e) = figure("energy_mae_mev_per_atom") {
        parts.push(format!("E {e:.2} meV/atom"));
    }
    if let Some(f) = figure("force_mae") {
        parts.push(format!("F {f:.3} eV/Å"));
    }
    if let Some(s) = figure("stress_mae_gpa") {
        parts.push(format!("stress {s:.2} GPa"));
    }
    if let Some(mae) = figure("mae") {
        let unit = targets.first().map_or("", |t| t.unit.as_str());
        parts.push(format!("{mae:.4} {unit}"));
    }
    if parts.is_empty() {
        return "no validation figures".into();
    }
    format!("validation MAE: {}", parts.join(", "))
}
