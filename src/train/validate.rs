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

/// A count of iterations to train.
pub fn iterations(value: usize) -> Result<(), String> {
    within("--iterations", value, 1..=100_000_000)
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
    }
}
