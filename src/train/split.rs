//! Seeded shuffles and train/validation splits that are the same on every machine: a small
//! SplitMix64 generator (Steele, Lea & Flood 2014) instead of a crate whose streams may
//! change between versions, since a changed split would silently change every reported
//! validation figure.

/// SplitMix64: a 64-bit generator with a fixed, documented output stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (n > 0), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Splits `0..n` into (train, validation) index lists: a seeded shuffle, the first
/// `round(n · fraction)` indices (at least one, and leaving at least one for training) to
/// validation. Both lists are returned sorted so that data order stays that of the file.
pub fn train_validation_split(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut order);
    let n_val = ((n as f64 * fraction).round() as usize).clamp(1.min(n), n.saturating_sub(1));
    let mut val = order[..n_val].to_vec();
    let mut train = order[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_the_published_splitmix64() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut rng = Rng::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
    }

    #[test]
    fn splits_are_disjoint_complete_and_seeded() {
        let (train, val) = train_validation_split(100, 0.2, 7);
        assert_eq!(val.len(), 20);
        let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(
            train_validation_split(100, 0.2, 7),
            (train.clone(), val.clone())
        );
        assert_ne!(train_validation_split(100, 0.2, 8).1, val);
        assert_eq!(train_validation_split(2, 0.01, 1).1.len(), 1);
        assert_eq!(train_validation_split(2, 0.99, 1).0.len(), 1);
    }

    #[test]
    fn below_is_uniform_enough() {
        let mut rng = Rng::new(3);
        let mut counts = [0usize; 6];
        for _ in 0..60_000 {
            counts[rng.below(6) as usize] += 1;
        }
        // Binomial sd ≈ 91: 5 sd either side.
        assert!(
            counts.iter().all(|&c| (9_545..=10_455).contains(&c)),
            "{counts:?}"
        );
    }
}
