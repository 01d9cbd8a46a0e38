//! The PotNet network (Lin et al., ICML 2023), written from the published equations (see the
//! fixtures' README for the exact forward pass), parameters named as the PyTorch `state_dict`
//! of the original model. Inference only.
//!
//! Inference layout (same values as the reference up to f32 rounding):
//! * the first Linear of each message MLP acts on z = [x_i, x_j, e]; it is split as
//!   W z = W_i x_i + W_j x_j + W_e e, with W_i x and W_j x computed once per node and W_e e once
//!   per distinct edge feature (for all layers in one product), then gathered per edge;
//! * the gate MLP (`nonlinear_full`) and the value MLP (`nonlinear`) see the same z, so their
//!   first layers are concatenated into one 2F-wide product;
//! * BatchNorm runs in eval mode, folded into y = x * scale + shift with the running
//!   statistics (as PyTorch's CPU kernel does);
//! * matrix products run in [`gemm`](super::gemm) (weights packed once at load); everything
//!   elementwise runs in fused loops over plain f32 rows (gather + SiLU; gate + value +
//!   multiplicity + scatter-add), compiled for AVX-512 where the CPU has it ([`fast::wide`]),
//!   with the branch-free, vectorisable exp of [`fast`], accurate to about one f32 ulp.

use candle_core::{Device, Tensor};
use candle_nn::{linear, VarBuilder};

use super::config::Architecture;
use super::features::{Batch, Rbf, RbfKind};
use super::gemm::Weights;

/// BatchNorm1d epsilon of the reference.
const BN_EPS: f32 = 1e-5;

/// Threshold above which PyTorch's softplus returns x itself.
const SOFTPLUS_THRESHOLD: f32 = 20.0;

/// Elementwise functions in f32, branch-free so that loops over rows vectorise.
pub(super) mod fast {
    /// Runs `f` compiled for AVX-512 when the CPU has it (the closure is inlined into a
    /// function with those features, so its loops use 16 lanes instead of SSE2's 4). The
    /// same IEEE operations in the same order (no FMA contraction), so the same bits.
    #[inline(always)]
    pub fn wide<R>(f: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        if *super::super::gemm::AVX512 {
            #[target_feature(enable = "avx512f")]
            fn avx512<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            // SAFETY: the CPU has AVX-512F.
            return unsafe { avx512(f) };
        }
        f()
    }

    /// `e^x` to ~1 ulp for x in [-86, 88]; 0 below (never a subnormal: subnormals in a matrix
    /// product cost ~100 cycles per operation) and ~2.4e38 above (where the reference
    /// overflows; it vanishes in sigmoid and SiLU). Cody–Waite reduction x = n ln2 + r,
    /// |r| <= ln2/2, e^r from Cephes' `expf` polynomial, 2^n put into the exponent bits.
    #[inline(always)]
    pub fn exp(x: f32) -> f32 {
        // Adding 1.5 * 2^23 rounds to an integer, which then sits in the low mantissa bits.
        const MAGIC: f32 = 12_582_912.0;
        const LN2_HI: f32 = 0.693_359_4;
        const LN2_LO: f32 = -2.121_944_4e-4;
        let tiny = x < -86.0;
        let x = x.clamp(-86.0, 88.0);
        let t = x * std::f32::consts::LOG2_E + MAGIC;
        let n = t - MAGIC;
        let r = x - n * LN2_HI - n * LN2_LO;
        let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r
            + 4.166_579_6e-2)
            * r
            + 0.166_666_65)
            * r
            + 0.5)
            * r
            * r
            + r
            + 1.0;
        let shift = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32) << 23;
        let y = f32::from_bits((p.to_bits() as i32).wrapping_add(shift) as u32);
        if tiny {
            0.0
        } else {
            y
        }
    }

    #[inline(always)]
    pub fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + exp(-x))
    }

    #[inline(always)]
    pub fn silu(x: f32) -> f32 {
        x / (1.0 + exp(-x))
    }

    /// `log(1 + e^x)`, and x itself above `threshold` (PyTorch's convention), as
    /// `max(x, 0) + log1p(u)`, `u = e^(-|x|)`, with `log1p(u) = 2 atanh(u / (2 + u))` from its
    /// series (argument <= 1/3: nine terms reach 2e-9).
    #[inline(always)]
    pub fn softplus(x: f32, threshold: f32) -> f32 {
        let u = exp(-x.abs());
        let z = u / (2.0 + u);
        let z2 = z * z;
        let mut series = 1.0 / 17.0;
        for k in (0..8).rev() {
            series = series * z2 + 1.0 / (2 * k + 1) as f32;
        }
        let y = x.max(0.0) + 2.0 * z * series;
        if x > threshold {
            x
        } else {
            y
        }
    }
}

/// Row-major f32 matrix.
#[derive(Clone, Debug, Default)]
struct Rows {
    data: Vec<f32>,
    cols: usize,
}

impl Rows {
    fn row(&self, k: usize) -> &[f32] {
        &self.data[k * self.cols..(k + 1) * self.cols]
    }

    fn len(&self) -> usize {
        self.data.len() / self.cols
    }

    fn tensor(&self) -> candle_core::Result<Tensor> {
        Tensor::from_slice(&self.data, (self.len(), self.cols), &Device::Cpu)
    }

    /// Applies `f` to every entry.
    fn map(mut self, f: impl Fn(f32) -> f32) -> Self {
        fast::wide(
            #[inline(always)]
            || {
                for v in &mut self.data {
                    *v = f(*v);
                }
            },
        );
        self
    }
}

/// `x · w` (see [`gemm`](super::gemm)).
fn matmul(x: &Rows, w: &Weights) -> candle_core::Result<Rows> {
    Ok(Rows {
        data: w.left_mul(&x.data)?,
        cols: w.outputs(),
    })
}

/// A Linear layer `y = x Wᵀ + b`, Wᵀ stored [in, out].
#[derive(Clone, Debug)]
struct Dense {
    weight_t: Weights,
    bias: Vec<f32>,
}

impl Dense {
    fn load(inputs: usize, outputs: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let l = linear(inputs, outputs, vb)?;
        Ok(Dense {
            weight_t: Weights::new(l.weight().t()?)?,
            bias: l.bias().expect("linear has a bias").to_vec1()?,
        })
    }

    fn forward(&self, x: &Rows) -> candle_core::Result<Rows> {
        let mut y = matmul(x, &self.weight_t)?;
        fast::wide(
            #[inline(always)]
            || {
                for row in y.data.chunks_exact_mut(y.cols) {
                    for (v, b) in row.iter_mut().zip(&self.bias) {
                        *v += b;
                    }
                }
            },
        );
        Ok(y)
    }
}

/// BatchNorm1d in eval mode: y = x * scale + shift, scale = w / sqrt(var + eps),
/// shift = b - mean * scale.
#[derive(Clone, Debug)]
struct BatchNormEval {
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl BatchNormEval {
    fn load(features: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let get = |name| vb.get(features, name)?.to_vec1::<f32>();
        let (weight, bias) = (get("weight")?, get("bias")?);
        let (mean, var) = (get("running_mean")?, get("running_var")?);
        let scale: Vec<f32> = weight
            .iter()
            .zip(&var)
            .map(|(w, v)| w * (1.0 / (v + BN_EPS).sqrt()))
            .collect();
        let shift = bias
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        Ok(BatchNormEval { scale, shift })
    }

    fn apply(&self, x: &mut Rows) {
        fast::wide(
            #[inline(always)]
            || {
                for row in x.data.chunks_exact_mut(x.cols) {
                    for ((v, s), t) in row.iter_mut().zip(&self.scale).zip(&self.shift) {
                        *v = *v * s + t;
                    }
                }
            },
        );
    }
}

/// One gated message-passing layer (`conv_layers.{k}`), with its first layers pre-split.
#[derive(Clone, Debug)]
struct Conv {
    /// [F, 4F]: x ↦ [W_i x (gate, value) | W_j x (gate, value)] for every node.
    node_weight: Weights,
    /// [F, 2F] and [2F]: e ↦ W_e e + b for every distinct edge feature (gate, value).
    edge_weight: Tensor,
    first_bias: Vec<f32>,
    gate_out: Dense,
    value_out: Dense,
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
        let node_weight = Weights::new(Tensor::cat(&[part(0)?, part(1)?], 1)?)?;
        let edge_weight = part(2)?.contiguous()?;
        let first_bias = Tensor::cat(
            &[
                gate_in.bias().expect("linear has a bias"),
                value_in.bias().expect("linear has a bias"),
            ],
            0,
        )?
        .to_vec1()?;
        Ok(Conv {
            node_weight,
            edge_weight,
            first_bias,
            gate_out: Dense::load(f, f, vb.pp("nonlinear_full.2"))?,
            value_out: Dense::load(f, f, vb.pp("nonlinear.2"))?,
            bn_interaction: BatchNormEval::load(f, vb.pp("bn_interaction"))?,
            bn: BatchNormEval::load(f, vb.pp("bn"))?,
            features: f,
        })
    }

    /// x [N, F], `per_edge` = W_e e + b of every distinct edge feature [U, 2F] -> new x.
    fn forward(&self, x: &Rows, per_edge: &Rows, b: &Batch) -> candle_core::Result<Rows> {
        let f = self.features;
        let per_node = matmul(x, &self.node_weight)?; // [N, 4F]
        let edges = b.src.len();
        // hidden = SiLU(W_i x_dst + W_j x_src + W_e e + b), split into gate and value halves.
        let mut hidden = [vec![0.0f32; edges * f], vec![0.0f32; edges * f]];
        fast::wide(
            #[inline(always)]
            || {
                for k in 0..edges {
                    let target = per_node.row(b.dst[k] as usize);
                    let source = per_node.row(b.src[k] as usize);
                    let edge = per_edge.row(b.feature_row[k] as usize);
                    for (half, out) in hidden.iter_mut().enumerate() {
                        let cols = half * f..(half + 1) * f;
                        let out = &mut out[k * f..(k + 1) * f];
                        let t = &target[cols.clone()];
                        let s = &source[2 * f..][cols.clone()];
                        for (((o, t), s), e) in out.iter_mut().zip(t).zip(s).zip(&edge[cols]) {
                            *o = fast::silu(t + s + e);
                        }
                    }
                }
            },
        );
        let [gate_hidden, value_hidden] = hidden.map(|data| Rows { data, cols: f });
        let gate = matmul(&gate_hidden, &self.gate_out.weight_t)?;
        let value = matmul(&value_hidden, &self.value_out.weight_t)?;
        // message = sigmoid(BN(gate + b_g)) * (value + b_v) * multiplicity, summed per target.
        let bn = &self.bn_interaction;
        let mut aggregate = vec![0.0f32; x.data.len()];
        fast::wide(
            #[inline(always)]
            || {
                for k in 0..edges {
                    let d = b.dst[k] as usize;
                    let w = b.weight[k];
                    let out = &mut aggregate[d * f..(d + 1) * f];
                    let terms = gate
                        .row(k)
                        .iter()
                        .zip(&self.gate_out.bias)
                        .zip(&bn.scale)
                        .zip(&bn.shift)
                        .zip(value.row(k))
                        .zip(&self.value_out.bias);
                    for (o, (((((g, gb), s), t), v), vb)) in out.iter_mut().zip(terms) {
                        *o += fast::sigmoid((g + gb) * s + t) * (v + vb) * w;
                    }
                }
            },
        );
        let mut aggregate = Rows {
            data: aggregate,
            cols: f,
        };
        self.bn.apply(&mut aggregate);
        fast::wide(
            #[inline(always)]
            || {
                for (a, x) in aggregate.data.iter_mut().zip(&x.data) {
                    *a = (x + *a).max(0.0);
                }
            },
        );
        Ok(aggregate)
    }

    /// Adds the first-layer bias to `W_e e` of every distinct edge feature.
    fn per_edge(&self, products: &Rows, layer: usize) -> Rows {
        let width = 2 * self.features;
        let mut out = Vec::with_capacity(products.len() * width);
        fast::wide(
            #[inline(always)]
            || {
                for k in 0..products.len() {
                    let row = &products.row(k)[layer * width..(layer + 1) * width];
                    out.extend(row.iter().zip(&self.first_bias).map(|(p, b)| p + b));
                }
            },
        );
        Rows {
            data: out,
            cols: width,
        }
    }
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
    atom_embedding: Dense,
    local_rbf: Rbf,
    edge_embedding: Dense,
    inf_rbf: Rbf,
    infinite_linear: Dense,
    infinite_bn: BatchNormEval,
    convs: Vec<Conv>,
    /// [F, layers · 2F]: the edge parts of every conv layer's first Linear, side by side.
    edge_weights: Weights,
    fc: Dense,
    fc_out: Dense,
}

impl PotNet {
    /// Builds the network from parameters named as the original `state_dict`. `vb` must
    /// hold f32 tensors of the shapes `arch` implies.
    pub fn load(vb: VarBuilder, arch: &Architecture) -> candle_core::Result<Self> {
        let f = arch.fc_features;
        let centers =
            |name: &str, n: usize| -> candle_core::Result<Vec<f32>> { vb.get(n, name)?.to_vec1() };
        let rbf = |c, k| Rbf::new(c, k).map_err(|e| candle_core::Error::Msg(e.to_string()));
        let convs: Vec<Conv> = (0..arch.conv_layers)
            .map(|k| Conv::load(f, vb.pp(format!("conv_layers.{k}"))))
            .collect::<candle_core::Result<_>>()?;
        let edge_weights = Weights::new(Tensor::cat(
            &convs.iter().map(|c| &c.edge_weight).collect::<Vec<_>>(),
            1,
        )?)?;
        Ok(PotNet {
            atom_embedding: Dense::load(arch.atom_input_features, f, vb.pp("atom_embedding"))?,
            local_rbf: rbf(centers("edge_embedding.0.centers", f)?, RbfKind::Gaussian)?,
            edge_embedding: Dense::load(f, f, vb.pp("edge_embedding.1"))?,
            inf_rbf: rbf(
                centers("inf_edge_embedding.centers", arch.inf_edge_features)?,
                RbfKind::Multiquadric,
            )?,
            infinite_linear: Dense::load(arch.inf_edge_features, f, vb.pp("infinite_linear"))?,
            infinite_bn: BatchNormEval::load(f, vb.pp("infinite_bn"))?,
            convs,
            edge_weights,
            fc: Dense::load(f, arch.output_dim, vb.pp("fc.0"))?,
            fc_out: Dense::load(arch.output_dim, arch.output_features, vb.pp("fc_out"))?,
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
        let n = b.num_nodes();
        let rows = |v: &[f32], cols: usize| Rows {
            data: v.to_vec(),
            cols,
        };
        let local = self
            .edge_embedding
            .forward(&rows(&b.local_rbf, b.local_rbf_bins))?
            .map(fast::silu);
        let mut inf = self
            .infinite_linear
            .forward(&rows(&b.inf_rbf, b.inf_rbf_bins))?
            .map(|v| fast::softplus(v, SOFTPLUS_THRESHOLD));
        self.infinite_bn.apply(&mut inf);
        let edges = Rows {
            data: [local.data.as_slice(), &inf.data].concat(),
            cols: local.cols,
        };
        let edge_products = matmul(&edges, &self.edge_weights)?;

        let x0 = self
            .atom_embedding
            .forward(&rows(&b.x, b.x.len() / n.max(1)))?;
        let mut x = x0.clone();
        let mut convs = Vec::new();
        for (layer, conv) in self.convs.iter().enumerate() {
            x = conv.forward(&x, &conv.per_edge(&edge_products, layer), b)?;
            if trace {
                convs.push(x.tensor()?);
            }
        }
        // Mean pooling per graph.
        let f = x.cols;
        let mut pooled = Rows {
            data: vec![0.0; b.num_graphs * f],
            cols: f,
        };
        for k in 0..n {
            let g = b.node_graph[k] as usize;
            for (p, v) in pooled.data[g * f..(g + 1) * f].iter_mut().zip(x.row(k)) {
                *p += v;
            }
        }
        for (row, size) in pooled.data.chunks_exact_mut(f).zip(&b.graph_sizes) {
            for p in row {
                *p /= size;
            }
        }
        let ln2 = std::f32::consts::LN_2;
        let fc = self
            .fc
            .forward(&pooled)?
            .map(|v| fast::softplus(v, SOFTPLUS_THRESHOLD) - ln2);
        let out = self.fc_out.forward(&fc)?.tensor()?;
        let t = if trace {
            let select = |m: &Rows, index: &[u32]| {
                m.tensor()?
                    .index_select(&Tensor::from_slice(index, index.len(), &Device::Cpu)?, 0)
            };
            Some(Trace {
                local_edge_features: select(&local, &b.local_rows)?,
                inf_edge_features: select(&inf, &b.inf_rows)?,
                node_embedding: x0.tensor()?,
                convs,
                pooled: pooled.tensor()?,
                fc: fc.tensor()?,
            })
        } else {
            None
        };
        Ok((out, t))
    }
}

#[cfg(test)]
mod tests {
    use super::fast;

    /// One f32 ulp relative is 2^-23 ≈ 1.2e-7; the polynomial adds ~5e-9 and the reduction
    /// a few roundings, so 2 ulps bound the error.
    const TWO_ULPS: f64 = 2.0 * f32::EPSILON as f64;

    #[test]
    fn fast_functions_match_f64_references() {
        let mut worst = [0.0f64; 4];
        for k in -400_000..=400_000 {
            let x = k as f32 * 2.15e-4; // [-86, 86]
            let xd = f64::from(x);
            let rel = |got: f32, want: f64| (f64::from(got) - want).abs() / want.abs();
            let softplus = if xd > 20.0 { xd } else { xd.exp().ln_1p() };
            let errors = [
                rel(fast::exp(x), xd.exp()),
                rel(fast::sigmoid(x), 1.0 / (1.0 + (-xd).exp())),
                if x == 0.0 {
                    0.0
                } else {
                    rel(fast::silu(x), xd / (1.0 + (-xd).exp()))
                },
                rel(fast::softplus(x, 20.0), softplus),
            ];
            for (w, e) in worst.iter_mut().zip(errors) {
                *w = w.max(e);
            }
        }
        // sigmoid, SiLU and softplus add one division or addition: one more ulp each.
        assert!(worst[0] < TWO_ULPS, "exp {worst:?}");
        for w in &worst[1..] {
            assert!(*w < 1.5 * TWO_ULPS, "{worst:?}");
        }
        assert!(fast::exp(-1e4) == 0.0 && fast::exp(1e4) > 1e38);
        assert!(fast::sigmoid(-200.0) < 1e-37 && fast::silu(200.0) == 200.0);
    }
}
