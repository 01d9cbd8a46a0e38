//! Extended XYZ (multi-frame), as written by ASE, mlearn, FitSNAP and JARVIS.
//!
//! Per frame: an atom-count line, a header line of `key=value` pairs (values may be quoted
//! with `"…"`, with `\"` and `\\` escapes, or bracketed `[…]`/`{…}`; a bare key means `T`),
//! then one line per atom with the columns listed in `Properties=name:type:count:…`.
//! Recognised header keys (case-insensitive): `Lattice` (9 numbers, rows a, b, c in Å),
//! `Properties`, `pbc` (three of T/F/True/False/1/0; default all periodic), `energy`, and the
//! stress keys in [`STRESS_KEYS`]. Every other key is kept verbatim in [`Frame::info`].
//! Recognised columns: `species` (element symbol), `pos` (Å), `forces` or `force` (eV/Å);
//! other columns are checked for their width and skipped.
//!
//! A frame without `Lattice` is rejected with [`Error::InvalidStructure`] (not a parse
//! error: the file is fine, but crystalpot sums over periodic images and needs a cell; put
//! a molecule in a vacuum box to use it).

use std::collections::BTreeMap;
use std::path::Path;

use super::{at_line, parse_float, read_text};
use crate::cell::{Lattice, Mat3, Vec3};
use crate::elements;
use crate::error::{Error, Result};
use crate::structure::Structure;

/// Header keys read as a stress/virial, in order of preference when a frame has several
/// (the others then stay in `info`). `stress_raw` is the key of the Li3N set in the data.
pub const STRESS_KEYS: [&str; 5] = [
    "stress",
    "virial",
    "virial_stress_kB",
    "stress_kB_xx_yy_zz_yz_xz_xy",
    "stress_raw",
];

/// A stress or virial exactly as the file gives it. Datasets disagree on component order,
/// sign and unit (e.g. mlearn's `virial_stress_kB` is VASP's xx yy zz xy yz xz in kBar,
/// positive under compression), so nothing is converted: the key tells the convention.
#[derive(Clone, Debug, PartialEq)]
pub struct Stress {
    /// The header key as written, e.g. `virial_stress_kB`.
    pub key: String,
    /// 6 (Voigt-like, file order) or 9 (3×3 row-major) values in file order and unit.
    pub values: Vec<f64>,
}

/// One frame: the structure and the labels that came with it.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub structure: Structure,
    /// Total energy of the cell (eV) from `energy=`.
    pub energy: Option<f64>,
    /// Per-atom forces (eV/Å), in atom order.
    pub forces: Option<Vec<Vec3>>,
    pub stress: Option<Stress>,
    /// Every other header key, value unquoted (`config_type`, `source`, …).
    pub info: BTreeMap<String, String>,
}

impl Frame {
    /// A frame with no labels.
    pub fn new(structure: Structure) -> Self {
        Frame {
            structure,
            energy: None,
            forces: None,
            stress: None,
            info: BTreeMap::new(),
        }
    }
}

/// Reads every frame of an extended XYZ file.
pub fn read_extxyz(path: impl AsRef<Path>) -> Result<Vec<Frame>> {
    let path = path.as_ref();
    parse_extxyz_str(&read_text(path)?, &path.display().to_string())
}

/// Writes frames as extended XYZ (see [`format_extxyz`]).
pub fn write_extxyz(path: impl AsRef<Path>, frames: &[Frame]) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, format_extxyz(frames)).map_err(|e| Error::io(path, e))
}

/// Parses extended XYZ text; `source_name` is used in error messages. Blank lines between
/// frames and at the end are allowed.
pub fn parse_extxyz_str(text: &str, source_name: &str) -> Result<Vec<Frame>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut frames = Vec::new();
    let mut i = 0;
    loop {
        while i < lines.len() && lines[i].trim().is_empty() {
            i += 1;
        }
        if i == lines.len() {
            break;
        }
        let (frame, next) = parse_frame(&lines, i, frames.len(), source_name)?;
        frames.push(frame);
        i = next;
    }
    if frames.is_empty() {
        return Err(Error::parse(source_name, 1, "no frames: the file is empty"));
    }
    Ok(frames)
}

/// A per-atom column block of `Properties`: name, type letter, width, first column.
struct Column {
    name: String,
    kind: char,
    width: usize,
    start: usize,
}

/// Parses the frame whose count line is `lines[start]`; returns it and the next line index.
fn parse_frame(lines: &[&str], start: usize, index: usize, source: &str) -> Result<(Frame, usize)> {
    let err = |line: usize, message: String| Error::parse(source, line + 1, message);
    let count_text = lines[start].trim();
    let n: usize = count_text.parse().map_err(|_| {
        err(
            start,
            format!("expected the atom count of frame {index}, got '{count_text}'"),
        )
    })?;
    if n == 0 {
        return Err(err(start, format!("frame {index} has zero atoms")));
    }
    let header_at = start + 1;
    // header_at <= lines.len() because lines[start] exists; no overflow for huge n
    if lines.len() - header_at <= n {
        return Err(err(
            start,
            format!(
                "frame {index} declares {n} atoms but the file ends {} lines later",
                lines.len() - start - 1
            ),
        ));
    }
    let pairs = parse_header(lines[header_at]).map_err(|m| err(header_at, m))?;

    let mut lattice = None;
    let mut properties = "species:S:1:pos:R:3".to_string();
    let mut pbc = [true; 3];
    let mut energy = None;
    let mut stress: Option<Stress> = None;
    let mut info = BTreeMap::new();
    let numbers_of = |value: &str, what: &str| -> Result<Vec<f64>> {
        value
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .map(|t| parse_float(t.trim_matches(['[', ']', '{', '}']), what))
            .collect::<std::result::Result<Vec<f64>, String>>()
            .map_err(|m| err(header_at, m))
    };
    for (key, value) in pairs {
        let lower = key.to_ascii_lowercase();
        let stress_rank = STRESS_KEYS
            .iter()
            .position(|k| k.eq_ignore_ascii_case(&key));
        if lower == "lattice" {
            let v = numbers_of(&value, "Lattice")?;
            if v.len() != 9 {
                return Err(err(
                    header_at,
                    format!("Lattice needs 9 numbers (rows a, b, c), got {}", v.len()),
                ));
            }
            lattice = Some(Mat3::from_row_slice(&v));
        } else if lower == "properties" {
            properties = value;
        } else if lower == "pbc" {
            pbc = parse_pbc(&value).map_err(|m| err(header_at, m))?;
        } else if lower == "energy" {
            energy = Some(parse_float(&value, "energy").map_err(|m| err(header_at, m))?);
        } else if let Some(rank) = stress_rank.filter(|_| stress.is_none()) {
            let values = numbers_of(&value, STRESS_KEYS[rank])?;
            if values.len() != 6 && values.len() != 9 {
                return Err(err(
                    header_at,
                    format!("{key} needs 6 or 9 numbers, got {}", values.len()),
                ));
            }
            stress = Some(Stress { key, values });
        } else {
            info.insert(key, value);
        }
    }

    let columns = parse_properties(&properties).map_err(|m| err(header_at, m))?;
    let find = |names: &[&str], kind: char, width: usize| -> Result<Option<usize>> {
        match columns.iter().find(|c| names.contains(&c.name.as_str())) {
            Some(c) if c.kind == kind && c.width == width => Ok(Some(c.start)),
            Some(c) => Err(err(
                header_at,
                format!(
                    "Properties column '{}' must be {kind}:{width}, is {}:{}",
                    c.name, c.kind, c.width
                ),
            )),
            None => Ok(None),
        }
    };
    let species_col = find(&["species"], 'S', 1)?
        .ok_or_else(|| err(header_at, "Properties has no species:S:1 column".into()))?;
    let pos_col = find(&["pos"], 'R', 3)?
        .ok_or_else(|| err(header_at, "Properties has no pos:R:3 column".into()))?;
    let force_col = find(&["forces", "force"], 'R', 3)?;
    let width: usize = columns.iter().map(|c| c.width).sum();

    let mut numbers = Vec::with_capacity(n);
    let mut positions = Vec::with_capacity(n);
    let mut forces = force_col.map(|_| Vec::with_capacity(n));
    for (line, text) in lines.iter().enumerate().skip(header_at + 1).take(n) {
        let tokens: Vec<&str> = text.split_whitespace().collect();
        if tokens.len() != width {
            return Err(err(
                line,
                format!(
                    "expected {width} columns (from Properties), found {}",
                    tokens.len()
                ),
            ));
        }
        let vector = |at: usize, what: &str| -> Result<Vec3> {
            let mut v = Vec3::zeros();
            for k in 0..3 {
                v[k] = parse_float(tokens[at + k], what).map_err(|m| err(line, m))?;
            }
            Ok(v)
        };
        let symbol = tokens[species_col];
        numbers.push(
            elements::atomic_number(symbol)
                .ok_or_else(|| err(line, format!("'{symbol}' is not an element symbol")))?,
        );
        positions.push(vector(pos_col, "a position")?);
        if let (Some(f), Some(col)) = (forces.as_mut(), force_col) {
            f.push(vector(col, "a force")?);
        }
    }

    let lattice = lattice.ok_or_else(|| {
        Error::InvalidStructure(format!(
            "{source}:{}: frame {index} has no Lattice: crystalpot needs a periodic cell \
             (put the molecule in a vacuum box)",
            header_at + 1
        ))
    })?;
    let lattice = Lattice::from_matrix(lattice).map_err(|e| at_line(e, source, header_at + 1))?;
    let structure = Structure::new(lattice, numbers, positions, pbc)
        .map_err(|e| at_line(e, source, header_at + 1))?;
    let frame = Frame {
        structure,
        energy,
        forces,
        stress,
        info,
    };
    Ok((frame, header_at + 1 + n))
}

/// Splits a header line into `(key, value)` pairs in order, with quotes removed.
fn parse_header(line: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut pairs = Vec::new();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_space(&mut i);
        if i == chars.len() {
            return Ok(pairs);
        }
        let (key, next) = read_word(&chars, i, true)?;
        i = next;
        if key.is_empty() {
            return Err(format!("empty key at column {}", i + 1));
        }
        skip_space(&mut i);
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            skip_space(&mut i);
            let (value, next) = read_word(&chars, i, false)?;
            i = next;
            pairs.push((key, value));
        } else {
            pairs.push((key, "T".to_string()));
        }
    }
}

/// Reads a key or value starting at `i`: `"quoted"` (with escapes), `[bracketed]`/`{…}`, or
/// a bare word ending at whitespace (or at `=` for keys).
fn read_word(
    chars: &[char],
    mut i: usize,
    key: bool,
) -> std::result::Result<(String, usize), String> {
    let start = i;
    let mut out = String::new();
    match chars.get(i) {
        Some('"') => {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unclosed quote starting at column {}", start + 1)),
                    Some('"') => return Ok((out, i + 1)),
                    Some('\\') if i + 1 < chars.len() => {
                        out.push(match chars[i + 1] {
                            'n' => '\n',
                            c => c,
                        });
                        i += 2;
                    }
                    Some(&c) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
        }
        Some(&open @ ('[' | '{')) if !key => {
            let close = if open == '[' { ']' } else { '}' };
            let end = chars[i..]
                .iter()
                .position(|&c| c == close)
                .ok_or_else(|| format!("unclosed '{open}' starting at column {}", start + 1))?;
            Ok((chars[i..=i + end].iter().collect(), i + end + 1))
        }
        _ => {
            while i < chars.len() && !chars[i].is_whitespace() && !(key && chars[i] == '=') {
                out.push(chars[i]);
                i += 1;
            }
            Ok((out, i))
        }
    }
}

fn parse_pbc(value: &str) -> std::result::Result<[bool; 3], String> {
    let flags = value
        .split_whitespace()
        .map(|t| match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "1" => Ok(true),
            "f" | "false" | "0" => Ok(false),
            _ => Err(format!("pbc flags must be T or F, got '{t}'")),
        })
        .collect::<std::result::Result<Vec<bool>, String>>()?;
    <[bool; 3]>::try_from(flags.as_slice())
        .map_err(|_| format!("pbc needs 3 flags, got {}", flags.len()))
}

fn parse_properties(value: &str) -> std::result::Result<Vec<Column>, String> {
    let parts: Vec<&str> = value.split(':').collect();
    if !parts.len().is_multiple_of(3) {
        return Err(format!(
            "Properties must be name:type:count triples, got '{value}'"
        ));
    }
    let mut columns = Vec::new();
    let mut start = 0;
    for triple in parts.chunks(3) {
        let kind = match triple[1] {
            "S" | "R" | "I" | "L" => triple[1].chars().next().unwrap_or('S'),
            t => {
                return Err(format!(
                    "unknown Properties type '{t}' (expected S, R, I or L)"
                ))
            }
        };
        let width: usize = triple[2]
            .parse()
            .ok()
            .filter(|w| (1..=1000).contains(w))
            .ok_or_else(|| format!("bad Properties column count '{}'", triple[2]))?;
        columns.push(Column {
            name: triple[0].to_string(),
            kind,
            width,
            start,
        });
        start += width;
    }
    Ok(columns)
}

/// Extended XYZ text for `frames`: `Lattice`, `Properties` (`species`, `pos`, and `forces`
/// when present), `energy`, the stress under its own key, `pbc`, then `info` keys (quoted
/// when they contain spaces, quotes or `=`). Forces are written only when there is one per
/// atom. Reals are written with 10 decimals, energies and
/// stresses in shortest round-trip form.
pub fn format_extxyz(frames: &[Frame]) -> String {
    let mut out = String::new();
    for frame in frames {
        let s = &frame.structure;
        let m = s.lattice().matrix();
        let lattice: Vec<String> = (0..3)
            .flat_map(|i| (0..3).map(move |k| format!("{:.10}", m[(i, k)])))
            .collect();
        // Forces that do not match the atoms one to one would corrupt the columns.
        let forces = frame.forces.as_ref().filter(|f| f.len() == s.len());
        out.push_str(&format!(
            "{}\nLattice=\"{}\" Properties=species:S:1:pos:R:3",
            s.len(),
            lattice.join(" ")
        ));
        if forces.is_some() {
            out.push_str(":forces:R:3");
        }
        if let Some(e) = frame.energy {
            out.push_str(&format!(" energy={e}"));
        }
        if let Some(stress) = &frame.stress {
            let v: Vec<String> = stress.values.iter().map(|x| x.to_string()).collect();
            out.push_str(&format!(" {}=\"{}\"", stress.key, v.join(" ")));
        }
        let pbc: Vec<&str> = s.pbc().iter().map(|&p| if p { "T" } else { "F" }).collect();
        out.push_str(&format!(" pbc=\"{}\"", pbc.join(" ")));
        for (key, value) in &frame.info {
            out.push_str(&format!(" {}={}", quote(key), quote(value)));
        }
        out.push('\n');
        for (i, (p, symbol)) in s.positions().iter().zip(s.symbols()).enumerate() {
            out.push_str(&format!(
                "{symbol:<3}{:>18.10}{:>18.10}{:>18.10}",
                p[0], p[1], p[2]
            ));
            if let Some(f) = forces.map(|f| f[i]) {
                out.push_str(&format!("{:>18.10}{:>18.10}{:>18.10}", f[0], f[1], f[2]));
            }
            out.push('\n');
        }
    }
    out
}

/// Quotes a header word when it would not survive as a bare word.
fn quote(word: &str) -> String {
    if !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || "\"=\\[{".contains(c)) {
        return word.to_string();
    }
    let escaped = word
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structure::tests::rocksalt;

    const TWO: &str = "2\n\
        Lattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3:Z:I:1:forces:R:3 \
        energy=-7.5 pbc=\"T T F\" virial_stress_kB=\"1 2 3 4 5 6\" config_type=Bulk flag \
        note=\"a \\\"b\\\" c\" arr=[1, 2]\n\
        Na 0 0 0 11 0.1 0.2 0.3\n\
        Cl 2 2 2 17 -0.1 -0.2 -0.3\n\
        \n\
        1\n\
        Lattice=\"3 0 0 0 3 0 0 0 3\" Properties=pos:R:3:species:S:1 ENERGY=1e-3 \
        stress=\"1 0 0 0 1 0 0 0 1\"\n\
        0.5 0.5 0.5 Si\n\n";

    fn err(text: &str) -> String {
        parse_extxyz_str(text, "t.xyz").unwrap_err().to_string()
    }

    #[test]
    fn reads_labels_columns_and_info() {
        let frames = parse_extxyz_str(TWO, "t.xyz").unwrap();
        assert_eq!(frames.len(), 2);
        let f = &frames[0];
        assert_eq!(f.structure.numbers(), &[11, 17]);
        assert_eq!(f.structure.pbc(), [true, true, false]);
        assert_eq!(f.energy, Some(-7.5));
        let forces = f.forces.as_ref().unwrap();
        assert_eq!(forces[1], Vec3::new(-0.1, -0.2, -0.3));
        let stress = f.stress.as_ref().unwrap();
        assert_eq!(stress.key, "virial_stress_kB");
        assert_eq!(stress.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(f.info["config_type"], "Bulk");
        assert_eq!(f.info["flag"], "T");
        assert_eq!(f.info["note"], "a \"b\" c");
        assert_eq!(f.info["arr"], "[1, 2]");
        let g = &frames[1];
        assert_eq!(g.structure.numbers(), &[14]);
        assert_eq!(g.energy, Some(1e-3));
        assert_eq!(g.forces, None);
        assert_eq!(g.stress.as_ref().unwrap().values.len(), 9);
        assert!((g.structure.positions()[0] - Vec3::repeat(0.5)).norm() < 1e-15);
    }

    #[test]
    fn round_trip() {
        let mut frames = parse_extxyz_str(TWO, "t.xyz").unwrap();
        frames.push(Frame::new(rocksalt(5.64)));
        let back = parse_extxyz_str(&format_extxyz(&frames), "t.xyz").unwrap();
        assert_eq!(back.len(), 3);
        for (a, b) in frames.iter().zip(&back) {
            assert_eq!(a.energy, b.energy);
            assert_eq!(a.stress, b.stress);
            assert_eq!(a.info, b.info);
            assert_eq!(a.structure.numbers(), b.structure.numbers());
            assert_eq!(a.structure.pbc(), b.structure.pbc());
            let dl = a.structure.lattice().matrix() - b.structure.lattice().matrix();
            assert!(dl.abs().max() < 1e-10);
            for (p, q) in a.structure.positions().iter().zip(b.structure.positions()) {
                assert!((p - q).norm() < 1e-9);
            }
            assert_eq!(a.forces.is_some(), b.forces.is_some());
            for (p, q) in a.forces.iter().flatten().zip(b.forces.iter().flatten()) {
                assert!((p - q).norm() < 1e-9);
            }
        }
    }

    #[test]
    fn errors_name_the_line() {
        let frame = |header: &str, atoms: &str| format!("1\n{header}\n{atoms}\n");
        let lat = "Lattice=\"3 0 0 0 3 0 0 0 3\"";
        assert!(err("x\n").starts_with("t.xyz:1: expected the atom count of frame 0, got 'x'"));
        assert!(err("").starts_with("t.xyz:1: no frames"));
        assert!(err("18446744073709551615\nx\n").starts_with("t.xyz:1: frame 0 declares"));
        let e = err(&format!("{}\n3\n{lat}\nSi 0 0 0\n", frame(lat, "Si 0 0 0")));
        assert!(
            e.starts_with("t.xyz:5: frame 1 declares 3 atoms but the file ends 2 lines later"),
            "{e}"
        );
        let e = err(&frame("Lattice=\"3 0 0 0 3 0 0 0\"", "Si 0 0 0"));
        assert!(e.starts_with("t.xyz:2: Lattice needs 9 numbers"), "{e}");
        let e = err(&frame(&format!("{lat} pbc=\"T T\""), "Si 0 0 0"));
        assert!(e.starts_with("t.xyz:2: pbc needs 3 flags"), "{e}");
        let e = err(&frame(&format!("{lat} energy=abc"), "Si 0 0 0"));
        assert!(
            e.starts_with("t.xyz:2: expected a number for energy"),
            "{e}"
        );
        let e = err(&frame(&format!("{lat} note=\"open"), "Si 0 0 0"));
        assert!(e.starts_with("t.xyz:2: unclosed quote"), "{e}");
        let e = err(&frame(
            &format!("{lat} Properties=species:S:1:pos:R"),
            "Si 0 0 0",
        ));
        assert!(e.starts_with("t.xyz:2: Properties must be"), "{e}");
        let e = err(&frame(
            &format!("{lat} Properties=species:S:1:pos:R:2"),
            "Si 0 0",
        ));
        assert!(
            e.starts_with("t.xyz:2: Properties column 'pos' must be R:3"),
            "{e}"
        );
        let e = err(&frame(lat, "Si 0 0"));
        assert!(e.starts_with("t.xyz:3: expected 4 columns"), "{e}");
        let e = err(&frame(lat, "Qq 0 0 0"));
        assert!(e.starts_with("t.xyz:3: 'Qq' is not an element"), "{e}");
        let e = err(&frame(lat, "Si 0 x 0"));
        assert!(
            e.starts_with("t.xyz:3: expected a number for a position"),
            "{e}"
        );
        let e = err(&frame("Lattice=\"0 3 0 3 0 0 0 0 3\"", "Si 0 0 0"));
        assert!(e.starts_with("t.xyz:2: left-handed"), "{e}");
        let e = parse_extxyz_str(&frame("energy=1", "Si 0 0 0"), "t.xyz").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidStructure(m) if m.contains("t.xyz:2: frame 0 has no Lattice")),
            "{e}"
        );
    }

    #[test]
    fn never_panics_on_truncated_text() {
        for cut in 0..TWO.len() {
            let _ = parse_extxyz_str(&TWO[..cut], "t.xyz");
        }
    }
}
