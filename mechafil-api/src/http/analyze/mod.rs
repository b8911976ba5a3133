//! `POST /analyze/{ensemble,sweep,solve,sensitivity,compare}`: the core's analyses over HTTP
//! (docs/API.md, "Analyses").
//!
//! A request goes through three steps, each a job of the CPU budget ([`super::cpu`]):
//! [`prepare`] parses the body ([`parse`]) and has the core check it against the served
//! snapshot (every bad field a 422 with its path); [`Prepared::run_unit`] runs one chunk of
//! members or cells (the small analyses are one unit), the chunks scheduled by
//! `CpuBudget::run_chunks` so other requests interleave and a disconnect stops the work;
//! [`Prepared::render`] combines the chunks and writes the JSON ([`render`]). What the chunks
//! keep is reserved from the budget's shared pool first, so large analyses take turns. The offline CLI
//! (`mechafil-api analyze`) runs the same three steps in one thread ([`run_offline`]), so both
//! print the same bytes.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use mechafil_core::analysis::InvalidSpec;
use mechafil_core::analysis::compare::Compare;
use mechafil_core::analysis::ensemble::{Ensemble, EnsembleChunk};
use mechafil_core::analysis::sensitivity::{Sensitivity, SensitivitySpec};
use mechafil_core::analysis::solve::{Solve, SolveResult};
use mechafil_core::analysis::sweep::{Sweep, SweepChunk};
use mechafil_core::analysis::{compare::CompareResult, sensitivity::SensitivityResult};
use mechafil_core::{SimOutput, Simulator};
use serde_json::{Map, Value};

use super::body::JsonObject;
use super::cpu::ANALYSIS_TIME_LIMIT;
use super::error::{ApiError, FieldError};
use super::pinning::{Answering, Start};
use super::state::{AppState, Served};

pub mod parse;
mod render;

use parse::{Fields, Given};

/// The five analyses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/analyze/ensemble`.
    Ensemble,
    /// `/analyze/sweep`.
    Sweep,
    /// `/analyze/solve`.
    Solve,
    /// `/analyze/sensitivity`.
    Sensitivity,
    /// `/analyze/compare`.
    Compare,
}

impl Kind {
    /// Every analysis.
    pub const ALL: [Kind; 5] = [Kind::Ensemble, Kind::Sweep, Kind::Solve, Kind::Sensitivity, Kind::Compare];

    /// Its name (the last part of its path).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Ensemble => "ensemble",
            Kind::Sweep => "sweep",
            Kind::Solve => "solve",
            Kind::Sensitivity => "sensitivity",
            Kind::Compare => "compare",
        }
    }

    /// Looks an analysis up by name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// An analysis checked against the served snapshot, ready to run.
#[derive(Debug)]
pub enum Prepared {
    /// An ensemble and the base fields given.
    Ensemble(Ensemble, Given),
    /// A sweep.
    Sweep(Sweep, Given),
    /// A goal seek.
    Solve(Solve, Given),
    /// A sensitivity analysis and its move.
    Sensitivity(Sensitivity, Given, f64),
    /// A comparison and the fields each scenario gave.
    Compare(Compare, Vec<(String, Given)>),
}

/// What one unit of work produced.
#[derive(Debug)]
pub enum Partial {
    /// A chunk of ensemble members.
    Ensemble(EnsembleChunk),
    /// A chunk of sweep cells.
    Sweep(SweepChunk),
    /// A whole goal seek.
    Solve(SolveResult),
    /// A whole sensitivity analysis.
    Sensitivity(SensitivityResult),
    /// A whole comparison.
    Compare(CompareResult),
}

fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::fields(errors)
}

fn spec_error(err: InvalidSpec) -> ApiError {
    invalid(err.0.into_iter().map(|e| FieldError::new(e.field, e.message)).collect())
}

/// Parses `body` and checks it against the served snapshot (422 naming every bad field).
pub fn prepare(served: &Served, kind: Kind, body: &Map<String, Value>) -> Result<Prepared, ApiError> {
    let sim = &served.simulator;
    let mut fields = Fields::default();
    // Parse problems and the core's checks are reported together, so one answer names every
    // bad field; a field that failed to parse is left at its default for the core.
    macro_rules! finish {
        ($result:expr) => {
            match $result {
                Ok(prepared) if fields.errors.is_empty() => Ok(prepared),
                Ok(_) => Err(invalid(fields.errors)),
                Err(err) => {
                    fields.errors.extend(err.0.into_iter().map(|e| FieldError::new(e.field, e.message)));
                    Err(invalid(fields.errors))
                }
            }
        };
    }
    match kind {
        Kind::Ensemble => {
            let (spec, given) = parse::ensemble(body, &mut fields);
            finish!(Ensemble::prepare(sim, &spec).map(|a| Prepared::Ensemble(a, given)))
        }
        Kind::Sweep => {
            let (spec, given) = parse::sweep(body, &mut fields);
            finish!(Sweep::prepare(sim, &spec).map(|a| Prepared::Sweep(a, given)))
        }
        Kind::Solve => {
            let (spec, given) = parse::solve(body, &mut fields);
            match spec {
                Some(spec) => finish!(Solve::prepare(sim, &spec).map(|a| Prepared::Solve(a, given))),
                None => Err(invalid(fields.errors)),
            }
        }
        Kind::Sensitivity => {
            let (spec, given) = parse::sensitivity(body, &mut fields, |base| {
                // The default summaries depend on the forecast length (the 1-year ROI needs a year).
                let f = sim
                    .validate(base)
                    .map_or(mechafil_core::params::DEFAULT_FORECAST_DAYS, |p| p.forecast_length_days());
                SensitivitySpec::default_summaries(f)
            });
            let move_pct = spec.move_pct;
            finish!(Sensitivity::prepare(sim, &spec).map(|a| Prepared::Sensitivity(a, given, move_pct)))
        }
        Kind::Compare => {
            let (spec, given) = parse::compare(body, &mut fields);
            finish!(Compare::prepare(sim, &spec).map(|a| Prepared::Compare(a, given)))
        }
    }
}

impl Prepared {
    /// About how many numbers the chunks' results hold until the answer is rendered (the
    /// ensemble's member x date matrices dominate; a sweep cell is its summaries plus overhead).
    pub fn values_held(&self) -> usize {
        match self {
            Prepared::Ensemble(a, _) => {
                let dates: usize = a.outputs().iter().map(|o| o.sampling.count).sum();
                a.members() * (dates + 2 * a.summaries().len())
            }
            Prepared::Sweep(a, _) => a.cells() * (2 * a.summaries().len() + 4),
            _ => 0,
        }
    }

    /// The units of work: member or cell ranges, or one unit for the small analyses.
    pub fn units(&self) -> Vec<Range<usize>> {
        match self {
            Prepared::Ensemble(a, _) => a.chunks(),
            Prepared::Sweep(a, _) => a.chunks(),
            // One unit: the range of its one "member".
            _ => std::iter::once(0..1).collect(),
        }
    }

    /// Runs one unit into `out`.
    pub fn run_unit(
        &self,
        sim: &Simulator,
        unit: Range<usize>,
        out: &mut SimOutput,
    ) -> Result<Partial, ApiError> {
        Ok(match self {
            Prepared::Ensemble(a, _) => Partial::Ensemble(a.run_chunk(sim, unit, out).map_err(spec_error)?),
            Prepared::Sweep(a, _) => Partial::Sweep(a.run_chunk(sim, unit, out)),
            Prepared::Solve(a, _) => Partial::Solve(a.run(sim, out)),
            Prepared::Sensitivity(a, _, _) => Partial::Sensitivity(a.run(sim, out)),
            Prepared::Compare(a, _) => Partial::Compare(a.run(sim, out)),
        })
    }

    /// Combines the units' results (in unit order) and writes the answer.
    pub fn render(&self, served: &Served, partials: Vec<Partial>) -> Vec<u8> {
        fn only<T>(mut partials: Vec<Partial>, pick: impl Fn(Partial) -> Option<T>) -> T {
            pick(partials.pop().expect("one unit")).expect("the unit of this analysis")
        }
        match self {
            Prepared::Ensemble(a, given) => {
                let chunks = partials
                    .into_iter()
                    .map(|p| match p {
                        Partial::Ensemble(c) => c,
                        other => unreachable!("an ensemble ran {other:?}"),
                    })
                    .collect();
                render::ensemble(served, a, given, &a.finish(chunks))
            }
            Prepared::Sweep(a, given) => {
                let chunks = partials
                    .into_iter()
                    .map(|p| match p {
                        Partial::Sweep(c) => c,
                        other => unreachable!("a sweep ran {other:?}"),
                    })
                    .collect();
                render::sweep(served, a, given, &a.finish(chunks))
            }
            Prepared::Solve(a, given) => {
                let result = only(partials, |p| if let Partial::Solve(r) = p { Some(r) } else { None });
                render::solve(served, a, given, &result)
            }
            Prepared::Sensitivity(a, given, move_pct) => {
                let result = only(partials, |p| if let Partial::Sensitivity(r) = p { Some(r) } else { None });
                render::sensitivity(served, a, given, &result, *move_pct)
            }
            Prepared::Compare(a, given) => {
                let result = only(partials, |p| if let Partial::Compare(r) = p { Some(r) } else { None });
                render::compare(served, a, given, &result)
            }
        }
    }
}

/// The whole analysis in the calling thread: what the CLI prints, byte for byte what the
/// endpoint answers.
pub fn run_offline(served: &Served, kind: Kind, body: &Map<String, Value>) -> Result<Vec<u8>, ApiError> {
    let prepared = prepare(served, kind, body)?;
    let partials = served.with_output(|out| {
        prepared
            .units()
            .into_iter()
            .map(|unit| prepared.run_unit(&served.simulator, unit, out))
            .collect::<Result<Vec<_>, _>>()
    })?;
    Ok(prepared.render(served, partials))
}

/// The handler of `POST /analyze/<kind>`.
pub async fn handle(
    state: AppState,
    kind: Kind,
    headers: HeaderMap,
    mut body: JsonObject,
) -> Result<Response, ApiError> {
    let deadline = Instant::now() + ANALYSIS_TIME_LIMIT;
    let answering = match Answering::start_post(&state, &headers, &mut body).await? {
        Start::Answer(answering) => answering,
        Start::NotModified(response) => return Ok(response),
    };
    let served = Arc::clone(&answering.served);
    let for_prepare = Arc::clone(&served);
    let prepared = Arc::new(state.run_cpu(move || prepare(&for_prepare, kind, &body.0)).await??);
    let _room = state.cpu().reserve_values(prepared.values_held()).await?;
    let units = prepared.units();
    let (for_units, prepared_units) = (Arc::clone(&served), Arc::clone(&prepared));
    let partials = state
        .cpu()
        .run_chunks(units, state.cpu().permits(), deadline, move |unit| {
            for_units.with_output(|out| prepared_units.run_unit(&for_units.simulator, unit, out))
        })
        .await?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let body = state.cpu().run_admitted(move || prepared.render(&served, partials)).await?;
    Ok(answering.respond(super::json_response(body)))
}

/// `POST /analyze/ensemble`.
pub async fn ensemble(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    handle(state, Kind::Ensemble, headers, body).await
}

/// `POST /analyze/sweep`.
pub async fn sweep(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    handle(state, Kind::Sweep, headers, body).await
}

/// `POST /analyze/solve`.
pub async fn solve(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    handle(state, Kind::Solve, headers, body).await
}

/// `POST /analyze/sensitivity`.
pub async fn sensitivity(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    handle(state, Kind::Sensitivity, headers, body).await
}

/// `POST /analyze/compare`.
pub async fn compare(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    handle(state, Kind::Compare, headers, body).await
}
