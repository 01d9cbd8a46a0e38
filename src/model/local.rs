//! The contract between a model's short-range part and an engine that owns the neighbour
//! search (LAMMPS with its ghosts, or crystalpot's own periodic list): a centre atom's
//! energy depends only on the vectors to the neighbours within the model's cutoff. Engines
//! that decompose space evaluate owned centres with ghost neighbours and send the pair
//! forces back to the ghosts' owners.

use crate::cell::Vec3;
use crate::error::Result;

/// One centre atom's neighbourhood: its atomic number and, for every neighbour closer than
/// the model's cutoff, the neighbour's atomic number and the vector from the centre to it.
#[derive(Clone, Copy, Debug)]
pub struct Environment<'a> {
    pub centre: u8,
    pub neighbours: &'a [u8],
    pub vectors: &'a [Vec3],
}

/// A model whose local energy is a sum of per-centre energies E_i(environment of i).
///
/// The force on neighbour j from centre i is -∂E_i/∂r_ij and the centre gets +∂E_i/∂r_ij
/// summed over j; the centre's virial contribution is -Σ_j r_ij ⊗ ∂E_i/∂r_ij.
pub trait LocalModel: Send + Sync {
    /// Range of the local interactions (Å): neighbours beyond it contribute nothing.
    fn cutoff(&self) -> f64;

    /// Atomic numbers the model accepts.
    fn elements(&self) -> &[u8];

    /// E_i and, when `gradient` is given (same length as `env.vectors`), ∂E_i/∂r_ij written
    /// into it. Neighbours beyond the cutoff may be passed and are ignored.
    fn local_energy(&self, env: &Environment, gradient: Option<&mut [Vec3]>) -> Result<f64>;
}

/// The long-range part in the rank-1 form that LAMMPS's kspace styles evaluate: per-element
/// charges q (e) on the complete 1/r sum and geometric-mixing dispersion coefficients c
/// (E = -Σ_{i<j} c_i c_j / r⁶ over all images) on the complete 1/r⁶ sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RankOneLongRange {
    /// (atomic number, charge in e) per element; empty when the model has no Coulomb part.
    pub charges: Vec<(u8, f64)>,
    /// (atomic number, c in √(eV·Å⁶)) per element; empty when the model has no dispersion.
    pub dispersion: Vec<(u8, f64)>,
    /// Coulomb constant in eV·Å/e².
    pub coulomb_constant: f64,
}
