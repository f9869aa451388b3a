//! The self-classifying MNIST recipe (the paper's notebook as defaults) and the adversarial-
//! reprogramming recipe on top of it, as [`Run`]s of the shared loop.
//!
//! Per iteration: draw a batch from the pool; replace the first quarter with fresh training
//! digits and mutate the last quarter into new digits (new grey, the rest of the state kept where
//! the new grey is alive, new labels); run 20 steps with residual noise; take the loss on the
//! class channels against the label's one-hot on the digit's cells; normalise each parameter's
//! gradient; take an Adam step; write the batch back. There is no sorting by loss.
//!
//! The adversary (`adversary_target`): a frozen base classifier runs every cell but those of a
//! per-sample Bernoulli mask, which run the adversary being trained; the loss pushes every
//! digit's cells towards the target class.

use std::path::Path;
use std::sync::Arc;

use burn::module::{AutodiffModule, Module};
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer, adaptor::OptimizerAdaptor};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::AutodiffBackend;

use super::mnist::{MnistBatch, MnistNca, step_active_species};
use super::rng::Pcg32;
use super::run::{IterationStats, Run};
use crate::model::grid::Grid;
use crate::model::idx::Digits;
use crate::model::mnist::{self, CHANNELS, CLASSES, HIDDEN, MnistRole, MnistSpec, MnistWeights, PERCEPTION};
use crate::model::{ModelError, NcaWeights};

/// What the loss compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MnistLoss {
    /// `Σ (y − scores)² / 2` over every cell and class channel, averaged over the batch (the
    /// notebook's).
    #[default]
    L2,
    /// Pixel-wise cross-entropy of the class channels' softmax against the label, averaged over
    /// the digits' cells (as the article describes it; the notebook's path is broken).
    Ce,
}

impl std::str::FromStr for MnistLoss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "l2" => Ok(MnistLoss::L2),
            "ce" => Ok(MnistLoss::Ce),
            other => Err(format!("unknown loss '{other}' (l2 or ce)")),
        }
    }
}

/// Hyper-parameters of MNIST training (defaults: the paper's notebook).
#[derive(Config, Debug)]
pub struct MnistTrainConfig {
    /// States in the pool; 0 is the naive variant (every batch fresh digits).
    #[config(default = 160)]
    pub pool_size: usize,
    /// Samples per iteration.
    #[config(default = 16)]
    pub batch_size: usize,
    /// Samples of a batch replaced by fresh digits (the first ones).
    #[config(default = 4)]
    pub fresh: usize,
    /// Samples of a batch mutated into new digits (the last ones).
    #[config(default = 4)]
    pub mutated: usize,
    /// Whether the last samples are mutated (new grey, state kept where alive) or replaced
    /// afresh (the "persistent" variant).
    #[config(default = true)]
    pub mutation: bool,
    /// CA steps per iteration.
    #[config(default = 20)]
    pub steps: u32,
    /// Learning rate at the start.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Iteration of the first drop.
    #[config(default = 30000)]
    pub lr_drop_at: usize,
    /// Learning rate after the first drop.
    #[config(default = 1e-4)]
    pub learning_rate_after: f64,
    /// Iteration of the second drop.
    #[config(default = 70000)]
    pub lr_second_drop_at: usize,
    /// Learning rate after the second drop.
    #[config(default = 1e-5)]
    pub learning_rate_final: f64,
    /// Adam's epsilon (Keras' default, as in the notebook).
    #[config(default = 1e-7)]
    pub adam_epsilon: f32,
    /// The loss.
    #[config(default = "MnistLoss::L2")]
    pub loss: MnistLoss,
    /// Residual noise's standard deviation (0: none).
    #[config(default = 0.02)]
    pub noise_std: f32,
    /// Fire rate of the stochastic update.
    #[config(default = 0.5)]
    pub fire_rate: f32,
    /// Seed of the trainer's RNG (digits, initial weights, masks, fire hashes).
    #[config(default = 0)]
    pub seed: u64,
    /// Train an adversary pushing every digit to this class (`None`: a classifier).
    #[config(default = "None")]
    pub adversary_target: Option<u8>,
    /// Share of a sample's cells that run the adversary (a Bernoulli mask per pool entry).
    #[config(default = 0.1)]
    pub adversary_fraction: f32,
    /// The frozen base model of an adversary run (its file name), for the record.
    #[config(default = "String::new()")]
    pub base_model: String,
    /// The model a run started from (`--from`), empty when it started from fresh weights.
    #[config(default = "String::new()")]
    pub started_from: String,
    /// Step every cell of the batch, as the notebook does, instead of only the cells that are
    /// alive and fire: the same results, slower (for benchmarks).
    #[config(default = false)]
    pub dense: bool,
}

/// Reads a saved recipe, taking today's default for every field it lacks: a checkpoint written
/// before a field existed ran with that field's default behaviour, so it still resumes.
fn config_over_defaults(json: &str) -> Result<MnistTrainConfig, String> {
    let saved: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(saved) = saved else { return Err("the recipe is not a JSON object".into()) };
    let mut merged = serde_json::to_value(MnistTrainConfig::new()).map_err(|e| e.to_string())?;
    let fields = merged.as_object_mut().expect("a config serialises to an object");
    for (key, value) in saved {
        if !fields.contains_key(&key) {
            return Err(format!("unknown field '{key}'"));
        }
        fields.insert(key, value);
    }
    serde_json::from_value(merged).map_err(|e| e.to_string())
}

impl MnistTrainConfig {
    /// The learning rate at `iteration` (piecewise constant, two drops).
    pub fn learning_rate_at(&self, iteration: usize) -> f64 {
        if iteration < self.lr_drop_at {
            self.learning_rate
        } else if iteration < self.lr_second_drop_at {
            self.learning_rate_after
        } else {
            self.learning_rate_final
        }
    }

    /// The spec of the model this recipe trains.
    pub fn spec(&self) -> MnistSpec {
        let role = if self.adversary_target.is_some() { MnistRole::Adversary } else { MnistRole::Classifier };
        MnistSpec { fire_rate: self.fire_rate, noise_std: self.noise_std, role }
    }

    /// Refuses recipes that cannot train (a check, not a repair: nothing is changed).
    pub fn validate(&self) -> Result<(), String> {
        use super::validate::{fire_rate, pool_holds_batch, rate, within};
        within("--batch-size", self.batch_size, 1..=1024)?;
        within("--pool", self.pool_size, 0..=100_000)?;
        pool_holds_batch(self.pool_size, self.batch_size, true)?;
        if self.fresh + self.mutated > self.batch_size {
            return Err(format!(
                "--fresh {} and --mutated {} add up to more than the batch ({})",
                self.fresh, self.mutated, self.batch_size
            ));
        }
        within("--steps", self.steps, 1..=10_000)?;
        if self.lr_second_drop_at < self.lr_drop_at {
            return Err(format!(
                "--lr-second-drop-at {} comes before --lr-drop-at {}: the second drop must come at or after the first",
                self.lr_second_drop_at, self.lr_drop_at
            ));
        }
        rate("--learning-rate", self.learning_rate)?;
        rate("--learning-rate-after", self.learning_rate_after)?;
        rate("--learning-rate-final", self.learning_rate_final)?;
        fire_rate(self.fire_rate)?;
        if !(self.noise_std >= 0.0 && self.noise_std.is_finite()) {
            return Err(format!("--noise {} is not a standard deviation ≥ 0", self.noise_std));
        }
        if let Some(class) = self.adversary_target
            && class as usize >= CLASSES
        {
            return Err(format!("--target-class {class} is not a digit 0–9"));
        }
        if self.dense && self.adversary_target.is_some() {
            return Err("the dense step runs one model: an adversary run steps only the active cells".into());
        }
        if !(self.adversary_fraction > 0.0 && self.adversary_fraction <= 1.0) {
            return Err(format!("--fraction {} is outside (0, 1]", self.adversary_fraction));
        }
        Ok(())
    }
}

/// One pool entry: a 28×28×20 state, its digit's label and which cells run the adversary.
#[derive(Clone, Debug, PartialEq)]
pub struct MnistSample {
    /// The state.
    pub state: Grid,
    /// The digit it shows.
    pub label: u8,
    /// Per cell: 1 runs the adversary, 0 the base (all 0 in a classifier run).
    pub mask: Vec<u8>,
}

/// The trainer's state: model, optimiser, pool, data and RNG.
pub struct MnistTrainer<B: AutodiffBackend> {
    /// The recipe.
    pub config: MnistTrainConfig,
    /// The model being trained (the classifier, or the adversary).
    pub model: MnistNca<B>,
    /// An adversary run's frozen base classifier.
    pub(super) base: Option<MnistWeights>,
    base_module: Option<MnistNca<B>>,
    optimizer: OptimizerAdaptor<Adam, MnistNca<B>, B>,
    /// The pool (empty in the naive variant).
    pub pool: Vec<MnistSample>,
    /// The RNG; its state is all a checkpoint needs to continue the same stream.
    pub rng: Pcg32,
    /// Iterations done.
    pub iteration: usize,
    /// Loss of every iteration so far.
    pub losses: Vec<f64>,
    /// Wall-clock seconds spent training, over all sessions of the run.
    pub seconds: f64,
    /// Iterations at which the run went on from a model's weights alone (`--init`).
    pub restarts: Vec<usize>,
    data: Arc<Digits>,
    pub(super) device: B::Device,
}

/// Side of an MNIST digit.
const SIDE: usize = 28;

impl<B: AutodiffBackend> MnistTrainer<B> {
    /// A fresh trainer: the perception and the first dense layer Glorot-uniform (Keras'
    /// default), the last layer zero, biases zero; the pool filled with training digits.
    pub fn new(config: MnistTrainConfig, data: Arc<Digits>, base: Option<MnistWeights>, device: B::Device) -> Result<Self, String> {
        let mut rng = Pcg32::new(config.seed);
        let mut init = MnistWeights::zeros(config.spec());
        let glorot = |fan_in: usize, fan_out: usize| (6.0 / (fan_in + fan_out) as f32).sqrt();
        let conv_limit = glorot(PERCEPTION, 9 * HIDDEN);
        init.conv_w.iter_mut().for_each(|w| *w = rng.range_f32(-conv_limit, conv_limit));
        let dense_limit = glorot(HIDDEN, HIDDEN);
        init.w1.iter_mut().for_each(|w| *w = rng.range_f32(-dense_limit, dense_limit));
        Self::from_weights(config, data, base, &init, rng, device)
    }

    /// A trainer that starts from existing weights with a given RNG.
    pub fn from_weights(
        config: MnistTrainConfig,
        data: Arc<Digits>,
        base: Option<MnistWeights>,
        weights: &MnistWeights,
        mut rng: Pcg32,
        device: B::Device,
    ) -> Result<Self, String> {
        config.validate()?;
        if (data.rows, data.cols) != (SIDE, SIDE) || data.is_empty() {
            return Err(format!(
                "the training digits are {}×{} ({} of them); the recipe needs 28×28 digits",
                data.cols,
                data.rows,
                data.len()
            ));
        }
        if config.adversary_target.is_some() != base.is_some() {
            return Err("an adversary run needs its base model, and only an adversary run takes one".into());
        }
        let pool = (0..config.pool_size).map(|_| random_sample(&mut rng, &data, &config, None)).collect();
        let base_module = base.as_ref().map(|w| MnistNca::from_weights(w, &device).no_grad());
        Ok(Self {
            model: MnistNca::from_weights(weights, &device),
            optimizer: AdamConfig::new().with_epsilon(config.adam_epsilon).init(),
            base,
            base_module,
            pool,
            rng,
            iteration: 0,
            losses: Vec::new(),
            seconds: 0.0,
            restarts: Vec::new(),
            data,
            config,
            device,
        })
    }

    /// The current weights (inference copy), with the recipe's spec.
    pub fn weights(&self) -> MnistWeights {
        self.model.valid().to_weights(self.config.spec())
    }

    pub(super) fn optimizer(&self) -> &OptimizerAdaptor<Adam, MnistNca<B>, B> {
        &self.optimizer
    }

    pub(super) fn load_optimizer_record(&mut self, record: <OptimizerAdaptor<Adam, MnistNca<B>, B> as Optimizer<MnistNca<B>, B>>::Record) {
        let fresh = AdamConfig::new().with_epsilon(self.config.adam_epsilon).init();
        self.optimizer = Optimizer::<MnistNca<B>, B>::load_record(fresh, record);
    }

    /// The training digits.
    pub fn data(&self) -> &Arc<Digits> {
        &self.data
    }

    /// This iteration's batch: pool entries (their indices) with the first ones fresh and the
    /// last ones mutated, or all fresh without a pool.
    fn draw_batch(&mut self) -> (Vec<usize>, Vec<MnistSample>) {
        let cfg = &self.config;
        let n = cfg.batch_size;
        if self.pool.is_empty() {
            let samples = (0..n).map(|_| random_sample(&mut self.rng, &self.data, cfg, None)).collect();
            return (Vec::new(), samples);
        }
        let indices = self.rng.sample_indices(self.pool.len(), n);
        let mut samples: Vec<MnistSample> = indices.iter().map(|&i| self.pool[i].clone()).collect();
        for sample in samples.iter_mut().take(cfg.fresh) {
            // A pool entry keeps its adversary mask for the whole run.
            let mask = std::mem::take(&mut sample.mask);
            *sample = random_sample(&mut self.rng, &self.data, cfg, Some(mask));
        }
        for sample in samples.iter_mut().skip(n - cfg.mutated) {
            let index = self.rng.range_u32(0, self.data.len() as u32 - 1) as usize;
            if cfg.mutation {
                mutate(sample, self.data.image(index), self.data.labels[index]);
            } else {
                let mask = std::mem::take(&mut sample.mask);
                *sample = fresh_sample(&self.data, index, mask);
            }
        }
        (indices, samples)
    }

    /// Runs one iteration.
    pub fn step(&mut self) -> IterationStats {
        let (indices, samples) = self.draw_batch();
        let cfg = &self.config;
        let n = samples.len();
        let seeds: Vec<u32> = (0..n).map(|_| self.rng.next_u32()).collect();
        let data: Vec<f32> = samples.iter().flat_map(|s| s.state.data.iter().copied()).collect();
        let state = Tensor::<B, 4>::from_data(TensorData::new(data, [n, SIDE, SIDE, CHANNELS]), &self.device);
        let mut target = vec![0.0f32; n * SIDE * SIDE * CLASSES];
        for (k, sample) in samples.iter().enumerate() {
            let class = cfg.adversary_target.unwrap_or(sample.label) as usize;
            for (cell, values) in sample.state.data.chunks_exact(CHANNELS).enumerate() {
                // The notebook's target covers cells with grey ≥ 0.1.
                if values[mnist::GREY] >= mnist::LIVE_THRESHOLD {
                    target[(k * SIDE * SIDE + cell) * CLASSES + class] = 1.0;
                }
            }
        }
        let target = Tensor::<B, 4>::from_data(TensorData::new(target, [n, SIDE, SIDE, CLASSES]), &self.device);
        let species: Option<Vec<u8>> = self.base_module.as_ref().map(|_| samples.iter().flat_map(|s| s.mask.iter().copied()).collect());
        let models: Vec<&MnistNca<B>> = match &self.base_module {
            Some(base) => vec![base, &self.model],
            None => vec![&self.model],
        };
        let state = if cfg.dense {
            let mut state = state;
            for step in 0..cfg.steps {
                let fire = super::fire_mask::<B>(&seeds, step, SIDE, SIDE, cfg.fire_rate, &self.device);
                let noise = super::noise_tensor::<B>(&seeds, step, SIDE, SIDE, cfg.noise_std, &self.device);
                state = self.model.step(state, fire, noise);
            }
            state
        } else {
            let mut rollout = MnistBatch::new(state);
            for step in 0..cfg.steps {
                rollout = step_active_species(&models, species.as_deref(), rollout, &seeds, step, cfg.fire_rate, cfg.noise_std);
            }
            rollout.into_state()
        };
        let scores = state.clone().narrow(3, mnist::CLASS_SCORES.start, CLASSES);
        let loss = match cfg.loss {
            MnistLoss::L2 => (target - scores).powi_scalar(2).sum().div_scalar(2.0 * n as f64),
            MnistLoss::Ce => {
                let cells = target.clone().sum().clamp_min(1.0);
                (target * log_softmax(scores, 3)).sum().neg() / cells
            }
        };
        let loss_value: f64 = loss.clone().into_scalar().to_f64();

        let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
        super::trainer::normalize::<B, 2>(&mut grads, self.model.conv_w.id);
        super::trainer::normalize::<B, 1>(&mut grads, self.model.conv_b.id);
        super::trainer::normalize::<B, 2>(&mut grads, self.model.w1.id);
        super::trainer::normalize::<B, 1>(&mut grads, self.model.b1.id);
        super::trainer::normalize::<B, 2>(&mut grads, self.model.w2.id);
        super::trainer::normalize::<B, 1>(&mut grads, self.model.b2.id);
        let lr = cfg.learning_rate_at(self.iteration);
        self.model = self.optimizer.step(lr, self.model.clone(), grads);

        if !indices.is_empty() {
            let out = state.inner().into_data().to_vec::<f32>().expect("f32 state");
            let values = SIDE * SIDE * CHANNELS;
            for ((k, &i), sample) in indices.iter().enumerate().zip(samples) {
                let state = Grid::from_data(SIDE, SIDE, CHANNELS, out[k * values..(k + 1) * values].to_vec()).expect("batch shape");
                self.pool[i] = MnistSample { state, ..sample };
            }
        }
        let stats = IterationStats { iteration: self.iteration, loss: loss_value, steps: cfg.steps };
        self.losses.push(loss_value);
        self.iteration += 1;
        stats
    }
}

/// A fresh state for training digit `index`, with `mask`.
fn fresh_sample(data: &Digits, index: usize, mask: Vec<u8>) -> MnistSample {
    MnistSample { state: mnist::digit_grid(SIDE, SIDE, data.image(index)), label: data.labels[index], mask }
}

/// A fresh random training digit, with `mask` or a new one drawn from the recipe.
fn random_sample(rng: &mut Pcg32, data: &Digits, cfg: &MnistTrainConfig, mask: Option<Vec<u8>>) -> MnistSample {
    let index = rng.range_u32(0, data.len() as u32 - 1) as usize;
    let mask = mask.unwrap_or_else(|| match cfg.adversary_target {
        Some(_) => (0..SIDE * SIDE).map(|_| u8::from(rng.next_f32() < cfg.adversary_fraction)).collect(),
        None => vec![0; SIDE * SIDE],
    });
    fresh_sample(data, index, mask)
}

/// The paper's mutation: the new digit's grey; the rest of the state kept where that grey is
/// alive (> 0.1) and zeroed elsewhere; the new label. The adversary mask stays.
pub fn mutate(sample: &mut MnistSample, pixels: &[u8], label: u8) {
    for (cell, &p) in sample.state.data.chunks_exact_mut(CHANNELS).zip(pixels) {
        mnist::place_on_cell(cell, p as f32 / 255.0);
    }
    sample.label = label;
}

impl<B: AutodiffBackend> Run for MnistTrainer<B> {
    fn iteration(&self) -> usize {
        self.iteration
    }
    fn step(&mut self) -> IterationStats {
        MnistTrainer::step(self)
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
    fn save_checkpoint(&self, path: &Path) -> Result<(), ModelError> {
        MnistTrainer::save_checkpoint(self, path)
    }
    fn model(&self) -> Result<NcaWeights, String> {
        let mut weights = self.weights();
        weights.provenance.insert("nca.train.seed".into(), self.config.seed.to_string());
        weights.provenance.insert("nca.train.recipe".into(), serde_json::to_string(&self.config).map_err(|e| e.to_string())?);
        if !self.restarts.is_empty() {
            weights.provenance.insert("nca.train.restarts".into(), super::checkpoint::join_iterations(&self.restarts));
        }
        Ok(NcaWeights::Mnist(weights))
    }
}

/// Version of the MNIST checkpoint layout.
const CHECKPOINT_FORMAT: &str = "mnist-1";

impl<B: AutodiffBackend> MnistTrainer<B> {
    /// Writes a checkpoint: the model (and an adversary run's base), the pool (states, labels,
    /// masks), the losses, Adam's moments, the RNG and the recipe; the training digits are read
    /// again from `--mnist` on resume.
    pub fn save_checkpoint(&self, path: &Path) -> Result<(), ModelError> {
        use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
        use safetensors::{Dtype, tensor::TensorView};
        let fail = |m: String| ModelError::format(path, m);
        let optimizer = BinBytesRecorder::<FullPrecisionSettings>::new()
            .record(self.optimizer().to_record(), ())
            .map_err(|e| fail(format!("cannot record the optimiser state ({e})")))?;
        let weights = self.weights();
        let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = weights
            .tensors()
            .into_iter()
            .map(|(name, shape, data)| (name.to_string(), Dtype::F32, shape, crate::model::weights::f32_to_le_bytes(data)))
            .collect();
        if let Some(base) = &self.base {
            buffers.extend(
                base.tensors()
                    .into_iter()
                    .map(|(name, shape, data)| (format!("base.{name}"), Dtype::F32, shape, crate::model::weights::f32_to_le_bytes(data))),
            );
        }
        let states: Vec<f32> = self.pool.iter().flat_map(|s| s.state.data.iter().copied()).collect();
        let labels: Vec<u8> = self.pool.iter().map(|s| s.label).collect();
        let masks: Vec<u8> = self.pool.iter().flat_map(|s| s.mask.iter().copied()).collect();
        let losses: Vec<u8> = self.losses.iter().flat_map(|l| l.to_le_bytes()).collect();
        let p = self.pool.len();
        buffers.extend([
            ("pool".to_string(), Dtype::F32, vec![p, SIDE, SIDE, CHANNELS], crate::model::weights::f32_to_le_bytes(&states)),
            ("pool_labels".to_string(), Dtype::U8, vec![p], labels),
            ("pool_masks".to_string(), Dtype::U8, vec![p, SIDE, SIDE], masks),
            ("losses".to_string(), Dtype::F64, vec![self.losses.len()], losses),
            ("optimizer".to_string(), Dtype::U8, vec![optimizer.len()], optimizer),
        ]);
        let views: Vec<(&str, TensorView<'_>)> = buffers
            .iter()
            .map(|(name, dtype, shape, bytes)| (name.as_str(), TensorView::new(*dtype, shape.clone(), bytes).expect("shapes match")))
            .collect();
        let meta = std::collections::BTreeMap::from([
            ("nca.ckpt.format".to_string(), CHECKPOINT_FORMAT.to_string()),
            ("nca.ckpt.iteration".to_string(), self.iteration.to_string()),
            ("nca.ckpt.rng".to_string(), self.rng.state.to_string()),
            ("nca.ckpt.seconds".to_string(), self.seconds.to_string()),
            ("nca.ckpt.config".to_string(), serde_json::to_string(&self.config).expect("the config serialises")),
            ("nca.ckpt.param_ids".to_string(), self.model.param_ids().map(|id| id.to_string()).join(",")),
            ("nca.ckpt.restarts".to_string(), super::checkpoint::join_iterations(&self.restarts)),
            ("nca.ckpt.digits".to_string(), self.data.len().to_string()),
        ]);
        let bytes =
            crate::model::weights::serialize_with_sorted_metadata(views, meta).map_err(|e| fail(format!("cannot serialise ({e})")))?;
        crate::model::weights::write_atomically(path, &bytes)
    }

    /// Restores a run from [`MnistTrainer::save_checkpoint`], with the same training digits.
    pub fn resume(path: &Path, data: Arc<Digits>, device: B::Device) -> Result<Self, ModelError> {
        use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
        use safetensors::{Dtype, SafeTensors};
        let bytes = crate::model::files::read_input(path, "checkpoint", super::checkpoint::MAX_CHECKPOINT_BYTES)?;
        let fail = |m: String| ModelError::format(path, m);
        let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(format!("not a readable checkpoint ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| fail(format!("not a readable checkpoint ({e})")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| meta.get(key).ok_or_else(|| fail(format!("checkpoint metadata has no '{key}'")));
        match get("nca.ckpt.format")?.as_str() {
            CHECKPOINT_FORMAT => {}
            "1" => return Err(fail("this is a growing run's checkpoint: resume it with nca train growing".into())),
            other => return Err(fail(format!("checkpoint format '{other}' is not {CHECKPOINT_FORMAT}"))),
        }
        let number = |key: &str| -> Result<u64, ModelError> { get(key)?.parse().map_err(|_| fail(format!("bad {key}"))) };
        let config = config_over_defaults(get("nca.ckpt.config")?).map_err(|e| fail(format!("bad nca.ckpt.config ({e})")))?;
        let digits = number("nca.ckpt.digits")? as usize;
        if digits != data.len() {
            return Err(fail(format!("the run trained on {digits} digits, the MNIST folder given holds {}", data.len())));
        }
        let tensor = |name: &str| st.tensor(name).map_err(|_| fail(format!("checkpoint has no tensor '{name}'")));
        let read_weights = |prefix: &str| -> Result<MnistWeights, ModelError> {
            let mut w = MnistWeights::zeros(config.spec());
            let shapes: Vec<(&str, Vec<usize>)> = w.tensors().iter().map(|(n, s, _)| (*n, s.clone())).collect();
            for ((name, shape), slot) in shapes.into_iter().zip(w.tensors_mut()) {
                let full = format!("{prefix}{name}");
                *slot = crate::model::weights::read_f32(&full, &tensor(&full)?, &shape).map_err(fail)?;
            }
            Ok(w)
        };
        let weights = read_weights("")?;
        let base = if config.adversary_target.is_some() { Some(read_weights("base.")?) } else { None };
        let pool_view = tensor("pool")?;
        let p = pool_view.shape().first().copied().unwrap_or(0);
        let states = crate::model::weights::read_f32("pool", &pool_view, &[p, SIDE, SIDE, CHANNELS]).map_err(fail)?;
        let u8s = |name: &str, len: usize| -> Result<Vec<u8>, ModelError> {
            let view = tensor(name)?;
            if view.dtype() != Dtype::U8 || view.data().len() != len {
                return Err(fail(format!("tensor '{name}' is not {len} bytes")));
            }
            Ok(view.data().to_vec())
        };
        let labels = u8s("pool_labels", p)?;
        let masks = u8s("pool_masks", p * SIDE * SIDE)?;
        let losses_view = tensor("losses")?;
        if losses_view.dtype() != Dtype::F64 {
            return Err(fail("tensor 'losses' is not F64".into()));
        }
        let losses: Vec<f64> = losses_view.data().chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))).collect();
        let record = BinBytesRecorder::<FullPrecisionSettings>::new()
            .load(tensor("optimizer")?.data().to_vec(), &device)
            .map_err(|e| fail(format!("cannot read the optimiser state ({e})")))?;
        let ids: Vec<u64> = get("nca.ckpt.param_ids")?.split(',').filter_map(|v| v.parse().ok()).collect();
        let ids: [u64; 6] = ids.try_into().map_err(|_| fail("bad nca.ckpt.param_ids".into()))?;

        let rng = Pcg32 { state: number("nca.ckpt.rng")? };
        let mut trainer = Self::from_weights(config, data, base, &weights, rng, device).map_err(fail)?;
        trainer.model = MnistNca::from_weights_with_ids(&weights, ids, &trainer.device);
        trainer.pool = states
            .chunks(SIDE * SIDE * CHANNELS)
            .zip(labels)
            .zip(masks.chunks(SIDE * SIDE))
            .map(|((state, label), mask)| MnistSample {
                state: Grid::from_data(SIDE, SIDE, CHANNELS, state.to_vec()).expect("shape checked"),
                label,
                mask: mask.to_vec(),
            })
            .collect();
        trainer.rng = rng;
        trainer.iteration = Some(number("nca.ckpt.iteration")?)
            .filter(|&n| n <= super::validate::MAX_ITERATIONS as u64)
            .ok_or_else(|| fail(format!("bad nca.ckpt.iteration (a count up to {})", super::validate::MAX_ITERATIONS)))?
            as usize;
        trainer.losses = losses;
        trainer.seconds = meta.get("nca.ckpt.seconds").and_then(|v| v.parse().ok()).unwrap_or(0.0);
        trainer.restarts =
            super::checkpoint::parse_iterations(get("nca.ckpt.restarts")?).map_err(|e| fail(format!("bad nca.ckpt.restarts ({e})")))?;
        trainer.load_optimizer_record(record);
        Ok(trainer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_keeps_exactly_the_cells_it_should() {
        let old: Vec<u8> = (0..SIDE * SIDE).map(|i| if i % 3 == 0 { 200 } else { 0 }).collect();
        let mut sample = MnistSample {
            state: mnist::digit_grid(SIDE, SIDE, &old),
            label: 4,
            mask: (0..SIDE * SIDE).map(|i| (i % 7 == 0) as u8).collect(),
        };
        for (i, cell) in sample.state.data.chunks_exact_mut(CHANNELS).enumerate() {
            cell[1..].iter_mut().enumerate().for_each(|(c, v)| *v = (i * 19 + c) as f32 * 0.01 + 0.5);
        }
        let before = sample.clone();
        // New grey: dead, exactly the threshold (still dead), just alive, full.
        let new: Vec<u8> = (0..SIDE * SIDE).map(|i| [0u8, 25, 26, 255][i % 4]).collect();
        mutate(&mut sample, &new, 9);
        assert_eq!(sample.label, 9);
        assert_eq!(sample.mask, before.mask, "the adversary mask stays with the entry");
        for (i, (now, was)) in sample.state.data.chunks_exact(CHANNELS).zip(before.state.data.chunks_exact(CHANNELS)).enumerate() {
            let grey = new[i] as f32 / 255.0;
            assert_eq!(now[0], grey, "cell {i}: grey is the new digit's");
            if grey > mnist::LIVE_THRESHOLD {
                assert_eq!(&now[1..], &was[1..], "cell {i}: alive under the new digit, its state is kept");
            } else {
                assert!(now[1..].iter().all(|&v| v == 0.0), "cell {i}: dead under the new digit, its state is zeroed");
            }
        }
    }

    #[test]
    fn a_recipe_saved_before_a_field_existed_reads_with_its_default() {
        let mut saved = serde_json::to_value(MnistTrainConfig::new().with_seed(7).with_dense(true)).unwrap();
        saved.as_object_mut().unwrap().remove("dense");
        let config = config_over_defaults(&saved.to_string()).unwrap();
        assert_eq!((config.seed, config.dense), (7, false));
        saved.as_object_mut().unwrap().insert("flux_capacitor".into(), 1.into());
        assert!(config_over_defaults(&saved.to_string()).unwrap_err().contains("flux_capacitor"));
        assert!(config_over_defaults("[1]").is_err());
    }

    #[test]
    fn the_schedule_drops_twice_and_bad_recipes_are_refused() {
        let c = MnistTrainConfig::new();
        assert_eq!((c.learning_rate_at(0), c.learning_rate_at(30_000), c.learning_rate_at(70_000)), (1e-3, 1e-4, 1e-5));
        assert!(c.clone().with_batch_size(0).validate().is_err());
        assert!(c.clone().with_pool_size(8).validate().unwrap_err().contains("smaller than the batch"));
        assert!(c.clone().with_pool_size(0).validate().is_ok(), "0 is the naive variant");
        assert!(c.clone().with_fresh(10).with_mutated(10).validate().is_err());
        assert!(c.clone().with_noise_std(f32::NAN).validate().is_err());
        assert!(c.clone().with_learning_rate(-1.0).validate().is_err());
        assert!(c.clone().with_adversary_target(Some(12)).validate().is_err());
    }
}
