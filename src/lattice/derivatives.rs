//! Derivatives of the pair matrices: D(i, j) = ∂S(i,j)/∂x_j and ∂S(i,j)/∂ε.
//!
//! An energy that is a nonlinear function of per-atom sums φ_i = Σ_j w_j S(i,j) has forces
//! −Σ_ij (∂E/∂φ_i) w_j ∂S(i,j)/∂x; training such a model on forces and stresses needs these
//! per-pair derivatives, which the network then contracts with its own sensitivities.
//!
//! The sums are even in v = x_j − x_i, so D(i,j) = ∇_v S at v, ∂S(i,j)/∂x_i = −D(i,j) and
//! D(j,i) = −D(i,j). The strain derivative is for x → (1 + ε) x applied to the atoms and the
//! cell together (the Ewald pieces then also change through V and G).
//!
//! The split and cut-offs are those that bound the *values* to the tolerance; the derivative
//! tails decay the same way, so the derivatives are as accurate in practice (the tests compare
//! them with finite differences of the rigorously bounded values), but no bound is claimed.

use nalgebra::DMatrix;

use super::bounds::{exponential_tail, solve_radius};
use super::exact::{choose_kernel_split, choose_split, validate, EwaldSplit, WrappedAtoms};
use super::kernels::{
    lattice_vectors_within, reciprocal_vectors_within, ReducedGeometry, ScreenedCoulombKernel,
    SplitKernel,
};
use super::{Potential, Tolerance};
use crate::cell::{Mat3, Vec3};
use crate::error::{Error, Result};
use crate::structure::Structure;

/// Position and strain derivatives of one pair matrix, indexed `[i * n + j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct PairDerivatives {
    pub n: usize,
    /// D(i,j) = ∂S(i,j)/∂x_j = −∂S(i,j)/∂x_i (zero on the diagonal).
    pub position: Vec<Vec3>,
    /// ∂S(i,j)/∂ε (symmetric 3×3).
    pub strain: Vec<Mat3>,
}

/// Derivatives of the complete sum of `potential` for every atom pair, using the split that
/// bounds the values to the absolute `tolerance`.
pub fn pair_derivatives(
    structure: &Structure,
    potential: Potential,
    tolerance: f64,
) -> Result<PairDerivatives> {
    validate(
        structure,
        std::slice::from_ref(&potential),
        Tolerance::Absolute(tolerance),
    )?;
    let geometry = ReducedGeometry::new(structure.lattice());
    let atoms = WrappedAtoms::new(structure, &geometry);
    let n = structure.len();
    let mut out = PairDerivatives {
        n,
        position: vec![Vec3::zeros(); n * n],
        strain: vec![Mat3::zeros(); n * n],
    };
    match potential {
        Potential::InversePower(p) => {
            let split = choose_split(p, &geometry, n, tolerance / 2.0)?;
            split_derivatives(split, &geometry, &atoms, &mut out)?;
        }
        Potential::Screened { kappa } => {
            let base = ScreenedCoulombKernel::new(kappa, 1.0, geometry.volume)?;
            let split = choose_kernel_split(base, &geometry, n, tolerance / 2.0)?;
            split_derivatives(split, &geometry, &atoms, &mut out)?;
        }
        Potential::Exponential { alpha, .. } => {
            let r_cut = solve_radius(
                |r| exponential_tail(alpha, &geometry, r),
                tolerance,
                (1.0 / tolerance).ln().max(1.0) / alpha,
            )
            .ok_or_else(|| {
                Error::Tolerance(format!("exp(-{alpha} r) tail cannot reach {tolerance:e}"))
            })?;
            real_space(&geometry, &atoms, r_cut, &mut out, |r| {
                -alpha * (-alpha * r).exp()
            })?;
        }
    }
    Ok(out)
}

/// Real-space, reciprocal and G = 0 parts of the derivatives of an Ewald-type split (the self
/// constant does not depend on positions or cell).
fn split_derivatives<K: SplitKernel + Copy>(
    split: EwaldSplit<K>,
    geometry: &ReducedGeometry,
    atoms: &WrappedAtoms,
    out: &mut PairDerivatives,
) -> Result<()> {
    let kernel = split.kernel;
    real_space(geometry, atoms, split.r_cut, out, |r| {
        kernel.real_term_and_derivative(r).1
    })?;
    reciprocal_space(geometry, atoms, split.g_cut, out, |g2| {
        (
            kernel.recip_coeff_with_error(g2).0,
            kernel.recip_coeff_derivative(g2),
        )
    });
    // The G = 0 constant scales as 1/V.
    let c0 = kernel.constants().0;
    out.strain
        .iter_mut()
        .for_each(|s| *s -= Mat3::identity() * c0);
    Ok(())
}

/// Σ_k f'(r)/r · u and Σ_k f'(r)/r · u uᵀ over the images u = v + Lk with |u| ≤ r_cut.
fn real_space(
    geometry: &ReducedGeometry,
    atoms: &WrappedAtoms,
    r_cut: f64,
    out: &mut PairDerivatives,
    derivative: impl Fn(f64) -> f64,
) -> Result<()> {
    let n = out.n;
    let h = geometry.diameter / 2.0;
    let images = lattice_vectors_within(geometry, r_cut + h + 1e-9 * (r_cut + h));
    for i in 0..n {
        for j in i..n {
            let v = -atoms.pair_vector(geometry, i, j);
            let reach = r_cut + v.norm() + 1e-9 * (r_cut + h);
            let (mut grad, mut strain) = (Vec3::zeros(), Mat3::zeros());
            for image in images.iter().take_while(|p| p.cart.norm() <= reach) {
                let u = v + image.cart;
                let r = u.norm();
                if r == 0.0 {
                    if i != j {
                        return Err(Error::InvalidInput(format!(
                            "atoms {i} and {j} coincide (modulo the lattice): the sums diverge"
                        )));
                    }
                    continue;
                }
                if r <= r_cut {
                    let s = derivative(r) / r;
                    grad += u * s;
                    strain += u * u.transpose() * s;
                }
            }
            out.position[i * n + j] += grad;
            out.strain[i * n + j] += strain;
            if i != j {
                out.position[j * n + i] -= grad;
                out.strain[j * n + i] += strain;
            }
        }
    }
    Ok(())
}

/// The reciprocal part Σ_G 2a(G²) cos(G·v) (one of each ±G) differentiated: ∇_v gives
/// −2a sin(G·v) G, and the strain, under which G·v is invariant while G → (1 − ε)G and
/// a ∝ 1/V, gives −2 cos(G·v) (a I + 2 a'(G²) G Gᵀ). With per-atom phases c_i = cos(G·x_i),
/// s_i = sin(G·x_i), each component is a pair of matrix products over G.
fn reciprocal_space(
    geometry: &ReducedGeometry,
    atoms: &WrappedAtoms,
    g_cut: f64,
    out: &mut PairDerivatives,
    coefficients: impl Fn(f64) -> (f64, f64),
) {
    let n = out.n;
    let vectors = reciprocal_vectors_within(geometry, g_cut);
    let m = vectors.len();
    if m == 0 {
        return;
    }
    let (mut cos, mut sin) = (DMatrix::zeros(n, m), DMatrix::zeros(n, m));
    for (i, f) in atoms.frac.iter().enumerate() {
        for (k, g) in vectors.iter().enumerate() {
            let phase =
                std::f64::consts::TAU * (0..3).map(|d| g.index[d] as f64 * f[d]).sum::<f64>();
            let (s, c) = phase.sin_cos();
            cos[(i, k)] = c;
            sin[(i, k)] = s;
        }
    }
    let coeffs: Vec<(f64, f64)> = vectors
        .iter()
        .map(|g| coefficients(g.cart.norm_squared()))
        .collect();
    // sin(G·(x_j − x_i)) = s_j c_i − c_j s_i;  cos(G·(x_j − x_i)) = c_j c_i + s_j s_i.
    let weighted = |m_left: &DMatrix<f64>, w: &dyn Fn(usize) -> f64, m_right: &DMatrix<f64>| {
        let mut scaled = m_left.clone();
        for (k, mut column) in scaled.column_iter_mut().enumerate() {
            column *= w(k);
        }
        &scaled * m_right.transpose()
    };
    for d in 0..3 {
        let w = |k: usize| -2.0 * coeffs[k].0 * vectors[k].cart[d];
        // [i][j] = Σ_G w (c_i s_j − s_i c_j)
        let grad = weighted(&cos, &w, &sin) - weighted(&sin, &w, &cos);
        for i in 0..n {
            // The diagonal is zero by symmetry (v = 0); skip its rounding noise.
            for j in (0..n).filter(|&j| j != i) {
                out.position[i * n + j][d] += grad[(i, j)];
            }
        }
    }
    for a in 0..3 {
        for b in a..3 {
            let w = |k: usize| {
                let (coeff, slope) = coeffs[k];
                let g = vectors[k].cart;
                let diagonal = if a == b { coeff } else { 0.0 };
                -2.0 * (diagonal + 2.0 * slope * g[a] * g[b])
            };
            let strain = weighted(&cos, &w, &cos) + weighted(&sin, &w, &sin);
            for i in 0..n {
                for j in 0..n {
                    out.strain[i * n + j][(a, b)] += strain[(i, j)];
                    if a != b {
                        out.strain[i * n + j][(b, a)] += strain[(i, j)];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Lattice;
    use crate::lattice::pair_matrices;

    fn skewed() -> Structure {
        let lattice = Lattice::from_parameters([4.1, 5.3, 4.7], [71.0, 98.0, 113.0]).unwrap();
        let frac = [
            [0.05, 0.1, 0.02],
            [0.52, 0.41, 0.47],
            [0.23, 0.77, 0.61],
            [0.81, 0.28, 0.9],
        ]
        .map(|f| Vec3::new(f[0], f[1], f[2]));
        Structure::from_fractional(lattice, vec![11, 17, 8, 12], &frac, [true; 3]).unwrap()
    }

    fn values(s: &Structure, potential: Potential) -> Vec<f64> {
        pair_matrices(s, &[potential], Tolerance::Absolute(1e-13))
            .unwrap()
            .remove(0)
            .values
    }

    const POTENTIALS: [Potential; 6] = [
        Potential::InversePower(1.0),
        Potential::InversePower(6.0),
        Potential::InversePower(1.7),
        Potential::Screened { kappa: 0.3 },
        Potential::Screened { kappa: 2.5 },
        Potential::Exponential {
            alpha: 1.5,
            include_self: true,
        },
    ];

    #[test]
    fn position_derivatives_match_finite_differences() {
        let s = skewed();
        let h = 1e-5;
        for potential in POTENTIALS {
            let d = pair_derivatives(&s, potential, 1e-12).unwrap();
            for (atom, axis) in [(1, 0), (2, 2), (3, 1)] {
                let shifted = |sign: f64| {
                    let mut x = s.positions().to_vec();
                    x[atom][axis] += sign * h;
                    let moved =
                        Structure::new(*s.lattice(), s.numbers().to_vec(), x, [true; 3]).unwrap();
                    values(&moved, potential)
                };
                let (plus, minus) = (shifted(1.0), shifted(-1.0));
                for i in 0..s.len() {
                    for j in 0..s.len() {
                        let fd = (plus[i * 4 + j] - minus[i * 4 + j]) / (2.0 * h);
                        let dij = d.position[i * 4 + j][axis];
                        let analytic = match (i == atom, j == atom) {
                            (true, true) | (false, false) => 0.0,
                            (false, true) => dij,
                            (true, false) => -dij,
                        };
                        // Central differences: O(h²) ≈ 1e-10 relative, plus 1e-13/h noise.
                        let scale = 1e-7 * (1.0 + analytic.abs());
                        assert!(
                            (fd - analytic).abs() < scale,
                            "{potential:?} atom {atom} axis {axis} pair ({i},{j}): {fd} vs {analytic}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn strain_derivatives_match_finite_differences() {
        let s = skewed();
        let h = 1e-6;
        for potential in POTENTIALS {
            let d = pair_derivatives(&s, potential, 1e-12).unwrap();
            for (a, b) in [(0, 0), (1, 2), (2, 2), (0, 1)] {
                let strained = |sign: f64| {
                    let mut eps = Mat3::zeros();
                    eps[(a, b)] += 0.5 * sign * h;
                    eps[(b, a)] += 0.5 * sign * h;
                    let f = Mat3::identity() + eps;
                    let lattice =
                        Lattice::from_matrix(s.lattice().matrix() * f.transpose()).unwrap();
                    let x = s.positions().iter().map(|p| f * p).collect();
                    values(
                        &Structure::new(lattice, s.numbers().to_vec(), x, [true; 3]).unwrap(),
                        potential,
                    )
                };
                let (plus, minus) = (strained(1.0), strained(-1.0));
                for p in 0..16 {
                    let fd = (plus[p] - minus[p]) / (2.0 * h);
                    let analytic = d.strain[p][(a, b)];
                    assert!(
                        (fd - analytic).abs() < 1e-6 * (1.0 + analytic.abs()),
                        "{potential:?} strain ({a},{b}) pair {p}: {fd} vs {analytic}"
                    );
                }
            }
        }
    }

    #[test]
    fn derivatives_are_odd_and_symmetric() {
        let d = pair_derivatives(&skewed(), POTENTIALS[0], 1e-10).unwrap();
        for i in 0..4 {
            assert_eq!(d.position[i * 4 + i], Vec3::zeros());
            for j in 0..4 {
                assert!((d.position[i * 4 + j] + d.position[j * 4 + i]).norm() < 1e-12);
                assert!((d.strain[i * 4 + j] - d.strain[j * 4 + i]).norm() < 1e-9);
                let s = d.strain[i * 4 + j];
                assert!((s - s.transpose()).norm() < 1e-12);
            }
        }
    }
}
