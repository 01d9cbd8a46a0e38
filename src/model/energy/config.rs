//! Hyper-parameters and constants of an energy model, stored as JSON in its model file.

use serde::{Deserialize, Serialize};

use crate::elements;
use crate::error::{Error, Result};

/// Everything needed to rebuild the network and its inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyConfig {
    /// Element symbols, in the order of the embedding rows.
    pub elements: Vec<String>,
    /// Local cutoff r_c (Å): every neighbour within it, no cap.
    pub cutoff: f64,
    /// Number of Bessel radial functions sin(kπr/r_c)/r.
    pub radial_basis: usize,
    /// Width of the atom features.
    pub width: usize,
    /// Number of interaction layers.
    pub layers: usize,
    /// Exponents p of the long-range complete sums Σ 1/r^p (1 and 6 also feed the Coulomb
    /// and dispersion baseline).
    pub powers: Vec<f64>,
    /// Learned channels per exponent.
    pub channels: usize,
    /// Typical |Φ| per exponent, dividing Φ before the network sees it (from the training set).
    pub phi_scales: Vec<f64>,
    /// Scale of the learned per-atom energy (eV), from the training set.
    pub energy_scale: f64,
    /// e²/4πε₀ (eV·Å/e²) of the Coulomb baseline.
    pub coulomb_constant: f64,
    /// Absolute accuracy of the lattice sums per unit weight at inference (Å^-p).
    pub tolerance: f64,
}

impl EnergyConfig {
    /// Default architecture for `elements` (symbols).
    pub fn new(elements: Vec<String>) -> Self {
        EnergyConfig {
            elements,
            cutoff: 5.0,
            radial_basis: 8,
            width: 32,
            layers: 2,
            powers: vec![1.0, 6.0],
            channels: 4,
            phi_scales: vec![1.0, 1.0],
            energy_scale: 1.0,
            coulomb_constant: crate::model::physics::COULOMB_CONSTANT,
            tolerance: 1e-9,
        }
    }

    /// Atomic numbers of the model's elements.
    pub fn atomic_numbers(&self) -> Result<Vec<u8>> {
        self.elements
            .iter()
            .map(|s| {
                elements::atomic_number(s).ok_or_else(|| {
                    Error::Model(format!("unknown element symbol {s:?} in the model"))
                })
            })
            .collect()
    }

    /// Checks the sizes and numbers for consistency.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| {
            Err(Error::Model(format!(
                "invalid energy model configuration: {m}"
            )))
        };
        self.atomic_numbers()?;
        if self.elements.is_empty() {
            return bad("no elements".into());
        }
        if let Some(twice) = crate::elements::first_duplicate(&self.elements) {
            return bad(format!("element {twice} is listed twice in elements"));
        }
        if !(self.cutoff.is_finite() && self.cutoff > 0.0) {
            return bad(format!(
                "cutoff must be > 0, got {}",
                crate::error::short(self.cutoff)
            ));
        }
        if self.radial_basis == 0 || self.width == 0 || self.channels == 0 {
            return bad("radial_basis, width and channels must be positive".into());
        }
        if self.powers.len() != self.phi_scales.len() {
            return bad("one phi scale per power".into());
        }
        if self
            .powers
            .iter()
            .any(|&p| !(p > 0.0 && p.is_finite() && p != 3.0))
        {
            return bad(format!(
                "powers must be finite, > 0 and ≠ 3: {:?}",
                self.powers
            ));
        }
        if self
            .phi_scales
            .iter()
            .chain([&self.energy_scale])
            .any(|&s| !(s > 0.0 && s.is_finite()))
        {
            return bad("scales must be finite and > 0".into());
        }
        if !(self.tolerance > 0.0 && self.tolerance < 1.0) {
            return bad(format!(
                "tolerance must be in (0, 1), got {}",
                crate::error::short(self.tolerance)
            ));
        }
        Ok(())
    }
}
