//! Structure file formats: POSCAR/CONTCAR, CIF and extended XYZ.
//!
//! Every reader is a small hand-written parser over the whole text (no C/C++ dependencies,
//! no panics on any input); errors are [`Error::Parse`] naming the file, the 1-based line and
//! the reason. [`read_structures`] and [`write_structure`] pick the format from the file name.

pub mod cif;
pub mod extxyz;
pub mod poscar;

use std::path::Path;

use crate::error::{Error, Result};
use crate::structure::Structure;

/// A structure file format known to crystalpot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Poscar,
    Cif,
    ExtXyz,
}

impl Format {
    /// Format implied by a file name: `.cif`; `.xyz`/`.extxyz`; `POSCAR*`, `CONTCAR*`,
    /// `*.vasp`, `*.poscar` (case-insensitive). `None` when the name says nothing.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".cif") {
            Some(Format::Cif)
        } else if name.ends_with(".xyz") || name.ends_with(".extxyz") {
            Some(Format::ExtXyz)
        } else if name.starts_with("poscar")
            || name.starts_with("contcar")
            || name.ends_with(".vasp")
            || name.ends_with(".poscar")
        {
            Some(Format::Poscar)
        } else {
            None
        }
    }

    /// Guesses the format from the content, for files whose name does not tell: a `data_`
    /// line means CIF, an atom count followed by a `Lattice=` line means extended XYZ, and
    /// anything else is tried as POSCAR.
    pub fn sniff(text: &str) -> Format {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let first = lines.next().unwrap_or("");
        let second = lines.next().unwrap_or("");
        if first.parse::<usize>().is_ok() && second.to_ascii_lowercase().contains("lattice=") {
            Format::ExtXyz
        } else if text
            .lines()
            .any(|l| l.trim_start().to_ascii_lowercase().starts_with("data_"))
        {
            Format::Cif
        } else {
            Format::Poscar
        }
    }
}

/// Reads every structure in a file: all data blocks of a CIF, all frames of an extended XYZ,
/// the one structure of a POSCAR. The format comes from the name, else from the content.
pub fn read_structures(path: impl AsRef<Path>) -> Result<Vec<Structure>> {
    let path = path.as_ref();
    let text = read_text(path)?;
    parse_structures(&text, &path.display().to_string(), Format::from_path(path))
}

/// Parses every structure in `text` (the content of a file, or a CIF/POSCAR string from a
/// data table) in `format`, or in the format its content suggests when `None`.
/// `source_name` names the origin in error messages.
pub fn parse_structures(
    text: &str,
    source_name: &str,
    format: Option<Format>,
) -> Result<Vec<Structure>> {
    match format.unwrap_or_else(|| Format::sniff(text)) {
        Format::Poscar => Ok(vec![poscar::parse_poscar_str(text, source_name)?]),
        Format::Cif => cif::parse_cif_str(text, source_name),
        Format::ExtXyz => Ok(extxyz::parse_extxyz_str(text, source_name)?
            .into_iter()
            .map(|f| f.structure)
            .collect()),
    }
}

/// Writes one structure in the format named by the file name (POSCAR, P1 CIF or extended
/// XYZ); fails for names that do not tell the format rather than guessing.
pub fn write_structure(path: impl AsRef<Path>, structure: &Structure) -> Result<()> {
    let path = path.as_ref();
    let text = match Format::from_path(path) {
        Some(Format::Poscar) => poscar::format_poscar(structure, &structure.formula()),
        Some(Format::Cif) => cif::format_cif(structure, &structure.formula()),
        Some(Format::ExtXyz) => extxyz::format_extxyz(&[extxyz::Frame::new(structure.clone())]),
        None => {
            return Err(Error::InvalidInput(format!(
                "cannot tell the file format from the name {}: use .cif, .xyz/.extxyz, .vasp \
                 or a POSCAR/CONTCAR name",
                path.display()
            )))
        }
    };
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Reads a file as text; invalid UTF-8 (e.g. Latin-1 author names in ICSD CIFs) is replaced
/// rather than rejected, since only ASCII fields matter to the parsers.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Parses a finite float; `what` names the field in the message.
pub(crate) fn parse_float(token: &str, what: &str) -> std::result::Result<f64, String> {
    match token.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!("{what} must be finite, got '{token}'")),
        Err(_) => Err(format!("expected a number for {what}, got '{token}'")),
    }
}

/// Attaches file and line to an error raised while building a structure (singular or
/// left-handed cell, bad atomic number…), so every reader error says where it came from.
pub(crate) fn at_line(err: Error, source: &str, line: usize) -> Error {
    match err {
        Error::InvalidStructure(m) | Error::InvalidInput(m) => Error::parse(source, line, m),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structure::tests::rocksalt;

    #[test]
    fn format_from_name_and_content() {
        assert_eq!(Format::from_path(Path::new("a/b/x.CIF")), Some(Format::Cif));
        assert_eq!(
            Format::from_path(Path::new("CONTCAR_3")),
            Some(Format::Poscar)
        );
        assert_eq!(
            Format::from_path(Path::new("si.vasp")),
            Some(Format::Poscar)
        );
        assert_eq!(
            Format::from_path(Path::new("t.extxyz")),
            Some(Format::ExtXyz)
        );
        assert_eq!(Format::from_path(Path::new("notes.txt")), None);
        assert_eq!(
            Format::sniff("# c\ndata_x\n_cell_length_a 1\n"),
            Format::Cif
        );
        assert_eq!(Format::sniff("\n2\nLattice=\"1 0 0\"\n"), Format::ExtXyz);
        assert_eq!(Format::sniff("Si\n1.0\n"), Format::Poscar);
    }

    #[test]
    fn write_then_read_every_format() {
        let s = rocksalt(5.64);
        let dir = std::env::temp_dir().join(format!("crystalpot-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["POSCAR", "nacl.cif", "nacl.xyz", "nacl.struct"] {
            let path = dir.join(name);
            if name.ends_with(".struct") {
                let err = write_structure(&path, &s).unwrap_err();
                assert!(err.to_string().contains("cannot tell"), "{err}");
                // an unnamed format is sniffed from the content
                std::fs::write(&path, poscar::format_poscar(&s, "NaCl")).unwrap();
            } else {
                write_structure(&path, &s).unwrap();
            }
            let back = read_structures(&path).unwrap();
            assert_eq!(back.len(), 1, "{name}");
            assert_eq!(back[0].numbers(), s.numbers(), "{name}");
            let diff = (back[0].lattice().matrix() - s.lattice().matrix())
                .abs()
                .max();
            assert!(diff < 1e-8, "{name}: {diff}");
            for (p, q) in back[0].positions().iter().zip(s.positions()) {
                assert!((p - q).norm() < 1e-8, "{name}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
        let err = read_structures(dir.join("missing.cif")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    /// Random single-character edits of valid files in every format must give an error or
    /// a structure, never a panic.
    #[test]
    fn mutated_files_never_panic() {
        let s = rocksalt(5.64);
        let texts = [
            poscar::format_poscar(&s, "NaCl"),
            cif::format_cif(&s, "NaCl"),
            extxyz::format_extxyz(&[extxyz::Frame::new(s.clone())]),
        ];
        let alphabet: Vec<char> = "0123456789.-+/eE'\";_# \n\txyzTFSCD=[]{}:?()"
            .chars()
            .collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % n
        };
        for text in &texts {
            for _ in 0..400 {
                let mut chars: Vec<char> = text.chars().collect();
                for _ in 0..1 + next(4) {
                    let at = next(chars.len());
                    match next(3) {
                        0 => chars[at] = alphabet[next(alphabet.len())],
                        1 => {
                            chars.remove(at);
                        }
                        _ => chars.insert(at, alphabet[next(alphabet.len())]),
                    }
                }
                let mutated: String = chars.into_iter().collect();
                let _ = poscar::parse_poscar_str(&mutated, "m");
                let _ = cif::parse_cif_str(&mutated, "m");
                let _ = extxyz::parse_extxyz_str(&mutated, "m");
            }
        }
    }
}
