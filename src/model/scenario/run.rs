//! Playing a scenario on a backend, step-exactly, and measuring it.
//!
//! The runner owns the clock: it asks the backend for exactly the steps up to the next moment
//! that matters (an event, a recording, a GIF frame), so events land on their step on every
//! backend, however the backend batches its work.

use std::collections::BTreeSet;

use super::{LoadedScenario, PlacedDigit, Step};
use crate::model::grid::{Edit, Grid};
use crate::model::perception::SobelPair;
use crate::model::{ModelKind, NcaWeights, mnist, reference};

/// What runs a scenario's grid: the CPU reference, or the GPU through a headless app.
pub trait ScenarioBackend {
    /// A fresh, empty grid for `scene` (its size, models and rotation) with fire-hash `seed`, at
    /// step 0.
    fn start(&mut self, scene: &LoadedScenario, seed: u32) -> Result<(), String>;
    /// Applies edits, in order, before the next step.
    fn edit(&mut self, edits: &[Edit]) -> Result<(), String>;
    /// Species `species` runs `weights` from the next step on.
    fn swap_model(&mut self, species: usize, weights: &NcaWeights) -> Result<(), String>;
    /// The perception kernels turn to `degrees` from the next step on.
    fn rotate(&mut self, degrees: f32) -> Result<(), String>;
    /// Runs `steps` steps.
    fn run(&mut self, steps: u32) -> Result<(), String>;
    /// The whole state as it is now (edits applied).
    fn state(&mut self) -> Result<Grid, String>;
}

/// The CPU reference as a [`ScenarioBackend`]: the ground truth.
#[derive(Default)]
pub struct CpuBackend {
    models: Vec<NcaWeights>,
    grid: Option<Grid>,
    kind: Option<ModelKind>,
    seed: u32,
    step: u32,
    sobel: SobelPair,
}

impl ScenarioBackend for CpuBackend {
    fn start(&mut self, scene: &LoadedScenario, seed: u32) -> Result<(), String> {
        let g = &scene.scenario.grid;
        self.models = scene.models.clone();
        self.grid = Some(Grid::new(g.width as usize, g.height as usize, scene.kind.channels()));
        self.kind = Some(scene.kind);
        self.seed = seed;
        self.step = 0;
        self.sobel = SobelPair::rotated_degrees(g.rotation);
        Ok(())
    }
    fn edit(&mut self, edits: &[Edit]) -> Result<(), String> {
        let (grid, kind) = (self.grid.as_mut().ok_or("no grid")?, self.kind.ok_or("no grid")?);
        for edit in edits {
            kind.apply_edit(grid, edit);
        }
        Ok(())
    }
    fn swap_model(&mut self, species: usize, weights: &NcaWeights) -> Result<(), String> {
        *self.models.get_mut(species).ok_or("no such species")? = weights.clone();
        Ok(())
    }
    fn rotate(&mut self, degrees: f32) -> Result<(), String> {
        self.sobel = SobelPair::rotated_degrees(degrees);
        Ok(())
    }
    fn run(&mut self, steps: u32) -> Result<(), String> {
        let grid = self.grid.as_mut().ok_or("no grid")?;
        let models: Vec<&NcaWeights> = self.models.iter().collect();
        reference::run(&models, grid, self.seed, self.step, steps, &self.sobel)?;
        self.step = self.step.wrapping_add(steps);
        Ok(())
    }
    fn state(&mut self) -> Result<Grid, String> {
        self.grid.clone().ok_or_else(|| "no grid".into())
    }
}

/// One row of `metrics.csv`: one region at one recorded step.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    /// The fire-hash seed of the run.
    pub seed: u32,
    /// The step (the state after `step` steps and that step's events).
    pub step: u32,
    /// `grid`, `species NAME`, an organism's name, `digit N`, or a named rectangle.
    pub region: String,
    /// Cells in the region.
    pub cells: u64,
    /// Living cells in it (the kind's life rule).
    pub alive: u64,
    /// Mean squared RGBA error against the organism's target, centred on its seed (organisms
    /// whose species has a target).
    pub loss: Option<f64>,
    /// Share of the digit's living cells voting for its true class (digits with a known class).
    pub accuracy: Option<f64>,
    /// Share of the digit's living cells voting for the majority's class.
    pub agreement: Option<f64>,
    /// The class most living cells vote for.
    pub majority: Option<u8>,
    /// Mean |value| over the living cells' channels.
    pub mean_abs_state: f64,
    /// Mean |change| the last step made (the NCA's own, events left out) over the living cells'
    /// channels; empty at step 0.
    pub mean_abs_update: Option<f64>,
}

/// The columns of `metrics.csv`, in order.
pub const CSV_HEADER: &str = "seed,step,region,cells,alive,loss,accuracy,agreement,majority,mean_abs_state,mean_abs_update";

impl MetricRow {
    /// The row as CSV (no quoting needed: region names are checked to hold no commas).
    pub fn to_csv(&self) -> String {
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.6e}")).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{},{},{},{:.6e},{}",
            self.seed,
            self.step,
            self.region,
            self.cells,
            self.alive,
            opt(self.loss),
            opt(self.accuracy),
            opt(self.agreement),
            self.majority.map(|m| m.to_string()).unwrap_or_default(),
            self.mean_abs_state,
            opt(self.mean_abs_update)
        )
    }
}

/// A region the metrics cover: its cells (row-major indices) and what to measure in it.
struct Region {
    name: String,
    cells: Vec<u32>,
    /// An organism's target, placed: `(target, its top-left cell)`.
    target: Option<(usize, [i64; 2])>,
    /// A digit's index.
    digit: Option<usize>,
}

/// Which cell belongs to which organism: the nearest seed (ties to the first).
fn nearest_organism(organisms: &[[u32; 2]], x: u32, y: u32) -> usize {
    let d = |o: &[u32; 2]| (o[0] as i64 - x as i64).pow(2) + (o[1] as i64 - y as i64).pow(2);
    (0..organisms.len()).min_by_key(|&i| (d(&organisms[i]), i)).unwrap_or(0)
}

/// The regions that do not move during a run (all but the species'), worked out once: the grid,
/// each organism's, each digit's box (a mutation keeps the box) and the named rectangles.
fn fixed_regions(scene: &LoadedScenario) -> Vec<Region> {
    let s = &scene.scenario;
    let (w, h) = (s.grid.width, s.grid.height);
    let all: Vec<u32> = (0..w * h).collect();
    let rect =
        |min: [u32; 2], max: [u32; 2]| -> Vec<u32> { (min[1]..max[1]).flat_map(|y| (min[0]..max[0]).map(move |x| y * w + x)).collect() };
    let mut out = vec![Region { name: "grid".into(), cells: all.clone(), target: None, digit: None }];
    let seeds: Vec<[u32; 2]> = s.organisms.iter().map(|o| o.at).collect();
    let mut nearest: Vec<Vec<u32>> = vec![Vec::new(); seeds.len()];
    if !seeds.is_empty() {
        for &c in &all {
            nearest[nearest_organism(&seeds, c % w, c / w)].push(c);
        }
    }
    for ((i, o), cells) in s.organisms.iter().enumerate().zip(nearest) {
        let species = s.species_index(&o.species).unwrap_or(0);
        let target = scene.targets[species]
            .as_ref()
            .map(|t| (species, [o.at[0] as i64 - (t.width() / 2) as i64, o.at[1] as i64 - (t.height() / 2) as i64]));
        let name = o.name.clone().unwrap_or_else(|| format!("organism {i}"));
        out.push(Region { name, cells, target, digit: None });
    }
    for (i, d) in scene.digits.iter().enumerate() {
        let (min, max) = d.bounds(w, h);
        out.push(Region { name: format!("digit {i}"), cells: rect(min, max), target: None, digit: Some(i) });
    }
    for r in &s.record.regions {
        out.push(Region { name: r.name.clone(), cells: rect(r.min, r.max), target: None, digit: None });
    }
    out
}

/// Where a run is, for [`measure`].
struct Moment<'a> {
    seed: u32,
    step: u32,
    /// The digits as they are now (a mutation changes their class).
    digits: &'a [PlacedDigit],
}

/// The metrics of every region of `state`; `update` is the state just before and just after
/// the last step (before this step's events).
fn measure(scene: &LoadedScenario, fixed: &[Region], at: &Moment, state: &Grid, update: Option<(&Grid, &Grid)>) -> Vec<MetricRow> {
    let kind = scene.kind;
    let alive = kind.alive_mask(state);
    let alive_after = update.map(|(_, after)| kind.alive_mask(after));
    let c = state.channels;
    let s = &scene.scenario;
    let mut species_regions = Vec::new();
    if s.species.len() > 1 {
        let mut cells: Vec<Vec<u32>> = vec![Vec::new(); s.species.len()];
        for (i, &sp) in state.species.iter().enumerate() {
            if let Some(list) = cells.get_mut(sp as usize) {
                list.push(i as u32);
            }
        }
        for (sp, cells) in s.species.iter().zip(cells) {
            species_regions.push(Region { name: format!("species {}", sp.name), cells, target: None, digit: None });
        }
    }
    // The grid first, then the species, then the rest, as the CSV lists them.
    let order = fixed[..1].iter().chain(&species_regions).chain(&fixed[1..]);
    order
        .map(|region| {
            let living: Vec<usize> = region.cells.iter().map(|&i| i as usize).filter(|&i| alive[i]).collect();
            let mean_over = |f: &dyn Fn(usize) -> f64| {
                if living.is_empty() { 0.0 } else { living.iter().map(|&i| f(i)).sum::<f64>() / (living.len() * c) as f64 }
            };
            let abs_sum = |g: &Grid, i: usize| g.data[i * c..(i + 1) * c].iter().map(|v| v.abs() as f64).sum::<f64>();
            let mean_abs_state = mean_over(&|i| abs_sum(state, i));
            let mean_abs_update = update.zip(alive_after.as_ref()).map(|((before, after), alive_after)| {
                let living: Vec<usize> = region.cells.iter().map(|&i| i as usize).filter(|&i| alive_after[i]).collect();
                let sum: f64 = living
                    .iter()
                    .map(|&i| {
                        let (b, a) = (&before.data[i * c..(i + 1) * c], &after.data[i * c..(i + 1) * c]);
                        b.iter().zip(a).map(|(x, y)| (y - x).abs() as f64).sum::<f64>()
                    })
                    .sum();
                if living.is_empty() { 0.0 } else { sum / (living.len() * c) as f64 }
            });
            let loss = region.target.and_then(|(species, origin)| {
                let target = scene.targets[species].as_ref()?;
                Some(placed_rgba_mse(state, &target.rgba, origin))
            });
            let (mut accuracy, mut agreement, mut majority) = (None, None, None);
            if let Some(d) = region.digit
                && kind == ModelKind::Mnist
            {
                let mut votes = [0u64; mnist::CLASSES];
                for &i in &living {
                    votes[mnist::cell_label(&state.data[i * c..(i + 1) * c]).class as usize] += 1;
                }
                let n = living.len() as f64;
                if n > 0.0 {
                    let (best, count) = votes.iter().enumerate().max_by_key(|&(k, v)| (*v, std::cmp::Reverse(k))).expect("ten classes");
                    majority = Some(best as u8);
                    agreement = Some(*count as f64 / n);
                    accuracy = at.digits[d].label.map(|l| votes[l as usize] as f64 / n);
                }
            }
            MetricRow {
                seed: at.seed,
                step: at.step,
                region: region.name.clone(),
                cells: region.cells.len() as u64,
                alive: living.len() as u64,
                loss,
                accuracy,
                agreement,
                majority,
                mean_abs_state,
                mean_abs_update,
            }
        })
        .collect()
}

/// Mean squared RGBA error between a target placed with its top-left cell at `origin` and the
/// state under it (cells past the grid's edge count as empty).
pub fn placed_rgba_mse(state: &Grid, target: &Grid, origin: [i64; 2]) -> f64 {
    let mut sum = 0.0;
    for ty in 0..target.height {
        for tx in 0..target.width {
            let (x, y) = (origin[0] + tx as i64, origin[1] + ty as i64);
            let inside = (0..state.width as i64).contains(&x) && (0..state.height as i64).contains(&y);
            let here = if inside { &state.cell(x as usize, y as usize)[..4] } else { &[0.0; 4][..] };
            sum += here.iter().zip(target.cell(tx, ty)).map(|(s, t)| ((s - t) as f64).powi(2)).sum::<f64>();
        }
    }
    sum / (target.cells() * 4) as f64
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct RunRecord {
    /// The fire-hash seed.
    pub seed: u32,
    /// Every recorded row, by step then region.
    pub rows: Vec<MetricRow>,
    /// The states to show as GIF frames (and PNG frames), with their steps.
    pub frames: Vec<(u32, Grid)>,
    /// Named snapshots, with their steps.
    pub snapshots: Vec<(String, u32, Grid)>,
    /// The final state.
    pub last: Grid,
}

/// Which steps a run must stop at, and why.
struct Stops {
    metrics: BTreeSet<u32>,
    frames: BTreeSet<u32>,
}

fn stops(scene: &LoadedScenario) -> Stops {
    let s = &scene.scenario;
    let every = |n: u32| -> BTreeSet<u32> { (0..=s.steps).step_by(n.max(1) as usize).chain(std::iter::once(s.steps)).collect() };
    let metrics = if s.record.every == 0 { std::iter::once(s.steps).collect() } else { every(s.record.every) };
    let mut frames = BTreeSet::new();
    if let Some(gif) = &s.record.gif {
        frames.extend(every(gif.every));
    }
    if let Some(n) = s.record.frames {
        frames.extend(every(n));
    }
    Stops { metrics, frames }
}

/// Plays `scene` with fire-hash `seed` on `backend`, calling `progress(step)` as it goes.
pub fn run(
    scene: &LoadedScenario,
    seed: u32,
    backend: &mut dyn ScenarioBackend,
    progress: &mut dyn FnMut(u32),
) -> Result<RunRecord, String> {
    let s = &scene.scenario;
    let Stops { metrics, frames } = stops(scene);
    // A recording at step S also needs the state just before step S's own step.
    let before_metrics: BTreeSet<u32> = metrics.iter().filter(|&&m| m > 0).map(|&m| m - 1).collect();
    let mut moments: BTreeSet<u32> = scene.timeline.keys().copied().collect();
    moments.extend(&metrics);
    moments.extend(&frames);
    moments.extend(&before_metrics);
    moments.insert(s.steps);

    let fixed = fixed_regions(scene);
    backend.start(scene, seed)?;
    let mut digits = scene.digits.clone();
    let mut record = RunRecord { seed, rows: Vec::new(), frames: Vec::new(), snapshots: Vec::new(), last: Grid::new(1, 1, 1) };
    let mut now = 0u32;
    let mut before: Option<Grid> = None;
    for moment in moments {
        if moment > now {
            backend.run(moment - now)?;
            now = moment;
            progress(now);
        }
        // The NCA's own change is measured before this step's events.
        let stepped = if metrics.contains(&now) && now > 0 { Some(backend.state()?) } else { None };
        let mut snapshot_names = Vec::new();
        for event in scene.timeline.get(&now).into_iter().flatten() {
            match event {
                Step::Edits(edits) => backend.edit(edits)?,
                Step::Swap { species, weights } => backend.swap_model(*species, weights)?,
                Step::Rotate(degrees) => backend.rotate(*degrees)?,
                Step::Relabel { digit, placed } => digits[*digit] = placed.clone(),
                Step::Snapshot(name) => snapshot_names.push(name.clone()),
            }
        }
        let wants_state = metrics.contains(&now) || frames.contains(&now) || before_metrics.contains(&now) || !snapshot_names.is_empty();
        if !wants_state {
            continue;
        }
        // Without events at this step, the state after them is the one just read.
        let state = match (&stepped, scene.timeline.contains_key(&now)) {
            (Some(after), false) => after.clone(),
            _ => backend.state()?,
        };
        if metrics.contains(&now) {
            let update = before.as_ref().zip(stepped.as_ref());
            let at = Moment { seed, step: now, digits: &digits };
            record.rows.extend(measure(scene, &fixed, &at, &state, update));
        }
        if frames.contains(&now) {
            record.frames.push((now, state.clone()));
        }
        for name in snapshot_names {
            record.snapshots.push((name, now, state.clone()));
        }
        before = before_metrics.contains(&now).then_some(state.clone());
        if now == s.steps {
            record.last = state;
        }
    }
    Ok(record)
}
