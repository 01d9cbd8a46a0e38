//! The local graph of PotNet, reproducing jarvis-tools 2022.9.16
//! `nearest_neighbor_edges(atoms, cutoff, max_neighbors, use_canonize=False)` followed by
//! `build_undirected_edgedata`, which the published PotNet models were trained with.
//!
//! Semantics (written from the documented behaviour, not from the reference code):
//! * Neighbours of site i are the images x_j + n·L with bond_tol = 0.15 Å < d <= search radius;
//!   if any site has fewer than `max_neighbors`, the radius grows to max(|a|, |b|, |c|) when that
//!   is larger, else doubles, and the search restarts.
//! * Per site, neighbours are sorted by distance (ties: image lexicographic, then j, the order
//!   the reference enumerates them) and every one with d <= the k-th distance is kept. Which
//!   members of a degenerate k-th shell survive depends on the last bits of d, so d is computed
//!   in the reference's operation order (see `reference_distance`).
//! * Kept neighbours go into a dictionary (i, j) -> Python set of images; keys iterate in
//!   insertion order, images in CPython set order (`PySet`). Bonds found from both ends
//!   therefore appear twice per direction, bonds found from one end once.
//! * Each dictionary entry (i, j, n) gives the edges (i -> j, r) and (j -> i, -r) with
//!   r = ((f_j + n) - f_i) · L.

use std::collections::HashMap;

use super::pyset::PySet;
use super::NeighborList;
use crate::cell::{Mat3, Vec3};
use crate::error::{Error, Result};
use crate::structure::Structure;

/// Neighbours closer than this are ignored by the reference (its `bond_tol`).
const BOND_TOL: f64 = 0.15;

/// Extra radius of the candidate search; candidates are then filtered with reference distances.
const CANDIDATE_MARGIN: f64 = 1e-6;

/// Directed local edges in the reference's order.
#[derive(Clone, Debug, PartialEq)]
pub struct PotnetGraph {
    /// Edge sources (PyG `edge_index[0]`).
    pub u: Vec<usize>,
    /// Edge targets (PyG `edge_index[1]`).
    pub v: Vec<usize>,
    /// Vector from atom u to the image of atom v (Å).
    pub r_vec: Vec<Vec3>,
    /// Neighbour search radius finally used (Å), after escalation.
    pub final_search_cutoff: f64,
}

impl PotnetGraph {
    pub fn num_edges(&self) -> usize {
        self.u.len()
    }

    /// Edge lengths as the model sees them: the vector rounded to f32, its norm accumulated in
    /// f32 with fused multiply-adds (what PyTorch's CPU kernel does), x² then y² then z².
    pub fn distances_f32(&self) -> Vec<f32> {
        self.r_vec
            .iter()
            .map(|r| {
                let [x, y, z] = [r.x as f32, r.y as f32, r.z as f32];
                z.mul_add(z, y.mul_add(y, x * x)).sqrt()
            })
            .collect()
    }
}

/// Builds the PotNet local graph (the reference uses `cutoff` = 4 Å, `max_neighbors` = 16).
/// The structure must be periodic along all three axes.
pub fn potnet_graph(
    structure: &Structure,
    cutoff: f64,
    max_neighbors: usize,
) -> Result<PotnetGraph> {
    potnet_graph_with_shells(structure, cutoff, max_neighbors, 0.0)
}

/// The PotNet local graph keeping, per site, every neighbour with d <= d_k + `shell_tolerance`
/// (Å) instead of d <= d_k: a (nearly) degenerate k-th shell is kept whole, so the graph no
/// longer depends on the last bits of the distances. `shell_tolerance` = 0 is [`potnet_graph`].
pub fn potnet_graph_with_shells(
    structure: &Structure,
    cutoff: f64,
    max_neighbors: usize,
    shell_tolerance: f64,
) -> Result<PotnetGraph> {
    if !(shell_tolerance.is_finite() && shell_tolerance >= 0.0) {
        return Err(Error::InvalidInput(format!(
            "the shell tolerance must be a finite length >= 0 Å, got {shell_tolerance}"
        )));
    }
    if !cutoff.is_finite() || cutoff <= 0.0 {
        return Err(Error::InvalidInput(format!(
            "PotNet cutoff must be a positive finite length in Å, got {cutoff}"
        )));
    }
    if max_neighbors == 0 {
        return Err(Error::InvalidInput(
            "max_neighbors must be at least 1".into(),
        ));
    }
    if structure.pbc() != [true; 3] {
        return Err(Error::InvalidInput(format!(
            "the PotNet graph needs a structure periodic along a, b and c, got pbc {:?}",
            structure.pbc()
        )));
    }
    let lattice = *structure.lattice().matrix();
    let longest = (0..3)
        .map(|r| reference_norm(&lattice.row(r).transpose()))
        .fold(0.0, f64::max);

    let mut radius = cutoff;
    let mut per_site = loop {
        let per_site = neighbours_within(structure, &lattice, radius)?;
        if per_site.iter().all(|list| list.len() >= max_neighbors) {
            break per_site;
        }
        radius = if radius < longest {
            longest
        } else {
            2.0 * radius
        };
    };

    sort_by_distance(&mut per_site);
    // Whole shells may reach beyond the search radius: search once more to d_k + tolerance.
    let reach = per_site
        .iter()
        .map(|list| list[max_neighbors - 1].d + shell_tolerance)
        .fold(0.0, f64::max);
    if shell_tolerance > 0.0 && reach > radius {
        radius = reach;
        per_site = neighbours_within(structure, &lattice, radius)?;
        sort_by_distance(&mut per_site);
    }

    // Directed dictionary (i, j) -> set of images, keys in insertion order.
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut sets: Vec<PySet> = Vec::new();
    let mut index: HashMap<(usize, usize), usize> = HashMap::new();
    for (i, list) in per_site.into_iter().enumerate() {
        let kth = list[max_neighbors - 1].d + shell_tolerance;
        for nb in list.iter().filter(|nb| nb.d <= kth) {
            let slot = *index.entry((i, nb.j)).or_insert_with(|| {
                keys.push((i, nb.j));
                sets.push(PySet::new());
                keys.len() - 1
            });
            sets[slot].insert(nb.shift);
        }
    }

    let frac = structure.fractional_positions();
    let mut graph = PotnetGraph {
        u: Vec::new(),
        v: Vec::new(),
        r_vec: Vec::new(),
        final_search_cutoff: radius,
    };
    for (&(i, j), set) in keys.iter().zip(&sets) {
        for n in set.iter() {
            let shifted = Vec3::new(
                (frac[j].x + n[0] as f64) - frac[i].x,
                (frac[j].y + n[1] as f64) - frac[i].y,
                (frac[j].z + n[2] as f64) - frac[i].z,
            );
            let r = row_times(&shifted, &lattice);
            graph.u.extend([i, j]);
            graph.v.extend([j, i]);
            graph.r_vec.extend([r, -r]);
        }
    }
    Ok(graph)
}

/// One candidate neighbour of a site.
struct Neighbour {
    j: usize,
    shift: [i32; 3],
    d: f64,
}

/// Sorts each site's neighbours by distance; ties by image (lexicographic), then j: the order
/// the reference enumerates them in.
fn sort_by_distance(per_site: &mut [Vec<Neighbour>]) {
    for list in per_site {
        list.sort_by(|a, b| {
            a.d.total_cmp(&b.d)
                .then(a.shift.cmp(&b.shift))
                .then(a.j.cmp(&b.j))
        });
    }
}

/// Per site, every image with BOND_TOL < d <= radius, d computed as the reference does.
fn neighbours_within(
    structure: &Structure,
    lattice: &Mat3,
    radius: f64,
) -> Result<Vec<Vec<Neighbour>>> {
    let candidates = NeighborList::build(structure, radius + CANDIDATE_MARGIN)?;
    let positions = structure.positions();
    Ok((0..structure.len())
        .map(|i| {
            candidates
                .pairs_of(i)
                .iter()
                .filter_map(|p| {
                    let d = reference_distance(lattice, &positions[i], &positions[p.j], p.shift);
                    (d <= radius && d > BOND_TOL).then_some(Neighbour {
                        j: p.j,
                        shift: p.shift,
                        d,
                    })
                })
                .collect()
        })
        .collect())
}

/// |n·L + x_j - x_i| evaluated like the reference (numpy): image offset n·L as a plain dot
/// product, plus x_j, minus x_i, squares summed as (dx² + dy²) + dz², square root. Any other
/// order flips near-degenerate neighbours in or out of the k-th shell.
fn reference_distance(lattice: &Mat3, xi: &Vec3, xj: &Vec3, shift: [i32; 3]) -> f64 {
    let n = Vec3::new(shift[0] as f64, shift[1] as f64, shift[2] as f64);
    let image = row_times(&n, lattice) + xj;
    reference_norm(&(image - xi))
}

/// sqrt((x² + y²) + z²), the summation order of numpy's reductions over three values.
fn reference_norm(v: &Vec3) -> f64 {
    ((v.x * v.x + v.y * v.y) + v.z * v.z).sqrt()
}

/// Row vector times matrix, summed in index order without fused multiply-adds (as numpy's
/// `dot` of a 3-vector and a 3x3 matrix does).
fn row_times(f: &Vec3, m: &Mat3) -> Vec3 {
    Vec3::from_fn(|c, _| (f.x * m[(0, c)] + f.y * m[(1, c)]) + f.z * m[(2, c)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Lattice;

    fn cscl() -> Structure {
        let l = Lattice::from_rows([[4.12, 0.0, 0.0], [0.0, 4.12, 0.0], [0.0, 0.0, 4.12]]).unwrap();
        Structure::new(
            l,
            vec![55, 17],
            vec![Vec3::zeros(), Vec3::new(2.06, 2.06, 2.06)],
            [true; 3],
        )
        .unwrap()
    }

    #[test]
    fn escalates_radius_and_keeps_whole_first_shells() {
        let g = potnet_graph(&cscl(), 4.0, 16).unwrap();
        // Site 0 has 8 + 6 neighbours within 4.12 Å: the radius jumps to |a| = 4.12, then 8.24.
        assert_eq!(g.final_search_cutoff, 8.24);
        let d = g.distances_f32();
        // The 8 Cs-Cl bonds are found from both ends: 8 * 2 entries * 2 directions.
        let nearest = d
            .iter()
            .filter(|&&x| (x - 3.568_024_6).abs() < 1e-5)
            .count();
        assert_eq!(nearest, 32);
        // Every entry yields an edge and its reverse.
        for k in (0..g.num_edges()).step_by(2) {
            assert_eq!((g.u[k], g.v[k]), (g.v[k + 1], g.u[k + 1]));
            assert_eq!(g.r_vec[k], -g.r_vec[k + 1]);
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        let s = cscl();
        assert!(potnet_graph(&s, f64::NAN, 16).is_err());
        assert!(potnet_graph(&s, 4.0, 0).is_err());
        let slab = Structure::new(
            *s.lattice(),
            vec![1],
            vec![Vec3::zeros()],
            [true, true, false],
        )
        .unwrap();
        let err = potnet_graph(&slab, 4.0, 16).unwrap_err();
        assert!(err.to_string().contains("periodic"), "{err}");
    }
}
