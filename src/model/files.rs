//! What every loader and writer asks of a path before it pays for it.
//!
//! A path on the command line, in a scenario or in a model's metadata may name something that is
//! not a file: a FIFO blocks `open` until a writer comes (forever, in practice), and `/dev/zero`
//! has no length for a size check to see, so reading it fills memory. Every input is therefore
//! judged from its metadata first, refused unless it is a regular file of at most the reader's
//! limit, and then read through a reader that stops at that limit anyway (a file may grow
//! between the look and the read). Outputs are judged the same way, before any work starts, so a
//! long run never ends on an output it cannot write.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::ModelError;
use crate::platform::{self, Entry};

/// Largest picture file read (targets, digit pictures, handwriting samples): the biggest
/// picture any of them needs is a few megabytes.
pub const MAX_PICTURE_BYTES: u64 = 64 << 20;

/// Refuses `path` unless it is a regular file of at most `limit` bytes, without opening it.
/// `what` names the thing in the message ("model", "picture", …).
pub fn check_input(path: &Path, what: &str, limit: u64) -> Result<u64, ModelError> {
    let len = match platform::entry(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })? {
        Entry::Folder => return Err(ModelError::format(path, format!("is a folder, not a {what} file"))),
        Entry::Other => {
            return Err(ModelError::format(
                path,
                format!("is not a regular file (a pipe, a socket or a device?): a {what} must be a file, so it was not read"),
            ));
        }
        Entry::File(len) => len,
    };
    if len > limit {
        return Err(ModelError::format(path, format!("is {len} bytes, larger than any {what} file (at most {limit} bytes): not read")));
    }
    Ok(len)
}

/// The bytes of a regular file of at most `limit` bytes ([`check_input`]), read through a
/// bounded reader.
pub fn read_input(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>, ModelError> {
    let expected = check_input(path, what, limit)?;
    let io = |source| ModelError::Io { path: path.to_path_buf(), source };
    let mut bytes = Vec::with_capacity(expected as usize);
    platform::open(path, limit + 1).map_err(io)?.read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ModelError::format(path, format!("grew past {limit} bytes while it was read: not a {what} file")));
    }
    Ok(bytes)
}

/// [`read_input`] as UTF-8 text.
pub fn read_input_text(path: &Path, what: &str, limit: u64) -> Result<String, ModelError> {
    let bytes = read_input(path, what, limit)?;
    String::from_utf8(bytes).map_err(|e| ModelError::format(path, format!("is not UTF-8 text (byte {})", e.utf8_error().valid_up_to())))
}

/// A regular file opened for streaming, after [`check_input`].
pub fn open_input(path: &Path, what: &str, limit: u64) -> Result<std::io::Take<Box<dyn Read + Send>>, ModelError> {
    check_input(path, what, limit)?;
    platform::open(path, limit + 1).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })
}

/// Judges an output file before any work: it must be, or become, a regular file whose name ends
/// in `extension` (when given: a `--out x.txt` that would get a PNG is a mistake to say, not to
/// follow), in a folder that exists or can be made, and that this process can write in.
pub fn check_output_file(path: &Path, extension: Option<&str>) -> Result<(), ModelError> {
    super::weights::check_output(path)?;
    if let Some(ext) = extension {
        let actual = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !actual.eq_ignore_ascii_case(ext) {
            let shown = if actual.is_empty() { "no extension".to_string() } else { format!("'.{actual}'") };
            return Err(ModelError::format(path, format!("has {shown}, but this output is a .{ext} file: name it NAME.{ext}")));
        }
    }
    let parent = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    check_output_folder(parent)
}

/// Judges an output folder before any work: it exists as a folder or can be made, and a file can
/// be written in it (tried with a probe file that is removed at once).
pub fn check_output_folder(dir: &Path) -> Result<(), ModelError> {
    let fail = |m: String| ModelError::format(dir, m);
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => return Err(fail("exists and is not a folder: outputs cannot go in it".into())),
        Ok(_) => {}
        Err(_) => std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create this output folder: {e}")))?,
    }
    let probe = dir.join(format!(".nca-write-probe-{}", std::process::id()));
    let written = std::fs::write(&probe, b"probe");
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| fail(format!("cannot write in this folder: {e}")))
}

/// Where the bundled models and assets live: for an installed binary `BIN/../share/nca-sandbox`,
/// for a checkout its source tree, for a page its site ([`platform::data_dir`]).
pub fn data_dir() -> PathBuf {
    platform::data_dir()
}

/// A bundled file or folder by its path in the source tree (`trained`, `assets/targets`): in the
/// working folder when it is there (a checkout: paths stay as short as they were), else in
/// [`data_dir`].
pub fn bundled(relative: &str) -> PathBuf {
    let here = PathBuf::from(relative);
    if platform::exists(&here) { here } else { data_dir().join(relative) }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn fifo(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("pipe");
        let status = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo runs");
        assert!(status.success());
        path
    }

    #[test]
    fn pipes_devices_and_folders_are_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let pipe = fifo(dir.path());
        // Opening a FIFO with no writer would block this test forever: a pass proves it was not opened.
        for path in [pipe.as_path(), Path::new("/dev/zero"), dir.path()] {
            let err = read_input(path, "picture", MAX_PICTURE_BYTES).unwrap_err().to_string();
            assert!(err.contains("not a regular file") || err.contains("is a folder"), "{err}");
        }
    }

    #[test]
    fn files_over_the_limit_are_refused_and_small_ones_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        std::fs::write(&path, [7u8; 100]).unwrap();
        assert_eq!(read_input(&path, "picture", 100).unwrap().len(), 100);
        let err = read_input(&path, "picture", 99).unwrap_err().to_string();
        assert!(err.contains("larger than any picture file"), "{err}");
    }

    #[test]
    fn outputs_are_judged_by_kind_extension_and_folder() {
        let dir = tempfile::tempdir().unwrap();
        let pipe = fifo(dir.path());
        assert!(check_output_file(&dir.path().join("a.png"), Some("png")).is_ok());
        assert!(check_output_file(&dir.path().join("new/sub/a.PNG"), Some("png")).is_ok());
        let wrong = check_output_file(&dir.path().join("x.txt"), Some("png")).unwrap_err().to_string();
        assert!(wrong.contains("'.txt'") && wrong.contains("NAME.png"), "{wrong}");
        assert!(check_output_file(&pipe, None).unwrap_err().to_string().contains("not a regular file"));
        assert!(check_output_file(Path::new("/dev/full"), None).is_err());
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let inside_a_file = check_output_file(&file.join("a.png"), Some("png")).unwrap_err().to_string();
        assert!(inside_a_file.contains("file"), "{inside_a_file}");
        assert!(check_output_folder(&file).unwrap_err().to_string().contains("not a folder"));
    }
}
