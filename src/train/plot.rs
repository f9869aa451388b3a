//! The loss curve as a CSV and a PNG (log-scale), written next to a trained model.

use std::path::Path;

/// `iteration,loss` rows.
pub fn write_csv(path: &Path, losses: &[f64]) -> std::io::Result<()> {
    let mut text = String::from("iteration,loss\n");
    for (i, l) in losses.iter().enumerate() {
        text.push_str(&format!("{i},{l:e}\n"));
    }
    std::fs::write(path, text)
}

/// A 800×400 plot of log10(loss) per iteration: grey lines at every power of ten, the raw loss in
/// light blue and a 50-iteration moving average in dark blue. No text: the CSV has the numbers.
pub fn render_png(losses: &[f64]) -> image::RgbImage {
    let (w, h, margin) = (800u32, 400u32, 20u32);
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
    let finite: Vec<f64> = losses.iter().copied().filter(|l| l.is_finite() && *l > 0.0).collect();
    if finite.is_empty() {
        return img;
    }
    let lo = finite.iter().copied().fold(f64::MAX, f64::min).log10().floor();
    let hi = finite.iter().copied().fold(f64::MIN, f64::max).log10().ceil().max(lo + 1.0);
    let y_of = |loss: f64| {
        let t = (loss.max(1e-30).log10() - lo) / (hi - lo);
        (h - margin) as f64 - t * (h - 2 * margin) as f64
    };
    let x_of = |i: usize| margin as f64 + i as f64 / (losses.len().max(2) - 1) as f64 * (w - 2 * margin) as f64;
    for decade in lo as i32..=hi as i32 {
        let y = y_of(10f64.powi(decade)).round() as u32;
        for x in margin..w - margin {
            img.put_pixel(x, y.min(h - 1), image::Rgb([220, 220, 220]));
        }
    }
    let mut draw = |values: &[f64], color: [u8; 3]| {
        for (i, pair) in values.windows(2).enumerate() {
            let (x0, y0, x1, y1) = (x_of(i), y_of(pair[0]), x_of(i + 1), y_of(pair[1]));
            let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
            for k in 0..=n {
                let t = k as f64 / n as f64;
                let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
                if x >= 0.0 && y >= 0.0 && (x as u32) < w && (y as u32) < h {
                    img.put_pixel(x as u32, y as u32, image::Rgb(color));
                }
            }
        }
    };
    draw(losses, [160, 190, 240]);
    let window = 50;
    let smooth: Vec<f64> = (0..losses.len())
        .map(|i| {
            let part = &losses[i.saturating_sub(window - 1)..=i];
            part.iter().sum::<f64>() / part.len() as f64
        })
        .collect();
    draw(&smooth, [20, 60, 160]);
    img
}
