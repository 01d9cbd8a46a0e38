//! The pairwise fast path of the neighbour-list form, for engines with their own Ewald-type
//! long range (LAMMPS with a half neighbour list, ghosts and a kspace style): a model whose
//! local part is a sum of pair terms (the rigid-ion Born–Mayer repulsion) together with the
//! real-space screened parts of its Coulomb and 1/r⁶ sums at the engine's splitting
//! parameters, each pair visited once.
//!
//! Why a separate path: the generic [`super::local::LocalModel`] entry takes one centre's
//! environment at a time, so the engine must pack every neighbour twice (a full list) into
//! arrays and scatter per-neighbour gradients back; for a pair model that bookkeeping costs
//! more than the physics. Here the engine's own arrays (positions, kinds, charges, a half
//! list) are read in place and forces are added into its force array, as its native pair
//! styles do. The special functions stay accurate to ~1e-15 ([`crate::math::erfc_and_gaussian`]:
//! one exponential for erfc and the force's Gaussian); nothing is tabulated at a lower accuracy.
//!
//! The screened terms are those of LAMMPS's `buck/long/coul/long` (and Ewald's real-space sum):
//! E = k q_i q_j erfc(g r)/r and E = −c_i c_j g⁶ e^{−g²r²}(1/(g²r²)³ + 1/(g²r²)² + 1/(2g²r²))
//! (the 1/r⁶ real-space part at g = g_ewald_6), both within the screened cutoff.

use super::physics_local::ShortRangeTable;
use crate::error::{Error, Result};

/// Everything of one kind pair the inner loop reads, in the engine's energy unit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct KindPair {
    /// Repulsion amplitude A (0: none) and 1/ρ; squared range of the repulsion.
    a: f64,
    inv_rho: f64,
    repulsion_cutoff_squared: f64,
    /// c_i c_j of the dispersion (0: none).
    dispersion: f64,
}

/// The pair coefficients of a model for an engine's atom kinds, built once per run.
#[derive(Clone, Debug, PartialEq)]
pub struct PairKernel {
    n_kinds: usize,
    /// Whether each kind is in use (an atom of an unused kind is an error).
    used: Vec<bool>,
    /// `n_kinds²` entries, row-major.
    pairs: Vec<KindPair>,
    /// Coulomb constant (engine energy unit · Å / e²); 0: no Coulomb part.
    coulomb_constant: f64,
    /// Squared range of the screened Coulomb and dispersion sums (Å²).
    screened_cutoff_squared: f64,
}

/// The model's side of a [`PairKernel`]: its repulsion table and per-element dispersion
/// amplitudes c (√(eV·Å⁶)); the model is in eV.
pub struct PairModel<'a> {
    pub repulsion: &'a ShortRangeTable,
    pub dispersion: &'a [(u8, f64)],
}

impl PairKernel {
    /// The kernel for kinds with these atomic numbers (`None`: the kind is unused), results in
    /// an energy unit of `energy_factor` per eV, Coulomb with `coulomb_constant` (in that
    /// unit; 0 when the model has no charges) and screened sums within `screened_cutoff` (Å).
    pub fn new(
        model: &PairModel,
        kinds: &[Option<u8>],
        energy_factor: f64,
        coulomb_constant: f64,
        screened_cutoff: f64,
    ) -> Result<Self> {
        for (what, v) in [
            ("energy factor", energy_factor),
            ("Coulomb constant", coulomb_constant),
            ("screened cutoff", screened_cutoff),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::InvalidInput(format!(
                    "the {what} must be finite and >= 0, got {v}"
                )));
            }
        }
        let n = kinds.len();
        let amplitude = |z: u8| {
            model
                .dispersion
                .iter()
                .find(|(e, _)| *e == z)
                .map_or(0.0, |(_, c)| *c)
        };
        let mut pairs = vec![KindPair::default(); n * n];
        for (ki, zi) in kinds.iter().enumerate() {
            for (kj, zj) in kinds.iter().enumerate() {
                let (Some(zi), Some(zj)) = (zi, zj) else {
                    continue;
                };
                let (a, inv_rho, repulsion_cutoff_squared) = model.repulsion.pair(*zi, *zj)?;
                pairs[ki * n + kj] = KindPair {
                    a: a * energy_factor,
                    inv_rho,
                    repulsion_cutoff_squared,
                    dispersion: energy_factor * amplitude(*zi) * amplitude(*zj),
                };
            }
        }
        Ok(PairKernel {
            n_kinds: n,
            used: kinds.iter().map(Option::is_some).collect(),
            pairs,
            coulomb_constant,
            screened_cutoff_squared: screened_cutoff * screened_cutoff,
        })
    }

    /// Evaluates every pair of `list` once (see [`HalfList`]) and adds its forces (and per-atom
    /// energies and virials, when given) into `out`; returns the summed energies.
    pub fn compute<'n, N: Fn(usize) -> &'n [i32]>(
        &self,
        list: &HalfList<N>,
        splitting: Splitting,
        out: &mut PairOutputs,
    ) -> Result<PairEnergies> {
        self.check(list, out)?;
        let n = self.n_kinds;
        let coulomb = self.coulomb_constant != 0.0 && list.charges.is_some();
        let charges = list.charges.unwrap_or(&[]);
        let g = splitting.g_ewald;
        let g2 = splitting.g_ewald_6 * splitting.g_ewald_6;
        let (g6, g8) = (g2 * g2 * g2, g2 * g2 * g2 * g2);
        let mut totals = PairEnergies::default();
        for &i in list.centres {
            let i = i as usize;
            let xi = [
                list.positions[3 * i],
                list.positions[3 * i + 1],
                list.positions[3 * i + 2],
            ];
            let row = &self.pairs[list.kinds[i] as usize * n..][..n];
            let qi = if coulomb { charges[i] } else { 0.0 };
            for &entry in (list.neighbours)(i) {
                let j = (entry & list.index_mask) as usize;
                if j >= list.n_atoms {
                    return Err(Error::InvalidInput(format!(
                        "atom {i} has neighbour {j}, but there are {} atoms",
                        list.n_atoms
                    )));
                }
                let del = [
                    xi[0] - list.positions[3 * j],
                    xi[1] - list.positions[3 * j + 1],
                    xi[2] - list.positions[3 * j + 2],
                ];
                let rsq = del[0] * del[0] + del[1] * del[1] + del[2] * del[2];
                let p = row[list.kinds[j] as usize];
                let screened = rsq < self.screened_cutoff_squared;
                let repulsive = p.a != 0.0 && rsq < p.repulsion_cutoff_squared;
                if !(screened || repulsive) {
                    continue;
                }
                if rsq == 0.0 {
                    return Err(Error::InvalidStructure(format!(
                        "atoms {i} and {j} sit on the same point (distance 0)"
                    )));
                }
                let r = rsq.sqrt();
                // force_r2 = −(dE/dr) r: the force on i is del · force_r2 / r².
                let (mut evdwl, mut ecoul, mut force_r2) = (0.0, 0.0, 0.0);
                if screened && coulomb {
                    let qq = qi * charges[j];
                    if qq != 0.0 {
                        let grij = g * r;
                        let (erfc, gaussian) = crate::math::erfc_and_gaussian(grij);
                        let prefactor = self.coulomb_constant * qq / r;
                        ecoul = prefactor * erfc;
                        force_r2 += prefactor * (erfc + FRAC_2_SQRT_PI * grij * gaussian);
                    }
                }
                if screened && p.dispersion != 0.0 {
                    let a2 = 1.0 / (g2 * rsq);
                    let x2 = a2 * (-g2 * rsq).exp() * p.dispersion;
                    evdwl -= g6 * ((a2 + 1.0) * a2 + 0.5) * x2;
                    force_r2 -= g8 * (((6.0 * a2 + 6.0) * a2 + 3.0) * a2 + 1.0) * x2 * rsq;
                }
                if repulsive {
                    let e = p.a * (-r * p.inv_rho).exp();
                    evdwl += e;
                    force_r2 += e * p.inv_rho * r;
                }
                let fpair = force_r2 / rsq;
                out.tally(list, i, j, del, fpair, evdwl, ecoul, &mut totals);
            }
        }
        Ok(totals)
    }

    /// The checks that make the loop safe to index: lengths, kinds in use, finite positions.
    fn check<N>(&self, list: &HalfList<N>, out: &PairOutputs) -> Result<()> {
        let n = list.n_atoms;
        let bad = |what: &str, len: usize, expected: usize| {
            Error::InvalidInput(format!("{what} has {len} values, {expected} expected"))
        };
        if list.positions.len() != 3 * n {
            return Err(bad("positions", list.positions.len(), 3 * n));
        }
        if list.kinds.len() != n {
            return Err(bad("kinds", list.kinds.len(), n));
        }
        if let Some(q) = list.charges {
            if q.len() != n {
                return Err(bad("charges", q.len(), n));
            }
        }
        if out.forces.len() != 3 * n {
            return Err(bad("forces", out.forces.len(), 3 * n));
        }
        if let Some(e) = out.atom_energies.as_ref() {
            if e.len() != n {
                return Err(bad("per-atom energies", e.len(), n));
            }
        }
        if let Some(v) = out.atom_virials.as_ref() {
            if v.len() != 6 * n {
                return Err(bad("per-atom virials", v.len(), 6 * n));
            }
        }
        if list.n_owned > n {
            return Err(Error::InvalidInput(format!(
                "{} owned atoms of {n}",
                list.n_owned
            )));
        }
        if let Some((i, &k)) = list
            .kinds
            .iter()
            .enumerate()
            .find(|(_, &k)| k < 0 || k as usize >= self.n_kinds || !self.used[k as usize])
        {
            return Err(Error::InvalidInput(format!(
                "atom {i} is of kind {k}, which has no element"
            )));
        }
        if let Some(&i) = list.centres.iter().find(|&&i| i < 0 || i as usize >= n) {
            return Err(Error::InvalidInput(format!(
                "centre {i} is not one of the {n} atoms"
            )));
        }
        if list.positions.iter().any(|x| !x.is_finite()) {
            return Err(Error::NonFinite("a position is NaN or infinite".into()));
        }
        Ok(())
    }
}

const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

/// An engine's atoms (owned first, then ghosts/images) and a half neighbour list over them:
/// every interacting pair once, from the centre's side.
pub struct HalfList<'a, N> {
    /// Atoms whose neighbours are listed.
    pub centres: &'a [i32],
    /// Neighbour entries of an atom; `entry & index_mask` is the neighbour's index (engines
    /// keep flags in the high bits).
    pub neighbours: N,
    pub index_mask: i32,
    /// Owned atoms come first: 0..n_owned.
    pub n_owned: usize,
    /// Owned atoms and ghosts.
    pub n_atoms: usize,
    /// 3 n_atoms Cartesian coordinates (Å).
    pub positions: &'a [f64],
    /// n_atoms kinds (indices into the kernel's kinds).
    pub kinds: &'a [i32],
    /// n_atoms charges (e), if the model has a Coulomb part.
    pub charges: Option<&'a [f64]>,
    /// Newton's third law across ranks: forces on ghosts are kept (the engine sends them to
    /// their owners) and each pair's energy counts whole; without it a pair with a ghost is
    /// listed on both ranks, ghosts get no force and each copy counts half.
    pub newton: bool,
}

/// The Ewald splitting parameters of the engine's long-range solver (1/Å).
#[derive(Clone, Copy, Debug)]
pub struct Splitting {
    pub g_ewald: f64,
    pub g_ewald_6: f64,
}

/// Where the per-pair results go: added to what is there.
pub struct PairOutputs<'a> {
    /// 3 n_atoms forces.
    pub forces: &'a mut [f64],
    /// n_atoms energies, half of each pair to each atom.
    pub atom_energies: Option<&'a mut [f64]>,
    /// 6 n_atoms virials (xx, yy, zz, xy, xz, yz), half of each pair to each atom.
    pub atom_virials: Option<&'a mut [f64]>,
    /// Whether to sum the global virial.
    pub virial: bool,
}

/// The summed energies (engine unit) and, when asked, the global virial (xx, yy, zz, xy, xz,
/// yz) of the pairs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PairEnergies {
    /// Repulsion and screened dispersion.
    pub short: f64,
    /// Screened Coulomb.
    pub coulomb: f64,
    pub virial: [f64; 6],
}

impl PairOutputs<'_> {
    /// Adds one pair as LAMMPS's `ev_tally` does: with `newton`, the ghost side too; without,
    /// only owned atoms and half the pair per owned atom of the global sums.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn tally<N>(
        &mut self,
        list: &HalfList<N>,
        i: usize,
        j: usize,
        del: [f64; 3],
        fpair: f64,
        evdwl: f64,
        ecoul: f64,
        totals: &mut PairEnergies,
    ) {
        let i_counts = list.newton || i < list.n_owned;
        let j_counts = list.newton || j < list.n_owned;
        for (k, d) in del.iter().enumerate() {
            let f = d * fpair;
            self.forces[3 * i + k] += f;
            if j_counts {
                self.forces[3 * j + k] -= f;
            }
        }
        let weight = if list.newton {
            1.0
        } else {
            0.5 * (f64::from(u8::from(i_counts)) + f64::from(u8::from(j_counts)))
        };
        totals.short += weight * evdwl;
        totals.coulomb += weight * ecoul;
        let needs_virial = self.virial || self.atom_virials.is_some();
        if !(needs_virial || self.atom_energies.is_some()) {
            return;
        }
        if let Some(e) = self.atom_energies.as_deref_mut() {
            let half = 0.5 * (evdwl + ecoul);
            if i_counts {
                e[i] += half;
            }
            if j_counts {
                e[j] += half;
            }
        }
        if !needs_virial {
            return;
        }
        let v = [
            del[0] * del[0] * fpair,
            del[1] * del[1] * fpair,
            del[2] * del[2] * fpair,
            del[0] * del[1] * fpair,
            del[0] * del[2] * fpair,
            del[1] * del[2] * fpair,
        ];
        if self.virial {
            for (t, x) in totals.virial.iter_mut().zip(v) {
                *t += weight * x;
            }
        }
        if let Some(w) = self.atom_virials.as_deref_mut() {
            for (atom, counts) in [(i, i_counts), (j, j_counts)] {
                if counts {
                    for (t, x) in w[6 * atom..6 * atom + 6].iter_mut().zip(v) {
                        *t += 0.5 * x;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Vec3;
    use crate::model::local::{Environment, LocalModel};
    use crate::model::physics::PhysicsModel;

    const MGO: &str = r#"{"kind": "rigid-ion", "charges": {"Mg": 2, "O": -2},
        "pairs": [{"elements": ["Mg", "O"], "A": 821.6, "rho": 0.3242, "C": 0},
                  {"elements": ["O", "O"], "A": 22764.0, "rho": 0.149, "C": 27.88}]}"#;

    /// An engine's view of a rattled 8-atom MgO cell (edge `A`): the atoms, then every
    /// periodic image within `REACH` of the cell as a ghost, and a half list (each physical
    /// pair once: owned pairs with j > i, owned–ghost pairs from the side whose image shift
    /// is lexicographically positive).
    struct Engine {
        positions: Vec<f64>,
        kinds: Vec<i32>,
        charges: Vec<f64>,
        centres: Vec<i32>,
        neighbours: Vec<Vec<i32>>,
        owner: Vec<usize>,
    }

    const A: f64 = 4.21;
    const REACH: f64 = 11.5;

    fn engine(owned: &[Vec3]) -> Engine {
        let mut e = Engine {
            positions: Vec::new(),
            kinds: Vec::new(),
            charges: Vec::new(),
            centres: (0..owned.len() as i32).collect(),
            neighbours: vec![Vec::new(); owned.len()],
            owner: Vec::new(),
        };
        let kind = |i: usize| if i.is_multiple_of(2) { 1 } else { 2 }; // 1: Mg, 2: O
        let mut shifts = vec![(0, 0, 0)];
        let m = (REACH / A).ceil() as i32 + 1;
        for a in -m..=m {
            for b in -m..=m {
                for c in -m..=m {
                    if (a, b, c) != (0, 0, 0) {
                        shifts.push((a, b, c));
                    }
                }
            }
        }
        let mut shift_of = Vec::new();
        for &(a, b, c) in &shifts {
            let t = Vec3::new(a as f64, b as f64, c as f64) * A;
            for (i, p) in owned.iter().enumerate() {
                let x = p + t;
                let inside = (0..3).all(|k| x[k] > -REACH && x[k] < A + REACH);
                if (a, b, c) == (0, 0, 0) || inside {
                    e.positions.extend([x[0], x[1], x[2]]);
                    e.kinds.push(kind(i));
                    e.charges.push(if kind(i) == 1 { 2.0 } else { -2.0 });
                    e.owner.push(i);
                    shift_of.push((a, b, c));
                }
            }
        }
        let x = |j: usize| {
            Vec3::new(
                e.positions[3 * j],
                e.positions[3 * j + 1],
                e.positions[3 * j + 2],
            )
        };
        for i in 0..owned.len() {
            for (j, shift) in shift_of.iter().enumerate() {
                let listed = if j < owned.len() {
                    j > i
                } else {
                    *shift > (0, 0, 0)
                };
                if listed && (x(j) - x(i)).norm() < REACH - 0.5 {
                    e.neighbours[i].push(j as i32);
                }
            }
        }
        e
    }

    fn rattled() -> Vec<Vec3> {
        let h = A / 2.0;
        [
            (0, 0, 0),
            (1, 0, 0),
            (1, 1, 0),
            (0, 1, 0),
            (1, 0, 1),
            (0, 0, 1),
            (0, 1, 1),
            (1, 1, 1),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(a, b, c))| {
            Vec3::new(a as f64, b as f64, c as f64) * h
                + Vec3::new(0.07, -0.04, 0.03) * ((i as f64 * 1.3).sin())
        })
        .collect()
    }

    fn kernel(model: &PhysicsModel) -> PairKernel {
        let long = model.rank_one_long_range().unwrap();
        let pm = PairModel {
            repulsion: &model.short_range,
            dispersion: &long.dispersion,
        };
        PairKernel::new(&pm, &[None, Some(12), Some(8)], 1.0, 14.4, 9.0).unwrap()
    }

    const SPLIT: Splitting = Splitting {
        g_ewald: 0.32,
        g_ewald_6: 0.29,
    };

    /// Energy and owned-atom forces (ghost forces folded onto their owners).
    fn evaluate(
        k: &PairKernel,
        owned: &[Vec3],
        newton: bool,
    ) -> (PairEnergies, Vec<f64>, Vec<f64>) {
        let e = engine(owned);
        let n = e.owner.len();
        let neighbours = |i: usize| e.neighbours[i].as_slice();
        let list = HalfList {
            centres: &e.centres,
            neighbours,
            index_mask: i32::MAX,
            n_owned: owned.len(),
            n_atoms: n,
            positions: &e.positions,
            kinds: &e.kinds,
            charges: Some(&e.charges),
            newton,
        };
        let (mut forces, mut energies) = (vec![0.0; 3 * n], vec![0.0; n]);
        let mut out = PairOutputs {
            forces: &mut forces,
            atom_energies: Some(&mut energies),
            atom_virials: None,
            virial: true,
        };
        let sums = k.compute(&list, SPLIT, &mut out).unwrap();
        let mut folded = vec![0.0; 3 * owned.len()];
        for (j, &o) in e.owner.iter().enumerate() {
            for d in 0..3 {
                folded[3 * o + d] += forces[3 * j + d];
            }
        }
        (sums, folded, energies)
    }

    #[test]
    fn the_repulsion_is_the_local_models_and_forces_are_minus_the_gradient() {
        let model = PhysicsModel::from_json(MGO).unwrap();
        let owned = rattled();
        // Repulsion only (no charges, no dispersion) against the generic per-centre form.
        let bare = PairKernel::new(
            &PairModel {
                repulsion: &model.short_range,
                dispersion: &[],
            },
            &[None, Some(12), Some(8)],
            1.0,
            0.0,
            0.0,
        )
        .unwrap();
        let (sums, _, _) = evaluate(&bare, &owned, true);
        let e = engine(&owned);
        let mut generic = 0.0;
        for i in 0..owned.len() {
            let (mut numbers, mut vectors) = (Vec::new(), Vec::new());
            for j in 0..e.owner.len() {
                let r = Vec3::new(
                    e.positions[3 * j] - e.positions[3 * i],
                    e.positions[3 * j + 1] - e.positions[3 * i + 1],
                    e.positions[3 * j + 2] - e.positions[3 * i + 2],
                );
                if j != i && r.norm() < REACH - 0.5 {
                    numbers.push(if e.kinds[j] == 1 { 12 } else { 8 });
                    vectors.push(r);
                }
            }
            let env = Environment {
                centre: if e.kinds[i] == 1 { 12 } else { 8 },
                neighbours: &numbers,
                vectors: &vectors,
            };
            generic += model.local_energy(&env, None).unwrap();
        }
        assert!(
            (sums.short - generic).abs() < 1e-12 * generic,
            "{} vs {generic}",
            sums.short
        );
        assert_eq!(sums.coulomb, 0.0);

        // Every term: forces against central differences of the energy.
        let k = kernel(&model);
        let total = |p: &[Vec3]| {
            let (s, _, _) = evaluate(&k, p, true);
            s.short + s.coulomb
        };
        let (sums, forces, energies) = evaluate(&k, &owned, true);
        assert!(sums.coulomb != 0.0 && sums.short != 0.0);
        let per_atom: f64 = energies.iter().sum();
        assert!((per_atom - sums.short - sums.coulomb).abs() < 1e-12 * sums.coulomb.abs());
        let h = 1e-5;
        for i in [0, 3, 6] {
            for d in 0..3 {
                let (mut plus, mut minus) = (owned.clone(), owned.clone());
                plus[i][d] += h;
                minus[i][d] -= h;
                let numeric = -(total(&plus) - total(&minus)) / (2.0 * h);
                assert!(
                    (numeric - forces[3 * i + d]).abs() < 1e-6,
                    "atom {i} axis {d}: {numeric} vs {}",
                    forces[3 * i + d]
                );
            }
        }
    }

    #[test]
    fn without_newton_owned_pairs_count_whole_and_ghost_pairs_half() {
        let model = PhysicsModel::from_json(MGO).unwrap();
        let k = kernel(&model);
        let owned = rattled();
        let (on, _, _) = evaluate(&k, &owned, true);
        let (off, _, energies) = evaluate(&k, &owned, false);
        // One rank owning everything: each ghost pair is listed once here, so it is counted
        // half (its other copy would be on the ghost's owner).
        assert!(off.coulomb.abs() < on.coulomb.abs());
        let owned_sum: f64 = energies[..owned.len()].iter().sum();
        assert!((owned_sum - off.short - off.coulomb).abs() < 1e-12 * off.coulomb.abs());
        assert!(energies[owned.len()..].iter().all(|&e| e == 0.0));
    }

    #[test]
    fn bad_lists_are_errors() {
        let model = PhysicsModel::from_json(MGO).unwrap();
        let k = kernel(&model);
        let positions = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        fn neighbours(_: usize) -> &'static [i32] {
            &[1]
        }
        let run = |kinds: &[i32], centres: &[i32], n_atoms| {
            let list = HalfList {
                centres,
                neighbours,
                index_mask: i32::MAX,
                n_owned: 1,
                n_atoms,
                positions: &positions[..3 * n_atoms],
                kinds,
                charges: None,
                newton: true,
            };
            let mut forces = vec![0.0; 3 * n_atoms];
            let mut out = PairOutputs {
                forces: &mut forces,
                atom_energies: None,
                atom_virials: None,
                virial: false,
            };
            k.compute(&list, SPLIT, &mut out).unwrap_err().to_string()
        };
        assert!(run(&[1, 2], &[0], 2).contains("distance 0"));
        assert!(run(&[1, 0], &[0], 2).contains("kind 0"));
        assert!(run(&[1], &[0], 1).contains("neighbour 1"));
        assert!(run(&[1, 2], &[5], 2).contains("centre 5"));
    }
}
