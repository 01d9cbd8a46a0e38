//! The linear model file: a safetensors file of f64 tensors (`reference_energies` [n],
//! `weights` [n, K], `committee` [M, n, K + 1] (deviations of the invariants' weights, then of E⁰), `charges` [n], `dispersion` [n]) with a
//! [`LinearMeta`] description of kind `"linear"`.

use std::collections::HashMap;

use candle_core::safetensors::Load;
use candle_core::{DType, Device, Tensor};
use safetensors::SafeTensors;

use super::{LinearMeta, LinearModel, LinearParameters};
use crate::error::{Error, Result};
use crate::model::file::{self as model_file, corrupt};

pub const FORMAT_VERSION: u32 = 1;
pub const KIND: &str = "linear";

fn tensor_error(name: &str, e: impl std::fmt::Display) -> Error {
    Error::Model(format!("linear model tensor {name}: {e}"))
}

/// Model-file bytes.
pub fn write(model: &LinearModel) -> Result<Vec<u8>> {
    let p = &model.parameters;
    let n = p.weights.len();
    let k = p.weights.first().map_or(0, Vec::len);
    let m = p.committee.len();
    let make = |name: &str, data: Vec<f64>, shape: &[usize]| -> Result<(String, Tensor)> {
        Tensor::from_vec(data, shape, &Device::Cpu)
            .map(|t| (name.to_string(), t))
            .map_err(|e| tensor_error(name, e))
    };
    let tensors: HashMap<String, Tensor> = [
        make("reference_energies", p.reference_energies.clone(), &[n])?,
        make("weights", p.weights.concat(), &[n, k])?,
        make(
            "committee",
            p.committee.iter().flat_map(|c| c.concat()).collect(),
            &[m, n, k + 1],
        )?,
        make("charges", p.charges.clone(), &[n])?,
        make("dispersion", p.dispersion.clone(), &[n])?,
    ]
    .into_iter()
    .collect();
    model_file::serialize(
        serde_json::to_string(&model.meta).expect("metadata serialises"),
        &tensors,
    )
}

/// Reads a model file's bytes.
pub fn read(bytes: &[u8]) -> Result<LinearModel> {
    let meta: LinearMeta = model_file::metadata(bytes, KIND, FORMAT_VERSION)?;
    let st = SafeTensors::deserialize(bytes).map_err(corrupt)?;
    let load = |name: &str| -> Result<(Vec<usize>, Vec<f64>)> {
        let view = st
            .tensor(name)
            .map_err(|_| Error::Model(format!("linear model file has no tensor {name}")))?;
        let t = view
            .load(&Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F64))
            .map_err(|e| tensor_error(name, e))?;
        let shape = t.dims().to_vec();
        let data = t
            .flatten_all()
            .and_then(|t| t.to_vec1::<f64>())
            .map_err(|e| tensor_error(name, e))?;
        Ok((shape, data))
    };
    let (_, reference_energies) = load("reference_energies")?;
    let (ws, w) = load("weights")?;
    let (cs, c) = load("committee")?;
    let (_, charges) = load("charges")?;
    let (_, dispersion) = load("dispersion")?;
    if ws.len() != 2 || cs.len() != 3 || cs[1] != ws[0] || cs[2] != ws[1] + 1 {
        return Err(Error::Model(format!(
            "linear model tensors of shapes weights {ws:?}, committee {cs:?} do not match"
        )));
    }
    let k = ws[1].max(1);
    let rows = |data: &[f64], len: usize| -> Vec<Vec<f64>> {
        data.chunks(len).map(<[f64]>::to_vec).collect()
    };
    let weights = rows(&w, k);
    let committee = c
        .chunks((k + 1) * ws[0].max(1))
        .map(|member| rows(member, k + 1))
        .take(cs[0])
        .collect();
    LinearModel::new(
        meta,
        LinearParameters {
            reference_energies,
            weights,
            committee,
            charges,
            dispersion,
        },
    )
}
