//! `nca train growing`: the Distill recipe with a progress line, checkpoints, `--resume`, Ctrl-C,
//! a loss CSV and plot, and provenance in the output's metadata.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::backend::{Autodiff, NdArray, Wgpu};
use burn::tensor::backend::AutodiffBackend;
use clap::{Args, ValueEnum};

use crate::model::spec::GrowingMode;
use crate::model::target::Target;
use crate::model::NcaWeights;
use crate::train::{TrainConfig, Trainer, plot};

/// Burn backends the trainer can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TrainBackend {
    /// CPU (`burn-ndarray`).
    Ndarray,
    /// GPU through wgpu (Vulkan/Metal/DX12; lavapipe works, slowly).
    Wgpu,
}

/// Options of `nca train growing`; recipe flags default to the Distill notebook.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Target image (any RGBA PNG).
    #[arg(long, required_unless_present = "resume")]
    pub target: Option<PathBuf>,
    /// growing, persistent or regenerating.
    #[arg(long, default_value = "regenerating", value_parser = parse_mode)]
    pub mode: GrowingMode,
    /// Train until this many iterations in total.
    #[arg(long)]
    pub iterations: usize,
    /// Output model (.safetensors); the checkpoint, CSV and plot go next to it.
    #[arg(long)]
    pub out: PathBuf,
    /// Burn backend.
    #[arg(long, value_enum, default_value_t = TrainBackend::Ndarray)]
    pub backend: TrainBackend,
    /// Continue from a checkpoint (its recipe and target are used).
    #[arg(long)]
    pub resume: Option<PathBuf>,
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
    /// Learning rate after the drop.
    #[arg(long, default_value_t = 2e-4)]
    pub learning_rate_after: f64,
    /// Best samples damaged per iteration (regenerating).
    #[arg(long, default_value_t = 3)]
    pub damaged: usize,
    /// Smallest damage radius (regenerating), in the notebook's units: the grid spans [-1, 1].
    #[arg(long, default_value_t = 0.1)]
    pub damage_radius_min: f32,
    /// Largest damage radius (regenerating), in the notebook's units.
    #[arg(long, default_value_t = 0.4)]
    pub damage_radius_max: f32,
    /// Of the damaged samples, how many lose a half instead of a disc (default 0, the
    /// notebook's recipe). Given with --resume, it changes the resumed run's damage mix.
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

fn parse_mode(s: &str) -> Result<GrowingMode, String> {
    s.parse()
}

impl TrainArgs {
    fn config(&self) -> TrainConfig {
        TrainConfig::new()
            .with_mode(self.mode)
            .with_pool_size(self.pool_size)
            .with_batch_size(self.batch_size)
            .with_min_steps(self.min_steps)
            .with_max_steps(self.max_steps.max(self.min_steps))
            .with_learning_rate(self.learning_rate)
            .with_lr_drop_at(self.lr_drop_at)
            .with_learning_rate_after(self.learning_rate_after)
            .with_damaged(self.damaged)
            .with_damage_radius_min(self.damage_radius_min)
            .with_damage_radius_max(self.damage_radius_max.max(self.damage_radius_min))
            .with_half_cuts(self.half_cuts.unwrap_or(0))
            .with_fire_rate(self.fire_rate)
            .with_target_size(self.target_size)
            .with_target_padding(self.target_padding)
            .with_seed(self.seed)
            .with_target_name(
                self.target.as_ref().and_then(|p| p.file_stem()).and_then(|s| s.to_str()).unwrap_or("").to_string(),
            )
    }
}

/// Files written next to the output model.
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    out.with_file_name(format!("{stem}{suffix}"))
}

pub(super) fn run(args: TrainArgs) -> Result<(), String> {
    match args.backend {
        TrainBackend::Ndarray => train::<Autodiff<NdArray<f32>>>(args, Default::default()),
        TrainBackend::Wgpu => {
            crate::app::probe_adapter().map_err(|e| e.to_string())?;
            train::<Autodiff<Wgpu>>(args, Default::default())
        }
    }
}

fn train<B: AutodiffBackend>(args: TrainArgs, device: B::Device) -> Result<(), String> {
    let checkpoint = sibling(&args.out, ".ckpt.safetensors");
    let mut trainer = match &args.resume {
        Some(path) => {
            let mut trainer = Trainer::<B>::resume(path, device).map_err(|e| e.to_string())?;
            if let Some(half_cuts) = args.half_cuts {
                trainer.config.half_cuts = half_cuts;
            }
            trainer
        }
        None => {
            let path = args.target.as_ref().expect("clap requires --target without --resume");
            let target = Target::load(path, args.target_size, args.target_padding).map_err(|e| e.to_string())?;
            Trainer::<B>::new(args.config(), target, device)
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        // A second handler cannot be installed in one process (tests run several trainings).
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }

    let start = Instant::now();
    let seconds_before = trainer.seconds;
    let first = trainer.iteration;
    let mut last_checkpoint = Instant::now();
    let mut saved_any = args.resume.is_some();
    while trainer.iteration < args.iterations {
        if interrupted.load(Ordering::SeqCst) {
            trainer.save_checkpoint(&checkpoint).map_err(|e| e.to_string())?;
            write_curves(&args.out, &trainer.losses)?;
            eprintln!();
            return Err(format!(
                "interrupted at iteration {}; checkpoint saved to {} (continue with --resume {})",
                trainer.iteration,
                checkpoint.display(),
                checkpoint.display()
            ));
        }
        let stats = trainer.step();
        trainer.seconds = seconds_before + start.elapsed().as_secs_f64();
        if !stats.loss.is_finite() {
            eprintln!();
            let kept = if saved_any {
                format!("the last good checkpoint is {}", checkpoint.display())
            } else {
                "no checkpoint had been written yet".to_string()
            };
            return Err(format!("loss became {} at iteration {}; stopped, {kept}", stats.loss, stats.iteration));
        }
        let done = trainer.iteration - first;
        let rate = done as f64 / start.elapsed().as_secs_f64().max(1e-9);
        let eta = Duration::from_secs_f64((args.iterations - trainer.iteration) as f64 / rate.max(1e-9));
        eprint!(
            "\r[{}/{}] loss {:.3e}  {:.2} it/s  ETA {}   ",
            trainer.iteration,
            args.iterations,
            stats.loss,
            rate,
            format_duration(eta)
        );
        if last_checkpoint.elapsed().as_secs_f64() >= args.checkpoint_minutes * 60.0 {
            trainer.save_checkpoint(&checkpoint).map_err(|e| e.to_string())?;
            last_checkpoint = Instant::now();
            saved_any = true;
        }
    }
    eprintln!();
    trainer.save_checkpoint(&checkpoint).map_err(|e| e.to_string())?;
    let mut weights = trainer.weights();
    let tail = &trainer.losses[trainer.losses.len().saturating_sub(10)..];
    let final_loss = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
    for (key, value) in [
        ("nca.source", "trained by nca-sandbox".to_string()),
        ("nca.train.command", std::env::args().collect::<Vec<_>>().join(" ")),
        ("nca.train.iterations", trainer.iteration.to_string()),
        ("nca.train.loss", format!("{final_loss:e}")),
        ("nca.train.backend", format!("{:?}", args.backend).to_lowercase()),
        ("nca.train.seconds", format!("{:.0}", trainer.seconds)),
        ("nca.train.seed", trainer.config.seed.to_string()),
        // The command above may be the last of several resumes; the recipe is the whole story.
        ("nca.train.recipe", serde_json::to_string(&trainer.config).map_err(|e| e.to_string())?),
    ] {
        weights.provenance.insert(key.to_string(), value);
    }
    NcaWeights::Growing(weights).save(&args.out).map_err(|e| e.to_string())?;
    write_curves(&args.out, &trainer.losses)?;
    println!(
        "{}: {} iterations, final loss {final_loss:.3e} (mean of the last {}), {:.0} s in all",
        args.out.display(),
        trainer.iteration,
        tail.len(),
        trainer.seconds
    );
    Ok(())
}

fn write_curves(out: &Path, losses: &[f64]) -> Result<(), String> {
    let csv = sibling(out, ".loss.csv");
    plot::write_csv(&csv, losses).map_err(|e| format!("{}: {e}", csv.display()))?;
    let png = sibling(out, ".loss.png");
    plot::render_png(losses).save(&png).map_err(|e| format!("{}: {e}", png.display()))
}

fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 { format!("{}h{:02}m", s / 3600, (s % 3600) / 60) } else { format!("{}m{:02}s", s / 60, s % 60) }
}
