//! A grid as a picture: what the display shader draws, computed on the CPU (for `nca render`,
//! strips, tests). The palettes here are the single source of the shader's, which are generated
//! from them (`crate::gpu::shaders`).
//!
//! - growing, natural view: RGB is premultiplied by alpha, so a cell shows as
//!   `background · (1 − a) + rgb`;
//! - MNIST, natural view: a living cell in its class's colour (hue-rotated by the display's
//!   `hue_degrees`) with opacity = grey, a cell whose scores are all below
//!   [`mnist::UNSURE_THRESHOLD`] in the unsure ink, dead cells as background;
//! - channel view: a diverging colour map of the channel's value in [−1, 1];
//! - species view: each cell in its species' colour, weighted by how alive it is.

use super::grid::Grid;
use super::kind::{ModelKind, View};
use super::mnist;
use super::spec::ALPHA;

/// Species colours of the species view and the panel's legend (linear values of sRGB bytes).
pub const SPECIES_PALETTE: [[f32; 3]; 8] = [
    [0.20, 0.60, 0.25],
    [0.85, 0.35, 0.10],
    [0.15, 0.40, 0.85],
    [0.80, 0.15, 0.55],
    [0.90, 0.75, 0.10],
    [0.10, 0.70, 0.75],
    [0.50, 0.30, 0.80],
    [0.45, 0.45, 0.45],
];

/// The channel view's colour for positive values.
pub const WARM: [f32; 3] = [0.85, 0.25, 0.1];
/// The channel view's colour for negative values.
pub const COOL: [f32; 3] = [0.1, 0.35, 0.9];

/// How a grid is drawn, beside the view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DisplayStyle {
    /// What shows through dead and transparent cells.
    pub background: [f32; 3],
    /// Rotation of the MNIST class palette's hue, in degrees.
    pub hue_degrees: f32,
    /// Which MNIST class palette.
    pub palette: ClassPalette,
}

impl Default for DisplayStyle {
    fn default() -> Self {
        Self { background: [1.0, 1.0, 1.0], hue_degrees: 0.0, palette: ClassPalette::Paper }
    }
}

/// The colours of the ten MNIST classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClassPalette {
    /// The paper's ([`mnist::PALETTE`]).
    #[default]
    Paper,
    /// Paul Tol's "muted" scheme (nine colours told apart with every common colour-vision
    /// deficiency) and his vibrant orange as the tenth.
    ColourSafe,
}

impl ClassPalette {
    /// Both, in panel order.
    pub const ALL: [ClassPalette; 2] = [ClassPalette::Paper, ClassPalette::ColourSafe];

    /// The name the panel shows.
    pub fn label(self) -> &'static str {
        match self {
            ClassPalette::Paper => "paper",
            ClassPalette::ColourSafe => "colour-blind safe",
        }
    }

    /// The unrotated colours as sRGB bytes.
    pub fn bytes(self) -> [[u8; 3]; mnist::CLASSES] {
        match self {
            ClassPalette::Paper => mnist::PALETTE,
            ClassPalette::ColourSafe => [
                [0x33, 0x22, 0x88],
                [0x88, 0xcc, 0xee],
                [0x44, 0xaa, 0x99],
                [0x11, 0x77, 0x33],
                [0x99, 0x99, 0x33],
                [0xdd, 0xcc, 0x77],
                [0xcc, 0x66, 0x77],
                [0x88, 0x22, 0x55],
                [0xaa, 0x44, 0x99],
                [0xee, 0x77, 0x33],
            ],
        }
    }
}

/// The MNIST class colour of `class` (0–9) in `palette`, hue-rotated, as values in [0, 1].
pub fn class_color(class: usize, palette: ClassPalette, hue_degrees: f32) -> [f32; 3] {
    let [r, g, b] = palette.bytes()[class % mnist::CLASSES].map(|v| v as f32 / 255.0);
    let m = hue_rotation(hue_degrees);
    std::array::from_fn(|i| (m[i][0] * r + m[i][1] * g + m[i][2] * b).clamp(0.0, 1.0))
}

/// The hidden-channel view's squashing of an MNIST channel into [−1, 1], as the paper plots
/// them: `2/π · atan(v)`.
pub fn squash(v: f32) -> f32 {
    v.atan() * std::f32::consts::FRAC_2_PI
}

/// The luminance-preserving hue rotation of CSS's `hue-rotate()` filter, rows of a 3×3 matrix.
pub fn hue_rotation(degrees: f32) -> [[f32; 3]; 3] {
    let (s, c) = degrees.to_radians().sin_cos();
    [
        [0.213 + c * 0.787 - s * 0.213, 0.715 - c * 0.715 - s * 0.715, 0.072 - c * 0.072 + s * 0.928],
        [0.213 - c * 0.213 + s * 0.143, 0.715 + c * 0.285 + s * 0.140, 0.072 - c * 0.072 - s * 0.283],
        [0.213 - c * 0.213 - s * 0.787, 0.715 - c * 0.715 + s * 0.715, 0.072 + c * 0.928 + s * 0.072],
    ]
}

/// The ink of MNIST cells that have not made up their minds: dark on a light background,
/// light on a dark one.
pub fn unsure_ink(background: [f32; 3]) -> [f32; 3] {
    let luminance = 0.2126 * background[0] + 0.7152 * background[1] + 0.0722 * background[2];
    if luminance > 0.5 { [0.08, 0.08, 0.08] } else { [0.62, 0.62, 0.62] }
}

/// WGSL's `mix`: `a · (1 − t) + b · t`, exact at both ends.
fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    std::array::from_fn(|i| a[i] * (1.0 - t) + b[i] * t)
}

/// The colour of one cell (values in [0, 1]).
pub fn cell_color(kind: ModelKind, cell: &[f32], species: u32, view: View, style: &DisplayStyle) -> [f32; 3] {
    let bg = style.background;
    let presence = match kind {
        ModelKind::Growing => cell[ALPHA].clamp(0.0, 1.0),
        ModelKind::Mnist if mnist::is_alive(cell) => cell[mnist::GREY].clamp(0.0, 1.0),
        ModelKind::Mnist => 0.0,
    };
    match view {
        View::Species => mix(bg, SPECIES_PALETTE[species as usize % SPECIES_PALETTE.len()], presence),
        // MNIST's channel 0 is the grey input, drawn as ink; its other channels are unbounded,
        // so they are squashed.
        View::Channel(0) if kind == ModelKind::Mnist => mix(bg, unsure_ink(bg), presence),
        View::Channel(c) => {
            let v = cell[(c as usize).min(cell.len() - 1)];
            let v = if kind == ModelKind::Mnist { squash(v) } else { v.clamp(-1.0, 1.0) };
            mix(bg, if v > 0.0 { WARM } else { COOL }, v.abs())
        }
        View::Natural => match kind {
            ModelKind::Growing => std::array::from_fn(|i| (bg[i] * (1.0 - presence) + cell[i]).clamp(0.0, 1.0)),
            ModelKind::Mnist => {
                if presence == 0.0 {
                    return bg;
                }
                let label = mnist::cell_label(cell);
                let best = cell[mnist::CLASS_SCORES.start + label.class as usize];
                let ink = if best < mnist::UNSURE_THRESHOLD {
                    unsure_ink(bg)
                } else {
                    class_color(label.class as usize, style.palette, style.hue_degrees)
                };
                mix(bg, ink, presence)
            }
        },
    }
}

/// The picture of a grid, each cell a `scale`×`scale` block.
pub fn render(kind: ModelKind, grid: &Grid, view: View, style: &DisplayStyle, scale: u32) -> image::RgbaImage {
    let scale = scale.max(1);
    image::RgbaImage::from_fn(grid.width as u32 * scale, grid.height as u32 * scale, |px, py| {
        let (x, y) = ((px / scale) as usize, (py / scale) as usize);
        let color = cell_color(kind, grid.cell(x, y), grid.species[y * grid.width + x], view, style);
        let [r, g, b] = color.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8);
        image::Rgba([r, g, b, 255])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rotation_keeps_the_paper_palette() {
        for class in 0..10 {
            let expected = mnist::PALETTE[class].map(|v| v as f32 / 255.0);
            let got = class_color(class, ClassPalette::Paper, 0.0);
            assert!(got.iter().zip(expected).all(|(a, b)| (a - b).abs() < 2e-3), "{class}: {got:?}");
        }
        assert_ne!(class_color(2, ClassPalette::Paper, 120.0), class_color(2, ClassPalette::Paper, 0.0));
        let safe: Vec<_> = (0..10).map(|c| class_color(c, ClassPalette::ColourSafe, 0.0)).collect();
        assert!((0..10).all(|a| (0..a).all(|b| safe[a] != safe[b])), "ten different colours");
    }

    #[test]
    fn mnist_cells_show_their_vote_unsure_cells_ink_and_dead_cells_background() {
        let style = DisplayStyle::default();
        let mut cell = [0.0f32; mnist::CHANNELS];
        cell[mnist::GREY] = 1.0;
        cell[mnist::CLASS_SCORES.start + 6] = 0.9;
        assert_eq!(cell_color(ModelKind::Mnist, &cell, 0, View::Natural, &style), class_color(6, ClassPalette::Paper, 0.0));
        cell[mnist::CLASS_SCORES.start + 6] = 0.005;
        assert_eq!(cell_color(ModelKind::Mnist, &cell, 0, View::Natural, &style), unsure_ink(style.background));
        cell[mnist::GREY] = 0.05;
        assert_eq!(cell_color(ModelKind::Mnist, &cell, 0, View::Natural, &style), style.background);
    }
}
