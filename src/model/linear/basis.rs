//! The atomic cluster expansion (Drautz 2019) as a linear basis of a centre's neighbour
//! density, up to correlation order 4 (body order 5).
//!
//! One-particle functions φ_{znlm}(r_ij) = R_n(r_ij) Y_lm(r̂_ij) of neighbours of species z
//! are summed into the density A_{znlm} = Σ_j φ; the invariants are products of ν density
//! components contracted over m:
//! - ν = 1: A_{zn00};
//! - ν = 2: Σ_m A_{z₁n₁lm} A_{z₂n₂lm};
//! - ν = 3: Σ G(l₁m₁, l₂m₂, l₃m₃) A A A with the real Gaunt coefficients (l₁+l₂+l₃ even:
//!   for three densities, the complete set of parity-even invariants);
//! - ν = 4: Σ_M [A₁A₂]_{LM} [A₃A₄]_{LM}, each pair coupled to (L, M) by Gaunt coefficients, for
//!   every admissible intermediate L (the parity-even couplings; the odd-L ones are left out).
//!
//! Tuples are taken in non-decreasing order of (z, n, l) (the products are symmetric), with
//! a total degree Σ (n + l) ≤ D_ν per order: the ACE / MTP "level" truncation, which keeps
//! the basis size polynomial and puts the resolution where the radial and angular orders
//! are low. Self-interactions (j = k in the products) are kept, as in ACE; they do not change
//! the span.

use serde::{Deserialize, Serialize};

use super::coupling::{gaunt, SphereRule};
use super::harmonics;
use crate::error::{Error, Result};

/// What the basis holds: radial and angular orders and a total degree per correlation order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BasisConfig {
    /// Radial functions per one-particle basis, n = 0..n_max−1.
    pub n_max: usize,
    pub l_max: usize,
    /// Maximum Σ (n + l) for correlation orders 1, 2, … (at most 4 entries).
    pub degrees: Vec<usize>,
}

impl BasisConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Model(format!("linear basis: {what}")));
        if self.n_max == 0 || self.n_max > 32 {
            return bad(format!("n_max {} is outside 1..=32", self.n_max));
        }
        if self.l_max > 10 {
            return bad(format!("l_max {} is above 10", self.l_max));
        }
        if self.degrees.is_empty() || self.degrees.len() > 4 {
            return bad(format!(
                "{} correlation orders given; 1 to 4 are supported",
                self.degrees.len()
            ));
        }
        Ok(())
    }
}

/// One term c Π A_{index} of an invariant (or of a fitted energy polynomial).
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub coefficient: f64,
    /// Density indices, sorted; only the first `order` are used.
    pub indices: [u32; 4],
    pub order: u8,
}

/// The invariants of one basis, each a list of terms.
#[derive(Clone, Debug)]
pub struct Basis {
    pub config: BasisConfig,
    pub n_species: usize,
    /// Terms of invariant k: `terms[offsets[k]..offsets[k + 1]]`.
    terms: Vec<Term>,
    offsets: Vec<usize>,
    /// Correlation order of each invariant.
    orders: Vec<u8>,
}

/// One-particle label (z, n, l).
type Label = (usize, usize, usize);

impl Basis {
    pub fn new(config: &BasisConfig, n_species: usize) -> Result<Self> {
        config.validate()?;
        let rule = SphereRule::new(config.l_max);
        let mut basis = Basis {
            config: config.clone(),
            n_species,
            terms: Vec::new(),
            offsets: vec![0],
            orders: Vec::new(),
        };
        for (k, &degree) in config.degrees.iter().enumerate() {
            let labels: Vec<Label> = (0..n_species)
                .flat_map(|z| {
                    (0..config.n_max).flat_map(move |n| (0..=config.l_max).map(move |l| (z, n, l)))
                })
                .filter(|&(_, n, l)| n + l <= degree)
                .collect();
            let mut tuple = Vec::new();
            basis.add_tuples(&rule, &labels, k + 1, degree, 0, &mut tuple);
        }
        Ok(basis)
    }

    /// Recursively enumerates non-decreasing tuples of `order` labels within `degree`.
    fn add_tuples(
        &mut self,
        rule: &SphereRule,
        labels: &[Label],
        order: usize,
        degree: usize,
        start: usize,
        tuple: &mut Vec<Label>,
    ) {
        if tuple.len() == order {
            self.add_invariants(rule, tuple);
            return;
        }
        let used: usize = tuple.iter().map(|&(_, n, l)| n + l).sum();
        for k in start..labels.len() {
            let (_, n, l) = labels[k];
            if used + n + l > degree {
                continue;
            }
            tuple.push(labels[k]);
            self.add_tuples(rule, labels, order, degree, k, tuple);
            tuple.pop();
        }
    }

    /// Density index of (z, n, l, m).
    fn index(&self, (z, n, l): Label, m: i64) -> u32 {
        let per_radial = harmonics::count(self.config.l_max);
        ((z * self.config.n_max + n) * per_radial + harmonics::index(l, m)) as u32
    }

    /// Number of density components A_p.
    pub fn density_len(&self) -> usize {
        self.n_species * self.config.n_max * harmonics::count(self.config.l_max)
    }

    /// Every invariant of the labels in `t` (one for ν ≤ 3, one per intermediate L for ν = 4).
    fn add_invariants(&mut self, rule: &SphereRule, t: &[Label]) {
        let l: Vec<usize> = t.iter().map(|x| x.2).collect();
        let mut invariants: Vec<Vec<(f64, Vec<u32>)>> = Vec::new();
        match t.len() {
            1 if l[0] == 0 => invariants.push(vec![(1.0, vec![self.index(t[0], 0)])]),
            2 if l[0] == l[1] => invariants.push(
                (-(l[0] as i64)..=l[0] as i64)
                    .map(|m| (1.0, vec![self.index(t[0], m), self.index(t[1], m)]))
                    .collect(),
            ),
            3 if (l[0] + l[1] + l[2]).is_multiple_of(2) && triangle(l[0], l[1], l[2]) => invariants
                .push(
                    gaunt(rule, [l[0], l[1], l[2]])
                        .into_iter()
                        .map(|(m, g)| {
                            let idx = (0..3).map(|k| self.index(t[k], m[k])).collect();
                            (g, idx)
                        })
                        .collect(),
                ),
            4 => {
                let top = (l[0] + l[1]).min(l[2] + l[3]).min(self.config.l_max);
                let bottom = l[0].abs_diff(l[1]).max(l[2].abs_diff(l[3]));
                for big_l in bottom..=top {
                    if !(l[0] + l[1] + big_l).is_multiple_of(2)
                        || !(l[2] + l[3] + big_l).is_multiple_of(2)
                    {
                        continue;
                    }
                    let left = gaunt(rule, [l[0], l[1], big_l]);
                    let right = gaunt(rule, [l[2], l[3], big_l]);
                    let mut terms = Vec::new();
                    for (ma, ga) in &left {
                        for (mb, gb) in right.iter().filter(|(mb, _)| mb[2] == ma[2]) {
                            let idx = vec![
                                self.index(t[0], ma[0]),
                                self.index(t[1], ma[1]),
                                self.index(t[2], mb[0]),
                                self.index(t[3], mb[1]),
                            ];
                            terms.push((ga * gb, idx));
                        }
                    }
                    invariants.push(terms);
                }
            }
            _ => {}
        }
        for terms in invariants {
            let merged = merge(terms.into_iter().map(|(c, idx)| term(c, idx)));
            if merged.is_empty() {
                continue;
            }
            self.terms.extend(merged);
            self.offsets.push(self.terms.len());
            self.orders.push(t.len() as u8);
        }
    }

    /// Number of invariants.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Correlation order of every invariant.
    pub fn orders(&self) -> &[u8] {
        &self.orders
    }

    fn terms_of(&self, k: usize) -> &[Term] {
        &self.terms[self.offsets[k]..self.offsets[k + 1]]
    }

    /// B_k(A) for every invariant.
    pub fn values(&self, a: &[f64]) -> Vec<f64> {
        (0..self.len())
            .map(|k| self.terms_of(k).iter().map(|t| t.value(a)).sum())
            .collect()
    }

    /// ∂B_k/∂A_p, row-major K × P, with B_k.
    pub fn jacobian(&self, a: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let p = self.density_len();
        let mut jac = vec![0.0; self.len() * p];
        let mut values = vec![0.0; self.len()];
        for (k, value) in values.iter_mut().enumerate() {
            let row = &mut jac[k * p..(k + 1) * p];
            for t in self.terms_of(k) {
                *value += t.accumulate_gradient(a, 1.0, row);
            }
        }
        (values, jac)
    }

    /// The polynomial Σ_k w_k B_k(A) as one merged list of terms.
    pub fn polynomial(&self, weights: &[f64]) -> Vec<Term> {
        merge((0..self.len()).flat_map(|k| {
            self.terms_of(k).iter().map(move |t| Term {
                coefficient: t.coefficient * weights[k],
                ..t.clone()
            })
        }))
    }
}

fn triangle(a: usize, b: usize, c: usize) -> bool {
    a.abs_diff(b) <= c && c <= a + b
}

fn term(coefficient: f64, mut idx: Vec<u32>) -> Term {
    idx.sort_unstable();
    let mut indices = [0; 4];
    indices[..idx.len()].copy_from_slice(&idx);
    Term {
        coefficient,
        indices,
        order: idx.len() as u8,
    }
}

/// Adds up terms with the same indices and drops those that cancel.
fn merge(terms: impl Iterator<Item = Term>) -> Vec<Term> {
    let mut sums: std::collections::BTreeMap<(u8, [u32; 4]), f64> = Default::default();
    for t in terms {
        *sums.entry((t.order, t.indices)).or_default() += t.coefficient;
    }
    sums.into_iter()
        .filter(|(_, c)| c.abs() > 1e-15)
        .map(|((order, indices), coefficient)| Term {
            coefficient,
            indices,
            order,
        })
        .collect()
}

impl Term {
    pub fn value(&self, a: &[f64]) -> f64 {
        self.indices[..self.order as usize]
            .iter()
            .fold(self.coefficient, |v, &i| v * a[i as usize])
    }

    /// Adds scale · ∂(term)/∂A into `gradient` and returns the term's value.
    pub fn accumulate_gradient(&self, a: &[f64], scale: f64, gradient: &mut [f64]) -> f64 {
        let idx = &self.indices[..self.order as usize];
        let mut x = [0.0; 4];
        for (x, &i) in x.iter_mut().zip(idx) {
            *x = a[i as usize];
        }
        let c = self.coefficient;
        match idx.len() {
            1 => {
                gradient[idx[0] as usize] += scale * c;
                c * x[0]
            }
            2 => {
                gradient[idx[0] as usize] += scale * c * x[1];
                gradient[idx[1] as usize] += scale * c * x[0];
                c * x[0] * x[1]
            }
            3 => {
                gradient[idx[0] as usize] += scale * c * x[1] * x[2];
                gradient[idx[1] as usize] += scale * c * x[0] * x[2];
                gradient[idx[2] as usize] += scale * c * x[0] * x[1];
                c * x[0] * x[1] * x[2]
            }
            _ => {
                let (p01, p23) = (x[0] * x[1], x[2] * x[3]);
                gradient[idx[0] as usize] += scale * c * x[1] * p23;
                gradient[idx[1] as usize] += scale * c * x[0] * p23;
                gradient[idx[2] as usize] += scale * c * p01 * x[3];
                gradient[idx[3] as usize] += scale * c * p01 * x[2];
                c * p01 * p23
            }
        }
    }
}
