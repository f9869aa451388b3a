//! The scenario section of the panel: the playing scenario's progress, Restart; Record and Save
//! scene (into `scenarios/`); Record GIF (into `recordings/`).

use std::path::PathBuf;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::egui;

use crate::scene::scenario::{ScenarioCommand, ScenarioOutcome, ScenarioPlayer, ScenarioRecorder, ScenarioStatus, ScreenGif};

/// What the scenario section reads and changes.
#[derive(SystemParam)]
pub struct ScenarioUi<'w, 's> {
    player: Option<Res<'w, ScenarioPlayer>>,
    recorder: Res<'w, ScenarioRecorder>,
    status: Res<'w, ScenarioStatus>,
    gif: ResMut<'w, ScreenGif>,
    outcome: Res<'w, ScenarioOutcome>,
    commands: MessageWriter<'w, ScenarioCommand>,
    bundled: Local<'s, Option<Vec<PathBuf>>>,
}

impl ScenarioUi<'_, '_> {
    /// Whether a scenario is playing (not left for another model).
    pub fn playing(&self) -> bool {
        self.player.as_ref().is_some_and(|p| !p.abandoned)
    }

    /// The name of a model a scenario put on the grid.
    pub fn model_name(&self, model: &Handle<crate::sim::NcaModel>) -> Option<String> {
        self.player.as_ref().and_then(|p| p.model_name(model.id()))
    }
}

/// The bundled scenarios (`assets/scenarios`), listed once.
fn bundled_scenarios() -> Vec<PathBuf> {
    let dir = crate::model::files::bundled("assets/scenarios");
    let mut files: Vec<PathBuf> = crate::platform::list_dir(&dir)
        .map(|all| all.into_iter().filter(|p| crate::scene::scenario::is_scenario_file(p)).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// "Play": the bundled scenarios, one click each.
fn bundled_picker(ui: &mut egui::Ui, s: &mut ScenarioUi<'_, '_>) {
    let files = s.bundled.get_or_insert_with(bundled_scenarios).clone();
    if files.is_empty() {
        return;
    }
    egui::ComboBox::from_id_salt("bundled_scenarios").selected_text("Play a scenario…").show_ui(ui, |ui| {
        for file in files {
            let name = file.file_stem().map(|n| n.to_string_lossy().replace('_', " ")).unwrap_or_default();
            if ui.selectable_label(false, name).clicked() {
                s.commands.write(ScenarioCommand::Play(file));
            }
        }
    });
}

/// A file name that sorts by time and never overwrites an earlier one.
fn stamped(dir: &str, stem: &str, ext: &str) -> PathBuf {
    let seconds = crate::platform::SystemTime::now().duration_since(crate::platform::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    PathBuf::from(dir).join(format!("{stem}-{seconds}.{ext}"))
}

/// The section.
pub(super) fn scenario_section(ui: &mut egui::Ui, s: &mut ScenarioUi<'_, '_>, step: u32) {
    ui.separator();
    // Its own id while a scenario plays: the header was first drawn closed, before one started,
    // and egui remembers that.
    let playing = s.playing();
    egui::CollapsingHeader::new("Scenario").id_salt(if playing { "scenario_playing" } else { "scenario" }).default_open(playing).show(
        ui,
        |ui| {
            if let Some(player) = s.player.as_ref().filter(|p| !p.abandoned) {
                let name = &player.scene.scenario.name;
                ui.label(if name.is_empty() { player.source.display().to_string() } else { name.clone() });
                ui.add(
                    egui::ProgressBar::new(step.min(player.end()) as f32 / player.end() as f32)
                        .text(format!("step {step} of {}", player.end())),
                );
                if player.finished {
                    ui.label("Finished.");
                    if !s.outcome.alive.is_empty() {
                        let counts: Vec<String> = s.outcome.alive.iter().map(|(region, alive)| format!("{region} {alive}")).collect();
                        ui.label(format!("Living cells at step {}: {}", s.outcome.step, counts.join(", ")));
                    }
                }
                if ui.button("Restart").clicked() {
                    s.commands.write(ScenarioCommand::Restart);
                }
            }
            bundled_picker(ui, s);
            ui.horizontal(|ui| {
                if s.recorder.active {
                    ui.label(format!("● recording, step {}, {} edits", s.recorder.step(), s.recorder.event_count()));
                    if ui.button("Stop and save").clicked() {
                        s.commands.write(ScenarioCommand::StopRecording(stamped("scenarios", "recorded", "ron")));
                    }
                } else if ui.button("Record").on_hover_text("Starts the grid over and writes everything you do, with its step").clicked() {
                    s.commands.write(ScenarioCommand::StartRecording);
                }
                if ui.button("Save scene…").on_hover_text("Writes this scene and its models into scenarios/").clicked() {
                    s.commands.write(ScenarioCommand::SaveScene(stamped("scenarios", "scene", "ron")));
                }
            });
            ui.horizontal(|ui| {
                if s.gif.active {
                    ui.label(format!("● GIF, {} frames", s.gif.frame_count()));
                    if ui.button("Stop GIF").clicked() {
                        let message = s.gif.stop();
                        info!("{message}");
                    }
                } else if ui.button("Record GIF").on_hover_text("Captures the window into recordings/").clicked() {
                    s.gif.start(stamped("recordings", "screen", "gif"));
                }
                if ui.button("Screenshot").on_hover_text("Saves what the window shows into screenshots/").clicked() {
                    s.commands.write(ScenarioCommand::Screenshot(stamped("screenshots", "screen", "png")));
                }
            });
            if let Some(message) = &s.status.message {
                ui.add(egui::Label::new(message).wrap());
            }
        },
    );
}
