//! `crystalpot import-potnet`: an original PotNet state dict + hyper-parameters → model file.

use std::path::PathBuf;

use crystalpot::model::potnet::import::{import_original, ImportOptions};
use crystalpot::{Error, Result};

/// Turns a state dict of the original PotNet code saved as safetensors
/// (`models/convert_potnet_checkpoint.py` makes one from a checkpoint) and its
/// hyper-parameters (JSON with `model_config` and `yaml_training_settings`) into a crystalpot
/// model file using the original (potnet-mode) lattice sums.
#[derive(clap::Args)]
pub struct Args {
    /// State dict as safetensors, tensor names as in PyTorch.
    #[arg(long)]
    weights: PathBuf,
    /// Hyper-parameters JSON (the form of the fixtures' potnet_config.json).
    #[arg(long)]
    config: PathBuf,
    /// Model file to write.
    #[arg(long)]
    out: PathBuf,
    /// Model name shown by `predict` and `model_info`.
    #[arg(long, default_value = "potnet")]
    name: String,
    /// Name of the predicted target.
    #[arg(long, default_value = "target")]
    target: String,
    /// Unit of the target (e.g. eV/atom).
    #[arg(long, default_value = "")]
    unit: String,
    /// The target grows with the number of atoms (a total energy).
    #[arg(long)]
    extensive: bool,
    /// Elements of the training set, comma separated (default: all with CGCNN features).
    #[arg(long, value_delimiter = ',')]
    elements: Option<Vec<String>>,
    /// Training data set, for the provenance record.
    #[arg(long)]
    dataset: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    let weights = std::fs::read(&args.weights).map_err(|e| Error::io(&args.weights, e))?;
    let config = std::fs::read_to_string(&args.config).map_err(|e| Error::io(&args.config, e))?;
    let opts = ImportOptions {
        name: args.name,
        target: args.target,
        unit: args.unit,
        extensive: args.extensive,
        elements: args.elements,
        dataset: args.dataset,
        notes: None,
    };
    let model = import_original(&weights, &config, &opts).map_err(|e| match e {
        Error::Model(m) => Error::Model(format!("{}: {m}", args.weights.display())),
        other => other,
    })?;
    model.save(&args.out)?;
    let meta = model.meta();
    eprintln!(
        "wrote {}: PotNet {:?}, {} conv layers, {} targets, {} elements, the published \
         16-nearest-neighbour graph and potnet-mode lattice sums (as the original code)",
        args.out.display(),
        meta.name,
        meta.architecture.conv_layers,
        meta.targets.len(),
        meta.elements.len()
    );
    Ok(())
}
