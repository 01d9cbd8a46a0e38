//! crystalpot: complete interatomic potentials (Coulomb, London dispersion, Pauli repulsion
//! summed over every periodic image, to a requested tolerance with a rigorous error bound)
//! and the PotNet network, for simulation codes.
//!
//! Dependencies point one way: front ends (CLI, C ABI) → [`calculator`] → models → `lattice`, `neighbors`
//! → `cell`, `structure`, `math`. Nothing outside [`c_api`] knows about FFI, LAMMPS or Python.

pub mod c_api;
pub mod calculator;
pub mod cell;
pub mod elements;
pub mod error;
pub mod io;
pub mod lattice;
pub mod math;
pub mod model;
pub mod neighbors;
pub mod structure;
/// Training and fitting (PotNet, energy networks, linear fits) with their data readers and
/// plots: only with the `cli` feature, so that the inference library carries none of it.
#[cfg(feature = "cli")]
pub mod train;

pub use calculator::Calculator;
pub use cell::{Lattice, Mat3, Vec3};
pub use error::{Error, Result};
pub use structure::Structure;
