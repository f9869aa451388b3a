//! The growing NCA's channel layout and hyper-parameters (the MNIST kind's are in
//! [`super::mnist`]; what every kind declares is in [`super::kind`]).

use std::fmt;
use std::str::FromStr;

/// Channels of a growing NCA cell: RGBA then hidden state.
pub const GROWING_CHANNELS: usize = 16;
/// Width of the growing NCA's hidden layer.
pub const GROWING_HIDDEN: usize = 128;
/// Filters in the growing NCA's perception: identity, Sobel-x, Sobel-y.
pub const GROWING_FILTERS: usize = 3;
/// Inputs of the growing NCA's first dense layer (filter-major: identity, Sobel-x, Sobel-y).
pub const GROWING_PERCEPTION: usize = GROWING_CHANNELS * GROWING_FILTERS;

/// Index of the red channel.
pub const RED: usize = 0;
/// Index of the alpha ("aliveness") channel.
pub const ALPHA: usize = 3;
/// First hidden channel; the seed sets `ALPHA..channels` to one.
pub const HIDDEN: usize = 4;
/// A cell is alive if some alpha in its 3×3 neighbourhood exceeds this.
pub const ALIVE_THRESHOLD: f32 = 0.1;
/// The published fire rate of the stochastic update.
pub const DEFAULT_FIRE_RATE: f32 = 0.5;
/// Floats per growing species in the GPU weights buffer: `w1 | b1 | w2 | b2 | fire threshold,
/// 0, 0, 0` (a multiple of 4, so every block starts on a `vec4`).
pub const GROWING_SPECIES_STRIDE: usize =
    GROWING_PERCEPTION * GROWING_HIDDEN + GROWING_HIDDEN + GROWING_HIDDEN * GROWING_CHANNELS + GROWING_CHANNELS + 4;

/// How a growing model was trained, which decides what it can do: grow once, hold its shape,
/// or also heal damage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrowingMode {
    /// Trained from the seed only: grows, then may decay or explode.
    Growing,
    /// Trained with a sample pool: grows and then persists.
    Persistent,
    /// Trained with a pool and damage: grows, persists and regenerates.
    #[default]
    Regenerating,
}

impl GrowingMode {
    /// All modes, in training-difficulty order.
    pub const ALL: [Self; 3] = [Self::Growing, Self::Persistent, Self::Regenerating];

    /// The value stored in `nca.mode`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Growing => "growing",
            Self::Persistent => "persistent",
            Self::Regenerating => "regenerating",
        }
    }
}

impl fmt::Display for GrowingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrowingMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown mode '{s}' (expected growing, persistent or regenerating)"))
    }
}

/// The hyper-parameters of a growing NCA that are not weights.
#[derive(Clone, Debug, PartialEq)]
pub struct GrowingSpec {
    /// Probability that a cell applies its update in a step.
    pub fire_rate: f32,
    /// How the model was trained.
    pub mode: GrowingMode,
    /// The target's name (for example `lizard` or `1f98e`).
    pub target: String,
}

impl Default for GrowingSpec {
    fn default() -> Self {
        Self { fire_rate: DEFAULT_FIRE_RATE, mode: GrowingMode::default(), target: String::new() }
    }
}
