//! The PotNet model file: one safetensors file whose tensors are the original PyTorch
//! `state_dict` (same names, shapes and dtypes) and whose `__metadata__` holds the
//! [`ModelMeta`] JSON under [`METADATA_KEY`]. Reading checks everything before use and names
//! what is wrong.

use std::collections::HashMap;

use candle_core::safetensors::Load;
use candle_core::{Device, Tensor};
use safetensors::{Dtype, SafeTensors};

use super::config::{Architecture, ModelMeta};
use crate::error::{Error, Result};
use crate::model::file::{self as model_file, corrupt, METADATA_KEY};

/// A tensor the architecture requires: name, shape, and whether it is a PyTorch
/// `num_batches_tracked` counter (0-dim int64, optional: training state, unused in eval).
struct Expected {
    name: String,
    shape: Vec<usize>,
    counter: bool,
}

/// Every tensor of the original `state_dict` for `arch`, in state_dict order.
fn expected_tensors(arch: &Architecture) -> Vec<Expected> {
    let f = arch.fc_features;
    let mut out = Vec::new();
    let mut add = |name: String, shape: Vec<usize>| {
        out.push(Expected {
            counter: name.ends_with("num_batches_tracked"),
            name,
            shape,
        })
    };
    let linear = |add: &mut dyn FnMut(String, Vec<usize>), p: &str, i: usize, o: usize| {
        add(format!("{p}.weight"), vec![o, i]);
        add(format!("{p}.bias"), vec![o]);
    };
    let bn = |add: &mut dyn FnMut(String, Vec<usize>), p: &str| {
        for t in ["weight", "bias", "running_mean", "running_var"] {
            add(format!("{p}.{t}"), vec![f]);
        }
        add(format!("{p}.num_batches_tracked"), vec![]);
    };
    linear(&mut add, "atom_embedding", arch.atom_input_features, f);
    add("edge_embedding.0.centers".into(), vec![f]);
    linear(&mut add, "edge_embedding.1", f, f);
    add(
        "inf_edge_embedding.centers".into(),
        vec![arch.inf_edge_features],
    );
    linear(&mut add, "infinite_linear", arch.inf_edge_features, f);
    bn(&mut add, "infinite_bn");
    for k in 0..arch.conv_layers {
        let p = format!("conv_layers.{k}");
        bn(&mut add, &format!("{p}.bn"));
        bn(&mut add, &format!("{p}.bn_interaction"));
        for mlp in ["nonlinear_full", "nonlinear"] {
            linear(&mut add, &format!("{p}.{mlp}.0"), 3 * f, f);
            linear(&mut add, &format!("{p}.{mlp}.2"), f, f);
        }
    }
    linear(&mut add, "fc.0", f, arch.output_dim);
    linear(&mut add, "fc_out", arch.output_dim, arch.output_features);
    out
}

/// The tensors of a safetensors buffer checked against `arch`: every required tensor present
/// with its shape, f32 (int64 for the counters), finite, nothing unexpected.
pub fn read_state_dict(bytes: &[u8], arch: &Architecture) -> Result<HashMap<String, Tensor>> {
    let st = SafeTensors::deserialize(bytes).map_err(corrupt)?;
    let expected = expected_tensors(arch);
    let mut names: Vec<&str> = st.names();
    names.sort_unstable();
    let unexpected: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !expected.iter().any(|e| e.name == *n))
        .collect();
    if !unexpected.is_empty() {
        return Err(Error::Model(format!(
            "unexpected tensors {unexpected:?}: not part of a PotNet with {arch:?} \
             (euclidean, charge_map and transformer variants are not supported)"
        )));
    }
    let mut out = HashMap::new();
    for e in &expected {
        let view = match st.tensor(&e.name) {
            Ok(v) => v,
            Err(_) if e.counter => continue,
            Err(_) => return Err(Error::Model(format!("missing tensor {}", e.name))),
        };
        if view.shape() != e.shape.as_slice() {
            return Err(Error::Model(format!(
                "tensor {} has shape {:?}, the architecture needs {:?}",
                e.name,
                view.shape(),
                e.shape
            )));
        }
        let dtype = if e.counter { Dtype::I64 } else { Dtype::F32 };
        if view.dtype() != dtype {
            return Err(Error::Model(format!(
                "tensor {} has dtype {:?}, expected {dtype:?}",
                e.name,
                view.dtype()
            )));
        }
        let tensor = view
            .load(&Device::Cpu)
            .map_err(|err| Error::Model(format!("tensor {}: {err}", e.name)))?;
        if !e.counter {
            let values = tensor
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|err| Error::Model(format!("tensor {}: {err}", e.name)))?;
            if values.iter().any(|v| !v.is_finite()) {
                return Err(Error::Model(format!(
                    "tensor {} contains NaN or infinite values",
                    e.name
                )));
            }
        }
        out.insert(e.name.clone(), tensor);
    }
    Ok(out)
}

/// The metadata of a model file, without reading its tensors.
pub fn read_meta(bytes: &[u8]) -> Result<ModelMeta> {
    let text = model_file::description(bytes)?.ok_or_else(|| {
        Error::Model(format!(
            "safetensors file without \"{METADATA_KEY}\" metadata: a bare PyTorch state \
             dict? turn it into a model file with `crystalpot import-potnet`"
        ))
    })?;
    ModelMeta::from_json(&text)
}

/// Serialises `tensors` with `meta` into model-file bytes.
pub fn write(meta: &ModelMeta, tensors: &HashMap<String, Tensor>) -> Result<Vec<u8>> {
    meta.validate()?;
    model_file::serialize(meta.to_json(), tensors)
}
