//! The web side of [`super`]: a page has no file system, so the files its site ships (the models
//! of `trained/`, the assets) are fetched once by the page's loader, with a progress bar, and held
//! here in memory; a file a person opens (file picker, drag and drop) joins them under
//! `opened/`. Every loader of the crate then reads them as it reads files natively.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Entry;
use super::memory::MemoryFiles;

static FILES: MemoryFiles = MemoryFiles::new();

/// Adds (or replaces) a file of the site.
pub fn add(path: &Path, bytes: Vec<u8>) {
    FILES.add(path, bytes);
}

/// The bytes of a file of the site.
pub fn get(path: &Path) -> Option<Arc<[u8]>> {
    FILES.get(path)
}

pub(super) fn entry(path: &Path) -> std::io::Result<Entry> {
    FILES.entry(path)
}

pub(super) fn open(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    FILES.open(path)
}

pub(super) fn list_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    FILES.list_dir(dir)
}

pub(super) fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    add(path, bytes.to_vec());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "nca-sandbox-file".into());
    download(&name, bytes).map_err(|e| std::io::Error::other(format!("the browser refused the download: {e:?}")))
}

/// Hands `bytes` to the browser as a download named `name`.
fn download(name: &str, bytes: &[u8]) -> Result<(), wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    link.set_href(&url);
    link.set_download(name);
    link.click();
    web_sys::Url::revoke_object_url(&url)
}

pub(super) fn worker_count() -> usize {
    1
}

pub(super) fn data_dir() -> PathBuf {
    PathBuf::new()
}

pub(super) fn on_interrupt(_stop: impl FnMut() + Send + 'static) -> Result<(), String> {
    Ok(())
}

pub(super) fn adapter_name() -> Option<String> {
    // The page's loader asked `navigator.gpu` for an adapter before it started the app, and
    // showed the reason instead when there was none.
    Some("the browser's WebGPU adapter".into())
}

pub(super) fn hardware_gpu() -> bool {
    // Lessons need threads the page does not have; the adapter's kind does not change that.
    false
}
