//! The self-description of a PotNet model file: the JSON stored under the key
//! [`METADATA_KEY`] of the safetensors `__metadata__`. Everything needed to turn a structure
//! into the network's inputs and its outputs into physical values lives here, so a model file
//! is usable without any other file.

use serde::{Deserialize, Serialize};

use crate::elements;
use crate::error::{Error, Result};
use crate::lattice::potnet::PotnetSettings;

/// Key of the safetensors `__metadata__` entry that holds [`ModelMeta`] as JSON.
pub use crate::model::file::METADATA_KEY;

/// Value of [`ModelMeta::format`]: tells a PotNet model file from other safetensors files.
pub const FORMAT: &str = "crystalpot-potnet";

/// The model-file format version this build reads and writes. A file with another version is
/// rejected rather than misread.
pub const FORMAT_VERSION: u32 = 1;

/// Hyper-parameters of the network, named as the original `PotNetConfig`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    pub conv_layers: usize,
    pub atom_input_features: usize,
    /// Number of multiquadric RBF bins of the infinite (lattice-sum) edges.
    pub inf_edge_features: usize,
    /// Width of node and edge features, and number of Gaussian RBF bins of the local edges.
    pub fc_features: usize,
    /// Width of the layer after pooling.
    pub output_dim: usize,
    /// Number of predicted targets.
    pub output_features: usize,
    pub rbf_min: f64,
    pub rbf_max: f64,
    /// Weights of the Coulomb, London and Pauli sums in the scalar infinite-edge feature.
    pub potentials: [f64; 3],
}

impl Default for Architecture {
    /// `configs/potnet.yaml` of the published code.
    fn default() -> Self {
        Architecture {
            conv_layers: 3,
            atom_input_features: 92,
            inf_edge_features: 64,
            fc_features: 256,
            output_dim: 256,
            output_features: 1,
            rbf_min: -4.0,
            rbf_max: 4.0,
            potentials: [-0.801, -0.074, 0.145],
        }
    }
}

/// Local neighbour graph (jarvis-tools semantics, see `neighbors::potnet`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSettings {
    /// Initial search radius in Å.
    pub cutoff: f64,
    pub max_neighbors: usize,
    /// Which neighbours beyond the k-th are kept. Absent in files written before it existed,
    /// which all used the published construction.
    #[serde(default)]
    pub construction: GraphConstruction,
}

/// How the k-th-neighbour cut of the local graph treats (nearly) degenerate shells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum GraphConstruction {
    /// The published code's: neighbours with d <= d_k, compared bit for bit. A shell of
    /// equidistant neighbours at d_k is kept or cut depending on rounding, so the graph can
    /// change with a translation, the atom order or 1e-12 Å of noise. Original PotNet
    /// checkpoints were trained on it and keep it.
    #[default]
    Published,
    /// Neighbours with d <= d_k + `tolerance` (Å): the whole k-th shell, however its distances
    /// are rounded. Invariant as long as real shells are further apart than `tolerance` and
    /// rounding or noise stays well below it (see [`SHELL_TOLERANCE`]).
    WholeShell { tolerance: f64 },
}

/// Shell tolerance of the models crystalpot trains: 1e-3 Å is ~10⁶ times the distance changes
/// that rounding (1e-15 Å) or 1e-9 Å of noise cause, so symmetric shells stay whole, and it
/// also merges shells split only by 4-5 decimals of CIF coordinates (1e-4..1e-3 Å on 10 Å
/// cells); distinct shells of real crystals are 1e-2 Å and more apart.
pub const SHELL_TOLERANCE: f64 = 1e-3;

/// How the three infinite-edge features (Coulomb, London, Pauli sums) are computed. A model
/// must be used with the sums it was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum LatticeSumMode {
    /// The published code's truncated sums (`lattice::potnet`): what original models saw.
    Potnet {
        r_max: i32,
        coulomb_param: f64,
        london_param: f64,
        pauli_param: f64,
    },
    /// Converged sums (`lattice::pair_matrices`) of 1/r, 1/r⁶ and exp(-α r).
    Exact {
        /// Relative tolerance of each matrix.
        tolerance: f64,
        /// Pauli decay α in 1/Å.
        pauli_alpha: f64,
        /// Whether the Pauli diagonal includes the i = j, k = 0 term (PotNet's convention).
        pauli_self: bool,
    },
    /// PotNet's three features as the published code defines them (Σ' 1/r^(2p) for the
    /// Coulomb and London parameters p, Pauli decay `pauli_param / V^(1/6)` per Å, see
    /// `lattice::potnet`), but summed to
    /// convergence with the exact engine instead of over a fixed index cube: the truncated
    /// cube depends on the choice of cell vectors and on how coordinates are wrapped, the
    /// converged sums do not.
    Converged {
        /// Relative tolerance of each matrix.
        tolerance: f64,
        coulomb_param: f64,
        london_param: f64,
        pauli_param: f64,
    },
}

impl LatticeSumMode {
    /// The published code's settings.
    pub fn potnet(settings: &PotnetSettings) -> Self {
        LatticeSumMode::Potnet {
            r_max: settings.r_max,
            coulomb_param: settings.coulomb_param,
            london_param: settings.london_param,
            pauli_param: settings.pauli_param,
        }
    }

    /// The published code's definitions summed to convergence (relative tolerance 1e-10, far
    /// below the f32 rounding of the network's inputs).
    pub fn converged(settings: &PotnetSettings) -> Self {
        LatticeSumMode::Converged {
            tolerance: 1e-10,
            coulomb_param: settings.coulomb_param,
            london_param: settings.london_param,
            pauli_param: settings.pauli_param,
        }
    }
}

/// One predicted quantity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub unit: String,
    /// Grows with the number of atoms (a total energy) or not (a per-atom energy, a gap).
    pub extensive: bool,
    /// Normalisation used in training: prediction = network output * std + mean.
    pub mean: f64,
    pub std: f64,
}

/// Where the weights come from. Free-form beyond the named fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub dataset: Option<String>,
    pub split: Option<String>,
    /// Test metrics, e.g. `{"mae": 0.03}`.
    pub metrics: Option<serde_json::Value>,
    pub date: Option<String>,
    /// Version of crystalpot that wrote the file.
    pub crystalpot_version: String,
    /// Anything else (the original code's commit, training settings…).
    pub notes: Option<String>,
}

/// The metadata of a PotNet model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    pub name: String,
    pub architecture: Architecture,
    pub graph: GraphSettings,
    pub lattice_sums: LatticeSumMode,
    pub targets: Vec<Target>,
    /// Element symbols seen in training; other elements are refused at prediction time.
    pub elements: Vec<String>,
    pub provenance: Provenance,
}

impl ModelMeta {
    /// Parses and checks the metadata JSON of a model file.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::Model(format!("metadata is not valid JSON: {e}")))?;
        // Check the format and version before the fields, so that a file from another version
        // says so instead of failing on a field it does not have.
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            other => {
                return Err(Error::Model(format!(
                    "metadata format is {other:?}, expected \"{FORMAT}\""
                )))
            }
        }
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(Error::Model(format!(
                    "unsupported model format version {v}: this crystalpot reads version \
                     {FORMAT_VERSION} (convert the model with a matching crystalpot)"
                )))
            }
            None => return Err(Error::Model("metadata has no format_version".into())),
        }
        let meta: ModelMeta = serde_json::from_value(value)
            .map_err(|e| Error::Model(format!("invalid metadata: {e}")))?;
        meta.validate()?;
        Ok(meta)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("metadata serialises")
    }

    /// Checks the values that the network and featurisation rely on.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Model(format!("invalid metadata: {m}")));
        let a = &self.architecture;
        if a.conv_layers == 0
            || a.fc_features == 0
            || a.inf_edge_features == 0
            || a.output_dim == 0
            || a.output_features == 0
        {
            return bad(format!("layer sizes must be positive: {a:?}"));
        }
        if a.atom_input_features != super::features::CGCNN_LENGTH {
            return bad(format!(
                "atom_input_features is {}, but the CGCNN atom features have {} values",
                a.atom_input_features,
                super::features::CGCNN_LENGTH
            ));
        }
        if !(a.rbf_min.is_finite() && a.rbf_max.is_finite() && a.rbf_min < a.rbf_max) {
            return bad(format!("rbf range [{}, {}]", a.rbf_min, a.rbf_max));
        }
        if a.potentials.iter().any(|p| !p.is_finite()) {
            return bad(format!("potentials {:?}", a.potentials));
        }
        if !(self.graph.cutoff.is_finite() && self.graph.cutoff > 0.0)
            || self.graph.max_neighbors == 0
        {
            return bad(format!("graph settings {:?}", self.graph));
        }
        if self.targets.len() != a.output_features {
            return bad(format!(
                "{} targets described but the network has {} outputs",
                self.targets.len(),
                a.output_features
            ));
        }
        for t in &self.targets {
            if !(t.mean.is_finite() && t.std.is_finite() && t.std > 0.0) {
                return bad(format!(
                    "target {:?} normalisation mean {} std {}",
                    t.name, t.mean, t.std
                ));
            }
        }
        if let Some(twice) = elements::first_duplicate(&self.elements) {
            return bad(format!("element {twice} is listed twice in elements"));
        }
        if self.elements.is_empty() {
            return bad("no training elements listed".into());
        }
        for e in &self.elements {
            if elements::atomic_number(e).is_none() {
                return bad(format!("unknown element symbol {e:?} in elements"));
            }
        }
        match &self.lattice_sums {
            LatticeSumMode::Exact {
                tolerance,
                pauli_alpha,
                ..
            } => {
                if !(*tolerance > 0.0 && *pauli_alpha > 0.0 && pauli_alpha.is_finite()) {
                    return bad(format!(
                        "exact lattice-sum settings {:?}",
                        self.lattice_sums
                    ));
                }
            }
            LatticeSumMode::Potnet { r_max, .. } => {
                if *r_max < 0 {
                    return bad(format!("r_max {r_max}"));
                }
            }
            LatticeSumMode::Converged {
                tolerance,
                coulomb_param,
                london_param,
                pauli_param,
            } => {
                let positive = |x: f64| x.is_finite() && x > 0.0;
                if !(*tolerance > 0.0
                    && *tolerance < 1.0
                    && positive(*coulomb_param)
                    && positive(*london_param)
                    && positive(*pauli_param))
                {
                    return bad(format!(
                        "converged lattice-sum settings {:?}",
                        self.lattice_sums
                    ));
                }
            }
        }
        if let GraphConstruction::WholeShell { tolerance } = self.graph.construction {
            if !(tolerance.is_finite() && tolerance >= 0.0) {
                return bad(format!("shell tolerance {tolerance} Å"));
            }
        }
        Ok(())
    }

    /// A note for users when the model's inputs are not a function of the crystal alone (the
    /// published k-nearest-neighbour cut or truncated lattice sums), None otherwise.
    pub fn invariance_note(&self) -> Option<String> {
        let mut why = Vec::new();
        if self.graph.construction == GraphConstruction::Published {
            why.push(format!(
                "the published {}-nearest-neighbour graph (a shell of equidistant neighbours \
                 is cut by rounding)",
                self.graph.max_neighbors
            ));
        }
        if let LatticeSumMode::Potnet { r_max, .. } = self.lattice_sums {
            why.push(format!(
                "the published lattice sums truncated at r_max = {r_max} (they depend on the \
                 cell vectors and on how coordinates are wrapped)"
            ));
        }
        (!why.is_empty()).then(|| {
            format!(
                "model {:?} uses {}, as the original PotNet code: its predictions can change \
                 with a translation, the atom order, the cell choice or tiny noise",
                self.name,
                why.join(" and ")
            )
        })
    }

    /// Atomic numbers of the training elements.
    pub fn element_numbers(&self) -> Vec<u8> {
        self.elements
            .iter()
            .filter_map(|e| elements::atomic_number(e))
            .collect()
    }
}
