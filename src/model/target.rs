//! Target images: the RGBA pictures a growing model learns to become, and the loss against them.
//!
//! The Distill recipe: thumbnail the image to fit 40×40 (Lanczos), premultiply RGB by
//! alpha, pad by 16 cells on every side (72×72 in all).

use std::path::Path;

use image::imageops::FilterType;

use super::error::ModelError;
use super::grid::Grid;

/// Side of the thumbnail in the Distill recipe.
pub const DEFAULT_TARGET_SIZE: u32 = 40;
/// Padding around the thumbnail in the Distill recipe.
pub const DEFAULT_TARGET_PADDING: u32 = 16;

/// A premultiplied RGBA target (4 channels, values in [0, 1]).
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The padded picture as a 4-channel grid.
    pub rgba: Grid,
}

impl Target {
    /// Loads an image file and applies the recipe (`size`-pixel thumbnail, `padding` on each side).
    pub fn load(path: impl AsRef<Path>, size: u32, padding: u32) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let bytes = read_picture_file(path)?;
        Self::from_image_bytes(&bytes, size, padding).map_err(|m| ModelError::format(path, m))
    }

    /// The recipe applied to encoded image bytes (PNG).
    pub fn from_image_bytes(bytes: &[u8], size: u32, padding: u32) -> Result<Self, String> {
        Ok(Self::from_image(&decode_image(bytes)?, size, padding))
    }

    /// The recipe applied to a decoded image.
    pub fn from_image(img: &image::DynamicImage, size: u32, padding: u32) -> Self {
        // Premultiply before resampling (as Pillow does for RGBA), so the colour of fully
        // transparent pixels cannot bleed into the edges.
        let mut rgba = img.to_rgba32f();
        for px in rgba.pixels_mut() {
            let a = px[3];
            for c in 0..3 {
                px[c] *= a;
            }
        }
        Self::from_premultiplied(&rgba, size, padding)
    }

    /// An organism as it is now, as a target ("teach it to grow this"): the premultiplied RGBA
    /// of `state`'s living cells (alpha above [`super::spec::ALIVE_THRESHOLD`]), cropped to
    /// their bounds, then the same recipe as a picture. `None` when nothing lives.
    pub fn from_state(state: &Grid, size: u32, padding: u32) -> Option<Self> {
        let alive = |x: usize, y: usize| state.cell(x, y)[3] > super::spec::ALIVE_THRESHOLD;
        let cells = (0..state.height).flat_map(|y| (0..state.width).map(move |x| (x, y)));
        let living: Vec<(usize, usize)> = cells.filter(|&(x, y)| alive(x, y)).collect();
        let x0 = living.iter().map(|c| c.0).min()?;
        let y0 = living.iter().map(|c| c.1).min()?;
        let (x1, y1) = (living.iter().map(|c| c.0).max()?, living.iter().map(|c| c.1).max()?);
        let picture = image::Rgba32FImage::from_fn((x1 - x0 + 1) as u32, (y1 - y0 + 1) as u32, |x, y| {
            let cell = state.cell(x0 + x as usize, y0 + y as usize);
            // The state's RGB is already premultiplied (it never exceeds alpha in a target).
            let a = cell[3].clamp(0.0, 1.0);
            image::Rgba([cell[0].clamp(0.0, a), cell[1].clamp(0.0, a), cell[2].clamp(0.0, a), a])
        });
        Some(Self::from_premultiplied(&picture, size, padding))
    }

    /// The recipe on a premultiplied picture: thumbnail, clamp, pad.
    fn from_premultiplied(rgba: &image::Rgba32FImage, size: u32, padding: u32) -> Self {
        let (w, h) = rgba.dimensions();
        // Like PIL's thumbnail: fit inside size×size, keep the aspect ratio, never upscale.
        let scale = (size as f64 / w.max(h) as f64).min(1.0);
        let (tw, th) = (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1));
        let thumb = image::imageops::resize(rgba, tw, th, FilterType::Lanczos3);
        let (gw, gh) = (tw + 2 * padding, th + 2 * padding);
        let mut grid = Grid::new(gw as usize, gh as usize, 4);
        for (x, y, px) in thumb.enumerate_pixels() {
            let a = px[3].clamp(0.0, 1.0);
            let cell = grid.cell_mut((x + padding) as usize, (y + padding) as usize);
            for c in 0..3 {
                cell[c] = px[c].clamp(0.0, a);
            }
            cell[3] = a;
        }
        Self { rgba: grid }
    }

    /// Width of the padded target.
    pub fn width(&self) -> usize {
        self.rgba.width
    }

    /// Height of the padded target.
    pub fn height(&self) -> usize {
        self.rgba.height
    }

    /// The target placed in the centre of a `width`×`height` field (for grids larger than it).
    /// `None` if the target does not fit.
    pub fn centered_in(&self, width: usize, height: usize) -> Option<Grid> {
        if self.width() > width || self.height() > height {
            return None;
        }
        let (ox, oy) = ((width - self.width()) / 2, (height - self.height()) / 2);
        let mut out = Grid::new(width, height, 4);
        for y in 0..self.height() {
            for x in 0..self.width() {
                out.cell_mut(x + ox, y + oy).copy_from_slice(self.rgba.cell(x, y));
            }
        }
        Some(out)
    }

    /// Mean squared error over all cells and the four RGBA channels between `state` (any channel
    /// count ≥ 4) and this target, centred on the state's grid. `None` if the sizes do not fit.
    pub fn rgba_mse(&self, state: &Grid) -> Option<f64> {
        let target = self.centered_in(state.width, state.height)?;
        let sum: f64 = state
            .data
            .chunks_exact(state.channels)
            .zip(target.data.chunks_exact(4))
            .flat_map(|(s, t)| s[..4].iter().zip(t).map(|(&a, &b)| ((a - b) as f64).powi(2)))
            .sum();
        Some(sum / (state.cells() * 4) as f64)
    }
}

/// Where models' targets are found by name (`nca.target`).
pub const TARGETS_DIR: &str = "assets/targets";

/// The picture a model's `nca.target` names, in [`TARGETS_DIR`]. The name comes from a file's
/// metadata, so it may only name a file inside that folder: `None` for anything but a plain name.
pub fn named_target_path(named: &str) -> Option<std::path::PathBuf> {
    let plain = !named.is_empty() && !named.contains(['/', '\\', ':']) && !named.starts_with('.') && !named.chars().any(char::is_control);
    plain.then(|| super::files::bundled(TARGETS_DIR).join(format!("{named}.png")))
}

/// Largest picture side any input may declare (targets, digits).
pub const MAX_PICTURE_SIDE: u32 = 4096;

/// A picture file's bytes: a regular file of at most [`super::files::MAX_PICTURE_BYTES`], read
/// through a bounded reader (a pipe or `/dev/zero` named as a picture is refused, not read).
pub fn read_picture_file(path: &Path) -> Result<Vec<u8>, ModelError> {
    super::files::read_input(path, "picture", super::files::MAX_PICTURE_BYTES)
}

/// A picture file, read ([`read_picture_file`]) and decoded ([`decode_image`]), errors naming it.
pub fn load_picture(path: &Path) -> Result<image::DynamicImage, ModelError> {
    let bytes = read_picture_file(path)?;
    decode_image(&bytes).map_err(|m| ModelError::format(path, m))
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Walks a PNG's chunks to its `IEND`: the decoder stops once it has the pixels, so without this
/// a file cut short after its last pixel chunk (a broken copy, a half download) passes unseen.
fn check_png_complete(bytes: &[u8]) -> Result<(), String> {
    let mut at = PNG_SIGNATURE.len();
    loop {
        let Some(header) = bytes.get(at..at + 8) else {
            return Err("a PNG cut short: it ends before its IEND chunk (a broken or partial copy?)".into());
        };
        let length = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let end = at.checked_add(12 + length).filter(|&e| e <= bytes.len());
        let Some(end) = end else {
            return Err(format!(
                "a PNG cut short: its '{}' chunk at byte {at} runs past the end of the file",
                String::from_utf8_lossy(&header[4..])
            ));
        };
        if &header[4..] == b"IEND" {
            return Ok(());
        }
        at = end;
    }
}

/// Decodes a picture with explicit limits, judged from its header before any buffer is made: a
/// tiny file declaring 20,000×20,000 pixels is refused instead of allocating gigabytes. A PNG
/// must be whole, to its `IEND` chunk.
pub fn decode_image(bytes: &[u8]) -> Result<image::DynamicImage, String> {
    let picture = decode_with_limits(bytes)?;
    // After the decoder, whose header check is the more telling refusal of a huge picture; a
    // file it read whole can still have lost its end.
    if bytes.starts_with(&PNG_SIGNATURE) {
        check_png_complete(bytes)?;
    }
    Ok(picture)
}

fn decode_with_limits(bytes: &[u8]) -> Result<image::DynamicImage, String> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PICTURE_SIDE);
    limits.max_image_height = Some(MAX_PICTURE_SIDE);
    limits.max_alloc = Some(256 << 20);
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes));
    reader.limits(limits);
    let reader = reader.with_guessed_format().map_err(|e| format!("not a readable image ({e})"))?;
    reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => format!("not a usable image: larger than {MAX_PICTURE_SIDE}×{MAX_PICTURE_SIDE} pixels or 256 MB"),
        e => format!("not a readable image ({e})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_missing_its_last_bytes_is_refused() {
        let mut bytes = Vec::new();
        image::RgbaImage::from_pixel(5, 4, image::Rgba([10, 20, 30, 255]))
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        assert!(decode_image(&bytes).is_ok());
        // Cut inside the IEND chunk: the decoder has every pixel and would accept it.
        for cut in [1, 2, 4] {
            let err = decode_image(&bytes[..bytes.len() - cut]).unwrap_err();
            assert!(err.contains("cut short"), "{cut}: {err}");
        }
        // Cut before it: the decoder refuses it itself.
        for cut in [11, 12, 13, 20] {
            assert!(decode_image(&bytes[..bytes.len() - cut]).is_err(), "{cut}");
        }
    }

    #[test]
    fn an_organism_as_it_is_becomes_a_padded_premultiplied_target() {
        // A 10×6 half-transparent red block in a 64×64 state, with faint cells (below the alive
        // threshold) around it that must not widen the crop.
        let mut state = Grid::new(64, 64, 16);
        for y in 20..26 {
            for x in 30..40 {
                state.cell_mut(x, y)[..4].copy_from_slice(&[0.5, 0.0, 0.0, 0.5]);
            }
        }
        state.cell_mut(2, 2)[3] = 0.05;
        let target = Target::from_state(&state, 40, 16).expect("something lives");
        // Never upscaled, like a picture: 10×6 cells plus 16 on every side.
        assert_eq!((target.width(), target.height()), (42, 38));
        let middle = target.rgba.cell(21, 19);
        assert!((middle[0] - 0.5).abs() < 1e-3 && (middle[3] - 0.5).abs() < 1e-3, "premultiplied red kept: {middle:?}");
        assert_eq!(target.rgba.cell(15, 19)[3], 0.0, "padding is empty");
        assert!(Target::from_state(&Grid::new(8, 8, 16), 40, 16).is_none(), "nothing alive, no target");
        // The same block as a straight-alpha picture gives the same target.
        let picture = image::RgbaImage::from_pixel(10, 6, image::Rgba([255, 0, 0, 128]));
        let from_picture = Target::from_image(&image::DynamicImage::ImageRgba8(picture), 40, 16);
        assert!((from_picture.rgba.cell(21, 19)[0] - middle[0]).abs() < 0.01);
    }

    #[test]
    fn recipe_fits_pads_and_premultiplies() {
        let img = image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(128, 64, image::Rgba([255, 0, 0, 128])));
        let t = Target::from_image(&img, 40, 16);
        assert_eq!((t.width(), t.height()), (72, 52));
        assert_eq!(t.rgba.cell(0, 0), &[0.0; 4]);
        let c = t.rgba.cell(36, 26);
        assert!((c[3] - 128.0 / 255.0).abs() < 1e-3 && (c[0] - c[3]).abs() < 1e-3, "{c:?}");
    }

    #[test]
    fn mse_of_target_with_itself_is_zero() {
        let img = image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(8, 8, image::Rgba([10, 200, 30, 255])));
        let t = Target::from_image(&img, 8, 2);
        assert_eq!(t.rgba_mse(&t.rgba), Some(0.0));
        assert!(t.rgba_mse(&Grid::new(4, 4, 16)).is_none());
    }
}
