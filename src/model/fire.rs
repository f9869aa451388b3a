//! The stochastic "fire" decision, as a pure integer hash.
//!
//! Each step a cell applies its update only if it fires. Instead of a random number
//! generator (whose state would differ between the CPU, the GPU and Burn), the decision is
//! a pure function of `(seed, step, x, y)`:
//!
//! ```text
//! h    = pcg(pcg(pcg(pcg(seed) + step) + x) + y)        (u32, wrapping)
//! u    = h >> 8                                          (24 uniform bits)
//! fire = u < threshold,  threshold = round(fire_rate * 2^24)
//! ```
//!
//! where `pcg` is the PCG-RXS-M-XS 32-bit output permutation (Jarzynski & Olano, "Hash
//! Functions for GPU Rendering", JCGT 2020). Comparing integers rather than floats makes the
//! decision bit-identical on every backend; `shaders/nca_types.wgsl` has the same function.
//!
//! ## Residual noise (MNIST)
//!
//! The MNIST NCA adds N(0, σ) noise to every update before the fire mask. It too is a pure
//! function, of `(seed, step, x, y, channel)`, built from the same hash:
//!
//! ```text
//! base  = cell_hash(seed, step, x, y)                    (the fire hash's input)
//! a, b  = pcg(base + 2c + 1), pcg(base + 2c + 2)         (channel c = 0..19 of the update)
//! s     = lo16(a) + hi16(a) + lo16(b) + hi16(b) − 131070  (an integer in [−131070, 131070])
//! noise = f32(s) · scale,  scale = σ / √((65536² − 1) / 3)
//! ```
//!
//! `s` is the Irwin–Hall sum of four 16-bit uniforms, centred: mean 0, and `scale` makes its
//! standard deviation exactly σ (its tails stop at ±3.46σ; its kurtosis is 2.7 against a
//! Gaussian's 3). Box–Muller would need `log` and `cos`, whose precision WGSL leaves to the
//! driver; this needs integers, one exact conversion (|s| < 2²⁴) and one correctly rounded
//! multiplication, so the CPU, every GPU and Burn (which is handed the same values) add
//! bit-identical noise.

/// One round of the PCG hash (RXS-M-XS output of one LCG step).
#[inline]
pub const fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The 32-bit hash of one cell at one step.
#[inline]
pub const fn cell_hash(seed: u32, step: u32, x: u32, y: u32) -> u32 {
    pcg(pcg(pcg(pcg(seed).wrapping_add(step)).wrapping_add(x)).wrapping_add(y))
}

/// The integer threshold that a 24-bit hash must stay below to fire at `fire_rate`.
#[inline]
pub fn threshold(fire_rate: f32) -> u32 {
    (fire_rate.clamp(0.0, 1.0) as f64 * (1u64 << 24) as f64).round() as u32
}

/// Whether the cell at `(x, y)` applies its update at `step`.
#[inline]
pub const fn fires(seed: u32, step: u32, x: u32, y: u32, threshold: u32) -> bool {
    (cell_hash(seed, step, x, y) >> 8) < threshold
}

/// The largest value of the centred sum of four 16-bit uniforms.
const NOISE_HALF_RANGE: i32 = 2 * 65535;

/// The factor that turns the centred integer sum into noise of standard deviation `std`.
pub fn noise_scale(std: f32) -> f32 {
    let sum_std = ((65536.0f64 * 65536.0 - 1.0) / 3.0).sqrt();
    (std as f64 / sum_std) as f32
}

/// The centred integer sum behind the noise of update channel `channel` (see the module docs).
#[inline]
pub const fn noise_sum(cell_hash: u32, channel: u32) -> i32 {
    let a = pcg(cell_hash.wrapping_add(2 * channel + 1));
    let b = pcg(cell_hash.wrapping_add(2 * channel + 2));
    ((a & 0xffff) + (a >> 16) + (b & 0xffff) + (b >> 16)) as i32 - NOISE_HALF_RANGE
}

/// The residual noise added to update channel `channel` of the cell at `(x, y)` at `step`.
#[inline]
pub fn noise(seed: u32, step: u32, x: u32, y: u32, channel: u32, scale: f32) -> f32 {
    noise_sum(cell_hash(seed, step, x, y), channel) as f32 * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_has_the_asked_spread_and_no_bias() {
        let scale = noise_scale(0.02);
        let values: Vec<f64> = (0..20_000u32).map(|i| noise(3, 9, i % 200, i / 200, i % 19, scale) as f64).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
        assert!(mean.abs() < 5e-4, "mean {mean}");
        assert!((std - 0.02).abs() < 5e-4, "std {std}");
        assert!(values.iter().all(|v| v.abs() <= 0.02 * 3.47));
        assert_eq!(noise_scale(0.0), 0.0);
    }

    #[test]
    fn noise_matches_the_published_vectors() {
        // Computed from the formula in the module docs by an independent script (README,
        // "Residual noise"). Changing these changes every MNIST trajectory: don't.
        let base = cell_hash(0, 0, 0, 0);
        assert_eq!(noise_sum(base, 0), 26870);
        assert_eq!(noise_sum(cell_hash(42, 1000, 17, 63), 18), -36506);
        let channels: Vec<i32> = (0..19).map(|c| noise_sum(base, c)).collect();
        assert!(channels.windows(2).any(|w| w[0] != w[1]), "channels must differ");
    }

    #[test]
    fn fire_rate_is_respected_on_average() {
        let t = threshold(0.5);
        let fired = (0..256u32).flat_map(|y| (0..256u32).map(move |x| (x, y))).filter(|&(x, y)| fires(7, 3, x, y, t)).count();
        let rate = fired as f64 / 65536.0;
        assert!((rate - 0.5).abs() < 0.01, "rate {rate}");
    }

    #[test]
    fn decisions_depend_on_every_input() {
        let t = threshold(0.5);
        let pattern = |seed, step| -> Vec<bool> { (0..64u32).map(|i| fires(seed, step, i % 8, i / 8, t)).collect() };
        assert_ne!(pattern(1, 0), pattern(2, 0));
        assert_ne!(pattern(1, 0), pattern(1, 1));
        assert_eq!(pattern(1, 5), pattern(1, 5));
    }

    #[test]
    fn hash_matches_the_published_vectors() {
        // From an independent implementation of the formula in the module docs (README,
        // "Fire hash"). Changing these changes every trajectory ever recorded: don't.
        assert_eq!(cell_hash(0, 0, 0, 0), 0x8d32_4821);
        assert_eq!(cell_hash(1, 0, 0, 0), 0x2118_bc7b);
        assert_eq!(cell_hash(0, 1, 0, 0), 0x77d3_8ce6);
        assert_eq!(cell_hash(0, 0, 1, 0), 0x2008_e253);
        assert_eq!(cell_hash(0, 0, 0, 1), 0xaa97_d2f7);
        assert_eq!(cell_hash(42, 1000, 17, 63), 0x847d_6dae);
        let half = threshold(0.5);
        assert!(!fires(0, 0, 0, 0, half) && fires(1, 0, 0, 0, half));
    }

    #[test]
    fn thresholds_cover_the_extremes() {
        assert_eq!(threshold(0.0), 0);
        assert_eq!(threshold(1.0), 1 << 24);
        assert!(!fires(1, 1, 1, 1, 0));
        assert!(fires(1, 1, 1, 1, 1 << 24));
    }
}
