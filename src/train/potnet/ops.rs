//! The two per-edge stages of a message-passing layer as fused candle operations with
//! hand-written gradients. Composed of candle's generic operations, they allocate and walk
//! a dozen [E, F] temporaries forwards and backwards and dominate a training step; fused,
//! each is one loop over the edges.
//!
//! * [`EdgeHidden`]: hidden = SiLU(A[dst] + B[src] + C[row]) for the gate and value halves,
//!   from per-node products P = [A | B] ([N, 4F]) and per-feature products C ([U, 2F]);
//! * [`Messages`]: aggregate[i] = Σ_{edges k → i} sigmoid(g_k) ⊙ v_k · w_k.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// The edges of a batch: target, source, distinct-feature row, multiplicity.
#[derive(Debug)]
pub struct Edges {
    pub dst: Vec<u32>,
    pub src: Vec<u32>,
    pub row: Vec<u32>,
    pub weight: Vec<f32>,
}

/// A contiguous f32 slice of a storage.
fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_slice(),
        _ => return Err(candle_core::Error::Msg(format!("{what}: f32 expected"))),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => Err(candle_core::Error::Msg(format!(
            "{what}: contiguous input expected"
        ))),
    }
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// SiLU(A[dst] + B[src] + C[row]) of every edge, output [2E, F]: rows 0..E the gate half,
/// rows E..2E the value half (both contiguous, ready for the next products).
pub struct EdgeHidden {
    pub edges: Arc<Edges>,
    pub features: usize,
}

impl EdgeHidden {
    /// Calls `f(half, edge, pre-activation row)` for every half and edge.
    fn each(&self, p: &[f32], c: &[f32], mut f: impl FnMut(usize, usize, &[f32])) {
        let fw = self.features;
        let e = &self.edges;
        let mut pre = vec![0.0f32; fw];
        for half in 0..2 {
            for k in 0..e.dst.len() {
                let a = &p[e.dst[k] as usize * 4 * fw + half * fw..][..fw];
                let b = &p[e.src[k] as usize * 4 * fw + (2 + half) * fw..][..fw];
                let cr = &c[e.row[k] as usize * 2 * fw + half * fw..][..fw];
                for (((o, a), b), c) in pre.iter_mut().zip(a).zip(b).zip(cr) {
                    *o = a + b + c;
                }
                f(half, k, &pre);
            }
        }
    }
}

impl CustomOp2 for EdgeHidden {
    fn name(&self) -> &'static str {
        "potnet-edge-hidden"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (p, c) = (
            slice(s1, l1, "node products")?,
            slice(s2, l2, "edge products")?,
        );
        let (fw, edges) = (self.features, self.edges.dst.len());
        let mut out = vec![0.0f32; 2 * edges * fw];
        self.each(p, c, |half, k, pre| {
            let row = &mut out[(half * edges + k) * fw..][..fw];
            for (o, &x) in row.iter_mut().zip(pre) {
                *o = x * sigmoid(x);
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((2 * edges, fw))))
    }

    fn bwd(
        &self,
        p: &Tensor,
        c: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (pv, cv, g) = (values(p)?, values(c)?, values(grad)?);
        let (fw, edges) = (self.features, self.edges.dst.len());
        let mut gp = vec![0.0f32; pv.len()];
        let mut gc = vec![0.0f32; cv.len()];
        let e = Arc::clone(&self.edges);
        self.each(&pv, &cv, |half, k, pre| {
            let gr = &g[(half * edges + k) * fw..][..fw];
            let a = e.dst[k] as usize * 4 * fw + half * fw;
            let b = e.src[k] as usize * 4 * fw + (2 + half) * fw;
            let r = e.row[k] as usize * 2 * fw + half * fw;
            for j in 0..fw {
                let x = pre[j];
                let s = sigmoid(x);
                // d SiLU / dx = s (1 + x (1 − s))
                let d = gr[j] * s * (1.0 + x * (1.0 - s));
                gp[a + j] += d;
                gp[b + j] += d;
                gc[r + j] += d;
            }
        });
        Ok((
            Some(Tensor::from_vec(gp, p.shape(), p.device())?),
            Some(Tensor::from_vec(gc, c.shape(), c.device())?),
        ))
    }
}

/// Σ over the edges into each target of sigmoid(gate) ⊙ value · multiplicity, [N, F].
pub struct Messages {
    pub edges: Arc<Edges>,
    pub nodes: usize,
}

impl CustomOp2 for Messages {
    fn name(&self) -> &'static str {
        "potnet-messages"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (gate, value) = (slice(s1, l1, "gate")?, slice(s2, l2, "value")?);
        let fw = l1.dims()[1];
        let e = &self.edges;
        let mut out = vec![0.0f32; self.nodes * fw];
        for k in 0..e.dst.len() {
            let o = &mut out[e.dst[k] as usize * fw..][..fw];
            let w = e.weight[k];
            for ((o, g), v) in o
                .iter_mut()
                .zip(&gate[k * fw..][..fw])
                .zip(&value[k * fw..][..fw])
            {
                *o += sigmoid(*g) * v * w;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((self.nodes, fw))))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        value: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (gv, vv, g) = (values(gate)?, values(value)?, values(grad)?);
        let fw = gate.dim(1)?;
        let e = &self.edges;
        let mut dg = vec![0.0f32; gv.len()];
        let mut dv = vec![0.0f32; vv.len()];
        for k in 0..e.dst.len() {
            let up = &g[e.dst[k] as usize * fw..][..fw];
            let w = e.weight[k];
            for j in 0..fw {
                let s = sigmoid(gv[k * fw + j]);
                let u = up[j] * w;
                dv[k * fw + j] = u * s;
                dg[k * fw + j] = u * vv[k * fw + j] * s * (1.0 - s);
            }
        }
        Ok((
            Some(Tensor::from_vec(dg, gate.shape(), gate.device())?),
            Some(Tensor::from_vec(dv, value.shape(), value.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The fused operations against candle's composed ones, values and gradients.
    #[test]
    fn fused_operations_equal_their_compositions() {
        let dev = Device::Cpu;
        let f = 3;
        let edges = Arc::new(Edges {
            dst: vec![0, 1, 1, 2, 0],
            src: vec![1, 0, 2, 2, 2],
            row: vec![0, 1, 1, 0, 2],
            weight: vec![1.0, 2.0, 1.0, 1.0, 3.0],
        });
        let ramp = |n: usize, s: f32| {
            Tensor::from_vec(
                (0..n)
                    .map(|k| ((k as f32 * s).sin()) * 1.5)
                    .collect::<Vec<_>>(),
                n,
                &dev,
            )
            .unwrap()
        };
        let p = Var::from_tensor(&ramp(3 * 4 * f, 0.7).reshape((3, 4 * f)).unwrap()).unwrap();
        let c = Var::from_tensor(&ramp(3 * 2 * f, 1.3).reshape((3, 2 * f)).unwrap()).unwrap();
        let idx = |v: &[u32]| Tensor::from_slice(v, v.len(), &dev).unwrap();
        let (dst, src, row) = (idx(&edges.dst), idx(&edges.src), idx(&edges.row));
        let w = Tensor::from_slice(&edges.weight, (5, 1), &dev).unwrap();
        let fused = |p: &Tensor, c: &Tensor| {
            let h = p
                .apply_op2(
                    c,
                    EdgeHidden {
                        edges: Arc::clone(&edges),
                        features: f,
                    },
                )
                .unwrap();
            let (g, v) = (h.narrow(0, 0, 5).unwrap(), h.narrow(0, 5, 5).unwrap());
            let v = v.sqr().unwrap(); // any further operation
            g.apply_op2(
                &v,
                Messages {
                    edges: Arc::clone(&edges),
                    nodes: 3,
                },
            )
            .unwrap()
        };
        let composed = |p: &Tensor, c: &Tensor| {
            let h = p
                .narrow(1, 0, 2 * f)
                .unwrap()
                .contiguous()
                .unwrap()
                .index_select(&dst, 0)
                .unwrap()
                .add(
                    &p.narrow(1, 2 * f, 2 * f)
                        .unwrap()
                        .contiguous()
                        .unwrap()
                        .index_select(&src, 0)
                        .unwrap(),
                )
                .unwrap()
                .add(&c.index_select(&row, 0).unwrap())
                .unwrap()
                .silu()
                .unwrap();
            let g = h.narrow(1, 0, f).unwrap();
            let v = h.narrow(1, f, f).unwrap().sqr().unwrap();
            let m = candle_nn::ops::sigmoid(&g)
                .unwrap()
                .mul(&v)
                .unwrap()
                .broadcast_mul(&w)
                .unwrap();
            Tensor::zeros((3, f), candle_core::DType::F32, &dev)
                .unwrap()
                .index_add(&dst, &m, 0)
                .unwrap()
        };
        let probe = ramp(3 * f, 2.1).reshape((3, f)).unwrap();
        let run = |op: &dyn Fn(&Tensor, &Tensor) -> Tensor| {
            let out = op(p.as_tensor(), c.as_tensor());
            let grads = (out.clone() * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            [
                values(&out).unwrap(),
                values(grads.get(p.as_tensor()).unwrap()).unwrap(),
                values(grads.get(c.as_tensor()).unwrap()).unwrap(),
            ]
        };
        let (a, b) = (run(&fused), run(&composed));
        for (x, y) in a.iter().zip(&b) {
            for (u, v) in x.iter().zip(y) {
                // Same f32 operations up to order and exp implementation: a few ulps of
                // values of size ≤ 10.
                assert!((u - v).abs() < 1e-5 * (1.0 + v.abs()), "{u} vs {v}");
            }
        }
    }
}
