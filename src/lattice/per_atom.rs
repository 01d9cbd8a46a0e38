//! Per-atom complete sums without the N×N matrix: φ_ci = Σ_j w_cj S_p(i, j) for several
//! weight channels c, and the energy E = ½ Σ_cd M_cd Σ_ij w_ci w_dj S_p(i, j) with its exact
//! derivatives (forces, virial). Real space runs over a cell-list neighbour list, reciprocal
//! space over structure factors ρ_c(G) = Σ_i w_ci e^{iG·x_i}, so time grows as N^1.5 and
//! memory as N.
//!
//! The Ewald/Crandall pieces (real-space term g, reciprocal coefficient a(G²) including 1/V,
//! G = 0 constant c₀, self constant) are those of [`super::kernels::InversePowerKernel`].
//!
//! Energy and virial (W = −∂E/∂ε, x → (1+ε)x for positions and lattice):
//! - real: E = ½ Σ_{i,(j,k)} c_ij g(r), F_i = Σ c_ij g'(r) r̂_ij, W = −½ Σ c_ij g'(r) r r^T / r,
//!   with c_ij = Σ_cd M_cd w_ci w_dj and r̂_ij pointing from i to the image of j;
//! - reciprocal: E = ½ Σ_{G≠0} a Q(G), Q = Σ_cd M_cd Re[ρ_c ρ_d*],
//!   F_k = Σ_G a G Σ_cd M_cd w_ck Im[e^{iG·x_k} ρ_d*],
//!   W = ½ Σ_G Q (a 1 + 2 da/d(G²) G G^T) (a ∝ 1/V and G ∝ 1/L carry the strain dependence);
//! - G = 0: E = (c₀/2) Σ_cd M_cd W_c W_d with W_c = Σ_i w_ci, W = E 1 (c₀ ∝ 1/V);
//! - self: E = (c_self/2) Σ_i c_ii, strain-independent.
//!
//! Method. [`SumOptions::method`] chooses between this exact engine and smooth PME
//! ([`super::pme`], O(N log N), errors estimated, not bounded); [`Method::Auto`] (the default)
//! takes the exact engine unless its modelled cost exceeds [`PME_PREFERENCE`] times PME's.
//!
//! Error bounds ([`super::bounds`]). Real space: the packing count (atoms at least d_min apart
//! own disjoint balls), valid for every cell size, where the per-pair lattice count of the N×N
//! path would need the large diagonal of a supercell. Reciprocal space: the reciprocal-lattice
//! count, with |ρ_c(G)| ≤ ‖w_c‖₁.

use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};

use rayon::prelude::*;

use super::bounds::{real_space_tail, reciprocal_tail, solve_radius, LatticeCounting};
use super::kernels::{reciprocal_vectors_within, InversePowerKernel, ReducedGeometry};
use super::pme;
use crate::cell::{Mat3, Vec3};
use crate::error::{Error, Result};
use crate::neighbors::{ListKind, NeighborSearch};
use crate::structure::Structure;

/// Weight channels and their symmetric coupling matrix.
#[derive(Clone, Debug)]
pub struct Channels {
    /// `weights[c][i]`: weight of atom i in channel c.
    pub weights: Vec<Vec<f64>>,
    /// Row-major n_c × n_c symmetric coupling M.
    pub coupling: Vec<f64>,
}

impl Channels {
    /// One channel coupled to itself with strength `scale`: E = (scale/2) Σ_ij w_i w_j S(i,j).
    pub fn single(weights: Vec<f64>, scale: f64) -> Self {
        Channels {
            weights: vec![weights],
            coupling: vec![scale],
        }
    }

    fn count(&self) -> usize {
        self.weights.len()
    }

    fn m(&self, c: usize, d: usize) -> f64 {
        self.coupling[c * self.count() + d]
    }

    fn validate(&self, n_atoms: usize) -> Result<()> {
        let nc = self.count();
        if nc == 0 || self.coupling.len() != nc * nc {
            return Err(Error::InvalidInput(format!(
                "{nc} weight channels need a {nc}×{nc} coupling matrix, got {} values",
                self.coupling.len()
            )));
        }
        for (c, w) in self.weights.iter().enumerate() {
            if w.len() != n_atoms {
                return Err(Error::InvalidInput(format!(
                    "channel {c} has {} weights for {n_atoms} atoms",
                    w.len()
                )));
            }
            if w.iter().any(|x| !x.is_finite()) {
                return Err(Error::InvalidInput(format!(
                    "channel {c} has a NaN or infinite weight"
                )));
            }
        }
        for c in 0..nc {
            for d in 0..nc {
                if !self.m(c, d).is_finite() || self.m(c, d) != self.m(d, c) {
                    return Err(Error::InvalidInput(
                        "the coupling matrix must be finite and symmetric".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The channels whose energy is that of the atoms in `mask` only, with derivatives with
    /// respect to every atom. E_S = ½ Σ_{i∈S} Σ_j c_ij S(i,j) = ½ Σ_ij ½(m_i + m_j) c_ij S(i,j)
    /// because c and S are symmetric; ½(m_i + m_j) c_ij is the pair coefficient of the channels
    /// (w, m∘w) coupled by [[0, M/2], [M/2, 0]], so the ordinary sums differentiate E_S.
    fn restricted_to(&self, mask: &[bool]) -> Channels {
        let nc = self.count();
        let masked = self.weights.iter().map(|w| {
            w.iter()
                .zip(mask)
                .map(|(&x, &m)| if m { x } else { 0.0 })
                .collect()
        });
        let weights = self.weights.iter().cloned().chain(masked).collect();
        let mut coupling = vec![0.0; 4 * nc * nc];
        for c in 0..nc {
            for d in 0..nc {
                let half = 0.5 * self.m(c, d);
                coupling[c * 2 * nc + nc + d] = half;
                coupling[(nc + c) * 2 * nc + d] = half;
            }
        }
        Channels { weights, coupling }
    }

    /// e_i = ½ Σ_cd M_cd w_ci φ_di.
    fn atom_energy(&self, phi: &[Vec<f64>], i: usize) -> f64 {
        let nc = self.count();
        let sum: f64 = (0..nc)
            .map(|c| {
                let coupled: f64 = (0..nc).zip(phi).map(|(d, p)| self.m(c, d) * p[i]).sum();
                self.weights[c][i] * coupled
            })
            .sum();
        0.5 * sum
    }

    /// u_di = Σ_c M_cd w_ci, indexed `[d][i]`: c_ij = Σ_d u_di w_dj, and what multiplies
    /// the field of channel d in the force on atom i.
    pub(crate) fn coupled(&self) -> Vec<Vec<f64>> {
        let nc = self.count();
        let n = self.weights.first().map_or(0, Vec::len);
        (0..nc)
            .map(|d| {
                (0..n)
                    .map(|i| (0..nc).map(|c| self.m(c, d) * self.weights[c][i]).sum())
                    .collect()
            })
            .collect()
    }
}

/// Share `index` of `count` equal shares of the work of a sum, to spread one computation over
/// processes (MPI ranks) that all hold the whole structure. A share computes the real-space
/// terms of its block of centre atoms, its block of reciprocal vectors and, share 0 only, the
/// constant terms and the truncation bounds. φ, energies, per-atom energies, forces and virials
/// are linear in these terms, so those of all shares add up to the whole result, up to
/// rounding (the Ewald split depends on the structure only, never on the share).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    index: usize,
    count: usize,
}

impl Partition {
    /// All the work in one share.
    pub const WHOLE: Partition = Partition { index: 0, count: 1 };

    /// Share `index` (from 0) of `count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if index >= count {
            return Err(Error::InvalidInput(format!(
                "share index {index} of {count} shares: need 0 <= index < count"
            )));
        }
        Ok(Partition { index, count })
    }

    pub fn index(&self) -> usize {
        self.index
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether this share is the whole computation.
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// Whether this share carries the terms computed once (constants, truncation bounds).
    pub fn is_first(&self) -> bool {
        self.index == 0
    }

    /// This share's block of `n` items: the blocks of all shares tile 0..n in order and their
    /// sizes differ by at most one.
    pub fn block(&self, n: usize) -> Range<usize> {
        let bound = |k: usize| (k as u128 * n as u128 / self.count as u128) as usize;
        bound(self.index)..bound(self.index + 1)
    }
}

impl Default for Partition {
    fn default() -> Self {
        Partition::WHOLE
    }
}

/// How the reciprocal part of a sum is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Exact Ewald over structure factors, with rigorous error bounds (time ∝ N^1.5).
    Ewald,
    /// Smooth particle-mesh Ewald, with estimated errors (time ∝ N log N).
    Pme,
    /// The exact engine unless PME is modelled [`PME_PREFERENCE`] times cheaper.
    Auto,
}

impl std::str::FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ewald" => Ok(Method::Ewald),
            "pme" => Ok(Method::Pme),
            "auto" => Ok(Method::Auto),
            _ => Err(Error::InvalidInput(format!(
                "unknown summation method {s:?}: expected ewald, pme or auto"
            ))),
        }
    }
}

/// The price paid for rigorous bounds: [`Method::Auto`] keeps the exact engine while its
/// modelled cost is below this many times that of PME.
pub const PME_PREFERENCE: f64 = 4.0;

static DEFAULT_METHOD: AtomicU8 = AtomicU8::new(2);

/// Sets the method used by [`channel_sums`] and [`partial_channel_sums`] (and so by every model
/// built on them) in this process; [`Method::Auto`] unless set. For command-line overrides.
pub fn set_default_method(method: Method) {
    let code = match method {
        Method::Ewald => 0,
        Method::Pme => 1,
        Method::Auto => 2,
    };
    DEFAULT_METHOD.store(code, Ordering::Relaxed);
}

/// The method set by [`set_default_method`].
pub fn default_method() -> Method {
    match DEFAULT_METHOD.load(Ordering::Relaxed) {
        0 => Method::Ewald,
        1 => Method::Pme,
        _ => Method::Auto,
    }
}

/// What a sum is asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SumOptions {
    /// Accuracy of φ per unit of the largest weight (Å^-p). The exact engine bounds the error
    /// by it; PME keeps its estimated RMS errors of φ (Å^-p) and of the force on a unit weight
    /// (Å^-p-1) within it (for p = 1 that is LAMMPS's relative force accuracy).
    pub tolerance: f64,
    /// Whether forces and the virial are wanted.
    pub derivatives: bool,
    pub method: Method,
    /// Fixed PME parameters instead of those chosen from `tolerance` (with [`Method::Pme`]):
    /// for reproducible derivatives across structures, e.g. a fixed mesh through an MD run.
    pub pme_parameters: Option<PmeParameters>,
}

/// The parameters of one PME evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PmeParameters {
    /// Ewald splitting parameter η (1/Å).
    pub eta: f64,
    /// Real-space cut-off (Å).
    pub r_cut: f64,
    /// B-spline order (points per direction, ≥ 3).
    pub order: usize,
    /// Mesh points along the three vectors of the LLL-reduced cell (each ≥ order).
    pub mesh: [usize; 3],
}

impl SumOptions {
    /// `tolerance` and `derivatives` with the process default method ([`default_method`]).
    pub fn new(tolerance: f64, derivatives: bool) -> Self {
        SumOptions {
            tolerance,
            derivatives,
            method: default_method(),
            pme_parameters: None,
        }
    }
}

/// The method a sum used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MethodUsed {
    /// Exact Ewald: the `*_error_bound` fields are rigorous bounds.
    Ewald,
    /// Smooth PME with these parameters: the `*_error_bound` fields are estimates (RMS over
    /// atoms, random-position model), not bounds.
    Pme(PmeParameters),
}

/// Everything [`channel_sums`] computes.
#[derive(Clone, Debug)]
pub struct ChannelSums {
    /// φ_ci = Σ_j w_cj S(i, j), indexed `[c][i]`.
    pub phi: Vec<Vec<f64>>,
    /// Rigorous bound on max_i |φ_ci − exact| for each channel (an estimate with PME, see
    /// `method`).
    pub phi_error_bound: Vec<f64>,
    /// E = ½ Σ_i Σ_cd M_cd w_ci φ_di.
    pub energy: f64,
    /// Rigorous bound on |E − exact|.
    pub energy_error_bound: f64,
    /// e_i = ½ Σ_cd M_cd w_ci φ_di (sums to `energy`).
    pub per_atom_energies: Vec<f64>,
    /// −∂E/∂x_i, when derivatives were requested.
    pub forces: Option<Vec<Vec3>>,
    /// W = −∂E/∂ε, when derivatives were requested.
    pub virial: Option<Mat3>,
    /// Which method computed the sums (and so what the bounds mean).
    pub method: MethodUsed,
}

/// Computes per-atom sums of |r|^-p (p > 0, p ≠ 3) for the weight channels, with an absolute
/// accuracy `tolerance` on φ per unit of the largest weight (Å^-p), and the energy with its
/// forces and virial when `derivatives` is set.
pub fn channel_sums(
    structure: &Structure,
    power: f64,
    channels: &Channels,
    tolerance: f64,
    derivatives: bool,
) -> Result<ChannelSums> {
    channel_sums_with(
        structure,
        power,
        channels,
        &SumOptions::new(tolerance, derivatives),
    )
}

/// [`channel_sums`] with every option explicit.
pub fn channel_sums_with(
    structure: &Structure,
    power: f64,
    channels: &Channels,
    options: &SumOptions,
) -> Result<ChannelSums> {
    partial_channel_sums_with(structure, power, channels, None, Partition::WHOLE, options)
}

/// [`channel_sums`] of the energy E_S of the atoms whose `energy_atoms` entry is true (all
/// atoms if `None`; what an MPI rank owning those atoms needs), computed for one `share` of
/// the work. `energy` and its bound are those of E_S, `forces` and `virial` its derivatives
/// with respect to every atom, `per_atom_energies` the values of atoms in S and 0 elsewhere;
/// `phi` are the sums of the original channels. Every field but the bounds adds up over the
/// shares to the whole result; the bounds add up to a bound of the whole (truncation in
/// share 0, each share's own rounding).
pub fn partial_channel_sums(
    structure: &Structure,
    power: f64,
    channels: &Channels,
    energy_atoms: Option<&[bool]>,
    share: Partition,
    tolerance: f64,
    derivatives: bool,
) -> Result<ChannelSums> {
    let options = SumOptions::new(tolerance, derivatives);
    partial_channel_sums_with(structure, power, channels, energy_atoms, share, &options)
}

/// [`partial_channel_sums`] with every option explicit.
pub fn partial_channel_sums_with(
    structure: &Structure,
    power: f64,
    channels: &Channels,
    energy_atoms: Option<&[bool]>,
    share: Partition,
    options: &SumOptions,
) -> Result<ChannelSums> {
    let Some(mask) = energy_atoms else {
        return share_sums(structure, power, channels, options, share);
    };
    channels.validate(structure.len())?;
    if mask.len() != structure.len() {
        return Err(Error::InvalidInput(format!(
            "the energy-atom mask has {} entries for {} atoms",
            mask.len(),
            structure.len()
        )));
    }
    let nc = channels.count();
    let mut sums = share_sums(
        structure,
        power,
        &channels.restricted_to(mask),
        options,
        share,
    )?;
    sums.phi.truncate(nc);
    sums.phi_error_bound.truncate(nc);
    sums.per_atom_energies = mask
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            if m {
                channels.atom_energy(&sums.phi, i)
            } else {
                0.0
            }
        })
        .collect();
    Ok(sums)
}

/// Below this many atoms [`Method::Auto`] does not even consider PME (the exact engine is
/// then always the cheaper or close).
const MIN_PME_ATOMS: usize = 500;

/// The sums of one share of the work. Fails when the share's own bound exceeds the tolerance.
fn share_sums(
    structure: &Structure,
    power: f64,
    channels: &Channels,
    options: &SumOptions,
    share: Partition,
) -> Result<ChannelSums> {
    let tolerance = options.tolerance;
    channels.validate(structure.len())?;
    if structure.pbc() != [true; 3] {
        return Err(Error::InvalidStructure(
            "complete lattice sums need a cell periodic along a, b and c".into(),
        ));
    }
    let reduced = ReducedGeometry::new(structure.lattice());
    let kernel = InversePowerKernel::new(power, 1.0, reduced.volume)?;
    if !(tolerance > 0.0 && tolerance.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "tolerance must be positive and finite, got {tolerance}"
        )));
    }
    let consider_pme = match options.method {
        Method::Ewald => false,
        Method::Pme => true,
        Method::Auto => structure.len() >= MIN_PME_ATOMS,
    };
    let pme_choice = if let (Method::Pme, Some(fixed)) = (options.method, options.pme_parameters) {
        Some(pme::error::Choice::fixed(&kernel, &reduced, &fixed)?)
    } else if consider_pme {
        let work = pme::error::Workload {
            n_atoms: structure.len(),
            n_channels: channels.count(),
            derivatives: options.derivatives,
            mean_weight: weight_ratio(channels, |w| w.iter().sum::<f64>().abs()),
        };
        pme::error::choose(&kernel, &reduced, &work, pme_target(channels, tolerance))
    } else {
        None
    };
    let sums = match (options.method, pme_choice) {
        (Method::Pme, None) => {
            return Err(Error::Tolerance(format!(
                "PME reaches no estimated accuracy of {tolerance:e} per unit weight within its \
                 orders and mesh sizes; use the exact engine (method ewald)"
            )))
        }
        (Method::Pme, Some(choice)) => {
            pme_sums(structure, &reduced, &choice, channels, options, share)?
        }
        (_, choice) => {
            let geometry = Geometry::new(structure, channels)?;
            let split = choose_split(&kernel, &reduced, &geometry, tolerance)?;
            let exact_cost = split.cost * structure.len() as f64;
            match choice {
                Some(choice) if exact_cost > PME_PREFERENCE * choice.cost => {
                    pme_sums(structure, &reduced, &choice, channels, options, share)?
                }
                _ => exact_sums(structure, &reduced, &split, channels, options, share)?,
            }
        }
    };
    for (c, w) in channels.weights.iter().enumerate() {
        let max_w = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        if sums.phi_error_bound[c] > tolerance * max_w {
            return Err(Error::Tolerance(format!(
                "requested {tolerance:e} per unit weight, but double-precision rounding alone allows only {:.1e}",
                sums.phi_error_bound[c] / max_w
            )));
        }
    }
    Ok(sums)
}

/// The exact engine's sums of one share.
fn exact_sums(
    structure: &Structure,
    reduced: &ReducedGeometry,
    split: &Split,
    channels: &Channels,
    options: &SumOptions,
    share: Partition,
) -> Result<ChannelSums> {
    let mut acc = Accumulator::new(channels.count(), structure.len(), options.derivatives);
    real_space(
        structure,
        &split.kernel,
        split.r_cut,
        channels,
        share,
        &mut acc,
    )?;
    reciprocal_space(structure, reduced, split, channels, share, &mut acc);
    let truncation: Vec<f64> = if share.is_first() {
        constant_terms(&split.kernel, channels, &mut acc);
        channels
            .weights
            .iter()
            .map(|w| {
                let max_w = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                let norm1: f64 = w.iter().map(|x| x.abs()).sum();
                max_w * split.real_tail + norm1 * split.reciprocal_tail
            })
            .collect()
    } else {
        vec![0.0; channels.count()]
    };
    Ok(acc.finish(channels, &truncation, structure.len(), MethodUsed::Ewald))
}

/// PME's sums of one share: real space by centre blocks, the mesh part and the constants in
/// share 0 (they are O(N log N) anyway). The estimated errors stand in the bound fields.
fn pme_sums(
    structure: &Structure,
    reduced: &ReducedGeometry,
    choice: &pme::error::Choice,
    channels: &Channels,
    options: &SumOptions,
    share: Partition,
) -> Result<ChannelSums> {
    let mut acc = Accumulator::new(channels.count(), structure.len(), options.derivatives);
    real_space(
        structure,
        &choice.kernel,
        choice.r_cut,
        channels,
        share,
        &mut acc,
    )?;
    let truncation: Vec<f64> = if share.is_first() {
        pme::reciprocal(structure.positions(), reduced, choice, channels, &mut acc);
        constant_terms(&choice.kernel, channels, &mut acc);
        channels
            .weights
            .iter()
            .map(|w| {
                let norm2 = w.iter().map(|x| x * x).sum::<f64>().sqrt();
                let total = w.iter().sum::<f64>().abs();
                choice.estimate.phi * norm2 + choice.estimate.phi_mean * total
            })
            .collect()
    } else {
        vec![0.0; channels.count()]
    };
    let method = MethodUsed::Pme(PmeParameters {
        eta: choice.kernel.eta,
        r_cut: choice.r_cut,
        order: choice.order,
        mesh: choice.dims,
    });
    Ok(acc.finish(channels, &truncation, structure.len(), method))
}

/// max_c size(w_c) / √(Σ w_c²): how a measure of a channel (here |Σ w|)
/// compares with its norm, for PME's systematic error term.
fn weight_ratio(channels: &Channels, size: impl Fn(&[f64]) -> f64) -> f64 {
    channels
        .weights
        .iter()
        .map(|w| {
            let norm2 = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm2 > 0.0 {
                size(w) / norm2
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// PME's target per unit √(Σ w²): the tolerance per unit of the largest weight, for the
/// channel where that is tightest.
fn pme_target(channels: &Channels, tolerance: f64) -> f64 {
    channels
        .weights
        .iter()
        .filter_map(|w| {
            let max_w = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let norm2 = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            (max_w > 0.0).then(|| tolerance * max_w / norm2)
        })
        .fold(f64::INFINITY, f64::min)
}

/// What the split choice and the bounds need to know about the atoms and the weights.
struct Geometry {
    n_atoms: usize,
    /// Smallest distance between two atoms or an atom and its image.
    d_min: f64,
    /// max_c ‖w_c‖₁ / max|w_c|: how many atoms effectively add up in reciprocal space.
    effective_count: f64,
}

impl Geometry {
    fn new(structure: &Structure, channels: &Channels) -> Result<Self> {
        let effective_count = channels
            .weights
            .iter()
            .map(|w| {
                let max = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                if max == 0.0 {
                    1.0
                } else {
                    w.iter().map(|x| x.abs()).sum::<f64>() / max
                }
            })
            .fold(1.0, f64::max);
        Ok(Geometry {
            n_atoms: structure.len(),
            d_min: crate::neighbors::min_distance(structure)?
                .map(|(d, _, _)| d)
                .ok_or_else(|| Error::InvalidStructure("no periodic neighbours".into()))?,
            effective_count,
        })
    }
}

/// Splitting parameter (inside the kernel) and cutoffs, with the tail bounds they achieve.
struct Split {
    kernel: InversePowerKernel,
    r_cut: f64,
    g_cut: f64,
    /// Bound on Σ of g over atom images beyond r_cut (per unit weight).
    real_tail: f64,
    /// Bound on Σ_{|G| > g_cut} a(G) (per unit of ‖w‖₁).
    reciprocal_tail: f64,
    /// Modelled cost per atom (units of one reciprocal term per atom).
    cost: f64,
}

/// Relative cost of one real-space pair (neighbour-list entry plus an incomplete gamma) and of
/// one reciprocal vector per atom (two complex products and the channel sums), measured on
/// this machine (the ratio 50 was the fastest of 25, 50 and 80 on the 10⁴-atom benchmark).
const REAL_TERM_COST: f64 = 50.0;
const RECIPROCAL_TERM_COST: f64 = 1.0;

/// The cheapest η (on a log grid around the classic optimum) whose cutoffs meet the tolerance:
/// 45 % of it for each tail, 10 % left for rounding.
fn choose_split(
    base: &InversePowerKernel,
    reduced: &ReducedGeometry,
    geo: &Geometry,
    tolerance: f64,
) -> Result<Split> {
    let packing = LatticeCounting::packing(geo.d_min);
    let real_target = 0.45 * tolerance;
    let recip_target = 0.45 * tolerance / geo.effective_count;
    let density = geo.n_atoms as f64 / reduced.volume;
    let eta0 = std::f64::consts::PI.sqrt() * (density / reduced.volume).powf(1.0 / 6.0);
    let mut best: Option<(f64, Split)> = None;
    for step in 0..=60 {
        let kernel = base.with_eta(eta0 * 10f64.powf(-1.5 + 3.0 * step as f64 / 60.0));
        let real = |r: f64| real_space_tail(&kernel, &packing, r);
        let recip = |g: f64| reciprocal_tail(&kernel, reduced, g);
        let (Some(r_cut), Some(g_cut)) = (
            solve_radius(real, real_target, geo.d_min),
            solve_radius(recip, recip_target, reduced.reciprocal_diameter),
        ) else {
            continue;
        };
        let real_terms = 4.0 / 3.0 * std::f64::consts::PI * r_cut.powi(3) * density;
        let recip_terms = g_cut.powi(3) * reduced.volume / (6.0 * std::f64::consts::PI.powi(2));
        let cost = REAL_TERM_COST * real_terms + RECIPROCAL_TERM_COST * recip_terms;
        if best.as_ref().is_none_or(|(c, _)| cost < *c) {
            let split = Split {
                kernel,
                r_cut,
                g_cut,
                real_tail: real(r_cut),
                reciprocal_tail: recip(g_cut),
                cost,
            };
            best = Some((cost, split));
        }
    }
    best.map(|(_, s)| s).ok_or_else(|| {
        Error::Tolerance(format!(
            "no Ewald split reaches {tolerance:e}; the smallest reachable tolerance is about 1e-15 of the sum"
        ))
    })
}

/// Running sums of φ, forces and virial, plus Σ|term| for the rounding bound.
pub(crate) struct Accumulator {
    pub(crate) phi: Vec<Vec<f64>>,
    pub(crate) abs_phi: Vec<Vec<f64>>,
    pub(crate) forces: Option<Vec<Vec3>>,
    pub(crate) virial: Mat3,
    pub(crate) derivatives: bool,
    /// Longest chain of additions into one φ_ci (for the rounding bound).
    chain: usize,
    /// Bound on the rounding of the structure factors, per unit of ‖w‖₁.
    structure_factor_rounding: f64,
}

impl Accumulator {
    fn new(n_channels: usize, n_atoms: usize, derivatives: bool) -> Self {
        Accumulator {
            phi: vec![vec![0.0; n_atoms]; n_channels],
            abs_phi: vec![vec![0.0; n_atoms]; n_channels],
            forces: derivatives.then(|| vec![Vec3::zeros(); n_atoms]),
            virial: Mat3::zeros(),
            derivatives,
            chain: 8,
            structure_factor_rounding: 0.0,
        }
    }

    /// The sums and their bounds, given each channel's truncation error of φ.
    fn finish(
        self,
        channels: &Channels,
        truncation: &[f64],
        n: usize,
        method: MethodUsed,
    ) -> ChannelSums {
        let nc = channels.count();
        let norm1: Vec<f64> = channels
            .weights
            .iter()
            .map(|w| w.iter().map(|x| x.abs()).sum())
            .collect();
        // Recursive summation of m terms errs by at most γ_m Σ|terms|, γ_m = m ε / (1 − m ε);
        // `chain` bounds the longest chain of additions into any φ_ci.
        let m = self.chain as f64;
        let gamma_m = m * f64::EPSILON / (1.0 - m * f64::EPSILON);
        let phi_error_bound: Vec<f64> = (0..nc)
            .map(|c| {
                let rounding = self.abs_phi[c].iter().fold(0.0f64, |m, x| m.max(*x)) * gamma_m
                    + self.structure_factor_rounding * norm1[c];
                truncation[c] + rounding
            })
            .collect();
        let per_atom_energies: Vec<f64> =
            (0..n).map(|i| channels.atom_energy(&self.phi, i)).collect();
        let energy = per_atom_energies.iter().sum::<f64>();
        let mut energy_error_bound = f64::EPSILON * n as f64 * energy.abs();
        for (c, n1) in norm1.iter().enumerate() {
            for (d, bound) in phi_error_bound.iter().enumerate() {
                energy_error_bound += 0.5 * channels.m(c, d).abs() * n1 * bound;
            }
        }
        ChannelSums {
            phi: self.phi,
            phi_error_bound,
            energy,
            energy_error_bound,
            per_atom_energies,
            forces: self.forces,
            virial: self.derivatives.then_some(self.virial),
            method,
        }
    }
}

/// Real-space terms over every atom image within r_cut. Each pair is evaluated once, by the
/// centre that owns it ([`NeighborSearch::for_each_owned_pair`]), and added to both atoms
/// (the coupling is symmetric, so c_ij = c_ji): half the kernel evaluations of a full list.
/// Blocks of centres run in parallel, each into its own accumulator, added up at the end.
fn real_space(
    structure: &Structure,
    kernel: &InversePowerKernel,
    r_cut: f64,
    channels: &Channels,
    share: Partition,
    acc: &mut Accumulator,
) -> Result<()> {
    let search = NeighborSearch::new(structure, r_cut, ListKind::Full)?;
    let n = structure.len();
    let centres: Vec<usize> = share.block(n).collect();
    let nc = channels.count();
    let derivatives = acc.derivatives;
    let coupled = channels.coupled();
    let chunk = centres.len().div_ceil(rayon::current_num_threads()).max(1);
    let block = |part: &[usize]| -> Result<RealSums> {
        let mut out = RealSums::new(nc, n, derivatives);
        for &i in part {
            search.for_each_owned_pair(i, |j, r_vec, r| {
                out.terms[i] += 1;
                out.terms[j] += 1;
                let (g, dg) = kernel.real_term_and_derivative(r);
                for c in 0..nc {
                    let (ti, tj) = (channels.weights[c][j] * g, channels.weights[c][i] * g);
                    out.phi[c][i] += ti;
                    out.abs_phi[c][i] += ti.abs();
                    out.phi[c][j] += tj;
                    out.abs_phi[c][j] += tj.abs();
                }
                if derivatives {
                    let cij: f64 = (0..nc)
                        .map(|d| coupled[d][i] * channels.weights[d][j])
                        .sum();
                    let s = cij * dg / r;
                    let f = r_vec * s;
                    out.forces[i] += f;
                    out.forces[j] -= f;
                    out.virial -= r_vec * f.transpose();
                }
            })?;
        }
        Ok(out)
    };
    let total = centres
        .par_chunks(chunk)
        .map(block)
        .try_reduce_with(|mut a, b| {
            a.add(&b);
            Ok(a)
        })
        .transpose()?;
    let Some(total) = total else {
        return Ok(());
    };
    acc.chain += total.terms.iter().copied().max().unwrap_or(0);
    for c in 0..nc {
        for i in 0..n {
            acc.phi[c][i] += total.phi[c][i];
            acc.abs_phi[c][i] += total.abs_phi[c][i];
        }
    }
    if let Some(f) = acc.forces.as_mut() {
        f.iter_mut().zip(&total.forces).for_each(|(a, b)| *a += b);
    }
    acc.virial += total.virial;
    Ok(())
}

/// One block's real-space sums over all atoms (a pair adds to both of its atoms).
struct RealSums {
    phi: Vec<Vec<f64>>,
    abs_phi: Vec<Vec<f64>>,
    forces: Vec<Vec3>,
    virial: Mat3,
    /// Terms added into each atom's φ (for the rounding bound's chain length).
    terms: Vec<usize>,
}

impl RealSums {
    fn new(nc: usize, n: usize, derivatives: bool) -> Self {
        RealSums {
            phi: vec![vec![0.0; n]; nc],
            abs_phi: vec![vec![0.0; n]; nc],
            forces: vec![Vec3::zeros(); if derivatives { n } else { 0 }],
            virial: Mat3::zeros(),
            terms: vec![0; n],
        }
    }

    fn add(&mut self, other: &RealSums) {
        let add = |a: &mut [f64], b: &[f64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        for (a, b) in self.phi.iter_mut().zip(&other.phi) {
            add(a, b);
        }
        for (a, b) in self.abs_phi.iter_mut().zip(&other.abs_phi) {
            add(a, b);
        }
        self.forces
            .iter_mut()
            .zip(&other.forces)
            .for_each(|(a, b)| *a += b);
        self.virial += other.virial;
        self.terms
            .iter_mut()
            .zip(&other.terms)
            .for_each(|(a, b)| *a += b);
    }
}

/// Phase factors e^{i n b_m·x_i} for every basis vector m, power n in [−n_max_m, n_max_m] and
/// atom i, laid out `[m][n + n_max_m][i]` so that a G-vector loop over atoms is contiguous.
struct Phases {
    n_max: [i32; 3],
    re: [Vec<Vec<f64>>; 3],
    im: [Vec<Vec<f64>>; 3],
}

impl Phases {
    fn new(reciprocal: &Mat3, positions: &[Vec3], n_max: [i32; 3]) -> Self {
        let table = |m: usize, part: fn(f64, f64) -> f64| {
            let b = reciprocal.row(m).transpose();
            (-n_max[m]..=n_max[m])
                .map(|n| {
                    positions
                        .iter()
                        .map(|x| {
                            let phase = n as f64 * b.dot(x);
                            part(phase.cos(), phase.sin())
                        })
                        .collect()
                })
                .collect()
        };
        Phases {
            n_max,
            re: [0, 1, 2].map(|m| table(m, |c, _| c)),
            im: [0, 1, 2].map(|m| table(m, |_, s| s)),
        }
    }

    /// e^{iG·x_i} for all atoms into (re, im).
    fn fill(&self, g: [i32; 3], re: &mut [f64], im: &mut [f64]) {
        let k = |m: usize| (g[m] + self.n_max[m]) as usize;
        let (ar, ai) = (&self.re[0][k(0)], &self.im[0][k(0)]);
        let (br, bi) = (&self.re[1][k(1)], &self.im[1][k(1)]);
        let (cr, ci) = (&self.re[2][k(2)], &self.im[2][k(2)]);
        for i in 0..re.len() {
            let (xr, xi) = (ar[i] * br[i] - ai[i] * bi[i], ar[i] * bi[i] + ai[i] * br[i]);
            re[i] = xr * cr[i] - xi * ci[i];
            im[i] = xr * ci[i] + xi * cr[i];
        }
    }
}

/// Reciprocal-space terms through structure factors, in parallel over G vectors.
fn reciprocal_space(
    structure: &Structure,
    reduced: &ReducedGeometry,
    split: &Split,
    channels: &Channels,
    share: Partition,
    acc: &mut Accumulator,
) {
    // One of each ±G: both contribute equally, hence the factor 2 below.
    let all = reciprocal_vectors_within(reduced, split.g_cut);
    let vectors = &all[share.block(all.len())];
    let n_max = [0, 1, 2].map(|m| vectors.iter().map(|g| g.index[m].abs()).max().unwrap_or(0));
    let phases = Phases::new(&reduced.reciprocal, structure.positions(), n_max);
    let n = structure.len();
    let nc = channels.count();
    let derivatives = acc.derivatives;
    let kernel = &split.kernel;
    // u_dk = Σ_c M_cd w_ck: what multiplies Im[z_k ρ_d*] in the force.
    let u = channels.coupled();
    let empty = || Accumulator::new(nc, n, derivatives);
    const CHUNK: usize = 64;
    let total = vectors
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut local = empty();
            let mut zr = vec![0.0; n];
            let mut zi = vec![0.0; n];
            let mut rho = vec![(0.0, 0.0); nc];
            for point in chunk {
                let g = point.cart;
                let a = kernel.recip_coeff(g.norm_squared());
                phases.fill(point.index, &mut zr, &mut zi);
                for (c, r) in rho.iter_mut().enumerate() {
                    let w = &channels.weights[c];
                    *r = (0..n).fold((0.0, 0.0), |(a, b), i| (a + w[i] * zr[i], b + w[i] * zi[i]));
                }
                let factor = 2.0 * a;
                local.structure_factor_rounding += factor.abs();
                for (c, &(pr, pi)) in rho.iter().enumerate() {
                    let (phi, abs_phi) = (&mut local.phi[c], &mut local.abs_phi[c]);
                    for i in 0..n {
                        let t = factor * (zr[i] * pr + zi[i] * pi);
                        phi[i] += t;
                        abs_phi[i] += t.abs();
                    }
                }
                if let Some(forces) = local.forces.as_mut() {
                    for (k, f) in forces.iter_mut().enumerate() {
                        let s: f64 = (0..nc)
                            .map(|d| u[d][k] * (zi[k] * rho[d].0 - zr[k] * rho[d].1))
                            .sum();
                        *f += g * (factor * s);
                    }
                    let mut q = 0.0;
                    for c in 0..nc {
                        for d in 0..nc {
                            q += channels.m(c, d) * (rho[c].0 * rho[d].0 + rho[c].1 * rho[d].1);
                        }
                    }
                    let da = kernel.recip_coeff_derivative(g.norm_squared());
                    local.virial += (Mat3::identity() * a + g * g.transpose() * (2.0 * da)) * q;
                }
            }
            local
        })
        .reduce(empty, |a, b| a.merge(b));
    // Each ρ_c(G) is a sum of N products of phases computed with a few roundings each.
    let rho_error = (n + 8) as f64 * f64::EPSILON;
    acc.structure_factor_rounding +=
        total.structure_factor_rounding * rho_error / (1.0 - rho_error);
    acc.chain += CHUNK + vectors.len().div_ceil(CHUNK);
    acc.absorb(total);
}

/// The G = 0 term and the removal of the k = 0 self term.
fn constant_terms(kernel: &InversePowerKernel, channels: &Channels, acc: &mut Accumulator) {
    let zero = kernel.g0_constant();
    let self_term = kernel.self_constant();
    let totals: Vec<f64> = channels.weights.iter().map(|w| w.iter().sum()).collect();
    let mut e0 = 0.0;
    for (c, w) in channels.weights.iter().enumerate() {
        for (i, (phi, abs)) in acc.phi[c].iter_mut().zip(&mut acc.abs_phi[c]).enumerate() {
            let t = (zero * totals[c], self_term * w[i]);
            *phi += t.0 + t.1;
            *abs += t.0.abs() + t.1.abs();
        }
        for (d, total_d) in totals.iter().enumerate() {
            e0 += 0.5 * zero * channels.m(c, d) * totals[c] * total_d;
        }
    }
    if acc.derivatives {
        acc.virial += Mat3::identity() * e0;
    }
}

impl Accumulator {
    fn merge(mut self, other: Accumulator) -> Accumulator {
        self.absorb(other);
        self
    }

    fn absorb(&mut self, other: Accumulator) {
        for (a, b) in self.phi.iter_mut().zip(&other.phi) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        for (a, b) in self.abs_phi.iter_mut().zip(&other.abs_phi) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        if let (Some(a), Some(b)) = (self.forces.as_mut(), other.forces.as_ref()) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        self.virial += other.virial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Lattice;
    use crate::structure::tests::{moved, rocksalt, strained};

    fn charges(s: &Structure) -> Vec<f64> {
        s.numbers()
            .iter()
            .map(|&z| if z == 11 { 1.0 } else { -1.0 })
            .collect()
    }

    #[test]
    fn madelung_constants_of_rock_salt_and_cesium_chloride() {
        let nacl = rocksalt(5.64);
        let sums = channel_sums(
            &nacl,
            1.0,
            &Channels::single(charges(&nacl), 1.0),
            1e-12,
            false,
        )
        .unwrap();
        let m = -(sums.energy / 4.0) * 2.82;
        assert!((m / 1.747564594633182 - 1.0).abs() < 1e-12, "{m}");
        assert!(
            sums.energy_error_bound < 1e-11 * sums.energy.abs(),
            "{}",
            sums.energy_error_bound
        );

        let a = 4.12;
        let l = Lattice::from_rows([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]).unwrap();
        let cscl = Structure::from_fractional(
            l,
            vec![55, 17],
            &[Vec3::zeros(), Vec3::repeat(0.5)],
            [true; 3],
        )
        .unwrap();
        let sums = channel_sums(
            &cscl,
            1.0,
            &Channels::single(vec![1.0, -1.0], 1.0),
            1e-12,
            false,
        )
        .unwrap();
        let m = -sums.energy * a * 3f64.sqrt() / 2.0;
        assert!((m / 1.762674773070989 - 1.0).abs() < 1e-12, "{m}");
    }

    /// A rattled, strained rock-salt cell with a non-neutral weight channel and a second,
    /// coupled channel: exercises every term (G = 0 included).
    fn rattled() -> (Structure, Channels) {
        let base = rocksalt(5.64);
        let l = Lattice::from_matrix(
            Mat3::new(1.0, 0.03, -0.02, 0.01, 0.97, 0.04, -0.03, 0.02, 1.05)
                * base.lattice().matrix(),
        )
        .unwrap();
        let frac: Vec<Vec3> = base
            .fractional_positions()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                f + Vec3::new(
                    0.013 * (i as f64).sin(),
                    -0.011 * (i as f64 * 1.7).cos(),
                    0.007 * i as f64 / 8.0,
                )
            })
            .collect();
        let s = Structure::from_fractional(l, base.numbers().to_vec(), &frac, [true; 3]).unwrap();
        let w1: Vec<f64> = (0..8).map(|i| if i < 4 { 1.2 } else { -0.9 }).collect();
        let w2: Vec<f64> = (0..8).map(|i| 0.5 + 0.1 * i as f64).collect();
        (
            s,
            Channels {
                weights: vec![w1, w2],
                coupling: vec![1.0, -0.4, -0.4, 0.7],
            },
        )
    }

    #[test]
    fn forces_and_virial_are_minus_the_energy_gradient() {
        let (s, ch) = rattled();
        for p in [1.0, 6.0, 2.5, 4.2] {
            let energy = |s: &Structure| channel_sums(s, p, &ch, 1e-11, false).unwrap().energy;
            let full = channel_sums(&s, p, &ch, 1e-11, true).unwrap();
            let forces = full.forces.unwrap();
            let virial = full.virial.unwrap();
            let h = 1e-5;
            let scale = forces.iter().map(|f| f.norm()).fold(0.0, f64::max);
            for atom in [0, 3, 6] {
                for (axis, analytic) in forces[atom].iter().enumerate() {
                    let fd = -(energy(&moved(&s, atom, axis, h))
                        - energy(&moved(&s, atom, axis, -h)))
                        / (2.0 * h);
                    let err = (fd - analytic).abs();
                    assert!(
                        err < 1e-6 * scale,
                        "p={p} atom {atom} axis {axis}: fd {fd} analytic {analytic}"
                    );
                }
            }
            let vscale = virial.abs().max();
            for a in 0..3 {
                for b in a..3 {
                    let mut eps = Mat3::zeros();
                    eps[(a, b)] = h;
                    eps[(b, a)] = h;
                    let fd =
                        -(energy(&strained(&s, &eps)) - energy(&strained(&s, &(-eps)))) / (2.0 * h);
                    let analytic = if a == b {
                        virial[(a, a)]
                    } else {
                        virial[(a, b)] + virial[(b, a)]
                    };
                    assert!(
                        (fd - analytic).abs() < 1e-6 * vscale,
                        "p={p} W[{a}{b}] fd {fd} analytic {analytic}"
                    );
                }
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_split_and_respect_the_bound() {
        let (s, ch) = rattled();
        for p in [1.0, 6.0, 1.7] {
            let tight = channel_sums(&s, p, &ch, 1e-12, false).unwrap();
            for tol in [1e-4, 1e-7, 1e-10] {
                let loose = channel_sums(&s, p, &ch, tol, false).unwrap();
                for c in 0..2 {
                    for i in 0..s.len() {
                        let err = (loose.phi[c][i] - tight.phi[c][i]).abs();
                        let bound = loose.phi_error_bound[c] + tight.phi_error_bound[c];
                        assert!(
                            err <= bound,
                            "p={p} tol={tol} c={c} i={i}: {err:e} > {bound:e}"
                        );
                        assert!(
                            loose.phi_error_bound[c] <= 1.2 * tol,
                            "{}",
                            loose.phi_error_bound[c]
                        );
                    }
                }
                let err = (loose.energy - tight.energy).abs();
                assert!(err <= loose.energy_error_bound + tight.energy_error_bound);
            }
        }
    }

    #[test]
    fn dispersion_matches_a_brute_force_sum() {
        let (s, ch) = rattled();
        let sums = channel_sums(&s, 6.0, &ch, 1e-12, false).unwrap();
        // Direct sum over images within 60 Å plus a rigorous bound on the rest.
        let list = crate::neighbors::NeighborList::build(&s, 60.0).unwrap();
        for i in [0, 5] {
            let direct: f64 = list
                .pairs_of(i)
                .iter()
                .map(|p| ch.weights[1][p.j] * p.distance.powi(-6))
                .sum();
            let d = 2.0;
            let v_ball = 4.0 / 3.0 * std::f64::consts::PI * (d / 2.0f64).powi(3);
            let a = 60.0 - d;
            let tail = 4.0 * std::f64::consts::PI / v_ball * 1.3 * (1.0 + d / (2.0 * a)).powi(2)
                / (3.0 * a.powi(3));
            let err = (direct - sums.phi[1][i]).abs();
            assert!(err <= tail + sums.phi_error_bound[1], "{err:e} > {tail:e}");
        }
    }

    #[test]
    fn supercell_energy_is_extensive() {
        let (s, ch) = rattled();
        let sc = s.supercell([2, 1, 2]).unwrap();
        let rep = |w: &Vec<f64>| {
            w.iter()
                .cycle()
                .take(4 * w.len())
                .copied()
                .collect::<Vec<f64>>()
        };
        let ch4 = Channels {
            weights: ch.weights.iter().map(rep).collect(),
            coupling: ch.coupling.clone(),
        };
        for p in [1.0, 6.0] {
            let unit = channel_sums(&s, p, &ch, 1e-11, false).unwrap();
            let big = channel_sums(&sc, p, &ch4, 1e-11, false).unwrap();
            let err = (big.energy - 4.0 * unit.energy).abs();
            assert!(
                err <= big.energy_error_bound + 4.0 * unit.energy_error_bound,
                "p={p}: {err:e}"
            );
            assert!(err < 1e-9 * unit.energy.abs().max(1.0), "p={p}: {err:e}");
        }
    }

    #[test]
    fn share_blocks_tile_the_items_evenly() {
        for count in 1..=5 {
            for n in [0, 1, 7, 64, 1001] {
                let blocks: Vec<Range<usize>> = (0..count)
                    .map(|index| Partition::new(index, count).unwrap().block(n))
                    .collect();
                assert_eq!(blocks[0].start, 0);
                assert_eq!(blocks[count - 1].end, n);
                assert!(blocks.windows(2).all(|b| b[0].end == b[1].start));
                let sizes = blocks.iter().map(|b| b.len());
                assert!(sizes.clone().max().unwrap() - sizes.min().unwrap() <= 1);
            }
        }
        assert_eq!(Partition::default(), Partition::WHOLE);
        assert!(Partition::new(2, 2)
            .unwrap_err()
            .to_string()
            .contains("share index 2 of 2"));
        assert!(Partition::new(0, 0).is_err());
    }

    #[test]
    fn bad_input_is_rejected_with_a_reason() {
        let (s, ch) = rattled();
        let msg = |r: Result<ChannelSums>| r.unwrap_err().to_string();
        assert!(msg(channel_sums(&s, 3.0, &ch, 1e-8, false)).contains("pole"));
        assert!(msg(channel_sums(&s, -1.0, &ch, 1e-8, false)).contains("must be finite and > 0"));
        assert!(msg(channel_sums(&s, 1.0, &ch, 0.0, false)).contains("tolerance"));
        assert!(msg(channel_sums(&s, 1.0, &ch, 1e-17, false)).contains("rounding alone"));
        let short = Channels::single(vec![1.0; 3], 1.0);
        assert!(msg(channel_sums(&s, 1.0, &short, 1e-8, false)).contains("3 weights for 8 atoms"));
        let asym = Channels {
            weights: ch.weights.clone(),
            coupling: vec![1.0, 0.2, 0.3, 1.0],
        };
        assert!(msg(channel_sums(&s, 1.0, &asym, 1e-8, false)).contains("symmetric"));
        let slab = Structure::new(
            *s.lattice(),
            s.numbers().to_vec(),
            s.positions().to_vec(),
            [true, true, false],
        )
        .unwrap();
        assert!(msg(channel_sums(&slab, 1.0, &ch, 1e-8, false)).contains("periodic"));
        let mut pos = s.positions().to_vec();
        pos[1] = pos[0];
        let overlap = Structure::new(*s.lattice(), s.numbers().to_vec(), pos, [true; 3]).unwrap();
        assert!(msg(channel_sums(&overlap, 1.0, &ch, 1e-8, false)).contains("same position"));
    }
}
