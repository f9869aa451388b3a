//! `nca exhibit`: the kiosk window as a child process, watched. It is restarted when it exits,
//! crashes or stops answering (its heartbeat stops advancing: a frozen GPU, a deadlock, a
//! SIGSTOP), with waits that grow in a crash loop, down the [`Mode`]s when the configured scene
//! keeps failing, every stop logged with its reason; opening hours dim the screen and rest the
//! GPU; the health endpoint answers whatever the window is doing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::clock::Clock;
use super::health::{Control, HealthServer, HealthState};
use super::heartbeat::Heartbeat;
use super::installation::{Installation, Show, resolve};
use super::log::RotatingLog;
use super::watchdog::{Mode, Stop, Watchdog};

/// How often the supervisor looks at its window.
const POLL: Duration = Duration::from_millis(100);

/// What `nca exhibit` was asked to do.
#[derive(Clone, Debug)]
pub struct SupervisorOptions {
    /// The installation file.
    pub installation: PathBuf,
    /// Serve health here instead of the file's address (or when the file has none, with the
    /// file's token).
    pub health: Option<String>,
    /// The `nca` binary the windows run (this one).
    pub binary: PathBuf,
    /// Stop after this many seconds (tests and timed runs).
    pub seconds: Option<f64>,
}

/// A window the supervisor runs.
struct Window {
    child: Child,
    stdin: Option<ChildStdin>,
    mode: Mode,
    started: Instant,
    /// The last heartbeat frame seen, and when it last advanced.
    progress: Option<(u64, Instant)>,
    /// The window is past its start: its grid stepped, or it drew [`STARTED_FRAMES`] frames (a
    /// closed exhibit's grid never steps). Until then only the start grace applies: the first
    /// dispatches of a kind's shaders can hold a frame for seconds on a software GPU.
    started_up: bool,
}

/// Frames after which a window whose grid has not stepped counts as started.
const STARTED_FRAMES: u64 = 30;

/// A hash of the installation file's bytes (FNV-1a, 64 bits): the health report shows which
/// file an exhibit runs with.
pub fn file_hash(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

/// Where a supervisor keeps its window's heartbeat: a folder of its own under the runtime folder.
fn run_dir() -> Result<PathBuf, String> {
    let base = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("nca-exhibit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: cannot create the run folder: {e}", dir.display()))?;
    Ok(dir)
}

/// The supervisor.
pub struct Supervisor {
    installation: Installation,
    file_dir: PathBuf,
    options: SupervisorOptions,
    log: RotatingLog,
    watchdog: Watchdog,
    clock: Clock,
    health: Arc<Mutex<HealthState>>,
    heartbeat_path: PathBuf,
    /// The health report as a file, for the window's operator menu.
    status_path: PathBuf,
    started: Instant,
    open: bool,
}

impl Supervisor {
    /// Reads the installation file and gets ready; nothing starts yet.
    pub fn new(options: SupervisorOptions) -> Result<Self, String> {
        // Read once, through the bounded reader: parsed, and hashed for the health report.
        let path = &options.installation;
        let text = crate::model::files::read_input_text(path, "installation", super::installation::MAX_INSTALLATION_BYTES)
            .map_err(|e| e.to_string())?;
        let installation = Installation::parse(&text).map_err(|e| format!("{}:{e}", path.display()))?;
        let bytes = text.into_bytes();
        let file_dir = options.installation.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        let log_path = resolve(&file_dir, &file_dir, &installation.log.file);
        let log = RotatingLog::new(&log_path, installation.log.max_bytes, installation.log.keep);
        let clock = Clock::from_env()?;
        let now = clock.now();
        let open = installation.is_open(now.day, now.minute);
        let health = HealthState::new(&installation, file_hash(&bytes));
        let run_dir = run_dir()?;
        let (heartbeat_path, status_path) = (run_dir.join("heartbeat.json"), run_dir.join("status.json"));
        Ok(Self {
            watchdog: Watchdog::new(installation.watchdog.clone()),
            installation,
            file_dir,
            options,
            log,
            clock,
            health: Arc::new(Mutex::new(health)),
            heartbeat_path,
            status_path,
            started: Instant::now(),
            open,
        })
    }

    /// The command line of a window in `mode`.
    fn window_args(&self, mode: Mode) -> Vec<String> {
        let data = crate::model::files::data_dir();
        let path = |p: &Path| resolve(&self.file_dir, &data, p).display().to_string();
        let mut args: Vec<String> = vec!["run".into()];
        match mode {
            Mode::OutOfOrder => args.push("--out-of-order".into()),
            Mode::Fallback => args.push("--kiosk".into()),
            Mode::Configured => {
                args.push("--kiosk".into());
                let (flag, file) = match &self.installation.show {
                    Show::Model(p) => ("--model", p),
                    Show::Scenario(p) => ("--scenario", p),
                    Show::Playlist(p) => ("--playlist", p),
                };
                args.extend([flag.to_string(), path(file)]);
            }
        }
        let idle = &self.installation.idle;
        let display = &self.installation.display;
        args.extend([
            "--exhibit-heartbeat".into(),
            self.heartbeat_path.display().to_string(),
            "--exhibit-status".into(),
            self.status_path.display().to_string(),
            "--idle-reset-seconds".into(),
            idle.reset_seconds.to_string(),
            "--self-play-seconds".into(),
            idle.self_play_seconds.to_string(),
            "--monitor".into(),
            display.monitor.to_string(),
            "--screen-rotation".into(),
            display.rotation.to_string(),
        ]);
        if !display.fullscreen {
            args.push("--windowed".into());
        }
        if !self.open {
            args.extend(["--closed".into(), format!("{:?}", self.installation.closed).to_lowercase()]);
        }
        args
    }

    fn start(&mut self) -> Result<Window, String> {
        let _ = std::fs::remove_file(&self.heartbeat_path);
        let mode = self.watchdog.mode;
        let args = self.window_args(mode);
        let mut command = Command::new(&self.options.binary);
        command
            .args(&args)
            // The PIN stays out of the command line, which every user of the machine can read.
            .env(crate::ui::operator::PIN_ENV, &self.installation.operator_pin)
            .stdin(Stdio::piped());
        die_with_parent(&mut command);
        let mut child = command.spawn().map_err(|e| format!("{}: cannot start the window: {e}", self.options.binary.display()))?;
        self.log.line(&format!("started window {} in {mode:?} mode: nca {}", child.id(), args.join(" ")));
        let stdin = child.stdin.take();
        let mut health = self.health.lock().expect("health lock");
        health.child_pid = Some(child.id());
        health.mode = mode;
        Ok(Window { child, stdin, mode, started: Instant::now(), progress: None, started_up: false })
    }

    /// Runs until asked to stop (Ctrl-C, SIGTERM, `seconds`).
    pub fn run(mut self) -> Result<(), String> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let stop = stop.clone();
            crate::platform::on_interrupt(move || stop.store(true, std::sync::atomic::Ordering::SeqCst))?;
        }
        let (control_tx, control_rx) = crossbeam_channel::unbounded();
        let address = self.options.health.clone().or_else(|| self.installation.health.as_ref().map(|h| h.address.clone()));
        let _server = match address {
            Some(address) => {
                let token = self.installation.health.as_ref().map(|h| h.token.clone());
                let server = HealthServer::start(&address, token, self.health.clone(), control_tx)?;
                self.log.line(&format!("health at http://{}/health", server.address()));
                Some(server)
            }
            None => None,
        };
        self.log.line(&format!("exhibit '{}' from {}", self.installation.name, self.options.installation.display()));
        let stopping = |s: &Self| {
            stop.load(std::sync::atomic::Ordering::SeqCst)
                || s.options.seconds.is_some_and(|limit| s.started.elapsed().as_secs_f64() >= limit)
        };
        while !stopping(&self) {
            let mut window = match self.start() {
                Ok(window) => window,
                Err(e) => {
                    self.record_stop(self.watchdog.mode, e, Duration::ZERO);
                    let wait = self.watchdog.stopped(Duration::ZERO, false);
                    self.wait(wait, &stopping);
                    continue;
                }
            };
            let (reason, asked) = self.watch(&mut window, &control_rx, &stopping);
            let ran = window.started.elapsed();
            if stopping(&self) && asked {
                self.log.line("exhibit stopped");
                break;
            }
            self.record_stop(window.mode, reason, ran);
            let wait = self.watchdog.stopped(ran, asked);
            self.wait(wait, &stopping);
        }
        Ok(())
    }

    fn record_stop(&mut self, mode: Mode, reason: String, ran: Duration) {
        let stop = Stop { at_s: self.started.elapsed().as_secs_f64(), mode, reason: reason.clone(), ran_s: ran.as_secs_f64() };
        self.log.line(&format!("window stopped after {:.1} s in {mode:?} mode: {reason}", ran.as_secs_f64()));
        let mut health = self.health.lock().expect("health lock");
        health.child_pid = None;
        health.record(stop);
    }

    /// Sleeps `wait` in small slices, so a stop is never held up.
    fn wait(&self, wait: Duration, stopping: &dyn Fn(&Self) -> bool) {
        let until = Instant::now() + wait;
        while Instant::now() < until && !stopping(self) {
            std::thread::sleep(POLL);
        }
    }

    /// Watches a window until it stops or must be stopped: returns why, and whether the stop was
    /// asked for (no failure).
    fn watch(
        &mut self,
        window: &mut Window,
        control: &crossbeam_channel::Receiver<Control>,
        stopping: &dyn Fn(&Self) -> bool,
    ) -> (String, bool) {
        let spec = self.installation.watchdog.clone();
        loop {
            if let Ok(Some(status)) = window.child.try_wait() {
                if status.code() == Some(crate::ui::operator::OPERATOR_RESTART_EXIT.into()) {
                    self.log.line("restart asked from the operator's menu");
                    self.watchdog.reset();
                    return ("restart asked".into(), true);
                }
                return (describe_exit(status), false);
            }
            if stopping(self) {
                kill(&mut window.child);
                return ("the supervisor stopped".into(), true);
            }
            while let Ok(command) = control.try_recv() {
                match command {
                    Control::Restart => {
                        self.log.line("restart asked through the health endpoint");
                        self.watchdog.reset();
                        kill(&mut window.child);
                        return ("restart asked".into(), true);
                    }
                    Control::Next | Control::Previous => send(window, if command == Control::Next { "next" } else { "previous" }),
                }
            }
            let now = self.clock.now();
            let open = self.installation.is_open(now.day, now.minute);
            if open != self.open {
                self.open = open;
                self.log.line(if open { "opening hours: open" } else { "opening hours: closed" });
                send(window, if open { "open" } else { "close" });
            }
            let beat = Heartbeat::read(&self.heartbeat_path);
            if let Some(beat) = &beat {
                match window.progress {
                    Some((frame, _)) if frame == beat.frame => {}
                    _ => window.progress = Some((beat.frame, Instant::now())),
                }
                window.started_up |= beat.step > 0 || beat.frame >= STARTED_FRAMES;
            }
            {
                let mut health = self.health.lock().expect("health lock");
                health.open = self.open;
                health.uptime_s = self.started.elapsed().as_secs_f64();
                health.window_uptime_s = window.started.elapsed().as_secs_f64();
                if beat.is_some() {
                    health.heartbeat = beat;
                    // The operator's menu reads the same report the desk does.
                    let _ = crate::model::weights::write_atomically(&self.status_path, health.to_json().to_string().as_bytes());
                }
            }
            match window.progress {
                _ if !window.started_up && window.started.elapsed().as_secs_f32() > spec.start_grace_seconds => {
                    kill(&mut window.child);
                    return (format!("did not start within {} s (no heartbeat, or no grid step)", spec.start_grace_seconds), false);
                }
                Some((_, at)) if window.started_up && at.elapsed().as_secs_f32() > spec.heartbeat_timeout_seconds => {
                    kill(&mut window.child);
                    return (format!("missed heartbeat: no new frame for {:.0} s (frozen)", at.elapsed().as_secs_f32()), false);
                }
                _ => {}
            }
            std::thread::sleep(POLL);
        }
    }
}

/// A window outlives no supervisor: were the supervisor killed, a new one would start a second
/// window beside the orphan. Linux ends the window with its parent (PR_SET_PDEATHSIG).
fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure runs in the child between fork and exec and only makes one
        // async-signal-safe system call.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

/// A line to the window's control input; a window that does not read it is not waited for.
fn send(window: &mut Window, line: &str) {
    if let Some(stdin) = &mut window.stdin
        && writeln!(stdin, "{line}").and_then(|_| stdin.flush()).is_err()
    {
        window.stdin = None;
    }
}

fn kill(child: &mut Child) {
    // SIGKILL reaches a stopped (SIGSTOP) or deadlocked process too.
    let _ = child.kill();
    let _ = child.wait();
}

/// `exit code 3 (GPU device lost)`, `signal 9 (killed)`, …
pub fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                6 => " (abort)",
                9 => " (killed)",
                11 => " (segmentation fault)",
                15 => " (terminated)",
                _ => "",
            };
            return format!("signal {signal}{name}");
        }
    }
    match status.code() {
        Some(0) => "exit code 0 (the window closed)".into(),
        Some(code) if code == crate::app::DEVICE_LOST_EXIT as i32 => format!("exit code {code} (GPU device or surface lost)"),
        Some(code) => format!("exit code {code}"),
        None => "ended without an exit code".into(),
    }
}
