//! Rotation-invariant couplings of products of spherical harmonics.
//!
//! The real Gaunt coefficients G(a, b, c) = ∫ Y_a Y_b Y_c dΩ are, up to a constant, the
//! Wigner 3j symbols (l₁ l₂ l₃; m₁ m₂ m₃) transformed to real harmonics, for l₁ + l₂ + l₃
//! even: the only parity-even triple couplings, so Σ G A_a A_b A_c over m is the one
//! O(3)-invariant of three densities with those l. They are integrated exactly by a product
//! rule (Gauss–Legendre in cos θ times the trapezoid rule in φ), which is exact for the
//! polynomial integrands of degree ≤ 3 l_max.

use super::harmonics;
use crate::cell::Vec3;

/// Gauss–Legendre nodes and weights on [−1, 1] (Newton on the Legendre recursion).
fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut derivative = 1.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let k = k as f64;
                    (p0, p1) = (p1, ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k);
                }
                derivative = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let step = p1 / derivative;
                x -= step;
                if step.abs() < 1e-16 {
                    break;
                }
            }
            (x, 2.0 / ((1.0 - x * x) * derivative * derivative))
        })
        .collect()
}

/// Values of every Y_lm (l ≤ l_max) at the nodes of a rule exact for degree 3 l_max, with the
/// nodes' weights.
pub struct SphereRule {
    l_max: usize,
    weights: Vec<f64>,
    /// `values[node][index(l, m)]`.
    values: Vec<Vec<f64>>,
}

impl SphereRule {
    pub fn new(l_max: usize) -> Self {
        let degree = 3 * l_max + 2;
        let n_phi = degree + 1;
        let mut weights = Vec::new();
        let mut values = Vec::new();
        for (z, w) in gauss_legendre(degree / 2 + 1) {
            let rho = (1.0 - z * z).sqrt();
            for k in 0..n_phi {
                let phi = 2.0 * std::f64::consts::PI * k as f64 / n_phi as f64;
                let mut y = vec![0.0; harmonics::count(l_max)];
                harmonics::evaluate(
                    &Vec3::new(rho * phi.cos(), rho * phi.sin(), z),
                    l_max,
                    &mut y,
                    None,
                );
                weights.push(w * 2.0 * std::f64::consts::PI / n_phi as f64);
                values.push(y);
            }
        }
        SphereRule {
            l_max,
            weights,
            values,
        }
    }

    /// ∫ Π_k Y_{index_k} dΩ for up to three harmonic indices.
    pub fn integral(&self, indices: &[usize]) -> f64 {
        debug_assert!(indices.iter().all(|&i| i < harmonics::count(self.l_max)));
        self.weights
            .iter()
            .zip(&self.values)
            .map(|(w, y)| w * indices.iter().map(|&i| y[i]).product::<f64>())
            .sum()
    }
}

/// The nonzero real Gaunt coefficients of (l₁, l₂, l₃): (m₁, m₂, m₃, G), G above 1e-14.
pub fn gaunt(rule: &SphereRule, l: [usize; 3]) -> Vec<([i64; 3], f64)> {
    let mut out = Vec::new();
    let range = |l: usize| -(l as i64)..=(l as i64);
    for m1 in range(l[0]) {
        for m2 in range(l[1]) {
            for m3 in range(l[2]) {
                let g = rule.integral(&[
                    harmonics::index(l[0], m1),
                    harmonics::index(l[1], m2),
                    harmonics::index(l[2], m3),
                ]);
                if g.abs() > 1e-14 {
                    out.push(([m1, m2, m3], g));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harmonics_are_orthonormal_under_the_rule() {
        let rule = SphereRule::new(6);
        for a in 0..harmonics::count(6) {
            for b in 0..harmonics::count(6) {
                let expected = f64::from(u8::from(a == b));
                let got = rule.integral(&[a, b]);
                assert!((got - expected).abs() < 1e-13, "{a} {b}: {got}");
            }
        }
    }

    #[test]
    fn gaunt_coefficients_match_closed_forms() {
        let rule = SphereRule::new(4);
        let c = 1.0 / (4.0 * std::f64::consts::PI).sqrt();
        // ∫ Y_00 Y_a Y_b = δ_ab / √(4π).
        for (m, g) in gaunt(&rule, [0, 2, 2]) {
            assert_eq!(m[1], m[2]);
            assert!((g - c).abs() < 1e-14);
        }
        // ∫ Y_10 Y_10 Y_20 = (1/√(4π)) · 2/√5 (from the 3j symbols).
        let g = rule.integral(&[
            harmonics::index(1, 0),
            harmonics::index(1, 0),
            harmonics::index(2, 0),
        ]);
        assert!((g - c * 2.0 / 5f64.sqrt()).abs() < 1e-14, "{g}");
        // Odd l₁ + l₂ + l₃ couple to zero.
        assert!(gaunt(&rule, [1, 1, 1]).is_empty());
    }

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        let rule = gauss_legendre(5);
        let integral: f64 = rule.iter().map(|(x, w)| w * x.powi(8)).sum();
        assert!((integral - 2.0 / 9.0).abs() < 1e-15);
    }
}
