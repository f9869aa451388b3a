//! `nca train growing`: the Distill recipe with a progress line, checkpoints, `--resume`, Ctrl-C,
//! a loss CSV and plot, and provenance in the output's metadata.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use burn::backend::{Autodiff, Flex, NdArray, Wgpu};
use burn::tensor::backend::AutodiffBackend;
use clap::{Args, ValueEnum};

use crate::model::NcaWeights;
use crate::model::spec::GrowingMode;
use crate::model::target::Target;
use crate::train::run::{FINAL_LOSS_WINDOW, LoopSettings, Run, drive, progress_line};
use crate::train::{Retune, TrainConfig, Trainer, plot};

/// Burn backends the trainer can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TrainBackend {
    /// CPU (`burn-ndarray`).
    Ndarray,
    /// CPU (`burn-flex`, Burn 0.21's successor of ndarray; threads with rayon, set
    /// RAYON_NUM_THREADS=1 for one thread).
    Flex,
    /// GPU through wgpu (Vulkan/Metal/DX12; lavapipe works, slowly).
    Wgpu,
}

/// Options of `nca train growing`; recipe flags default to the Distill notebook.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Target image (any RGBA PNG).
    #[arg(long, required_unless_present_any = ["resume", "init"])]
    pub target: Option<PathBuf>,
    /// growing, persistent or regenerating.
    #[arg(long, default_value = "regenerating", value_parser = super::parse_mode)]
    pub mode: GrowingMode,
    /// Train until this many iterations in total.
    #[arg(long)]
    pub iterations: usize,
    /// Output model (.safetensors); the checkpoint, CSV and plot go next to it.
    #[arg(long)]
    pub out: PathBuf,
    /// Burn backend (flex, the default, is the faster CPU backend: see the README).
    #[arg(long, value_enum, default_value_t = TrainBackend::Flex)]
    pub backend: TrainBackend,
    /// Continue from a checkpoint (its recipe and target are used).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Go on from a trained growing model's weights when its checkpoint is gone (checkpoints hold
    /// the whole pool and stay on the machine that wrote them). The model's recipe, target
    /// (assets/targets/<target>.png unless --target is given), iteration count, training time and
    /// loss curve (its .loss.csv) carry on; the pool restarts from seeds and Adam from zero, and
    /// the model's metadata records the iteration of that restart (`nca.train.restarts`).
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Start a new run for --target from a trained growing model's weights instead of fresh
    /// ones (transfer: a model that already grows, stops and heals learns a new shape sooner).
    /// Everything else starts afresh: iteration 0, the recipe from the flags, a pool of seeds.
    /// The recipe records where the run started (`started_from`).
    #[arg(long, conflicts_with_all = ["resume", "init"], requires = "target")]
    pub from: Option<PathBuf>,
    /// Seed of the run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Minutes between checkpoints.
    #[arg(long, default_value_t = 5.0)]
    pub checkpoint_minutes: f64,
    /// Samples in the pool.
    #[arg(long, default_value_t = 1024)]
    pub pool_size: usize,
    /// Samples per iteration.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Fewest CA steps per iteration.
    #[arg(long, default_value_t = 64)]
    pub min_steps: u32,
    /// Most CA steps per iteration.
    #[arg(long, default_value_t = 96)]
    pub max_steps: u32,
    /// Learning rate before the drop.
    #[arg(long, default_value_t = 2e-3)]
    pub learning_rate: f64,
    /// Iteration of the learning-rate drop.
    #[arg(long, default_value_t = 2000)]
    pub lr_drop_at: usize,
    /// Learning rate after the drop [default: 0.0002]. With --resume or --init it retunes the
    /// run from there on (a fine-tuning phase), as do the four damage flags below; the model's
    /// recipe records each change (`retuned`).
    #[arg(long)]
    pub learning_rate_after: Option<f64>,
    /// Best samples damaged per iteration (regenerating) [default: 3].
    #[arg(long)]
    pub damaged: Option<usize>,
    /// Smallest damage radius (regenerating), in the notebook's units: the grid spans [-1, 1]
    /// [default: 0.1].
    #[arg(long)]
    pub damage_radius_min: Option<f32>,
    /// Largest damage radius (regenerating), in the notebook's units [default: 0.4].
    #[arg(long)]
    pub damage_radius_max: Option<f32>,
    /// Of the damaged samples, how many lose a half instead of a disc [default: 0, the
    /// notebook's recipe].
    #[arg(long)]
    pub half_cuts: Option<usize>,
    /// Fire rate.
    #[arg(long, default_value_t = 0.5)]
    pub fire_rate: f32,
    /// Target thumbnail size.
    #[arg(long, default_value_t = 40)]
    pub target_size: u32,
    /// Padding around the target.
    #[arg(long, default_value_t = 16)]
    pub target_padding: u32,
}

impl TrainArgs {
    fn config(&self) -> TrainConfig {
        let defaults = TrainConfig::new();
        let learning_rate_after = self.learning_rate_after.unwrap_or(defaults.learning_rate_after);
        let damaged = self.damaged.unwrap_or(defaults.damaged);
        let half_cuts = self.half_cuts.unwrap_or(defaults.half_cuts);
        let radius_min = self.damage_radius_min.unwrap_or(defaults.damage_radius_min);
        let radius_max = self.damage_radius_max.unwrap_or(defaults.damage_radius_max);
        defaults
            .with_mode(self.mode)
            .with_pool_size(self.pool_size)
            .with_batch_size(self.batch_size)
            .with_min_steps(self.min_steps)
            .with_max_steps(self.max_steps)
            .with_learning_rate(self.learning_rate)
            .with_lr_drop_at(self.lr_drop_at)
            .with_learning_rate_after(learning_rate_after)
            .with_damaged(damaged)
            .with_damage_radius_min(radius_min)
            .with_damage_radius_max(radius_max)
            .with_half_cuts(half_cuts)
            .with_fire_rate(self.fire_rate)
            .with_target_size(self.target_size)
            .with_target_padding(self.target_padding)
            .with_seed(self.seed)
            .with_target_name(self.target.as_ref().and_then(|p| p.file_stem()).and_then(|s| s.to_str()).unwrap_or("").to_string())
    }
}

/// Applies the recipe flags given to a run going on at `iteration`, saying what changed.
fn retune(config: &mut TrainConfig, iteration: usize, args: &TrainArgs) -> Result<(), String> {
    let changes = Retune {
        learning_rate_after: args.learning_rate_after,
        damaged: args.damaged,
        half_cuts: args.half_cuts,
        damage_radius_min: args.damage_radius_min,
        damage_radius_max: args.damage_radius_max,
    };
    for entry in config.retune(iteration, &changes).map_err(|e| format!("cannot retune the run: {e}"))? {
        eprintln!("retuned at iteration {entry}");
    }
    Ok(())
}

pub use crate::train::run::sibling;

pub(super) fn run(args: TrainArgs) -> Result<(), String> {
    match args.backend {
        TrainBackend::Ndarray => train::<Autodiff<NdArray<f32>>>(args, Default::default()),
        TrainBackend::Flex => train::<Autodiff<Flex>>(args, Default::default()),
        TrainBackend::Wgpu => {
            crate::app::probe_adapter().map_err(|e| e.to_string())?;
            train::<Autodiff<Wgpu>>(args, Default::default())
        }
    }
}

fn train<B: AutodiffBackend>(args: TrainArgs, device: B::Device) -> Result<(), String> {
    crate::train::validate::iterations(args.iterations)?;
    if args.resume.is_none() {
        // Before the target is read: a bad size must not allocate anything.
        args.config().validate()?;
    }
    let mut trainer = match (&args.resume, &args.init) {
        (Some(path), _) => {
            let mut trainer = Trainer::<B>::resume(path, device).map_err(|e| e.to_string())?;
            retune(&mut trainer.config, trainer.iteration, &args)?;
            trainer.config.validate().map_err(|e| format!("cannot retune the run: {e}"))?;
            trainer
        }
        (None, Some(model)) => init_trainer(&args, model, device)?,
        (None, None) => {
            let path = args.target.as_ref().expect("clap requires --target without --resume or --init");
            let target = Target::load(path, args.target_size, args.target_padding).map_err(|e| e.to_string())?;
            match &args.from {
                Some(model) => transfer_trainer(&args, model, target, device)?,
                None => Trainer::<B>::new(args.config(), target, device),
            }
        }
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

/// Checkpoint minutes as an interval (0: after every iteration).
pub(super) fn checkpoint_interval(minutes: f64) -> Result<Duration, String> {
    if minutes.is_finite() && minutes >= 0.0 {
        Ok(Duration::from_secs_f64(minutes * 60.0))
    } else {
        Err(format!("--checkpoint-minutes {minutes} is not a number of minutes ≥ 0"))
    }
}

/// The shared loop with the CLI's progress line and Ctrl-C, and its closing line.
pub(super) fn drive_from_cli(run: &mut dyn Run, settings: &LoopSettings) -> Result<(), String> {
    // Judged before the first iteration: a folder or a device as OUT must not cost a run.
    for path in [settings.out.clone(), sibling(&settings.out, ".ckpt.safetensors")] {
        crate::model::weights::check_output(&path).map_err(|e| e.to_string())?;
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        // A second handler cannot be installed in one process (tests run several trainings).
        let _ = crate::platform::on_interrupt(move || flag.store(true, Ordering::SeqCst));
    }
    let result = drive(run, settings, &interrupted, |p| eprint!("{}", progress_line(p)));
    eprintln!();
    let final_loss = result?;
    println!(
        "{}: {} iterations, final loss {final_loss:.3e} (mean of the last {}), {:.0} s in all",
        settings.out.display(),
        run.iteration(),
        FINAL_LOSS_WINDOW.min(run.losses().len()),
        run.seconds()
    );
    Ok(())
}

/// A new run that starts from a model's weights (`--from`): see [`TrainArgs::from`].
fn transfer_trainer<B: AutodiffBackend>(args: &TrainArgs, model: &Path, target: Target, device: B::Device) -> Result<Trainer<B>, String> {
    let weights = NcaWeights::load(model).map_err(|e| e.to_string())?;
    let Some(weights) = weights.as_growing() else {
        return Err(format!("{}: --from needs a growing model, this is {}", model.display(), weights.describe()));
    };
    let name = model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let iterations = weights.provenance.get("nca.train.iterations").map(|n| format!(", {n} iterations")).unwrap_or_default();
    let config = args.config().with_started_from(format!("{name} (target '{}'{iterations})", weights.spec.target));
    let rng = crate::train::Pcg32::new(config.seed);
    Ok(Trainer::<B>::from_weights(config, target, weights, rng, device))
}

/// A trainer that goes on from a model's weights (`--init`): see [`TrainArgs::init`].
fn init_trainer<B: AutodiffBackend>(args: &TrainArgs, model: &Path, device: B::Device) -> Result<Trainer<B>, String> {
    let weights = NcaWeights::load(model).map_err(|e| e.to_string())?;
    let Some(weights) = weights.as_growing() else {
        return Err(format!("{}: --init needs a growing model, this is {}", model.display(), weights.describe()));
    };
    let meta = |key: &str| weights.provenance.get(key).map(String::as_str);
    let bad = |key: &str, why: String| format!("{}: metadata '{key}' {why}", model.display());
    let mut config = match meta("nca.train.recipe") {
        Some(json) => {
            crate::train::checkpoint::recipe_from_json(json).map_err(|e| bad("nca.train.recipe", format!("is not a recipe ({e})")))?
        }
        // Not trained here (an imported model): the flags are the recipe.
        None => args.config().with_mode(weights.spec.mode).with_fire_rate(weights.spec.fire_rate),
    };
    let target_path = super::target_of(model, &weights.spec.target, args.target.clone())?;
    if let Some(name) = target_path.file_stem().and_then(|s| s.to_str()) {
        config.target_name = name.to_string();
    }
    let target = Target::load(&target_path, config.target_size, config.target_padding).map_err(|e| e.to_string())?;
    config.validate().map_err(|e| bad("nca.train.recipe", format!("holds a recipe that cannot train ({e})")))?;
    let iteration = crate::train::validate::iterations_in_metadata(model, meta("nca.train.iterations"))?;
    let curve = sibling(model, ".loss.csv");
    let mut losses = if curve.is_file() { plot::read_csv(&curve)? } else { Vec::new() };
    // Without the parent's curve, keep iteration numbers true: the lost rows are NaN.
    losses.resize(iteration, f64::NAN);
    let mut restarts = match meta("nca.train.restarts") {
        Some(list) => crate::train::checkpoint::parse_iterations(list).map_err(|e| bad("nca.train.restarts", e))?,
        None => Vec::new(),
    };
    retune(&mut config, iteration, args)?;
    restarts.push(iteration);
    // A stream of its own per restart, so the new pool's batches are not the first run's again.
    let rng = crate::train::Pcg32::new(config.seed ^ (iteration as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut trainer = Trainer::<B>::from_weights(config, target, weights, rng, device);
    trainer.iteration = iteration;
    trainer.losses = losses;
    trainer.seconds = meta("nca.train.seconds").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    trainer.restarts = restarts;
    Ok(trainer)
}
