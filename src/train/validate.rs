//! Range checks shared by the recipes: each names the flag and the range it allows, so a bad
//! value is refused before anything is allocated or trained.

use std::fmt::Display;
use std::ops::RangeInclusive;

/// `value` within `range` (inclusive), else "FLAG VALUE is outside A..=B".
pub fn within<T: PartialOrd + Display + Copy>(flag: &str, value: T, range: RangeInclusive<T>) -> Result<(), String> {
    if range.contains(&value) { Ok(()) } else { Err(format!("{flag} {value} is outside {}..={}", range.start(), range.end())) }
}

/// A learning rate: positive and finite.
pub fn rate(flag: &str, value: f64) -> Result<(), String> {
    if value > 0.0 && value.is_finite() { Ok(()) } else { Err(format!("{flag} {value} is not a positive number")) }
}

/// A probability of firing: in (0, 1].
pub fn fire_rate(value: f32) -> Result<(), String> {
    if value > 0.0 && value <= 1.0 { Ok(()) } else { Err(format!("--fire-rate {value} is outside (0, 1]")) }
}

/// A pool holds at least one batch (0 only where `no_pool` allows "no pool").
pub fn pool_holds_batch(pool: usize, batch: usize, no_pool: bool) -> Result<(), String> {
    if pool >= batch || (no_pool && pool == 0) {
        return Ok(());
    }
    let zero = if no_pool { ", or 0 for no pool" } else { "" };
    Err(format!("--pool-size {pool} is smaller than the batch ({batch}): use at least the batch{zero}"))
}

/// The most iterations a run may have: `--iterations`' bound, and the bound on what a model's
/// metadata may claim.
pub const MAX_ITERATIONS: usize = 100_000_000;

/// A count of iterations to train.
pub fn iterations(value: usize) -> Result<(), String> {
    within("--iterations", value, 1..=MAX_ITERATIONS)
}

/// The iterations a model's metadata says it was trained (`nca.train.iterations`), judged
/// before anything is sized from it: a file's claim is no licence to allocate a loss curve of
/// 2⁶⁴ entries. Errors name the model and the key.
pub fn iterations_in_metadata(model: &std::path::Path, value: Option<&str>) -> Result<usize, String> {
    let bad = |why: String| format!("{}: metadata 'nca.train.iterations' {why}", model.display());
    let Some(text) = value else { return Ok(0) };
    let n: usize = text.trim().parse().map_err(|_| bad(format!("is '{text}', not a count")))?;
    if n > MAX_ITERATIONS {
        return Err(bad(format!("claims {n} iterations, more than any run may have ({MAX_ITERATIONS})")));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_flag_and_the_range() {
        assert_eq!(within("--batch-size", 0usize, 1..=256).unwrap_err(), "--batch-size 0 is outside 1..=256");
        assert!(within("--x", 3u32, 1..=3).is_ok());
        assert!(rate("--learning-rate", f64::NAN).unwrap_err().contains("--learning-rate NaN"));
        assert!(rate("--learning-rate", f64::INFINITY).is_err() && rate("--learning-rate", -1.0).is_err());
        assert!(fire_rate(0.0).is_err() && fire_rate(2.0).is_err() && fire_rate(f32::NAN).is_err() && fire_rate(1.0).is_ok());
        assert!(pool_holds_batch(0, 8, true).is_ok() && pool_holds_batch(0, 8, false).is_err());
        assert!(pool_holds_batch(4, 8, true).unwrap_err().contains("or 0 for no pool"));
        assert!(iterations(0).is_err());
        let model = std::path::Path::new("m.safetensors");
        assert_eq!(iterations_in_metadata(model, None), Ok(0));
        assert_eq!(iterations_in_metadata(model, Some("1200")), Ok(1200));
        for hostile in ["18446744073709551615", "1000000000000000", "-1", "lots"] {
            let err = iterations_in_metadata(model, Some(hostile)).unwrap_err();
            assert!(err.starts_with("m.safetensors: metadata 'nca.train.iterations'"), "{err}");
        }
    }
}
