//! Region sums: what `metrics.csv` is made of, reduced over the grid in one pass.
//!
//! A [`RegionLayout`] numbers the regions a scenario measures (slots) and says which cells
//! belong to which: every cell may sit in one slot of a partition (the organisms' territories),
//! in any number of rectangles (the grid, the digits' boxes, named regions) and in its species'
//! slot. [`reduce`] is the CPU reference of the reduction; the GPU runs the same one in
//! `shaders/metrics.wgsl` and reads back only the sums ([`SLOT_WORDS`] words a slot), never the
//! state.
//!
//! Sums are fixed point with 32 fractional bits: each cell's (or target pixel's) value is summed
//! in `f32` over its channels, then cut to fixed point and added as an integer. Integer sums do
//! not depend on the order of the additions, so the GPU's atomic sums are exact, repeatable, and
//! equal to this reference wherever the per-cell values are.

use crate::model::grid::Grid;
use crate::model::kind::{LABEL_ALIVE, LABEL_SPECIES_SHIFT, ModelKind};
use crate::model::mnist;

/// A cell of the partition that belongs to no slot.
pub const NO_SLOT: u32 = u32::MAX;

/// Where each count and sum sits in a slot's words, as the GPU writes them. A sum takes three
/// words (low to high: fraction, integer, carry), a vote count one word per class.
pub mod word {
    /// Cells of the slot, counted for species slots only (the others' sizes are fixed).
    pub const MEMBERS: usize = 0;
    /// Living cells.
    pub const ALIVE: usize = 1;
    /// Σ over living cells of Σ|value| over the cell's channels.
    pub const STATE: usize = 2;
    /// Σ over living cells of Σ|value − previous value|.
    pub const UPDATE: usize = 5;
    /// Σ over the slot's target windows of Σ (RGBA − target)².
    pub const LOSS: usize = 8;
    /// Living cells per class (the kind's label, bits 0–3).
    pub const VOTES: usize = 11;
    /// Values left out of [`STATE`], [`UPDATE`] and [`LOSS`] (non-finite, or 2³² and more).
    pub const STATE_OVERFLOW: usize = 21;
    /// See [`STATE_OVERFLOW`].
    pub const UPDATE_OVERFLOW: usize = 22;
    /// See [`STATE_OVERFLOW`].
    pub const LOSS_OVERFLOW: usize = 23;
}

// The class sits in a label's low four bits, below the alive bit.
const _: () = assert!(LABEL_ALIVE > 0xF);

/// Words per slot in the GPU's sums buffer.
pub const SLOT_WORDS: usize = 24;

/// The largest value one cell may add: the largest `f32` below 2³².
pub const MAX_CELL_VALUE: f32 = 4_294_967_040.0;

/// A sum of non-negative values in fixed point, with how many values could not be added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FixedSum {
    /// The sum × 2³².
    pub scaled: u128,
    /// Values left out: non-finite, or at least [`MAX_CELL_VALUE`].
    pub overflow: u64,
}

impl FixedSum {
    /// One value as the GPU cuts it (`None`: left out): the integer part, and the fraction × 2³²
    /// truncated.
    pub fn quantize(v: f32) -> Option<u128> {
        if !v.is_finite() || !(0.0..MAX_CELL_VALUE).contains(&v) {
            return None;
        }
        let whole = v.floor();
        let fraction = ((v - whole) * 4_294_967_296.0).min(MAX_CELL_VALUE) as u32;
        Some(((whole as u32 as u128) << 32) | fraction as u128)
    }

    /// Adds one value.
    pub fn add(&mut self, v: f32) {
        match Self::quantize(v) {
            Some(q) => self.scaled += q,
            None => self.overflow += 1,
        }
    }

    /// The sum; NaN when a value was left out (as an `f64` sum of them would be useless too).
    pub fn value(&self) -> f64 {
        if self.overflow > 0 { f64::NAN } else { self.scaled as f64 / 4_294_967_296.0 }
    }

    /// From the three words at the start of `words` and the overflow count.
    fn from_words(words: &[u32], overflow: u32) -> Self {
        let scaled = words[0] as u128 | (words[1] as u128) << 32 | (words[2] as u128) << 64;
        Self { scaled, overflow: overflow as u64 }
    }
}

/// A slot's counts and sums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotSums {
    /// Cells of a species slot (0 for the other slots).
    pub members: u64,
    /// Living cells (the kind's life rule).
    pub alive: u64,
    /// Σ|value| over the living cells' channels.
    pub abs_state: FixedSum,
    /// Σ|value − previous| over the living cells' channels.
    pub abs_update: FixedSum,
    /// Σ (RGBA − target)² over the slot's target windows.
    pub loss: FixedSum,
    /// Living cells per class.
    pub votes: [u64; mnist::CLASSES],
}

impl SlotSums {
    /// Every slot from the GPU's sums buffer ([`SLOT_WORDS`] words a slot).
    pub fn from_words(words: &[u32]) -> Result<Vec<Self>, String> {
        if !words.len().is_multiple_of(SLOT_WORDS) {
            return Err(format!("{} words of region sums is not a whole number of slots", words.len()));
        }
        Ok(words
            .chunks_exact(SLOT_WORDS)
            .map(|w| SlotSums {
                members: w[word::MEMBERS] as u64,
                alive: w[word::ALIVE] as u64,
                abs_state: FixedSum::from_words(&w[word::STATE..], w[word::STATE_OVERFLOW]),
                abs_update: FixedSum::from_words(&w[word::UPDATE..], w[word::UPDATE_OVERFLOW]),
                loss: FixedSum::from_words(&w[word::LOSS..], w[word::LOSS_OVERFLOW]),
                votes: std::array::from_fn(|k| w[word::VOTES + k] as u64),
            })
            .collect())
    }
}

/// A rectangle of cells that is one slot: `min` inclusive, `max` exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RectSlot {
    /// First column and row inside.
    pub min: [u32; 2],
    /// First column and row past it.
    pub max: [u32; 2],
    /// Its slot.
    pub slot: u32,
}

/// A target placed on the grid, whose squared RGBA error goes to a slot's loss. It may reach
/// past the grid's edge; cells there count as empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetWindow {
    /// The grid cell under the target's top-left pixel.
    pub origin: [i32; 2],
    /// Index into [`RegionLayout::targets`].
    pub target: usize,
    /// Its slot.
    pub slot: u32,
}

/// Which cells each slot holds, for one grid size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionLayout {
    /// Cells per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Slots in all.
    pub slots: u32,
    /// One slot per cell ([`NO_SLOT`]: none), row-major, if the layout has a partition.
    pub partition: Option<Vec<u32>>,
    /// Rectangles, each a slot.
    pub rects: Vec<RectSlot>,
    /// The first species slot and how many species have one: a cell of species `s` below the
    /// count also counts in slot `first + s`.
    pub species: Option<(u32, u32)>,
    /// Placed targets.
    pub windows: Vec<TargetWindow>,
    /// The targets' RGBA pictures (4 channels).
    pub targets: Vec<Grid>,
}

impl RegionLayout {
    /// Why the layout cannot be reduced over a `width × height` grid, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        let cells = self.width as usize * self.height as usize;
        let slot_ok = |s: u32| s < self.slots;
        if let Some(p) = &self.partition
            && (p.len() != cells || p.iter().any(|&s| s != NO_SLOT && !slot_ok(s)))
        {
            return Err("the partition does not fit the grid or its slots".into());
        }
        if self.rects.iter().any(|r| !slot_ok(r.slot) || r.max[0] > self.width || r.max[1] > self.height) {
            return Err("a rectangle lies outside the grid or its slots".into());
        }
        if let Some((first, count)) = self.species
            && first as u64 + count as u64 > self.slots as u64
        {
            return Err("the species slots lie outside the slots".into());
        }
        if self.windows.iter().any(|w| !slot_ok(w.slot) || self.targets.get(w.target).is_none_or(|t| t.channels != 4)) {
            return Err("a target window names no RGBA target or slot".into());
        }
        Ok(())
    }

    /// The slots a cell belongs to besides its species' (partition first, then rectangles).
    fn fixed_slots(&self, cell: usize) -> impl Iterator<Item = u32> + '_ {
        let (x, y) = ((cell % self.width as usize) as u32, (cell / self.width as usize) as u32);
        let part = self.partition.as_ref().map(|p| p[cell]).filter(|&s| s != NO_SLOT);
        let rects = self.rects.iter().filter(move |r| (r.min[0]..r.max[0]).contains(&x) && (r.min[1]..r.max[1]).contains(&y));
        part.into_iter().chain(rects.map(|r| r.slot))
    }
}

/// The sums of every slot of `layout` over `state` (the CPU reference of the GPU's reduction).
/// `previous` is the state the update is measured against (`None`: all zero, as the GPU's is
/// before its first reduction).
pub fn reduce(kind: ModelKind, layout: &RegionLayout, state: &Grid, previous: Option<&Grid>) -> Result<Vec<SlotSums>, String> {
    layout.check()?;
    if (state.width, state.height) != (layout.width as usize, layout.height as usize)
        || previous.is_some_and(|p| p.data.len() != state.data.len())
    {
        return Err("the regions were laid out for another grid size".into());
    }
    let mut sums = vec![SlotSums::default(); layout.slots as usize];
    let alive = kind.alive_mask(state);
    let labels = kind.labels(state);
    let c = state.channels;
    for cell in 0..state.cells() {
        let species = (labels[cell] >> LABEL_SPECIES_SHIFT, layout.species);
        let species_slot = match species {
            (s, Some((first, count))) if s < count => Some(first + s),
            _ => None,
        };
        if let Some(slot) = species_slot {
            sums[slot as usize].members += 1;
        }
        if !alive[cell] {
            continue;
        }
        let values = &state.data[cell * c..(cell + 1) * c];
        let abs_state = values.iter().fold(0.0f32, |acc, v| acc + v.abs());
        let abs_update = match previous {
            Some(p) => values.iter().zip(&p.data[cell * c..(cell + 1) * c]).fold(0.0f32, |acc, (v, p)| acc + (v - p).abs()),
            None => abs_state,
        };
        let class = (labels[cell] & 0xF) as usize;
        for slot in species_slot.into_iter().chain(layout.fixed_slots(cell)) {
            let s = &mut sums[slot as usize];
            s.alive += 1;
            s.abs_state.add(abs_state);
            s.abs_update.add(abs_update);
            if class < mnist::CLASSES {
                s.votes[class] += 1;
            }
        }
    }
    for window in &layout.windows {
        let target = &layout.targets[window.target];
        for ty in 0..target.height {
            for tx in 0..target.width {
                let (x, y) = (window.origin[0] as i64 + tx as i64, window.origin[1] as i64 + ty as i64);
                let inside = (0..state.width as i64).contains(&x) && (0..state.height as i64).contains(&y);
                let error = target.cell(tx, ty).iter().enumerate().fold(0.0f32, |acc, (k, t)| {
                    let s = if inside { state.cell(x as usize, y as usize)[k] } else { 0.0 };
                    acc + (s - t) * (s - t)
                });
                sums[window.slot as usize].loss.add(error);
            }
        }
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_cuts_like_the_gpu_and_sums_exactly() {
        assert_eq!(FixedSum::quantize(1.5), Some(3 << 31));
        assert_eq!(FixedSum::quantize(0.0), Some(0));
        assert_eq!(FixedSum::quantize(f32::NAN), None);
        assert_eq!(FixedSum::quantize(f32::INFINITY), None);
        assert_eq!(FixedSum::quantize(5e9), None);
        let mut sum = FixedSum::default();
        for _ in 0..1000 {
            sum.add(0.1);
        }
        // 0.1 in f32 is 0.100000001490116…; a thousand of them, cut to 32 fractional bits.
        assert!((sum.value() - 100.000_001_490_116).abs() < 1e-6, "{}", sum.value());
        sum.add(f32::NAN);
        assert!(sum.value().is_nan(), "a value left out poisons the mean instead of hiding");
    }

    #[test]
    fn words_round_trip_through_the_gpu_layout() {
        let mut words = vec![0u32; 2 * SLOT_WORDS];
        words[SLOT_WORDS + word::ALIVE] = 7;
        words[SLOT_WORDS + word::STATE] = 1 << 31;
        words[SLOT_WORDS + word::STATE + 1] = 3;
        words[SLOT_WORDS + word::STATE + 2] = 1;
        words[SLOT_WORDS + word::VOTES + 9] = 4;
        words[SLOT_WORDS + word::LOSS_OVERFLOW] = 2;
        let sums = SlotSums::from_words(&words).unwrap();
        assert_eq!(sums[0], SlotSums::default());
        assert_eq!(sums[1].alive, 7);
        assert_eq!(sums[1].abs_state.value(), (1u64 << 32) as f64 + 3.5);
        assert_eq!(sums[1].votes[9], 4);
        assert!(sums[1].loss.value().is_nan());
        assert!(SlotSums::from_words(&[0; 5]).is_err());
    }

    #[test]
    fn cells_count_in_every_slot_they_belong_to() {
        // A 4×2 growing grid, one living cell at (1, 0) of species 1.
        let mut grid = Grid::new(4, 2, ModelKind::Growing.channels());
        grid.cell_mut(1, 0)[3] = 1.0;
        grid.cell_mut(1, 0)[0] = -0.5;
        grid.species[1] = 1;
        let layout = RegionLayout {
            width: 4,
            height: 2,
            slots: 6,
            partition: Some(vec![2, 2, 3, 3, 2, 2, 3, 3]),
            rects: vec![RectSlot { min: [0, 0], max: [4, 2], slot: 0 }, RectSlot { min: [3, 1], max: [4, 2], slot: 1 }],
            species: Some((4, 2)),
            windows: Vec::new(),
            targets: Vec::new(),
        };
        let sums = reduce(ModelKind::Growing, &layout, &grid, None).unwrap();
        // The 3×3 rule makes every cell within one of (1, 0) alive: columns 0–2 of both rows.
        assert_eq!(sums.iter().map(|s| s.alive).collect::<Vec<_>>(), vec![6, 0, 4, 2, 5, 1]);
        assert_eq!((sums[4].members, sums[5].members), (7, 1), "species slots count their cells");
        assert_eq!(sums[0].abs_state.value(), 1.5);
        assert!(layout.check().is_ok());
        let bad = RegionLayout { slots: 3, ..layout };
        assert!(reduce(ModelKind::Growing, &bad, &grid, None).is_err(), "a slot past the count is refused");
    }
}
