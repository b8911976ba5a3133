//! The catalogue of everything a tool can name: the 44 simulated series (names and axes from
//! `mechafil-core`, units and kinds from [`crate::series`]) and the API's history fields.
//!
//! The history fields are the API's (`GET /historical-data`, `docs/API.md`); the server keeps
//! their names, units, kinds and date spans here so that `provide_plot` can tell a history
//! field from a simulated series before calling anything, and so that the catalogue resource
//! (`mechafil://catalogue`) reads without the API. The integration tests check this table
//! against the API's own `field_meta` (`tests/api_answers.rs`), field by field.

use mechafil_core::{Axis, SeriesName};
use serde_json::{Value, json};

use crate::series::{axis_description, series_info};

/// Which dates a history field covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The daily history, `start_date ..= current_date`.
    History,
    /// The recent window, the last 181 days of the history.
    Recent,
    /// A known schedule that reaches into the forecast (from `current_date`, or from
    /// `start_date` for the pledge releases).
    Schedule,
}

impl Span {
    fn describe(self) -> &'static str {
        match self {
            Span::History => "the history, start_date to current_date",
            Span::Recent => {
                "the last 181 days of the history (hist_window_start_date to hist_window_end_date)"
            }
            Span::Schedule => "a known schedule reaching past current_date into the forecast",
        }
    }
}

/// One history field of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryField {
    /// Its name in `fields`.
    pub name: &'static str,
    /// The unit of its values.
    pub unit: &'static str,
    /// `stock`, `flow`, `cumulative`, `rate` or `scalar`, as the API's `field_meta` says.
    pub kind: &'static str,
    /// Its dates (`None` for a scalar).
    pub span: Option<Span>,
    /// What it is.
    pub meaning: &'static str,
    /// The simulated series that continues it, if any.
    pub simulated: Option<SeriesName>,
}

const fn field(
    name: &'static str,
    unit: &'static str,
    kind: &'static str,
    span: Option<Span>,
    meaning: &'static str,
    simulated: Option<SeriesName>,
) -> HistoryField {
    HistoryField { name, unit, kind, span, meaning, simulated }
}

use Span::{History, Recent, Schedule};

/// Every field `GET /historical-data` may return, in the API's order (the supply fields are
/// absent for snapshots imported from the reference format).
pub const HISTORY_FIELDS: [HistoryField; 32] = [
    field(
        "historical_raw_power_eib",
        "EiB",
        "stock",
        Some(History),
        "network raw-byte power",
        Some(SeriesName::NetworkRbpEib),
    ),
    field(
        "network_raw_power_eib",
        "EiB",
        "stock",
        Some(History),
        "network raw-byte power (alias of historical_raw_power_eib)",
        Some(SeriesName::NetworkRbpEib),
    ),
    field(
        "historical_qa_power_eib",
        "EiB",
        "stock",
        Some(History),
        "network quality-adjusted power",
        Some(SeriesName::NetworkQapEib),
    ),
    field(
        "network_qa_power_eib",
        "EiB",
        "stock",
        Some(History),
        "network quality-adjusted power (alias of historical_qa_power_eib)",
        Some(SeriesName::NetworkQapEib),
    ),
    field(
        "historical_onboarded_rb_power_pib",
        "PiB/day",
        "flow",
        Some(History),
        "raw-byte power onboarded per day",
        Some(SeriesName::RbDayOnboardedPowerPib),
    ),
    field(
        "historical_onboarded_qa_power_pib",
        "PiB/day",
        "flow",
        Some(History),
        "quality-adjusted power onboarded per day",
        Some(SeriesName::QaDayOnboardedPowerPib),
    ),
    field(
        "historical_renewed_rb_power_pib",
        "PiB/day",
        "flow",
        Some(History),
        "raw-byte power renewed per day",
        Some(SeriesName::RbDayRenewedPowerPib),
    ),
    field(
        "historical_renewed_qa_power_pib",
        "PiB/day",
        "flow",
        Some(History),
        "quality-adjusted power renewed per day",
        Some(SeriesName::QaDayRenewedPowerPib),
    ),
    field("historical_renewal_rate", "ratio", "rate", Some(History), "share of expiring power renewed", None),
    field(
        "burnt_fil_vec",
        "FIL",
        "cumulative",
        Some(History),
        "FIL burnt so far (the simulation's input)",
        Some(SeriesName::NetworkGasBurn),
    ),
    field(
        "raw_byte_power",
        "PiB/day",
        "flow",
        Some(Recent),
        "raw-byte onboarding, recent window (NOT total power)",
        None,
    ),
    field(
        "raw_byte_power_onboarded_pib_per_day",
        "PiB/day",
        "flow",
        Some(Recent),
        "raw-byte onboarding, recent window (alias of raw_byte_power)",
        None,
    ),
    field("renewal_rate", "ratio", "rate", Some(Recent), "renewal rate, recent window", None),
    field("filplus_rate", "ratio", "rate", Some(Recent), "FIL+ share of onboarding, recent window", None),
    field(
        "rb_known_scheduled_expire_vec",
        "PiB/day",
        "flow",
        Some(Schedule),
        "raw-byte power scheduled to expire per day, from current_date",
        Some(SeriesName::RbSchedExpirePowerPib),
    ),
    field(
        "qa_known_scheduled_expire_vec",
        "PiB/day",
        "flow",
        Some(Schedule),
        "quality-adjusted power scheduled to expire per day, from current_date",
        Some(SeriesName::QaSchedExpirePowerPib),
    ),
    field(
        "known_scheduled_pledge_release_full_vec",
        "FIL/day",
        "flow",
        Some(Schedule),
        "pledge scheduled to be released per day, from start_date",
        None,
    ),
    field(
        "circ_supply",
        "FIL",
        "stock",
        Some(History),
        "circulating supply on chain",
        Some(SeriesName::CircSupply),
    ),
    field(
        "locked_fil",
        "FIL",
        "stock",
        Some(History),
        "locked FIL on chain (pledge and vesting rewards)",
        Some(SeriesName::NetworkLocked),
    ),
    field(
        "burnt_fil",
        "FIL",
        "cumulative",
        Some(History),
        "FIL burnt so far",
        Some(SeriesName::NetworkGasBurn),
    ),
    field(
        "mined_fil",
        "FIL",
        "cumulative",
        Some(History),
        "block rewards minted so far",
        Some(SeriesName::CumNetworkReward),
    ),
    field("vested_fil", "FIL", "cumulative", Some(History), "FIL vested so far", Some(SeriesName::TotalVest)),
    field(
        "reserve_disbursed_fil",
        "FIL",
        "cumulative",
        Some(History),
        "FIL disbursed from the mining reserve",
        Some(SeriesName::DisbursedReserve),
    ),
    field("rb_power_zero", "PiB", "scalar", None, "raw-byte power on current_date", None),
    field("qa_power_zero", "PiB", "scalar", None, "quality-adjusted power on current_date", None),
    field("start_vested_amt", "FIL", "scalar", None, "FIL vested by start_date", None),
    field(
        "zero_cum_capped_power_eib",
        "EiB*day",
        "scalar",
        None,
        "cumulative capped power by start_date",
        None,
    ),
    field("init_baseline_eib", "EiB", "scalar", None, "baseline power on start_date", None),
    field("circ_supply_zero", "FIL", "scalar", None, "circulating supply on start_date", None),
    field("locked_fil_zero", "FIL", "scalar", None, "locked FIL on start_date", None),
    field(
        "daily_burnt_fil",
        "FIL/day",
        "scalar",
        None,
        "mean daily gas burn over the history (the forecast's burn rate)",
        None,
    ),
    field("locked_reward_zero", "FIL", "scalar", None, "block rewards locked on start_date", None),
];

/// The history field `name`.
pub fn history_field(name: &str) -> Option<&'static HistoryField> {
    HISTORY_FIELDS.iter().find(|field| field.name == name)
}

/// Every name a chart can show: simulated series, then history arrays.
pub fn plottable_names() -> Vec<&'static str> {
    let history = HISTORY_FIELDS.iter().filter(|f| f.span.is_some()).map(|f| f.name);
    SeriesName::names().chain(history.filter(|name| SeriesName::from_name(name).is_none())).collect()
}

/// Every name the catalogue has an entry for: simulated series, `lock_ratio`, history fields.
pub fn all_names() -> Vec<&'static str> {
    let history = HISTORY_FIELDS.iter().map(|f| f.name).filter(|name| SeriesName::from_name(name).is_none());
    SeriesName::names().chain(["lock_ratio"]).chain(history).collect()
}

/// The catalogue as JSON: the `mechafil://catalogue` resource.
pub fn catalogue_json() -> Value {
    let simulated: Vec<Value> = SeriesName::ALL
        .iter()
        .map(|name| {
            let info = series_info(*name);
            let dates = match name.axis() {
                Axis::Daily => {
                    "daily from the snapshot's start_date; /simulate samples the forecast window's Mondays"
                }
                Axis::Forecast => "daily from current_date (the forecast window only)",
                Axis::OneYear => "by sector start date; ends 364 days before the forecast does",
            };
            json!({
                "name": name.as_str(),
                "unit": info.unit,
                "kind": info.kind.as_str(),
                "meaning": info.meaning,
                "axis": axis_description(name.axis()),
                "dates": dates,
                "also_history": history_field(name.as_str()).is_some(),
            })
        })
        .collect();
    let history: Vec<Value> = HISTORY_FIELDS
        .iter()
        .map(|field| {
            json!({
                "name": field.name,
                "unit": field.unit,
                "kind": field.kind,
                "meaning": field.meaning,
                "dates": field.span.map_or("one value (field_meta gives its date)", Span::describe),
                "continued_by_simulated": field.simulated.map(SeriesName::as_str),
            })
        })
        .collect();
    json!({
        "about": "Every name MechaFil's tools accept. simulate's requested_metrics and the analyses' output take \
                  the simulated series (the analyses also take lock_ratio = network_locked / circ_supply); \
                  get_historical_data's fields take the history fields; provide_plot takes either, and a name \
                  that is both (circ_supply) is drawn as history followed by the forecast.",
        "simulated_series": simulated,
        "analysis_only_series": [{
            "name": "lock_ratio", "unit": "fraction", "kind": "ratio",
            "meaning": "network_locked / circ_supply, daily (the analyses only)"
        }],
        "history_fields": history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_overlap_is_circ_supply() {
        let mut names: Vec<&str> = HISTORY_FIELDS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), HISTORY_FIELDS.len());
        let both: Vec<&str> =
            HISTORY_FIELDS.iter().map(|f| f.name).filter(|n| SeriesName::from_name(n).is_some()).collect();
        assert_eq!(both, ["circ_supply"]);
        assert_eq!(plottable_names().len(), 44 + 22);
    }

    #[test]
    fn continuations_have_the_same_unit() {
        for field in HISTORY_FIELDS {
            if let Some(series) = field.simulated {
                let unit = series_info(series).unit;
                assert_eq!(unit, field.unit, "{} continues as {series}", field.name);
            }
        }
        let catalogue = catalogue_json();
        assert_eq!(catalogue["simulated_series"].as_array().unwrap().len(), 44);
        assert_eq!(catalogue["history_fields"].as_array().unwrap().len(), HISTORY_FIELDS.len());
    }
}
