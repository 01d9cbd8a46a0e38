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

/// Key of the tensors' checksum in the safetensors `__metadata__`: `fnv1a64:` and 16 hex
/// digits of the FNV-1a hash of every tensor's name, dtype, shape and bytes, in name order.
/// Written by [`serialize`], verified by [`description`] (so by every reader).
pub const CHECKSUM_KEY: &str = "crystalpot.checksum";

/// The JSON description of a model file, `None` when it has none (a bare state dict). Verifies
/// the tensors against the checksum stored in the file first: a corrupt file is refused here,
/// before any model kind reads it; a file written before checksums existed loads with a
/// warning (printed once).
pub fn description(bytes: &[u8]) -> Result<Option<String>> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
    let metadata = header.metadata().as_ref();
    let text = metadata.and_then(|m| m.get(METADATA_KEY)).cloned();
    match metadata.and_then(|m| m.get(CHECKSUM_KEY)) {
        Some(stored) => {
            let actual = checksum(&SafeTensors::deserialize(bytes).map_err(corrupt)?);
            if *stored != actual {
                return Err(Error::Model(format!(
                    "the tensors do not match the checksum stored in the file ({stored}, the \
                     data gives {actual}): the file is corrupt (a changed or lost byte); use \
                     an intact copy"
                )));
            }
        }
        None if text.is_some() => crate::error::warn_once(
            "model without checksum",
            "a model file has no tensor checksum (written before crystalpot stored one), so \
             corruption cannot be detected; saving it again adds one",
        ),
        None => {}
    }
    Ok(text)
}

/// The description of model-file bytes as a model kind's metadata `T`, refused unless it says
/// `format_version` `version` and `kind` `kind`: one check and one message for every kind.
pub fn metadata<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    kind: &str,
    version: u32,
) -> Result<T> {
    /// The two fields every kind's metadata starts with.
    #[derive(serde::Deserialize)]
    struct Header {
        format_version: u32,
        kind: String,
    }
    let text = description(bytes)?.ok_or_else(|| {
        Error::Model(format!(
            "safetensors file without \"{METADATA_KEY}\" metadata"
        ))
    })?;
    let invalid =
        |e: serde_json::Error| Error::Model(format!("invalid {kind} model metadata: {e}"));
    let meta: T = serde_json::from_str(&text).map_err(invalid)?;
    let header: Header = serde_json::from_str(&text).map_err(invalid)?;
    if header.format_version != version || header.kind != kind {
        return Err(Error::Model(format!(
            "{kind} model file version {} of kind {:?}: this crystalpot reads version \
             {version} of kind \"{kind}\"",
            header.format_version, header.kind
        )));
    }
    Ok(meta)
}

/// FNV-1a (64 bit) of every tensor's name, dtype, shape and data, in name order: detects any
/// changed byte of the weights (not an adversary: it is a checksum, not a signature).
fn checksum(st: &SafeTensors) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    let mut tensors = st.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in &tensors {
        feed(name.as_bytes());
        feed(format!("{:?}", view.dtype()).as_bytes());
        for &d in view.shape() {
            feed(&(d as u64).to_le_bytes());
        }
        feed(view.data());
    }
    format!("fnv1a64:{hash:016x}")
}

/// Model-file bytes: `tensors` (sorted by name, so the bytes are reproducible), the
/// description and the tensors' checksum. Every safetensors model kind writes through here.
pub fn serialize(description: String, tensors: &HashMap<String, Tensor>) -> Result<Vec<u8>> {
    let info = HashMap::from([(METADATA_KEY.to_string(), description)]);
    let mut items: Vec<(&String, &Tensor)> = tensors.iter().collect();
    items.sort_by_key(|(name, _)| *name);
    let plain = safetensors::serialize(items, Some(info))
        .map_err(|e| Error::Model(format!("cannot serialise the model: {e}")))?;
    with_checksum(&plain)
}

/// The same model file with the checksum of its tensors added to its metadata (replacing any
/// stored one); the tensors' bytes are copied unchanged. Also re-saves old files.
pub fn with_checksum(bytes: &[u8]) -> Result<Vec<u8>> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
    let mut info = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(bytes).map_err(corrupt)?;
    info.insert(CHECKSUM_KEY.to_string(), checksum(&st));
    let mut tensors = st.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    safetensors::serialize(tensors.iter().map(|(n, v)| (n, v)), Some(info))
        .map_err(|e| Error::Model(format!("cannot serialise the model: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<std::path::PathBuf> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_shipped_model_carries_a_valid_checksum() {
        for path in shipped() {
            let bytes = std::fs::read(&path).unwrap();
            let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
            let meta = header.metadata().as_ref().unwrap();
            assert!(meta.contains_key(CHECKSUM_KEY), "{}", path.display());
            description(&bytes).unwrap();
            // The stored checksum is the one of these tensors, as re-saving computes it.
            let resaved = with_checksum(&bytes).unwrap();
            let (_, again) = SafeTensors::read_metadata(&resaved).unwrap();
            let again = again.metadata().as_ref().unwrap();
            assert_eq!(
                again[CHECKSUM_KEY],
                meta[CHECKSUM_KEY],
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn a_flipped_byte_in_the_weights_is_refused() {
        let path = shipped().into_iter().next().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x10;
        let err = description(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("do not match the checksum") && err.contains("corrupt"),
            "{err}"
        );
        let err = crate::Calculator::from_bytes(&bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("checksum"), "{err}");
    }

    #[test]
    fn a_file_without_a_checksum_still_loads() {
        let path = shipped()
            .into_iter()
            .find(|p| p.to_string_lossy().contains("linear-mlearn-Si"))
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let mut info = header.metadata().clone().unwrap();
        info.remove(CHECKSUM_KEY);
        let mut tensors = st.tensors();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let old = safetensors::serialize(tensors.iter().map(|(n, v)| (n, v)), Some(info)).unwrap();
        assert!(crate::Calculator::from_bytes(&old).is_ok());
    }
}
