//! Playing a scenario on a backend, step-exactly, and measuring it.
//!
//! The runner owns the clock: it asks the backend for exactly the steps up to the next moment
//! that matters (an event, a recording, a GIF frame), so events land on their step on every
//! backend, however the backend batches its work.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::reduce::{RectSlot, RegionLayout, SlotSums, TargetWindow, reduce};
use super::{LoadedScenario, PlacedDigit, Step};
use crate::model::grid::{Edit, Grid};
use crate::model::perception::SobelPair;
use crate::model::{ModelKind, NcaWeights, reference};

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
    /// The sums of every slot of `regions` over the state as it is now (edits applied); the
    /// update is measured against the state of the previous reduction (all zero before the
    /// first). A GPU reduces where the state lives and reads back only the sums.
    fn reduce(&mut self, regions: &Arc<RegionLayout>) -> Result<Vec<SlotSums>, String>;
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
    /// The state of the last reduction, which the next one measures the update against.
    reduced: Option<Grid>,
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
        self.reduced = None;
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
    fn reduce(&mut self, regions: &Arc<RegionLayout>) -> Result<Vec<SlotSums>, String> {
        let (grid, kind) = (self.grid.as_ref().ok_or("no grid")?, self.kind.ok_or("no grid")?);
        let sums = reduce(kind, regions, grid, self.reduced.as_ref())?;
        self.reduced = Some(grid.clone());
        Ok(sums)
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

/// What a slot of [`Regions::layout`] is, besides its sums.
struct SlotInfo {
    /// Its name in `metrics.csv`.
    name: String,
    /// Its cells (`None`: a species', counted as the run goes).
    cells: Option<u64>,
    /// Values its target windows hold (pixels × 4), for the mean of its loss.
    target_values: Option<u64>,
    /// A digit's index.
    digit: Option<usize>,
}

/// The regions a scenario measures: their layout, reduced by the backend, and what each is.
pub struct Regions {
    /// The slots' cells, in `metrics.csv` order: the grid, each species (when there are
    /// several), each organism's territory, each digit's box, the named rectangles.
    pub layout: Arc<RegionLayout>,
    slots: Vec<SlotInfo>,
}

impl Regions {
    /// The regions' names, in `metrics.csv` order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| s.name.as_str())
    }
}

/// Which cell belongs to which organism: the nearest seed (ties to the first).
fn nearest_organism(organisms: &[[u32; 2]], x: u32, y: u32) -> usize {
    let d = |o: &[u32; 2]| (o[0] as i64 - x as i64).pow(2) + (o[1] as i64 - y as i64).pow(2);
    (0..organisms.len()).min_by_key(|&i| (d(&organisms[i]), i)).unwrap_or(0)
}

impl Regions {
    /// The regions of `scene`. All but the species' are fixed for the run: a mutation keeps a
    /// digit's box, and an organism keeps its territory (the cells nearest its seed).
    pub fn of(scene: &LoadedScenario) -> Self {
        let s = &scene.scenario;
        let (w, h) = (s.grid.width, s.grid.height);
        let mut layout = RegionLayout { width: w, height: h, ..RegionLayout::default() };
        let mut slots = Vec::new();
        let add = |slots: &mut Vec<SlotInfo>, info: SlotInfo| {
            slots.push(info);
            slots.len() as u32 - 1
        };
        let area = |min: [u32; 2], max: [u32; 2]| (max[0] - min[0]) as u64 * (max[1] - min[1]) as u64;
        let grid = add(&mut slots, SlotInfo { name: "grid".into(), cells: Some(area([0, 0], [w, h])), target_values: None, digit: None });
        layout.rects.push(RectSlot { min: [0, 0], max: [w, h], slot: grid });
        if s.species.len() > 1 {
            let first = slots.len() as u32;
            for sp in &s.species {
                add(&mut slots, SlotInfo { name: format!("species {}", sp.name), cells: None, target_values: None, digit: None });
            }
            layout.species = Some((first, s.species.len() as u32));
        }
        if !s.organisms.is_empty() {
            let seeds: Vec<[u32; 2]> = s.organisms.iter().map(|o| o.at).collect();
            let first = slots.len() as u32;
            let owner: Vec<u32> = (0..w * h).map(|c| first + nearest_organism(&seeds, c % w, c / w) as u32).collect();
            let mut territory = vec![0u64; seeds.len()];
            for &slot in &owner {
                territory[(slot - first) as usize] += 1;
            }
            for ((i, o), cells) in s.organisms.iter().enumerate().zip(territory) {
                let species = s.species_index(&o.species).unwrap_or(0);
                let target = scene.targets[species].as_ref().map(|t| &t.rgba);
                let name = o.name.clone().unwrap_or_else(|| format!("organism {i}"));
                let slot = add(
                    &mut slots,
                    SlotInfo { name, cells: Some(cells), target_values: target.map(|t| t.cells() as u64 * 4), digit: None },
                );
                if let Some(t) = target {
                    let index = match layout.targets.iter().position(|known| known == t) {
                        Some(index) => index,
                        None => {
                            layout.targets.push(t.clone());
                            layout.targets.len() - 1
                        }
                    };
                    let origin = [o.at[0] as i32 - (t.width / 2) as i32, o.at[1] as i32 - (t.height / 2) as i32];
                    layout.windows.push(TargetWindow { origin, target: index, slot });
                }
            }
            layout.partition = Some(owner);
        }
        for (i, d) in scene.digits.iter().enumerate() {
            let (min, max) = d.bounds(w, h);
            let slot =
                add(&mut slots, SlotInfo { name: format!("digit {i}"), cells: Some(area(min, max)), target_values: None, digit: Some(i) });
            layout.rects.push(RectSlot { min, max, slot });
        }
        for r in &s.record.regions {
            let slot =
                add(&mut slots, SlotInfo { name: r.name.clone(), cells: Some(area(r.min, r.max)), target_values: None, digit: None });
            layout.rects.push(RectSlot { min: r.min, max: r.max, slot });
        }
        layout.slots = slots.len() as u32;
        Self { layout: Arc::new(layout), slots }
    }
}

/// Where a run is, for [`measure`].
struct Moment<'a> {
    seed: u32,
    step: u32,
    /// The digits as they are now (a mutation changes their class).
    digits: &'a [PlacedDigit],
}

/// The rows of every region from its sums: `now` over the state after this step's events,
/// `stepped` over the state just after the last step (before the events), reduced against the
/// state just before it.
fn measure(scene: &LoadedScenario, regions: &Regions, at: &Moment, now: &[SlotSums], stepped: Option<&[SlotSums]>) -> Vec<MetricRow> {
    let channels = scene.kind.channels() as f64;
    let mean = |sum: f64, alive: u64| if alive == 0 { 0.0 } else { sum / (alive as f64 * channels) };
    regions
        .slots
        .iter()
        .enumerate()
        .map(|(slot, info)| {
            let sums = &now[slot];
            let (mut accuracy, mut agreement, mut majority) = (None, None, None);
            if let Some(d) = info.digit
                && scene.kind == ModelKind::Mnist
                && sums.alive > 0
            {
                let votes = &sums.votes;
                let (best, count) = votes.iter().enumerate().max_by_key(|&(k, v)| (*v, std::cmp::Reverse(k))).expect("ten classes");
                let n = sums.alive as f64;
                majority = Some(best as u8);
                agreement = Some(*count as f64 / n);
                accuracy = at.digits[d].label.map(|l| votes[l as usize] as f64 / n);
            }
            MetricRow {
                seed: at.seed,
                step: at.step,
                region: info.name.clone(),
                cells: info.cells.unwrap_or(sums.members),
                alive: sums.alive,
                loss: info.target_values.map(|n| sums.loss.value() / n as f64),
                accuracy,
                agreement,
                majority,
                mean_abs_state: mean(sums.abs_state.value(), sums.alive),
                mean_abs_update: stepped.map(|s| mean(s[slot].abs_update.value(), s[slot].alive)),
            }
        })
        .collect()
}

/// What one run produced and kept: its metrics and its final state. Frames and snapshots are
/// handed to a [`StateSink`] as they happen, so a run holds one state at a time however many
/// steps it records.
#[derive(Clone, Debug)]
pub struct RunRecord {
    /// The fire-hash seed.
    pub seed: u32,
    /// Every recorded row, by step then region.
    pub rows: Vec<MetricRow>,
    /// The final state.
    pub last: Grid,
}

/// Where a run's states go the moment they exist: the output folder's GIF encoder, PNG frames
/// and snapshot files ([`super::output::SeedOutput`]), or nowhere.
pub trait StateSink {
    /// A state at a step the recording asked for (GIF or PNG frames).
    fn frame(&mut self, step: u32, state: &Grid) -> Result<(), String>;
    /// A named snapshot.
    fn snapshot(&mut self, name: &str, step: u32, state: &Grid) -> Result<(), String>;
}

/// A sink that keeps nothing: for runs wanted for their metrics alone.
pub struct DiscardStates;

impl StateSink for DiscardStates {
    fn frame(&mut self, _: u32, _: &Grid) -> Result<(), String> {
        Ok(())
    }
    fn snapshot(&mut self, _: &str, _: u32, _: &Grid) -> Result<(), String> {
        Ok(())
    }
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

/// Plays `scene` with fire-hash `seed` on `backend`, handing frames and snapshots to `sink` as
/// they come and calling `progress(step)` as it goes.
pub fn run(
    scene: &LoadedScenario,
    seed: u32,
    backend: &mut dyn ScenarioBackend,
    sink: &mut dyn StateSink,
    progress: &mut dyn FnMut(u32),
) -> Result<RunRecord, String> {
    let s = &scene.scenario;
    let Stops { metrics, frames } = stops(scene);
    // A recording at step S also reduces the state just before step S's own step: the update
    // is measured against it.
    let before_metrics: BTreeSet<u32> = metrics.iter().filter(|&&m| m > 0).map(|&m| m - 1).collect();
    let mut moments: BTreeSet<u32> = scene.timeline.keys().copied().collect();
    moments.extend(&metrics);
    moments.extend(&frames);
    moments.extend(&before_metrics);
    moments.insert(s.steps);

    let regions = Regions::of(scene);
    backend.start(scene, seed)?;
    let mut digits = scene.digits.clone();
    let mut record = RunRecord { seed, rows: Vec::new(), last: Grid::new(1, 1, 1) };
    let mut now = 0u32;
    for moment in moments {
        if moment > now {
            backend.run(moment - now)?;
            now = moment;
            progress(now);
        }
        // The NCA's own change is measured before this step's events, against the reduction
        // of the step before (after its events).
        let stepped = if metrics.contains(&now) && now > 0 { Some(backend.reduce(&regions.layout)?) } else { None };
        let mut snapshot_names = Vec::new();
        let has_events = scene.timeline.contains_key(&now);
        for event in scene.timeline.get(&now).into_iter().flatten() {
            match event {
                Step::Edits(edits) => backend.edit(edits)?,
                Step::Swap { species, weights } => backend.swap_model(*species, weights)?,
                Step::Rotate(degrees) => backend.rotate(*degrees)?,
                Step::Relabel { digit, placed } => digits[*digit] = placed.clone(),
                Step::Snapshot(name) => snapshot_names.push(name.clone()),
            }
        }
        if metrics.contains(&now) || before_metrics.contains(&now) {
            // Without events at this step, the state after them is the one just reduced.
            let sums = match &stepped {
                Some(sums) if !has_events => sums.clone(),
                _ => backend.reduce(&regions.layout)?,
            };
            if metrics.contains(&now) {
                let at = Moment { seed, step: now, digits: &digits };
                record.rows.extend(measure(scene, &regions, &at, &sums, stepped.as_deref()));
            }
        }
        if !(frames.contains(&now) || !snapshot_names.is_empty() || now == s.steps) {
            continue;
        }
        let state = backend.state()?;
        if frames.contains(&now) {
            sink.frame(now, &state)?;
        }
        for name in snapshot_names {
            sink.snapshot(&name, now, &state)?;
        }
        if now == s.steps {
            record.last = state;
        }
    }
    Ok(record)
}
