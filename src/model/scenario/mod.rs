//! Scenarios: a scene as a file. A grid, the organisms or digits on it, events at exact steps,
//! and what to record; written by hand or recorded in the window, run headless or in the window,
//! and replayed exactly.
//!
//! The file is RON ([`Scenario`]), with `implicit_some` on, so optional fields are written
//! plainly (`target: "assets/targets/lizard.png"`). [`Scenario::parse`] reads and checks it;
//! [`LoadedScenario::load`] reads the files it names (models, targets, digits) and turns every
//! event into the grid edits and settings changes every backend applies the same way;
//! [`run`] plays it on a [`run::ScenarioBackend`] (the CPU reference here, the GPU in
//! [`crate::app::headless`]) and [`output`] writes what it recorded.

pub mod budget;
pub mod output;
pub mod reduce;
pub mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::digits::{self, SampleDigits};
use super::grid::{Edit, GreyImage};
use super::kind::ModelKind;
use super::mnist_eval::adversary_cell;
use super::target::{DEFAULT_TARGET_PADDING, DEFAULT_TARGET_SIZE, Target};
use super::weights::NcaWeights;

/// The version this build writes and reads.
pub const SCENARIO_VERSION: u32 = 1;
/// Largest grid side a scenario may ask for (the CLI's limit).
pub const MAX_GRID_SIDE: u32 = 4096;
/// Most steps a scenario may run.
pub const MAX_STEPS: u32 = 10_000_000;
/// Largest scenario file read.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// A scene and what happens to it: the single description of a scene, shared by the headless
/// runner, the window (`--scenario`, Save scene, Record) and the command line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The format version ([`SCENARIO_VERSION`]).
    pub version: u32,
    /// A short title (the window shows it).
    #[serde(default)]
    pub name: String,
    /// What the scenario shows or measures.
    #[serde(default)]
    pub description: String,
    /// The grid.
    pub grid: GridSpec,
    /// The models, by name: species 0 is the first.
    pub species: Vec<SpeciesSpec>,
    /// Organisms planted as seeds at step 0 (growing models).
    #[serde(default)]
    pub organisms: Vec<Organism>,
    /// Digits placed at step 0 (MNIST models).
    #[serde(default)]
    pub digits: Vec<DigitSpec>,
    /// Steps to run.
    pub steps: u32,
    /// What happens, and when.
    #[serde(default)]
    pub events: Vec<Event>,
    /// What to record.
    #[serde(default)]
    pub record: RecordSpec,
}

/// The grid of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// The kind of its models, checked against them when given.
    #[serde(default)]
    pub kind: Option<ModelKind>,
    /// Cells per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Seed of the fire hash (`--seeds` overrides it).
    #[serde(default)]
    pub seed: u32,
    /// RGB behind transparent and dead cells, each in [0, 1].
    #[serde(default = "white")]
    pub background: [f32; 3],
    /// Rotation of the perception kernels, in degrees (growing models).
    #[serde(default)]
    pub rotation: f32,
}

fn white() -> [f32; 3] {
    [1.0, 1.0, 1.0]
}

/// One species: a model file and, for growing models, the picture it should become.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeciesSpec {
    /// How events and organisms name it.
    pub name: String,
    /// Its model file (`.safetensors` or a Distill JSON).
    pub model: PathBuf,
    /// Its target picture, for the RGBA loss (default: the model's `nca.target` in
    /// `assets/targets`, when it names one and the file is there).
    #[serde(default)]
    pub target: Option<PathBuf>,
}

/// A growing organism: a seed of `species` at `at`, planted at step 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organism {
    /// The species' name.
    pub species: String,
    /// The seed's cell.
    pub at: [u32; 2],
    /// Its name in the metrics (default `organism N`).
    #[serde(default)]
    pub name: Option<String>,
}

/// A digit placed at step 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitSpec {
    /// Which picture.
    pub digit: DigitSource,
    /// The cell of its centre.
    pub at: [f32; 2],
    /// Its size relative to MNIST's 28×28.
    #[serde(default = "one")]
    pub scale: f32,
    /// The species of its cells (default: the first).
    #[serde(default)]
    pub species: Option<String>,
}

fn one() -> f32 {
    1.0
}

/// Where a digit's picture comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DigitSource {
    /// A bundled sample (`assets/mnist/samples.png`): sample `index` of `class`.
    Sample {
        /// The class, 0–9.
        class: u8,
        /// Which sample of the class (0 is the most typical).
        #[serde(default)]
        index: usize,
    },
    /// MNIST's test set, by index (read from `data/mnist` or `$NCA_MNIST_DIR`).
    Mnist(usize),
    /// The paper's chimera: the upper half of one sample joined to the lower half of another.
    Chimera {
        /// Class of the upper half.
        upper: u8,
        /// Class of the lower half.
        lower: u8,
    },
}

/// Something that happens at an exact step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The step: the action lands after `step` steps have run and before the next one, so the
    /// state recorded at `step` shows it and the state at `step − 1` does not.
    pub step: u32,
    /// What happens.
    #[serde(rename = "do")]
    pub action: Action,
}

/// Which half of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// Columns left of the middle.
    Left,
    /// Columns from the middle on.
    Right,
    /// Rows above the middle.
    Top,
    /// Rows from the middle on.
    Bottom,
}

/// An event's action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Zero every cell whose centre lies inside the disc.
    EraseDisc {
        /// Centre, in cells.
        center: [f32; 2],
        /// Radius, in cells.
        radius: f32,
    },
    /// Zero the cells with `min ≤ (x, y) < max`.
    EraseRect {
        /// First column and row inside.
        min: [u32; 2],
        /// First column and row past it.
        max: [u32; 2],
    },
    /// Zero half of the grid.
    EraseHalf(Side),
    /// Cut along a line: zero every cell within `width / 2` of the segment.
    Cut {
        /// One end, in cells.
        from: [f32; 2],
        /// The other end.
        to: [f32; 2],
        /// The cut's width, in cells.
        width: f32,
    },
    /// Zero the whole grid.
    Clear,
    /// Plant a seed of a species (growing models).
    PlantSeed {
        /// The seed's cell.
        at: [u32; 2],
        /// The species' name.
        species: String,
    },
    /// Run another model for a species from now on (same kind).
    SwapModel {
        /// The species' name.
        species: String,
        /// The new model file.
        model: PathBuf,
    },
    /// Turn the perception kernels to an absolute angle, in degrees.
    Rotate(f32),
    /// Replace digit `digit`'s picture with another, keeping its cells' state where the new
    /// picture has ink (the paper's mutation, "switcheroo").
    Mutate {
        /// The digit's index in `digits`.
        digit: usize,
        /// The new picture.
        into: DigitSource,
    },
    /// Make a share of the cells in a rectangle (default: the whole grid) run a species' model
    /// (the adversarial article's adversaries); the cells are a Bernoulli draw from the seed.
    Adversaries {
        /// The species' name.
        species: String,
        /// Share of the cells, in [0, 1].
        fraction: f32,
        /// First column and row inside, and first past it (default: the whole grid).
        #[serde(default)]
        rect: Option<([u32; 2], [u32; 2])>,
    },
    /// Every cell back to species 0 (removes adversaries).
    RemoveAdversaries,
    /// Draw a stroke with the soft round pen (MNIST).
    Stroke {
        /// The pen's path, in cells.
        points: Vec<[f32; 2]>,
        /// The pen's radius.
        radius: f32,
        /// The species of the drawn cells (default: the first).
        #[serde(default)]
        species: Option<String>,
    },
    /// Write the state (`NAME.safetensors`) and its picture (`NAME.png`) to the output folder; the
    /// window also pauses.
    Snapshot(String),
    /// Grid edits exactly as the window applied them (what Record writes), species by id.
    Edits(Vec<Edit>),
}

/// What a run records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// Metrics every this many steps (and at the last step); 0 records only the last step.
    #[serde(default = "ten")]
    pub every: u32,
    /// Extra named rectangles to measure.
    #[serde(default)]
    pub regions: Vec<NamedRegion>,
    /// PNG frames every this many steps, if wanted.
    #[serde(default)]
    pub frames: Option<u32>,
    /// The animated GIF, if wanted.
    #[serde(default = "default_gif")]
    pub gif: Option<GifSpec>,
}

fn ten() -> u32 {
    10
}

fn default_gif() -> Option<GifSpec> {
    Some(GifSpec::default())
}

impl Default for RecordSpec {
    fn default() -> Self {
        Self { every: 10, regions: Vec::new(), frames: None, gif: default_gif() }
    }
}

/// How `run.gif` is made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GifSpec {
    /// A frame every this many steps (and the last).
    #[serde(default = "four")]
    pub every: u32,
    /// Pixels per cell.
    #[serde(default = "two")]
    pub scale: u32,
    /// Display time of each frame, in hundredths of a second.
    #[serde(default = "four_hundredths")]
    pub delay: u16,
}

fn four() -> u32 {
    4
}
fn two() -> u32 {
    2
}
fn four_hundredths() -> u16 {
    4
}

impl Default for GifSpec {
    fn default() -> Self {
        Self { every: 4, scale: 2, delay: 4 }
    }
}

/// A named rectangle measured on its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedRegion {
    /// Its name in the metrics.
    pub name: String,
    /// First column and row inside.
    pub min: [u32; 2],
    /// First column and row past it.
    pub max: [u32; 2],
}

fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

impl Scenario {
    /// Reads and checks a scenario file. Errors are one line naming the file, and for syntax and
    /// type errors the line and column.
    pub fn load(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let text = super::files::read_input_text(path, "scenario", MAX_SCENARIO_BYTES).map_err(|e| e.to_string())?;
        Self::parse(&text).map_err(|e| format!("{shown}:{e}"))
    }

    /// Parses and checks scenario text; errors start with `LINE:COLUMN: ` where they have one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // The version is judged first, so a newer file is refused for what it is and not for a
        // field this build does not know.
        if let Ok(VersionProbe { version: Some(v) }) = ron_options().from_str::<VersionProbe>(text)
            && v != SCENARIO_VERSION
        {
            return Err(if v > SCENARIO_VERSION {
                format!(" version {v} was made by a newer nca-sandbox; this one reads version {SCENARIO_VERSION}")
            } else {
                format!(" version {v} is not a scenario version (this build reads {SCENARIO_VERSION})")
            });
        }
        let scenario: Scenario = ron_options().from_str(text).map_err(|e| {
            let at = e.span.start;
            format!("{}:{}: {}", at.line, at.col, e.code)
        })?;
        scenario.validate().map_err(|e| format!(" {e}"))?;
        Ok(scenario)
    }

    /// The scenario as RON text, as [`Scenario::parse`] reads it.
    pub fn to_ron(&self) -> String {
        let config = ron::ser::PrettyConfig::new().struct_names(true).extensions(ron::extensions::Extensions::IMPLICIT_SOME);
        ron_options().to_string_pretty(self, config).expect("scenarios are plain data")
    }

    /// Writes the scenario (write-then-rename, regular files only).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        super::weights::write_atomically(path, self.to_ron().as_bytes()).map_err(|e| e.to_string())
    }

    /// The species index of `name`.
    pub fn species_index(&self, name: &str) -> Result<usize, String> {
        self.species.iter().position(|s| s.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.species.iter().map(|s| s.name.as_str()).collect();
            format!("no species is named '{name}' (the scenario has: {})", known.join(", "))
        })
    }

    /// Checks everything that can be checked without reading other files.
    pub fn validate(&self) -> Result<(), String> {
        let g = &self.grid;
        for (side, name) in [(g.width, "width"), (g.height, "height")] {
            if !(3..=MAX_GRID_SIDE).contains(&side) {
                return Err(format!("grid.{name} {side} is outside 3..={MAX_GRID_SIDE}"));
            }
        }
        if g.background.iter().any(|v| !(0.0..=1.0).contains(v)) {
            return Err(format!("grid.background {:?} must hold three values in [0, 1]", g.background));
        }
        if !g.rotation.is_finite() {
            return Err(format!("grid.rotation {} is not a number of degrees", g.rotation));
        }
        if !(1..=MAX_STEPS).contains(&self.steps) {
            return Err(format!("steps {} is outside 1..={MAX_STEPS}", self.steps));
        }
        if self.species.is_empty() {
            return Err("species is empty: a scenario needs at least one model".into());
        }
        if self.species.len() > 255 {
            return Err(format!("{} species; a grid holds at most 255", self.species.len()));
        }
        for (i, s) in self.species.iter().enumerate() {
            if s.name.is_empty() || self.species[..i].iter().any(|o| o.name == s.name) {
                return Err(format!("species {i}: its name '{}' must be given and unique", s.name));
            }
        }
        let counts = [
            (self.organisms.len(), budget::MAX_ORGANISMS, "organisms"),
            (self.digits.len(), budget::MAX_DIGITS, "digits"),
            (self.record.regions.len(), budget::MAX_REGIONS, "record.regions"),
            (self.events.len(), budget::MAX_EVENTS, "events"),
        ];
        for (n, limit, what) in counts {
            if n > limit {
                return Err(format!("{n} {what}; a scenario may have at most {limit}"));
            }
        }
        let names = self.species.iter().map(|s| (&s.name, "species"));
        let names = names.chain(self.organisms.iter().filter_map(|o| o.name.as_ref().map(|n| (n, "organism"))));
        for (name, what) in names.chain(self.record.regions.iter().map(|r| (&r.name, "region"))) {
            if name.len() > 64 || name.chars().any(|c| c.is_control() || c == ',' || c == '"') {
                return Err(format!(
                    "{what} name '{}': at most 64 characters, without commas, quotes or control characters (it becomes a CSV field)",
                    name.escape_debug()
                ));
            }
        }
        let inside = |at: [u32; 2], what: &str| -> Result<(), String> {
            if at[0] < g.width && at[1] < g.height {
                Ok(())
            } else {
                Err(format!("{what}: cell ({}, {}) is outside the {}×{} grid", at[0], at[1], g.width, g.height))
            }
        };
        let inside_f = |at: [f32; 2], what: &str| -> Result<(), String> {
            if at.iter().all(|v| v.is_finite()) && at[0] >= 0.0 && at[1] >= 0.0 && at[0] <= g.width as f32 && at[1] <= g.height as f32 {
                Ok(())
            } else {
                Err(format!("{what}: point ({}, {}) is outside the {}×{} grid", at[0], at[1], g.width, g.height))
            }
        };
        let rect = |min: [u32; 2], max: [u32; 2], what: &str| -> Result<(), String> {
            if min[0] < max[0] && min[1] < max[1] && max[0] <= g.width && max[1] <= g.height {
                Ok(())
            } else {
                Err(format!("{what}: rectangle {min:?}..{max:?} is empty or reaches outside the {}×{} grid", g.width, g.height))
            }
        };
        let radius = |r: f32, what: &str| -> Result<(), String> {
            if r.is_finite() && r > 0.0 && r <= (g.width + g.height) as f32 {
                Ok(())
            } else {
                Err(format!("{what}: radius {r} must be above 0 and at most the grid's width plus height"))
            }
        };
        for (i, o) in self.organisms.iter().enumerate() {
            let what = format!("organisms[{i}]");
            self.species_index(&o.species).map_err(|e| format!("{what}: {e}"))?;
            inside(o.at, &what)?;
        }
        for (i, d) in self.digits.iter().enumerate() {
            let what = format!("digits[{i}]");
            check_digit_source(&d.digit).map_err(|e| format!("{what}: {e}"))?;
            inside_f(d.at, &what)?;
            if !(d.scale.is_finite() && (0.25..=8.0).contains(&d.scale)) {
                return Err(format!("{what}: scale {} is outside 0.25..=8", d.scale));
            }
            if let Some(s) = &d.species {
                self.species_index(s).map_err(|e| format!("{what}: {e}"))?;
            }
        }
        for (i, e) in self.events.iter().enumerate() {
            let what = format!("events[{i}] (step {})", e.step);
            if e.step > self.steps {
                return Err(format!("{what}: lands after the run's end (steps: {})", self.steps));
            }
            match &e.action {
                Action::EraseDisc { center, radius: r } => {
                    inside_f(*center, &what)?;
                    radius(*r, &what)?;
                }
                Action::EraseRect { min, max } => rect(*min, *max, &what)?,
                Action::Cut { from, to, width } => {
                    inside_f(*from, &what)?;
                    inside_f(*to, &what)?;
                    radius(*width / 2.0, &what)?;
                }
                Action::PlantSeed { at, species } => {
                    inside(*at, &what)?;
                    self.species_index(species).map_err(|e| format!("{what}: {e}"))?;
                }
                Action::SwapModel { species, .. } => {
                    self.species_index(species).map_err(|e| format!("{what}: {e}"))?;
                }
                Action::Rotate(d) if !d.is_finite() => return Err(format!("{what}: rotation {d} is not a number of degrees")),
                Action::Mutate { digit, into } => {
                    if *digit >= self.digits.len() {
                        return Err(format!("{what}: there is no digit {digit} (the scenario places {})", self.digits.len()));
                    }
                    check_digit_source(into).map_err(|e| format!("{what}: {e}"))?;
                }
                Action::Adversaries { species, fraction, rect: r } => {
                    self.species_index(species).map_err(|e| format!("{what}: {e}"))?;
                    if !(0.0..=1.0).contains(fraction) {
                        return Err(format!("{what}: fraction {fraction} is outside [0, 1]"));
                    }
                    if let Some((min, max)) = r {
                        rect(*min, *max, &what)?;
                    }
                }
                Action::Stroke { points, radius: r, species } => {
                    if points.is_empty() || points.len() > 100_000 {
                        return Err(format!("{what}: a stroke needs 1 to 100000 points, not {}", points.len()));
                    }
                    for p in points {
                        inside_f(*p, &what)?;
                    }
                    radius(*r, &what)?;
                    if let Some(s) = species {
                        self.species_index(s).map_err(|e| format!("{what}: {e}"))?;
                    }
                }
                Action::Snapshot(name) => {
                    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                        return Err(format!("{what}: snapshot name '{}' may hold only letters, digits, '_' and '-'", name.escape_debug()));
                    }
                }
                Action::Edits(edits) => {
                    for (k, edit) in edits.iter().enumerate() {
                        check_edit(edit, g.width, g.height, self.species.len()).map_err(|e| format!("{what}, edit {k}: {e}"))?;
                    }
                }
                Action::Rotate(_) | Action::EraseHalf(_) | Action::Clear | Action::RemoveAdversaries => {}
            }
        }
        let r = &self.record;
        for (i, region) in r.regions.iter().enumerate() {
            rect(region.min, region.max, &format!("record.regions[{i}] '{}'", region.name))?;
        }
        self.check_row_names()?;
        self.check_snapshot_names()?;
        if let Some(gif) = &r.gif {
            if gif.every == 0 || !(1..=16).contains(&gif.scale) {
                return Err(format!("record.gif: every {} must be at least 1 and scale {} within 1..=16", gif.every, gif.scale));
            }
            let pixels = g.width as u64 * g.height as u64 * (gif.scale as u64).pow(2);
            if pixels > 4096 * 4096 {
                return Err(format!("record.gif: frames of {pixels} pixels are too large (at most 4096², lower the scale)"));
            }
        }
        if r.frames == Some(0) {
            return Err("record.frames: 0 steps between frames; leave it out for none".into());
        }
        self.budget().check()
    }

    /// Every row `metrics.csv` will hold at a step, named once: a region called `grid`, or
    /// `species a`, or two regions of one name would put two rows of one name in the table and
    /// mix different regions into one median of `summary.csv`.
    fn check_row_names(&self) -> Result<(), String> {
        let mut rows: Vec<(String, String)> = vec![("grid".into(), "the whole grid".into())];
        if self.species.len() > 1 {
            rows.extend(self.species.iter().map(|s| (format!("species {}", s.name), format!("species '{}'", s.name))));
        }
        for (i, o) in self.organisms.iter().enumerate() {
            rows.push((o.name.clone().unwrap_or_else(|| format!("organism {i}")), format!("organisms[{i}]")));
        }
        rows.extend((0..self.digits.len()).map(|i| (format!("digit {i}"), format!("digits[{i}]"))));
        rows.extend(self.record.regions.iter().enumerate().map(|(i, r)| (r.name.clone(), format!("record.regions[{i}]"))));
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, source) in &rows {
            if let Some(first) = seen.insert(name, source) {
                return Err(format!(
                    "{source}: the row name '{name}' is already {first}'s; every row of metrics.csv needs a name of its own"
                ));
            }
        }
        Ok(())
    }

    /// Snapshot names are files in the output folder: each once, and never `final`, which is the
    /// run's own final state.
    fn check_snapshot_names(&self) -> Result<(), String> {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, e) in self.events.iter().enumerate() {
            let Action::Snapshot(name) = &e.action else { continue };
            if name.eq_ignore_ascii_case("final") {
                return Err(format!(
                    "events[{i}] (step {}): a snapshot may not be called '{name}': final.safetensors is the run's final state",
                    e.step
                ));
            }
            if let Some(first) = seen.insert(name, i) {
                return Err(format!(
                    "events[{i}] (step {}): snapshot '{name}' is already taken by events[{first}]; each snapshot needs a file name of its own",
                    e.step
                ));
            }
        }
        Ok(())
    }
}

/// A scenario's version alone, whatever else the file holds.
struct VersionProbe {
    version: Option<u32>,
}

impl<'de> Deserialize<'de> for VersionProbe {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = VersionProbe;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a scenario")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut version = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "version" {
                        version = Some(map.next_value::<u32>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(VersionProbe { version })
            }
        }
        deserializer.deserialize_struct("Scenario", &["version"], Visitor)
    }
}

/// Whether a recorded edit can be applied to a `width × height` grid of `species` species.
fn check_edit(edit: &Edit, width: u32, height: u32, species: usize) -> Result<(), String> {
    let finite = |v: &[f32]| v.iter().all(|x| x.is_finite() && x.abs() <= 1e6);
    let known = |s: u32| if (s as usize) < species { Ok(()) } else { Err(format!("species {s} does not exist ({species} species)")) };
    match edit {
        Edit::EraseDisc { center, radius } if !finite(center) || !finite(&[*radius]) => Err("a disc needs finite numbers".into()),
        Edit::PlantSeed { x, y, species: s } => {
            if *x >= width || *y >= height {
                return Err(format!("seed ({x}, {y}) is outside the {width}×{height} grid"));
            }
            known(*s)
        }
        Edit::EraseRect { min, max } if min[0] > max[0] || min[1] > max[1] => Err(format!("rectangle {min:?}..{max:?} is inverted")),
        Edit::Draw { center, radius, species: s } | Edit::PaintSpecies { center, radius, species: s } => {
            if !finite(center) || !finite(&[*radius]) || *radius < 0.0 || *radius > (width + height) as f32 {
                return Err("a pen or paint stamp needs finite numbers and a radius within the grid".into());
            }
            known(*s)
        }
        Edit::PlaceImage(image) => {
            let n = image.width as u64 * image.height as u64;
            if n == 0 || n > 4096 * 4096 || image.grey.len() as u64 != n {
                return Err(format!("a {}×{} picture with {} values", image.width, image.height, image.grey.len()));
            }
            if !image.grey.iter().all(|v| v.is_finite()) {
                return Err("a picture with values that are not numbers".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_digit_source(source: &DigitSource) -> Result<(), String> {
    match source {
        DigitSource::Sample { class, .. } | DigitSource::Chimera { upper: class, .. } if *class > 9 => {
            Err(format!("class {class} is not a digit 0–9"))
        }
        DigitSource::Chimera { lower, .. } if *lower > 9 => Err(format!("class {lower} is not a digit 0–9")),
        _ => Ok(()),
    }
}

/// A digit on the grid, as placed: its picture, its true class where known, and its box.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedDigit {
    /// The picture as a grid edit.
    pub image: GreyImage,
    /// The class it shows (`None` for chimeras).
    pub label: Option<u8>,
}

impl PlacedDigit {
    /// Its box on a `width × height` grid: first column and row, first past it.
    pub fn bounds(&self, width: u32, height: u32) -> ([u32; 2], [u32; 2]) {
        let clip = |v: i64, n: u32| v.clamp(0, n as i64) as u32;
        let (x0, y0) = (self.image.origin[0] as i64, self.image.origin[1] as i64);
        ([clip(x0, width), clip(y0, height)], [clip(x0 + self.image.width as i64, width), clip(y0 + self.image.height as i64, height)])
    }
}

/// What an event does, resolved: everything a backend needs, with the files it names read.
#[derive(Clone, Debug)]
pub enum Step {
    /// Grid edits, in order.
    Edits(Vec<Edit>),
    /// A species runs another model from now on.
    Swap {
        /// The species id.
        species: usize,
        /// Its new model.
        weights: Box<NcaWeights>,
    },
    /// The perception kernels turn to this angle.
    Rotate(f32),
    /// Digit `digit` now shows `label` (after a mutation), for the metrics.
    Relabel {
        /// The digit's index.
        digit: usize,
        /// Its new picture and class.
        placed: PlacedDigit,
    },
    /// Write the state under this name.
    Snapshot(String),
}

/// A scenario with its files read and its events resolved.
#[derive(Clone, Debug)]
pub struct LoadedScenario {
    /// The scenario as written.
    pub scenario: Scenario,
    /// Its models' kind.
    pub kind: ModelKind,
    /// Each species' model at the start.
    pub models: Vec<NcaWeights>,
    /// Each species' model file, as found.
    pub model_paths: Vec<PathBuf>,
    /// Each species' target, where it has one (growing models).
    pub targets: Vec<Option<Target>>,
    /// The digits as placed at step 0.
    pub digits: Vec<PlacedDigit>,
    /// What happens at each step (step 0 starts with the organisms and digits), in order.
    pub timeline: BTreeMap<u32, Vec<Step>>,
}

/// Where a relative path in a scenario is found: beside the scenario file if it is there, else
/// from the working folder (where `trained/` and `assets/` are).
pub fn resolve(base: &Path, path: &Path) -> Result<PathBuf, String> {
    if path.is_absolute() {
        return if crate::platform::exists(path) { Ok(path.to_path_buf()) } else { Err(format!("{} does not exist", path.display())) };
    }
    let beside = base.join(path);
    if crate::platform::exists(&beside) {
        return Ok(beside);
    }
    if crate::platform::exists(path) {
        return Ok(path.to_path_buf());
    }
    // An installed exhibit's scenarios name `trained/…` and `assets/…` as a checkout does.
    let installed = super::files::data_dir().join(path);
    if crate::platform::exists(&installed) {
        return Ok(installed);
    }
    Err(format!("{} is not beside the scenario ({}) nor in the working folder", path.display(), beside.display()))
}

/// Pictures of digits, read once when first needed.
#[derive(Default)]
struct DigitBank {
    samples: Option<SampleDigits>,
    mnist: Option<super::idx::Digits>,
}

impl DigitBank {
    fn samples(&mut self) -> Result<&SampleDigits, String> {
        if self.samples.is_none() {
            self.samples = Some(SampleDigits::load(&digits::default_samples_path()).map_err(|e| e.to_string())?);
        }
        Ok(self.samples.as_ref().expect("just loaded"))
    }

    fn picture(&mut self, source: &DigitSource) -> Result<(Vec<u8>, Option<u8>), String> {
        match source {
            DigitSource::Sample { class, index } => Ok((self.samples()?.get(*class as usize, *index).to_vec(), Some(*class))),
            DigitSource::Chimera { upper, lower } => {
                let s = self.samples()?;
                Ok((digits::chimera(s.get(*upper as usize, 0), s.get(*lower as usize, 0), digits::SIDE / 2), None))
            }
            DigitSource::Mnist(i) => {
                if self.mnist.is_none() {
                    let dir = super::idx::default_dir();
                    self.mnist = Some(super::idx::Digits::load(&dir, super::idx::Split::Test).map_err(|e| e.to_string())?);
                }
                let set = self.mnist.as_ref().expect("just loaded");
                if *i >= set.len() {
                    return Err(format!("MNIST digit {i} does not exist (the test set holds {})", set.len()));
                }
                Ok((set.image(*i).to_vec(), Some(set.labels[*i])))
            }
        }
    }
}

/// Cells of species `species` under a picture (where its grey makes them alive): the picture's
/// cells take the species, as a pen stroke's do.
fn paint_picture(image: &GreyImage, species: u32, width: u32, height: u32) -> Vec<Edit> {
    if species == 0 {
        return Vec::new();
    }
    image
        .cells(width as usize, height as usize)
        .filter(|&(_, _, grey)| grey > super::mnist::LIVE_THRESHOLD)
        .map(|(x, y, _)| Edit::PaintSpecies { center: [x as f32 + 0.5, y as f32 + 0.5], radius: 0.5, species })
        .collect()
}

impl LoadedScenario {
    /// Reads a scenario file and everything it names.
    pub fn load(path: &Path) -> Result<Self, String> {
        let scenario = Scenario::load(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_scenario(scenario, base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads the files `scenario` names, relative paths resolved from `base` ([`resolve`]).
    pub fn from_scenario(scenario: Scenario, base: &Path) -> Result<Self, String> {
        scenario.validate()?;
        let g = scenario.grid.clone();
        let (width, height) = (g.width, g.height);
        let load_model = |what: String, path: &Path| -> Result<(NcaWeights, PathBuf), String> {
            let found = resolve(base, path).map_err(|e| format!("{what}: model {e}"))?;
            let weights = super::import::load_model_file(&found).map_err(|e| format!("{what}: {e}"))?;
            Ok((weights, found))
        };
        let mut models = Vec::new();
        let mut model_paths = Vec::new();
        let mut targets = Vec::new();
        for s in &scenario.species {
            let (weights, found) = load_model(format!("species '{}'", s.name), &s.model)?;
            let target = match (&s.target, weights.as_growing()) {
                (Some(t), _) => {
                    let found = resolve(base, t).map_err(|e| format!("species '{}': target {e}", s.name))?;
                    Some(Target::load(&found, DEFAULT_TARGET_SIZE, DEFAULT_TARGET_PADDING).map_err(|e| e.to_string())?)
                }
                (None, Some(w)) => super::target::named_target_path(&w.spec.target)
                    .filter(|p| crate::platform::is_file(p))
                    .and_then(|p| Target::load(p, DEFAULT_TARGET_SIZE, DEFAULT_TARGET_PADDING).ok()),
                (None, None) => None,
            };
            models.push(weights);
            model_paths.push(found);
            targets.push(target);
        }
        let kind = super::reference::common_kind(&models.iter().collect::<Vec<_>>())?;
        if let Some(declared) = g.kind
            && declared != kind
        {
            return Err(format!("grid.kind is {declared}, but the species' models are {kind} models"));
        }
        let needs = |allowed: bool, what: &str| -> Result<(), String> {
            if allowed { Ok(()) } else { Err(format!("{what} is not something a {kind} grid can do")) }
        };
        needs(kind == ModelKind::Growing || scenario.organisms.is_empty(), "organisms (seeds)")?;
        needs(kind == ModelKind::Mnist || scenario.digits.is_empty(), "digits")?;

        let mut bank = DigitBank::default();
        let mut place = |d: &DigitSource, at: [f32; 2], scale: f32| -> Result<PlacedDigit, String> {
            let (pixels, label) = bank.picture(d)?;
            let (side, grey) = digits::scaled(&pixels, scale);
            Ok(PlacedDigit { image: digits::placed(side, grey, at), label })
        };
        let mut start = vec![Edit::Clear];
        for o in &scenario.organisms {
            start.push(Edit::PlantSeed { x: o.at[0], y: o.at[1], species: scenario.species_index(&o.species)? as u32 });
        }
        let mut placed = Vec::new();
        for (i, d) in scenario.digits.iter().enumerate() {
            let digit = place(&d.digit, d.at, d.scale).map_err(|e| format!("digits[{i}]: {e}"))?;
            start.push(Edit::PlaceImage(digit.image.clone()));
            let species = d.species.as_deref().map(|s| scenario.species_index(s)).transpose()?.unwrap_or(0);
            start.extend(paint_picture(&digit.image, species as u32, width, height));
            placed.push(digit);
        }
        let mut timeline: BTreeMap<u32, Vec<Step>> = BTreeMap::new();
        timeline.entry(0).or_default().push(Step::Edits(start));
        let mut current = placed.clone();
        let mut expanded = 0u64;
        for (i, e) in scenario.events.iter().enumerate() {
            let what = format!("events[{i}] (step {})", e.step);
            let step = match &e.action {
                Action::EraseDisc { center, radius } => Step::Edits(vec![Edit::EraseDisc { center: *center, radius: *radius }]),
                Action::EraseRect { min, max } => Step::Edits(vec![Edit::EraseRect { min: *min, max: *max }]),
                Action::EraseHalf(side) => {
                    let (w, h) = (width, height);
                    let (min, max) = match side {
                        Side::Left => ([0, 0], [w / 2, h]),
                        Side::Right => ([w / 2, 0], [w, h]),
                        Side::Top => ([0, 0], [w, h / 2]),
                        Side::Bottom => ([0, h / 2], [w, h]),
                    };
                    Step::Edits(vec![Edit::EraseRect { min, max }])
                }
                Action::Cut { from, to, width: cut } => Step::Edits(cut_edits(*from, *to, *cut)),
                Action::Clear => Step::Edits(vec![Edit::Clear]),
                Action::PlantSeed { at, species } => {
                    needs(kind == ModelKind::Growing, &what)?;
                    Step::Edits(vec![Edit::PlantSeed { x: at[0], y: at[1], species: scenario.species_index(species)? as u32 }])
                }
                Action::SwapModel { species, model } => {
                    let (weights, _) = load_model(what.clone(), model)?;
                    if weights.kind() != kind {
                        return Err(format!("{what}: {} is a {} model; this grid runs {kind} models", model.display(), weights.kind()));
                    }
                    Step::Swap { species: scenario.species_index(species)?, weights: Box::new(weights) }
                }
                Action::Rotate(degrees) => Step::Rotate(*degrees),
                Action::Mutate { digit, into } => {
                    needs(kind == ModelKind::Mnist, &what)?;
                    let old = &current[*digit];
                    let centre = [
                        old.image.origin[0] as f32 + old.image.width as f32 / 2.0,
                        old.image.origin[1] as f32 + old.image.height as f32 / 2.0,
                    ];
                    let scale = scenario.digits[*digit].scale;
                    let new = place(into, centre, scale).map_err(|e| format!("{what}: {e}"))?;
                    // Cells the old picture had and the new one lacks are cleared by the new picture's zeros.
                    timeline.entry(e.step).or_default().push(Step::Edits(vec![Edit::PlaceImage(new.image.clone())]));
                    current[*digit] = new.clone();
                    Step::Relabel { digit: *digit, placed: new }
                }
                Action::Adversaries { species, fraction, rect } => {
                    let species = scenario.species_index(species)? as u32;
                    let (min, max) = rect.unwrap_or(([0, 0], [width, height]));
                    let seed = g.seed;
                    let mut edits = Vec::new();
                    for y in min[1]..max[1] {
                        for x in min[0]..max[0] {
                            if adversary_cell(seed, x, y, *fraction) {
                                edits.push(Edit::PaintSpecies { center: [x as f32 + 0.5, y as f32 + 0.5], radius: 0.5, species });
                            }
                        }
                        // The budget counted the draw's expected share; the cap holds exactly.
                        if expanded + edits.len() as u64 > budget::MAX_EDITS {
                            return Err(format!("{what}: the adversaries' draw passes {} edits in all", budget::MAX_EDITS));
                        }
                    }
                    Step::Edits(edits)
                }
                Action::RemoveAdversaries => Step::Edits(vec![Edit::PaintSpecies {
                    center: [width as f32 / 2.0, height as f32 / 2.0],
                    radius: (width + height) as f32,
                    species: 0,
                }]),
                Action::Stroke { points, radius, species } => {
                    needs(kind == ModelKind::Mnist, &what)?;
                    let species = species.as_deref().map(|s| scenario.species_index(s)).transpose()?.unwrap_or(0) as u32;
                    Step::Edits(stroke_edits(points, *radius, species))
                }
                Action::Snapshot(name) => Step::Snapshot(name.clone()),
                Action::Edits(edits) => Step::Edits(edits.clone()),
            };
            if let Step::Edits(edits) = &step {
                expanded += edits.len() as u64;
            }
            timeline.entry(e.step).or_default().push(step);
        }
        Ok(Self { scenario, kind, models, model_paths, targets, digits: placed, timeline })
    }
}

/// A cut as erased discs along the segment, spaced a quarter of the width apart (their union is
/// a band with rounded ends; every backend applies discs bit-identically).
pub fn cut_edits(from: [f32; 2], to: [f32; 2], width: f32) -> Vec<Edit> {
    let radius = width / 2.0;
    let length = ((to[0] - from[0]).powi(2) + (to[1] - from[1]).powi(2)).sqrt();
    let n = (length / (radius / 2.0).max(0.25)).ceil().max(1.0) as usize;
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            Edit::EraseDisc { center: [from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t], radius }
        })
        .collect()
}

/// A pen stroke as pen stamps along its path, a third of the radius apart (as the window's pen
/// draws a drag).
pub fn stroke_edits(points: &[[f32; 2]], radius: f32, species: u32) -> Vec<Edit> {
    let spacing = (radius / 3.0).max(0.25);
    let mut centres = vec![points[0]];
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let length = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        let n = (length / spacing).ceil() as usize;
        centres.extend((1..=n).map(|i| {
            let t = i as f32 / n as f32;
            [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
        }));
    }
    centres.into_iter().map(|center| Edit::Draw { center, radius, species }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_field() -> Scenario {
        Scenario {
            version: SCENARIO_VERSION,
            name: "All of it".into(),
            description: "Every field and action".into(),
            grid: GridSpec { kind: Some(ModelKind::Mnist), width: 64, height: 48, seed: 9, background: [0.0, 0.5, 1.0], rotation: 30.0 },
            species: vec![
                SpeciesSpec { name: "a".into(), model: "trained/mnist.safetensors".into(), target: None },
                SpeciesSpec { name: "b".into(), model: "x/y.safetensors".into(), target: Some("t.png".into()) },
            ],
            organisms: vec![Organism { species: "a".into(), at: [3, 4], name: Some("left".into()) }],
            digits: vec![
                DigitSpec { digit: DigitSource::Sample { class: 3, index: 2 }, at: [10.0, 12.5], scale: 1.5, species: None },
                DigitSpec { digit: DigitSource::Mnist(77), at: [30.0, 20.0], scale: 1.0, species: Some("b".into()) },
                DigitSpec { digit: DigitSource::Chimera { upper: 8, lower: 9 }, at: [50.0, 20.0], scale: 1.0, species: None },
            ],
            steps: 100,
            events: vec![
                Event { step: 0, action: Action::EraseDisc { center: [5.0, 5.0], radius: 2.5 } },
                Event { step: 1, action: Action::EraseRect { min: [0, 0], max: [4, 4] } },
                Event { step: 2, action: Action::EraseHalf(Side::Top) },
                Event { step: 3, action: Action::Cut { from: [0.0, 0.0], to: [63.0, 47.0], width: 2.0 } },
                Event { step: 4, action: Action::Clear },
                Event { step: 5, action: Action::PlantSeed { at: [7, 7], species: "b".into() } },
                Event { step: 6, action: Action::SwapModel { species: "a".into(), model: "m.safetensors".into() } },
                Event { step: 7, action: Action::Rotate(-90.0) },
                Event { step: 8, action: Action::Mutate { digit: 0, into: DigitSource::Sample { class: 5, index: 0 } } },
                Event { step: 9, action: Action::Adversaries { species: "b".into(), fraction: 0.25, rect: Some(([1, 1], [9, 9])) } },
                Event { step: 10, action: Action::RemoveAdversaries },
                Event { step: 11, action: Action::Stroke { points: vec![[1.0, 1.0], [9.0, 3.0]], radius: 1.5, species: Some("a".into()) } },
                Event { step: 100, action: Action::Snapshot("end".into()) },
                Event {
                    step: 100,
                    action: Action::Edits(vec![
                        Edit::Draw { center: [3.5, 4.0], radius: 2.0, species: 1 },
                        Edit::PlaceImage(GreyImage { origin: [-2, 3], width: 2, height: 1, grey: vec![0.25, 1.0].into() }),
                        Edit::EraseRect { min: [1, 1], max: [3, 3] },
                    ]),
                },
            ],
            record: RecordSpec {
                every: 5,
                regions: vec![NamedRegion { name: "corner".into(), min: [0, 0], max: [8, 8] }],
                frames: Some(20),
                gif: Some(GifSpec { every: 2, scale: 3, delay: 5 }),
            },
        }
    }

    #[test]
    fn a_scenario_round_trips_through_its_text() {
        let scenario = every_field();
        let text = scenario.to_ron();
        assert_eq!(Scenario::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}")), scenario);
        assert!(text.contains("kind: \"mnist\"") && text.contains("EraseHalf(Top)"), "{text}");
    }

    #[test]
    fn defaults_fill_what_a_short_file_leaves_out() {
        let text = r#"Scenario(version: 1, grid: (width: 32, height: 32), species: [(name: "l", model: "m")], steps: 10)"#;
        let s = Scenario::parse(text).unwrap();
        assert_eq!((s.grid.seed, s.grid.background, s.record.every), (0, [1.0; 3], 10));
        assert_eq!(s.record.gif, Some(GifSpec::default()));
    }

    fn error_of(text: &str) -> String {
        Scenario::parse(text).expect_err("should be refused")
    }

    #[test]
    fn malformed_text_is_reported_with_line_and_column() {
        let e = error_of("Scenario(\n    version: 1,\n    grid: (width: 32 height: 32),\n)");
        assert!(e.starts_with("3:"), "{e}");
        let e = error_of("Scenario(version: 1, grid: (width: 32, height: 32), species: [], steps: 10, colour: 3)");
        assert!(e.contains("colour") && e.starts_with("1:"), "{e}");
        let e = error_of("Scenario(version: 1, grid: (width: \"wide\", height: 32), species: [], steps: 10)");
        assert!(e.starts_with("1:35") && e.contains("integer"), "{e}");
    }

    #[test]
    fn an_unknown_version_is_refused_with_a_reason() {
        let e = error_of(r#"Scenario(version: 7, grid: (width: 32, height: 32), species: [], steps: 10, future_field: 1)"#);
        assert!(e.contains("newer nca-sandbox"), "{e}");
        let e = error_of(r#"Scenario(version: 0, grid: (width: 32, height: 32), species: [], steps: 10)"#);
        assert!(e.contains("not a scenario version"), "{e}");
    }

    #[test]
    fn impossible_scenes_are_refused_by_what_is_wrong() {
        let refuse = |change: &dyn Fn(&mut Scenario), expect: &str| {
            let mut s = every_field();
            change(&mut s);
            let e = s.validate().expect_err(expect);
            assert!(e.contains(expect), "expected '{expect}' in: {e}");
        };
        refuse(&|s| s.events[0].step = 101, "after the run's end");
        refuse(&|s| s.organisms[0].at = [64, 3], "outside the 64×48 grid");
        refuse(&|s| s.events[1].action = Action::EraseRect { min: [0, 0], max: [65, 4] }, "reaches outside");
        refuse(&|s| s.events[0].action = Action::EraseDisc { center: [5.0, f32::NAN], radius: 2.0 }, "outside");
        refuse(&|s| s.events[5].action = Action::PlantSeed { at: [1, 1], species: "c".into() }, "no species is named 'c'");
        refuse(&|s| s.grid.width = 5000, "grid.width 5000");
        refuse(&|s| s.steps = 0, "steps 0");
        refuse(&|s| s.grid.rotation = f32::INFINITY, "grid.rotation");
        refuse(&|s| s.species[1].name = "a".into(), "unique");
        refuse(&|s| s.record.regions[0].name = "a,b".into(), "without commas");
        refuse(&|s| s.events[8].action = Action::Mutate { digit: 3, into: DigitSource::Mnist(1) }, "no digit 3");
        refuse(&|s| s.events[9].action = Action::Adversaries { species: "b".into(), fraction: 1.5, rect: None }, "fraction 1.5");
        refuse(&|s| s.events[12].action = Action::Snapshot("../x".into()), "snapshot name");
        refuse(&|s| s.digits[0].digit = DigitSource::Sample { class: 12, index: 0 }, "class 12");
        refuse(&|s| s.record.gif = Some(GifSpec { every: 0, scale: 2, delay: 4 }), "record.gif");
        let bad_picture = GreyImage { origin: [0, 0], width: 3, height: 3, grey: vec![0.5; 4].into() };
        refuse(&|s| s.events[13].action = Action::Edits(vec![Edit::PlaceImage(bad_picture.clone())]), "3×3 picture with 4 values");
        refuse(&|s| s.events[13].action = Action::Edits(vec![Edit::PlantSeed { x: 1, y: 1, species: 2 }]), "species 2 does not exist");
    }

    #[test]
    fn a_missing_model_is_named() {
        let mut s = every_field();
        s.species[1].model = "no/such/model.safetensors".into();
        let e = LoadedScenario::from_scenario(s, Path::new("/nonexistent")).unwrap_err();
        assert!(e.contains("species 'b'") && e.contains("no/such/model.safetensors"), "{e}");
    }

    #[test]
    fn cuts_and_strokes_become_evenly_spaced_stamps() {
        let cut = cut_edits([0.0, 0.0], [10.0, 0.0], 4.0);
        assert_eq!(cut.len(), 11, "a disc every radius/2 = 1 cell");
        assert_eq!(cut.last(), Some(&Edit::EraseDisc { center: [10.0, 0.0], radius: 2.0 }));
        let stroke = stroke_edits(&[[0.0, 0.0], [3.0, 0.0], [3.0, 3.0]], 3.0, 2);
        assert_eq!(stroke.len(), 7);
        assert!(stroke.iter().all(|e| matches!(e, Edit::Draw { radius: 3.0, species: 2, .. })));
    }
}
