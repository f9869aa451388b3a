//! The digits scene's part of the panel (digit buttons, chimeras, scale, adversaries) and its
//! overlay: each digit's votes beside it, and markers on adversary cells.

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};

use crate::input::{Tool, ToolSettings, cell_to_world};
use crate::library::ModelLibrary;
use crate::model::ModelKind;
use crate::model::digits::{CHIMERAS, SIDE};
use crate::model::display::{ClassPalette, class_color};
use crate::model::mnist::CLASSES;
use crate::scene::digits::{CANVAS_SIZES, DigitCommand, DigitSource, DigitsSettings, DigitsState, SCALES, default_adversary};
use crate::scene::{SandboxGrid, SceneSettings};
use crate::sim::{CaGrid, NcaModel};

/// What the digits section of the panel reads and changes.
#[derive(SystemParam)]
pub struct DigitsUi<'w, 's> {
    settings: ResMut<'w, DigitsSettings>,
    state: Res<'w, DigitsState>,
    commands: MessageWriter<'w, DigitCommand>,
    thumbnails: Local<'s, Thumbnails>,
}

/// The digit buttons' pictures, remade when what they show changes.
#[derive(Default)]
pub struct Thumbnails {
    key: Option<(ClassPalette, u32, [usize; CLASSES])>,
    textures: Vec<egui::TextureHandle>,
}

pub(super) fn color32(rgb: [f32; 3]) -> egui::Color32 {
    egui::Color32::from_rgb((rgb[0] * 255.0) as u8, (rgb[1] * 255.0) as u8, (rgb[2] * 255.0) as u8)
}

/// The digits section: only shown on an MNIST canvas.
pub(super) fn digits_section(
    ui: &mut egui::Ui,
    d: &mut DigitsUi<'_, '_>,
    scene: &SceneSettings,
    tools: &mut ToolSettings,
    library: &ModelLibrary,
    models: &Assets<NcaModel>,
) {
    ui.separator();
    ui.label("Digits — click one to write it under the pointer");
    let samples = d.state.samples.as_ref().and_then(|s| s.as_ref().ok());
    if let Some(samples) = samples {
        let key = (scene.palette, scene.hue_degrees.to_bits(), d.state.next_sample);
        if d.thumbnails.key != Some(key) {
            d.thumbnails.textures = (0..CLASSES)
                .map(|class| {
                    let pixels = samples.get(class, d.state.next_sample[class]);
                    let [r, g, b] = class_color(class, scene.palette, scene.hue_degrees).map(|v| (v * 255.0) as u8);
                    let rgba: Vec<u8> = pixels.iter().flat_map(|&grey| [r, g, b, grey]).collect();
                    let picture = egui::ColorImage::from_rgba_unmultiplied([SIDE, SIDE], &rgba);
                    ui.ctx().load_texture(format!("digit_{class}"), picture, egui::TextureOptions::NEAREST)
                })
                .collect();
            d.thumbnails.key = Some(key);
        }
        ui.horizontal_wrapped(|ui| {
            for (class, texture) in d.thumbnails.textures.iter().enumerate() {
                let button = egui::Button::image(egui::Image::new(texture).fit_to_exact_size(egui::vec2(38.0, 38.0)));
                let clicked =
                    ui.add(button).on_hover_text(format!("the next sample {class}: replaces the grey, keeps the cells' state")).clicked();
                if clicked {
                    d.commands.write(DigitCommand::Place { source: DigitSource::Sample { class, index: None }, at: None });
                }
            }
        });
    } else {
        ui.colored_label(egui::Color32::from_rgb(200, 40, 40), "no sample digits (see the messages below); the pen still works");
    }
    ui.horizontal(|ui| {
        if ui.button("Reset state").on_hover_text("the same digits, every cell's mind wiped (R)").clicked() {
            d.commands.write(DigitCommand::ResetState);
        }
        if ui.button("🗑 Clear").on_hover_text("an empty canvas").clicked() {
            d.commands.write(DigitCommand::Clear);
        }
    });
    ui.horizontal(|ui| {
        ui.label("scale");
        for scale in SCALES {
            ui.radio_value(&mut d.settings.scale, scale, format!("{scale}×"));
        }
    });
    let (w, h) = d.settings.canvas;
    egui::ComboBox::from_label("canvas").selected_text(format!("{w}×{h}")).show_ui(ui, |ui| {
        for size in CANVAS_SIZES {
            ui.selectable_value(&mut d.settings.canvas, size, format!("{}×{}", size.0, size.1));
        }
    });

    ui.label("Chimeras (upper part / lower part)");
    ui.horizontal(|ui| {
        for (upper, lower) in CHIMERAS {
            if ui.add_enabled(samples.is_some(), egui::Button::new(format!("{upper}/{lower}"))).clicked() {
                d.commands.write(DigitCommand::Place { source: DigitSource::Chimera { upper, lower, split: None }, at: None });
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label("compose");
        ui.add(egui::DragValue::new(&mut d.settings.compose[0]).range(0..=9));
        ui.label("and");
        ui.add(egui::DragValue::new(&mut d.settings.compose[1]).range(0..=9));
    });
    ui.add(egui::Slider::new(&mut d.settings.split_row, 4..=24).text("split row"));
    ui.horizontal(|ui| {
        let [base, over] = d.settings.compose;
        if ui
            .add_enabled(samples.is_some(), egui::Button::new("Join"))
            .on_hover_text("upper rows of the first, lower of the second")
            .clicked()
        {
            d.commands.write(DigitCommand::Place { source: DigitSource::Chimera { upper: base, lower: over, split: None }, at: None });
        }
        if ui.add_enabled(samples.is_some(), egui::Button::new("Overlay")).on_hover_text("the second laid over the first").clicked() {
            d.commands.write(DigitCommand::Place { source: DigitSource::Overlay { base, over }, at: None });
        }
        ui.add(egui::DragValue::new(&mut d.settings.overlay_offset[0]).range(-20..=20).prefix("dx "));
        ui.add(egui::DragValue::new(&mut d.settings.overlay_offset[1]).range(-20..=20).prefix("dy "));
    });

    ui.label("Adversaries (they vote for their own target)");
    let adversary = d.settings.adversary.clone().or_else(|| default_adversary(library, models));
    let name = adversary.as_ref().and_then(|h| library.entry(h)).map_or_else(|| "none found — choose…".to_string(), |e| e.name.clone());
    egui::ComboBox::from_label("adversary").selected_text(name).show_ui(ui, |ui| {
        for entry in library.entries.iter().filter(|e| models.get(&e.handle).is_some_and(|m| m.weights.kind() == ModelKind::Mnist)) {
            let selected = adversary.as_ref().is_some_and(|h| h.id() == entry.handle.id());
            if ui.selectable_label(selected, &entry.name).clicked() {
                d.settings.adversary = Some(entry.handle.clone());
            }
        }
    });
    ui.horizontal(|ui| {
        if ui.selectable_label(tools.tool == Tool::Species, "Brush (X)").on_hover_text("turn single cells into adversaries").clicked() {
            tools.tool = Tool::Species;
            tools.species_model = adversary.clone();
        }
        if ui.button("Remove all").clicked() {
            d.commands.write(DigitCommand::RemoveAdversaries);
        }
    });
    ui.add(egui::Slider::new(&mut d.settings.sprinkle_percent, 1.0..=20.0).text("% of cells"));
    ui.horizontal(|ui| {
        let fraction = d.settings.sprinkle_percent / 100.0;
        if ui.button("Sprinkle on digit").on_hover_text("the digit under the pointer").clicked() {
            d.commands.write(DigitCommand::Sprinkle { fraction, everywhere: false });
        }
        if ui.button("on all").clicked() {
            d.commands.write(DigitCommand::Sprinkle { fraction, everywhere: true });
        }
    });
    ui.checkbox(&mut d.settings.show_readout, "show what each digit's cells vote");
}

/// Each digit's votes beside it (a bar per class, the majority, agreement, steps since its
/// shape changed) and a ring on every adversary cell.
pub(super) fn draw_digit_readout(
    mut contexts: EguiContexts,
    settings: Res<DigitsSettings>,
    state: Res<DigitsState>,
    scene: Res<SceneSettings>,
    models: Res<Assets<NcaModel>>,
    cameras: Query<(&Camera, &GlobalTransform)>,
    grids: Query<(&CaGrid, &GlobalTransform), With<SandboxGrid>>,
) -> Result {
    let (Some((camera, camera_transform)), Some((grid, transform))) = (cameras.iter().next(), grids.iter().next()) else { return Ok(()) };
    if grid.kind(&models) != Some(ModelKind::Mnist) {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, "digit_readout".into()));
    let to_screen = |cell: Vec2| {
        let world = cell_to_world(grid, transform, cell);
        camera.world_to_viewport(camera_transform, world.extend(0.0)).ok().map(|p| egui::pos2(p.x, p.y))
    };
    let ink = if scene.dark_background { egui::Color32::from_gray(235) } else { egui::Color32::from_gray(25) };
    let card = if scene.dark_background { egui::Color32::from_black_alpha(170) } else { egui::Color32::from_white_alpha(200) };

    // Adversary markers: a ring per cell, sized to the cell on screen.
    if let (Some(a), Some(b)) = (to_screen(Vec2::ZERO), to_screen(Vec2::X)) {
        let cell_px = (b.x - a.x).abs();
        let ring = egui::Stroke::new((cell_px * 0.12).clamp(1.0, 2.5), ink);
        for &cell in state.adversary_cells.iter().take(4000) {
            let at = Vec2::new((cell % grid.width) as f32 + 0.5, (cell / grid.width) as f32 + 0.5);
            if let Some(c) = to_screen(at) {
                painter.circle_stroke(c, (cell_px * 0.32).max(1.5), ring);
            }
        }
    }
    if !settings.show_readout {
        return Ok(());
    }
    for digit in &state.readout {
        let region = &digit.region;
        let [x0, y0, x1, _] = region.bounds;
        let (Some(left), Some(right)) = (to_screen(Vec2::new(x0 as f32, y0 as f32)), to_screen(Vec2::new(x1 as f32 + 1.0, y0 as f32)))
        else {
            continue;
        };
        let cast: u32 = region.votes.iter().sum();
        let width = 10.0 * 6.0 + 30.0;
        let height = 42.0;
        let origin = egui::pos2((left.x + right.x) / 2.0 - width / 2.0, left.y - height - 4.0);
        let rect = egui::Rect::from_min_size(origin, egui::vec2(width, height));
        painter.rect_filled(rect, 3.0, card);
        for class in 0..CLASSES {
            let share = if cast > 0 { region.votes[class] as f32 / cast as f32 } else { 0.0 };
            let bar_height = 22.0 * share;
            let x = origin.x + 15.0 + class as f32 * 6.0;
            let bar = egui::Rect::from_min_max(egui::pos2(x, origin.y + 24.0 - bar_height), egui::pos2(x + 5.0, origin.y + 24.0));
            painter.rect_filled(bar, 0.0, color32(class_color(class, scene.palette, scene.hue_degrees)));
            painter.line_segment([egui::pos2(x, origin.y + 24.5), egui::pos2(x + 5.0, origin.y + 24.5)], egui::Stroke::new(0.5, ink));
        }
        let steps = state.readout_step.saturating_sub(digit.shape_since);
        let text = match region.majority() {
            Some(class) if region.in_agreement() => format!("{class} ✔ all · {steps} st"),
            Some(class) => format!("{class} {:.0}% · {steps} st", 100.0 * region.votes[class] as f32 / cast.max(1) as f32),
            None => format!("? · {steps} st"),
        };
        painter.text(
            egui::pos2(origin.x + width / 2.0, origin.y + 33.0),
            egui::Align2::CENTER_CENTER,
            text,
            egui::FontId::proportional(11.0),
            ink,
        );
    }
    Ok(())
}
