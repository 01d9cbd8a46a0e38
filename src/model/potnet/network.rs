//! The PotNet network (Lin et al., ICML 2023) on candle, written from the published equations
//! (see the fixtures' README for the exact forward pass), parameters named as the PyTorch
//! `state_dict` of the original model.
//!
//! Inference layout (same values as the reference up to f32 rounding):
//! * the first Linear of each message MLP acts on z = [x_i, x_j, e]; it is split as
//!   W z = W_i x_i + W_j x_j + W_e e, with W_i x and W_j x computed once per node and W_e e once
//!   per distinct edge feature, then gathered per edge;
//! * the gate MLP (`nonlinear_full`) and the value MLP (`nonlinear`) see the same z, so their
//!   first layers are concatenated into one 2F-wide matmul;
//! * BatchNorm runs in eval mode, folded into y = x * scale + shift with the running
//!   statistics (as PyTorch's CPU kernel does).

use candle_core::{CustomOp1, DType, Device, Layout, Module, Shape, Tensor, D};
use candle_nn::{linear, Linear, VarBuilder};

use super::config::Architecture;
use super::features::{Batch, Rbf, RbfKind};

/// BatchNorm1d epsilon of the reference.
const BN_EPS: f64 = 1e-5;

/// softplus with PyTorch's threshold: log(1 + e^x), and x itself above 20.
#[derive(Clone, Copy)]
struct Softplus;

/// Threshold above which PyTorch's softplus returns x itself.
const SOFTPLUS_THRESHOLD: f64 = 20.0;

impl CustomOp1 for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, Shape)> {
        use candle_core::backend::BackendStorage;
        use candle_core::cpu_backend::unary_map;
        use candle_core::CpuStorage;
        let out = match storage {
            CpuStorage::F32(s) => CpuStorage::F32(unary_map(s, layout, |x| {
                softplus_f64(f64::from(x), x.exp().ln_1p().into()) as f32
            })),
            CpuStorage::F64(s) => {
                CpuStorage::F64(unary_map(s, layout, |x| softplus_f64(x, x.exp().ln_1p())))
            }
            other => {
                return Err(candle_core::Error::UnsupportedDTypeForOp(
                    other.dtype(),
                    "softplus",
                ))
            }
        };
        Ok((out, layout.shape().clone()))
    }

    /// d softplus / dx = sigmoid(x), for training.
    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad_res.mul(&candle_nn::ops::sigmoid(arg)?)?))
    }
}

/// `x` above the threshold, else `log1p_exp_x` (computed in the input's precision).
fn softplus_f64(x: f64, log1p_exp_x: f64) -> f64 {
    if x > SOFTPLUS_THRESHOLD {
        x
    } else {
        log1p_exp_x
    }
}

fn softplus(x: &Tensor) -> candle_core::Result<Tensor> {
    x.apply_op1(Softplus)
}

/// BatchNorm1d in eval mode: y = x * scale + shift, scale = w / sqrt(var + eps),
/// shift = b - mean * scale.
#[derive(Clone, Debug)]
pub struct BatchNormEval {
    scale: Tensor,
    shift: Tensor,
}

impl BatchNormEval {
    fn load(features: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let weight = vb.get(features, "weight")?;
        let bias = vb.get(features, "bias")?;
        let mean = vb.get(features, "running_mean")?;
        let var = vb.get(features, "running_var")?;
        let scale = weight.mul(&var.affine(1.0, BN_EPS)?.sqrt()?.recip()?)?;
        let shift = bias.sub(&mean.mul(&scale)?)?;
        Ok(BatchNormEval { scale, shift })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.broadcast_mul(&self.scale)?.broadcast_add(&self.shift)
    }
}

/// One gated message-passing layer (`conv_layers.{k}`), with its first layers pre-split.
#[derive(Clone, Debug)]
struct Conv {
    /// [F, 4F]: x ↦ [W_i x (gate, value) | W_j x (gate, value)] for every node.
    node_weight: Tensor,
    /// [F, 2F] and [2F]: e ↦ W_e e + b for every distinct edge feature (gate, value).
    edge_weight: Tensor,
    first_bias: Tensor,
    gate_out: Linear,
    value_out: Linear,
    bn_interaction: BatchNormEval,
    bn: BatchNormEval,
    features: usize,
}

impl Conv {
    fn load(f: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let gate_in = linear(3 * f, f, vb.pp("nonlinear_full.0"))?;
        let value_in = linear(3 * f, f, vb.pp("nonlinear.0"))?;
        // Rows of the fused first layer: gate outputs then value outputs.
        let w = Tensor::cat(&[gate_in.weight(), value_in.weight()], 0)?; // [2F, 3F]
        let part = |k: usize| w.narrow(1, k * f, f)?.t(); // [F, 2F]
        let node_weight = Tensor::cat(&[part(0)?, part(1)?], 1)?.contiguous()?;
        let edge_weight = part(2)?.contiguous()?;
        let first_bias = Tensor::cat(
            &[
                gate_in.bias().expect("linear has a bias"),
                value_in.bias().expect("linear has a bias"),
            ],
            0,
        )?;
        Ok(Conv {
            node_weight,
            edge_weight,
            first_bias,
            gate_out: linear(f, f, vb.pp("nonlinear_full.2"))?,
            value_out: linear(f, f, vb.pp("nonlinear.2"))?,
            bn_interaction: BatchNormEval::load(f, vb.pp("bn_interaction"))?,
            bn: BatchNormEval::load(f, vb.pp("bn"))?,
            features: f,
        })
    }

    /// x [N, F], distinct edge features [U, F] -> new x.
    fn forward(&self, x: &Tensor, edges: &Tensor, g: &GraphTensors) -> candle_core::Result<Tensor> {
        let f = self.features;
        let per_node = x.matmul(&self.node_weight)?; // [N, 4F]
        let target_part = per_node.narrow(1, 0, 2 * f)?.contiguous()?;
        let source_part = per_node.narrow(1, 2 * f, 2 * f)?.contiguous()?;
        let per_edge = edges
            .matmul(&self.edge_weight)?
            .broadcast_add(&self.first_bias)?; // [U, 2F]
        let hidden = target_part
            .index_select(&g.dst, 0)?
            .add(&source_part.index_select(&g.src, 0)?)?
            .add(&per_edge.index_select(&g.feature_row, 0)?)?
            .silu()?; // [E, 2F]
        let gate = self
            .gate_out
            .forward(&hidden.narrow(1, 0, f)?.contiguous()?)?;
        let gate = candle_nn::ops::sigmoid(&self.bn_interaction.forward(&gate)?)?;
        let value = self
            .value_out
            .forward(&hidden.narrow(1, f, f)?.contiguous()?)?;
        let mut message = gate.mul(&value)?;
        if let Some(w) = &g.weight {
            message = message.broadcast_mul(w)?;
        }
        let aggregate = x.zeros_like()?.index_add(&g.dst, &message, 0)?;
        x.add(&self.bn.forward(&aggregate)?)?.relu()
    }
}

/// The index tensors of a [`Batch`].
struct GraphTensors {
    src: Tensor,
    dst: Tensor,
    feature_row: Tensor,
    /// Edge multiplicities [E, 1], when not all 1.
    weight: Option<Tensor>,
    node_graph: Tensor,
    graph_sizes: Tensor,
}

/// Activations of one forward pass, for comparison with the reference's intermediates.
#[derive(Clone, Debug)]
pub struct Trace {
    /// [E_local, F] in the reference's local edge order.
    pub local_edge_features: Tensor,
    /// [N², F] in pair order (all graphs concatenated).
    pub inf_edge_features: Tensor,
    pub node_embedding: Tensor,
    /// Node features after each conv layer.
    pub convs: Vec<Tensor>,
    pub pooled: Tensor,
    pub fc: Tensor,
}

/// The PotNet network with its weights.
#[derive(Clone, Debug)]
pub struct PotNet {
    atom_embedding: Linear,
    local_rbf: Rbf,
    edge_embedding: Linear,
    inf_rbf: Rbf,
    infinite_linear: Linear,
    infinite_bn: BatchNormEval,
    convs: Vec<Conv>,
    fc: Linear,
    fc_out: Linear,
    device: Device,
}

impl PotNet {
    /// Builds the network from parameters named as the original `state_dict`. `vb` must
    /// hold f32 tensors of the shapes `arch` implies.
    pub fn load(vb: VarBuilder, arch: &Architecture) -> candle_core::Result<Self> {
        let f = arch.fc_features;
        let centers = |name: &str, n: usize| -> candle_core::Result<Vec<f32>> {
            vb.get(n, name)?.to_dtype(DType::F32)?.to_vec1()
        };
        let rbf = |c, k| Rbf::new(c, k).map_err(|e| candle_core::Error::Msg(e.to_string()));
        Ok(PotNet {
            atom_embedding: linear(arch.atom_input_features, f, vb.pp("atom_embedding"))?,
            local_rbf: rbf(centers("edge_embedding.0.centers", f)?, RbfKind::Gaussian)?,
            edge_embedding: linear(f, f, vb.pp("edge_embedding.1"))?,
            inf_rbf: rbf(
                centers("inf_edge_embedding.centers", arch.inf_edge_features)?,
                RbfKind::Multiquadric,
            )?,
            infinite_linear: linear(arch.inf_edge_features, f, vb.pp("infinite_linear"))?,
            infinite_bn: BatchNormEval::load(f, vb.pp("infinite_bn"))?,
            convs: (0..arch.conv_layers)
                .map(|k| Conv::load(f, vb.pp(format!("conv_layers.{k}"))))
                .collect::<candle_core::Result<_>>()?,
            fc: linear(f, arch.output_dim, vb.pp("fc.0"))?,
            fc_out: linear(arch.output_dim, arch.output_features, vb.pp("fc_out"))?,
            device: vb.device().clone(),
        })
    }

    /// The RBFs of the local and infinite edges (needed to build a [`Batch`]).
    pub fn rbfs(&self) -> (&Rbf, &Rbf) {
        (&self.local_rbf, &self.inf_rbf)
    }

    /// Raw network outputs [graphs, targets] (before target de-normalisation).
    pub fn forward(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        self.run(batch, false).map(|(y, _)| y)
    }

    /// Outputs and every intermediate activation.
    pub fn forward_traced(&self, batch: &Batch) -> candle_core::Result<(Tensor, Trace)> {
        self.run(batch, true)
            .map(|(y, t)| (y, t.expect("trace requested")))
    }

    fn run(&self, b: &Batch, trace: bool) -> candle_core::Result<(Tensor, Option<Trace>)> {
        let dev = &self.device;
        let n = b.num_nodes();
        let idx = |v: &[u32]| Tensor::from_slice(v, v.len(), dev);
        let g = GraphTensors {
            src: idx(&b.src)?,
            dst: idx(&b.dst)?,
            feature_row: idx(&b.feature_row)?,
            weight: if b.unit_weights() {
                None
            } else {
                Some(Tensor::from_slice(&b.weight, (b.weight.len(), 1), dev)?)
            },
            node_graph: idx(&b.node_graph)?,
            graph_sizes: Tensor::from_slice(&b.graph_sizes, (b.num_graphs, 1), dev)?,
        };
        let rows = |v: &[f32], bins: usize| Tensor::from_slice(v, (v.len() / bins, bins), dev);
        let local = self
            .edge_embedding
            .forward(&rows(&b.local_rbf, b.local_rbf_bins)?)?
            .silu()?;
        let inf = self.infinite_bn.forward(&softplus(
            &self
                .infinite_linear
                .forward(&rows(&b.inf_rbf, b.inf_rbf_bins)?)?,
        )?)?;
        let edges = Tensor::cat(&[&local, &inf], 0)?;

        let x0 = self.atom_embedding.forward(&Tensor::from_slice(
            &b.x,
            (n, b.x.len() / n.max(1)),
            dev,
        )?)?;
        let mut x = x0.clone();
        let mut convs = Vec::new();
        for conv in &self.convs {
            x = conv.forward(&x, &edges, &g)?;
            if trace {
                convs.push(x.clone());
            }
        }
        let sums = Tensor::zeros((b.num_graphs, x.dim(D::Minus1)?), x.dtype(), dev)?.index_add(
            &g.node_graph,
            &x,
            0,
        )?;
        let pooled = sums.broadcast_div(&g.graph_sizes)?;
        let ln2 = f64::from(std::f32::consts::LN_2);
        let fc = softplus(&self.fc.forward(&pooled)?)?.affine(1.0, -ln2)?;
        let out = self.fc_out.forward(&fc)?;
        let t = if trace {
            Some(Trace {
                local_edge_features: local.index_select(&idx(&b.local_rows)?, 0)?,
                inf_edge_features: inf.index_select(&idx(&b.inf_rows)?, 0)?,
                node_embedding: x0,
                convs,
                pooled,
                fc,
            })
        } else {
            None
        };
        Ok((out, t))
    }
}
