//! The supervisor's log: lines with the time, appended to one file that is rotated at a size
//! (`FILE` → `FILE.1` → … → `FILE.N`, the oldest dropped), so months of restarts never fill a
//! kiosk's disk. A log that cannot be written falls back to stderr: the exhibit runs on.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A size-bounded, rotating log file.
pub struct RotatingLog {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    size: u64,
}

impl RotatingLog {
    /// A log at `path`, rotated past `max_bytes`, keeping `keep` old files.
    pub fn new(path: &Path, max_bytes: u64, keep: u32) -> Self {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Self { path: path.to_path_buf(), max_bytes, keep, size }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line, stamped with seconds since the epoch (UTC), and copies it to stderr.
    pub fn line(&mut self, text: &str) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let line = format!("{} {}\n", format_utc(now), text.replace('\n', " "));
        eprint!("{line}");
        if self.size + line.len() as u64 > self.max_bytes {
            self.rotate();
        }
        let written = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).and_then(|mut f| f.write_all(line.as_bytes()));
        match written {
            Ok(()) => self.size += line.len() as u64,
            Err(e) => eprintln!("exhibit: the log {} cannot be written ({e})", self.path.display()),
        }
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) {
        if self.keep == 0 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            let _ = std::fs::remove_file(self.numbered(self.keep));
            for n in (1..self.keep).rev() {
                let _ = std::fs::rename(self.numbered(n), self.numbered(n + 1));
            }
            let _ = std::fs::rename(&self.path, self.numbered(1));
        }
        self.size = 0;
    }
}

/// `2026-12-07T20:31:05Z` of seconds since the epoch.
pub fn format_utc(seconds: f64) -> String {
    let secs = seconds.max(0.0) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/exhibit.log");
        let mut log = RotatingLog::new(&path, 4096, 2);
        for i in 0..1000 {
            log.line(&format!("restart {i}: exit code 1"));
        }
        let sizes: Vec<u64> =
            [path.clone(), log.numbered(1), log.numbered(2)].iter().map(|p| std::fs::metadata(p).unwrap().len()).collect();
        assert!(sizes.iter().all(|&s| s <= 4096), "{sizes:?}");
        assert!(!log.numbered(3).exists(), "only two old files are kept");
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.trim_end().ends_with("restart 999: exit code 1"), "{last}");
    }

    #[test]
    fn times_are_written_as_utc_dates() {
        assert_eq!(format_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_796_675_465.0), "2026-12-07T20:31:05Z");
        assert_eq!(format_utc(951_782_400.0), "2000-02-29T00:00:00Z");
    }
}
