//! A monkey for installations: random touches, as visitors make them, for soak runs of the kiosk
//! under Xvfb (`nca run --kiosk --monkey SEED --seconds 3600 --report r.json`). Visitors come in
//! bursts and leave, so the monkey also pauses long enough for the kiosk's idle reset and
//! self-play to take over.

use bevy::prelude::*;

use super::{InputSystems, PointerInput, PointerPhase, Tool, ToolSettings, cell_to_world};
use crate::model::fire::pcg;
use crate::scene::SandboxGrid;
use crate::sim::{CaGrid, NcaModel};

/// The monkey's state; insert it to let the monkey loose.
#[derive(Resource, Debug)]
pub struct Monkey {
    state: u32,
    wait: f32,
    stroke: Option<(u64, Vec2, Vec2, u32)>,
    /// Touches made so far.
    pub touches: u64,
    /// Breaks taken so far (long enough for the kiosk's idle reset).
    pub breaks: u64,
}

impl Monkey {
    /// A monkey whose choices follow `seed`.
    pub fn new(seed: u32) -> Self {
        Self { state: pcg(seed ^ 0x6d6f_6e6b), wait: 1.0, stroke: None, touches: 0, breaks: 0 }
    }

    fn next(&mut self) -> u32 {
        self.state = pcg(self.state);
        self.state
    }

    /// Uniform in `[low, high)`.
    fn range(&mut self, low: f32, high: f32) -> f32 {
        low + (self.next() as f32 / u32::MAX as f32) * (high - low)
    }
}

/// Lets a [`Monkey`] resource touch the sandbox grid.
pub struct MonkeyPlugin;

impl Plugin for MonkeyPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, monkey_touches.run_if(resource_exists::<Monkey>).in_set(InputSystems::Devices));
    }
}

fn monkey_touches(
    time: Res<Time<Real>>,
    mut monkey: ResMut<Monkey>,
    mut tools: ResMut<ToolSettings>,
    models: Res<Assets<NcaModel>>,
    grids: Query<(&CaGrid, &GlobalTransform), With<SandboxGrid>>,
    mut out: MessageWriter<PointerInput>,
) {
    let Some((grid, transform)) = grids.iter().next() else { return };
    let Some(kind) = grid.kind(&models) else { return };
    let size = Vec2::new(grid.width as f32, grid.height as f32);
    if let Some((pointer, at, velocity, moves_left)) = monkey.stroke {
        let world = cell_to_world(grid, transform, at.clamp(Vec2::ZERO, size - 0.5));
        if moves_left == 0 {
            out.write(PointerInput { pointer, phase: PointerPhase::Released, world });
            monkey.stroke = None;
        } else {
            out.write(PointerInput { pointer, phase: PointerPhase::Moved, world });
            monkey.stroke = Some((pointer, at + velocity, velocity, moves_left - 1));
        }
        return;
    }
    monkey.wait -= time.delta_secs();
    if monkey.wait > 0.0 {
        return;
    }
    // A burst of touches, then now and again the crowd leaves for a while.
    if monkey.range(0.0, 1.0) < 0.02 {
        monkey.wait = monkey.range(30.0, 180.0);
        monkey.breaks += 1;
        return;
    }
    monkey.wait = monkey.range(0.1, 2.5);
    let usable: Vec<Tool> =
        Tool::ALL.iter().map(|t| t.0).filter(|t| t.works_on(kind) && !matches!(t, Tool::Move | Tool::Species)).collect();
    let tool = usable[monkey.next() as usize % usable.len()];
    tools.tool = tool;
    let at = Vec2::new(monkey.range(0.0, size.x), monkey.range(0.0, size.y));
    let velocity = Vec2::new(monkey.range(-2.0, 2.0), monkey.range(-2.0, 2.0));
    let pointer = 1 + (monkey.next() % 5) as u64;
    let moves = monkey.next() % 24;
    out.write(PointerInput { pointer, phase: PointerPhase::Pressed, world: cell_to_world(grid, transform, at) });
    monkey.stroke = Some((pointer, at, velocity, moves));
    monkey.touches += 1;
}
