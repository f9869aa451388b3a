//! The window's side of an exhibit: the heartbeat it writes from its frame loop, the control
//! lines it reads from the supervisor (`next`, `previous`, `open`, `close`), the closed look
//! (dimmed and still, the GPU resting), a clean exit on a lost GPU device, and the faults tests
//! inject (`NCA_FAULT=device-lost@FRAME`, `freeze@FRAME`).

use std::path::PathBuf;
use std::time::Duration;

use bevy::prelude::*;
use bevy::render::error_handler::{ErrorType, RenderErrorHandler, RenderErrorPolicy};
use bevy::winit::{UpdateMode, WinitSettings};
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::heartbeat::Heartbeat;
use super::installation::ClosedLook;
use crate::scene::SandboxGrid;
use crate::sim::{CaGrid, NcaModel, Playback};

/// The environment variable that injects a fault into a window (tests of the supervisor).
pub const FAULT_ENV: &str = "NCA_FAULT";

/// How a window of an exhibit runs (`nca run`'s hidden exhibit flags).
#[derive(Resource, Clone, Debug, Default)]
pub struct ExhibitWindow {
    /// Where to write the heartbeat.
    pub heartbeat: Option<PathBuf>,
    /// Outside opening hours: how the screen looks (`None`: open).
    pub closed: Option<ClosedLook>,
}

/// Everything a supervisor sets on its window (`nca run`'s hidden exhibit flags).
#[derive(Clone, Debug, Default)]
pub struct ExhibitOptions {
    /// The heartbeat and the closed look.
    pub window: ExhibitWindow,
    /// The kiosk starts over after this many idle seconds (default: the installation's 120).
    pub idle_reset_seconds: Option<f32>,
    /// The kiosk plays by itself after this many idle seconds (default: 20).
    pub self_play_seconds: Option<f32>,
    /// The fullscreen window's monitor (default: the primary).
    pub monitor: Option<u32>,
    /// Quarter turns of the picture, in degrees.
    pub screen_rotation: u32,
    /// A window instead of fullscreen.
    pub windowed: bool,
    /// The supervisor's health report, for the operator's menu.
    pub status: Option<PathBuf>,
}

impl ExhibitOptions {
    /// The window mode a kiosk opens in.
    pub fn window_mode(&self) -> bevy::window::WindowMode {
        use bevy::window::{MonitorSelection, WindowMode};
        if self.windowed {
            return WindowMode::Windowed;
        }
        WindowMode::BorderlessFullscreen(self.monitor.map_or(MonitorSelection::Primary, |m| MonitorSelection::Index(m as usize)))
    }
}

/// Turns the picture for a portrait screen.
#[derive(Resource, Clone, Copy)]
struct ScreenRotation(u32);

fn rotate_camera(rotation: Option<Res<ScreenRotation>>, mut cameras: Query<&mut Transform, Added<Camera2d>>) {
    let Some(rotation) = rotation else { return };
    for mut transform in &mut cameras {
        transform.rotation = Quat::from_rotation_z(-(rotation.0 as f32).to_radians());
    }
}

/// A fault to inject at a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Exit as on a lost GPU device.
    DeviceLost(u64),
    /// Stop the frame loop for good (a deadlock, a hung driver).
    Freeze(u64),
}

impl Fault {
    /// The fault of [`FAULT_ENV`], if it is set and well-formed.
    pub fn from_env() -> Option<Self> {
        let text = std::env::var(FAULT_ENV).ok()?;
        let (kind, frame) = text.split_once('@').unwrap_or((&text, "60"));
        let frame = frame.parse().ok()?;
        match kind {
            "device-lost" => Some(Self::DeviceLost(frame)),
            "freeze" => Some(Self::Freeze(frame)),
            _ => None,
        }
    }
}

/// Control lines from the supervisor.
#[derive(Resource)]
struct ControlLines(crossbeam_channel::Receiver<String>);

/// Why the window is about to exit on a render error, for the command line's last word.
pub static RENDER_FAILURE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// The window's exhibit behaviour.
pub struct ExhibitWindowPlugin;

impl ExhibitWindowPlugin {
    /// Sets the window's exhibit behaviour on `app` (its resources: the plugin adds the systems).
    pub fn configure(app: &mut App, options: &ExhibitOptions) {
        app.insert_resource(options.window.clone());
        // The operator's menu opens on a kiosk run by a supervisor, or one given a PIN.
        let pin = std::env::var(crate::ui::operator::PIN_ENV).ok().filter(|p| !p.is_empty());
        app.insert_resource(crate::ui::operator::OperatorSettings { pin, status: options.status.clone() });
        if !options.screen_rotation.is_multiple_of(360) {
            app.insert_resource(ScreenRotation(options.screen_rotation % 360));
        }
    }
}

impl Plugin for ExhibitWindowPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ExhibitWindow>()
            .add_systems(PostStartup, rotate_camera)
            .insert_resource(RenderErrorHandler(exit_on_render_error))
            .add_systems(Startup, read_control_lines)
            .add_systems(Update, (apply_control_lines, write_heartbeat, inject_fault, rest_when_closed).chain())
            .add_systems(EguiPrimaryContextPass, draw_closed_look);
    }
}

/// Any render error (a lost device first of all) ends the window with its reason and
/// [`crate::app::DEVICE_LOST_EXIT`], so a supervisor starts a fresh one on a fresh device.
fn exit_on_render_error(error: &bevy::render::error_handler::RenderError, main_world: &mut World, _: &mut World) -> RenderErrorPolicy {
    let what = match error.ty {
        ErrorType::DeviceLost => "GPU device lost",
        ErrorType::OutOfMemory => "GPU out of memory",
        _ => "GPU error",
    };
    let reason = format!("{what}: {}", error.description.lines().next().unwrap_or(""));
    error!("{reason}");
    if let Ok(mut slot) = RENDER_FAILURE.lock() {
        *slot = Some(reason);
    }
    main_world.write_message(AppExit::from_code(crate::app::DEVICE_LOST_EXIT));
    RenderErrorPolicy::StopRendering
}

fn read_control_lines(mut commands: Commands, exhibit: Res<ExhibitWindow>) {
    if exhibit.heartbeat.is_none() {
        return;
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    // A blocking read has a thread of its own; it ends with the supervisor's pipe.
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            if tx.send(line.trim().to_string()).is_err() {
                break;
            }
            line.clear();
        }
    });
    commands.insert_resource(ControlLines(rx));
}

fn apply_control_lines(
    lines: Option<Res<ControlLines>>,
    mut exhibit: ResMut<ExhibitWindow>,
    mut jumps: MessageWriter<crate::scene::scenario::PlaylistJump>,
    mut scene: MessageWriter<crate::scene::SceneCommand>,
    playlist: Option<Res<crate::scene::scenario::Playlist>>,
    mut closed_look: Local<Option<ClosedLook>>,
) {
    let Some(lines) = lines else { return };
    for line in lines.0.try_iter() {
        match line.as_str() {
            "next" | "previous" if playlist.is_some() => {
                jumps.write(crate::scene::scenario::PlaylistJump(if line == "next" { 1 } else { -1 }));
            }
            "next" | "previous" => {
                scene.write(crate::scene::SceneCommand::Reset);
            }
            "close" => exhibit.closed = Some(closed_look.unwrap_or_default()),
            "open" => {
                *closed_look = exhibit.closed.or(*closed_look);
                exhibit.closed = None;
            }
            other => warn!("exhibit: unknown control line '{other}'"),
        }
    }
}

/// What the heartbeat needs to know, gathered once a frame.
#[derive(Default)]
struct Beat {
    frame: u64,
    since_write: f32,
    frames_since: u32,
    steps_at_write: u64,
}

#[allow(clippy::too_many_arguments)]
fn write_heartbeat(
    exhibit: Res<ExhibitWindow>,
    time: Res<Time<Real>>,
    grids: Query<&CaGrid, With<SandboxGrid>>,
    models: Res<Assets<NcaModel>>,
    library: Res<crate::library::ModelLibrary>,
    player: Option<Res<crate::scene::scenario::ScenarioPlayer>>,
    adapter: Option<Res<bevy::render::renderer::RenderAdapterInfo>>,
    mut beat: Local<Beat>,
) {
    let Some(path) = &exhibit.heartbeat else { return };
    beat.frame += 1;
    beat.frames_since += 1;
    beat.since_write += time.delta_secs();
    if beat.since_write < 0.5 && beat.frame > 1 {
        return;
    }
    let grid = grids.iter().next();
    let step = grid.map_or(0, |g| g.step as u64);
    let model_name = grid
        .and_then(|g| library.entries.iter().find(|e| e.handle.id() == g.model.id()))
        .map(|e| e.name.clone())
        .or_else(|| grid.filter(|g| models.contains(&g.model)).map(|_| "in memory".to_string()))
        .unwrap_or_default();
    let scene = player.as_ref().map(|p| p.scene.scenario.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| model_name.clone());
    let seconds = beat.since_write.max(1e-3);
    let heartbeat = Heartbeat {
        pid: std::process::id(),
        frame: beat.frame,
        step,
        fps: beat.frames_since as f32 / seconds,
        steps_per_s: step.saturating_sub(beat.steps_at_write) as f32 / seconds,
        scene,
        model: model_name,
        grid: grid.map_or([0, 0], |g| [g.width, g.height]),
        adapter: adapter.as_ref().map(|a| a.0.name.clone()).unwrap_or_default(),
        backend: adapter.as_ref().map(|a| format!("{:?}", a.0.backend)).unwrap_or_default(),
        rss_mb: crate::app::resident_mb().unwrap_or(0.0),
        open: exhibit.closed.is_none(),
        errors: last_errors(&library, 5),
    };
    if let Err(e) = heartbeat.write(path) {
        warn!("exhibit: the heartbeat was not written: {e}");
    }
    (beat.since_write, beat.frames_since, beat.steps_at_write) = (0.0, 0, step);
}

/// The last `n` errors the library logged, oldest first.
fn last_errors(library: &crate::library::ModelLibrary, n: usize) -> Vec<String> {
    let errors: Vec<String> = library.messages.iter().filter(|m| m.is_error).map(|m| m.text.clone()).collect();
    errors[errors.len().saturating_sub(n)..].to_vec()
}

fn inject_fault(mut frame: Local<u64>, mut fault: Local<Option<Option<Fault>>>, mut exit: MessageWriter<AppExit>) {
    *frame += 1;
    match *fault.get_or_insert_with(Fault::from_env) {
        Some(Fault::DeviceLost(at)) if *frame == at => {
            error!("GPU device lost (injected by {FAULT_ENV})");
            if let Ok(mut slot) = RENDER_FAILURE.lock() {
                *slot = Some("GPU device lost (injected)".into());
            }
            exit.write(AppExit::from_code(crate::app::DEVICE_LOST_EXIT));
        }
        Some(Fault::Freeze(at)) if *frame >= at => loop {
            // The frame loop stops here for good, as it would on a hung driver or a deadlock.
            std::thread::sleep(Duration::from_secs(3600));
        },
        _ => {}
    }
}

/// Closed: the simulation pauses and the window wakes once a second (enough for the heartbeat),
/// so the GPU rests; open: back to every frame.
fn rest_when_closed(
    exhibit: Res<ExhibitWindow>,
    mut playback: ResMut<Playback>,
    mut winit: ResMut<WinitSettings>,
    mut was_closed: Local<bool>,
) {
    let closed = exhibit.closed.is_some();
    if closed {
        // Held every frame: a playlist moving on would otherwise play again.
        playback.paused = true;
    }
    if closed == *was_closed {
        return;
    }
    *was_closed = closed;
    playback.paused = closed;
    let mode = if closed { UpdateMode::reactive_low_power(Duration::from_secs(1)) } else { UpdateMode::Continuous };
    (winit.focused_mode, winit.unfocused_mode) = (mode, mode);
}

fn draw_closed_look(exhibit: Res<ExhibitWindow>, mut contexts: EguiContexts) {
    let Some(look) = exhibit.closed else { return };
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let alpha = match look {
        ClosedLook::Dim => 200,
        ClosedLook::Blank => 255,
    };
    let screen = ctx.content_rect();
    ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::new("exhibit-closed"))).rect_filled(
        screen,
        0.0,
        egui::Color32::from_black_alpha(alpha),
    );
}

/// The calm screen of an exhibit whose scenes keep failing: no model, no compute, only words,
/// so there is as little left to fail as a window can have.
pub fn run_out_of_order(exhibit: ExhibitWindow, windowed: bool) -> AppExit {
    let mode = if windowed {
        bevy::window::WindowMode::Windowed
    } else {
        bevy::window::WindowMode::BorderlessFullscreen(bevy::window::MonitorSelection::Primary)
    };
    App::new()
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window { title: "nca-sandbox — out of order".into(), mode, ..default() }),
            ..default()
        }))
        .add_plugins(bevy_egui::EguiPlugin::default())
        .insert_resource(ClearColor(Color::srgb(0.08, 0.09, 0.11)))
        .insert_resource(RenderErrorHandler(exit_on_render_error))
        .insert_resource(exhibit)
        .insert_resource(WinitSettings {
            focused_mode: UpdateMode::reactive_low_power(Duration::from_secs(1)),
            unfocused_mode: UpdateMode::reactive_low_power(Duration::from_secs(1)),
        })
        .add_systems(Startup, |mut commands: Commands| {
            commands.spawn(Camera2d);
        })
        .add_systems(Update, (write_heartbeat_out_of_order, inject_fault))
        .add_systems(EguiPrimaryContextPass, draw_out_of_order)
        .run()
}

fn write_heartbeat_out_of_order(exhibit: Res<ExhibitWindow>, mut frame: Local<u64>, time: Res<Time<Real>>, mut since: Local<f32>) {
    *frame += 1;
    *since += time.delta_secs();
    let Some(path) = &exhibit.heartbeat else { return };
    if *since < 0.5 && *frame > 1 {
        return;
    }
    *since = 0.0;
    let beat = Heartbeat { pid: std::process::id(), frame: *frame, scene: "out of order".into(), open: true, ..default() };
    let _ = beat.write(path);
}

fn draw_out_of_order(mut contexts: EguiContexts) {
    let Ok(ctx) = contexts.ctx_mut() else { return };
    egui::Area::new(egui::Id::new("out-of-order")).anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0]).show(ctx, |ui| {
        ui.vertical_centered(|ui| {
            ui.label(egui::RichText::new("This exhibit is resting.").size(40.0).color(egui::Color32::from_gray(220)));
            ui.label(egui::RichText::new("The staff know, and it will be back soon.").size(22.0).color(egui::Color32::from_gray(160)));
        });
    });
}
