//! The panel's "Browse…" window: a folder walk that shows only folders and model files.
//!
//! It is drawn with egui instead of asking the desktop for a native dialog, because the
//! sandbox's homes (a kiosk without a desktop session, a touch screen, Xvfb) often have no
//! dialog service, and big rows are easier to hit with a finger.

use std::path::{Path, PathBuf};

use bevy_egui::egui;

use crate::library::{BrowseEntry, BrowseKind, browse};

/// Height of one row, sized for fingers.
const ROW_HEIGHT: f32 = 30.0;

/// The browser's state: closed, or open at a folder with that folder's listing.
#[derive(Debug, Default)]
pub struct FileBrowser {
    dir: Option<PathBuf>,
    listing: Vec<BrowseEntry>,
    error: Option<String>,
}

impl FileBrowser {
    /// Whether the window is showing.
    pub fn is_open(&self) -> bool {
        self.dir.is_some()
    }

    /// Shows the window at `dir` (listing it now, not every frame).
    pub fn open_at(&mut self, dir: &Path) {
        // Absolute, so "Up" keeps working from a relative start like `trained`.
        let dir = &std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        match browse(dir) {
            Ok(listing) => {
                self.listing = listing;
                self.error = None;
            }
            Err(e) => {
                self.listing.clear();
                self.error = Some(format!("cannot list {}: {e}", dir.display()));
            }
        }
        self.dir = Some(dir.to_path_buf());
    }

    /// Hides the window.
    pub fn close(&mut self) {
        self.dir = None;
        self.listing.clear();
        self.error = None;
    }

    /// Draws the window (if open) with a button per shortcut place; returns the model file the
    /// person picked, which also closes the window (as do its × and Escape).
    pub fn show(&mut self, ctx: &egui::Context, places: &[(String, PathBuf)]) -> Option<PathBuf> {
        let dir = self.dir.clone()?;
        let mut keep_open = true;
        let mut go_to = None;
        let mut picked = None;
        egui::Window::new("Open a model").open(&mut keep_open).collapsible(false).default_size([380.0, 440.0]).show(ctx, |ui| {
            ui.horizontal_wrapped(|ui| {
                if ui.add_enabled(dir.parent().is_some(), egui::Button::new("⬆ Up")).clicked() {
                    go_to = dir.parent().map(Path::to_path_buf);
                }
                if ui.button("⟳").on_hover_text("list this folder again").clicked() {
                    go_to = Some(dir.clone());
                }
                for (label, place) in places {
                    if ui.button(label).clicked() {
                        go_to = Some(place.clone());
                    }
                }
            });
            ui.add(egui::Label::new(egui::RichText::new(dir.display().to_string()).monospace()).wrap());
            if let Some(error) = &self.error {
                ui.colored_label(egui::Color32::from_rgb(200, 40, 40), error);
            }
            ui.separator();
            egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                if self.listing.is_empty() && self.error.is_none() {
                    ui.weak("No folders or model files here.");
                }
                for entry in &self.listing {
                    let (icon, note) = match entry.kind {
                        BrowseKind::Folder => ("📁", "folder"),
                        BrowseKind::Model => ("📄", "model"),
                    };
                    let row = egui::Button::new(format!("{icon} {}", entry.name))
                        .shortcut_text(note)
                        .truncate()
                        .min_size(egui::vec2(ui.available_width(), ROW_HEIGHT));
                    if ui.add(row).clicked() {
                        match entry.kind {
                            BrowseKind::Folder => go_to = Some(entry.path.clone()),
                            BrowseKind::Model => picked = Some(entry.path.clone()),
                        }
                    }
                }
            });
        });
        if let Some(dir) = go_to {
            self.open_at(&dir);
        }
        let escaped = ctx.input(|i| i.key_pressed(egui::Key::Escape));
        if picked.is_some() || !keep_open || escaped {
            self.close();
        }
        picked
    }
}
