//! The teach section of the panel: what to become, what to be able to do, where to start from;
//! then the lesson's live read-outs and loss curve, pause, stop and "save as…". On an MNIST
//! canvas: label your own digits and teach the model your handwriting.

use std::path::PathBuf;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::egui;

use crate::model::ModelKind;
use crate::model::spec::GrowingMode;
use crate::scene::teach::{ActiveLesson, LessonStatus, TeachCommand, TeachFrom, TeachSettings, TeachState, TeachTarget};

/// What the teach section reads and changes.
#[derive(SystemParam)]
pub struct TeachUi<'w, 's> {
    settings: ResMut<'w, TeachSettings>,
    pub(super) state: ResMut<'w, TeachState>,
    commands: MessageWriter<'w, TeachCommand>,
    choice: Local<'s, Choice>,
}

/// The person's choices before a lesson starts.
pub struct Choice {
    target: Option<TeachTarget>,
    mode: GrowingMode,
    from: TeachFrom,
    save_path: String,
    targets: Option<Vec<PathBuf>>,
}

impl Default for Choice {
    fn default() -> Self {
        Self { target: None, mode: GrowingMode::Regenerating, from: TeachFrom::Current, save_path: String::new(), targets: None }
    }
}

/// The pictures in `assets/targets`, once.
fn bundled_targets() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = crate::platform::list_dir(&crate::model::files::bundled("assets/targets"))
        .map(|dir| dir.into_iter().filter(|p| crate::library::is_picture_file(p)).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn target_label(target: &TeachTarget) -> String {
    match target {
        TeachTarget::Picture(path) => path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned()),
        TeachTarget::AsItIsNow => "this, as it is now".into(),
    }
}

/// The section, for the grid's kind.
/// Why a page offers no lessons (see the README's web section for what was measured).
const NO_THREADS_TO_TEACH: &str = "Teaching trains with Burn on threads of its own beside the running scene, and this page \
     has one thread: teach in the native app (cargo run --release), then open the model here.";

pub(super) fn teach_section(ui: &mut egui::Ui, t: &mut TeachUi<'_, '_>, kind: ModelKind) {
    ui.separator();
    egui::CollapsingHeader::new("Teach").default_open(true).show(ui, |ui| {
        if !crate::platform::THREADS {
            ui.label(NO_THREADS_TO_TEACH);
            return;
        }
        if let Some(unfinished) = &t.state.unfinished {
            ui.label(format!("An unfinished lesson: {} (iteration {}).", unfinished.record.what, unfinished.record.iteration));
            ui.horizontal(|ui| {
                if ui.button("Continue").clicked() {
                    t.commands.write(TeachCommand::Continue);
                }
                if ui.button("Discard").clicked() {
                    t.commands.write(TeachCommand::Discard);
                }
            });
            ui.separator();
        }
        let live = t.state.lesson.as_ref().is_some_and(ActiveLesson::is_live);
        match kind {
            ModelKind::Growing if !live => choose_growing_lesson(ui, t),
            ModelKind::Mnist if !live => handwriting(ui, t),
            _ => {}
        }
        if let Some(lesson) = &t.state.lesson {
            lesson_readouts(ui, lesson);
            ui.horizontal(|ui| {
                if lesson.is_live() {
                    let paused = lesson.status == LessonStatus::Paused;
                    if ui.button(if paused { "▶ Resume" } else { "⏸ Pause" }).clicked() {
                        t.commands.write(if paused { TeachCommand::Resume } else { TeachCommand::Pause });
                    }
                    if ui.button("■ Stop").clicked() {
                        t.commands.write(TeachCommand::Stop);
                    }
                }
            });
            if t.choice.save_path.is_empty() {
                let name = lesson.what.split_whitespace().next().unwrap_or("lesson").trim_matches(',');
                t.choice.save_path = t.settings.save_dir.join(format!("{name}_taught.safetensors")).display().to_string();
            }
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut t.choice.save_path).desired_width(170.0));
                if ui.button("Save as…").on_hover_text("writes the model with its provenance, and adds it to the picker").clicked()
                    && !t.choice.save_path.trim().is_empty()
                {
                    t.commands.write(TeachCommand::SaveAs(PathBuf::from(t.choice.save_path.trim())));
                }
            });
        }
        if kind == ModelKind::Growing {
            ui.checkbox(&mut t.settings.side_by_side, "side by side: the original on the left, the learner on the right");
        }
    });
}

fn choose_growing_lesson(ui: &mut egui::Ui, t: &mut TeachUi<'_, '_>) {
    let targets = t.choice.targets.get_or_insert_with(bundled_targets).clone();
    if let Some(picked) = &t.state.picked_target {
        let picked = TeachTarget::Picture(picked.clone());
        if t.choice.target.is_none() {
            t.choice.target = Some(picked);
        }
    }
    let selected = t.choice.target.as_ref().map_or_else(|| "choose…".to_string(), target_label);
    egui::ComboBox::from_label("become").selected_text(selected).show_ui(ui, |ui| {
        ui.selectable_value(&mut t.choice.target, Some(TeachTarget::AsItIsNow), "this, as it is now");
        if let Some(picked) = &t.state.picked_target {
            let target = TeachTarget::Picture(picked.clone());
            let label = format!("{} (opened)", target_label(&target));
            ui.selectable_value(&mut t.choice.target, Some(target), label);
        }
        for path in targets {
            let target = TeachTarget::Picture(path);
            let label = target_label(&target);
            ui.selectable_value(&mut t.choice.target, Some(target), label);
        }
    });
    ui.small("…or drop a PNG on the window.");
    ui.horizontal_wrapped(|ui| {
        ui.label("able to");
        for (mode, label) in
            [(GrowingMode::Growing, "grow"), (GrowingMode::Persistent, "persist"), (GrowingMode::Regenerating, "regenerate")]
        {
            ui.radio_value(&mut t.choice.mode, mode, label);
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("from");
        ui.radio_value(&mut t.choice.from, TeachFrom::Current, "current weights");
        ui.radio_value(&mut t.choice.from, TeachFrom::Scratch, "scratch");
    });
    let ready = t.choice.target.is_some();
    if ui.add_enabled(ready, egui::Button::new("🎓 Teach")).clicked()
        && let Some(target) = t.choice.target.clone()
    {
        t.choice.save_path.clear();
        t.commands.write(TeachCommand::Start { target, mode: t.choice.mode, from: t.choice.from });
    }
    let pool_mb = t.settings.pool_size as f64 * 72.0 * 72.0 * 16.0 * 4.0 / 1e6;
    ui.add(egui::Slider::new(&mut t.settings.pool_size, 16..=1024).logarithmic(true).text(format!("pool ({pool_mb:.0} MB)")));
}

fn handwriting(ui: &mut egui::Ui, t: &mut TeachUi<'_, '_>) {
    ui.label("Teach it your handwriting: write a digit with the pen, then say which it is.");
    ui.horizontal_wrapped(|ui| {
        ui.label("this is a");
        for class in 0..10u8 {
            if ui.button(class.to_string()).clicked() {
                t.commands.write(TeachCommand::Label(class));
            }
        }
    });
    let kept = &t.state.handwriting;
    if !kept.is_empty() {
        let mut counts = [0usize; 10];
        kept.iter().for_each(|(_, label)| counts[*label as usize] += 1);
        let summary: Vec<String> = (0..10).filter(|&c| counts[c] > 0).map(|c| format!("{c}×{}", counts[c])).collect();
        ui.label(format!("{} digits kept: {}", kept.len(), summary.join(" ")));
        ui.horizontal(|ui| {
            if ui.button("🎓 Teach these").on_hover_text("fine-tunes the model on your digits among MNIST's").clicked() {
                t.commands.write(TeachCommand::StartHandwriting);
            }
            if ui.button("Forget them").clicked() {
                t.commands.write(TeachCommand::ForgetHandwriting);
            }
        });
    }
}

fn lesson_readouts(ui: &mut egui::Ui, lesson: &ActiveLesson) {
    let status = match &lesson.status {
        LessonStatus::Starting => "starting…".to_string(),
        LessonStatus::Running => "learning".to_string(),
        LessonStatus::Paused => "paused".to_string(),
        LessonStatus::Ended(why) => why.clone(),
        LessonStatus::RolledBack(_) => "went wrong; kept its last good weights".to_string(),
    };
    ui.label(egui::RichText::new(format!("Teaching {} — {status}", lesson.what)).strong());
    let loss = lesson.losses.last().map_or_else(|| "–".to_string(), |l| format!("{:.2e}", l.1));
    let minutes = lesson.seconds / 60.0;
    ui.label(format!("iteration {} · loss {loss} · {:.2} it/s · {minutes:.1} min", lesson.iteration, lesson.per_second));
    ui.small(format!(
        "grid runs iteration {} ({} swaps) · {} thread(s), {} · holds {:.0} MB",
        lesson.shown_iteration,
        lesson.swaps,
        lesson.threads,
        lesson.backend,
        lesson.memory_bytes as f64 / 1e6
    ));
    if let (Some(first), Some(last)) = (lesson.score_first, lesson.score_last) {
        ui.label(format!("your digits read right: {} of {} before, {} of {} now", first.0, first.1, last.0, last.1));
    }
    loss_curve(ui, &lesson.losses);
}

/// The loss over time, on a log scale (a loss falls over decades).
fn loss_curve(ui: &mut egui::Ui, losses: &[(f32, f64)]) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width().min(260.0), 90.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let finite: Vec<(f32, f64)> = losses.iter().copied().filter(|l| l.1.is_finite() && l.1 > 0.0).collect();
    if finite.len() < 2 {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "loss curve",
            egui::FontId::proportional(11.0),
            ui.visuals().weak_text_color(),
        );
        return;
    }
    let (lo, hi) = finite.iter().fold((f64::MAX, f64::MIN), |(lo, hi), l| (lo.min(l.1.log10()), hi.max(l.1.log10())));
    let span = (hi - lo).max(1e-6);
    let (t0, t1) = (finite[0].0, finite[finite.len() - 1].0.max(finite[0].0 + 1e-3));
    // At most one point per pixel column: a long lesson has thousands of iterations.
    let stride = (finite.len() / rect.width() as usize).max(1);
    let points: Vec<egui::Pos2> = finite
        .iter()
        .step_by(stride)
        .map(|&(t, l)| {
            let x = rect.left() + (t - t0) / (t1 - t0) * rect.width();
            let y = rect.bottom() - ((l.log10() - lo) / span) as f32 * (rect.height() - 14.0) - 4.0;
            egui::pos2(x, y)
        })
        .collect();
    painter.add(egui::Shape::line(points, egui::Stroke::new(1.0, egui::Color32::from_rgba_unmultiplied(40, 110, 200, 90))));
    // One batch's loss is noisy: the trend is a running mean of the last 20 iterations.
    let window = 20usize;
    let mut sum = 0.0;
    let smooth: Vec<egui::Pos2> = finite
        .iter()
        .enumerate()
        .filter_map(|(i, &(t, l))| {
            sum += l;
            if i >= window {
                sum -= finite[i - window].1;
            }
            let mean = sum / (i + 1).min(window) as f64;
            (i % stride == 0).then(|| {
                let x = rect.left() + (t - t0) / (t1 - t0) * rect.width();
                let y = rect.bottom() - ((mean.log10() - lo) / span) as f32 * (rect.height() - 14.0) - 4.0;
                egui::pos2(x, y)
            })
        })
        .collect();
    painter.add(egui::Shape::line(smooth, egui::Stroke::new(2.0, egui::Color32::from_rgb(40, 110, 200))));
    let label = format!("{:.1e} … {:.1e}", 10f64.powf(hi), 10f64.powf(lo));
    painter.text(
        rect.left_top() + egui::vec2(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        label,
        egui::FontId::proportional(10.0),
        ui.visuals().weak_text_color(),
    );
}

/// The name the panel gives a lesson's model: its parent's, learning what it learns.
pub(super) fn lesson_model_name(
    state: &TeachState,
    library: &crate::library::ModelLibrary,
    handle: &Handle<crate::sim::NcaModel>,
) -> Option<String> {
    let lesson = state.lesson.as_ref().filter(|l| l.fork.id() == handle.id())?;
    let parent = library.entry(&lesson.parent).map_or_else(|| "model".to_string(), |e| e.name.clone());
    Some(if lesson.is_live() { format!("{parent}, learning {}", lesson.what) } else { format!("{parent}, taught {}", lesson.what) })
}
