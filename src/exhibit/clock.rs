//! The local time of day the opening hours are judged by, behind one seam: the system's clock
//! in an installation, or an injected clock (`NCA_EXHIBIT_CLOCK="Sat 23:59"` or
//! `"Mon 08:59:50"`, starting there and running at real speed) in tests, so opening and closing
//! are tested without waiting for the wall clock.

use crate::platform::Instant;

use super::installation::{Day, parse_clock};

/// The environment variable that injects a clock.
pub const CLOCK_ENV: &str = "NCA_EXHIBIT_CLOCK";

/// A local weekday and minute of the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// The day.
    pub day: Day,
    /// Minutes since local midnight.
    pub minute: u32,
}

/// Where the supervisor reads the time.
pub enum Clock {
    /// The system's local time.
    System,
    /// An injected start, running at real speed from when it was made.
    Injected {
        /// The injected time, in seconds since Monday 00:00.
        start: u64,
        /// When it was injected.
        at: Instant,
    },
}

impl Clock {
    /// The injected clock of [`CLOCK_ENV`] if it is set (a malformed value is an error), else the
    /// system's.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(CLOCK_ENV) {
            Ok(text) => Ok(Self::Injected { start: parse_week_seconds(&text)?, at: Instant::now() }),
            Err(_) => Ok(Self::System),
        }
    }

    /// The local time now.
    pub fn now(&self) -> LocalTime {
        match self {
            Self::System => system_local_time(),
            Self::Injected { start, at } => {
                let minutes = ((start + at.elapsed().as_secs()) / 60) as u32;
                LocalTime { day: Day::from_index((minutes / 1440) % 7), minute: minutes % 1440 }
            }
        }
    }
}

/// `Sat 23:59` or `Mon 08:59:50` as seconds since Monday 00:00.
pub fn parse_week_seconds(text: &str) -> Result<u64, String> {
    let bad = || format!("{CLOCK_ENV}='{text}' is not DAY HH:MM[:SS] (Mon 09:00)");
    let (day, clock) = text.trim().split_once(' ').ok_or_else(bad)?;
    let day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].iter().position(|d| d.eq_ignore_ascii_case(day)).ok_or_else(bad)?;
    let clock = clock.trim();
    let (hours_minutes, seconds) = match clock.len() {
        5 => (clock, 0),
        8 => (&clock[..5], clock[6..].parse::<u64>().ok().filter(|s| *s < 60 && &clock[5..6] == ":").ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    let minute = parse_clock(hours_minutes).map_err(|_| bad())?.min(1439) as u64;
    Ok(day as u64 * 86_400 + minute * 60 + seconds)
}

#[cfg(unix)]
fn system_local_time() -> LocalTime {
    // localtime_r is the thread-safe libc call that knows the machine's time zone (TZ and
    // /etc/localtime), which std does not expose.
    let now =
        crate::platform::SystemTime::now().duration_since(crate::platform::UNIX_EPOCH).map(|d| d.as_secs() as libc::time_t).unwrap_or(0);
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals of the right types; localtime_r writes only `tm`.
    let ok = unsafe { !libc::localtime_r(&now, &mut tm).is_null() };
    if !ok {
        return LocalTime { day: Day::Mon, minute: 0 };
    }
    // tm_wday: Sunday = 0.
    LocalTime { day: Day::from_index((tm.tm_wday as u32 + 6) % 7), minute: (tm.tm_hour * 60 + tm.tm_min) as u32 }
}

#[cfg(not(unix))]
fn system_local_time() -> LocalTime {
    let secs = crate::platform::SystemTime::now().duration_since(crate::platform::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    // 1970-01-01 was a Thursday; UTC where the zone is unknown.
    LocalTime { day: Day::from_index(((secs / 86_400) as u32 + 3) % 7), minute: ((secs % 86_400) / 60) as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_injected_clock_reads_and_runs() {
        let start = parse_week_seconds("sat 23:59").unwrap();
        assert_eq!(start, 5 * 86_400 + (23 * 60 + 59) * 60);
        let clock = Clock::Injected { start, at: Instant::now() - std::time::Duration::from_secs(120) };
        assert_eq!(clock.now(), LocalTime { day: Day::Sun, minute: 1 });
        let clock =
            Clock::Injected { start: parse_week_seconds("Sun 23:59:50").unwrap(), at: Instant::now() - std::time::Duration::from_secs(11) };
        assert_eq!(clock.now(), LocalTime { day: Day::Mon, minute: 0 }, "the week wraps");
        for bad in ["Someday 10:00", "Mon 25:00", "Mon 09:00:60", "Mon 9:00"] {
            assert!(parse_week_seconds(bad).is_err(), "{bad}");
        }
        let now = Clock::System.now();
        assert!(now.minute < 1440);
    }
}
