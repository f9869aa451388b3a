//! The sandbox window: one grid growing from a seed, scaled to fill the window.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};

use crate::gpu::NcaGpuPlugin;
use crate::model::NcaWeights;
use crate::sim::{CaGrid, GridViewPlugin, NcaModel, SimPlugin};

/// What the window shows and for how long.
#[derive(Resource, Clone, Debug)]
pub struct WindowOptions {
    /// The model to grow.
    pub model: NcaWeights,
    /// Grid side in cells.
    pub grid_size: u32,
    /// Steps per frame.
    pub steps_per_frame: u32,
    /// Fire-hash seed.
    pub seed: u32,
    /// Run this many frames, then exit (for screenshots and smoke tests).
    pub frames: Option<u32>,
    /// Save a screenshot here after the last frame.
    pub screenshot: Option<PathBuf>,
}

/// Opens the window and runs until it is closed (or `frames` have passed).
pub fn run(options: WindowOptions) -> AppExit {
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: "nca-sandbox".into(),
                    resolution: (960, 720).into(),
                    ..default()
                }),
                ..default()
            })
            .set(ImagePlugin::default_nearest()),
    )
    .add_plugins((SimPlugin, GridViewPlugin, NcaGpuPlugin))
    .insert_resource(ClearColor(Color::srgb(0.93, 0.93, 0.93)))
    .insert_resource(options)
    .add_systems(Startup, spawn_scene)
    .add_systems(Update, (fit_grids_to_window, count_frames));
    app.run()
}

fn spawn_scene(mut commands: Commands, options: Res<WindowOptions>, mut models: ResMut<Assets<NcaModel>>) {
    commands.spawn(Camera2d);
    let model = models.add(NcaModel::new(options.model.clone()));
    let mut grid = CaGrid::new(options.grid_size, options.grid_size, model);
    grid.steps_per_frame = options.steps_per_frame;
    grid.seed = options.seed;
    commands.spawn((grid, Transform::default()));
}

/// Scales each grid's sprite to fill the window (pixels stay square and crisp).
fn fit_grids_to_window(windows: Query<&Window>, mut grids: Query<(&CaGrid, &mut Transform)>) {
    let Some(window) = windows.iter().next() else { return };
    for (grid, mut transform) in &mut grids {
        let scale = (window.width() / grid.width as f32).min(window.height() / grid.height as f32) * 0.95;
        transform.scale = Vec3::new(scale, scale, 1.0);
    }
}

/// With `--frames`, takes the screenshot after the last frame and exits once it is saved.
fn count_frames(
    mut commands: Commands,
    options: Res<WindowOptions>,
    mut frame: Local<u32>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(frames) = options.frames else { return };
    *frame += 1;
    if *frame == frames {
        match &options.screenshot {
            Some(path) => {
                commands.spawn(Screenshot::primary_window()).observe(save_to_disk(path.clone()));
            }
            None => {
                exit.write(AppExit::Success);
            }
        }
    }
    // The screenshot is written a few frames after it was requested.
    if let Some(path) = &options.screenshot
        && *frame > frames
        && (path.exists() || *frame > frames + 600)
    {
        exit.write(AppExit::Success);
    }
}
