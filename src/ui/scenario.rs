//! The scenario section of the panel: the playing scenario's progress, Restart; Record and Save
//! scene (into `scenarios/`); Record GIF (into `recordings/`).

use std::path::PathBuf;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::egui;

use crate::scene::scenario::{ScenarioCommand, ScenarioPlayer, ScenarioRecorder, ScenarioStatus, ScreenGif};

/// What the scenario section reads and changes.
#[derive(SystemParam)]
pub struct ScenarioUi<'w> {
    player: Option<Res<'w, ScenarioPlayer>>,
    recorder: Res<'w, ScenarioRecorder>,
    status: Res<'w, ScenarioStatus>,
    gif: ResMut<'w, ScreenGif>,
    commands: MessageWriter<'w, ScenarioCommand>,
}

impl ScenarioUi<'_> {
    /// Whether a scenario is playing (not left for another model).
    pub fn playing(&self) -> bool {
        self.player.as_ref().is_some_and(|p| !p.abandoned)
    }

    /// The name of a model a scenario put on the grid.
    pub fn model_name(&self, model: &Handle<crate::sim::NcaModel>) -> Option<String> {
        self.player.as_ref().and_then(|p| p.model_name(model.id()))
    }
}

/// A file name that sorts by time and never overwrites an earlier one.
fn stamped(dir: &str, stem: &str, ext: &str) -> PathBuf {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    PathBuf::from(dir).join(format!("{stem}-{seconds}.{ext}"))
}

/// The section.
pub(super) fn scenario_section(ui: &mut egui::Ui, s: &mut ScenarioUi<'_>, step: u32) {
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
                }
                if ui.button("Restart").clicked() {
                    s.commands.write(ScenarioCommand::Restart);
                }
            }
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
            });
            if let Some(message) = &s.status.message {
                ui.add(egui::Label::new(message).wrap());
            }
        },
    );
}
