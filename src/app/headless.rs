//! A windowless app that runs grids on the GPU and reads them back: used by `nca step`,
//! `nca render`, `nca bench` and the parity tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::{GpuError, finish_plugins, headless_plugins, probe_adapter};
use crate::gpu::NcaPlugin;
use crate::model::grid::Edit;
use crate::model::mnist_eval::EvalBackend;
use crate::model::scenario::reduce::{RegionLayout, SlotSums};
use crate::model::{Grid, NcaWeights};
use crate::sim::readback::next_readback_id;
use crate::sim::{
    CaGrid, GpuStatus, GridEdits, GridMetricRegions, GridSnapshot, GridSnapshots, GridStateUpload, LabelSnapshot, MetricSnapshot, NcaModel,
    ReadbackKind, ReadbackRequest,
};

/// How long to wait for shaders to compile or a readback to arrive (lavapipe is slow).
const PATIENCE: Duration = Duration::from_secs(300);

/// A headless Bevy app with the NCA plugins, updated by hand.
pub struct HeadlessGpu {
    app: App,
    /// The adapter's name.
    pub adapter: String,
}

impl HeadlessGpu {
    /// Starts the renderer and waits until the NCA pipelines are compiled.
    pub fn new() -> Result<Self, GpuError> {
        let adapter = probe_adapter()?;
        let mut app = App::new();
        app.add_plugins((headless_plugins(), NcaPlugin));
        finish_plugins(&mut app);
        let mut this = Self { app, adapter };
        let start = Instant::now();
        loop {
            this.app.update();
            let status = this.app.world().resource::<GpuStatus>();
            if status.is_ready() {
                return Ok(this);
            }
            if let Some(error) = status.error() {
                return Err(GpuError::Pipeline(error));
            }
            if start.elapsed() > PATIENCE {
                return Err(GpuError::Timeout("NCA pipelines did not compile".into()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The underlying app, for tests that drive systems directly.
    pub fn app_mut(&mut self) -> &mut App {
        &mut self.app
    }

    /// Adds a model asset.
    pub fn add_model(&mut self, weights: NcaWeights) -> Handle<NcaModel> {
        self.app.world_mut().resource_mut::<Assets<NcaModel>>().add(NcaModel::new(weights))
    }

    /// Spawns a paused grid (started as its model's kind says: a seed in the centre for a growing
    /// model); advance it with [`HeadlessGpu::run`].
    pub fn spawn_grid(&mut self, model: Handle<NcaModel>, width: u32, height: u32, seed: u32) -> Entity {
        let mut grid = CaGrid::new(width, height, model);
        grid.seed = seed;
        grid.paused = true;
        let entity = self.app.world_mut().spawn(grid).id();
        self.app.update();
        entity
    }

    /// Replaces the grid's state and step counter.
    pub fn upload(&mut self, entity: Entity, grid: &Grid, step: u32) {
        self.app.world_mut().entity_mut(entity).insert(GridStateUpload {
            data: Arc::new(grid.data.clone()),
            species: Some(Arc::new(grid.species.clone())),
            step,
        });
        self.app.update();
    }

    /// Queues an edit for the next frame.
    pub fn edit(&mut self, entity: Entity, edit: Edit) {
        if let Some(mut edits) = self.app.world_mut().get_mut::<GridEdits>(entity) {
            edits.push(edit);
        }
    }

    /// Runs `steps` steps, at most `per_frame` per frame.
    pub fn run(&mut self, entity: Entity, steps: u32, per_frame: u32) {
        let mut left = steps;
        while left > 0 {
            let now = left.min(per_frame.max(1));
            if let Some(mut grid) = self.app.world_mut().get_mut::<CaGrid>(entity) {
                grid.single_steps = now;
            }
            self.app.update();
            left -= now;
        }
    }

    /// Applies pending edits (if any) and reads the state back.
    pub fn read(&mut self, entity: Entity) -> Result<GridSnapshot, GpuError> {
        let id = self.request(entity, ReadbackKind::State);
        self.wait(|snapshots| snapshots.take(id))
    }

    /// Applies pending edits (if any) and reads every cell's label back (one word per cell).
    pub fn read_labels(&mut self, entity: Entity) -> Result<LabelSnapshot, GpuError> {
        let id = self.request(entity, ReadbackKind::Labels);
        self.wait(|snapshots| snapshots.take_labels(id))
    }

    /// Applies pending edits (if any) and reads back the sums of the grid's
    /// [`GridMetricRegions`], reduced on the GPU; the state stays there as the one the next
    /// reduction measures the update against.
    pub fn read_metrics(&mut self, entity: Entity) -> Result<MetricSnapshot, GpuError> {
        let id = self.request(entity, ReadbackKind::Metrics);
        self.wait(|snapshots| snapshots.take_metrics(id))
    }

    fn request(&mut self, entity: Entity, kind: ReadbackKind) -> u64 {
        let id = next_readback_id();
        self.app.world_mut().entity_mut(entity).insert(ReadbackRequest { id: Some(id), kind });
        id
    }

    fn wait<T>(&mut self, mut take: impl FnMut(&mut GridSnapshots) -> Option<Result<T, String>>) -> Result<T, GpuError> {
        let start = Instant::now();
        loop {
            self.app.update();
            if let Some(result) = take(&mut self.app.world_mut().resource_mut::<GridSnapshots>()) {
                return result.map_err(GpuError::Readback);
            }
            if start.elapsed() > PATIENCE {
                return Err(GpuError::Timeout("readback never arrived".into()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Convenience: a fresh grid from `state` at `step`, `steps` steps, then read back.
    pub fn simulate(
        &mut self,
        weights: &NcaWeights,
        state: &Grid,
        seed: u32,
        step: u32,
        steps: u32,
        rotation_degrees: f32,
    ) -> Result<Grid, GpuError> {
        self.simulate_species(std::slice::from_ref(weights), state, seed, step, steps, rotation_degrees)
    }

    /// [`HeadlessGpu::simulate`] with several species (`models[i]` runs the cells of species
    /// `i`, as `state.species` says).
    pub fn simulate_species(
        &mut self,
        models: &[NcaWeights],
        state: &Grid,
        seed: u32,
        step: u32,
        steps: u32,
        rotation_degrees: f32,
    ) -> Result<Grid, GpuError> {
        let handles: Vec<Handle<NcaModel>> = models.iter().map(|m| self.add_model(m.clone())).collect();
        let entity = self.spawn_grid(handles[0].clone(), state.width as u32, state.height as u32, seed);
        if let Some(mut grid) = self.app.world_mut().get_mut::<CaGrid>(entity) {
            grid.extra_species = handles[1..].to_vec();
        }
        if let Some(mut grid) = self.app.world_mut().get_mut::<CaGrid>(entity) {
            grid.rotation_degrees = rotation_degrees;
        }
        self.upload(entity, state, step);
        self.run(entity, steps, 16);
        let snapshot = self.read(entity)?;
        self.app.world_mut().despawn(entity);
        Ok(snapshot.grid)
    }
}

/// The GPU path as an evaluation backend: one grid, a labels readback after every step.
pub struct GpuEval {
    gpu: HeadlessGpu,
    models: Vec<Handle<NcaModel>>,
    seed: u32,
    grid: Option<Entity>,
    /// Steps asked for and not yet run: they run in the frame of the next readback, so a step
    /// and its labels cost one frame.
    pending: u32,
}

impl GpuEval {
    /// Starts the renderer for `weights` (species 0) and fire-hash `seed`.
    pub fn new(weights: NcaWeights, seed: u32) -> Result<Self, GpuError> {
        let mut gpu = HeadlessGpu::new()?;
        let models = vec![gpu.add_model(weights)];
        Ok(Self { gpu, models, seed, grid: None, pending: 0 })
    }

    /// The grid, with the pending steps handed to it for the next frame.
    fn entity(&mut self) -> Result<Entity, String> {
        let entity = self.grid.ok_or_else(|| "no grid loaded".to_string())?;
        if self.pending > 0
            && let Some(mut grid) = self.gpu.app_mut().world_mut().get_mut::<CaGrid>(entity)
        {
            grid.single_steps += std::mem::take(&mut self.pending);
        }
        Ok(entity)
    }
}

impl EvalBackend for GpuEval {
    fn load(&mut self, grid: &Grid, first_step: u32) -> Result<(), String> {
        if let Some(old) = self.grid.take() {
            self.gpu.app_mut().world_mut().despawn(old);
        }
        let entity = self.gpu.spawn_grid(self.models[0].clone(), grid.width as u32, grid.height as u32, self.seed);
        if let Some(mut g) = self.gpu.app_mut().world_mut().get_mut::<CaGrid>(entity) {
            g.extra_species = self.models[1..].to_vec();
        }
        self.gpu.upload(entity, grid, first_step);
        self.grid = Some(entity);
        self.pending = 0;
        Ok(())
    }
    fn edit(&mut self, edits: Vec<Edit>) -> Result<(), String> {
        // A frame applies its edits before its steps: run the pending steps first.
        let had_pending = self.pending > 0;
        let entity = self.entity()?;
        if had_pending {
            self.gpu.app_mut().update();
        }
        for edit in edits {
            self.gpu.edit(entity, edit);
        }
        Ok(())
    }
    fn step(&mut self) -> Result<(), String> {
        self.entity()?;
        self.pending += 1;
        Ok(())
    }
    fn labels(&mut self) -> Result<Vec<u32>, String> {
        let entity = self.entity()?;
        self.gpu.read_labels(entity).map(|l| l.labels).map_err(|e| e.to_string())
    }
    fn state(&mut self) -> Result<Grid, String> {
        let entity = self.entity()?;
        self.gpu.read(entity).map(|s| s.grid).map_err(|e| e.to_string())
    }
}

/// The GPU path as a scenario backend: one grid in a headless app, edits and steps queued as
/// frame plans, the state read back when the runner asks for it.
pub struct GpuScenario {
    gpu: HeadlessGpu,
    grid: Option<Entity>,
    /// The regions the grid was given (they are handed over again only when they change).
    regions: Option<Arc<RegionLayout>>,
    /// Most steps one frame runs (a frame's command buffer stays bounded).
    pub steps_per_frame: u32,
}

impl GpuScenario {
    /// Starts the renderer.
    pub fn new() -> Result<Self, GpuError> {
        Ok(Self { gpu: HeadlessGpu::new()?, grid: None, regions: None, steps_per_frame: 32 })
    }

    /// The adapter's name.
    pub fn adapter(&self) -> &str {
        &self.gpu.adapter
    }

    fn grid_mut(&mut self) -> Result<Mut<'_, CaGrid>, String> {
        let entity = self.grid.ok_or("no grid")?;
        self.gpu.app_mut().world_mut().get_mut::<CaGrid>(entity).ok_or_else(|| "the grid is gone".to_string())
    }
}

impl crate::model::scenario::run::ScenarioBackend for GpuScenario {
    fn start(&mut self, scene: &crate::model::scenario::LoadedScenario, seed: u32) -> Result<(), String> {
        if let Some(old) = self.grid.take() {
            self.gpu.app_mut().world_mut().despawn(old);
        }
        let handles: Vec<Handle<NcaModel>> = scene.models.iter().map(|m| self.gpu.add_model(m.clone())).collect();
        let g = &scene.scenario.grid;
        let entity = self.gpu.spawn_grid(handles[0].clone(), g.width, g.height, seed);
        self.grid = Some(entity);
        self.regions = None;
        let mut grid = self.grid_mut()?;
        grid.extra_species = handles[1..].to_vec();
        grid.rotation_degrees = g.rotation;
        Ok(())
    }
    fn edit(&mut self, edits: &[Edit]) -> Result<(), String> {
        let entity = self.grid.ok_or("no grid")?;
        for edit in edits {
            self.gpu.edit(entity, edit.clone());
        }
        Ok(())
    }
    fn swap_model(&mut self, species: usize, weights: &NcaWeights) -> Result<(), String> {
        let handle = self.gpu.add_model(weights.clone());
        let mut grid = self.grid_mut()?;
        match species {
            0 => grid.model = handle,
            i => *grid.extra_species.get_mut(i - 1).ok_or("no such species")? = handle,
        }
        Ok(())
    }
    fn rotate(&mut self, degrees: f32) -> Result<(), String> {
        self.grid_mut()?.rotation_degrees = degrees;
        Ok(())
    }
    fn run(&mut self, steps: u32) -> Result<(), String> {
        let entity = self.grid.ok_or("no grid")?;
        self.gpu.run(entity, steps, self.steps_per_frame);
        Ok(())
    }
    fn state(&mut self) -> Result<Grid, String> {
        let entity = self.grid.ok_or("no grid")?;
        self.gpu.read(entity).map(|s| s.grid).map_err(|e| e.to_string())
    }
    fn reduce(&mut self, regions: &Arc<RegionLayout>) -> Result<Vec<SlotSums>, String> {
        let entity = self.grid.ok_or("no grid")?;
        if self.regions.as_ref().is_none_or(|known| !Arc::ptr_eq(known, regions)) {
            self.gpu.app_mut().world_mut().entity_mut(entity).insert(GridMetricRegions(regions.clone()));
            self.regions = Some(regions.clone());
        }
        let snapshot = self.gpu.read_metrics(entity).map_err(|e| e.to_string())?;
        let sums = SlotSums::from_words(&snapshot.words)?;
        if sums.len() != regions.slots as usize {
            return Err(format!("the GPU summed {} regions, not {}", sums.len(), regions.slots));
        }
        Ok(sums)
    }
}
