//! Smooth particle-mesh Ewald (Essmann, Perera, Berkowitz, Darden, Lee & Pedersen, J. Chem.
//! Phys. 103, 8577 (1995)) for the per-atom sums of [`super::per_atom`]: the same Ewald/Crandall
//! split as the exact engine (any p, so 1/r and 1/r⁶ alike, every weight channel and coupling
//! matrix), with the reciprocal sum replaced by B-spline interpolation on a mesh and FFTs, so
//! time grows as N log N instead of N^1.5.
//!
//! - [`bspline`]: the B-spline weights, their derivatives and the Euler factors |b(m)|²;
//! - [`fft`]: the 3-D real-to-complex transforms (realfft + rustfft, rayon);
//! - [`mesh`]: spreading, influence function, interpolation, forces and virial;
//! - [`error`]: the error estimates and the choice of cut-off, η, order and mesh.
//!
//! The real-space part, the G = 0 and self constants are the exact engine's, evaluated by
//! [`super::per_atom`]. PME errors are estimates (RMS, random-position), not bounds.

mod bspline;
pub mod error;
mod fft;
mod mesh;

pub(crate) use mesh::reciprocal;
