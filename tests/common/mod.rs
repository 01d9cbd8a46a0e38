//! Shared helpers of the data-driven integration tests: where the shared data lives and how
//! fixture structures are read. A missing data folder fails the test that needs it: silently
//! skipping would hide a broken set-up.

#![allow(dead_code)] // each test crate uses a different subset

use std::path::PathBuf;

use crystalpot::{Lattice, Structure, Vec3};
use serde_json::Value;

/// `$CRYSTALPOT_DATA`, default `../shared/data` relative to the crate root.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("CRYSTALPOT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.is_dir(),
        "data folder {} not found: set CRYSTALPOT_DATA to the shared data directory \
         (with fixtures/, perov5/, mlearn/ and ionic/)",
        dir.display()
    );
    dir
}

/// `fixtures/<name>` of the data folder, parsed as JSON.
pub fn fixture(name: &str) -> Value {
    let path = data_dir().join("fixtures").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} not readable ({e})", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

pub fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("index") as usize)
        .collect()
}

pub fn vec3s(v: &Value) -> Vec<Vec3> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|row| Vec3::from_vec(floats(row)))
        .collect()
}

/// A fixture structure from its `lattice`, `cart_coords` and `species` (positions as given,
/// unwrapped).
pub fn structure(s: &Value) -> Structure {
    let rows = vec3s(&s["lattice"]);
    let lattice =
        Lattice::from_rows([0, 1, 2].map(|r| [rows[r].x, rows[r].y, rows[r].z])).expect("lattice");
    let numbers = indices(&s["species"])
        .into_iter()
        .map(|z| z as u8)
        .collect();
    Structure::new(lattice, numbers, vec3s(&s["cart_coords"]), [true; 3]).expect("structure")
}
