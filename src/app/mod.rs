//! Ready-made Bevy apps: a headless GPU runner for tools and tests, and the sandbox window.

pub mod headless;
pub mod window;

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;

/// Errors from setting up or driving the GPU.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter was found (no GPU and no software Vulkan such as lavapipe).
    #[error("no GPU adapter found (install a Vulkan driver, e.g. `apt-get install mesa-vulkan-drivers`, and set WGPU_BACKEND=vulkan)")]
    NoAdapter,
    /// A shader failed to compile.
    #[error("{0}")]
    Pipeline(String),
    /// The GPU did not answer in time.
    #[error("GPU timed out: {0}")]
    Timeout(String),
    /// A readback failed.
    #[error("{0}")]
    Readback(String),
}

/// Exit status of a window that lost its GPU device (or met another render error it cannot go
/// on from): a supervisor restarts it on a fresh device. 75 is `EX_TEMPFAIL`: try again.
pub const DEVICE_LOST_EXIT: u8 = 75;

/// Checks that wgpu can see an adapter on the backends Bevy will use, so a machine without a
/// GPU gets an error message instead of Bevy's panic.
pub fn probe_adapter() -> Result<String, GpuError> {
    crate::platform::adapter_name().ok_or(GpuError::NoAdapter)
}

/// Whether wgpu sees a hardware GPU (not a software rasteriser such as lavapipe, which reports
/// itself as a CPU): lessons train on it when there is one, since Burn's CPU backend beats a
/// software GPU.
pub fn hardware_gpu() -> bool {
    crate::platform::hardware_gpu()
}

/// The process's resident memory in MB (Linux; `None` elsewhere), for soak runs and reports.
pub fn resident_mb() -> Option<f64> {
    status_mb("VmRSS:")
}

/// The most resident memory the process has held so far, in MB (Linux; `None` elsewhere).
pub fn peak_resident_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs the tasks waiting on the main thread (a page's event loop runs them itself).
#[cfg(not(target_arch = "wasm32"))]
fn tick_task_pools() {
    bevy::tasks::tick_global_task_pools_on_main_thread();
}

#[cfg(target_arch = "wasm32")]
fn tick_task_pools() {}

/// Bevy's plugins for an app with no window: rendering and compute, nothing that needs a display.
pub fn headless_plugins() -> PluginGroupBuilder {
    let plugins = DefaultPlugins.build().disable::<bevy::winit::WinitPlugin>().disable::<bevy::log::LogPlugin>();
    without_pipelined_rendering(plugins).set(WindowPlugin {
        primary_window: None,
        exit_condition: bevy::window::ExitCondition::DontExit,
        close_when_requested: false,
        ..default()
    })
}

/// Pipelined rendering needs a second thread, which only a native build has and builds it in.
#[cfg(not(target_arch = "wasm32"))]
fn without_pipelined_rendering(plugins: PluginGroupBuilder) -> PluginGroupBuilder {
    plugins.disable::<bevy::render::pipelined_rendering::PipelinedRenderingPlugin>()
}

#[cfg(target_arch = "wasm32")]
fn without_pipelined_rendering(plugins: PluginGroupBuilder) -> PluginGroupBuilder {
    plugins
}

/// Drives plugin set-up to completion for apps that are updated by hand rather than `run()`.
pub fn finish_plugins(app: &mut App) {
    while app.plugins_state() == bevy::app::PluginsState::Adding {
        tick_task_pools();
    }
    app.finish();
    app.cleanup();
}
