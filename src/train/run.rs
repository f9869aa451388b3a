//! The training loop every recipe shares: iterate, report progress, write a checkpoint and the
//! model every few minutes and on a stop request, stop on a loss that is not finite with the last
//! good files kept, and record the curves and provenance. The growing and the MNIST trainers are
//! two [`Run`]s of it.

use crate::platform::Instant;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::model::{ModelError, NcaWeights};
use crate::plot;

/// What one iteration did.
#[derive(Clone, Debug, PartialEq)]
pub struct IterationStats {
    /// The iteration's number (0-based).
    pub iteration: usize,
    /// The iteration's loss.
    pub loss: f64,
    /// CA steps run.
    pub steps: u32,
}

/// A training run the shared loop can drive.
pub trait Run {
    /// Iterations done.
    fn iteration(&self) -> usize;
    /// Runs one iteration.
    fn step(&mut self) -> IterationStats;
    /// Every iteration's loss so far (NaN where a restart lost the curve).
    fn losses(&self) -> &[f64];
    /// Seconds spent training, over all sessions of the run.
    fn seconds(&self) -> f64;
    /// Sets [`Run::seconds`].
    fn set_seconds(&mut self, seconds: f64);
    /// Writes everything the run needs to go on exactly.
    fn save_checkpoint(&self, path: &Path) -> Result<(), ModelError>;
    /// The model as it stands, carrying the run's own provenance (its recipe, seed and
    /// restarts); [`save_model`] adds what every run records.
    fn model(&self) -> Result<NcaWeights, String>;
}

/// `out`'s sibling file with `suffix` in place of its extension (`lizard.ckpt.safetensors`).
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    out.with_file_name(format!("{stem}{suffix}"))
}

/// The checkpoint written next to the output model.
pub fn checkpoint_path(out: &Path) -> PathBuf {
    sibling(out, ".ckpt.safetensors")
}

/// Where the loop writes and how often.
#[derive(Clone, Debug)]
pub struct LoopSettings {
    /// The model file, rewritten at every checkpoint.
    pub out: PathBuf,
    /// Train until this many iterations in all.
    pub iterations: usize,
    /// Time between checkpoints.
    pub checkpoint_every: Duration,
    /// Whether the run came from a checkpoint (which then counts as the last good one).
    pub resumed: bool,
    /// Burn backend's name, for the provenance.
    pub backend: String,
}

/// How the loop is doing, after every iteration.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Iterations done.
    pub iteration: usize,
    /// Of how many.
    pub total: usize,
    /// The last iteration's loss.
    pub loss: f64,
    /// Iterations per second in this session.
    pub per_second: f64,
    /// Time left at that rate.
    pub eta: Duration,
}

/// Iterations averaged into the recorded final loss (one batch's loss is noisy).
pub const FINAL_LOSS_WINDOW: usize = 10;

/// Drives `run` to `settings.iterations`, calling `progress` after every iteration. Returns the
/// final loss (mean of the last [`FINAL_LOSS_WINDOW`]). A raised `stop` saves the checkpoint and
/// the model and returns an error that says how to go on; a loss that is not finite stops with
/// the last good checkpoint and model untouched.
pub fn drive(run: &mut dyn Run, settings: &LoopSettings, stop: &AtomicBool, mut progress: impl FnMut(&Progress)) -> Result<f64, String> {
    let checkpoint = checkpoint_path(&settings.out);
    let start = Instant::now();
    let seconds_before = run.seconds();
    let first = run.iteration();
    let mut last_checkpoint = Instant::now();
    let mut saved_any = settings.resumed;
    while run.iteration() < settings.iterations {
        if stop.load(Ordering::SeqCst) {
            run.save_checkpoint(&checkpoint).map_err(|e| e.to_string())?;
            save_model(run, settings)?;
            return Err(format!(
                "interrupted at iteration {}; checkpoint saved to {} (continue with --resume {})",
                run.iteration(),
                checkpoint.display(),
                checkpoint.display()
            ));
        }
        let stats = run.step();
        run.set_seconds(seconds_before + start.elapsed().as_secs_f64());
        if !stats.loss.is_finite() {
            let kept = if saved_any {
                format!("the last good checkpoint is {}", checkpoint.display())
            } else {
                "no checkpoint had been written yet".to_string()
            };
            return Err(format!("loss became {} at iteration {}; stopped, {kept}", stats.loss, stats.iteration));
        }
        let per_second = (run.iteration() - first) as f64 / start.elapsed().as_secs_f64().max(1e-9);
        let left = settings.iterations.saturating_sub(run.iteration()) as f64;
        progress(&Progress {
            iteration: run.iteration(),
            total: settings.iterations,
            loss: stats.loss,
            per_second,
            eta: Duration::from_secs_f64((left / per_second.max(1e-9)).min(1e9)),
        });
        if last_checkpoint.elapsed() >= settings.checkpoint_every {
            run.save_checkpoint(&checkpoint).map_err(|e| e.to_string())?;
            save_model(run, settings)?;
            last_checkpoint = Instant::now();
            saved_any = true;
        }
    }
    run.save_checkpoint(&checkpoint).map_err(|e| e.to_string())?;
    save_model(run, settings)
}

/// Writes the model as it stands, with its provenance, and its loss curves; returns the loss
/// recorded as final. Called at every checkpoint too, so the output always holds the latest
/// weights: `nca eval` can judge a run while it trains, and a sandbox showing the file hot-swaps
/// them in.
pub fn save_model(run: &dyn Run, settings: &LoopSettings) -> Result<f64, String> {
    let (weights, final_loss) = model_with_provenance(run, &settings.backend)?;
    weights.save(&settings.out).map_err(|e| e.to_string())?;
    write_curves(&settings.out, run.losses())?;
    Ok(final_loss)
}

/// The run's model carrying what every run records (source, command, iterations, final loss,
/// backend, seconds), and the final loss (mean of the last [`FINAL_LOSS_WINDOW`]).
pub fn model_with_provenance(run: &dyn Run, backend: &str) -> Result<(NcaWeights, f64), String> {
    let mut weights = run.model()?;
    let losses = run.losses();
    let tail: Vec<f64> = losses[losses.len().saturating_sub(FINAL_LOSS_WINDOW)..].iter().copied().filter(|l| l.is_finite()).collect();
    let final_loss = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
    for (key, value) in [
        ("nca.source", "trained by nca-sandbox".to_string()),
        ("nca.train.command", std::env::args().collect::<Vec<_>>().join(" ")),
        ("nca.train.iterations", run.iteration().to_string()),
        ("nca.train.loss", format!("{final_loss:e}")),
        ("nca.train.backend", backend.to_string()),
        ("nca.train.seconds", format!("{:.0}", run.seconds())),
    ] {
        weights.provenance_mut().insert(key.to_string(), value);
    }
    Ok((weights, final_loss))
}

/// `OUT.loss.csv` and `OUT.loss.png` next to the model.
pub fn write_curves(out: &Path, losses: &[f64]) -> Result<(), String> {
    let csv = sibling(out, ".loss.csv");
    plot::write_csv(&csv, losses).map_err(|e| format!("{}: {e}", csv.display()))?;
    let png = sibling(out, ".loss.png");
    crate::model::weights::save_png(plot::render_png(losses), &png).map_err(|e| e.to_string())
}

/// `1h05m` or `4m09s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 { format!("{}h{:02}m", s / 3600, (s % 3600) / 60) } else { format!("{}m{:02}s", s / 60, s % 60) }
}

/// The progress line the CLI prints (with `\r`, so it stays on one line).
pub fn progress_line(p: &Progress) -> String {
    format!("\r[{}/{}] loss {:.3e}  {:.2} it/s  ETA {}   ", p.iteration, p.total, p.loss, p.per_second, format_duration(p.eta))
}
