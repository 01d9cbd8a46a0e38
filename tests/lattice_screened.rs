//! Screened Coulomb (Yukawa) lattice sums S(i,j) = Σ'_k e^{−κ|v+Lk|}/|v+Lk| of the exact
//! engine against independent references: direct summation with a rigorous tail, and the
//! κ → 0 limit against the Coulomb sum.

use std::f64::consts::PI;

use crystalpot::lattice::bounds::exponential_tail;
use crystalpot::lattice::kernels::{lattice_vectors_within, ReducedGeometry};
use crystalpot::lattice::{pair_matrices, PairMatrix, Potential, Tolerance};
use crystalpot::{Error, Lattice, Structure, Vec3};

fn structure(lattice: Lattice, frac: &[[f64; 3]]) -> Structure {
    let frac: Vec<Vec3> = frac.iter().map(|f| Vec3::new(f[0], f[1], f[2])).collect();
    Structure::from_fractional(lattice, vec![1; frac.len()], &frac, [true; 3]).unwrap()
}

/// A skewed cell, an elongated (1:8) one and a small dense one.
fn cells() -> Vec<Structure> {
    vec![
        structure(
            Lattice::from_parameters([4.1, 5.3, 4.7], [71.0, 98.0, 113.0]).unwrap(),
            &[[0.05, 0.1, 0.02], [0.52, 0.41, 0.47], [0.23, 0.77, 0.61]],
        ),
        structure(
            Lattice::from_parameters([2.9, 3.3, 24.0], [90.0, 80.0, 120.0]).unwrap(),
            &[[0.0, 0.0, 0.0], [0.5, 0.3, 0.4], [0.1, 0.7, 0.83]],
        ),
        structure(
            Lattice::from_parameters([2.2, 2.5, 2.4], [60.0, 75.0, 85.0]).unwrap(),
            &[[0.0, 0.0, 0.0], [0.45, 0.5, 0.55]],
        ),
    ]
}

/// Direct sum over every image within `radius` and a rigorous bound on its error: the tail
/// Σ_{r > R} e^{−κr}/r ≤ (1/R) Σ_{r > R} e^{−κr} (the exponential tail bound of the library,
/// tested on its own) plus the summation rounding (terms · u · sum).
fn brute_force(s: &Structure, kappa: f64, radius: f64) -> (Vec<f64>, f64) {
    let geometry = ReducedGeometry::new(s.lattice());
    let n = s.len();
    let x = s.positions();
    let mut values = vec![0.0; n * n];
    let mut worst_rounding: f64 = 0.0;
    for i in 0..n {
        for j in 0..n {
            let v = x[j] - x[i];
            let images = lattice_vectors_within(&geometry, radius + v.norm());
            let (mut sum, mut terms) = (0.0, 0usize);
            for image in &images {
                let r = (v + image.cart).norm();
                if r > 0.0 && r <= radius {
                    sum += (-kappa * r).exp() / r;
                    terms += 1;
                }
            }
            values[i * n + j] = sum;
            worst_rounding = worst_rounding.max((terms as f64 + 8.0) * f64::EPSILON * sum);
        }
    }
    let tail = exponential_tail(kappa, &geometry, radius) / radius;
    (values, tail + worst_rounding)
}

fn screened(s: &Structure, kappa: f64, tol: Tolerance) -> PairMatrix {
    pair_matrices(s, &[Potential::Screened { kappa }], tol)
        .unwrap()
        .remove(0)
}

#[test]
fn matches_direct_summation_with_a_rigorous_tail() {
    for s in cells() {
        for kappa in [0.35, 1.0, 3.0, 12.0] {
            // Radius where the direct tail is below 1e-13 (e^{−κR} R-ish decay).
            let mut radius = 5.0;
            let geometry = ReducedGeometry::new(s.lattice());
            while exponential_tail(kappa, &geometry, radius) / radius > 1e-13 {
                radius *= 1.1;
            }
            let (reference, reference_error) = brute_force(&s, kappa, radius);
            for tol in [Tolerance::Absolute(1e-10), Tolerance::Relative(1e-6)] {
                let m = screened(&s, kappa, tol);
                let largest = m.values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                let wanted = match tol {
                    Tolerance::Absolute(t) => t,
                    Tolerance::Relative(r) => r * largest,
                };
                assert!(m.error_bound <= wanted * (1.0 + 1e-12), "{kappa}: bound");
                for (a, b) in m.values.iter().zip(&reference) {
                    assert!(
                        (a - b).abs() <= m.error_bound + reference_error,
                        "kappa {kappa} {tol:?}: {a} vs {b}, bound {:e} + {reference_error:e}; \
                         lattice {:?}",
                        m.error_bound,
                        s.lattice().matrix()
                    );
                }
            }
        }
    }
}

/// S_Y(v) − 4π/(Vκ²) = Σ_{G≠0} (4π/V) cos(G·v)/(G² + κ²) (and + κ on the diagonal, the
/// limit of 1/r − e^{−κr}/r at r = 0), while S_C(v) = Σ_{G≠0} (4π/V) cos(G·v)/G². The
/// difference is bounded by κ² (4π/V) Σ'_G |G|⁻⁴, itself a 1/r^4 lattice sum over the
/// reciprocal lattice.
#[test]
fn small_kappa_limit_is_the_coulomb_sum() {
    for s in cells() {
        let volume = s.volume();
        let reciprocal = structure(
            Lattice::from_matrix(s.lattice().reciprocal()).unwrap(),
            &[[0.0; 3]],
        );
        let zeta4 = &pair_matrices(
            &reciprocal,
            &[Potential::InversePower(4.0)],
            Tolerance::Relative(1e-10),
        )
        .unwrap()[0];
        let remainder_per_kappa2 = 4.0 * PI / volume * (zeta4.get(0, 0) + zeta4.error_bound);
        let coulomb = &pair_matrices(
            &s,
            &[Potential::InversePower(1.0)],
            Tolerance::Absolute(1e-11),
        )
        .unwrap()[0];
        let n = s.len();
        let mut checked_linear = false;
        for kappa in [0.05, 0.01, 2e-3] {
            let m = screened(&s, kappa, Tolerance::Relative(1e-13));
            let background = 4.0 * PI / (volume * kappa * kappa);
            let allowed = kappa * kappa * remainder_per_kappa2 + m.error_bound + coulomb.error_bound
                // rounding of background and subtraction (relative to the values, ~1e5)
                + 4.0 * f64::EPSILON * background;
            for i in 0..n {
                for j in 0..n {
                    let diagonal = if i == j { kappa } else { 0.0 };
                    let d = m.get(i, j) - background - diagonal - coulomb.get(i, j);
                    assert!(
                        d.abs() <= allowed,
                        "kappa {kappa} ({i},{j}): {d:e} > {allowed:e}"
                    );
                }
            }
            // The linear diagonal term is resolved (the test could see it missing).
            checked_linear |= allowed < 0.1 * kappa;
        }
        assert!(checked_linear, "κ δ_ij never resolved above the allowance");
    }
}

/// Translating all atoms changes nothing beyond the bounds; a supercell's sums over the
/// images of j equal the unit cell's (no background: each is an absolutely convergent sum).
#[test]
fn translation_and_supercell_invariance() {
    for s in cells() {
        for kappa in [0.2, 1.5] {
            let tol = Tolerance::Absolute(1e-9);
            let base = screened(&s, kappa, tol);
            let shift = Vec3::new(1.3, -7.1, 0.45);
            let moved = Structure::new(
                *s.lattice(),
                s.numbers().to_vec(),
                s.positions().iter().map(|p| p + shift).collect(),
                [true; 3],
            )
            .unwrap();
            let other = screened(&moved, kappa, tol);
            for (a, b) in base.values.iter().zip(&other.values) {
                assert!((a - b).abs() <= base.error_bound + other.error_bound);
            }
            let reps = [2, 1, 3];
            let copies = 6;
            let big = screened(
                &s.supercell(reps).unwrap(),
                kappa,
                Tolerance::Absolute(1e-10),
            );
            let n = s.len();
            for i in 0..n {
                for j in 0..n {
                    let sum: f64 = (0..copies).map(|c| big.get(i, c * n + j)).sum();
                    let d = (base.get(i, j) - sum).abs();
                    assert!(
                        d <= base.error_bound + copies as f64 * big.error_bound,
                        "kappa {kappa} supercell ({i},{j}): {d:e}"
                    );
                }
            }
        }
    }
}

#[test]
fn bad_kappa_is_a_clear_error() {
    let s = cells().remove(0);
    for kappa in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        match pair_matrices(
            &s,
            &[Potential::Screened { kappa }],
            Tolerance::Absolute(1e-8),
        ) {
            Err(Error::InvalidInput(msg)) => assert!(msg.contains("kappa"), "{msg}"),
            other => panic!("kappa {kappa}: {other:?}"),
        }
    }
    // A huge κ: every entry underflows (e^{−1000·r}); an absolute tolerance is met at once, a
    // relative one is a clear error (not a search over ~1e9 reciprocal vectors).
    let zeros = screened(&s, 1000.0, Tolerance::Absolute(1e-10));
    assert!(zeros.values.iter().all(|v| v.abs() <= zeros.error_bound));
    assert!(matches!(
        pair_matrices(
            &s,
            &[Potential::Screened { kappa: 1000.0 }],
            Tolerance::Relative(1e-8)
        ),
        Err(Error::Tolerance(_))
    ));
    // A tiny κ makes 4π/(Vκ²) so large that an absolute 1e-10 cannot be met in f64: said so.
    match pair_matrices(
        &s,
        &[Potential::Screened { kappa: 1e-6 }],
        Tolerance::Absolute(1e-10),
    ) {
        Err(Error::Tolerance(msg)) => assert!(msg.contains("rounding"), "{msg}"),
        other => panic!("{other:?}"),
    }
}
