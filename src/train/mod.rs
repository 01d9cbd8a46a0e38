//! Training: data sources, splits, metrics, optimiser, plots, and the trainers of PotNet and
//! energy models.

use std::path::Path;

use crate::error::{Error, Result};

pub mod dataset;
pub mod energy;
pub mod linear;
pub mod metrics;
pub mod optim;
pub mod plots;
pub mod potnet;
pub mod split;

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and renames it over
/// `path`: a run killed at any moment leaves either the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    let tmp = path.with_file_name(name);
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
