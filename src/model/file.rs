//! The layout every crystalpot safetensors model file shares: named tensors plus one JSON
//! description under the [`METADATA_KEY`] of the safetensors `__metadata__`. Each model kind
//! defines its description; this module reads and writes the container.

use std::collections::HashMap;

use candle_core::Tensor;
use safetensors::SafeTensors;

use crate::error::{Error, Result};

/// Key of the model description in the safetensors `__metadata__`.
pub const METADATA_KEY: &str = "crystalpot";

/// The error for bytes that are no readable safetensors file.
pub fn corrupt(e: impl std::fmt::Display) -> Error {
    Error::Model(format!(
        "not a readable safetensors file (truncated or corrupt?): {e}"
    ))
}

/// Whether `bytes` look like a safetensors file: an 8-byte little-endian header length that
/// fits the buffer, followed by a JSON object.
pub fn looks_like_safetensors(bytes: &[u8]) -> bool {
    let Some(head) = bytes.get(..8) else {
        return false;
    };
    let n = u64::from_le_bytes(head.try_into().expect("8 bytes"));
    bytes.get(8) == Some(&b'{') && n <= (bytes.len() - 8) as u64
}

/// The JSON description of a model file, `None` when it has none (a bare state dict).
pub fn description(bytes: &[u8]) -> Result<Option<String>> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
    Ok(header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY))
        .cloned())
}

/// Model-file bytes: `tensors` (sorted by name, so the bytes are reproducible) and the
/// description.
pub fn serialize(description: String, tensors: &HashMap<String, Tensor>) -> Result<Vec<u8>> {
    let info = HashMap::from([(METADATA_KEY.to_string(), description)]);
    let mut items: Vec<(&String, &Tensor)> = tensors.iter().collect();
    items.sort_by_key(|(name, _)| *name);
    safetensors::serialize(items, Some(info))
        .map_err(|e| Error::Model(format!("cannot serialise the model: {e}")))
}
