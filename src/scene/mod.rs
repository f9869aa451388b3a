//! The sandbox scene: one grid that follows the transport controls, its settings, and the
//! commands the panel and the keyboard send to it.

pub mod digits;
pub mod feed;
pub mod kiosk;
pub mod scenario;
pub mod teach;

use bevy::prelude::*;
use bevy::window::{MonitorSelection, PrimaryWindow, WindowMode};

use crate::library::ModelLibrary;
use crate::model::grid::Edit;
use crate::model::{ModelKind, View};
use crate::sim::display::{DARK_BACKGROUND, LIGHT_BACKGROUND};
use crate::sim::{CaGrid, FollowsPlayback, GridDisplay, NcaModel, SimSystems};

/// The next view of `kind` after `view` (natural → each channel → species → natural).
pub fn next_view(view: View, kind: ModelKind) -> View {
    let views = kind.views();
    let at = views.iter().position(|v| *v == view).unwrap_or(views.len() - 1);
    views[(at + 1) % views.len()]
}

/// Grid sides the panel offers.
pub const GRID_SIZES: [u32; 7] = [64, 96, 128, 192, 256, 512, 1024];

/// The scene's settings: what the panel edits and the keyboard toggles.
#[derive(Resource, Clone, Debug)]
pub struct SceneSettings {
    /// Grid side in cells.
    pub grid_size: u32,
    /// A grid of this width and height instead (a scenario's), whatever the kind.
    pub grid_shape: Option<(u32, u32)>,
    /// Fire-hash seed of the grid.
    pub seed: u32,
    /// The model of species 0 (none until one has loaded).
    pub model: Option<Handle<NcaModel>>,
    /// Dark background instead of light.
    pub dark_background: bool,
    /// What the display shows.
    pub view: View,
    /// Rotation of the MNIST class palette's hue, in degrees.
    pub hue_degrees: f32,
    /// The MNIST class palette.
    pub palette: crate::model::display::ClassPalette,
    /// Perception rotation in degrees.
    pub rotation_degrees: f32,
    /// Whether the side panel is shown.
    pub panel_visible: bool,
    /// Seeds of other species to plant once the grid and their models are ready: model, x, y.
    pub pending_plants: Vec<(Handle<NcaModel>, u32, u32)>,
    /// Edits to queue once the grid exists and its model has loaded (edits its kind does not
    /// accept do nothing).
    pub pending_edits: Vec<Edit>,
}

impl Default for SceneSettings {
    fn default() -> Self {
        Self {
            grid_size: 128,
            grid_shape: None,
            seed: 0,
            model: None,
            dark_background: false,
            view: View::Natural,
            hue_degrees: 0.0,
            palette: crate::model::display::ClassPalette::Paper,
            rotation_degrees: 0.0,
            panel_visible: true,
            pending_plants: Vec::new(),
            pending_edits: Vec::new(),
        }
    }
}

/// Requests from the panel and the keyboard.
#[derive(Message, Clone, Debug)]
pub enum SceneCommand {
    /// Clear the grid and plant one seed in the centre; the step counter restarts.
    Reset,
    /// Run this model as species 0 (and start over).
    SetModel(Handle<NcaModel>),
    /// Show or hide the panel.
    TogglePanel,
    /// Switch between windowed and borderless fullscreen.
    ToggleFullscreen,
}

/// Marks the sandbox's grid.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct SandboxGrid;

/// System sets of the scene, in `Update`.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum SceneSystems {
    /// Commands are applied and the grid follows the settings.
    Apply,
    /// The grid feed collects readbacks and asks for the next (after the tools' edits).
    Feed,
}

/// The sandbox's grid and its commands.
pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((kiosk::KioskPlugin, digits::DigitsPlugin, teach::TeachPlugin, scenario::ScenarioPlugin))
            .init_resource::<SceneSettings>()
            .init_resource::<feed::GridFeed>()
            .add_message::<SceneCommand>()
            .configure_sets(Update, (SceneSystems::Apply.before(SimSystems::Edit), SceneSystems::Feed.after(SimSystems::Edit)))
            .add_systems(
                Update,
                (select_loaded_models, apply_commands, sync_grid, plant_pending, fit_grids_to_window).chain().in_set(SceneSystems::Apply),
            )
            .add_systems(Update, feed::run_feed.in_set(SceneSystems::Feed));
    }
}

/// A model opened or dropped by the user becomes species 0 once it has loaded.
fn select_loaded_models(mut library: ResMut<ModelLibrary>, models: Res<Assets<NcaModel>>, mut commands: MessageWriter<SceneCommand>) {
    if let Some(handle) = library.select_when_loaded.clone()
        && models.contains(&handle)
    {
        library.select_when_loaded = None;
        commands.write(SceneCommand::SetModel(handle));
    }
}

fn apply_commands(
    mut messages: MessageReader<SceneCommand>,
    mut digit_commands: MessageWriter<digits::DigitCommand>,
    mut settings: ResMut<SceneSettings>,
    models: Res<Assets<NcaModel>>,
    mut grids: Query<(&mut CaGrid, &mut crate::sim::GridEdits), With<SandboxGrid>>,
    mut windows: Query<&mut Window, With<PrimaryWindow>>,
) {
    for message in messages.read() {
        match message {
            SceneCommand::Reset => {
                for (mut grid, mut edits) in &mut grids {
                    if grid.kind(&models) == Some(ModelKind::Mnist) {
                        // A canvas resets to the same digits with a zeroed state: the person's
                        // writing is not thrown away (Clear does that).
                        digit_commands.write(digits::DigitCommand::ResetState);
                    } else {
                        reset(&mut grid, &mut edits, &models);
                    }
                }
            }
            SceneCommand::SetModel(handle) => {
                settings.model = Some(handle.clone());
                let kind = models.get(handle).map(|m| m.weights.kind());
                if kind.is_some_and(|k| !k.views().contains(&settings.view)) {
                    settings.view = View::Natural;
                }
                for (mut grid, mut edits) in &mut grids {
                    grid.model = handle.clone();
                    reset(&mut grid, &mut edits, &models);
                }
            }
            SceneCommand::TogglePanel => settings.panel_visible = !settings.panel_visible,
            SceneCommand::ToggleFullscreen => {
                for mut window in &mut windows {
                    window.mode = match window.mode {
                        WindowMode::Windowed => WindowMode::BorderlessFullscreen(MonitorSelection::Current),
                        _ => WindowMode::Windowed,
                    };
                }
            }
        }
    }
}

/// Clears the grid, forgets other species and starts it as its kind says (a growing model: one
/// seed in the centre).
pub(crate) fn reset(grid: &mut CaGrid, edits: &mut crate::sim::GridEdits, models: &Assets<NcaModel>) {
    grid.step = 0;
    grid.extra_species.clear();
    edits.queue.clear();
    edits.push(Edit::Clear);
    if let Some(kind) = grid.kind(models) {
        edits.queue.extend(kind.start_edits(grid.width, grid.height));
    }
}

/// Spawns the grid once a model is chosen, and keeps it in line with the settings.
fn sync_grid(
    mut commands: Commands,
    settings: Res<SceneSettings>,
    digits: Res<digits::DigitsSettings>,
    models: Res<Assets<NcaModel>>,
    clear: Option<ResMut<ClearColor>>,
    mut grids: Query<(&mut CaGrid, Option<&mut GridDisplay>), With<SandboxGrid>>,
) {
    if let Some(mut clear) = clear {
        let [r, g, b] = if settings.dark_background { DARK_BACKGROUND } else { LIGHT_BACKGROUND };
        let wanted = Color::srgb(r * 0.93, g * 0.93, b * 0.93 + 0.02);
        if clear.0 != wanted {
            clear.0 = wanted;
        }
    }
    let Some(model) = &settings.model else { return };
    // An MNIST canvas is wide enough for a number; a growing grid is square.
    let size_for = |kind: Option<ModelKind>| match (settings.grid_shape, kind) {
        (Some(shape), _) => shape,
        (None, Some(ModelKind::Mnist)) => digits.canvas,
        _ => (settings.grid_size, settings.grid_size),
    };
    if grids.is_empty() {
        let (width, height) = size_for(models.get(model).map(|m| m.weights.kind()));
        let mut grid = CaGrid::new(width, height, model.clone());
        grid.seed = settings.seed;
        grid.rotation_degrees = settings.rotation_degrees;
        commands.spawn((grid, FollowsPlayback, SandboxGrid, Transform::default()));
        return;
    }
    for (mut grid, display) in &mut grids {
        let (width, height) = size_for(grid.kind(&models));
        if grid.width != width || grid.height != height {
            // A resize restarts the grid as its kind starts (the plan does that); other species
            // go with it.
            grid.width = width;
            grid.height = height;
            grid.extra_species.clear();
        }
        if grid.rotation_degrees != settings.rotation_degrees {
            grid.rotation_degrees = settings.rotation_degrees;
        }
        if let Some(mut display) = display {
            let background = if settings.dark_background { DARK_BACKGROUND } else { LIGHT_BACKGROUND };
            // A view the grid's kind lacks (a channel past its last) shows the natural view.
            let view = match grid.kind(&models) {
                Some(kind) if !kind.views().contains(&settings.view) => View::Natural,
                _ => settings.view,
            };
            if display.background != background
                || display.view != view
                || display.hue_degrees != settings.hue_degrees
                || display.palette != settings.palette
            {
                display.background = background;
                display.view = view;
                display.hue_degrees = settings.hue_degrees;
                display.palette = settings.palette;
            }
        }
    }
}

/// Queues the pending edits and plants the pending seeds of other species once the grid exists
/// and their models loaded (a model that failed to load is dropped from the list; the library
/// reports why).
fn plant_pending(
    mut settings: ResMut<SceneSettings>,
    models: Res<Assets<NcaModel>>,
    server: Res<AssetServer>,
    mut grids: Query<(&mut CaGrid, &mut crate::sim::GridEdits), With<SandboxGrid>>,
) {
    if settings.pending_plants.is_empty() && settings.pending_edits.is_empty() {
        return;
    }
    let Some((mut grid, mut edits)) = grids.iter_mut().next() else { return };
    let Some(kind) = grid.kind(&models) else { return };
    edits.queue.append(&mut settings.pending_edits);
    settings.pending_plants.retain(|(model, x, y)| match models.get(model) {
        Some(planted) if planted.weights.kind() != kind => {
            error!("a {} model cannot share a {kind} grid; not planted", planted.weights.kind());
            false
        }
        Some(_) => {
            let species = grid.species_of(model);
            edits.push(Edit::PlantSeed { x: *x, y: *y, species });
            false
        }
        None => !server.load_state(model).is_failed(),
    });
}

/// Width of the side panel in logical pixels (the grid is centred in the space beside it).
pub const PANEL_WIDTH: f32 = 290.0;

/// Scales each grid's sprite to fill the window beside the panel (pixels stay square and
/// crisp); the camera pans and zooms on top of that. Several grids (a lesson's side-by-side
/// grid) share the width in a row, the sandbox grid first.
pub fn fit_grids_to_window(
    windows: Query<&Window, With<PrimaryWindow>>,
    settings: Option<Res<SceneSettings>>,
    mut grids: Query<(Entity, &CaGrid, &mut Transform, Has<SandboxGrid>)>,
) {
    let Some(window) = windows.iter().next() else { return };
    let panel = if settings.is_some_and(|s| s.panel_visible) { PANEL_WIDTH } else { 0.0 };
    let mut order: Vec<(bool, Entity)> = grids.iter().map(|(entity, _, _, sandbox)| (!sandbox, entity)).collect();
    order.sort();
    let slots = order.len().max(1) as f32;
    let slot_width = ((window.width() - panel) / slots).max(1.0);
    for (slot, (_, entity)) in order.into_iter().enumerate() {
        let Ok((_, grid, mut transform, _)) = grids.get_mut(entity) else { continue };
        let scale = (slot_width / grid.width as f32).min(window.height() / grid.height as f32) * 0.95;
        // Centres in world units (the camera looks at the window's centre).
        let x = panel / 2.0 + (slot as f32 - (slots - 1.0) / 2.0) * slot_width;
        let wanted = Transform::from_xyz(x, 0.0, 0.0).with_scale(Vec3::new(scale, scale, 1.0));
        if *transform != wanted {
            *transform = wanted;
        }
    }
}
