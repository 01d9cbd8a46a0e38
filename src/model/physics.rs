//! The rigid-ion physics model: point charges plus Buckingham / Born–Mayer pair terms, every
//! term summed over all periodic images.
//!
//! E = ½ Σ_ij [ k_e q_i q_j S_1(i,j) − C_ij S_6(i,j) + A_ij S_exp(i,j; 1/ρ_ij) ]
//!
//! where S are the complete lattice sums of [`crate::lattice`] (the self term i = j, k = 0 is
//! excluded from all three). Parameters come from a JSON model file:
//!
//! ```json
//! {
//!   "kind": "rigid-ion",
//!   "name": "NaCl, Buckingham + formal charges",
//!   "charges": {"Na": 1.0, "Cl": -1.0},
//!   "pairs": [
//!     {"elements": ["Na", "Cl"], "A": 1170.84, "rho": 0.316, "C": 0.0},
//!     {"elements": ["Cl", "Cl"], "A": 1227.2, "rho": 0.3214, "C": 29.06}
//!   ]
//! }
//! ```
//!
//! Units: charges in e, `A` in eV, `rho` in Å, `C` in eV·Å^6. Optional keys: `coulomb_constant`
//! (eV·Å/e², default CODATA 2018 e²/4πε₀ = 14.39964547842567; LAMMPS `metal` uses 14.399645)
//! and `tolerance` (relative accuracy of the lattice sums, default 1e-10: per unit weight,
//! relative to the sum at the shorter of the mean spacing and the closest approach; relaxed
//! with a warning when double precision cannot reach it). `coulomb_constant` must be > 0. A
//! cell whose charges do not add up to zero is computed with a uniform neutralising background
//! (a warning says so). Pairs not listed have no short-range term.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;

use crate::cell::{Mat3, Vec3};
use crate::elements;
use crate::error::{Error, Result};
use crate::lattice::per_atom::{partial_channel_sums, ChannelSums, Channels, Partition};
use crate::model::{Request, Results};
use crate::neighbors::{ListKind, NeighborSearch};
use crate::structure::Structure;

/// CODATA 2018 value of e²/(4πε₀) in eV·Å.
pub const COULOMB_CONSTANT: f64 = 14.39964547842567;

/// Default relative accuracy of the lattice sums behind a physics model.
const DEFAULT_TOLERANCE: f64 = 1e-10;

/// Buckingham parameters of one unordered element pair: A exp(-r/ρ) − C / r^6.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairParameters {
    pub a: f64,
    pub rho: f64,
    pub c: f64,
}

/// A validated rigid-ion model.
#[derive(Clone, Debug, PartialEq)]
pub struct PhysicsModel {
    pub name: String,
    pub coulomb_constant: f64,
    pub tolerance: f64,
    /// Charge of each element (e), by atomic number.
    pub charges: BTreeMap<u8, f64>,
    /// Pair parameters keyed by (smaller Z, larger Z).
    pub pairs: BTreeMap<(u8, u8), PairParameters>,
    /// The repulsion as a dense table for the neighbour-list form (built at load from the
    /// fields above; see [`crate::model::physics_local`]).
    pub short_range: crate::model::physics_local::ShortRangeTable,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    coulomb_constant: Option<f64>,
    #[serde(default)]
    tolerance: Option<f64>,
    charges: BTreeMap<String, f64>,
    #[serde(default)]
    pairs: Vec<PairFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairFile {
    elements: [String; 2],
    #[serde(rename = "A", default)]
    a: f64,
    #[serde(default = "default_rho")]
    rho: f64,
    #[serde(rename = "C", default)]
    c: f64,
}

fn default_rho() -> f64 {
    1.0
}

impl PhysicsModel {
    /// Reads and validates a JSON model file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text).map_err(|e| match e {
            Error::Model(m) => Error::Model(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses and validates the JSON text of a model.
    pub fn from_json(text: &str) -> Result<Self> {
        let file: ModelFile = serde_json::from_str(text)
            .map_err(|e| Error::Model(format!("not a valid physics model file: {e}")))?;
        if file.kind != "rigid-ion" {
            return Err(Error::Model(format!(
                "unknown physics model kind {:?} (expected \"rigid-ion\")",
                file.kind
            )));
        }
        let element = |s: &str| {
            elements::atomic_number(s)
                .ok_or_else(|| Error::Model(format!("unknown element symbol {s:?}")))
        };
        let finite = |what: String, x: f64| {
            if x.is_finite() {
                Ok(x)
            } else {
                Err(Error::Model(format!("{what} must be a finite number")))
            }
        };
        let mut charges = BTreeMap::new();
        for (symbol, q) in &file.charges {
            charges.insert(element(symbol)?, finite(format!("charge of {symbol}"), *q)?);
        }
        let mut pairs = BTreeMap::new();
        for p in &file.pairs {
            let (za, zb) = (element(&p.elements[0])?, element(&p.elements[1])?);
            let label = format!("{}-{}", p.elements[0], p.elements[1]);
            let params = PairParameters {
                a: finite(format!("A of pair {label}"), p.a)?,
                rho: finite(format!("rho of pair {label}"), p.rho)?,
                c: finite(format!("C of pair {label}"), p.c)?,
            };
            if params.rho <= 0.0 {
                return Err(Error::Model(format!("rho of pair {label} must be > 0")));
            }
            let key = (za.min(zb), za.max(zb));
            if pairs.insert(key, params).is_some() {
                return Err(Error::Model(format!("pair {label} is listed twice")));
            }
        }
        let coulomb_constant = finite(
            "coulomb_constant".into(),
            file.coulomb_constant.unwrap_or(COULOMB_CONSTANT),
        )?;
        if coulomb_constant <= 0.0 {
            return Err(Error::Model(format!(
                "coulomb_constant must be > 0 (e²/4πε₀ in eV·Å), got {}",
                crate::error::short(coulomb_constant)
            )));
        }
        let tolerance = file.tolerance.unwrap_or(DEFAULT_TOLERANCE);
        if !(tolerance > 0.0 && tolerance < 1.0) {
            return Err(Error::Model(format!(
                "tolerance must be in (0, 1), got {}",
                crate::error::short(tolerance)
            )));
        }
        Ok(PhysicsModel {
            name: file.name.unwrap_or_else(|| "rigid-ion".into()),
            coulomb_constant,
            tolerance,
            short_range: crate::model::physics_local::ShortRangeTable::new(
                &charges, &pairs, tolerance,
            ),
            charges,
            pairs,
        })
    }

    /// The elements this model knows: those with a charge.
    pub fn elements(&self) -> Vec<u8> {
        self.charges.keys().copied().collect()
    }

    /// Pair parameters of elements `a` and `b`, if the pair has a short-range term.
    pub fn pair(&self, a: u8, b: u8) -> Option<&PairParameters> {
        self.pairs.get(&(a.min(b), a.max(b)))
    }
}

impl PhysicsModel {
    /// Energy (eV) and, as requested, per-atom energies, forces (eV/Å) and virial (eV); of the
    /// atoms in `request.energy_atoms` and for the share `request.partition` of the work.
    pub fn compute(&self, structure: &Structure, request: &Request) -> Result<Results> {
        let n = structure.len();
        let mask = request.energy_atoms.as_deref();
        if let Some(m) = mask.filter(|m| m.len() != n) {
            return Err(Error::InvalidInput(format!(
                "the energy-atom mask has {} entries for {n} atoms",
                m.len()
            )));
        }
        let charges = self.charges_of(structure)?;
        let derivatives = request.forces || request.virial;
        let share = request.partition;
        let sums = |power: f64, channels: &Channels, tolerance: f64| {
            partial_channel_sums(
                structure,
                power,
                channels,
                mask,
                share,
                tolerance,
                derivatives,
            )
        };
        // Accuracy of each lattice sum per unit weight, relative to its value at the shorter
        // of the mean interatomic distance and the closest approach: the scale of the sum
        // itself, so a close pair, a molecule in vacuum or a slab asks for no more than double
        // precision gives (see `reachable` for the rare case where it still cannot).
        let Some((d_min, _, _)) = crate::neighbors::min_distance(structure)? else {
            return Err(Error::InvalidStructure("no periodic neighbours".into()));
        };
        let spacing = (structure.volume() / n as f64).cbrt().min(d_min);
        let mut total = Results {
            per_atom_energies: Some(vec![0.0; n]),
            forces: Some(vec![Vec3::zeros(); n]),
            virial: Some(Mat3::zeros()),
            ..Results::default()
        };
        if charges.iter().any(|&q| q != 0.0) {
            if share.is_first() {
                if let Some(w) = charge_warning(&charges) {
                    crate::error::warn_once("charged cell", &w);
                    total.warnings.push(w);
                }
            }
            let coulomb = Channels::single(charges, self.coulomb_constant);
            let tolerance = self.tolerance / spacing;
            let part = reachable("1/r", tolerance, &mut total.warnings, |t| {
                sums(1.0, &coulomb, t)
            })?;
            add(&mut total, part);
        }
        if let Some(dispersion) = self.dispersion_channels(structure) {
            let tolerance = self.tolerance / spacing.powi(6);
            let part = reachable("1/r^6", tolerance, &mut total.warnings, |t| {
                sums(6.0, &dispersion, t)
            })?;
            add(&mut total, part);
        }
        self.add_repulsion(structure, spacing, mask, share, &mut total)?;
        Ok(Results {
            per_atom_energies: total
                .per_atom_energies
                .filter(|_| request.per_atom_energies),
            forces: total.forces.filter(|_| request.forces),
            virial: total.virial.filter(|_| request.virial),
            ..total
        })
    }

    /// Charge of every atom; fails on an element the model does not know.
    fn charges_of(&self, structure: &Structure) -> Result<Vec<f64>> {
        structure
            .numbers()
            .iter()
            .map(|z| {
                self.charges.get(z).copied().ok_or_else(|| {
                    let known: Vec<&str> = self
                        .charges
                        .keys()
                        .filter_map(|&z| elements::symbol(z))
                        .collect();
                    Error::Model(format!(
                        "element {} is not in the model {:?} (it knows {})",
                        elements::symbol(*z).unwrap_or("?"),
                        self.name,
                        known.join(", ")
                    ))
                })
            })
            .collect()
    }

    /// −½ Σ_ij C_ij S_6(i,j) as species channels: w_si = [Z_i = s], M = −C.
    fn dispersion_channels(&self, structure: &Structure) -> Option<Channels> {
        let mut species: Vec<u8> = structure.numbers().to_vec();
        species.sort_unstable();
        species.dedup();
        let coupling: Vec<f64> = species
            .iter()
            .flat_map(|&a| species.iter().map(move |&b| (a, b)))
            .map(|(a, b)| -self.pair(a, b).map_or(0.0, |p| p.c))
            .collect();
        if coupling.iter().all(|&c| c == 0.0) {
            return None;
        }
        let weights = species
            .iter()
            .map(|&s| {
                structure
                    .numbers()
                    .iter()
                    .map(|&z| f64::from(u8::from(z == s)))
                    .collect()
            })
            .collect();
        Some(Channels { weights, coupling })
    }

    /// ½ Σ_ij A_ij S_exp(i,j; 1/ρ_ij) by direct summation over the neighbours, within a cutoff
    /// that bounds the omitted tail (atoms d_min apart own disjoint balls: the tail of one atom
    /// is at most (4π/v_ball) ∫_{R−d}^∞ A e^{−t/ρ} (t + d/2)² dt, in closed form). With a
    /// `mask`, the energy of the masked atoms: each pair weighted by ½(m_i + m_j), which is
    /// symmetric, so the forces follow the same pair loop. A `share` sums the pairs of its
    /// block of centre atoms (each centre gets the force on itself from its full neighbour
    /// list), and share 0 carries the bound.
    fn add_repulsion(
        &self,
        structure: &Structure,
        spacing: f64,
        mask: Option<&[bool]>,
        share: Partition,
        total: &mut Results,
    ) -> Result<()> {
        let present = |z: u8| structure.numbers().contains(&z);
        let active: Vec<&PairParameters> = self
            .pairs
            .iter()
            .filter(|((a, b), p)| p.a != 0.0 && present(*a) && present(*b))
            .map(|(_, p)| p)
            .collect();
        if active.is_empty() {
            return Ok(());
        }
        let a_max = active.iter().map(|p| p.a.abs()).fold(0.0, f64::max);
        let rho_max = active.iter().map(|p| p.rho).fold(0.0, f64::max);
        let Some((d, _, _)) = crate::neighbors::min_distance(structure)? else {
            return Err(Error::InvalidStructure("no periodic neighbours".into()));
        };
        let v_ball = 4.0 / 3.0 * std::f64::consts::PI * (d / 2.0).powi(3);
        let tail = |r: f64| {
            let (a, delta) = (r - d, d / 2.0);
            4.0 * std::f64::consts::PI / v_ball
                * a_max
                * rho_max
                * (-a / rho_max).exp()
                * ((a + delta).powi(2) + 2.0 * rho_max * (a + delta) + 2.0 * rho_max * rho_max)
        };
        let target = self.tolerance * a_max * (-spacing / rho_max).exp();
        let mut cutoff = 2.0 * d;
        while tail(cutoff) > target {
            cutoff += rho_max;
        }
        let search = NeighborSearch::new(structure, cutoff, ListKind::Full).map_err(|e| {
            Error::Model(format!(
                "the Buckingham range rho = {} Å of the model {:?} needs a repulsion cutoff of \
                 {} Å, which this cell cannot hold ({e}); is rho in Å?",
                crate::error::short(rho_max),
                self.name,
                crate::error::short(cutoff)
            ))
        })?;
        let numbers = structure.numbers();
        let counted = |i: usize| mask.map_or(1.0, |m| f64::from(u8::from(m[i])));
        let centres = share.block(structure.len());
        // (energy, energy of atom i, force on i, virial) of each centre atom i.
        let per_centre: Vec<(f64, f64, Vec3, Mat3)> = centres
            .clone()
            .into_par_iter()
            .map(|i| {
                let mut sums = (0.0, 0.0, Vec3::zeros(), Mat3::zeros());
                for pair in search.pairs_of(i)? {
                    let Some(p) = self.pair(numbers[i], numbers[pair.j]) else {
                        continue;
                    };
                    let weight = 0.5 * (counted(i) + counted(pair.j));
                    let e = p.a * (-pair.distance / p.rho).exp();
                    let de = -weight * e / p.rho;
                    sums.0 += 0.5 * weight * e;
                    sums.1 += 0.5 * counted(i) * e;
                    sums.2 += pair.r * (de / pair.distance);
                    sums.3 -= pair.r * pair.r.transpose() * (0.5 * de / pair.distance);
                }
                Ok(sums)
            })
            .collect::<Result<_>>()?;
        let energies = total
            .per_atom_energies
            .as_mut()
            .expect("allocated by compute");
        let forces = total.forces.as_mut().expect("allocated by compute");
        let virial = total.virial.as_mut().expect("allocated by compute");
        for (i, (energy, atom_energy, force, w)) in centres.zip(per_centre) {
            total.energy += energy;
            energies[i] += atom_energy;
            forces[i] += force;
            *virial += w;
        }
        if share.is_first() {
            total.energy_error_bound += 0.5 * structure.len() as f64 * tail(cutoff);
        }
        Ok(())
    }
}

/// Most a lattice-sum tolerance is relaxed (tenfold at a time) when double precision cannot
/// reach the requested one: 10⁶, i.e. the default 1e-10 relative accuracy becomes at worst
/// 1e-4 of the sum's scale, still far below any physical effect of a close approach.
const MAX_RELAXATION: i32 = 6;

/// Runs a lattice sum at `tolerance`; when double precision cannot reach it (a pair so close
/// that rounding of its own term exceeds the target), retries tenfold looser, up to
/// [`MAX_RELAXATION`], and records a warning (also printed once per process). The returned
/// error bound is always the one actually reached, so nothing is hidden: MD goes on through a
/// high-energy event instead of stopping.
pub fn reachable<T>(
    what: &str,
    tolerance: f64,
    warnings: &mut Vec<String>,
    mut compute: impl FnMut(f64) -> Result<T>,
) -> Result<T> {
    let mut last = None;
    for k in 0..=MAX_RELAXATION {
        let t = tolerance * 10f64.powi(k);
        match compute(t) {
            Ok(value) => {
                if k > 0 {
                    let w = format!(
                        "the {what} lattice sums reached {} per unit weight instead of the \
                         requested {} (double precision near a very close pair); the error \
                         bound of the result is the one reached",
                        crate::error::short(t),
                        crate::error::short(tolerance)
                    );
                    crate::error::warn_once("relaxed tolerance", &w);
                    warnings.push(w);
                }
                return Ok(value);
            }
            Err(Error::Tolerance(m)) => last = Some(m),
            Err(other) => return Err(other),
        }
    }
    Err(Error::Tolerance(last.unwrap_or_default()))
}

/// The warning for a cell whose charges do not add up to zero: the Ewald sum then includes a
/// uniform neutralising background (the G = 0 term is dropped), which shifts the energy.
fn charge_warning(charges: &[f64]) -> Option<String> {
    let total: f64 = charges.iter().sum();
    let scale: f64 = charges.iter().map(|q| q.abs()).sum();
    (total.abs() > 1e-9 * scale).then(|| {
        format!(
            "the cell's total charge is {} e, not 0: its Coulomb energy is that of the charges \
             plus a uniform neutralising background",
            crate::error::short(total)
        )
    })
}

/// Adds one lattice-sum contribution to the running results.
fn add(total: &mut Results, sums: ChannelSums) {
    total.energy += sums.energy;
    total.energy_error_bound += sums.energy_error_bound;
    if let Some(e) = total.per_atom_energies.as_mut() {
        e.iter_mut()
            .zip(&sums.per_atom_energies)
            .for_each(|(a, b)| *a += b);
    }
    if let (Some(f), Some(g)) = (total.forces.as_mut(), sums.forces) {
        f.iter_mut().zip(g).for_each(|(a, b)| *a += b);
    }
    if let (Some(w), Some(v)) = (total.virial.as_mut(), sums.virial) {
        *w += v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_model_files_name_the_problem() {
        let cases = [
            (
                r#"{"kind": "rigid-ion", "charges": {"Xx": 1}}"#,
                "unknown element symbol \"Xx\"",
            ),
            (
                r#"{"kind": "nn", "charges": {}}"#,
                "unknown physics model kind",
            ),
            (
                r#"{"kind": "rigid-ion", "charges": {"Na": 1}, "pairs": [{"elements": ["Na", "Na"], "A": 1, "rho": -1}]}"#,
                "rho of pair Na-Na",
            ),
            (
                r#"{"kind": "rigid-ion", "charges": {"Na": 1}, "pairs": [{"elements": ["Na", "Cl"], "A": 1}, {"elements": ["Cl", "Na"], "A": 2}]}"#,
                "listed twice",
            ),
            (
                r#"{"kind": "rigid-ion", "charges": {"Na": 1}, "tolerance": 0}"#,
                "tolerance",
            ),
            (
                r#"{"kind": "rigid-ion", "charge": {"Na": 1}}"#,
                "unknown field `charge`",
            ),
            ("{", "not a valid physics model file"),
        ];
        for (text, expected) in cases {
            let err = PhysicsModel::from_json(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn parses_a_complete_model() {
        let m = PhysicsModel::from_json(
            r#"{"kind": "rigid-ion", "name": "x", "charges": {"Na": 1, "Cl": -1},
                "pairs": [{"elements": ["Cl", "Na"], "A": 1000, "rho": 0.3, "C": 2}]}"#,
        )
        .unwrap();
        assert_eq!(m.elements(), vec![11, 17]);
        assert_eq!(
            m.pair(11, 17),
            Some(&PairParameters {
                a: 1000.0,
                rho: 0.3,
                c: 2.0
            })
        );
        assert_eq!(m.pair(17, 17), None);
        assert_eq!(m.coulomb_constant, COULOMB_CONSTANT);
    }

    fn nacl_model() -> PhysicsModel {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/nacl-rigid-ion.json"
        ))
        .unwrap();
        PhysicsModel::from_json(&text).unwrap()
    }

    fn rattled_nacl() -> Structure {
        let base = crate::structure::tests::rocksalt(5.64);
        let positions = base
            .positions()
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x + Vec3::new(
                    0.05 * (i as f64).sin(),
                    0.04 * (2.0 * i as f64).cos(),
                    -0.03 * (i % 3) as f64,
                )
            })
            .collect();
        let lattice = crate::cell::Lattice::from_matrix(
            Mat3::new(1.01, 0.02, 0.0, 0.0, 0.99, 0.01, 0.015, 0.0, 1.0) * base.lattice().matrix(),
        )
        .unwrap();
        Structure::new(lattice, base.numbers().to_vec(), positions, [true; 3]).unwrap()
    }

    #[test]
    fn coulomb_only_model_gives_the_madelung_energy() {
        let model = PhysicsModel::from_json(
            r#"{"kind": "rigid-ion", "charges": {"Na": 1, "Cl": -1}, "tolerance": 1e-11}"#,
        )
        .unwrap();
        let r = model
            .compute(
                &crate::structure::tests::rocksalt(5.64),
                &Request::default(),
            )
            .unwrap();
        let expected = -4.0 * 1.747564594633182 * COULOMB_CONSTANT / 2.82;
        assert!(
            (r.energy / expected - 1.0).abs() < 1e-10,
            "{} vs {expected}",
            r.energy
        );
        assert!(r.energy_error_bound < 1e-9 * expected.abs());
    }

    #[test]
    fn forces_and_stress_are_minus_the_energy_gradient() {
        assert_gradients(None);
    }

    #[test]
    fn forces_and_stress_of_a_subset_energy_are_its_gradient() {
        let mask = (0..8).map(|i| i % 3 == 1).collect();
        assert_gradients(Some(mask));
    }

    /// Checks, for the energy of the atoms in `mask` (all if `None`), that the per-atom
    /// energies add up to it (zero outside the mask) and that forces and virial match central
    /// finite differences.
    fn assert_gradients(mask: Option<Vec<bool>>) {
        let model = nacl_model();
        let s = rattled_nacl();
        let request = Request {
            energy_atoms: mask.clone(),
            ..Request::all()
        };
        let r = model.compute(&s, &request).unwrap();
        let per_atom = r.per_atom_energies.as_ref().unwrap();
        if let Some(m) = &mask {
            assert!(per_atom.iter().zip(m).all(|(e, &m)| m || *e == 0.0));
        }
        let per_atom: f64 = per_atom.iter().sum();
        assert!((per_atom - r.energy).abs() < 1e-9 * r.energy.abs());
        let energy_only = Request {
            energy_atoms: mask,
            ..Request::default()
        };
        let energy = |s: &Structure| model.compute(s, &energy_only).unwrap().energy;
        let forces = r.forces.unwrap();
        let h = 1e-5;
        let scale = forces.iter().map(|f| f.norm()).fold(0.0, f64::max);
        for atom in [0, 5] {
            for axis in 0..3 {
                let mut plus = s.positions().to_vec();
                let mut minus = s.positions().to_vec();
                plus[atom][axis] += h;
                minus[atom][axis] -= h;
                let at = |p: Vec<Vec3>| {
                    Structure::new(*s.lattice(), s.numbers().to_vec(), p, [true; 3]).unwrap()
                };
                let fd = -(energy(&at(plus)) - energy(&at(minus))) / (2.0 * h);
                assert!(
                    (fd - forces[atom][axis]).abs() < 1e-6 * scale,
                    "atom {atom} axis {axis}: {fd} vs {}",
                    forces[atom][axis]
                );
            }
        }
        let virial = r.virial.unwrap();
        let strained = |eps: Mat3| {
            let f = Mat3::identity() + eps;
            let l =
                crate::cell::Lattice::from_matrix(s.lattice().matrix() * f.transpose()).unwrap();
            Structure::new(
                l,
                s.numbers().to_vec(),
                s.positions().iter().map(|x| f * x).collect(),
                [true; 3],
            )
            .unwrap()
        };
        for (a, b) in [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (0, 2)] {
            let mut eps = Mat3::zeros();
            eps[(a, b)] = h / 2.0;
            eps[(b, a)] += h / 2.0;
            let fd = -(energy(&strained(eps)) - energy(&strained(-eps))) / (2.0 * h);
            let analytic = 0.5 * (virial[(a, b)] + virial[(b, a)]);
            assert!(
                (fd - analytic).abs() < 1e-6 * virial.abs().max(),
                "W[{a}{b}]: {fd} vs {analytic}"
            );
        }
    }

    /// Checks that the energies, per-atom energies, forces and virials of `parts` add up to
    /// those of `whole`. Every part is truncated exactly like the whole sum (the Ewald split
    /// depends on the geometry and on max_c ‖w_c‖₁ / max|w_c|, which neither a mask nor a
    /// share changes here: |q| = 1, species indicators; the short-range cutoff depends on
    /// neither), so only rounding differs: ~1e-16 relative per term, a few thousand terms,
    /// relative to the largest part (the total can cancel to much less).
    fn assert_parts_add_up(whole: &Results, parts: &[Results], label: &str) {
        let close = |sum: f64, expected: f64, pieces: &mut dyn Iterator<Item = f64>| {
            let scale = pieces.fold(expected.abs(), |m, x| m.max(x.abs()));
            (sum - expected).abs() <= 1e-12 * scale
        };
        let energy: f64 = parts.iter().map(|r| r.energy).sum();
        assert!(
            close(energy, whole.energy, &mut parts.iter().map(|r| r.energy)),
            "{label}: {energy} vs {}",
            whole.energy
        );
        let per_atom = |r: &Results| r.per_atom_energies.clone().unwrap();
        let force = |r: &Results| r.forces.clone().unwrap();
        for i in 0..whole.forces.as_ref().unwrap().len() {
            let e: f64 = parts.iter().map(|r| per_atom(r)[i]).sum();
            let expected = per_atom(whole)[i];
            let mut pieces = parts.iter().map(|r| per_atom(r)[i]);
            assert!(
                close(e, expected, &mut pieces),
                "{label}: energy of atom {i}: {e} vs {expected}"
            );
            let f: Vec3 = parts.iter().map(|r| force(r)[i]).sum();
            let expected = force(whole)[i];
            let mut pieces = parts.iter().map(|r| force(r)[i].norm());
            assert!(
                close(0.0, (f - expected).norm(), &mut pieces),
                "{label}: force on atom {i}: {f} vs {expected}"
            );
        }
        let virial: Mat3 = parts.iter().map(|r| r.virial.unwrap()).sum();
        let w = whole.virial.unwrap();
        let pieces = parts.iter().map(|r| r.virial.unwrap().abs().max());
        assert!(
            close(
                0.0,
                (virial - w).abs().max(),
                &mut pieces.chain([w.abs().max()])
            ),
            "{label}: {virial} vs {w}"
        );
    }

    #[test]
    fn subset_energies_of_disjoint_masks_add_up_to_the_total() {
        let model = nacl_model();
        let s = rattled_nacl();
        let full = model.compute(&s, &Request::all()).unwrap();
        let masks = [vec![0, 3, 5], vec![1, 2], vec![4, 6, 7]];
        let parts: Vec<Results> = masks
            .iter()
            .map(|atoms| {
                let request = Request {
                    energy_atoms: Some((0..8).map(|i| atoms.contains(&i)).collect()),
                    ..Request::all()
                };
                model.compute(&s, &request).unwrap()
            })
            .collect();
        assert_parts_add_up(&full, &parts, "masks");
        for (atoms, r) in masks.iter().zip(&parts) {
            let energies = r.per_atom_energies.as_ref().unwrap();
            assert!((0..8).all(|i| atoms.contains(&i) || energies[i] == 0.0));
        }
    }

    #[test]
    fn shares_of_the_work_add_up_to_the_whole() {
        let model = nacl_model();
        let s = rattled_nacl();
        let mask: Vec<bool> = (0..8).map(|i| i % 3 != 1).collect();
        for energy_atoms in [None, Some(mask)] {
            let request = Request {
                energy_atoms,
                ..Request::all()
            };
            let whole = model.compute(&s, &request).unwrap();
            let tight = PhysicsModel {
                tolerance: 1e-11,
                ..model.clone()
            }
            .compute(&s, &request)
            .unwrap();
            for count in 1..=4 {
                let parts: Vec<Results> = (0..count)
                    .map(|index| {
                        let share = Request {
                            partition: Partition::new(index, count).unwrap(),
                            ..request.clone()
                        };
                        model.compute(&s, &share).unwrap()
                    })
                    .collect();
                let label = format!("{count} shares, mask {:?}", request.energy_atoms);
                assert_parts_add_up(&whole, &parts, &label);
                // Share 0 carries the truncation bounds, every share its own rounding: their
                // sum bounds the error of the summed energy (against a 10× tighter sum).
                let bound: f64 = parts.iter().map(|r| r.energy_error_bound).sum();
                let energy: f64 = parts.iter().map(|r| r.energy).sum();
                let err = (energy - tight.energy).abs();
                assert!(
                    err <= bound + tight.energy_error_bound,
                    "{label}: {err:e} > {bound:e}"
                );
            }
        }
    }

    #[test]
    fn a_mask_of_the_wrong_length_is_rejected() {
        let request = Request {
            energy_atoms: Some(vec![true; 3]),
            ..Request::all()
        };
        let err = nacl_model().compute(&rattled_nacl(), &request).unwrap_err();
        assert!(
            err.to_string().contains("mask has 3 entries for 8 atoms"),
            "{err}"
        );
    }

    #[test]
    fn rock_salt_is_near_equilibrium_at_its_experimental_lattice_constant() {
        // A sanity check of the shipped parameters: the pressure of the ideal crystal at
        // a = 5.64 Å is small on the scale of the Coulomb stress (|P| < 1 GPa).
        let model = nacl_model();
        let s = crate::structure::tests::rocksalt(5.64);
        let r = model.compute(&s, &Request::all()).unwrap();
        let stress = r.stress(s.volume()).unwrap();
        let pressure_gpa = -stress.trace() / 3.0 * 160.21766;
        assert!(pressure_gpa.abs() < 1.0, "P = {pressure_gpa} GPa");
        assert!(r.forces.unwrap().iter().all(|f| f.norm() < 1e-9));
    }

    #[test]
    fn unknown_elements_are_named() {
        let model = nacl_model();
        let l =
            crate::cell::Lattice::from_rows([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]])
                .unwrap();
        let s = Structure::new(
            l,
            vec![11, 8],
            vec![Vec3::zeros(), Vec3::repeat(2.0)],
            [true; 3],
        )
        .unwrap();
        let err = model.compute(&s, &Request::all()).unwrap_err().to_string();
        assert!(
            err.contains("element O is not in the model") && err.contains("Na, Cl"),
            "{err}"
        );
    }
}
