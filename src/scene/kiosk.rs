//! Unattended operation for installations: the scene starts over after a quiet spell, and
//! whenever nothing is left alive (every organism erased), so a kiosk never shows an empty grid
//! for long and needs nobody to press "reset".

use bevy::prelude::*;

use super::{SandboxGrid, SceneCommand};
use crate::sim::readback::next_readback_id;
use crate::sim::{GridSnapshots, ReadbackKind, ReadbackRequest};

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
}

#[derive(Default)]
struct KioskState {
    idle: f32,
    touched_since_reset: bool,
    since_check: f32,
    pending: Option<u64>,
}

/// Idle and extinction resets, driven by [`KioskSettings`].
pub struct KioskPlugin;

impl Plugin for KioskPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<KioskSettings>()
            .add_message::<Interaction>()
            .add_systems(Update, watch_kiosk.in_set(super::SceneSystems::Apply).before(super::apply_commands));
    }
}

#[allow(clippy::too_many_arguments)]
fn watch_kiosk(
    mut commands: Commands,
    time: Res<Time<Real>>,
    settings: Res<KioskSettings>,
    mut inputs: MessageReader<Interaction>,
    mut snapshots: ResMut<GridSnapshots>,
    grids: Query<Entity, With<SandboxGrid>>,
    mut state: Local<KioskState>,
    mut scene: MessageWriter<SceneCommand>,
) {
    let dt = time.delta_secs();
    if inputs.read().count() > 0 {
        state.idle = 0.0;
        state.touched_since_reset = true;
    } else {
        state.idle += dt;
    }
    if let Some(limit) = settings.idle_reset_seconds
        && state.touched_since_reset
        && state.idle >= limit
    {
        state.touched_since_reset = false;
        scene.write(SceneCommand::Reset);
    }

    let Some(every) = settings.extinction_check_seconds else { return };
    let Some(grid) = grids.iter().next() else { return };
    if let Some(id) = state.pending {
        if let Some(result) = snapshots.take_labels(id) {
            state.pending = None;
            // Labels are one word per cell with the kind's "alive" bit: far less to read back
            // than the state.
            if let Ok(labels) = result
                && !labels.labels.iter().any(|&word| word & crate::model::kind::LABEL_ALIVE != 0)
            {
                info!("nothing alive: starting over");
                scene.write(SceneCommand::Reset);
            }
        }
        return;
    }
    state.since_check += dt;
    if state.since_check >= every {
        state.since_check = 0.0;
        let id = next_readback_id();
        state.pending = Some(id);
        commands.entity(grid).insert(ReadbackRequest { id: Some(id), kind: ReadbackKind::Labels });
    }
}
