//! Delta learning: a linear baseline ([`LinearModel`]) plus a message-passing correction
//! ([`EnergyModel`]) trained on the baseline's residual, as one model whose energy, per-atom
//! energies, forces and virial are the sums of the two.
//!
//! The file is a safetensors file of kind `"delta"` whose two `u8` tensors `baseline` and
//! `correction` hold the two complete model files, bytes unchanged: each keeps its own
//! description and checksum (verified when it is read), and the outer checksum covers both,
//! so neither model's format is restated here.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::energy::file::Provenance;
use crate::model::energy::EnergyModel;
use crate::model::file::{self as model_file, corrupt};
use crate::model::linear::LinearModel;
use crate::model::{Request, Results};
use crate::structure::Structure;

pub const FORMAT_VERSION: u32 = 1;
pub const KIND: &str = "delta";

/// The self-description of a delta model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeltaMeta {
    pub format_version: u32,
    /// Always `"delta"`.
    pub kind: String,
    pub name: String,
    pub provenance: Provenance,
}

/// A linear baseline plus a network correction.
#[derive(Debug)]
pub struct DeltaModel {
    pub meta: DeltaMeta,
    pub baseline: LinearModel,
    pub correction: EnergyModel,
}

impl DeltaModel {
    /// Combines two models after checking that they describe the same elements.
    pub fn new(meta: DeltaMeta, baseline: LinearModel, correction: EnergyModel) -> Result<Self> {
        if baseline.featurizer().elements() != correction.elements() {
            return Err(Error::Model(format!(
                "delta model: the baseline's elements {:?} differ from the correction's {:?}",
                baseline.featurizer().elements(),
                correction.elements()
            )));
        }
        Ok(DeltaModel {
            meta,
            baseline,
            correction,
        })
    }

    pub fn elements(&self) -> &[u8] {
        self.correction.elements()
    }

    /// The larger of the two cutoffs: the range of the local interactions.
    pub fn cutoff(&self) -> f64 {
        self.baseline
            .config()
            .cutoff
            .max(self.correction.config().cutoff)
    }

    /// The sum of both models' results; the energy's standard deviation is the baseline's
    /// committee spread (the correction has none).
    pub fn compute(&self, structure: &Structure, request: &Request) -> Result<Results> {
        let base = self.baseline.compute(structure, request)?;
        let correction = self.correction.compute(
            structure,
            &Request {
                uncertainty: false,
                ..request.clone()
            },
        )?;
        let mut warnings = base.warnings;
        warnings.extend(correction.warnings);
        Ok(Results {
            energy: base.energy + correction.energy,
            energy_error_bound: base.energy_error_bound + correction.energy_error_bound,
            energy_std: base.energy_std,
            per_atom_energies: add_vectors(base.per_atom_energies, correction.per_atom_energies),
            forces: add_vectors(base.forces, correction.forces),
            virial: match (base.virial, correction.virial) {
                (Some(a), Some(b)) => Some(a + b),
                (a, _) => a,
            },
            properties: None,
            warnings,
        })
    }
}

/// Element-wise sums of two optional per-atom arrays (the first when the second is absent).
fn add_vectors<T: Copy + std::ops::Add<Output = T>>(
    a: Option<Vec<T>>,
    b: Option<Vec<T>>,
) -> Option<Vec<T>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.iter().zip(&b).map(|(&x, &y)| x + y).collect()),
        (a, _) => a,
    }
}

/// Model-file bytes from the two models' file bytes (checked by reading them).
pub fn write(meta: &DeltaMeta, baseline: &[u8], correction: &[u8]) -> Result<Vec<u8>> {
    DeltaModel::new(
        meta.clone(),
        crate::model::linear::file::read(baseline)?,
        EnergyModel::from_bytes(correction)?,
    )?;
    let tensor = |bytes: &[u8]| {
        Tensor::from_vec(bytes.to_vec(), bytes.len(), &Device::Cpu)
            .map_err(|e| Error::Model(format!("delta model: {e}")))
    };
    let tensors = HashMap::from([
        ("baseline".to_string(), tensor(baseline)?),
        ("correction".to_string(), tensor(correction)?),
    ]);
    model_file::serialize(
        serde_json::to_string(meta).expect("metadata serialises"),
        &tensors,
    )
}

/// Reads a model file's bytes.
pub fn read(bytes: &[u8]) -> Result<DeltaModel> {
    let meta: DeltaMeta = model_file::metadata(bytes, KIND, FORMAT_VERSION)?;
    let st = SafeTensors::deserialize(bytes).map_err(corrupt)?;
    let part = |name: &str| -> Result<Vec<u8>> {
        let view = st
            .tensor(name)
            .map_err(|_| Error::Model(format!("delta model file has no tensor {name}")))?;
        if view.dtype() != safetensors::Dtype::U8 {
            return Err(Error::Model(format!(
                "delta model tensor {name} is {:?}, not the u8 bytes of a model file",
                view.dtype()
            )));
        }
        Ok(view.data().to_vec())
    };
    let baseline = crate::model::linear::file::read(&part("baseline")?)
        .map_err(|e| Error::Model(format!("delta model baseline: {e}")))?;
    let correction = EnergyModel::from_bytes(&part("correction")?)
        .map_err(|e| Error::Model(format!("delta model correction: {e}")))?;
    DeltaModel::new(meta, baseline, correction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::energy::EnergyConfig;
    use crate::model::energy::EnergyMeta;
    use crate::model::linear::tests::{random_model, rattled_pair_crystal};
    use crate::train::energy::Trainable;

    fn meta() -> DeltaMeta {
        DeltaMeta {
            format_version: FORMAT_VERSION,
            kind: KIND.into(),
            name: "delta test".into(),
            provenance: Provenance::default(),
        }
    }

    /// The bytes of a seeded, untrained energy model of `elements`.
    fn network_bytes(elements: &[&str]) -> Vec<u8> {
        let config = EnergyConfig {
            width: 8,
            ..EnergyConfig::new(elements.iter().map(|e| e.to_string()).collect())
        };
        let reference = vec![-0.3; elements.len()];
        let net = Trainable::new(&config, &reference, 5).unwrap();
        let meta = EnergyMeta::new("correction", config, Provenance::default());
        crate::model::energy::file::write(&meta, &net.tensors()).unwrap()
    }

    #[test]
    fn the_file_computes_the_sum_of_baseline_and_correction() {
        let linear = random_model(&["Na", "Cl"], 3);
        let base_bytes = crate::model::linear::file::write(&linear).unwrap();
        let net_bytes = network_bytes(&["Na", "Cl"]);
        let bytes = write(&meta(), &base_bytes, &net_bytes).unwrap();
        let calc = crate::Calculator::from_bytes(&bytes).unwrap();
        assert_eq!(calc.info().kind, "delta");
        let s = rattled_pair_crystal(7);
        let request = Request {
            uncertainty: true,
            ..Request::all()
        };
        let sum = calc.compute(&s, &request).unwrap();
        let a = linear.compute(&s, &request).unwrap();
        let b = EnergyModel::from_bytes(&net_bytes)
            .unwrap()
            .compute(&s, &request)
            .unwrap();
        assert!(
            b.energy.abs() > 1e-3,
            "the correction must matter: {}",
            b.energy
        );
        assert!((sum.energy - a.energy - b.energy).abs() < 1e-9);
        assert_eq!(sum.energy_std, a.energy_std);
        let (fs, fa, fb) = (sum.forces.unwrap(), a.forces.unwrap(), b.forces.unwrap());
        for k in 0..s.len() {
            assert!((fs[k] - fa[k] - fb[k]).norm() < 1e-9);
        }
        let per_atom: f64 = sum.per_atom_energies.unwrap().iter().sum();
        assert!((per_atom - sum.energy).abs() < 1e-9);
        assert!((sum.virial.unwrap() - a.virial.unwrap() - b.virial.unwrap()).norm() < 1e-9);
        // The forces are the derivative of the summed energy (central difference).
        let h = 1e-5;
        let moved = |d: f64| {
            let mut p = s.positions().to_vec();
            p[2][1] += d;
            let m = Structure::new(*s.lattice(), s.numbers().to_vec(), p, [true; 3]).unwrap();
            calc.compute(&m, &Request::default()).unwrap().energy
        };
        let fd = -(moved(h) - moved(-h)) / (2.0 * h);
        assert!(
            (fd - fs[2][1]).abs() < 1e-5 * (1.0 + fd.abs()),
            "{fd} vs {}",
            fs[2][1]
        );
    }

    #[test]
    fn mismatched_or_damaged_parts_are_clear_errors() {
        let base = crate::model::linear::file::write(&random_model(&["Na", "Cl"], 3)).unwrap();
        let err = write(&meta(), &base, &network_bytes(&["Si"])).unwrap_err();
        assert!(err.to_string().contains("differ"), "{err}");
        let err = write(&meta(), &network_bytes(&["Na", "Cl"]), &base).unwrap_err();
        assert!(err.to_string().contains("linear"), "{err}");
        let tensors = HashMap::from([(
            "baseline".to_string(),
            Tensor::new(&[1.0f64, 2.0], &Device::Cpu).unwrap(),
        )]);
        let text = serde_json::to_string(&meta()).unwrap();
        let err = read(&model_file::serialize(text, &tensors).unwrap()).unwrap_err();
        assert!(err.to_string().contains("not the u8 bytes"), "{err}");
    }
}
