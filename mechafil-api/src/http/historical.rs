//! `/historical-data` (weekly) and `/historical-data/full` (daily): the network history the
//! served snapshot holds, every array with its unit, kind and dates (`field_meta`).
//!
//! `/historical-data/full` also carries the reference service's own layout
//! (`smoothed_metrics`, `historical_arrays`, `offline_data`) at the top level, so its body can
//! be fed to `mechafil-api import` or to clients of the reference unchanged.

use chrono::{Days, NaiveDate};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::error::ApiError;
use super::sampling::{SampledSeries, Sampling, SeriesDates};
use super::state::Served;

/// What a field measures, for clients that plot or aggregate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A level on each day (power, supply).
    Stock,
    /// An amount per day (onboarding, expirations).
    Flow,
    /// A running total (burnt, mined, vested FIL).
    Cumulative,
    /// A ratio on each day (renewal rate, FIL+ rate).
    Rate,
    /// One number.
    Scalar,
}

/// Which dates a daily field covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// From start_date through current_date (the daily history).
    History,
    /// The recent window, current_date - 180 ..= current_date.
    Recent,
    /// Known schedules reaching into the future.
    Schedule,
}

/// One array field of the response.
struct ArrayField<'a> {
    name: &'static str,
    unit: &'static str,
    kind: Kind,
    span: Span,
    first_date: NaiveDate,
    values: &'a [f64],
}

/// One scalar field of the response.
struct ScalarField {
    name: &'static str,
    unit: &'static str,
    date: NaiveDate,
    value: f64,
}

/// Days in the recent window (current_date - 180 ..= current_date).
pub const RECENT_WINDOW_DAYS: u64 = 181;

fn field<'a>(
    name: &'static str,
    unit: &'static str,
    kind: Kind,
    (span, first_date): (Span, NaiveDate),
    values: &'a [f64],
) -> ArrayField<'a> {
    ArrayField { name, unit, kind, span, first_date, values }
}

fn array_fields(served: &Served) -> Vec<ArrayField<'_>> {
    use Kind::{Cumulative, Flow, Rate, Stock};
    let s = &served.data.snapshot;
    let r = &served.data.recent;
    let hist = (Span::History, s.start_date);
    let recent = |series: &crate::network_data::DatedSeries| (Span::Recent, series.start_date);
    let (pib_day, eib, fil, ratio) = ("PiB/day", "EiB", "FIL", "ratio");
    let mut fields = vec![
        field("historical_raw_power_eib", eib, Stock, hist, &s.historical_raw_power_eib),
        field("network_raw_power_eib", eib, Stock, hist, &s.historical_raw_power_eib),
        field("historical_qa_power_eib", eib, Stock, hist, &s.historical_qa_power_eib),
        field("network_qa_power_eib", eib, Stock, hist, &s.historical_qa_power_eib),
        field("historical_onboarded_rb_power_pib", pib_day, Flow, hist, &s.historical_onboarded_rb_power_pib),
        field("historical_onboarded_qa_power_pib", pib_day, Flow, hist, &s.historical_onboarded_qa_power_pib),
        field("historical_renewed_rb_power_pib", pib_day, Flow, hist, &s.historical_renewed_rb_power_pib),
        field("historical_renewed_qa_power_pib", pib_day, Flow, hist, &s.historical_renewed_qa_power_pib),
        field("historical_renewal_rate", ratio, Rate, hist, &s.historical_renewal_rate),
        field("burnt_fil_vec", fil, Cumulative, hist, &s.burnt_fil_vec),
        field("raw_byte_power", pib_day, Flow, recent(&r.raw_byte_power), &r.raw_byte_power.values),
        field(
            "raw_byte_power_onboarded_pib_per_day",
            pib_day,
            Flow,
            recent(&r.raw_byte_power),
            &r.raw_byte_power.values,
        ),
        field("renewal_rate", ratio, Rate, recent(&r.renewal_rate), &r.renewal_rate.values),
        field("filplus_rate", ratio, Rate, recent(&r.filplus_rate), &r.filplus_rate.values),
        field(
            "rb_known_scheduled_expire_vec",
            pib_day,
            Flow,
            (Span::Schedule, s.current_date),
            &s.rb_known_scheduled_expire_vec,
        ),
        field(
            "qa_known_scheduled_expire_vec",
            pib_day,
            Flow,
            (Span::Schedule, s.current_date),
            &s.qa_known_scheduled_expire_vec,
        ),
        field(
            "known_scheduled_pledge_release_full_vec",
            "FIL/day",
            Flow,
            (Span::Schedule, s.start_date),
            &s.known_scheduled_pledge_release_full_vec,
        ),
    ];
    if let Some(supply) = &served.data.supply {
        let dates = (Span::History, supply.start_date);
        fields.extend([
            field("circ_supply", fil, Stock, dates, &supply.circulating_fil),
            field("locked_fil", fil, Stock, dates, &supply.locked_fil),
            field("burnt_fil", fil, Cumulative, dates, &supply.burnt_fil),
            field("mined_fil", fil, Cumulative, dates, &supply.mined_fil),
            field("vested_fil", fil, Cumulative, dates, &supply.vested_fil),
            field("reserve_disbursed_fil", fil, Cumulative, dates, &supply.reserve_disbursed_fil),
        ]);
    }
    fields
}

fn scalar_fields(served: &Served) -> Vec<ScalarField> {
    let s = &served.data.snapshot;
    let (start, current) = (s.start_date, s.current_date);
    let mut fields = vec![
        ScalarField { name: "rb_power_zero", unit: "PiB", date: current, value: s.rb_power_zero },
        ScalarField { name: "qa_power_zero", unit: "PiB", date: current, value: s.qa_power_zero },
        ScalarField { name: "start_vested_amt", unit: "FIL", date: start, value: s.start_vested_amt as f64 },
        ScalarField {
            name: "zero_cum_capped_power_eib",
            unit: "EiB*day",
            date: start,
            value: s.zero_cum_capped_power_eib,
        },
        ScalarField { name: "init_baseline_eib", unit: "EiB", date: start, value: s.init_baseline_eib },
        ScalarField { name: "circ_supply_zero", unit: "FIL", date: start, value: s.circ_supply_zero },
        ScalarField { name: "locked_fil_zero", unit: "FIL", date: start, value: s.locked_fil_zero },
        ScalarField { name: "daily_burnt_fil", unit: "FIL/day", date: current, value: s.daily_burnt_fil },
    ];
    if let Some(v) = s.locked_reward_zero {
        fields.push(ScalarField { name: "locked_reward_zero", unit: "FIL", date: start, value: v });
    }
    fields
}

/// Every field name `/historical-data` can return for `served`.
pub fn field_names(served: &Served) -> Vec<&'static str> {
    array_fields(served).iter().map(|f| f.name).chain(scalar_fields(served).iter().map(|f| f.name)).collect()
}

/// Parses the `fields` query (comma-separated names) against what `served` has.
pub fn parse_fields(served: &Served, query: Option<&str>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(query) = query.map(str::trim).filter(|q| !q.is_empty()) else { return Ok(None) };
    let valid = field_names(served);
    let requested: Vec<String> =
        query.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect();
    let unknown: Vec<&String> = requested.iter().filter(|f| !valid.contains(&f.as_str())).collect();
    if !unknown.is_empty() {
        let supply_note = if served.data.supply.is_none() {
            " (this snapshot was imported from the reference format and has no supply history)"
        } else {
            ""
        };
        return Err(ApiError::field(
            "fields",
            format!(
                "unknown field(s) {}; valid fields{supply_note}: {}",
                unknown.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(", "),
                valid.join(", ")
            ),
        ));
    }
    Ok(Some(requested))
}

/// The response body of `/historical-data` (weekly) or `/historical-data/full` (daily).
pub fn historical_json(served: &Served, fields: Option<&[String]>, daily: bool) -> Vec<u8> {
    let body = HistoricalBody { served, fields, daily };
    serde_json::to_vec(&body).expect("serialising to memory cannot fail")
}

struct HistoricalBody<'a> {
    served: &'a Served,
    fields: Option<&'a [String]>,
    daily: bool,
}

impl Serialize for HistoricalBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if self.daily {
            // The reference's own layout (plus our dated extras) first, for its clients and
            // for `mechafil-api import`.
            let export =
                serde_json::to_value(self.served.data.to_export()).map_err(serde::ser::Error::custom)?;
            map.serialize_entry("message", "Complete historical data")?;
            for (key, value) in export.as_object().into_iter().flatten() {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry("data", &DataObject { body: self })?;
        map.end()
    }
}

struct DataObject<'a> {
    body: &'a HistoricalBody<'a>,
}

#[derive(Serialize)]
struct FieldMeta {
    unit: &'static str,
    kind: Kind,
    #[serde(flatten)]
    dates: SeriesDates,
}

#[derive(Serialize)]
struct ScalarMeta {
    unit: &'static str,
    kind: Kind,
    date: NaiveDate,
}

impl Serialize for DataObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let served = self.body.served;
        let snapshot = &served.data.snapshot;
        let (start, current) = (snapshot.start_date, snapshot.current_date);
        let recent_start = current - Days::new(RECENT_WINDOW_DAYS - 1);
        let wanted = |name: &str| self.body.fields.is_none_or(|f| f.iter().any(|x| x == name));
        let sampling = |f: &ArrayField| {
            if self.body.daily {
                return Sampling::daily(f.first_date, f.values.len());
            }
            let (lo, hi) = match f.span {
                Span::History => (start, current),
                Span::Recent => (recent_start, current),
                Span::Schedule => (f.first_date, f.first_date + Days::new(f.values.len() as u64)),
            };
            Sampling::mondays(f.first_date, f.values.len(), lo, hi)
        };
        let arrays = array_fields(served);
        let scalars = scalar_fields(served);
        let history = sampling(&arrays[0]);
        let recent = sampling(arrays.iter().find(|f| f.name == "raw_byte_power").expect("always present"));

        let mut map = s.serialize_map(None)?;
        map.serialize_entry("source", &served.meta.source)?;
        // The snapshot's id, not its fetch time: replicas holding the same data answer alike.
        map.serialize_entry("snapshot_id", &served.snapshot_id)?;
        map.serialize_entry("start_date", &start)?;
        map.serialize_entry("current_date", &current)?;
        map.serialize_entry("data_start_date", &Some(history.first_date).filter(|_| history.count > 0))?;
        map.serialize_entry("data_end_date", &history.last_date())?;
        map.serialize_entry("timestep_days", &history.step)?;
        map.serialize_entry("n_entries", &history.count)?;
        map.serialize_entry("hist_window_start_date", &Some(recent.first_date).filter(|_| recent.count > 0))?;
        map.serialize_entry("hist_window_end_date", &recent.last_date())?;
        map.serialize_entry("hist_window_days", &RECENT_WINDOW_DAYS)?;
        map.serialize_entry("hist_window_n_entries", &recent.count)?;
        map.serialize_entry("smoothed_metrics", &snapshot.smoothed)?;
        // The reference service's names for the same three numbers (its clients seed scenarios
        // from them).
        map.serialize_entry(
            "raw_byte_power_averaged_over_previous_30days",
            &snapshot.smoothed.raw_byte_power,
        )?;
        map.serialize_entry("renewal_rate_averaged_over_previous_30days", &snapshot.smoothed.renewal_rate)?;
        map.serialize_entry("filplus_rate_averaged_over_previous_30days", &snapshot.smoothed.filplus_rate)?;
        let mut meta: Vec<(&str, serde_json::Value)> = Vec::new();
        for f in arrays.iter().filter(|f| wanted(f.name)) {
            let sampling = sampling(f);
            map.serialize_entry(f.name, &SampledSeries { values: f.values, sampling })?;
            let m = FieldMeta { unit: f.unit, kind: f.kind, dates: sampling.into() };
            meta.push((f.name, serde_json::to_value(m).expect("plain data")));
        }
        for f in scalars.iter().filter(|f| wanted(f.name)) {
            map.serialize_entry(f.name, &Some(f.value).filter(|v| v.is_finite()))?;
            let m = ScalarMeta { unit: f.unit, kind: Kind::Scalar, date: f.date };
            meta.push((f.name, serde_json::to_value(m).expect("plain data")));
        }
        map.serialize_entry("field_meta", &Ordered(meta))?;
        map.end()
    }
}

/// A JSON object whose keys keep their insertion order.
struct Ordered<'a>(Vec<(&'a str, serde_json::Value)>);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
