//! What the energy network sees of a structure: element indices, the local edges within the
//! cutoff (every neighbour, no cap: the energy must be smooth), and the per-atom, per-element
//! complete sums Φ_iB = Σ_{j of element B} S(i, j) of each long-range potential.
//!
//! Φ is linear in the complete sums, so a supercell gives every atom the same Φ as the unit
//! cell; the network may then use Φ nonlinearly without breaking extensivity.
//!
//! Training also needs ∂Φ/∂x and ∂Φ/∂ε; they follow from the per-pair derivatives
//! D(i,j) = ∂S(i,j)/∂x_j and ∂S(i,j)/∂ε ([`crate::lattice::derivatives`]), kept as N×N
//! tables (training cells are small). Inference never forms N×N: Φ and the forces come from
//! structure-factor sums ([`crate::lattice::per_atom`]).

use crate::cell::Vec3;
use crate::error::{Error, Result};
use crate::lattice::derivatives::{pair_derivatives, PairDerivatives};
use crate::lattice::per_atom::{channel_sums, Channels};
use crate::lattice::{pair_matrices, Potential, Tolerance};
use crate::neighbors::{ListKind, NeighborSearch};
use crate::structure::Structure;

/// Local edges i → j (both directions), with the constant part of r_e = x_j − x_i + s_e.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Edges {
    pub src: Vec<u32>,
    pub dst: Vec<u32>,
    /// s_e = n · L, the lattice translation of the neighbour (Å).
    pub shift: Vec<Vec3>,
}

/// Inputs of one structure.
#[derive(Clone, Debug, PartialEq)]
pub struct Inputs {
    /// Index of each atom's element in the model's element list.
    pub species: Vec<u32>,
    pub positions: Vec<Vec3>,
    pub edges: Edges,
    /// Per long-range exponent p: Φ_iB, row-major N × n_elements.
    pub phi: Vec<Vec<f64>>,
}

/// The position and strain derivatives of the pair sums behind Φ (training only).
#[derive(Clone, Debug, PartialEq)]
pub struct PhiDerivatives {
    /// Per long-range exponent.
    pub pairs: Vec<PairDerivatives>,
}

/// The element indices of a structure's atoms, or an error naming an unknown element.
pub fn species_indices(structure: &Structure, elements: &[u8]) -> Result<Vec<u32>> {
    structure
        .numbers()
        .iter()
        .map(|z| {
            elements
                .iter()
                .position(|e| e == z)
                .map(|k| k as u32)
                .ok_or_else(|| {
                    Error::Model(format!(
                        "element {} is not one of the model's elements ({})",
                        crate::elements::symbol(*z).unwrap_or("?"),
                        elements
                            .iter()
                            .map(|&e| crate::elements::symbol(e).unwrap_or("?"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        })
        .collect()
}

/// Every neighbour within `cutoff`, in both directions.
pub fn local_edges(structure: &Structure, cutoff: f64) -> Result<Edges> {
    let search = NeighborSearch::new(structure, cutoff, ListKind::Full)?;
    let x = structure.positions();
    let mut edges = Edges::default();
    for i in 0..structure.len() {
        for pair in search.pairs_of(i)? {
            edges.src.push(pair.i as u32);
            edges.dst.push(pair.j as u32);
            edges.shift.push(pair.r - (x[pair.j] - x[pair.i]));
        }
    }
    Ok(edges)
}

/// Φ_iB for each exponent, through structure-factor sums (linear in N), to the absolute
/// accuracy `tolerance` (Å^-p). Elements absent from the structure have Φ = 0.
pub fn phi_per_atom(
    structure: &Structure,
    species: &[u32],
    n_elements: usize,
    powers: &[f64],
    tolerance: f64,
) -> Result<Vec<Vec<f64>>> {
    let present: Vec<usize> = (0..n_elements)
        .filter(|&b| species.iter().any(|&s| s as usize == b))
        .collect();
    // One indicator channel per present element: weight 1 on its atoms.
    let weights: Vec<Vec<f64>> = present
        .iter()
        .map(|&b| {
            species
                .iter()
                .map(|&s| f64::from(s as usize == b))
                .collect()
        })
        .collect();
    let channels = Channels {
        coupling: vec![0.0; weights.len() * weights.len()],
        weights,
    };
    powers
        .iter()
        .map(|&p| {
            let sums = channel_sums(structure, p, &channels, tolerance, false)?;
            let mut out = vec![0.0; structure.len() * n_elements];
            for (column, &b) in sums.phi.iter().zip(&present) {
                for (i, v) in column.iter().enumerate() {
                    out[i * n_elements + b] = *v;
                }
            }
            Ok(out)
        })
        .collect()
}

/// Φ for each exponent from the N×N pair matrices, with the pair derivatives: the training
/// path (small cells, derivatives contracted inside the network's autodiff).
pub fn phi_with_derivatives(
    structure: &Structure,
    species: &[u32],
    n_elements: usize,
    powers: &[f64],
    tolerance: f64,
) -> Result<(Vec<Vec<f64>>, PhiDerivatives)> {
    let n = structure.len();
    let potentials: Vec<Potential> = powers.iter().map(|&p| Potential::InversePower(p)).collect();
    let matrices = pair_matrices(structure, &potentials, Tolerance::Absolute(tolerance))?;
    let phi = matrices
        .iter()
        .map(|m| {
            let mut out = vec![0.0; n * n_elements];
            for i in 0..n {
                for j in 0..n {
                    out[i * n_elements + species[j] as usize] += m.get(i, j);
                }
            }
            out
        })
        .collect();
    let pairs = potentials
        .iter()
        .map(|&p| pair_derivatives(structure, p, tolerance))
        .collect::<Result<Vec<_>>>()?;
    Ok((phi, PhiDerivatives { pairs }))
}

/// The inputs of a structure for a model with `elements`, local `cutoff` and long-range
/// `powers`.
pub fn inputs(
    structure: &Structure,
    elements: &[u8],
    cutoff: f64,
    powers: &[f64],
    tolerance: f64,
) -> Result<Inputs> {
    let species = species_indices(structure, elements)?;
    let phi = phi_per_atom(structure, &species, elements.len(), powers, tolerance)?;
    Ok(Inputs {
        edges: local_edges(structure, cutoff)?,
        positions: structure.positions().to_vec(),
        species,
        phi,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Lattice;

    fn cell() -> Structure {
        let lattice = Lattice::from_parameters([4.2, 4.6, 5.1], [80.0, 95.0, 105.0]).unwrap();
        let frac = [[0.0, 0.0, 0.0], [0.5, 0.45, 0.5], [0.2, 0.7, 0.3]]
            .map(|f| Vec3::new(f[0], f[1], f[2]));
        Structure::from_fractional(lattice, vec![3, 8, 3], &frac, [true; 3]).unwrap()
    }

    #[test]
    fn both_paths_give_the_same_phi() {
        let s = cell();
        let species = species_indices(&s, &[3, 8]).unwrap();
        let fast = phi_per_atom(&s, &species, 2, &[1.0, 6.0], 1e-11).unwrap();
        let (dense, _) = phi_with_derivatives(&s, &species, 2, &[1.0, 6.0], 1e-11).unwrap();
        for (a, b) in fast.iter().zip(&dense) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-9, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn edges_reproduce_the_neighbour_vectors() {
        let s = cell();
        let e = local_edges(&s, 3.5).unwrap();
        assert!(!e.src.is_empty());
        let x = s.positions();
        for k in 0..e.src.len() {
            let r = x[e.dst[k] as usize] - x[e.src[k] as usize] + e.shift[k];
            assert!(r.norm() <= 3.5 && r.norm() > 0.0);
        }
        let err = species_indices(&s, &[3]).unwrap_err().to_string();
        assert!(
            err.contains("element O is not one of the model's elements (Li)"),
            "{err}"
        );
    }
}
