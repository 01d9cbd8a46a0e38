//! Import of models trained with the original PotNet code: its `state_dict` saved as
//! safetensors (`models/convert_potnet_checkpoint.py` makes one from a checkpoint) plus its
//! hyper-parameters (the `model_config` and the training settings of `configs/potnet.yaml`,
//! as in the fixtures' `potnet_config.json`) become a model file in potnet lattice-sum mode.

use serde::Deserialize;

use super::config::{
    Architecture, GraphConstruction, GraphSettings, LatticeSumMode, ModelMeta, Provenance, Target,
    FORMAT, FORMAT_VERSION,
};
use super::{file, PotnetModel};
use crate::elements;
use crate::error::{Error, Result};

/// The original hyper-parameters.
#[derive(Debug, Deserialize)]
struct OriginalConfig {
    model_config: OriginalModelConfig,
    yaml_training_settings: OriginalTraining,
}

#[derive(Debug, Deserialize)]
struct OriginalModelConfig {
    conv_layers: usize,
    atom_input_features: usize,
    inf_edge_features: usize,
    fc_features: usize,
    output_dim: usize,
    output_features: usize,
    rbf_min: f64,
    rbf_max: f64,
    potentials: [f64; 3],
    #[serde(default)]
    euclidean: bool,
    #[serde(default)]
    charge_map: bool,
    #[serde(default)]
    transformer: bool,
}

#[derive(Debug, Deserialize)]
struct OriginalTraining {
    atom_features: String,
    cutoff: f64,
    max_neighbors: usize,
    infinite_funcs: Vec<String>,
    infinite_params: [f64; 3],
    #[serde(rename = "R")]
    r: i32,
    #[serde(default)]
    normalize: bool,
    #[serde(default)]
    target_mean: f64,
    #[serde(default = "one")]
    target_std: f64,
}

fn one() -> f64 {
    1.0
}

/// What the original files do not say about the model.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub name: String,
    pub target: String,
    pub unit: String,
    pub extensive: bool,
    /// Training elements; `None`: every element with CGCNN features (H..Fm).
    pub elements: Option<Vec<String>>,
    pub dataset: Option<String>,
    pub notes: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            name: "potnet".into(),
            target: "target".into(),
            unit: String::new(),
            extensive: false,
            elements: None,
            dataset: None,
            notes: None,
        }
    }
}

/// Builds a model from the original state dict (safetensors bytes) and config JSON.
pub fn import_original(
    weights: &[u8],
    config_json: &str,
    opts: &ImportOptions,
) -> Result<PotnetModel> {
    let bad = |m: String| Error::Model(format!("original PotNet config: {m}"));
    let cfg: OriginalConfig = serde_json::from_str(config_json).map_err(|e| bad(e.to_string()))?;
    let (m, t) = (&cfg.model_config, &cfg.yaml_training_settings);
    if m.euclidean || m.charge_map || m.transformer {
        return Err(bad(format!(
            "euclidean/charge_map/transformer variants are not supported (got {}/{}/{})",
            m.euclidean, m.charge_map, m.transformer
        )));
    }
    if t.atom_features != "cgcnn" {
        return Err(bad(format!(
            "atom features {:?}: only \"cgcnn\" is supported",
            t.atom_features
        )));
    }
    if t.infinite_funcs != ["zeta", "zeta", "exp"] {
        return Err(bad(format!(
            "infinite_funcs {:?}: only [\"zeta\", \"zeta\", \"exp\"] (Coulomb, London, Pauli) is supported",
            t.infinite_funcs
        )));
    }
    let (mean, std) = if t.normalize {
        (t.target_mean, t.target_std)
    } else {
        (0.0, 1.0)
    };
    let elements = match &opts.elements {
        Some(e) => e.clone(),
        None => (1..=100u8)
            .filter_map(elements::symbol)
            .map(str::to_string)
            .collect(),
    };
    let meta = ModelMeta {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        name: opts.name.clone(),
        architecture: Architecture {
            conv_layers: m.conv_layers,
            atom_input_features: m.atom_input_features,
            inf_edge_features: m.inf_edge_features,
            fc_features: m.fc_features,
            output_dim: m.output_dim,
            output_features: m.output_features,
            rbf_min: m.rbf_min,
            rbf_max: m.rbf_max,
            potentials: m.potentials,
        },
        graph: GraphSettings {
            cutoff: t.cutoff,
            max_neighbors: t.max_neighbors,
            construction: GraphConstruction::Published,
        },
        lattice_sums: LatticeSumMode::Potnet {
            r_max: t.r,
            coulomb_param: t.infinite_params[0],
            london_param: t.infinite_params[1],
            pauli_param: t.infinite_params[2],
        },
        targets: (0..m.output_features)
            .map(|k| Target {
                name: if m.output_features == 1 {
                    opts.target.clone()
                } else {
                    format!("{}_{k}", opts.target)
                },
                unit: opts.unit.clone(),
                extensive: opts.extensive,
                mean,
                std,
            })
            .collect(),
        elements,
        provenance: Provenance {
            dataset: opts.dataset.clone(),
            notes: Some(opts.notes.clone().unwrap_or_else(|| {
                "imported from an original PotNet (divelab/AIRS OpenMat/PotNet) state dict".into()
            })),
            crystalpot_version: env!("CARGO_PKG_VERSION").into(),
            ..Provenance::default()
        },
    };
    meta.validate()?;
    let tensors = file::read_state_dict(weights, &meta.architecture)?;
    PotnetModel::new(meta, tensors)
}
