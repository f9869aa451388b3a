//! A small deterministic RNG whose whole state is one `u64`, so a checkpoint can store it and a
//! resumed run draws exactly the numbers the uninterrupted one would have.

/// PCG-XSH-RR 64/32 (O'Neill 2014).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pcg32 {
    /// The generator's state.
    pub state: u64,
}

impl Pcg32 {
    const MULTIPLIER: u64 = 6_364_136_223_846_793_005;
    const INCREMENT: u64 = 1_442_695_040_888_963_407;

    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Self { state: 0 };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(seed);
        rng.next_u32();
        rng
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(Self::MULTIPLIER).wrapping_add(Self::INCREMENT);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 / (1u32 << 24) as f32
    }

    /// Uniform in `[low, high)`.
    pub fn range_f32(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.next_f32()
    }

    /// Uniform integer in `low..=high`.
    pub fn range_u32(&mut self, low: u32, high: u32) -> u32 {
        low + ((self.next_u32() as u64 * (high - low + 1) as u64) >> 32) as u32
    }

    /// `count` distinct indices from `0..len` (partial Fisher–Yates).
    pub fn sample_indices(&mut self, len: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..len).collect();
        let count = count.min(len);
        for i in 0..count {
            let j = i + self.range_u32(0, (len - 1 - i) as u32) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_state_resumes_it() {
        let mut a = Pcg32::new(5);
        let first: Vec<u32> = (0..10).map(|_| a.next_u32()).collect();
        let mut b = Pcg32::new(5);
        assert_eq!(first, (0..10).map(|_| b.next_u32()).collect::<Vec<_>>());
        let saved = Pcg32 { state: b.state };
        let (mut c, mut d) = (saved, b);
        assert_eq!(c.next_u32(), d.next_u32());
        assert_ne!(Pcg32::new(6).next_u32(), Pcg32::new(5).next_u32());
    }

    #[test]
    fn sampling_is_distinct_and_in_range() {
        let mut rng = Pcg32::new(1);
        let picked = rng.sample_indices(1024, 8);
        let mut sorted = picked.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 8);
        assert!(picked.iter().all(|&i| i < 1024));
        let mean: f32 = (0..10_000).map(|_| rng.next_f32()).sum::<f32>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02);
    }
}
