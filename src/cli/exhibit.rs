//! `nca exhibit INSTALLATION_FILE [--health ADDR]`, and the hidden flags `nca run` takes from
//! the supervisor for its window.

use std::path::PathBuf;

use clap::Args;

use crate::exhibit::installation::ClosedLook;
use crate::exhibit::supervisor::{Supervisor, SupervisorOptions};

/// Options of `nca exhibit`.
#[derive(Args, Debug)]
pub struct ExhibitArgs {
    /// The installation file (RON; see assets/exhibit/installation.ron).
    pub installation: PathBuf,
    /// Serve the health endpoint here (IP:PORT), over the file's own address.
    #[arg(long)]
    pub health: Option<String>,
    /// Check the installation file and say what it would run, then exit.
    #[arg(long)]
    pub check: bool,
    /// Stop after this many seconds (timed runs and tests).
    #[arg(long)]
    pub seconds: Option<f64>,
}

/// The flags a supervisor gives its window (hidden: they are the supervisor's, not a person's).
#[derive(Args, Debug, Clone, Default)]
pub struct ExhibitWindowArgs {
    /// Write the heartbeat here, about once a second, from the frame loop.
    #[arg(long, hide = true)]
    pub exhibit_heartbeat: Option<PathBuf>,
    /// The supervisor's health report as a file, for the operator's menu.
    #[arg(long, hide = true)]
    pub exhibit_status: Option<PathBuf>,
    /// Show the calm "out of order" screen and nothing else.
    #[arg(long, hide = true)]
    pub out_of_order: bool,
    /// Start closed (outside opening hours): dim or blank.
    #[arg(long, hide = true, value_parser = parse_closed)]
    pub closed: Option<ClosedLook>,
    /// The kiosk starts over after this many idle seconds.
    #[arg(long, hide = true)]
    pub idle_reset_seconds: Option<f32>,
    /// The kiosk plays by itself after this many idle seconds.
    #[arg(long, hide = true)]
    pub self_play_seconds: Option<f32>,
    /// The monitor of the fullscreen window (0: the primary).
    #[arg(long, hide = true)]
    pub monitor: Option<u32>,
    /// Quarter turns of the picture, in degrees (portrait screens).
    #[arg(long, hide = true)]
    pub screen_rotation: Option<u32>,
    /// A window instead of fullscreen.
    #[arg(long, hide = true)]
    pub windowed: bool,
}

impl ExhibitWindowArgs {
    /// The window's exhibit options.
    pub fn options(&self) -> crate::exhibit::window::ExhibitOptions {
        crate::exhibit::window::ExhibitOptions {
            window: crate::exhibit::window::ExhibitWindow { heartbeat: self.exhibit_heartbeat.clone(), closed: self.closed },
            status: self.exhibit_status.clone(),
            idle_reset_seconds: self.idle_reset_seconds,
            self_play_seconds: self.self_play_seconds,
            monitor: self.monitor,
            screen_rotation: self.screen_rotation.unwrap_or(0),
            windowed: self.windowed,
        }
    }
}

fn parse_closed(text: &str) -> Result<ClosedLook, String> {
    match text {
        "dim" => Ok(ClosedLook::Dim),
        "blank" => Ok(ClosedLook::Blank),
        _ => Err(format!("'{text}' is not dim or blank")),
    }
}

/// Runs `nca exhibit`.
pub fn run(args: ExhibitArgs) -> Result<(), String> {
    if args.check {
        let installation = crate::exhibit::installation::Installation::load(&args.installation)?;
        println!("{}: '{}' shows {:?}", args.installation.display(), installation.name, installation.show);
        let now = crate::exhibit::clock::Clock::from_env()?.now();
        println!("  open now ({:?} {:02}:{:02}): {}", now.day, now.minute / 60, now.minute % 60, installation.is_open(now.day, now.minute));
        println!("  data: {}", crate::model::files::data_dir().display());
        return Ok(());
    }
    let binary = std::env::current_exe().map_err(|e| format!("cannot find this program's own file: {e}"))?;
    let supervisor =
        Supervisor::new(SupervisorOptions { installation: args.installation, health: args.health, binary, seconds: args.seconds })?;
    supervisor.run()
}
