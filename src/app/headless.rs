//! A windowless app that runs grids on the GPU and reads them back: used by `nca step`,
//! `nca render`, `nca bench` and the parity tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::{GpuError, finish_plugins, headless_plugins, probe_adapter};
use crate::gpu::NcaGpuPlugin;
use crate::model::grid::Edit;
use crate::model::{Grid, NcaWeights};
use crate::sim::{CaGrid, GpuStatus, GridEdits, GridSnapshot, GridSnapshots, GridStateUpload, NcaModel, ReadbackRequest, SimPlugin};
use crate::sim::readback::next_readback_id;

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
        app.add_plugins((headless_plugins(), SimPlugin, NcaGpuPlugin));
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

    /// Spawns a paused grid (seed in the centre); advance it with [`HeadlessGpu::run`].
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
        self.app
            .world_mut()
            .entity_mut(entity)
            .insert(GridStateUpload { data: Arc::new(grid.data.clone()), species: Some(Arc::new(grid.species.clone())), step });
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
        let id = next_readback_id();
        self.app.world_mut().entity_mut(entity).insert(ReadbackRequest { id: Some(id) });
        let start = Instant::now();
        loop {
            self.app.update();
            if let Some(result) = self.app.world_mut().resource_mut::<GridSnapshots>().take(id) {
                return result.map_err(GpuError::Readback);
            }
            if start.elapsed() > PATIENCE {
                return Err(GpuError::Timeout("readback never arrived".into()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Convenience: a fresh grid from `state` at `step`, `steps` steps, then read back.
    pub fn simulate(&mut self, weights: &NcaWeights, state: &Grid, seed: u32, step: u32, steps: u32, rotation_degrees: f32) -> Result<Grid, GpuError> {
        let model = self.add_model(weights.clone());
        let entity = self.spawn_grid(model, state.width as u32, state.height as u32, seed);
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
