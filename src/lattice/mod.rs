//! Complete lattice sums of 1/r^p, screened Coulomb exp(-kappa r)/r and exp(-alpha r) over
//! every periodic image.
//!
//! [`pair_matrices`] computes, for every ordered atom pair (i, j) of a structure, the sum over
//! all lattice vectors of a radial potential at v = x_i − x_j + Lk, to a requested tolerance
//! and with a rigorous bound on the error (tails and floating-point rounding, see [`bounds`]).
//! 1/r^p uses the Ewald/Crandall split, e^{−κr}/r the Yukawa–Ewald split (both in
//! [`kernels`], behind one [`SplitKernel`](kernels::SplitKernel) interface, so the engine,
//! cost model and error bound are shared); exp(−αr) is summed directly. All work on the
//! LLL-reduced cell with spherical cut-offs, so skewed and elongated cells cost what compact
//! ones do. The Yukawa split needs no background (its G = 0 term 4π e^{−κ²/4η²}/(Vκ²) is
//! finite) and, for large κ, the cost model drives η down to κ/50, where the split is direct
//! summation; for small κ it costs what Coulomb does.
//!
//! The per-atom sums ([`per_atom`]) can also run as smooth particle-mesh Ewald ([`pme`]),
//! O(N log N) with estimated (not rigorous) errors; a cost model picks PME for large cells.

pub mod bounds;
pub mod derivatives;
mod exact;
pub mod kernels;
pub mod per_atom;
pub mod pme;
pub mod potnet;

pub use exact::{choose_kernel_split, choose_split, pair_matrices, EwaldSplit};

/// Requested accuracy of a lattice sum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// Bound on max_ij |value − exact| in the potential's own units (1/Å^p; dimensionless for
    /// exponentials).
    Absolute(f64),
    /// Bound relative to the largest |exact entry| of the matrix: error ≤ rel · max_ij |S_ij|.
    Relative(f64),
}

/// A radial pair potential summed over all periodic images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Potential {
    /// S_p(i,j) = Σ'_k |v + Lk|^-p, p > 0, p ≠ 3 (the prime drops k = 0 when i == j). For p < 3
    /// the analytic continuation (Ewald with neutralising background, zero cell average); p = 1
    /// is the Coulomb sum, p = 6 London dispersion.
    InversePower(f64),
    /// Screened Coulomb (Yukawa) S(i,j) = Σ'_k exp(−κ |v + Lk|) / |v + Lk|, κ > 0 (1/Å), the
    /// prime as for `InversePower`. Absolutely convergent: no background; as κ → 0,
    /// S − 4π/(Vκ²) → S_1 + κ δ_ij.
    Screened { kappa: f64 },
    /// S(i,j) = Σ_k exp(−α |v + Lk|). `include_self`: whether the i == j, k = 0 term (= 1) is in.
    Exponential { alpha: f64, include_self: bool },
}

/// For messages: "the 1/r^6 sums", "a relative tolerance 1e-10" — never Rust Debug text.
impl std::fmt::Display for Potential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::error::short;
        match self {
            Potential::InversePower(p) => write!(f, "the 1/r^{} sums", short(*p)),
            Potential::Screened { kappa } => {
                write!(f, "the screened Coulomb sums (kappa {} 1/Å)", short(*kappa))
            }
            Potential::Exponential { alpha, .. } => {
                write!(f, "the exp(-{} r) sums", short(*alpha))
            }
        }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tolerance::Absolute(t) => write!(f, "an absolute tolerance {t:e}"),
            Tolerance::Relative(t) => write!(f, "a relative tolerance {t:e}"),
        }
    }
}

/// An N×N matrix of lattice sums with a rigorous bound on its error.
#[derive(Clone, Debug, PartialEq)]
pub struct PairMatrix {
    /// Number of atoms N.
    pub n: usize,
    /// S(i, j) at index i·N + j (symmetric).
    pub values: Vec<f64>,
    /// Rigorous bound on max_ij |values − exact|.
    pub error_bound: f64,
}

impl PairMatrix {
    /// S(i, j).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.n + j]
    }
}
