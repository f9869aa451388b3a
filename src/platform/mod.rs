//! Where the native app and the web build differ, behind small named seams; the rest of the
//! crate asks these functions and never `cfg`s on the target itself.
//!
//! - files: a native build reads the file system; a page reads the files its site shipped (and
//!   the ones a person opened), held in memory ([`site`] on the web);
//! - threads: a page has one, so CPU work that would fan out runs inline ([`worker_count`]);
//! - the clock: [`Instant`] works in a browser, where `std::time::Instant::now` panics;
//! - the GPU probe, and what to do on Ctrl-C.

use std::io::Read;
use std::path::{Path, PathBuf};

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
use native as imp;

pub mod memory;
#[cfg(target_arch = "wasm32")]
pub mod site;
#[cfg(target_arch = "wasm32")]
use site as imp;

/// Clock readings that work natively and in a browser tab.
pub use web_time::{Instant, SystemTime, UNIX_EPOCH};

/// Whether this build runs in a browser tab.
pub const WEB: bool = cfg!(target_arch = "wasm32");

/// Whether work may go to threads of its own (lessons, GIF encoding); a page has one thread.
pub const THREADS: bool = !WEB;

/// What a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A regular file of this many bytes.
    File(u64),
    /// A folder.
    Folder,
    /// Something else: a pipe, a socket, a device.
    Other,
}

/// What `path` names, from its metadata (nothing is opened).
pub fn entry(path: &Path) -> std::io::Result<Entry> {
    imp::entry(path)
}

/// Whether `path` names a regular file.
pub fn is_file(path: &Path) -> bool {
    matches!(entry(path), Ok(Entry::File(_)))
}

/// Whether `path` names a folder.
pub fn is_dir(path: &Path) -> bool {
    matches!(entry(path), Ok(Entry::Folder))
}

/// Whether `path` names anything.
pub fn exists(path: &Path) -> bool {
    entry(path).is_ok()
}

/// A reader of the file at `path` that stops after `limit` bytes.
pub fn open(path: &Path, limit: u64) -> std::io::Result<std::io::Take<Box<dyn Read + Send>>> {
    Ok(imp::open(path)?.take(limit))
}

/// The entries directly inside `dir` (files and folders), unsorted.
pub fn list_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    imp::list_dir(dir)
}

/// Writes a whole file so that a reader never sees half of it (natively: a `.partial` file
/// renamed into place). In a page the file becomes a download by its name, and joins the
/// site's files, so the app can open what it saved.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    imp::write_file(path, bytes)
}

/// How many threads CPU work may fan out to (1: run it inline, as a page must).
pub fn worker_count() -> usize {
    imp::worker_count()
}

/// Where the bundled `trained/` and `assets/` live.
pub fn data_dir() -> PathBuf {
    imp::data_dir()
}

/// Calls `stop` when the person presses Ctrl-C (or the service manager says stop); a page has
/// no such signal, and its tab simply closes.
pub fn on_interrupt(stop: impl FnMut() + Send + 'static) -> Result<(), String> {
    imp::on_interrupt(stop)
}

/// The name of the first GPU adapter wgpu sees, if any.
pub fn adapter_name() -> Option<String> {
    imp::adapter_name()
}

/// Whether the GPU is real hardware (not a software rasteriser): lessons train on it when it is.
pub fn hardware_gpu() -> bool {
    imp::hardware_gpu()
}
