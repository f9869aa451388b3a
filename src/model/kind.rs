//! What each model kind declares about itself, in one place.
//!
//! The shared machinery (grid entities, frame plans, the edit queue, GPU buffers, readback,
//! the display, the panel) reads a kind's [`KindLayout`] instead of constants of its own. A
//! kind contributes:
//!
//! - its state layout: channel count, named channels, which channels the update never writes;
//! - its life rule: which cells run the update;
//! - how species behave: whether ids spread to newly alive cells;
//! - its steps: [`crate::model::cpu`] (growing) and [`crate::model::mnist`] on the CPU, one WGSL
//!   file each (`shaders/growing.wgsl`, `shaders/mnist.wgsl`), one Burn module each;
//! - its edits: which [`Edit`]s it accepts and what they mean ([`ModelKind::apply_edit`]);
//! - its display: the views it offers and how a cell is drawn ([`crate::model::display`]).

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use super::grid::{Edit, Grid};
use super::{mnist, spec};

/// Which family of model a weights file holds. Each kind has its own tensors and its own step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    /// The Growing NCA of Mordvintsev et al. (Distill 2020): 16 channels, fixed Sobel
    /// perception, alive where a neighbour's alpha is above 0.1.
    Growing,
    /// The self-classifying MNIST NCA of Randazzo et al. (Distill 2020): 20 channels (grey, 9
    /// hidden, 10 class scores), a learned 3×3 perception, alive where its own grey is above 0.1.
    Mnist,
}

/// A cell's label word (what the `labels` pass writes, one `u32` per cell, for readbacks much
/// smaller than the state): bits 0–7 are the kind's own (MNIST: class and vote, see
/// [`mnist::CellLabel`]), this bit says the cell is alive (growing: its own alpha above the
/// threshold), and the species id sits from [`LABEL_SPECIES_SHIFT`] up.
pub const LABEL_ALIVE: u32 = 1 << 8;
/// Where a label word's species id starts.
pub const LABEL_SPECIES_SHIFT: u32 = 16;

/// Which cells run the update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LifeRule {
    /// Alive while some cell of the 3×3 neighbourhood has `channel` above `threshold`, before and
    /// after the update; every other cell is zeroed (the growing NCA's alpha rule).
    Neighbourhood {
        /// The "aliveness" channel.
        channel: usize,
        /// Strictly above this counts.
        threshold: f32,
    },
    /// Alive while the cell's own `channel` is above `threshold`. That channel is never written
    /// by the update, so life only changes through edits; dead cells never change but are still
    /// seen by their neighbours (the MNIST NCA's grey rule).
    Own {
        /// The channel read.
        channel: usize,
        /// Strictly above this counts.
        threshold: f32,
    },
}

/// A view of a grid the display offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// The kind's own picture: colours for growing models, class colours for MNIST.
    Natural,
    /// One state channel in a diverging colour map.
    Channel(u32),
    /// Each cell in its species' colour.
    Species,
}

impl View {
    /// The display shader's code for the view's mode (`VIEW_*` in the generated WGSL constants).
    pub const fn mode_code(self) -> u32 {
        match self {
            View::Natural => 0,
            View::Channel(_) => 1,
            View::Species => 2,
        }
    }

    /// The channel shown by [`View::Channel`] (0 otherwise).
    pub const fn channel(self) -> u32 {
        match self {
            View::Channel(c) => c,
            _ => 0,
        }
    }
}

/// The edits a kind can be asked for (the tools the panel offers follow from these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EditKind {
    /// Erase discs, rectangles and halves, clear.
    Erase,
    /// Plant a seed (growing).
    Seed,
    /// Draw with a soft round pen (MNIST).
    Draw,
    /// Place a grey image, keeping the hidden state under it (MNIST).
    PlaceImage,
    /// Set the species of cells in a disc.
    PaintSpecies,
}

/// Everything the shared machinery needs to know about a kind.
#[derive(Clone, Debug, PartialEq)]
pub struct KindLayout {
    /// The kind.
    pub kind: ModelKind,
    /// Channels per cell.
    pub channels: usize,
    /// Named channel groups, for the panel and the docs.
    pub groups: &'static [(&'static str, Range<usize>)],
    /// Channels the update reads but never writes.
    pub immutable: Range<usize>,
    /// Which cells run the update.
    pub life: LifeRule,
    /// Whether species ids spread to cells that come alive next to a living cell (growing), or
    /// stay where they were placed (MNIST).
    pub species_spread: bool,
    /// The edits the kind accepts; every other edit is ignored by it.
    pub edits: &'static [EditKind],
    /// The channels [`View::Channel`] may show.
    pub viewable: Range<usize>,
    /// What the natural view is called in the panel.
    pub natural_view: &'static str,
    /// Floats of one species' block in the GPU weights buffer (weights, then constants; a
    /// multiple of 4 so every block starts on a `vec4`).
    pub species_stride: usize,
}

const GROWING_LAYOUT: KindLayout = KindLayout {
    kind: ModelKind::Growing,
    channels: spec::GROWING_CHANNELS,
    groups: &[("rgb", 0..3), ("alpha", 3..4), ("hidden", 4..16)],
    immutable: 0..0,
    life: LifeRule::Neighbourhood { channel: spec::ALPHA, threshold: spec::ALIVE_THRESHOLD },
    species_spread: true,
    edits: &[EditKind::Erase, EditKind::Seed, EditKind::PaintSpecies],
    viewable: spec::HIDDEN..spec::GROWING_CHANNELS,
    natural_view: "RGB",
    species_stride: spec::GROWING_SPECIES_STRIDE,
};

const MNIST_LAYOUT: KindLayout = KindLayout {
    kind: ModelKind::Mnist,
    channels: mnist::CHANNELS,
    groups: &[("grey", 0..1), ("hidden", 1..10), ("class scores", 10..20)],
    immutable: 0..1,
    life: LifeRule::Own { channel: mnist::GREY, threshold: mnist::LIVE_THRESHOLD },
    species_spread: false,
    edits: &[EditKind::Erase, EditKind::Draw, EditKind::PlaceImage, EditKind::PaintSpecies],
    viewable: 1..mnist::CHANNELS,
    natural_view: "classes",
    species_stride: mnist::SPECIES_STRIDE,
};

impl ModelKind {
    /// Every kind this build knows.
    pub const ALL: [ModelKind; 2] = [ModelKind::Growing, ModelKind::Mnist];

    /// The value stored in `nca.kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Growing => "growing",
            Self::Mnist => "mnist",
        }
    }

    /// The kind's description.
    pub const fn layout(self) -> &'static KindLayout {
        match self {
            Self::Growing => &GROWING_LAYOUT,
            Self::Mnist => &MNIST_LAYOUT,
        }
    }

    /// Channels per cell.
    pub const fn channels(self) -> usize {
        self.layout().channels
    }

    /// Whether the kind accepts `edit` (others leave its grids untouched).
    pub fn accepts(self, edit: &Edit) -> bool {
        self.layout().edits.contains(&edit.kind())
    }

    /// The edits that start a fresh grid of this kind: a seed in the centre for a growing model,
    /// nothing for MNIST (its canvas starts empty until a digit is drawn or placed).
    pub fn start_edits(self, width: u32, height: u32) -> Vec<Edit> {
        match self {
            Self::Growing => vec![Edit::PlantSeed { x: width / 2, y: height / 2, species: 0 }],
            Self::Mnist => Vec::new(),
        }
    }

    /// Applies `edit` to `grid` with this kind's meaning, exactly as the kind's WGSL does.
    pub fn apply_edit(self, grid: &mut Grid, edit: &Edit) {
        debug_assert_eq!(grid.channels, self.channels(), "a {self} edit on a grid of {} channels", grid.channels);
        if !self.accepts(edit) {
            return;
        }
        match self {
            Self::Growing => grid.apply_growing(edit),
            Self::Mnist => mnist::apply_edit(grid, edit),
        }
    }

    /// Which cells are alive in `grid` under this kind's rule.
    pub fn alive_mask(self, grid: &Grid) -> Vec<bool> {
        match self.layout().life {
            LifeRule::Neighbourhood { .. } => grid.alive_mask(),
            LifeRule::Own { channel, threshold } => grid.data.chunks_exact(grid.channels).map(|c| c[channel] > threshold).collect(),
        }
    }

    /// Every cell's label word ([`LABEL_ALIVE`]), as the kind's `labels` pass writes it.
    pub fn labels(self, grid: &Grid) -> Vec<u32> {
        grid.data
            .chunks_exact(grid.channels)
            .zip(&grid.species)
            .map(|(cell, &species)| {
                let own = match self {
                    Self::Growing => (cell[spec::ALPHA] > spec::ALIVE_THRESHOLD) as u32 * LABEL_ALIVE,
                    Self::Mnist => mnist::cell_label(cell).pack(),
                };
                own | species << LABEL_SPECIES_SHIFT
            })
            .collect()
    }

    /// The views the display offers for this kind, in panel order.
    pub fn views(self) -> Vec<View> {
        let layout = self.layout();
        std::iter::once(View::Natural)
            .chain(layout.viewable.clone().map(|c| View::Channel(c as u32)))
            .chain(std::iter::once(View::Species))
            .collect()
    }

    /// The kind whose grids have `channels` channels (for state files without `nca.kind`).
    pub fn from_channels(channels: usize) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.channels() == channels)
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown model kind '{s}' (this build knows: {})", known.join(", "))
        })
    }
}

/// Written as its name (`"growing"`, `"mnist"`), as in `nca.kind` and on the command line.
impl serde::Serialize for ModelKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ModelKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in ModelKind::ALL {
            assert_eq!(kind.as_str().parse::<ModelKind>(), Ok(kind));
            assert_eq!(kind.layout().kind, kind);
        }
        assert!("texture".parse::<ModelKind>().unwrap_err().contains("growing, mnist"));
    }

    #[test]
    fn layouts_are_consistent() {
        for kind in ModelKind::ALL {
            let layout = kind.layout();
            assert_eq!(layout.species_stride % 4, 0, "{kind}: blocks must start on a vec4");
            assert!(layout.viewable.end <= layout.channels);
            let covered: usize = layout.groups.iter().map(|(_, r)| r.len()).sum();
            assert_eq!(covered, layout.channels, "{kind}: the named groups cover every channel once");
            // State files without `nca.kind` are recognised by their channel count, so no two
            // kinds may share one.
            assert_eq!(ModelKind::from_channels(layout.channels), Some(kind));
        }
    }

    #[test]
    fn views_never_collide_with_channels() {
        // The old display coded "species" as channel 16, which is a real channel of a 20-channel
        // state. Views now carry their mode apart from the channel.
        let views = ModelKind::Mnist.views();
        assert!(views.contains(&View::Channel(16)) && views.contains(&View::Species));
        assert_ne!(View::Channel(16).mode_code(), View::Species.mode_code());
    }
}
