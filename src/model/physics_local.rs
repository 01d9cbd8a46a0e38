//! The rigid-ion model in the neighbour-list form of [`crate::model::local`], for engines that
//! own the neighbour search and the long range (LAMMPS with its ghosts and kspace styles).
//!
//! The split: the Born–Mayer repulsion A e^{−r/ρ} is short ranged and becomes the
//! [`LocalModel`] (E_i = ½ Σ_j A_ij e^{−r_ij/ρ_ij} within a cutoff set by the model's
//! tolerance); the Coulomb term and the −C/r⁶ term are complete lattice sums and become the
//! [`RankOneLongRange`] that the engine's Ewald-type solver evaluates, which needs the C_ij to
//! mix geometrically (C_ij = c_i c_j). The real-space screened parts of those sums depend on the
//! engine's splitting parameter and are the engine's business.

use std::collections::BTreeMap;

use super::local::{Environment, LocalModel, RankOneLongRange};
use super::physics::{PairParameters, PhysicsModel};
use crate::cell::Vec3;
use crate::elements;
use crate::error::{Error, Result};

/// Highest atom density (atoms/Å³) the repulsion cutoff is safe for: above every solid at
/// ambient pressure (diamond, the densest, has 0.176).
const MAX_DENSITY: f64 = 0.25;

/// Closest approach (Å) the repulsion cutoff assumes: the tail is made small against the
/// largest pair term A e^{−r/ρ} any atom of a physical crystal has, at r ≥ 1 Å.
const CONTACT: f64 = 1.0;

/// Relative tolerance of the geometric-mixing check C_ij = c_i c_j (model files give C to a
/// handful of digits, so anything looser than rounding would accept genuinely unmixed sets).
const MIXING_TOLERANCE: f64 = 1e-12;

/// One element pair's repulsion as the inner loop reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Repulsion {
    a: f64,
    inv_rho: f64,
    cutoff_squared: f64,
}

/// The repulsion of every element pair in a dense table indexed by element slot, built once
/// when the model is loaded: a per-neighbour map lookup would cost more than the exponential.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShortRangeTable {
    /// Atomic numbers of the model, ascending: what [`LocalModel::elements`] lends.
    elements: Vec<u8>,
    /// Slot of each atomic number in `elements` (`u8::MAX`: not in the model).
    slot: Vec<u8>,
    /// `elements.len()²` entries, row-major by slot.
    pairs: Vec<Repulsion>,
    cutoff: f64,
}

impl ShortRangeTable {
    /// The table of a model with these charges (its elements), pairs and tolerance.
    pub fn new(
        charges: &BTreeMap<u8, f64>,
        pairs: &BTreeMap<(u8, u8), PairParameters>,
        tolerance: f64,
    ) -> Self {
        let elements: Vec<u8> = charges.keys().copied().collect();
        let mut slot = vec![u8::MAX; usize::from(u8::MAX) + 1];
        for (k, &z) in elements.iter().enumerate() {
            slot[usize::from(z)] = k as u8;
        }
        let n = elements.len();
        let mut table = vec![Repulsion::default(); n * n];
        let mut cutoff = 0.0_f64;
        for (&(za, zb), p) in pairs {
            let (sa, sb) = (slot[usize::from(za)], slot[usize::from(zb)]);
            if p.a == 0.0 || sa == u8::MAX || sb == u8::MAX {
                continue;
            }
            let range = repulsion_range(p.rho, tolerance);
            cutoff = cutoff.max(range);
            let entry = Repulsion {
                a: p.a,
                inv_rho: 1.0 / p.rho,
                cutoff_squared: range * range,
            };
            table[usize::from(sa) * n + usize::from(sb)] = entry;
            table[usize::from(sb) * n + usize::from(sa)] = entry;
        }
        ShortRangeTable {
            elements,
            slot,
            pairs: table,
            cutoff,
        }
    }

    /// The repulsion of the element pair (a, b): A (eV, 0 if none), 1/ρ (1/Å) and the squared
    /// range (Å²); an error if an element is not in the model.
    pub fn pair(&self, a: u8, b: u8) -> Result<(f64, f64, f64)> {
        let p = self.pairs[self.slot_of(a)? * self.elements.len() + self.slot_of(b)?];
        Ok((p.a, p.inv_rho, p.cutoff_squared))
    }

    fn slot_of(&self, z: u8) -> Result<usize> {
        match self.slot[usize::from(z)] {
            u8::MAX => Err(Error::Model(format!(
                "element {} is not in the model (it knows {})",
                elements::symbol(z).unwrap_or("?"),
                self.elements
                    .iter()
                    .filter_map(|&z| elements::symbol(z))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            s => Ok(usize::from(s)),
        }
    }
}

/// Distance beyond which the omitted repulsion of one atom, A e^{−r/ρ} integrated over a shell
/// of density [`MAX_DENSITY`] from r to ∞ (4π n ρ e^{−r/ρ}(r² + 2ρr + 2ρ²) A), is below
/// `tolerance`·A e^{−CONTACT/ρ}: the fixed point of
/// r = CONTACT + ρ ln(4π n ρ (r² + 2ρr + 2ρ²) / tolerance).
fn repulsion_range(rho: f64, tolerance: f64) -> f64 {
    let mut r = 10.0 * rho;
    for _ in 0..50 {
        let next = CONTACT
            + rho
                * (4.0
                    * std::f64::consts::PI
                    * MAX_DENSITY
                    * rho
                    * (r * r + 2.0 * rho * r + 2.0 * rho * rho)
                    / tolerance)
                    .ln();
        if (next - r).abs() < 1e-12 * r {
            return next;
        }
        r = next;
    }
    r
}

impl LocalModel for PhysicsModel {
    fn cutoff(&self) -> f64 {
        self.short_range.cutoff
    }

    fn elements(&self) -> &[u8] {
        &self.short_range.elements
    }

    fn local_energy(&self, env: &Environment, mut gradient: Option<&mut [Vec3]>) -> Result<f64> {
        let table = &self.short_range;
        if env.neighbours.len() != env.vectors.len()
            || gradient
                .as_ref()
                .is_some_and(|g| g.len() != env.vectors.len())
        {
            return Err(Error::InvalidInput(format!(
                "an environment has {} neighbour elements, {} vectors and {} gradient slots",
                env.neighbours.len(),
                env.vectors.len(),
                gradient.as_ref().map_or(env.vectors.len(), |g| g.len())
            )));
        }
        let n = table.elements.len();
        let row = &table.pairs[table.slot_of(env.centre)? * n..][..n];
        let mut energy = 0.0;
        for (k, (&z, r)) in env.neighbours.iter().zip(env.vectors).enumerate() {
            let p = row[table.slot_of(z)?];
            let r2 = r.norm_squared();
            let mut g = Vec3::zeros();
            if r2 < p.cutoff_squared {
                if r2 == 0.0 {
                    return Err(Error::InvalidStructure(
                        "a neighbour sits on its centre atom (distance 0)".into(),
                    ));
                }
                let distance = r2.sqrt();
                let e = 0.5 * p.a * (-distance * p.inv_rho).exp();
                energy += e;
                g = r * (-e * p.inv_rho / distance);
            }
            if let Some(out) = gradient.as_deref_mut() {
                out[k] = g;
            }
        }
        Ok(energy)
    }
}

impl PhysicsModel {
    /// The Coulomb and dispersion sums in rank-1 form: the model's charges and, when the C_ij
    /// mix geometrically (C_ij = c_i c_j over every pair of the model's elements, unlisted
    /// pairs having C = 0), c_i = √C_ii. `None` when they do not: then no per-element
    /// dispersion coefficient reproduces the model and the long range cannot be handed to an
    /// Ewald-type solver.
    pub fn rank_one_long_range(&self) -> Option<RankOneLongRange> {
        let elements = self.elements();
        let c = |a: u8, b: u8| self.pair(a, b).map_or(0.0, |p| p.c);
        let scale = elements
            .iter()
            .flat_map(|&a| elements.iter().map(move |&b| c(a, b).abs()))
            .fold(0.0, f64::max);
        let mut dispersion = Vec::new();
        if scale > 0.0 {
            let amplitudes: Vec<f64> = elements.iter().map(|&z| c(z, z).max(0.0).sqrt()).collect();
            let mixes = elements.iter().zip(&amplitudes).all(|(&a, ca)| {
                elements
                    .iter()
                    .zip(&amplitudes)
                    .all(|(&b, cb)| (c(a, b) - ca * cb).abs() <= MIXING_TOLERANCE * scale)
            });
            if !mixes {
                return None;
            }
            dispersion = elements.iter().copied().zip(amplitudes).collect();
        }
        let charges = if self.charges.values().any(|&q| q != 0.0) {
            self.charges.iter().map(|(&z, &q)| (z, q)).collect()
        } else {
            Vec::new()
        };
        Some(RankOneLongRange {
            charges,
            dispersion,
            coulomb_constant: self.coulomb_constant,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Request;
    use crate::structure::Structure;

    const MGO: &str = r#"{"kind": "rigid-ion", "charges": {"Mg": 2, "O": -2},
        "pairs": [{"elements": ["Mg", "O"], "A": 821.6, "rho": 0.3242, "C": 0},
                  {"elements": ["O", "O"], "A": 22764.0, "rho": 0.149, "C": 27.88}]}"#;

    /// A rattled rock-salt MgO cell (8 atoms).
    fn rattled_mgo() -> Structure {
        let s = crate::structure::tests::rocksalt(4.21);
        let numbers = s
            .numbers()
            .iter()
            .map(|&z| if z == 11 { 12 } else { 8 })
            .collect();
        let positions: Vec<Vec3> = s
            .positions()
            .iter()
            .enumerate()
            .map(|(i, p)| p + Vec3::new(0.05, -0.03, 0.02) * ((i as f64 * 1.7).sin()))
            .collect();
        Structure::new(*s.lattice(), numbers, positions, [true; 3]).unwrap()
    }

    /// Every neighbour of atom `i` within `cutoff` with its element and vector, by brute force
    /// over enough images.
    fn environment(s: &Structure, i: usize, cutoff: f64) -> (Vec<u8>, Vec<Vec3>) {
        let m = s.lattice().matrix();
        let reps = 4;
        let (mut numbers, mut vectors) = (Vec::new(), Vec::new());
        for (j, pj) in s.positions().iter().enumerate() {
            for a in -reps..=reps {
                for b in -reps..=reps {
                    for c in -reps..=reps {
                        let shift = m.row(0).transpose() * f64::from(a)
                            + m.row(1).transpose() * f64::from(b)
                            + m.row(2).transpose() * f64::from(c);
                        let r = pj + shift - s.positions()[i];
                        if r.norm() > 0.0 && r.norm() < cutoff {
                            numbers.push(s.numbers()[j]);
                            vectors.push(r);
                        }
                    }
                }
            }
        }
        (numbers, vectors)
    }

    #[test]
    fn the_local_energies_add_up_to_the_repulsion_of_the_complete_model() {
        let model = PhysicsModel::from_json(MGO).unwrap();
        let s = rattled_mgo();
        // Only the repulsion: the same model without charges and C.
        let repulsive = PhysicsModel::from_json(
            &MGO.replace("\"Mg\": 2, \"O\": -2", "\"Mg\": 0, \"O\": 0")
                .replace("27.88", "0"),
        )
        .unwrap();
        let whole = repulsive.compute(&s, &Request::all()).unwrap();
        let cutoff = model.cutoff();
        assert!(cutoff > 8.0 && cutoff < 11.0, "{cutoff}");
        let mut total = 0.0;
        for i in 0..s.len() {
            let (numbers, vectors) = environment(&s, i, cutoff);
            let env = Environment {
                centre: s.numbers()[i],
                neighbours: &numbers,
                vectors: &vectors,
            };
            total += model.local_energy(&env, None).unwrap();
        }
        assert!(
            (total - whole.energy).abs() < 2e-9 * whole.energy.abs(),
            "{total} vs {}",
            whole.energy
        );
    }

    #[test]
    fn the_gradient_is_the_derivative_of_the_local_energy() {
        let model = PhysicsModel::from_json(MGO).unwrap();
        let s = rattled_mgo();
        let (numbers, vectors) = environment(&s, 1, 4.0);
        let env = |v: &[Vec3]| {
            model
                .local_energy(
                    &Environment {
                        centre: s.numbers()[1],
                        neighbours: &numbers,
                        vectors: v,
                    },
                    None,
                )
                .unwrap()
        };
        let mut gradient = vec![Vec3::zeros(); vectors.len()];
        let e = model
            .local_energy(
                &Environment {
                    centre: s.numbers()[1],
                    neighbours: &numbers,
                    vectors: &vectors,
                },
                Some(&mut gradient),
            )
            .unwrap();
        assert!((e - env(&vectors)).abs() < 1e-14 * e.abs());
        let h = 1e-5;
        for k in [0, 3, vectors.len() - 1] {
            for d in 0..3 {
                let (mut plus, mut minus) = (vectors.clone(), vectors.clone());
                plus[k][d] += h;
                minus[k][d] -= h;
                let numeric = (env(&plus) - env(&minus)) / (2.0 * h);
                assert!(
                    (numeric - gradient[k][d]).abs() < 1e-6 * gradient[k].norm().max(1e-3),
                    "neighbour {k} axis {d}: {numeric} vs {}",
                    gradient[k][d]
                );
            }
        }
    }

    #[test]
    fn unknown_elements_and_overlaps_are_errors() {
        let model = PhysicsModel::from_json(MGO).unwrap();
        let env = |centre, z, r: Vec3| {
            model
                .local_energy(
                    &Environment {
                        centre,
                        neighbours: &[z],
                        vectors: &[r],
                    },
                    None,
                )
                .unwrap_err()
                .to_string()
        };
        assert!(env(11, 8, Vec3::x()).contains("element Na is not in the model"));
        assert!(env(12, 8, Vec3::zeros()).contains("distance 0"));
    }

    #[test]
    fn geometric_dispersion_is_rank_one_and_unmixed_dispersion_is_not() {
        let model = PhysicsModel::from_json(MGO).unwrap();
        let long = model.rank_one_long_range().unwrap();
        assert_eq!(long.charges, vec![(8, -2.0), (12, 2.0)]);
        assert_eq!(long.dispersion, vec![(8, 27.88_f64.sqrt()), (12, 0.0)]);
        // A Mg–O C with C_MgMg = 0 cannot be c_Mg c_O.
        let unmixed = PhysicsModel::from_json(&MGO.replace("\"C\": 0", "\"C\": 5")).unwrap();
        assert_eq!(unmixed.rank_one_long_range(), None);
        // No charges, no C: an empty long range.
        let neutral = PhysicsModel::from_json(
            &MGO.replace("\"Mg\": 2, \"O\": -2", "\"Mg\": 0, \"O\": 0")
                .replace("27.88", "0"),
        )
        .unwrap();
        let none = neutral.rank_one_long_range().unwrap();
        assert!(none.charges.is_empty() && none.dispersion.is_empty());
    }
}
