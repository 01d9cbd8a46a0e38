//! Training energy models on energies, forces and stresses.
//!
//! The loss of one structure is
//! w_E ((E − E_ref)/N)² + w_F mean |F − F_ref|² + w_S mean (σ − σ_ref)² (σ in GPa),
//! where F and σ are derivatives of the network's energy: autodiff for the local part and for
//! a = ∂E/∂Φ, then the per-pair lattice-sum derivatives contracted with a (see
//! [`crate::model::energy::inputs`]). The gradient of this loss needs second derivatives:
//! candle keeps them only when `CANDLE_GRAD_DO_NOT_DETACH` is set before a thread's first
//! backward, so the work runs in a thread pool created after setting it.

use std::collections::{BTreeMap, HashMap};

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rayon::prelude::*;

use super::dataset::{Sample, EV_PER_A3_IN_GPA};
use super::metrics::Metrics;
use super::optim::{initialise, AdamW, AdamWParams};
use super::split::Rng;
use crate::error::{Error, Result};
use crate::model::energy::inputs::{local_edges, phi_with_derivatives, species_indices, Inputs};
use crate::model::energy::network::{structure_tensors, EnergyNetwork, StructureTensors};
use crate::model::energy::{candle_error, with_variables, EnergyConfig, EnergyMeta, EnergyModel};

/// Weights of the loss terms and optimisation settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyTraining {
    pub energy_weight: f64,
    pub force_weight: f64,
    pub stress_weight: f64,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
    pub threads: usize,
}

impl Default for EnergyTraining {
    fn default() -> Self {
        EnergyTraining {
            energy_weight: 1.0,
            force_weight: 1.0,
            stress_weight: 0.01,
            epochs: 100,
            batch_size: 4,
            learning_rate: 2e-3,
            seed: 0,
            threads: 0,
        }
    }
}

/// One training structure, ready for the network.
pub struct Prepared {
    pub n_atoms: usize,
    pub volume: f64,
    tensors: StructureTensors,
    /// Per power: D [N, N, 3] and ∂S/∂ε [N·N, 9].
    position_derivatives: Vec<Tensor>,
    strain_derivatives: Vec<Tensor>,
    energy: f64,
    forces: Option<Tensor>,
    /// Stress in GPa, row-major 3×3.
    stress: Option<Tensor>,
}

/// Inputs, lattice sums and their derivatives of every sample, computed in parallel.
pub fn prepare(samples: &[Sample], config: &EnergyConfig) -> Result<Vec<Prepared>> {
    let elements = config.atomic_numbers()?;
    let n_el = elements.len();
    samples
        .par_iter()
        .map(|s| {
            let st = &s.structure;
            let species = species_indices(st, &elements)
                .map_err(|e| Error::InvalidInput(format!("{}: {e}", s.id)))?;
            let (phi, derivatives) =
                phi_with_derivatives(st, &species, n_el, &config.powers, config.tolerance)?;
            let inputs = Inputs {
                edges: local_edges(st, config.cutoff)?,
                positions: st.positions().to_vec(),
                species,
                phi,
            };
            let dev = Device::Cpu;
            let n = st.len();
            let tensors =
                structure_tensors(&inputs, n_el, DType::F64, &dev).map_err(candle_error)?;
            let mut position_derivatives = Vec::new();
            let mut strain_derivatives = Vec::new();
            for d in &derivatives.pairs {
                let pos: Vec<f64> = d.position.iter().flat_map(|v| [v[0], v[1], v[2]]).collect();
                let strain: Vec<f64> = d
                    .strain
                    .iter()
                    .flat_map(|m| m.transpose().as_slice().to_vec())
                    .collect();
                position_derivatives
                    .push(Tensor::from_vec(pos, (n, n, 3), &dev).map_err(candle_error)?);
                strain_derivatives
                    .push(Tensor::from_vec(strain, (n * n, 9), &dev).map_err(candle_error)?);
            }
            let forces = match &s.forces {
                Some(f) => Some(
                    Tensor::from_vec(
                        f.iter()
                            .flat_map(|v| [v[0], v[1], v[2]])
                            .collect::<Vec<_>>(),
                        (n, 3),
                        &dev,
                    )
                    .map_err(candle_error)?,
                ),
                None => None,
            };
            let stress = match s.stress {
                Some(m) => Some(
                    Tensor::from_vec(
                        (m.transpose() * EV_PER_A3_IN_GPA).as_slice().to_vec(),
                        (3, 3),
                        &dev,
                    )
                    .map_err(candle_error)?,
                ),
                None => None,
            };
            Ok(Prepared {
                n_atoms: n,
                volume: st.volume(),
                tensors,
                position_derivatives,
                strain_derivatives,
                energy: s.targets[0],
                forces,
                stress,
            })
        })
        .collect()
}

/// Predicted total energy, forces [N, 3] and stress [3, 3] (GPa) of a prepared structure, as
/// differentiable tensors.
pub fn predict(
    network: &EnergyNetwork,
    p: &Prepared,
) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let (t, vars) = with_variables(p.tensors.clone())?;
    let energy = network.per_atom_energies(&t)?.sum_all()?;
    let grads = energy.backward()?;
    let grad = |v: &Var| match grads.get(v.as_tensor()) {
        Some(g) => Ok(g.clone()),
        None => v.as_tensor().zeros_like(),
    };
    let mut forces = grad(&vars.positions)?.neg()?;
    let mut virial = grad(&vars.strain)?.neg()?;
    let n = p.n_atoms;
    for (k, phi) in vars.phi.iter().enumerate() {
        let a = grad(phi)?;
        // A[i, j] = a[i, element(j)]; F_k = Σ_j (A + Aᵀ)[k, j] D[k, j];  W = −Σ_ij A[i,j] ∂S/∂ε.
        let a_pairs = a.matmul(&t.one_hot.t()?)?;
        let m = (&a_pairs + a_pairs.t()?)?;
        forces = (forces
            + m.unsqueeze(2)?
                .broadcast_mul(&p.position_derivatives[k])?
                .sum(1)?)?;
        let w = a_pairs
            .reshape((1, n * n))?
            .matmul(&p.strain_derivatives[k])?
            .reshape((3, 3))?;
        virial = (virial - w)?;
    }
    let stress = (virial * (-EV_PER_A3_IN_GPA / p.volume))?;
    Ok((energy, forces, stress))
}

/// The weighted loss of one structure.
fn loss(network: &EnergyNetwork, p: &Prepared, w: &EnergyTraining) -> candle_core::Result<Tensor> {
    let (energy, forces, stress) = predict(network, p)?;
    let n = p.n_atoms as f64;
    let mut total = (((energy - p.energy)? / n)?.sqr()? * w.energy_weight)?;
    if let Some(f) = &p.forces {
        total = (total + ((forces - f)?.sqr()?.mean_all()? * w.force_weight)?)?;
    }
    if let Some(s) = &p.stress {
        total = (total + ((stress - s)?.sqr()?.mean_all()? * w.stress_weight)?)?;
    }
    Ok(total)
}

/// Per-epoch figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    pub validation: EnergyMetrics,
}

/// Errors of an energy model on a data set.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct EnergyMetrics {
    pub n: usize,
    pub energy_mae_mev_per_atom: f64,
    pub energy_rmse_mev_per_atom: f64,
    pub force_mae: Option<f64>,
    pub force_rmse: Option<f64>,
    pub stress_mae_gpa: Option<f64>,
}

/// Predictions and references of one structure, flattened.
pub struct Comparison {
    /// (predicted, reference) energy per atom (eV/atom).
    pub energy: (f64, f64),
    /// (predicted, reference) force components (eV/Å).
    pub forces: Option<(Vec<f64>, Vec<f64>)>,
    /// (predicted, reference) stress components (GPa).
    pub stress: Option<(Vec<f64>, Vec<f64>)>,
}

fn compare(network: &EnergyNetwork, p: &Prepared) -> candle_core::Result<Comparison> {
    let (e, f, s) = predict(network, p)?;
    let flat = |t: &Tensor| t.flatten_all()?.to_vec1::<f64>();
    let pair = |predicted: &Tensor, reference: &Option<Tensor>| -> candle_core::Result<_> {
        Ok(match reference {
            Some(r) => Some((flat(predicted)?, flat(r)?)),
            None => None,
        })
    };
    let n = p.n_atoms as f64;
    Ok(Comparison {
        energy: (e.to_scalar::<f64>()? / n, p.energy / n),
        forces: pair(&f, &p.forces)?,
        stress: pair(&s, &p.stress)?,
    })
}

/// Metrics of all values that `pick` finds, `None` when no structure has any.
fn pooled(
    results: &[Comparison],
    pick: impl Fn(&Comparison) -> Option<&(Vec<f64>, Vec<f64>)>,
) -> Option<Metrics> {
    let (mut predicted, mut reference) = (Vec::new(), Vec::new());
    for (p, r) in results.iter().filter_map(pick) {
        predicted.extend(p);
        reference.extend(r);
    }
    (!predicted.is_empty()).then(|| Metrics::new(&predicted, &reference))
}

/// Evaluates `network` on prepared structures.
pub fn evaluate(network: &EnergyNetwork, data: &[Prepared]) -> Result<EnergyMetrics> {
    let results = data
        .par_iter()
        .map(|p| compare(network, p))
        .collect::<candle_core::Result<Vec<_>>>()
        .map_err(candle_error)?;
    Ok(summarize(&results))
}

/// Energy, force and stress metrics of compared structures (at least one).
pub fn summarize(results: &[Comparison]) -> EnergyMetrics {
    let (pe, te): (Vec<f64>, Vec<f64>) = results.iter().map(|r| r.energy).unzip();
    let energy = Metrics::new(&pe, &te);
    let forces = pooled(results, |r| r.forces.as_ref());
    let stress = pooled(results, |r| r.stress.as_ref());
    EnergyMetrics {
        n: results.len(),
        energy_mae_mev_per_atom: energy.mae * 1e3,
        energy_rmse_mev_per_atom: energy.rmse * 1e3,
        force_mae: forces.map(|m| m.mae),
        force_rmse: forces.map(|m| m.rmse),
        stress_mae_gpa: stress.map(|m| m.mae),
    }
}

/// Fits the data-dependent constants of `config`: Φ scales (RMS per power) and the energy
/// scale; returns per-element reference energies from a least-squares fit of E to the
/// composition.
pub fn fit_constants(
    config: &mut EnergyConfig,
    samples: &[Sample],
    data: &[Prepared],
) -> Result<Vec<f64>> {
    let n_el = config.elements.len();
    for (k, scale) in config.phi_scales.iter_mut().enumerate() {
        let (mut sum, mut count) = (0.0, 0usize);
        for p in data {
            let v = p.tensors.phi[k]
                .flatten_all()
                .and_then(|t| t.to_vec1::<f64>())
                .map_err(candle_error)?;
            sum += v.iter().map(|x| x * x).sum::<f64>();
            count += v.len();
        }
        *scale = (sum / count.max(1) as f64).sqrt().max(1e-12);
    }
    let elements = config.atomic_numbers()?;
    let counts = nalgebra::DMatrix::from_fn(samples.len(), n_el, |r, b| {
        samples[r]
            .structure
            .numbers()
            .iter()
            .filter(|&&z| z == elements[b])
            .count() as f64
    });
    let energies =
        nalgebra::DVector::from_iterator(samples.len(), samples.iter().map(|s| s.targets[0]));
    let reference = counts
        .clone()
        .svd(true, true)
        .solve(&energies, 1e-10)
        .map_err(|e| Error::InvalidInput(format!("cannot fit reference energies: {e}")))?;
    let residual = &energies - &counts * &reference;
    let per_atom: Vec<f64> = residual
        .iter()
        .zip(samples)
        .map(|(r, s)| r / s.structure.len() as f64)
        .collect();
    let rms = (per_atom.iter().map(|x| x * x).sum::<f64>() / per_atom.len() as f64).sqrt();
    config.energy_scale = rms.max(1e-3);
    Ok(reference.iter().copied().collect())
}

/// The samples with a baseline model's energy, forces and stress subtracted from their
/// targets: what a correction learns in delta learning ([`crate::model::delta`]), so that
/// baseline plus correction fits the data.
pub fn subtract_baseline(
    baseline: &crate::model::linear::LinearModel,
    samples: &[Sample],
) -> Result<Vec<Sample>> {
    samples
        .par_iter()
        .map(|s| {
            let r = baseline.compute(&s.structure, &crate::model::Request::all())?;
            let mut residual = s.clone();
            residual.targets[0] -= r.energy;
            if let (Some(f), Some(b)) = (residual.forces.as_mut(), r.forces.as_ref()) {
                f.iter_mut().zip(b).for_each(|(f, b)| *f -= b);
            }
            if let (Some(stress), Some(b)) =
                (residual.stress.as_mut(), r.stress(s.structure.volume()))
            {
                *stress -= b;
            }
            Ok(residual)
        })
        .collect()
}

/// A network with trainable variables.
pub struct Trainable {
    pub varmap: VarMap,
    pub network: EnergyNetwork,
}

impl Trainable {
    /// A seeded network with the given reference energies.
    pub fn new(config: &EnergyConfig, reference: &[f64], seed: u64) -> Result<Self> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
        let network = EnergyNetwork::new(vb, config).map_err(candle_error)?;
        let vars = named_vars(&varmap);
        initialise(&vars, &mut Rng::new(seed)).map_err(candle_error)?;
        let r = Tensor::new(reference, &Device::Cpu).map_err(candle_error)?;
        vars["reference_energies"].set(&r).map_err(candle_error)?;
        Ok(Trainable { varmap, network })
    }

    /// The weights as a model.
    pub fn to_model(&self, meta: EnergyMeta) -> Result<EnergyModel> {
        EnergyModel::new(meta, self.tensors())
    }

    /// Sets the weights to `weights` (every variable must be there, with its shape).
    pub fn restore(&self, weights: &HashMap<String, Tensor>) -> Result<()> {
        for (name, var) in named_vars(&self.varmap) {
            let w = weights
                .get(&name)
                .ok_or_else(|| Error::Model(format!("the checkpoint lacks the weights {name}")))?;
            var.set(w).map_err(candle_error)?;
        }
        Ok(())
    }

    pub fn tensors(&self) -> HashMap<String, Tensor> {
        named_vars(&self.varmap)
            .into_iter()
            .map(|(k, v)| (k, v.as_tensor().detach()))
            .collect()
    }
}

/// The variables of a var map, by name (sorted: a fixed order keeps runs deterministic).
pub fn named_vars(varmap: &VarMap) -> BTreeMap<String, Var> {
    varmap
        .data()
        .lock()
        .expect("var map lock")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Sums the per-structure losses and their gradients with respect to the parameters (detached:
/// the optimiser needs values, not the graph that produced them).
fn parameter_gradients(
    vars: &BTreeMap<String, Var>,
    parts: Vec<(f64, GradStore)>,
) -> candle_core::Result<(f64, GradStore)> {
    let mut total = GradStore::default();
    let mut sum = 0.0;
    for (value, grads) in parts {
        sum += value;
        for var in vars.values() {
            if let Some(g) = grads.get(var.as_tensor()) {
                let g = g.detach();
                let merged = match total.remove(var.as_tensor()) {
                    Some(previous) => (previous + g)?,
                    None => g,
                };
                total.insert(var.as_tensor(), merged);
            }
        }
    }
    Ok((sum, total))
}

/// A pool whose threads keep second derivatives (see the module doc).
pub fn second_order_pool(threads: usize) -> Result<rayon::ThreadPool> {
    std::env::set_var("CANDLE_GRAD_DO_NOT_DETACH", "1");
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::InvalidInput(format!("cannot start training threads: {e}")))
}

/// Where a run stands after an epoch, with everything needed to continue it exactly: the
/// weights, the AdamW moments and step, the shuffled frame order (the RNG is replayed from
/// the seed and checked against it), the settings that must not change, and the caller's own
/// record (best so far, log lines). Stored as a safetensors file.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Epochs completed.
    pub epoch: usize,
    pub step: u64,
    pub order: Vec<usize>,
    pub weights: HashMap<String, Tensor>,
    pub moments: HashMap<String, Tensor>,
    /// `settings` as text, threads left out (they do not change the run).
    pub settings: String,
    pub record: serde_json::Value,
}

/// The description stored in a checkpoint file.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointDescription {
    kind: String,
    epoch: usize,
    step: u64,
    order: Vec<usize>,
    settings: String,
    record: serde_json::Value,
}

const CHECKPOINT_KIND: &str = "energy-training-checkpoint";

fn settings_text(settings: &EnergyTraining) -> String {
    format!(
        "{:?}",
        EnergyTraining {
            threads: 0,
            ..settings.clone()
        }
    )
}

impl Checkpoint {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let description = CheckpointDescription {
            kind: CHECKPOINT_KIND.into(),
            epoch: self.epoch,
            step: self.step,
            order: self.order.clone(),
            settings: self.settings.clone(),
            record: self.record.clone(),
        };
        let tensors = self
            .weights
            .iter()
            .map(|(k, v)| (format!("weights/{k}"), v.clone()))
            .chain(
                self.moments
                    .iter()
                    .map(|(k, v)| (format!("optimiser/{k}"), v.clone())),
            )
            .collect();
        crate::model::file::serialize(
            serde_json::to_string(&description).expect("checkpoint description serialises"),
            &tensors,
        )
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::Model(format!("not an energy training checkpoint: {m}"));
        let text =
            crate::model::file::description(bytes)?.ok_or_else(|| bad("no description".into()))?;
        let d: CheckpointDescription =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if d.kind != CHECKPOINT_KIND {
            return Err(bad(format!("kind {:?}", d.kind)));
        }
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(crate::model::file::corrupt)?;
        let (mut weights, mut moments) = (HashMap::new(), HashMap::new());
        for (name, t) in tensors {
            if let Some(k) = name.strip_prefix("weights/") {
                weights.insert(k.to_string(), t);
            } else if let Some(k) = name.strip_prefix("optimiser/") {
                moments.insert(k.to_string(), t);
            } else {
                return Err(bad(format!("unexpected tensor {name}")));
            }
        }
        Ok(Checkpoint {
            epoch: d.epoch,
            step: d.step,
            order: d.order,
            weights,
            moments,
            settings: d.settings,
            record: d.record,
        })
    }
}

/// Trains for `settings.epochs` epochs, from the start or from `resume`, calling `report`
/// after each epoch with its figures and a checkpoint (whose tensors share storage with the
/// live ones: write it out inside `report`); returns the reports of the epochs run.
pub fn train(
    model: &Trainable,
    train: &[Prepared],
    validation: &[Prepared],
    settings: &EnergyTraining,
    resume: Option<&Checkpoint>,
    mut report: impl FnMut(&EpochReport, &Checkpoint),
) -> Result<Vec<EpochReport>> {
    let pool = second_order_pool(settings.threads)?;
    let params = AdamWParams {
        lr: settings.learning_rate,
        ..AdamWParams::default()
    };
    let vars = named_vars(&model.varmap);
    let mut optimiser = AdamW::new(vars.clone(), params).map_err(candle_error)?;
    let mut rng = Rng::new(settings.seed ^ 0x5eed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut first = 1;
    if let Some(c) = resume {
        let mismatch = |what: &str| {
            Error::InvalidInput(format!(
                "cannot resume: the checkpoint was written with other {what}"
            ))
        };
        if c.settings != settings_text(settings) {
            return Err(mismatch(&format!("settings ({})", c.settings)));
        }
        for _ in 0..c.epoch {
            rng.shuffle(&mut order);
        }
        if order != c.order {
            return Err(mismatch("training data"));
        }
        model.restore(&c.weights)?;
        optimiser
            .restore(&c.moments, c.step)
            .map_err(candle_error)?;
        first = c.epoch + 1;
    }
    let mut reports = Vec::new();
    for epoch in first..=settings.epochs {
        // Cosine decay to 5% of the initial rate.
        let progress = (epoch - 1) as f64 / settings.epochs.max(1) as f64;
        optimiser.params.lr = settings.learning_rate
            * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()));
        rng.shuffle(&mut order);
        let mut epoch_loss = 0.0;
        for batch in order.chunks(settings.batch_size.max(1)) {
            let (sum, grads) = pool
                .install(|| {
                    batch
                        .par_iter()
                        .map(|&k| {
                            let l =
                                (loss(&model.network, &train[k], settings)? / batch.len() as f64)?;
                            let value = l.to_scalar::<f64>()?;
                            Ok((value, l.backward()?))
                        })
                        .collect::<candle_core::Result<Vec<(f64, GradStore)>>>()
                })
                .and_then(|parts| parameter_gradients(&vars, parts))
                .map_err(candle_error)?;
            epoch_loss += sum * batch.len() as f64;
            optimiser.apply(&grads).map_err(candle_error)?;
        }
        let validation = pool.install(|| evaluate(&model.network, validation))?;
        let r = EpochReport {
            epoch,
            train_loss: epoch_loss / train.len() as f64,
            validation,
        };
        let checkpoint = Checkpoint {
            epoch,
            step: optimiser.step,
            order: order.clone(),
            weights: model.tensors(),
            moments: optimiser.state().into_iter().collect(),
            settings: settings_text(settings),
            record: serde_json::Value::Null,
        };
        report(&r, &checkpoint);
        reports.push(r);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{Lattice, Vec3};
    use crate::model::energy::EnergyMeta;
    use crate::model::Request;
    use crate::structure::Structure;

    fn config() -> EnergyConfig {
        EnergyConfig {
            cutoff: 3.0,
            width: 6,
            channels: 2,
            radial_basis: 3,
            tolerance: 1e-10,
            ..EnergyConfig::new(vec!["Li".into(), "O".into()])
        }
    }

    /// Labelled samples from a random "teacher" model: training a student must approach it.
    fn samples(n: usize) -> Vec<Sample> {
        let teacher = Trainable::new(&config(), &[-1.0, -3.0], 99)
            .unwrap()
            .to_model(EnergyMeta::new("teacher", config(), Default::default()))
            .unwrap();
        let mut rng = Rng::new(5);
        (0..n)
            .map(|k| {
                let mut u = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let a = 3.6 + 0.4 * u();
                let lattice =
                    Lattice::from_parameters([a, a + 0.2 * u(), a], [90.0, 90.0 + 8.0 * u(), 90.0])
                        .unwrap();
                let frac: Vec<Vec3> = [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]
                    .iter()
                    .map(|f| Vec3::new(f[0] + 0.05 * u(), f[1] + 0.05 * u(), f[2]))
                    .collect();
                let structure =
                    Structure::from_fractional(lattice, vec![3, 8], &frac, [true; 3]).unwrap();
                let r = teacher.compute(&structure, &Request::all()).unwrap();
                Sample {
                    id: format!("s{k}"),
                    stress: r.stress(structure.volume()),
                    forces: r.forces,
                    targets: vec![r.energy],
                    structure,
                }
            })
            .collect()
    }

    #[test]
    fn parameter_gradients_of_the_force_loss_match_finite_differences() {
        let c = config();
        let data = prepare(&samples(1), &c).unwrap();
        let model = Trainable::new(&c, &[-1.2, -2.5], 3).unwrap();
        let weights = EnergyTraining {
            energy_weight: 0.0,
            force_weight: 1.0,
            stress_weight: 1.0,
            ..EnergyTraining::default()
        };
        let pool = second_order_pool(1).unwrap();
        let vars = named_vars(&model.varmap);
        let var = &vars["interactions.0.filter.weight"];
        let (analytic, base) = pool.install(|| {
            let l = loss(&model.network, &data[0], &weights).unwrap();
            let g = l.backward().unwrap();
            (
                g.get(var.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap(),
                var.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap(),
            )
        });
        let h = 1e-6;
        for k in [0, 3, 7] {
            let at = |delta: f64| {
                let mut w = base.clone();
                w[k] += delta;
                var.set(&Tensor::from_vec(w, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                pool.install(|| {
                    loss(&model.network, &data[0], &weights)
                        .unwrap()
                        .to_scalar::<f64>()
                        .unwrap()
                })
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            at(0.0);
            assert!(
                (fd - analytic[k]).abs() < 1e-5 * (1.0 + fd.abs()),
                "weight {k}: {fd} vs {}",
                analytic[k]
            );
        }
    }

    #[test]
    fn training_reduces_the_loss() {
        let c = config();
        let samples = samples(6);
        let data = prepare(&samples, &c).unwrap();
        let model = Trainable::new(&c, &[-1.0, -3.0], 1).unwrap();
        let settings = EnergyTraining {
            epochs: 15,
            batch_size: 3,
            learning_rate: 5e-3,
            threads: 1,
            ..EnergyTraining::default()
        };
        let reports = train(&model, &data, &data, &settings, None, |_, _| {}).unwrap();
        let first = reports.first().unwrap().train_loss;
        let last = reports.last().unwrap().train_loss;
        assert!(last < 0.5 * first, "loss {first} -> {last}");
        assert!(reports.last().unwrap().validation.force_mae.is_some());
    }

    #[test]
    fn a_resumed_run_equals_an_uninterrupted_one() {
        let c = config();
        let data = prepare(&samples(5), &c).unwrap();
        let settings = EnergyTraining {
            epochs: 4,
            batch_size: 2,
            threads: 1,
            ..EnergyTraining::default()
        };
        let weights = |m: &Trainable| -> BTreeMap<String, Vec<f64>> {
            m.tensors()
                .iter()
                .map(|(k, t)| (k.clone(), t.flatten_all().unwrap().to_vec1().unwrap()))
                .collect()
        };
        // The uninterrupted run, keeping the checkpoint file's bytes after epoch 2.
        let model = Trainable::new(&c, &[-1.0, -3.0], 1).unwrap();
        let mut saved = None;
        let full = train(&model, &data, &data, &settings, None, |r, checkpoint| {
            if r.epoch == 2 {
                saved = Some(checkpoint.to_bytes().unwrap());
            }
        })
        .unwrap();
        // A fresh process (other initial weights) continuing from that file.
        let checkpoint = Checkpoint::from_bytes(&saved.unwrap()).unwrap();
        let resumed_model = Trainable::new(&c, &[0.0, 0.0], 7).unwrap();
        let resumed = train(
            &resumed_model,
            &data,
            &data,
            &settings,
            Some(&checkpoint),
            |_, _| {},
        )
        .unwrap();
        assert_eq!(resumed, full[2..]);
        assert_eq!(weights(&resumed_model), weights(&model));
        // Other settings or data are refused.
        let other = EnergyTraining {
            learning_rate: 1e-3,
            ..settings.clone()
        };
        let err = train(
            &resumed_model,
            &data,
            &data,
            &other,
            Some(&checkpoint),
            |_, _| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("other settings"), "{err}");
        let err = train(
            &resumed_model,
            &data[..4],
            &data,
            &settings,
            Some(&checkpoint),
            |_, _| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("other training data"), "{err}");
    }
}
