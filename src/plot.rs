//! Plots without a plotting library: the training loss (CSV and a log-scale PNG, written next to
//! a trained model) and curves over steps (the MNIST evaluation's).

use std::path::Path;

/// `iteration,loss` rows.
pub fn write_csv(path: &Path, losses: &[f64]) -> std::io::Result<()> {
    let mut text = String::from("iteration,loss\n");
    for (i, l) in losses.iter().enumerate() {
        text.push_str(&format!("{i},{l:e}\n"));
    }
    std::fs::write(path, text)
}

/// Reads a CSV written by [`write_csv`] (or any `iteration,loss` file with a header row).
pub fn read_csv(path: &Path) -> Result<Vec<f64>, String> {
    // A loss curve of 10⁷ iterations is about 200 MB of text.
    let text = crate::model::files::read_input_text(path, "loss curve", 512 << 20).map_err(|e| e.to_string())?;
    let mut losses = Vec::new();
    for (line_number, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let loss = line
            .split(',')
            .nth(1)
            .and_then(|field| field.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("{}:{}: expected `iteration,loss`, found {line:?}", path.display(), line_number + 1))?;
        losses.push(loss);
    }
    if losses.is_empty() {
        return Err(format!("{}: no loss rows", path.display()));
    }
    Ok(losses)
}

const WIDTH: u32 = 800;
const HEIGHT: u32 = 400;
/// Room for the decade labels on the left and the iteration labels below.
const LEFT: u32 = 64;
const RIGHT: u32 = 20;
const TOP: u32 = 28;
const BOTTOM: u32 = 52;
const INK: [u8; 3] = [60, 60, 60];
/// Each glyph pixel is drawn as a 2×2 block.
const GLYPH_SCALE: u32 = 2;

/// A 800×400 plot of the loss per iteration on a log scale: a grey line and a label at every
/// power of ten, the raw loss in light blue, a 50-iteration moving average in dark blue, and the
/// iteration count along the bottom.
pub fn render_png(losses: &[f64]) -> image::RgbImage {
    let mut img = image::RgbImage::from_pixel(WIDTH, HEIGHT, image::Rgb([255, 255, 255]));
    draw_text(&mut img, LEFT, 6, "loss (log scale)", INK);
    let finite: Vec<f64> = losses.iter().copied().filter(|l| l.is_finite() && *l > 0.0).collect();
    if finite.is_empty() {
        return img;
    }
    let lo = finite.iter().copied().fold(f64::MAX, f64::min).log10().floor();
    let hi = finite.iter().copied().fold(f64::MIN, f64::max).log10().ceil().max(lo + 1.0);
    let plot_height = (HEIGHT - TOP - BOTTOM) as f64;
    let plot_width = (WIDTH - LEFT - RIGHT) as f64;
    let y_of = |loss: f64| {
        let t = (loss.max(1e-30).log10() - lo) / (hi - lo);
        (HEIGHT - BOTTOM) as f64 - t * plot_height
    };
    let last = losses.len().max(2) - 1;
    let x_of = |i: usize| LEFT as f64 + i as f64 / last as f64 * plot_width;

    for decade in lo as i32..=hi as i32 {
        let y = (y_of(10f64.powi(decade)).round() as u32).min(HEIGHT - 1);
        for x in LEFT..WIDTH - RIGHT {
            img.put_pixel(x, y, image::Rgb([220, 220, 220]));
        }
        let label = format!("1e{decade}");
        let x = LEFT.saturating_sub(text_width(&label) + 8);
        draw_text(&mut img, x, y.saturating_sub(GLYPH_HEIGHT * GLYPH_SCALE / 2), &label, INK);
    }
    let axis_y = HEIGHT - BOTTOM + 4;
    for x in LEFT..WIDTH - RIGHT {
        img.put_pixel(x, axis_y, image::Rgb(INK));
    }
    for tick in iteration_ticks(last) {
        let x = x_of(tick).round() as u32;
        for y in axis_y..axis_y + 5 {
            img.put_pixel(x.min(WIDTH - 1), y, image::Rgb(INK));
        }
        let label = tick.to_string();
        let left = x.saturating_sub(text_width(&label) / 2).min(WIDTH - text_width(&label));
        draw_text(&mut img, left, axis_y + 8, &label, INK);
    }
    let caption = "iteration";
    draw_text(&mut img, LEFT + (WIDTH - LEFT - RIGHT - text_width(caption)) / 2, axis_y + 8 + GLYPH_HEIGHT * GLYPH_SCALE + 2, caption, INK);

    let mut draw = |values: &[f64], color: [u8; 3]| {
        let points: Vec<(f64, f64)> = values.iter().enumerate().map(|(i, &v)| (x_of(i), y_of(v))).collect();
        draw_polyline(&mut img, &points, color);
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

/// One panel of [`render_curves`]: curves over the same steps, on a linear scale.
pub struct Panel<'a> {
    /// Written above the panel.
    pub title: &'a str,
    /// The curves and their colours.
    pub curves: Vec<(&'a [f64], [u8; 3])>,
    /// The value at the bottom of the panel.
    pub min: f64,
    /// The value at the top.
    pub max: f64,
}

/// Panels stacked one above the other (800 pixels wide, 260 each), sharing the step axis
/// `1..=steps`, with a dashed vertical line after step `mark` (if any): the evaluation's
/// mutation.
pub fn render_curves(panels: &[Panel<'_>], mark: Option<usize>) -> image::RgbImage {
    const PANEL: u32 = 260;
    let height = PANEL * panels.len().max(1) as u32;
    let mut img = image::RgbImage::from_pixel(WIDTH, height, image::Rgb([255, 255, 255]));
    let steps = panels.iter().flat_map(|p| p.curves.iter().map(|(c, _)| c.len())).max().unwrap_or(1).max(2);
    let plot_width = (WIDTH - LEFT - RIGHT) as f64;
    let x_of = |step: f64| LEFT as f64 + (step - 1.0) / (steps - 1) as f64 * plot_width;
    for (k, panel) in panels.iter().enumerate() {
        let top = k as u32 * PANEL;
        let (y0, y1) = ((top + TOP) as f64, (top + PANEL - BOTTOM) as f64);
        let span = (panel.max - panel.min).max(1e-12);
        let y_of = |v: f64| y1 - ((v - panel.min) / span).clamp(0.0, 1.0) * (y1 - y0);
        draw_text(&mut img, LEFT, top + 6, panel.title, INK);
        for i in 0..=4 {
            let v = panel.min + span * i as f64 / 4.0;
            let y = y_of(v).round() as u32;
            for x in LEFT..WIDTH - RIGHT {
                img.put_pixel(x, y, image::Rgb([225, 225, 225]));
            }
            let label = if span >= 10.0 { format!("{v:.0}") } else { format!("{v:.2}") };
            draw_text(&mut img, LEFT.saturating_sub(text_width(&label) + 8), y.saturating_sub(GLYPH_HEIGHT * GLYPH_SCALE / 2), &label, INK);
        }
        let axis_y = top + PANEL - BOTTOM + 4;
        for x in LEFT..WIDTH - RIGHT {
            img.put_pixel(x, axis_y, image::Rgb(INK));
        }
        for tick in iteration_ticks(steps).into_iter().map(|t| t.max(1)) {
            let x = x_of(tick as f64).round() as u32;
            for y in axis_y..axis_y + 5 {
                img.put_pixel(x.min(WIDTH - 1), y, image::Rgb(INK));
            }
            let label = tick.to_string();
            let left = x.saturating_sub(text_width(&label) / 2).min(WIDTH - text_width(&label));
            draw_text(&mut img, left, axis_y + 8, &label, INK);
        }
        if let Some(mark) = mark {
            let x = x_of(mark as f64 + 0.5).round() as u32;
            for y in (y0 as u32..=y1 as u32).filter(|y| y / 4 % 2 == 0) {
                img.put_pixel(x, y, image::Rgb([150, 150, 150]));
            }
            draw_text(&mut img, x + 6, y0 as u32 + 2, "mutation", [150, 150, 150]);
        }
        for (curve, color) in &panel.curves {
            let points: Vec<(f64, f64)> = curve.iter().enumerate().map(|(i, &v)| (x_of(i as f64 + 1.0), y_of(v))).collect();
            draw_polyline(&mut img, &points, *color);
        }
    }
    let caption = "step";
    let bottom = height - BOTTOM + 4 + 8 + GLYPH_HEIGHT * GLYPH_SCALE + 2;
    draw_text(&mut img, LEFT + (WIDTH - LEFT - RIGHT - text_width(caption)) / 2, bottom, caption, INK);
    img
}

fn draw_polyline(img: &mut image::RgbImage, points: &[(f64, f64)], color: [u8; 3]) {
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
        for k in 0..=n {
            let t = k as f64 / n as f64;
            let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
                img.put_pixel(x as u32, y as u32, image::Rgb(color));
            }
        }
    }
}

/// Round iteration numbers for the bottom axis: 0, the last one, and about four in between.
fn iteration_ticks(last: usize) -> Vec<usize> {
    let raw = (last as f64 / 5.0).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|&s| s >= raw).unwrap_or(raw) as usize;
    let mut ticks: Vec<usize> = (0..last).step_by(step.max(1)).collect();
    // Keep the last label clear of the one before it.
    if ticks.last().is_some_and(|&t| last - t < step / 2) && ticks.len() > 1 {
        ticks.pop();
    }
    ticks.push(last);
    ticks
}

const GLYPH_WIDTH: u32 = 5;
const GLYPH_HEIGHT: u32 = 7;

/// Rows of a 5×7 glyph, most significant of the five bits on the left; `None` for characters
/// the plot never writes (they are drawn as blanks).
fn glyph(c: char) -> Option<[u8; 7]> {
    Some(match c {
        '0' => [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110],
        '1' => [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        '2' => [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111],
        '3' => [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110],
        '4' => [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010],
        '5' => [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110],
        '6' => [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110],
        '7' => [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000],
        '8' => [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110],
        '9' => [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100],
        '-' => [0, 0, 0, 0b11111, 0, 0, 0],
        '(' => [0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010],
        ')' => [0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000],
        'a' => [0, 0, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111],
        'c' => [0, 0, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110],
        'e' => [0, 0, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110],
        'g' => [0, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110],
        'i' => [0b00100, 0, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110],
        'l' => [0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        'n' => [0, 0, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001],
        'o' => [0, 0, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110],
        'r' => [0, 0, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000],
        's' => [0, 0, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110],
        't' => [0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110],
        'u' => [0, 0, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101],
        'y' => [0, 0, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110],
        'm' => [0, 0, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001],
        'p' => [0, 0, 0b11110, 0b10001, 0b11110, 0b10000, 0b10000],
        'd' => [0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111],
        'h' => [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001],
        '%' => [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011],
        '|' => [0b00100; 7],
        ',' => [0, 0, 0, 0, 0b01100, 0b00100, 0b01000],
        '.' => [0, 0, 0, 0, 0, 0b01100, 0b01100],
        _ => return None,
    })
}

fn text_width(text: &str) -> u32 {
    text.chars().count() as u32 * (GLYPH_WIDTH + 1) * GLYPH_SCALE
}

fn draw_text(img: &mut image::RgbImage, left: u32, top: u32, text: &str, color: [u8; 3]) {
    for (k, c) in text.chars().enumerate() {
        let Some(rows) = glyph(c) else { continue };
        let x0 = left + k as u32 * (GLYPH_WIDTH + 1) * GLYPH_SCALE;
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..GLYPH_WIDTH {
                if bits >> (GLYPH_WIDTH - 1 - col) & 1 == 1 {
                    for dy in 0..GLYPH_SCALE {
                        for dx in 0..GLYPH_SCALE {
                            let (x, y) = (x0 + col * GLYPH_SCALE + dx, top + row as u32 * GLYPH_SCALE + dy);
                            if x < img.width() && y < img.height() {
                                img.put_pixel(x, y, image::Rgb(color));
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_end_at_the_last_iteration() {
        assert_eq!(iteration_ticks(2999), vec![0, 1000, 2000, 2999]);
        assert_eq!(iteration_ticks(40), vec![0, 10, 20, 30, 40]);
        assert_eq!(iteration_ticks(1), vec![0, 1]);
    }

    #[test]
    fn every_character_the_plot_writes_has_a_glyph() {
        for text in ["loss (log scale)", "iteration", "1e-10", "1234567890"] {
            for c in text.chars().filter(|c| *c != ' ') {
                assert!(glyph(c).is_some(), "no glyph for {c:?}");
            }
        }
    }

    #[test]
    fn csv_round_trips_and_bad_rows_are_named() {
        let dir = std::env::temp_dir().join(format!("nca-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("loss.csv");
        let losses = [3e-2, 1.5e-3, 7.25e-5];
        write_csv(&path, &losses).unwrap();
        assert_eq!(read_csv(&path).unwrap(), losses);
        std::fs::write(&path, "iteration,loss\n0,0.1\n1,banana\n").unwrap();
        let error = read_csv(&path).unwrap_err();
        assert!(error.contains(":3:"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
