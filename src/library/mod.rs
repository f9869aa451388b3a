//! The model library: every model file the sandbox knows about (the `trained/` folder,
//! `--model`, files opened from the panel or dropped on the window), loaded as [`NcaModel`]
//! assets through the asset server, watched for changes on disk, with every problem kept as a
//! message for the panel.
//!
//! Files are read through one asset source, `nca://`, rooted at the filesystem root, so any
//! path on disk is an asset path and `AssetServer::reload` hot-swaps it. A file that fails to
//! load (or to reload) never replaces a working model: the grid keeps running the last good
//! weights and the panel says what went wrong.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bevy::asset::io::AssetSourceBuilder;
use bevy::asset::{AssetLoadFailedEvent, AssetPath};
use bevy::prelude::*;
use bevy::window::FileDragAndDrop;

use crate::sim::NcaModel;

/// The asset source every model file is read through.
pub const SOURCE: &str = "nca";

/// Registers the `nca://` source; call before `DefaultPlugins` (asset sources are fixed when the
/// asset plugin is built).
pub fn register_source(app: &mut App) {
    app.register_asset_source(SOURCE, files_source());
}

/// The file system, natively.
#[cfg(not(target_arch = "wasm32"))]
fn files_source() -> AssetSourceBuilder {
    AssetSourceBuilder::platform_default("/", None)
}

/// The site's files, in a page.
#[cfg(target_arch = "wasm32")]
fn files_source() -> AssetSourceBuilder {
    crate::web::site_source()
}

/// The asset path of a file on disk.
pub fn asset_path(file: &Path) -> AssetPath<'static> {
    // Canonical, so `..` in a relative path (`../shared/x.json`) resolves before the root is
    // stripped; a file that does not exist (yet) keeps its absolute spelling.
    let absolute = std::fs::canonicalize(file).or_else(|_| std::path::absolute(file)).unwrap_or_else(|_| file.to_path_buf());
    let relative: PathBuf = absolute.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect();
    AssetPath::from_path_buf(relative).with_source(SOURCE)
}

/// The model files directly inside `dir`, sorted by name (training checkpoints left out).
pub fn model_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> =
        crate::platform::list_dir(dir)?.into_iter().filter(|p| crate::platform::is_file(p) && is_offered_model(p)).collect();
    files.sort();
    Ok(files)
}

/// What a folder listing shows for one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BrowseKind {
    /// A folder to go into.
    Folder,
    /// A file the model loader reads.
    Model,
}

/// One row of a folder listing in the panel's file browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowseEntry {
    /// What it is.
    pub kind: BrowseKind,
    /// The file or folder name.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
}

/// The folders and model files inside `dir`: folders first, each group sorted by name. Hidden
/// entries and training checkpoints are left out, as are files the loader cannot read, so a
/// kiosk visitor or a player only ever sees things that can be opened.
pub fn browse(dir: &Path) -> std::io::Result<Vec<BrowseEntry>> {
    let mut entries: Vec<BrowseEntry> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return None;
            }
            let kind = if path.is_dir() {
                BrowseKind::Folder
            } else if is_offered_model(&path) {
                BrowseKind::Model
            } else {
                return None;
            };
            Some(BrowseEntry { kind, name, path })
        })
        .collect();
    entries.sort_by_key(|e| (e.kind, e.name.to_lowercase()));
    Ok(entries)
}

/// A model file worth offering in a list: one the loader reads, but not a training checkpoint
/// (which holds a whole sample pool, not a model).
fn is_offered_model(path: &Path) -> bool {
    is_model_file(path) && !path.to_string_lossy().ends_with(".ckpt.safetensors")
}

/// Whether a file name looks like a model the loader reads.
pub fn is_model_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(), Some("safetensors" | "json"))
}

/// Whether `path` names a picture (a digit to place on an MNIST canvas, when dropped).
pub fn is_picture_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(), Some("png"))
}

/// One model the sandbox can run.
#[derive(Clone, Debug)]
pub struct LibraryEntry {
    /// Shown in the picker: the file stem.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// The asset.
    pub handle: Handle<NcaModel>,
    /// The file's modification time when last (re)loaded; a change triggers a reload.
    pub modified: Option<SystemTime>,
    /// Why the last load failed, if it did.
    pub error: Option<String>,
    /// The file disappeared (the loaded copy keeps running).
    pub missing: bool,
}

/// One line for the panel's message area.
#[derive(Clone, Debug, PartialEq)]
pub struct LibraryMessage {
    /// What happened.
    pub text: String,
    /// Errors are shown in red and kept until dismissed.
    pub is_error: bool,
    /// How many times it happened (repeats are merged into the newest).
    pub count: u32,
}

/// Every known model, and what went wrong with any of them.
#[derive(Resource, Default, Debug)]
pub struct ModelLibrary {
    /// Models in the order they were added.
    pub entries: Vec<LibraryEntry>,
    /// Messages for the panel, oldest first.
    pub messages: Vec<LibraryMessage>,
    /// A model to switch the scene to as soon as it has loaded (opened or dropped files).
    pub select_when_loaded: Option<Handle<NcaModel>>,
}

impl ModelLibrary {
    /// Adds (or finds) the model file at `path` and starts loading it.
    pub fn open(&mut self, path: &Path, server: &AssetServer) -> Handle<NcaModel> {
        if let Some(entry) = self.entries.iter().find(|e| e.path == path) {
            return entry.handle.clone();
        }
        let handle = server.load(asset_path(path));
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model").trim_end_matches(".safetensors").to_string();
        self.entries.push(LibraryEntry {
            name,
            path: path.to_path_buf(),
            handle: handle.clone(),
            modified: modified(path),
            error: None,
            missing: false,
        });
        handle
    }

    /// Adds every model file directly inside `dir` (sorted by name).
    pub fn open_folder(&mut self, dir: &Path, server: &AssetServer) -> std::io::Result<usize> {
        let files = model_files(dir)?;
        for file in &files {
            self.open(file, server);
        }
        Ok(files.len())
    }

    /// The entry of a model asset.
    pub fn entry(&self, handle: &Handle<NcaModel>) -> Option<&LibraryEntry> {
        self.entries.iter().find(|e| e.handle.id() == handle.id())
    }

    /// Records an error for the panel.
    pub fn error(&mut self, text: impl Into<String>) {
        let text = text.into();
        warn!("{text}");
        self.push(text, true);
    }

    /// Records a note for the panel.
    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        info!("{text}");
        self.push(text, false);
    }

    /// A repeat of a message moves it to the newest place with its count raised, so a failure
    /// that recurs (a broken file saved again and again) is one line, not a column.
    fn push(&mut self, text: String, is_error: bool) {
        let count = match self.messages.iter().position(|m| m.text == text && m.is_error == is_error) {
            Some(at) => self.messages.remove(at).count + 1,
            None => 1,
        };
        self.messages.push(LibraryMessage { text, is_error, count });
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    // A page's files never change under it (and its std has no file system to ask).
    if crate::platform::WEB {
        return None;
    }
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// How often files are checked for changes, in seconds.
#[derive(Resource, Clone, Debug)]
pub struct LibrarySettings {
    /// Seconds between checks of the files' modification times.
    pub poll_seconds: f32,
}

impl Default for LibrarySettings {
    fn default() -> Self {
        Self { poll_seconds: 0.5 }
    }
}

/// System sets of the library, in `Update`.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct LibrarySystems;

/// The model library, its hot reload and its drag-and-drop.
pub struct LibraryPlugin;

impl Plugin for LibraryPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ModelLibrary>()
            .init_resource::<LibrarySettings>()
            .add_systems(Update, (accept_dropped_files, watch_files, report_load_failures).chain().in_set(LibrarySystems));
    }
}

/// Dropped files join the library (and are selected once loaded); anything else is refused
/// with a message.
fn accept_dropped_files(mut drops: MessageReader<FileDragAndDrop>, mut library: ResMut<ModelLibrary>, server: Res<AssetServer>) {
    for drop in drops.read() {
        let FileDragAndDrop::DroppedFile { path_buf, .. } = drop else { continue };
        if is_picture_file(path_buf) || crate::scene::scenario::is_scenario_file(path_buf) {
            // The digits scene takes pictures (and says so when the grid is not a canvas); the
            // scenario player takes scenarios.
            continue;
        }
        if !is_model_file(path_buf) {
            library.error(format!("{} is not a model (expected .safetensors or a Distill .json)", path_buf.display()));
            continue;
        }
        let handle = library.open(path_buf, &server);
        library.select_when_loaded = Some(handle);
    }
}

/// Reloads files whose modification time changed; notes files that disappeared.
fn watch_files(
    time: Res<Time<Real>>,
    settings: Res<LibrarySettings>,
    mut since: Local<f32>,
    mut library: ResMut<ModelLibrary>,
    server: Res<AssetServer>,
) {
    *since += time.delta_secs();
    if *since < settings.poll_seconds {
        return;
    }
    *since = 0.0;
    let mut notes = Vec::new();
    for entry in &mut library.entries {
        match (modified(&entry.path), crate::platform::exists(&entry.path)) {
            (_, false) => {
                if !entry.missing {
                    entry.missing = true;
                    notes.push(format!("{} was deleted; the loaded copy keeps running", entry.path.display()));
                }
            }
            (now, true) => {
                if entry.missing || now != entry.modified {
                    entry.missing = false;
                    entry.modified = now;
                    entry.error = None;
                    server.reload(asset_path(&entry.path));
                }
            }
        }
    }
    for note in notes {
        library.note(note);
    }
}

/// What went wrong with a file, for a person: the loader's own one-line error without Bevy's
/// wrapping (asset paths, loader type names, backtraces).
fn load_failure_text(error: &bevy::asset::AssetLoadError) -> String {
    use crate::model::ModelError;
    use crate::sim::NcaModelLoaderError;
    match error {
        bevy::asset::AssetLoadError::AssetLoaderError(e) => match e.error().downcast_ref::<NcaModelLoaderError>() {
            Some(NcaModelLoaderError::Model(ModelError::Format { message, .. })) => message.clone(),
            Some(NcaModelLoaderError::Model(ModelError::Io { source, .. } | ModelError::Write { source, .. })) => {
                format!("cannot read the file ({source})")
            }
            Some(NcaModelLoaderError::Io(source)) => format!("cannot read the file ({source})"),
            None => "the file could not be loaded".to_string(),
        },
        bevy::asset::AssetLoadError::AssetReaderError(_) => "the file could not be read (moved or deleted?)".to_string(),
        _ => "the file could not be loaded".to_string(),
    }
}

fn report_load_failures(mut failures: MessageReader<AssetLoadFailedEvent<NcaModel>>, mut library: ResMut<ModelLibrary>) {
    for failure in failures.read() {
        let text = load_failure_text(&failure.error);
        let mut name = failure.path.to_string();
        if let Some(entry) = library.entries.iter_mut().find(|e| e.handle.id() == failure.id) {
            entry.error = Some(text.clone());
            name = entry.path.display().to_string();
        }
        if library.select_when_loaded.as_ref().is_some_and(|h| h.id() == failure.id) {
            library.select_when_loaded = None;
        }
        library.error(format!("cannot load {name}: {text}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsing_lists_folders_then_models_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("nca-browse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("Zoo")).unwrap();
        std::fs::create_dir_all(dir.join("alpha")).unwrap();
        std::fs::create_dir_all(dir.join(".hidden")).unwrap();
        for file in ["b.safetensors", "A.json", "run.ckpt.safetensors", "notes.txt", "picture.png"] {
            std::fs::write(dir.join(file), b"x").unwrap();
        }
        let listing = browse(&dir).unwrap();
        let names: Vec<(BrowseKind, &str)> = listing.iter().map(|e| (e.kind, e.name.as_str())).collect();
        assert_eq!(
            names,
            [
                (BrowseKind::Folder, "alpha"),
                (BrowseKind::Folder, "Zoo"),
                (BrowseKind::Model, "A.json"),
                (BrowseKind::Model, "b.safetensors"),
            ]
        );
        assert!(browse(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parent_components_resolve_before_the_root_is_stripped() {
        let here = std::env::current_dir().unwrap();
        let name = here.file_name().unwrap().to_owned();
        let via_parent = Path::new("..").join(&name).join("Cargo.toml");
        assert_eq!(asset_path(&via_parent), asset_path(&here.join("Cargo.toml")));
    }

    #[test]
    fn repeated_messages_merge_into_the_newest_with_a_count() {
        let mut library = ModelLibrary::default();
        library.error("a.safetensors: broken");
        library.note("loaded b");
        library.error("a.safetensors: broken");
        let texts: Vec<(&str, u32)> = library.messages.iter().map(|m| (m.text.as_str(), m.count)).collect();
        assert_eq!(texts, vec![("loaded b", 1), ("a.safetensors: broken", 2)]);
    }
}
