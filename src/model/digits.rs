//! Digits for the MNIST canvas: the bundled samples, scaling, the paper's chimeras, and the
//! separate digits the cells form on a canvas with what each one's cells think.

use std::path::Path;

use super::error::ModelError;
use super::grid::GreyImage;
use super::idx::Digits;
use super::kind::{LABEL_ALIVE, LABEL_SPECIES_SHIFT};
use super::mnist::{CLASSES, CellLabel};

/// Where the bundled sample digits are (`nca mnist-samples` makes them): in the working folder,
/// else where the binary was installed or built ([`super::files::bundled`]).
pub fn default_samples_path() -> std::path::PathBuf {
    super::files::bundled("assets/mnist/samples.png")
}

/// Side of an MNIST digit.
pub const SIDE: usize = 28;

/// Sample digits by class, as shipped in `assets/mnist/samples.png`: a grey atlas with one row of
/// 28×28 digits per class, 0 at the top (white strokes on black, as MNIST stores them).
#[derive(Clone, Debug, PartialEq)]
pub struct SampleDigits {
    /// `by_class[c][k]`: sample `k` of class `c`, 784 grey bytes.
    pub by_class: Vec<Vec<Vec<u8>>>,
}

impl SampleDigits {
    /// The atlas of the `per_class` most typical digits of each class in `digits`, most typical
    /// first (how the bundled samples are made from MNIST's test set). Typical means closest to
    /// the class's mean picture: a visitor who presses "3" gets a plain 3, not one of the test
    /// set's odd ones, and the choice depends on the pictures alone, never on a model.
    pub fn atlas(digits: &Digits, per_class: usize) -> Result<image::GrayImage, String> {
        let mut atlas = image::GrayImage::new((per_class * SIDE) as u32, (CLASSES * SIDE) as u32);
        for class in 0..CLASSES as u8 {
            let members: Vec<usize> = (0..digits.len()).filter(|&i| digits.labels[i] == class).collect();
            let mut mean = vec![0f64; SIDE * SIDE];
            for &i in &members {
                digits.image(i).iter().zip(&mut mean).for_each(|(&v, m)| *m += v as f64 / members.len() as f64);
            }
            let distance = |i: usize| digits.image(i).iter().zip(&mean).map(|(&v, m)| (v as f64 - m).powi(2)).sum::<f64>();
            let mut ranked: Vec<(f64, usize)> = members.iter().map(|&i| (distance(i), i)).collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let found: Vec<usize> = ranked.into_iter().take(per_class).map(|(_, i)| i).collect();
            if found.len() < per_class {
                return Err(format!("only {} digits of class {class}, {per_class} wanted", found.len()));
            }
            for (k, &i) in found.iter().enumerate() {
                for (p, &v) in digits.image(i).iter().enumerate() {
                    atlas.put_pixel((k * SIDE + p % SIDE) as u32, (class as usize * SIDE + p / SIDE) as u32, image::Luma([v]));
                }
            }
        }
        Ok(atlas)
    }

    /// Reads an atlas written by [`SampleDigits::atlas`].
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let fail = |m: String| ModelError::format(path, m);
        let picture = super::target::load_picture(path)?.to_luma8();
        Self::from_atlas(&picture).map_err(fail)
    }

    /// Cuts an atlas into digits.
    pub fn from_atlas(atlas: &image::GrayImage) -> Result<Self, String> {
        let (w, h) = (atlas.width() as usize, atlas.height() as usize);
        if h != CLASSES * SIDE || w < SIDE || w % SIDE != 0 {
            return Err(format!("a sample atlas is {} pixels tall and a multiple of {SIDE} wide; this one is {w}×{h}", CLASSES * SIDE));
        }
        let by_class = (0..CLASSES)
            .map(|class| {
                (0..w / SIDE)
                    .map(|k| {
                        (0..SIDE * SIDE)
                            .map(|p| atlas.get_pixel((k * SIDE + p % SIDE) as u32, (class * SIDE + p / SIDE) as u32)[0])
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Ok(Self { by_class })
    }

    /// Sample `k` of `class` (wrapping around).
    pub fn get(&self, class: usize, k: usize) -> &[u8] {
        let samples = &self.by_class[class % CLASSES];
        &samples[k % samples.len()]
    }
}

/// A 28×28 digit (grey bytes) scaled by `scale` (bilinear), as greys in [0, 1]: `(side, greys)`.
pub fn scaled(pixels: &[u8], scale: f32) -> (usize, Vec<f32>) {
    let side = ((SIDE as f32 * scale).round() as usize).max(1);
    let at = |x: i64, y: i64| {
        if (0..SIDE as i64).contains(&x) && (0..SIDE as i64).contains(&y) {
            pixels[y as usize * SIDE + x as usize] as f32 / 255.0
        } else {
            0.0
        }
    };
    let grey = (0..side * side)
        .map(|i| {
            // The centre of output pixel i, in input pixels.
            let (u, v) = (((i % side) as f32 + 0.5) / scale - 0.5, ((i / side) as f32 + 0.5) / scale - 0.5);
            let (x0, y0) = (u.floor() as i64, v.floor() as i64);
            let (fx, fy) = (u - x0 as f32, v - y0 as f32);
            let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
            let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
            top * (1.0 - fy) + bottom * fy
        })
        .collect();
    (side, grey)
}

/// Side of the box MNIST fits each digit's ink into, inside its 28×28 picture.
const MNIST_BOX: f32 = 20.0;

/// A drawn digit made into an MNIST picture, as MNIST made its own: the ink of `cells` (indices
/// into a `width`-wide field of greys in [0, 1]) scaled to fit a 20×20 box, keeping its aspect
/// ratio, and placed with its centre of mass at the centre of 28×28. People write at any size; a
/// model trained on MNIST reads digits of MNIST's size.
pub fn as_mnist_digit(grey: &[f32], width: usize, cells: &[u32]) -> Vec<u8> {
    let mut picture = vec![0u8; SIDE * SIDE];
    let Some(bounds) = cell_bounds(cells, width) else { return picture };
    let [x0, y0, x1, y1] = bounds.map(|v| v as f32);
    let (w, h) = (x1 - x0 + 1.0, y1 - y0 + 1.0);
    let scale = MNIST_BOX / w.max(h);
    let (out_w, out_h) = (((w * scale).round() as usize).clamp(1, 20), ((h * scale).round() as usize).clamp(1, 20));
    let inside: std::collections::HashSet<u32> = cells.iter().copied().collect();
    let ink = |x: i64, y: i64| {
        let i = y * width as i64 + x;
        if x < 0 || y < 0 || x >= width as i64 || !inside.contains(&(i as u32)) { 0.0 } else { grey[i as usize] }
    };
    // Each output pixel averages 4×4 samples of its footprint, so a big drawing shrinks without
    // losing thin strokes.
    let mut small = vec![0.0f32; out_w * out_h];
    for (i, value) in small.iter_mut().enumerate() {
        let (ox, oy) = ((i % out_w) as f32, (i / out_w) as f32);
        let mut sum = 0.0;
        for sy in 0..4 {
            for sx in 0..4 {
                let u = x0 + (ox + (sx as f32 + 0.5) / 4.0) * w / out_w as f32;
                let v = y0 + (oy + (sy as f32 + 0.5) / 4.0) * h / out_h as f32;
                sum += ink(u.floor() as i64, v.floor() as i64);
            }
        }
        *value = sum / 16.0;
    }
    let mass: f32 = small.iter().sum();
    let (mut cx, mut cy) = (out_w as f32 / 2.0, out_h as f32 / 2.0);
    if mass > 0.0 {
        cx = small.iter().enumerate().map(|(i, v)| ((i % out_w) as f32 + 0.5) * v).sum::<f32>() / mass;
        cy = small.iter().enumerate().map(|(i, v)| ((i / out_w) as f32 + 0.5) * v).sum::<f32>() / mass;
    }
    let left = ((SIDE as f32 / 2.0 - cx).round() as i64).clamp(0, (SIDE - out_w) as i64) as usize;
    let top = ((SIDE as f32 / 2.0 - cy).round() as i64).clamp(0, (SIDE - out_h) as i64) as usize;
    for (i, value) in small.iter().enumerate() {
        picture[(top + i / out_w) * SIDE + left + i % out_w] = (value.clamp(0.0, 1.0) * 255.0).round() as u8;
    }
    picture
}

/// A person's digit from a picture file named `<label>…` (`7_2.png`, any size, either
/// polarity): its label, and its ink made into an MNIST picture by [`as_mnist_digit`].
pub fn read_handwriting(path: &std::path::Path) -> Result<(Vec<u8>, u8), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let label = name
        .chars()
        .next()
        .and_then(|c| c.to_digit(10))
        .ok_or_else(|| format!("{}: the file's name must start with the digit it shows (7_a.png)", path.display()))?;
    let (width, _, grey) = super::mnist::grey_picture(path).map_err(|e| e.to_string())?;
    let cells: Vec<u32> = (0..grey.len() as u32).filter(|&i| grey[i as usize] > 0.05).collect();
    if cells.is_empty() {
        return Err(format!("{}: no ink", path.display()));
    }
    Ok((as_mnist_digit(&grey, width, &cells), label as u8))
}

/// The smallest box `[x0, y0, x1, y1]` (inclusive) holding `cells`.
fn cell_bounds(cells: &[u32], width: usize) -> Option<[u32; 4]> {
    let xs = cells.iter().map(|&c| c % width as u32);
    let ys = cells.iter().map(|&c| c / width as u32);
    Some([xs.clone().min()?, ys.clone().min()?, xs.max()?, ys.max()?])
}

/// The paper's chimera: the rows above `split` from `upper`, the rest from `lower`.
pub fn chimera(upper: &[u8], lower: &[u8], split: usize) -> Vec<u8> {
    (0..SIDE * SIDE).map(|p| if p / SIDE < split { upper[p] } else { lower[p] }).collect()
}

/// `a` with `b` laid over it at `offset` (pixels; the brighter of the two wins).
pub fn overlay(a: &[u8], b: &[u8], offset: [i32; 2]) -> Vec<u8> {
    (0..SIDE * SIDE)
        .map(|p| {
            let (x, y) = ((p % SIDE) as i32 - offset[0], (p / SIDE) as i32 - offset[1]);
            let over = if (0..SIDE as i32).contains(&x) && (0..SIDE as i32).contains(&y) { b[y as usize * SIDE + x as usize] } else { 0 };
            a[p].max(over)
        })
        .collect()
}

/// The chimera presets of the paper's section on chimeric digits: the upper part of the first
/// class joined to the lower part of the second, split at the middle row.
pub const CHIMERAS: [(usize, usize); 3] = [(3, 5), (8, 9), (6, 9)];

/// A picture (greys) placed with its centre at `center` (cells).
pub fn placed(side: usize, grey: Vec<f32>, center: [f32; 2]) -> GreyImage {
    let origin = [(center[0] - side as f32 / 2.0).round() as i32, (center[1] - side as f32 / 2.0).round() as i32];
    GreyImage { origin, width: side as u32, height: side as u32, grey: grey.into() }
}

/// One separate digit on a canvas: a connected group of living cells (8-neighbours).
#[derive(Clone, Debug, PartialEq)]
pub struct DigitRegion {
    /// Its cells (row-major indices), ascending.
    pub cells: Vec<u32>,
    /// Bounding box: first column and row, last column and row (inclusive).
    pub bounds: [u32; 4],
    /// Cells voting for each class.
    pub votes: [u32; CLASSES],
    /// Living cells that cast no vote (every score below zero).
    pub undecided: u32,
    /// Cells that run another species than 0 (adversaries).
    pub other_species: u32,
}

impl DigitRegion {
    /// The class most of its cells vote for (the smallest on a tie), if any votes.
    pub fn majority(&self) -> Option<usize> {
        let best = (0..CLASSES).max_by_key(|&c| (self.votes[c], std::cmp::Reverse(c)))?;
        (self.votes[best] > 0).then_some(best)
    }

    /// Whether every vote cast is for one class (the paper's total agreement).
    pub fn in_agreement(&self) -> bool {
        let cast: u32 = self.votes.iter().sum();
        cast > 0 && self.votes.contains(&cast)
    }

    /// A fingerprint of the region's shape: equal for the same set of cells.
    pub fn shape_key(&self) -> u64 {
        self.cells.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &c| (h ^ c as u64).wrapping_mul(0x0100_0000_01b3))
    }
}

/// The separate digits of a `width × height` canvas from its label words (the `labels` pass),
/// largest first; groups smaller than `min_cells` (specks) are left out.
pub fn regions(labels: &[u32], width: usize, height: usize, min_cells: usize) -> Vec<DigitRegion> {
    let mut seen = vec![false; labels.len()];
    let mut out = Vec::new();
    let alive = |i: usize| labels[i] & LABEL_ALIVE != 0;
    for start in 0..labels.len() {
        if seen[start] || !alive(start) {
            continue;
        }
        let mut stack = vec![start];
        seen[start] = true;
        let mut cells = Vec::new();
        while let Some(i) = stack.pop() {
            cells.push(i as u32);
            let (x, y) = ((i % width) as i64, (i / width) as i64);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (nx, ny) = (x + dx, y + dy);
                    if (0..width as i64).contains(&nx) && (0..height as i64).contains(&ny) {
                        let n = ny as usize * width + nx as usize;
                        if !seen[n] && alive(n) {
                            seen[n] = true;
                            stack.push(n);
                        }
                    }
                }
            }
        }
        if cells.len() < min_cells {
            continue;
        }
        cells.sort_unstable();
        let mut region = DigitRegion { cells, bounds: [u32::MAX, u32::MAX, 0, 0], votes: [0; CLASSES], undecided: 0, other_species: 0 };
        for &c in &region.cells {
            let (x, y) = (c % width as u32, c / width as u32);
            region.bounds = [region.bounds[0].min(x), region.bounds[1].min(y), region.bounds[2].max(x), region.bounds[3].max(y)];
            let word = labels[c as usize];
            let label = CellLabel::unpack(word);
            if label.vote == CellLabel::NO_VOTE {
                region.undecided += 1;
            } else {
                region.votes[label.vote as usize] += 1;
            }
            region.other_species += u32::from(word >> LABEL_SPECIES_SHIFT != 0);
        }
        out.push(region);
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.cells.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_drawing_becomes_an_mnist_sized_centred_digit() {
        // A 60-cell-tall bar in the top-left corner of a 100×80 field, and a stray dot outside
        // the digit's cells that must not count.
        let (width, height) = (100usize, 80usize);
        let mut grey = vec![0.0f32; width * height];
        let mut cells = Vec::new();
        for y in 5..65 {
            for x in 3..18 {
                grey[y * width + x] = 1.0;
                cells.push((y * width + x) as u32);
            }
        }
        grey[70 * width + 90] = 1.0;
        let picture = as_mnist_digit(&grey, width, &cells);
        let inked: Vec<(usize, usize)> = (0..SIDE * SIDE).filter(|&p| picture[p] > 127).map(|p| (p % SIDE, p / SIDE)).collect();
        let rows = inked.iter().map(|p| p.1).max().unwrap() - inked.iter().map(|p| p.1).min().unwrap() + 1;
        let columns = inked.iter().map(|p| p.0).max().unwrap() - inked.iter().map(|p| p.0).min().unwrap() + 1;
        assert_eq!(rows, 20, "the tall side fills MNIST's 20-pixel box");
        assert_eq!(columns, 5, "the aspect ratio is kept (15/60 of 20)");
        let mass: f32 = picture.iter().map(|&v| v as f32).sum();
        let cx = (0..SIDE * SIDE).map(|p| (p % SIDE) as f32 * picture[p] as f32).sum::<f32>() / mass;
        let cy = (0..SIDE * SIDE).map(|p| (p / SIDE) as f32 * picture[p] as f32).sum::<f32>() / mass;
        assert!((cx - 13.5).abs() < 1.0 && (cy - 13.5).abs() < 1.0, "centre of mass ({cx}, {cy})");
        assert_eq!(as_mnist_digit(&grey, width, &[]), vec![0u8; SIDE * SIDE], "no cells, no ink");
    }

    fn word(alive: bool, vote: u8, species: u32) -> u32 {
        CellLabel { alive, class: vote.min(9), vote }.pack() | species << LABEL_SPECIES_SHIFT
    }

    #[test]
    fn two_digits_far_apart_are_two_regions() {
        let (w, h) = (12, 5);
        let mut labels = vec![0u32; w * h];
        for (x, y) in [(1, 1), (2, 2), (1, 3)] {
            labels[y * w + x] = word(true, 3, 0);
        }
        for (x, y) in [(8, 1), (9, 1), (10, 1), (9, 2)] {
            labels[y * w + x] = word(true, 7, u32::from(x == 10));
        }
        labels[2 * w + 9] = word(true, CellLabel::NO_VOTE, 0);
        labels[4 * w + 5] = word(true, 1, 0); // a speck
        let found = regions(&labels, w, h, 2);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].cells.len(), 4);
        assert_eq!((found[0].majority(), found[0].undecided, found[0].other_species), (Some(7), 1, 1));
        assert!(found[0].in_agreement(), "one no-vote does not break agreement");
        assert_eq!(found[1].bounds, [1, 1, 2, 3]);
        assert_ne!(found[0].shape_key(), found[1].shape_key());
    }

    #[test]
    fn chimeras_and_overlays_take_the_right_pixels() {
        let (a, b) = (vec![10u8; SIDE * SIDE], vec![200u8; SIDE * SIDE]);
        let c = chimera(&a, &b, 14);
        assert_eq!((c[13 * SIDE], c[14 * SIDE]), (10, 200));
        let o = overlay(&a, &b, [20, 0]);
        assert_eq!((o[19], o[20], o[SIDE * SIDE - 1]), (10, 200, 200));
    }

    #[test]
    fn scaling_keeps_the_digit_and_its_size() {
        let mut pixels = vec![0u8; SIDE * SIDE];
        pixels[14 * SIDE + 14] = 255;
        let (side, grey) = scaled(&pixels, 2.0);
        assert_eq!(side, 56);
        assert!(grey.iter().any(|&v| v > 0.2) && grey.iter().all(|&v| v <= 1.0));
        let (same, plain) = scaled(&pixels, 1.0);
        assert_eq!(same, SIDE);
        assert_eq!(plain[14 * SIDE + 14], 1.0, "at 1× every pixel is itself");
    }
}
