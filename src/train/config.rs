//! The training recipe; every field defaults to the Distill notebook's value.

use burn::prelude::*;

use crate::model::GrowingMode;
use crate::model::spec::GrowingSpec;

/// Hyper-parameters of growing-NCA training (defaults: the Distill notebook).
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// `growing` (always from the seed), `persistent` (sample pool) or `regenerating` (pool + damage).
    #[config(default = "GrowingMode::Regenerating")]
    pub mode: GrowingMode,
    /// Samples in the pool.
    #[config(default = 1024)]
    pub pool_size: usize,
    /// Samples per iteration.
    #[config(default = 8)]
    pub batch_size: usize,
    /// Fewest CA steps per iteration.
    #[config(default = 64)]
    pub min_steps: u32,
    /// Most CA steps per iteration.
    #[config(default = 96)]
    pub max_steps: u32,
    /// Learning rate before the drop.
    #[config(default = 2e-3)]
    pub learning_rate: f64,
    /// Iteration at which the learning rate drops.
    #[config(default = 2000)]
    pub lr_drop_at: usize,
    /// Learning rate after the drop.
    #[config(default = 2e-4)]
    pub learning_rate_after: f64,
    /// Adam's epsilon (Keras' default, as in the notebook).
    #[config(default = 1e-7)]
    pub adam_epsilon: f32,
    /// Best samples damaged per iteration in `regenerating` mode.
    #[config(default = 3)]
    pub damaged: usize,
    /// Smallest damage radius, in the notebook's units (the grid spans [-1, 1], so 0.1 is a
    /// twentieth of the side).
    #[config(default = 0.1)]
    pub damage_radius_min: f32,
    /// Largest damage radius, in the notebook's units.
    #[config(default = 0.4)]
    pub damage_radius_max: f32,
    /// How many of the damaged samples lose a half (cut near the middle, from a random side)
    /// instead of a disc. Not in the notebook, whose discs alone teach a lizard to heal bites
    /// long before it learns to regrow a lost half; 0 keeps the notebook's recipe.
    #[config(default = 0)]
    pub half_cuts: usize,
    /// Fire rate of the stochastic update.
    #[config(default = 0.5)]
    pub fire_rate: f32,
    /// Thumbnail size of the target.
    #[config(default = 40)]
    pub target_size: u32,
    /// Padding around the target (grid side = target_size + 2·padding).
    #[config(default = 16)]
    pub target_padding: u32,
    /// Seed of the trainer's RNG (pool sampling, damage, initial weights, fire hashes).
    #[config(default = 0)]
    pub seed: u64,
    /// Name of the target, recorded as the trained model's `nca.target`.
    #[config(default = "String::new()")]
    pub target_name: String,
    /// The model whose weights the run started from (`--from`: its file name, target and
    /// iterations), empty when it started from fresh weights.
    #[config(default = "String::new()")]
    pub started_from: String,
    /// Changes made to this recipe when a run went on (`--resume`/`--init` with recipe flags),
    /// as `iteration: field old→new` entries joined by `; `, so the recipe stored with a model
    /// still tells how every part of its curve was trained.
    #[config(default = "String::new()")]
    pub retuned: String,
}

impl TrainConfig {
    /// The spec of the model this recipe trains.
    pub fn spec(&self) -> GrowingSpec {
        GrowingSpec { fire_rate: self.fire_rate, mode: self.mode, target: self.target_name.clone() }
    }

    /// Applies `changes` to a run that goes on at `iteration` and records each one in
    /// [`Self::retuned`]; returns the entries recorded (values already in force record nothing).
    pub fn retune(&mut self, iteration: usize, changes: &Retune) -> Result<Vec<String>, String> {
        let radius_min = changes.damage_radius_min.unwrap_or(self.damage_radius_min);
        let radius_max = changes.damage_radius_max.unwrap_or(self.damage_radius_max);
        if !(radius_min > 0.0 && radius_min <= radius_max) {
            return Err(format!("damage radii must satisfy 0 < min <= max, got min {radius_min}, max {radius_max}"));
        }
        if let Some(lr) = changes.learning_rate_after
            && !(lr > 0.0 && lr.is_finite())
        {
            return Err(format!("learning rate must be positive, got {lr}"));
        }
        let mut entries = Vec::new();
        let mut record = |field: &str, old: String, new: String| {
            if old != new {
                entries.push(format!("{iteration}: {field} {old}→{new}"));
            }
        };
        if let Some(v) = changes.learning_rate_after {
            record("learning_rate_after", self.learning_rate_after.to_string(), v.to_string());
            self.learning_rate_after = v;
        }
        if let Some(v) = changes.damaged {
            record("damaged", self.damaged.to_string(), v.to_string());
            self.damaged = v;
        }
        if let Some(v) = changes.half_cuts {
            record("half_cuts", self.half_cuts.to_string(), v.to_string());
            self.half_cuts = v;
        }
        record("damage_radius_min", self.damage_radius_min.to_string(), radius_min.to_string());
        record("damage_radius_max", self.damage_radius_max.to_string(), radius_max.to_string());
        (self.damage_radius_min, self.damage_radius_max) = (radius_min, radius_max);
        for entry in &entries {
            if !self.retuned.is_empty() {
                self.retuned.push_str("; ");
            }
            self.retuned.push_str(entry);
        }
        Ok(entries)
    }

    /// Refuses a recipe that cannot train, naming the flag and the range it allows. Sizes have
    /// maxima so a typo cannot ask for terabytes: a target of at most 512 pixels with at most
    /// 256 cells of padding, batches of at most 256, pools of at most 65,536, 10,000 steps.
    pub fn validate(&self) -> Result<(), String> {
        use super::validate::{fire_rate, pool_holds_batch, rate, within};
        within("--batch-size", self.batch_size, 1..=256)?;
        within("--pool-size", self.pool_size, 1..=65_536)?;
        pool_holds_batch(self.pool_size, self.batch_size, false)?;
        within("--min-steps", self.min_steps, 1..=10_000)?;
        within("--max-steps", self.max_steps, self.min_steps..=10_000)?;
        rate("--learning-rate", self.learning_rate)?;
        rate("--learning-rate-after", self.learning_rate_after)?;
        // The batch's best sample is never damaged; half cuts are some of the damaged samples.
        within("--damaged", self.damaged, 0..=self.batch_size - 1)?;
        within("--half-cuts", self.half_cuts, 0..=self.damaged)?;
        let (min, max) = (self.damage_radius_min, self.damage_radius_max);
        if !(min > 0.0 && min <= max && max <= 1.0) {
            return Err(format!("damage radii must satisfy 0 < --damage-radius-min <= --damage-radius-max <= 1, got {min} and {max}"));
        }
        fire_rate(self.fire_rate)?;
        within("--target-size", self.target_size, 1..=512)?;
        within("--target-padding", self.target_padding, 0..=256)?;
        if !(self.adam_epsilon > 0.0 && self.adam_epsilon.is_finite()) {
            return Err(format!("Adam's epsilon {} is not a positive number", self.adam_epsilon));
        }
        Ok(())
    }

    /// The learning rate at `iteration` (piecewise constant, one drop).
    pub fn learning_rate_at(&self, iteration: usize) -> f64 {
        if iteration < self.lr_drop_at { self.learning_rate } else { self.learning_rate_after }
    }
}

/// Recipe changes for a run that goes on (`nca train --resume`/`--init` with recipe flags):
/// the fields a fine-tuning phase may change; `None` keeps the recipe's value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Retune {
    /// Learning rate after the drop (the rate of every later iteration).
    pub learning_rate_after: Option<f64>,
    /// Best samples damaged per iteration.
    pub damaged: Option<usize>,
    /// Of those, how many lose a half instead of a disc.
    pub half_cuts: Option<usize>,
    /// Smallest damage radius, in the notebook's units.
    pub damage_radius_min: Option<f32>,
    /// Largest damage radius, in the notebook's units.
    pub damage_radius_max: Option<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retuning_records_only_what_changed() {
        let mut recipe = TrainConfig::new().with_half_cuts(1);
        let first = Retune { learning_rate_after: Some(5e-5), half_cuts: Some(1), ..Default::default() };
        assert_eq!(recipe.retune(8000, &first).unwrap(), vec!["8000: learning_rate_after 0.0002→0.00005"]);
        let second = Retune { damaged: Some(4), damage_radius_min: Some(0.2), ..Default::default() };
        recipe.retune(9000, &second).unwrap();
        assert_eq!((recipe.learning_rate_after, recipe.damaged, recipe.damage_radius_min), (5e-5, 4, 0.2));
        assert_eq!(recipe.retuned, "8000: learning_rate_after 0.0002→0.00005; 9000: damaged 3→4; 9000: damage_radius_min 0.1→0.2");
        assert_eq!(recipe.learning_rate_at(9000), 5e-5);
    }

    #[test]
    fn retuning_rejects_impossible_values_and_changes_nothing() {
        let mut recipe = TrainConfig::new();
        let inverted = Retune { damage_radius_min: Some(0.5), ..Default::default() };
        assert!(recipe.retune(10, &inverted).unwrap_err().contains("min 0.5, max 0.4"));
        let negative = Retune { learning_rate_after: Some(-1.0), damaged: Some(5), ..Default::default() };
        assert!(recipe.retune(10, &negative).is_err());
        assert_eq!((recipe.damage_radius_min, recipe.damaged, recipe.retuned.as_str()), (0.1, 3, ""));
    }

    #[test]
    fn bad_recipes_are_refused_by_name() {
        let ok = TrainConfig::new();
        assert!(ok.validate().is_ok());
        let refused = [
            (ok.clone().with_batch_size(0), "--batch-size 0"),
            (ok.clone().with_pool_size(4), "smaller than the batch"),
            (ok.clone().with_min_steps(0), "--min-steps 0"),
            (ok.clone().with_min_steps(90).with_max_steps(80), "--max-steps 80 is outside 90..=10000"),
            (ok.clone().with_learning_rate(f64::NAN), "--learning-rate NaN"),
            (ok.clone().with_damaged(8), "--damaged 8 is outside 0..=7"),
            (ok.clone().with_half_cuts(4), "--half-cuts 4 is outside 0..=3"),
            (ok.clone().with_damage_radius_min(0.5).with_damage_radius_max(0.2), "damage radii"),
            (ok.clone().with_damage_radius_min(-0.1), "damage radii"),
            (ok.clone().with_fire_rate(2.0), "--fire-rate 2"),
            (ok.clone().with_target_size(0), "--target-size 0"),
            (ok.clone().with_target_padding(100_000), "--target-padding 100000"),
        ];
        for (config, expected) in refused {
            let error = config.validate().unwrap_err();
            assert!(error.contains(expected), "{error} (expected '{expected}')");
        }
    }
}
