//! # mechafil-core
//!
//! The MechaFil model of Filecoin's economics (power, vesting, minting, pledge locking,
//! circulating supply), reproducing the reference mechafil-jax model to ~1e-12 relative.
//! `shared/spec/MODEL.md` is the specification; each stage has its own (private) module, named
//! after its MODEL.md section: `power` (1), `vesting` (3), `minting` (4), `gamma` (5), `supply`
//! (6), `derived` (7). [`simulator`] ties them together.
//!
//! The crate is pure: no I/O, no async, no wire formats. Its plain data types derive serde
//! so others can store them; [`reference`](mod@reference) describes the reference service's JSON layout.
//!
//! ```no_run
//! # fn demo(snapshot: mechafil_core::Snapshot) -> Result<(), Box<dyn std::error::Error>> {
//! use mechafil_core::{SimParams, Simulator};
//! let sim = Simulator::new(snapshot)?;                  // validate + precompute once
//! let out = sim.simulate(&SimParams::default())?;       // 10 years, snapshot defaults
//! let roi = out.get("1y_sector_roi")?;
//! # Ok(()) }
//! ```

pub mod analysis;
pub mod constants;
mod derived;
mod gamma;
mod minting;
mod nanmath;
pub mod output;
pub mod params;
mod power;
pub mod reference;
pub mod rules;
pub mod sampling;
pub mod simulator;
pub mod snapshot;
mod supply;
pub mod tolerance;
mod vesting;

#[cfg(feature = "test-support")]
pub mod test_support;

pub use output::{Axis, SeriesName, SimOutput, UnknownSeries};
pub use params::{InvalidParams, Knob, MAX_FORECAST_DAYS, ParamError, ParamProblem, SimParams, ValidParams};
pub use reference::{ImportError, ReferenceSnapshot};
pub use rules::{Bounds, Param, ParamDefault, ParamKind, ParamRule};
pub use simulator::{BatchError, SimError, Simulator, simulate};
pub use snapshot::{SmoothedMetrics, Snapshot, SnapshotError};
