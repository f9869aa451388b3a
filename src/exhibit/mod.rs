//! Installations that run for months: an installation file says what a kiosk shows and when,
//! `nca exhibit` runs the window as a child process and restarts it when it exits, crashes or
//! freezes, and a health endpoint tells a desk how it fares.
//!
//! - [`installation`]: the file, checked like every other input.
//! - [`supervisor`]: the child process, its heartbeat, restarts, fallbacks and opening hours.
//! - [`watchdog`]: the restart policy alone (waits, fallback, out of order).
//! - [`health`]: `GET /health` and the token-guarded `POST /control/…`.
//! - [`heartbeat`]: the file the window writes from its frame loop.
//! - [`clock`]: the local time of day, or an injected one for tests.
//! - [`log`]: the size-bounded, rotating log.
//! - [`window`]: the window's side (heartbeat, control lines, closed look, device loss, faults).

pub mod clock;
pub mod health;
pub mod heartbeat;
pub mod installation;
pub mod log;
pub mod supervisor;
pub mod watchdog;
pub mod window;
