//! Training data: structures with their targets, read from the three layouts users have.
//!
//! - a CSV table with a structure column (`cif`, `structure` or `poscar`: the text of the
//!   file) and one column per target — the layout of the perovskite data;
//! - a folder of structure files with an `id_prop.csv` of `file,value` lines and no header —
//!   the layout ALIGNN and PotNet use for custom data;
//! - extended XYZ, one frame per sample, targets from the frame's header keys (`energy`, or
//!   any numeric key), with forces and stress when the frames carry them.
//!
//! Bad samples (a structure that does not parse, a missing or non-finite target) are either
//! skipped and listed with where they came from, or fail the whole load: the caller chooses,
//! nothing is dropped silently.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cell::{Mat3, Vec3};
use crate::error::{Error, Result};
use crate::io::{self, extxyz, Format};
use crate::structure::Structure;

/// One eV/Å^3 in GPa.
pub const EV_PER_A3_IN_GPA: f64 = 160.217_663_4;

/// Names accepted for the structure column of a CSV table.
const STRUCTURE_COLUMNS: [&str; 3] = ["cif", "structure", "poscar"];

/// A structure with what is known about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Where the sample came from: the id column, the file name, or `frame N`.
    pub id: String,
    pub structure: Structure,
    /// The requested targets, in request order.
    pub targets: Vec<f64>,
    /// Forces (eV/Å) when the source gives them.
    pub forces: Option<Vec<Vec3>>,
    /// Stress (eV/Å^3, ASE's sign: positive under tension) when the source gives it in a
    /// known convention.
    pub stress: Option<Mat3>,
}

/// What to do with a sample that cannot be used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BadSamples {
    /// Fail the load with the first bad sample's location and reason.
    #[default]
    Fail,
    /// Leave it out and list it in [`Dataset::skipped`].
    Skip,
}

/// A sample left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// e.g. `train.csv record 17 (line 398)` or `Si.xyz frame 3`.
    pub location: String,
    pub reason: String,
}

/// Samples read from one source.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub target_names: Vec<String>,
    pub samples: Vec<Sample>,
    pub skipped: Vec<Skipped>,
}

/// Reads a data source: a directory (with `id_prop.csv`), a `.csv` table, or extended XYZ.
pub fn load(path: &Path, targets: &[String], bad: BadSamples) -> Result<Dataset> {
    if targets.is_empty() {
        return Err(Error::InvalidInput("no target named".into()));
    }
    let candidates = if path.is_dir() {
        read_id_prop_folder(path, targets)?
    } else {
        match Format::from_path(path) {
            Some(Format::ExtXyz) => read_extxyz_samples(path, targets)?,
            _ if has_extension(path, "csv") => read_csv_table(path, targets)?,
            _ => {
                return Err(Error::InvalidInput(format!(
                    "{}: training data must be a .csv table, an extended XYZ file or a folder \
                     with id_prop.csv",
                    path.display()
                )))
            }
        }
    };
    collect(candidates, targets, bad)
}

/// A sample or the reason it is unusable, with its location.
type Candidate = (String, std::result::Result<Sample, String>);

fn collect(candidates: Vec<Candidate>, targets: &[String], bad: BadSamples) -> Result<Dataset> {
    let mut samples = Vec::with_capacity(candidates.len());
    let mut skipped = Vec::new();
    for (location, candidate) in candidates {
        match (candidate, bad) {
            (Ok(sample), _) => samples.push(sample),
            (Err(reason), BadSamples::Fail) => {
                return Err(Error::InvalidInput(format!(
                    "{location}: {reason} (skip bad samples to go on without it)"
                )))
            }
            (Err(reason), BadSamples::Skip) => skipped.push(Skipped { location, reason }),
        }
    }
    if samples.is_empty() {
        return Err(Error::InvalidInput(
            "the data source holds no usable sample".into(),
        ));
    }
    Ok(Dataset {
        target_names: targets.to_vec(),
        samples,
        skipped,
    })
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.to_string_lossy().eq_ignore_ascii_case(ext))
}

/// A finite target value, or why not.
fn target_value(text: &str, name: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!("target {name} is not finite ({})", text.trim())),
        Err(_) => Err(format!("target {name} is not a number ({:?})", text.trim())),
    }
}

/// The one structure of a text, or why not.
fn one_structure(
    text: &str,
    source: &str,
    format: Option<Format>,
) -> std::result::Result<Structure, String> {
    let mut structures = io::parse_structures(text, source, format).map_err(|e| e.to_string())?;
    match structures.len() {
        1 => Ok(structures.pop().expect("one structure")),
        n => Err(format!("expected one structure, found {n}")),
    }
}

fn read_csv_table(path: &Path, targets: &[String]) -> Result<Vec<Candidate>> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| csv_error(path, e))?;
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let structure_column = STRUCTURE_COLUMNS
        .iter()
        .find_map(|name| column(name))
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "{}: no structure column (expected one named {})",
                path.display(),
                STRUCTURE_COLUMNS.join(", ")
            ))
        })?;
    let target_columns = targets
        .iter()
        .map(|t| {
            column(t).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{}: no column {t:?} (columns: {})",
                    path.display(),
                    headers.iter().collect::<Vec<_>>().join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let id_column = ["material_id", "id", "name"]
        .iter()
        .find_map(|name| column(name));
    let name = file_name(path);
    let mut records = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map_or(0, |p| p.line());
        records.push((format!("{name} record {} (line {line})", index + 1), record));
    }
    Ok(records
        .into_par_iter()
        .map(|(location, record)| {
            let field = |i: usize| record.get(i).unwrap_or("");
            let sample = (|| {
                let values = targets
                    .iter()
                    .zip(&target_columns)
                    .map(|(t, &c)| target_value(field(c), t))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let id = id_column.map_or_else(|| location.clone(), |c| field(c).to_string());
                Ok(Sample {
                    structure: one_structure(field(structure_column), &location, None)?,
                    id,
                    targets: values,
                    forces: None,
                    stress: None,
                })
            })();
            (location, sample)
        })
        .collect())
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.position() {
        Some(p) => Error::parse(path.display().to_string(), p.line() as usize, e.to_string()),
        None => Error::InvalidInput(format!("{}: {e}", path.display())),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn read_id_prop_folder(dir: &Path, targets: &[String]) -> Result<Vec<Candidate>> {
    let id_prop = dir.join("id_prop.csv");
    let text = io::read_text(&id_prop)?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    Ok(lines
        .into_par_iter()
        .map(|(line, content)| {
            let location = format!("{} line {line}", id_prop.display());
            let mut fields = content.split(',').map(str::trim);
            let file = fields.next().unwrap_or("").to_string();
            let values: Vec<&str> = fields.collect();
            let sample = (|| {
                if values.len() != targets.len() {
                    return Err(format!(
                        "expected a file name and {} value(s), found {} value(s)",
                        targets.len(),
                        values.len()
                    ));
                }
                let values = targets
                    .iter()
                    .zip(&values)
                    .map(|(t, v)| target_value(v, t))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let path: PathBuf = dir.join(&file);
                let text = io::read_text(&path).map_err(|e| e.to_string())?;
                let structure =
                    one_structure(&text, &path.display().to_string(), Format::from_path(&path))?;
                Ok(Sample {
                    id: file.clone(),
                    structure,
                    targets: values,
                    forces: None,
                    stress: None,
                })
            })();
            (location, sample)
        })
        .collect())
}

fn read_extxyz_samples(path: &Path, targets: &[String]) -> Result<Vec<Candidate>> {
    let frames = extxyz::read_extxyz(path)?;
    let name = file_name(path);
    Ok(frames
        .into_iter()
        .enumerate()
        .map(|(index, frame)| {
            let location = format!("{name} frame {}", index + 1);
            let sample = (|| {
                let values = targets
                    .iter()
                    .map(|t| match (t.as_str(), frame.energy) {
                        ("energy", Some(e)) => Ok(e),
                        _ => frame
                            .info
                            .get(t)
                            .ok_or_else(|| format!("no {t} in the frame header"))
                            .and_then(|v| target_value(v, t)),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(Sample {
                    id: location.clone(),
                    stress: frame.stress.as_ref().and_then(stress_in_ase_convention),
                    structure: frame.structure,
                    targets: values,
                    forces: frame.forces,
                })
            })();
            (location, sample)
        })
        .collect())
}

/// A file's stress in eV/Å^3 with ASE's sign, for the conventions that are known for sure:
/// ASE's own `stress` (eV/Å^3; 9 values row-major, or Voigt xx yy zz yz xz xy) and VASP's
/// `virial_stress_kB` as the mlearn data writes it (kBar, xx yy zz xy yz xz, positive under
/// compression). Other keys give `None`: training on a stress of unverified sign would be
/// silently wrong.
pub fn stress_in_ase_convention(stress: &extxyz::Stress) -> Option<Mat3> {
    let v = &stress.values;
    let sym = |xx, yy, zz, yz, xz, xy| Mat3::new(xx, xy, xz, xy, yy, yz, xz, yz, zz);
    match (stress.key.as_str(), v.len()) {
        ("stress", 9) => Some(Mat3::from_row_slice(v)),
        ("stress", 6) => Some(sym(v[0], v[1], v[2], v[3], v[4], v[5])),
        ("virial_stress_kB", 6) => {
            let s = -0.1 / EV_PER_A3_IN_GPA;
            Some(sym(v[0], v[1], v[2], v[4], v[5], v[3]) * s)
        }
        _ => None,
    }
}

/// Swaps the yz and xz stress components of every sample, for files that write the shears as
/// xy xz yz rather than the xy yz xz [`load`] reads: the mlearn Cu, Ni and Mo sets do (found
/// by fitting, see docs/fitting.md), and nothing in a file tells the two orders apart.
pub fn swap_shear_stress(samples: &mut [Sample]) {
    for stress in samples.iter_mut().filter_map(|s| s.stress.as_mut()) {
        let (yz, xz) = (stress[(1, 2)], stress[(0, 2)]);
        (stress[(1, 2)], stress[(2, 1)]) = (xz, xz);
        (stress[(0, 2)], stress[(2, 0)]) = (yz, yz);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIF: &str = "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n\
        _cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n\
        _atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n\
        Na 0 0 0\nCl 0.5 0.5 0.5\n";

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("crystalpot-dataset-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn table(rows: &[(&str, &str, &str)]) -> String {
        let mut out = String::from("material_id,cif,heat\n");
        for (id, cif, heat) in rows {
            out.push_str(&format!("{id},\"{cif}\",{heat}\n"));
        }
        out
    }

    fn names(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn reads_a_csv_table_and_reports_bad_rows_with_their_place() {
        let dir = temp_dir("csv");
        let path = dir.join("data.csv");
        let text = table(&[
            ("a", CIF, "1.5"),
            ("b", "not a cif", "2"),
            ("c", CIF, "nan"),
        ]);
        std::fs::write(&path, text).unwrap();
        let data = load(&path, &names(&["heat"]), BadSamples::Skip).unwrap();
        assert_eq!(data.samples.len(), 1);
        assert_eq!(data.samples[0].id, "a");
        assert_eq!(data.samples[0].targets, vec![1.5]);
        assert_eq!(data.samples[0].structure.len(), 2);
        let places: Vec<&str> = data.skipped.iter().map(|s| s.location.as_str()).collect();
        assert!(
            places[0].starts_with("data.csv record 2 (line "),
            "{places:?}"
        );
        assert!(places[1].starts_with("data.csv record 3"), "{places:?}");
        assert!(
            data.skipped[1].reason.contains("not finite"),
            "{:?}",
            data.skipped
        );

        let err = load(&path, &names(&["heat"]), BadSamples::Fail)
            .unwrap_err()
            .to_string();
        assert!(err.contains("record 2"), "{err}");
        let err = load(&path, &names(&["gap"]), BadSamples::Skip)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no column \"gap\""), "{err}");
    }

    #[test]
    fn reads_an_id_prop_folder() {
        let dir = temp_dir("idprop");
        std::fs::write(dir.join("x.cif"), CIF).unwrap();
        std::fs::write(dir.join("id_prop.csv"), "x.cif,0.25\nmissing.cif,1\n").unwrap();
        let data = load(&dir, &names(&["e"]), BadSamples::Skip).unwrap();
        assert_eq!(data.samples.len(), 1);
        assert_eq!(data.samples[0].targets, vec![0.25]);
        assert!(data.skipped[0].location.ends_with("id_prop.csv line 2"));
        assert!(
            data.skipped[0].reason.contains("missing.cif"),
            "{:?}",
            data.skipped
        );
    }

    #[test]
    fn reads_extxyz_energies_forces_and_mlearn_stress() {
        let dir = temp_dir("xyz");
        let path = dir.join("d.xyz");
        std::fs::write(
            &path,
            "1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3:forces:R:3 \
             energy=-1.5 virial_stress_kB=\"10 20 30 1 2 3\" gap=0.5\nSi 0 0 0 0.1 0.2 0.3\n",
        )
        .unwrap();
        let data = load(&path, &names(&["energy", "gap"]), BadSamples::Fail).unwrap();
        let s = &data.samples[0];
        assert_eq!(s.targets, vec![-1.5, 0.5]);
        assert_eq!(s.forces.as_ref().unwrap()[0], Vec3::new(0.1, 0.2, 0.3));
        let stress = s.stress.unwrap() * EV_PER_A3_IN_GPA;
        // VASP order xx yy zz xy yz xz, kBar, compressive positive → GPa, tensile positive.
        assert!((stress[(0, 0)] + 1.0).abs() < 1e-12);
        assert!((stress[(0, 1)] + 0.1).abs() < 1e-12);
        assert!((stress[(1, 2)] + 0.2).abs() < 1e-12);
        assert!((stress[(0, 2)] + 0.3).abs() < 1e-12);
        // Read as xy xz yz instead: only yz and xz trade places, and the tensor stays symmetric.
        let mut swapped = data.samples.clone();
        swap_shear_stress(&mut swapped);
        let t = swapped[0].stress.unwrap() * EV_PER_A3_IN_GPA;
        assert!((t[(1, 2)] + 0.3).abs() < 1e-12 && (t[(2, 1)] + 0.3).abs() < 1e-12);
        assert!((t[(0, 2)] + 0.2).abs() < 1e-12 && (t[(2, 0)] + 0.2).abs() < 1e-12);
        assert_eq!(t.diagonal(), stress.diagonal());
        assert_eq!(t[(0, 1)], stress[(0, 1)]);
        let err = load(&path, &names(&["band"]), BadSamples::Fail)
            .unwrap_err()
            .to_string();
        assert!(err.contains("frame 1: no band"), "{err}");
    }
}
