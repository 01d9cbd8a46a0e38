//! The exact pair-matrix engine: chooses the splits, enumerates images once for all
//! potentials, sums real space per pair and reciprocal space as one matrix product, and adds
//! up the rigorous error bound (tails from [`bounds`](super::bounds), rounding here).

use std::f64::consts::{PI, TAU};

use nalgebra::DMatrix;

use super::bounds::{exponential_tail, solve_radius, LatticeCounting};
use super::kernels::{
    lattice_vectors_within, reciprocal_vectors_within, ExponentialKernel, InversePowerKernel,
    LatticePoint, ReducedGeometry, ScreenedCoulombKernel, SplitKernel, OP_ERROR, UNIT_ROUNDOFF,
};
use super::{PairMatrix, Potential, Tolerance};
use crate::cell::Vec3;
use crate::error::{Error, Result};
use crate::structure::Structure;

/// Cost model (ns, one core): testing one candidate image of one pair …
const COST_REAL_CHECK: f64 = 1.0;
/// … evaluating one real-space exp-type term (scaled by `real_term_cost`) …
const COST_REAL_TERM: f64 = 5.0;
/// … the phase factor of one atom for one G …
const COST_PHASE: f64 = 3.0;
/// … and one ordered pair for one G (two FMAs in the GEMM).
const COST_RECIP: f64 = 0.25;

/// Screened-Coulomb tails are not pushed below this. For large κ the split sits at b = 25,
/// where the whole reciprocal side is ≲ e^{−625} ≈ 1e-271: above this target it needs no G
/// at all, below it would need ~1e9 G vectors for nothing. Smaller requests (or relative ones
/// on entries that underflow) end in a tolerance error instead.
const SCREENED_MIN_TAIL: f64 = 1e-250;

/// Share of the tolerance first given to the tails (real + reciprocal); the rest is left for
/// rounding, and re-balanced once the rounding bound is known.
const TAIL_SHARE: f64 = 0.8;

/// The chosen Ewald split of one sum (1/r^p by default): the kernel (with η), both cut-offs
/// and the rigorous bounds on both omitted tails.
#[derive(Clone, Copy, Debug)]
pub struct EwaldSplit<K = InversePowerKernel> {
    pub kernel: K,
    /// Real-space cut-off on |v + Lk| (Å).
    pub r_cut: f64,
    /// Reciprocal cut-off on |G| (1/Å).
    pub g_cut: f64,
    /// Bound on the omitted real-space terms of any pair.
    pub real_tail: f64,
    /// Bound on Σ_{|G| > g_cut} |a(G)| (omitted reciprocal terms of any pair).
    pub recip_tail: f64,
}

/// Cheapest split of 1/r^p (by the cost model, for `n_atoms` atoms) whose two tails are each
/// at most `tail_target`.
pub fn choose_split(
    p: f64,
    geometry: &ReducedGeometry,
    n_atoms: usize,
    tail_target: f64,
) -> Result<EwaldSplit> {
    let base = InversePowerKernel::new(p, 1.0, geometry.volume)?;
    choose_kernel_split(base, geometry, n_atoms, tail_target)
}

/// Cheapest split of any [`SplitKernel`] (η of `base` is ignored): a log grid of η around
/// 1/V^{1/3} (not below the kernel's `min_eta`), then one refinement around the best.
pub fn choose_kernel_split<K: SplitKernel + Copy>(
    base: K,
    geometry: &ReducedGeometry,
    n_atoms: usize,
    tail_target: f64,
) -> Result<EwaldSplit<K>> {
    let length = geometry.volume.cbrt();
    let n = n_atoms as f64;
    let pairs = n * (n - 1.0) / 2.0 + 1.0;
    let ball = 4.0 * PI / 3.0;
    let h = geometry.diameter / 2.0;
    let counting = LatticeCounting::lattice(geometry);
    let evaluate = |eta: f64| -> Option<(f64, EwaldSplit<K>)> {
        let kernel = base.with_eta(eta.max(base.min_eta()));
        let eta = kernel.eta();
        let r_cut = solve_radius(|r| kernel.real_tail(&counting, r), tail_target, 4.0 / eta)?;
        let g_cut = solve_radius(
            |g| kernel.reciprocal_tail(geometry, g),
            tail_target,
            8.0 * eta,
        )?;
        let real = pairs
            * ball
            * ((r_cut + h).powi(3) * COST_REAL_CHECK
                + r_cut.powi(3) * COST_REAL_TERM * kernel.real_term_cost())
            / geometry.volume;
        let n_g = ball * g_cut.powi(3) * geometry.volume / (2.0 * (TAU).powi(3));
        let recip = n_g * (n * COST_PHASE + n * n * COST_RECIP);
        let split = EwaldSplit {
            kernel,
            r_cut,
            g_cut,
            real_tail: kernel.real_tail(&counting, r_cut),
            recip_tail: kernel.reciprocal_tail(geometry, g_cut),
        };
        Some((real + recip, split))
    };
    let cheapest = |a: &(f64, EwaldSplit<K>), b: &(f64, EwaldSplit<K>)| a.0.total_cmp(&b.0);
    let ratio: f64 = 2.0;
    let best = (-4..=4)
        .filter_map(|k| evaluate(ratio.powi(k) * 1.5 / length))
        .min_by(cheapest)
        .and_then(|coarse| {
            let eta = coarse.1.kernel.eta();
            [0.7, 0.84, 1.19, 1.41]
                .iter()
                .filter_map(|f| evaluate(eta * f))
                .chain(std::iter::once(coarse))
                .min_by(cheapest)
        });
    best.map(|b| b.1).ok_or_else(|| {
        Error::Tolerance(format!(
            "no Ewald split of {} reaches tail bounds of {tail_target:e}",
            base.describe()
        ))
    })
}

/// Per-atom fractional coordinates in the reduced basis, wrapped to [−1/2, 1/2], and a bound
/// on how far the implied pair vectors may be from the exact x_i − x_j (modulo the lattice).
pub(super) struct WrappedAtoms {
    pub(super) frac: Vec<Vec3>,
    /// Bound on |computed v − exact v| for every reduced pair vector (Å).
    delta_v: f64,
}

impl WrappedAtoms {
    pub(super) fn new(structure: &Structure, geometry: &ReducedGeometry) -> Self {
        let lattice = geometry.reduced.matrix();
        let inverse = geometry.reduced.inverse();
        let lengths = geometry.reduced.lengths();
        let u = UNIT_ROUNDOFF;
        let mut frac = Vec::with_capacity(structure.len());
        // A-posteriori bound on |f·L − x|, the displacement implied by the computed f: the
        // computed residual plus the rounding of computing it (4 operations per component).
        let mut displacement: f64 = 0.0;
        for x in structure.positions() {
            let f = inverse.tr_mul(x);
            let residual = (x - lattice.tr_mul(&f)).norm();
            let magnitude = x.norm() + (0..3).map(|d| f[d].abs() * lengths[d]).sum::<f64>();
            displacement = displacement.max(residual + 5.0 * u * magnitude);
            frac.push(f - f.map(f64::round));
        }
        // Pair vectors (f_i − f_j − n)·L: both displacements, the difference and the product.
        let lengths_sum: f64 = lengths.iter().sum();
        WrappedAtoms {
            frac,
            delta_v: 2.0 * displacement + 3.0 * u * lengths_sum,
        }
    }

    /// Reduced pair vector x_i − x_j (minimum over the centred cell), Cartesian.
    #[inline]
    pub(super) fn pair_vector(&self, geometry: &ReducedGeometry, i: usize, j: usize) -> Vec3 {
        let d = self.frac[i] - self.frac[j];
        geometry.reduced.matrix().tr_mul(&(d - d.map(f64::round)))
    }
}

impl<K: SplitKernel> EwaldSplit<K> {
    /// The same split behind a trait object (for the parts that are not per-term hot).
    fn erased(&self) -> EwaldSplit<&dyn SplitKernel> {
        EwaldSplit {
            kernel: &self.kernel,
            r_cut: self.r_cut,
            g_cut: self.g_cut,
            real_tail: self.real_tail,
            recip_tail: self.recip_tail,
        }
    }
}

/// A potential prepared for evaluation: its kernel, cut-offs and tails.
enum Prepared {
    Ewald(EwaldSplit),
    Screened(EwaldSplit<ScreenedCoulombKernel>),
    Exponential {
        kernel: ExponentialKernel,
        include_self: bool,
        r_cut: f64,
        tail: f64,
    },
}

impl Prepared {
    fn r_cut(&self) -> f64 {
        match self {
            Prepared::Ewald(s) => s.r_cut,
            Prepared::Screened(s) => s.r_cut,
            Prepared::Exponential { r_cut, .. } => *r_cut,
        }
    }

    /// The Ewald-type split, if the potential has one.
    fn split(&self) -> Option<EwaldSplit<&dyn SplitKernel>> {
        match self {
            Prepared::Ewald(s) => Some(s.erased()),
            Prepared::Screened(s) => Some(s.erased()),
            Prepared::Exponential { .. } => None,
        }
    }
}

fn prepare(
    potential: &Potential,
    geometry: &ReducedGeometry,
    n_atoms: usize,
    tail_budget: f64,
) -> Result<Prepared> {
    match *potential {
        Potential::InversePower(p) => Ok(Prepared::Ewald(choose_split(
            p,
            geometry,
            n_atoms,
            tail_budget / 2.0,
        )?)),
        Potential::Screened { kappa } => Ok(Prepared::Screened(choose_kernel_split(
            ScreenedCoulombKernel::new(kappa, 1.0, geometry.volume)?,
            geometry,
            n_atoms,
            (tail_budget / 2.0).max(SCREENED_MIN_TAIL),
        )?)),
        Potential::Exponential {
            alpha,
            include_self,
        } => {
            let tail_target = tail_budget;
            let r_cut = solve_radius(
                |r| exponential_tail(alpha, geometry, r),
                tail_target,
                (1.0 / tail_target).ln().max(1.0) / alpha,
            )
            .ok_or_else(|| {
                Error::Tolerance(format!("exp(-{alpha} r) tail cannot reach {tail_target:e}"))
            })?;
            Ok(Prepared::Exponential {
                kernel: ExponentialKernel { alpha },
                include_self,
                r_cut,
                tail: exponential_tail(alpha, geometry, r_cut),
            })
        }
    }
}

pub(super) fn validate(
    structure: &Structure,
    potentials: &[Potential],
    tol: Tolerance,
) -> Result<()> {
    if structure.pbc() != [true; 3] {
        return Err(Error::InvalidInput(format!(
            "complete lattice sums need a structure periodic in 3-D, got pbc = {:?}",
            structure.pbc()
        )));
    }
    let value = match tol {
        Tolerance::Absolute(t) | Tolerance::Relative(t) => t,
    };
    if !(value.is_finite() && value > 0.0) {
        return Err(Error::InvalidInput(format!(
            "tolerance must be finite and > 0, got {tol}"
        )));
    }
    if matches!(tol, Tolerance::Relative(r) if r < 8.0 * UNIT_ROUNDOFF) {
        return Err(Error::Tolerance(format!(
            "relative tolerance {value:e} is below what f64 can represent; the smallest \
             reachable is of order 1e-14"
        )));
    }
    for potential in potentials {
        match *potential {
            Potential::InversePower(p) => {
                InversePowerKernel::new(p, 1.0, 1.0)?;
            }
            Potential::Screened { kappa } => {
                ScreenedCoulombKernel::new(kappa, 1.0, 1.0)?;
            }
            Potential::Exponential { alpha, .. } => {
                if !(alpha.is_finite() && alpha > 0.0) {
                    return Err(Error::InvalidInput(format!(
                        "exponential decay rate must be finite and > 0, got alpha = {alpha}"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Complete lattice sums S(i, j) of every potential for every atom pair, each with a rigorous
/// error bound meeting `tol` (relative tolerances refer to the largest |entry| of each matrix).
/// The image enumeration, pair vectors and structure factors are shared by all potentials.
///
/// Errors: `InvalidInput` for bad potentials/tolerances, non-3-D-periodic structures or
/// coincident atoms; `Tolerance` when the requested accuracy is below the bounded rounding error.
pub fn pair_matrices(
    structure: &Structure,
    potentials: &[Potential],
    tol: Tolerance,
) -> Result<Vec<PairMatrix>> {
    validate(structure, potentials, tol)?;
    let geometry = ReducedGeometry::new(structure.lattice());
    let atoms = WrappedAtoms::new(structure, &geometry);
    let n = structure.len();
    let spacing = (geometry.volume / n as f64).cbrt();
    let mut targets: Vec<f64> = potentials
        .iter()
        .map(|potential| match tol {
            Tolerance::Absolute(t) => t,
            Tolerance::Relative(r) => {
                r * match *potential {
                    Potential::InversePower(p) => spacing.powf(-p),
                    // Nearest-image term plus the cell average 4π/(Vκ²), damped like the
                    // nearest image (which dominates for large κ).
                    Potential::Screened { kappa } => {
                        (-kappa * spacing).exp()
                            * (1.0 / spacing + 4.0 * PI / (geometry.volume * kappa * kappa))
                    }
                    Potential::Exponential {
                        alpha,
                        include_self,
                    } => {
                        if include_self {
                            1.0
                        } else {
                            (-alpha * spacing).exp()
                        }
                    }
                }
            }
        })
        .collect();
    let mut budgets: Vec<f64> = targets.iter().map(|t| TAIL_SHARE * t).collect();
    // Refinements: tail budgets once the rounding bound is known, and for relative tolerances
    // the target once the magnitude of the result is known.
    for _ in 0..4 {
        let results = evaluate(&geometry, &atoms, n, potentials, &budgets)?;
        let mut done = true;
        for (q, (m, rounding)) in results.iter().enumerate() {
            let required = match tol {
                Tolerance::Absolute(t) => t,
                Tolerance::Relative(rel) => {
                    // The exact largest |entry| is at least largest − bound.
                    let largest = m.values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                    if largest == 0.0 && m.error_bound > 0.0 {
                        return Err(Error::Tolerance(format!(
                            "{}: every entry is 0 to within {:e} (the terms underflow), so a \
                             relative tolerance cannot be met; give an absolute one",
                            potentials[q], m.error_bound
                        )));
                    }
                    let floor = largest - m.error_bound;
                    let required = rel * floor;
                    if m.error_bound > required {
                        targets[q] = 0.9 * rel * floor.max(0.5 * largest);
                    }
                    required
                }
            };
            if m.error_bound > required {
                done = false;
                if *rounding > 0.7 * targets[q] {
                    return Err(Error::Tolerance(format!(
                        "{}: {tol} needs an absolute error of {:e}, but the \
                         rounding error alone is bounded by {rounding:e}; the smallest reachable \
                         absolute tolerance is about {:e}",
                        potentials[q],
                        targets[q],
                        1.5 * rounding
                    )));
                }
                budgets[q] = (targets[q] - 1.2 * rounding).min(TAIL_SHARE * targets[q]);
            }
        }
        if done {
            return Ok(results.into_iter().map(|r| r.0).collect());
        }
    }
    Err(Error::Tolerance(format!(
        "{tol} not reached after refinement"
    )))
}

/// One evaluation of every potential with the given tail budgets: the matrices (with their
/// full error bound) and the rounding part of each bound.
fn evaluate(
    geometry: &ReducedGeometry,
    atoms: &WrappedAtoms,
    n: usize,
    potentials: &[Potential],
    budgets: &[f64],
) -> Result<Vec<(PairMatrix, f64)>> {
    let prepared = potentials
        .iter()
        .zip(budgets)
        .map(|(p, &t)| prepare(p, geometry, n, t))
        .collect::<Result<Vec<_>>>()?;
    let real = RealSpace::sum(geometry, atoms, n, &prepared)?;
    let recip = Reciprocal::sum(geometry, atoms, n, &prepared);
    let u = UNIT_ROUNDOFF;
    Ok(prepared
        .iter()
        .enumerate()
        .map(|(q, prep)| {
            let stats = &real.stats[q];
            let mut values = real.values[q].clone();
            let (tails, rounding) = match prep {
                Prepared::Ewald(split) => {
                    split_terms(split.erased(), &mut values, &real, stats, &recip, q, atoms)
                }
                Prepared::Screened(split) => {
                    split_terms(split.erased(), &mut values, &real, stats, &recip, q, atoms)
                }
                Prepared::Exponential {
                    kernel,
                    include_self,
                    tail,
                    ..
                } => {
                    // Σ_k |f'(r_k)| = α Σ f; each term 2 ops; summation of `hits` terms.
                    let sensitivity = kernel.alpha * stats.largest;
                    let real_round = stats.largest * (2.0 * OP_ERROR + u * stats.hits as f64)
                        + sensitivity * real.delta_r;
                    if *include_self {
                        for i in 0..n {
                            values[i * n + i] += 1.0;
                        }
                    }
                    let perturbation = atoms.delta_v * sensitivity;
                    let self_add = if *include_self {
                        u * (stats.largest + 1.0)
                    } else {
                        0.0
                    };
                    (*tail, real_round + perturbation + self_add)
                }
            };
            let matrix = PairMatrix {
                n,
                values,
                error_bound: tails + rounding,
            };
            (matrix, rounding)
        })
        .collect())
}

/// Adds the reciprocal part and both constants of an Ewald-type split to the real-space sums
/// `values` of potential `q`; returns (tail bound, rounding bound).
fn split_terms(
    split: EwaldSplit<&dyn SplitKernel>,
    values: &mut [f64],
    real: &RealSpace,
    stats: &RealStats,
    recip: &Reciprocal,
    q: usize,
    atoms: &WrappedAtoms,
) -> (f64, f64) {
    let u = UNIT_ROUNDOFF;
    let k = split.kernel;
    // Σ_k |f'(r_k)| over the evaluated terms of any pair, from |f'| ≤ f (a + c r) (for 1/r^p
    // a = (p+2)/r_min, c = 2η², see `log_derivative_bound`); the terms' relative rounding
    // ≤ a' + c' r likewise: both as a Σf + c Σfr.
    let (slope, slope_r) = k.log_derivative(real.r_min);
    let (term, term_r) = k.real_rounding(split.r_cut);
    let sensitivity = slope * stats.largest + slope_r * stats.largest_moment;
    // Terms: own evaluation error, error of r, summation of at most `hits` terms.
    let real_round = stats.largest * (term + u * stats.hits as f64)
        + term_r * stats.largest_moment
        + sensitivity * real.delta_r;
    let (c0, self_c, constants_error) = k.constants();
    let rs = &recip.stats[q];
    let n = atoms.frac.len();
    let (r, col) = (&recip.values, recip.slots[q] * n);
    for i in 0..n {
        for j in 0..n {
            values[i * n + j] += 0.5 * (r[(i, col + j)] + r[(j, col + i)]) + c0;
        }
        values[i * n + i] += self_c;
    }
    let perturbation = atoms.delta_v * (sensitivity + rs.sum_a_g);
    // The final additions; subnormal terms lose relative accuracy (≤ 4 × the smallest normal).
    let constants = constants_error
        + 4.0 * u * (stats.largest + rs.sum_a + c0.abs() + self_c.abs())
        + stats.hits as f64 * 4.0 * f64::MIN_POSITIVE / real.r_min;
    (
        split.real_tail + split.recip_tail,
        real_round + perturbation + rs.rounding + constants,
    )
}

/// Magnitudes of one potential's real-space sums, for the error bound.
#[derive(Clone, Copy, Default)]
struct RealStats {
    /// Largest Σ_k f(r_k) of any pair (all terms are positive).
    largest: f64,
    /// Largest Σ_k f(r_k) r_k of any pair.
    largest_moment: f64,
    /// Most terms summed for any pair.
    hits: usize,
}

impl RealStats {
    /// Σ f(r), Σ f(r) r and the count over the (r², r) within r² ≤ `cut2`.
    #[inline]
    fn of(distances: &[(f64, f64)], cut2: f64, term: impl Fn(f64) -> f64) -> Self {
        let (mut largest, mut largest_moment, mut hits) = (0.0, 0.0, 0);
        for &(r2, r) in distances {
            if r2 <= cut2 {
                let f = term(r);
                largest += f;
                largest_moment += f * r;
                hits += 1;
            }
        }
        RealStats {
            largest,
            largest_moment,
            hits,
        }
    }
}

/// Real-space sums of every potential over one shared image list.
struct RealSpace {
    /// Per potential, the N×N real-space sums (exponential: without the self term).
    values: Vec<Vec<f64>>,
    stats: Vec<RealStats>,
    /// Smallest distance at which any term was evaluated.
    r_min: f64,
    /// Bound on the rounding error of any computed |v + Lk|.
    delta_r: f64,
}

impl RealSpace {
    fn sum(
        geometry: &ReducedGeometry,
        atoms: &WrappedAtoms,
        n: usize,
        prepared: &[Prepared],
    ) -> Result<Self> {
        let cut: Vec<f64> = prepared.iter().map(Prepared::r_cut).collect();
        let cut2: Vec<f64> = cut.iter().map(|c| c * c).collect();
        let r_max = cut.iter().copied().fold(0.0, f64::max);
        let h = geometry.diameter / 2.0;
        let margin = 1e-9 * (r_max + h);
        let images = lattice_vectors_within(geometry, r_max + h + margin);
        let norms: Vec<f64> = images.iter().map(|p| p.cart.norm()).collect();
        let lengths = geometry.reduced.lengths();
        let lambda = images
            .iter()
            .map(|p: &LatticePoint| {
                (0..3)
                    .map(|d| p.index[d].abs() as f64 * lengths[d])
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        let mut values = vec![vec![0.0; n * n]; prepared.len()];
        let mut stats = vec![RealStats::default(); prepared.len()];
        let mut r_min = f64::INFINITY;
        let mut acc = vec![RealStats::default(); prepared.len()];
        let mut hits: Vec<f64> = Vec::with_capacity(images.len());
        let mut distances: Vec<(f64, f64)> = Vec::with_capacity(images.len());
        let r_max2 = r_max * r_max;
        // The diagonal is the same for every atom (v = 0): compute it once.
        let pairs =
            std::iter::once((0, 0)).chain((0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))));
        for (i, j) in pairs {
            let v = atoms.pair_vector(geometry, i, j);
            let reach = r_max + v.norm() + margin;
            // Distances² of the images inside the largest cut-off, then each potential's terms.
            hits.clear();
            for (image, &norm) in images.iter().zip(&norms) {
                if norm > reach {
                    break;
                }
                let r2 = (v + image.cart).norm_squared();
                if r2 <= r_max2 {
                    hits.push(r2);
                }
            }
            if let Some(zero) = hits.iter().position(|&r2| r2 == 0.0) {
                if i != j {
                    return Err(Error::InvalidInput(format!(
                        "atoms {i} and {j} coincide (modulo the lattice): the sums diverge"
                    )));
                }
                hits.swap_remove(zero);
            }
            // Distances once per image; each potential's terms accumulated in registers, with
            // the kernel chosen outside the loop.
            distances.clear();
            distances.extend(hits.iter().map(|&r2| (r2, r2.sqrt())));
            r_min = distances.iter().fold(r_min, |m, d| m.min(d.1));
            for ((a, prep), &c2) in acc.iter_mut().zip(prepared).zip(&cut2) {
                *a = match prep {
                    Prepared::Ewald(s) => RealStats::of(&distances, c2, |r| s.kernel.real_term(r)),
                    Prepared::Screened(s) => {
                        RealStats::of(&distances, c2, |r| s.kernel.real_term(r))
                    }
                    Prepared::Exponential { kernel, .. } => {
                        RealStats::of(&distances, c2, |r| kernel.term(r))
                    }
                };
            }
            for ((matrix, a), st) in values.iter_mut().zip(&acc).zip(stats.iter_mut()) {
                if i == j {
                    for k in 0..n {
                        matrix[k * n + k] = a.largest;
                    }
                } else {
                    matrix[i * n + j] = a.largest;
                    matrix[j * n + i] = a.largest;
                }
                st.largest = st.largest.max(a.largest);
                st.largest_moment = st.largest_moment.max(a.largest_moment);
                st.hits = st.hits.max(a.hits);
            }
        }
        let u = UNIT_ROUNDOFF;
        Ok(RealSpace {
            values,
            stats,
            r_min,
            // Lk (3 products), v + Lk, |·|², √: see the module doc of `bounds`.
            delta_r: u * (3.0 * lambda + 2.0 * (2.0 * h + r_max) + 2.0 * r_max),
        })
    }
}

/// Per-potential magnitudes of the reciprocal sum used by the error bound.
#[derive(Clone, Copy, Default)]
struct ReciprocalStats {
    /// Σ over G ≠ 0 (both ±G) of a(G).
    sum_a: f64,
    /// Σ a(G) |G| (sensitivity to the pair vector).
    sum_a_g: f64,
    /// Rounding bound of the reciprocal part of any entry.
    rounding: f64,
}

/// Reciprocal-space sums Σ_{G≠0} a(G) cos(G·(x_i − x_j)) of every Ewald potential.
struct Reciprocal {
    /// Row i, column slots[q]·N + j.
    values: DMatrix<f64>,
    /// Row block of potential q in `values` (Ewald potentials only).
    slots: Vec<usize>,
    stats: Vec<ReciprocalStats>,
}

impl Reciprocal {
    fn sum(
        geometry: &ReducedGeometry,
        atoms: &WrappedAtoms,
        n: usize,
        prepared: &[Prepared],
    ) -> Self {
        let g_max = prepared
            .iter()
            .map(|p| p.split().map_or(0.0, |s| s.g_cut))
            .fold(0.0, f64::max);
        let mut stats = vec![ReciprocalStats::default(); prepared.len()];
        // Row block of each Ewald potential in the stacked GEMM.
        let mut slots = vec![0; prepared.len()];
        let mut rows = 0;
        for (slot, prep) in slots.iter_mut().zip(prepared) {
            if prep.split().is_some() {
                *slot = rows;
                rows += 1;
            }
        }
        let g_list = if g_max > 0.0 {
            reciprocal_vectors_within(geometry, g_max)
        } else {
            Vec::new()
        };
        let m = g_list.len();
        if m == 0 {
            return Reciprocal {
                values: DMatrix::zeros(n, rows * n),
                stats,
                slots,
            };
        }
        // Phase factors e^{iG·x_i} = Π_d e^{2πi m_d f_d} from per-axis power tables.
        let reach: [usize; 3] = std::array::from_fn(|d| {
            g_list
                .iter()
                .map(|g| g.index[d].unsigned_abs() as usize)
                .max()
                .unwrap_or(0)
        });
        // Xᵀ (2M × N, column i contiguous): column-major writes stay sequential per atom.
        let mut xt = DMatrix::<f64>::zeros(2 * m, n);
        let mut tables: [Vec<(f64, f64)>; 3] = Default::default();
        for (i, f) in atoms.frac.iter().enumerate() {
            for d in 0..3 {
                let (s, c) = (TAU * f[d]).sin_cos();
                let table = &mut tables[d];
                table.clear();
                table.push((1.0, 0.0));
                for k in 1..=reach[d] {
                    let (re, im) = table[k - 1];
                    table.push((re * c - im * s, re * s + im * c));
                }
            }
            let power = |d: usize, k: i32| {
                let (re, im) = tables[d][k.unsigned_abs() as usize];
                (re, if k < 0 { -im } else { im })
            };
            for (col, g) in g_list.iter().enumerate() {
                let (a_re, a_im) = power(0, g.index[0]);
                let (b_re, b_im) = power(1, g.index[1]);
                let (c_re, c_im) = power(2, g.index[2]);
                let (ab_re, ab_im) = (a_re * b_re - a_im * b_im, a_re * b_im + a_im * b_re);
                xt[(col, i)] = ab_re * c_re - ab_im * c_im;
                xt[(m + col, i)] = ab_re * c_im + ab_im * c_re;
            }
        }
        // B = [diag(2 a_q) Xᵀ]_q side by side (2M × rows·N, column slot·N + i contiguous, so
        // it is filled by vectorisable column scalings), then one GEMM X B.
        let u = UNIT_ROUNDOFF;
        let mut twice_a = vec![0.0; m];
        let mut scaled = Vec::with_capacity(2 * m * rows * n);
        for (q, prep) in prepared.iter().enumerate() {
            let Some(split) = prep.split() else {
                continue;
            };
            let st = &mut stats[q];
            twice_a.fill(0.0);
            for (a2_slot, g) in twice_a.iter_mut().zip(&g_list) {
                let g2 = g.cart.norm_squared();
                if g2 > split.g_cut * split.g_cut {
                    break;
                }
                let (a, a_err) = split.kernel.recip_coeff_with_error(g2);
                let a2 = 2.0 * a;
                let l1 = g.index.iter().map(|k| k.abs() as f64).sum::<f64>();
                st.sum_a += a2;
                st.sum_a_g += a2 * g2.sqrt();
                // phase factors (≤ 4·OP_ERROR per complex product) of both atoms, the product,
                // the scaling and the 2M-term dot product
                st.rounding += a2
                    * (8.0 * OP_ERROR * (l1 + 3.0) + 2.0 * OP_ERROR + u * summation_depth(2 * m))
                    + 2.0 * a_err;
                *a2_slot = a2;
            }
            for phases in xt.as_slice().chunks_exact(2 * m) {
                let (cos, sin) = phases.split_at(m);
                scaled.extend(cos.iter().zip(&twice_a).map(|(x, a)| a * x));
                scaled.extend(sin.iter().zip(&twice_a).map(|(x, a)| a * x));
            }
        }
        let scaled = DMatrix::from_vec(2 * m, rows * n, scaled);
        let x = xt.transpose();
        // Blocks of `width` G columns keep the summation depth at width + blocks instead of 2M,
        // which is what the rounding bound above charges for (u · 4M ≥ 2u · (width + blocks)).
        let mut values = DMatrix::<f64>::zeros(n, rows * n);
        let width = summation_block(2 * m);
        for start in (0..2 * m).step_by(width) {
            let w = width.min(2 * m - start);
            values.gemm(1.0, &x.columns(start, w), &scaled.rows(start, w), 1.0);
        }
        Reciprocal {
            values,
            stats,
            slots,
        }
    }
}

/// Column-block width of the reciprocal GEMM: about √len, so the summation depth (what the
/// rounding bound charges) is ≈ 2√len instead of len.
fn summation_block(len: usize) -> usize {
    ((len as f64).sqrt().ceil() as usize).max(16)
}

/// Bound on the depth of the summation tree of one reciprocal entry over `len` columns.
fn summation_depth(len: usize) -> f64 {
    let width = summation_block(len);
    (width + len.div_ceil(width) + 1) as f64
}
