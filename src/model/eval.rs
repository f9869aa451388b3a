//! The quality protocol for growing models (`nca eval growing`), on the CPU reference.
//!
//! From a seed on a 72×72 grid: RGBA MSE against the target at steps 96, 200, 500 and 1000;
//! and from the state at step 200, after erasing the right half (`regen_half`) or a centred
//! disc of radius 0.15·size (`regen_disc`), the MSE 200 steps later.
//!
//! Single runs vary with the fire pattern (a regenerating lizard may settle a cell off-centre,
//! which alone costs ~4e-4), so the protocol runs fire-hash seeds `0..seeds` and reports the
//! median as the headline figure, with the mean and every run beside it.

use super::cpu;
use super::grid::{Edit, Grid};
use super::perception::SobelPair;
use super::spec::GROWING_CHANNELS;
use super::target::Target;
use super::weights::GrowingWeights;

/// Grid side of the protocol.
pub const EVAL_SIZE: usize = 72;
/// Steps at which the undamaged loss is measured.
pub const CHECKPOINTS: [u32; 4] = [96, 200, 500, 1000];
/// Step at which damage is applied.
pub const DAMAGE_AT: u32 = 200;
/// Steps allowed to heal.
pub const HEAL_STEPS: u32 = 200;

/// One figure of the protocol over all seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Key as printed (`loss@96`, `regen_half@200`, …).
    pub key: String,
    /// One value per seed, in seed order.
    pub per_seed: Vec<f64>,
}

impl Figure {
    /// The median over seeds (the headline figure).
    pub fn median(&self) -> f64 {
        let mut v = self.per_seed.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
    }

    /// The mean over seeds.
    pub fn mean(&self) -> f64 {
        self.per_seed.iter().sum::<f64>() / self.per_seed.len() as f64
    }
}

/// The protocol's figures: `loss@96`, `loss@200`, `loss@500`, `loss@1000`, `regen_half@200`,
/// `regen_disc@200`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalReport {
    /// The figures, in the order above.
    pub figures: Vec<Figure>,
}

impl EvalReport {
    /// The figure named `key`.
    pub fn get(&self, key: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.key == key)
    }

    /// `{"loss@96": median, …, "mean": {…}, "per_seed": {…}, "seeds": n}`.
    pub fn to_json(&self) -> serde_json::Value {
        let (mut median, mut mean, mut runs) = (serde_json::Map::new(), serde_json::Map::new(), serde_json::Map::new());
        for f in &self.figures {
            median.insert(f.key.clone(), serde_json::json!(f.median()));
            mean.insert(f.key.clone(), serde_json::json!(f.mean()));
            runs.insert(f.key.clone(), serde_json::json!(f.per_seed));
        }
        median.insert("mean".into(), serde_json::Value::Object(mean));
        median.insert("per_seed".into(), serde_json::Value::Object(runs));
        median.insert("seeds".into(), serde_json::json!(self.figures.first().map_or(0, |f| f.per_seed.len())));
        serde_json::Value::Object(median)
    }
}

/// The damages of the protocol, on a `size`×`size` grid.
pub fn damages(size: usize) -> [Edit; 2] {
    let s = size as u32;
    let c = size as f32 / 2.0;
    [Edit::EraseRect { min: [s / 2, 0], max: [s, s] }, Edit::EraseDisc { center: [c, c], radius: 0.15 * size as f32 }]
}

/// Runs the protocol over fire-hash seeds `0..seeds`. `None` if the target does not fit the
/// 72×72 grid.
pub fn evaluate(weights: &GrowingWeights, target: &Target, seeds: u32) -> Option<EvalReport> {
    let mut figures: Vec<Figure> = CHECKPOINTS
        .iter()
        .map(|s| format!("loss@{s}"))
        .chain([format!("regen_half@{DAMAGE_AT}"), format!("regen_disc@{DAMAGE_AT}")])
        .map(|key| Figure { key, per_seed: Vec::new() })
        .collect();
    for seed in 0..seeds.max(1) {
        // One run per seed, the same one `--strip` pictures: the growth row holds the
        // checkpoints, each damage row ends HEAL_STEPS after its damage.
        let rows = protocol_frames(weights, seed);
        let scored = rows[0].iter().chain(rows[1..].iter().filter_map(|row| row.last()));
        for (figure, grid) in figures.iter_mut().zip(scored) {
            figure.per_seed.push(target.rgba_mse(grid)?);
        }
    }
    Some(EvalReport { figures })
}

/// Steps after the damage at which [`protocol_frames`] shows the healing.
pub const HEAL_FRAMES: [u32; 4] = [0, 50, 100, HEAL_STEPS];

/// The states of one run of the protocol (fire-hash `seed`): the undamaged grid at each of
/// [`CHECKPOINTS`], then for each damage the grid at [`HEAL_FRAMES`] after it (the last one is
/// what `regen_*` scores).
pub fn protocol_frames(weights: &GrowingWeights, seed: u32) -> Vec<Vec<Grid>> {
    let sobel = SobelPair::default();
    let mut grid = Grid::seeded(EVAL_SIZE, EVAL_SIZE, GROWING_CHANNELS);
    let mut step = 0;
    let mut growth = Vec::new();
    let mut at_damage = None;
    for checkpoint in CHECKPOINTS {
        cpu::run(weights, &mut grid, seed, step, checkpoint - step, &sobel);
        step = checkpoint;
        growth.push(grid.clone());
        if checkpoint == DAMAGE_AT {
            at_damage = Some(grid.clone());
        }
    }
    let at_damage = at_damage.expect("DAMAGE_AT is a checkpoint");
    let mut rows = vec![growth];
    for damage in damages(EVAL_SIZE) {
        let mut healing = at_damage.clone();
        super::ModelKind::Growing.apply_edit(&mut healing, &damage);
        let mut row = Vec::new();
        let mut healed = 0;
        for frame in HEAL_FRAMES {
            cpu::run(weights, &mut healing, seed, DAMAGE_AT + healed, frame - healed, &sobel);
            healed = frame;
            row.push(healing.clone());
        }
        rows.push(row);
    }
    rows
}
