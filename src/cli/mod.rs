//! The `nca` command line. Every subcommand reports bad input as one line and a non-zero exit
//! code; nothing here panics on user data.

pub mod bench;
pub mod exhibit;
pub mod scenario;
pub mod soak;
pub mod teach;
pub mod train;
pub mod train_mnist;
pub mod url;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app::headless::HeadlessGpu;
use crate::app::window::{self, DigitsStart, WindowOptions};
use crate::model::display::DisplayStyle;
use crate::model::grid::{Edit, GreyImage};
use crate::model::perception::SobelPair;
use crate::model::{Grid, ModelKind, NcaWeights, View, import, mnist, reference, snapshot};
use crate::scene::digits::DigitSource;

/// The model `nca run` opens when none is given, inside the trained folder.
pub const DEFAULT_MODEL_FILE: &str = "lizard_regenerating.safetensors";

/// `./trained` when run from a checkout, else the installed or built-from `trained/`
/// ([`crate::model::files::bundled`]).
pub fn default_trained_dir() -> PathBuf {
    crate::model::files::bundled("trained")
}

/// `trained/lizard_regenerating.safetensors`, or else the first model in the trained folder
/// (regenerating models first, then persistent), so a checkout always opens with something alive.
fn default_model(trained_dir: &Path) -> Result<PathBuf, String> {
    let preferred = trained_dir.join(DEFAULT_MODEL_FILE);
    if crate::platform::is_file(&preferred) {
        return Ok(preferred);
    }
    let mut models = crate::library::model_files(trained_dir).unwrap_or_default();
    // A model that holds its shape makes the better unattended start: regenerating, then
    // persistent, then the rest.
    models.sort_by_key(|p| {
        let name = p.to_string_lossy();
        let rank = if name.contains("regenerating") {
            0
        } else if name.contains("persistent") {
            1
        } else {
            2
        };
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
            let picture = crate::model::display::render(
                crate::model::ModelKind::Growing,
                grid,
                crate::model::View::Natural,
                &DisplayStyle::default(),
                scale,
            );
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

/// `D` or `D@X,Y`: a bundled sample of class D, at a cell (default: spread across the canvas).
fn parse_digit(text: &str) -> Result<(usize, Option<[f32; 2]>), String> {
    let bad = || format!("'{text}' is not D or D@X,Y (a class 0–9, cells from the top-left)");
    let (class, at) = match text.split_once('@') {
        Some((class, at)) => {
            let (x, y) = at.split_once(',').ok_or_else(bad)?;
            let coordinate = |v: &str| v.trim().parse::<f32>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(bad);
            (class, Some([coordinate(x)?, coordinate(y)?]))
        }
        None => (text, None),
    };
    let class = class.trim().parse::<usize>().ok().filter(|c| *c < 10).ok_or_else(bad)?;
    Ok((class, at))
}

/// `A/B`: the chimera of class A's upper part and class B's lower part.
fn parse_chimera(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("'{text}' is not A/B (two classes 0–9: upper part, lower part)");
    let (a, b) = text.split_once('/').ok_or_else(bad)?;
    let class = |v: &str| v.trim().parse::<usize>().ok().filter(|c| *c < 10).ok_or_else(bad);
    Ok((class(a)?, class(b)?))
}

/// `WxH`: an MNIST canvas size.
fn parse_canvas(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("'{text}' is not WIDTHxHEIGHT (e.g. 160x64)");
    let (w, h) = text.split_once(['x', '×']).ok_or_else(bad)?;
    let (w, h) = (w.trim().parse::<u32>().map_err(|_| bad())?, h.trim().parse::<u32>().map_err(|_| bad())?);
    check_size(w)?;
    check_size(h)?;
    Ok((w, h))
}

/// A share in (0, 1].
fn parse_fraction(text: &str) -> Result<f32, String> {
    text.trim()
        .parse::<f32>()
        .ok()
        .filter(|f| *f > 0.0 && *f <= 1.0)
        .ok_or_else(|| format!("'{text}' is not a share of cells in (0, 1] (0.1 is 10%)"))
}

/// `rgb`/`classes`/`natural`, `species`, or `hidden:N`/`channel:N`; whether the channel exists
/// is checked against the model once it is known.
fn parse_view(text: &str) -> Result<View, String> {
    match text {
        "rgb" | "classes" | "natural" => Ok(View::Natural),
        "species" => Ok(View::Species),
        _ => text
            .strip_prefix("hidden:")
            .or_else(|| text.strip_prefix("channel:"))
            .and_then(|n| n.parse::<u32>().ok())
            .map(View::Channel)
            .ok_or_else(|| format!("unknown view '{text}' (rgb or classes, species, or channel:N)")),
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
    /// A self-classifying MNIST NCA (the paper's notebook's recipe).
    Mnist(train_mnist::MnistTrainArgs),
    /// An adversary that hijacks a frozen MNIST model's vote from a few cells (the adversarial
    /// reprogramming article's recipe).
    MnistAdversary(train_mnist::MnistAdversaryArgs),
}

/// Lessons `nca teach` runs.
#[derive(Subcommand, Debug)]
pub enum TeachKind {
    /// Fine-tune an MNIST classifier on a person's digits among MNIST's (the digits scene's
    /// "teach it my handwriting").
    Handwriting(teach::HandwritingArgs),
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
    /// MNIST models: the paper's protocol on the test set (200 steps, every digit mutated into
    /// another of its batch, 200 more); accuracy and total agreement after every step.
    Mnist {
        /// Model file.
        model: PathBuf,
        /// Folder of MNIST's idx files (default: $NCA_MNIST_DIR, else data/mnist).
        #[arg(long)]
        mnist: Option<PathBuf>,
        /// Evaluate only the first N test digits (default: all 10,000).
        #[arg(long)]
        digits: Option<usize>,
        /// Fire-hash seed (also picks the mutation partners).
        #[arg(long, default_value_t = 0)]
        seed: u32,
        /// Implementation.
        #[arg(long, value_enum, default_value_t = Backend::Cpu)]
        backend: Backend,
        /// Also draw both curves over the 400 steps, the mutation marked.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Also record the mean |state| and |update| of living cells per step (slower).
        #[arg(long)]
        magnitudes: bool,
    },
    /// An MNIST adversary against its base model: the share of test digits whose majority vote
    /// is the target class after 200 steps with a share of adversary cells (and without any),
    /// and the share that return to their true class 200 steps after the adversaries are removed.
    MnistAdversary {
        /// The base classifier.
        base: PathBuf,
        /// The adversary.
        adversary: PathBuf,
        /// Share of cells that run the adversary.
        #[arg(long, default_value_t = 0.1)]
        fraction: f32,
        /// The class the adversary pushes to (default: its recipe's, else 8).
        #[arg(long)]
        target_class: Option<u8>,
        /// Folder of MNIST's idx files (default: $NCA_MNIST_DIR, else data/mnist).
        #[arg(long)]
        mnist: Option<PathBuf>,
        /// Evaluate only the first N test digits (default: all 10,000).
        #[arg(long)]
        digits: Option<usize>,
        /// Fire-hash seed (also draws the adversary cells).
        #[arg(long, default_value_t = 0)]
        seed: u32,
    },
}

pub use crate::model::target::TARGETS_DIR;

/// The target image a command uses for a model: the one given, else the one the model names
/// (`nca.target`) in [`TARGETS_DIR`].
fn target_of(model: &Path, named: &str, given: Option<PathBuf>) -> Result<PathBuf, String> {
    match given {
        Some(path) => Ok(path),
        None if named.is_empty() => Err(format!("{}: the model names no target (nca.target); pass --target IMG", model.display())),
        None => {
            let path = crate::model::target::named_target_path(named).ok_or_else(|| {
                format!(
                    "{}: the model names the target '{}', which is not a plain name in {TARGETS_DIR}; pass --target IMG",
                    model.display(),
                    named.escape_debug()
                )
            })?;
            // The picture is the model's claim: when it is missing, the model is what to name.
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => Ok(path),
                Ok(_) => Err(format!(
                    "{}: its target (nca.target '{named}') is {}, which is not a picture file; pass --target IMG",
                    model.display(),
                    path.display()
                )),
                Err(e) => Err(format!(
                    "{}: its target (nca.target '{named}') is {}, which cannot be read ({e}); pass --target IMG",
                    model.display(),
                    path.display()
                )),
            }
        }
    }
}

/// A headless run, shared by `step` and `render`: a growing model from a centred seed, an MNIST
/// model from a digit.
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
    /// Grid side in cells (default: 72 for growing models, 28 for MNIST).
    #[arg(long)]
    pub size: Option<u32>,
    /// Perception rotation in degrees (growing models); negative turns the other way.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub rotation: f32,
    /// Implementation.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// MNIST: start from this picture of a digit, centred (light strokes on dark, or dark on
    /// light, which is inverted; at most the grid's size).
    #[arg(long, conflicts_with = "digit_index")]
    pub digit_image: Option<PathBuf>,
    /// MNIST: start from test digit N of the idx files in --mnist.
    #[arg(long)]
    pub digit_index: Option<usize>,
    /// Folder of MNIST's idx files (default: $NCA_MNIST_DIR, else data/mnist).
    #[arg(long)]
    pub mnist: Option<PathBuf>,
}

impl GrowArgs {
    /// Loads the model, builds the start state and runs it.
    fn run(&self) -> Result<(NcaWeights, Grid), String> {
        let weights = load(&self.model)?;
        let start = self.start_state(&weights)?;
        let grid = simulate(&weights, &start, self.seed, self.steps, self.rotation, self.backend)?;
        Ok((weights, grid))
    }

    fn start_state(&self, weights: &NcaWeights) -> Result<Grid, String> {
        match weights.kind() {
            ModelKind::Growing => {
                if self.digit_image.is_some() || self.digit_index.is_some() {
                    return Err(format!(
                        "{}: a growing model starts from a seed; --digit-image and --digit-index are for MNIST models",
                        self.model.display()
                    ));
                }
                let size = self.size.unwrap_or(72);
                check_size(size)?;
                Ok(Grid::seeded(size as usize, size as usize, weights.channels()))
            }
            ModelKind::Mnist => {
                let size = self.size.unwrap_or(mnist_eval_digit() as u32);
                check_size(size)?;
                let (width, height, grey) = match (&self.digit_image, self.digit_index) {
                    (Some(path), _) => mnist::grey_picture(path).map_err(|e| e.to_string())?,
                    (None, Some(index)) => {
                        let dir = self.mnist.clone().unwrap_or_else(crate::model::idx::default_dir);
                        let test = crate::model::idx::Digits::load(&dir, crate::model::idx::Split::Test).map_err(|e| e.to_string())?;
                        if index >= test.len() {
                            return Err(format!("--digit-index {index}: the test set holds {} digits (0..{})", test.len(), test.len()));
                        }
                        (test.cols, test.rows, test.image(index).iter().map(|&v| v as f32 / 255.0).collect())
                    }
                    (None, None) => {
                        return Err(format!(
                            "{}: an MNIST model needs a digit to start from: --digit-image PNG or --digit-index N",
                            self.model.display()
                        ));
                    }
                };
                if width > size as usize || height > size as usize {
                    return Err(format!("the digit is {width}×{height}, larger than the {size}×{size} grid (pass --size)"));
                }
                let mut grid = Grid::new(size as usize, size as usize, mnist::CHANNELS);
                let origin = [((size as usize - width) / 2) as i32, ((size as usize - height) / 2) as i32];
                let image = GreyImage { origin, width: width as u32, height: height as u32, grey: grey.into() };
                ModelKind::Mnist.apply_edit(&mut grid, &Edit::PlaceImage(image));
                Ok(grid)
            }
        }
    }
}

fn parse_seconds(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds > 0")),
    }
}

pub(super) fn parse_mode(s: &str) -> Result<crate::model::GrowingMode, String> {
    s.parse()
}

fn parse_teach_from(s: &str) -> Result<crate::scene::teach::TeachFrom, String> {
    match s {
        "current" => Ok(crate::scene::teach::TeachFrom::Current),
        "scratch" => Ok(crate::scene::teach::TeachFrom::Scratch),
        other => Err(format!("'{other}' is neither current nor scratch")),
    }
}

fn mnist_eval_digit() -> usize {
    crate::model::mnist_eval::DIGIT
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
        /// What the display shows: rgb (growing) or classes (MNIST), species, or channel:N.
        #[arg(long, default_value = "rgb", value_parser = parse_view)]
        view: View,
        /// MNIST models: start with this picture of a digit in the middle of the canvas.
        #[arg(long)]
        digit_image: Option<PathBuf>,
        /// MNIST models: place the first bundled sample of class D, at cell X,Y if given
        /// (`3`, `7@40,32`); repeatable, digits without a place are spread across the canvas.
        #[arg(long, value_parser = parse_digit)]
        digit: Vec<(usize, Option<[f32; 2]>)>,
        /// MNIST models: place the paper's chimera of class A's upper part and B's lower part
        /// (`3/5`); repeatable.
        #[arg(long, value_parser = parse_chimera)]
        chimera: Vec<(usize, usize)>,
        /// MNIST models: turn this share of every digit's cells into the adversary (0.1 = 10%);
        /// the adversary is trained/mnist_adversary.safetensors, or --adversary.
        #[arg(long, value_parser = parse_fraction)]
        adversaries: Option<f32>,
        /// The adversary model for --adversaries and the adversary tools.
        #[arg(long)]
        adversary: Option<PathBuf>,
        /// MNIST models: canvas size, WIDTHxHEIGHT.
        #[arg(long, default_value = "160x64", value_parser = parse_canvas)]
        canvas: (u32, u32),
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
        /// Exit after this many seconds.
        #[arg(long, value_parser = parse_seconds)]
        seconds: Option<f32>,
        /// Save a screenshot after the last frame (needs --frames or --seconds).
        #[arg(long)]
        screenshot: Option<PathBuf>,
        /// Record the window into this animated GIF from the first frame to the last (needs
        /// --frames or --seconds): the panel's Record GIF, every 4th frame at half size.
        #[arg(long)]
        record_gif: Option<PathBuf>,
        /// Growing models: start teaching the model to become this picture (PNG) at once; the
        /// lesson trains beside the running scene and its weights reach the grid as it learns.
        #[arg(long)]
        teach: Option<PathBuf>,
        /// What the lesson trains: growing, persistent or regenerating.
        #[arg(long, default_value = "regenerating", value_parser = parse_mode, requires = "teach")]
        teach_mode: crate::model::GrowingMode,
        /// Where the lesson starts: current (the model's weights) or scratch.
        #[arg(long, default_value = "current", value_parser = parse_teach_from, requires = "teach")]
        teach_from: crate::scene::teach::TeachFrom,
        /// Run the lesson's weights in a second grid beside the original.
        #[arg(long, requires = "teach")]
        side_by_side: bool,
        /// Write a JSON report when the window closes: every frame's time (`frame_ms`) and the
        /// lesson's figures (`teach.iterations`, `teach.loss_first`, `teach.loss_last`,
        /// `teach.swaps`, …).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Soak runs of installations: a monkey of this seed touches the screen at random (and
        /// takes breaks long enough for the kiosk's idle reset); the report gains the memory over
        /// time and the touches made.
        #[arg(long)]
        monkey: Option<u32>,
        /// Play a scenario file (RON): its grid, organisms and digits, its events on their steps.
        #[arg(long, conflicts_with_all = ["model", "plant", "digit", "chimera", "digit_image", "teach"])]
        scenario: Option<PathBuf>,
        /// Installations (with --kiosk): play the scenarios of this folder in turn, the next one
        /// after each ends, while nobody touches the screen.
        #[arg(long, requires = "kiosk", conflicts_with = "scenario")]
        playlist: Option<PathBuf>,
        /// What an exhibit supervisor sets on its window.
        #[command(flatten)]
        exhibit: exhibit::ExhibitWindowArgs,
    },
    /// Run an installation: the kiosk window as a child process, restarted when it exits,
    /// crashes or freezes, within its opening hours, with an optional health endpoint.
    Exhibit(exhibit::ExhibitArgs),
    /// Convert a published Distill model (WebGL uint8 JSON, TF.js graph JSON, or the adversarial
    /// demo's data script) to .safetensors.
    Import {
        /// The Distill file.
        file: PathBuf,
        /// Output .safetensors.
        #[arg(long)]
        out: PathBuf,
        /// From the adversarial demo's data (.js), take the adversary (`ADV_WEIGHTS_B64`)
        /// instead of the MNIST model (`WEIGHTS_B64`).
        #[arg(long)]
        adversary: bool,
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
    /// Run one grid for a long time under random damage and record NaNs, alive cells and memory
    /// (an installation's week, shortened; not a test: see the README's figures).
    Soak(soak::SoakArgs),
    /// Teach a model outside the window (the window's teach panel runs the same lessons).
    Teach {
        /// What to teach.
        #[command(subcommand)]
        kind: TeachKind,
    },
    /// Make the sample digits the digits scene ships (`assets/mnist/samples.png`): the N most
    /// typical test digits of each class (closest to the class's mean picture), one row per class.
    MnistSamples {
        /// Folder of MNIST's idx files (default: $NCA_MNIST_DIR, else data/mnist).
        #[arg(long)]
        mnist: Option<PathBuf>,
        /// Samples per class.
        #[arg(long, default_value_t = 20)]
        per_class: usize,
        /// Output PNG.
        #[arg(long, default_value = "assets/mnist/samples.png")]
        out: PathBuf,
    },
    /// Draw a loss CSV (as written by `nca train`) as a PNG plot again.
    Plot {
        /// The `iteration,loss` CSV.
        csv: PathBuf,
        /// Output PNG (default: the CSV's name with `.png`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Scripted experiments: run a scenario file headless (metrics.csv, run.gif,
    /// final.safetensors), or check one.
    Scenario {
        /// What to do with it.
        #[command(subcommand)]
        command: scenario::ScenarioCommand,
    },
    /// Score a model with the quality protocol; prints JSON.
    Eval {
        /// Kind of model to evaluate.
        #[command(subcommand)]
        kind: EvalKind,
    },
}

/// Exit status of a command line that cannot be parsed (clap's and the BSD convention's).
pub const USAGE_EXIT: u8 = 2;

/// Parses the arguments and runs. Every error is one line on stderr that starts `error:`: a
/// command line that cannot be parsed (an unknown flag, a missing or malformed value) exits
/// with [`USAGE_EXIT`], anything wrong with the data, the files or the work with 1. `--help`
/// and `--version` print as usual and exit 0.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// clap's error as one line (its usage block and hint dropped), or help and version as clap
/// prints them.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
        let _ = e.print();
        return if e.use_stderr() { ExitCode::from(USAGE_EXIT) } else { ExitCode::SUCCESS };
    }
    eprintln!("{}", one_line_usage_error(&e.render().to_string()));
    ExitCode::from(USAGE_EXIT)
}

/// The first line of clap's rendered error, with what the following lines add that matters
/// (the valid values, a suggestion) joined on, and `--help` named.
pub(crate) fn one_line_usage_error(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut line = lines.next().unwrap_or("error: the command line cannot be parsed").to_string();
    if !line.starts_with("error:") {
        line = format!("error: {line}");
    }
    for extra in lines {
        if extra.starts_with("Usage:") || extra.starts_with("For more information") {
            continue;
        }
        line.push_str(if line.ends_with(':') { " " } else { "; " });
        line.push_str(extra.trim_start_matches("tip: "));
    }
    format!("{line} (see --help)")
}

/// Does what a parsed command line asks (the web build calls it with its URL's command line).
pub fn run(cli: Cli) -> Result<(), String> {
    let command = cli.command.unwrap_or(Command::Run {
        model: None,
        size: 128,
        speed: crate::sim::Speed::One,
        trained_dir: None,
        plant: Vec::new(),
        view: View::Natural,
        digit_image: None,
        digit: Vec::new(),
        chimera: Vec::new(),
        adversaries: None,
        adversary: None,
        canvas: (160, 64),
        dark: false,
        kiosk: false,
        seed: 0,
        frames: None,
        seconds: None,
        screenshot: None,
        record_gif: None,
        teach: None,
        teach_mode: crate::model::GrowingMode::Regenerating,
        teach_from: crate::scene::teach::TeachFrom::Current,
        side_by_side: false,
        report: None,
        monkey: None,
        scenario: None,
        playlist: None,
        exhibit: Default::default(),
    });
    check_outputs(&command)?;
    match command {
        Command::Run {
            model,
            size,
            speed,
            trained_dir,
            plant,
            view,
            digit_image,
            digit,
            chimera,
            adversaries,
            adversary,
            canvas,
            dark,
            kiosk,
            seed,
            frames,
            seconds,
            screenshot,
            record_gif,
            teach,
            teach_mode,
            teach_from,
            side_by_side,
            report,
            monkey,
            scenario,
            playlist,
            exhibit,
        } => {
            if exhibit.out_of_order {
                let options = exhibit.options();
                return window_exit(crate::exhibit::window::run_out_of_order(options.window, options.windowed));
            }
            if let Some(dir) = trained_dir.as_ref().filter(|d| !crate::platform::is_dir(d)) {
                return Err(format!("--trained-dir {}: no such folder", dir.display()));
            }
            // The paths themselves were judged with every other output (check_outputs).
            if screenshot.is_some() && frames.is_none() && seconds.is_none() {
                return Err("--screenshot is taken after the last frame: give --frames or --seconds".into());
            }
            if record_gif.is_some() && frames.is_none() && seconds.is_none() {
                return Err("--record-gif stops at the last frame: give --frames or --seconds".into());
            }
            let trained_dir = trained_dir.unwrap_or_else(default_trained_dir);
            let playlist = match &playlist {
                Some(dir) => Some(crate::scene::scenario::read_playlist(dir)?),
                None => None,
            };
            // A scenario (or a playlist's first) is read whole here, every file it names, and
            // refused with its reason before a window opens.
            let scenario = match (&scenario, &playlist) {
                (Some(file), _) => Some((std::sync::Arc::new(crate::model::scenario::LoadedScenario::load(file)?), file.clone())),
                (None, Some(list)) => list.items.first().cloned(),
                (None, None) => None,
            };
            let path = match (model, &scenario) {
                (Some(path), _) => path,
                (None, Some((scene, _))) => scene.model_paths[0].clone(),
                (None, None) => default_model(&trained_dir)?,
            };
            // Refuse a broken starting model here, with the file's name, before a window opens.
            let kind = load(&path)?.kind();
            check_size(size)?;
            check_view(view, kind)?;
            for (file, x, y) in &plant {
                let planted = load(file)?.kind();
                if planted != kind {
                    return Err(format!("--plant {}: a {planted} model cannot share a grid with a {kind} model", file.display()));
                }
                if *x >= size || *y >= size {
                    return Err(format!("--plant {}@{x},{y}: outside the {size}×{size} grid", file.display()));
                }
            }
            if let Some(picture) = &teach {
                if kind != ModelKind::Growing {
                    return Err(format!(
                        "--teach {}: pictures are taught to growing models, and {} is a {kind} model",
                        picture.display(),
                        path.display()
                    ));
                }
                // The trainer's own reading (any size is thumbnailed), refused here with its reason.
                crate::model::target::Target::load(picture, 40, 16).map_err(|e| format!("--teach {e}"))?;
            }
            let teach = teach.map(|picture| crate::app::window::TeachStart { picture, mode: teach_mode, from: teach_from, side_by_side });
            let mut start_edits = Vec::new();
            let digits_asked =
                digit_image.is_some() || !digit.is_empty() || !chimera.is_empty() || adversaries.is_some() || adversary.is_some();
            if digits_asked && kind != ModelKind::Mnist {
                return Err(format!(
                    "{} is a {kind} model; --digit, --chimera, --digit-image and --adversaries are for MNIST models",
                    path.display()
                ));
            }
            let (canvas_w, canvas_h) = canvas;
            if let Some(picture) = &digit_image {
                let (width, height, grey) = mnist::grey_picture(picture).map_err(|e| e.to_string())?;
                if width > canvas_w as usize || height > canvas_h as usize {
                    return Err(format!(
                        "--digit-image {}: {width}×{height} does not fit the {canvas_w}×{canvas_h} canvas",
                        picture.display()
                    ));
                }
                let origin = [((canvas_w as usize - width) / 2) as i32, ((canvas_h as usize - height) / 2) as i32];
                start_edits.push(Edit::PlaceImage(GreyImage { origin, width: width as u32, height: height as u32, grey: grey.into() }));
            }
            for (class, at) in &digit {
                if let Some([x, y]) = at
                    && (*x >= canvas_w as f32 || *y >= canvas_h as f32)
                {
                    return Err(format!("--digit {class}@{x},{y}: outside the {canvas_w}×{canvas_h} canvas"));
                }
            }
            if let Some(file) = &adversary {
                let adversary_kind = load(file)?.kind();
                if adversary_kind != ModelKind::Mnist {
                    return Err(format!("--adversary {}: a {adversary_kind} model, not an MNIST one", file.display()));
                }
            }
            let mut digit_start: Vec<(DigitSource, Option<[f32; 2]>)> =
                digit.iter().map(|&(class, at)| (DigitSource::Sample { class, index: Some(0) }, at)).collect();
            digit_start.extend(chimera.iter().map(|&(upper, lower)| (DigitSource::Chimera { upper, lower, split: None }, None)));
            let digits = DigitsStart {
                canvas,
                start: if digit_start.is_empty() && digit_image.is_none() { None } else { Some(digit_start) },
                adversaries,
                adversary,
            };
            crate::app::probe_adapter().map_err(|e| e.to_string())?;
            let exit = window::run(WindowOptions {
                model: path,
                trained_dir,
                grid_size: size,
                speed,
                seed,
                plant,
                start_edits,
                digits,
                view,
                dark_background: dark,
                kiosk,
                frames,
                seconds,
                screenshot: screenshot.clone(),
                record_gif: record_gif.clone(),
                teach,
                report,
                monkey,
                scenario,
                playlist,
                exhibit: exhibit.options(),
            });
            if let Some(path) = screenshot.filter(|p| !p.exists()) {
                return Err(format!("{}: screenshot was not written", path.display()));
            }
            if let Some(path) = record_gif.filter(|p| !p.exists()) {
                return Err(format!("{}: the GIF was not written (see the log above)", path.display()));
            }
            window_exit(exit)
        }
        Command::Import { file, out, adversary } => {
            let pick = if adversary { import::Pick::Adversary } else { import::Pick::Main };
            let weights = import::load_model_file_picking(&file, pick).map_err(|e| e.to_string())?;
            weights.save(&out).map_err(|e| e.to_string())?;
            println!("{} → {} ({})", file.display(), out.display(), weights.describe());
            Ok(())
        }
        Command::MnistSamples { mnist, per_class, out } => {
            let dir = mnist.unwrap_or_else(crate::model::idx::default_dir);
            let test = crate::model::idx::Digits::load(&dir, crate::model::idx::Split::Test).map_err(|e| e.to_string())?;
            let atlas = crate::model::digits::SampleDigits::atlas(&test, per_class.max(1))?;
            if let Some(parent) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            crate::model::weights::save_png(atlas.clone(), &out).map_err(|e| e.to_string())?;
            println!("{}: the {per_class} most typical test digits of each class, {}×{}", out.display(), atlas.width(), atlas.height());
            Ok(())
        }
        Command::Plot { csv, out } => {
            let losses = crate::train::plot::read_csv(&csv)?;
            let out = out.unwrap_or_else(|| csv.with_extension("png"));
            crate::model::weights::save_png(crate::train::plot::render_png(&losses), &out).map_err(|e| e.to_string())?;
            println!("{} ({} iterations) → {}", csv.display(), losses.len(), out.display());
            Ok(())
        }
        Command::Info { model } => {
            let weights = load(&model)?;
            for (k, v) in weights.spec_lines() {
                println!("{k}: {v}");
            }
            for (k, v) in weights.provenance() {
                println!("{k}: {v}");
            }
            Ok(())
        }
        Command::Step { grow, out } => {
            let (weights, grid) = grow.run()?;
            let metadata = HashMap::from([
                ("nca.kind".to_string(), weights.kind().to_string()),
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
            if !(1..=64).contains(&scale) {
                return Err(format!("--scale {scale} is outside 1..=64 pixels per cell"));
            }
            let (weights, grid) = grow.run()?;
            let picture = crate::model::display::render(weights.kind(), &grid, View::Natural, &DisplayStyle::default(), scale);
            save_png(&out, &picture)?;
            println!("{}: {}×{} cells after {} steps", out.display(), grid.width, grid.height, grow.steps);
            Ok(())
        }
        Command::Bench(args) => bench::run(args),
        Command::Exhibit(args) => exhibit::run(args),
        Command::Teach { kind: TeachKind::Handwriting(args) } => teach::handwriting(args),
        Command::Soak(args) => soak::soak(args),
        Command::Scenario { command } => scenario::run_command(command),
        Command::Train { kind: TrainKind::Growing(args) } => train::run(args),
        Command::Train { kind: TrainKind::Mnist(args) } => train_mnist::run(args),
        Command::Train { kind: TrainKind::MnistAdversary(args) } => train_mnist::run_adversary(args),
        Command::Eval { kind: EvalKind::MnistAdversary { base, adversary, fraction, target_class, mnist, digits, seed } } => {
            let (base_weights, adversary_weights) = (load(&base)?, load(&adversary)?);
            let b = base_weights.expect_mnist().map_err(|e| format!("{}: {e}", base.display()))?;
            let a = adversary_weights.expect_mnist().map_err(|e| format!("{}: {e}", adversary.display()))?;
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(format!("--fraction {fraction} is outside (0, 1]"));
            }
            let dir = mnist.unwrap_or_else(crate::model::idx::default_dir);
            let test = crate::model::idx::Digits::load(&dir, crate::model::idx::Split::Test).map_err(|e| e.to_string())?;
            let started = std::time::Instant::now();
            let progress = |done: usize, total: usize| eprint!("\r{done}/{total} digits, {:.0} s", started.elapsed().as_secs_f64());
            // The adversary's own recipe says what it was trained to push to.
            let trained_for = a
                .provenance
                .get("nca.train.recipe")
                .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
                .and_then(|r| r["adversary_target"].as_u64());
            let target = match (target_class, trained_for) {
                (Some(class), _) if class > 9 => return Err(format!("--target-class {class} is not a digit 0–9")),
                (Some(class), _) => class,
                (None, Some(class)) if class > 9 => {
                    return Err(format!(
                        "{}: metadata 'nca.train.recipe' names adversary_target {class}, not a digit 0–9 (pass --target-class)",
                        adversary.display()
                    ));
                }
                (None, Some(class)) => class as u8,
                (None, None) => 8,
            };
            let options = crate::model::mnist_eval::AdversaryOptions { digits: digits.unwrap_or(test.len()), fraction, target, seed };
            let report = crate::model::mnist_eval::evaluate_adversary(b, a, &test, &options, progress)?;
            eprintln!();
            let mut json = report.to_json();
            json["base"] = serde_json::json!(base.display().to_string());
            json["adversary"] = serde_json::json!(adversary.display().to_string());
            json["seed"] = serde_json::json!(seed);
            json["seconds"] = serde_json::json!((started.elapsed().as_secs_f64() * 10.0).round() / 10.0);
            println!("{}", serde_json::to_string_pretty(&json).expect("JSON of numbers and strings"));
            Ok(())
        }
        Command::Eval { kind: EvalKind::Mnist { model, mnist, digits, seed, backend, plot, magnitudes } } => {
            eval_mnist(&model, mnist, digits, seed, backend, plot, magnitudes)
        }
        Command::Eval { kind: EvalKind::Growing { model, target, seeds, strip } } => {
            use crate::model::{eval, target::Target};
            crate::train::validate::within("--seeds", seeds, 1..=1000)?;
            let weights = load(&model)?;
            let w = weights.expect_growing().map_err(|e| format!("{}: {e} (use `nca eval mnist` for MNIST models)", model.display()))?;
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
                crate::model::weights::save_png(protocol_strip(w), &strip).map_err(|e| e.to_string())?;
                json["strip"] = serde_json::json!(strip.display().to_string());
            }
            println!("{}", serde_json::to_string_pretty(&json).expect("JSON of numbers and strings"));
            Ok(())
        }
    }
}

/// A window's exit as the command's: a lost GPU device ends the process at once with
/// [`crate::app::DEVICE_LOST_EXIT`] and its reason, so a supervisor can tell it from a crash.
fn window_exit(exit: bevy::app::AppExit) -> Result<(), String> {
    match exit {
        bevy::app::AppExit::Success => Ok(()),
        bevy::app::AppExit::Error(code) if code.get() == crate::app::DEVICE_LOST_EXIT => {
            let reason =
                crate::exhibit::window::RENDER_FAILURE.lock().ok().and_then(|r| r.clone()).unwrap_or_else(|| "GPU device lost".into());
            eprintln!("error: {reason}: the window stopped (a supervisor starts a new one)");
            std::process::exit(crate::app::DEVICE_LOST_EXIT.into());
        }
        bevy::app::AppExit::Error(code) => Err(format!("the app exited with code {code}")),
    }
}

/// Every file a command will write, with the extension its format needs (`None`: any name).
/// Scenario runs judge their output folder themselves ([`crate::model::scenario::output::check_out`]),
/// as it depends on the scenario's snapshots and seeds.
fn outputs_of(command: &Command) -> Vec<(&'static str, PathBuf, Option<&'static str>)> {
    let png = Some("png");
    let out = |p: &Path| ("--out", p.to_path_buf(), None);
    match command {
        Command::Run { screenshot, record_gif, report, .. } => {
            let mut outputs = Vec::new();
            outputs.extend(screenshot.iter().map(|p| ("--screenshot", p.clone(), png)));
            outputs.extend(record_gif.iter().map(|p| ("--record-gif", p.clone(), Some("gif"))));
            outputs.extend(report.iter().map(|p| ("--report", p.clone(), None)));
            outputs
        }
        Command::Import { out: o, .. } | Command::Step { out: o, .. } => vec![out(o)],
        Command::Render { out, .. } | Command::MnistSamples { out, .. } => vec![("--out", out.clone(), png)],
        Command::Plot { csv, out } => vec![("--out", out.clone().unwrap_or_else(|| csv.with_extension("png")), png)],
        Command::Eval { kind: EvalKind::Growing { strip: Some(strip), .. } } => vec![("--strip", strip.clone(), png)],
        Command::Eval { kind: EvalKind::Mnist { plot: Some(plot), .. } } => vec![("--plot", plot.clone(), png)],
        Command::Train { kind: TrainKind::Growing(args) } => vec![out(&args.out)],
        Command::Train { kind: TrainKind::Mnist(args) } => vec![out(&args.out)],
        Command::Train { kind: TrainKind::MnistAdversary(args) } => vec![out(&args.run.out)],
        Command::Teach { kind: TeachKind::Handwriting(args) } => vec![out(&args.out)],
        Command::Soak(args) => args.out.iter().map(|p| out(p)).collect(),
        _ => Vec::new(),
    }
}

/// Judges every output of `command` before any work: a long run must not end on an output it
/// cannot write ([`crate::model::files::check_output_file`]).
fn check_outputs(command: &Command) -> Result<(), String> {
    for (flag, path, extension) in outputs_of(command) {
        crate::model::files::check_output_file(&path, extension).map_err(|e| format!("{flag} {e}"))?;
    }
    Ok(())
}

fn load(path: &Path) -> Result<NcaWeights, String> {
    import::load_model_file(path).map_err(|e| e.to_string())
}

fn check_size(size: u32) -> Result<(), String> {
    if (3..=4096).contains(&size) { Ok(()) } else { Err(format!("grid size {size} is outside 3..=4096")) }
}

/// Runs `weights` from `start` for `steps` steps on the chosen backend.
pub fn simulate(weights: &NcaWeights, start: &Grid, seed: u32, steps: u32, rotation: f32, backend: Backend) -> Result<Grid, String> {
    if !rotation.is_finite() {
        return Err(format!("--rotation {rotation} is not a number of degrees"));
    }
    match backend {
        Backend::Cpu => {
            let mut grid = start.clone();
            reference::run(&[weights], &mut grid, seed, 0, steps, &SobelPair::rotated_degrees(rotation))?;
            Ok(grid)
        }
        Backend::Gpu => {
            let mut gpu = HeadlessGpu::new().map_err(|e| e.to_string())?;
            gpu.simulate(weights, start, seed, 0, steps, rotation).map_err(|e| e.to_string())
        }
    }
}

/// Grows a growing model from a centred seed (kept for the tools and tests that grow one).
pub fn grow(weights: &NcaWeights, size: u32, seed: u32, steps: u32, rotation: f32, backend: Backend) -> Result<Grid, String> {
    check_size(size)?;
    simulate(weights, &Grid::seeded(size as usize, size as usize, weights.channels()), seed, steps, rotation, backend)
}

/// Whether `view` exists for `kind`.
fn check_view(view: View, kind: ModelKind) -> Result<(), String> {
    if kind.views().contains(&view) {
        return Ok(());
    }
    let range = &kind.layout().viewable;
    Err(format!("--view channel:{}: a {kind} model's channel view shows channels {}–{}", view.channel(), range.start, range.end - 1))
}

/// `nca eval mnist`.
fn eval_mnist(
    model: &Path,
    mnist_dir: Option<PathBuf>,
    digits: Option<usize>,
    seed: u32,
    backend: Backend,
    plot: Option<PathBuf>,
    magnitudes: bool,
) -> Result<(), String> {
    use crate::model::idx::{Digits, Split, default_dir};
    use crate::model::mnist_eval::{CpuEval, EvalOptions, evaluate};
    let weights = load(model)?;
    let w = weights.expect_mnist().map_err(|e| format!("{}: {e} (use `nca eval growing` for growing models)", model.display()))?;
    if digits == Some(0) {
        return Err("--digits 0: nothing to evaluate".into());
    }
    let dir = mnist_dir.unwrap_or_else(default_dir);
    let test = Digits::load(&dir, Split::Test).map_err(|e| e.to_string())?;
    let options = EvalOptions { digits: digits.unwrap_or(test.len()), seed, magnitudes };
    let started = std::time::Instant::now();
    let progress = |done: usize, total: usize| eprint!("\r{done}/{total} digits, {:.0} s", started.elapsed().as_secs_f64());
    let report = match backend {
        Backend::Cpu => evaluate(&mut CpuEval::new(vec![w], seed), &test, &options, progress)?,
        Backend::Gpu => {
            let mut gpu = crate::app::headless::GpuEval::new(weights.clone(), seed).map_err(|e| e.to_string())?;
            evaluate(&mut gpu, &test, &options, progress)?
        }
    };
    eprintln!();
    let seconds = started.elapsed().as_secs_f64();
    let mut json = report.to_json();
    json["model"] = serde_json::json!(model.display().to_string());
    json["backend"] = serde_json::json!(format!("{backend:?}").to_lowercase());
    json["seconds"] = serde_json::json!((seconds * 10.0).round() / 10.0);
    if let Some(path) = plot {
        save_png_rgb(&path, &eval_plot(&report))?;
        json["plot"] = serde_json::json!(path.display().to_string());
    }
    println!("{}", serde_json::to_string_pretty(&json).expect("JSON of numbers and strings"));
    Ok(())
}

/// The paper's figures: accuracy and total agreement over the 400 steps (and the magnitudes,
/// if recorded), the mutation marked.
pub fn eval_plot(report: &crate::model::mnist_eval::EvalReport) -> image::RgbImage {
    use crate::plot::{Panel, render_curves};
    let blue = [20, 60, 160];
    let mut panels = vec![
        Panel { title: "accuracy (%)", curves: vec![(&report.accuracy, blue)], min: 0.0, max: 100.0 },
        Panel { title: "total agreement (%)", curves: vec![(&report.agreement, blue)], min: 0.0, max: 100.0 },
    ];
    if !report.state_magnitude.is_empty() {
        let max = report.state_magnitude.iter().chain(&report.update_magnitude).copied().fold(0.0, f64::max) * 1.05;
        panels.push(Panel {
            title: "mean |state| and mean |update|",
            curves: vec![(&report.state_magnitude, blue), (&report.update_magnitude, [160, 190, 240])],
            min: 0.0,
            max: max.max(1e-6),
        });
    }
    render_curves(&panels, Some(crate::model::mnist_eval::PHASE_STEPS as usize))
}

fn save_png_rgb(path: &Path, image: &image::RgbImage) -> Result<(), String> {
    crate::model::weights::save_png(image.clone(), path).map_err(|e| e.to_string())
}

fn save_png(path: &Path, image: &image::RgbaImage) -> Result<(), String> {
    crate::model::weights::save_png(image.clone(), path).map_err(|e| e.to_string())
}
