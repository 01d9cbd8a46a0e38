//! PotNet with trainable parameters: the forward pass of [`crate::model::potnet::network`]
//! written with differentiable candle operations, and BatchNorm1d in train mode.
//!
//! The batch ([`Batch`]) stores each distinct edge feature once and merges duplicate local
//! edges into one edge of multiplicity w. BatchNorm statistics are therefore weighted: the
//! mean and variance of the infinite-edge BatchNorm count every distinct feature row as often
//! as pairs use it, and the interaction BatchNorm counts a merged edge w times. They equal
//! PyTorch's statistics over the unmerged rows, so training sees what the reference would.
//! Running statistics follow PyTorch: momentum 0.1, unbiased batch variance.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use candle_core::{DType, Device, Result, Tensor, Var, D};

use super::super::optim::initialise;
use super::super::split::Rng;
use super::ops::{EdgeHidden, Edges, Messages};
use crate::model::potnet::config::Architecture;
use crate::model::potnet::features::{Batch, Rbf, RbfKind};

/// BatchNorm1d epsilon and momentum of the reference.
const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

/// The names of the BatchNorm layers of `arch`, in state_dict order.
fn batch_norms(arch: &Architecture) -> Vec<String> {
    let mut names = vec!["infinite_bn".to_string()];
    for k in 0..arch.conv_layers {
        names.push(format!("conv_layers.{k}.bn"));
        names.push(format!("conv_layers.{k}.bn_interaction"));
    }
    names
}

/// The trainable parameters `(name, shape)` of `arch` (buffers excluded).
fn parameter_shapes(arch: &Architecture) -> Vec<(String, Vec<usize>)> {
    let f = arch.fc_features;
    let mut out = Vec::new();
    let mut linear = |p: &str, i: usize, o: usize| {
        out.push((format!("{p}.weight"), vec![o, i]));
        out.push((format!("{p}.bias"), vec![o]));
    };
    linear("atom_embedding", arch.atom_input_features, f);
    linear("edge_embedding.1", f, f);
    linear("infinite_linear", arch.inf_edge_features, f);
    for k in 0..arch.conv_layers {
        for mlp in ["nonlinear_full", "nonlinear"] {
            linear(&format!("conv_layers.{k}.{mlp}.0"), 3 * f, f);
            linear(&format!("conv_layers.{k}.{mlp}.2"), f, f);
        }
    }
    linear("fc.0", f, arch.output_dim);
    linear("fc_out", arch.output_dim, arch.output_features);
    for bn in batch_norms(arch) {
        out.push((format!("{bn}.weight"), vec![f]));
        out.push((format!("{bn}.bias"), vec![f]));
    }
    out
}

/// `bins` centers evenly spaced over [lo, hi] in f32 (torch.linspace's two-sided formula).
fn linspace(lo: f64, hi: f64, bins: usize) -> Vec<f32> {
    let (lo, hi) = (lo as f32, hi as f32);
    let step = (hi - lo) / (bins - 1) as f32;
    (0..bins)
        .map(|i| {
            if i < bins / 2 {
                lo + step * i as f32
            } else {
                hi - step * (bins - 1 - i) as f32
            }
        })
        .collect()
}

/// Running statistics of one BatchNorm layer.
#[derive(Clone, Debug)]
struct Running {
    mean: Tensor,
    var: Tensor,
    batches: i64,
}

/// A PotNet whose parameters are candle [`Var`]s named as the PyTorch `state_dict`.
pub struct TrainableNet {
    arch: Architecture,
    vars: BTreeMap<String, Var>,
    running: BTreeMap<String, Running>,
    local_rbf: Rbf,
    inf_rbf: Rbf,
}

/// Batch-dependent index and weight tensors.
struct Graph {
    edges: Arc<Edges>,
    /// Multiplicity of each merged edge [E].
    weight: Tensor,
    /// How many ordered pairs use each distinct infinite-edge feature [U_inf].
    inf_counts: Tensor,
    node_graph: Tensor,
    graph_sizes: Tensor,
}

impl TrainableNet {
    /// A seeded network: Linear weights uniform in ±1/√fan_in, biases 0, BatchNorm weight 1,
    /// bias 0, running mean 0 and variance 1 (PyTorch's BatchNorm initialisation).
    pub fn new(arch: &Architecture, seed: u64) -> Result<Self> {
        let dev = Device::Cpu;
        let vars: BTreeMap<String, Var> = parameter_shapes(arch)
            .into_iter()
            .map(|(name, shape)| Ok((name, Var::zeros(shape, DType::F32, &dev)?)))
            .collect::<Result<_>>()?;
        initialise(&vars, &mut Rng::new(seed))?;
        let f = arch.fc_features;
        for bn in batch_norms(arch) {
            vars[&format!("{bn}.weight")].set(&Tensor::ones(f, DType::F32, &dev)?)?;
        }
        let running = batch_norms(arch)
            .into_iter()
            .map(|bn| {
                Ok((
                    bn,
                    Running {
                        mean: Tensor::zeros(f, DType::F32, &dev)?,
                        var: Tensor::ones(f, DType::F32, &dev)?,
                        batches: 0,
                    },
                ))
            })
            .collect::<Result<_>>()?;
        let rbf = |c, k| Rbf::new(c, k).map_err(|e| candle_core::Error::Msg(e.to_string()));
        Ok(TrainableNet {
            arch: arch.clone(),
            vars,
            running,
            local_rbf: rbf(linspace(arch.rbf_min, arch.rbf_max, f), RbfKind::Gaussian)?,
            inf_rbf: rbf(
                linspace(arch.rbf_min, arch.rbf_max, arch.inf_edge_features),
                RbfKind::Multiquadric,
            )?,
        })
    }

    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }

    /// The trainable parameters by name (sorted: a fixed order keeps runs deterministic).
    pub fn vars(&self) -> &BTreeMap<String, Var> {
        &self.vars
    }

    /// The RBFs of the local and infinite edges (needed to build a [`Batch`]).
    pub fn rbfs(&self) -> (&Rbf, &Rbf) {
        (&self.local_rbf, &self.inf_rbf)
    }

    /// The full `state_dict`: parameters, RBF centers, running statistics and counters.
    pub fn state_dict(&self) -> Result<HashMap<String, Tensor>> {
        let dev = Device::Cpu;
        let mut out: HashMap<String, Tensor> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
            .collect();
        let centers = |r: &Rbf| Tensor::from_slice(&r.centers, r.centers.len(), &dev);
        out.insert("edge_embedding.0.centers".into(), centers(&self.local_rbf)?);
        out.insert("inf_edge_embedding.centers".into(), centers(&self.inf_rbf)?);
        for (bn, r) in &self.running {
            out.insert(format!("{bn}.running_mean"), r.mean.clone());
            out.insert(format!("{bn}.running_var"), r.var.clone());
            out.insert(
                format!("{bn}.num_batches_tracked"),
                Tensor::new(r.batches, &dev)?,
            );
        }
        Ok(out)
    }

    /// Restores everything [`state_dict`](Self::state_dict) wrote (shapes must match).
    pub fn load_state_dict(&mut self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let get = |name: &str| {
            tensors
                .get(name)
                .cloned()
                .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))
        };
        for (name, var) in &self.vars {
            var.set(&get(name)?)?;
        }
        for (bn, r) in self.running.iter_mut() {
            r.mean = get(&format!("{bn}.running_mean"))?;
            r.var = get(&format!("{bn}.running_var"))?;
            r.batches = get(&format!("{bn}.num_batches_tracked"))?.to_scalar::<i64>()?;
        }
        let centers = |name: &str, kind| -> Result<Rbf> {
            Rbf::new(get(name)?.to_vec1::<f32>()?, kind)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))
        };
        self.local_rbf = centers("edge_embedding.0.centers", RbfKind::Gaussian)?;
        self.inf_rbf = centers("inf_edge_embedding.centers", RbfKind::Multiquadric)?;
        Ok(())
    }

    fn p(&self, name: &str) -> &Tensor {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("parameter {name} exists"))
            .as_tensor()
    }

    fn linear(&self, prefix: &str, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.p(&format!("{prefix}.weight")).t()?)?
            .add(&rows_of(self.p(&format!("{prefix}.bias")), x.dim(0)?)?)
    }

    /// BatchNorm1d over the rows of `x` [R, F]. Train mode: statistics of the batch, rows
    /// weighted by `weights` [R] (None: 1 each), running statistics updated. Eval mode: the
    /// running statistics.
    fn batch_norm(
        &mut self,
        name: &str,
        x: &Tensor,
        weights: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor> {
        let gamma = self.p(&format!("{name}.weight")).clone();
        let beta = self.p(&format!("{name}.bias")).clone();
        let running = self.running.get_mut(name).expect("BatchNorm layer exists");
        if !train {
            let scale = (running.var.affine(1.0, BN_EPS)?.sqrt()?.recip()? * &gamma)?;
            let shift = (beta - (&running.mean * &scale)?)?;
            return x.broadcast_mul(&scale)?.broadcast_add(&shift);
        }
        let rows = x.dim(0)?;
        let (mean, var, count) = match weights {
            None => {
                let w = Tensor::ones((1, rows), DType::F32, x.device())?;
                let mean = (w.matmul(x)? / rows as f64)?.squeeze(0)?;
                let var = (w.matmul(&x.sub(&rows_of(&mean, rows)?)?.sqr()?)? / rows as f64)?
                    .squeeze(0)?;
                (mean, var, rows as f64)
            }
            Some(w) => {
                let count = w.sum_all()?.to_scalar::<f32>()? as f64;
                let w = w.reshape((1, rows))?;
                let mean = (w.matmul(x)? / count)?.squeeze(0)?;
                let var =
                    (w.matmul(&x.sub(&rows_of(&mean, rows)?)?.sqr()?)? / count)?.squeeze(0)?;
                (mean, var, count)
            }
        };
        let m = BN_MOMENTUM;
        let unbiased = count / (count - 1.0).max(1.0);
        running.mean = ((&running.mean * (1.0 - m))? + (mean.detach() * m)?)?;
        running.var = ((&running.var * (1.0 - m))? + (var.detach() * (m * unbiased))?)?;
        running.batches += 1;
        let scale = (var.affine(1.0, BN_EPS)?.sqrt()?.recip()? * gamma)?;
        let shift = (beta - (&mean * &scale)?)?;
        x.mul(&rows_of(&scale, rows)?)?.add(&rows_of(&shift, rows)?)
    }

    /// Raw outputs [graphs, targets] (normalised targets). `train` selects BatchNorm's mode
    /// and updates the running statistics.
    pub fn forward(&mut self, b: &Batch, train: bool) -> Result<Tensor> {
        let dev = Device::Cpu;
        let idx = |v: &[u32]| Tensor::from_slice(v, v.len(), &dev);
        let inf_distinct = b.inf_rbf.len() / b.inf_rbf_bins;
        let mut counts = vec![0.0f32; inf_distinct];
        for &r in &b.inf_rows {
            counts[r as usize] += 1.0;
        }
        let g = Graph {
            edges: Arc::new(Edges {
                dst: b.dst.clone(),
                src: b.src.clone(),
                row: b.feature_row.clone(),
                weight: b.weight.clone(),
            }),
            weight: Tensor::from_slice(&b.weight, b.weight.len(), &dev)?,
            inf_counts: Tensor::from_vec(counts, inf_distinct, &dev)?,
            node_graph: idx(&b.node_graph)?,
            graph_sizes: Tensor::from_slice(&b.graph_sizes, (b.num_graphs, 1), &dev)?,
        };
        let rows = |v: &[f32], bins: usize| Tensor::from_slice(v, (v.len() / bins, bins), &dev);
        let local = self
            .linear("edge_embedding.1", &rows(&b.local_rbf, b.local_rbf_bins)?)?
            .silu()?;
        let inf = softplus(&self.linear("infinite_linear", &rows(&b.inf_rbf, b.inf_rbf_bins)?)?)?;
        let inf = self.batch_norm("infinite_bn", &inf, Some(&g.inf_counts), train)?;
        let edges = Tensor::cat(&[&local, &inf], 0)?;
        let n = b.num_nodes();
        let mut x = self.linear(
            "atom_embedding",
            &Tensor::from_slice(&b.x, (n, b.x.len() / n.max(1)), &dev)?,
        )?;
        for k in 0..self.arch.conv_layers {
            x = self.conv(k, &x, &edges, &g, train)?;
        }
        let sums = Tensor::zeros((b.num_graphs, x.dim(D::Minus1)?), DType::F32, &dev)?.index_add(
            &g.node_graph,
            &x,
            0,
        )?;
        let pooled = sums.broadcast_div(&g.graph_sizes)?;
        let ln2 = f64::from(std::f32::consts::LN_2);
        let fc = softplus(&self.linear("fc.0", &pooled)?)?.affine(1.0, -ln2)?;
        self.linear("fc_out", &fc)
    }

    /// Gated message passing, layer `k`: x [N, F], distinct edge features [U, F] -> new x.
    fn conv(
        &mut self,
        k: usize,
        x: &Tensor,
        edges: &Tensor,
        g: &Graph,
        train: bool,
    ) -> Result<Tensor> {
        let f = self.arch.fc_features;
        let p = format!("conv_layers.{k}");
        let w = Tensor::cat(
            &[
                self.p(&format!("{p}.nonlinear_full.0.weight")),
                self.p(&format!("{p}.nonlinear.0.weight")),
            ],
            0,
        )?; // [2F, 3F] acting on z = [x_dst, x_src, e]
        let bias = Tensor::cat(
            &[
                self.p(&format!("{p}.nonlinear_full.0.bias")),
                self.p(&format!("{p}.nonlinear.0.bias")),
            ],
            0,
        )?;
        let part = |j: usize| w.narrow(1, j * f, f)?.t(); // [F, 2F]
        let node_weight = Tensor::cat(&[part(0)?, part(1)?], 1)?; // [F, 4F]: dst | src
        let per_node = x.matmul(&node_weight)?;
        let per_feature = edges.matmul(&part(2)?)?.broadcast_add(&bias)?; // [U, 2F]
        let hidden = per_node.apply_op2(
            &per_feature,
            EdgeHidden {
                edges: Arc::clone(&g.edges),
                features: f,
            },
        )?; // [2E, F]: gate rows, then value rows
        let e = g.edges.dst.len();
        let gate = self.linear(&format!("{p}.nonlinear_full.2"), &hidden.narrow(0, 0, e)?)?;
        let gate = self.batch_norm(
            &format!("{p}.bn_interaction"),
            &gate,
            Some(&g.weight),
            train,
        )?;
        let value = self.linear(&format!("{p}.nonlinear.2"), &hidden.narrow(0, e, e)?)?;
        let aggregate = gate.apply_op2(
            &value,
            Messages {
                edges: Arc::clone(&g.edges),
                nodes: x.dim(0)?,
            },
        )?;
        let normed = self.batch_norm(&format!("{p}.bn"), &aggregate, None, train)?;
        x.add(&normed)?.relu()
    }
}

/// `v` [F] repeated as `rows` rows [rows, F], as a product with a column of ones: its
/// gradient is then a matrix product too, where a broadcast's is a slow strided column sum.
fn rows_of(v: &Tensor, rows: usize) -> Result<Tensor> {
    let ones = Tensor::ones((rows, 1), DType::F32, v.device())?;
    ones.matmul(&v.reshape((1, v.elem_count()))?)
}

/// log(1 + e^x) as max(x, 0) + log(1 + e^-|x|), differentiable with candle's operations; equal
/// in f32 to PyTorch's softplus with threshold 20 (above it the log term is below 2e-9 x).
fn softplus(x: &Tensor) -> Result<Tensor> {
    x.relu()?
        .add(&x.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_the_reference_gammas() {
        // The fixture's gammas (fixtures README): 31.874998 for 256 bins, 7.8749995 for 64.
        let g = |bins| {
            Rbf::new(linspace(-4.0, 4.0, bins), RbfKind::Gaussian)
                .unwrap()
                .gamma
        };
        assert_eq!(g(256), 31.874998);
        assert_eq!(g(64), 7.8749995);
    }

    #[test]
    fn softplus_matches_f64() {
        let xs: Vec<f32> = (-300..=300).map(|k| k as f32 * 0.1).collect();
        let t = Tensor::new(xs.as_slice(), &Device::Cpu).unwrap();
        let y = softplus(&t).unwrap().to_vec1::<f32>().unwrap();
        for (x, y) in xs.iter().zip(y) {
            let want = f64::from(*x).exp().ln_1p();
            // f32: a few roundings of values of size max(|x|, 1).
            assert!((f64::from(y) - want).abs() < 4.0 * f64::from(f32::EPSILON) * want.max(1.0));
        }
    }
}
