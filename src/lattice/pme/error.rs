//! Error estimates of smooth PME and the choice of its parameters from them.
//!
//! Both estimates are of the random-position kind: atoms are taken as uncorrelated, so errors
//! of different pairs or modes add in quadrature, and each is the RMS error of φ (or of the
//! force) on a unit test weight, per unit of √(Σ_j w_j²).
//!
//! - Real space (Kolafa & Perram 1992): δφ² = (4π/V) ∫_rc^∞ r² g(r)² dr and δF² = (4π/V)
//!   ∫_rc^∞ r² g'(r)² dr for the real-space term g of the split, integrated numerically. For 1/r
//!   this is Kolafa–Perram's 2 e^{−η²rc²}/√(rc V) at large η rc, for 1/r⁶ the real-space
//!   estimate of in 't Veld, Ismail & Grest (2007) (both checked in the tests).
//! - Mesh (the aliasing analysis of Deserno & Holm 1998 for B-spline assignment): the
//!   interpolated plane wave e^{iG·x} carries aliases G + 2πl K_α b_α of amplitude
//!   c = (f/(f + l))^n, f = m_α/K_α, in each direction α. Both the atom's own interpolation and
//!   the structure factor carry them, so δφ² = Σ_m a(G)² 2 Σ_{α,l} c² and δF² = Σ_m a(G)²
//!   Σ_{α,l} c² (|G + 2πl K_α b_α|² + |G|²), the mode sum taken by a midpoint rule in f. For 1/r
//!   it lies 1–8 times above Deserno and Holm's closed form for P3M with their optimal influence
//!   function (as LAMMPS evaluates it; tests): SPME's influence function a|B|² is not the optimal
//!   one, so at equal order and mesh it errs more, as Ballenegger, Cerdà & Holm (2012) found.
//!
//! These are estimates (RMS over atoms, not bounds): PME reports them as such.

use super::super::kernels::{InversePowerKernel, ReducedGeometry};
use crate::cell::Vec3;
use crate::error::{Error, Result};
use crate::lattice::per_atom::PmeParameters;

/// Fraction of the target the estimates are held to.
const SAFETY: f64 = 0.5;

/// Orders (B-spline points per direction) tried.
const ORDERS: [usize; 5] = [4, 5, 6, 8, 10];

/// Real-space cut-offs (Å) tried; η follows from the real-space target.
const CUTOFFS: [f64; 6] = [4.0, 5.0, 6.0, 7.5, 9.0, 11.0];

/// Estimated RMS errors of φ and of the force on a unit test weight, per unit √(Σ w²).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub phi: f64,
    pub force: f64,
    /// Systematic real-space error of φ per unit of the channel's total weight Σ w: the mean
    /// (4π/V) ∫_rc^∞ r² g dr of the tail, which random signs would cancel but a channel of one
    /// sign (dispersion) does not.
    pub phi_mean: f64,
}

impl Estimate {
    /// The larger of the φ and force errors, per unit √(Σ w²), for atoms whose weight is
    /// `self_weight` √(Σ w²).
    fn worst(&self, w: &Workload) -> f64 {
        (self.phi + w.mean_weight * self.phi_mean).max(self.force)
    }

    fn combined(self, other: Estimate) -> Estimate {
        Estimate {
            phi: self.phi.hypot(other.phi),
            force: self.force.hypot(other.force),
            phi_mean: self.phi_mean + other.phi_mean,
        }
    }
}

/// Real-space estimate at cut-off `r_cut` (see the module doc).
pub fn real_space(kernel: &InversePowerKernel, r_cut: f64) -> Estimate {
    // ∫_rc^∞ f: f = r²g² decays about as e^{−λ(r − rc)}; Simpson's rule in y = λ(r − rc) over [0, 40].
    let (g, dg) = kernel.real_term_and_derivative(r_cut);
    if g == 0.0 {
        return Estimate {
            phi: 0.0,
            force: 0.0,
            phi_mean: 0.0,
        };
    }
    let lambda = (2.0 * (-dg / g) - 2.0 / r_cut).max(1.0 / r_cut);
    const INTERVALS: usize = 80;
    let step = 40.0 / INTERVALS as f64;
    let (mut phi, mut force, mut mean) = (0.0, 0.0, 0.0);
    for k in 0..=INTERVALS {
        let weight = if k == 0 || k == INTERVALS {
            1.0
        } else if k % 2 == 1 {
            4.0
        } else {
            2.0
        };
        let r = r_cut + k as f64 * step / lambda;
        let (g, dg) = kernel.real_term_and_derivative(r);
        phi += weight * r * r * g * g;
        mean += weight * r * r * g;
        force += weight * r * r * dg * dg;
    }
    let scale = 4.0 * std::f64::consts::PI * step / (3.0 * lambda * kernel.volume);
    Estimate {
        phi: PHI_CALIBRATION * (phi * scale).sqrt(),
        force: (force * scale).sqrt(),
        // The mean decays slower than g² (rate ~λ/2): the same nodes cover it to e^{−20}.
        phi_mean: (mean * scale).abs(),
    }
}

/// Mesh (aliasing) estimate for B-spline `order` on a mesh of `dims` (see the module doc).
pub fn mesh(
    kernel: &InversePowerKernel,
    reduced: &ReducedGeometry,
    order: usize,
    dims: [usize; 3],
) -> Estimate {
    const SAMPLES: usize = 8;
    let rows: [Vec3; 3] = [0, 1, 2].map(|a| reduced.reciprocal.row(a).transpose());
    // Per direction: (f, m, weight) samples, exact integers for small meshes.
    let samples = |k: usize| -> Vec<(f64, f64, f64)> {
        if k <= SAMPLES {
            (0..k)
                .map(|j| {
                    let m = j as f64 - (k / 2) as f64;
                    (m / k as f64, m, 1.0)
                })
                .collect()
        } else {
            (0..SAMPLES)
                .map(|j| {
                    let f = -0.5 + (j as f64 + 0.5) / SAMPLES as f64;
                    (f, f * k as f64, k as f64 / SAMPLES as f64)
                })
                .collect()
        }
    };
    let axes = [samples(dims[0]), samples(dims[1]), samples(dims[2])];
    // Alias amplitudes c(f, l) per axis sample: they depend on one direction only.
    let n = order as i32;
    const ALIASES: [f64; 4] = [-2.0, -1.0, 1.0, 2.0];
    let amplitudes = axes.clone().map(|axis| -> Vec<[f64; 4]> {
        axis.iter()
            .map(|&(f, _, _)| ALIASES.map(|l| (f / (f + l)).powi(2 * n)))
            .collect()
    });
    let (mut phi, mut force) = (0.0, 0.0);
    for (s0, &(_, m0, w0)) in axes[0].iter().enumerate() {
        for (s1, &(_, m1, w1)) in axes[1].iter().enumerate() {
            for (s2, &(_, m2, w2)) in axes[2].iter().enumerate() {
                let g = rows[0] * m0 + rows[1] * m1 + rows[2] * m2;
                let g2 = g.norm_squared();
                if g2 == 0.0 {
                    continue;
                }
                let a = kernel.recip_coeff(g2);
                let weight = w0 * w1 * w2 * a * a;
                let (mut alias, mut alias_force) = (0.0, 0.0);
                for (axis, sample) in [s0, s1, s2].into_iter().enumerate() {
                    for (&l, &c) in ALIASES.iter().zip(&amplitudes[axis][sample]) {
                        let shifted = g + rows[axis] * (l * dims[axis] as f64);
                        alias += c;
                        alias_force += c * (shifted.norm_squared() + g2);
                    }
                }
                phi += weight * 2.0 * alias;
                force += weight * alias_force;
            }
        }
    }
    Estimate {
        phi: PHI_CALIBRATION * phi.sqrt(),
        force: force.sqrt(),
        phi_mean: 0.0,
    }
}

/// The random model leaves out the systematic part of the errors of φ (an atom's interaction
/// with its own interpolated image, and the ordering of counter-charges beyond the cut-off in
/// ionic cells): measured φ errors against the exact engine came out up to 1.5 times the
/// model's (forces within it), so φ estimates are doubled.
const PHI_CALIBRATION: f64 = 2.0;

/// Parameters of one PME evaluation with their estimated errors and modelled cost.
#[derive(Clone, Copy, Debug)]
pub struct Choice {
    pub kernel: InversePowerKernel,
    pub r_cut: f64,
    pub order: usize,
    pub dims: [usize; 3],
    /// Estimated RMS errors per unit √(Σ w²) (real space and mesh in quadrature).
    pub estimate: Estimate,
    /// Modelled cost in the units of the exact engine's cost model.
    pub cost: f64,
}

impl Choice {
    /// Given parameters, validated, with their estimates.
    pub fn fixed(
        base: &InversePowerKernel,
        reduced: &ReducedGeometry,
        p: &PmeParameters,
    ) -> Result<Choice> {
        let valid = p.eta.is_finite()
            && p.eta > 0.0
            && p.r_cut.is_finite()
            && p.r_cut > 0.0
            && (3..=MAX_ORDER).contains(&p.order)
            && p.mesh.iter().all(|&k| k >= p.order)
            && p.mesh.iter().product::<usize>() <= MAX_MESH_POINTS;
        if !valid {
            return Err(Error::InvalidInput(format!(
                "PME parameters need η, r_cut > 0, order in 3..={MAX_ORDER}, every mesh size \
                 ≥ order and at most {MAX_MESH_POINTS} mesh points; got {p:?}"
            )));
        }
        let kernel = base.with_eta(p.eta);
        Ok(Choice {
            kernel,
            r_cut: p.r_cut,
            order: p.order,
            dims: p.mesh,
            estimate: real_space(&kernel, p.r_cut)
                .combined(mesh(&kernel, reduced, p.order, p.mesh)),
            cost: 0.0,
        })
    }
}

/// Highest B-spline order accepted.
const MAX_ORDER: usize = 16;

/// What the cost model needs to know about the sum.
pub struct Workload {
    pub n_atoms: usize,
    pub n_channels: usize,
    pub derivatives: bool,
    /// Largest |Σ w| per unit √(Σ w²) of its channel (what the mean tail scales with).
    pub mean_weight: f64,
}

/// Relative costs (units of one reciprocal term per atom of the exact engine, ≈ 2 ns): a
/// real-space pair, one B-spline point per channel (spread, gather, and the force gradient),
/// one mesh point of an FFT pass per channel, and one influence-function value. A pair is
/// evaluated once for both atoms (half list), so it costs half of the exact engine's
/// per-atom term: 25. Checked on 10,648-atom rock salt at 1e-5 by one-thread CPU time
/// (shared machine): (7.5 Å, 6, 72³) 0.069 s, (6 Å, 6, 90³) 0.074 s, (6 Å, 8, 90³) 0.091 s,
/// (9 Å, 6, 60³) 0.094 s, (5 Å, 8, 108³) 0.116 s.
const REAL_PAIR_COST: f64 = 25.0;
const SPLINE_POINT_COST: f64 = 1.0;
const FFT_POINT_COST: f64 = 1.5;
const INFLUENCE_COST: f64 = 20.0;

/// The cheapest (r_cut, η, order, mesh) whose estimated errors are at most `target` (per unit
/// √(Σ w²)), or `None` when no tried combination reaches it.
pub fn choose(
    base: &InversePowerKernel,
    reduced: &ReducedGeometry,
    work: &Workload,
    target: f64,
) -> Option<Choice> {
    // Half the budget each for real space and mesh (in quadrature), with a safety factor:
    // the random-position model is an estimate; measured RMS errors came up to 0.6 of the target
    // at 0.6 (tests/lattice_pme.rs), and 0.5 leaves a margin.
    let share = SAFETY * target / std::f64::consts::SQRT_2;
    let density = work.n_atoms as f64 / reduced.volume;
    // Spacing of the lattice planes along each reduced direction: the mesh step is L_α / K_α.
    let planes: [f64; 3] =
        [0, 1, 2].map(|a| 2.0 * std::f64::consts::PI / reduced.reciprocal.row(a).norm());
    let mut best: Option<Choice> = None;
    for r_cut in CUTOFFS {
        let Some(kernel) = eta_for(base, r_cut, share, work) else {
            continue;
        };
        let real = real_space(&kernel, r_cut);
        let pairs = 4.0 / 3.0 * std::f64::consts::PI * r_cut.powi(3) * density;
        let real_cost = work.n_atoms as f64 * REAL_PAIR_COST * pairs;
        let derivative_factor = if work.derivatives { 5.0 } else { 2.0 };
        let spline_cost = |order: usize| {
            SPLINE_POINT_COST * (order.pow(3) * work.n_channels) as f64 * derivative_factor
        };
        for order in ORDERS {
            // Lower bound without the FFT: skip what cannot beat the best so far.
            let floor = real_cost + work.n_atoms as f64 * spline_cost(order);
            if best.as_ref().is_some_and(|b| floor >= b.cost) {
                continue;
            }
            let Some((dims, mesh_error)) = mesh_for(&kernel, reduced, order, &planes, share, work)
            else {
                continue;
            };
            let points: usize = dims.iter().product();
            let cost = floor
                + points as f64
                    * (FFT_POINT_COST * work.n_channels as f64 * (points as f64).log2()
                        + INFLUENCE_COST * 0.5);
            if best.as_ref().is_none_or(|b| cost < b.cost) {
                best = Some(Choice {
                    kernel,
                    r_cut,
                    order,
                    dims,
                    estimate: real.combined(mesh_error),
                    cost,
                });
            }
        }
    }
    best
}

/// The smallest η (the coarsest mesh) whose real-space estimate at `r_cut` is within `target`
/// (bisection in log η; the real-space error falls as η grows).
fn eta_for(
    base: &InversePowerKernel,
    r_cut: f64,
    target: f64,
    work: &Workload,
) -> Option<InversePowerKernel> {
    let error = |eta: f64| real_space(&base.with_eta(eta), r_cut).worst(work);
    let (mut lo, mut hi) = (0.5 / r_cut, 12.0 / r_cut);
    if error(hi) > target {
        return None;
    }
    for _ in 0..30 {
        let mid = (lo * hi).sqrt();
        if error(mid) <= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(base.with_eta(hi))
}

/// The coarsest mesh (same step along every direction, FFT-friendly sizes) whose estimate is
/// within `target`, with that estimate.
fn mesh_for(
    kernel: &InversePowerKernel,
    reduced: &ReducedGeometry,
    order: usize,
    planes: &[f64; 3],
    target: f64,
    work: &Workload,
) -> Option<([usize; 3], Estimate)> {
    let widest = planes.iter().fold(0.0f64, |m, &l| m.max(l));
    let dims_at = |k: usize| {
        planes.map(|l| fft_size(((k as f64 * l / widest).ceil() as usize).max(2 * order)))
    };
    // Candidate sizes along the widest direction: smooth numbers from 2·order up to a step of
    // 0.05 Å or the MAX_MESH_POINTS limit; the error falls as the size grows.
    let limit = (planes.iter().product::<f64>() / MAX_MESH_POINTS as f64).cbrt();
    let largest = (widest / limit.max(0.05)) as usize;
    let sizes: Vec<usize> = (2 * order..=largest.max(2 * order))
        .filter(|&k| fft_size(k) == k)
        .collect();
    let fits = |k: usize| {
        let dims = dims_at(k);
        let e = mesh(kernel, reduced, order, dims);
        (dims.iter().product::<usize>() <= MAX_MESH_POINTS && e.worst(work) <= target)
            .then_some((dims, e))
    };
    let last = *sizes.last()?;
    fits(last)?;
    // Bisection for the first size that fits.
    let (mut lo, mut hi) = (0, sizes.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fits(sizes[mid]).is_some() {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    fits(sizes[lo])
}

/// Largest mesh considered (2²⁷ points, 1 GiB per real channel).
const MAX_MESH_POINTS: usize = 1 << 27;

/// The smallest n' ≥ n of the form 2^a 3^b 5^c (fast FFT lengths).
pub fn fft_size(n: usize) -> usize {
    (n.max(1)..)
        .find(|&m| {
            let mut r = m;
            for p in [2, 3, 5] {
                while r % p == 0 {
                    r /= p;
                }
            }
            r == 1
        })
        .expect("some larger smooth number exists")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Lattice;

    fn cubic(l: f64) -> ReducedGeometry {
        ReducedGeometry::new(
            &Lattice::from_rows([[l, 0.0, 0.0], [0.0, l, 0.0], [0.0, 0.0, l]]).unwrap(),
        )
    }

    #[test]
    fn real_space_estimates_approach_the_published_closed_forms() {
        let geo = cubic(20.0);
        let v = geo.volume;
        for (eta, rc) in [(0.35f64, 10.0f64), (0.5, 8.0), (0.7, 6.0)] {
            let x = eta * eta * rc * rc;
            // Kolafa & Perram (1992), force on a unit charge per unit √Q².
            let kp = 2.0 * (-x).exp() / (rc * v).sqrt();
            let coulomb = InversePowerKernel::new(1.0, eta, v).unwrap();
            let ratio = real_space(&coulomb, rc).force / kp;
            assert!((ratio - 1.0).abs() < 0.15, "1/r η={eta}: {ratio}");
            // in 't Veld, Ismail & Grest (2007), the real-space dispersion estimate.
            let itv = std::f64::consts::PI.sqrt() * eta.powi(5) * (-x).exp() / (rc * v).sqrt()
                * (1.0 + (3.0 + (6.0 + 6.0 / x) / x) / x);
            let london = InversePowerKernel::new(6.0, eta, v).unwrap();
            let ratio = real_space(&london, rc).force / itv;
            assert!((ratio - 1.0).abs() < 0.3, "1/r⁶ η={eta}: {ratio}");
        }
    }

    /// Deserno & Holm's closed form for P3M with ik differentiation, as LAMMPS evaluates it
    /// (per unit test charge and per unit √Q²), for order ≤ 7.
    fn deserno_holm(order: usize, eta: f64, h: f64, l: f64) -> f64 {
        let acons: [&[f64]; 5] = [
            &[1.0 / 588.0, 7.0 / 1440.0, 21.0 / 3872.0],
            &[
                1.0 / 4320.0,
                3.0 / 1936.0,
                7601.0 / 2271360.0,
                143.0 / 28800.0,
            ],
            &[
                1.0 / 23232.0,
                7601.0 / 13628160.0,
                143.0 / 69120.0,
                517231.0 / 106536960.0,
                106640677.0 / 11737571328.0,
            ],
            &[
                691.0 / 68140800.0,
                13.0 / 57600.0,
                47021.0 / 35512320.0,
                9694607.0 / 2095994880.0,
                733191589.0 / 59609088000.0,
                326190917.0 / 11700633600.0,
            ],
            &[
                1.0 / 345600.0,
                3617.0 / 35512320.0,
                745739.0 / 838397952.0,
                56399353.0 / 12773376000.0,
                25091609.0 / 1560084480.0,
                1755948832039.0 / 36229939200000.0,
                4887769399.0 / 37838389248.0,
            ],
        ];
        let sum: f64 = acons[order - 3]
            .iter()
            .enumerate()
            .map(|(m, a)| a * (h * eta).powi(2 * m as i32))
            .sum();
        (h * eta).powi(order as i32) * (eta * l * (2.0 * std::f64::consts::PI).sqrt() * sum).sqrt()
            / (l * l)
    }

    #[test]
    fn mesh_estimate_is_close_to_deserno_holm_for_coulomb() {
        let l = 20.0;
        let geo = cubic(l);
        for (order, eta, k) in [(5, 0.35, 24), (6, 0.5, 40), (7, 0.4, 32), (4, 0.3, 20)] {
            let kernel = InversePowerKernel::new(1.0, eta, geo.volume).unwrap();
            let ours = mesh(&kernel, &geo, order, [k; 3]).force;
            // Three directions of the same spacing, combined as LAMMPS does.
            let dh = deserno_holm(order, eta, l / k as f64, l);
            let ratio = ours / dh;
            assert!(
                (1.0..8.0).contains(&ratio),
                "n={order} η={eta} K={k}: {ratio}"
            );
        }
    }

    #[test]
    fn fft_sizes_are_smooth_and_minimal() {
        assert_eq!(fft_size(7), 8);
        assert_eq!(fft_size(31), 32);
        assert_eq!(fft_size(49), 50);
        assert_eq!(fft_size(1), 1);
    }
}
