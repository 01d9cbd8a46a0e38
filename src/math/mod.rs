//! Special functions accurate to ~1e-15 relative, written from the mathematics.

pub mod bessel;
mod erfcx_table;
pub mod gamma;

pub use gamma::{erfc, erfc_and_gaussian, erfcx, gamma, ln_gamma, upper_gamma, upper_gamma_scaled};
