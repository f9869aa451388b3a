//! The web build's side of the app: the page's loader (`web/index.html`) checks for WebGPU,
//! fetches the site's files with a progress bar and hands them over ([`add_site_file`]), then
//! calls [`start`] with the URL's query, which runs the same `nca run` as the command line.
//! While it runs, [`PagePlugin`] tells the page how it fares (the tab's title and
//! `globalThis.ncaStatus`), and brings in the files a person opens ([`open_file`]).

mod assets;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::window::{FileDragAndDrop, PrimaryWindow};
use wasm_bindgen::prelude::*;

pub use assets::site_source;

use crate::app::window::SandboxState;
use crate::scene::SandboxGrid;
use crate::scene::scenario::{ScenarioOutcome, ScenarioPlayer};
use crate::sim::CaGrid;

/// Files a person opened in the page, waiting for the app's next frame.
static OPENED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Adds a file of the site (`trained/…`, `assets/…`) before the app starts.
#[wasm_bindgen]
pub fn add_site_file(path: String, bytes: Vec<u8>) {
    crate::platform::site::add(Path::new(&path), bytes);
}

/// Starts the app as `nca run` with the options the URL query names; an `Err` is the one-line
/// reason it cannot (the page shows it and titles the tab `error: …`).
#[wasm_bindgen]
pub fn start(query: String) -> Result<(), JsValue> {
    std::panic::set_hook(Box::new(|info| {
        let message = format!("error: the app stopped: {info}");
        web_sys::console::error_1(&message.clone().into());
        set_status("error", &message);
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(&message);
        }
    }));
    let cli = crate::cli::url::parse_query(&query).map_err(|e| JsValue::from_str(&e))?;
    crate::cli::run(cli).map_err(|e| JsValue::from_str(&e))
}

/// A file a person opened (file picker or drag and drop): it joins the site under `opened/`
/// and reaches the app as a dropped file does natively, so the model library, the digits canvas
/// and the lessons take it exactly as they take a dropped file.
#[wasm_bindgen]
pub fn open_file(name: String, bytes: Vec<u8>) {
    let file_name = Path::new(&name).file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("unnamed"));
    let path = Path::new("opened").join(file_name);
    crate::platform::site::add(&path, bytes);
    OPENED.lock().unwrap_or_else(|e| e.into_inner()).push(path);
}

/// Times `iterations` iterations (after one to warm up) of the panel's default lesson — the
/// lizard, regenerating, on Burn's flex backend — on the page's one thread, in milliseconds per
/// iteration: the figure behind the README's choice for teaching in a page. Call it from the
/// console or `web/measure.mjs`; the scene stands still while it runs.
#[wasm_bindgen]
pub fn time_lesson_iterations(iterations: u32) -> Result<f64, JsValue> {
    use crate::train::teach::{Lesson, TeachDevice};
    let settings = crate::scene::teach::TeachSettings::default();
    let target = crate::model::target::Target::load(
        crate::model::files::bundled("assets/targets/lizard.png"),
        crate::model::target::DEFAULT_TARGET_SIZE,
        crate::model::target::DEFAULT_TARGET_PADDING,
    )
    .map_err(|e| JsValue::from_str(&e.to_string()))?;
    let config = crate::scene::teach::growing_lesson_config(&settings, crate::model::GrowingMode::Regenerating, "lizard".into());
    let mut run = Lesson::growing(config, target, None, TeachDevice::Cpu).and_then(Lesson::build).map_err(|e| JsValue::from_str(&e))?;
    run.step();
    let start = crate::platform::Instant::now();
    for _ in 0..iterations.max(1) {
        run.step();
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0 / iterations.max(1) as f64)
}

/// The page's side of a running app: its title, its status object, opened files.
pub struct PagePlugin;

impl Plugin for PagePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(PreUpdate, forward_opened_files).add_systems(Last, publish_status);
    }
}

fn forward_opened_files(windows: Query<Entity, With<PrimaryWindow>>, mut drops: MessageWriter<FileDragAndDrop>) {
    let opened: Vec<PathBuf> = std::mem::take(&mut *OPENED.lock().unwrap_or_else(|e| e.into_inner()));
    let Ok(window) = windows.single() else { return };
    for path_buf in opened {
        drops.write(FileDragAndDrop::DroppedFile { window, path_buf });
    }
}

/// Sets `globalThis.ncaStatus.state` and `.error` (the loader made the object).
fn set_status(state: &str, error: &str) {
    let status = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&status, &"state".into(), &state.into());
    let _ = js_sys::Reflect::set(&status, &"error".into(), &error.into());
    let _ = js_sys::Reflect::set(&js_sys::global(), &"ncaStatus".into(), &status);
}

/// `{ name, finished, step, alive: { region: living cells } }` of the playing scenario; `alive`
/// is filled once it has finished and the GPU has measured it.
fn scenario_status(player: &ScenarioPlayer, outcome: &ScenarioOutcome) -> JsValue {
    let status = js_sys::Object::new();
    let alive = js_sys::Object::new();
    for (region, count) in &outcome.alive {
        let _ = js_sys::Reflect::set(&alive, &region.as_str().into(), &(*count as f64).into());
    }
    let _ = js_sys::Reflect::set(&status, &"name".into(), &player.scene.scenario.name.as_str().into());
    let _ = js_sys::Reflect::set(&status, &"finished".into(), &player.finished.into());
    let _ = js_sys::Reflect::set(&status, &"step".into(), &outcome.step.into());
    let _ = js_sys::Reflect::set(&status, &"alive".into(), &alive);
    status.into()
}

/// Where the sandbox's grid is in the canvas, in CSS pixels: left, top, right, bottom.
fn grid_rect(
    cameras: &Query<(&Camera, &GlobalTransform)>,
    grids: &Query<(&CaGrid, &GlobalTransform), With<SandboxGrid>>,
) -> Option<[f32; 4]> {
    let (camera, camera_transform) = cameras.iter().next()?;
    let (grid, transform) = grids.iter().next()?;
    let corner = |cell: Vec2| {
        let world = crate::input::cell_to_world(grid, transform, cell);
        camera.world_to_viewport(camera_transform, world.extend(0.0)).ok()
    };
    let (a, b) = (corner(Vec2::ZERO)?, corner(Vec2::new(grid.width as f32, grid.height as f32))?);
    Some([a.x.min(b.x), a.y.min(b.y), a.x.max(b.x), a.y.max(b.y)])
}

/// What the page is told about the app.
#[derive(SystemParam)]
struct AppView<'w, 's> {
    grids: Query<'w, 's, &'static CaGrid>,
    cameras: Query<'w, 's, (&'static Camera, &'static GlobalTransform)>,
    sandbox: Query<'w, 's, (&'static CaGrid, &'static GlobalTransform), With<SandboxGrid>>,
    state: Option<Res<'w, State<SandboxState>>>,
    library: Res<'w, crate::library::ModelLibrary>,
    playback: Res<'w, crate::sim::Playback>,
    player: Option<Res<'w, ScenarioPlayer>>,
    outcome: Res<'w, ScenarioOutcome>,
}

/// Publishes the first grid's step in the tab's title (`nca-sandbox — step N`) and, for tests
/// and embedding pages, `globalThis.ncaStatus`: state, step, paused, frames, grids, the sandbox
/// grid's place in the canvas (`grid_rect`), the newest error the panel shows, and the playing
/// scenario's outcome.
fn publish_status(app: AppView, mut frames: Local<u64>, mut shown_step: Local<Option<u32>>) {
    *frames += 1;
    let running = app.state.is_some_and(|s| *s.get() == SandboxState::Running);
    let step = app.grids.iter().map(|g| g.step).next();
    let error = app.library.messages.iter().rev().find(|m| m.is_error).map(|m| m.text.clone()).unwrap_or_default();
    let status = js_sys::Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = js_sys::Reflect::set(&status, &key.into(), &value);
    };
    set("state", if running { "running" } else { "loading" }.into());
    set("step", step.unwrap_or(0).into());
    set("paused", app.playback.paused.into());
    set("frames", (*frames as f64).into());
    set("grids", (app.grids.iter().count() as u32).into());
    set("error", error.into());
    if let Some(player) = &app.player {
        set("scenario", scenario_status(player, &app.outcome));
    }
    if let Some(rect) = grid_rect(&app.cameras, &app.sandbox) {
        set("grid_rect", js_sys::Array::from_iter(rect.iter().map(|&v| JsValue::from(v))).into());
    }
    let _ = js_sys::Reflect::set(&js_sys::global(), &"ncaStatus".into(), &status);
    let due = (*frames).is_multiple_of(5) || shown_step.is_none();
    if running && step.is_some() && due && *shown_step != step {
        *shown_step = step;
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(&format!("nca-sandbox — step {}", step.unwrap_or(0)));
        }
    }
}
