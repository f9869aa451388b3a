//! Main world → render world: each grid's settings and this frame's plan.

use std::sync::Arc;

use bevy::prelude::*;
use bevy::render::Extract;

use crate::model::perception::SobelPair;
use crate::model::scenario::reduce::RegionLayout;
use crate::sim::{CaGrid, GridDisplay, GridFramePlan, GridMetricRegions, NcaModel};

/// Where and how a grid is drawn this frame.
#[derive(Clone, Debug)]
pub struct ExtractedDisplay {
    /// The display texture.
    pub image: AssetId<Image>,
    /// Background RGB behind transparent cells.
    pub background: [f32; 3],
    /// What to show.
    pub view: crate::model::View,
    /// Hue rotation of the MNIST class palette, in degrees.
    pub hue_degrees: f32,
    /// The MNIST class palette.
    pub palette: crate::model::display::ClassPalette,
}

/// One grid as the render world sees it this frame.
#[derive(Clone, Debug)]
pub struct ExtractedGrid {
    /// The main-world entity, the key of the grid's GPU resources.
    pub entity: Entity,
    /// Cells per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Fire-hash seed.
    pub seed: u32,
    /// Perception kernels.
    pub sobel: SobelPair,
    /// The model of each species id (index 0: the grid's model).
    pub species: Vec<AssetId<NcaModel>>,
    /// What to do this frame.
    pub plan: GridFramePlan,
    /// How to draw it, if it is drawn.
    pub display: Option<ExtractedDisplay>,
    /// The regions its metrics readbacks sum over, if it has any.
    pub metrics: Option<Arc<RegionLayout>>,
}

/// All grids this frame.
#[derive(Resource, Default)]
pub struct ExtractedGrids(pub Vec<ExtractedGrid>);

#[allow(clippy::type_complexity)]
pub(crate) fn extract_grids(
    mut commands: Commands,
    grids: Extract<Query<(Entity, &CaGrid, &GridFramePlan, Option<&GridDisplay>, Option<&GridMetricRegions>)>>,
) {
    let extracted = grids
        .iter()
        .map(|(entity, grid, plan, display, metrics)| ExtractedGrid {
            entity,
            width: grid.width,
            height: grid.height,
            seed: grid.seed,
            sobel: grid.sobel(),
            species: grid.species_models().map(|m| m.id()).collect(),
            plan: plan.clone(),
            display: display.map(|d| ExtractedDisplay {
                image: d.image.id(),
                background: d.background,
                view: d.view,
                hue_degrees: d.hue_degrees,
                palette: d.palette,
            }),
            metrics: metrics.map(|m| m.0.clone()),
        })
        .collect();
    commands.insert_resource(ExtractedGrids(extracted));
}
