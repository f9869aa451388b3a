//! The installation file: what an exhibit shows, when, on which screen, and how it is watched.
//! A museum's technician edits it; [`Installation::load`] reads it with the same rules as every
//! other input (a regular file of bounded size, RON with line and column in its errors, every
//! value checked, paths resolved against the file's own folder and then the installed data).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The version this build reads and writes.
pub const INSTALLATION_VERSION: u32 = 1;
/// Largest installation file read.
pub const MAX_INSTALLATION_BYTES: u64 = 1 << 20;

/// An exhibit, as its technician describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Installation {
    /// The format version ([`INSTALLATION_VERSION`]).
    pub version: u32,
    /// The exhibit's name (the health report and the log show it).
    #[serde(default)]
    pub name: String,
    /// What the screen shows.
    pub show: Show,
    /// Idle behaviour of the kiosk.
    #[serde(default)]
    pub idle: IdleSpec,
    /// The screen.
    #[serde(default)]
    pub display: DisplaySpec,
    /// Opening hours; none: always open.
    #[serde(default)]
    pub hours: Vec<Opening>,
    /// What the screen shows while closed.
    #[serde(default)]
    pub closed: ClosedLook,
    /// The PIN of the operator's menu (4 to 8 digits).
    pub operator_pin: String,
    /// The health endpoint; none: off.
    #[serde(default)]
    pub health: Option<HealthSpec>,
    /// When the watchdog restarts, falls back and gives up.
    #[serde(default)]
    pub watchdog: WatchdogSpec,
    /// The supervisor's log.
    #[serde(default)]
    pub log: LogSpec,
}

/// What an exhibit shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Show {
    /// One model, in the sandbox as `nca run --kiosk --model` opens it.
    Model(PathBuf),
    /// One scenario, played and replayed.
    Scenario(PathBuf),
    /// A folder of scenarios, played in turn.
    Playlist(PathBuf),
}

/// Idle behaviour (the operator's menu can calibrate it while the exhibit runs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdleSpec {
    /// The scene starts over after this many seconds without a touch.
    pub reset_seconds: f32,
    /// The scene plays by itself after this many seconds without a touch.
    pub self_play_seconds: f32,
}

impl Default for IdleSpec {
    fn default() -> Self {
        Self { reset_seconds: 120.0, self_play_seconds: 20.0 }
    }
}

/// The screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisplaySpec {
    /// Which monitor, 0 the primary.
    pub monitor: u32,
    /// Quarter turns of the picture, in degrees: 0, 90, 180 or 270 (portrait screens).
    pub rotation: u32,
    /// Fullscreen (a window for tests and desks otherwise).
    pub fullscreen: bool,
}

impl Default for DisplaySpec {
    fn default() -> Self {
        Self { monitor: 0, rotation: 0, fullscreen: true }
    }
}

/// Days of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    /// Monday = 0 … Sunday = 6.
    pub fn index(self) -> u32 {
        self as u32
    }

    /// The day of index `i` (Monday = 0).
    pub fn from_index(i: u32) -> Self {
        [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun][(i % 7) as usize]
    }
}

/// One opening: on these days, from `open` to `close` (`HH:MM`, local time; a close before the
/// open runs past midnight into the next day).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// The days it opens.
    pub days: Vec<Day>,
    /// Opening time, `HH:MM`.
    pub open: String,
    /// Closing time, `HH:MM`.
    pub close: String,
}

/// What the screen shows outside opening hours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClosedLook {
    /// The scene stays on screen, dimmed and still; the simulation pauses, so the GPU rests.
    #[default]
    Dim,
    /// A black screen; nothing runs but the window.
    Blank,
}

/// The health endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// `ADDRESS:PORT` to serve on (loopback unless the file names another address).
    #[serde(default = "loopback")]
    pub address: String,
    /// The bearer token `POST /control/…` needs (at least 16 characters).
    pub token: String,
}

fn loopback() -> String {
    "127.0.0.1:8731".into()
}

/// The watchdog's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchdogSpec {
    /// A window whose heartbeat is older than this is frozen, and restarted.
    pub heartbeat_timeout_seconds: f32,
    /// A start gets this long to show that it runs (its grid steps, or 30 frames are drawn): the
    /// first dispatches of a kind's shaders can hold a frame for seconds on a software GPU.
    pub start_grace_seconds: f32,
    /// A run shorter than this counts as a fast failure.
    pub fast_failure_seconds: f32,
    /// After this many fast failures in a row, the bundled default scene is shown instead.
    pub fallback_after: u32,
    /// After this many more, the calm "out of order" screen.
    pub out_of_order_after: u32,
    /// The longest wait between two restarts.
    pub max_backoff_seconds: f32,
}

impl Default for WatchdogSpec {
    fn default() -> Self {
        Self {
            heartbeat_timeout_seconds: 10.0,
            start_grace_seconds: 60.0,
            fast_failure_seconds: 30.0,
            fallback_after: 3,
            out_of_order_after: 3,
            max_backoff_seconds: 60.0,
        }
    }
}

/// The supervisor's log: one file of bounded size, rotated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSpec {
    /// The log file (relative: beside the installation file).
    pub file: PathBuf,
    /// Size at which it is rotated.
    pub max_bytes: u64,
    /// Rotated files kept (`FILE.1` … `FILE.N`).
    pub keep: u32,
}

impl Default for LogSpec {
    fn default() -> Self {
        Self { file: PathBuf::from("exhibit.log"), max_bytes: 1 << 20, keep: 3 }
    }
}

/// Minutes since midnight of `HH:MM`.
pub fn parse_clock(text: &str) -> Result<u32, String> {
    let bad = || format!("'{text}' is not a time of day HH:MM (00:00 to 24:00)");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.trim().parse().map_err(|_| bad())?, m.trim().parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m > 0) || text.trim().len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl Installation {
    /// Reads and checks an installation file; errors are one line naming the file (and the line
    /// and column of a syntax error).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = crate::model::files::read_input_text(path, "installation", MAX_INSTALLATION_BYTES).map_err(|e| e.to_string())?;
        Self::parse(&text).map_err(|e| format!("{}:{e}", path.display()))
    }

    /// Parses and checks installation text; errors start `LINE:COLUMN: ` where they have one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let installation: Installation =
            options.from_str(text).map_err(|e| format!("{}:{}: {}", e.span.start.line, e.span.start.col, e.code))?;
        installation.validate().map_err(|e| format!(" {e}"))?;
        Ok(installation)
    }

    /// Every value in its range.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != INSTALLATION_VERSION {
            return Err(format!("version {} is not one this build reads ({INSTALLATION_VERSION})", self.version));
        }
        let pin = &self.operator_pin;
        if !(4..=8).contains(&pin.len()) || !pin.chars().all(|c| c.is_ascii_digit()) {
            return Err("operator_pin must be 4 to 8 digits".into());
        }
        let idle = &self.idle;
        for (value, name) in [(idle.reset_seconds, "idle.reset_seconds"), (idle.self_play_seconds, "idle.self_play_seconds")] {
            if !(value.is_finite() && (5.0..=86_400.0).contains(&value)) {
                return Err(format!("{name} {value} is outside 5..=86400 seconds"));
            }
        }
        if ![0, 90, 180, 270].contains(&self.display.rotation) {
            return Err(format!("display.rotation {} is not 0, 90, 180 or 270", self.display.rotation));
        }
        if self.display.monitor > 15 {
            return Err(format!("display.monitor {} is outside 0..=15", self.display.monitor));
        }
        for (i, o) in self.hours.iter().enumerate() {
            if o.days.is_empty() {
                return Err(format!("hours[{i}]: no days"));
            }
            let (open, close) = (parse_clock(&o.open), parse_clock(&o.close));
            let (open, close) = (open.map_err(|e| format!("hours[{i}].open: {e}"))?, close.map_err(|e| format!("hours[{i}].close: {e}"))?);
            if open == close {
                return Err(format!("hours[{i}]: opens and closes at {}", o.open));
            }
        }
        if let Some(h) = &self.health {
            h.address.parse::<std::net::SocketAddr>().map_err(|_| format!("health.address '{}' is not IP:PORT", h.address))?;
            if h.token.len() < 16 || h.token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err("health.token must be at least 16 characters, without spaces".into());
            }
        }
        let w = &self.watchdog;
        for (value, name, range) in [
            (w.heartbeat_timeout_seconds, "watchdog.heartbeat_timeout_seconds", 2.0..=600.0),
            (w.start_grace_seconds, "watchdog.start_grace_seconds", 5.0..=600.0),
            (w.fast_failure_seconds, "watchdog.fast_failure_seconds", 1.0..=3600.0),
            (w.max_backoff_seconds, "watchdog.max_backoff_seconds", 1.0..=3600.0),
        ] {
            if !(value.is_finite() && range.contains(&value)) {
                return Err(format!("{name} {value} is outside {}..={}", range.start(), range.end()));
            }
        }
        for (value, name) in [(w.fallback_after, "watchdog.fallback_after"), (w.out_of_order_after, "watchdog.out_of_order_after")] {
            if !(1..=100).contains(&value) {
                return Err(format!("{name} {value} is outside 1..=100"));
            }
        }
        if !(4096..=1 << 30).contains(&self.log.max_bytes) || self.log.keep > 100 {
            return Err("log: max_bytes must be 4096 to 2³⁰ and keep at most 100".into());
        }
        Ok(())
    }

    /// Whether the exhibit is open on `day` at `minute` (minutes since local midnight).
    pub fn is_open(&self, day: Day, minute: u32) -> bool {
        if self.hours.is_empty() {
            return true;
        }
        let yesterday = Day::from_index(day.index() + 6);
        self.hours.iter().any(|o| {
            let (open, close) = (parse_clock(&o.open).unwrap_or(0), parse_clock(&o.close).unwrap_or(0));
            if open < close {
                o.days.contains(&day) && (open..close).contains(&minute)
            } else {
                // Past midnight: open from `open` on its day until `close` on the next.
                (o.days.contains(&day) && minute >= open) || (o.days.contains(&yesterday) && minute < close)
            }
        })
    }
}

/// A path of the installation file: absolute as it is; relative, beside the file if it is
/// there, else in the installed data folder (`data_dir`), else as written.
pub fn resolve(file_dir: &Path, data_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let beside = file_dir.join(path);
    if beside.exists() {
        return beside;
    }
    let installed = data_dir.join(path);
    if installed.exists() { installed } else { beside }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"Installation(
        version: 1,
        name: "test",
        show: Playlist("assets/scenarios"),
        hours: [(days: [Mon, Tue, Wed, Thu, Fri], open: "09:00", close: "18:00"), (days: [Sat], open: "20:00", close: "02:00")],
        operator_pin: "2468",
        health: (token: "0123456789abcdef"),
    )"#;

    #[test]
    fn a_file_reads_with_defaults() {
        let i = Installation::parse(EXAMPLE).unwrap();
        assert_eq!(i.health.as_ref().unwrap().address, "127.0.0.1:8731");
        assert_eq!(i.watchdog, WatchdogSpec::default());
        assert!(i.display.fullscreen);
    }

    #[test]
    fn opening_hours_hold_on_their_days_and_across_midnight() {
        let i = Installation::parse(EXAMPLE).unwrap();
        assert!(!i.is_open(Day::Mon, 8 * 60 + 59));
        assert!(i.is_open(Day::Mon, 9 * 60));
        assert!(i.is_open(Day::Fri, 17 * 60 + 59));
        assert!(!i.is_open(Day::Fri, 18 * 60));
        assert!(!i.is_open(Day::Sat, 12 * 60));
        assert!(i.is_open(Day::Sat, 23 * 60));
        assert!(i.is_open(Day::Sun, 60), "Saturday's opening runs past midnight");
        assert!(!i.is_open(Day::Sun, 2 * 60));
        assert!(!i.is_open(Day::Mon, 60), "Sunday has no late opening");
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (change, expected) in [
            (r#"operator_pin: "2468""#, r#"operator_pin: "12""#, "operator_pin"),
            (r#"open: "09:00""#, r#"open: "9 am""#, "hours[0].open"),
            (r#"token: "0123456789abcdef""#, r#"token: "short""#, "health.token"),
            (r#"version: 1"#, r#"version: 2"#, "version 2"),
        ]
        .map(|(from, to, e)| (EXAMPLE.replace(from, to), e))
        {
            let err = Installation::parse(&change).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
        let err = Installation::parse("Installation(version: 1, show: Model(\"m\"), operator_pin: \"1234\", colour: 3)").unwrap_err();
        assert!(err.starts_with("1:") && err.contains("colour"), "{err}");
        assert!(parse_clock("24:00").is_ok() && parse_clock("24:01").is_err() && parse_clock("7:00").is_err());
    }
}
