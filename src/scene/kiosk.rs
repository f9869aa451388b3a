//! Unattended operation for installations: the scene starts over after a quiet spell, and
//! whenever nothing is left alive (every organism erased), so a kiosk never shows an empty grid
//! for long and needs nobody to press "reset".

use bevy::prelude::*;

use super::feed::GridFeed;
use super::{SandboxGrid, SceneCommand};

/// Someone touched the scene (a press, a drag, a release): the tools send one per pointer event,
/// and the kiosk's idle clock starts again.
#[derive(Message, Clone, Copy, Debug, Default)]
pub struct Interaction;

/// Kiosk behaviour; `None` fields are off (the default for a desk).
#[derive(Resource, Clone, Debug, Default)]
pub struct KioskSettings {
    /// Start over after this many seconds without a touch or click (only if something was
    /// changed since the last start).
    pub idle_reset_seconds: Option<f32>,
    /// Check this often (seconds) whether anything is alive; start over if not.
    pub extinction_check_seconds: Option<f32>,
    /// After this many seconds without a touch, the scene plays by itself (the digits scene
    /// writes, mutates and splices digits); a touch hands control back at once.
    pub self_play_seconds: Option<f32>,
}

impl KioskSettings {
    /// An installation's settings: self-play after 20 idle seconds, a fresh start after two
    /// idle minutes, and whenever nothing is left alive (checked every 5 seconds).
    pub fn installation() -> Self {
        Self { idle_reset_seconds: Some(120.0), extinction_check_seconds: Some(5.0), self_play_seconds: Some(20.0) }
    }
}

/// How long nobody has touched the scene, in seconds (real time).
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct KioskIdle {
    /// Seconds since the last pointer event.
    pub seconds: f32,
}

#[derive(Default)]
struct KioskState {
    touched_since_reset: bool,
    since_check: f32,
    checked_through: u64,
}

/// Idle and extinction resets, driven by [`KioskSettings`].
pub struct KioskPlugin;

impl Plugin for KioskPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<KioskSettings>()
            .init_resource::<KioskIdle>()
            .add_message::<Interaction>()
            .add_systems(Update, watch_kiosk.in_set(super::SceneSystems::Apply).before(super::apply_commands));
    }
}

#[allow(clippy::too_many_arguments)]
fn watch_kiosk(
    time: Res<Time<Real>>,
    settings: Res<KioskSettings>,
    mut inputs: MessageReader<Interaction>,
    mut idle: ResMut<KioskIdle>,
    mut feed: ResMut<GridFeed>,
    grids: Query<(), With<SandboxGrid>>,
    mut state: Local<KioskState>,
    mut scene: MessageWriter<SceneCommand>,
) {
    let dt = time.delta_secs();
    if inputs.read().count() > 0 {
        idle.seconds = 0.0;
        state.touched_since_reset = true;
    } else {
        idle.seconds += dt;
    }
    if let Some(limit) = settings.idle_reset_seconds
        && state.touched_since_reset
        && idle.seconds >= limit
    {
        state.touched_since_reset = false;
        scene.write(SceneCommand::Reset);
    }

    let Some(every) = settings.extinction_check_seconds else { return };
    if grids.is_empty() {
        return;
    }
    feed.want_labels = true;
    state.since_check += dt;
    if state.since_check < every {
        return;
    }
    // Only labels read after the last check count, so a reset is judged on what followed it.
    // Labels are one word per cell with the kind's "alive" bit: far less than the state.
    if let Some(labels) = feed.labels_after(state.checked_through) {
        state.since_check = 0.0;
        state.checked_through = feed.requests;
        if !labels.labels.iter().any(|&word| word & crate::model::kind::LABEL_ALIVE != 0) {
            info!("nothing alive: starting over");
            scene.write(SceneCommand::Reset);
        }
    }
}
