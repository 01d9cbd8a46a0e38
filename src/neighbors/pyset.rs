//! Iteration order of a CPython 3.11 `set` of integer 3-tuples.
//!
//! The PotNet reference builds its local graph by iterating Python sets of periodic images,
//! and PyTorch Geometric sums messages in edge order, so reproducing the reference bit for bit
//! needs the same order. It is a pure function of the hashes and the insertion sequence:
//! tuple hash = CPython's xxHash-style combination of the item hashes, an open-addressing
//! table starting at 8 slots, 9 linear probes then perturbed jumps, and growth to 4x the used
//! count once the table is 60 % full. Integral floats hash like ints, so this also covers the
//! reference's tuples of numpy floats.

const XXPRIME_1: u64 = 11_400_714_785_074_694_791;
const XXPRIME_2: u64 = 14_029_467_366_897_019_727;
const XXPRIME_5: u64 = 2_870_177_450_012_600_261;
const LINEAR_PROBES: u64 = 9;
const PERTURB_SHIFT: u32 = 5;
const MIN_SIZE: usize = 8;

/// `hash(n)` of a Python int with |n| < 2^61 - 1 (-1 is reserved for errors, so it maps to -2).
fn int_hash(n: i32) -> u64 {
    let h = if n == -1 { -2 } else { n as i64 };
    h as u64
}

/// `hash((a, b, c))` for Python ints a, b, c, as the unsigned 64-bit pattern.
fn tuple_hash(t: &[i32; 3]) -> u64 {
    let mut acc = XXPRIME_5;
    for &x in t {
        acc = acc.wrapping_add(int_hash(x).wrapping_mul(XXPRIME_2));
        acc = acc.rotate_left(31);
        acc = acc.wrapping_mul(XXPRIME_1);
    }
    acc = acc.wrapping_add(3 ^ (XXPRIME_5 ^ 3_527_539));
    if acc == u64::MAX {
        1_546_275_796
    } else {
        acc
    }
}

/// A set of integer triples that iterates in CPython's order.
#[derive(Clone, Debug)]
pub(crate) struct PySet {
    slots: Vec<Option<(u64, [i32; 3])>>,
    used: usize,
}

impl PySet {
    pub(crate) fn new() -> Self {
        PySet {
            slots: vec![None; MIN_SIZE],
            used: 0,
        }
    }

    /// `set.add(key)`: a no-op when the key is already present.
    pub(crate) fn insert(&mut self, key: [i32; 3]) {
        let hash = tuple_hash(&key);
        if let Some(slot) = probe(&self.slots, hash, Some(&key)) {
            self.slots[slot] = Some((hash, key));
            self.used += 1;
            let mask = self.slots.len() - 1;
            if self.used * 5 >= mask * 3 {
                let min_used = if self.used > 50_000 {
                    self.used * 2
                } else {
                    self.used * 4
                };
                self.resize(min_used);
            }
        }
    }

    fn resize(&mut self, min_used: usize) {
        let mut size = MIN_SIZE;
        while size <= min_used {
            size <<= 1;
        }
        let old = std::mem::replace(&mut self.slots, vec![None; size]);
        for (hash, key) in old.into_iter().flatten() {
            let slot = probe(&self.slots, hash, None).expect("a fresh table has free slots");
            self.slots[slot] = Some((hash, key));
        }
    }

    /// Elements in iteration order (table slot order).
    pub(crate) fn iter(&self) -> impl Iterator<Item = [i32; 3]> + '_ {
        self.slots.iter().flatten().map(|&(_, key)| key)
    }
}

/// The free slot where `key` would be stored, or `None` when `key` is already present
/// (`key == None` means "known absent", as in a table rebuild).
fn probe(slots: &[Option<(u64, [i32; 3])>], hash: u64, key: Option<&[i32; 3]>) -> Option<usize> {
    let mask = (slots.len() - 1) as u64;
    let mut i = hash & mask;
    let mut perturb = hash;
    loop {
        let probes = if i + LINEAR_PROBES <= mask {
            LINEAR_PROBES
        } else {
            0
        };
        for slot in i..=i + probes {
            match &slots[slot as usize] {
                None => return Some(slot as usize),
                Some((h, k)) if key.is_some_and(|key| *h == hash && k == key) => return None,
                Some(_) => {}
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i.wrapping_mul(5).wrapping_add(1).wrapping_add(perturb)) & mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_hashes_match_cpython() {
        // hash((0, 0, 0)), hash((1, -1, 2)), hash((-1, -1, -1)) from CPython 3.11 (64-bit).
        assert_eq!(tuple_hash(&[0, 0, 0]) as i64, 3_010_437_511_937_009_226);
        assert_eq!(tuple_hash(&[1, -1, 2]) as i64, -2_357_734_225_545_234_076);
        assert_eq!(tuple_hash(&[-1, -1, -1]) as i64, -6_133_384_102_531_166_807);
    }

    #[test]
    fn iteration_order_matches_cpython_including_growth() {
        // list(set(itertools.product([-1, 0], repeat=3))) in CPython 3.11.
        let mut small = PySet::new();
        for a in [-1, 0] {
            for b in [-1, 0] {
                for c in [-1, 0] {
                    small.insert([a, b, c]);
                }
            }
        }
        let expected = [
            [0, -1, -1],
            [-1, 0, -1],
            [-1, -1, -1],
            [0, 0, 0],
            [0, -1, 0],
            [-1, 0, 0],
            [0, 0, -1],
            [-1, -1, 0],
        ];
        assert_eq!(small.iter().collect::<Vec<_>>(), expected);

        // s = set(); s.add(t) (twice) for t in itertools.product(range(-2, 3), repeat=3): several
        // resizes; first eight and last four elements of list(s).
        let mut big = PySet::new();
        for a in -2..3 {
            for b in -2..3 {
                for c in -2..3 {
                    big.insert([a, b, c]);
                    big.insert([a, b, c]);
                }
            }
        }
        let got: Vec<_> = big.iter().collect();
        assert_eq!(got.len(), 125);
        let head = [
            [1, -2, 1],
            [1, -1, 1],
            [2, -2, 1],
            [2, -1, 1],
            [-2, 2, 2],
            [-1, 2, 2],
            [1, 0, 1],
            [1, 1, 0],
        ];
        assert_eq!(got[..8], head);
        assert_eq!(got[121..], [[-1, 1, 2], [-1, 2, 0], [1, 1, -2], [0, 2, 2]]);
    }
}
