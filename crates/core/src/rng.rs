//! Seeded, platform-independent randomness for simulation, fold splits and training.
//! Invariant: a stream depends only on its seed and `RNG_VERSION`; changing the algorithm
//! means bumping the version, because shipped models and logged data depend on it.

/// Version of the generator below (SplitMix64, Steele et al. 2014).
pub const RNG_VERSION: u32 = 1;

/// SplitMix64: tiny, fast, and the same on every platform and crate version.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one item of a stream (for example a session and a visit), so that
    /// each item's draws do not depend on how many draws other items made.
    pub fn for_item(seed: u64, stream: u64, item: u64) -> Self {
        let mut mix = Self::new(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        let base = mix.next_u64();
        Self::new(base ^ item.wrapping_mul(0xE703_7ED1_A0B4_28DB))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe to take the logarithm of.
    pub fn next_open_f64(&mut self) -> f64 {
        1.0 - self.next_f64()
    }

    /// Exponential with the given mean.
    pub fn next_exp(&mut self, mean: f64) -> f64 {
        -mean * self.next_open_f64().ln()
    }

    /// Standard normal (Box-Muller, one value per call).
    pub fn next_normal(&mut self) -> f64 {
        let u1 = self.next_open_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform index in 0..n (n > 0), by multiply-shift (no modulo bias worth naming here).
    pub fn next_index(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.next_index(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_pinned() {
        // First outputs of SplitMix64 seeded with 0 (reference values of the algorithm).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn items_are_independent_of_order() {
        let a = SplitMix64::for_item(7, 1, 42).next_u64();
        let _ = SplitMix64::for_item(7, 1, 41).next_u64();
        assert_eq!(a, SplitMix64::for_item(7, 1, 42).next_u64());
        assert_ne!(a, SplitMix64::for_item(7, 2, 42).next_u64());
        assert_ne!(a, SplitMix64::for_item(8, 1, 42).next_u64());
    }

    #[test]
    fn uniform_and_index_ranges() {
        let mut r = SplitMix64::new(3);
        let mut counts = [0usize; 5];
        for _ in 0..50_000 {
            let u = r.next_f64();
            assert!((0.0..1.0).contains(&u));
            counts[r.next_index(5)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }
}
