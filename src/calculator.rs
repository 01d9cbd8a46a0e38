//! The single entry point that front ends (CLI, C ABI, and through it Python and LAMMPS) call:
//! load any model file, describe it, compute a structure. Front ends never reach into a model
//! kind directly, so a new kind only has to be added here.

use std::path::Path;

use serde::Serialize;

use crate::cell::{Mat3, Vec3};
use crate::elements;
use crate::error::{Error, Result};
use crate::model::delta::DeltaModel;
use crate::model::energy::EnergyModel;
use crate::model::file::{description, looks_like_safetensors};
use crate::model::linear::LinearModel;
use crate::model::local::{LocalModel, RankOneLongRange};
use crate::model::physics::PhysicsModel;
use crate::model::potnet::PotnetModel;
use crate::model::{Partition, Request, Results};
use crate::structure::Structure;

/// Every kind of model crystalpot can load.
#[derive(Clone, Debug)]
pub enum Model {
    /// Rigid-ion Coulomb + Buckingham (JSON model file).
    Physics(PhysicsModel),
    /// PotNet property predictor (safetensors model file). It has no energy: see
    /// [`Calculator::compute`].
    Potnet(Box<PotnetModel>),
    /// Energy model for simulation (safetensors model file of kind "energy").
    Energy(std::sync::Arc<EnergyModel>),
    /// Linear (atomic cluster expansion) energy model with complete long-range sums
    /// (safetensors model file of kind "linear").
    Linear(std::sync::Arc<LinearModel>),
    /// Linear baseline plus an energy-model correction fitted to its residual (safetensors
    /// model file of kind "delta").
    Delta(std::sync::Arc<DeltaModel>),
}

/// A target a model predicts, as described by [`ModelInfo`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetInfo {
    pub name: String,
    pub unit: String,
    /// Whether the value grows with the number of atoms (a total energy) or not (eV/atom).
    pub extensive: bool,
}

/// What a model is and what it can compute: the JSON the C ABI's `model_info` returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelInfo {
    /// `"rigid-ion"`, `"potnet"`, …
    pub kind: String,
    pub name: String,
    /// Whether the model gives an energy with forces and virial (usable for simulation).
    pub energy: bool,
    /// Properties the model predicts besides the energy.
    pub targets: Vec<TargetInfo>,
    /// Element symbols the model accepts.
    pub elements: Vec<String>,
    /// Range of the local (short-range) interactions in Å, if the model has one.
    pub cutoff: Option<f64>,
    /// Validation errors recorded in the model file when it was made (keys as its fit or
    /// training wrote them, e.g. `energy_mae_mev_per_atom`, `force_mae`, `mae`), if any.
    pub validation: Option<serde_json::Value>,
    /// What a user should know when loading the model, if anything: for PotNet models with
    /// the published inputs, that predictions depend on how the crystal is written.
    pub note: Option<String>,
}

/// A loaded model, ready to compute structures. Immutable after loading, so one calculator
/// may be shared by several threads.
#[derive(Clone, Debug)]
pub struct Calculator {
    model: Model,
}

impl Calculator {
    pub fn new(model: Model) -> Self {
        Calculator { model }
    }

    /// Loads a model file of any kind, recognised by its content.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            Error::Model(m) => Error::Model(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Loads a model from the bytes of a model file: a physics model is JSON text, a PotNet
    /// model a safetensors file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if looks_like_safetensors(bytes) {
            match declared_kind(bytes).as_deref() {
                Some("energy") => {
                    return Ok(Self::new(Model::Energy(std::sync::Arc::new(
                        EnergyModel::from_bytes(bytes)?,
                    ))))
                }
                Some(crate::model::linear::file::KIND) => {
                    return Ok(Self::new(Model::Linear(std::sync::Arc::new(
                        crate::model::linear::file::read(bytes)?,
                    ))))
                }
                Some(crate::model::delta::KIND) => {
                    return Ok(Self::new(Model::Delta(std::sync::Arc::new(
                        crate::model::delta::read(bytes)?,
                    ))))
                }
                _ => {}
            }
            return Ok(Self::new(Model::Potnet(Box::new(PotnetModel::from_bytes(
                bytes,
            )?))));
        }
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'{') {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::Model("model file is not valid UTF-8 JSON".into()))?;
            return Ok(Self::new(Model::Physics(PhysicsModel::from_json(text)?)));
        }
        Err(Error::Model(
            "not a crystalpot model file (expected a JSON physics model or a safetensors model)"
                .into(),
        ))
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Describes the model.
    pub fn info(&self) -> ModelInfo {
        match &self.model {
            Model::Physics(m) => ModelInfo {
                kind: "rigid-ion".into(),
                name: m.name.clone(),
                energy: true,
                targets: Vec::new(),
                elements: symbols(&m.elements()),
                cutoff: None,
                validation: None,
                note: None,
            },
            Model::Potnet(m) => {
                let meta = m.meta();
                ModelInfo {
                    kind: "potnet".into(),
                    name: meta.name.clone(),
                    energy: false,
                    targets: meta
                        .targets
                        .iter()
                        .map(|t| TargetInfo {
                            name: t.name.clone(),
                            unit: t.unit.clone(),
                            extensive: t.extensive,
                        })
                        .collect(),
                    elements: meta.elements.clone(),
                    cutoff: Some(meta.graph.cutoff),
                    validation: meta
                        .provenance
                        .metrics
                        .as_ref()
                        .and_then(validation_metrics),
                    note: meta.invariance_note(),
                }
            }
            Model::Energy(m) => ModelInfo {
                kind: "energy".into(),
                name: m.meta.name.clone(),
                energy: true,
                targets: Vec::new(),
                elements: symbols(m.elements()),
                cutoff: Some(m.config().cutoff),
                validation: validation_metrics(&m.meta.provenance.metrics),
                note: None,
            },
            Model::Linear(m) => ModelInfo {
                kind: "linear".into(),
                name: m.meta.name.clone(),
                energy: true,
                targets: Vec::new(),
                elements: symbols(m.featurizer().elements()),
                cutoff: Some(m.config().cutoff),
                validation: validation_metrics(&m.meta.provenance.metrics),
                note: None,
            },
            Model::Delta(m) => ModelInfo {
                kind: crate::model::delta::KIND.into(),
                name: m.meta.name.clone(),
                energy: true,
                targets: Vec::new(),
                elements: symbols(m.elements()),
                cutoff: Some(m.cutoff()),
                validation: validation_metrics(&m.meta.provenance.metrics),
                note: None,
            },
        }
    }

    /// The model's short-range part in neighbour-list form, if it has one: what an engine that
    /// owns the neighbour search (LAMMPS's domain decomposition) evaluates centre by centre.
    pub fn local_model(&self) -> Option<&dyn LocalModel> {
        match &self.model {
            Model::Physics(m) => Some(m),
            Model::Linear(m) => Some(m.as_ref()),
            Model::Potnet(_) | Model::Energy(_) | Model::Delta(_) => None,
        }
    }

    /// The model's local part as pair terms, with its dispersion amplitudes, if it is a pair
    /// model with a rank-1 long range: what [`crate::model::pair_kernel::PairKernel`]
    /// evaluates on an engine's half neighbour list.
    pub fn pair_model(
        &self,
    ) -> Option<(
        &crate::model::physics_local::ShortRangeTable,
        RankOneLongRange,
    )> {
        match &self.model {
            Model::Physics(m) => Some((&m.short_range, m.rank_one_long_range()?)),
            Model::Linear(_) | Model::Potnet(_) | Model::Energy(_) | Model::Delta(_) => None,
        }
    }

    /// The model's long range in the rank-1 form an Ewald-type solver (LAMMPS's kspace styles)
    /// evaluates; with [`Self::local_model`] it is the whole model. `Some` with no charges and
    /// no dispersion: the model has no long range. `None`: its long range is not of that form
    /// (or it has no local form), so it must be evaluated on the whole structure.
    pub fn rank_one_long_range(&self) -> Option<RankOneLongRange> {
        match &self.model {
            Model::Physics(m) => m.rank_one_long_range(),
            Model::Linear(m) => Some(m.rank_one_long_range()),
            Model::Potnet(_) | Model::Energy(_) | Model::Delta(_) => None,
        }
    }

    /// Computes what `request` asks for. A model without energy (`info().energy == false`,
    /// PotNet) computes properties only: asking it for energies, forces or a virial is an
    /// error, and the energy fields of its results stay 0.
    /// A partitioned request (`request.partition`) is split by the physics model; the energy
    /// model has no split and computes everything in share 0, zeros in the others; properties
    /// do not split.
    /// Every front end gets the same two checks here: atoms closer than
    /// `request.min_distance` are refused naming the pair, and a result with a non-finite
    /// number is an error, never a success.
    pub fn compute(&self, structure: &Structure, request: &Request) -> Result<Results> {
        if request.properties && !request.partition.is_whole() {
            return Err(Error::InvalidInput(
                "predicted properties do not split into shares: request them unpartitioned".into(),
            ));
        }
        crate::neighbors::check_min_distance(structure, request.min_distance)?;
        let results = match &self.model {
            Model::Physics(m) => m.compute(structure, request),
            Model::Potnet(m) => {
                if request.forces
                    || request.virial
                    || request.per_atom_energies
                    || request.energy_atoms.is_some()
                    || !request.properties
                {
                    return Err(Error::InvalidInput(format!(
                        "model {:?} is a PotNet property model: it predicts {} but no energy, \
                         forces or stress; request properties only",
                        m.meta().name,
                        m.meta()
                            .targets
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                let properties = m.predict(std::slice::from_ref(structure))?;
                Ok(Results {
                    properties: properties.into_iter().next(),
                    ..Results::default()
                })
            }
            Model::Energy(m) => unsplit(structure, request, |r| m.compute(structure, r)),
            Model::Linear(m) => m.compute(structure, request),
            Model::Delta(m) => unsplit(structure, request, |r| m.compute(structure, r)),
        }?;
        results.check_finite()?;
        Ok(results)
    }
}

/// Runs a model without a split of the work: everything in share 0, zeros in the others (so
/// the shares still add up to the whole result).
fn unsplit(
    structure: &Structure,
    request: &Request,
    compute: impl FnOnce(&Request) -> Result<Results>,
) -> Result<Results> {
    if request.partition.is_first() {
        return compute(&Request {
            partition: Partition::WHOLE,
            ..request.clone()
        });
    }
    let n = structure.len();
    Ok(Results {
        per_atom_energies: request.per_atom_energies.then(|| vec![0.0; n]),
        forces: request.forces.then(|| vec![Vec3::zeros(); n]),
        virial: request.virial.then(Mat3::zeros),
        ..Results::default()
    })
}

/// The `kind` a safetensors model file's metadata declares (`"energy"`, `"linear"`);
/// PotNet files declare a `format` instead.
fn declared_kind(bytes: &[u8]) -> Option<String> {
    description(bytes)
        .ok()
        .flatten()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|meta| meta.get("kind")?.as_str().map(str::to_string))
}

/// The validation part of a model's recorded metrics: fits and PotNet training store it under
/// `"validation"` beside train figures, the energy network's training stores it bare.
fn validation_metrics(metrics: &serde_json::Value) -> Option<serde_json::Value> {
    let object = metrics.as_object().filter(|o| !o.is_empty())?;
    Some(object.get("validation").unwrap_or(metrics).clone())
}

fn symbols(numbers: &[u8]) -> Vec<String> {
    numbers
        .iter()
        .map(|&z| elements::symbol(z).unwrap_or("?").to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NACL: &str = r#"{"kind": "rigid-ion", "name": "nacl", "charges": {"Na": 1, "Cl": -1}}"#;

    #[test]
    fn recognises_a_physics_model_and_describes_it() {
        let calc = Calculator::from_bytes(NACL.as_bytes()).unwrap();
        let info = calc.info();
        assert_eq!(info.kind, "rigid-ion");
        assert_eq!(info.name, "nacl");
        assert!(info.energy);
        assert_eq!(info.elements, vec!["Na", "Cl"]);
    }

    #[test]
    fn rejects_bytes_that_are_no_model() {
        let err = Calculator::from_bytes(b"\x00\x01garbage").unwrap_err();
        assert!(
            err.to_string().contains("not a crystalpot model file"),
            "{err}"
        );
        let err = Calculator::from_bytes(b"{ truncated").unwrap_err();
        assert!(err.to_string().contains("physics model"), "{err}");
    }

    #[test]
    fn computes_through_the_model() {
        let calc = Calculator::from_bytes(NACL.as_bytes()).unwrap();
        let s = crate::structure::tests::rocksalt(5.64);
        let r = calc.compute(&s, &Request::all()).unwrap();
        // Madelung energy per ion pair: -M k_e / r0 with r0 = a/2.
        let expected = -4.0 * 1.747564594633182 * 14.39964547842567 / 2.82;
        assert!(
            (r.energy - expected).abs() < 1e-8 * expected.abs(),
            "{}",
            r.energy
        );
    }
}
