//! Files held in memory under site paths: what a page has instead of a file system
//! ([`super::site`]). Plain Rust, so it is tested natively.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::Entry;

/// Files by site path (relative, `/`-separated).
#[derive(Default)]
pub struct MemoryFiles(Mutex<BTreeMap<String, Arc<[u8]>>>);

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

fn not_found(path: &Path) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} is not part of this site", path.display()))
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

impl MemoryFiles {
    /// An empty store (for a `static`).
    pub const fn new() -> Self {
        Self(Mutex::new(BTreeMap::new()))
    }

    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<[u8]>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces) a file.
    pub fn add(&self, path: &Path, bytes: Vec<u8>) {
        self.files().insert(site_key(path), bytes.into());
    }

    /// The bytes of a file.
    pub fn get(&self, path: &Path) -> Option<Arc<[u8]>> {
        self.files().get(&site_key(path)).cloned()
    }

    /// What `path` names: a file, a folder (a prefix of some file's path; the root always), or
    /// nothing.
    pub fn entry(&self, path: &Path) -> std::io::Result<Entry> {
        let key = site_key(path);
        let files = self.files();
        if let Some(bytes) = files.get(&key) {
            return Ok(Entry::File(bytes.len() as u64));
        }
        let prefix = format!("{key}/");
        if key.is_empty() || files.keys().any(|k| k.starts_with(&prefix)) { Ok(Entry::Folder) } else { Err(not_found(path)) }
    }

    /// A reader of a file.
    pub fn open(&self, path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
        let bytes = self.get(path).ok_or_else(|| not_found(path))?;
        Ok(Box::new(SharedBytes(bytes, 0)))
    }

    /// The files and folders directly inside `dir`, each once, as `dir` joined with its name.
    pub fn list_dir(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        if self.entry(dir)? != Entry::Folder {
            return Err(std::io::Error::new(std::io::ErrorKind::NotADirectory, format!("{} is not a folder", dir.display())));
        }
        let key = site_key(dir);
        let prefix = if key.is_empty() { String::new() } else { format!("{key}/") };
        let mut children: Vec<PathBuf> = self
            .files()
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest))
            .map(|child| dir.join(child))
            .collect();
        children.dedup();
        Ok(children)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> MemoryFiles {
        let files = MemoryFiles::new();
        files.add(Path::new("trained/lizard.safetensors"), vec![1, 2, 3]);
        files.add(Path::new("./trained/mnist.safetensors"), vec![4; 10]);
        files.add(Path::new("/assets/targets/lizard.png"), vec![5]);
        files
    }

    #[test]
    fn paths_are_one_spelling_whatever_their_dots_and_slashes() {
        let files = site();
        assert_eq!(files.get(Path::new("trained/mnist.safetensors")).as_deref(), Some(&[4u8; 10][..]));
        assert_eq!(files.entry(Path::new("/trained/lizard.safetensors")).unwrap(), Entry::File(3));
        assert_eq!(files.entry(Path::new("assets/targets/lizard.png")).unwrap(), Entry::File(1));
        assert!(files.entry(Path::new("trained/nothing.safetensors")).is_err());
    }

    #[test]
    fn folders_are_the_prefixes_of_files_and_list_their_children_once() {
        let files = site();
        assert_eq!(files.entry(Path::new("trained")).unwrap(), Entry::Folder);
        assert_eq!(files.entry(Path::new("")).unwrap(), Entry::Folder);
        assert!(files.entry(Path::new("train")).is_err(), "a prefix of a name is not a folder");
        let mut listed = files.list_dir(Path::new("trained")).unwrap();
        listed.sort();
        assert_eq!(listed, [Path::new("trained/lizard.safetensors"), Path::new("trained/mnist.safetensors")]);
        assert_eq!(files.list_dir(Path::new("")).unwrap(), [Path::new("assets"), Path::new("trained")]);
        assert!(files.list_dir(Path::new("trained/lizard.safetensors")).is_err());
    }

    #[test]
    fn a_reader_gives_the_bytes_and_a_replaced_file_reads_anew() {
        let files = site();
        let mut bytes = Vec::new();
        files.open(Path::new("trained/mnist.safetensors")).unwrap().read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, [4; 10]);
        files.add(Path::new("trained/mnist.safetensors"), vec![9]);
        assert_eq!(files.entry(Path::new("trained/mnist.safetensors")).unwrap(), Entry::File(1));
    }
}
