//! Crystal structures: a lattice, atomic numbers and Cartesian positions, validated on
//! construction so that every computation downstream can trust them.

use crate::cell::{Lattice, Mat3, Vec3};
use crate::elements;
use crate::error::{Error, Result};

/// A periodic (or partly periodic) crystal structure.
///
/// Invariants, checked by [`Structure::new`]: at least one atom, every atomic number in
/// 1..=118, every coordinate finite, a non-singular right-handed lattice.
#[derive(Clone, Debug, PartialEq)]
pub struct Structure {
    lattice: Lattice,
    numbers: Vec<u8>,
    positions: Vec<Vec3>,
    pbc: [bool; 3],
}

impl Structure {
    /// Validates and builds a structure from Cartesian positions (Å).
    pub fn new(
        lattice: Lattice,
        numbers: Vec<u8>,
        positions: Vec<Vec3>,
        pbc: [bool; 3],
    ) -> Result<Self> {
        if numbers.is_empty() {
            return Err(Error::InvalidStructure("the structure has no atoms".into()));
        }
        if numbers.len() != positions.len() {
            return Err(Error::InvalidStructure(format!(
                "{} atomic numbers but {} positions",
                numbers.len(),
                positions.len()
            )));
        }
        if let Some(i) = numbers
            .iter()
            .position(|&z| z == 0 || z > elements::MAX_ATOMIC_NUMBER)
        {
            return Err(Error::InvalidStructure(format!(
                "atom {i} has atomic number {}, outside 1..=118",
                numbers[i]
            )));
        }
        if let Some(i) = positions
            .iter()
            .position(|p| p.iter().any(|x| !x.is_finite()))
        {
            return Err(Error::InvalidStructure(format!(
                "atom {i} has a NaN or infinite coordinate {:?}",
                positions[i].as_slice()
            )));
        }
        if lattice.volume() < 0.0 {
            return Err(Error::InvalidStructure(format!(
                "left-handed lattice (det = {:.6} Å^3 < 0): swap two lattice vectors",
                lattice.volume()
            )));
        }
        Ok(Structure {
            lattice,
            numbers,
            positions,
            pbc,
        })
    }

    /// Builds a structure from fractional coordinates.
    pub fn from_fractional(
        lattice: Lattice,
        numbers: Vec<u8>,
        frac: &[Vec3],
        pbc: [bool; 3],
    ) -> Result<Self> {
        let positions = frac.iter().map(|f| lattice.to_cartesian(f)).collect();
        Self::new(lattice, numbers, positions, pbc)
    }

    pub fn lattice(&self) -> &Lattice {
        &self.lattice
    }

    /// Atomic numbers Z, one per atom.
    pub fn numbers(&self) -> &[u8] {
        &self.numbers
    }

    /// Cartesian positions (Å).
    pub fn positions(&self) -> &[Vec3] {
        &self.positions
    }

    /// Periodicity along a, b, c.
    pub fn pbc(&self) -> [bool; 3] {
        self.pbc
    }

    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// Never true for a valid structure; provided for API completeness.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Volume of the cell (Å^3, positive).
    pub fn volume(&self) -> f64 {
        self.lattice.volume()
    }

    /// Fractional coordinates of every atom (not wrapped).
    pub fn fractional_positions(&self) -> Vec<Vec3> {
        let inv = self.lattice.inverse();
        self.positions.iter().map(|p| inv.tr_mul(p)).collect()
    }

    /// Element symbols of every atom.
    pub fn symbols(&self) -> Vec<&'static str> {
        self.numbers
            .iter()
            .map(|&z| elements::symbol(z).expect("Structure invariant: valid Z"))
            .collect()
    }

    /// The same structure with fractional coordinates wrapped into [0, 1) along periodic axes.
    pub fn wrapped(&self) -> Structure {
        let frac: Vec<Vec3> = self
            .fractional_positions()
            .into_iter()
            .map(|mut f| {
                for k in 0..3 {
                    if self.pbc[k] {
                        f[k] -= f[k].floor();
                        // rem_euclid-like rounding can give exactly 1.0 for tiny negatives
                        if f[k] >= 1.0 {
                            f[k] = 0.0;
                        }
                    }
                }
                f
            })
            .collect();
        let positions = frac.iter().map(|f| self.lattice.to_cartesian(f)).collect();
        Structure {
            positions,
            ..self.clone()
        }
    }

    /// The same crystal described by the LLL-reduced basis of its lattice (positions unchanged).
    pub fn with_reduced_lattice(&self) -> Structure {
        Structure {
            lattice: self.lattice.lll_reduced().0,
            ..self.clone()
        }
    }

    /// An `na × nb × nc` supercell; atoms are ordered image-major (all atoms of image (0,0,0)
    /// first, then image (0,0,1), …), each image in the original atom order.
    pub fn supercell(&self, reps: [usize; 3]) -> Result<Structure> {
        if reps.contains(&0) {
            return Err(Error::InvalidInput(format!(
                "supercell repetitions must be >= 1, got {reps:?}"
            )));
        }
        let m = self.lattice.matrix();
        let scale = Mat3::from_diagonal(&Vec3::new(reps[0] as f64, reps[1] as f64, reps[2] as f64));
        let lattice = Lattice::from_matrix(scale * m)?;
        let mut numbers = Vec::with_capacity(self.len() * reps.iter().product::<usize>());
        let mut positions = Vec::with_capacity(numbers.capacity());
        for i in 0..reps[0] {
            for j in 0..reps[1] {
                for k in 0..reps[2] {
                    let shift = self
                        .lattice
                        .to_cartesian(&Vec3::new(i as f64, j as f64, k as f64));
                    numbers.extend_from_slice(&self.numbers);
                    positions.extend(self.positions.iter().map(|p| p + shift));
                }
            }
        }
        Structure::new(lattice, numbers, positions, self.pbc)
    }

    /// A human-readable chemical formula in order of first appearance, e.g. "Na4Cl4".
    pub fn formula(&self) -> String {
        let mut counts: Vec<(u8, usize)> = Vec::new();
        for &z in &self.numbers {
            match counts.iter_mut().find(|(y, _)| *y == z) {
                Some((_, n)) => *n += 1,
                None => counts.push((z, 1)),
            }
        }
        counts
            .iter()
            .map(|&(z, n)| {
                let s = elements::symbol(z).expect("Structure invariant: valid Z");
                if n == 1 {
                    s.to_string()
                } else {
                    format!("{s}{n}")
                }
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `s` with atom `atom` moved by `h` along Cartesian `axis` (finite differences).
    pub(crate) fn moved(s: &Structure, atom: usize, axis: usize, h: f64) -> Structure {
        let mut positions = s.positions().to_vec();
        positions[atom][axis] += h;
        Structure::new(*s.lattice(), s.numbers().to_vec(), positions, s.pbc()).unwrap()
    }

    /// `s` under the homogeneous strain x → (1 + ε) x of atoms and cell.
    pub(crate) fn strained(s: &Structure, eps: &crate::cell::Mat3) -> Structure {
        let f = crate::cell::Mat3::identity() + eps;
        let l = Lattice::from_matrix(s.lattice().matrix() * f.transpose()).unwrap();
        let positions = s.positions().iter().map(|x| f * x).collect();
        Structure::new(l, s.numbers().to_vec(), positions, s.pbc()).unwrap()
    }

    /// Rock-salt NaCl, conventional cubic cell of edge `a`.
    pub(crate) fn rocksalt(a: f64) -> Structure {
        let lattice = Lattice::from_rows([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]).unwrap();
        let fcc = [
            [0.0, 0.0, 0.0],
            [0.0, 0.5, 0.5],
            [0.5, 0.0, 0.5],
            [0.5, 0.5, 0.0],
        ];
        let mut frac = Vec::new();
        let mut numbers = Vec::new();
        for (z, shift) in [(11u8, 0.0), (17u8, 0.5)] {
            for f in fcc {
                frac.push(Vec3::new(f[0] + shift, f[1], f[2]));
                numbers.push(z);
            }
        }
        Structure::from_fractional(lattice, numbers, &frac, [true; 3]).unwrap()
    }

    #[test]
    fn validation_names_the_problem() {
        let l = Lattice::from_rows([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]]).unwrap();
        let err = Structure::new(l, vec![], vec![], [true; 3]).unwrap_err();
        assert!(err.to_string().contains("no atoms"));
        let err = Structure::new(l, vec![0], vec![Vec3::zeros()], [true; 3]).unwrap_err();
        assert!(err.to_string().contains("atomic number 0"));
        let err =
            Structure::new(l, vec![1], vec![Vec3::new(f64::NAN, 0.0, 0.0)], [true; 3]).unwrap_err();
        assert!(err.to_string().contains("NaN"));
        let left = Lattice::from_rows([[0.0, 3.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 3.0]]).unwrap();
        let err = Structure::new(left, vec![1], vec![Vec3::zeros()], [true; 3]).unwrap_err();
        assert!(err.to_string().contains("left-handed"));
    }

    #[test]
    fn supercell_wrap_and_formula() {
        let s = rocksalt(5.64);
        assert_eq!(s.formula(), "Na4Cl4");
        let sc = s.supercell([2, 1, 3]).unwrap();
        assert_eq!(sc.len(), 48);
        assert!((sc.volume() - 6.0 * s.volume()).abs() < 1e-9);
        let shifted = Structure::new(
            *s.lattice(),
            s.numbers().to_vec(),
            s.positions()
                .iter()
                .map(|p| p - Vec3::new(7.0, -13.0, 0.1))
                .collect(),
            [true; 3],
        )
        .unwrap()
        .wrapped();
        assert!(shifted
            .fractional_positions()
            .iter()
            .all(|f| f.iter().all(|x| (0.0..1.0).contains(x))));
    }
}
