//! The web side of [`super`]: a page has no file system, so the files its site ships (the models
//! of `trained/`, the assets) are fetched once by the page's loader, with a progress bar, and held
//! here in memory; a file a person opens (file picker, drag and drop) joins them under
//! `opened/`. Every loader of the crate then reads them as it reads files natively.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::Entry;

static FILES: Mutex<BTreeMap<String, Arc<[u8]>>> = Mutex::new(BTreeMap::new());

/// A path as the site names it: relative, `/`-separated, with `.` and leading `/` gone.
pub fn site_key(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Adds (or replaces) a file of the site.
pub fn add(path: &Path, bytes: Vec<u8>) {
    FILES.lock().unwrap_or_else(|e| e.into_inner()).insert(site_key(path), bytes.into());
}

/// The bytes of a file of the site.
pub fn get(path: &Path) -> Option<Arc<[u8]>> {
    FILES.lock().unwrap_or_else(|e| e.into_inner()).get(&site_key(path)).cloned()
}

fn not_found(path: &Path) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} is not part of this site", path.display()))
}

pub(super) fn entry(path: &Path) -> std::io::Result<Entry> {
    let key = site_key(path);
    let files = FILES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(bytes) = files.get(&key) {
        return Ok(Entry::File(bytes.len() as u64));
    }
    let prefix = format!("{key}/");
    if key.is_empty() || files.keys().any(|k| k.starts_with(&prefix)) { Ok(Entry::Folder) } else { Err(not_found(path)) }
}

struct SharedBytes(Arc<[u8]>, usize);

impl Read for SharedBytes {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.0[self.1..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.1 += n;
        Ok(n)
    }
}

pub(super) fn open(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    let bytes = get(path).ok_or_else(|| not_found(path))?;
    Ok(Box::new(SharedBytes(bytes, 0)))
}

pub(super) fn list_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    if entry(dir)? != Entry::Folder {
        return Err(std::io::Error::new(std::io::ErrorKind::NotADirectory, format!("{} is not a folder", dir.display())));
    }
    let key = site_key(dir);
    let prefix = if key.is_empty() { String::new() } else { format!("{key}/") };
    let files = FILES.lock().unwrap_or_else(|e| e.into_inner());
    let mut children: Vec<PathBuf> = files
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(|rest| rest.split('/').next().unwrap_or(rest))
        .map(|child| dir.join(child))
        .collect();
    children.dedup();
    Ok(children)
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
