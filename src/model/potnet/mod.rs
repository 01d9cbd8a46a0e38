//! PotNet (Lin et al., ICML 2023, "Efficient Approximations of Complete Interatomic Potentials
//! for Crystal Property Prediction") as a crystalpot model: a property predictor built from
//! CGCNN atom features, the local neighbour graph and complete lattice sums.
//!
//! * [`config`]: the model file's metadata (architecture, graph, lattice-sum mode, targets,
//!   training elements, provenance).
//! * [`features`]: structure → network inputs; many crystals → one batched graph.
//! * [`network`]: the network on candle, parameters named as the PyTorch `state_dict`.
//! * [`file`]: the safetensors model file.
//!
//! A PotNet model predicts properties only: it has no energy, forces or stress.

pub mod config;
pub mod features;
pub mod file;
mod gemm;
pub mod import;
pub mod network;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;

use crate::elements;
use crate::error::{Error, Result};
use crate::structure::Structure;
use config::ModelMeta;
use features::{Batch, CrystalInput};
use network::PotNet;

/// Upper bound on the edges of one batched forward pass: bounds the memory of the [E, 2F]
/// activations (~10 kB per edge at F = 256) while keeping batches large enough to amortise.
const MAX_BATCH_EDGES: usize = 4_096;

/// A loaded PotNet model: metadata, weights and the network built from them.
#[derive(Clone, Debug)]
pub struct PotnetModel {
    meta: ModelMeta,
    tensors: HashMap<String, Tensor>,
    network: PotNet,
    /// Allowed atomic numbers (the training elements).
    allowed: [bool; 256],
}

impl PotnetModel {
    /// A model from metadata and `state_dict` tensors (checked against the architecture).
    pub fn new(meta: ModelMeta, tensors: HashMap<String, Tensor>) -> Result<Self> {
        meta.validate()?;
        let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &Device::Cpu);
        let network = PotNet::load(vb, &meta.architecture)
            .map_err(|e| Error::Model(format!("cannot build the PotNet network: {e}")))?;
        let mut allowed = [false; 256];
        for z in meta.element_numbers() {
            allowed[usize::from(z)] = true;
        }
        Ok(PotnetModel {
            meta,
            tensors,
            network,
            allowed,
        })
    }

    /// Reads a model file's bytes (see [`file`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let meta = file::read_meta(bytes)?;
        let tensors = file::read_state_dict(bytes, &meta.architecture)?;
        Self::new(meta, tensors)
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            Error::Model(m) => Error::Model(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// The model file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        file::write(&self.meta, &self.tensors)
    }

    /// Writes the model file.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes()?).map_err(|e| Error::io(path, e))
    }

    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    pub fn network(&self) -> &PotNet {
        &self.network
    }

    /// The weights by `state_dict` name.
    pub fn tensors(&self) -> &HashMap<String, Tensor> {
        &self.tensors
    }

    /// Refuses structures with elements the model was not trained on.
    pub fn check_elements(&self, structure: &Structure) -> Result<()> {
        match structure
            .numbers()
            .iter()
            .find(|&&z| !self.allowed[usize::from(z)])
        {
            None => Ok(()),
            Some(&z) => Err(Error::InvalidInput(format!(
                "{} contains {} (Z = {z}), which model {:?} was not trained on (its elements: {})",
                structure.formula(),
                elements::symbol(z).unwrap_or("?"),
                self.meta.name,
                self.meta.elements.join(" ")
            ))),
        }
    }

    /// Network inputs of many structures, built in parallel.
    pub fn inputs(&self, structures: &[Structure]) -> Result<Vec<CrystalInput>> {
        for s in structures {
            self.check_elements(s)?;
        }
        CrystalInput::from_structures(structures, &self.meta)
    }

    /// Predicted targets (in [`config::Target`] units) of every structure, in order.
    pub fn predict(&self, structures: &[Structure]) -> Result<Vec<Vec<f64>>> {
        // One hop into the thread pool for the whole prediction: from outside it, every
        // parallel step would wake a worker and wait for it (~10 µs each, 5% of a small one).
        rayon::scope(|_| self.predict_inputs(&self.inputs(structures)?))
    }

    /// Predicted targets from prepared inputs: batches of at most [`MAX_BATCH_EDGES`] edges,
    /// run in parallel. The batches depend only on the inputs, so results are the same bits
    /// for any thread count of the outer loop.
    pub fn predict_inputs(&self, inputs: &[CrystalInput]) -> Result<Vec<Vec<f64>>> {
        let mut chunks = Vec::new();
        let (mut start, mut edges) = (0, 0);
        for (k, input) in inputs.iter().enumerate() {
            if k > start && edges + input.num_edges() > MAX_BATCH_EDGES {
                chunks.push(start..k);
                (start, edges) = (k, 0);
            }
            edges += input.num_edges();
        }
        if start < inputs.len() {
            chunks.push(start..inputs.len());
        }
        let outputs: Vec<Vec<Vec<f64>>> = chunks
            .into_par_iter()
            .map(|range| self.forward_raw(&inputs[range]))
            .collect::<Result<_>>()?;
        Ok(outputs.into_iter().flatten().collect())
    }

    /// One batched forward pass, de-normalised.
    fn forward_raw(&self, inputs: &[CrystalInput]) -> Result<Vec<Vec<f64>>> {
        let (local, inf) = self.network.rbfs();
        let batch = Batch::new(inputs, local, inf)?;
        let out = self
            .network
            .forward(&batch)
            .and_then(|t| t.to_vec2::<f32>())
            .map_err(|e| Error::Model(format!("PotNet forward pass failed: {e}")))?;
        Ok(out
            .into_iter()
            .map(|row| {
                row.iter()
                    .zip(&self.meta.targets)
                    .map(|(&y, t)| f64::from(y) * t.std + t.mean)
                    .collect()
            })
            .collect())
    }
}
