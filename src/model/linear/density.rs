//! A centre's neighbour density A_{znlm} = Σ_j R_n(r_ij) Y_lm(r̂_ij), with what its
//! derivatives need kept per neighbour.

use super::harmonics;
use super::radial::Radial;
use crate::cell::Vec3;

/// The density of one centre and the per-neighbour radial and angular values.
pub struct Density {
    pub a: Vec<f64>,
    n_max: usize,
    n_y: usize,
    /// Per neighbour: species index, unit vector, distance.
    species: Vec<usize>,
    units: Vec<Vec3>,
    /// Per neighbour: R_n, dR_n/dr (n_max each), Y_lm (n_y) and ∇Y_lm (n_y).
    radial: Vec<f64>,
    d_radial: Vec<f64>,
    y: Vec<f64>,
    dy: Vec<Vec3>,
    /// Index in the caller's neighbour list of each kept neighbour (those within the cutoff).
    pub kept: Vec<usize>,
}

impl Density {
    /// `radials[z]` are the radial functions between the centre and species z; neighbours
    /// are (species, vector from the centre); those at or beyond `cutoff` are dropped.
    pub fn new(
        radials: &[Radial],
        l_max: usize,
        cutoff: f64,
        neighbours: impl Iterator<Item = (usize, Vec3)>,
    ) -> Self {
        let n_max = radials.first().map_or(0, |r| r.n_max);
        let n_y = harmonics::count(l_max);
        let mut d = Density {
            a: vec![0.0; radials.len() * n_max * n_y],
            n_max,
            n_y,
            species: Vec::new(),
            units: Vec::new(),
            radial: Vec::new(),
            d_radial: Vec::new(),
            y: Vec::new(),
            dy: Vec::new(),
            kept: Vec::new(),
        };
        let (mut r_buf, mut dr_buf) = (vec![0.0; n_max], vec![0.0; n_max]);
        let (mut y_buf, mut dy_buf) = (vec![0.0; n_y], vec![Vec3::zeros(); n_y]);
        for (k, (z, v)) in neighbours.enumerate() {
            let r = v.norm();
            if r >= cutoff {
                continue;
            }
            radials[z].evaluate(r, &mut r_buf, &mut dr_buf);
            harmonics::evaluate(&v, l_max, &mut y_buf, Some(&mut dy_buf));
            let block = &mut d.a[z * n_max * n_y..(z + 1) * n_max * n_y];
            for (n, &rn) in r_buf.iter().enumerate() {
                for (a, &y) in block[n * n_y..(n + 1) * n_y].iter_mut().zip(&y_buf) {
                    *a += rn * y;
                }
            }
            d.species.push(z);
            d.units.push(v / r);
            d.radial.extend_from_slice(&r_buf);
            d.d_radial.extend_from_slice(&dr_buf);
            d.y.extend_from_slice(&y_buf);
            d.dy.extend_from_slice(&dy_buf);
            d.kept.push(k);
        }
        d
    }

    /// Neighbours kept.
    pub fn count(&self) -> usize {
        self.species.len()
    }

    pub fn species(&self, j: usize) -> usize {
        self.species[j]
    }

    /// Offset of species z's block in the density.
    pub fn block_start(&self, z: usize) -> usize {
        z * self.n_max * self.n_y
    }

    /// Size of one species' block (n_max · n_y).
    pub fn block_len(&self) -> usize {
        self.n_max * self.n_y
    }

    /// ∂E/∂r_j for kept neighbour j, given the adjoint ∂E/∂A:
    /// r̂ Σ_n R'_n (Σ_lm Ā Y) + Σ_lm (Σ_n Ā R_n) ∇Y.
    pub fn gradient(&self, j: usize, adjoint: &[f64]) -> Vec3 {
        let (n_max, n_y) = (self.n_max, self.n_y);
        let block = &adjoint[self.block_start(self.species[j])..][..n_max * n_y];
        let y = &self.y[j * n_y..(j + 1) * n_y];
        let dy = &self.dy[j * n_y..(j + 1) * n_y];
        let radial = &self.radial[j * n_max..(j + 1) * n_max];
        let d_radial = &self.d_radial[j * n_max..(j + 1) * n_max];
        let mut along = 0.0;
        let mut angular = vec![0.0; n_y];
        for n in 0..n_max {
            let row = &block[n * n_y..(n + 1) * n_y];
            along += d_radial[n] * row.iter().zip(y).map(|(a, y)| a * y).sum::<f64>();
            for (v, a) in angular.iter_mut().zip(row) {
                *v += a * radial[n];
            }
        }
        let mut g = self.units[j] * along;
        for (v, d) in angular.iter().zip(dy) {
            g += d * *v;
        }
        g
    }

    /// The gradient columns of neighbour j's one-particle functions, for the design matrix:
    /// for each (n, lm) of its species block, (R'_n Y_lm, R_n ∇Y_lm) so that
    /// ∇φ = R'_n Y r̂ + R_n ∇Y. Written into `out` as block_len × 4, row-major.
    pub fn gradient_columns(&self, j: usize, out: &mut [f64]) {
        let (n_max, n_y) = (self.n_max, self.n_y);
        let y = &self.y[j * n_y..(j + 1) * n_y];
        let dy = &self.dy[j * n_y..(j + 1) * n_y];
        for n in 0..n_max {
            let (rn, drn) = (self.radial[j * n_max + n], self.d_radial[j * n_max + n]);
            for lm in 0..n_y {
                let row = &mut out[(n * n_y + lm) * 4..][..4];
                row[0] = drn * y[lm];
                row[1] = rn * dy[lm][0];
                row[2] = rn * dy[lm][1];
                row[3] = rn * dy[lm][2];
            }
        }
    }

    pub fn unit(&self, j: usize) -> Vec3 {
        self.units[j]
    }
}
