//! The data pipeline of DATA.md: which queries are made, in which chunks, and how the snapshot,
//! the recent series and the supply history are derived from the rows.
//!
//! Each derivation follows DATA.md's order of f64 operations, since the acceptance test compares
//! against the reference's numbers at 1e-12. Where we deliberately differ from the reference
//! (rows sorted and joined by date, completeness required), DATA.md says so too.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use mechafil_core::Snapshot;
use mechafil_core::constants::{EXBI, NETWORK_START, PIB, PIB_PER_EIB};

use super::client::{Body, SpacescopeClient};
use super::dates::{DateRange, add_days, current_date_candidates, sub_days};
use super::error::{DataProblem, Endpoint, FetchError, RequestTarget};
use super::wire::{
    CapacityRow, DealRow, OnboardingRow, SectorRow, SupplyRow, WireRow, collect_days, parse_rows,
    require_days,
};
use super::{FetchOptions, SpacescopeConfig};
use crate::network_data::{DatedSeries, NetworkData, RECENT_WINDOW_DAYS, RecentHistory, SupplyHistory};

/// Look-back of the locked-reward estimate (`start - 185 ..= start`).
const LOCKED_REWARD_LOOKBACK_DAYS: u64 = 185;
/// Reward-locked FIL is released linearly over this many days.
const LOCKED_REWARD_RELEASE_DAYS: usize = 180;

/// Like [`super::fetch_network_data`], with "today" given instead of read from the clock (it only
/// matters when `opts.current_date` is `None`).
pub async fn fetch_network_data_at(
    config: &SpacescopeConfig,
    opts: &FetchOptions,
    today: NaiveDate,
) -> Result<NetworkData, FetchError> {
    let client = SpacescopeClient::new(config)?;
    let start = opts.start_date;
    if start < NETWORK_START {
        return Err(FetchError::Options(format!(
            "start_date {start} is before the network start {NETWORK_START}"
        )));
    }
    if opts.window_days == 0 {
        return Err(FetchError::Options("window_days must be at least 1".into()));
    }
    let candidates: Vec<NaiveDate> = match opts.current_date {
        Some(current) => vec![current],
        None => current_date_candidates(today),
    };
    // The model needs two history days; a candidate closer to start_date cannot be used.
    let candidates: Vec<NaiveDate> = candidates.into_iter().filter(|c| *c > start).collect();
    if candidates.is_empty() {
        return Err(FetchError::Options(format!(
            "current_date must be at least one day after start_date {start} (today is {today})"
        )));
    }
    let (sector_body, history) = tokio::try_join!(
        client.get(RequestTarget { endpoint: Endpoint::SectorExpiration, range: None }),
        fetch_history(&client, start, &candidates, opts.current_date.is_some()),
    )?;
    let current = history.current;
    let recent_range = DateRange { start: sub_days(current, RECENT_WINDOW_DAYS), end: current };
    let (vested, capped, lookback, recent_onboarding, deals) = tokio::try_join!(
        fetch_days::<SupplyRow>(
            &client,
            Endpoint::CirculatingSupply,
            DateRange { start: sub_days(start, 1), end: add_days(start, 1) },
            false,
        ),
        fetch_days::<CapacityRow>(
            &client,
            Endpoint::StorageCapacity,
            DateRange { start: NETWORK_START, end: sub_days(current, 1) },
            false,
        ),
        fetch_days::<SupplyRow>(
            &client,
            Endpoint::CirculatingSupply,
            DateRange { start: sub_days(start, LOCKED_REWARD_LOOKBACK_DAYS), end: start },
            false,
        ),
        fetch_days::<OnboardingRow>(&client, Endpoint::Onboarding, recent_range, false),
        // DATA.md: deal_size may lack the last day of the window.
        fetch_days::<DealRow>(&client, Endpoint::DealSize, recent_range, true),
    )?;
    let sector_target = RequestTarget { endpoint: Endpoint::SectorExpiration, range: None };
    let sectors = collect_sectors(sector_target, &sector_body, start, current, recent_range.start)?;
    let end_date = add_days(current, opts.window_days as u64);
    let data = derive(Inputs {
        start,
        current,
        end_date,
        history,
        sectors,
        vested,
        capped,
        lookback,
        recent_onboarding,
        deals,
    })?;
    data.validate()?;
    Ok(data)
}

/// The three daily histories over `[start, current]`, with `current` settled.
struct History {
    current: NaiveDate,
    capacity: BTreeMap<NaiveDate, CapacityRow>,
    onboarding: BTreeMap<NaiveDate, OnboardingRow>,
    supply: BTreeMap<NaiveDate, SupplyRow>,
}

/// Fetches power, onboarding and supply over `[start, candidate]` for each candidate in turn until
/// the last query chunk of all three holds the candidate day (DATA.md, "Dates"). When the date
/// was given (`pinned`), a missing day is an error instead of a reason to step back.
async fn fetch_history(
    client: &SpacescopeClient,
    start: NaiveDate,
    candidates: &[NaiveDate],
    pinned: bool,
) -> Result<History, FetchError> {
    let mut lacking = Endpoint::StorageCapacity;
    for &candidate in candidates {
        let range = DateRange { start, end: candidate };
        let (capacity, onboarding, supply) = tokio::try_join!(
            fetch_chunk_rows::<CapacityRow>(client, Endpoint::StorageCapacity, range),
            fetch_chunk_rows::<OnboardingRow>(client, Endpoint::Onboarding, range),
            fetch_chunk_rows::<SupplyRow>(client, Endpoint::CirculatingSupply, range),
        )?;
        let unpublished = [
            (Endpoint::StorageCapacity, has_last_day(&capacity, candidate)),
            (Endpoint::Onboarding, has_last_day(&onboarding, candidate)),
            (Endpoint::CirculatingSupply, has_last_day(&supply, candidate)),
        ]
        .into_iter()
        .find(|(_, has)| !has);
        if let Some((endpoint, _)) = unpublished
            && !pinned
        {
            tracing::info!(%candidate, %endpoint, "latest day not published yet; stepping back a day");
            lacking = endpoint;
            continue;
        }
        return Ok(History {
            current: candidate,
            capacity: join_chunks(Endpoint::StorageCapacity, capacity, false)?,
            onboarding: join_chunks(Endpoint::Onboarding, onboarding, false)?,
            supply: join_chunks(Endpoint::CirculatingSupply, supply, false)?,
        });
    }
    Err(FetchError::NotPublished {
        latest: candidates[0],
        earliest: *candidates.last().expect("at least one candidate"),
        endpoint: lacking,
    })
}

type ChunkRows<R> = Vec<(DateRange, Vec<(NaiveDate, R)>)>;

/// Fetches and parses every chunk of `range`.
async fn fetch_chunk_rows<R: WireRow>(
    client: &SpacescopeClient,
    endpoint: Endpoint,
    range: DateRange,
) -> Result<ChunkRows<R>, FetchError> {
    let bodies: Vec<(DateRange, Body)> = client.get_chunks(endpoint, range).await?;
    bodies
        .into_iter()
        .map(|(chunk, body)| {
            let rows = parse_rows::<R>(RequestTarget { endpoint, range: Some(chunk) }, &body)?;
            Ok((chunk, rows))
        })
        .collect()
}

fn has_last_day<R>(chunks: &ChunkRows<R>, day: NaiveDate) -> bool {
    chunks.last().is_some_and(|(_, rows)| rows.iter().any(|(d, _)| *d == day))
}

/// Joins the chunks by date, requiring every day of every chunk (except, with
/// `allow_missing_last_day`, the very last day of the last chunk).
fn join_chunks<R: WireRow>(
    endpoint: Endpoint,
    chunks: ChunkRows<R>,
    allow_missing_last_day: bool,
) -> Result<BTreeMap<NaiveDate, R>, FetchError> {
    let n_chunks = chunks.len();
    let mut all = BTreeMap::new();
    for (i, (chunk, rows)) in chunks.into_iter().enumerate() {
        let target = RequestTarget { endpoint, range: Some(chunk) };
        let mut days = BTreeMap::new();
        collect_days(target, rows, &mut days)?;
        let required = if allow_missing_last_day && i + 1 == n_chunks && !days.contains_key(&chunk.end) {
            DateRange::new(chunk.start, sub_days(chunk.end, 1))
        } else {
            Some(chunk)
        };
        if let Some(required) = required {
            require_days(target, &days, required)?;
        }
        all.extend(days);
    }
    Ok(all)
}

/// Fetches `range` in chunks and joins it by date.
async fn fetch_days<R: WireRow>(
    client: &SpacescopeClient,
    endpoint: Endpoint,
    range: DateRange,
    allow_missing_last_day: bool,
) -> Result<BTreeMap<NaiveDate, R>, FetchError> {
    let chunks = fetch_chunk_rows::<R>(client, endpoint, range).await?;
    join_chunks(endpoint, chunks, allow_missing_last_day)
}

/// The sector table, checked: it must start no later than `start` and have every day from
/// `min(start, recent_start)` to its last row, which must reach `current`.
fn collect_sectors(
    target: RequestTarget,
    body: &[u8],
    start: NaiveDate,
    current: NaiveDate,
    recent_start: NaiveDate,
) -> Result<BTreeMap<NaiveDate, SectorRow>, FetchError> {
    let mut sectors = BTreeMap::new();
    collect_days(target, parse_rows::<SectorRow>(target, body)?, &mut sectors)?;
    let (Some(&first_day), Some(&last_day)) = (sectors.keys().next(), sectors.keys().next_back()) else {
        return Err(FetchError::Data { target, problem: DataProblem::MissingDay { day: start } });
    };
    if start < first_day {
        return Err(FetchError::StartBeforeSectorTable { start_date: start, first_day });
    }
    let from = start.min(recent_start).max(first_day);
    require_days(target, &sectors, DateRange { start: from, end: last_day.max(current) })?;
    Ok(sectors)
}

/// Everything fetched, ready to be derived.
struct Inputs {
    start: NaiveDate,
    current: NaiveDate,
    end_date: NaiveDate,
    history: History,
    sectors: BTreeMap<NaiveDate, SectorRow>,
    vested: BTreeMap<NaiveDate, SupplyRow>,
    capped: BTreeMap<NaiveDate, CapacityRow>,
    lookback: BTreeMap<NaiveDate, SupplyRow>,
    recent_onboarding: BTreeMap<NaiveDate, OnboardingRow>,
    deals: BTreeMap<NaiveDate, DealRow>,
}

/// Per-day quantities of the sector table (DATA.md, endpoint 1): each field converted to f64
/// first, then divided, then subtracted.
struct SectorDay {
    total_rb: f64,
    total_qa: f64,
    total_pledge: f64,
    extended_rb: f64,
    extended_qa: f64,
}

impl SectorDay {
    fn of(row: &SectorRow) -> SectorDay {
        SectorDay {
            total_rb: row.schedule_expire_bytes / PIB - row.terminated_bytes / PIB,
            total_qa: row.schedule_expire_bytes_qap / PIB - row.terminated_bytes_qap / PIB,
            total_pledge: row.schedule_expire_pledge - row.terminated_pledge,
            extended_rb: row.extended_bytes / PIB,
            extended_qa: row.extended_bytes_qap / PIB,
        }
    }

    fn renewal_rate(&self) -> f64 {
        self.extended_rb / self.total_rb
    }
}

fn derive(inputs: Inputs) -> Result<NetworkData, FetchError> {
    let Inputs {
        start,
        current,
        end_date,
        history,
        sectors,
        vested,
        capped,
        lookback,
        recent_onboarding,
        deals,
    } = inputs;
    let history_range = DateRange { start, end: current };
    check_history(&history, history_range)?;

    // Sector table: known expirations from current_date, pledge releases from start_date,
    // renewals over the history.
    let kept = sectors.range(start..end_date).map(|(day, row)| (*day, SectorDay::of(row)));
    let mut rb_known = Vec::new();
    let mut qa_known = Vec::new();
    let mut pledge_release = Vec::new();
    let mut renewal_rate = Vec::new();
    let mut renewed_rb = Vec::new();
    let mut renewed_qa = Vec::new();
    for (day, s) in kept {
        if day >= current {
            rb_known.push(s.total_rb);
            qa_known.push(s.total_qa);
        }
        pledge_release.push(s.total_pledge);
        if day <= current {
            renewal_rate.push(s.renewal_rate());
            renewed_rb.push(s.extended_rb);
            renewed_qa.push(s.extended_qa);
        }
    }
    // The current day's rate is not part of the history (H - 1 values).
    renewal_rate.pop();

    let column = |f: &dyn Fn(&CapacityRow) -> f64| -> Vec<f64> { history.capacity.values().map(f).collect() };
    let raw_eib = column(&|r| r.raw_bytes / EXBI);
    let qa_eib = column(&|r| r.qa_bytes / EXBI);
    let onboarded_rb: Vec<f64> = history.onboarding.values().map(|r| r.rb_bytes as f64 / PIB).collect();
    let onboarded_qa: Vec<f64> = history.onboarding.values().map(|r| r.qa_bytes as f64 / PIB).collect();
    let supply_column = |f: fn(&SupplyRow) -> f64| -> Vec<f64> { history.supply.values().map(f).collect() };
    let supply = SupplyHistory {
        start_date: start,
        circulating_fil: supply_column(|r| r.circulating_fil),
        locked_fil: supply_column(|r| r.locked_fil),
        burnt_fil: supply_column(|r| r.burnt_fil),
        mined_fil: supply_column(|r| r.mined_fil),
        vested_fil: supply_column(|r| r.vested_fil),
        reserve_disbursed_fil: supply_column(|r| r.reserve_disbursed_fil),
    };

    let vested_target = RequestTarget { endpoint: Endpoint::CirculatingSupply, range: None };
    let start_vested = vested
        .get(&start)
        .ok_or(FetchError::Data { target: vested_target, problem: DataProblem::MissingDay { day: start } })?
        .vested_fil;
    let (zero_cum_capped_power_eib, init_baseline_eib) = cumulative_capped_power(&capped, start)?;
    check_recent_flows(
        DateRange { start: sub_days(current, RECENT_WINDOW_DAYS), end: current },
        &recent_onboarding,
        &deals,
    )?;
    let recent = recent_history(current, &sectors, &recent_onboarding, &deals);

    let snapshot = Snapshot {
        start_date: start,
        current_date: current,
        smoothed: recent.smoothed(),
        rb_power_zero: raw_eib[raw_eib.len() - 1] * PIB_PER_EIB,
        qa_power_zero: qa_eib[qa_eib.len() - 1] * PIB_PER_EIB,
        historical_raw_power_eib: raw_eib,
        historical_qa_power_eib: qa_eib,
        historical_onboarded_rb_power_pib: onboarded_rb,
        historical_onboarded_qa_power_pib: onboarded_qa,
        historical_renewed_rb_power_pib: renewed_rb,
        historical_renewed_qa_power_pib: renewed_qa,
        rb_known_scheduled_expire_vec: rb_known,
        qa_known_scheduled_expire_vec: qa_known,
        known_scheduled_pledge_release_full_vec: pledge_release,
        // Truncation toward zero, as the reference's int() does.
        start_vested_amt: start_vested.trunc() as i64,
        zero_cum_capped_power_eib,
        init_baseline_eib,
        circ_supply_zero: supply.circulating_fil[0],
        locked_fil_zero: supply.locked_fil[0],
        locked_reward_zero: Some(locked_reward_estimate(&lookback)),
        daily_burnt_fil: mean_daily_increase(&supply.burnt_fil),
        burnt_fil_vec: supply.burnt_fil.clone(),
        historical_renewal_rate: renewal_rate,
    };
    Ok(NetworkData { snapshot, recent, supply: Some(supply), end_date: Some(end_date) })
}

/// The published-data checks on the joined history: stocks are positive every day, flows are not
/// zero on the latest day nor on more than 1 day in 20 (Spacescope has served unfinished days as
/// rows of zeros).
fn check_history(history: &History, range: DateRange) -> Result<(), FetchError> {
    let stock = |endpoint, field, values: Vec<(NaiveDate, f64)>| -> Result<(), FetchError> {
        // Parsed values are finite, so "not positive" is "<= 0".
        match values.into_iter().find(|(_, v)| *v <= 0.0) {
            Some((day, value)) => Err(FetchError::Data {
                target: RequestTarget { endpoint, range: Some(range) },
                problem: DataProblem::NotPositive { field, day, value },
            }),
            None => Ok(()),
        }
    };
    let cap = |f: fn(&CapacityRow) -> f64| history.capacity.iter().map(|(d, r)| (*d, f(r))).collect();
    stock(Endpoint::StorageCapacity, "total_raw_bytes_power", cap(|r| r.raw_bytes))?;
    stock(Endpoint::StorageCapacity, "total_qa_bytes_power", cap(|r| r.qa_bytes))?;
    stock(Endpoint::StorageCapacity, "baseline_power", cap(|r| r.baseline_bytes))?;
    let sup = |f: fn(&SupplyRow) -> f64| history.supply.iter().map(|(d, r)| (*d, f(r))).collect();
    stock(Endpoint::CirculatingSupply, "circulating_fil", sup(|r| r.circulating_fil))?;
    stock(Endpoint::CirculatingSupply, "mined_fil", sup(|r| r.mined_fil))?;
    stock(Endpoint::CirculatingSupply, "vested_fil", sup(|r| r.vested_fil))?;
    stock(Endpoint::CirculatingSupply, "locked_fil", sup(|r| r.locked_fil))?;
    stock(Endpoint::CirculatingSupply, "burnt_fil", sup(|r| r.burnt_fil))?;
    let onb = |f: fn(&OnboardingRow) -> i128| -> Vec<(NaiveDate, f64)> {
        history.onboarding.iter().map(|(d, r)| (*d, f(r) as f64)).collect()
    };
    let target = RequestTarget { endpoint: Endpoint::Onboarding, range: Some(range) };
    check_flow(target, "commit_rbp_32gib + commit_rbp_64gib", &onb(|r| r.rb_bytes))?;
    check_flow(target, "commit_qap_32gib + commit_qap_64gib", &onb(|r| r.qa_bytes))?;
    Ok(())
}

/// The zero checks of [`check_flow`] on the recent window's onboarding and deal sizes.
fn check_recent_flows(
    range: DateRange,
    onboarding: &BTreeMap<NaiveDate, OnboardingRow>,
    deals: &BTreeMap<NaiveDate, DealRow>,
) -> Result<(), FetchError> {
    let rb: Vec<(NaiveDate, f64)> = onboarding.iter().map(|(d, r)| (*d, r.rb_bytes as f64)).collect();
    let target = RequestTarget { endpoint: Endpoint::Onboarding, range: Some(range) };
    check_flow(target, "commit_rbp_32gib + commit_rbp_64gib", &rb)?;
    let activated: Vec<(NaiveDate, f64)> = deals
        .iter()
        .map(|(d, r)| (*d, r.daily_activated_regular_deal_size + r.daily_activated_verified_deal_size))
        .collect();
    let target = RequestTarget { endpoint: Endpoint::DealSize, range: Some(range) };
    check_flow(target, "daily_activated_regular_deal_size + daily_activated_verified_deal_size", &activated)
}

/// A daily flow may be zero on at most one day in 20, and not on its last day.
pub fn check_flow(
    target: RequestTarget,
    field: &'static str,
    values: &[(NaiveDate, f64)],
) -> Result<(), FetchError> {
    if let Some((day, _)) = values.last().filter(|(_, v)| *v == 0.0) {
        return Err(FetchError::Data { target, problem: DataProblem::ZeroOnLatestDay { field, day: *day } });
    }
    let zeros: Vec<NaiveDate> = values.iter().filter(|(_, v)| *v == 0.0).map(|(d, _)| *d).collect();
    let allowed = values.len() / 20;
    if zeros.len() > allowed {
        return Err(FetchError::Data {
            target,
            problem: DataProblem::TooManyZeros {
                field,
                zeros: zeros.len(),
                days: values.len(),
                first: zeros[0],
                allowed,
            },
        });
    }
    Ok(())
}

/// `zero_cum_capped_power_eib` and `init_baseline_eib` from the full-history capacity rows
/// (DATA.md): `min(baseline, raw)` in bytes cumulated from NETWORK_START, both read on
/// start_date and divided by EXBI.
fn cumulative_capped_power(
    capped: &BTreeMap<NaiveDate, CapacityRow>,
    start: NaiveDate,
) -> Result<(f64, f64), FetchError> {
    let mut cumulative = 0.0;
    for (day, row) in capped.range(..=start) {
        cumulative += row.baseline_bytes.min(row.raw_bytes);
        if *day == start {
            return Ok((cumulative / EXBI, row.baseline_bytes / EXBI));
        }
    }
    let target = RequestTarget { endpoint: Endpoint::StorageCapacity, range: None };
    Err(FetchError::Data { target, problem: DataProblem::MissingDay { day: start } })
}

/// `locked_reward_zero` (DATA.md): 75% of each day's newly mined FIL, released linearly over 180
/// days, summed over the last 180 days of the look-back window; floored at 0.
fn locked_reward_estimate(lookback: &BTreeMap<NaiveDate, SupplyRow>) -> f64 {
    let mined: Vec<f64> = lookback.values().map(|r| r.mined_fil).collect();
    let dr: Vec<f64> = mined.windows(2).map(|w| w[1] - w[0]).collect();
    let n = dr.len().min(LOCKED_REWARD_RELEASE_DAYS);
    let tail = &dr[dr.len() - n..];
    let mut sum = 0.0;
    for (i, d) in tail.iter().enumerate() {
        let days_ago = n - 1 - i;
        sum += 0.75 * d * ((LOCKED_REWARD_RELEASE_DAYS - days_ago) as f64 / 180.0);
    }
    sum.max(0.0)
}

/// The mean of the day-to-day differences, summed the way numpy's `diff().mean()` does
/// (see [`numpy_sum`]).
pub fn mean_daily_increase(cumulative: &[f64]) -> f64 {
    let diffs: Vec<f64> = cumulative.windows(2).map(|w| w[1] - w[0]).collect();
    numpy_sum(&diffs) / diffs.len() as f64
}

/// numpy's `add.reduce` over a contiguous float64 array: the first element, plus the pairwise
/// sum (8 accumulators, blocks of 128) of the rest. Matching it keeps `daily_burnt_fil`
/// bit-identical to the reference instead of a few ulps away.
pub fn numpy_sum(values: &[f64]) -> f64 {
    match values.split_first() {
        None => 0.0,
        Some((first, rest)) => first + pairwise_sum(rest),
    }
}

fn pairwise_sum(a: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        a.iter().fold(-0.0, |acc, v| acc + v)
    } else if n <= BLOCK {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &a[whole..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// The three recent series of the reference server (DATA.md, "Recent history").
fn recent_history(
    current: NaiveDate,
    sectors: &BTreeMap<NaiveDate, SectorRow>,
    onboarding: &BTreeMap<NaiveDate, OnboardingRow>,
    deals: &BTreeMap<NaiveDate, DealRow>,
) -> RecentHistory {
    let recent_start = sub_days(current, RECENT_WINDOW_DAYS);
    let raw_byte_power: BTreeMap<NaiveDate, f64> =
        onboarding.iter().map(|(d, r)| (*d, r.rb_bytes as f64 / PIB)).collect();
    let renewal_rate: Vec<f64> =
        sectors.range(recent_start..current).map(|(_, r)| SectorDay::of(r).renewal_rate()).collect();
    // FIL+ rate over the days both series have: deals is complete from recent_start and may end a
    // day early, onboarding covers the whole window.
    let filplus: Vec<f64> = deals
        .iter()
        .filter_map(|(day, deal)| {
            let rbp = raw_byte_power.get(day)?;
            let deals_pib =
                (deal.daily_activated_regular_deal_size + deal.daily_activated_verified_deal_size) / PIB;
            Some(deals_pib / rbp)
        })
        .collect();
    RecentHistory {
        raw_byte_power: DatedSeries {
            start_date: recent_start,
            values: raw_byte_power.into_values().collect(),
        },
        renewal_rate: DatedSeries { start_date: recent_start, values: renewal_rate },
        filplus_rate: DatedSeries { start_date: recent_start, values: filplus },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_sum_groups_like_numpy() {
        // Below 8 values (after the first) the sum is sequential.
        assert_eq!(numpy_sum(&[1.0, 2.0, 3.0]), 6.0);
        assert_eq!(numpy_sum(&[]), 0.0);
        // 1e16 + 1 + 1 ... : a sequential sum loses every 1, the 8 accumulators do not.
        let mut v = vec![0.0, 1e16];
        v.extend(std::iter::repeat_n(1.0, 15));
        assert_eq!(numpy_sum(&v), 1e16 + 14.0);
        let many: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(numpy_sum(&many), 499_500.0);
    }

    #[test]
    fn locked_reward_uses_the_last_180_differences() {
        let day0: NaiveDate = "2022-04-08".parse().unwrap();
        let rows: BTreeMap<NaiveDate, SupplyRow> = (0..186u64)
            .map(|i| {
                let mined = 1000.0 * i as f64;
                let row = SupplyRow {
                    circulating_fil: 1.0,
                    mined_fil: mined,
                    vested_fil: 1.0,
                    reserve_disbursed_fil: 1.0,
                    locked_fil: 1.0,
                    burnt_fil: 1.0,
                };
                (add_days(day0, i), row)
            })
            .collect();
        // Constant 1000/day: 0.75 * 1000 * sum_{k=1..180} k/180 = 750 * 181/2.
        let expected = 750.0 * 181.0 / 2.0;
        assert!((locked_reward_estimate(&rows) - expected).abs() < 1e-9);
    }

    #[test]
    fn flows_reject_zero_runs_and_a_zero_last_day() {
        let day0: NaiveDate = "2025-01-01".parse().unwrap();
        let target = RequestTarget { endpoint: Endpoint::Onboarding, range: None };
        let series = |zero_at: &[usize]| -> Vec<(NaiveDate, f64)> {
            (0..40)
                .map(|i| (add_days(day0, i as u64), if zero_at.contains(&i) { 0.0 } else { 1.0 }))
                .collect()
        };
        assert!(check_flow(target, "x", &series(&[3, 9])).is_ok());
        let err = check_flow(target, "x", &series(&[3, 9, 12])).unwrap_err().to_string();
        assert!(err.contains("zero on 3 of 40 days (first on 2025-01-04)"), "{err}");
        let err = check_flow(target, "x", &series(&[39])).unwrap_err().to_string();
        assert!(err.contains("zero on the latest day, 2025-02-09"), "{err}");
    }
}
