//! `nca scenario`: run a scenario file headless, or check one.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Subcommand;

use super::Backend;
use crate::model::scenario::LoadedScenario;
use crate::model::scenario::budget::MAX_METRIC_ROWS;
use crate::model::scenario::output::{self, run_into};
use crate::model::scenario::run::{CpuBackend, ScenarioBackend};

/// What `nca scenario` does.
#[derive(Subcommand, Debug)]
pub enum ScenarioCommand {
    /// Run a scenario headless and write metrics.csv, run.gif and final.safetensors.
    Run {
        /// The scenario file (RON).
        file: PathBuf,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// cpu (the reference) or gpu (the WGSL shader in a headless app).
        #[arg(long, value_enum, default_value_t = Backend::Cpu)]
        backend: Backend,
        /// Fire-hash seeds to repeat the run over: `3`, `0..8` (8 excluded) or `1,4,9`. With more
        /// than one, summary.csv holds each metric's median and spread.
        #[arg(long, value_parser = parse_seeds)]
        seeds: Option<Seeds>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Read a scenario and every file it names, and say what it will do.
    Check {
        /// The scenario file (RON).
        file: PathBuf,
    },
}

/// Fire-hash seeds of `--seeds` (one value on the command line, so clap must not see a list).
#[derive(Clone, Debug, PartialEq)]
pub struct Seeds(pub Vec<u32>);

/// Parses `3`, `0..8` or `1,4,9`.
pub fn parse_seeds(text: &str) -> Result<Seeds, String> {
    let number = |s: &str| s.trim().parse::<u32>().map_err(|_| format!("'{s}' is not a seed (0 to {})", u32::MAX));
    let seeds: Vec<u32> = if let Some((a, b)) = text.split_once("..") {
        let (a, b) = (number(a)?, number(b)?);
        if b <= a {
            return Err(format!("{text}: an empty range (the end is excluded)"));
        }
        (a..b).collect()
    } else {
        text.split(',').map(number).collect::<Result<_, _>>()?
    };
    if seeds.is_empty() || seeds.len() > 1000 {
        return Err(format!("{text}: between 1 and 1000 seeds, not {}", seeds.len()));
    }
    // The same seed twice is the same run twice: counting it twice would weigh the medians.
    if let Some(twice) = seeds.iter().enumerate().find_map(|(i, s)| seeds[..i].contains(s).then_some(s)) {
        return Err(format!("{text}: seed {twice} is given twice (each seed is one run; give each once)"));
    }
    Ok(Seeds(seeds))
}

/// A progress bar on stderr, redrawn at most every tenth of a second.
struct Progress {
    total: u64,
    done: u64,
    label: String,
    last: Instant,
    quiet: bool,
}

impl Progress {
    fn show(&mut self, done: u64, force: bool) {
        self.done = done;
        if self.quiet || (!force && self.last.elapsed().as_millis() < 100) {
            return;
        }
        self.last = Instant::now();
        let share = self.done as f64 / self.total.max(1) as f64;
        let filled = (share * 30.0).round() as usize;
        eprint!("\r{} [{}{}] {:5.1}%", self.label, "#".repeat(filled), " ".repeat(30 - filled.min(30)), share * 100.0);
        let _ = std::io::stderr().flush();
    }
}

/// Runs `nca scenario …`.
pub fn run_command(command: ScenarioCommand) -> Result<(), String> {
    match command {
        ScenarioCommand::Check { file } => {
            let scene = LoadedScenario::load(&file)?;
            let s = &scene.scenario;
            println!("{}: {} — {} grid {}×{}, {} steps", file.display(), s.name, scene.kind, s.grid.width, s.grid.height, s.steps);
            for (sp, path) in s.species.iter().zip(&scene.model_paths) {
                println!("  species {}: {}", sp.name, path.display());
            }
            println!("  {} organisms, {} digits, {} events", s.organisms.len(), s.digits.len(), s.events.len());
            println!("  {}", s.budget().describe());
            Ok(())
        }
        ScenarioCommand::Run { file, out, backend, seeds, quiet } => {
            let scene = LoadedScenario::load(&file)?;
            let seeds = seeds.map_or_else(|| vec![scene.scenario.grid.seed], |s| s.0);
            let rows = scene.scenario.budget().metric_rows.saturating_mul(seeds.len() as u64);
            if rows > MAX_METRIC_ROWS {
                return Err(format!(
                    "{}: {} seeds of {} metric rows each make {rows} rows, more than one call may hold ({MAX_METRIC_ROWS}): run fewer seeds at a time",
                    file.display(),
                    seeds.len(),
                    rows / seeds.len() as u64
                ));
            }
            // Judged before any run: the output is what the runs are for.
            output::check_out(&scene, &seeds, &out)?;
            let mut engine: Box<dyn ScenarioBackend> = match backend {
                Backend::Cpu => Box::new(CpuBackend::default()),
                Backend::Gpu => {
                    let gpu = crate::app::headless::GpuScenario::new().map_err(|e| e.to_string())?;
                    if !quiet {
                        eprintln!("adapter: {}", gpu.adapter());
                    }
                    Box::new(gpu)
                }
            };
            let steps = scene.scenario.steps as u64;
            let mut bar = Progress { total: steps * seeds.len() as u64, done: 0, label: String::new(), last: Instant::now(), quiet };
            let started = Instant::now();
            let (records, written) = run_into(&scene, &seeds, engine.as_mut(), &out, &mut |i, step| {
                bar.label = format!("seed {} ({}/{})", seeds[i], i + 1, seeds.len());
                bar.show(i as u64 * steps + step as u64, step as u64 == steps);
            })?;
            if !quiet {
                eprintln!();
            }
            let peak = crate::app::peak_resident_mb().map(|mb| format!("; peak memory {mb:.0} MB")).unwrap_or_default();
            println!(
                "{}: {} run(s) of {} steps on {} in {:.1} s; wrote {} files to {}{peak}",
                file.display(),
                records.len(),
                steps,
                match backend {
                    Backend::Cpu => "cpu",
                    Backend::Gpu => "gpu",
                },
                started.elapsed().as_secs_f64(),
                written.len(),
                out.display()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_as_ranges_lists_and_single_seeds() {
        assert_eq!(parse_seeds("0..8").unwrap().0, (0..8).collect::<Vec<_>>());
        assert_eq!(parse_seeds("1,4,9").unwrap().0, vec![1, 4, 9]);
        assert_eq!(parse_seeds("7").unwrap().0, vec![7]);
        for bad in ["", "3..3", "8..2", "a", "-1", "0..5000", "1,1,1", "4,5,4"] {
            assert!(parse_seeds(bad).is_err(), "{bad} should be refused");
        }
    }
}
