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
use crate::scene::scenario::ScreenGif;
use crate::scene::teach::{TeachCommand, TeachSettings, TeachState, TeachTarget};
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
    /// Run this many seconds, then exit (for measurements).
    pub seconds: Option<f32>,
    /// Save a screenshot here after the last frame.
    pub screenshot: Option<PathBuf>,
    /// Record the window into this GIF from the start to the last frame.
    pub record_gif: Option<PathBuf>,
    /// A lesson to start once the scene runs.
    pub teach: Option<TeachStart>,
    /// Write a JSON report here when the app exits (frame times, the lesson's figures).
    pub report: Option<PathBuf>,
    /// Let a monkey of this seed touch the screen at random (soak runs of installations).
    pub monkey: Option<u32>,
    /// A scenario to play (already read and checked), and its file.
    pub scenario: Option<(std::sync::Arc<crate::model::scenario::LoadedScenario>, PathBuf)>,
    /// Scenarios a kiosk plays in turn while nobody touches the screen (read and checked).
    pub playlist: Option<crate::scene::scenario::Playlist>,
    /// What an exhibit supervisor sets on its window (heartbeat, closed look, screen, idle).
    pub exhibit: crate::exhibit::window::ExhibitOptions,
}

/// A lesson started from the command line (`nca run --teach`).
#[derive(Clone, Debug, PartialEq)]
pub struct TeachStart {
    /// What to become.
    pub picture: PathBuf,
    /// What the lesson trains.
    pub mode: crate::model::GrowingMode,
    /// Where its weights start.
    pub from: crate::scene::teach::TeachFrom,
    /// Run the learner beside the original.
    pub side_by_side: bool,
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
                    mode: if options.kiosk { options.exhibit.window_mode() } else { bevy::window::WindowMode::Windowed },
                    // In a page: the page's canvas, filling its box (natively these are unused).
                    canvas: Some("#nca-canvas".into()),
                    fit_canvas_to_parent: true,
                    prevent_default_event_handling: true,
                    ..default()
                }),
                ..default()
            })
            .set(AssetPlugin { meta_check: bevy::asset::AssetMetaCheck::Never, ..default() })
            .set(ImagePlugin::default_nearest()),
    )
    .add_plugins(EguiPlugin::default())
    .add_plugins((
        SandboxPlugin,
        PanelPlugin,
        DeviceInputPlugin,
        crate::exhibit::window::ExhibitWindowPlugin,
        crate::ui::operator::OperatorMenuPlugin,
    ))
    .insert_resource(options.clone())
    .add_plugins(PagePlugin)
    .init_resource::<FrameTimes>()
    .add_systems(Update, count_frames)
    .add_systems(Startup, start_screen_gif)
    .add_systems(Last, write_report.before(crate::scene::teach::keep_lesson_on_exit));
    crate::exhibit::window::ExhibitWindowPlugin::configure(&mut app, &options.exhibit);
    if options.kiosk {
        let mut kiosk = crate::scene::kiosk::KioskSettings::installation();
        let idle = &options.exhibit;
        kiosk.idle_reset_seconds = idle.idle_reset_seconds.or(kiosk.idle_reset_seconds);
        kiosk.self_play_seconds = idle.self_play_seconds.or(kiosk.self_play_seconds);
        app.insert_resource(kiosk);
    }
    if let Some(seed) = options.monkey {
        app.insert_resource(crate::input::monkey::Monkey::new(seed));
    }
    if super::hardware_gpu() {
        app.insert_resource(TeachSettings { device: crate::train::teach::TeachDevice::Gpu, ..default() });
    }
    set_start_model(&mut app, options.model.clone());
    app.run()
}

/// What the page around the app learns from it (a browser tab's title and status).
#[cfg(target_arch = "wasm32")]
use crate::web::PagePlugin;

/// Natively, a window has no page around it.
#[cfg(not(target_arch = "wasm32"))]
struct PagePlugin;

#[cfg(not(target_arch = "wasm32"))]
impl Plugin for PagePlugin {
    fn build(&self, _app: &mut App) {}
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
    (mut teach_settings, mut teach_state): (ResMut<TeachSettings>, ResMut<TeachState>),
    (mut models, mut bevy_commands): (ResMut<Assets<NcaModel>>, Commands),
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
        if crate::platform::is_dir(&options.trained_dir)
            && let Err(e) = library.open_folder(&options.trained_dir, &server)
        {
            library.error(format!("cannot list {}: {e}", options.trained_dir.display()));
        }
        library.open(&options.model, &server);
        if let Some(lesson) = &options.teach {
            teach_settings.side_by_side = lesson.side_by_side;
            teach_state.start_when_ready =
                Some(TeachCommand::Start { target: TeachTarget::Picture(lesson.picture.clone()), mode: lesson.mode, from: lesson.from });
        }
    }
    if let Some(playlist) = options.as_ref().and_then(|o| o.playlist.clone()) {
        // The playlist is the show: the digits scene's own self-play would write over it.
        bevy_commands.insert_resource(crate::scene::kiosk::KioskSettings {
            self_play_seconds: None,
            ..crate::scene::kiosk::KioskSettings::installation()
        });
        bevy_commands.insert_resource(playlist);
    }
    if let Some((scene_file, path)) = options.as_ref().and_then(|o| o.scenario.clone()) {
        let mut player = crate::scene::scenario::ScenarioPlayer::new((*scene_file).clone(), path);
        let first = crate::scene::scenario::stage(&mut player, &mut scene, &mut digits, &mut models);
        bevy_commands.insert_resource(player);
        // Chosen now, so nothing that looks for a model this frame picks another one.
        scene.model = Some(first.clone());
        commands.write(SceneCommand::SetModel(first));
        return;
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

/// Every frame's duration, and the resident memory every 10 seconds, for the report.
#[derive(Resource, Default, Debug)]
pub struct FrameTimes(pub Vec<f32>, pub Vec<(f32, f64)>);

/// With `--frames` or `--seconds`, takes the screenshot after the last frame and exits once it
/// is saved.
#[allow(clippy::too_many_arguments)]
fn count_frames(
    mut commands: Commands,
    options: Res<WindowOptions>,
    mut gif: ResMut<ScreenGif>,
    time: Res<Time<Real>>,
    mut times: ResMut<FrameTimes>,
    mut frame: Local<u32>,
    mut ended_at: Local<Option<u32>>,
    mut exit: MessageWriter<AppExit>,
) {
    if options.report.is_some() {
        times.0.push(time.delta_secs() * 1000.0);
        let now = time.elapsed_secs();
        if times.1.last().is_none_or(|(at, _)| now - at >= 10.0)
            && let Some(mb) = super::resident_mb()
        {
            times.1.push((now, mb));
        }
    }
    *frame += 1;
    if ended_at.is_none() {
        let by_frames = options.frames.is_some_and(|f| *frame >= f);
        let by_time = options.seconds.is_some_and(|s| time.elapsed_secs() >= s);
        if by_frames || by_time {
            *ended_at = Some(*frame);
            if let Some(path) = &options.screenshot {
                commands.spawn(Screenshot::primary_window()).observe(save_to_disk(path.clone()));
            }
            if options.record_gif.is_some() && gif.active {
                info!("{}", gif.stop());
            }
        }
    }
    // The screenshot is written a few frames after it was requested, the GIF on a thread.
    if let Some(end) = *ended_at {
        let shot_done = options.screenshot.as_ref().is_none_or(|path| *frame > end && (path.exists() || *frame > end + 600));
        if shot_done && !gif.is_writing() {
            exit.write(AppExit::Success);
        }
    }
}

/// With `--record-gif`, the screen recording starts with the app.
fn start_screen_gif(options: Res<WindowOptions>, mut gif: ResMut<ScreenGif>) {
    if let Some(path) = &options.record_gif {
        gif.start(path.clone());
    }
}

/// With `--report`, writes the frame times and the lesson's figures when the app exits.
fn write_report(
    mut exits: MessageReader<AppExit>,
    options: Res<WindowOptions>,
    times: Res<FrameTimes>,
    teach: Res<TeachState>,
    monkey: Option<Res<crate::input::monkey::Monkey>>,
    grids: Query<&crate::sim::CaGrid, With<crate::scene::SandboxGrid>>,
    mut written: Local<bool>,
) {
    if exits.read().next().is_none() || *written {
        return;
    }
    let Some(path) = &options.report else { return };
    *written = true;
    let mut report = report_json(&times.0, &teach);
    report["rss_mb"] = serde_json::json!(times.1.iter().map(|(t, mb)| [*t as f64, *mb]).collect::<Vec<_>>());
    // With the frame times' sum, the grid's steps per second (`--speed max` measurements).
    report["steps"] = serde_json::json!(grids.iter().next().map(|g| g.step));
    if let Some(monkey) = monkey {
        report["monkey"] = serde_json::json!({ "touches": monkey.touches, "breaks": monkey.breaks });
    }
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Err(e) = crate::model::weights::write_atomically(path, text.as_bytes()) {
        error!("the report was not written: {e}");
    }
}

/// The report: `frame_ms` (every frame, the first excluded: it includes start-up), their median
/// and 95th percentile, and `teach` (null without a lesson).
pub fn report_json(frame_ms: &[f32], teach: &TeachState) -> serde_json::Value {
    let frames = if frame_ms.len() > 1 { &frame_ms[1..] } else { frame_ms };
    let mut sorted = frames.to_vec();
    sorted.sort_by(f32::total_cmp);
    let quantile = |q: f32| sorted.get(((sorted.len().max(1) - 1) as f32 * q).round() as usize).copied();
    let lesson = teach.lesson.as_ref().map(|l| {
        let (first, last) = l.loss_first_last().unzip();
        serde_json::json!({
            "what": l.what,
            "iterations": l.iteration,
            "loss_first": first,
            "loss_last": last,
            "swaps": l.swaps,
            "seconds": l.seconds,
            "per_second": l.per_second,
            "memory_bytes": l.memory_bytes,
            "threads": l.threads,
            "backend": l.backend,
            "status": format!("{:?}", l.status),
            "losses": l.losses.iter().map(|(t, loss)| [*t as f64, *loss]).collect::<Vec<_>>(),
            "score_first": l.score_first,
            "score_last": l.score_last,
        })
    });
    serde_json::json!({
        "frames": frames.len(),
        "frame_ms": frames,
        "frame_ms_median": quantile(0.5),
        "frame_ms_p95": quantile(0.95),
        "teach": lesson,
    })
}
