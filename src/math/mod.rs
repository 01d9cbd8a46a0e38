//! Special functions accurate to ~1e-15 relative, written from the mathematics.

pub mod bessel;
pub mod gamma;
