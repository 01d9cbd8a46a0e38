//! Rigorous bounds on the parts of a lattice sum that are not computed: the real-space and
//! reciprocal-space tails beyond the spherical cut-offs, and the floating-point rounding of
//! what is computed.
//!
//! # Tail of a radial sum over a (shifted) lattice
//!
//! Let x_k = v + Lk be the points of a lattice of cell volume V shifted by v, and let P be the
//! centred reduced cell, |p| ≤ h = D/2 for p ∈ P (D = longest cell diagonal). The cells
//! x_k + P tile space, so N(t) = #{k : |x_k| ≤ t} satisfies
//!
//!   N⁻(t) = (4π/3V) max(t − h, 0)³ ≤ N(t) ≤ N⁺(t) = (4π/3V) (t + h)³
//!
//! (the cells of the points inside the ball of radius t lie in the ball of radius t + h, and
//! cover the ball of radius t − h). For a decreasing f ≥ 0 with f(t) N⁺(t) → 0, Stieltjes
//! integration by parts gives, for any R > 0,
//!
//!   Σ_{|x_k| > R} f(|x_k|) = −f(R) N(R) + ∫_R^∞ N(t) |f'(t)| dt
//!                          ≤ f(R) (N⁺(R) − N⁻(R)) + (4π/V) ∫_R^∞ (t + h)² f(t) dt.
//!
//! The same argument holds for any set of points at least d apart (the atoms of a crystal and
//! all their images, as the per-atom sums need): each owns a ball of radius d/2, the balls are
//! disjoint, so N(t) ≤ N⁺(t) with V = (4π/3)(d/2)³ and h = d/2; there N⁻ = 0 (balls do not
//! tile space). This works for cells of any size, where a supercell's D would be useless.
//!
//! Unlike the cell-ownership bound (4π/V) ∫_{R−D}^∞ f(t)(t + D/2)² dt this needs no R > D,
//! which matters for elongated (1:10) cells where D is large but R can be small.
//!
//! # Envelopes
//!
//! * Real space, f(t) = Γ(s, η²t²)/(Γ(s) t^p) with s = p/2. From Γ(s, x) = x^{s−1} e^{−x}
//!   ∫₀^∞ (1 + u/x)^{s−1} e^{−u} du ≤ c x^{s−1} e^{−x} with c = 1 (s ≤ 1) or
//!   c = 1/(1 − (s−1)/x) (s > 1, x > s − 1): f(t) ≤ A t⁻² e^{−βt²}, A = c η^{p−2}/Γ(s), β = η².
//! * Reciprocal space, the lattice of G (volume (2π)³/V, diagonal D*), f = a(|G|) with
//!   σ = (3−p)/2, y = G²/(4η²): a(G) ≤ A G⁻² e^{−βG²} with A = 4 c' π^{3/2} η^{p−1}/(V Γ(s)),
//!   β = 1/(4η²), c' as c with σ, y. a is decreasing in |G| (it is an integral of
//!   t^{(p−5)/2} e^{−G²/(4t)} over t ∈ (0, η²]); |cos| ≤ 1 covers the phases.
//! * For f ≤ A t⁻² e^{−βt²} and t ≥ R: t^{m−2} ≤ t R^{m−3} (m ≤ 2), so
//!   ∫_R^∞ (t + h)² f dt ≤ A e^{−βR²} (R + h)² / (2β R³).
//! * Exponential, f = e^{−αt}: the integral is exact,
//!   e^{−αR} [(R+h)²/α + 2(R+h)/α² + 2/α³].
//! * Screened Coulomb real space: f ≤ e^{−κt}/t, and (t+h)²/t ≤ t + 2h + h²/R gives
//!   ∫_R^∞ ≤ e^{−κR} [(R + 2h + h²/R)/κ + 1/κ²]; for ηR ≥ b = κ/(2η) also
//!   f ≤ e^{−b²} e^{−η²t²}/t, and (t+h)² ≤ t²(1 + h/R)² gives
//!   ∫_R^∞ ≤ e^{−b²−η²R²} (1 + h/R)² / (2η²). Reciprocal: a(G) ≤ (4π e^{−b²}/V) G⁻² e^{−G²/(4η²)}.
//!
//! # Rounding
//!
//! A first-order model with every libm call and elementary operation within
//! [`OP_ERROR`](super::kernels::OP_ERROR) = 2 ulp, and any-order summation of n terms within
//! n·u·Σ|terms| (Higham, Accuracy and Stability, Thm 4.4; holds for blocked/GEMM orders).
//! See `exact.rs` for how the pieces combine.

use std::f64::consts::PI;

use super::kernels::{InversePowerKernel, ReducedGeometry, ScreenedCoulombKernel};

/// Point counts inside balls: N⁻(t) ≤ N(t) ≤ N⁺(t).
#[derive(Clone, Copy, Debug)]
pub struct LatticeCounting {
    /// Volume owned by each point (cell volume, or ball volume for a packing).
    pub volume: f64,
    /// Largest distance from a point to the region it owns.
    pub half_diameter: f64,
    /// Whether the owned regions tile space (lattice cells), which gives a lower bound N⁻.
    pub tiles: bool,
}

impl LatticeCounting {
    /// A lattice (or shifted lattice) with the given reduced geometry.
    pub fn lattice(geometry: &ReducedGeometry) -> Self {
        LatticeCounting {
            volume: geometry.volume,
            half_diameter: geometry.diameter / 2.0,
            tiles: true,
        }
    }

    /// Any set of points at least `d_min` apart.
    pub fn packing(d_min: f64) -> Self {
        let h = d_min / 2.0;
        LatticeCounting {
            volume: 4.0 / 3.0 * PI * h.powi(3),
            half_diameter: h,
            tiles: false,
        }
    }

    /// Tail bound f(R)(N⁺(R) − N⁻(R)) + (4π/V) ∫_R^∞ (t+h)² f(t) dt, given (an upper bound on)
    /// f(R) and (an upper bound on) the integral.
    pub fn tail(&self, r: f64, f_r: f64, integral: f64) -> f64 {
        let h = self.half_diameter;
        let lower = if self.tiles {
            (r - h).max(0.0).powi(3)
        } else {
            0.0
        };
        let shell = (r + h).powi(3) - lower;
        4.0 * PI / self.volume * (f_r * shell / 3.0 + integral)
    }

    /// Tail bound for f(t) ≤ A t⁻² e^{−βt²} on t ≥ R.
    pub fn gaussian_tail(&self, r: f64, a: f64, beta: f64) -> f64 {
        let e = a * (-beta * r * r).exp();
        let h = self.half_diameter;
        self.tail(
            r,
            e / (r * r),
            e * (r + h).powi(2) / (2.0 * beta * r.powi(3)),
        )
    }
}

/// c = 1/(1 − (s−1)/x) for s > 1 (∞ when x ≤ s − 1), 1 otherwise.
fn gamma_envelope_factor(s: f64, x: f64) -> f64 {
    if s <= 1.0 {
        1.0
    } else if x > s - 1.0 {
        1.0 / (1.0 - (s - 1.0) / x)
    } else {
        f64::INFINITY
    }
}

/// Bound on Σ over the points counted by `counting` with |x_k| > r_cut of the real-space terms.
pub fn real_space_tail(kernel: &InversePowerKernel, counting: &LatticeCounting, r_cut: f64) -> f64 {
    let (p, eta) = (kernel.p, kernel.eta);
    let c = gamma_envelope_factor(p / 2.0, eta * eta * r_cut * r_cut);
    let a = c * eta.powf(p - 2.0) / kernel.gamma_half_p();
    counting.gaussian_tail(r_cut, a, eta * eta)
}

/// Bound on Σ_{|G| > g_cut} a(|G|) over the whole reciprocal lattice (both ±G).
pub fn reciprocal_tail(kernel: &InversePowerKernel, geometry: &ReducedGeometry, g_cut: f64) -> f64 {
    let (p, eta) = (kernel.p, kernel.eta);
    let c = gamma_envelope_factor((3.0 - p) / 2.0, g_cut * g_cut / (4.0 * eta * eta));
    let a = 4.0 * c * PI.powf(1.5) * eta.powf(p - 1.0) / (geometry.volume * kernel.gamma_half_p());
    reciprocal_counting(geometry).gaussian_tail(g_cut, a, 1.0 / (4.0 * eta * eta))
}

/// Bound on Σ_{|x_k| > r_cut} exp(−α |x_k|) over a shifted lattice.
pub fn exponential_tail(alpha: f64, geometry: &ReducedGeometry, r_cut: f64) -> f64 {
    let counting = LatticeCounting::lattice(geometry);
    let e = (-alpha * r_cut).exp();
    let rh = r_cut + counting.half_diameter;
    let integral = e * (rh * rh / alpha + 2.0 * rh / (alpha * alpha) + 2.0 / alpha.powi(3));
    counting.tail(r_cut, e, integral)
}

/// Bound on the screened-Coulomb real-space terms beyond `r_cut` (see the module doc):
/// f_real ≤ e^{−κt}/t everywhere (f_real = e^{−κt}/t minus a positive part), and
/// f_real ≤ e^{−η²t²−b²}/t for ηt ≥ b (both terms are e^{−η²t²−b²} erfcx(ηt ∓ b), erfcx ≤ 1
/// for arguments ≥ 0); the smaller of the two tails is returned.
pub fn screened_real_tail(
    kernel: &ScreenedCoulombKernel,
    counting: &LatticeCounting,
    r_cut: f64,
) -> f64 {
    let (kappa, eta, b) = (kernel.kappa, kernel.eta, kernel.b());
    let h = counting.half_diameter;
    let e = (-kappa * r_cut).exp();
    let direct = counting.tail(
        r_cut,
        e / r_cut,
        e * ((r_cut + 2.0 * h + h * h / r_cut) / kappa + 1.0 / (kappa * kappa)),
    );
    if eta * r_cut < b {
        return direct;
    }
    let g = (-(b * b + eta * eta * r_cut * r_cut)).exp();
    let gaussian = counting.tail(
        r_cut,
        g / r_cut,
        g * (1.0 + h / r_cut).powi(2) / (2.0 * eta * eta),
    );
    direct.min(gaussian)
}

/// Bound on Σ_{|G| > g_cut} a(|G|) of the screened Coulomb split: a(G) ≤ (4π e^{−b²}/V)
/// G⁻² e^{−G²/(4η²)}, and a decreases with |G|.
pub fn screened_reciprocal_tail(
    kernel: &ScreenedCoulombKernel,
    geometry: &ReducedGeometry,
    g_cut: f64,
) -> f64 {
    let (eta, b) = (kernel.eta, kernel.b());
    let a = 4.0 * PI * (-b * b).exp() / geometry.volume;
    reciprocal_counting(geometry).gaussian_tail(g_cut, a, 1.0 / (4.0 * eta * eta))
}

/// Point counts of the reciprocal lattice (cell volume (2π)³/V, diagonal D*).
fn reciprocal_counting(geometry: &ReducedGeometry) -> LatticeCounting {
    LatticeCounting {
        volume: (2.0 * PI).powi(3) / geometry.volume,
        half_diameter: geometry.reciprocal_diameter / 2.0,
        tiles: true,
    }
}

/// A radius R (within ~1 % of the smallest on a geometric grid) with `bound(R) ≤ target`,
/// searched from `start`; `None` if no R below 1e6·start works.
pub fn solve_radius(bound: impl Fn(f64) -> f64, target: f64, start: f64) -> Option<f64> {
    let ok = |r: f64| bound(r) <= target;
    let (mut lo, mut hi) = if ok(start) {
        let mut hi = start;
        let mut lo = start / 1.25;
        while ok(lo) {
            hi = lo;
            lo /= 1.25;
            if lo < 1e-12 * start {
                return Some(hi);
            }
        }
        (lo, hi)
    } else {
        let mut lo = start;
        let mut hi = start * 1.25;
        while !ok(hi) {
            lo = hi;
            hi *= 1.25;
            if hi > 1e6 * start {
                return None;
            }
        }
        (lo, hi)
    };
    for _ in 0..5 {
        let mid = 0.5 * (lo + hi);
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Lattice;
    use crate::lattice::kernels::lattice_vectors_within;

    /// The counting bound holds against exact point counts for a skewed and an elongated cell.
    #[test]
    fn counting_bounds_hold() {
        for l in [
            Lattice::from_parameters([3.6, 4.4, 5.1], [70.0, 105.0, 40.0]).unwrap(),
            Lattice::from_rows([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 30.0]]).unwrap(),
        ] {
            let geo = ReducedGeometry::new(&l);
            let c = LatticeCounting::lattice(&geo);
            let shift = crate::cell::Vec3::new(0.37, -1.1, 0.8);
            let pts = lattice_vectors_within(&geo, 60.0);
            for t in [0.5, 2.0, 5.0, 11.0, 20.0, 35.0] {
                let n = pts.iter().filter(|q| (q.cart + shift).norm() <= t).count() as f64;
                let h = c.half_diameter;
                let up = 4.0 * PI / (3.0 * c.volume) * (t + h).powi(3);
                let low = 4.0 * PI / (3.0 * c.volume) * (t - h).max(0.0).powi(3);
                assert!(low <= n && n <= up, "t={t} {low} {n} {up}");
            }
        }
    }

    /// The packing bound holds for the atoms (and images) of a rock-salt supercell.
    #[test]
    fn packing_bound_holds() {
        let s = crate::structure::tests::rocksalt(5.64)
            .supercell([2, 1, 1])
            .unwrap();
        let c = LatticeCounting::packing(2.82);
        let list = crate::neighbors::NeighborList::build(&s, 30.0).unwrap();
        for t in [2.0, 2.82, 4.0, 9.0, 20.0, 30.0] {
            let n = 1.0 + list.pairs_of(3).iter().filter(|p| p.distance <= t).count() as f64;
            let up = 4.0 * PI / (3.0 * c.volume) * (t + c.half_diameter).powi(3);
            assert!(n <= up, "t={t} {n} {up}");
        }
    }

    #[test]
    fn radius_solver_finds_a_valid_radius() {
        let r = solve_radius(|r: f64| (-r * r).exp(), 1e-10, 1.0).unwrap();
        assert!((-r * r).exp() <= 1e-10 && (-(r * 0.98f64).powi(2)).exp() > 1e-10);
        let r = solve_radius(|r: f64| (-r * r).exp(), 1e-10, 50.0).unwrap();
        assert!((-r * r).exp() <= 1e-10 && r < 5.0);
    }
}
