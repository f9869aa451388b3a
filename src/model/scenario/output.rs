//! What a scenario run leaves in its output folder, under names other tools read:
//!
//! - `metrics.csv`: one row per recorded step and region ([`super::run::CSV_HEADER`]), every
//!   seed's rows in one table;
//! - `summary.csv` (several seeds): per step, region and metric, the median and the spread
//!   (minimum, maximum) over the seeds;
//! - `run.gif`: the run as an animated GIF; `final.safetensors`: the final state, as `nca step`
//!   writes it; `frames/STEP.png` if asked; `NAME.safetensors` and `NAME.png` for snapshots.
//!
//! With several seeds, each seed's pictures and states go to `seed-N/`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::LoadedScenario;
use super::run::{CSV_HEADER, RunRecord};
use crate::model::Grid;
use crate::model::display::{DisplayStyle, render};
use crate::model::kind::View;
use crate::model::weights::write_atomically;

/// The picture of a state as the window draws it (natural view, the scenario's background).
pub fn picture(scene: &LoadedScenario, state: &Grid, scale: u32) -> image::RgbaImage {
    let style = DisplayStyle { background: scene.scenario.grid.background, ..DisplayStyle::default() };
    render(scene.kind, state, View::Natural, &style, scale)
}

/// Encodes pictures (all one size) as a looping animated GIF, each shown `delay` hundredths of
/// a second.
pub fn encode_gif(pictures: &[image::RgbaImage], delay: u16) -> Result<Vec<u8>, String> {
    let first = pictures.first().ok_or("a GIF needs at least one frame")?;
    let (w, h) = first.dimensions();
    let (w16, h16) = (u16::try_from(w).map_err(|_| "GIF frames are at most 65535 wide")?, u16::try_from(h).map_err(|_| "too tall")?);
    let mut bytes = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut bytes, w16, h16, &[]).map_err(|e| e.to_string())?;
        encoder.set_repeat(gif::Repeat::Infinite).map_err(|e| e.to_string())?;
        for picture in pictures {
            if picture.dimensions() != (w, h) {
                return Err("GIF frames must share one size".into());
            }
            let mut rgba = picture.as_raw().clone();
            // Speed 10: NeuQuant's default trade of colour fidelity for time.
            let mut frame = gif::Frame::from_rgba_speed(w16, h16, &mut rgba, 10);
            frame.delay = delay;
            encoder.write_frame(&frame).map_err(|e| e.to_string())?;
        }
    }
    Ok(bytes)
}

/// The metrics of one or more runs as CSV text.
pub fn metrics_csv(records: &[RunRecord]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for row in records.iter().flat_map(|r| &r.rows) {
        out.push_str(&row.to_csv());
        out.push('\n');
    }
    out
}

/// Per step, region and metric over several runs: median, minimum and maximum.
pub fn summary_csv(records: &[RunRecord]) -> String {
    type Key = (u32, String, &'static str);
    let mut values: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    let mut order: HashMap<String, usize> = HashMap::new();
    for row in records.iter().flat_map(|r| &r.rows) {
        let n = order.len();
        order.entry(row.region.clone()).or_insert(n);
        let metrics: [(&'static str, Option<f64>); 7] = [
            ("alive", Some(row.alive as f64)),
            ("loss", row.loss),
            ("accuracy", row.accuracy),
            ("agreement", row.agreement),
            ("mean_abs_state", Some(row.mean_abs_state)),
            ("mean_abs_update", row.mean_abs_update),
            ("majority", row.majority.map(f64::from)),
        ];
        for (name, v) in metrics {
            if let Some(v) = v {
                values.entry((row.step, row.region.clone(), name)).or_default().push(v);
            }
        }
    }
    let mut keys: Vec<&Key> = values.keys().collect();
    keys.sort_by_key(|(step, region, _)| (*step, order[region]));
    let mut out = String::from("step,region,metric,runs,median,min,max\n");
    for key in keys {
        let mut v = values[key].clone();
        v.sort_by(f64::total_cmp);
        let median = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
        out.push_str(&format!("{},{},{},{},{median:.6e},{:.6e},{:.6e}\n", key.0, key.1, key.2, v.len(), v[0], v[v.len() - 1]));
    }
    out
}

/// A state as `.safetensors` bytes ([`crate::model::snapshot`]'s format), with the kind, the step,
/// the seed and the scenario's name.
fn state_file(scene: &LoadedScenario, seed: u32, step: u32, grid: &Grid) -> Result<Vec<u8>, String> {
    let metadata = HashMap::from([
        ("nca.kind".to_string(), scene.kind.as_str().to_string()),
        ("nca.step".to_string(), step.to_string()),
        ("nca.seed".to_string(), seed.to_string()),
        ("nca.scenario".to_string(), scene.scenario.name.clone()),
    ]);
    crate::model::snapshot::state_bytes(grid, metadata).map_err(|e| e.to_string())
}

/// Writes every file of the runs into `out` (created if missing); returns the files written.
pub fn write(scene: &LoadedScenario, records: &[RunRecord], out: &Path) -> Result<Vec<PathBuf>, String> {
    if out.exists() && !out.is_dir() {
        return Err(format!("{}: exists and is not a folder", out.display()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: cannot create the output folder: {e}", out.display()))?;
    let mut written = Vec::new();
    let mut put = |path: PathBuf, bytes: &[u8]| -> Result<(), String> {
        write_atomically(&path, bytes).map_err(|e| e.to_string())?;
        written.push(path);
        Ok(())
    };
    let png = |image: image::RgbaImage| -> Result<Vec<u8>, String> {
        let mut bytes = Vec::new();
        image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).map_err(|e| e.to_string())?;
        Ok(bytes)
    };
    put(out.join("metrics.csv"), metrics_csv(records).as_bytes())?;
    if records.len() > 1 {
        put(out.join("summary.csv"), summary_csv(records).as_bytes())?;
    }
    for record in records {
        let dir = if records.len() > 1 { out.join(format!("seed-{}", record.seed)) } else { out.to_path_buf() };
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: cannot create it: {e}", dir.display()))?;
        let last_step = scene.scenario.steps;
        let state = |grid: &Grid, step: u32| state_file(scene, record.seed, step, grid);
        put(dir.join("final.safetensors"), &state(&record.last, last_step)?)?;
        for (name, step, grid) in &record.snapshots {
            put(dir.join(format!("{name}.safetensors")), &state(grid, *step)?)?;
            put(dir.join(format!("{name}.png")), &png(picture(scene, grid, 1))?)?;
        }
        let record_spec = &scene.scenario.record;
        // Frames are drawn as large as the GIF's (2 pixels a cell without one).
        let frame_scale = record_spec.gif.as_ref().map_or(2, |g| g.scale);
        if let Some(n) = record_spec.frames {
            let frames = dir.join("frames");
            std::fs::create_dir_all(&frames).map_err(|e| format!("{}: cannot create it: {e}", frames.display()))?;
            for (step, grid) in record.frames.iter().filter(|(s, _)| s % n == 0 || *s == last_step) {
                put(frames.join(format!("{step:07}.png")), &png(picture(scene, grid, frame_scale))?)?;
            }
        }
        if let Some(gif) = &record_spec.gif {
            let pictures: Vec<image::RgbaImage> = record
                .frames
                .iter()
                .filter(|(s, _)| s % gif.every == 0 || *s == last_step)
                .map(|(_, grid)| picture(scene, grid, gif.scale))
                .collect();
            put(dir.join("run.gif"), &encode_gif(&pictures, gif.delay)?)?;
        }
    }
    Ok(written)
}
