//! Runs the model: [`Simulator`] holds a validated snapshot with everything that does not
//! depend on the parameters precomputed, and runs one scenario or a batch of them.
//!
//! Per run the work is the two power forecasts, the minting of the forecast days and the
//! supply pass: O(S) with no allocation when the output buffer is reused.

use std::sync::Arc;

use ndarray::Array2;
use rayon::prelude::*;

use crate::constants::{DISBURSED_RESERVE, NETWORK_START, PIB_PER_EIB};
use crate::derived;
use crate::gamma;
use crate::minting::{self, MintingColumns};
use crate::output::{DAILY_SLOTS, SHARED_SLOTS, SeriesName, SharedDaily, SimOutput};
use crate::params::{InvalidParams, MAX_FORECAST_DAYS, SimParams, ValidParams};
use crate::power::{self, PowerForecast};
use crate::snapshot::{Snapshot, SnapshotError};
use crate::supply::{SupplyColumns, SupplyInputs, SupplyPrefix};
use crate::vesting::Vesting;

/// A snapshot prepared for fast repeated simulation.
///
/// ```no_run
/// # fn demo(snapshot: mechafil_core::Snapshot) -> Result<(), Box<dyn std::error::Error>> {
/// use mechafil_core::{SeriesName, SimParams, Simulator};
/// let sim = Simulator::new(snapshot)?;
/// let out = sim.simulate(&SimParams { forecast_length_days: Some(365), ..Default::default() })?;
/// let supply = out.series(SeriesName::CircSupply);
/// println!("circulating supply on {}: {}", out.date_at(SeriesName::CircSupply, supply.len() - 1), supply[supply.len() - 1]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Simulator {
    snapshot: Snapshot,
    prepared: Prepared,
}

/// Why [`simulate`] could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The snapshot is inconsistent.
    #[error("invalid snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    /// The parameters are invalid.
    #[error(transparent)]
    Params(#[from] InvalidParams),
}

/// Validates `snapshot` and `params` and runs one simulation.
///
/// For repeated runs on one snapshot, build a [`Simulator`] once instead.
pub fn simulate(snapshot: &Snapshot, params: &SimParams) -> Result<SimOutput, SimError> {
    snapshot.validate()?;
    let valid = params.validate(snapshot)?;
    let prepared = Prepared::new(snapshot, valid.forecast_length_days);
    let mut out = SimOutput::default();
    run(snapshot, &prepared, &valid, &mut out);
    Ok(out)
}

impl Simulator {
    /// Validates `snapshot` and precomputes the parameter-independent series for forecasts up
    /// to [`MAX_FORECAST_DAYS`].
    pub fn new(snapshot: Snapshot) -> Result<Self, SnapshotError> {
        snapshot.validate()?;
        let prepared = Prepared::new(&snapshot, MAX_FORECAST_DAYS);
        Ok(Simulator { snapshot, prepared })
    }

    /// The snapshot this simulator runs on.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Validates `params` against this snapshot.
    pub fn validate(&self, params: &SimParams) -> Result<ValidParams, InvalidParams> {
        params.validate(&self.snapshot)
    }

    /// Validates `params` and runs one simulation.
    pub fn simulate(&self, params: &SimParams) -> Result<SimOutput, InvalidParams> {
        let valid = self.validate(params)?;
        let mut out = SimOutput::default();
        self.simulate_into(&valid, &mut out);
        Ok(out)
    }

    /// An empty output whose memory is already sized (and resident) for the longest forecast
    /// this simulator accepts. A long-running service that keeps a few of these and passes
    /// them to [`Simulator::simulate_into`] never grows, whatever forecast lengths it sees.
    pub fn preallocated_output(&self) -> SimOutput {
        let mut out = SimOutput::default();
        let max_days = self.prepared.baseline.len();
        let max_forecast = max_days + 1 - self.snapshot.history_len();
        out.reserve_resident(max_days, max_forecast, scratch_len(max_forecast, max_days));
        out
    }

    /// Runs one simulation into `out`, reusing its allocation.
    ///
    /// `params` must have been validated against this simulator's snapshot
    /// ([`Simulator::validate`]); validation against another snapshot may not fit this one.
    pub fn simulate_into(&self, params: &ValidParams, out: &mut SimOutput) {
        run(&self.snapshot, &self.prepared, params, out);
    }

    /// Runs every scenario of `params` on all cores and maps each result through `f`
    /// (called with the scenario's index), keeping memory bounded: each worker thread reuses
    /// one output buffer, so `f` should extract what it needs rather than clone the output.
    pub fn simulate_batch<T, F>(&self, params: &[SimParams], f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(usize, Result<&SimOutput, &InvalidParams>) -> T + Sync,
    {
        params
            .par_iter()
            .enumerate()
            .map_init(SimOutput::default, |out, (i, p)| match self.validate(p) {
                Ok(valid) => {
                    self.simulate_into(&valid, out);
                    f(i, Ok(out))
                }
                Err(err) => f(i, Err(&err)),
            })
            .collect()
    }
}

/// Why [`Simulator::batch_matrix`] could not build its matrix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// A scenario's parameters are invalid.
    #[error("scenario {index}: {error}")]
    Invalid {
        /// Position of the scenario in the batch.
        index: usize,
        /// Its problems.
        error: InvalidParams,
    },
    /// Scenarios give the series different lengths (different forecast lengths).
    #[error(
        "scenario {index} gives {name} {len} values but scenario 0 gives {expected}; use one forecast length"
    )]
    Ragged {
        /// Position of the first scenario that differs.
        index: usize,
        /// The series.
        name: SeriesName,
        /// Its length there.
        len: usize,
        /// The length in scenario 0.
        expected: usize,
    },
}

impl Simulator {
    /// One series across a batch of scenarios as a matrix: row `i` is scenario `i`, column `j`
    /// the series' `j`-th day (dates: [`SimOutput::first_date`] of any scenario). Runs on all
    /// cores like [`Simulator::simulate_batch`]; every scenario must be valid and have the same
    /// forecast length.
    ///
    /// ```no_run
    /// # fn demo(sim: mechafil_core::Simulator) -> Result<(), mechafil_core::simulator::BatchError> {
    /// use mechafil_core::{Knob, SeriesName, SimParams};
    /// let sweep: Vec<SimParams> = (0..=10)
    ///     .map(|i| SimParams { rr: Some(Knob::Scalar(i as f64 / 10.0)), ..Default::default() })
    ///     .collect();
    /// let supply = sim.batch_matrix(&sweep, SeriesName::CircSupply)?;   // 11 x S
    /// let last_day = supply.column(supply.ncols() - 1);                   // across renewal rates
    /// # Ok(()) }
    /// ```
    pub fn batch_matrix(&self, params: &[SimParams], name: SeriesName) -> Result<Array2<f64>, BatchError> {
        let rows = self.simulate_batch(params, |index, result| match result {
            Ok(out) => Ok(out.series(name).to_vec()),
            Err(error) => Err(BatchError::Invalid { index, error: error.clone() }),
        });
        let rows: Vec<Vec<f64>> = rows.into_iter().collect::<Result<_, _>>()?;
        let expected = rows.first().map_or(0, Vec::len);
        if let Some((index, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != expected) {
            return Err(BatchError::Ragged { index, name, len: row.len(), expected });
        }
        let flat: Vec<f64> = rows.into_iter().flatten().collect();
        Ok(Array2::from_shape_vec((params.len(), expected), flat).expect("rows of equal length"))
    }
}

/// Parameter-independent series, for simulations of up to `max_days` days.
#[derive(Debug, Clone)]
struct Prepared {
    /// Day numbers, vesting, simple minting, disbursed reserve.
    shared: Arc<SharedDaily>,
    /// The computed baseline (a run may replace it).
    baseline: Vec<f64>,
    /// Minting over the history days (0..H) with the computed baseline.
    history_minting: [Vec<f64>; 5],
    /// `cumsum(capped_power)` through current_date, to continue the forecast from.
    history_cum_capped_raw: f64,
    /// The supply pass over days `0 .. H - 1` (before current_date, whose lock target, gamma
    /// and renewal rate are already the forecast's), which depends on the parameters only
    /// through `use_available_supply`: indexed by it. Valid with the computed baseline.
    history_supply: [SupplyPrefix; 2],
}

impl Prepared {
    fn new(snapshot: &Snapshot, max_forecast: usize) -> Prepared {
        let h = snapshot.history_len();
        let max_days = h - 1 + max_forecast;
        let start_day = (snapshot.start_date - NETWORK_START).num_days();
        let days: Vec<f64> = (0..max_days).map(|i| (start_day + i as i64) as f64).collect();
        let vesting = Vesting::compute(&days, snapshot.start_vested_amt);
        let baseline = minting::baseline(snapshot.init_baseline_eib, max_days);
        let cum_simple = minting::cum_simple_reward(&days);
        let mut history_minting: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; h]);
        let [capped, cum_capped, network_time, cum_baseline, cum_network] = &mut history_minting;
        let history_cum_capped_raw = MintingColumns {
            capped_power: capped,
            cum_capped_power: cum_capped,
            network_time,
            cum_baseline_reward: cum_baseline,
            cum_network_reward: cum_network,
        }
        .extend(
            0,
            0.0,
            snapshot.zero_cum_capped_power_eib,
            &baseline,
            &snapshot.historical_raw_power_eib,
            &cum_simple,
        );
        let history_supply = [false, true].map(|use_available_supply| {
            history_supply_prefix(
                snapshot,
                &history_minting[4],
                &baseline,
                &vesting.total_vest,
                use_available_supply,
            )
        });
        // Order: the `Shared` slots of `SeriesName`.
        let mut columns = Vec::with_capacity(SHARED_SLOTS);
        columns.push(days);
        columns.extend(vesting.tranches);
        columns.push(vesting.total_day_vest);
        columns.push(vesting.total_vest);
        columns.push(cum_simple);
        columns.push(vec![DISBURSED_RESERVE; max_days]);
        debug_assert_eq!(columns.len(), SHARED_SLOTS);
        Prepared {
            shared: Arc::new(SharedDaily { columns }),
            baseline,
            history_minting,
            history_cum_capped_raw,
            history_supply,
        }
    }

    /// A shared series over the whole prepared horizon.
    fn series(&self, name: SeriesName) -> &[f64] {
        let slot = name.shared_slot().expect("a parameter-independent series");
        &self.shared.columns[slot]
    }
}

/// Forecast-length working vectors (index 0 = current_date) and two daily ones.
const FORECAST_SCRATCH: usize = 11;
const DAILY_SCRATCH: usize = 2;

/// The supply pass over the history days before current_date (see `Prepared::history_supply`).
fn history_supply_prefix(
    snapshot: &Snapshot,
    cum_network_reward: &[f64],
    baseline: &[f64],
    total_vest: &[f64],
    use_available_supply: bool,
) -> SupplyPrefix {
    let h = snapshot.history_len();
    let c = h - 1;
    let mut day_network_reward = vec![0.0; h];
    minting::day_network_reward(cum_network_reward, &mut day_network_reward);
    // Gamma of the history days (one forecast day appended, never read here).
    let mut gamma = vec![0.0; h];
    gamma::fill_gamma(snapshot.current_date, h, &mut gamma);
    let lock_target = vec![crate::constants::HISTORICAL_LOCK_TARGET; c];
    SupplyInputs {
        // Re-expirations start releasing at current_date, after these days.
        current_idx: c,
        duration: 1,
        use_available_supply,
        circ_supply_zero: snapshot.circ_supply_zero,
        locked_fil_zero: snapshot.locked_fil_zero,
        locked_reward_zero: snapshot.locked_reward_zero,
        // The burn history covers every history day.
        daily_burn: 0.0,
        burnt_fil_vec: &snapshot.burnt_fil_vec,
        known_pledge_release: &snapshot.known_scheduled_pledge_release_full_vec,
        day_network_reward: &day_network_reward,
        cum_network_reward,
        total_vest,
        network_qap_eib: &snapshot.historical_qa_power_eib,
        network_baseline_eib: baseline,
        lock_target: &lock_target,
        gamma: &gamma,
        renewal_rate: &snapshot.historical_renewal_rate,
        day_onboarded_qap_pib: &snapshot.historical_onboarded_qa_power_pib,
        day_renewed_qap_pib: &snapshot.historical_renewed_qa_power_pib,
    }
    .prefix(c)
}

/// Scratch length for `f` forecast days and `s` simulation days.
fn scratch_len(f: usize, s: usize) -> usize {
    FORECAST_SCRATCH * f + DAILY_SCRATCH * s
}

fn run(snapshot: &Snapshot, prepared: &Prepared, params: &ValidParams, out: &mut SimOutput) {
    // The scratch lives in the output so that reusing an output reuses it too.
    let mut scratch = std::mem::take(&mut out.scratch.0);
    run_with_scratch(snapshot, prepared, params, out, &mut scratch);
    out.scratch.0 = scratch;
}

fn run_with_scratch(
    snapshot: &Snapshot,
    prepared: &Prepared,
    params: &ValidParams,
    out: &mut SimOutput,
    scratch: &mut Vec<f64>,
) {
    let h = snapshot.history_len();
    let c = h - 1;
    let f = params.forecast_length_days;
    let s = c + f;
    debug_assert!(s <= prepared.baseline.len(), "params were validated for a longer horizon");
    out.reset(snapshot.start_date, snapshot.current_date, s, f, &prepared.shared);
    // A reused output may already hold this snapshot's history days (see `SimOutput::history`).
    let custom_baseline = params.baseline_function_eib.is_some();
    let history_in_place = !custom_baseline && out.history == Some(params.use_available_supply);

    // Every scratch element is written before it is read, so stale values are harmless.
    scratch.resize(scratch_len(f, s), 0.0);
    let (forecast_scratch, daily_scratch) = scratch.split_at_mut(FORECAST_SCRATCH * f);
    let mut fs = forecast_scratch.chunks_exact_mut(f);
    let mut next = || fs.next().expect("scratch sized for its vectors");
    let (rbp, rr, fpr, fil_plus_m, qa_mult, lock_target) = (next(), next(), next(), next(), next(), next());
    let (qa_onboard, rb_renewed, qa_renewed, rb_total, qa_total) = (next(), next(), next(), next(), next());
    let (lock_target_full, gamma) = daily_scratch.split_at_mut(s);

    // 1. Power forecast.
    params.rbp.fill(rbp);
    params.rr.fill(rr);
    params.fpr.fill(fpr);
    params.fil_plus_m.fill(fil_plus_m);
    params.qa_renew_relative_multiplier.fill(qa_mult);
    params.lock_target.fill(lock_target);
    for k in 0..f {
        qa_onboard[k] = (1.0 + (fil_plus_m[k] - 1.0) * fpr[k]) * rbp[k];
    }
    let (daily, forecast, one_year) = out.blocks_mut();
    let (rb_se, qa_se) = forecast.split_at_mut(f);
    let duration = params.sector_duration_days;
    PowerForecast {
        power_zero: snapshot.rb_power_zero,
        known_expire: &snapshot.rb_known_scheduled_expire_vec,
        onboard: rbp,
        renewal_rate: rr,
        renew_mult: None,
        duration,
    }
    .run(rb_se, rb_renewed, rb_total);
    PowerForecast {
        power_zero: snapshot.qa_power_zero,
        known_expire: &snapshot.qa_known_scheduled_expire_vec,
        onboard: qa_onboard,
        renewal_rate: rr,
        renew_mult: Some(qa_mult),
        duration,
    }
    .run(qa_se, qa_renewed, qa_total);
    power::cap_qa_power(qa_total, rb_total, fil_plus_m);

    // 2. Full daily series: history, then the forecast without its last day.
    let cols: [&mut [f64]; DAILY_SLOTS] = daily
        .chunks_exact_mut(s)
        .collect::<Vec<_>>()
        .try_into()
        .expect("the daily block holds DAILY_SLOTS series");
    let [
        rb_total_power_eib,
        qa_total_power_eib,
        rb_day_onboarded,
        rb_day_renewed,
        qa_day_onboarded,
        qa_day_renewed,
        full_renewal_rate,
        baseline,
        capped_power,
        cum_capped_power,
        network_time,
        cum_baseline_reward,
        cum_network_reward,
        day_network_reward,
        circ_supply,
        available_supply,
        network_gas_burn,
        day_locked_pledge,
        day_renewed_pledge,
        network_locked_pledge,
        network_locked,
        network_locked_reward,
        day_pledge_per_qap,
        day_rewards_per_sector,
    ] = cols;
    append_eib(rb_total_power_eib, &snapshot.historical_raw_power_eib, rb_total, history_in_place);
    append_eib(qa_total_power_eib, &snapshot.historical_qa_power_eib, qa_total, history_in_place);
    append(rb_day_onboarded, &snapshot.historical_onboarded_rb_power_pib, rbp, history_in_place);
    append(rb_day_renewed, &snapshot.historical_renewed_rb_power_pib, rb_renewed, history_in_place);
    append(qa_day_onboarded, &snapshot.historical_onboarded_qa_power_pib, qa_onboard, history_in_place);
    append(qa_day_renewed, &snapshot.historical_renewed_qa_power_pib, qa_renewed, history_in_place);
    append(full_renewal_rate, &snapshot.historical_renewal_rate, rr, history_in_place);

    // 3. Vesting and simple minting: shared, precomputed.
    let total_vest = &prepared.series(SeriesName::TotalVest)[..s];
    let cum_simple = &prepared.series(SeriesName::CumSimpleReward)[..s];

    // 4. Baseline and minting: the history part is precomputed unless the baseline is replaced.
    let mut minting = MintingColumns {
        capped_power,
        cum_capped_power,
        network_time,
        cum_baseline_reward,
        cum_network_reward,
    };
    match &params.baseline_function_eib {
        Some(custom) => {
            baseline.copy_from_slice(custom);
            minting.extend(
                0,
                0.0,
                snapshot.zero_cum_capped_power_eib,
                baseline,
                rb_total_power_eib,
                cum_simple,
            );
        }
        None => {
            if !history_in_place {
                baseline.copy_from_slice(&prepared.baseline[..s]);
                let [a, b, c_, d, e] = &prepared.history_minting;
                minting.capped_power[..h].copy_from_slice(a);
                minting.cum_capped_power[..h].copy_from_slice(b);
                minting.network_time[..h].copy_from_slice(c_);
                minting.cum_baseline_reward[..h].copy_from_slice(d);
                minting.cum_network_reward[..h].copy_from_slice(e);
            }
            minting.extend(
                h,
                prepared.history_cum_capped_raw,
                snapshot.zero_cum_capped_power_eib,
                baseline,
                rb_total_power_eib,
                cum_simple,
            );
        }
    }
    minting::day_network_reward(minting.cum_network_reward, day_network_reward);

    // 5. Lock target and gamma.
    gamma::fill_lock_target(h, lock_target, lock_target_full);
    gamma::fill_gamma(snapshot.current_date, h, gamma);

    // 6. Supply and locking: the days before current_date are precomputed unless the
    // baseline is replaced.
    let supply = SupplyInputs {
        current_idx: c,
        duration,
        use_available_supply: params.use_available_supply,
        circ_supply_zero: snapshot.circ_supply_zero,
        locked_fil_zero: snapshot.locked_fil_zero,
        locked_reward_zero: snapshot.locked_reward_zero,
        daily_burn: snapshot.daily_burnt_fil * params.burn_boost,
        burnt_fil_vec: &snapshot.burnt_fil_vec,
        known_pledge_release: &snapshot.known_scheduled_pledge_release_full_vec,
        day_network_reward,
        cum_network_reward: minting.cum_network_reward,
        total_vest,
        network_qap_eib: qa_total_power_eib,
        network_baseline_eib: baseline,
        lock_target: lock_target_full,
        gamma,
        renewal_rate: full_renewal_rate,
        day_onboarded_qap_pib: qa_day_onboarded,
        day_renewed_qap_pib: qa_day_renewed,
    };
    let mut columns = SupplyColumns {
        circ_supply,
        available_supply,
        network_gas_burn,
        day_locked_pledge,
        day_renewed_pledge,
        network_locked_pledge,
        network_locked,
        network_locked_reward,
    };
    if custom_baseline {
        supply.run(&mut columns);
    } else {
        let prefix = &prepared.history_supply[usize::from(params.use_available_supply)];
        let carry = if history_in_place { prefix.carry } else { columns.copy_prefix(prefix) };
        supply.run_from(c, carry, &mut columns);
    }
    let SupplyColumns { day_locked_pledge, day_renewed_pledge, .. } = columns;

    // 7. Derived per-sector series.
    derived::day_pledge_per_qap(day_locked_pledge, day_renewed_pledge, qa_day_onboarded, day_pledge_per_qap);
    derived::day_rewards_per_sector(day_network_reward, qa_total_power_eib, day_rewards_per_sector);
    let (one_year_return, one_year_roi) = one_year.split_at_mut(one_year.len() / 2);
    derived::one_year_sums(day_rewards_per_sector, one_year_return);
    derived::divide(one_year_return, &day_pledge_per_qap[..one_year_return.len()], one_year_roi);
    out.history = (!custom_baseline).then_some(params.use_available_supply);
}

/// `out = history ++ forecast[..F-1]` (the history only when it is not in place already).
fn append(out: &mut [f64], history: &[f64], forecast: &[f64], history_in_place: bool) {
    let (head, tail) = out.split_at_mut(history.len());
    if !history_in_place {
        head.copy_from_slice(history);
    }
    tail.copy_from_slice(&forecast[..tail.len()]);
}

/// `out = history ++ forecast[..F-1] / 1024` (forecast power in PiB, output in EiB).
fn append_eib(out: &mut [f64], history: &[f64], forecast_pib: &[f64], history_in_place: bool) {
    let (head, tail) = out.split_at_mut(history.len());
    if !history_in_place {
        head.copy_from_slice(history);
    }
    for (o, &p) in tail.iter_mut().zip(forecast_pib) {
        *o = p / PIB_PER_EIB;
    }
}
