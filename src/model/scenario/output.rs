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

fn png_bytes(image: image::RgbaImage) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Judges the output folder of `seeds` runs before any of them starts: the folder and each
/// seed's folder can be made and written in, and what will be written there is not a folder, a
/// pipe or a device already.
pub fn check_out(scene: &LoadedScenario, seeds: &[u32], out: &Path) -> Result<(), String> {
    crate::model::files::check_output_folder(out).map_err(|e| e.to_string())?;
    let mut files = vec![out.join("metrics.csv")];
    if seeds.len() > 1 {
        files.push(out.join("summary.csv"));
    }
    for &seed in seeds {
        let dir = seed_dir(out, seed, seeds.len());
        if seeds.len() > 1 {
            crate::model::files::check_output_folder(&dir).map_err(|e| e.to_string())?;
        }
        files.push(dir.join("final.safetensors"));
        files.push(dir.join("run.gif"));
        for e in &scene.scenario.events {
            if let super::Action::Snapshot(name) = &e.action {
                files.push(dir.join(format!("{name}.safetensors")));
                files.push(dir.join(format!("{name}.png")));
            }
        }
    }
    files.iter().try_for_each(|f| crate::model::weights::check_output(f).map_err(|e| e.to_string()))
}

/// Where seed `seed`'s pictures and states go: the folder itself for one seed, `seed-N/` for
/// several.
pub fn seed_dir(out: &Path, seed: u32, seeds: usize) -> PathBuf {
    if seeds > 1 { out.join(format!("seed-{seed}")) } else { out.to_path_buf() }
}

/// A GIF written frame by frame into `run.gif.partial`, renamed when the run ends.
struct GifStream {
    encoder: gif::Encoder<std::io::BufWriter<std::fs::File>>,
    partial: PathBuf,
    path: PathBuf,
    size: (u16, u16),
    every: u32,
    scale: u32,
    delay: u16,
}

/// One seed's run written as it happens: each GIF frame is quantised and appended the moment the
/// runner hands it over, PNG frames and snapshots go straight to their files, and nothing of a
/// frame is kept once it is written.
pub struct SeedOutput<'a> {
    scene: &'a LoadedScenario,
    seed: u32,
    dir: PathBuf,
    gif: Option<GifStream>,
    png_every: Option<u32>,
    /// Files written so far.
    pub written: Vec<PathBuf>,
}

impl<'a> SeedOutput<'a> {
    /// Starts seed `seed`'s output in `dir` (created if missing).
    pub fn new(scene: &'a LoadedScenario, seed: u32, dir: PathBuf) -> Result<Self, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: cannot create it: {e}", dir.display()))?;
        let spec = &scene.scenario.record;
        let gif = match &spec.gif {
            Some(g) => {
                let (w, h) = (scene.scenario.grid.width * g.scale, scene.scenario.grid.height * g.scale);
                let size = (u16::try_from(w).map_err(|_| "GIF frames are at most 65535 wide")?, u16::try_from(h).map_err(|_| "too tall")?);
                let path = dir.join("run.gif");
                crate::model::weights::check_output(&path).map_err(|e| e.to_string())?;
                let partial = dir.join("run.gif.partial");
                let file = std::fs::File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
                let mut encoder = gif::Encoder::new(std::io::BufWriter::new(file), size.0, size.1, &[]).map_err(|e| e.to_string())?;
                encoder.set_repeat(gif::Repeat::Infinite).map_err(|e| e.to_string())?;
                Some(GifStream { encoder, partial, path, size, every: g.every.max(1), scale: g.scale, delay: g.delay })
            }
            None => None,
        };
        if spec.frames.is_some() {
            let frames = dir.join("frames");
            std::fs::create_dir_all(&frames).map_err(|e| format!("{}: cannot create it: {e}", frames.display()))?;
        }
        Ok(Self { scene, seed, dir, gif, png_every: spec.frames, written: Vec::new() })
    }

    fn put(&mut self, path: PathBuf, bytes: &[u8]) -> Result<(), String> {
        write_atomically(&path, bytes).map_err(|e| e.to_string())?;
        self.written.push(path);
        Ok(())
    }

    /// Writes the final state and closes the GIF.
    pub fn finish(mut self, record: &RunRecord) -> Result<Vec<PathBuf>, String> {
        let last_step = self.scene.scenario.steps;
        let bytes = state_file(self.scene, record.seed, last_step, &record.last)?;
        self.put(self.dir.join("final.safetensors"), &bytes)?;
        if let Some(gif) = self.gif.take() {
            let GifStream { encoder, partial, path, .. } = gif;
            let writer = encoder.into_inner().map_err(|e| format!("{}: {e}", partial.display()))?;
            writer.into_inner().map_err(|e| format!("{}: {}", partial.display(), e.error()))?.sync_all().ok();
            std::fs::rename(&partial, &path).map_err(|e| format!("{}: {e}", path.display()))?;
            self.written.push(path);
        }
        Ok(std::mem::take(&mut self.written))
    }
}

impl super::run::StateSink for SeedOutput<'_> {
    fn frame(&mut self, step: u32, state: &Grid) -> Result<(), String> {
        let last = step == self.scene.scenario.steps;
        if self.png_every.is_some_and(|n| step.is_multiple_of(n) || last) {
            let scale = self.scene.scenario.record.gif.as_ref().map_or(2, |g| g.scale);
            let bytes = png_bytes(picture(self.scene, state, scale))?;
            self.put(self.dir.join("frames").join(format!("{step:07}.png")), &bytes)?;
        }
        if let Some(gif) = self.gif.as_mut().filter(|g| step.is_multiple_of(g.every) || last) {
            let mut rgba = picture(self.scene, state, gif.scale).into_raw();
            // Speed 10: NeuQuant's default trade of colour fidelity for time.
            let mut frame = gif::Frame::from_rgba_speed(gif.size.0, gif.size.1, &mut rgba, 10);
            frame.delay = gif.delay;
            gif.encoder.write_frame(&frame).map_err(|e| format!("{}: {e}", gif.partial.display()))?;
        }
        Ok(())
    }

    fn snapshot(&mut self, name: &str, step: u32, state: &Grid) -> Result<(), String> {
        let bytes = state_file(self.scene, self.seed, step, state)?;
        self.put(self.dir.join(format!("{name}.safetensors")), &bytes)?;
        let bytes = png_bytes(picture(self.scene, state, 1))?;
        self.put(self.dir.join(format!("{name}.png")), &bytes)
    }
}

impl Drop for SeedOutput<'_> {
    fn drop(&mut self) {
        // A run that failed leaves no half GIF behind.
        if let Some(gif) = &self.gif {
            let _ = std::fs::remove_file(&gif.partial);
        }
    }
}

/// Writes the tables of the runs (`metrics.csv`, and `summary.csv` for several seeds) into `out`.
pub fn write_tables(records: &[RunRecord], out: &Path) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    let metrics = out.join("metrics.csv");
    write_atomically(&metrics, metrics_csv(records).as_bytes()).map_err(|e| e.to_string())?;
    written.push(metrics);
    if records.len() > 1 {
        let summary = out.join("summary.csv");
        write_atomically(&summary, summary_csv(records).as_bytes()).map_err(|e| e.to_string())?;
        written.push(summary);
    }
    Ok(written)
}

/// Runs `scene` once per seed on `backend`, writing everything into `out` as it goes (checked
/// first, before any run); returns the records and the files written.
pub fn run_into(
    scene: &LoadedScenario,
    seeds: &[u32],
    backend: &mut dyn super::run::ScenarioBackend,
    out: &Path,
    progress: &mut dyn FnMut(usize, u32),
) -> Result<(Vec<RunRecord>, Vec<PathBuf>), String> {
    check_out(scene, seeds, out)?;
    let mut records = Vec::new();
    let mut written = Vec::new();
    for (i, &seed) in seeds.iter().enumerate() {
        let mut sink = SeedOutput::new(scene, seed, seed_dir(out, seed, seeds.len()))?;
        let record = super::run::run(scene, seed, backend, &mut sink, &mut |step| progress(i, step))?;
        written.extend(sink.finish(&record)?);
        records.push(record);
    }
    written.extend(write_tables(&records, out)?);
    Ok((records, written))
}
