//! Sweeps: the Cartesian product of up to four knobs' value lists, each cell the base scenario
//! with those values, reduced to one or more summaries: the numbers behind a heatmap.
//!
//! Cells are numbered row-major (the last axis varies fastest), run in chunks of
//! [`CHUNK_CELLS`], and each cell keeps only its summaries. A cell whose combination breaks a
//! joint rule (`rr` x `qa_renew_relative_multiplier` <= 1) has no value and says why; every
//! other cell runs.

use std::ops::Range;

use rayon::prelude::*;

use super::summary::{self, Stat, Summary, SummarySpec, SummaryValue};
use super::{AnalysisSeries, InvalidSpec, MAX_WORK_DAYS, Problems};
use crate::output::SimOutput;
use crate::params::{Knob, SimParams, ValidParams};
use crate::rules::Param;
use crate::simulator::Simulator;

/// Most axes.
pub const MAX_AXES: usize = 4;
/// Most cells.
pub const MAX_CELLS: usize = 100_000;
/// Cells per chunk.
pub const CHUNK_CELLS: usize = 32;
/// How many invalid cells an answer describes (it counts them all).
pub const MAX_INVALID_EXAMPLES: usize = 10;

/// A sweep as a caller writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The scenario every cell starts from.
    pub base: SimParams,
    /// The knobs and their values, outermost first.
    pub axes: Vec<(Param, Vec<f64>)>,
    /// What each cell computes.
    pub summaries: Vec<(String, SummarySpec)>,
}

impl SweepSpec {
    /// The summary of a sweep that names none: the lock ratio at the end of the forecast.
    pub fn default_summaries() -> Vec<(String, SummarySpec)> {
        vec![("lock_ratio_end".to_string(), SummarySpec::new(AnalysisSeries::LOCK_RATIO, Stat::End))]
    }
}

/// A sweep prepared on one simulator.
#[derive(Debug, Clone)]
pub struct Sweep {
    base: ValidParams,
    axes: Vec<(Param, Vec<f64>)>,
    shape: Vec<usize>,
    cells: usize,
    summaries: Vec<(String, Summary)>,
}

/// One cell's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// One value per summary.
    Values(Vec<SummaryValue>),
    /// The combination is invalid; why.
    Invalid(String),
}

/// What one chunk of cells produced.
#[derive(Debug, Clone)]
pub struct SweepChunk {
    cells: Range<usize>,
    results: Vec<Cell>,
}

/// The answer of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepResult {
    /// The knobs and values, outermost first.
    pub axes: Vec<(Param, Vec<f64>)>,
    /// The number of values per axis.
    pub shape: Vec<usize>,
    /// Per summary (in request order): its label and one value per cell, row-major
    /// (`None` for invalid cells).
    pub results: Vec<(String, Vec<Option<SummaryValue>>)>,
    /// How many cells are invalid.
    pub invalid_count: usize,
    /// The first invalid cells: their coordinates and why.
    pub invalid_examples: Vec<(Vec<usize>, String)>,
}

impl Sweep {
    /// Checks `spec` against `sim`, reporting every problem with its field path.
    pub fn prepare(sim: &Simulator, spec: &SweepSpec) -> Result<Sweep, InvalidSpec> {
        let mut problems = Problems::default();
        let base = super::validate_scenario(sim, &spec.base, "base", &mut problems);
        if spec.axes.is_empty() || spec.axes.len() > MAX_AXES {
            problems.push("axes", format!("{} axes; give 1 to {MAX_AXES} (limit MAX_AXES)", spec.axes.len()));
        }
        let mut seen = Vec::new();
        for (param, values) in &spec.axes {
            let field = format!("axes.{param}");
            if !Param::SCALAR_KNOBS.contains(param) {
                problems.push(
                    &field,
                    format!(
                        "not a knob that can be swept; knobs: {}",
                        Param::SCALAR_KNOBS.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
                    ),
                );
                continue;
            }
            if seen.contains(param) {
                problems.push(&field, "given twice");
            }
            seen.push(*param);
            if values.is_empty() {
                problems.push(&field, "an empty list; give at least one value");
            }
            let bounds = param.bounds().expect("a numeric knob");
            if let Some((i, v)) = values
                .iter()
                .enumerate()
                .find(|(_, v)| !bounds.contains(**v) || (param.is_integer() && v.fract() != 0.0))
            {
                let whole = if param.is_integer() { " (whole days)" } else { "" };
                problems.push(
                    format!("{field}[{i}]"),
                    format!("{v} is outside {param}'s range {}{whole}", bounds.describe()),
                );
            }
        }
        let shape: Vec<usize> = spec.axes.iter().map(|(_, v)| v.len()).collect();
        let cells = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n)).unwrap_or(usize::MAX);
        if cells > MAX_CELLS {
            problems.push("axes", format!("{cells} cells; at most {MAX_CELLS} (limit MAX_CELLS)"));
        }
        if spec.summaries.is_empty() {
            problems.push("summaries", "give at least one summary");
        }
        let Some(base) = base else {
            return Err(InvalidSpec(problems.0));
        };
        let f = base.forecast_length_days();
        let work = cells.saturating_mul(f);
        if cells <= MAX_CELLS && work > MAX_WORK_DAYS {
            problems.push(
                "axes",
                format!(
                    "{cells} cells x {f} forecast days = {work}; at most {MAX_WORK_DAYS} (limit MAX_WORK_DAYS): \
                     fewer values or a shorter forecast"
                ),
            );
        }
        let summaries = summary::prepare_all(sim, &spec.summaries, f, &mut problems);
        problems.finish(|| Sweep { base, axes: spec.axes.clone(), shape, cells, summaries })
    }

    /// The base scenario.
    pub fn base(&self) -> &ValidParams {
        &self.base
    }

    /// The number of cells.
    pub fn cells(&self) -> usize {
        self.cells
    }

    /// The labelled summaries.
    pub fn summaries(&self) -> &[(String, Summary)] {
        &self.summaries
    }

    /// The cell ranges of the chunks, in order.
    pub fn chunks(&self) -> Vec<Range<usize>> {
        (0..self.cells).step_by(CHUNK_CELLS).map(|i| i..(i + CHUNK_CELLS).min(self.cells)).collect()
    }

    /// The coordinates of cell `c` (row-major, last axis fastest).
    pub fn coordinates(&self, mut c: usize) -> Vec<usize> {
        let mut coords = vec![0; self.shape.len()];
        for (k, n) in self.shape.iter().enumerate().rev() {
            coords[k] = c % n;
            c /= n;
        }
        coords
    }

    /// The parameters of cell `c`, or why the combination is invalid.
    pub fn cell_params(&self, c: usize) -> Result<ValidParams, String> {
        let changes = self
            .coordinates(c)
            .into_iter()
            .zip(&self.axes)
            .map(|(i, (param, values))| (*param, Knob::Scalar(values[i])))
            .collect();
        let mut params = self.base.clone();
        params.set(changes).map_err(|e| e.to_string())?;
        Ok(params)
    }

    /// Runs the cells of `range` into `out` (reused).
    pub fn run_chunk(&self, sim: &Simulator, range: Range<usize>, out: &mut SimOutput) -> SweepChunk {
        let results = range
            .clone()
            .map(|c| match self.cell_params(c) {
                Ok(params) => {
                    sim.simulate_into(&params, out);
                    Cell::Values(self.summaries.iter().map(|(_, s)| s.eval(out)).collect())
                }
                Err(why) => Cell::Invalid(why),
            })
            .collect();
        SweepChunk { cells: range, results }
    }

    /// Combines the chunks (all of them, in cell order) into the answer.
    pub fn finish(&self, chunks: Vec<SweepChunk>) -> SweepResult {
        debug_assert!(chunks.iter().flat_map(|c| c.cells.clone()).eq(0..self.cells));
        let mut results: Vec<(String, Vec<Option<SummaryValue>>)> =
            self.summaries.iter().map(|(label, _)| (label.clone(), Vec::with_capacity(self.cells))).collect();
        let mut invalid_count = 0;
        let mut invalid_examples = Vec::new();
        for chunk in chunks {
            for (c, cell) in chunk.cells.zip(chunk.results) {
                match cell {
                    Cell::Values(values) => {
                        for ((_, column), v) in results.iter_mut().zip(values) {
                            column.push(Some(v));
                        }
                    }
                    Cell::Invalid(why) => {
                        invalid_count += 1;
                        if invalid_examples.len() < MAX_INVALID_EXAMPLES {
                            invalid_examples.push((self.coordinates(c), why));
                        }
                        for (_, column) in &mut results {
                            column.push(None);
                        }
                    }
                }
            }
        }
        SweepResult {
            axes: self.axes.clone(),
            shape: self.shape.clone(),
            results,
            invalid_count,
            invalid_examples,
        }
    }

    /// Runs the whole sweep on all cores (rayon's pool), for library users.
    pub fn run(&self, sim: &Simulator) -> SweepResult {
        let chunks = self
            .chunks()
            .into_par_iter()
            .map_init(SimOutput::default, |out, r| self.run_chunk(sim, r, out))
            .collect();
        self.finish(chunks)
    }
}
