//! What a scenario will cost, worked out from the file alone before anything is read, expanded
//! or allocated: the grid edits its events expand into, the cells those edits touch, the rows
//! its metrics fill, the frames and snapshots its recording writes, and the memory a run holds.
//!
//! A small file can ask for a great deal (200 full-grid adversary draws on a 4096² grid, one
//! 100,000-point stroke at a radius of a thousandth of a cell, 20,000 hair-thin cuts), so
//! [`Scenario::validate`](super::Scenario::validate) holds every figure to a limit and refuses
//! the file with the figure that broke it; `nca scenario check` prints them all.

use super::{Action, Scenario};
use crate::model::grid::Edit;

/// Most grid edits all events together may expand into (an edit is a few dozen bytes: this
/// bounds their memory to about 200 MB).
pub const MAX_EDITS: u64 = 4_000_000;
/// Most cell visits those edits may make (each visit writes one cell's channels).
pub const MAX_TOUCHED_CELLS: u64 = 1 << 34;
/// Most `metrics.csv` rows one run may record (a row is about 200 bytes in memory).
pub const MAX_METRIC_ROWS: u64 = 2_000_000;
/// Most frames in `run.gif`.
pub const MAX_GIF_FRAMES: u64 = 10_000;
/// Most PNG frames in `frames/`.
pub const MAX_PNG_FRAMES: u64 = 10_000;
/// Most memory a run may hold at once (the machine this is built on has 24 GB; a grid of
/// 4096² cells of the widest kind is about 1.3 GB a copy).
pub const MAX_MEMORY_BYTES: u64 = 12 << 30;
/// Most organisms (each cell finds its nearest seed when the territories are drawn).
pub const MAX_ORGANISMS: usize = 256;
/// Most digits.
pub const MAX_DIGITS: usize = 1024;
/// Most named regions.
pub const MAX_REGIONS: usize = 256;
/// Most events.
pub const MAX_EVENTS: usize = 100_000;

/// What a scenario will cost one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Budget {
    /// Grid edits all events expand into (the start's seeds and digits included).
    pub edits: u64,
    /// Cell visits those edits make, at most.
    pub touched_cells: u64,
    /// Rows of `metrics.csv`.
    pub metric_rows: u64,
    /// Frames of `run.gif`.
    pub gif_frames: u64,
    /// PNG frames.
    pub png_frames: u64,
    /// Named snapshots.
    pub snapshots: u64,
    /// Bytes of memory a run holds at once, at most: the grid a few times over (the state, the
    /// state of the last reduction, the final state) and one frame's picture.
    pub memory_bytes: u64,
}

impl Budget {
    /// Each figure against its limit: the first one over is the error, with what to change.
    pub fn check(&self) -> Result<(), String> {
        let over = [
            (
                self.edits,
                MAX_EDITS,
                "grid edits",
                "fewer or smaller events: adversaries, strokes and cuts expand into an edit per cell or stamp",
            ),
            (self.touched_cells, MAX_TOUCHED_CELLS, "cell visits by its edits", "fewer or smaller events"),
            (self.metric_rows, MAX_METRIC_ROWS, "metrics.csv rows", "raise record.every or measure fewer regions"),
            (self.gif_frames, MAX_GIF_FRAMES, "GIF frames", "raise record.gif.every"),
            (self.png_frames, MAX_PNG_FRAMES, "PNG frames", "raise record.frames"),
            (self.memory_bytes, MAX_MEMORY_BYTES, "bytes of memory", "a smaller grid or a smaller GIF scale"),
        ];
        for (value, limit, what, fix) in over {
            if value > limit {
                return Err(format!("expands into {value} {what}, more than a run may hold ({limit}): {fix}"));
            }
        }
        Ok(())
    }

    /// One line per figure, for `nca scenario check`.
    pub fn describe(&self) -> String {
        format!(
            "expands into {} edits touching at most {} cells; records {} metric rows, {} GIF frames, {} PNG frames, {} snapshots; a run holds about {:.1} MB",
            self.edits,
            self.touched_cells,
            self.metric_rows,
            self.gif_frames,
            self.png_frames,
            self.snapshots,
            self.memory_bytes as f64 / 1e6
        )
    }
}

/// Cells a square of side `2r + 1` around a point covers, clipped to the grid.
fn disc_cells(radius: f32, grid_cells: u64) -> u64 {
    let side = (2.0 * radius.max(0.0) as f64 + 2.0).ceil();
    (side * side).min(grid_cells as f64) as u64
}

/// Stamps along a path at `spacing`, as [`super::stroke_edits`] and [`super::cut_edits`] lay them.
fn stamps_along(points: &[[f32; 2]], spacing: f32) -> u64 {
    let segments: f64 = points
        .windows(2)
        .map(|p| {
            let length = ((p[1][0] - p[0][0]) as f64).hypot((p[1][1] - p[0][1]) as f64);
            (length / spacing as f64).ceil()
        })
        .sum();
    1 + segments.min(u64::MAX as f64 / 2.0) as u64
}

/// Edits and cell visits of one recorded edit.
fn edit_cost(edit: &Edit, grid_cells: u64) -> u64 {
    match edit {
        Edit::EraseDisc { radius, .. } | Edit::Draw { radius, .. } | Edit::PaintSpecies { radius, .. } => disc_cells(*radius, grid_cells),
        Edit::EraseRect { min, max } => ((max[0].saturating_sub(min[0])) as u64 * (max[1].saturating_sub(min[1])) as u64).min(grid_cells),
        Edit::PlaceImage(image) => (image.width as u64 * image.height as u64).min(grid_cells),
        Edit::Clear => grid_cells,
        _ => 1,
    }
}

/// `(edits, touched cells)` of one action on a `width × height` grid.
fn action_cost(action: &Action, width: u32, height: u32) -> (u64, u64) {
    let grid = width as u64 * height as u64;
    match action {
        Action::EraseDisc { radius, .. } => (1, disc_cells(*radius, grid)),
        Action::EraseRect { min, max } => (1, edit_cost(&Edit::EraseRect { min: *min, max: *max }, grid)),
        Action::EraseHalf(_) => (1, grid / 2 + grid % 2),
        Action::Clear | Action::RemoveAdversaries => (1, grid),
        Action::Cut { from, to, width: cut } => {
            let stamps = stamps_along(&[*from, *to], (cut / 4.0).max(0.25));
            (stamps, stamps.saturating_mul(disc_cells(cut / 2.0, grid)))
        }
        Action::Stroke { points, radius, .. } => {
            let stamps = stamps_along(points, (radius / 3.0).max(0.25));
            (stamps, stamps.saturating_mul(disc_cells(*radius, grid)))
        }
        Action::Adversaries { fraction, rect, .. } => {
            let (min, max) = rect.unwrap_or(([0, 0], [width, height]));
            let area = (max[0].saturating_sub(min[0])) as u64 * (max[1].saturating_sub(min[1])) as u64;
            // The draw is a hash per cell: its count is the share of the area, give or take a
            // few hundredths; the expansion holds it to the limit exactly as it goes.
            let drawn = (area as f64 * (*fraction as f64).clamp(0.0, 1.0)).ceil() as u64;
            (drawn, drawn.saturating_mul(4))
        }
        Action::Mutate { .. } => (1, 224 * 224),
        Action::PlantSeed { .. } => (1, 1),
        Action::Edits(edits) => (edits.len() as u64, edits.iter().map(|e| edit_cost(e, grid)).fold(0, u64::saturating_add)),
        Action::SwapModel { .. } | Action::Rotate(_) | Action::Snapshot(_) => (0, 0),
    }
}

/// Recorded steps of a recording every `every` steps over `steps` (and the last).
fn recordings(steps: u32, every: u32) -> u64 {
    if every == 0 { 1 } else { steps as u64 / every as u64 + 1 + u64::from(!steps.is_multiple_of(every)) }
}

impl Scenario {
    /// What one run of this scenario costs, from the file alone.
    pub fn budget(&self) -> Budget {
        let (w, h) = (self.grid.width, self.grid.height);
        let grid = w as u64 * h as u64;
        let mut budget = Budget::default();
        let mut add = |(edits, cells): (u64, u64)| {
            budget.edits = budget.edits.saturating_add(edits);
            budget.touched_cells = budget.touched_cells.saturating_add(cells);
        };
        add((1 + self.organisms.len() as u64, grid + self.organisms.len() as u64));
        for d in &self.digits {
            let side = (28.0 * d.scale.clamp(0.0, 8.0)).ceil() as u64 + 1;
            // The picture, and a species stamp per inked cell when the digit is not species 0.
            add((1 + side * side, 2 * side * side));
        }
        for e in &self.events {
            add(action_cost(&e.action, w, h));
        }
        let regions = 1
            + if self.species.len() > 1 { self.species.len() } else { 0 }
            + self.organisms.len()
            + self.digits.len()
            + self.record.regions.len();
        budget.metric_rows = recordings(self.steps, self.record.every).saturating_mul(regions as u64);
        budget.gif_frames = self.record.gif.as_ref().map_or(0, |g| recordings(self.steps, g.every.max(1)));
        budget.png_frames = self.record.frames.map_or(0, |n| recordings(self.steps, n.max(1)));
        budget.snapshots = self.events.iter().filter(|e| matches!(e.action, Action::Snapshot(_))).count() as u64;
        let channels = self.grid.kind.map_or(20, |k| k.channels()) as u64;
        let scale = self.record.gif.as_ref().map_or(2, |g| g.scale.max(1)) as u64;
        let frame = grid * scale * scale * 4 * 3;
        budget.memory_bytes = grid * channels * 4 * 4 + grid * 8 + frame + budget.metric_rows * 200 + budget.edits * 40;
        budget
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, GridSpec, RecordSpec, SCENARIO_VERSION, SpeciesSpec};
    use super::*;

    fn scene(width: u32, events: Vec<Action>) -> Scenario {
        Scenario {
            version: SCENARIO_VERSION,
            name: String::new(),
            description: String::new(),
            grid: GridSpec { kind: None, width, height: width, seed: 0, background: [1.0; 3], rotation: 0.0 },
            species: vec![SpeciesSpec { name: "a".into(), model: "m".into(), target: None }],
            organisms: Vec::new(),
            digits: Vec::new(),
            steps: 12,
            events: events.into_iter().map(|action| Event { step: 1, action }).collect(),
            // No GIF: a 4096² grid's frames at the default scale are refused for their own size.
            record: RecordSpec { gif: None, ..RecordSpec::default() },
        }
    }

    #[test]
    fn small_files_that_expand_into_too_much_are_refused_before_expansion() {
        let bombs: [(Scenario, &str); 3] = [
            (scene(4096, (0..200).map(|_| Action::Adversaries { species: "a".into(), fraction: 1.0, rect: None }).collect()), "grid edits"),
            (
                scene(
                    4096,
                    vec![Action::Stroke {
                        points: (0..100_000).map(|i| if i % 2 == 0 { [0.0, 0.0] } else { [4000.0, 4000.0] }).collect(),
                        radius: 0.001,
                        species: None,
                    }],
                ),
                "grid edits",
            ),
            (
                scene(4096, (0..20_000).map(|_| Action::Cut { from: [0.0, 0.0], to: [4096.0, 4096.0], width: 0.002 }).collect()),
                "grid edits",
            ),
        ];
        for (bomb, expected) in bombs {
            let err = bomb.validate().unwrap_err();
            assert!(err.contains(expected) && err.contains("more than a run may hold"), "{err}");
        }
    }

    #[test]
    fn the_estimate_bounds_what_the_expansion_makes() {
        let cut = Action::Cut { from: [1.0, 2.0], to: [60.0, 50.0], width: 3.0 };
        let stroke = Action::Stroke { points: vec![[1.0, 1.0], [30.0, 9.0], [2.0, 40.0]], radius: 1.5, species: None };
        let (cut_edits, _) = action_cost(&cut, 64, 64);
        let (stroke_edits, _) = action_cost(&stroke, 64, 64);
        assert!(cut_edits >= super::super::cut_edits([1.0, 2.0], [60.0, 50.0], 3.0).len() as u64);
        assert!(stroke_edits >= super::super::stroke_edits(&[[1.0, 1.0], [30.0, 9.0], [2.0, 40.0]], 1.5, 0).len() as u64);
    }

    #[test]
    fn a_long_run_recording_every_step_is_refused_for_its_rows_and_frames() {
        let mut s = scene(64, Vec::new());
        s.steps = 10_000_000;
        s.record.every = 1;
        assert!(s.budget().check().unwrap_err().contains("metrics.csv rows"));
        s.record.every = 100_000;
        s.record.gif = Some(super::super::GifSpec::default());
        assert!(s.budget().check().unwrap_err().contains("GIF frames"));
        s.record.gif = None;
        assert!(s.budget().check().is_ok());
    }
}
