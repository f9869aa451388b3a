//! GPU → CPU readback of a grid's state, for tests and tools.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender};

use crate::model::Grid;

/// Insert on a grid entity to read its state back after this frame's work.
#[derive(Component, Clone, Debug, Default)]
pub struct ReadbackRequest {
    /// Tag for the result; one is assigned if `None`.
    pub id: Option<u64>,
}

/// The state of a grid as read back from the GPU.
#[derive(Clone, Debug)]
pub struct GridSnapshot {
    /// The grid entity.
    pub entity: Entity,
    /// Its step counter when the state was read.
    pub step: u32,
    /// The state.
    pub grid: Grid,
}

/// A result sent from the render world.
#[derive(Debug)]
pub struct ReadbackResult {
    /// The request's id.
    pub id: u64,
    /// The snapshot, or why it failed.
    pub snapshot: Result<GridSnapshot, String>,
}

/// Readbacks that arrived, by request id. Take them out with [`GridSnapshots::take`].
#[derive(Resource)]
pub struct GridSnapshots {
    sender: Sender<ReadbackResult>,
    receiver: Receiver<ReadbackResult>,
    arrived: HashMap<u64, Result<GridSnapshot, String>>,
}

impl Default for GridSnapshots {
    fn default() -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Self { sender, receiver, arrived: HashMap::new() }
    }
}

impl GridSnapshots {
    /// The sending end, handed to the render world.
    pub fn sender(&self) -> Sender<ReadbackResult> {
        self.sender.clone()
    }

    /// Removes and returns the result for `id`, if it arrived.
    pub fn take(&mut self, id: u64) -> Option<Result<GridSnapshot, String>> {
        self.arrived.remove(&id)
    }
}

/// A fresh request id.
pub fn next_readback_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn receive_readbacks(mut snapshots: ResMut<GridSnapshots>) {
    while let Ok(result) = snapshots.receiver.try_recv() {
        snapshots.arrived.insert(result.id, result.snapshot);
    }
}
