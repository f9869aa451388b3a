//! Grid entities and their per-frame plans.

use std::sync::Arc;

use bevy::prelude::*;

use super::GpuStatus;
use super::model_asset::NcaModel;
use super::readback::{ReadbackKind, ReadbackRequest, next_readback_id};
use crate::model::ModelKind;
use crate::model::grid::Edit;
use crate::model::perception::SobelPair;

/// A cellular-automaton grid living on the GPU.
///
/// The state itself lives in render-world buffers; this component is the grid's settings and
/// its step counter. A new grid starts as its model's kind says ([`ModelKind::start_edits`]):
/// a growing model from a seed in the centre, an MNIST model from an empty canvas. Every species
/// of a grid must be of one kind.
#[derive(Component, Clone, Debug)]
#[require(GridEdits, GridFramePlan)]
pub struct CaGrid {
    /// Cells per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The model of species 0: what the grid starts with and what every cell runs unless a
    /// seed of another species was planted.
    pub model: Handle<NcaModel>,
    /// The models of species 1, 2, …: planted with `Edit::PlantSeed { species, .. }`.
    pub extra_species: Vec<Handle<NcaModel>>,
    /// Seed of the fire hash: with the same seed and edits, a rerun is identical.
    pub seed: u32,
    /// Steps run since the grid was created or reset.
    pub step: u32,
    /// When paused, only [`CaGrid::single_steps`] advance the grid.
    pub paused: bool,
    /// Steps run each frame while playing.
    pub steps_per_frame: u32,
    /// Extra steps to run next frame, even when paused ("single step").
    pub single_steps: u32,
    /// Rotation of the perception kernels, in degrees.
    pub rotation_degrees: f32,
}

impl CaGrid {
    /// A playing grid of `width`×`height` cells running `model`, one step per frame.
    pub fn new(width: u32, height: u32, model: Handle<NcaModel>) -> Self {
        Self {
            width,
            height,
            model,
            extra_species: Vec::new(),
            seed: 0,
            step: 0,
            paused: false,
            steps_per_frame: 1,
            single_steps: 0,
            rotation_degrees: 0.0,
        }
    }

    /// The centre cell, where the default seed goes.
    pub fn center(&self) -> (u32, u32) {
        (self.width / 2, self.height / 2)
    }

    /// Every species' model, by species id.
    pub fn species_models(&self) -> impl Iterator<Item = &Handle<NcaModel>> {
        std::iter::once(&self.model).chain(&self.extra_species)
    }

    /// The species id of `model` in this grid, adding it as a new species if it is not one yet.
    pub fn species_of(&mut self, model: &Handle<NcaModel>) -> u32 {
        let existing = self.species_models().position(|m| m.id() == model.id());
        match existing {
            Some(id) => id as u32,
            None => {
                self.extra_species.push(model.clone());
                self.extra_species.len() as u32
            }
        }
    }

    /// The kernels for the current rotation.
    pub fn sobel(&self) -> SobelPair {
        SobelPair::rotated_degrees(self.rotation_degrees)
    }

    /// The kind of the grid's model, once it has loaded.
    pub fn kind(&self, models: &Assets<NcaModel>) -> Option<ModelKind> {
        models.get(&self.model).map(|m| m.weights.kind())
    }

    /// Whether cell coordinates `cell` (continuous, `(0, 0)` the top-left corner) lie on the grid.
    pub fn contains(&self, cell: Vec2) -> bool {
        cell.x >= 0.0 && cell.y >= 0.0 && cell.x < self.width as f32 && cell.y < self.height as f32
    }
}

/// Commands waiting for the next frame. Applied on the GPU, in order, before that frame's steps.
#[derive(Component, Clone, Debug, Default)]
pub struct GridEdits {
    /// Edits in arrival order.
    pub queue: Vec<Edit>,
}

impl GridEdits {
    /// Queues one edit.
    pub fn push(&mut self, edit: Edit) {
        self.queue.push(edit);
    }
}

/// A whole-state upload, for tests and tools only (never per frame): replaces the grid's state.
/// `data` is `[height, width, channels]`. Edits queued before the upload is taken (including
/// the seed planted at spawn) are dropped, since the upload overwrites what they would change.
#[derive(Component, Clone, Debug)]
pub struct GridStateUpload {
    /// The new state.
    pub data: Arc<Vec<f32>>,
    /// The species of every cell (`None`: all species 0).
    pub species: Option<Arc<Vec<u32>>>,
    /// The step counter to continue from.
    pub step: u32,
}

/// What the render world does for a grid this frame, in order: upload, edits, steps, readback.
#[derive(Component, Clone, Debug, Default)]
pub struct GridFramePlan {
    /// A state upload, if one was requested.
    pub upload: Option<Arc<Vec<f32>>>,
    /// The species ids uploaded with it (`None`: all 0).
    pub upload_species: Option<Arc<Vec<u32>>>,
    /// Edits to apply before stepping.
    pub edits: Vec<Edit>,
    /// Number of the first step run this frame.
    pub first_step: u32,
    /// Steps to run this frame.
    pub steps: u32,
    /// Read back after this frame's work, tagged with this id.
    pub readback: Option<(u64, ReadbackKind)>,
    /// The grid size the plans were made for; a change means the GPU starts a fresh grid.
    pub size: (u32, u32),
    /// The kind the plans were made for; a change also means a fresh grid.
    pub kind: Option<ModelKind>,
    /// A fresh grid waits for its model to load, then gets the kind's start edits.
    pub start_pending: bool,
}

impl GridFramePlan {
    /// Whether the frame changes or reads the grid at all.
    pub fn has_work(&self) -> bool {
        self.upload.is_some() || !self.edits.is_empty() || self.steps > 0 || self.readback.is_some()
    }
}

/// Builds each grid's plan for this frame from its settings and queued work.
///
/// Nothing is taken from the queues until the GPU is ready and the model is loaded, so no edit
/// or step is ever dropped or counted without running.
#[allow(clippy::type_complexity)]
pub(crate) fn plan_frames(
    mut commands: Commands,
    status: Res<GpuStatus>,
    models: Res<Assets<NcaModel>>,
    mut grids: Query<(Entity, Mut<CaGrid>, &mut GridEdits, &mut GridFramePlan, Option<&GridStateUpload>, Option<&ReadbackRequest>)>,
) {
    for (entity, mut grid, mut edits, mut plan, upload, readback) in &mut grids {
        let size = (grid.width, grid.height);
        let kind = grid.kind(&models);
        let mut start_pending = plan.start_pending;
        if grid.is_added() || (plan.size != size && plan.size != (0, 0)) || (kind.is_some() && plan.kind.is_some() && kind != plan.kind) {
            // A new, resized or re-kinded grid starts afresh (the GPU allocates it empty).
            start_pending = true;
            grid.step = 0;
        }
        *plan = GridFramePlan { first_step: grid.step, size, kind: kind.or(plan.kind), start_pending, ..default() };
        if !status.is_ready() || !grid.species_models().all(|m| models.contains(m)) {
            continue;
        }
        let Some(kind) = kind else { continue };
        if plan.start_pending {
            plan.start_pending = false;
            for (i, edit) in kind.start_edits(grid.width, grid.height).into_iter().enumerate() {
                edits.queue.insert(i, edit);
            }
        }
        if let Some(upload) = upload {
            let expected = (grid.width * grid.height) as usize * model_channels(&models, &grid.model);
            let cells = (grid.width * grid.height) as usize;
            if upload.data.len() == expected && upload.species.as_ref().is_none_or(|s| s.len() == cells) {
                plan.upload = Some(upload.data.clone());
                plan.upload_species = upload.species.clone();
                grid.step = upload.step;
                plan.first_step = upload.step;
                edits.queue.clear();
            } else {
                error!("state upload of {} values ignored: grid needs {expected}", upload.data.len());
            }
            commands.entity(entity).remove::<GridStateUpload>();
        }
        plan.edits = std::mem::take(&mut edits.queue);
        let steps = if grid.paused { 0 } else { grid.steps_per_frame } + grid.single_steps;
        grid.single_steps = 0;
        plan.steps = steps;
        grid.step = grid.step.wrapping_add(steps);
        if let Some(request) = readback {
            plan.readback = Some((request.id.unwrap_or_else(next_readback_id), request.kind));
            commands.entity(entity).remove::<ReadbackRequest>();
        }
    }
}

fn model_channels(models: &Assets<NcaModel>, handle: &Handle<NcaModel>) -> usize {
    models.get(handle).map_or(0, |m| m.weights.channels())
}
