//! The network of [`super::network`] evaluated by hand in f64 for inference: per-atom loops
//! (parallel over atoms with rayon) over a compressed neighbour list, and the reverse pass
//! written out, so that an MD step allocates O(N) plain arrays instead of building and
//! differentiating a tensor graph. Training keeps the tensor version (it needs second
//! derivatives); the two agree to rounding (tests).
//!
//! Edge e runs from atom i = src(e) to the image of j = dst(e), r_e = x_j − x_i + s_e. The
//! reverse pass yields ∂E/∂r_e for every edge (an atom's force is the sum over the edges
//! leaving it minus the sum over those arriving; the virial is −Σ_e ∂E/∂r_e ⊗ r_e) and
//! a_iB = ∂E/∂Φ_iB, which the lattice-sum gradients turn into the long-range forces.

use std::f64::consts::PI;

use candle_core::Tensor;
use rayon::prelude::*;

use super::config::EnergyConfig;
use super::inputs::Inputs;
use super::network::EnergyNetwork;
use crate::cell::{Mat3, Vec3};

/// A dense layer y = W x (+ b) with W row-major [out, in].
struct Dense {
    weight: Vec<f64>,
    bias: Vec<f64>,
    inputs: usize,
}

impl Dense {
    fn from_linear(l: &candle_nn::Linear) -> candle_core::Result<Self> {
        let (outputs, inputs) = l.weight().dims2()?;
        Ok(Dense {
            weight: flat(l.weight())?,
            bias: match l.bias() {
                Some(b) => flat(b)?,
                None => vec![0.0; outputs],
            },
            inputs,
        })
    }

    /// y = W x + b.
    fn forward(&self, x: &[f64], y: &mut [f64]) {
        for (o, y) in y.iter_mut().enumerate() {
            let row = &self.weight[o * self.inputs..(o + 1) * self.inputs];
            *y = self.bias[o] + row.iter().zip(x).map(|(w, x)| w * x).sum::<f64>();
        }
    }

    /// x += Wᵀ g.
    fn backward(&self, g: &[f64], x: &mut [f64]) {
        for (o, g) in g.iter().enumerate() {
            let row = &self.weight[o * self.inputs..(o + 1) * self.inputs];
            x.iter_mut().zip(row).for_each(|(x, w)| *x += w * g);
        }
    }
}

fn flat(t: &Tensor) -> candle_core::Result<Vec<f64>> {
    t.to_dtype(candle_core::DType::F64)?
        .flatten_all()?
        .to_vec1::<f64>()
}

struct Layer {
    filter: Dense,
    value: Dense,
    update: Dense,
}

/// The weights of a network as plain arrays.
pub(crate) struct Evaluator {
    config: EnergyConfig,
    width: usize,
    /// Embedding rows [n_elements, width].
    embedding: Vec<f64>,
    layers: Vec<Layer>,
    /// Per power: [channels, n_elements], applied to Φ / scale.
    long_range: Vec<Dense>,
    readout: (Dense, Dense),
    charges: Vec<f64>,
    /// softplus of the stored dispersion parameters.
    dispersion: Vec<f64>,
    reference: Vec<f64>,
}

/// What the forward pass keeps for the reverse pass.
struct Forward {
    /// Per edge: vector, length, envelope and its slope, radial basis and its slope.
    r: Vec<Vec3>,
    d: Vec<f64>,
    envelope: Vec<(f64, f64)>,
    radial: Vec<f64>,
    radial_slope: Vec<f64>,
    /// Per layer: aggregated messages a [N, F] and values v = W_v h [N, F].
    aggregates: Vec<Vec<f64>>,
    values: Vec<Vec<f64>>,
    /// Readout pre-activations [N, F].
    readout: Vec<f64>,
}

/// Per-atom energies and, as asked, the derivatives.
pub(crate) struct Evaluation {
    pub per_atom: Vec<f64>,
    /// Per power: a_iB = ∂E/∂Φ_iB, row-major N × n_elements.
    pub sensitivities: Vec<Vec<f64>>,
    /// −∂E/∂x of the local part and −∂E/∂ε (strain), when asked for.
    pub forces: Option<Vec<Vec3>>,
    pub virial: Option<Mat3>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// silu(z) = z σ(z), written as candle does.
fn silu(z: f64) -> f64 {
    z / (1.0 + (-z).exp())
}

fn silu_slope(z: f64) -> f64 {
    let s = sigmoid(z);
    s * (1.0 + z * (1.0 - s))
}

/// Edge ranges of a list sorted by a key: `offsets[k]..offsets[k+1]` in `order`.
struct Grouping {
    offsets: Vec<usize>,
    order: Vec<u32>,
}

impl Grouping {
    /// Counting sort of the edges by `keys` (stable, so sums run in a fixed order).
    fn new(keys: &[u32], n: usize) -> Self {
        let mut offsets = vec![0usize; n + 1];
        for &k in keys {
            offsets[k as usize + 1] += 1;
        }
        for k in 0..n {
            offsets[k + 1] += offsets[k];
        }
        let mut next = offsets.clone();
        let mut order = vec![0u32; keys.len()];
        for (e, &k) in keys.iter().enumerate() {
            order[next[k as usize]] = e as u32;
            next[k as usize] += 1;
        }
        Grouping { offsets, order }
    }

    fn of(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        self.order[self.offsets[k]..self.offsets[k + 1]]
            .iter()
            .map(|&e| e as usize)
    }
}

impl Evaluator {
    pub fn new(network: &EnergyNetwork) -> candle_core::Result<Self> {
        let p = network;
        let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
        Ok(Evaluator {
            config: p.config.clone(),
            width: p.config.width,
            embedding: flat(p.embedding.embeddings())?,
            layers: p
                .interactions
                .iter()
                .map(|l| {
                    Ok(Layer {
                        filter: Dense::from_linear(&l.filter)?,
                        value: Dense::from_linear(&l.value)?,
                        update: Dense::from_linear(&l.update)?,
                    })
                })
                .collect::<candle_core::Result<_>>()?,
            long_range: p
                .long_range
                .iter()
                .map(Dense::from_linear)
                .collect::<candle_core::Result<_>>()?,
            readout: (
                Dense::from_linear(&p.readout.0)?,
                Dense::from_linear(&p.readout.1)?,
            ),
            charges: flat(&p.charges)?,
            dispersion: flat(&p.dispersion)?.into_iter().map(softplus).collect(),
            reference: flat(&p.reference)?,
        })
    }

    /// Per-atom energies of `inputs`, the Φ sensitivities of Σ_i mask_i E_i, and with
    /// `derivatives` its local forces and virial.
    pub fn evaluate(&self, inputs: &Inputs, mask: &[f64], derivatives: bool) -> Evaluation {
        let n = inputs.species.len();
        let by_src = Grouping::new(&inputs.edges.src, n);
        let forward = self.forward(inputs, &by_src);
        let (per_atom, sensitivities, readout_gradient) = self.readout(inputs, &forward, mask);
        let (forces, virial) = if derivatives {
            let by_dst = Grouping::new(&inputs.edges.dst, n);
            let edge_gradients = self.edge_gradients(inputs, &forward, readout_gradient, &by_dst);
            let forces = (0..n)
                .into_par_iter()
                .map(|k| {
                    let outgoing: Vec3 = by_src.of(k).map(|e| edge_gradients[e]).sum();
                    let incoming: Vec3 = by_dst.of(k).map(|e| edge_gradients[e]).sum();
                    outgoing - incoming
                })
                .collect();
            let per_atom_virial: Vec<Mat3> = (0..n)
                .into_par_iter()
                .map(|k| {
                    by_src
                        .of(k)
                        .map(|e| -edge_gradients[e] * forward.r[e].transpose())
                        .sum()
                })
                .collect();
            (Some(forces), Some(per_atom_virial.into_iter().sum()))
        } else {
            (None, None)
        };
        Evaluation {
            per_atom,
            sensitivities,
            forces,
            virial,
        }
    }

    fn forward(&self, inputs: &Inputs, by_src: &Grouping) -> Forward {
        let (f, k_max, rc) = (self.width, self.config.radial_basis, self.config.cutoff);
        let x = &inputs.positions;
        let edges = &inputs.edges;
        let r: Vec<Vec3> = (0..edges.src.len())
            .into_par_iter()
            .map(|e| x[edges.dst[e] as usize] - x[edges.src[e] as usize] + edges.shift[e])
            .collect();
        let d: Vec<f64> = r.par_iter().map(|r| r.norm()).collect();
        let envelope: Vec<(f64, f64)> = d
            .par_iter()
            .map(|&d| {
                let t = d * (PI / rc);
                ((t.cos() + 1.0) * 0.5, -0.5 * (PI / rc) * t.sin())
            })
            .collect();
        let frequencies: Vec<f64> = (1..=k_max).map(|k| k as f64 * PI / rc).collect();
        let mut radial = vec![0.0; d.len() * k_max];
        let mut radial_slope = vec![0.0; d.len() * k_max];
        radial
            .par_chunks_mut(k_max)
            .zip(radial_slope.par_chunks_mut(k_max))
            .enumerate()
            .for_each(|(e, (value, slope))| {
                let (d, (u, du)) = (d[e], envelope[e]);
                for (k, w) in frequencies.iter().enumerate() {
                    let (s, c) = (w * d).sin_cos();
                    let b = s / d;
                    value[k] = b * u;
                    slope[k] = (w * c / d - b / d) * u + b * du;
                }
            });
        let mut h: Vec<f64> = inputs
            .species
            .iter()
            .flat_map(|&s| &self.embedding[s as usize * f..(s as usize + 1) * f])
            .copied()
            .collect();
        let (mut aggregates, mut values) = (Vec::new(), Vec::new());
        for layer in &self.layers {
            let mut v = vec![0.0; h.len()];
            v.par_chunks_mut(f)
                .zip(h.par_chunks(f))
                .for_each(|(v, h)| layer.value.forward(h, v));
            let mut a = vec![0.0; h.len()];
            a.par_chunks_mut(f).enumerate().for_each(|(i, a)| {
                let mut filter = vec![0.0; f];
                for e in by_src.of(i) {
                    layer
                        .filter
                        .forward(&radial[e * k_max..(e + 1) * k_max], &mut filter);
                    let u = envelope[e].0;
                    let vj = &v[edges.dst[e] as usize * f..][..f];
                    for c in 0..f {
                        a[c] += silu(filter[c]) * u * vj[c];
                    }
                }
            });
            h.par_chunks_mut(f).zip(a.par_chunks(f)).for_each(|(h, a)| {
                let activated: Vec<f64> = a.iter().map(|&z| silu(z)).collect();
                let mut update = vec![0.0; f];
                layer.update.forward(&activated, &mut update);
                h.iter_mut().zip(&update).for_each(|(h, u)| *h += u);
            });
            aggregates.push(a);
            values.push(v);
        }
        // Readout features [h, Φ¹ W¹, Φ⁶ W⁶, …] and pre-activations.
        let n_el = self.reference.len();
        let mut readout = vec![0.0; h.len()];
        readout.par_chunks_mut(f).enumerate().for_each(|(i, z)| {
            let mut features = h[i * f..(i + 1) * f].to_vec();
            for ((phi, scale), mix) in inputs
                .phi
                .iter()
                .zip(&self.config.phi_scales)
                .zip(&self.long_range)
            {
                let scaled: Vec<f64> = phi[i * n_el..(i + 1) * n_el]
                    .iter()
                    .map(|x| x / scale)
                    .collect();
                let mut channels = vec![0.0; self.config.channels];
                mix.forward(&scaled, &mut channels);
                features.extend(channels);
            }
            self.readout.0.forward(&features, z);
        });
        Forward {
            r,
            d,
            envelope,
            radial,
            radial_slope,
            aggregates,
            values,
            readout,
        }
    }

    /// Per-atom energies, the Φ sensitivities, and ∂E/∂h of the last layer [N, F].
    fn readout(
        &self,
        inputs: &Inputs,
        forward: &Forward,
        mask: &[f64],
    ) -> (Vec<f64>, Vec<Vec<f64>>, Vec<f64>) {
        let c = &self.config;
        let (f, n_el, n) = (self.width, self.reference.len(), inputs.species.len());
        let species = &inputs.species;
        let mean_charge = species
            .iter()
            .map(|&s| self.charges[s as usize])
            .sum::<f64>()
            / n.max(1) as f64;
        let q: Vec<f64> = self.charges.iter().map(|x| x - mean_charge).collect();
        let coulomb = c.powers.iter().position(|&p| p == 1.0);
        let dispersion = c.powers.iter().position(|&p| p == 6.0);
        let w1 = &self.readout.1;
        // Per atom: energy, ∂E/∂h [F] and ∂E/∂Φ [powers × n_el].
        let per_atom: Vec<(f64, Vec<f64>, Vec<f64>)> = (0..n)
            .into_par_iter()
            .map(|i| {
                let s = species[i] as usize;
                let z = &forward.readout[i * f..(i + 1) * f];
                let activated: Vec<f64> = z.iter().map(|&z| silu(z)).collect();
                let mut learned = [0.0];
                w1.forward(&activated, &mut learned);
                let mut energy = self.reference[s] + learned[0] * c.energy_scale;
                let phi = |k: usize| &inputs.phi[k][i * n_el..(i + 1) * n_el];
                let dot =
                    |k: usize, w: &[f64]| phi(k).iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
                let mut phi_gradient = vec![0.0; c.powers.len() * n_el];
                let g = mask[i];
                if let Some(k) = coulomb {
                    let factor = 0.5 * c.coulomb_constant * q[s];
                    energy += factor * dot(k, &q);
                    phi_gradient[k * n_el..(k + 1) * n_el]
                        .iter_mut()
                        .zip(&q)
                        .for_each(|(a, qb)| *a += g * factor * qb);
                }
                if let Some(k) = dispersion {
                    let factor = -0.5 * self.dispersion[s];
                    energy += factor * dot(k, &self.dispersion);
                    phi_gradient[k * n_el..(k + 1) * n_el]
                        .iter_mut()
                        .zip(&self.dispersion)
                        .for_each(|(a, cb)| *a += g * factor * cb);
                }
                // Reverse through the readout.
                let gz: Vec<f64> = z
                    .iter()
                    .zip(&w1.weight)
                    .map(|(&z, w)| g * c.energy_scale * w * silu_slope(z))
                    .collect();
                let mut features = vec![0.0; self.readout.0.inputs];
                self.readout.0.backward(&gz, &mut features);
                for (k, mix) in self.long_range.iter().enumerate() {
                    let channels = &features[f + k * c.channels..f + (k + 1) * c.channels];
                    let mut scaled = vec![0.0; n_el];
                    mix.backward(channels, &mut scaled);
                    phi_gradient[k * n_el..(k + 1) * n_el]
                        .iter_mut()
                        .zip(scaled)
                        .for_each(|(a, x)| *a += x / c.phi_scales[k]);
                }
                features.truncate(f);
                (energy, features, phi_gradient)
            })
            .collect();
        let mut sensitivities = vec![vec![0.0; n * n_el]; c.powers.len()];
        let mut energies = Vec::with_capacity(n);
        let mut gradient = Vec::with_capacity(n * f);
        for (i, (e, gh, gphi)) in per_atom.into_iter().enumerate() {
            energies.push(e);
            gradient.extend(gh);
            for (k, s) in sensitivities.iter_mut().enumerate() {
                s[i * n_el..(i + 1) * n_el].copy_from_slice(&gphi[k * n_el..(k + 1) * n_el]);
            }
        }
        (energies, sensitivities, gradient)
    }

    /// ∂E/∂r_e of every edge, by the reverse pass through the interaction layers.
    fn edge_gradients(
        &self,
        inputs: &Inputs,
        forward: &Forward,
        mut gh: Vec<f64>,
        by_dst: &Grouping,
    ) -> Vec<Vec3> {
        let (f, k_max) = (self.width, self.config.radial_basis);
        let edges = &inputs.edges;
        let n_edges = edges.src.len();
        let mut gd = vec![0.0; n_edges];
        for (t, layer) in self.layers.iter().enumerate().rev() {
            let (a, v) = (&forward.aggregates[t], &forward.values[t]);
            // ∂E/∂a = silu'(a) ⊙ W_uᵀ ∂E/∂h.
            let mut ga = vec![0.0; gh.len()];
            ga.par_chunks_mut(f).enumerate().for_each(|(i, ga)| {
                layer.update.backward(&gh[i * f..(i + 1) * f], ga);
                ga.iter_mut()
                    .zip(&a[i * f..(i + 1) * f])
                    .for_each(|(g, &a)| *g *= silu_slope(a));
            });
            // Filter pre-activations of every edge.
            let mut z = vec![0.0; n_edges * f];
            z.par_chunks_mut(f).enumerate().for_each(|(e, z)| {
                layer
                    .filter
                    .forward(&forward.radial[e * k_max..(e + 1) * k_max], z)
            });
            // Edge lengths: through the filter (∂E/∂filter = ga_i ⊙ v_j) and its envelope.
            let scratch = || (vec![0.0; f], vec![0.0; k_max]);
            gd.par_iter_mut()
                .enumerate()
                .for_each_init(scratch, |(g_pre, g_radial), (e, gd)| {
                    let (i, j) = (edges.src[e] as usize, edges.dst[e] as usize);
                    let (u, du) = forward.envelope[e];
                    let mut g_envelope = 0.0;
                    for c in 0..f {
                        let g_filter = ga[i * f + c] * v[j * f + c];
                        let zc = z[e * f + c];
                        g_pre[c] = g_filter * u * silu_slope(zc);
                        g_envelope += g_filter * silu(zc);
                    }
                    g_radial.fill(0.0);
                    layer.filter.backward(g_pre, g_radial);
                    let slope = &forward.radial_slope[e * k_max..(e + 1) * k_max];
                    *gd += g_envelope * du
                        + g_radial.iter().zip(slope).map(|(g, s)| g * s).sum::<f64>();
                });
            // ∂E/∂h_j += W_vᵀ Σ_{e→j} ga_i ⊙ filter_e.
            gh.par_chunks_mut(f).enumerate().for_each(|(j, gh)| {
                let mut gv = vec![0.0; f];
                for e in by_dst.of(j) {
                    let (i, u) = (edges.src[e] as usize, forward.envelope[e].0);
                    for c in 0..f {
                        gv[c] += ga[i * f + c] * silu(z[e * f + c]) * u;
                    }
                }
                layer.value.backward(&gv, gh);
            });
        }
        (0..n_edges)
            .into_par_iter()
            .map(|e| forward.r[e] * (gd[e] / forward.d[e]))
            .collect()
    }
}
