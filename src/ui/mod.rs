//! The side panel (bevy_egui) and the overlay that draws fading brush outlines.

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

mod digits;
mod file_browser;
pub mod operator;
mod scenario;
mod teach;

pub use file_browser::FileBrowser;

use crate::input::{BrushMarks, MarkShape, SHORTCUTS, Tool, ToolSettings};
use crate::library::ModelLibrary;
use crate::model::{ModelKind, View};
use crate::scene::{GRID_SIZES, PANEL_WIDTH, SandboxGrid, SceneCommand, SceneSettings};
use crate::sim::display::SPECIES_PALETTE;
use crate::sim::{CaGrid, GpuStatus, NcaModel, Playback, Speed};

/// The panel and its overlay.
pub struct PanelPlugin;

impl Plugin for PanelPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PanelState>().add_systems(EguiPrimaryContextPass, (panel, draw_marks, digits::draw_digit_readout).chain());
    }
}

/// What the panel remembers between frames.
#[derive(Resource, Default, Debug)]
pub struct PanelState {
    /// The "open file" path being typed.
    pub open_path: String,
    /// The "Browse…" window.
    pub browser: FileBrowser,
    /// Smoothed frames per second.
    pub fps: f32,
    /// Smoothed steps per second.
    pub steps_per_second: f32,
    /// The step counter and time of the last rate update.
    last: Option<(u32, f64)>,
}

use digits::color32;

#[allow(clippy::too_many_arguments)]
fn panel(
    mut contexts: EguiContexts,
    time: Res<Time<Real>>,
    mut state: ResMut<PanelState>,
    mut scene: ResMut<SceneSettings>,
    mut playback: ResMut<Playback>,
    mut tools: ResMut<ToolSettings>,
    mut library: ResMut<ModelLibrary>,
    models: Res<Assets<NcaModel>>,
    server: Res<AssetServer>,
    status: Res<GpuStatus>,
    grids: Query<&CaGrid, With<SandboxGrid>>,
    mut commands: MessageWriter<SceneCommand>,
    mut digits_ui: digits::DigitsUi,
    mut teach_ui: teach::TeachUi,
    mut scenario_ui: scenario::ScenarioUi,
) -> Result {
    let dt = time.delta_secs();
    if dt > 0.0 {
        state.fps = state.fps * 0.9 + 0.1 / dt;
    }
    let grid = grids.iter().next();
    if let Some(grid) = grid {
        let now = time.elapsed_secs_f64();
        match state.last {
            Some((step, at)) if now - at >= 0.5 => {
                let rate = grid.step.wrapping_sub(step) as f64 / (now - at);
                state.steps_per_second = if grid.step < step { 0.0 } else { rate as f32 };
                state.last = Some((grid.step, now));
            }
            None => state.last = Some((grid.step, now)),
            _ => {}
        }
    }
    if !scene.panel_visible {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let mut root = egui::Ui::new(
        ctx.clone(),
        "sandbox_root".into(),
        egui::UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(ctx.viewport_rect()),
    );
    egui::Panel::left("sandbox_panel").resizable(false).exact_size(PANEL_WIDTH - 10.0).show(&mut root, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("nca-sandbox");
            if let Some(error) = status.error() {
                ui.colored_label(egui::Color32::RED, error);
            }

            ui.separator();
            ui.label("Model");
            let current = scene.model.clone();
            let current_name = current
                .as_ref()
                .and_then(|h| library.entry(h).map(|e| e.name.clone()).or_else(|| scenario_ui.model_name(h)))
                .unwrap_or_else(|| "(loading…)".into());
            egui::ComboBox::from_id_salt("model_picker").width(260.0).selected_text(current_name).show_ui(ui, |ui| {
                for entry in &library.entries {
                    let loaded = models.get(&entry.handle);
                    let label = match (loaded, &entry.error) {
                        (Some(m), _) => format!("{} — {}", entry.name, m.weights.describe()),
                        (None, Some(_)) => format!("{} — failed to load", entry.name),
                        (None, None) => format!("{} — loading…", entry.name),
                    };
                    let selected = current.as_ref().is_some_and(|h| h.id() == entry.handle.id());
                    if ui.add_enabled(loaded.is_some(), egui::Button::selectable(selected, label)).clicked() {
                        commands.write(SceneCommand::SetModel(entry.handle.clone()));
                    }
                }
            });
            if let Some(m) = current.as_ref().and_then(|h| models.get(h)) {
                ui.label(format!("type: {}", m.weights.describe()));
            }
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut state.open_path).hint_text("model or picture file").desired_width(128.0));
                if ui.button("Open").clicked() && !state.open_path.trim().is_empty() {
                    let path = std::path::PathBuf::from(state.open_path.trim());
                    if crate::library::is_picture_file(&path) && path.is_file() {
                        // A picture is what to teach the organism to become.
                        crate::scene::teach::pick_target(&mut teach_ui.state, &mut library, &path);
                    } else {
                        open_model_file(&path, &mut library, &server);
                    }
                }
                if ui.button("Browse…").clicked() {
                    let start = current
                        .as_ref()
                        .and_then(|h| library.entry(h))
                        .and_then(|e| e.path.parent().map(std::path::Path::to_path_buf))
                        .or_else(|| std::env::current_dir().ok())
                        .unwrap_or_else(|| "/".into());
                    state.browser.open_at(&start);
                }
            });
            ui.small("…or drop a model file on the window.");

            // Messages right under the model picker, where a person looks after opening a file;
            // newest first; a repeated message shows its count.
            let errors: Vec<(usize, String, bool)> = library
                .messages
                .iter()
                .enumerate()
                .rev()
                .take(5)
                .map(|(i, m)| (i, if m.count > 1 { format!("{} (×{})", m.text, m.count) } else { m.text.clone() }, m.is_error))
                .collect();
            if !errors.is_empty() {
                ui.separator();
                let mut dismiss = None;
                for (i, text, is_error) in errors {
                    ui.horizontal_top(|ui| {
                        if ui.small_button("×").on_hover_text("dismiss").clicked() {
                            dismiss = Some(i);
                        }
                        let color = if is_error { egui::Color32::from_rgb(200, 40, 40) } else { ui.visuals().text_color() };
                        // Wrapped inside the panel, beside the button, however long the path.
                        ui.add(egui::Label::new(egui::RichText::new(text).color(color)).wrap());
                    });
                }
                if let Some(i) = dismiss {
                    library.messages.remove(i);
                }
            }

            ui.separator();
            ui.horizontal(|ui| {
                if ui.button(if playback.paused { "▶ Play" } else { "⏸ Pause" }).clicked() {
                    playback.paused = !playback.paused;
                }
                if ui.button("Step").clicked() {
                    playback.single_steps += 1;
                }
                if ui.button("Reset").clicked() {
                    commands.write(SceneCommand::Reset);
                }
            });
            ui.horizontal_wrapped(|ui| {
                ui.label("Speed");
                for speed in Speed::ALL {
                    if ui.selectable_label(playback.speed == speed, speed.label()).clicked() {
                        playback.speed = speed;
                    }
                }
            });
            ui.add(egui::Slider::new(&mut scene.rotation_degrees, 0.0..=360.0).text("rotation °"));
            let kind = grid.and_then(|g| g.kind(&models)).unwrap_or(ModelKind::Growing);
            if kind == ModelKind::Growing {
                // A scenario's grid keeps its own shape until a size is picked here.
                let shown = match scene.grid_shape {
                    Some((w, h)) => format!("{w}×{h} (scenario)"),
                    None => format!("{0}×{0}", scene.grid_size),
                };
                egui::ComboBox::from_label("grid size").selected_text(shown).show_ui(ui, |ui| {
                    for size in GRID_SIZES {
                        if ui.selectable_value(&mut scene.grid_size, size, format!("{size}×{size}")).clicked() {
                            scene.grid_shape = None;
                        }
                    }
                });
            } else {
                digits::digits_section(ui, &mut digits_ui, &scene, &mut tools, &library, &models);
            }
            let step = grid.map_or(0, |g| g.step);
            // A playing scenario's progress comes before everything a person might change.
            let scenario_first = scenario_ui.playing();
            if scenario_first {
                scenario::scenario_section(ui, &mut scenario_ui, step);
            }
            teach::teach_section(ui, &mut teach_ui, kind);
            ui.separator();
            ui.label("Tools");
            ui.horizontal_wrapped(|ui| {
                for (tool, key, label) in Tool::ALL.into_iter().filter(|(tool, _, _)| tool.works_on(kind)) {
                    let key = format!("{key:?}").trim_start_matches("Key").to_string();
                    if ui.selectable_label(tools.tool == tool, format!("{label} ({key})")).clicked() {
                        tools.tool = tool;
                    }
                }
            });
            if !tools.tool.works_on(kind) {
                // A tool of the other kind (after a model switch) falls back to erasing.
                tools.tool = Tool::Erase;
            }
            if Tool::Draw.works_on(kind) {
                ui.add(egui::Slider::new(&mut tools.pen_radius, 1.0..=5.0).text("pen (cells)"));
            }
            ui.add(egui::Slider::new(&mut tools.brush_radius, 1.0..=64.0).logarithmic(true).text("eraser (cells)"));
            let species_name =
                tools.species_model.as_ref().and_then(|h| library.entry(h).map(|e| e.name.clone())).unwrap_or_else(|| "choose…".into());
            egui::ComboBox::from_label("species brush").selected_text(species_name).show_ui(ui, |ui| {
                // Only models of the grid's kind can share it.
                for entry in library.entries.iter().filter(|e| models.get(&e.handle).is_some_and(|m| m.weights.kind() == kind)) {
                    let selected = tools.species_model.as_ref().is_some_and(|h| h.id() == entry.handle.id());
                    if ui.selectable_label(selected, &entry.name).clicked() {
                        tools.species_model = Some(entry.handle.clone());
                        tools.tool = Tool::Species;
                    }
                }
            });

            ui.separator();
            ui.horizontal(|ui| {
                ui.label("Background");
                ui.radio_value(&mut scene.dark_background, false, "light");
                ui.radio_value(&mut scene.dark_background, true, "dark");
            });
            let view_label = |v: View| match (v, kind) {
                (View::Natural, _) => kind.layout().natural_view.to_string(),
                (View::Channel(0), ModelKind::Mnist) => "grey input".to_string(),
                (View::Channel(c), ModelKind::Mnist) if c >= 10 => format!("score of {} (channel {c})", c - 10),
                (View::Channel(c), ModelKind::Mnist) => format!("hidden channel {c} (atan)"),
                (View::Channel(c), _) => format!("channel {c}"),
                (View::Species, _) => "species".to_string(),
            };
            egui::ComboBox::from_label("view").selected_text(view_label(scene.view)).show_ui(ui, |ui| {
                for v in kind.views() {
                    ui.selectable_value(&mut scene.view, v, view_label(v));
                }
            });
            if kind == ModelKind::Mnist {
                ui.add(egui::Slider::new(&mut scene.hue_degrees, 0.0..=360.0).text("class hue °"));
                ui.horizontal(|ui| {
                    ui.label("palette");
                    for palette in crate::model::display::ClassPalette::ALL {
                        ui.radio_value(&mut scene.palette, palette, palette.label());
                    }
                });
            }

            if kind == ModelKind::Mnist {
                ui.separator();
                ui.label("Classes (dark: not sure yet)");
                ui.horizontal_wrapped(|ui| {
                    for class in 0..crate::model::mnist::CLASSES {
                        let (rect, _) = ui.allocate_exact_size(egui::vec2(20.0, 16.0), egui::Sense::hover());
                        ui.painter().rect_filled(
                            rect,
                            2.0,
                            color32(crate::model::display::class_color(class, scene.palette, scene.hue_degrees)),
                        );
                        ui.painter().text(
                            rect.center(),
                            egui::Align2::CENTER_CENTER,
                            class.to_string(),
                            egui::FontId::monospace(11.0),
                            egui::Color32::BLACK,
                        );
                    }
                });
            }
            if let Some(grid) = grid {
                ui.separator();
                ui.label("Species in the grid");
                for (id, handle) in grid.species_models().enumerate() {
                    ui.horizontal(|ui| {
                        let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                        ui.painter().rect_filled(rect, 2.0, color32(SPECIES_PALETTE[id % SPECIES_PALETTE.len()]));
                        let name = library
                            .entry(handle)
                            .map(|e| e.name.clone())
                            .or_else(|| teach::lesson_model_name(&teach_ui.state, &library, handle))
                            .or_else(|| scenario_ui.model_name(handle))
                            .unwrap_or_else(|| "(unnamed)".to_string());
                        ui.label(format!("{id}: {name}"));
                    });
                }
            }

            ui.separator();
            ui.label(format!("step {step} · {:.0} steps/s · {:.0} fps", state.steps_per_second, state.fps));
            if !scenario_first {
                scenario::scenario_section(ui, &mut scenario_ui, step);
            }

            ui.separator();
            egui::CollapsingHeader::new("Shortcuts").default_open(false).show(ui, |ui| {
                egui::Grid::new("shortcuts").show(ui, |ui| {
                    for (key, what) in SHORTCUTS {
                        ui.monospace(key);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        });
    });
    if state.browser.is_open() {
        let places = browse_places(&library);
        if let Some(path) = state.browser.show(ctx, &places) {
            open_model_file(&path, &mut library, &server);
        }
    }
    Ok(())
}

/// Starts loading a model file the person asked for and switches to it once loaded; a path
/// that is missing or not a model is reported in the panel instead.
fn open_model_file(path: &std::path::Path, library: &mut ModelLibrary, server: &AssetServer) {
    if !path.is_file() {
        library.error(format!("{} does not exist", path.display()));
    } else if !crate::library::is_model_file(path) {
        library.error(format!("{} is not a model (expected .safetensors or a Distill .json)", path.display()));
    } else {
        let handle = library.open(path, server);
        library.select_when_loaded = Some(handle);
    }
}

/// The browser's shortcut buttons: the folders the known models live in, the working folder
/// and home.
fn browse_places(library: &ModelLibrary) -> Vec<(String, std::path::PathBuf)> {
    let mut places: Vec<(String, std::path::PathBuf)> = Vec::new();
    let mut add = |label: String, dir: std::path::PathBuf| {
        if dir.is_dir() && !places.iter().any(|(_, d)| *d == dir) {
            places.push((label, dir));
        }
    };
    for entry in &library.entries {
        if let Some(dir) = entry.path.parent() {
            let label = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
            add(format!("📁 {label}"), dir.to_path_buf());
        }
    }
    if let Ok(dir) = std::env::current_dir() {
        add("working folder".into(), dir);
    }
    if let Some(home) = std::env::var_os("HOME") {
        add("home".into(), home.into());
    }
    places
}

/// Fading outlines of what the tools just hit, drawn over the grid.
#[allow(clippy::too_many_arguments)]
fn draw_marks(
    mut contexts: EguiContexts,
    marks: Res<BrushMarks>,
    tools: Res<ToolSettings>,
    scene: Res<SceneSettings>,
    cameras: Query<(&Camera, &GlobalTransform)>,
    windows: Query<&Window, With<PrimaryWindow>>,
    grids: Query<(&CaGrid, &GlobalTransform), With<SandboxGrid>>,
    egui_input: Option<Res<bevy_egui::input::EguiWantsInput>>,
) -> Result {
    let (Some((camera, camera_transform)), Ok(window)) = (cameras.iter().next(), windows.single()) else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    // The brush's outline follows the pointer over the grid, so a person sees what a press
    // will hit before pressing.
    let radius_cells = match tools.tool {
        Tool::Draw => Some(tools.pen_radius),
        Tool::Erase => Some(tools.brush_radius),
        Tool::Species => Some(0.6),
        _ => None,
    };
    if let (Some(radius_cells), Some(cursor), Some((grid, transform))) = (radius_cells, window.cursor_position(), grids.iter().next())
        && !egui_input.is_some_and(|e| e.wants_any_pointer_input())
        && let Ok(world) = camera.viewport_to_world_2d(camera_transform, cursor)
        && grid.contains(crate::input::world_to_cell(grid, transform, world))
        && let Ok(edge) = camera.world_to_viewport(camera_transform, (world + Vec2::X * radius_cells * transform.scale().x).extend(0.0))
    {
        let ink = if scene.dark_background { egui::Color32::from_white_alpha(170) } else { egui::Color32::from_black_alpha(150) };
        let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, "brush_outline".into()));
        painter.circle_stroke(egui::pos2(cursor.x, cursor.y), (edge.x - cursor.x).abs(), egui::Stroke::new(1.0, ink));
    }
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, "brush_marks".into()));
    let to_screen = |world: Vec2| camera.world_to_viewport(camera_transform, world.extend(0.0)).ok().map(|p| egui::pos2(p.x, p.y));
    let ink = if scene.dark_background { [255u8, 255, 255] } else { [20u8, 20, 20] };
    for (shape, age) in &marks.marks {
        let fade = (1.0 - age / tools.mark_seconds).clamp(0.0, 1.0);
        let stroke = egui::Stroke::new(1.5, egui::Color32::from_rgba_unmultiplied(ink[0], ink[1], ink[2], (fade * 200.0) as u8));
        match *shape {
            MarkShape::Disc { center, radius } => {
                let (Some(c), Some(edge)) = (to_screen(center), to_screen(center + Vec2::new(radius, 0.0))) else { continue };
                painter.circle_stroke(c, (edge.x - c.x).abs(), stroke);
            }
            MarkShape::Line { from, to } => {
                let (Some(a), Some(b)) = (to_screen(from), to_screen(to)) else { continue };
                painter.line_segment([a, b], stroke);
            }
            MarkShape::Seed { at } => {
                let Some(c) = to_screen(at) else { continue };
                painter.circle_stroke(c, 6.0 + 10.0 * (1.0 - fade), stroke);
            }
        }
    }
    Ok(())
}
