//! Network inputs (graph and lattice sums) computed once per structure and kept on disk.
//!
//! Each input is keyed by a 64-bit FNV-1a hash of the structure (lattice, numbers and
//! positions, bit for bit) and of the settings that shape it (graph, lattice-sum mode,
//! potential weights). One cache file per settings hash holds any number of entries; a run
//! computes only the structures it does not find (in parallel) and rewrites the file
//! atomically. Entries are plain little-endian binary: f32 values come back bit-identical.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::potnet::config::ModelMeta;
use crate::model::potnet::features::CrystalInput;
use crate::structure::Structure;
use crate::train::write_atomically;

/// First bytes of a cache file (with the layout version).
const MAGIC: &[u8; 8] = b"cpotin01";

/// 64-bit FNV-1a: stable across Rust versions and platforms, unlike `DefaultHasher`.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(mut self, data: &[u8]) -> Self {
        for &b in data {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    fn f64(self, x: f64) -> Self {
        self.bytes(&x.to_le_bytes())
    }
}

/// Hash of everything in the metadata that changes the inputs.
fn settings_hash(meta: &ModelMeta) -> u64 {
    let settings = serde_json::json!({
        "graph": meta.graph,
        "lattice_sums": meta.lattice_sums,
        "potentials": meta.architecture.potentials,
    });
    Fnv::new().bytes(settings.to_string().as_bytes()).0
}

/// Key of one structure under the given settings.
pub fn structure_key(structure: &Structure, settings: u64) -> u64 {
    let m = structure.lattice().matrix();
    let mut h = Fnv::new().bytes(&settings.to_le_bytes());
    for v in m.iter() {
        h = h.f64(*v);
    }
    h = h.bytes(structure.numbers());
    for p in structure.positions() {
        h = h.f64(p[0]).f64(p[1]).f64(p[2]);
    }
    h.0
}

/// The inputs of `structures` for `meta`: read from `dir` when cached, computed (in parallel)
/// and added to the cache otherwise. Without `dir`, everything is computed.
pub fn inputs(
    structures: &[Structure],
    meta: &ModelMeta,
    dir: Option<&Path>,
) -> Result<Vec<CrystalInput>> {
    let settings = settings_hash(meta);
    let keys: Vec<u64> = structures
        .iter()
        .map(|s| structure_key(s, settings))
        .collect();
    let path = dir.map(|d| d.join(format!("potnet-inputs-{settings:016x}.bin")));
    let mut cached = match &path {
        Some(p) if p.exists() => read(p)?,
        _ => HashMap::new(),
    };
    let missing: Vec<usize> = (0..structures.len())
        .filter(|&k| !cached.contains_key(&keys[k]))
        .collect();
    let computed: Vec<CrystalInput> = missing
        .par_iter()
        .map(|&k| CrystalInput::from_structure(&structures[k], meta))
        .collect::<Result<_>>()?;
    let added = !computed.is_empty();
    for (&k, input) in missing.iter().zip(computed) {
        cached.insert(keys[k], input);
    }
    if let (Some(p), true) = (&path, added) {
        std::fs::create_dir_all(p.parent().expect("a cache file has a folder"))
            .map_err(|e| Error::io(p, e))?;
        write_atomically(p, &encode(&cached))?;
    }
    Ok(keys.iter().map(|k| cached[k].clone()).collect())
}

/// The default cache folder: `crystalpot-cache` beside the output (shared by the runs there).
pub fn default_dir(out: &Path) -> PathBuf {
    let parent = out.parent().unwrap_or(Path::new("."));
    parent.join("crystalpot-cache")
}

fn encode(entries: &HashMap<u64, CrystalInput>) -> Vec<u8> {
    let mut keys: Vec<&u64> = entries.keys().collect();
    keys.sort_unstable();
    let mut out = MAGIC.to_vec();
    out.extend((keys.len() as u64).to_le_bytes());
    let len = |out: &mut Vec<u8>, n: usize| out.extend((n as u32).to_le_bytes());
    for key in keys {
        let e = &entries[key];
        out.extend(key.to_le_bytes());
        len(&mut out, e.species.len());
        out.extend(&e.species);
        len(&mut out, e.local_src.len());
        for v in [&e.local_src, &e.local_dst] {
            out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        }
        out.extend(e.local_length.iter().flat_map(|x| x.to_le_bytes()));
        out.extend(e.inf_feature.iter().flat_map(|x| x.to_le_bytes()));
    }
    out
}

/// Reads a cache file; a damaged file is an error that names it (delete it to rebuild).
fn read(path: &Path) -> Result<HashMap<u64, CrystalInput>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes).ok_or_else(|| {
        Error::InvalidInput(format!(
            "{}: damaged input cache (delete it to rebuild)",
            path.display()
        ))
    })
}

fn decode(bytes: &[u8]) -> Option<HashMap<u64, CrystalInput>> {
    let mut r = Reader(bytes.strip_prefix(MAGIC)?);
    let count = r.u64()?;
    let mut out = HashMap::new();
    for _ in 0..count {
        let key = r.u64()?;
        let n = r.u32()? as usize;
        let species = r.take(n)?.to_vec();
        let e = r.u32()? as usize;
        let local_src = r.u32s(e)?;
        let local_dst = r.u32s(e)?;
        let local_length = r.u32s(e)?.into_iter().map(f32::from_bits).collect();
        let inf_feature = r.u32s(n * n)?.into_iter().map(f32::from_bits).collect();
        out.insert(
            key,
            CrystalInput {
                species,
                local_src,
                local_dst,
                local_length,
                inf_feature,
            },
        );
    }
    r.0.is_empty().then_some(out)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32s(&mut self, n: usize) -> Option<Vec<u32>> {
        (0..n).map(|_| self.u32()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_bit_for_bit_and_damage_is_detected() {
        let input = CrystalInput {
            species: vec![8, 22],
            local_src: vec![0, 1, 1],
            local_dst: vec![1, 0, 0],
            local_length: vec![1.5, 2.25, f32::from_bits(0x3f80_0001)],
            inf_feature: vec![-0.1, 0.2, 0.3, f32::MIN_POSITIVE],
        };
        let map = HashMap::from([(7u64, input.clone()), (3u64, input)]);
        let bytes = encode(&map);
        assert_eq!(decode(&bytes), Some(map));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
    }
}
