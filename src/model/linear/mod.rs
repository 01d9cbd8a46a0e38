//! The linear energy model for simulation: per-atom energies linear in an atomic cluster
//! expansion of the neighbour density ([`basis`]), a fixed screened nuclear repulsion at
//! short range ([`radial`]), and PotNet's complete long-range sums in rank-1 form
//! (per-element charges on the complete 1/r sum, geometric-mixing dispersion on the
//! complete 1/r⁶ sum), all fitted by regularised least squares (`crate::train::linear`).
//!
//! E = Σ_i [E⁰_{Z_i} + ½ Σ_j V_core(r_ij) + Σ_k w_{Z_i k} B_k(i)]
//!   + ½ k_e Σ_ij q_i q_j S₁(i, j) − ½ Σ_ij c_i c_j S₆(i, j),
//!
//! with S_p the complete lattice sums over all periodic images.
//!
//! Inference runs the fitted energy as one merged polynomial in the density per centre
//! species, and its exact reverse-mode derivative; a committee of weight vectors drawn from
//! the fit's posterior gives the energy's standard deviation.

pub mod basis;
mod coupling;
mod density;
pub mod file;
mod harmonics;
pub mod radial;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cell::{Mat3, Vec3};
use crate::error::{Error, Result};
use crate::lattice::per_atom::{partial_channel_sums, Channels};
use crate::model::local::{Environment, LocalModel, RankOneLongRange};
use crate::model::{Request, Results};
use crate::neighbors::{ListKind, NeighborList};
use crate::structure::Structure;
use basis::{Basis, BasisConfig, Term};
use density::Density;
use radial::{core_repulsion, Radial};

/// Coulomb constant e²/(4πε₀) in eV·Å.
pub const COULOMB_CONSTANT: f64 = 14.399645478425668;

/// The fixed part of a linear model: elements, cutoff, basis and inner distances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearConfig {
    pub elements: Vec<String>,
    /// Local cutoff (Å).
    pub cutoff: f64,
    pub basis: BasisConfig,
    /// Closest approach of each species pair in the training data (Å), row-major
    /// n_elements × n_elements: where the radial functions freeze and the core takes over.
    pub inner: Vec<f64>,
    /// Absolute accuracy of the long-range lattice sums per unit weight (Å^-p).
    pub tolerance: f64,
}

impl LinearConfig {
    pub fn validate(&self) -> Result<()> {
        self.basis.validate()?;
        let n = self.elements.len();
        let bad = |what: String| Err(Error::Model(format!("linear model: {what}")));
        if n == 0 {
            return bad("no elements".into());
        }
        if !(self.cutoff.is_finite() && self.cutoff > 0.5 && self.cutoff <= 20.0) {
            return bad(format!("cutoff {} Å is outside (0.5, 20]", self.cutoff));
        }
        if self.inner.len() != n * n
            || self
                .inner
                .iter()
                .any(|&r| !(r.is_finite() && r > 0.0 && r < self.cutoff))
        {
            return bad(format!(
                "inner distances must be {} values in (0, cutoff)",
                n * n
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return bad(format!("tolerance {} must be positive", self.tolerance));
        }
        Ok(())
    }

    pub fn atomic_numbers(&self) -> Result<Vec<u8>> {
        let mut seen = Vec::new();
        for s in &self.elements {
            let z = crate::elements::atomic_number(s)
                .ok_or_else(|| Error::Model(format!("linear model: unknown element {s:?}")))?;
            if seen.contains(&z) {
                return Err(Error::Model(format!(
                    "linear model: element {s} is listed twice"
                )));
            }
            seen.push(z);
        }
        Ok(seen)
    }
}

/// The fitted numbers of a linear model.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearParameters {
    /// E⁰ per element (eV).
    pub reference_energies: Vec<f64>,
    /// w per centre element, one per basis invariant.
    pub weights: Vec<Vec<f64>>,
    /// Committee members' deviations from `weights`, `[member][element][invariant]`, with the
    /// member's deviation of that element's E⁰ as a last entry.
    pub committee: Vec<Vec<Vec<f64>>>,
    /// Charge per element (e); all zero for a model without Coulomb.
    pub charges: Vec<f64>,
    /// Dispersion coefficient c per element (√(eV·Å⁶)); all zero for none.
    pub dispersion: Vec<f64>,
}

/// Evaluates the local basis of structures and environments: what fitting and inference
/// share.
#[derive(Clone, Debug)]
pub struct Featurizer {
    pub config: LinearConfig,
    elements: Vec<u8>,
    basis: Basis,
    /// Radial functions of (centre, neighbour) species, row-major.
    radials: Vec<Radial>,
}

/// The local contribution of one centre: energy and ∂E_i/∂r_ij per kept neighbour.
struct CentreResult {
    energy: f64,
    /// (index into the caller's neighbour list, gradient).
    gradient: Vec<(usize, Vec3)>,
    /// B_k(i) when the committee needs them.
    features: Option<Vec<f64>>,
}

/// Design-matrix rows of one structure for the local part: columns are E⁰ per element, then
/// the invariants of each centre element; the core repulsion is returned separately because
/// it is fixed.
pub struct LocalDesign {
    /// ∂E/∂column (energy, not per atom).
    pub energy: Vec<f64>,
    /// Forces −∂E/∂x, row-major (3N) × columns.
    pub forces: Vec<f64>,
    /// Virial W = −∂E/∂ε, row-major 6 × columns (xx yy zz yz xz xy).
    pub virial: Vec<f64>,
    pub core_energy: f64,
    pub core_forces: Vec<Vec3>,
    pub core_virial: Mat3,
}

/// Voigt order used for virial rows.
pub const VOIGT: [(usize, usize); 6] = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)];

impl Featurizer {
    pub fn new(config: &LinearConfig) -> Result<Self> {
        config.validate()?;
        let elements = config.atomic_numbers()?;
        let n = elements.len();
        let basis = Basis::new(&config.basis, n)?;
        let radials = config
            .inner
            .iter()
            .map(|&inner| Radial {
                n_max: config.basis.n_max,
                cutoff: config.cutoff,
                inner,
            })
            .collect();
        Ok(Featurizer {
            config: config.clone(),
            elements,
            basis,
            radials,
        })
    }

    /// Invariants per centre element.
    pub fn basis_len(&self) -> usize {
        self.basis.len()
    }

    /// Correlation order of each invariant.
    pub fn orders(&self) -> &[u8] {
        self.basis.orders()
    }

    /// Columns of the local design: E⁰ per element plus the invariants of each element.
    pub fn columns(&self) -> usize {
        self.elements.len() * (1 + self.basis.len())
    }

    pub fn elements(&self) -> &[u8] {
        &self.elements
    }

    /// Species index of every atom, or a clear error for an element the model lacks.
    pub fn species(&self, numbers: &[u8]) -> Result<Vec<usize>> {
        numbers
            .iter()
            .map(|&z| {
                self.elements.iter().position(|&e| e == z).ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "element {} is not in the model (it knows {})",
                        crate::elements::symbol(z).unwrap_or("?"),
                        self.symbols().join(", ")
                    ))
                })
            })
            .collect()
    }

    fn symbols(&self) -> Vec<&'static str> {
        self.elements
            .iter()
            .map(|&z| crate::elements::symbol(z).unwrap_or("?"))
            .collect()
    }

    fn density(&self, centre: usize, neighbours: impl Iterator<Item = (usize, Vec3)>) -> Density {
        let n = self.elements.len();
        Density::new(
            &self.radials[centre * n..(centre + 1) * n],
            self.config.basis.l_max,
            self.config.cutoff,
            neighbours,
        )
    }

    fn inner(&self, a: usize, b: usize) -> f64 {
        self.config.inner[a * self.elements.len() + b]
    }

    /// ½ Σ_j V_core of a centre and its gradient per kept neighbour, added into `gradient`.
    fn core(
        &self,
        centre: usize,
        density: &Density,
        vectors: &[Vec3],
        gradient: &mut [Vec3],
    ) -> f64 {
        let mut energy = 0.0;
        for j in 0..density.count() {
            let z = density.species(j);
            let v = vectors[density.kept[j]];
            let r = v.norm();
            let (e, de) = core_repulsion(
                self.elements[centre],
                self.elements[z],
                self.inner(centre, z),
                r,
            );
            energy += 0.5 * e;
            gradient[j] += density.unit(j) * (0.5 * de);
        }
        energy
    }

    /// Local design rows of a structure (see [`LocalDesign`]).
    pub fn design(&self, structure: &Structure) -> Result<LocalDesign> {
        let n = structure.len();
        let species = self.species(structure.numbers())?;
        let list = NeighborList::build_with(structure, self.config.cutoff, ListKind::Full)?;
        let cols = self.columns();
        let n_el = self.elements.len();
        let k_len = self.basis.len();
        let mut out = LocalDesign {
            energy: vec![0.0; cols],
            forces: vec![0.0; 3 * n * cols],
            virial: vec![0.0; 6 * cols],
            core_energy: 0.0,
            core_forces: vec![Vec3::zeros(); n],
            core_virial: Mat3::zeros(),
        };
        for i in 0..n {
            let s = species[i];
            out.energy[s] += 1.0;
            let pairs = list.pairs_of(i);
            let vectors: Vec<Vec3> = pairs.iter().map(|p| p.r).collect();
            let density = self.density(s, pairs.iter().map(|p| (species[p.j], p.r)));
            let mut core_gradient = vec![Vec3::zeros(); density.count()];
            out.core_energy += self.core(s, &density, &vectors, &mut core_gradient);
            for (j, g) in core_gradient.iter().enumerate() {
                let pair = &pairs[density.kept[j]];
                out.core_forces[pair.j] -= g;
                out.core_forces[i] += g;
                out.core_virial -= g * pair.r.transpose();
            }
            let (values, jacobian) = self.basis.jacobian(&density.a);
            let offset = n_el + s * k_len;
            for (k, v) in values.iter().enumerate() {
                out.energy[offset + k] += v;
            }
            let p_len = self.basis.density_len();
            let jac = nalgebra::DMatrix::from_row_slice(k_len, p_len, &jacobian);
            let block = density.block_len();
            for z in 0..n_el {
                let members: Vec<usize> = (0..density.count())
                    .filter(|&j| density.species(j) == z)
                    .collect();
                if members.is_empty() {
                    continue;
                }
                let mut columns = nalgebra::DMatrix::zeros(block, 4 * members.len());
                let mut buf = vec![0.0; block * 4];
                for (c, &j) in members.iter().enumerate() {
                    density.gradient_columns(j, &mut buf);
                    for row in 0..block {
                        for q in 0..4 {
                            columns[(row, 4 * c + q)] = buf[row * 4 + q];
                        }
                    }
                }
                let product = jac.columns(density.block_start(z), block) * columns;
                for (c, &j) in members.iter().enumerate() {
                    let pair = &pairs[density.kept[j]];
                    let u = density.unit(j);
                    for k in 0..k_len {
                        let g = u * product[(k, 4 * c)]
                            + Vec3::new(
                                product[(k, 4 * c + 1)],
                                product[(k, 4 * c + 2)],
                                product[(k, 4 * c + 3)],
                            );
                        let col = offset + k;
                        for a in 0..3 {
                            out.forces[(3 * pair.j + a) * cols + col] -= g[a];
                            out.forces[(3 * i + a) * cols + col] += g[a];
                        }
                        for (v, &(a, b)) in VOIGT.iter().enumerate() {
                            out.virial[v * cols + col] -=
                                0.5 * (g[a] * pair.r[b] + g[b] * pair.r[a]);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Self-description of a linear model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearMeta {
    pub format_version: u32,
    /// Always `"linear"`.
    pub kind: String,
    pub name: String,
    pub config: LinearConfig,
    pub provenance: crate::model::energy::file::Provenance,
}

/// A loaded linear model.
#[derive(Clone, Debug)]
pub struct LinearModel {
    pub meta: LinearMeta,
    pub parameters: LinearParameters,
    featurizer: Featurizer,
    /// Σ_k w_k B_k as one polynomial in the density, per centre element.
    polynomials: Vec<Vec<Term>>,
}

impl LinearModel {
    pub fn new(meta: LinearMeta, parameters: LinearParameters) -> Result<Self> {
        let featurizer = Featurizer::new(&meta.config)?;
        let n = featurizer.elements.len();
        let k = featurizer.basis.len();
        let sized = |v: &[f64]| v.len() == n;
        let fits = sized(&parameters.reference_energies)
            && sized(&parameters.charges)
            && sized(&parameters.dispersion)
            && parameters.weights.len() == n
            && parameters.weights.iter().all(|w| w.len() == k)
            && parameters
                .committee
                .iter()
                .all(|m| m.len() == n && m.iter().all(|w| w.len() == k + 1));
        if !fits {
            return Err(Error::Model(format!(
                "linear model: the parameters do not fit {n} elements and {k} invariants"
            )));
        }
        let all = [
            &parameters.reference_energies,
            &parameters.charges,
            &parameters.dispersion,
        ];
        let finite = all.iter().all(|v| v.iter().all(|x| x.is_finite()))
            && parameters.weights.iter().flatten().all(|x| x.is_finite())
            && parameters
                .committee
                .iter()
                .flatten()
                .flatten()
                .all(|x| x.is_finite());
        if !finite {
            return Err(Error::Model(
                "linear model: a parameter is NaN or infinite".into(),
            ));
        }
        let polynomials = parameters
            .weights
            .iter()
            .map(|w| featurizer.basis.polynomial(w))
            .collect();
        Ok(LinearModel {
            meta,
            parameters,
            featurizer,
            polynomials,
        })
    }

    pub fn config(&self) -> &LinearConfig {
        &self.meta.config
    }

    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    /// Whether the model has a long-range part.
    fn has_coulomb(&self) -> bool {
        self.parameters.charges.iter().any(|&q| q != 0.0)
    }

    fn has_dispersion(&self) -> bool {
        self.parameters.dispersion.iter().any(|&c| c != 0.0)
    }

    /// One centre's local energy and gradient; `neighbours` are (species, vector).
    fn centre(
        &self,
        s: usize,
        vectors: &[Vec3],
        species: &[usize],
        features: bool,
    ) -> CentreResult {
        let f = &self.featurizer;
        let density = f.density(s, species.iter().copied().zip(vectors.iter().copied()));
        let mut gradient = vec![Vec3::zeros(); density.count()];
        let mut energy = self.parameters.reference_energies[s];
        energy += f.core(s, &density, vectors, &mut gradient);
        let mut adjoint = vec![0.0; density.a.len()];
        for t in &self.polynomials[s] {
            energy += t.accumulate_gradient(&density.a, 1.0, &mut adjoint);
        }
        for (j, g) in gradient.iter_mut().enumerate() {
            *g += density.gradient(j, &adjoint);
        }
        CentreResult {
            energy,
            gradient: density.kept.iter().copied().zip(gradient).collect(),
            features: features.then(|| f.basis.values(&density.a)),
        }
    }

    /// Energy and, as requested, per-atom energies, forces, virial and the committee's
    /// energy standard deviation. A partitioned request computes the centres of its block
    /// and its share of the long-range sums, so that shares add up.
    pub fn compute(&self, structure: &Structure, request: &Request) -> Result<Results> {
        let n = structure.len();
        let f = &self.featurizer;
        let species = f.species(structure.numbers())?;
        let mask: Vec<bool> = match &request.energy_atoms {
            Some(m) if m.len() != n => {
                return Err(Error::InvalidInput(format!(
                    "energy-atom mask has {} entries for {n} atoms",
                    m.len()
                )))
            }
            Some(m) => m.clone(),
            None => vec![true; n],
        };
        let list = NeighborList::build_with(structure, f.config.cutoff, ListKind::Full)?;
        let committee = request.uncertainty && !self.parameters.committee.is_empty();
        let centres: Vec<usize> = request.partition.block(n).filter(|&i| mask[i]).collect();
        let results: Vec<(usize, CentreResult)> = centres
            .par_iter()
            .map(|&i| {
                let pairs = list.pairs_of(i);
                let vectors: Vec<Vec3> = pairs.iter().map(|p| p.r).collect();
                let neighbour_species: Vec<usize> = pairs.iter().map(|p| species[p.j]).collect();
                (
                    i,
                    self.centre(species[i], &vectors, &neighbour_species, committee),
                )
            })
            .collect();
        let mut per_atom = vec![0.0; n];
        let mut forces = vec![Vec3::zeros(); n];
        let mut virial = Mat3::zeros();
        let mut member_energies = vec![0.0; self.parameters.committee.len()];
        for (i, c) in &results {
            per_atom[*i] = c.energy;
            let pairs = list.pairs_of(*i);
            for (k, g) in &c.gradient {
                let p = &pairs[*k];
                forces[p.j] -= g;
                forces[*i] += g;
                virial -= g * p.r.transpose();
            }
            if let Some(b) = &c.features {
                for (e, member) in member_energies.iter_mut().zip(&self.parameters.committee) {
                    let w = &member[species[*i]];
                    *e += w[b.len()] + b.iter().zip(w).map(|(x, w)| x * w).sum::<f64>();
                }
            }
        }
        let mut error_bound = 0.0;
        for (power, channel) in self.long_range_channels(&species) {
            let sums = partial_channel_sums(
                structure,
                power,
                &channel,
                request.energy_atoms.as_deref(),
                request.partition,
                self.config().tolerance,
                request.forces || request.virial,
            )?;
            error_bound += sums.energy_error_bound;
            per_atom
                .iter_mut()
                .zip(&sums.per_atom_energies)
                .for_each(|(e, x)| *e += x);
            if let (Some(fl), Some(w)) = (sums.forces, sums.virial) {
                forces.iter_mut().zip(fl).for_each(|(x, y)| *x += y);
                virial += w;
            }
        }
        let energy = per_atom.iter().sum();
        let energy_std = committee.then(|| {
            let m = member_energies.len() as f64;
            (member_energies.iter().map(|e| e * e).sum::<f64>() / m).sqrt()
        });
        Ok(Results {
            energy,
            energy_error_bound: error_bound,
            energy_std,
            per_atom_energies: request.per_atom_energies.then_some(per_atom),
            forces: request.forces.then_some(forces),
            virial: request
                .virial
                .then_some(0.5 * (virial + virial.transpose())),
            ..Results::default()
        })
    }

    /// The long-range channels: (power, weights and coupling) for Coulomb and dispersion.
    fn long_range_channels(&self, species: &[usize]) -> Vec<(f64, Channels)> {
        let p = &self.parameters;
        let mut out = Vec::new();
        if self.has_coulomb() {
            let w = species.iter().map(|&s| p.charges[s]).collect();
            out.push((1.0, Channels::single(w, COULOMB_CONSTANT)));
        }
        if self.has_dispersion() {
            let w = species.iter().map(|&s| p.dispersion[s]).collect();
            out.push((6.0, Channels::single(w, -1.0)));
        }
        out
    }

    /// The long-range part in the form LAMMPS's kspace styles evaluate.
    pub fn rank_one_long_range(&self) -> RankOneLongRange {
        let pairs = |v: &[f64]| -> Vec<(u8, f64)> {
            if v.iter().all(|&x| x == 0.0) {
                return Vec::new();
            }
            self.featurizer
                .elements
                .iter()
                .copied()
                .zip(v.iter().copied())
                .collect()
        };
        RankOneLongRange {
            charges: pairs(&self.parameters.charges),
            dispersion: pairs(&self.parameters.dispersion),
            coulomb_constant: COULOMB_CONSTANT,
        }
    }
}

impl LocalModel for LinearModel {
    fn cutoff(&self) -> f64 {
        self.config().cutoff
    }

    fn elements(&self) -> &[u8] {
        &self.featurizer.elements
    }

    fn local_energy(&self, env: &Environment, gradient: Option<&mut [Vec3]>) -> Result<f64> {
        if env.neighbours.len() != env.vectors.len() {
            return Err(Error::InvalidInput(format!(
                "{} neighbour elements for {} vectors",
                env.neighbours.len(),
                env.vectors.len()
            )));
        }
        let s = self.featurizer.species(&[env.centre])?[0];
        let species = self.featurizer.species(env.neighbours)?;
        let c = self.centre(s, env.vectors, &species, false);
        if let Some(out) = gradient {
            if out.len() != env.vectors.len() {
                return Err(Error::InvalidInput(format!(
                    "gradient buffer of {} for {} neighbours",
                    out.len(),
                    env.vectors.len()
                )));
            }
            out.fill(Vec3::zeros());
            for (k, g) in c.gradient {
                out[k] = g;
            }
        }
        Ok(c.energy)
    }
}

#[cfg(test)]
pub(crate) mod tests;
