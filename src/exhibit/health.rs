//! The health endpoint: `GET /health` serves the supervisor's figures as JSON to whoever watches
//! the exhibits from a desk; `POST /control/restart`, `/control/next` and `/control/previous`
//! need the installation file's token as `Authorization: Bearer TOKEN` (401 without it). It runs
//! on a thread of its own and reads a shared snapshot, so it answers whatever the window is
//! doing, restarts included.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::heartbeat::Heartbeat;
use super::installation::Installation;
use super::watchdog::{Mode, Stop};

/// Stops kept in the report (the count covers them all).
const RESTARTS_KEPT: usize = 50;

/// What the control endpoints ask of the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Stop the window and start it again, in the configured mode.
    Restart,
    /// The playlist's next scenario.
    Next,
    /// The playlist's previous scenario.
    Previous,
}

/// The supervisor's figures, as `GET /health` serves them.
#[derive(Clone, Debug, Serialize)]
pub struct HealthState {
    /// The exhibit's name.
    pub name: String,
    /// What the installation shows, in words.
    pub show: String,
    /// The installation file's hash (FNV-1a 64).
    pub installation_hash: String,
    /// Seconds since the supervisor started.
    pub uptime_s: f64,
    /// Seconds since the current window started.
    pub window_uptime_s: f64,
    /// The window's process id (none between two windows).
    pub child_pid: Option<u32>,
    /// What the window shows.
    pub mode: Mode,
    /// Within opening hours.
    pub open: bool,
    /// Every stop of a window so far.
    pub restart_count: usize,
    /// The last stops, newest last.
    pub restarts: Vec<Stop>,
    /// The last stop's reason, or the window's last logged error.
    pub last_error: Option<String>,
    /// The window's last heartbeat.
    pub heartbeat: Option<Heartbeat>,
}

impl HealthState {
    /// The state before any window runs.
    pub fn new(installation: &Installation, installation_hash: String) -> Self {
        Self {
            name: installation.name.clone(),
            show: format!("{:?}", installation.show),
            installation_hash,
            uptime_s: 0.0,
            window_uptime_s: 0.0,
            child_pid: None,
            mode: Mode::Configured,
            open: true,
            restart_count: 0,
            restarts: Vec::new(),
            last_error: None,
            heartbeat: None,
        }
    }

    /// A window stopped.
    pub fn record(&mut self, stop: Stop) {
        self.restart_count += 1;
        self.last_error = Some(stop.reason.clone());
        self.restarts.push(stop);
        if self.restarts.len() > RESTARTS_KEPT {
            self.restarts.remove(0);
        }
    }

    /// The report: the figures, with the heartbeat's flattened on top (`step`, `fps`, …).
    pub fn to_json(&self) -> serde_json::Value {
        let mut json = serde_json::to_value(self).expect("plain data");
        let beat = self.heartbeat.clone().unwrap_or_default();
        for (key, value) in [
            ("step", serde_json::json!(beat.step)),
            ("fps", serde_json::json!(beat.fps)),
            ("steps_per_s", serde_json::json!(beat.steps_per_s)),
            ("scene", serde_json::json!(beat.scene)),
            ("model", serde_json::json!(beat.model)),
            ("grid", serde_json::json!(beat.grid)),
            ("adapter", serde_json::json!(beat.adapter)),
            ("backend", serde_json::json!(beat.backend)),
            ("memory_mb", serde_json::json!(beat.rss_mb)),
        ] {
            json[key] = value;
        }
        if self.last_error.is_none()
            && let Some(error) = beat.errors.last()
        {
            json["last_error"] = serde_json::json!(error);
        }
        json
    }
}

/// The running endpoint; dropping it stops the server.
pub struct HealthServer {
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HealthServer {
    /// Serves `state` at `address` (`IP:PORT`; port 0 picks one).
    pub fn start(
        address: &str,
        token: Option<String>,
        state: Arc<Mutex<HealthState>>,
        control: crossbeam_channel::Sender<Control>,
    ) -> Result<Self, String> {
        let server = Arc::new(tiny_http::Server::http(address).map_err(|e| format!("--health {address}: cannot listen ({e})"))?);
        let serving = server.clone();
        let thread = std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                let (status, body) =
                    answer(request.method(), request.url(), bearer(&request).as_deref(), token.as_deref(), &state, &control);
                let header = tiny_http::Header::from_bytes("Content-Type", "application/json").expect("a valid header");
                let response = tiny_http::Response::from_string(body).with_status_code(status).with_header(header);
                let _ = request.respond(response);
            }
        });
        Ok(Self { server, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn address(&self) -> String {
        self.server.server_addr().to_ip().map(|a| a.to_string()).unwrap_or_default()
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn bearer(request: &tiny_http::Request) -> Option<String> {
    let header = request.headers().iter().find(|h| h.field.equiv("Authorization"))?;
    header.value.as_str().strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

/// The status and JSON body for one request.
fn answer(
    method: &tiny_http::Method,
    url: &str,
    bearer: Option<&str>,
    token: Option<&str>,
    state: &Mutex<HealthState>,
    control: &crossbeam_channel::Sender<Control>,
) -> (u16, String) {
    use tiny_http::Method;
    let error = |status: u16, message: &str| (status, serde_json::json!({ "error": message }).to_string());
    let path = url.split('?').next().unwrap_or(url);
    match (method, path) {
        (Method::Get, "/health") => (200, state.lock().map(|s| s.to_json().to_string()).unwrap_or_else(|_| "{}".into())),
        (Method::Post, "/control/restart" | "/control/next" | "/control/previous") => {
            // Control is off without a token in the installation file, and a token compares in
            // time independent of where it differs.
            let authorised = match (token, bearer) {
                (Some(token), Some(given)) => {
                    token.len() == given.len() && token.bytes().zip(given.bytes()).fold(0, |d, (a, b)| d | (a ^ b)) == 0
                }
                _ => false,
            };
            if !authorised {
                return error(401, "control needs the installation's token as 'Authorization: Bearer TOKEN'");
            }
            let command = match path {
                "/control/restart" => Control::Restart,
                "/control/next" => Control::Next,
                _ => Control::Previous,
            };
            let _ = control.send(command);
            (202, serde_json::json!({ "accepted": path.trim_start_matches("/control/") }).to_string())
        }
        (_, "/health" | "/control/restart" | "/control/next" | "/control/previous") => error(405, "method not allowed"),
        _ => error(404, "not found: GET /health, POST /control/restart|next|previous"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Mutex<HealthState> {
        let installation = Installation::parse(r#"Installation(version: 1, show: Model("m"), operator_pin: "1234")"#).unwrap();
        Mutex::new(HealthState::new(&installation, "00".into()))
    }

    #[test]
    fn control_needs_the_token_and_health_does_not() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let state = state();
        let token = Some("0123456789abcdef");
        let post = tiny_http::Method::Post;
        assert_eq!(answer(&tiny_http::Method::Get, "/health", None, token, &state, &tx).0, 200);
        assert_eq!(answer(&post, "/control/restart", None, token, &state, &tx).0, 401);
        assert_eq!(answer(&post, "/control/restart", Some("0123456789abcdeX"), token, &state, &tx).0, 401);
        assert_eq!(answer(&post, "/control/next", Some("0123456789abcdef"), None, &state, &tx).0, 401, "no token configured: no control");
        assert!(rx.try_recv().is_err());
        assert_eq!(answer(&post, "/control/next", Some("0123456789abcdef"), token, &state, &tx).0, 202);
        assert_eq!(rx.try_recv(), Ok(Control::Next));
        assert_eq!(answer(&tiny_http::Method::Get, "/control/next", None, token, &state, &tx).0, 405);
        assert_eq!(answer(&tiny_http::Method::Get, "/", None, token, &state, &tx).0, 404);
    }
}
