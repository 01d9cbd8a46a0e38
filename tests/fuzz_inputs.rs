//! Seeded, bounded fuzzing of every parser (CIF, POSCAR, extended XYZ), the model loader and
//! the computation on random structures: random bytes and random mutations of valid inputs
//! must give a value or an error, never a panic; a computed result is always finite. A fixed
//! number of cases with fixed seeds, so CI runs the same cases every time in a few seconds.

use crystalpot::cell::{Lattice, Vec3};
use crystalpot::io::{parse_structures, Format};
use crystalpot::model::Request;
use crystalpot::{Calculator, Structure};

/// xorshift64*: a dependency-free, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `base` with a few random byte edits: flips, deletions, insertions of interesting bytes.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    const INTERESTING: &[u8] = b"0123456789.-+eE \n\t'\"_#;:=[]{}";
    let mut out = base.to_vec();
    for _ in 0..1 + rng.below(8) {
        if out.is_empty() {
            out.push(INTERESTING[rng.below(INTERESTING.len())]);
            continue;
        }
        let at = rng.below(out.len());
        match rng.below(4) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => {
                out.remove(at);
            }
            2 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            _ => out.truncate(at),
        }
    }
    out
}

const POSCAR: &str =
    "NaCl\n1.0\n5.64 0 0\n0 5.64 0\n0 0 5.64\nNa Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n";
const XYZ: &str = "2\nLattice=\"5.64 0 0 0 5.64 0 0 0 5.64\" Properties=species:S:1:pos:R:3 energy=-1.5 pbc=\"T T T\"\nNa 0 0 0\nCl 2.82 2.82 2.82\n";

fn parse_never_panics(format: Format, valid: &[u8], seed: u64) {
    let mut rng = Rng(seed);
    for case in 0..1500 {
        let bytes = if case % 5 == 0 {
            (0..rng.below(200)).map(|_| rng.next() as u8).collect()
        } else {
            mutate(&mut rng, valid)
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(structures) = parse_structures(&text, "fuzz", Some(format)) {
            for s in structures {
                assert!(s
                    .positions()
                    .iter()
                    .all(|p| p.iter().all(|x| x.is_finite())));
            }
        }
    }
}

#[test]
fn the_cif_parser_survives_random_input() {
    let valid = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/SrTiO3.cif"
    ))
    .unwrap();
    parse_never_panics(Format::Cif, &valid, 1);
}

#[test]
fn the_poscar_parser_survives_random_input() {
    parse_never_panics(Format::Poscar, POSCAR.as_bytes(), 2);
}

#[test]
fn the_extended_xyz_parser_survives_random_input() {
    parse_never_panics(Format::ExtXyz, XYZ.as_bytes(), 3);
}

#[test]
fn the_model_loader_survives_random_input() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models/");
    let json = std::fs::read(format!("{dir}nacl-rigid-ion.json")).unwrap();
    let tensors = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/energy-model-Si.safetensors"
    ))
    .unwrap();
    let mut rng = Rng(4);
    let mut refused_corruption = 0;
    for case in 0..400 {
        let bytes = match case % 4 {
            0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            1 => mutate(&mut rng, &json),
            _ => {
                // One flipped bit in the tensor data (after the header): always refused.
                let header = 8 + u64::from_le_bytes(tensors[..8].try_into().unwrap()) as usize;
                let mut t = tensors.clone();
                let at = header + rng.below(t.len() - header);
                t[at] ^= 1 << rng.below(8);
                let refused = Calculator::from_bytes(&t).is_err();
                assert!(
                    refused,
                    "case {case}: a flipped bit at byte {at} was loaded"
                );
                refused_corruption += 1;
                mutate(&mut rng, &tensors)
            }
        };
        let _ = Calculator::from_bytes(&bytes);
    }
    assert_eq!(refused_corruption, 200);
}

#[test]
fn random_structures_give_a_finite_result_or_an_error() {
    let calc = Calculator::from_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/nacl-rigid-ion.json"
    )))
    .unwrap();
    let mut rng = Rng(5);
    let mut computed = 0;
    for _ in 0..60 {
        let scale = 2.0 + 10.0 * rng.uniform();
        let mut rows = [[0.0; 3]; 3];
        for (k, row) in rows.iter_mut().enumerate() {
            for (l, x) in row.iter_mut().enumerate() {
                let diagonal = if k == l { scale } else { 0.0 };
                *x = diagonal + scale * 0.6 * (rng.uniform() - 0.5);
            }
        }
        // Occasionally squash one vector: nearly singular cells must be refused cleanly.
        if rng.below(6) == 0 {
            rows[2] = [rows[0][0] * 0.5, rows[0][1] * 0.5, rows[0][2] * 0.5 + 1e-6];
        }
        let Ok(lattice) = Lattice::from_rows(rows) else {
            continue;
        };
        let n = 2 + 2 * rng.below(4);
        let numbers = (0..n).map(|i| if i % 2 == 0 { 11 } else { 17 }).collect();
        let m = lattice.matrix();
        let positions = (0..n)
            .map(|_| m.tr_mul(&Vec3::new(rng.uniform(), rng.uniform(), rng.uniform())))
            .collect();
        let Ok(s) = Structure::new(lattice, numbers, positions, [true; 3]) else {
            continue;
        };
        let request = Request {
            min_distance: 0.3,
            ..Request::all()
        };
        if let Ok(r) = calc.compute(&s, &request) {
            assert!(r.energy.is_finite() && r.energy_error_bound.is_finite());
            computed += 1;
        }
    }
    assert!(
        computed > 10,
        "only {computed} of 60 random structures were computed"
    );
}

#[test]
fn a_duplicate_element_in_model_metadata_is_refused_by_name() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/energy-model-Si.safetensors"
    );
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    // The header is rewritten with its new length; the data offsets are relative to the end
    // of the header, so the tensors stay valid (the checksum covers the tensors only).
    let edited = header.replacen(
        r#"\"elements\":[\"Si\"]"#,
        r#"\"elements\":[\"Si\",\"Si\"]"#,
        1,
    );
    assert_ne!(edited, header, "the metadata lists its elements");
    let mut out = (edited.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(edited.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    let err = Calculator::from_bytes(&out).unwrap_err().to_string();
    assert!(err.contains("element Si is listed twice"), "{err}");
}
