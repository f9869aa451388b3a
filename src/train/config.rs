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
}

impl TrainConfig {
    /// The spec of the model this recipe trains.
    pub fn spec(&self) -> GrowingSpec {
        GrowingSpec { fire_rate: self.fire_rate, mode: self.mode, target: self.target_name.clone() }
    }

    /// The learning rate at `iteration` (piecewise constant, one drop).
    pub fn learning_rate_at(&self, iteration: usize) -> f64 {
        if iteration < self.lr_drop_at { self.learning_rate } else { self.learning_rate_after }
    }
}
