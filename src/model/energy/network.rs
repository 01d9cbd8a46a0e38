//! The energy network: per-atom energies from a smooth local message-passing network and the
//! per-atom complete sums Φ, plus a physical Coulomb/dispersion baseline.
//!
//! E = Σ_i [ e₀(Z_i) + s · MLP(h_i, Φ_i W) + ½ k q_i (Φ¹ q)_i − ½ c_i (Φ⁶ c)_i ]
//!
//! * h_i: element embedding refined by `layers` continuous-filter convolutions over every
//!   neighbour within r_c; each filter is multiplied by the envelope ½(cos(πr/r_c) + 1), whose
//!   value and slope vanish at r_c, so energy and forces are continuous when atoms cross it.
//! * Φ_i W: learned channels φ_ic = Σ_B W_Bc Φ_iB = Σ_j W_{Z_j c} S(i, j), linear in the
//!   complete sums (supercell-invariant), used nonlinearly by the readout.
//! * q: learned element charges made neutral in every structure (q − mean q), k the Coulomb
//!   constant; c = softplus(·) ≥ 0 learned dispersion strengths (C6_ij = c_i c_j).
//!
//! Inputs are plain tensors so that the same forward serves inference (f64, forces by
//! autodiff plus the lattice-sum gradients) and training (second derivatives).

use std::f64::consts::PI;

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{embedding, linear, linear_no_bias, Embedding, Linear, VarBuilder};

use super::config::EnergyConfig;

/// One structure as tensors (cheap to clone: tensors share their storage).
#[derive(Clone)]
pub struct StructureTensors {
    /// Element index per atom, u32 [N].
    pub species: Tensor,
    /// One-hot of `species`, [N, n_elements].
    pub one_hot: Tensor,
    /// Cartesian positions [N, 3].
    pub positions: Tensor,
    /// Homogeneous strain ε [3, 3] applied to every edge vector as r → r (1 + ε)ᵀ; zeros,
    /// differentiated for the virial.
    pub strain: Tensor,
    /// Edge source (centre) and destination (neighbour), u32 [E].
    pub src: Tensor,
    pub dst: Tensor,
    /// Lattice translation of each edge's neighbour [E, 3].
    pub shift: Tensor,
    /// Per long-range exponent: Φ [N, n_elements].
    pub phi: Vec<Tensor>,
}

pub(super) struct Interaction {
    pub(super) filter: Linear,
    pub(super) value: Linear,
    pub(super) update: Linear,
}

/// The trainable network.
pub struct EnergyNetwork {
    pub(super) config: EnergyConfig,
    pub(super) embedding: Embedding,
    pub(super) interactions: Vec<Interaction>,
    pub(super) long_range: Vec<Linear>,
    pub(super) readout: (Linear, Linear),
    pub(super) charges: Tensor,
    /// Before softplus.
    pub(super) dispersion: Tensor,
    pub(super) reference: Tensor,
}

impl EnergyNetwork {
    /// Builds (or loads, depending on `vb`) the network; tensor names as in the model file.
    pub fn new(vb: VarBuilder, config: &EnergyConfig) -> Result<Self> {
        let (n_el, f) = (config.elements.len(), config.width);
        let interactions = (0..config.layers)
            .map(|t| {
                let vb = vb.pp(format!("interactions.{t}"));
                Ok(Interaction {
                    filter: linear(config.radial_basis, f, vb.pp("filter"))?,
                    value: linear_no_bias(f, f, vb.pp("value"))?,
                    update: linear(f, f, vb.pp("update"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let long_range = (0..config.powers.len())
            .map(|p| linear_no_bias(n_el, config.channels, vb.pp(format!("long_range.{p}"))))
            .collect::<Result<Vec<_>>>()?;
        let readout_in = f + config.channels * config.powers.len();
        Ok(EnergyNetwork {
            embedding: embedding(n_el, f, vb.pp("embedding"))?,
            interactions,
            long_range,
            readout: (
                linear(readout_in, f, vb.pp("readout.0"))?,
                linear(f, 1, vb.pp("readout.1"))?,
            ),
            charges: vb.get_with_hints(n_el, "baseline.charges", candle_nn::Init::Const(0.0))?,
            dispersion: vb.get_with_hints(
                n_el,
                "baseline.dispersion",
                candle_nn::Init::Const(-3.0),
            )?,
            reference: vb.get_with_hints(
                n_el,
                "reference_energies",
                candle_nn::Init::Const(0.0),
            )?,
            config: config.clone(),
        })
    }

    /// Per-atom energies [N] (eV).
    pub fn per_atom_energies(&self, t: &StructureTensors) -> Result<Tensor> {
        let c = &self.config;
        let rc = c.cutoff;
        // Edge vectors r = x_j − x_i + s, strained.
        let r = (t.positions.index_select(&t.dst, 0)? - t.positions.index_select(&t.src, 0)?
            + &t.shift)?;
        let r = (&r + r.matmul(&t.strain.t()?)?)?;
        let d = r.sqr()?.sum(D::Minus1)?.sqrt()?;
        let envelope = ((((&d * (PI / rc))?.cos()? + 1.0)? * 0.5)?).unsqueeze(1)?;
        let n: Vec<f64> = (1..=c.radial_basis).map(|k| k as f64 * PI / rc).collect();
        let n = Tensor::new(n, d.device())?
            .to_dtype(d.dtype())?
            .unsqueeze(0)?;
        // Bessel basis sin(kπr/r_c)/r, tapered.
        let radial = (d
            .unsqueeze(1)?
            .broadcast_mul(&n)?
            .sin()?
            .broadcast_div(&d.unsqueeze(1)?)?
            .broadcast_mul(&envelope))?;
        let mut h = self.embedding.forward(&t.species)?;
        let atoms = h.dim(0)?;
        for layer in &self.interactions {
            let filter = layer
                .filter
                .forward(&radial)?
                .silu()?
                .broadcast_mul(&envelope)?;
            let messages = (filter * layer.value.forward(&h)?.index_select(&t.dst, 0)?)?;
            let aggregate = h.zeros_like()?.index_add(&t.src, &messages, 0)?;
            h = (&h + layer.update.forward(&aggregate.silu()?)?)?;
        }
        let mut features = vec![h];
        for ((phi, scale), mix) in t.phi.iter().zip(&c.phi_scales).zip(&self.long_range) {
            features.push(mix.forward(&(phi / *scale)?)?);
        }
        let features = Tensor::cat(&features, 1)?;
        let learned = self
            .readout
            .1
            .forward(&self.readout.0.forward(&features)?.silu()?)?
            .squeeze(1)?;
        let reference = self.reference.index_select(&t.species, 0)?;
        let mut energy = (reference + (learned * c.energy_scale)?)?;
        if let Some(k) = c.powers.iter().position(|&p| p == 1.0) {
            energy = (energy + self.coulomb(t, &t.phi[k])?)?;
        }
        if let Some(k) = c.powers.iter().position(|&p| p == 6.0) {
            energy = (energy + self.dispersion(t, &t.phi[k])?)?;
        }
        debug_assert_eq!(energy.dim(0)?, atoms);
        Ok(energy)
    }

    /// ½ k q_i Σ_B q_B Φ¹_iB with charges neutral in this structure.
    fn coulomb(&self, t: &StructureTensors, phi: &Tensor) -> Result<Tensor> {
        let per_atom = self.charges.index_select(&t.species, 0)?;
        let mean = per_atom.mean_all()?;
        let q_elements = self.charges.broadcast_sub(&mean)?;
        let q_atoms = per_atom.broadcast_sub(&mean)?;
        let potential = phi.matmul(&q_elements.unsqueeze(1)?)?.squeeze(1)?;
        (q_atoms * potential)? * (0.5 * self.config.coulomb_constant)
    }

    /// −½ c_i Σ_B c_B Φ⁶_iB with c = softplus ≥ 0 (C6_ij = c_i c_j, eV Å⁶).
    fn dispersion(&self, t: &StructureTensors, phi: &Tensor) -> Result<Tensor> {
        let c = softplus(&self.dispersion)?;
        let c_atoms = c.index_select(&t.species, 0)?;
        let potential = phi.matmul(&c.unsqueeze(1)?)?.squeeze(1)?;
        (c_atoms * potential)? * -0.5
    }
}

/// log(1 + eˣ) from differentiable primitives, stable for large |x|.
fn softplus(x: &Tensor) -> Result<Tensor> {
    let positive = x.relu()?;
    positive + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
}

/// Tensors of one structure in `dtype`.
pub fn structure_tensors(
    inputs: &super::inputs::Inputs,
    n_elements: usize,
    dtype: DType,
    device: &Device,
) -> Result<StructureTensors> {
    let n = inputs.species.len();
    let flat = |v: &[crate::Vec3]| {
        v.iter()
            .flat_map(|x| [x[0], x[1], x[2]])
            .collect::<Vec<_>>()
    };
    let one_hot: Vec<f64> = inputs
        .species
        .iter()
        .flat_map(|&s| (0..n_elements).map(move |b| f64::from(b == s as usize)))
        .collect();
    let f =
        |v: Vec<f64>, shape: (usize, usize)| Tensor::from_vec(v, shape, device)?.to_dtype(dtype);
    Ok(StructureTensors {
        species: Tensor::new(inputs.species.as_slice(), device)?,
        one_hot: f(one_hot, (n, n_elements))?,
        positions: f(flat(&inputs.positions), (n, 3))?,
        strain: Tensor::zeros((3, 3), dtype, device)?,
        src: Tensor::new(inputs.edges.src.as_slice(), device)?,
        dst: Tensor::new(inputs.edges.dst.as_slice(), device)?,
        shift: f(flat(&inputs.edges.shift), (inputs.edges.src.len(), 3))?,
        phi: inputs
            .phi
            .iter()
            .map(|p| f(p.clone(), (n, n_elements)))
            .collect::<Result<_>>()?,
    })
}
