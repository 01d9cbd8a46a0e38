//! Lattice geometry: volume, reciprocal basis, cell parameters and basis reduction.
//!
//! Convention used everywhere in crystalpot: a lattice matrix has the lattice vectors a, b, c
//! as its ROWS (Å), and a Cartesian position is the row vector `f · L` of its fractional
//! coordinates `f`. With nalgebra column vectors that is `L^T f`.

use nalgebra::{Matrix3, Vector3};

use crate::error::{Error, Result};

pub type Mat3 = Matrix3<f64>;
pub type Vec3 = Vector3<f64>;

/// A 3-D lattice, rows = lattice vectors (Å). Always finite and non-singular.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lattice {
    rows: Mat3,
}

impl Lattice {
    /// Builds a lattice from its three row vectors; fails on NaN/inf or a (near-)singular basis.
    pub fn from_rows(rows: [[f64; 3]; 3]) -> Result<Self> {
        Self::from_matrix(Mat3::from_row_slice(rows.as_flattened()))
    }

    /// Builds a lattice from a matrix whose rows are a, b, c.
    pub fn from_matrix(rows: Mat3) -> Result<Self> {
        if rows.iter().any(|x| !x.is_finite()) {
            return Err(Error::InvalidStructure(
                "lattice contains NaN or infinite values".into(),
            ));
        }
        let lattice = Lattice { rows };
        let lengths = lattice.lengths();
        let scale = lengths[0] * lengths[1] * lengths[2];
        if scale == 0.0 || lattice.volume().abs() <= 1e-10 * scale {
            return Err(Error::InvalidStructure(format!(
                "singular lattice (volume {:.3e} Å^3 for vector lengths {:.4}, {:.4}, {:.4} Å)",
                lattice.volume(),
                lengths[0],
                lengths[1],
                lengths[2]
            )));
        }
        Ok(lattice)
    }

    /// Lattice from cell lengths (Å) and angles (degrees), oriented as pymatgen and jarvis-tools
    /// do it: c along z, a in the xz plane.
    pub fn from_parameters(lengths: [f64; 3], angles_deg: [f64; 3]) -> Result<Self> {
        let [a, b, c] = lengths;
        let [alpha, beta, gamma] = angles_deg.map(f64::to_radians);
        if lengths
            .iter()
            .chain(&angles_deg)
            .any(|x| !x.is_finite() || *x <= 0.0)
        {
            return Err(Error::InvalidStructure(format!(
                "cell parameters must be positive and finite, got lengths {lengths:?} angles {angles_deg:?}"
            )));
        }
        let val = ((alpha.cos() * beta.cos() - gamma.cos()) / (alpha.sin() * beta.sin()))
            .clamp(-1.0, 1.0);
        let gamma_star = val.acos();
        Self::from_rows([
            [a * beta.sin(), 0.0, a * beta.cos()],
            [
                -b * alpha.sin() * gamma_star.cos(),
                b * alpha.sin() * gamma_star.sin(),
                b * alpha.cos(),
            ],
            [0.0, 0.0, c],
        ])
    }

    /// The matrix whose rows are a, b, c.
    pub fn matrix(&self) -> &Mat3 {
        &self.rows
    }

    /// Lattice vector `i` (0 = a, 1 = b, 2 = c).
    pub fn vector(&self, i: usize) -> Vec3 {
        self.rows.row(i).transpose()
    }

    /// Signed volume det(L) in Å^3 (positive for a right-handed cell).
    pub fn volume(&self) -> f64 {
        self.rows.determinant()
    }

    /// Lengths |a|, |b|, |c|.
    pub fn lengths(&self) -> [f64; 3] {
        [0, 1, 2].map(|i| self.vector(i).norm())
    }

    /// Angles alpha (b,c), beta (a,c), gamma (a,b) in degrees.
    pub fn angles_deg(&self) -> [f64; 3] {
        let angle = |u: Vec3, v: Vec3| (u.dot(&v) / (u.norm() * v.norm())).clamp(-1.0, 1.0).acos();
        let (a, b, c) = (self.vector(0), self.vector(1), self.vector(2));
        [angle(b, c), angle(a, c), angle(a, b)].map(f64::to_degrees)
    }

    /// Reciprocal basis with the 2π factor: rows b_i with a_i · b_j = 2π δ_ij.
    pub fn reciprocal(&self) -> Mat3 {
        self.inverse().transpose() * std::f64::consts::TAU
    }

    /// Inverse of the row matrix: fractional = Cartesian · L^-1 (row vectors).
    pub fn inverse(&self) -> Mat3 {
        // Non-singularity is an invariant of the type.
        self.rows
            .try_inverse()
            .expect("Lattice invariant: matrix is invertible")
    }

    /// Cartesian position of fractional coordinates `frac`.
    pub fn to_cartesian(&self, frac: &Vec3) -> Vec3 {
        self.rows.tr_mul(frac)
    }

    /// Fractional coordinates of a Cartesian position.
    pub fn to_fractional(&self, cart: &Vec3) -> Vec3 {
        self.inverse().tr_mul(cart)
    }

    /// Distances between opposite faces of the cell (Å): 2π / |b_i|. A sphere of radius r
    /// around any point needs lattice indices |n_i| <= ceil(r / width_i) to be covered.
    pub fn face_distances(&self) -> [f64; 3] {
        let rec = self.reciprocal();
        [0, 1, 2].map(|i| std::f64::consts::TAU / rec.row(i).norm())
    }

    /// LLL-reduced basis of the same lattice (δ = 3/4) and the unimodular integer matrix `t`
    /// with `reduced = t · L`. Reduced bases keep lattice-sum enumeration boxes tight for
    /// skewed cells.
    pub fn lll_reduced(&self) -> (Lattice, Matrix3<i64>) {
        let mut basis = [self.vector(0), self.vector(1), self.vector(2)];
        let mut t = Matrix3::<i64>::identity();
        let mut k = 1;
        while k < 3 {
            for j in (0..k).rev() {
                let ortho = gram_schmidt(&basis);
                let mu = basis[k].dot(&ortho[j]) / ortho[j].norm_squared();
                let q = mu.round();
                if q != 0.0 {
                    basis[k] -= basis[j] * q;
                    let row_j = t.row(j).clone_owned();
                    t.set_row(k, &(t.row(k) - row_j * q as i64));
                }
            }
            let ortho = gram_schmidt(&basis);
            let mu = basis[k].dot(&ortho[k - 1]) / ortho[k - 1].norm_squared();
            if ortho[k].norm_squared() >= (0.75 - mu * mu) * ortho[k - 1].norm_squared() {
                k += 1;
            } else {
                basis.swap(k, k - 1);
                t.swap_rows(k, k - 1);
                k = (k - 1).max(1);
            }
        }
        // A reduction may flip handedness; restore it so the volume keeps its sign.
        if Mat3::from_rows(&basis.map(|v| v.transpose())).determinant() * self.volume() < 0.0 {
            basis[2] = -basis[2];
            let row = -t.row(2).clone_owned();
            t.set_row(2, &row);
        }
        let rows = Mat3::from_rows(&basis.map(|v| v.transpose()));
        (Lattice { rows }, t)
    }
}

/// Gram–Schmidt orthogonalisation (unnormalised) of three vectors.
fn gram_schmidt(basis: &[Vec3; 3]) -> [Vec3; 3] {
    let mut ortho = *basis;
    for i in 0..3 {
        for j in 0..i {
            let mu = basis[i].dot(&ortho[j]) / ortho[j].norm_squared();
            ortho[i] -= ortho[j] * mu;
        }
    }
    ortho
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_is_dual_basis() {
        let l = Lattice::from_parameters([3.6, 4.4, 5.1], [70.0, 105.0, 40.0]).unwrap();
        let prod = l.matrix() * l.reciprocal().transpose();
        let expected = Mat3::identity() * std::f64::consts::TAU;
        assert!((prod - expected).abs().max() < 1e-12);
    }

    #[test]
    fn parameters_round_trip() {
        let l = Lattice::from_parameters([3.6, 4.4, 5.1], [70.0, 105.0, 40.0]).unwrap();
        let len = l.lengths();
        let ang = l.angles_deg();
        for (x, y) in len.iter().zip([3.6, 4.4, 5.1]) {
            assert!((x - y).abs() < 1e-12);
        }
        for (x, y) in ang.iter().zip([70.0, 105.0, 40.0]) {
            assert!((x - y).abs() < 1e-10);
        }
        assert!(l.volume() > 0.0);
    }

    #[test]
    fn singular_and_nan_lattices_are_rejected() {
        let singular = Lattice::from_rows([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
        assert!(matches!(singular, Err(Error::InvalidStructure(m)) if m.contains("singular")));
        let nan = Lattice::from_rows([[f64::NAN, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        assert!(matches!(nan, Err(Error::InvalidStructure(m)) if m.contains("NaN")));
    }

    #[test]
    fn lll_reduces_a_skewed_basis_to_the_same_lattice() {
        let cubic =
            Lattice::from_rows([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 4.0]]).unwrap();
        let skew = Matrix3::<f64>::new(1.0, 5.0, -3.0, 0.0, 1.0, 7.0, 0.0, 0.0, 1.0);
        let skewed = Lattice::from_matrix(skew * cubic.matrix()).unwrap();
        let (reduced, t) = skewed.lll_reduced();
        let t_f = t.map(|x| x as f64);
        assert!((t_f * skewed.matrix() - reduced.matrix()).abs().max() < 1e-9);
        assert!((t_f.determinant().abs() - 1.0).abs() < 1e-12);
        assert!((reduced.volume() - skewed.volume()).abs() < 1e-9);
        let mut lengths = reduced.lengths();
        lengths.sort_by(f64::total_cmp);
        for (x, y) in lengths.iter().zip([2.0, 3.0, 4.0]) {
            assert!((x - y).abs() < 1e-9, "{lengths:?}");
        }
    }
}
