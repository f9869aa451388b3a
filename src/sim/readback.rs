//! GPU → CPU readback of a grid's state, for tests and tools.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender};

use crate::model::Grid;
use crate::model::scenario::reduce::RegionLayout;

/// What a readback copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReadbackKind {
    /// The whole state and the species ids ([`GridSnapshot`]).
    #[default]
    State,
    /// One word per cell, the kind's label ([`LabelSnapshot`]): much smaller than the state, so
    /// a scene or an evaluation can read every step's votes.
    Labels,
    /// The sums of the grid's [`GridMetricRegions`] ([`MetricSnapshot`]), reduced on the GPU: a
    /// few words a region instead of the state. The state is kept on the GPU as the one the
    /// next metrics readback measures the update against.
    Metrics,
}

/// The regions a grid's metrics readbacks sum over ([`ReadbackKind::Metrics`]).
#[derive(Component, Clone, Debug)]
pub struct GridMetricRegions(pub Arc<RegionLayout>);

/// Region sums read back from the GPU.
#[derive(Clone, Debug)]
pub struct MetricSnapshot {
    /// The grid entity.
    pub entity: Entity,
    /// Its step counter when the sums were taken.
    pub step: u32,
    /// [`crate::model::scenario::reduce::SLOT_WORDS`] words per slot.
    pub words: Vec<u32>,
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
    /// A [`ReadbackKind::Metrics`] readback.
    Metrics(MetricSnapshot),
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
        self.take_as(id, "a state", |r| match r {
            Readback::State(s) => Some(s),
            _ => None,
        })
    }

    /// Removes and returns the labels read back for `id`, if they arrived.
    pub fn take_labels(&mut self, id: u64) -> Option<Result<LabelSnapshot, String>> {
        self.take_as(id, "labels", |r| match r {
            Readback::Labels(l) => Some(l),
            _ => None,
        })
    }

    /// Removes and returns the region sums read back for `id`, if they arrived.
    pub fn take_metrics(&mut self, id: u64) -> Option<Result<MetricSnapshot, String>> {
        self.take_as(id, "region sums", |r| match r {
            Readback::Metrics(m) => Some(m),
            _ => None,
        })
    }

    fn take_as<T>(&mut self, id: u64, what: &str, pick: impl FnOnce(Readback) -> Option<T>) -> Option<Result<T, String>> {
        Some(match self.arrived.remove(&id)? {
            Ok(readback) => pick(readback).ok_or_else(|| format!("readback {id} does not hold {what}")),
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
