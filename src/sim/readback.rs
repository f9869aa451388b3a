//! GPU → CPU readback of a grid's state, for tests and tools.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender};

use crate::model::Grid;

/// What a readback copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReadbackKind {
    /// The whole state and the species ids ([`GridSnapshot`]).
    #[default]
    State,
    /// One word per cell, the kind's label ([`LabelSnapshot`]): much smaller than the state, so
    /// a scene or an evaluation can read every step's votes.
    Labels,
}

/// Insert on a grid entity to read its state back after this frame's work.
#[derive(Component, Clone, Debug, Default)]
pub struct ReadbackRequest {
    /// Tag for the result; one is assigned if `None`.
    pub id: Option<u64>,
    /// What to copy.
    pub kind: ReadbackKind,
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

/// Every cell's label as read back from the GPU (MNIST: [`crate::model::mnist::CellLabel`]
/// packed; growing: bit 0 alive, the species above it).
#[derive(Clone, Debug)]
pub struct LabelSnapshot {
    /// The grid entity.
    pub entity: Entity,
    /// Its step counter when the labels were taken.
    pub step: u32,
    /// Cells per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// One word per cell, row-major.
    pub labels: Vec<u32>,
}

/// What came back.
#[derive(Clone, Debug)]
pub enum Readback {
    /// A [`ReadbackKind::State`] readback.
    State(GridSnapshot),
    /// A [`ReadbackKind::Labels`] readback.
    Labels(LabelSnapshot),
}

/// A result sent from the render world.
#[derive(Debug)]
pub struct ReadbackResult {
    /// The request's id.
    pub id: u64,
    /// The data, or why it failed.
    pub snapshot: Result<Readback, String>,
}

/// Readbacks that arrived, by request id. Take them out with [`GridSnapshots::take`].
#[derive(Resource)]
pub struct GridSnapshots {
    sender: Sender<ReadbackResult>,
    receiver: Receiver<ReadbackResult>,
    arrived: HashMap<u64, Result<Readback, String>>,
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

    /// Removes and returns the state read back for `id`, if it arrived.
    pub fn take(&mut self, id: u64) -> Option<Result<GridSnapshot, String>> {
        Some(match self.arrived.remove(&id)? {
            Ok(Readback::State(s)) => Ok(s),
            Ok(Readback::Labels(_)) => Err(format!("readback {id} holds labels, not a state")),
            Err(e) => Err(e),
        })
    }

    /// Removes and returns the labels read back for `id`, if they arrived.
    pub fn take_labels(&mut self, id: u64) -> Option<Result<LabelSnapshot, String>> {
        Some(match self.arrived.remove(&id)? {
            Ok(Readback::Labels(l)) => Ok(l),
            Ok(Readback::State(_)) => Err(format!("readback {id} holds a state, not labels")),
            Err(e) => Err(e),
        })
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
