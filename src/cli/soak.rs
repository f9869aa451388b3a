//! `nca soak`: an installation's week in a shorter time. One grid runs for a million steps while
//! random damage keeps hitting it (discs, halves, cuts, and a new seed whenever nothing is left
//! alive), and every so often the run records what would go wrong over days: states that are no
//! longer finite numbers, organisms that die out or overflow the grid, and the process's memory.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::app::headless::HeadlessGpu;
use crate::model::grid::{Edit, Grid};
use crate::model::perception::SobelPair;
use crate::model::{ModelKind, NcaWeights, reference};
use crate::train::Pcg32;

/// Options of `nca soak`.
#[derive(Args, Debug)]
pub struct SoakArgs {
    /// A growing model (default: the sandbox's default model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Grid side in cells.
    #[arg(long, default_value_t = 96)]
    pub size: u32,
    /// Steps in all.
    #[arg(long, default_value_t = 1_000_000)]
    pub steps: u64,
    /// Steps between two random damages.
    #[arg(long, default_value_t = 300)]
    pub damage_every: u32,
    /// Steps between two records.
    #[arg(long, default_value_t = 10_000)]
    pub record_every: u64,
    /// Seed of the damage and of the fire hash.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the steps run.
    #[arg(long, value_enum, default_value_t = super::Backend::Cpu)]
    pub backend: super::Backend,
    /// The records as CSV (step, seconds, alive, non_finite, max_abs, rss_mb, damages, reseeds).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Where a soak's steps run.
trait SoakGrid {
    fn edit(&mut self, edit: Edit) -> Result<(), String>;
    fn run(&mut self, steps: u32) -> Result<(), String>;
    fn state(&mut self) -> Result<Grid, String>;
}

struct CpuSoak {
    weights: NcaWeights,
    grid: Grid,
    seed: u32,
    step: u32,
}

impl SoakGrid for CpuSoak {
    fn edit(&mut self, edit: Edit) -> Result<(), String> {
        self.weights.kind().apply_edit(&mut self.grid, &edit);
        Ok(())
    }
    fn run(&mut self, steps: u32) -> Result<(), String> {
        reference::run(&[&self.weights], &mut self.grid, self.seed, self.step, steps, &SobelPair::default())?;
        self.step = self.step.wrapping_add(steps);
        Ok(())
    }
    fn state(&mut self) -> Result<Grid, String> {
        Ok(self.grid.clone())
    }
}

struct GpuSoak {
    gpu: HeadlessGpu,
    grid: bevy::prelude::Entity,
}

impl SoakGrid for GpuSoak {
    fn edit(&mut self, edit: Edit) -> Result<(), String> {
        self.gpu.edit(self.grid, edit);
        Ok(())
    }
    fn run(&mut self, steps: u32) -> Result<(), String> {
        self.gpu.run(self.grid, steps, steps.min(64));
        Ok(())
    }
    fn state(&mut self) -> Result<Grid, String> {
        self.gpu.read(self.grid).map(|s| s.grid).map_err(|e| e.to_string())
    }
}

/// A random damage like a visitor's: mostly bites, sometimes a lost half or a cut (a line of
/// small discs, as the cut tool makes).
fn random_damage(rng: &mut Pcg32, size: u32) -> Vec<Edit> {
    let side = size as f32;
    let centre = |rng: &mut Pcg32| [side * rng.range_f32(0.25, 0.75), side * rng.range_f32(0.25, 0.75)];
    match rng.range_u32(0, 9) {
        0..=5 => vec![Edit::EraseDisc { center: centre(rng), radius: side * rng.range_f32(0.04, 0.2) }],
        6 | 7 => vec![Edit::EraseRect { min: [size / 2, 0], max: [size, size] }],
        _ => {
            let (from, to) = (centre(rng), centre(rng));
            let length = ((to[0] - from[0]).hypot(to[1] - from[1])).ceil().max(1.0) as usize;
            (0..=length)
                .map(|i| {
                    let t = i as f32 / length as f32;
                    Edit::EraseDisc { center: [from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t], radius: 1.5 }
                })
                .collect()
        }
    }
}

pub(super) fn soak(args: SoakArgs) -> Result<(), String> {
    if !(8..=4096).contains(&args.size) {
        return Err(format!("--size {} is not between 8 and 4096 cells", args.size));
    }
    if args.damage_every == 0 || args.record_every == 0 || args.steps == 0 {
        return Err("--steps, --damage-every and --record-every must be at least 1".into());
    }
    let path = match &args.model {
        Some(path) => path.clone(),
        None => super::default_model(&super::default_trained_dir())?,
    };
    let weights = super::load(&path)?;
    if weights.kind() != ModelKind::Growing {
        return Err(format!("{}: a soak damages and regrows a growing model; this is a {} model", path.display(), weights.kind()));
    }
    let mut out = match &args.out {
        Some(path) => {
            crate::model::weights::check_output(path).map_err(|e| e.to_string())?;
            let mut file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            writeln!(file, "step,seconds,alive,non_finite,max_abs,rss_mb,damages,reseeds").map_err(|e| e.to_string())?;
            Some(file)
        }
        None => None,
    };
    let size = args.size;
    let seed = args.seed as u32;
    let kind = weights.kind();
    let mut grid: Box<dyn SoakGrid> = match args.backend {
        super::Backend::Cpu => {
            let mut grid = Grid::new(size as usize, size as usize, kind.channels());
            for edit in kind.start_edits(size, size) {
                kind.apply_edit(&mut grid, &edit);
            }
            Box::new(CpuSoak { weights, grid, seed, step: 0 })
        }
        super::Backend::Gpu => {
            crate::app::probe_adapter().map_err(|e| e.to_string())?;
            let mut gpu = HeadlessGpu::new().map_err(|e| e.to_string())?;
            let model = gpu.add_model(weights);
            let entity = gpu.spawn_grid(model, size, size, seed);
            Box::new(GpuSoak { gpu, grid: entity })
        }
    };
    let mut rng = Pcg32::new(args.seed ^ 0x50a4);
    let start = Instant::now();
    let (mut step, mut damages, mut reseeds, mut worst_non_finite) = (0u64, 0u64, 0u64, 0usize);
    let (mut alive_range, mut rss_range) = ((usize::MAX, 0usize), (f64::MAX, 0.0f64));
    let mut next_record = 0u64;
    while step < args.steps {
        // Stop at every damage and every record, exactly.
        let to_damage = args.damage_every as u64 - step % args.damage_every as u64;
        let to_record = if next_record > step { next_record - step } else { u64::MAX };
        let chunk = (args.steps - step).min(to_damage).min(to_record) as u32;
        if step == next_record {
            let state = grid.state()?;
            let alive = kind.alive_mask(&state).iter().filter(|&&a| a).count();
            let non_finite = state.data.iter().filter(|v| !v.is_finite()).count();
            let max_abs = state.data.iter().filter(|v| v.is_finite()).fold(0.0f32, |m, v| m.max(v.abs()));
            let rss = crate::app::resident_mb().unwrap_or(f64::NAN);
            worst_non_finite = worst_non_finite.max(non_finite);
            alive_range = (alive_range.0.min(alive), alive_range.1.max(alive));
            rss_range = (rss_range.0.min(rss), rss_range.1.max(rss));
            let seconds = start.elapsed().as_secs_f64();
            if let Some(file) = &mut out {
                writeln!(file, "{step},{seconds:.1},{alive},{non_finite},{max_abs:.4},{rss:.1},{damages},{reseeds}")
                    .map_err(|e| e.to_string())?;
            }
            eprint!("\r[{step}/{}] alive {alive}  non-finite {non_finite}  max |state| {max_abs:.3}  {rss:.0} MB   ", args.steps);
            if alive == 0 {
                // As the kiosk does: an empty grid starts over from a seed.
                grid.edit(Edit::Clear)?;
                for edit in kind.start_edits(size, size) {
                    grid.edit(edit)?;
                }
                reseeds += 1;
            }
            next_record += args.record_every;
        }
        grid.run(chunk)?;
        step += chunk as u64;
        if step.is_multiple_of(args.damage_every as u64) {
            for edit in random_damage(&mut rng, size) {
                grid.edit(edit)?;
            }
            damages += 1;
        }
    }
    eprintln!();
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{} steps of {}×{} in {seconds:.0} s ({:.0} steps/s): {damages} damages, {reseeds} reseeds; alive cells {}–{}; \
         non-finite values at worst {worst_non_finite}; resident memory {:.0}–{:.0} MB",
        args.steps,
        size,
        size,
        args.steps as f64 / seconds,
        alive_range.0,
        alive_range.1,
        rss_range.0,
        rss_range.1
    );
    Ok(())
}
