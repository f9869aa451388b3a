//! The `nca` command line. Every subcommand reports bad input as one line and a non-zero exit
//! code; nothing here panics on user data.

pub mod bench;
pub mod train;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app::headless::HeadlessGpu;
use crate::app::window::{self, WindowOptions};
use crate::model::perception::SobelPair;
use crate::model::{Grid, NcaWeights, cpu, import, snapshot};
use crate::sim::display::LIGHT_BACKGROUND;

/// The model `nca run` opens when none is given, inside the trained folder.
pub const DEFAULT_MODEL_FILE: &str = "lizard_regenerating.safetensors";

/// `./trained` when run from a checkout, else the `trained/` folder of the source tree the
/// binary was built from.
pub fn default_trained_dir() -> PathBuf {
    let here = PathBuf::from("trained");
    if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("trained") }
}

/// `trained/lizard_regenerating.safetensors`, or else the first model in the trained folder
/// (regenerating models first, then persistent), so a checkout always opens with something alive.
fn default_model(trained_dir: &Path) -> Result<PathBuf, String> {
    let preferred = trained_dir.join(DEFAULT_MODEL_FILE);
    if preferred.is_file() {
        return Ok(preferred);
    }
    let mut models = crate::library::model_files(trained_dir).unwrap_or_default();
    // A model that holds its shape makes the better unattended start: regenerating, then
    // persistent, then the rest.
    models.sort_by_key(|p| {
        let name = p.to_string_lossy();
        let rank = if name.contains("regenerating") { 0 } else if name.contains("persistent") { 1 } else { 2 };
        (rank, p.clone())
    });
    match models.into_iter().next() {
        Some(model) => {
            eprintln!("{} is not there yet; starting with {}", preferred.display(), model.display());
            Ok(model)
        }
        None => Err(format!(
            "no model given and {} holds none: pass --model FILE (.safetensors, or a Distill WebGL/TF.js JSON model)",
            trained_dir.display()
        )),
    }
}

/// Seed 0's protocol run as one picture: a row per phase (growth, half erased, disc erased),
/// each grid at 3 pixels per cell on white with a grey gap between.
fn protocol_strip(weights: &crate::model::GrowingWeights) -> image::RgbaImage {
    let rows = crate::model::eval::protocol_frames(weights, 0);
    let (scale, gap) = (3u32, 6u32);
    let cell = crate::model::eval::EVAL_SIZE as u32 * scale;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let mut strip = image::RgbaImage::from_pixel(
        columns * (cell + gap) + gap,
        rows.len() as u32 * (cell + gap) + gap,
        image::Rgba([200, 200, 200, 255]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, grid) in row.iter().enumerate() {
            let picture = crate::model::snapshot::to_rgba8(grid, [1.0, 1.0, 1.0], scale);
            image::imageops::replace(&mut strip, &picture, (gap + c as u32 * (cell + gap)) as i64, (gap + r as u32 * (cell + gap)) as i64);
        }
    }
    strip
}

fn parse_plant(text: &str) -> Result<(PathBuf, u32, u32), String> {
    let bad = || format!("'{text}' is not FILE@X,Y");
    let (file, at) = text.rsplit_once('@').ok_or_else(bad)?;
    let (x, y) = at.split_once(',').ok_or_else(bad)?;
    Ok((PathBuf::from(file), x.trim().parse().map_err(|_| bad())?, y.trim().parse().map_err(|_| bad())?))
}

fn parse_view(text: &str) -> Result<crate::scene::ViewMode, String> {
    use crate::scene::ViewMode;
    match text {
        "rgb" => Ok(ViewMode::Rgb),
        "species" => Ok(ViewMode::Species),
        _ => text
            .strip_prefix("hidden:")
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (4..16).contains(n))
            .map(ViewMode::Hidden)
            .ok_or_else(|| format!("unknown view '{text}' (rgb, species, or hidden:N with N in 4–15)")),
    }
}

fn parse_speed(text: &str) -> Result<crate::sim::Speed, String> {
    use crate::sim::Speed;
    // A multiplier's label ends in '×' and may be typed bare or with 'x'; any other label
    // ("max") is matched whole, so its own 'x' is never taken for a suffix.
    Speed::ALL
        .into_iter()
        .find(|s| match s.label().strip_suffix('×') {
            Some(number) => text == number || text.strip_suffix(['x', '×']) == Some(number),
            None => text == s.label(),
        })
        .ok_or_else(|| format!("unknown speed '{text}' (1/60, 1/10, 1/2, 1, 2, 4 or max)"))
}

#[cfg(test)]
mod speed_tests {
    use super::parse_speed;
    use crate::sim::Speed;

    #[test]
    fn every_documented_speed_parses() {
        assert_eq!(parse_speed("max"), Ok(Speed::Max));
        assert_eq!(parse_speed("1/60"), Ok(Speed::Sixtieth));
        assert_eq!(parse_speed("1/2x"), Ok(Speed::Half));
        assert_eq!(parse_speed("2"), Ok(Speed::Two));
        assert_eq!(parse_speed("4×"), Ok(Speed::Four));
        for speed in Speed::ALL {
            assert_eq!(parse_speed(speed.label()), Ok(speed), "the panel's own label {}", speed.label());
        }
    }

    #[test]
    fn unknown_speeds_are_refused_by_name() {
        for text in ["3", "ma", "maxx", "fast", ""] {
            let err = parse_speed(text).unwrap_err();
            assert!(err.contains(&format!("'{text}'")), "{err}");
        }
    }
}

/// Neural Cellular Automata sandbox.
#[derive(Parser, Debug)]
#[command(name = "nca", version, about)]
pub struct Cli {
    /// What to do (default: open the sandbox window).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which implementation runs the steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The plain-Rust reference.
    Cpu,
    /// The WGSL compute shader in a headless Bevy app.
    Gpu,
}

/// Models `nca train` knows how to train.
#[derive(Subcommand, Debug)]
pub enum TrainKind {
    /// A growing NCA (the Distill recipe).
    Growing(train::TrainArgs),
}

/// Models `nca eval` knows how to score.
#[derive(Subcommand, Debug)]
pub enum EvalKind {
    /// Growing models: MSE at steps 96/200/500/1000 and after damage at step 200.
    Growing {
        /// Model file.
        model: PathBuf,
        /// Target image (default: assets/targets/<nca.target>.png).
        #[arg(long)]
        target: Option<PathBuf>,
        /// Runs (fire-hash seeds 0..N); the headline figures are their medians.
        #[arg(long, default_value_t = 8)]
        seeds: u32,
        /// Also save a picture of seed 0's run: growth at steps 96/200/500/1000, then each
        /// damage at step 200 and the grid 0/50/100/200 steps after it.
        #[arg(long)]
        strip: Option<PathBuf>,
    },
}

/// Where `nca eval` looks for a model's target by name.
pub const TARGETS_DIR: &str = "assets/targets";

/// The target image a command uses for a model: the one given, else the one the model names
/// (`nca.target`) in [`TARGETS_DIR`].
fn target_of(model: &Path, named: &str, given: Option<PathBuf>) -> Result<PathBuf, String> {
    match given {
        Some(path) => Ok(path),
        None if named.is_empty() => Err(format!("{}: the model names no target (nca.target); pass --target IMG", model.display())),
        None => Ok(Path::new(TARGETS_DIR).join(format!("{named}.png"))),
    }
}

/// A headless growth from a centred seed, shared by `step` and `render`.
#[derive(clap::Args, Debug)]
pub struct GrowArgs {
    /// Model file (.safetensors or Distill JSON).
    #[arg(long)]
    pub model: PathBuf,
    /// Steps to run.
    #[arg(long)]
    pub steps: u32,
    /// Fire-hash seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    /// Grid side in cells.
    #[arg(long, default_value_t = 72)]
    pub size: u32,
    /// Perception rotation in degrees.
    #[arg(long, default_value_t = 0.0)]
    pub rotation: f32,
    /// Implementation.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

impl GrowArgs {
    /// Loads the model and grows it.
    fn run(&self) -> Result<Grid, String> {
        let weights = load(&self.model)?;
        grow(&weights, self.size, self.seed, self.steps, self.rotation, self.backend)
    }
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the sandbox window with a model growing from a seed.
    Run {
        /// Model file (.safetensors or Distill JSON).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Grid side in cells.
        #[arg(long, default_value_t = 128)]
        size: u32,
        /// Starting speed: 1/60, 1/10, 1/2, 1, 2, 4 or max.
        #[arg(long, default_value = "1", value_parser = parse_speed)]
        speed: crate::sim::Speed,
        /// Folder whose models the picker offers.
        #[arg(long)]
        trained_dir: Option<PathBuf>,
        /// Also plant a seed of another model: `FILE@X,Y` (cells from the top-left); repeatable.
        #[arg(long, value_parser = parse_plant)]
        plant: Vec<(PathBuf, u32, u32)>,
        /// What the display shows: rgb, species, or hidden:N (N in 4–15).
        #[arg(long, default_value = "rgb", value_parser = parse_view)]
        view: crate::scene::ViewMode,
        /// Start with the dark background.
        #[arg(long)]
        dark: bool,
        /// Installation mode: fullscreen, panel hidden (H shows it), start over after two idle
        /// minutes or whenever nothing is left alive.
        #[arg(long)]
        kiosk: bool,
        /// Fire-hash seed.
        #[arg(long, default_value_t = 0)]
        seed: u32,
        /// Exit after this many frames.
        #[arg(long)]
        frames: Option<u32>,
        /// Save a screenshot after the last frame (needs --frames).
        #[arg(long, requires = "frames")]
        screenshot: Option<PathBuf>,
    },
    /// Convert a published Distill model (WebGL uint8 JSON or TF.js graph JSON) to .safetensors.
    Import {
        /// The Distill file.
        file: PathBuf,
        /// Output .safetensors.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a model's kind, mode and metadata.
    Info {
        /// Model file.
        model: PathBuf,
    },
    /// Grow a model from a seed without a window and save the full state ([H, W, C] tensor `state`).
    Step {
        /// What to grow and how.
        #[command(flatten)]
        grow: GrowArgs,
        /// Output .safetensors.
        #[arg(long)]
        out: PathBuf,
    },
    /// Grow a model from a seed without a window and save a picture of it.
    Render {
        /// What to grow and how.
        #[command(flatten)]
        grow: GrowArgs,
        /// Pixels per cell.
        #[arg(long, default_value_t = 4)]
        scale: u32,
        /// Output PNG.
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure cell-updates per second of the CPU reference and the GPU path.
    Bench(bench::BenchArgs),
    /// Train a model with Burn.
    Train {
        /// Kind of model to train.
        #[command(subcommand)]
        kind: TrainKind,
    },
    /// Draw a loss CSV (as written by `nca train`) as a PNG plot again.
    Plot {
        /// The `iteration,loss` CSV.
        csv: PathBuf,
        /// Output PNG (default: the CSV's name with `.png`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Score a model with the quality protocol; prints JSON.
    Eval {
        /// Kind of model to evaluate.
        #[command(subcommand)]
        kind: EvalKind,
    },
}

/// Parses the arguments and runs; errors become one line on stderr and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let command = cli.command.unwrap_or(Command::Run {
        model: None,
        size: 128,
        speed: crate::sim::Speed::One,
        trained_dir: None,
        plant: Vec::new(),
        view: crate::scene::ViewMode::Rgb,
        dark: false,
        kiosk: false,
        seed: 0,
        frames: None,
        screenshot: None,
    });
    match command {
        Command::Run { model, size, speed, trained_dir, plant, view, dark, kiosk, seed, frames, screenshot } => {
            let trained_dir = trained_dir.unwrap_or_else(default_trained_dir);
            let path = match model {
                Some(path) => path,
                None => default_model(&trained_dir)?,
            };
            // Refuse a broken starting model here, with the file's name, before a window opens.
            load(&path)?;
            check_size(size)?;
            for (file, x, y) in &plant {
                load(file)?;
                if *x >= size || *y >= size {
                    return Err(format!("--plant {}@{x},{y}: outside the {size}×{size} grid", file.display()));
                }
            }
            crate::app::probe_adapter().map_err(|e| e.to_string())?;
            let exit = window::run(WindowOptions {
                model: path,
                trained_dir,
                grid_size: size,
                speed,
                seed,
                plant,
                view,
                dark_background: dark,
                kiosk,
                frames,
                screenshot: screenshot.clone(),
            });
            if let Some(path) = screenshot.filter(|p| !p.exists()) {
                return Err(format!("{}: screenshot was not written", path.display()));
            }
            match exit {
                bevy::app::AppExit::Success => Ok(()),
                bevy::app::AppExit::Error(code) => Err(format!("the app exited with code {code}")),
            }
        }
        Command::Import { file, out } => {
            let weights = import::load_model_file(&file).map_err(|e| e.to_string())?;
            weights.save(&out).map_err(|e| e.to_string())?;
            println!("{} → {} ({})", file.display(), out.display(), weights.describe());
            Ok(())
        }
        Command::Plot { csv, out } => {
            let losses = crate::train::plot::read_csv(&csv)?;
            let out = out.unwrap_or_else(|| csv.with_extension("png"));
            crate::train::plot::render_png(&losses).save(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            println!("{} ({} iterations) → {}", csv.display(), losses.len(), out.display());
            Ok(())
        }
        Command::Info { model } => {
            let weights = load(&model)?;
            let crate::model::NcaWeights::Growing(w) = &weights;
            println!("kind: {}\nmode: {}\ntarget: {}\nfire_rate: {}", weights.kind(), w.spec.mode, w.spec.target, w.spec.fire_rate);
            for (k, v) in &w.provenance {
                println!("{k}: {v}");
            }
            Ok(())
        }
        Command::Step { grow, out } => {
            let grid = grow.run()?;
            let metadata = HashMap::from([
                ("nca.model".to_string(), grow.model.display().to_string()),
                ("nca.step".to_string(), grow.steps.to_string()),
                ("nca.seed".to_string(), grow.seed.to_string()),
                ("nca.rotation".to_string(), grow.rotation.to_string()),
                ("nca.backend".to_string(), format!("{:?}", grow.backend).to_lowercase()),
            ]);
            snapshot::save_state(&out, &grid, metadata).map_err(|e| e.to_string())?;
            println!("{}: state [{}, {}, {}] after {} steps", out.display(), grid.height, grid.width, grid.channels, grow.steps);
            Ok(())
        }
        Command::Render { grow, scale, out } => {
            let grid = grow.run()?;
            save_png(&out, &snapshot::to_rgba8(&grid, LIGHT_BACKGROUND, scale))?;
            println!("{}: {}×{} cells after {} steps", out.display(), grid.width, grid.height, grow.steps);
            Ok(())
        }
        Command::Bench(args) => bench::run(args),
        Command::Train { kind: TrainKind::Growing(args) } => train::run(args),
        Command::Eval { kind: EvalKind::Growing { model, target, seeds, strip } } => {
            use crate::model::{eval, target::Target};
            let weights = load(&model)?;
            let NcaWeights::Growing(w) = &weights;
            let target_path = target_of(&model, &w.spec.target, target)?;
            let target = Target::load(&target_path, 40, 16).map_err(|e| e.to_string())?;
            let report = eval::evaluate(w, &target, seeds).ok_or_else(|| {
                format!(
                    "{}: the target is {}×{} after the recipe, larger than the {}×{} evaluation grid",
                    target_path.display(),
                    target.width(),
                    target.height(),
                    eval::EVAL_SIZE,
                    eval::EVAL_SIZE
                )
            })?;
            let mut json = report.to_json();
            json["model"] = serde_json::json!(model.display().to_string());
            json["target"] = serde_json::json!(target_path.display().to_string());
            if let Some(strip) = strip {
                protocol_strip(w).save(&strip).map_err(|e| format!("{}: {e}", strip.display()))?;
                json["strip"] = serde_json::json!(strip.display().to_string());
            }
            println!("{}", serde_json::to_string_pretty(&json).expect("JSON of numbers and strings"));
            Ok(())
        }
    }
}

fn load(path: &Path) -> Result<NcaWeights, String> {
    import::load_model_file(path).map_err(|e| e.to_string())
}

fn check_size(size: u32) -> Result<(), String> {
    if (3..=4096).contains(&size) {
        Ok(())
    } else {
        Err(format!("grid size {size} is outside 3..=4096"))
    }
}

/// Grows `weights` from a centred seed for `steps` steps on the chosen backend.
pub fn grow(weights: &NcaWeights, size: u32, seed: u32, steps: u32, rotation: f32, backend: Backend) -> Result<Grid, String> {
    check_size(size)?;
    let start = Grid::seeded(size as usize, size as usize, weights.channels());
    match backend {
        Backend::Cpu => {
            let NcaWeights::Growing(w) = weights;
            let mut grid = start;
            cpu::run(w, &mut grid, seed, 0, steps, &SobelPair::rotated_degrees(rotation));
            Ok(grid)
        }
        Backend::Gpu => {
            let mut gpu = HeadlessGpu::new().map_err(|e| e.to_string())?;
            gpu.simulate(weights, &start, seed, 0, steps, rotation).map_err(|e| e.to_string())
        }
    }
}

fn save_png(path: &Path, image: &image::RgbaImage) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    image.save(path).map_err(|e| format!("{}: cannot write PNG ({e})", path.display()))
}
