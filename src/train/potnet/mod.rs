//! Training PotNet property models.
//!
//! * [`network`]: the trainable network (candle autodiff, BatchNorm in train mode);
//! * [`cache`]: graphs and lattice sums computed once per structure, kept on disk;
//! * this module: settings, the epoch loop (AdamW, one-cycle or cosine schedule, MSE or L1
//!   loss on normalised targets) and checkpoints that let a killed run continue exactly.
//!
//! Determinism: batch order is a seeded shuffle per epoch (seed, epoch), batches are one
//! forward pass each, and the matrix products split work the same way for a given thread
//! count, so a seed and a thread count fix every bit of the result.

pub mod cache;
pub mod network;
mod ops;

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::metrics::Metrics;
use super::optim::{AdamW, AdamWParams};
use super::split::Rng;
use crate::error::{Error, Result};
use crate::lattice::potnet::PotnetSettings;
use crate::model::file as model_file;
use crate::model::potnet::config::{
    Architecture, GraphConstruction, GraphSettings, LatticeSumMode, ModelMeta, Provenance, Target,
    FORMAT, FORMAT_VERSION, SHELL_TOLERANCE,
};
use crate::model::potnet::features::{Batch, CrystalInput};
use crate::model::potnet::PotnetModel;
pub use network::TrainableNet;

/// Learning-rate schedule over all steps of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// PyTorch's OneCycleLR defaults: warm-up over 30% of the steps from lr/25 to lr, then
    /// cosine annealing to lr/25/1e4.
    OneCycle,
    /// Cosine decay from lr to 0.
    Cosine,
}

impl Schedule {
    /// The learning rate at `step` of `total` for peak rate `lr`.
    pub fn rate(self, lr: f64, step: u64, total: u64) -> f64 {
        let cos = |from: f64, to: f64, t: f64| {
            to + (from - to) * 0.5 * (1.0 + (std::f64::consts::PI * t.clamp(0.0, 1.0)).cos())
        };
        let total = total.max(1) as f64;
        match self {
            Schedule::Cosine => cos(lr, 0.0, step as f64 / total),
            Schedule::OneCycle => {
                let (initial, last) = (lr / 25.0, lr / 25.0 / 1e4);
                let warm = 0.3 * total - 1.0;
                let s = step as f64;
                if s <= warm {
                    cos(initial, lr, s / warm.max(1.0))
                } else {
                    cos(lr, last, (s - warm) / (total - 1.0 - warm).max(1.0))
                }
            }
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "one-cycle" => Ok(Schedule::OneCycle),
            "cosine" => Ok(Schedule::Cosine),
            _ => Err(format!("schedule {s:?}: one-cycle or cosine")),
        }
    }
}

/// Loss on normalised targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    Mse,
    L1,
}

impl std::str::FromStr for Loss {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "mse" => Ok(Loss::Mse),
            "l1" => Ok(Loss::L1),
            _ => Err(format!("loss {s:?}: mse or l1")),
        }
    }
}

/// Optimisation settings (stored in checkpoints: a resumed run uses the same).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PotnetTraining {
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    pub loss: Loss,
    /// Stop after this many epochs without a better validation MAE (None: never).
    pub patience: Option<usize>,
    pub seed: u64,
}

impl Default for PotnetTraining {
    /// The published PotNet training settings, except the epoch count.
    fn default() -> Self {
        PotnetTraining {
            epochs: 100,
            batch_size: 64,
            learning_rate: 1e-3,
            weight_decay: 1e-5,
            schedule: Schedule::OneCycle,
            loss: Loss::Mse,
            patience: None,
            seed: 0,
        }
    }
}

/// Figures of one epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (normalised units).
    pub train_loss: f64,
    /// Validation errors in target units.
    pub val_mae: f64,
    pub val_rmse: f64,
    /// Seconds of training so far (summed over resumed runs).
    pub seconds: f64,
}

/// Where a run stands; stored in checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: usize,
    pub step: u64,
    pub best_val_mae: f64,
    pub best_epoch: usize,
    pub history: Vec<EpochRecord>,
}

/// What a checkpoint's description holds.
#[derive(Serialize, Deserialize)]
struct CheckpointInfo {
    kind: String,
    meta: ModelMeta,
    settings: PotnetTraining,
    progress: Progress,
}

const CHECKPOINT_KIND: &str = "crystalpot-potnet-checkpoint";

/// Metadata of a new model: the published graph (cutoff 4 Å, 16 neighbours) but with whole
/// k-th shells, and the published lattice-sum definitions summed to convergence, so that the
/// model is a function of the crystal (not of its cell vectors, atom order, origin or
/// rounding); the training elements are those of `structures`.
pub fn model_meta(
    name: &str,
    architecture: Architecture,
    target: Target,
    structures: &[&crate::structure::Structure],
    provenance: Provenance,
) -> Result<ModelMeta> {
    let mut elements: Vec<u8> = structures
        .iter()
        .flat_map(|s| s.numbers().iter().copied())
        .collect();
    elements.sort_unstable();
    elements.dedup();
    let meta = ModelMeta {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        name: name.into(),
        architecture,
        graph: GraphSettings {
            cutoff: 4.0,
            max_neighbors: 16,
            construction: GraphConstruction::WholeShell {
                tolerance: SHELL_TOLERANCE,
            },
        },
        lattice_sums: LatticeSumMode::converged(&PotnetSettings::default()),
        targets: vec![target],
        elements: elements
            .iter()
            .map(|&z| crate::elements::symbol(z).unwrap_or("?").to_string())
            .collect(),
        provenance,
    };
    meta.validate()?;
    Ok(meta)
}

/// A target normalised by the mean and the (population) standard deviation of its training
/// `values`; a constant target gets standard deviation 1.
pub fn target(name: &str, unit: &str, extensive: bool, values: &[f64]) -> Target {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Target {
        name: name.into(),
        unit: unit.into(),
        extensive,
        mean,
        std: if var > 0.0 { var.sqrt() } else { 1.0 },
    }
}

/// A training run: the network, its optimiser, and the run's progress.
pub struct Trainer {
    pub net: TrainableNet,
    optimiser: AdamW,
    /// Model metadata (targets with their normalisation, graph and lattice-sum settings).
    pub meta: ModelMeta,
    pub settings: PotnetTraining,
    pub progress: Progress,
}

impl Trainer {
    /// A fresh run; `meta` fixes the architecture and the target normalisation.
    pub fn new(meta: ModelMeta, settings: PotnetTraining) -> Result<Self> {
        meta.validate()?;
        let net = TrainableNet::new(&meta.architecture, settings.seed).map_err(candle_error)?;
        let params = AdamWParams {
            lr: settings.learning_rate,
            weight_decay: settings.weight_decay,
            ..AdamWParams::default()
        };
        let optimiser = AdamW::new(net.vars().clone(), params).map_err(candle_error)?;
        Ok(Trainer {
            net,
            optimiser,
            meta,
            settings,
            progress: Progress {
                epoch: 0,
                step: 0,
                best_val_mae: f64::INFINITY,
                best_epoch: 0,
                history: Vec::new(),
            },
        })
    }

    /// Steps per epoch for `n` training structures.
    pub fn steps_per_epoch(&self, n: usize) -> u64 {
        n.div_ceil(self.settings.batch_size.max(1)) as u64
    }

    /// Whether the run is over: all epochs done, or early stopping reached.
    pub fn finished(&self) -> bool {
        let p = &self.progress;
        p.epoch >= self.settings.epochs
            || self
                .settings
                .patience
                .is_some_and(|k| p.epoch >= p.best_epoch + k)
    }

    /// One epoch over `inputs` with normalised `targets` [structure][target]; calls `step`
    /// after every batch with the running mean loss. Returns the epoch's mean loss.
    pub fn train_epoch(
        &mut self,
        inputs: &[CrystalInput],
        targets: &[Vec<f64>],
        mut step: impl FnMut(f64),
    ) -> Result<f64> {
        if inputs.is_empty() || inputs.len() != targets.len() {
            return Err(Error::InvalidInput(
                "training needs at least one structure and one target row per structure".into(),
            ));
        }
        let epoch = self.progress.epoch + 1;
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        Rng::new(self.settings.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .shuffle(&mut order);
        let total = self.steps_per_epoch(inputs.len()) * self.settings.epochs as u64;
        let outputs = self.meta.architecture.output_features;
        let (mut sum, mut batches) = (0.0, 0usize);
        for chunk in order.chunks(self.settings.batch_size.max(1)) {
            let batch_inputs: Vec<CrystalInput> =
                chunk.iter().map(|&k| inputs[k].clone()).collect();
            let (local, inf) = self.net.rbfs();
            let batch = Batch::new(&batch_inputs, local, inf)?;
            let y: Vec<f32> = chunk
                .iter()
                .flat_map(|&k| targets[k].iter().map(|&t| t as f32))
                .collect();
            let y =
                Tensor::from_vec(y, (chunk.len(), outputs), &Device::Cpu).map_err(candle_error)?;
            self.optimiser.params.lr =
                self.settings
                    .schedule
                    .rate(self.settings.learning_rate, self.progress.step, total);
            let value = (|| {
                let diff = (self.net.forward(&batch, true)? - y)?;
                let loss = match self.settings.loss {
                    Loss::Mse => diff.sqr()?.mean_all()?,
                    Loss::L1 => diff.abs()?.mean_all()?,
                };
                let grads = loss.backward()?;
                self.optimiser.apply(&grads)?;
                loss.to_scalar::<f32>()
            })()
            .map_err(candle_error)?;
            if !value.is_finite() {
                return Err(Error::Model(format!(
                    "training diverged at epoch {epoch} (loss {value}); lower the learning rate"
                )));
            }
            self.progress.step += 1;
            sum += f64::from(value);
            batches += 1;
            step(sum / batches as f64);
        }
        self.progress.epoch = epoch;
        Ok(sum / batches as f64)
    }

    /// The model of the current weights (BatchNorm in eval mode, the fast network).
    pub fn model(&self) -> Result<PotnetModel> {
        PotnetModel::new(
            self.meta.clone(),
            self.net.state_dict().map_err(candle_error)?,
        )
    }

    /// Validation errors of the current weights on the first target, in target units;
    /// returns the metrics and the predictions.
    pub fn validate(
        &self,
        inputs: &[CrystalInput],
        targets: &[f64],
    ) -> Result<(Metrics, Vec<f64>)> {
        let predicted: Vec<f64> = self
            .model()?
            .predict_inputs(inputs)?
            .into_iter()
            .map(|p| p[0])
            .collect();
        Ok((Metrics::new(&predicted, targets), predicted))
    }

    /// Records an epoch; returns whether it is the best so far (by validation MAE).
    pub fn record(&mut self, record: EpochRecord) -> bool {
        self.progress.history.push(record);
        let better = record.val_mae < self.progress.best_val_mae;
        if better {
            self.progress.best_val_mae = record.val_mae;
            self.progress.best_epoch = record.epoch;
        }
        better
    }

    /// Everything needed to continue the run: weights, running statistics, optimiser
    /// moments, metadata, settings and progress.
    pub fn checkpoint_bytes(&self) -> Result<Vec<u8>> {
        let mut tensors = self.net.state_dict().map_err(candle_error)?;
        for (name, t) in self.optimiser.state() {
            tensors.insert(format!("optimiser.{name}"), t);
        }
        tensors.insert(
            "optimiser.step".into(),
            Tensor::new(self.optimiser.step as i64, &Device::Cpu).map_err(candle_error)?,
        );
        let info = CheckpointInfo {
            kind: CHECKPOINT_KIND.into(),
            meta: self.meta.clone(),
            settings: self.settings.clone(),
            progress: self.progress.clone(),
        };
        let json = serde_json::to_string(&info).expect("checkpoint info serialises");
        model_file::serialize(json, &tensors)
    }

    /// Continues a run from [`checkpoint_bytes`](Self::checkpoint_bytes).
    pub fn from_checkpoint(bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::Model(format!("checkpoint: {m}"));
        let text = model_file::description(bytes)?
            .ok_or_else(|| bad("no description: not a crystalpot checkpoint".into()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        // The kind first, so that a model file or another checkpoint says what it is.
        match value.get("kind").and_then(|k| k.as_str()) {
            Some(CHECKPOINT_KIND) => {}
            kind => {
                let what = kind.map_or("no kind".into(), |k| format!("kind \"{k}\""));
                return Err(bad(format!(
                    "not a crystalpot PotNet training checkpoint ({what}: a model file? resume \
                     from the <model>.checkpoint.safetensors beside it)"
                )));
            }
        }
        let info: CheckpointInfo = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| bad(e.to_string()))?;
        let mut trainer = Trainer::new(info.meta, info.settings)?;
        trainer
            .net
            .load_state_dict(&tensors)
            .map_err(|e| bad(e.to_string()))?;
        let state: HashMap<String, Tensor> = tensors
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("optimiser.")?.to_string(), v.clone())))
            .collect();
        let step = state
            .get("step")
            .ok_or_else(|| bad("no optimiser step".into()))?
            .to_scalar::<i64>()
            .map_err(|e| bad(e.to_string()))?;
        trainer
            .optimiser
            .restore(&state, step as u64)
            .map_err(|e| bad(e.to_string()))?;
        trainer.progress = info.progress;
        Ok(trainer)
    }
}

fn candle_error(e: candle_core::Error) -> Error {
    Error::Model(format!("PotNet training: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cycle_matches_pytorch_endpoints() {
        let s = Schedule::OneCycle;
        // OneCycleLR: step 0 at max_lr/25, peak at step 0.3 total - 1, last step at
        // max_lr/25/1e4.
        assert!((s.rate(1.0, 0, 100) - 0.04).abs() < 1e-15);
        assert!((s.rate(1.0, 29, 100) - 1.0).abs() < 1e-15);
        assert!((s.rate(1.0, 99, 100) - 4e-6).abs() < 1e-15);
        let c = Schedule::Cosine;
        assert_eq!(c.rate(2.0, 0, 10), 2.0);
        assert!((c.rate(2.0, 5, 10) - 1.0).abs() < 1e-15);
    }
}
