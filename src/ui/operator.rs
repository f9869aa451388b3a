//! The operator's menu, for a kiosk with a touch screen and no keyboard: a long press in the
//! top-left corner asks for the installation's PIN on a keypad, then opens a staff panel with
//! the exhibit's health, its last errors, next and previous scene, the playlist's scenes, a
//! restart, and the idle timeouts to calibrate. Visitors see none of it: without the PIN the
//! keypad closes again, and after three wrong PINs it stays shut for a minute.

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use crate::scene::kiosk::KioskSettings;
use crate::scene::scenario::{Playlist, PlaylistJump};

/// Seconds a press must be held in the corner.
pub const LONG_PRESS_SECONDS: f32 = 3.0;
/// Side of the corner that opens the menu, in logical pixels.
pub const CORNER: f32 = 90.0;
/// Wrong PINs before the keypad rests.
const TRIES: u32 = 3;
/// Seconds the keypad rests after them.
const LOCKOUT_SECONDS: f32 = 60.0;

/// The operator's menu settings: the PIN, and where the supervisor's report is.
#[derive(Resource, Clone, Debug, Default)]
pub struct OperatorSettings {
    /// The PIN (`None`: no menu).
    pub pin: Option<String>,
    /// The supervisor's health report, rewritten as it changes (restarts, errors).
    pub status: Option<std::path::PathBuf>,
}

#[derive(Default, PartialEq, Debug)]
enum MenuState {
    #[default]
    Closed,
    Pin(String),
    Open,
}

/// What the menu remembers.
#[derive(Resource, Default, Debug)]
pub struct OperatorMenu {
    state: MenuState,
    pressed_for: f32,
    wrong: u32,
    locked_for: f32,
}

impl OperatorMenu {
    /// Whether the staff panel is open.
    pub fn is_open(&self) -> bool {
        self.state == MenuState::Open
    }

    /// A PIN typed on the keypad: the right one opens the staff panel; a wrong one closes the
    /// keypad, and the [`TRIES`]th wrong one in a row rests it for [`LOCKOUT_SECONDS`].
    fn submit(&mut self, attempt: &str, pin: &str) {
        if attempt == pin {
            (self.state, self.wrong) = (MenuState::Open, 0);
            return;
        }
        self.wrong += 1;
        self.state = MenuState::Closed;
        if self.wrong >= TRIES {
            (self.wrong, self.locked_for) = (0, LOCKOUT_SECONDS);
            warn!("operator menu: {TRIES} wrong PINs; the keypad rests for {LOCKOUT_SECONDS} s");
        }
    }
}

/// The environment variable that carries the PIN from the supervisor to its window.
pub const PIN_ENV: &str = "NCA_OPERATOR_PIN";

/// The restart the operator asked for: the window exits with this status and the supervisor
/// starts a fresh one, counting it as asked, not as a failure.
pub const OPERATOR_RESTART_EXIT: u8 = 76;

/// The long press, the keypad and the staff panel.
pub struct OperatorMenuPlugin;

impl Plugin for OperatorMenuPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<OperatorSettings>()
            .init_resource::<OperatorMenu>()
            .add_systems(Update, watch_corner)
            .add_systems(EguiPrimaryContextPass, draw_menu);
    }
}

/// A press (touch or mouse) held in the top-left corner for [`LONG_PRESS_SECONDS`].
fn watch_corner(
    settings: Res<OperatorSettings>,
    mut menu: ResMut<OperatorMenu>,
    time: Res<Time<Real>>,
    touches: Res<Touches>,
    mouse: Res<ButtonInput<MouseButton>>,
    windows: Query<&Window, With<PrimaryWindow>>,
) {
    if settings.pin.is_none() || menu.state != MenuState::Closed {
        menu.pressed_for = 0.0;
        return;
    }
    menu.locked_for = (menu.locked_for - time.delta_secs()).max(0.0);
    let in_corner = |p: Vec2| p.x <= CORNER && p.y <= CORNER;
    let touched = touches.iter().any(|t| in_corner(t.start_position()) && in_corner(t.position()));
    let clicked = mouse.pressed(MouseButton::Left) && windows.single().ok().and_then(Window::cursor_position).is_some_and(in_corner);
    if !(touched || clicked) {
        menu.pressed_for = 0.0;
        return;
    }
    menu.pressed_for += time.delta_secs();
    if menu.pressed_for >= LONG_PRESS_SECONDS && menu.locked_for == 0.0 {
        menu.pressed_for = 0.0;
        menu.state = MenuState::Pin(String::new());
    }
}

/// The supervisor's report, if there is one to read.
fn supervisor_report(settings: &OperatorSettings) -> Option<serde_json::Value> {
    let path = settings.status.as_ref()?;
    let text = crate::model::files::read_input_text(path, "status", 1 << 20).ok()?;
    serde_json::from_str(&text).ok()
}

#[allow(clippy::too_many_arguments)]
fn draw_menu(
    mut contexts: EguiContexts,
    settings: Res<OperatorSettings>,
    mut menu: ResMut<OperatorMenu>,
    mut kiosk: ResMut<KioskSettings>,
    playlist: Option<Res<Playlist>>,
    library: Res<crate::library::ModelLibrary>,
    mut jumps: MessageWriter<PlaylistJump>,
    mut scene: MessageWriter<crate::scene::SceneCommand>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(pin) = settings.pin.clone() else { return };
    if menu.state == MenuState::Closed {
        return;
    }
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let big = |text: &str| egui::RichText::new(text).size(28.0);
    if let MenuState::Pin(entered) = &mut menu.state {
        let mut close = false;
        let mut done = None;
        egui::Window::new("Staff").collapsible(false).resizable(false).anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0]).show(ctx, |ui| {
            ui.label(big(&"•".repeat(entered.len())).monospace());
            egui::Grid::new("pin-pad").show(ui, |ui| {
                for row in [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["⌫", "0", "OK"]] {
                    for key in row {
                        if ui.add_sized([72.0, 60.0], egui::Button::new(big(key))).clicked() {
                            match key {
                                "⌫" => {
                                    entered.pop();
                                }
                                "OK" => done = Some(entered.clone()),
                                digit if entered.len() < 8 => entered.push_str(digit),
                                _ => {}
                            }
                        }
                    }
                    ui.end_row();
                }
            });
            close = ui.add_sized([232.0, 48.0], egui::Button::new(big("Cancel"))).clicked();
        });
        if close {
            menu.state = MenuState::Closed;
        } else if let Some(attempt) = done {
            menu.submit(&attempt, &pin);
        }
        return;
    }
    let report = supervisor_report(&settings);
    let mut open = true;
    egui::Window::new("Operator").open(&mut open).collapsible(false).anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0]).show(ctx, |ui| {
        ui.heading("Health");
        match &report {
            Some(r) => {
                ui.label(format!(
                    "up {:.0} min · {} restarts · mode {} · {} · step {} · {:.0} fps · {:.0} MB",
                    r["uptime_s"].as_f64().unwrap_or(0.0) / 60.0,
                    r["restart_count"],
                    r["mode"].as_str().unwrap_or("?"),
                    if r["open"] == true { "open" } else { "closed" },
                    r["step"],
                    r["fps"].as_f64().unwrap_or(0.0),
                    r["memory_mb"].as_f64().unwrap_or(0.0),
                ));
                ui.label(format!(
                    "{} on {} ({})",
                    r["scene"].as_str().unwrap_or(""),
                    r["adapter"].as_str().unwrap_or(""),
                    r["backend"].as_str().unwrap_or("")
                ));
            }
            None => {
                ui.label("no supervisor report (not run by nca exhibit)");
            }
        }
        ui.heading("Last errors");
        let mut errors: Vec<String> = library.messages.iter().filter(|m| m.is_error).map(|m| m.text.clone()).collect();
        if let Some(restarts) = report.as_ref().and_then(|r| r["restarts"].as_array()) {
            errors.extend(
                restarts
                    .iter()
                    .rev()
                    .take(5)
                    .map(|s| format!("window stopped ({}): {}", s["mode"].as_str().unwrap_or(""), s["reason"].as_str().unwrap_or(""))),
            );
        }
        if errors.is_empty() {
            ui.label("none");
        }
        for e in errors.iter().take(8) {
            ui.colored_label(egui::Color32::LIGHT_RED, e);
        }
        ui.heading("Scene");
        ui.horizontal(|ui| {
            for (label, step) in [("◀ Previous", -1), ("Next ▶", 1)] {
                if ui.add_sized([140.0, 48.0], egui::Button::new(big(label))).clicked() {
                    if playlist.is_some() {
                        jumps.write(PlaylistJump(step));
                    } else {
                        scene.write(crate::scene::SceneCommand::Reset);
                    }
                }
            }
            if ui.add_sized([140.0, 48.0], egui::Button::new(big("Restart"))).clicked() {
                info!("operator menu: restart asked");
                exit.write(AppExit::from_code(OPERATOR_RESTART_EXIT));
            }
        });
        if let Some(list) = &playlist {
            for (i, (scene, path)) in list.items.iter().enumerate() {
                let name = if scene.scenario.name.is_empty() { path.display().to_string() } else { scene.scenario.name.clone() };
                if ui.selectable_label(i == list.index, big(&name).size(20.0)).clicked() && i != list.index {
                    jumps.write(PlaylistJump(i as i32 - list.index as i32));
                }
            }
        }
        ui.heading("Idle timeouts");
        if let Some(seconds) = kiosk.self_play_seconds.as_mut() {
            ui.add(egui::Slider::new(seconds, 5.0..=600.0).text("plays by itself after (s)"));
        }
        if let Some(seconds) = kiosk.idle_reset_seconds.as_mut() {
            ui.add(egui::Slider::new(seconds, 10.0..=3600.0).text("starts over after (s)"));
        }
        ui.label("Calibrations last until the window restarts; the installation file keeps the defaults.");
    });
    if !open {
        menu.state = MenuState::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_pin_opens_the_menu_and_three_wrong_ones_rest_the_keypad() {
        let mut menu = OperatorMenu::default();
        menu.submit("1111", "2468");
        menu.submit("2222", "2468");
        assert!(!menu.is_open() && menu.locked_for == 0.0);
        menu.submit("2468", "2468");
        assert!(menu.is_open() && menu.wrong == 0, "the right PIN opens it and forgets the wrong ones");
        menu.state = MenuState::Closed;
        for _ in 0..TRIES {
            menu.submit("0000", "2468");
        }
        assert!(!menu.is_open() && menu.locked_for == LOCKOUT_SECONDS);
    }
}
