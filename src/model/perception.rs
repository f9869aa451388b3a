//! Perception kernels: identity plus a (rotatable) Sobel pair, applied per channel.
//!
//! Kernels are applied as cross-correlation with zero padding:
//! `out[y, x] = Σ k[dy + 1][dx + 1] · in[y + dy, x + dx]`, rows indexed by `dy`.

/// A 3×3 kernel, `k[row = dy + 1][column = dx + 1]`.
pub type Kernel3 = [[f32; 3]; 3];

/// `outer([1, 2, 1], [-1, 0, 1]) / 8`: the horizontal gradient.
pub const SOBEL_X: Kernel3 = [[-0.125, 0.0, 0.125], [-0.25, 0.0, 0.25], [-0.125, 0.0, 0.125]];

/// The transpose of [`SOBEL_X`]: the vertical gradient (positive downwards, rows grow with y).
pub const SOBEL_Y: Kernel3 = [[-0.125, -0.25, -0.125], [0.0, 0.0, 0.0], [0.125, 0.25, 0.125]];

/// The two gradient kernels a step uses, possibly rotated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SobelPair {
    /// The first gradient kernel (`Kx'`).
    pub x: Kernel3,
    /// The second gradient kernel (`Ky'`).
    pub y: Kernel3,
}

impl Default for SobelPair {
    fn default() -> Self {
        Self { x: SOBEL_X, y: SOBEL_Y }
    }
}

impl SobelPair {
    /// The pair rotated by `angle` radians: `Kx' = cos·Kx − sin·Ky`, `Ky' = sin·Kx + cos·Ky`.
    ///
    /// A model trained with the unrotated pair then perceives a rotated world, so the pattern
    /// it grows turns by `angle` without retraining. The kernels are computed once here, on
    /// the CPU, and handed to every backend so they all use bit-identical coefficients; at
    /// `angle == 0` they equal the unrotated pair exactly.
    pub fn rotated(angle: f32) -> Self {
        let (s, c) = (angle as f64).sin_cos();
        let mut pair = Self::default();
        for r in 0..3 {
            for col in 0..3 {
                let (kx, ky) = (SOBEL_X[r][col] as f64, SOBEL_Y[r][col] as f64);
                pair.x[r][col] = (c * kx - s * ky) as f32;
                pair.y[r][col] = (s * kx + c * ky) as f32;
            }
        }
        pair
    }

    /// The pair for an angle in degrees (what the UI and CLI speak).
    pub fn rotated_degrees(degrees: f32) -> Self {
        Self::rotated(degrees.to_radians())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_rotation_is_exactly_the_plain_pair() {
        assert_eq!(SobelPair::rotated(0.0), SobelPair::default());
    }

    #[test]
    fn quarter_turn_maps_x_to_y() {
        let pair = SobelPair::rotated(std::f32::consts::FRAC_PI_2);
        for r in 0..3 {
            for c in 0..3 {
                assert!((pair.x[r][c] + SOBEL_Y[r][c]).abs() < 1e-6);
                assert!((pair.y[r][c] - SOBEL_X[r][c]).abs() < 1e-6);
            }
        }
    }
}
