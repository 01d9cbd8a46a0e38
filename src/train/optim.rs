//! AdamW (Loshchilov & Hutter 2019) over named parameters, with its moments exposed so that a
//! checkpoint can hold them and a resumed run continues exactly (candle-nn's AdamW keeps its
//! state private), and deterministic parameter initialisation from a seed.

use std::collections::BTreeMap;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

use super::split::Rng;

/// Hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWParams {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    fn default() -> Self {
        AdamWParams {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// The optimiser over the named variables of a model.
pub struct AdamW {
    pub params: AdamWParams,
    vars: BTreeMap<String, Var>,
    /// First and second moments per variable.
    moments: BTreeMap<String, (Tensor, Tensor)>,
    pub step: u64,
}

impl AdamW {
    pub fn new(vars: BTreeMap<String, Var>, params: AdamWParams) -> Result<Self> {
        let moments = vars
            .iter()
            .map(|(name, v)| Ok((name.clone(), (v.zeros_like()?, v.zeros_like()?))))
            .collect::<Result<_>>()?;
        Ok(AdamW {
            params,
            vars,
            moments,
            step: 0,
        })
    }

    /// One update with the gradients in `grads` (variables without a gradient are left).
    pub fn apply(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let p = self.params;
        let t = self.step as i32;
        let (c1, c2) = (1.0 - p.beta1.powi(t), 1.0 - p.beta2.powi(t));
        for (name, var) in &self.vars {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let g = g.detach();
            let (m, v) = self
                .moments
                .get_mut(name)
                .expect("moments of every variable");
            *m = ((&*m * p.beta1)? + (&g * (1.0 - p.beta1))?)?;
            *v = ((&*v * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
            let update = ((&*m / c1)? / ((&*v / c2)?.sqrt()? + p.eps)?)?;
            let decayed = (var.as_tensor() * (1.0 - p.lr * p.weight_decay))?;
            var.set(&(decayed - (update * p.lr)?)?)?;
        }
        Ok(())
    }

    /// The moments as named tensors (`<name>.m`, `<name>.v`), for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.moments
            .iter()
            .flat_map(|(name, (m, v))| {
                [
                    (format!("{name}.m"), m.clone()),
                    (format!("{name}.v"), v.clone()),
                ]
            })
            .collect()
    }

    /// Restores the moments written by [`state`](Self::state).
    pub fn restore(
        &mut self,
        state: &std::collections::HashMap<String, Tensor>,
        step: u64,
    ) -> Result<()> {
        for (name, (m, v)) in self.moments.iter_mut() {
            let get = |suffix: &str| {
                state
                    .get(&format!("{name}.{suffix}"))
                    .cloned()
                    .ok_or_else(|| {
                        candle_core::Error::Msg(format!(
                            "checkpoint lacks optimiser state of {name}"
                        ))
                    })
            };
            *m = get("m")?;
            *v = get("v")?;
        }
        self.step = step;
        Ok(())
    }
}

/// Fills every variable from `rng`: matrices (weights, fan-in = last dimension) uniformly in
/// ±1/√fan_in as PyTorch's Linear does, vectors with zeros, so that a seed fixes the model.
pub fn initialise(vars: &BTreeMap<String, Var>, rng: &mut Rng) -> Result<()> {
    for var in vars.values() {
        let dims = var.dims().to_vec();
        let count: usize = dims.iter().product();
        let values: Vec<f64> = if dims.len() >= 2 {
            let bound = 1.0 / (*dims.last().expect("a dimension") as f64).sqrt();
            (0..count)
                .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 * bound - bound)
                .collect()
        } else {
            vec![0.0; count]
        };
        let t = Tensor::from_vec(values, dims, var.device())?.to_dtype(var.dtype())?;
        var.set(&t)?;
    }
    Ok(())
}
