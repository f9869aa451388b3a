//! Play, pause, single steps and speed for every grid: the sandbox's transport controls.
//!
//! Speeds below 1× run one step every few frames (a fractional step count accumulates);
//! `Max` adapts the steps per frame so the frame stays near 16 ms.

use bevy::prelude::*;

use super::CaGrid;

/// How fast grids run, relative to one step per frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Speed {
    /// One step every 60 frames.
    Sixtieth,
    /// One step every 10 frames.
    Tenth,
    /// One step every other frame.
    Half,
    /// One step per frame.
    #[default]
    One,
    /// Two steps per frame.
    Two,
    /// Four steps per frame.
    Four,
    /// As many steps per frame as keep the frame under about 16 ms.
    Max,
}

impl Speed {
    /// Every speed, slowest first (the panel's order).
    pub const ALL: [Speed; 7] = [Speed::Sixtieth, Speed::Tenth, Speed::Half, Speed::One, Speed::Two, Speed::Four, Speed::Max];

    /// Steps per frame (`None` for `Max`, which adapts).
    pub fn steps_per_frame(self) -> Option<f32> {
        match self {
            Speed::Sixtieth => Some(1.0 / 60.0),
            Speed::Tenth => Some(0.1),
            Speed::Half => Some(0.5),
            Speed::One => Some(1.0),
            Speed::Two => Some(2.0),
            Speed::Four => Some(4.0),
            Speed::Max => None,
        }
    }

    /// The label the panel shows.
    pub fn label(self) -> &'static str {
        match self {
            Speed::Sixtieth => "1/60×",
            Speed::Tenth => "1/10×",
            Speed::Half => "1/2×",
            Speed::One => "1×",
            Speed::Two => "2×",
            Speed::Four => "4×",
            Speed::Max => "max",
        }
    }

    /// The next faster (`up`) or slower speed, stopping at the ends.
    pub fn step(self, up: bool) -> Speed {
        let i = Self::ALL.iter().position(|&s| s == self).unwrap_or(3);
        let j = if up { (i + 1).min(Self::ALL.len() - 1) } else { i.saturating_sub(1) };
        Self::ALL[j]
    }
}

/// The transport settings shared by every grid in the scene.
#[derive(Resource, Clone, Debug)]
pub struct Playback {
    /// When paused, grids only advance by single steps.
    pub paused: bool,
    /// The speed while playing.
    pub speed: Speed,
    /// Single steps requested (run next frame, paused or not).
    pub single_steps: u32,
    /// Frame-time budget for `Speed::Max`, in seconds.
    pub max_frame_seconds: f32,
    /// Upper limit of `Speed::Max`'s steps per frame.
    pub max_steps_per_frame: u32,
    /// Steps per frame `Max` currently runs (adapted each frame).
    pub adaptive_steps: u32,
    /// Fractional steps carried over between frames at speeds below 1×.
    pub carry: f32,
}

impl Default for Playback {
    fn default() -> Self {
        Self {
            paused: false,
            speed: Speed::One,
            single_steps: 0,
            max_frame_seconds: 1.0 / 60.0,
            max_steps_per_frame: 256,
            adaptive_steps: 1,
            carry: 0.0,
        }
    }
}

impl Playback {
    /// The whole steps to run this frame; `frame_seconds` is the last frame's duration.
    pub fn steps_this_frame(&mut self, frame_seconds: f32) -> u32 {
        let playing = if self.paused {
            0
        } else {
            match self.speed.steps_per_frame() {
                Some(rate) => {
                    self.carry += rate;
                    let whole = self.carry.floor();
                    self.carry -= whole;
                    whole as u32
                }
                None => {
                    // Grow gently while there is slack, back off quickly when over budget.
                    let budget = self.max_frame_seconds;
                    self.adaptive_steps = if frame_seconds > budget * 1.1 {
                        (self.adaptive_steps * 3 / 4).max(1)
                    } else if frame_seconds < budget * 0.9 {
                        (self.adaptive_steps + 1 + self.adaptive_steps / 8).min(self.max_steps_per_frame)
                    } else {
                        self.adaptive_steps
                    };
                    self.adaptive_steps
                }
            }
        };
        playing + std::mem::take(&mut self.single_steps)
    }
}

/// Marks grids the transport controls drive (the sandbox's grids; tools and tests that step
/// grids by hand leave it off).
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct FollowsPlayback;

/// Play/pause/speed for grids marked [`FollowsPlayback`].
pub struct PlaybackPlugin;

impl Plugin for PlaybackPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Playback>().add_systems(PostUpdate, apply_playback.in_set(super::SimSystems::Playback));
    }
}

/// Turns [`Playback`] into each followed grid's steps for this frame.
pub(crate) fn apply_playback(time: Res<Time<Real>>, mut playback: ResMut<Playback>, mut grids: Query<&mut CaGrid, With<FollowsPlayback>>) {
    let steps = playback.steps_this_frame(time.delta_secs());
    for mut grid in &mut grids {
        // The grid's own controls express "run exactly `steps` this frame".
        grid.paused = true;
        grid.single_steps += steps;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractional_speeds_accumulate() {
        let mut p = Playback { speed: Speed::Tenth, ..default() };
        let total: u32 = (0..100).map(|_| p.steps_this_frame(0.01)).sum();
        assert_eq!(total, 10);
        let mut p = Playback { speed: Speed::Four, ..default() };
        assert_eq!(p.steps_this_frame(0.01), 4);
    }

    #[test]
    fn pause_runs_only_single_steps() {
        let mut p = Playback { paused: true, single_steps: 1, ..default() };
        assert_eq!(p.steps_this_frame(0.01), 1);
        assert_eq!(p.steps_this_frame(0.01), 0);
    }

    #[test]
    fn max_adapts_to_the_frame_budget() {
        let mut p = Playback { speed: Speed::Max, ..default() };
        for _ in 0..50 {
            p.steps_this_frame(0.005);
        }
        let fast = p.adaptive_steps;
        assert!(fast > 20, "with slack the step count grows: {fast}");
        for _ in 0..10 {
            p.steps_this_frame(0.05);
        }
        assert!(p.adaptive_steps < fast / 4, "over budget it backs off: {}", p.adaptive_steps);
    }
}
