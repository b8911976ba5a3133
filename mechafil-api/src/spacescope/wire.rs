//! The Spacescope wire format (fixtures/spacescope/README.md): the JSON envelope, row dates, and
//! numbers read from their literal text, then rows collected into one checked map per day.
//!
//! Numbers are parsed from the literal (via `serde_json::value::RawValue`) with Rust's correctly
//! rounded `str::parse::<f64>`, so integer literals beyond 2^64 (power in bytes) come out as the
//! nearest f64, and the integral onboarding fields can be read as exact `i128`. A number written as
//! a JSON string (`"123"`) is accepted too.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::dates::DateRange;
use super::error::{DataProblem, FetchError, RequestTarget};

/// A typed row of one endpoint, built from the fields it needs.
pub trait WireRow: Sized + PartialEq {
    /// Builds the row; `fields` reads the named fields of one JSON row.
    fn from_fields(fields: &Fields<'_>) -> Result<Self, DataProblem>;
}

/// The fields of one JSON row, by name, with the row's date for error messages.
pub struct Fields<'a> {
    day: NaiveDate,
    map: &'a HashMap<String, &'a RawValue>,
}

impl Fields<'_> {
    /// A float field, correctly rounded from its literal.
    pub fn f64(&self, field: &'static str) -> Result<f64, DataProblem> {
        let text = self.text(field)?;
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(DataProblem::NotNumeric { day: self.day, field, found: self.raw(field) }),
        }
    }

    /// An integral field, exactly. Accepts integer literals of any length up to i128 and float
    /// literals with no fraction (`1.5e16`), which are exact integers once parsed.
    pub fn integral(&self, field: &'static str) -> Result<i128, DataProblem> {
        let text = self.text(field)?;
        let text = text.trim();
        let digits = text.strip_prefix('-').unwrap_or(text);
        let not_integral = || DataProblem::NotIntegral { day: self.day, field, found: self.raw(field) };
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse::<i128>().map_err(|_| not_integral());
        }
        let v = self.f64(field)?;
        // 2^100 bytes is far beyond any daily flow; the bound keeps `as i128` exact and in range.
        if v.fract() == 0.0 && v.abs() < 2f64.powi(100) { Ok(v as i128) } else { Err(not_integral()) }
    }

    /// The field's number text: the literal, or the content of a JSON string.
    fn text(&self, field: &'static str) -> Result<String, DataProblem> {
        let raw = self.map.get(field).ok_or(DataProblem::MissingField { day: self.day, field })?;
        let literal = raw.get();
        if literal.starts_with('"') {
            serde_json::from_str::<String>(literal).map_err(|_| DataProblem::NotNumeric {
                day: self.day,
                field,
                found: literal.to_string(),
            })
        } else {
            Ok(literal.to_string())
        }
    }

    fn raw(&self, field: &str) -> String {
        self.map.get(field).map(|r| r.get().chars().take(60).collect()).unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(borrow)]
    data: Option<Vec<HashMap<String, &'a RawValue>>>,
}

/// Parses one response body into `(day, row)` pairs, in the order received.
pub fn parse_rows<R: WireRow>(target: RequestTarget, body: &[u8]) -> Result<Vec<(NaiveDate, R)>, FetchError> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(body).map_err(|e| FetchError::Malformed { target, detail: e.to_string() })?;
    let code = envelope.code.unwrap_or(0);
    if code != 0 {
        return Err(FetchError::Api { target, code, message: envelope.message.unwrap_or_default() });
    }
    let data = envelope
        .data
        .ok_or_else(|| FetchError::Malformed { target, detail: "\"data\" is null or missing".into() })?;
    let date_field = target.endpoint.date_field();
    let data_error = |problem| FetchError::Data { target, problem };
    data.iter()
        .enumerate()
        .map(|(index, map)| {
            let raw_date = map.get(date_field).map(|r| r.get()).unwrap_or("(absent)");
            let day = serde_json::from_str::<String>(raw_date).ok().and_then(|s| parse_day(&s)).ok_or_else(
                || data_error(DataProblem::BadDate { index, field: date_field, found: raw_date.to_string() }),
            )?;
            let row = R::from_fields(&Fields { day, map }).map_err(data_error)?;
            Ok((day, row))
        })
        .collect()
}

/// A row date: `YYYY-MM-DD`, or a timestamp at midnight UTC (`YYYY-MM-DDT00:00:00Z`). Any other
/// time of day is rejected: it would not say which calendar day the row is for.
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    if text.len() == 10 {
        return text.parse().ok();
    }
    let stamp: DateTime<Utc> = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    (stamp.time() == NaiveTime::MIN).then(|| stamp.date_naive())
}

/// Rows of one endpoint by day, sorted, checked against the ranges that were queried.
///
/// Rows are sorted by date whatever order they came in (the reference trusts the order; we do
/// not). Identical duplicates are merged; different rows for one day, and rows outside the
/// queried range, are errors.
pub fn collect_days<R: WireRow>(
    target: RequestTarget,
    rows: Vec<(NaiveDate, R)>,
    into: &mut BTreeMap<NaiveDate, R>,
) -> Result<(), FetchError> {
    for (day, row) in rows {
        if let Some(range) = target.range
            && !range.contains(day)
        {
            return Err(FetchError::Data { target, problem: DataProblem::OutOfRange { day } });
        }
        match into.get(&day) {
            Some(existing) if *existing != row => {
                return Err(FetchError::Data { target, problem: DataProblem::ConflictingDuplicate { day } });
            }
            Some(_) => {}
            None => {
                into.insert(day, row);
            }
        }
    }
    Ok(())
}

/// Checks that `rows` has every day of `range`; the error names the first missing day.
pub fn require_days<R>(
    target: RequestTarget,
    rows: &BTreeMap<NaiveDate, R>,
    range: DateRange,
) -> Result<(), FetchError> {
    match range.days().find(|day| !rows.contains_key(day)) {
        Some(day) => Err(FetchError::Data { target, problem: DataProblem::MissingDay { day } }),
        None => Ok(()),
    }
}

/// `power/network_storage_capacity`, bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapacityRow {
    /// `total_raw_bytes_power`.
    pub raw_bytes: f64,
    /// `total_qa_bytes_power`.
    pub qa_bytes: f64,
    /// `baseline_power`.
    pub baseline_bytes: f64,
}

impl WireRow for CapacityRow {
    fn from_fields(f: &Fields<'_>) -> Result<Self, DataProblem> {
        Ok(CapacityRow {
            raw_bytes: f.f64("total_raw_bytes_power")?,
            qa_bytes: f.f64("total_qa_bytes_power")?,
            baseline_bytes: f.f64("baseline_power")?,
        })
    }
}

/// `power/daily_power_onboarding_by_sector_size`: the 32 GiB + 64 GiB sums, exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnboardingRow {
    /// `commit_rbp_32gib + commit_rbp_64gib`, bytes.
    pub rb_bytes: i128,
    /// `commit_qap_32gib + commit_qap_64gib`, bytes.
    pub qa_bytes: i128,
}

impl WireRow for OnboardingRow {
    fn from_fields(f: &Fields<'_>) -> Result<Self, DataProblem> {
        // DATA.md: added as integers, converted to f64 once (adding two f64s loses a bit on ~10%
        // of days).
        Ok(OnboardingRow {
            rb_bytes: f.integral("commit_rbp_32gib")? + f.integral("commit_rbp_64gib")?,
            qa_bytes: f.integral("commit_qap_32gib")? + f.integral("commit_qap_64gib")?,
        })
    }
}

/// `circulating_supply/circulating_supply`, FIL.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)] // The field names are Spacescope's.
pub struct SupplyRow {
    pub circulating_fil: f64,
    pub mined_fil: f64,
    pub vested_fil: f64,
    pub reserve_disbursed_fil: f64,
    pub locked_fil: f64,
    pub burnt_fil: f64,
}

impl WireRow for SupplyRow {
    fn from_fields(f: &Fields<'_>) -> Result<Self, DataProblem> {
        Ok(SupplyRow {
            circulating_fil: f.f64("circulating_fil")?,
            mined_fil: f.f64("mined_fil")?,
            vested_fil: f.f64("vested_fil")?,
            reserve_disbursed_fil: f.f64("reserve_disbursed_fil")?,
            locked_fil: f.f64("locked_fil")?,
            burnt_fil: f.f64("burnt_fil")?,
        })
    }
}

/// `power/sectors_schedule_expiration`: the fields the pipeline uses, as f64.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)] // The field names are Spacescope's.
pub struct SectorRow {
    pub schedule_expire_bytes: f64,
    pub schedule_expire_bytes_qap: f64,
    pub extended_bytes: f64,
    pub extended_bytes_qap: f64,
    pub terminated_bytes: f64,
    pub terminated_bytes_qap: f64,
    pub schedule_expire_pledge: f64,
    pub terminated_pledge: f64,
}

impl WireRow for SectorRow {
    fn from_fields(f: &Fields<'_>) -> Result<Self, DataProblem> {
        Ok(SectorRow {
            schedule_expire_bytes: f.f64("schedule_expire_bytes")?,
            schedule_expire_bytes_qap: f.f64("schedule_expire_bytes_qap")?,
            extended_bytes: f.f64("extended_bytes")?,
            extended_bytes_qap: f.f64("extended_bytes_qap")?,
            terminated_bytes: f.f64("terminated_bytes")?,
            terminated_bytes_qap: f.f64("terminated_bytes_qap")?,
            schedule_expire_pledge: f.f64("schedule_expire_pledge")?,
            terminated_pledge: f.f64("terminated_pledge")?,
        })
    }
}

/// `deals/deal_size`: activated deal bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)] // The field names are Spacescope's.
pub struct DealRow {
    pub daily_activated_regular_deal_size: f64,
    pub daily_activated_verified_deal_size: f64,
}

impl WireRow for DealRow {
    fn from_fields(f: &Fields<'_>) -> Result<Self, DataProblem> {
        Ok(DealRow {
            daily_activated_regular_deal_size: f.f64("daily_activated_regular_deal_size")?,
            daily_activated_verified_deal_size: f.f64("daily_activated_verified_deal_size")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spacescope::error::Endpoint;

    const TARGET: RequestTarget = RequestTarget { endpoint: Endpoint::Onboarding, range: None };

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn onboarding_sums_are_exact_integers() {
        // 2^53 + 1 is not an f64; summed as f64 the 1 would be lost.
        let body = br#"{"code":0,"message":"ok","data":[{"stat_date":"2025-01-01T00:00:00Z",
            "commit_rbp_32gib":9007199254740993,"commit_rbp_64gib":"1",
            "commit_qap_32gib":1.5e16,"commit_qap_64gib":36893488147419103232}]}"#;
        let rows: Vec<(NaiveDate, OnboardingRow)> = parse_rows(TARGET, body).unwrap();
        assert_eq!(rows[0].0, d("2025-01-01"));
        assert_eq!(rows[0].1.rb_bytes, 9007199254740994);
        assert_eq!(rows[0].1.qa_bytes, 15_000_000_000_000_000 + (1i128 << 65));
    }

    #[test]
    fn big_literals_round_correctly() {
        let body = br#"{"data":[{"stat_date":"2025-01-01","total_raw_bytes_power":20431876696867700000,
            "total_qa_bytes_power":"2.4e19","baseline_power":18446744073709551617}]}"#;
        let target = RequestTarget { endpoint: Endpoint::StorageCapacity, range: None };
        let rows: Vec<(NaiveDate, CapacityRow)> = parse_rows(target, body).unwrap();
        assert_eq!(rows[0].1.raw_bytes, 20431876696867700000.0);
        assert_eq!(rows[0].1.qa_bytes, 2.4e19);
        assert_eq!(rows[0].1.baseline_bytes, 18446744073709551616.0);
    }

    #[test]
    fn bad_rows_name_field_and_day() {
        let target = RequestTarget { endpoint: Endpoint::StorageCapacity, range: None };
        let body = br#"{"data":[{"stat_date":"2025-01-02T00:00:00Z","total_raw_bytes_power":"n/a",
            "total_qa_bytes_power":1,"baseline_power":1}]}"#;
        let err = parse_rows::<CapacityRow>(target, body).unwrap_err().to_string();
        assert!(err.contains("total_raw_bytes_power on 2025-01-02") && err.contains("n/a"), "{err}");
        let body =
            br#"{"data":[{"stat_date":"2025-01-02T00:00:00Z","total_qa_bytes_power":1,"baseline_power":1}]}"#;
        let err = parse_rows::<CapacityRow>(target, body).unwrap_err().to_string();
        assert!(err.contains("no field total_raw_bytes_power"), "{err}");
        let err = parse_rows::<CapacityRow>(target, b"{\"data\": [").unwrap_err();
        assert!(matches!(err, FetchError::Malformed { .. }), "{err}");
        let err =
            parse_rows::<CapacityRow>(target, br#"{"code":7,"message":"quota","data":null}"#).unwrap_err();
        assert!(err.to_string().contains("code 7: quota"), "{err}");
    }

    #[test]
    fn dates_must_be_midnight_utc() {
        assert_eq!(parse_day("2022-10-10T00:00:00Z"), Some(d("2022-10-10")));
        assert_eq!(parse_day("2022-10-10"), Some(d("2022-10-10")));
        assert_eq!(parse_day("2022-10-10T02:00:00+02:00"), Some(d("2022-10-10")));
        assert_eq!(parse_day("2022-10-10T12:00:00Z"), None);
        assert_eq!(parse_day("10/10/2022"), None);
    }

    #[test]
    fn collect_sorts_merges_and_rejects() {
        let range = DateRange::new(d("2025-01-01"), d("2025-01-03")).unwrap();
        let target = RequestTarget { endpoint: Endpoint::DealSize, range: Some(range) };
        let row =
            |v: f64| DealRow { daily_activated_regular_deal_size: v, daily_activated_verified_deal_size: v };
        let mut map = BTreeMap::new();
        collect_days(target, vec![(d("2025-01-03"), row(3.0)), (d("2025-01-01"), row(1.0))], &mut map)
            .unwrap();
        collect_days(target, vec![(d("2025-01-01"), row(1.0))], &mut map).unwrap();
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), vec![d("2025-01-01"), d("2025-01-03")]);
        let err = require_days(target, &map, range).unwrap_err().to_string();
        assert!(err.contains("no row for 2025-01-02") && err.contains("/v2/deals/deal_size"), "{err}");
        let err = collect_days(target, vec![(d("2025-01-01"), row(9.0))], &mut map).unwrap_err();
        assert!(err.to_string().contains("two different rows for 2025-01-01"), "{err}");
        let err = collect_days(target, vec![(d("2025-01-09"), row(9.0))], &mut map).unwrap_err();
        assert!(err.to_string().contains("outside the queried range"), "{err}");
    }
}
