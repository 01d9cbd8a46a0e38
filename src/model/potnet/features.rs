//! What the network sees of a crystal: CGCNN atom features, the local edges with their f32
//! lengths, and the scalar infinite-edge feature of every ordered atom pair; and the batching
//! of many crystals into one block-diagonal graph.
//!
//! Batching also removes redundant work without changing any value: edge features depend only
//! on one f32 number (the edge length, or the mixed lattice sum), so each distinct number is
//! embedded once; and the reference graph lists most local bonds twice per direction
//! (identical source, target and length, hence identical messages), so such duplicates become
//! one edge of weight 2.

use std::collections::HashMap;
use std::sync::OnceLock;

use rayon::prelude::*;

use super::config::{GraphConstruction, LatticeSumMode, ModelMeta};
use crate::error::{Error, Result};
use crate::lattice::potnet::{potnet_sums, PotnetSettings};
use crate::lattice::{pair_matrices, Potential, Tolerance};
use crate::neighbors::potnet_graph_with_shells;
use crate::structure::Structure;

/// Length of a CGCNN feature vector.
pub const CGCNN_LENGTH: usize = 92;

/// Largest atomic number the reference accepts: its table has rows up to Z = 103, the rows
/// above 100 copies of Z = 100.
pub const MAX_Z: u8 = 103;

/// The shipped CGCNN table (`atom_features_cgcnn.json`, a copy of jarvis-tools'
/// `atom_init.json`): one string of 92 '0'/'1' characters per Z = 1..100.
const CGCNN_JSON: &str = include_str!("atom_features_cgcnn.json");

/// CGCNN features of every Z = 1..=100, index Z - 1.
fn cgcnn_table() -> &'static [[f32; CGCNN_LENGTH]] {
    static TABLE: OnceLock<Vec<[f32; CGCNN_LENGTH]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct File {
            features: HashMap<String, String>,
        }
        let file: File = serde_json::from_str(CGCNN_JSON).expect("shipped CGCNN table parses");
        (1..=100)
            .map(|z: u32| {
                let bits = &file.features[&z.to_string()];
                let mut row = [0.0f32; CGCNN_LENGTH];
                assert_eq!(bits.len(), CGCNN_LENGTH, "CGCNN row of Z = {z}");
                for (r, b) in row.iter_mut().zip(bits.bytes()) {
                    *r = f32::from(b == b'1');
                }
                row
            })
            .collect()
    })
}

/// The CGCNN feature vector of element Z (Z > 100 maps to Z = 100, as in the reference).
pub fn cgcnn_features(z: u8) -> Result<&'static [f32; CGCNN_LENGTH]> {
    if z == 0 || z > MAX_Z {
        return Err(Error::InvalidInput(format!(
            "atomic number {z} has no CGCNN atom features (1..={MAX_Z})"
        )));
    }
    Ok(&cgcnn_table()[usize::from(z.min(100)) - 1])
}

/// Radial basis expansion of a scalar over fixed centers (the stored `centers` buffers).
#[derive(Clone, Debug, PartialEq)]
pub struct Rbf {
    pub centers: Vec<f32>,
    /// 1 / mean spacing of the centers, in f32 as the reference computes it.
    pub gamma: f32,
    pub kind: RbfKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RbfKind {
    /// exp(-(γ (x - c))²)
    Gaussian,
    /// sqrt(1 + (γ (x - c))²)
    Multiquadric,
}

impl Rbf {
    pub fn new(centers: Vec<f32>, kind: RbfKind) -> Result<Self> {
        if centers.len() < 2 || centers.iter().any(|c| !c.is_finite()) {
            return Err(Error::Model(format!(
                "RBF centers must be at least two finite values, got {} values",
                centers.len()
            )));
        }
        // mean(diff(centers)) in f32: the differences are exact-ish f32 values; their mean is
        // taken in f64 and rounded, which equals the reference's f32 mean for evenly spaced
        // centers (checked against the fixture's 31.874998 / 7.8749995 in the tests).
        let diffs: f64 = centers
            .windows(2)
            .map(|w| f64::from(w[1] - w[0]))
            .sum::<f64>();
        let mean = (diffs / (centers.len() - 1) as f64) as f32;
        if mean.is_nan() || mean <= 0.0 {
            return Err(Error::Model("RBF centers must increase".into()));
        }
        Ok(Rbf {
            gamma: 1.0 / mean,
            centers,
            kind,
        })
    }

    /// Appends the expansion of `x` to `out`.
    #[inline(always)]
    fn expand_into(&self, x: f32, out: &mut Vec<f32>) {
        out.extend(self.centers.iter().map(|&c| {
            let t = self.gamma * (x - c);
            match self.kind {
                RbfKind::Gaussian => super::network::fast::exp(-(t * t)),
                RbfKind::Multiquadric => (1.0 + t * t).sqrt(),
            }
        }));
    }
}

/// The three converged pair matrices of `potentials`.
fn exact_sums(
    structure: &Structure,
    potentials: &[Potential; 3],
    tolerance: f64,
) -> Result<[Vec<f64>; 3]> {
    let mut out = pair_matrices(structure, potentials, Tolerance::Relative(tolerance))?
        .into_iter()
        .map(|m| m.values);
    let mut next = || out.next().expect("three matrices");
    Ok([next(), next(), next()])
}

/// The network input of one crystal.
#[derive(Clone, Debug, PartialEq)]
pub struct CrystalInput {
    pub species: Vec<u8>,
    /// Local edges: PyG `edge_index[0]` (source j) and `[1]` (target i), and the f32 length.
    pub local_src: Vec<u32>,
    pub local_dst: Vec<u32>,
    pub local_length: Vec<f32>,
    /// Infinite-edge scalar s of the ordered pair (i, j) at index i * N + j; the edge goes
    /// from source i to target j, as the reference's `inf_edge_index = [u; v]`.
    pub inf_feature: Vec<f32>,
}

impl CrystalInput {
    /// The local graph and the lattice sums of `structure`, as the model's metadata says.
    pub fn from_structure(structure: &Structure, meta: &ModelMeta) -> Result<Self> {
        let shell_tolerance = match meta.graph.construction {
            GraphConstruction::Published => 0.0,
            GraphConstruction::WholeShell { tolerance } => tolerance,
        };
        let graph = potnet_graph_with_shells(
            structure,
            meta.graph.cutoff,
            meta.graph.max_neighbors,
            shell_tolerance,
        )?;
        let n = structure.len();
        let sums: [Vec<f64>; 3] = match &meta.lattice_sums {
            LatticeSumMode::Potnet {
                r_max,
                coulomb_param,
                london_param,
                pauli_param,
            } => {
                let settings = PotnetSettings {
                    r_max: *r_max,
                    coulomb_param: *coulomb_param,
                    london_param: *london_param,
                    pauli_param: *pauli_param,
                };
                let s = potnet_sums(structure, &settings)?;
                [s.coulomb, s.london, s.pauli]
            }
            LatticeSumMode::Exact {
                tolerance,
                pauli_alpha,
                pauli_self,
            } => {
                let potentials = [
                    Potential::InversePower(1.0),
                    Potential::InversePower(6.0),
                    Potential::Exponential {
                        alpha: *pauli_alpha,
                        include_self: *pauli_self,
                    },
                ];
                exact_sums(structure, &potentials, *tolerance)?
            }
            LatticeSumMode::Converged {
                tolerance,
                coulomb_param,
                london_param,
                pauli_param,
            } => {
                // The published definitions (see `lattice::potnet`): Σ' 1/r^(2p) in Å (the
                // unit-volume scaling cancels) and Σ exp(-(pauli_param / V^(1/6)) r), the
                // k = 0 self term included (checked against the truncated sums at large r_max
                // in tests/potnet_invariance.rs).
                let potentials = [
                    Potential::InversePower(2.0 * coulomb_param),
                    Potential::InversePower(2.0 * london_param),
                    Potential::Exponential {
                        alpha: pauli_param / structure.volume().cbrt().sqrt(),
                        include_self: true,
                    },
                ];
                exact_sums(structure, &potentials, *tolerance)?
            }
        };
        let attr: Vec<[f32; 3]> = (0..n * n)
            .map(|p| [sums[0][p] as f32, sums[1][p] as f32, sums[2][p] as f32])
            .collect();
        let index = |k: &[usize]| k.iter().map(|&a| a as u32).collect();
        Self::from_parts(
            structure.numbers().to_vec(),
            index(&graph.u),
            index(&graph.v),
            graph.distances_f32(),
            &attr,
            &meta.architecture.potentials,
        )
    }

    /// From the raw model inputs of the reference: species, local edges (source, target, f32
    /// length) and the f32 Coulomb, London and Pauli sums of every ordered pair.
    pub fn from_parts(
        species: Vec<u8>,
        local_src: Vec<u32>,
        local_dst: Vec<u32>,
        local_length: Vec<f32>,
        inf_attr: &[[f32; 3]],
        potentials: &[f64; 3],
    ) -> Result<Self> {
        let n = species.len();
        if n == 0 {
            return Err(Error::InvalidInput(
                "a crystal needs at least one atom".into(),
            ));
        }
        let e = local_src.len();
        if local_dst.len() != e || local_length.len() != e || inf_attr.len() != n * n {
            return Err(Error::InvalidInput(format!(
                "inconsistent PotNet input: {n} atoms, {e}/{}/{} local edge sources/targets/lengths, \
                 {} pair features (expected {})",
                local_dst.len(),
                local_length.len(),
                inf_attr.len(),
                n * n
            )));
        }
        if local_src.iter().chain(&local_dst).any(|&k| k as usize >= n) {
            return Err(Error::InvalidInput(
                "local edge names a missing atom".into(),
            ));
        }
        if local_length.iter().any(|d| !(d.is_finite() && *d > 0.0))
            || inf_attr.iter().flatten().any(|a| !a.is_finite())
        {
            return Err(Error::InvalidInput(
                "edge lengths must be positive and lattice sums finite".into(),
            ));
        }
        let p = potentials.map(|p| p as f32);
        // The reference's order: ((0 + a0 p0) + a1 p1) + a2 p2, each product rounded.
        let inf_feature = inf_attr
            .iter()
            .map(|a| ((0.0f32 + a[0] * p[0]) + a[1] * p[1]) + a[2] * p[2])
            .collect();
        Ok(CrystalInput {
            species,
            local_src,
            local_dst,
            local_length,
            inf_feature,
        })
    }

    /// Builds the inputs of many structures in parallel (rayon), in order.
    pub fn from_structures(structures: &[Structure], meta: &ModelMeta) -> Result<Vec<Self>> {
        structures
            .par_iter()
            .map(|s| Self::from_structure(s, meta))
            .collect()
    }

    pub fn num_atoms(&self) -> usize {
        self.species.len()
    }

    /// Number of edges the network processes (local + N²) before merging duplicates.
    pub fn num_edges(&self) -> usize {
        self.local_src.len() + self.inf_feature.len()
    }
}

/// Many crystals as one block-diagonal graph, ready for the network.
#[derive(Clone, Debug)]
pub struct Batch {
    pub num_graphs: usize,
    /// Graph of each node.
    pub node_graph: Vec<u32>,
    /// Atoms per graph (f32, the divisor of mean pooling).
    pub graph_sizes: Vec<f32>,
    /// CGCNN features, N x 92 row-major.
    pub x: Vec<f32>,
    /// Gaussian RBF of each distinct local edge length, rows of `local_rbf_bins`.
    pub local_rbf: Vec<f32>,
    pub local_rbf_bins: usize,
    /// Multiquadric RBF of each distinct infinite-edge feature.
    pub inf_rbf: Vec<f32>,
    pub inf_rbf_bins: usize,
    /// Edges after merging duplicates: source, target, row of the distinct edge features
    /// (local rows first, then infinite rows), multiplicity.
    pub src: Vec<u32>,
    pub dst: Vec<u32>,
    pub feature_row: Vec<u32>,
    pub weight: Vec<f32>,
    /// For every original local edge (reference order), its distinct feature row; then the
    /// same for every ordered pair. For inspecting intermediate edge features.
    pub local_rows: Vec<u32>,
    pub inf_rows: Vec<u32>,
}

impl Batch {
    /// Concatenates `inputs` (node indices shifted per graph), embedding each distinct edge
    /// scalar once.
    pub fn new(inputs: &[CrystalInput], local: &Rbf, inf: &Rbf) -> Result<Self> {
        let mut b = Batch {
            num_graphs: inputs.len(),
            node_graph: Vec::new(),
            graph_sizes: Vec::new(),
            x: Vec::new(),
            local_rbf: Vec::new(),
            local_rbf_bins: local.centers.len(),
            inf_rbf: Vec::new(),
            inf_rbf_bins: inf.centers.len(),
            src: Vec::new(),
            dst: Vec::new(),
            feature_row: Vec::new(),
            weight: Vec::new(),
            local_rows: Vec::new(),
            inf_rows: Vec::new(),
        };
        let mut local_row: HashMap<u32, u32> = HashMap::new();
        let mut inf_row: HashMap<u32, u32> = HashMap::new();
        let mut local_values = Vec::new();
        let mut inf_values = Vec::new();
        let row_of = |map: &mut HashMap<u32, u32>, values: &mut Vec<f32>, v: f32| {
            *map.entry(v.to_bits()).or_insert_with(|| {
                values.push(v);
                (values.len() - 1) as u32
            })
        };
        // (src, dst, row) -> merged edge, within one graph.
        let mut merged: HashMap<(u32, u32, u32), usize> = HashMap::new();
        let mut local_edges: Vec<(u32, u32, u32, f32)> = Vec::new();
        let mut inf_edges: Vec<(u32, u32, u32)> = Vec::new();
        let mut offset = 0u32;
        for (g, input) in inputs.iter().enumerate() {
            let n = input.num_atoms() as u32;
            for &z in &input.species {
                b.x.extend_from_slice(cgcnn_features(z)?);
            }
            b.node_graph
                .extend(std::iter::repeat_n(g as u32, n as usize));
            b.graph_sizes.push(n as f32);
            merged.clear();
            for k in 0..input.local_src.len() {
                let row = row_of(&mut local_row, &mut local_values, input.local_length[k]);
                b.local_rows.push(row);
                let key = (
                    input.local_src[k] + offset,
                    input.local_dst[k] + offset,
                    row,
                );
                match merged.get(&key) {
                    Some(&m) => local_edges[m].3 += 1.0,
                    None => {
                        merged.insert(key, local_edges.len());
                        local_edges.push((key.0, key.1, row, 1.0));
                    }
                }
            }
            for (p, &s) in input.inf_feature.iter().enumerate() {
                let row = row_of(&mut inf_row, &mut inf_values, s);
                b.inf_rows.push(row);
                let (i, j) = (p as u32 / n, p as u32 % n);
                inf_edges.push((i + offset, j + offset, row));
            }
            offset = offset
                .checked_add(n)
                .ok_or_else(|| Error::InvalidInput("batch too large".into()))?;
        }
        let num_local_rows = local_values.len() as u32;
        for (s, d, row, w) in local_edges {
            b.src.push(s);
            b.dst.push(d);
            b.feature_row.push(row);
            b.weight.push(w);
        }
        for (s, d, row) in inf_edges {
            b.src.push(s);
            b.dst.push(d);
            b.feature_row.push(num_local_rows + row);
            b.weight.push(1.0);
        }
        let t: Vec<f32> = local_values.iter().map(|&d| -0.75 / d).collect();
        super::network::fast::wide(
            #[inline(always)]
            || {
                for &v in &t {
                    local.expand_into(v, &mut b.local_rbf);
                }
                for &s in &inf_values {
                    inf.expand_into(s, &mut b.inf_rbf);
                }
            },
        );
        Ok(b)
    }

    pub fn num_nodes(&self) -> usize {
        self.node_graph.len()
    }

    /// Whether every merged edge has multiplicity 1 (then the weights need not be applied).
    pub fn unit_weights(&self) -> bool {
        self.weight.iter().all(|&w| w == 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgcnn_rows_are_one_hot_groups_and_heavy_elements_fall_back() {
        for z in 1..=100 {
            let row = cgcnn_features(z).unwrap();
            // Nine one-hot groups (group, period, electronegativity, …); some elements leave
            // a group empty, none sets more than one entry per group.
            let ones = row.iter().filter(|&&v| v == 1.0).count();
            assert!((5..=9).contains(&ones), "Z = {z}: {ones} ones");
        }
        assert_eq!(cgcnn_features(103).unwrap(), cgcnn_features(100).unwrap());
        assert!(cgcnn_features(0).is_err());
        assert!(cgcnn_features(104).is_err());
    }

    #[test]
    fn duplicate_edges_merge_and_equal_scalars_share_a_row() {
        let rbf = |k| Rbf::new(vec![-1.0, 0.0, 1.0], k).unwrap();
        let input = CrystalInput::from_parts(
            vec![1, 8],
            vec![0, 0, 1, 1],
            vec![1, 1, 0, 0],
            vec![2.0, 2.0, 2.0, 2.0],
            &[
                [1.0, 0.0, 0.0],
                [2.0, 0.0, 0.0],
                [2.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
            ],
            &[1.0, 0.0, 0.0],
        )
        .unwrap();
        let b = Batch::new(
            &[input.clone(), input],
            &rbf(RbfKind::Gaussian),
            &rbf(RbfKind::Multiquadric),
        )
        .unwrap();
        // Per graph 2 merged local edges of weight 2 and 4 pair edges.
        assert_eq!(b.src.len(), 2 * (2 + 4));
        assert_eq!(b.local_rbf.len(), 3, "one distinct length");
        assert_eq!(b.inf_rbf.len(), 2 * 3, "two distinct pair features");
        assert_eq!(b.weight.iter().filter(|&&w| w == 2.0).count(), 4);
        assert_eq!(&b.src[..2], &[0, 1]);
        assert_eq!(&b.src[2..4], &[2, 3], "second graph's nodes are shifted");
        assert_eq!(b.node_graph, vec![0, 0, 1, 1]);
    }
}
