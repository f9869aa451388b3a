//! The sandbox window: a loading state (bevy_asset_loader) while the starting model loads, then
//! a grid growing from one seed, with the panel, the tools and the model library.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};
use bevy_asset_loader::dynamic_asset::{DynamicAsset, DynamicAssetType};
use bevy_asset_loader::prelude::*;
use bevy_egui::EguiPlugin;

use crate::gpu::NcaPlugin;
use crate::input::{DeviceInputPlugin, ToolsPlugin};
use crate::library::{self, LibraryPlugin, ModelLibrary};
use crate::scene::{SceneCommand, ScenePlugin, SceneSettings};
use crate::sim::{GridViewPlugin, NcaModel, Playback, PlaybackPlugin, Speed};
use crate::ui::PanelPlugin;

/// What the window opens with and for how long.
#[derive(Resource, Clone, Debug)]
pub struct WindowOptions {
    /// The model the scene starts with (already checked to load).
    pub model: PathBuf,
    /// Every model in this folder is offered in the picker.
    pub trained_dir: PathBuf,
    /// Grid side in cells.
    pub grid_size: u32,
    /// Starting speed.
    pub speed: Speed,
    /// Fire-hash seed.
    pub seed: u32,
    /// Seeds of other models planted at start: file, x, y.
    pub plant: Vec<(PathBuf, u32, u32)>,
    /// Edits applied once the grid exists (a digit placed on an MNIST canvas, say).
    pub start_edits: Vec<crate::model::grid::Edit>,
    /// How an MNIST canvas starts.
    pub digits: DigitsStart,
    /// What the display shows.
    pub view: crate::model::View,
    /// Start with the dark background.
    pub dark_background: bool,
    /// Installation mode: fullscreen, panel hidden, start over after 2 idle minutes or when
    /// nothing is alive.
    pub kiosk: bool,
    /// Run this many frames, then exit (for screenshots and smoke tests).
    pub frames: Option<u32>,
    /// Save a screenshot here after the last frame.
    pub screenshot: Option<PathBuf>,
}

/// How an MNIST canvas starts (`nca run --digit/--chimera/--adversaries/--canvas`).
#[derive(Clone, Debug, PartialEq)]
pub struct DigitsStart {
    /// Canvas width and height.
    pub canvas: (u32, u32),
    /// The digits, each at a cell or spread across the canvas (`None`: one sample digit in the
    /// middle).
    pub start: Option<Vec<(crate::scene::digits::DigitSource, Option<[f32; 2]>)>>,
    /// Sprinkle this share of every digit's cells with the adversary at the start.
    pub adversaries: Option<f32>,
    /// The adversary model file (default: the library's model named like an adversary).
    pub adversary: Option<PathBuf>,
}

impl Default for DigitsStart {
    fn default() -> Self {
        Self { canvas: (160, 64), start: None, adversaries: None, adversary: None }
    }
}

/// The sandbox's phases.
#[derive(States, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SandboxState {
    /// The starting model is loading.
    #[default]
    Loading,
    /// The scene runs.
    Running,
}

/// What the loading state loads before the scene starts.
#[derive(AssetCollection, Resource)]
pub struct SandboxAssets {
    /// The model of the first grid.
    #[asset(key = "model.start")]
    pub start_model: Handle<NcaModel>,
}

/// A model file on disk as a bevy_asset_loader dynamic asset (its path is known only at run
/// time).
#[derive(Debug)]
struct ModelFile(PathBuf);

impl DynamicAsset for ModelFile {
    fn load(&self, server: &AssetServer) -> Vec<UntypedHandle> {
        vec![server.load::<NcaModel>(library::asset_path(&self.0)).untyped()]
    }

    fn build(&self, world: &mut World) -> Result<DynamicAssetType, anyhow::Error> {
        let server = world.resource::<AssetServer>();
        Ok(DynamicAssetType::Single(server.load::<NcaModel>(library::asset_path(&self.0)).untyped()))
    }
}

/// Opens the window and runs until it is closed (or `frames` have passed).
pub fn run(options: WindowOptions) -> AppExit {
    let mut app = App::new();
    library::register_source(&mut app);
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: "nca-sandbox".into(),
                    resolution: (1100, 760).into(),
                    mode: if options.kiosk {
                        bevy::window::WindowMode::BorderlessFullscreen(bevy::window::MonitorSelection::Primary)
                    } else {
                        bevy::window::WindowMode::Windowed
                    },
                    ..default()
                }),
                ..default()
            })
            .set(AssetPlugin { meta_check: bevy::asset::AssetMetaCheck::Never, ..default() })
            .set(ImagePlugin::default_nearest()),
    )
    .add_plugins(EguiPlugin::default())
    .add_plugins((SandboxPlugin, PanelPlugin, DeviceInputPlugin))
    .insert_resource(options.clone())
    .add_systems(Update, count_frames);
    if options.kiosk {
        app.insert_resource(crate::scene::kiosk::KioskSettings::installation());
    }
    set_start_model(&mut app, options.model.clone());
    app.run()
}

/// The model file the loading state loads and the scene starts with.
pub fn set_start_model(app: &mut App, model: PathBuf) {
    app.world_mut().get_resource_or_init::<DynamicAssets>().register_asset("model.start", Box::new(ModelFile(model)));
}

/// Everything the sandbox is, without the window's devices and panel (so tests can run it
/// headless): the simulation, the GPU, the library, the scene and the tools, and the loading
/// state in front of them. Set the starting model with [`set_start_model`].
pub struct SandboxPlugin;

impl Plugin for SandboxPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((NcaPlugin, GridViewPlugin, PlaybackPlugin, LibraryPlugin, ScenePlugin, ToolsPlugin))
            .init_state::<SandboxState>()
            .add_loading_state(
                LoadingState::new(SandboxState::Loading)
                    .continue_to_state(SandboxState::Running)
                    .on_failure_continue_to_state(SandboxState::Running)
                    .load_collection::<SandboxAssets>(),
            )
            .insert_resource(ClearColor(Color::srgb(0.93, 0.93, 0.93)))
            .add_systems(Startup, |mut commands: Commands| {
                commands.spawn(Camera2d);
            })
            .add_systems(OnEnter(SandboxState::Running), start_scene)
            .add_systems(Update, fall_back_to_any_model.run_if(in_state(SandboxState::Running)));
    }
}

#[allow(clippy::too_many_arguments)]
fn start_scene(
    options: Option<Res<WindowOptions>>,
    assets: Option<Res<SandboxAssets>>,
    mut library: ResMut<ModelLibrary>,
    mut scene: ResMut<SceneSettings>,
    mut digits: ResMut<crate::scene::digits::DigitsSettings>,
    mut playback: ResMut<Playback>,
    server: Res<AssetServer>,
    mut commands: MessageWriter<SceneCommand>,
) {
    if let Some(options) = &options {
        scene.grid_size = options.grid_size;
        scene.seed = options.seed;
        scene.view = options.view;
        scene.dark_background = options.dark_background;
        scene.panel_visible = !options.kiosk;
        playback.speed = options.speed;
        for (file, x, y) in &options.plant {
            let model = library.open(file, &server);
            scene.pending_plants.push((model, *x, *y));
        }
        scene.pending_edits.extend(options.start_edits.iter().cloned());
        digits.canvas = options.digits.canvas;
        digits.start = options.digits.start.clone();
        digits.start_adversaries = options.digits.adversaries;
        if let Some(file) = &options.digits.adversary {
            digits.adversary = Some(library.open(file, &server));
        }
        if options.trained_dir.is_dir()
            && let Err(e) = library.open_folder(&options.trained_dir, &server)
        {
            library.error(format!("cannot list {}: {e}", options.trained_dir.display()));
        }
        library.open(&options.model, &server);
    }
    match assets {
        Some(assets) => {
            commands.write(SceneCommand::SetModel(assets.start_model.clone()));
        }
        None => library.error("the starting model did not load; pick another one"),
    }
}

/// If the starting model failed, the first model that loads starts the scene.
fn fall_back_to_any_model(
    settings: Res<SceneSettings>,
    library: Res<ModelLibrary>,
    models: Res<Assets<NcaModel>>,
    mut commands: MessageWriter<SceneCommand>,
    mut sent: Local<bool>,
) {
    if settings.model.is_some() || *sent {
        return;
    }
    if let Some(entry) = library.entries.iter().find(|e| models.contains(&e.handle)) {
        *sent = true;
        commands.write(SceneCommand::SetModel(entry.handle.clone()));
    }
}

/// With `--frames`, takes the screenshot after the last frame and exits once it is saved.
fn count_frames(mut commands: Commands, options: Res<WindowOptions>, mut frame: Local<u32>, mut exit: MessageWriter<AppExit>) {
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
