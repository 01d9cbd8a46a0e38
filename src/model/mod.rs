//! Models that turn a structure into energies, forces, stresses and properties.

pub mod delta;
pub mod energy;
pub mod file;
pub mod linear;
pub mod local;
pub mod pair_kernel;
pub mod physics;
pub mod physics_local;
pub mod potnet;

use crate::cell::Mat3;
use crate::cell::Vec3;
pub use crate::lattice::per_atom::Partition;

/// Default of [`Request::min_distance`] (Å): closer atoms are almost always broken input.
pub const DEFAULT_MIN_DISTANCE: f64 = 0.5;

/// What a caller wants computed; the energy is always computed when the model has one.
#[derive(Clone, Debug, PartialEq)]
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
    /// Structures with two atoms (or an atom and an image) closer than this (Å) are refused,
    /// naming the pair ([`crate::neighbors::check_min_distance`]); 0 disables the check.
    /// Default [`DEFAULT_MIN_DISTANCE`].
    pub min_distance: f64,
    /// The energy's standard deviation from the model's committee, for models that have one.
    pub uncertainty: bool,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            per_atom_energies: false,
            forces: false,
            virial: false,
            properties: false,
            energy_atoms: None,
            partition: Partition::default(),
            min_distance: DEFAULT_MIN_DISTANCE,
            uncertainty: false,
        }
    }
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
    /// Standard deviation of the energy over the model's committee (eV), when requested and
    /// the model has one: an estimate of the model's own error.
    pub energy_std: Option<f64>,
    pub per_atom_energies: Option<Vec<f64>>,
    pub forces: Option<Vec<Vec3>>,
    pub virial: Option<Mat3>,
    /// Predicted properties, one per target, if requested.
    pub properties: Option<Vec<f64>>,
    /// What the caller should know about these numbers although they are valid: a lattice
    /// sum that reached a looser accuracy than asked (the bound says how loose), a charged
    /// cell computed with a neutralising background.
    pub warnings: Vec<String>,
}

impl Results {
    /// Stress σ = -W / V in eV/Å^3 (ASE sign convention), if the virial was computed.
    pub fn stress(&self, volume: f64) -> Option<Mat3> {
        self.virial.map(|w| -w / volume)
    }

    /// Fails unless every computed number is finite, naming the first that is not.
    pub fn check_finite(&self) -> crate::Result<()> {
        use crate::error::check_finite;
        check_finite("the energy", [self.energy])?;
        check_finite("the energy error bound", [self.energy_error_bound])?;
        check_finite(
            "a per-atom energy",
            self.per_atom_energies.iter().flatten().copied(),
        )?;
        check_finite(
            "a force component",
            self.forces.iter().flatten().flat_map(|f| f.iter().copied()),
        )?;
        check_finite(
            "a virial component",
            self.virial.iter().flat_map(|w| w.iter().copied()),
        )?;
        check_finite(
            "a predicted property",
            self.properties.iter().flatten().copied(),
        )
    }
}
