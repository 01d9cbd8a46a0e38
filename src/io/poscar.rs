//! VASP POSCAR/CONTCAR files.
//!
//! Reading accepts VASP 5 files (species line before the counts) and VASP 4 files whose
//! comment line lists the species; the scale factor may be one positive number, one negative
//! number (the target cell volume in Å^3) or three per-axis factors (x, y, z components of
//! the lattice vectors and of Cartesian positions). `Selective dynamics` flags, site labels
//! after the coordinates and trailing velocity/predictor blocks are ignored.
//!
//! Writing produces VASP 5 format in Direct coordinates and keeps the atom order: every run
//! of consecutive atoms of one species becomes its own group, so a species may appear more
//! than once on the species line (VASP accepts this when the POTCAR is concatenated in the
//! same order). Nothing is ever reordered, so per-atom data stay aligned with the file.

use std::path::Path;

use super::{at_line, parse_float, read_text};
use crate::cell::{Lattice, Mat3, Vec3};
use crate::elements;
use crate::error::{Error, Result};
use crate::structure::Structure;

/// Reads a POSCAR/CONTCAR file.
pub fn read_poscar(path: impl AsRef<Path>) -> Result<Structure> {
    let path = path.as_ref();
    parse_poscar_str(&read_text(path)?, &path.display().to_string())
}

/// Writes `structure` as a VASP 5 POSCAR in Direct coordinates (see the module docs for the
/// species grouping).
pub fn write_poscar(path: impl AsRef<Path>, structure: &Structure, comment: &str) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, format_poscar(structure, comment)).map_err(|e| Error::io(path, e))
}

/// Lines of the text with 1-based numbers, for error messages.
struct Lines<'a> {
    source: &'a str,
    lines: Vec<&'a str>,
    next: usize,
}

impl<'a> Lines<'a> {
    /// The next line and its 1-based number; `what` says what was expected if the file ends.
    fn take(&mut self, what: &str) -> Result<(usize, &'a str)> {
        let line = self.lines.get(self.next).copied().ok_or_else(|| {
            Error::parse(
                self.source,
                self.next + 1,
                format!("file ends early: expected {what}"),
            )
        })?;
        self.next += 1;
        Ok((self.next, line))
    }

    fn error(&self, line: usize, message: impl Into<String>) -> Error {
        Error::parse(self.source, line, message)
    }

    /// The first three numbers of the next line (more tokens are ignored).
    fn vector(&mut self, what: &str) -> Result<(usize, Vec3)> {
        let (n, line) = self.take(what)?;
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.len() < 3 {
            return Err(self.error(
                n,
                format!("expected 3 numbers for {what}, found {}", tokens.len()),
            ));
        }
        let mut v = Vec3::zeros();
        for k in 0..3 {
            v[k] = parse_float(tokens[k], what).map_err(|m| self.error(n, m))?;
        }
        Ok((n, v))
    }
}

/// Parses POSCAR text; `source_name` is used in error messages.
pub fn parse_poscar_str(text: &str, source_name: &str) -> Result<Structure> {
    let mut lines = Lines {
        source: source_name,
        lines: text.lines().collect(),
        next: 0,
    };
    let (_, comment) = lines.take("the comment line")?;

    let (scale_line, line) = lines.take("the scale factor")?;
    // One factor, or three per-axis factors; anything after them is a comment.
    let scale_tokens: Vec<&str> = line.split_whitespace().collect();
    let mut scale_values: Vec<f64> = scale_tokens
        .iter()
        .take(3)
        .map_while(|t| parse_float(t, "").ok())
        .collect();
    match (scale_tokens.first(), scale_values.len()) {
        (None, _) => {
            return Err(lines.error(scale_line, "expected the scale factor, found an empty line"))
        }
        (Some(t), 0) => {
            let message = parse_float(t, "the scale factor").err().unwrap_or_default();
            return Err(lines.error(scale_line, message));
        }
        (_, 3) => {}
        _ => scale_values.truncate(1),
    }

    let mut rows = Mat3::zeros();
    let mut lattice_line = 0;
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let (n, v) = lines.vector(&format!("lattice vector {name}"))?;
        rows.set_row(i, &v.transpose());
        lattice_line = n;
    }
    // Per-axis factors for x, y, z (one factor repeated three times in the common case).
    let scale = match scale_values.as_slice() {
        [s] if *s > 0.0 => Vec3::repeat(*s),
        [s] if *s < 0.0 => {
            let volume = rows.determinant().abs();
            if volume == 0.0 {
                return Err(lines.error(lattice_line, "singular lattice"));
            }
            Vec3::repeat((-s / volume).cbrt())
        }
        [_] => return Err(lines.error(scale_line, "the scale factor must not be zero")),
        s if s.iter().all(|x| *x > 0.0) => Vec3::new(s[0], s[1], s[2]),
        _ => {
            return Err(lines.error(
                scale_line,
                "three per-axis scale factors must all be positive",
            ))
        }
    };
    for i in 0..3 {
        for k in 0..3 {
            rows[(i, k)] *= scale[k];
        }
    }
    let lattice = Lattice::from_matrix(rows).map_err(|e| at_line(e, source_name, lattice_line))?;

    // VASP 5 has a species line before the counts; VASP 4 goes straight to the counts.
    let (n, line) = lines.take("the species or atom counts line")?;
    let first = line.split_whitespace().next().unwrap_or("");
    let (species_line, species, counts_line, counts_text) = if first.parse::<i64>().is_ok() {
        let species = comment
            .split_whitespace()
            .map(species_symbol)
            .collect::<Option<Vec<u8>>>()
            .filter(|s| s.len() == line.split_whitespace().count())
            .ok_or_else(|| {
                lines.error(
                    n,
                    "VASP 4 file: no species line before the atom counts. Add a line with the \
                     element symbols (e.g. 'Na Cl') above the counts, or list them, and only \
                     them, on the comment line (line 1)",
                )
            })?;
        (1, species, n, line)
    } else {
        let species = line
            .split_whitespace()
            .map(|t| {
                species_symbol(t).ok_or_else(|| {
                    lines.error(
                        n,
                        format!("'{t}' on the species line is not an element symbol"),
                    )
                })
            })
            .collect::<Result<Vec<u8>>>()?;
        if species.is_empty() {
            return Err(lines.error(n, "expected element symbols, found an empty line"));
        }
        let (cn, counts) = lines.take("the atom counts line")?;
        (n, species, cn, counts)
    };
    let counts = counts_text
        .split_whitespace()
        .map(|t| {
            t.parse::<usize>().map_err(|_| {
                lines.error(
                    counts_line,
                    format!("expected a non-negative integer atom count, got '{t}'"),
                )
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    if counts.len() != species.len() {
        return Err(lines.error(
            counts_line,
            format!(
                "{} atom counts for {} species (species on line {species_line})",
                counts.len(),
                species.len()
            ),
        ));
    }
    let total = counts
        .iter()
        .try_fold(0usize, |sum, &c| sum.checked_add(c))
        .ok_or_else(|| lines.error(counts_line, "the atom counts overflow"))?;
    if total == 0 {
        return Err(lines.error(counts_line, "the atom counts add up to zero"));
    }
    // Only now is it safe to allocate per atom: the count is checked against the lines left.
    let remaining = lines.lines.len() - lines.next;
    if total > remaining {
        return Err(lines.error(
            counts_line,
            format!("{total} atoms declared but only {remaining} lines follow"),
        ));
    }

    let (mut mode_line, mut mode) = lines.take("the coordinate mode (Direct or Cartesian)")?;
    if mode.trim_start().starts_with(['S', 's']) {
        (mode_line, mode) = lines.take("the coordinate mode (Direct or Cartesian)")?;
    }
    let cartesian = match mode.trim_start().chars().next() {
        Some('C' | 'c' | 'K' | 'k') => true,
        Some('D' | 'd') => false,
        _ => {
            return Err(lines.error(
                mode_line,
                format!(
                    "expected 'Direct' or 'Cartesian' (or 'Selective dynamics'), got '{}'",
                    mode.trim()
                ),
            ))
        }
    };

    let mut numbers = Vec::with_capacity(total);
    let mut positions = Vec::with_capacity(total);
    for (&z, &count) in species.iter().zip(&counts) {
        for _ in 0..count {
            let (_, v) = lines.vector("atom coordinates")?;
            positions.push(if cartesian {
                lattice.to_fractional(&v.component_mul(&scale))
            } else {
                v
            });
            numbers.push(z);
        }
    }
    Structure::from_fractional(lattice, numbers, &positions, [true; 3])
        .map_err(|e| at_line(e, source_name, lattice_line))
}

/// Atomic number of a POTCAR-style species name: `Fe`, `Fe_pv`, `Si/1a2b3c` (VASP 6 adds a
/// hash after a slash).
fn species_symbol(token: &str) -> Option<u8> {
    let symbol = token.split(['_', '/', '.']).next()?;
    elements::atomic_number(symbol)
}

/// POSCAR text for `structure` (VASP 5, Direct, atom order kept; see the module docs).
pub fn format_poscar(structure: &Structure, comment: &str) -> String {
    let mut groups: Vec<(u8, usize)> = Vec::new();
    for &z in structure.numbers() {
        match groups.last_mut() {
            Some((last, n)) if *last == z => *n += 1,
            _ => groups.push((z, 1)),
        }
    }
    let symbol = |z: u8| elements::symbol(z).expect("Structure invariant: valid Z");
    let mut out = String::new();
    // The comment must stay one line or the file shifts by a line.
    out.push_str(&comment.replace(['\n', '\r'], " "));
    out.push_str("\n1.0\n");
    for row in structure.lattice().matrix().row_iter() {
        out.push_str(&format!(
            "  {:22.16} {:22.16} {:22.16}\n",
            row[0], row[1], row[2]
        ));
    }
    let names: Vec<String> = groups
        .iter()
        .map(|(z, _)| format!("{:>4}", symbol(*z)))
        .collect();
    let counts: Vec<String> = groups.iter().map(|(_, n)| format!("{n:>4}")).collect();
    out.push_str(&format!(
        "{}\n{}\nDirect\n",
        names.join(" "),
        counts.join(" ")
    ));
    for (f, z) in structure
        .fractional_positions()
        .iter()
        .zip(structure.numbers())
    {
        out.push_str(&format!(
            "  {:20.16} {:20.16} {:20.16} {}\n",
            f[0],
            f[1],
            f[2],
            symbol(*z)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structure::tests::rocksalt;

    const SI: &str = "Si diamond\n5.43\n 0 0.5 0.5\n0.5 0 0.5\n0.5 0.5 0\nSi\n2\nDirect\n\
                      0 0 0\n0.25 0.25 0.25\n";

    fn err(text: &str) -> String {
        parse_poscar_str(text, "POSCAR").unwrap_err().to_string()
    }

    #[test]
    fn reads_vasp5_direct() {
        let s = parse_poscar_str(SI, "POSCAR").unwrap();
        assert_eq!(s.numbers(), &[14, 14]);
        assert!((s.volume() - 5.43f64.powi(3) / 4.0).abs() < 1e-9);
        assert!((s.positions()[1] - Vec3::repeat(5.43 / 4.0)).norm() < 1e-12);
    }

    #[test]
    fn scale_variants_and_cartesian() {
        // negative scale = volume; Cartesian coordinates are scaled as well
        let text = "x\n-27\n1 0 0\n0 1 0\n0 0 1\nNa Cl\n1 1\nSelective dynamics\nCart\n\
                    0 0 0 T T F\n0.5 0.5 0.5 F F F Cl1\n";
        let s = parse_poscar_str(text, "POSCAR").unwrap();
        assert!((s.volume() - 27.0).abs() < 1e-9);
        assert!((s.positions()[1] - Vec3::repeat(1.5)).norm() < 1e-12);
        let text = "x\n2 3 4\n1 0 0\n0 1 0\n0 0 1\nNa\n1\nc\n1 1 1\n";
        let s = parse_poscar_str(text, "POSCAR").unwrap();
        assert!((s.volume() - 24.0).abs() < 1e-9);
        assert!((s.positions()[0] - Vec3::new(2.0, 3.0, 4.0)).norm() < 1e-12);
    }

    #[test]
    fn vasp4_uses_the_comment_line_and_velocities_are_ignored() {
        let text = "Na Cl\n1.0\n4 0 0\n0 4 0\n0 0 4\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n\n\
                    0.1 0.2 0.3\n0.1 0.2 0.3\n";
        let s = parse_poscar_str(text, "POSCAR").unwrap();
        assert_eq!(s.numbers(), &[11, 17]);
        let e = err("my structure\n1.0\n4 0 0\n0 4 0\n0 0 4\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n");
        assert!(e.starts_with("POSCAR:6:") && e.contains("VASP 4"), "{e}");
    }

    #[test]
    fn potcar_style_species_names() {
        let text = SI.replace("\nSi\n", "\nSi_GW/8a3f1e\n");
        assert_eq!(parse_poscar_str(&text, "P").unwrap().numbers(), &[14, 14]);
    }

    #[test]
    fn errors_name_the_line() {
        assert!(err("").starts_with("POSCAR:1: file ends early"));
        assert!(err("c\nabc\n").starts_with("POSCAR:2: expected a number"));
        assert!(err("c\n0\n1 0 0\n0 1 0\n0 0 1\nSi\n1\nD\n0 0 0\n").starts_with("POSCAR:2:"));
        assert!(err("c\n1\n1 0 0\n0 1\n").starts_with("POSCAR:4: expected 3 numbers"));
        assert!(err("c\n1\n1 0 0\n2 0 0\n0 0 1\nSi\n1\nD\n0 0 0\n").contains(":5: singular"));
        assert!(err("c\n1\n1 0 0\n0 1 0\n0 0 1\nXx\n1\n").starts_with("POSCAR:6: 'Xx'"));
        assert!(err("c\n1\n1 0 0\n0 1 0\n0 0 1\nSi O\n1\nD\n").starts_with("POSCAR:7: 1 atom"));
        assert!(err("c\n1\n1 0 0\n0 1 0\n0 0 1\nSi\n-1\n").starts_with("POSCAR:7: expected"));
        assert!(err("c\n1\n1 0 0\n0 1 0\n0 0 1\nSi\n9\nD\n").contains(":7: 9 atoms declared"));
        let huge = "c\n1\n1 0 0\n0 1 0\n0 0 1\nSi O\n18446744073709551615 1\nD\n";
        assert!(err(huge).contains(":7: the atom counts overflow"));
        assert!(err("c\n1\n1 0 0\n0 1 0\n0 0 1\nSi\n1\nX\n0 0 0\n").contains(":8: expected 'D"));
        assert!(err(&SI.replace("0.25 0.25 0.25", "0.25 nan 0.2")).contains(":10: "));
        assert!(err(&SI.replace("0.25 0.25 0.25\n", "")).starts_with("POSCAR:10: file ends"));
        assert!(
            err(&SI.replace("0.25 0.25 0.25", "0.25 0.25")).starts_with("POSCAR:10: expected 3")
        );
        let left = "c\n1\n0 1 0\n1 0 0\n0 0 1\nSi\n1\nD\n0 0 0\n";
        assert!(err(left).contains(":5: left-handed"));
    }

    #[test]
    fn never_panics_on_truncated_files() {
        for cut in 0..SI.len() {
            let _ = parse_poscar_str(&SI[..cut], "POSCAR");
        }
    }

    #[test]
    fn round_trip_keeps_atom_order() {
        let s = rocksalt(5.64);
        // interleave species: Na Cl Na Cl ... must come back in the same order
        let order = [0, 4, 1, 5, 2, 6, 3, 7];
        let mixed = Structure::new(
            *s.lattice(),
            order.iter().map(|&i| s.numbers()[i]).collect(),
            order.iter().map(|&i| s.positions()[i]).collect(),
            [true; 3],
        )
        .unwrap();
        let text = format_poscar(&mixed, "NaCl\ninterleaved");
        assert!(text.lines().nth(5).unwrap().split_whitespace().count() == 8);
        let back = parse_poscar_str(&text, "POSCAR").unwrap();
        assert_eq!(back.numbers(), mixed.numbers());
        assert!(
            (back.lattice().matrix() - mixed.lattice().matrix())
                .abs()
                .max()
                < 1e-12
        );
        for (p, q) in back.positions().iter().zip(mixed.positions()) {
            assert!((p - q).norm() < 1e-12);
        }
    }
}
