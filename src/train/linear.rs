//! Fitting a linear model ([`crate::model::linear`]) by Bayesian linear regression.
//!
//! Rows are energies per atom, force components and stress components of the training
//! frames, each weighted by the inverse of the error one is willing to accept (σ_E, σ_F,
//! σ_S); the fixed core repulsion is subtracted from the targets. Columns are scaled to unit
//! RMS so that one isotropic Gaussian prior fits all invariants (the per-element reference
//! energies get a 1000× broader prior: they are offsets, not shape). The prior precision α and
//! the noise precision β are chosen by maximising the evidence (MacKay's fixed point), as
//! ACEpotentials and FitSNAP's BLR solver do; no validation data is used for that.
//!
//! Only the normal equations are kept (columns² memory, whatever the number of frames); the
//! eigendecomposition of the Gram matrix gives the posterior mean for every α, β at once, and
//! the posterior covariance from which a committee of weight vectors is drawn.
//!
//! Single-element models get one long-range column: the complete 1/r⁶ sum, whose fitted
//! coefficient c² ≥ 0 is the geometric-mixing dispersion (left out when the fit prefers it
//! negative). Charges are zero for one element by neutrality.

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rayon::prelude::*;

use crate::cell::Vec3;
use crate::error::{Error, Result};
use crate::lattice::per_atom::{channel_sums, Channels};
use crate::model::energy::file::Provenance;
use crate::model::linear::{
    file, Featurizer, LinearConfig, LinearMeta, LinearModel, LinearParameters, VOIGT,
};
use crate::neighbors::{ListKind, NeighborList};
use crate::train::dataset::Sample;
use crate::train::energy::{summarize, Comparison, EnergyMetrics};
use crate::train::split::Rng;

/// eV/Å³ in GPa.
const GPA_PER_EV_PER_A3: f64 = 160.21766208;

/// Prior breadth of the per-element reference energies relative to the invariants'.
const OFFSET_PRIOR_SCALE: f64 = 1e3;

/// What a fit needs besides the data and the basis.
#[derive(Clone, Debug)]
pub struct FitSettings {
    /// Accepted energy error σ_E (eV/atom): energy rows are weighted by 1/σ_E.
    pub energy_sigma: f64,
    /// Accepted force error σ_F (eV/Å).
    pub force_sigma: f64,
    /// Accepted stress error σ_S (GPa).
    pub stress_sigma: f64,
    /// Committee members drawn from the posterior (0: none).
    pub committee: usize,
    /// Fit the dispersion column (single-element models).
    pub long_range: bool,
    pub seed: u64,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings {
            energy_sigma: 1e-3,
            force_sigma: 0.03,
            stress_sigma: 0.1,
            committee: 16,
            long_range: true,
            seed: 0,
        }
    }
}

/// What a fit reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FitReport {
    pub basis_size: usize,
    pub columns: usize,
    pub rows: usize,
    pub alpha: f64,
    pub beta: f64,
    /// Effective number of parameters the data determine.
    pub effective_parameters: f64,
    /// Fitted dispersion coefficient c² (eV·Å⁶), if the long-range column was fitted.
    pub dispersion_c6: Option<f64>,
    pub train: EnergyMetrics,
    pub validation: Option<EnergyMetrics>,
    pub seconds: f64,
}

/// The closest approach of every species pair among `samples` within `cutoff`
/// (row-major), floored at 0.5 Å; a pair that never occurs gets the closest of all.
pub fn inner_distances(elements: &[u8], samples: &[Sample], cutoff: f64) -> Result<Vec<f64>> {
    let n = elements.len();
    let per_sample: Vec<Vec<f64>> = samples
        .par_iter()
        .map(|s| -> Result<Vec<f64>> {
            let mut closest = vec![f64::INFINITY; n * n];
            let index = |z: u8| elements.iter().position(|&e| e == z);
            let list = NeighborList::build_with(&s.structure, cutoff, ListKind::Full)?;
            for p in list.pairs() {
                let numbers = s.structure.numbers();
                if let (Some(a), Some(b)) = (index(numbers[p.i]), index(numbers[p.j])) {
                    closest[a * n + b] = closest[a * n + b].min(p.distance);
                }
            }
            Ok(closest)
        })
        .collect::<Result<_>>()?;
    let mut closest = vec![f64::INFINITY; n * n];
    for c in per_sample {
        closest.iter_mut().zip(c).for_each(|(a, b)| *a = a.min(b));
    }
    let overall = closest.iter().copied().fold(f64::INFINITY, f64::min);
    if !overall.is_finite() {
        return Err(Error::InvalidInput(format!(
            "no two atoms of the training data are within the cutoff {cutoff} Å"
        )));
    }
    Ok(closest
        .into_iter()
        .map(|c| if c.is_finite() { c } else { overall }.max(0.5))
        .collect())
}

/// The normal equations of the weighted, column-scaled problem.
struct Normal {
    gram: DMatrix<f64>,
    rhs: DVector<f64>,
    yy: f64,
    rows: usize,
}

impl Normal {
    fn zeros(cols: usize) -> Self {
        Normal {
            gram: DMatrix::zeros(cols, cols),
            rhs: DVector::zeros(cols),
            yy: 0.0,
            rows: 0,
        }
    }

    fn add(mut self, x: &DMatrix<f64>, y: &DVector<f64>) -> Self {
        let xt = x.transpose();
        self.gram += &xt * x;
        self.rhs += &xt * y;
        self.yy += y.norm_squared();
        self.rows += y.len();
        self
    }

    fn merge(mut self, other: Normal) -> Self {
        self.gram += other.gram;
        self.rhs += other.rhs;
        self.yy += other.yy;
        self.rows += other.rows;
        self
    }
}

/// The complete −½ Σ_ij S₆(i, j) of a structure as a design column: (energy, forces, virial).
fn dispersion_column(
    sample: &Sample,
    tolerance: f64,
) -> Result<(f64, Vec<Vec3>, crate::cell::Mat3)> {
    let n = sample.structure.len();
    let sums = channel_sums(
        &sample.structure,
        6.0,
        &Channels::single(vec![1.0; n], -1.0),
        tolerance,
        true,
    )?;
    Ok((
        sums.energy,
        sums.forces.expect("derivatives were requested"),
        sums.virial.expect("derivatives were requested"),
    ))
}

/// The weighted rows and targets of one frame.
fn frame_rows(
    featurizer: &Featurizer,
    sample: &Sample,
    settings: &FitSettings,
    long_range: bool,
) -> Result<(DMatrix<f64>, DVector<f64>)> {
    let s = &sample.structure;
    let n = s.len();
    let design = featurizer.design(s)?;
    let local = featurizer.columns();
    let cols = local + usize::from(long_range);
    let dispersion = long_range
        .then(|| dispersion_column(sample, featurizer.config.tolerance))
        .transpose()?;
    let n_forces = sample.forces.as_ref().map_or(0, |_| 3 * n);
    let n_stress = sample.stress.as_ref().map_or(0, |_| 6);
    let rows = 1 + n_forces + n_stress;
    let mut x = DMatrix::zeros(rows, cols);
    let mut y = DVector::zeros(rows);
    let we = 1.0 / settings.energy_sigma / n as f64;
    for c in 0..local {
        x[(0, c)] = design.energy[c] * we;
    }
    if let Some((e, _, _)) = &dispersion {
        x[(0, local)] = e * we;
    }
    y[0] = (sample.targets[0] - design.core_energy) * we;
    if let Some(forces) = &sample.forces {
        let wf = 1.0 / settings.force_sigma;
        for k in 0..3 * n {
            let row = 1 + k;
            for c in 0..local {
                x[(row, c)] = design.forces[k * local + c] * wf;
            }
            if let Some((_, f, _)) = &dispersion {
                x[(row, local)] = f[k / 3][k % 3] * wf;
            }
            y[row] = (forces[k / 3][k % 3] - design.core_forces[k / 3][k % 3]) * wf;
        }
    }
    if let Some(stress) = &sample.stress {
        // σ = −W / V, in GPa.
        let ws = -GPA_PER_EV_PER_A3 / s.volume() / settings.stress_sigma;
        for (v, &(a, b)) in VOIGT.iter().enumerate() {
            let row = 1 + n_forces + v;
            for c in 0..local {
                x[(row, c)] = design.virial[v * local + c] * ws;
            }
            if let Some((_, _, w)) = &dispersion {
                x[(row, local)] = w[(a, b)] * ws;
            }
            let target = stress[(a, b)] * GPA_PER_EV_PER_A3 / settings.stress_sigma;
            y[row] = target - design.core_virial[(a, b)] * ws;
        }
    }
    Ok((x, y))
}

/// The posterior of Bayesian linear regression with evidence-optimal α, β.
struct Posterior {
    mean: DVector<f64>,
    /// Eigenvectors and eigenvalues of the Gram matrix.
    eigen: SymmetricEigen<f64, nalgebra::Dyn>,
    alpha: f64,
    beta: f64,
    gamma: f64,
}

fn posterior(normal: &Normal) -> Posterior {
    let eigen = SymmetricEigen::new(normal.gram.clone());
    let lambda: Vec<f64> = eigen.eigenvalues.iter().map(|l| l.max(0.0)).collect();
    let projected = eigen.eigenvectors.transpose() * &normal.rhs;
    let n = normal.rows as f64;
    let trace: f64 = lambda.iter().sum::<f64>() / lambda.len() as f64;
    let (mut alpha, mut beta) = (1e-6 * trace.max(1e-300), 1.0);
    let mut mean_coordinates = DVector::zeros(lambda.len());
    let mut gamma = 0.0;
    for _ in 0..200 {
        mean_coordinates = DVector::from_iterator(
            lambda.len(),
            lambda
                .iter()
                .zip(projected.iter())
                .map(|(l, p)| beta * p / (beta * l + alpha)),
        );
        gamma = lambda.iter().map(|l| beta * l / (beta * l + alpha)).sum();
        let m2 = mean_coordinates.norm_squared();
        let fit: f64 = lambda
            .iter()
            .zip(mean_coordinates.iter())
            .map(|(l, m)| l * m * m)
            .sum();
        let residual = (normal.yy - 2.0 * mean_coordinates.dot(&projected) + fit).max(1e-300);
        let (new_alpha, new_beta) = (gamma / m2.max(1e-300), (n - gamma).max(1.0) / residual);
        let converged =
            ((new_alpha / alpha).ln().abs() < 1e-6) && ((new_beta / beta).ln().abs() < 1e-6);
        (alpha, beta) = (new_alpha, new_beta);
        if converged {
            break;
        }
    }
    let mean = &eigen.eigenvectors * mean_coordinates;
    Posterior {
        mean,
        eigen,
        alpha,
        beta,
        gamma,
    }
}

impl Posterior {
    /// A draw from the posterior minus its mean, V diag(1/√(βλ+α)) z, in the directions the
    /// data determine (βλ ≥ α). Directions where the prior dominates are left out: their
    /// variance 1/α only restates the (weak) prior, and with a near-flat prior it would swamp
    /// the energy spread of every structure, in or out of the training distribution.
    fn deviation(&self, rng: &mut Rng) -> DVector<f64> {
        let z = DVector::from_iterator(
            self.eigen.eigenvalues.len(),
            self.eigen.eigenvalues.iter().map(|&l| {
                let draw = normal_draw(rng);
                if self.beta * l >= self.alpha {
                    draw / (self.beta * l + self.alpha).sqrt()
                } else {
                    0.0
                }
            }),
        );
        &self.eigen.eigenvectors * z
    }
}

/// A standard normal draw (Box–Muller).
fn normal_draw(rng: &mut Rng) -> f64 {
    let uniform = |rng: &mut Rng| ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let (u, v) = (uniform(rng), uniform(rng));
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// The posterior over the first `cols` columns, solved with unit-RMS columns (offsets get a
/// broader prior), and the column scales that map it back.
fn solve(normal: &Normal, n_offsets: usize, cols: usize) -> (Posterior, DVector<f64>) {
    let d = DVector::from_iterator(
        cols,
        (0..cols).map(|c| {
            let rms = (normal.gram[(c, c)] / normal.rows as f64).sqrt();
            let rms = if rms > 0.0 { rms } else { 1.0 };
            if c < n_offsets {
                OFFSET_PRIOR_SCALE / rms
            } else {
                1.0 / rms
            }
        }),
    );
    let scaled = Normal {
        gram: DMatrix::from_fn(cols, cols, |a, b| normal.gram[(a, b)] * d[a] * d[b]),
        rhs: DVector::from_iterator(cols, (0..cols).map(|c| normal.rhs[c] * d[c])),
        yy: normal.yy,
        rows: normal.rows,
    };
    (posterior(&scaled), d)
}

/// Energy, force and stress comparison of a model on samples.
pub fn evaluate(model: &LinearModel, samples: &[Sample]) -> Result<EnergyMetrics> {
    if samples.is_empty() {
        return Err(Error::InvalidInput("no samples to evaluate".into()));
    }
    let results = samples
        .par_iter()
        .map(|s| -> Result<Comparison> {
            let r = model.compute(&s.structure, &crate::model::Request::all())?;
            let n = s.structure.len() as f64;
            let forces = s.forces.as_ref().map(|f| {
                let flat = |v: &[Vec3]| v.iter().flat_map(|x| x.iter().copied()).collect();
                (flat(r.forces.as_ref().expect("requested")), flat(f))
            });
            let stress = s.stress.map(|reference| {
                let predicted = r.stress(s.structure.volume()).expect("requested");
                let gpa = |m: crate::cell::Mat3| {
                    VOIGT
                        .iter()
                        .map(|&(a, b)| m[(a, b)] * GPA_PER_EV_PER_A3)
                        .collect()
                };
                (gpa(predicted), gpa(reference))
            });
            Ok(Comparison {
                energy: (r.energy / n, s.targets[0] / n),
                forces,
                stress,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(summarize(&results))
}

/// Fits `config`'s basis to `train` (`inner` distances are taken from the data), reporting
/// progress per assembled frame, and evaluates on `validation`.
pub fn fit(
    mut config: LinearConfig,
    name: &str,
    train: &[Sample],
    validation: &[Sample],
    settings: &FitSettings,
    provenance: Provenance,
    progress: impl Fn() + Sync,
) -> Result<(LinearModel, FitReport)> {
    let started = std::time::Instant::now();
    if train.is_empty() {
        return Err(Error::InvalidInput("no training frames".into()));
    }
    let elements = config.atomic_numbers()?;
    config.inner = inner_distances(&elements, train, config.cutoff)?;
    let featurizer = Featurizer::new(&config)?;
    let long_range = settings.long_range && elements.len() == 1;
    let local = featurizer.columns();
    let cols = local + usize::from(long_range);
    let normal = train
        .par_iter()
        .map(|s| {
            let rows = frame_rows(&featurizer, s, settings, long_range);
            progress();
            rows
        })
        .try_fold(
            || Normal::zeros(cols),
            |acc, rows| rows.map(|(x, y)| acc.add(&x, &y)),
        )
        .try_reduce(|| Normal::zeros(cols), |a, b| Ok(a.merge(b)))?;
    let n_el = elements.len();
    let (mut post, mut d) = solve(&normal, n_el, cols);
    let mut c6 = long_range.then(|| post.mean[local] * d[local]);
    if c6.is_some_and(|c| c <= 0.0) {
        // A repulsive 1/r⁶ tail is no dispersion: refit without the column.
        (post, d) = solve(&normal, n_el, local);
        c6 = None;
    }
    let unscale = |v: &DVector<f64>| -> Vec<f64> { v.component_mul(&d).iter().copied().collect() };
    let mean = unscale(&post.mean);
    let mut rng = Rng::new(settings.seed);
    let deviations: Vec<Vec<f64>> = (0..settings.committee)
        .map(|_| unscale(&post.deviation(&mut rng)))
        .collect();
    let k = featurizer.basis_len();
    let per_element = |v: &[f64]| -> Vec<Vec<f64>> {
        (0..n_el)
            .map(|e| v[n_el + e * k..n_el + (e + 1) * k].to_vec())
            .collect()
    };
    let dispersion = match c6 {
        Some(c6) if c6 > 0.0 => vec![c6.sqrt()],
        _ => vec![0.0; n_el],
    };
    let parameters = LinearParameters {
        reference_energies: mean[..n_el].to_vec(),
        weights: per_element(&mean),
        // Each member's offset deviation goes with its invariants': the two are strongly
        // anti-correlated (combinations of invariants that are nearly constant trade off
        // against E⁰), so dropping it would overstate the energy spread.
        committee: deviations
            .iter()
            .map(|v| {
                let mut rows = per_element(v);
                rows.iter_mut()
                    .zip(v)
                    .for_each(|(r, &offset)| r.push(offset));
                rows
            })
            .collect(),
        charges: vec![0.0; n_el],
        dispersion,
    };
    let meta = LinearMeta {
        format_version: file::FORMAT_VERSION,
        kind: file::KIND.into(),
        name: name.into(),
        config,
        provenance,
    };
    let mut model = LinearModel::new(meta, parameters)?;
    let train_metrics = evaluate(&model, train)?;
    let validation_metrics = (!validation.is_empty())
        .then(|| evaluate(&model, validation))
        .transpose()?;
    let report = FitReport {
        basis_size: k,
        columns: cols,
        rows: normal.rows,
        alpha: post.alpha,
        beta: post.beta,
        effective_parameters: post.gamma,
        dispersion_c6: c6,
        train: train_metrics,
        validation: validation_metrics,
        seconds: started.elapsed().as_secs_f64(),
    };
    model.meta.provenance.metrics = serde_json::to_value(&report).expect("report serialises");
    Ok((model, report))
}
