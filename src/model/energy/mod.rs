//! The PotNet energy model for simulation: smooth, extensive, cell-invariant (see
//! [`network`] for the functional form and [`inputs`] for what it sees).
//!
//! Inference runs in f64: the energy by the network, forces and virial as exact derivatives —
//! a hand-written reverse pass ([`evaluate`]) for the local part and for ∂E/∂Φ, then the
//! analytic lattice-sum gradients of
//! Σ_iB (∂E/∂Φ_iB) Φ_iB through structure factors, so memory stays linear in the atoms.

pub mod config;
mod evaluate;
pub mod file;
pub mod inputs;
pub mod network;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

pub use config::EnergyConfig;
pub use file::EnergyMeta;

use crate::cell::{Mat3, Vec3};
use crate::error::{Error, Result};
use crate::lattice::per_atom::{channel_sums, Channels};
use crate::model::{Request, Results};
use crate::structure::Structure;
use evaluate::Evaluator;
use network::EnergyNetwork;

/// A loaded energy model, evaluated in f64.
pub struct EnergyModel {
    pub meta: EnergyMeta,
    elements: Vec<u8>,
    evaluator: Evaluator,
}

impl std::fmt::Debug for EnergyModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnergyModel")
            .field("meta", &self.meta)
            .finish()
    }
}

pub(crate) fn candle_error(e: candle_core::Error) -> Error {
    Error::Model(format!("energy network: {e}"))
}

impl EnergyModel {
    /// A model from its metadata and weights (any float dtype; evaluated in f64).
    pub fn new(meta: EnergyMeta, tensors: HashMap<String, Tensor>) -> Result<Self> {
        meta.config.validate()?;
        let vb = VarBuilder::from_tensors(tensors, DType::F64, &Device::Cpu);
        let network = EnergyNetwork::new(vb, &meta.config)
            .map_err(|e| Error::Model(format!("the weights do not fit the configuration: {e}")))?;
        Ok(EnergyModel {
            elements: meta.config.atomic_numbers()?,
            evaluator: Evaluator::new(&network).map_err(candle_error)?,
            meta,
        })
    }

    /// Reads a model file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (meta, tensors) = file::read(bytes)?;
        Self::new(meta, tensors)
    }

    pub fn config(&self) -> &EnergyConfig {
        &self.meta.config
    }

    pub fn elements(&self) -> &[u8] {
        &self.elements
    }

    /// Energy and, as requested, per-atom energies, forces and virial.
    pub fn compute(&self, structure: &Structure, request: &Request) -> Result<Results> {
        let c = self.config();
        let inputs = inputs::inputs(structure, &self.elements, c.cutoff, &c.powers, c.tolerance)?;
        let n = structure.len();
        let mask = match &request.energy_atoms {
            Some(m) if m.len() != n => {
                return Err(Error::InvalidInput(format!(
                    "energy-atom mask has {} entries for {n} atoms",
                    m.len()
                )))
            }
            Some(m) => m.iter().map(|&b| f64::from(u8::from(b))).collect(),
            None => vec![1.0; n],
        };
        let n_el = self.elements.len();
        let derivatives = request.forces || request.virial;
        let evaluation = self.evaluator.evaluate(&inputs, &mask, derivatives);
        let per_atom: Vec<f64> = evaluation
            .per_atom
            .iter()
            .zip(&mask)
            .map(|(e, m)| e * m)
            .collect();
        let energy = per_atom.iter().sum();
        let mut forces = evaluation.forces.unwrap_or_default();
        let mut virial = evaluation.virial.unwrap_or_else(Mat3::zeros);
        let mut error_bound = 0.0;
        for (k, a) in evaluation.sensitivities.iter().enumerate() {
            let lr = long_range_derivatives(
                structure,
                &inputs.species,
                n_el,
                c.powers[k],
                a,
                c.tolerance,
                derivatives,
            )?;
            error_bound += lr.energy_error_bound;
            if let (Some(f), Some(w)) = (lr.forces, lr.virial) {
                forces.iter_mut().zip(f).for_each(|(x, y)| *x += y);
                virial += w;
            }
        }
        Ok(Results {
            energy,
            energy_error_bound: error_bound,
            per_atom_energies: request.per_atom_energies.then_some(per_atom),
            forces: request.forces.then_some(forces),
            virial: request.virial.then_some(virial),
            ..Results::default()
        })
    }
}

/// Derivatives of Σ_iB a_iB Φ_iB (a = ∂E/∂Φ held fixed) through structure factors, with the
/// bound Σ |a_iB| · ε on the error that Φ's truncation puts into the energy.
struct LongRange {
    energy_error_bound: f64,
    forces: Option<Vec<Vec3>>,
    virial: Option<Mat3>,
}

/// As pair channels (a_·B, 1_B) coupled off-diagonally: ½ Σ_i Σ_cd M_cd w_ci φ_di then equals
/// Σ_iB a_iB Φ_iB because S is symmetric.
fn long_range_derivatives(
    structure: &Structure,
    species: &[u32],
    n_elements: usize,
    power: f64,
    a: &[f64],
    tolerance: f64,
    derivatives: bool,
) -> Result<LongRange> {
    let n = structure.len();
    let largest = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let energy_error_bound = a.iter().map(|x| x.abs()).sum::<f64>() * tolerance;
    if !derivatives || largest == 0.0 {
        return Ok(LongRange {
            energy_error_bound,
            forces: derivatives.then(|| vec![Vec3::zeros(); n]),
            virial: derivatives.then(Mat3::zeros),
        });
    }
    let present: Vec<usize> = (0..n_elements)
        .filter(|&b| species.iter().any(|&s| s as usize == b))
        .collect();
    let m = present.len();
    let mut weights: Vec<Vec<f64>> = present
        .iter()
        .map(|&b| (0..n).map(|i| a[i * n_elements + b]).collect())
        .collect();
    weights.extend(present.iter().map(|&b| {
        species
            .iter()
            .map(|&s| f64::from(s as usize == b))
            .collect()
    }));
    let mut coupling = vec![0.0; 4 * m * m];
    for k in 0..m {
        coupling[k * 2 * m + m + k] = 1.0;
        coupling[(m + k) * 2 * m + k] = 1.0;
    }
    let sums = channel_sums(
        structure,
        power,
        &Channels { weights, coupling },
        tolerance / largest.max(1.0),
        true,
    )?;
    Ok(LongRange {
        energy_error_bound,
        forces: sums.forces,
        virial: sums.virial,
    })
}

// The tests train small networks, so they need the training code.
#[cfg(all(test, feature = "cli"))]
mod tests;
// Training only: inference differentiates by its own forward pass.
#[cfg(feature = "cli")]
mod variables;
#[cfg(feature = "cli")]
pub(crate) use variables::with_variables;
