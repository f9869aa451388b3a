//! Input: mouse, touch and keys become tool strokes, and strokes become grid edits.
//!
//! Two layers, so tools work the same for a mouse, a finger, or a test:
//! - the device layer (`mouse_pointer`, `touch_pointers`, camera pan and zoom, shortcuts)
//!   turns raw input into [`PointerInput`] messages in world coordinates;
//! - the tool layer (`apply_tools`) turns those into [`Edit`] commands queued on the grid
//!   under the pointer (a stroke stays on the grid it started on). Only those small commands
//!   reach the GPU. What a tool does depends on the grid's kind: the pen draws MNIST digits,
//!   seeds are for growing models.

pub mod monkey;
use std::collections::HashMap;

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::input::touch::Touches;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;

use crate::library::ModelLibrary;
use crate::model::ModelKind;
use crate::model::grid::Edit;
use crate::model::kind::EditKind;
use crate::scene::kiosk::Interaction;
use crate::scene::{SandboxGrid, SceneCommand, SceneSettings, next_view};
use crate::sim::{CaGrid, GridEdits, NcaModel, Playback, SimSystems};

/// What a press does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tool {
    /// Erase a disc under the pointer; dragging erases along the path.
    #[default]
    Erase,
    /// Drag a line; on release a thin cut is erased along it.
    Cut,
    /// Plant a seed of the grid's model (growing).
    Seed,
    /// Growing: plant a seed of the chosen species model. MNIST: turn the cells under the
    /// pointer into the chosen species (an adversary, say).
    Species,
    /// Draw with a soft round pen (MNIST).
    Draw,
    /// Drag to pan; two fingers pinch to zoom.
    Move,
}

impl Tool {
    /// Every tool with its shortcut and label, in panel order.
    pub const ALL: [(Tool, KeyCode, &'static str); 6] = [
        (Tool::Draw, KeyCode::KeyD, "Draw"),
        (Tool::Erase, KeyCode::KeyE, "Erase"),
        (Tool::Cut, KeyCode::KeyC, "Cut"),
        (Tool::Seed, KeyCode::KeyS, "Seed"),
        (Tool::Species, KeyCode::KeyX, "Species"),
        (Tool::Move, KeyCode::KeyM, "Move"),
    ];

    /// Whether the tool means anything on a grid of `kind` (the panel offers only these).
    pub fn works_on(self, kind: ModelKind) -> bool {
        let edits = kind.layout().edits;
        match self {
            Tool::Erase | Tool::Cut | Tool::Move => true,
            Tool::Seed => edits.contains(&EditKind::Seed),
            Tool::Draw => edits.contains(&EditKind::Draw),
            Tool::Species => edits.contains(&EditKind::Seed) || edits.contains(&EditKind::PaintSpecies),
        }
    }
}

/// Tool settings, edited by the panel and the keyboard.
#[derive(Resource, Clone, Debug)]
pub struct ToolSettings {
    /// The active tool.
    pub tool: Tool,
    /// Erase brush radius, in cells.
    pub brush_radius: f32,
    /// Pen radius, in cells (the Distill demo's pen is 2–5 cells wide).
    pub pen_radius: f32,
    /// Width of a cut, in cells.
    pub cut_width: f32,
    /// The model the species tool plants (none: the grid's own).
    pub species_model: Option<Handle<NcaModel>>,
    /// Two presses closer than this (seconds) are a double-click, which plants a seed.
    pub double_click_seconds: f64,
    /// … and no farther apart than this, in cells.
    pub double_click_cells: f32,
    /// How long a brush outline stays visible, in seconds.
    pub mark_seconds: f32,
}

impl Default for ToolSettings {
    fn default() -> Self {
        Self {
            tool: Tool::Erase,
            brush_radius: 8.0,
            pen_radius: 1.5,
            cut_width: 1.5,
            species_model: None,
            double_click_seconds: 0.35,
            double_click_cells: 3.0,
            mark_seconds: 0.6,
        }
    }
}

/// Where a pointer is in its press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointerPhase {
    /// Went down.
    Pressed,
    /// Moved while down.
    Moved,
    /// Went up.
    Released,
}

/// One pointer (the mouse, or one finger) in world coordinates: what tools consume.
#[derive(Message, Clone, Copy, Debug, PartialEq)]
pub struct PointerInput {
    /// 0 for the mouse, 1 + the touch id for fingers.
    pub pointer: u64,
    /// What happened.
    pub phase: PointerPhase,
    /// Where, in world units.
    pub world: Vec2,
}

/// An outline of what a tool just hit, fading out (drawn by the panel's overlay).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MarkShape {
    /// An erased disc (world units).
    Disc {
        /// Centre.
        center: Vec2,
        /// Radius.
        radius: f32,
    },
    /// A cut, or a cut being dragged (world units).
    Line {
        /// Start.
        from: Vec2,
        /// End.
        to: Vec2,
    },
    /// A planted seed.
    Seed {
        /// Where.
        at: Vec2,
    },
}

/// Fading outlines of recent strokes.
#[derive(Resource, Default, Debug)]
pub struct BrushMarks {
    /// Shapes and their age in seconds.
    pub marks: Vec<(MarkShape, f32)>,
}

/// System sets of input handling, in `Update`.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum InputSystems {
    /// Raw devices → [`PointerInput`], camera, shortcuts.
    Devices,
    /// [`PointerInput`] → edits (inside [`SimSystems::Edit`]).
    Tools,
}

/// Pointer, touch and keyboard input for the sandbox.
pub struct ToolsPlugin;

impl Plugin for ToolsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ToolSettings>()
            .init_resource::<BrushMarks>()
            .add_message::<PointerInput>()
            .configure_sets(Update, (InputSystems::Devices, InputSystems::Tools.in_set(SimSystems::Edit)).chain())
            .add_plugins(monkey::MonkeyPlugin)
            .add_systems(Update, apply_tools.in_set(InputSystems::Tools))
            .add_systems(Update, age_marks);
    }
}

/// The window's devices: mouse, touch, wheel, keys (the windowed app adds this; tests send
/// [`PointerInput`] directly).
pub struct DeviceInputPlugin;

impl Plugin for DeviceInputPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, (mouse_pointer, touch_pointers, pan_and_zoom, keyboard_shortcuts).in_set(InputSystems::Devices));
    }
}

/// The cell coordinates (continuous, `(0, 0)` = top-left corner) of a world point on a grid
/// drawn centred on `transform` with `transform.scale.x` world units per cell.
pub fn world_to_cell(grid: &CaGrid, transform: &GlobalTransform, world: Vec2) -> Vec2 {
    let local = transform.affine().inverse().transform_point3(world.extend(0.0));
    Vec2::new(local.x + grid.width as f32 / 2.0, grid.height as f32 / 2.0 - local.y)
}

/// The world point of cell coordinates (inverse of [`world_to_cell`]).
pub fn cell_to_world(grid: &CaGrid, transform: &GlobalTransform, cell: Vec2) -> Vec2 {
    let local = Vec3::new(cell.x - grid.width as f32 / 2.0, grid.height as f32 / 2.0 - cell.y, 0.0);
    transform.transform_point(local).truncate()
}

#[derive(Clone, Copy, Debug)]
struct Stroke {
    /// The grid the stroke started on; it stays there.
    grid: Entity,
    start: Vec2,
    last: Vec2,
}

#[derive(Default)]
struct ToolState {
    strokes: HashMap<u64, Stroke>,
    /// The species each pointer's species stroke paints (MNIST).
    painting: HashMap<u64, u32>,
    last_press: Option<(f64, Vec2)>,
}

/// The topmost grid under `world`, and the cell coordinates there.
fn grid_under(grids: &Query<(Entity, &mut CaGrid, &GlobalTransform, &mut GridEdits)>, world: Vec2) -> Option<(Entity, Vec2)> {
    grids
        .iter()
        .filter_map(|(entity, grid, transform, _)| {
            let cell = world_to_cell(grid, transform, world);
            grid.contains(cell).then_some((entity, cell, transform.translation().z))
        })
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .map(|(entity, cell, _)| (entity, cell))
}

/// Turns pointer strokes into edits on the grid under the pointer.
#[allow(clippy::too_many_arguments)]
fn apply_tools(
    mut inputs: MessageReader<PointerInput>,
    time: Res<Time<Real>>,
    settings: Res<ToolSettings>,
    models: Res<Assets<NcaModel>>,
    mut library: Option<ResMut<ModelLibrary>>,
    mut marks: ResMut<BrushMarks>,
    mut state: Local<ToolState>,
    mut grids: Query<(Entity, &mut CaGrid, &GlobalTransform, &mut GridEdits)>,
    mut interactions: MessageWriter<Interaction>,
) {
    let now = time.elapsed_secs_f64();
    for input in inputs.read() {
        interactions.write(Interaction);
        let target = match input.phase {
            PointerPhase::Pressed => grid_under(&grids, input.world).map(|(entity, _)| entity),
            _ => state.strokes.get(&input.pointer).map(|s| s.grid),
        };
        let Some(entity) = target else {
            state.strokes.remove(&input.pointer);
            continue;
        };
        let Ok((_, mut grid, transform, mut edits)) = grids.get_mut(entity) else { continue };
        let Some(kind) = grid.kind(&models) else { continue };
        let cell = world_to_cell(&grid, transform, input.world);
        let cells_per_world = 1.0 / transform.scale().x.max(1e-6);
        let stamp = |edits: &mut GridEdits, marks: &mut BrushMarks, at: Vec2| {
            let world = cell_to_world(&grid, transform, at);
            match settings.tool {
                Tool::Draw => {
                    edits.push(Edit::Draw { center: at.to_array(), radius: settings.pen_radius, species: 0 });
                    marks.marks.push((MarkShape::Disc { center: world, radius: settings.pen_radius / cells_per_world }, 0.0));
                }
                _ => erase_disc(edits, marks, at, settings.brush_radius, world, cells_per_world),
            }
        };
        match input.phase {
            PointerPhase::Pressed => {
                let double = state
                    .last_press
                    .is_some_and(|(t, at)| now - t <= settings.double_click_seconds && at.distance(cell) <= settings.double_click_cells);
                state.last_press = Some((now, cell));
                state.strokes.insert(input.pointer, Stroke { grid: entity, start: cell, last: cell });
                let seeds = kind.layout().edits.contains(&EditKind::Seed);
                match settings.tool {
                    Tool::Species => {
                        let Some(species) = species_for(&mut grid, settings.species_model.as_ref(), kind, &models, library.as_deref_mut())
                        else {
                            continue;
                        };
                        if seeds {
                            edits.push(Edit::PlantSeed { x: cell.x as u32, y: cell.y as u32, species });
                            marks.marks.push((MarkShape::Seed { at: input.world }, 0.0));
                        } else {
                            // The paper's adversaries are single cells among the digit's: the
                            // brush takes the one cell under the pointer (dragging, each one
                            // along the path).
                            state.painting.insert(input.pointer, species);
                            paint_cell(&mut edits, &mut marks, cell, species, input.world, cells_per_world);
                        }
                    }
                    Tool::Seed | Tool::Erase if seeds && (double || settings.tool == Tool::Seed) => {
                        state.last_press = None;
                        edits.push(Edit::PlantSeed { x: cell.x as u32, y: cell.y as u32, species: 0 });
                        marks.marks.push((MarkShape::Seed { at: input.world }, 0.0));
                    }
                    Tool::Erase | Tool::Draw => stamp(&mut edits, &mut marks, cell),
                    _ => {}
                }
            }
            PointerPhase::Moved => {
                let painting = state.painting.get(&input.pointer).copied();
                let Some(stroke) = state.strokes.get_mut(&input.pointer) else { continue };
                match settings.tool {
                    Tool::Erase | Tool::Draw => {
                        // Stamps every half radius along the path: a continuous swath however
                        // fast the pointer moved between two events.
                        let radius = if settings.tool == Tool::Draw { settings.pen_radius } else { settings.brush_radius };
                        let spacing = (radius * 0.5).max(0.5);
                        let steps = (stroke.last.distance(cell) / spacing).ceil().max(1.0) as u32;
                        for i in 1..=steps {
                            stamp(&mut edits, &mut marks, stroke.last.lerp(cell, i as f32 / steps as f32));
                        }
                    }
                    Tool::Species if let Some(species) = painting => {
                        let steps = (stroke.last.distance(cell) / 0.5).ceil().max(1.0) as u32;
                        for i in 1..=steps {
                            let at = stroke.last.lerp(cell, i as f32 / steps as f32);
                            paint_cell(&mut edits, &mut marks, at, species, cell_to_world(&grid, transform, at), cells_per_world);
                        }
                    }
                    Tool::Cut => {
                        let from = cell_to_world(&grid, transform, stroke.start);
                        marks.marks.retain(|(m, age)| !(matches!(m, MarkShape::Line { .. }) && *age == 0.0));
                        marks.marks.push((MarkShape::Line { from, to: input.world }, 0.0));
                    }
                    _ => {}
                }
                stroke.last = cell;
            }
            PointerPhase::Released => {
                state.painting.remove(&input.pointer);
                let Some(stroke) = state.strokes.remove(&input.pointer) else { continue };
                if settings.tool == Tool::Cut {
                    let radius = settings.cut_width / 2.0;
                    let steps = (stroke.start.distance(cell) / (radius * 0.5).max(0.25)).ceil().max(1.0) as u32;
                    for i in 0..=steps {
                        let at = stroke.start.lerp(cell, i as f32 / steps as f32);
                        edits.push(Edit::EraseDisc { center: at.to_array(), radius });
                    }
                    let from = cell_to_world(&grid, transform, stroke.start);
                    marks.marks.push((MarkShape::Line { from, to: input.world }, 0.01));
                }
            }
        }
    }
}

/// The species id of the species tool's model in `grid` (added as a new species if needed), or
/// `None` with a message in the panel when it cannot join the grid.
fn species_for(
    grid: &mut CaGrid,
    model: Option<&Handle<NcaModel>>,
    kind: ModelKind,
    models: &Assets<NcaModel>,
    library: Option<&mut ModelLibrary>,
) -> Option<u32> {
    let Some(model) = model else { return Some(0) };
    match models.get(model).map(|m| m.weights.kind()) {
        Some(other) if other != kind => {
            if let Some(library) = library {
                library.error(format!("a {other} model cannot share a {kind} grid: pick a {kind} model for the species tool"));
            }
            None
        }
        _ => Some(grid.species_of(model)),
    }
}

/// Sets the species of the one cell under `at` and marks it.
fn paint_cell(edits: &mut GridEdits, marks: &mut BrushMarks, at: Vec2, species: u32, world: Vec2, cells_per_world: f32) {
    let center = [at.x.floor() + 0.5, at.y.floor() + 0.5];
    edits.push(Edit::PaintSpecies { center, radius: 0.5, species });
    marks.marks.push((MarkShape::Disc { center: world, radius: 0.6 / cells_per_world }, 0.0));
}

fn erase_disc(edits: &mut GridEdits, marks: &mut BrushMarks, cell: Vec2, radius: f32, world: Vec2, cells_per_world: f32) {
    edits.push(Edit::EraseDisc { center: cell.to_array(), radius });
    marks.marks.push((MarkShape::Disc { center: world, radius: radius / cells_per_world }, 0.0));
}

fn age_marks(time: Res<Time<Real>>, settings: Res<ToolSettings>, mut marks: ResMut<BrushMarks>) {
    let dt = time.delta_secs().max(1e-4);
    marks.marks.iter_mut().for_each(|(_, age)| *age += dt);
    marks.marks.retain(|(_, age)| *age < settings.mark_seconds);
}

fn cursor_world(camera: &Camera, camera_transform: &GlobalTransform, screen: Vec2) -> Option<Vec2> {
    camera.viewport_to_world_2d(camera_transform, screen).ok()
}

/// Left mouse button → pointer 0 (ignored while the pointer is over the panel).
fn mouse_pointer(
    buttons: Res<ButtonInput<MouseButton>>,
    windows: Query<&Window, With<PrimaryWindow>>,
    cameras: Query<(&Camera, &GlobalTransform)>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    settings: Res<ToolSettings>,
    mut last: Local<Option<Vec2>>,
    mut out: MessageWriter<PointerInput>,
) {
    let (Ok(window), Some((camera, camera_transform))) = (windows.single(), cameras.iter().next()) else { return };
    let Some(screen) = window.cursor_position() else { return };
    let Some(world) = cursor_world(camera, camera_transform, screen) else { return };
    let over_panel = egui.is_some_and(|e| e.wants_any_pointer_input());
    if settings.tool == Tool::Move {
        return;
    }
    if buttons.just_pressed(MouseButton::Left) && !over_panel {
        out.write(PointerInput { pointer: 0, phase: PointerPhase::Pressed, world });
        *last = Some(world);
    } else if buttons.pressed(MouseButton::Left) && last.is_some_and(|l| l != world) {
        out.write(PointerInput { pointer: 0, phase: PointerPhase::Moved, world });
        *last = Some(world);
    }
    if buttons.just_released(MouseButton::Left) && last.take().is_some() {
        out.write(PointerInput { pointer: 0, phase: PointerPhase::Released, world });
    }
}

/// Every finger is its own pointer (so with the erase tool every finger erases). With the move
/// tool, fingers pan and pinch instead (see `pan_and_zoom`).
fn touch_pointers(
    touches: Res<Touches>,
    cameras: Query<(&Camera, &GlobalTransform)>,
    windows: Query<&Window, With<PrimaryWindow>>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    settings: Res<ToolSettings>,
    mut out: MessageWriter<PointerInput>,
) {
    let (Ok(_), Some((camera, camera_transform))) = (windows.single(), cameras.iter().next()) else { return };
    if settings.tool == Tool::Move {
        return;
    }
    let over_panel = egui.is_some_and(|e| e.wants_any_pointer_input());
    for touch in touches.iter_just_pressed() {
        if !over_panel && let Some(world) = cursor_world(camera, camera_transform, touch.position()) {
            out.write(PointerInput { pointer: 1 + touch.id(), phase: PointerPhase::Pressed, world });
        }
    }
    for touch in touches.iter() {
        if touch.delta() != Vec2::ZERO
            && let Some(world) = cursor_world(camera, camera_transform, touch.position())
        {
            out.write(PointerInput { pointer: 1 + touch.id(), phase: PointerPhase::Moved, world });
        }
    }
    for touch in touches.iter_just_released() {
        if let Some(world) = cursor_world(camera, camera_transform, touch.position()) {
            out.write(PointerInput { pointer: 1 + touch.id(), phase: PointerPhase::Released, world });
        }
    }
}

/// Right or middle drag (or left with the move tool, or one finger with it) pans; the wheel
/// (or a two-finger pinch with the move tool) zooms. `0` resets the view.
#[allow(clippy::too_many_arguments)]
fn pan_and_zoom(
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    touches: Res<Touches>,
    settings: Res<ToolSettings>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut cameras: Query<(&mut Transform, &mut Projection), With<Camera2d>>,
) {
    let Some((mut transform, mut projection)) = cameras.iter_mut().next() else { return };
    let Projection::Orthographic(ortho) = &mut *projection else { return };
    let over_panel = egui.is_some_and(|e| e.wants_any_pointer_input());
    let dragging = buttons.pressed(MouseButton::Right)
        || buttons.pressed(MouseButton::Middle)
        || (settings.tool == Tool::Move && buttons.pressed(MouseButton::Left));
    if dragging && !over_panel {
        transform.translation.x -= motion.delta.x * ortho.scale;
        transform.translation.y += motion.delta.y * ortho.scale;
    }
    if !over_panel && scroll.delta.y != 0.0 {
        let notches = match scroll.unit {
            MouseScrollUnit::Line => scroll.delta.y,
            MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
        };
        ortho.scale = (ortho.scale * 0.9f32.powf(notches)).clamp(0.02, 10.0);
    }
    if settings.tool == Tool::Move {
        let fingers: Vec<_> = touches.iter().collect();
        if fingers.len() == 1 {
            let d = fingers[0].delta();
            transform.translation.x -= d.x * ortho.scale;
            transform.translation.y += d.y * ortho.scale;
        } else if fingers.len() >= 2 {
            let now = fingers[0].position().distance(fingers[1].position());
            let before = (fingers[0].position() - fingers[0].delta()).distance(fingers[1].position() - fingers[1].delta());
            if now > 1.0 && before > 1.0 {
                ortho.scale = (ortho.scale * before / now).clamp(0.02, 10.0);
            }
        }
    }
    if keys.just_pressed(KeyCode::Digit0) {
        ortho.scale = 1.0;
        transform.translation = Vec3::ZERO;
    }
}

/// Every control has a key (listed in the panel): tools D/E/C/S/X/M, Space play/pause, N
/// single step, R reset, +/- speed, [ ] brush size, V view, B background, H panel, F fullscreen.
#[allow(clippy::too_many_arguments)]
fn keyboard_shortcuts(
    keys: Res<ButtonInput<KeyCode>>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut tools: ResMut<ToolSettings>,
    mut playback: ResMut<Playback>,
    mut scene: ResMut<SceneSettings>,
    models: Res<Assets<NcaModel>>,
    grids: Query<&CaGrid, With<SandboxGrid>>,
    mut commands: MessageWriter<SceneCommand>,
) {
    if egui.is_some_and(|e| e.wants_any_keyboard_input()) {
        return;
    }
    for (tool, key, _) in Tool::ALL {
        if keys.just_pressed(key) {
            tools.tool = tool;
        }
    }
    if keys.just_pressed(KeyCode::Space) {
        playback.paused = !playback.paused;
    }
    if keys.just_pressed(KeyCode::KeyN) {
        playback.single_steps += 1;
    }
    if keys.just_pressed(KeyCode::KeyR) {
        commands.write(SceneCommand::Reset);
    }
    if keys.any_just_pressed([KeyCode::Equal, KeyCode::NumpadAdd]) {
        playback.speed = playback.speed.step(true);
    }
    if keys.any_just_pressed([KeyCode::Minus, KeyCode::NumpadSubtract]) {
        playback.speed = playback.speed.step(false);
    }
    if keys.just_pressed(KeyCode::BracketRight) {
        tools.brush_radius = (tools.brush_radius * 1.25).min(64.0);
        tools.pen_radius = (tools.pen_radius + 0.5).min(5.0);
    }
    if keys.just_pressed(KeyCode::BracketLeft) {
        tools.brush_radius = (tools.brush_radius / 1.25).max(1.0);
        tools.pen_radius = (tools.pen_radius - 0.5).max(1.0);
    }
    if keys.just_pressed(KeyCode::KeyV) {
        let kind = grids.iter().next().and_then(|g| g.kind(&models)).unwrap_or(ModelKind::Growing);
        scene.view = next_view(scene.view, kind);
    }
    if keys.just_pressed(KeyCode::KeyB) {
        scene.dark_background = !scene.dark_background;
    }
    if keys.just_pressed(KeyCode::KeyH) {
        commands.write(SceneCommand::TogglePanel);
    }
    if keys.just_pressed(KeyCode::KeyF) {
        commands.write(SceneCommand::ToggleFullscreen);
    }
}

/// The shortcuts, for the panel.
pub const SHORTCUTS: [(&str, &str); 12] = [
    ("D E C S X M", "draw, erase, cut, seed, species, move"),
    ("double-click", "plant a seed"),
    ("Space", "play / pause"),
    ("N", "single step"),
    ("R", "reset"),
    ("+ / −", "faster / slower"),
    ("[ / ]", "smaller / larger brush and pen"),
    ("V", "next view (natural, channels, species)"),
    ("B", "light / dark background"),
    ("H", "hide / show panel"),
    ("F", "fullscreen"),
    ("wheel, right-drag, 0", "zoom, pan, reset view"),
];
