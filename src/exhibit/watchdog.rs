//! What the supervisor does after a window stops: the policy alone, with no processes and no
//! clock of its own, so every path (a crash loop, a fallback that fails too, a healthy run that
//! ends) is tested by feeding it exits.

use std::time::Duration;

use super::installation::WatchdogSpec;

/// What the window shows, from the most wanted to the last resort.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// What the installation file asks for.
    Configured,
    /// The bundled default scene: the configured one keeps failing (a model file missing or
    /// broken, say).
    Fallback,
    /// A calm "out of order" screen that needs no model and no compute: the fallback fails too.
    OutOfOrder,
}

/// Why a window stopped.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Stop {
    /// Seconds since the supervisor started.
    pub at_s: f64,
    /// The mode the window was in.
    pub mode: Mode,
    /// In words: `exit code 1`, `signal 9`, `no heartbeat for 10 s`, `restart asked`.
    pub reason: String,
    /// Seconds it ran.
    pub ran_s: f64,
}

/// The restart policy: fast failures in a row move down the modes; waits between restarts
/// double up to a bound, so a crash loop never spins.
pub struct Watchdog {
    spec: WatchdogSpec,
    /// The mode the next start runs in.
    pub mode: Mode,
    /// Fast failures in a row in the current mode.
    pub fast_failures: u32,
}

impl Watchdog {
    /// A watchdog that starts with what the installation asks for.
    pub fn new(spec: WatchdogSpec) -> Self {
        Self { spec, mode: Mode::Configured, fast_failures: 0 }
    }

    /// A window that ran for `ran` stopped (`asked`: by the operator or the health endpoint,
    /// which is no failure): returns how long to wait before the next start, in [`Self::mode`].
    pub fn stopped(&mut self, ran: Duration, asked: bool) -> Duration {
        if asked {
            return Duration::ZERO;
        }
        if ran.as_secs_f32() >= self.spec.fast_failure_seconds {
            // A run that lasted was no crash loop: start again at once, in the same mode.
            self.fast_failures = 0;
            return Duration::from_millis(500);
        }
        self.fast_failures += 1;
        let (limit, next) = match self.mode {
            Mode::Configured => (self.spec.fallback_after, Some(Mode::Fallback)),
            Mode::Fallback => (self.spec.out_of_order_after, Some(Mode::OutOfOrder)),
            Mode::OutOfOrder => (u32::MAX, None),
        };
        if self.fast_failures >= limit
            && let Some(next) = next
        {
            self.mode = next;
            self.fast_failures = 0;
            return Duration::from_millis(500);
        }
        let doubling = 2f32.powi(self.fast_failures.saturating_sub(1).min(16) as i32);
        Duration::from_secs_f32(doubling.min(self.spec.max_backoff_seconds))
    }

    /// The operator asked for a fresh start: back to what the installation asks for.
    pub fn reset(&mut self) {
        self.mode = Mode::Configured;
        self.fast_failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> Duration {
        Duration::from_secs(2)
    }

    #[test]
    fn a_crash_loop_falls_back_then_rests_and_never_spins() {
        let mut w = Watchdog::new(WatchdogSpec::default());
        let waits: Vec<f32> = (0..3).map(|_| w.stopped(quick(), false).as_secs_f32()).collect();
        assert_eq!(waits, [1.0, 2.0, 0.5]);
        assert_eq!(w.mode, Mode::Fallback);
        for _ in 0..3 {
            w.stopped(quick(), false);
        }
        assert_eq!(w.mode, Mode::OutOfOrder);
        let waits: Vec<f32> = (0..10).map(|_| w.stopped(quick(), false).as_secs_f32()).collect();
        assert!(waits.windows(2).all(|p| p[1] >= p[0]) && waits.iter().all(|&s| (1.0..=60.0).contains(&s)), "{waits:?}");
        assert_eq!(*waits.last().unwrap(), 60.0, "the wait is bounded");
        w.reset();
        assert_eq!((w.mode, w.fast_failures), (Mode::Configured, 0));
    }

    #[test]
    fn a_run_that_lasted_restarts_at_once_in_its_mode() {
        let mut w = Watchdog::new(WatchdogSpec::default());
        w.stopped(quick(), false);
        w.stopped(quick(), false);
        assert_eq!(w.stopped(Duration::from_secs(3600), false), Duration::from_millis(500));
        assert_eq!((w.mode, w.fast_failures), (Mode::Configured, 0));
        assert_eq!(w.stopped(quick(), true), Duration::ZERO, "an asked restart is no failure");
        assert_eq!(w.fast_failures, 0);
    }
}
