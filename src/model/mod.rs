//! Models that turn a structure into energies, forces, stresses and properties.

pub mod energy;
pub mod file;
pub mod local;
pub mod physics;
pub mod physics_local;
pub mod potnet;

use crate::cell::Mat3;
use crate::cell::Vec3;
pub use crate::lattice::per_atom::Partition;

/// What a caller wants computed; the energy is always computed when the model has one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub per_atom_energies: bool,
    pub forces: bool,
    pub virial: bool,
    /// The model's predicted properties (its targets), in [`crate::calculator::ModelInfo`] order.
    pub properties: bool,
    /// `None`: all atoms. `Some(mask)`: the energy (and per-atom energies) of the atoms whose
    /// mask is true only, with forces and virial the derivatives of that partial energy with
    /// respect to every atom — what an MPI rank that owns some of the atoms needs.
    pub energy_atoms: Option<Vec<bool>>,
    /// The share of the work to compute (default: all of it). The energies, per-atom energies,
    /// forces and virials of all shares of one structure add up to the whole result, so that
    /// MPI ranks holding the same structure split the work and sum; properties do not split.
    /// Models without a split compute everything in share 0 and zeros in the others.
    pub partition: Partition,
}

impl Request {
    /// Energy, per-atom energies, forces and virial.
    pub fn all() -> Self {
        Request {
            per_atom_energies: true,
            forces: true,
            virial: true,
            ..Request::default()
        }
    }
}

/// Results in crystalpot's units: eV, eV/Å, and the virial in eV.
///
/// The virial is W = -∂E/∂ε (ε the symmetric strain applied as x → (1 + ε) x), so that the
/// stress in ASE's convention (positive under tension) is σ = -W / V.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Results {
    pub energy: f64,
    /// Rigorous bound on the error of `energy` from truncating the lattice sums (eV).
    pub energy_error_bound: f64,
    pub per_atom_energies: Option<Vec<f64>>,
    pub forces: Option<Vec<Vec3>>,
    pub virial: Option<Mat3>,
    /// Predicted properties, one per target, if requested.
    pub properties: Option<Vec<f64>>,
}

impl Results {
    /// Stress σ = -W / V in eV/Å^3 (ASE sign convention), if the virial was computed.
    pub fn stress(&self, volume: f64) -> Option<Mat3> {
        self.virial.map(|w| -w / volume)
    }
}
