//! One reader of the sandbox grid's GPU state for every feature that needs it.
//!
//! A grid takes one readback request per frame (a component), so features that each inserted
//! their own would overwrite one another's. Instead they ask the feed: the digits read-out and
//! the kiosk's extinction check want fresh labels, a digits reset wants the state once. The
//! feed keeps one request in flight and publishes what comes back.

use bevy::prelude::*;

use super::SandboxGrid;
use crate::sim::readback::next_readback_id;
use crate::sim::{GridSnapshot, GridSnapshots, LabelSnapshot, ReadbackKind, ReadbackRequest};

/// The latest labels and state read from the sandbox grid, and what is wanted next.
#[derive(Resource, Debug)]
pub struct GridFeed {
    /// The latest labels, and the number of the request they answered.
    pub labels: Option<(u64, LabelSnapshot)>,
    /// The latest state asked for with [`GridFeed::want_state`], and its request number.
    pub state: Option<(u64, GridSnapshot)>,
    /// Set by a feature every frame it wants labels; cleared once the feed has acted on it.
    pub want_labels: bool,
    /// Set to read the whole state once; cleared when the request goes out.
    pub want_state: bool,
    /// At most this often (seconds) are labels read.
    pub labels_interval: f32,
    /// Requests sent so far: labels answering request `n` show every edit queued before it.
    pub requests: u64,
    pending: Option<(u64, u64, ReadbackKind)>,
    since_labels: f32,
}

impl Default for GridFeed {
    fn default() -> Self {
        Self {
            labels: None,
            state: None,
            want_labels: false,
            want_state: false,
            labels_interval: 0.1,
            requests: 0,
            pending: None,
            since_labels: f32::INFINITY,
        }
    }
}

impl GridFeed {
    /// Labels that answered a request sent after `request` (so they show what was queued by
    /// then), if they have arrived.
    pub fn labels_after(&self, request: u64) -> Option<&LabelSnapshot> {
        self.labels.as_ref().filter(|(n, _)| *n > request).map(|(_, l)| l)
    }

    /// Forgets what was read (the grid started afresh).
    pub fn forget(&mut self) {
        self.labels = None;
        self.state = None;
    }
}

/// Collects what arrived and sends the next request.
pub(crate) fn run_feed(
    mut commands: Commands,
    time: Res<Time<Real>>,
    mut feed: ResMut<GridFeed>,
    mut snapshots: ResMut<GridSnapshots>,
    grids: Query<(Entity, Has<ReadbackRequest>), With<SandboxGrid>>,
) {
    feed.since_labels += time.delta_secs();
    let Some((grid, already_asked)) = grids.iter().next() else {
        feed.pending = None;
        return;
    };
    if let Some((id, number, kind)) = feed.pending {
        let arrived = match kind {
            ReadbackKind::Labels => snapshots.take_labels(id).map(|r| r.map(|l| feed.labels = Some((number, l)))),
            ReadbackKind::State => snapshots.take(id).map(|r| r.map(|s| feed.state = Some((number, s)))),
            // The feed never asks for sums; a stray answer is dropped.
            ReadbackKind::Metrics => snapshots.take_metrics(id).map(|r| r.map(|_| ())),
        };
        match arrived {
            None => return,
            Some(Err(e)) => warn!("readback failed: {e}"),
            Some(Ok(())) => {}
        }
        feed.pending = None;
    }
    if already_asked {
        // Someone else (a tool, a test) asked this frame: theirs goes first.
        return;
    }
    let kind = if feed.want_state {
        feed.want_state = false;
        ReadbackKind::State
    } else if feed.want_labels && feed.since_labels >= feed.labels_interval {
        feed.since_labels = 0.0;
        ReadbackKind::Labels
    } else {
        return;
    };
    feed.want_labels = false;
    feed.requests += 1;
    let id = next_readback_id();
    feed.pending = Some((id, feed.requests, kind));
    commands.entity(grid).insert(ReadbackRequest { id: Some(id), kind });
}
