//! The native side of [`super`]: the file system, OS threads, signals.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Entry;

pub(super) fn entry(path: &Path) -> std::io::Result<Entry> {
    let meta = std::fs::metadata(path)?;
    Ok(if meta.is_file() {
        Entry::File(meta.len())
    } else if meta.is_dir() {
        Entry::Folder
    } else {
        Entry::Other
    })
}

pub(super) fn open(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    Ok(Box::new(std::fs::File::open(path)?))
}

pub(super) fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

pub(super) fn list_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect()
}

pub(super) fn worker_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// `BIN/../share/nca-sandbox` when it holds `trained/` (how the package lays it out), else the
/// source tree this binary was built from. Never the working folder alone: an exhibit started by
/// systemd or a desktop session runs from `/` or a home folder.
pub(super) fn data_dir() -> PathBuf {
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().and_then(Path::parent).map(|prefix| prefix.join("share/nca-sandbox")))
        .filter(|dir| dir.join("trained").is_dir());
    installed.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub(super) fn on_interrupt(stop: impl FnMut() + Send + 'static) -> Result<(), String> {
    ctrlc::set_handler(stop).map_err(|e| format!("cannot catch Ctrl-C: {e}"))
}

fn adapters() -> Vec<wgpu::Adapter> {
    let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle() });
    futures_lite::future::block_on(instance.enumerate_adapters(backends))
}

pub(super) fn adapter_name() -> Option<String> {
    adapters().first().map(|a| a.get_info().name)
}

pub(super) fn hardware_gpu() -> bool {
    adapters().iter().any(|a| matches!(a.get_info().device_type, wgpu::DeviceType::DiscreteGpu | wgpu::DeviceType::IntegratedGpu))
}
