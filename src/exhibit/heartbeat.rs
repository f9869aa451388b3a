//! The window's heartbeat: a small JSON file the kiosk window rewrites about once a second from
//! inside its frame loop, with what it is doing. The supervisor reads it to know that frames and
//! steps still advance (a frozen GPU or a deadlock stops the frame loop, and with it the
//! heartbeat) and serves its figures at `GET /health`.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Largest heartbeat file read.
const MAX_HEARTBEAT_BYTES: u64 = 64 << 10;

/// What the window reports about itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The window's process id.
    pub pid: u32,
    /// Frames drawn since it started.
    pub frame: u64,
    /// The running grid's step.
    pub step: u64,
    /// Frames per second over the last second.
    pub fps: f32,
    /// Grid steps per second over the last second.
    pub steps_per_s: f32,
    /// The scene: the scenario's name, or the model's file.
    pub scene: String,
    /// The model of the grid.
    pub model: String,
    /// The grid's width and height.
    pub grid: [u32; 2],
    /// The GPU adapter's name.
    pub adapter: String,
    /// Its backend (Vulkan, Metal, …).
    pub backend: String,
    /// Resident memory of the window, MB.
    pub rss_mb: f64,
    /// Whether it shows the exhibit (false: the closed look).
    pub open: bool,
    /// The last errors the window logged (load errors, a lesson that failed), newest last.
    pub errors: Vec<String>,
}

impl Heartbeat {
    /// Writes the heartbeat through a sibling file and a rename, so a reader never sees half.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string(self).map_err(|e| e.to_string())?;
        crate::model::weights::write_atomically(path, text.as_bytes()).map_err(|e| e.to_string())
    }

    /// Reads a heartbeat file; `None` if there is none yet or it is unreadable.
    pub fn read(path: &Path) -> Option<Self> {
        let text = crate::model::files::read_input_text(path, "heartbeat", MAX_HEARTBEAT_BYTES).ok()?;
        serde_json::from_str(&text).ok()
    }
}
