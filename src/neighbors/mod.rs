//! Periodic neighbour lists and the PotNet local graph.
//!
//! [`NeighborList`] finds every pair closer than a cutoff with a cell list in fractional
//! space: atoms are binned along the three lattice directions so that a bin is at least one
//! cutoff wide perpendicular to its faces, and each atom only looks at the neighbouring bins
//! (and their periodic images). The same code covers tiny cells with cutoffs far larger than
//! the cell (one bin per axis, many images) and large cells with O(N) cost.

mod potnet;
mod pyset;

pub use potnet::{potnet_graph, potnet_graph_with_shells, PotnetGraph};

use rayon::prelude::*;

use crate::cell::{Lattice, Mat3, Vec3};
use crate::error::{short, Error, Result};
use crate::structure::Structure;

/// Upper bound on the bins (periodic images included) searched around one atom; beyond it the
/// cutoff is absurd for the cell and the caller most likely mixed up units.
const MAX_SEARCH_BINS: u64 = 20_000_000;

/// Upper bound on the expected number of pairs (memory guard: 64 bytes per pair).
const MAX_EXPECTED_PAIRS: f64 = 1.0e9;

/// Atoms further than this many cells from the origin cell would overflow the i32 shifts.
const MAX_WRAP: f64 = 1.0e8;

/// Relative safety margin on the search radius, far above the rounding of binning, far below
/// anything physical. Pairs are finally filtered with the exact cutoff.
const SEARCH_MARGIN: f64 = 1e-9;

/// Which pairs a list holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Both i -> j (shift n) and j -> i (shift -n): what per-atom loops such as forces need.
    Full,
    /// Each unordered pair once: i < j, or i == j with a lexicographically positive shift.
    /// Halves the work of symmetric pair sums.
    Half,
}

/// One neighbour pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    /// The centre atom.
    pub i: usize,
    /// The neighbour atom.
    pub j: usize,
    /// Integer lattice translation `n` of atom j (in the structure's own lattice basis).
    pub shift: [i32; 3],
    /// r = x_j + n · L - x_i (Å), from the unwrapped positions of the structure.
    pub r: Vec3,
    /// |r| (Å), 0 < distance <= cutoff.
    pub distance: f64,
}

/// All pairs within a cutoff, sorted by `i`, then `j`, then `shift` (lexicographic), so that
/// the output is deterministic and independent of thread count.
#[derive(Clone, Debug)]
pub struct NeighborList {
    kind: ListKind,
    cutoff: f64,
    pairs: Vec<Pair>,
    /// Pairs of centre atom i are `pairs[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
}

/// The neighbours of one atom at a time, from the same cell lists as [`NeighborList`]: for
/// loops over large systems whose complete list would not fit in memory (10⁴ atoms at 20 Å
/// is ~2·10⁷ pairs).
pub struct NeighborSearch<'a> {
    structure: &'a Structure,
    grid: BinGrid,
    cutoff: f64,
    kind: ListKind,
}

impl<'a> NeighborSearch<'a> {
    /// Prepares the search; fails on a cutoff that is not a positive finite length.
    pub fn new(structure: &'a Structure, cutoff: f64, kind: ListKind) -> Result<Self> {
        if !cutoff.is_finite() || cutoff <= 0.0 {
            return Err(Error::InvalidInput(format!(
                "neighbour cutoff must be a positive finite length in Å, got {cutoff}"
            )));
        }
        Ok(NeighborSearch {
            structure,
            grid: BinGrid::new(structure, cutoff)?,
            cutoff,
            kind,
        })
    }

    /// The pairs whose centre atom is `i`, sorted by (j, shift), as [`NeighborList::pairs_of`]
    /// would give them.
    pub fn pairs_of(&self, i: usize) -> Result<Vec<Pair>> {
        self.grid
            .pairs_of(self.structure, i, self.cutoff, self.kind)
    }

    /// Calls `f(j, r, |r|)` for the neighbours of atom `i` that it owns in a half list
    /// (r points from i to the image of j, 0 < |r| <= cutoff), in no particular order and
    /// without allocating; an error if an atom sits on atom `i`. Over all i, every pair
    /// {i, image of j} is visited exactly once, and each atom owns about half of its pairs
    /// (ownership alternates with the parity of i + j, so any block of centres gets its fair
    /// share of the work). r comes from the wrapped positions, so it can differ from
    /// [`pairs_of`](Self::pairs_of)'s by rounding.
    pub fn for_each_owned_pair(&self, i: usize, f: impl FnMut(usize, Vec3, f64)) -> Result<()> {
        self.grid.for_each_owned_pair(i, self.cutoff, f)
    }
}

/// Smallest distance between two atoms, or between an atom and one of its periodic images,
/// with the atom pair; `None` for a single atom in a non-periodic cell. Searches a cutoff that
/// a packing argument says must hold a neighbour (1.2 (V/N)^{1/3}), doubling it if needed.
pub fn min_distance(structure: &Structure) -> Result<Option<(f64, usize, usize)>> {
    let mut probe = 1.2 * (structure.volume() / structure.len() as f64).cbrt();
    for _ in 0..64 {
        let list = NeighborList::build(structure, probe)?;
        if let Some(p) = list
            .pairs()
            .iter()
            .min_by(|a, b| a.distance.total_cmp(&b.distance))
        {
            return Ok(Some((p.distance, p.i, p.j)));
        }
        probe *= 2.0;
    }
    Ok(None)
}

/// Fails when two atoms (or an atom and an image) are closer than `threshold` Å, naming the
/// pair: such structures are almost always broken input, and pair potentials diverge there.
/// The one implementation of the check, behind every front end (`Request::min_distance`, the
/// CLI's `--min-distance`); a threshold of 0 disables it.
pub fn check_min_distance(structure: &Structure, threshold: f64) -> Result<()> {
    if !(threshold.is_finite() && threshold >= 0.0) {
        return Err(Error::InvalidInput(format!(
            "the minimum distance must be a finite length >= 0 Å, got {}",
            crate::error::short(threshold)
        )));
    }
    if threshold == 0.0 {
        return Ok(());
    }
    if let Some((d, i, j)) = min_distance(structure)? {
        if d < threshold {
            let symbol = |k: usize| crate::elements::symbol(structure.numbers()[k]).unwrap_or("?");
            if i == j {
                if let Some(singular) = nearly_singular(&structure.lattice().lll_reduced().0) {
                    return Err(Error::InvalidStructure(singular));
                }
            }
            let pair = if i == j {
                format!("atom {i} ({}) and its periodic image", symbol(i))
            } else {
                format!("atoms {i} ({}) and {j} ({})", symbol(i), symbol(j))
            };
            let d = if d < 1e-3 {
                short(d)
            } else {
                format!("{d:.4}")
            };
            return Err(Error::InvalidStructure(format!(
                "{pair} are {d} Å apart, closer than the minimum distance {threshold} Å \
                 (broken input? the threshold is the min_distance option)"
            )));
        }
    }
    Ok(())
}

impl NeighborList {
    /// Full list (both directions) of every pair with 0 < |r| <= `cutoff` (Å).
    pub fn build(structure: &Structure, cutoff: f64) -> Result<NeighborList> {
        Self::build_with(structure, cutoff, ListKind::Full)
    }

    /// Like [`NeighborList::build`], choosing a full or half list.
    pub fn build_with(structure: &Structure, cutoff: f64, kind: ListKind) -> Result<NeighborList> {
        let search = NeighborSearch::new(structure, cutoff, kind)?;
        let n = structure.len();
        let per_atom: Vec<Vec<Pair>> = (0..n)
            .into_par_iter()
            .map(|i| search.pairs_of(i))
            .collect::<Result<_>>()?;
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut total = 0;
        for list in &per_atom {
            total += list.len();
            offsets.push(total);
        }
        let mut pairs = Vec::with_capacity(total);
        for list in per_atom {
            pairs.extend(list);
        }
        Ok(NeighborList {
            kind,
            cutoff,
            pairs,
            offsets,
        })
    }

    /// All pairs, in the documented order.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Pairs whose centre atom is `i` (empty for an out-of-range index).
    pub fn pairs_of(&self, i: usize) -> &[Pair] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.pairs[a..b],
            _ => &[],
        }
    }

    pub fn kind(&self) -> ListKind {
        self.kind
    }

    pub fn cutoff(&self) -> f64 {
        self.cutoff
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The half list keeps (i, j, n) when i < j, or i == j and n > 0 lexicographically; its
/// partner (j, i, -n) then fails the test, so each unordered pair is kept exactly once.
fn in_half_list(i: usize, j: usize, shift: [i32; 3]) -> bool {
    i < j || (i == j && shift > [0, 0, 0])
}

/// Atoms sorted into fractional-space bins of a (possibly LLL-reduced) working basis.
struct BinGrid {
    /// Working basis (rows); LLL-reduced when fully periodic, so that skewed cells do not
    /// inflate the search box.
    work: Mat3,
    /// Original shift = working shift · `to_original`.
    to_original: [[i32; 3]; 3],
    pbc: [bool; 3],
    nbins: [i64; 3],
    /// Bins searched on each side along each axis.
    reach: [i64; 3],
    /// Start of each bin in `order`, length = number of bins + 1.
    bin_start: Vec<usize>,
    /// Atom indices sorted by bin.
    order: Vec<usize>,
    /// Bin of each atom.
    bin_of: Vec<[i64; 3]>,
    /// Cartesian positions wrapped into the working cell along periodic axes.
    wrapped: Vec<Vec3>,
    /// Working-basis lattice translation removed by the wrap: x = wrapped + wrap · work.
    wrap: Vec<[i64; 3]>,
    search_radius: f64,
}

impl BinGrid {
    fn new(structure: &Structure, cutoff: f64) -> Result<BinGrid> {
        let pbc = structure.pbc();
        let n = structure.len();
        let lattice = structure.lattice();
        let (work_lattice, to_original) = if pbc.iter().all(|&p| p) {
            let (reduced, t) = lattice.lll_reduced();
            let t = [0, 1, 2].map(|r| [0, 1, 2].map(|c| t[(r, c)] as i32));
            (reduced, t)
        } else {
            (*lattice, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
        };
        let work = *work_lattice.matrix();
        let inv = work_lattice.inverse();
        let faces = work_lattice.face_distances();
        let search_radius = cutoff * (1.0 + SEARCH_MARGIN);

        let mut frac: Vec<Vec3> = structure
            .positions()
            .iter()
            .map(|p| inv.tr_mul(p))
            .collect();
        let mut wrap = vec![[0i64; 3]; n];
        let mut lo = [0.0f64; 3];
        let mut span = [1.0f64; 3];
        for k in 0..3 {
            if pbc[k] {
                for (f, w) in frac.iter_mut().zip(wrap.iter_mut()) {
                    let fl = f[k].floor();
                    if fl.abs() > MAX_WRAP {
                        if let Some(singular) = nearly_singular(&work_lattice) {
                            return Err(Error::InvalidStructure(singular));
                        }
                        return Err(Error::InvalidStructure(format!(
                            "an atom lies {fl:.3e} cells away from the origin cell; \
                             wrap the coordinates first"
                        )));
                    }
                    f[k] -= fl;
                    w[k] = fl as i64;
                    if f[k] >= 1.0 {
                        f[k] = 0.0;
                        w[k] += 1;
                    }
                }
            } else {
                let min = frac.iter().map(|f| f[k]).fold(f64::INFINITY, f64::min);
                let max = frac.iter().map(|f| f[k]).fold(f64::NEG_INFINITY, f64::max);
                lo[k] = min;
                span[k] = max - min;
            }
        }

        // Perpendicular extent covered by the bins along each axis.
        let extent = [0, 1, 2].map(|k| span[k] * faces[k]);
        let mut nbins =
            [0, 1, 2].map(|k| (extent[k] / search_radius).floor().clamp(1.0, 1e6) as i64);
        // Dilute systems: never more bins than about two per atom.
        let max_bins = 2 * n as i64 + 27;
        while nbins.iter().product::<i64>() > max_bins {
            let k = (0..3).max_by_key(|&k| nbins[k]).unwrap_or(0);
            nbins[k] = (nbins[k] / 2).max(1);
        }
        let mut reach = [0i64; 3];
        for k in 0..3 {
            let width = extent[k] / nbins[k] as f64;
            let r = if width > 0.0 {
                (search_radius / width).ceil()
            } else {
                0.0
            };
            reach[k] = if pbc[k] {
                if r > 1e6 {
                    return Err(too_many_images(&work_lattice, cutoff, faces));
                }
                r as i64
            } else {
                (r.min(1e6) as i64).min(nbins[k] - 1)
            };
        }
        let searched: u64 = reach.iter().map(|&r| 2 * r as u64 + 1).product();
        if searched > MAX_SEARCH_BINS {
            return Err(too_many_images(&work_lattice, cutoff, faces));
        }
        if pbc.iter().all(|&p| p) {
            let sphere = 4.0 / 3.0 * std::f64::consts::PI * cutoff.powi(3);
            let expected = n as f64 * n as f64 * sphere / structure.volume();
            if expected > MAX_EXPECTED_PAIRS {
                return Err(Error::InvalidInput(format!(
                    "cutoff {} Å would give about {expected:.2e} pairs for {n} atoms \
                     in {} Å^3; reduce the cutoff",
                    short(cutoff),
                    short(structure.volume())
                )));
            }
        }

        let bin_of: Vec<[i64; 3]> = frac
            .iter()
            .map(|f| {
                [0, 1, 2].map(|k| {
                    let t = if pbc[k] {
                        f[k]
                    } else if span[k] > 0.0 {
                        (f[k] - lo[k]) / span[k]
                    } else {
                        0.0
                    };
                    ((t * nbins[k] as f64).floor() as i64).clamp(0, nbins[k] - 1)
                })
            })
            .collect();
        let flat = |b: &[i64; 3]| ((b[0] * nbins[1] + b[1]) * nbins[2] + b[2]) as usize;
        let total_bins = nbins.iter().product::<i64>() as usize;
        let mut bin_start = vec![0usize; total_bins + 1];
        for b in &bin_of {
            bin_start[flat(b) + 1] += 1;
        }
        for k in 0..total_bins {
            bin_start[k + 1] += bin_start[k];
        }
        let mut fill = bin_start.clone();
        let mut order = vec![0usize; n];
        for (i, b) in bin_of.iter().enumerate() {
            let slot = &mut fill[flat(b)];
            order[*slot] = i;
            *slot += 1;
        }
        let wrapped = frac.iter().map(|f| work.tr_mul(f)).collect();
        Ok(BinGrid {
            work,
            to_original,
            pbc,
            nbins,
            reach,
            bin_start,
            order,
            bin_of,
            wrapped,
            wrap,
            search_radius,
        })
    }

    /// Every neighbour of atom `i`, sorted by (j, shift); an error if another atom (or an
    /// image of one) sits exactly on atom `i`, which no pair potential can evaluate.
    fn pairs_of(
        &self,
        structure: &Structure,
        i: usize,
        cutoff: f64,
        kind: ListKind,
    ) -> Result<Vec<Pair>> {
        let positions = structure.positions();
        let lattice = structure.lattice().matrix();
        let mut out = Vec::new();
        self.visit(i, |j, image, _| {
            let shift = self.original_shift(i, j, image);
            if kind == ListKind::Half && !in_half_list(i, j, shift) {
                return Ok(());
            }
            let n = Vec3::new(shift[0] as f64, shift[1] as f64, shift[2] as f64);
            let r = (positions[j] - positions[i]) + lattice.tr_mul(&n);
            let distance = r.norm();
            if distance == 0.0 && (i != j || shift != [0; 3]) {
                return Err(overlap(i, j));
            }
            if distance > 0.0 && distance <= cutoff {
                out.push(Pair {
                    i,
                    j,
                    shift,
                    r,
                    distance,
                });
            }
            Ok(())
        })?;
        out.sort_unstable_by_key(|p| (p.j, p.shift));
        Ok(out)
    }

    /// Calls `f(j, r, |r|)` for every pair within `cutoff` that atom `i` owns (see
    /// [`NeighborSearch::for_each_owned_pair`]), with r from the wrapped positions. Seen from
    /// j, the same pair has bin image −image, so the ownership test is antisymmetric.
    fn for_each_owned_pair(
        &self,
        i: usize,
        cutoff: f64,
        mut f: impl FnMut(usize, Vec3, f64),
    ) -> Result<()> {
        let c2 = cutoff * cutoff;
        self.visit(i, |j, image, r| {
            let owned = match i.cmp(&j) {
                std::cmp::Ordering::Less => (i + j).is_multiple_of(2),
                std::cmp::Ordering::Greater => !(i + j).is_multiple_of(2),
                std::cmp::Ordering::Equal => image > [0; 3],
            };
            let d2 = r.norm_squared();
            if d2 == 0.0 && (i != j || image != [0; 3]) {
                return Err(overlap(i, j));
            }
            if owned && d2 > 0.0 && d2 <= c2 {
                f(j, r, d2.sqrt());
            }
            Ok(())
        })
    }

    /// Calls `f(j, bin image, wrapped r)` for every atom j in the bins around atom `i` closer
    /// than the search radius (with its margin), stopping at the first error.
    fn visit(
        &self,
        i: usize,
        mut f: impl FnMut(usize, [i64; 3], Vec3) -> Result<()>,
    ) -> Result<()> {
        let r2max = self.search_radius * self.search_radius;
        let home = self.bin_of[i];
        let xi = self.wrapped[i];
        let axis_range = |k: usize| -> std::ops::RangeInclusive<i64> {
            if self.pbc[k] {
                home[k] - self.reach[k]..=home[k] + self.reach[k]
            } else {
                (home[k] - self.reach[k]).max(0)..=(home[k] + self.reach[k]).min(self.nbins[k] - 1)
            }
        };
        for b0 in axis_range(0) {
            for b1 in axis_range(1) {
                for b2 in axis_range(2) {
                    let virt = [b0, b1, b2];
                    let cell = [0, 1, 2].map(|k| virt[k].rem_euclid(self.nbins[k]));
                    let image = [0, 1, 2].map(|k| virt[k].div_euclid(self.nbins[k]));
                    let offset = self.work.tr_mul(&Vec3::new(
                        image[0] as f64,
                        image[1] as f64,
                        image[2] as f64,
                    ));
                    let base = xi - offset;
                    let flat =
                        ((cell[0] * self.nbins[1] + cell[1]) * self.nbins[2] + cell[2]) as usize;
                    for &j in &self.order[self.bin_start[flat]..self.bin_start[flat + 1]] {
                        let r = self.wrapped[j] - base;
                        if r.norm_squared() <= r2max {
                            f(j, image, r)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Shift of atom j in the original basis, given the image of its bin (working basis).
    fn original_shift(&self, i: usize, j: usize, image: [i64; 3]) -> [i32; 3] {
        let n_work = [0, 1, 2].map(|k| image[k] - self.wrap[j][k] + self.wrap[i][k]);
        [0, 1, 2].map(|c| {
            (0..3)
                .map(|r| n_work[r] * self.to_original[r][c] as i64)
                .sum::<i64>() as i32
        })
    }
}

fn overlap(i: usize, j: usize) -> Error {
    Error::InvalidStructure(format!(
        "atoms {i} and {j} sit at the same position (modulo a lattice vector)"
    ))
}

fn too_many_images(lattice: &Lattice, cutoff: f64, faces: [f64; 3]) -> Error {
    if let Some(singular) = nearly_singular(lattice) {
        return Error::InvalidStructure(singular);
    }
    Error::InvalidInput(format!(
        "cutoff {} Å needs too many periodic images of a cell whose face distances are \
         {}, {}, {} Å (lengths in Å expected)",
        short(cutoff),
        short(faces[0]),
        short(faces[1]),
        short(faces[2])
    ))
}

/// Cells whose thinnest face distance is below this share of their longest vector are
/// "nearly singular": [`Lattice`] accepts them (the volume is not zero), but the images and
/// wrapping they need explode, and the message must say why.
const NEARLY_SINGULAR: f64 = 1e-4;

/// The message for a nearly singular cell, if `lattice` is one.
fn nearly_singular(lattice: &Lattice) -> Option<String> {
    let thinnest = lattice
        .face_distances()
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    let longest = lattice.lengths().into_iter().fold(0.0, f64::max);
    (thinnest < NEARLY_SINGULAR * longest).then(|| {
        format!(
            "the cell is nearly singular: its thinnest face distance is {} Å for vectors up \
             to {} Å long (volume {} Å^3); check the lattice vectors",
            short(thinnest),
            short(longest),
            short(lattice.volume())
        )
    })
}

#[cfg(test)]
mod tests;
