//! `nca exhibit` under Xvfb on lavapipe, driven as a technician's desk would drive it: through
//! the health endpoint. The window is killed, frozen, made to lose its GPU device and started
//! on a deleted model; opening hours run on an injected clock. Each wait is on a condition the
//! health report shows, bounded in time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One supervised Xvfb screen at a time: `xvfb-run -a` picks displays by lock files.
static XVFB: Mutex<()> = Mutex::new(());

/// A supervisor under Xvfb, stopped when dropped.
struct Exhibit {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

const TOKEN: &str = "test-token-0123456789";

/// One HTTP/1.0 request to the health endpoint on `port`: the status and the JSON body (0 and
/// null while nothing listens).
fn request(port: u16, method: &str, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return (0, serde_json::Value::Null) };
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: localhost\r\n{auth}Content-Length: 0\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("null");
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Exhibit {
    /// Starts `nca exhibit` on an installation showing `show`, with `extra` fields and `env`;
    /// `fallback_after` fast failures (runs under 60 s: a start on lavapipe under a loaded CI
    /// machine can take a while) move it down a mode.
    fn start(show: &str, extra: &str, env: &[(&str, &str)], fallback_after: u32) -> Self {
        let turn = XVFB.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let file = dir.path().join("installation.ron");
        std::fs::write(
            &file,
            format!(
                r#"Installation(version: 1, name: "test exhibit", show: {show}, operator_pin: "2468",
                   display: (fullscreen: false),
                   health: (address: "127.0.0.1:{port}", token: "{TOKEN}"),
                   watchdog: (heartbeat_timeout_seconds: 4, start_grace_seconds: 90, fast_failure_seconds: 60, fallback_after: {fallback_after}, out_of_order_after: 2, max_backoff_seconds: 2),
                   log: (file: "logs/exhibit.log", max_bytes: 65536, keep: 2),
                   {extra})"#
            ),
        )
        .unwrap();
        let child = Command::new("xvfb-run")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["-a", "-s", "-screen 0 800x600x24", env!("CARGO_BIN_EXE_nca"), "exhibit"])
            .arg(&file)
            .args(["--seconds", "400"])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xvfb-run is missing: `apt-get install -y xvfb` (.ci/run installs it)");
        Self { child, port, dir, _turn: turn }
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        request(self.port, method, path, token)
    }

    fn health(&self) -> serde_json::Value {
        self.request("GET", "/health", None).1
    }

    /// Waits up to `limit` for `condition` on the health report; returns the report and the wait.
    fn until(&self, what: &str, limit: Duration, condition: impl Fn(&serde_json::Value) -> bool) -> (serde_json::Value, Duration) {
        let started = Instant::now();
        loop {
            let health = self.health();
            if condition(&health) {
                return (health, started.elapsed());
            }
            if started.elapsed() > limit {
                let log = std::fs::read_to_string(self.dir.path().join("logs/exhibit.log")).unwrap_or_default();
                panic!("{what}: not within {limit:?}; last report {health:#}\nlog:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for a window whose grid steps, other than `not_pid`.
    fn running(&self, not_pid: Option<u64>, limit: Duration) -> (u64, Duration) {
        let (health, waited) = self.until("a window stepping its grid", limit, |h| {
            let pid = h["child_pid"].as_u64();
            pid.is_some() && pid != not_pid && h["heartbeat"]["pid"].as_u64() == pid && h["heartbeat"]["step"].as_u64().unwrap_or(0) > 0
        });
        (health["child_pid"].as_u64().unwrap(), waited)
    }
}

/// Stops a supervisor under `xvfb-run`: SIGTERM to the supervisor (xvfb-run's child), which
/// stops its window and itself, then to xvfb-run, which ends the X server.
fn stop_under_xvfb(child: &mut Child) {
    let _ = Command::new("pkill").args(["-TERM", "-P", &child.id().to_string()]).status();
    let started = Instant::now();
    while child.try_wait().ok().flatten().is_none() && started.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
}

impl Drop for Exhibit {
    fn drop(&mut self) {
        stop_under_xvfb(&mut self.child);
        let started = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u64, name: &str) {
    assert!(Command::new("kill").args([&format!("-{name}"), &pid.to_string()]).status().unwrap().success());
}

fn model(name: &str) -> String {
    format!("Model({:?})", Path::new(env!("CARGO_MANIFEST_DIR")).join("trained").join(name).display().to_string())
}

#[test]
fn the_window_comes_back_after_a_kill_and_a_freeze_and_health_tells() {
    let exhibit = Exhibit::start(&model("lizard_regenerating.safetensors"), "", &[], 10);
    let (first, started_in) = exhibit.running(None, Duration::from_secs(120));
    eprintln!("first window in {started_in:?}");
    let health = exhibit.health();
    for field in [
        "uptime_s",
        "child_pid",
        "step",
        "fps",
        "steps_per_s",
        "scene",
        "model",
        "grid",
        "adapter",
        "backend",
        "memory_mb",
        "restarts",
        "restart_count",
        "last_error",
        "installation_hash",
        "mode",
        "open",
    ] {
        assert!(health.get(field).is_some(), "health lacks '{field}': {health:#}");
    }
    assert_eq!(health["grid"], serde_json::json!([128, 128]));
    assert_eq!(health["model"], "lizard_regenerating");
    assert!(health["memory_mb"].as_f64().unwrap() > 10.0 && health["installation_hash"].as_str().unwrap().len() == 16, "{health:#}");
    let (_, waited) = exhibit.until("steps advancing", Duration::from_secs(30), |h| h["step"].as_u64().unwrap_or(0) > 30);
    eprintln!("30 steps after {waited:?}");
    // No token, a wrong token: 401, and nothing restarts.
    assert_eq!(exhibit.request("POST", "/control/restart", None).0, 401);
    assert_eq!(exhibit.request("POST", "/control/restart", Some("wrong-token-0123456789")).0, 401);
    assert_eq!(exhibit.health()["child_pid"].as_u64(), Some(first));

    signal(first, "KILL");
    let killed = Instant::now();
    let (second, _) = exhibit.running(Some(first), Duration::from_secs(60));
    let back_after_kill = killed.elapsed();
    eprintln!("back {back_after_kill:?} after kill -9");
    let health = exhibit.health();
    assert!(health["restarts"][0]["reason"].as_str().unwrap().contains("signal 9"), "{health:#}");
    assert!(back_after_kill < Duration::from_secs(10), "new frames {back_after_kill:?} after kill -9");

    signal(second, "STOP");
    let frozen = Instant::now();
    let (third, _) = exhibit.running(Some(second), Duration::from_secs(60));
    let back_after_freeze = frozen.elapsed();
    eprintln!("back {back_after_freeze:?} after SIGSTOP");
    let health = exhibit.health();
    assert!(health["restarts"][1]["reason"].as_str().unwrap().contains("missed heartbeat"), "{health:#}");
    assert!(back_after_freeze < Duration::from_secs(4 + 10), "new frames {back_after_freeze:?} after a freeze");

    // The token restarts it on demand.
    assert_eq!(exhibit.request("POST", "/control/restart", Some(TOKEN)).0, 202);
    exhibit.running(Some(third), Duration::from_secs(60));
    let health = exhibit.health();
    // On a loaded machine a window may also miss its first heartbeat while it starts, and is
    // restarted for it: the asked restart is then the last of more than three.
    let count = health["restart_count"].as_u64().unwrap_or(0);
    assert!(count >= 3, "{health:#}");
    let restarts = health["restarts"].as_array().expect("a list of restarts");
    assert_eq!(restarts.last().map(|r| &r["reason"]), Some(&serde_json::json!("restart asked")), "{health:#}");
    let log = std::fs::read_to_string(exhibit.dir.path().join("logs/exhibit.log")).unwrap();
    assert!(log.contains("signal 9 (killed)") && log.contains("missed heartbeat") && log.contains("restart asked"), "{log}");
}

#[test]
fn a_deleted_model_falls_back_to_the_bundled_scene_without_a_crash_loop() {
    let dir = tempfile::tempdir().unwrap();
    let gone: PathBuf = dir.path().join("deleted.safetensors");
    let exhibit = Exhibit::start(&format!("Model({:?})", gone.display().to_string()), "", &[], 2);
    let (health, waited) = exhibit.until("the fallback scene running", Duration::from_secs(120), |h| {
        h["mode"] == "fallback" && h["heartbeat"]["step"].as_u64().unwrap_or(0) > 0 && h["heartbeat"]["pid"] == h["child_pid"]
    });
    eprintln!("fallback after {waited:?}");
    assert_eq!(health["restart_count"], 2, "two fast failures, then the fallback: {health:#}");
    assert!(health["restarts"][0]["reason"].as_str().unwrap().contains("exit code 1"), "{health:#}");
    assert_eq!(health["model"], "lizard_regenerating", "the bundled default scene");
    // It stays up: no more restarts.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(exhibit.health()["restart_count"], 2);
}

#[test]
fn a_lost_gpu_device_restarts_the_window_and_a_failing_fallback_ends_out_of_order() {
    let exhibit = Exhibit::start(&model("lizard_growing.safetensors"), "", &[("NCA_FAULT", "device-lost@30")], 2);
    let (health, waited) =
        exhibit.until("the first device loss", Duration::from_secs(120), |h| h["restart_count"].as_u64().unwrap_or(0) >= 1);
    eprintln!("device lost and restarted after {waited:?}");
    assert!(health["restarts"][0]["reason"].as_str().unwrap().contains("exit code 75 (GPU device or surface lost)"), "{health:#}");
    // Every window loses its device: configured twice, fallback twice, then out of order.
    let (health, _) = exhibit.until("the out-of-order screen", Duration::from_secs(180), |h| h["mode"] == "out_of_order");
    let modes: Vec<&str> = health["restarts"].as_array().unwrap().iter().map(|r| r["mode"].as_str().unwrap()).collect();
    assert_eq!(&modes[..4], ["configured", "configured", "fallback", "fallback"], "{health:#}");
}

#[test]
fn opening_hours_on_an_injected_clock_close_and_open_the_screen() {
    let hours = r#"hours: [(days: [Mon], open: "09:00", close: "18:00")], closed: Dim"#;
    let exhibit = Exhibit::start(&model("lizard_regenerating.safetensors"), hours, &[("NCA_EXHIBIT_CLOCK", "Mon 08:59:20")], 10);
    let (health, _) = exhibit.until("a closed window", Duration::from_secs(120), |h| h["heartbeat"]["frame"].as_u64().unwrap_or(0) > 0);
    assert_eq!(health["open"], false, "{health:#}");
    assert_eq!(health["heartbeat"]["open"], false);
    let step_closed = health["step"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let health = exhibit.health();
    if health["open"] == false {
        assert_eq!(health["step"].as_u64().unwrap(), step_closed, "a closed exhibit rests: no steps");
    }
    let (health, _) = exhibit.until("opening at 09:00", Duration::from_secs(90), |h| h["open"] == true && h["heartbeat"]["open"] == true);
    let (_, _) = exhibit.until("steps once open", Duration::from_secs(30), |h| h["step"].as_u64().unwrap_or(0) > step_closed + 10);
    assert_eq!(health["restart_count"], 0, "opening needs no restart");
}

/// The Exec= line of a desktop entry.
fn desktop_exec(entry: &str) -> Vec<String> {
    let line = entry.lines().find_map(|l| l.strip_prefix("Exec=")).expect("an Exec line");
    line.split_whitespace().map(str::to_string).collect()
}

#[test]
fn the_package_installs_into_an_empty_root_and_runs_from_there() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let built = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package"))
        .arg(&out)
        .env("NCA_BINARY", env!("CARGO_BIN_EXE_nca"))
        .env("NCA_DEB_COMPRESSION", "none")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let debs: Vec<PathBuf> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(debs.len(), 1, "one file: {debs:?}");
    let root = dir.path().join("root");
    assert!(Command::new("dpkg-deb").arg("-x").arg(&debs[0]).arg(&root).status().unwrap().success());
    let fields = String::from_utf8(Command::new("dpkg-deb").arg("-f").arg(&debs[0]).output().unwrap().stdout).unwrap();
    assert!(fields.contains("Package: nca-sandbox") && fields.contains("Depends:"), "{fields}");
    for file in [
        "usr/bin/nca",
        "usr/share/nca-sandbox/trained/lizard_regenerating.safetensors",
        "usr/share/nca-sandbox/assets/scenarios/regeneration.ron",
        "usr/share/doc/nca-sandbox/README.staff.md",
        "etc/nca-sandbox/installation.ron",
        "etc/xdg/autostart/nca-exhibit.desktop",
        "usr/lib/systemd/user/nca-exhibit.service",
    ] {
        assert!(root.join(file).is_file(), "{file} is not in the package");
    }
    assert!(!root.join("usr/share/nca-sandbox/trained/in-progress").exists(), "runs in progress are not shipped");
    // The autostart entry is valid, and so is the unit with its binary where the root has it.
    let desktop = root.join("etc/xdg/autostart/nca-exhibit.desktop");
    let validate = Command::new("desktop-file-validate").arg(&desktop).output();
    let validate = validate.expect("desktop-file-validate is missing: `apt-get install -y desktop-file-utils` (.ci/run installs it)");
    assert!(validate.status.success() && validate.stdout.is_empty(), "{}", String::from_utf8_lossy(&validate.stdout));
    let binary = root.join("usr/bin/nca");
    let installation = root.join("etc/nca-sandbox/installation.ron");
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/user/nca-exhibit.service")).unwrap();
    let unit =
        unit.replace("/usr/bin/nca", binary.to_str().unwrap()).replace("/etc/nca-sandbox/installation.ron", installation.to_str().unwrap());
    std::fs::write(dir.path().join("nca-exhibit.service"), unit).unwrap();
    if Command::new("systemd-analyze").arg("--version").output().is_ok() {
        let verify = Command::new("systemd-analyze").arg("verify").arg(dir.path().join("nca-exhibit.service")).output().unwrap();
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    }
    // From an empty folder, the installed binary finds its models and assets where it was put.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let check = Command::new(&binary).current_dir(&empty).arg("exhibit").arg(&installation).arg("--check").output().unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(said.contains(&format!("data: {}", root.join("usr/share/nca-sandbox").display())), "{said}");
    // Started the way the session would (the entry's Exec line, on the unpacked root), with a
    // health port of the test's own: the playlist plays.
    let mut exec = desktop_exec(&std::fs::read_to_string(&desktop).unwrap());
    exec[0] = binary.display().to_string();
    exec[2] = installation.display().to_string();
    let _turn = XVFB.lock().unwrap_or_else(|p| p.into_inner());
    let port = free_port();
    let mut child = Command::new("xvfb-run")
        .current_dir(&empty)
        .args(["-a", "-s", "-screen 0 800x600x24"])
        .args(&exec)
        .args(["--health", &format!("127.0.0.1:{port}"), "--seconds", "150"])
        // Within the shipped file's opening hours, whatever day the test runs.
        .env("NCA_EXHIBIT_CLOCK", "Wed 12:00")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let (grew, last) = loop {
        let last = request(port, "GET", "/health", None).1;
        if last["step"].as_u64().unwrap_or(0) > 50 && last["heartbeat"]["grid"][0].as_u64().unwrap_or(0) > 0 {
            break (true, last);
        }
        if started.elapsed() > Duration::from_secs(120) {
            break (false, last);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    stop_under_xvfb(&mut child);
    let _ = child.wait();
    assert!(grew, "the installed exhibit did not run: {last:#}");
    assert_eq!(last["mode"], "configured", "{last:#}");
    assert_eq!(last["open"], true, "{last:#}");
}
