//! One training iteration of the Distill recipe, on any autodiff backend.
//!
//! Per iteration: draw a batch from the pool (or seeds, in `growing` mode), sort it by loss,
//! replace the worst with the seed, damage the best (`regenerating`), run a random 64–96 steps,
//! take the RGBA L2 loss against the target, normalise each parameter's gradient to unit norm,
//! take an Adam step, and write the batch back to the pool.

use burn::module::AutodiffModule;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer, adaptor::OptimizerAdaptor};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::config::TrainConfig;
use super::model::{ActiveBatch, GrowingNca};
use super::rng::Pcg32;
pub use super::run::IterationStats;
use crate::model::GrowingWeights;
use crate::model::grid::{Edit, Grid};
use crate::model::perception::SobelPair;
use crate::model::spec::{GROWING_CHANNELS as C, GROWING_HIDDEN, GROWING_PERCEPTION, GrowingMode};
use crate::model::target::Target;

/// The trainer's state: model, optimiser, pool and RNG.
pub struct Trainer<B: AutodiffBackend> {
    /// The recipe.
    pub config: TrainConfig,
    /// The model being trained.
    pub model: GrowingNca<B>,
    optimizer: OptimizerAdaptor<Adam, GrowingNca<B>, B>,
    /// Pool states (`[H, W, 16]` each); empty in `growing` mode.
    pub pool: Vec<Grid>,
    /// The RNG; its state is all a checkpoint needs to continue the same stream.
    pub rng: Pcg32,
    /// Iterations done.
    pub iteration: usize,
    /// Loss of every iteration so far.
    pub losses: Vec<f64>,
    /// Wall-clock seconds spent training, over all sessions of the run.
    pub seconds: f64,
    /// Iterations at which the run went on from a model's weights alone (`--init`), with a fresh
    /// pool and fresh Adam moments: the points where it is not one uninterrupted run.
    pub restarts: Vec<usize>,
    target: Target,
    seed_state: Grid,
    pub(super) device: B::Device,
}

impl<B: AutodiffBackend> Trainer<B> {
    /// A fresh trainer: first layer Glorot-uniform, last layer zero (so the first updates do
    /// nothing and training starts from a stable seed), pool filled with seeds.
    pub fn new(config: TrainConfig, target: Target, device: B::Device) -> Self {
        let mut rng = Pcg32::new(config.seed);
        let mut init = GrowingWeights::zeros(config.spec());
        let limit = (6.0 / (GROWING_PERCEPTION + GROWING_HIDDEN) as f32).sqrt();
        init.w1.iter_mut().for_each(|w| *w = rng.range_f32(-limit, limit));
        Self::from_weights(config, target, &init, rng, device)
    }

    /// A trainer that starts from existing weights (fine-tuning) with a given RNG.
    pub fn from_weights(config: TrainConfig, target: Target, weights: &GrowingWeights, rng: Pcg32, device: B::Device) -> Self {
        let seed_state = Grid::seeded(target.width(), target.height(), C);
        let pool = match config.mode {
            GrowingMode::Growing => Vec::new(),
            _ => vec![seed_state.clone(); config.pool_size],
        };
        let optimizer = AdamConfig::new().with_epsilon(config.adam_epsilon).init();
        Self {
            model: GrowingNca::from_weights(weights, &device),
            optimizer,
            pool,
            rng,
            iteration: 0,
            losses: Vec::new(),
            seconds: 0.0,
            restarts: Vec::new(),
            target,
            seed_state,
            config,
            device,
        }
    }

    /// The current weights (inference copy, no autodiff), with the recipe's spec.
    pub fn weights(&self) -> GrowingWeights {
        self.model.valid().to_weights(self.config.spec())
    }

    /// The target being learned.
    pub fn target(&self) -> &Target {
        &self.target
    }

    pub(super) fn optimizer(&self) -> &OptimizerAdaptor<Adam, GrowingNca<B>, B> {
        &self.optimizer
    }

    pub(super) fn load_optimizer_record(
        &mut self,
        record: <OptimizerAdaptor<Adam, GrowingNca<B>, B> as Optimizer<GrowingNca<B>, B>>::Record,
    ) {
        let fresh = AdamConfig::new().with_epsilon(self.config.adam_epsilon).init();
        self.optimizer = Optimizer::<GrowingNca<B>, B>::load_record(fresh, record);
    }

    /// Runs one iteration.
    pub fn step(&mut self) -> IterationStats {
        let cfg = &self.config;
        let (h, w) = (self.target.height(), self.target.width());
        let batch = cfg.batch_size;

        // The batch: pool samples sorted worst-first, the worst replaced by the seed.
        let (indices, samples): (Vec<usize>, Vec<Grid>) = if self.pool.is_empty() {
            (Vec::new(), vec![self.seed_state.clone(); batch])
        } else {
            let indices = self.rng.sample_indices(self.pool.len(), batch);
            let mut ranked: Vec<(f64, usize)> =
                indices.iter().map(|&i| (self.target.rgba_mse(&self.pool[i]).unwrap_or(f64::MAX), i)).collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
            let indices: Vec<usize> = ranked.iter().map(|&(_, i)| i).collect();
            let mut samples: Vec<Grid> = indices.iter().map(|&i| self.pool[i].clone()).collect();
            samples[0] = self.seed_state.clone();
            if cfg.mode == GrowingMode::Regenerating {
                let damaged = samples.iter_mut().rev().take(cfg.damaged.min(batch.saturating_sub(1)));
                for (k, sample) in damaged.enumerate() {
                    let edit = if k < cfg.half_cuts { damage_half(&mut self.rng, w, h) } else { damage_disc(&mut self.rng, w, h, cfg) };
                    crate::model::ModelKind::Growing.apply_edit(sample, &edit);
                }
            }
            (indices, samples)
        };

        let steps = self.rng.range_u32(cfg.min_steps, cfg.max_steps);
        // Fire-hash seeds per sample, drawn from the RNG so a run (and a resumed run) is reproducible.
        let seeds: Vec<u32> = (0..batch).map(|_| self.rng.next_u32()).collect();
        let data: Vec<f32> = samples.iter().flat_map(|g| g.data.iter().copied()).collect();
        let state = Tensor::<B, 4>::from_data(TensorData::new(data, [batch, h, w, C]), &self.device);
        let sobel = SobelPair::default();
        let mut rollout = ActiveBatch::new(state);
        for step in 0..steps {
            rollout = self.model.step_active(rollout, &seeds, step, cfg.fire_rate, &sobel);
        }
        let state = rollout.into_state();
        let target = Tensor::<B, 4>::from_data(TensorData::new(self.target.rgba.data.clone(), [1, h, w, 4]), &self.device);
        let loss = (state.clone().narrow(3, 0, 4) - target).powi_scalar(2).mean();
        let loss_value: f64 = loss.clone().into_scalar().to_f64();

        let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
        normalize::<B, 2>(&mut grads, self.model.w1.id);
        normalize::<B, 1>(&mut grads, self.model.b1.id);
        normalize::<B, 2>(&mut grads, self.model.w2.id);
        normalize::<B, 1>(&mut grads, self.model.b2.id);
        let lr = cfg.learning_rate_at(self.iteration);
        // Cloning a module only shares its parameter tensors.
        self.model = self.optimizer.step(lr, self.model.clone(), grads);

        if !indices.is_empty() {
            let out = state.inner().into_data().to_vec::<f32>().expect("f32 state");
            for (k, &i) in indices.iter().enumerate() {
                let cell_values = h * w * C;
                self.pool[i] = Grid::from_data(w, h, C, out[k * cell_values..(k + 1) * cell_values].to_vec()).expect("batch shape");
            }
        }
        let stats = IterationStats { iteration: self.iteration, loss: loss_value, steps };
        self.losses.push(loss_value);
        self.iteration += 1;
        stats
    }
}

impl<B: AutodiffBackend> super::run::Run for Trainer<B> {
    fn iteration(&self) -> usize {
        self.iteration
    }
    fn step(&mut self) -> IterationStats {
        Trainer::step(self)
    }
    fn losses(&self) -> &[f64] {
        &self.losses
    }
    fn seconds(&self) -> f64 {
        self.seconds
    }
    fn set_seconds(&mut self, seconds: f64) {
        self.seconds = seconds;
    }
    fn save_checkpoint(&self, path: &std::path::Path) -> Result<(), crate::model::ModelError> {
        Trainer::save_checkpoint(self, path)
    }
    fn model(&self) -> Result<crate::model::NcaWeights, String> {
        let mut weights = self.weights();
        weights.provenance.insert("nca.train.seed".into(), self.config.seed.to_string());
        // The command may be the last of several resumes; the recipe is the whole story.
        weights.provenance.insert("nca.train.recipe".into(), serde_json::to_string(&self.config).map_err(|e| e.to_string())?);
        if !self.restarts.is_empty() {
            weights.provenance.insert("nca.train.restarts".into(), super::checkpoint::join_iterations(&self.restarts));
        }
        Ok(crate::model::NcaWeights::Growing(weights))
    }
}

/// A random disc to erase from a good sample, in the notebook's coordinates, where the grid
/// spans [-1, 1]: the centre within the middle half, the radius between the configured bounds
/// in those units, i.e. 0.1–0.4 is a twentieth to a fifth of the side. (Measured against the
/// whole side instead, discs are twice as wide and erase most of the organism; a lizard trained
/// that way regrows poorly and does not hold its shape.)
pub fn damage_disc(rng: &mut Pcg32, width: usize, height: usize, cfg: &TrainConfig) -> Edit {
    let half_side = width.min(height) as f32 / 2.0;
    let center = [rng.range_f32(0.25, 0.75) * width as f32, rng.range_f32(0.25, 0.75) * height as f32];
    let radius = rng.range_f32(cfg.damage_radius_min, cfg.damage_radius_max) * half_side;
    Edit::EraseDisc { center, radius }
}

/// A random half to erase: everything beyond a cut from one of the four sides, the cut between
/// 0.4 and 0.6 of the way across, so the model learns to regrow any lost half rather than one
/// fixed cut.
pub fn damage_half(rng: &mut Pcg32, width: usize, height: usize) -> Edit {
    let side = rng.range_u32(0, 3);
    let along = |n: usize, rng: &mut Pcg32| (rng.range_f32(0.4, 0.6) * n as f32).round() as u32;
    let (w, h) = (width as u32, height as u32);
    let (min, max) = match side {
        0 => ([along(width, rng), 0], [w, h]),
        1 => ([0, 0], [along(width, rng), h]),
        2 => ([0, along(height, rng)], [w, h]),
        _ => ([0, 0], [w, along(height, rng)]),
    };
    Edit::EraseRect { min, max }
}

/// `g / (‖g‖ + 1e-8)` for one parameter's gradient, as in the notebook.
pub(super) fn normalize<B: AutodiffBackend, const D: usize>(grads: &mut GradientsParams, id: burn::module::ParamId) {
    if let Some(g) = grads.remove::<B::InnerBackend, D>(id) {
        let norm = g.clone().powi_scalar(2).sum().sqrt().add_scalar(1e-8);
        grads.register(id, g / norm.unsqueeze());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_discs_follow_the_notebook() {
        let cfg = TrainConfig::new();
        let mut rng = Pcg32::new(7);
        let (mut smallest, mut largest) = (f32::MAX, 0.0f32);
        for _ in 0..2000 {
            let Edit::EraseDisc { center, radius } = damage_disc(&mut rng, 72, 72, &cfg) else { panic!("not a disc") };
            assert!(center.iter().all(|&c| (18.0..=54.0).contains(&c)), "centre {center:?} outside the middle half");
            smallest = smallest.min(radius);
            largest = largest.max(radius);
        }
        // 0.1–0.4 of the half side of 72 cells: 3.6–14.4 cells.
        assert!((3.6..4.0).contains(&smallest), "smallest radius {smallest}");
        assert!(largest <= 14.4 && largest > 14.0, "largest radius {largest}");
    }

    #[test]
    fn half_cuts_erase_about_half_from_every_side() {
        let mut rng = Pcg32::new(3);
        let mut sides = [0usize; 4];
        for _ in 0..400 {
            let Edit::EraseRect { min, max } = damage_half(&mut rng, 72, 72) else { panic!("not a rectangle") };
            let area = (max[0] - min[0]) * (max[1] - min[1]);
            assert!((0.39 * 72.0 * 72.0..=0.61 * 72.0 * 72.0).contains(&(area as f32)), "{min:?}..{max:?} is not about half");
            let side = match (min, max) {
                ([x, 0], [72, 72]) if x > 0 => 0,
                ([0, 0], [x, 72]) if x < 72 => 1,
                ([0, y], [72, 72]) if y > 0 => 2,
                _ => 3,
            };
            sides[side] += 1;
        }
        assert!(sides.iter().all(|&n| n > 60), "cuts should come from all four sides: {sides:?}");
    }
}
