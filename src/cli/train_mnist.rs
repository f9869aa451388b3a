//! `nca train mnist` and `nca train mnist-adversary`: the self-classifying MNIST recipe and the
//! adversarial-reprogramming recipe, driven by the same loop as `nca train growing`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::backend::{Autodiff, Flex, NdArray, Wgpu};
use burn::tensor::backend::AutodiffBackend;
use clap::Args;

use super::train::{TrainBackend, checkpoint_interval, drive_from_cli};
use crate::model::NcaWeights;
use crate::model::idx::{Digits, Split, default_dir};
use crate::train::run::{LoopSettings, sibling};
use crate::train::{MnistLoss, MnistTrainConfig, MnistTrainer, Pcg32, plot};

/// The run and its recipe; recipe flags default to the paper's notebook.
#[derive(Args, Debug)]
pub struct MnistTrainArgs {
    /// Output model (.safetensors); the checkpoint, CSV and plot go next to it.
    #[arg(long)]
    pub out: PathBuf,
    /// Folder of MNIST's idx files (default: $NCA_MNIST_DIR, else data/mnist).
    #[arg(long)]
    pub mnist: Option<PathBuf>,
    /// Train until this many iterations in total.
    #[arg(long, default_value_t = 100_000)]
    pub iterations: usize,
    /// Burn backend (flex, the default, is the faster CPU backend: see the README).
    #[arg(long, value_enum, default_value_t = TrainBackend::Flex)]
    pub backend: TrainBackend,
    /// Continue from a checkpoint exactly (its recipe is used).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Go on from a trained MNIST model's weights when its checkpoint is gone: its recipe,
    /// iteration count, training time and loss curve carry on; the pool and Adam start afresh
    /// (recorded in `nca.train.restarts`).
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Start a new run from an MNIST model's weights instead of fresh ones (recorded as
    /// `started_from`).
    #[arg(long, conflicts_with_all = ["resume", "init"])]
    pub from: Option<PathBuf>,
    /// Seed of the run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Minutes between checkpoints.
    #[arg(long, default_value_t = 5.0)]
    pub checkpoint_minutes: f64,
    /// States in the pool; 0 trains the naive variant (always fresh digits).
    #[arg(long, default_value_t = 160)]
    pub pool: usize,
    /// Samples per iteration.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Samples of a batch replaced by fresh digits.
    #[arg(long, default_value_t = 4)]
    pub fresh: usize,
    /// Samples of a batch mutated into new digits.
    #[arg(long, default_value_t = 4)]
    pub mutated: usize,
    /// Replace the last samples afresh instead of mutating them.
    #[arg(long)]
    pub no_mutation: bool,
    /// CA steps per iteration.
    #[arg(long, default_value_t = 20)]
    pub steps: u32,
    /// l2 (the notebook's) or ce (pixel-wise cross-entropy on the digit's cells).
    #[arg(long, default_value = "l2")]
    pub loss: MnistLoss,
    /// Standard deviation of the residual noise (0: none).
    #[arg(long, default_value_t = 0.02)]
    pub noise: f32,
    /// Learning rate at the start.
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Iteration of the first learning-rate drop.
    #[arg(long, default_value_t = 30_000)]
    pub lr_drop_at: usize,
    /// Learning rate after the first drop.
    #[arg(long, default_value_t = 1e-4)]
    pub learning_rate_after: f64,
    /// Iteration of the second drop.
    #[arg(long, default_value_t = 70_000)]
    pub lr_second_drop_at: usize,
    /// Learning rate after the second drop.
    #[arg(long, default_value_t = 1e-5)]
    pub learning_rate_final: f64,
    /// Fire rate.
    #[arg(long, default_value_t = 0.5)]
    pub fire_rate: f32,
}

/// `nca train mnist-adversary`: the base recipe's flags, plus the frozen base and the target.
#[derive(Args, Debug)]
pub struct MnistAdversaryArgs {
    /// The frozen base classifier.
    #[arg(long)]
    pub base: PathBuf,
    /// The class the adversary pushes every digit to.
    #[arg(long, default_value_t = 8)]
    pub target_class: u8,
    /// Share of each sample's cells that run the adversary (a Bernoulli mask per pool entry).
    #[arg(long, default_value_t = 0.1)]
    pub fraction: f32,
    /// The run and the recipe.
    #[command(flatten)]
    pub run: MnistTrainArgs,
}

impl MnistTrainArgs {
    fn config(&self) -> MnistTrainConfig {
        MnistTrainConfig::new()
            .with_pool_size(self.pool)
            .with_batch_size(self.batch_size)
            .with_fresh(self.fresh)
            .with_mutated(self.mutated)
            .with_mutation(!self.no_mutation)
            .with_steps(self.steps)
            .with_loss(self.loss)
            .with_noise_std(self.noise)
            .with_learning_rate(self.learning_rate)
            .with_lr_drop_at(self.lr_drop_at)
            .with_learning_rate_after(self.learning_rate_after)
            .with_lr_second_drop_at(self.lr_second_drop_at)
            .with_learning_rate_final(self.learning_rate_final)
            .with_fire_rate(self.fire_rate)
            .with_seed(self.seed)
    }
}

/// `nca train mnist`.
pub(super) fn run(args: MnistTrainArgs) -> Result<(), String> {
    dispatch(&args, args.config(), None)
}

/// `nca train mnist-adversary`.
pub(super) fn run_adversary(args: MnistAdversaryArgs) -> Result<(), String> {
    let base = NcaWeights::load(&args.base).map_err(|e| e.to_string())?;
    let base = base.expect_mnist().map_err(|e| format!("{}: --base {e}", args.base.display()))?.clone();
    let name = args.base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let config =
        args.run.config().with_adversary_target(Some(args.target_class)).with_adversary_fraction(args.fraction).with_base_model(name);
    dispatch(&args.run, config, Some(base))
}

fn dispatch(args: &MnistTrainArgs, config: MnistTrainConfig, base: Option<crate::model::MnistWeights>) -> Result<(), String> {
    match args.backend {
        TrainBackend::Ndarray => train::<Autodiff<NdArray<f32>>>(args, config, base, Default::default()),
        TrainBackend::Flex => train::<Autodiff<Flex>>(args, config, base, Default::default()),
        TrainBackend::Wgpu => {
            crate::app::probe_adapter().map_err(|e| e.to_string())?;
            train::<Autodiff<Wgpu>>(args, config, base, Default::default())
        }
    }
}

fn train<B: AutodiffBackend>(
    args: &MnistTrainArgs,
    config: MnistTrainConfig,
    base: Option<crate::model::MnistWeights>,
    device: B::Device,
) -> Result<(), String> {
    crate::train::validate::iterations(args.iterations)?;
    config.validate()?;
    let dir = args.mnist.clone().unwrap_or_else(default_dir);
    let data = Arc::new(Digits::load(&dir, Split::Train).map_err(|e| e.to_string())?);
    let mut trainer = match (&args.resume, &args.init, &args.from) {
        (Some(path), _, _) => MnistTrainer::<B>::resume(path, data, device).map_err(|e| e.to_string())?,
        (None, Some(model), _) => init_trainer(model, data, base, device)?,
        (None, None, Some(model)) => {
            let weights = mnist_weights(model, "--from")?;
            let name = model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let config = config.with_started_from(name);
            let rng = Pcg32::new(config.seed);
            MnistTrainer::<B>::from_weights(config, data, base, &weights, rng, device)?
        }
        (None, None, None) => MnistTrainer::<B>::new(config, data, base, device)?,
    };
    let settings = LoopSettings {
        out: args.out.clone(),
        iterations: args.iterations,
        checkpoint_every: checkpoint_interval(args.checkpoint_minutes)?,
        resumed: args.resume.is_some(),
        backend: format!("{:?}", args.backend).to_lowercase(),
    };
    drive_from_cli(&mut trainer, &settings)
}

/// An MNIST model's weights, or an error naming the flag and the file.
fn mnist_weights(model: &Path, flag: &str) -> Result<crate::model::MnistWeights, String> {
    let weights = NcaWeights::load(model).map_err(|e| e.to_string())?;
    weights.expect_mnist().cloned().map_err(|e| format!("{}: {flag} {e}", model.display()))
}

/// A trainer that goes on from a model's weights (`--init`).
fn init_trainer<B: AutodiffBackend>(
    model: &Path,
    data: Arc<Digits>,
    base: Option<crate::model::MnistWeights>,
    device: B::Device,
) -> Result<MnistTrainer<B>, String> {
    let weights = mnist_weights(model, "--init")?;
    let meta = |key: &str| weights.provenance.get(key).map(String::as_str);
    let bad = |key: &str, why: String| format!("{}: metadata '{key}' {why}", model.display());
    let config: MnistTrainConfig = match meta("nca.train.recipe") {
        Some(json) => serde_json::from_str(json).map_err(|e| bad("nca.train.recipe", format!("is not an MNIST recipe ({e})")))?,
        None => {
            return Err(format!(
                "{}: --init goes on from a model trained here; this one has no recipe (start a new run from it with --from)",
                model.display()
            ));
        }
    };
    // The recipe's numbers come from a file: judged as flags would be, and named as its own.
    config.validate().map_err(|e| bad("nca.train.recipe", format!("holds a recipe that cannot train ({e})")))?;
    let iteration = crate::train::validate::iterations_in_metadata(model, meta("nca.train.iterations"))?;
    let curve = sibling(model, ".loss.csv");
    let mut losses = if curve.is_file() { plot::read_csv(&curve)? } else { Vec::new() };
    losses.resize(iteration, f64::NAN);
    let mut restarts = match meta("nca.train.restarts") {
        Some(list) => crate::train::checkpoint::parse_iterations(list).map_err(|e| bad("nca.train.restarts", e))?,
        None => Vec::new(),
    };
    restarts.push(iteration);
    let rng = Pcg32::new(config.seed ^ (iteration as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let seconds = meta("nca.train.seconds").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let mut trainer = MnistTrainer::<B>::from_weights(config, data, base, &weights, rng, device)?;
    trainer.iteration = iteration;
    trainer.losses = losses;
    trainer.seconds = seconds;
    trainer.restarts = restarts;
    Ok(trainer)
}
