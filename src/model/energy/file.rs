//! The energy model file: safetensors weights plus [`EnergyMeta`] JSON in the safetensors
//! `__metadata__` ([`crate::model::file`]).

use std::collections::HashMap;

use candle_core::safetensors::Load;
use candle_core::{Device, Tensor};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use super::config::EnergyConfig;
use crate::error::{Error, Result};
use crate::model::file::{self as model_file, corrupt};

/// Version of the energy model file layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Where a trained model came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub dataset: String,
    pub split: String,
    /// Validation metrics as reported by training (free-form JSON object).
    pub metrics: serde_json::Value,
    pub date: String,
    pub crystalpot_version: String,
}

/// The self-description of an energy model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyMeta {
    pub format_version: u32,
    /// Always `"energy"`.
    pub kind: String,
    pub name: String,
    pub config: EnergyConfig,
    pub provenance: Provenance,
}

impl EnergyMeta {
    pub fn new(name: &str, config: EnergyConfig, provenance: Provenance) -> Self {
        EnergyMeta {
            format_version: FORMAT_VERSION,
            kind: "energy".into(),
            name: name.into(),
            config,
            provenance,
        }
    }
}

/// Metadata and tensors of model-file bytes, checked for version, kind and finiteness.
pub fn read(bytes: &[u8]) -> Result<(EnergyMeta, HashMap<String, Tensor>)> {
    let meta: EnergyMeta = model_file::metadata(bytes, "energy", FORMAT_VERSION)?;
    let st = SafeTensors::deserialize(bytes).map_err(corrupt)?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        let tensor = view
            .load(&Device::Cpu)
            .map_err(|e| Error::Model(format!("tensor {name}: {e}")))?;
        let finite = tensor
            .to_dtype(candle_core::DType::F64)
            .and_then(|t| t.flatten_all()?.to_vec1::<f64>())
            .map_err(|e| Error::Model(format!("tensor {name}: {e}")))?
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return Err(Error::Model(format!(
                "tensor {name} contains NaN or infinite values"
            )));
        }
        tensors.insert(name, tensor);
    }
    Ok((meta, tensors))
}

/// Serialises a model.
pub fn write(meta: &EnergyMeta, tensors: &HashMap<String, Tensor>) -> Result<Vec<u8>> {
    meta.config.validate()?;
    model_file::serialize(
        serde_json::to_string(meta).expect("metadata serialises"),
        tensors,
    )
}
