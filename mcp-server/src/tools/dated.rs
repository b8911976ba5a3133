//! Series with dates: [`Dated`] (value `i` on `start + i * step_days`), the sampling of a daily
//! series onto a coarser grid, and the key figures a person quotes from a series.
//!
//! Tool results carry series at a resolution that fits the horizon (a ten-year forecast every
//! four weeks, not every day), but every figure they lead with (the value at the start, the end,
//! each year mark, the minimum and maximum) is read from the daily values, on exact dates. Date
//! arithmetic is checked: a date past chrono's range is `None`, never a panic.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde::Serialize;

/// Values on evenly spaced dates: `values[i]` is on `start + i * step_days`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dated {
    /// Date of `values[0]`.
    pub start: NaiveDate,
    /// Days between two values (at least 1).
    pub step_days: u32,
    /// The values; `None` for a gap (`null` in the API: NaN or infinite).
    pub values: Vec<Option<f64>>,
}

/// Adds `days` to `date`, `None` past chrono's last date.
pub fn add_days(date: NaiveDate, days: u64) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(days))
}

/// The first Monday on or after `date` (the API samples weekly series on Mondays).
pub fn first_monday_on_or_after(date: NaiveDate) -> Option<NaiveDate> {
    let ahead = (7 - date.weekday().num_days_from_monday()) % 7;
    add_days(date, u64::from(ahead)).filter(|d| d.weekday() == Weekday::Mon)
}

impl Dated {
    /// The date of value `i`.
    pub fn date_at(&self, i: usize) -> Option<NaiveDate> {
        add_days(self.start, (i as u64).checked_mul(u64::from(self.step_days))?)
    }

    /// The date of the last value (`None` when empty).
    pub fn end(&self) -> Option<NaiveDate> {
        self.values.len().checked_sub(1).and_then(|last| self.date_at(last))
    }

    /// The index of `date`, if a value falls on it.
    pub fn index_of(&self, date: NaiveDate) -> Option<usize> {
        let days = (date - self.start).num_days();
        let step = i64::from(self.step_days);
        if days < 0 || days % step != 0 {
            return None;
        }
        let index = usize::try_from(days / step).ok()?;
        (index < self.values.len()).then_some(index)
    }

    /// The index of the last value on or before `date` (`None` before the first).
    pub fn index_at_or_before(&self, date: NaiveDate) -> Option<usize> {
        let days = (date - self.start).num_days();
        if days < 0 || self.values.is_empty() {
            return None;
        }
        let index = usize::try_from(days / i64::from(self.step_days)).ok()?;
        Some(index.min(self.values.len() - 1))
    }

    /// The indices a person reads a sampled series at: the first, the last on or before each
    /// year mark (same month and day as the first date), and the last.
    pub fn key_indices(&self) -> Vec<usize> {
        let Some(end) = self.end() else { return Vec::new() };
        let mut indices = vec![0];
        for years in 1.. {
            let Some(mark) = self.start.checked_add_months(Months::new(12 * years)) else { break };
            if mark >= end {
                break;
            }
            if let Some(i) = self.index_at_or_before(mark).filter(|i| indices.last() != Some(i)) {
                indices.push(i);
            }
        }
        if indices.last() != Some(&(self.values.len() - 1)) {
            indices.push(self.values.len() - 1);
        }
        indices
    }

    /// The value on `date` (`None` when no value falls on it, or it is a gap).
    pub fn value_on(&self, date: NaiveDate) -> Option<f64> {
        self.index_of(date).and_then(|i| self.values[i])
    }

    /// The values on `first`, `first + step`, ... up to `last` (inclusive) that this series
    /// has; the sampled series starts at the first of those dates. `step` must be a multiple of
    /// this series' step and `first` one of its dates for any value to be found. Empty when
    /// none falls in the range.
    pub fn sample(&self, first: NaiveDate, step: u32, last: NaiveDate) -> Option<Dated> {
        let end = self.end()?.min(last);
        let mut date = first;
        // Skip grid dates before this series starts.
        while date < self.start {
            date = add_days(date, u64::from(step))?;
        }
        let start = date;
        let mut values = Vec::new();
        while date <= end {
            values.push(self.value_on(date));
            match add_days(date, u64::from(step)) {
                Some(next) => date = next,
                None => break,
            }
        }
        (!values.is_empty()).then_some(Dated { start, step_days: step, values })
    }

    /// The daily values from `from` to `to` (both inclusive, clipped to the series).
    pub fn between(&self, from: NaiveDate, to: NaiveDate) -> Option<Dated> {
        debug_assert_eq!(self.step_days, 1);
        let first = from.max(self.start);
        let last = to.min(self.end()?);
        if first > last {
            return None;
        }
        let i = self.index_of(first)?;
        let j = self.index_of(last)?;
        Some(Dated { start: first, step_days: 1, values: self.values[i..=j].to_vec() })
    }

    /// The key figures of this (daily) series: see [`KeyFigures`].
    pub fn key_figures(&self, unit: &str) -> Option<KeyFigures> {
        let end_date = self.end()?;
        let at = |date: NaiveDate| DatedValue { date, value: self.value_on(date) };
        let start = at(self.start);
        let end = at(end_date);
        let each_year = (1..)
            .map_while(|years| {
                let date = self.start.checked_add_months(Months::new(12 * years))?;
                (date < end_date).then(|| at(date))
            })
            .collect();
        let finite =
            self.values.iter().enumerate().filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (i, v)));
        let mut min: Option<(usize, f64)> = None;
        let mut max: Option<(usize, f64)> = None;
        for (i, v) in finite {
            // Strict comparisons: the first date of a repeated extreme is the one quoted.
            if min.is_none_or(|(_, m)| v < m) {
                min = Some((i, v));
            }
            if max.is_none_or(|(_, m)| v > m) {
                max = Some((i, v));
            }
        }
        let extreme = |found: Option<(usize, f64)>| {
            found.and_then(|(i, v)| Some(DatedValue { date: self.date_at(i)?, value: Some(v) }))
        };
        let change = match (start.value, end.value) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        let change_relative = match (change, start.value) {
            (Some(change), Some(a)) if a != 0.0 => Some(change / a.abs()),
            _ => None,
        };
        Some(KeyFigures {
            unit: unit.to_string(),
            start,
            end,
            each_year,
            min: extreme(min),
            max: extreme(max),
            change,
            change_relative,
        })
    }

    /// `(x(d) - x(d - step)) / step` on each date `d` of `grid`, from this daily cumulative
    /// series: the average increase per day over the `step` days ending on `d`. `None` where
    /// either value is missing (the first date of the history has no day before it).
    pub fn daily_rate_on(&self, grid: &Dated) -> Dated {
        let step = grid.step_days;
        let values = (0..grid.values.len())
            .map(|i| {
                let date = grid.date_at(i)?;
                let before = date.checked_sub_days(Days::new(u64::from(step)))?;
                Some((self.value_on(date)? - self.value_on(before)?) / f64::from(step))
            })
            .collect();
        Dated { start: grid.start, step_days: step, values }
    }
}

/// A value with its date.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DatedValue {
    /// The date.
    pub date: NaiveDate,
    /// The value on it (`null` for a gap).
    pub value: Option<f64>,
}

/// The figures a person quotes from a series: where it starts and ends, its value at each year
/// mark, its extremes and its total change, each with its date, read from the daily values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyFigures {
    /// The unit of every value below.
    pub unit: String,
    /// The first value.
    pub start: DatedValue,
    /// The last value.
    pub end: DatedValue,
    /// The value one, two, ... years after the start (same month and day), before the end.
    pub each_year: Vec<DatedValue>,
    /// The smallest value (its first date).
    pub min: Option<DatedValue>,
    /// The largest value (its first date).
    pub max: Option<DatedValue>,
    /// `end - start`.
    pub change: Option<f64>,
    /// `(end - start) / |start|` (`null` when the start is 0).
    pub change_relative: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn daily(start: &str, values: &[f64]) -> Dated {
        Dated { start: date(start), step_days: 1, values: values.iter().copied().map(Some).collect() }
    }

    #[test]
    fn sampling_picks_grid_dates_that_the_series_has() {
        // 2025-09-09 is a Tuesday; its first Monday is 2025-09-15.
        let series = daily("2025-09-09", &(0..30).map(f64::from).collect::<Vec<_>>());
        let monday = first_monday_on_or_after(date("2025-09-09")).unwrap();
        assert_eq!(monday, date("2025-09-15"));
        assert_eq!(first_monday_on_or_after(monday), Some(monday));
        let weekly = series.sample(monday, 7, date("2025-10-08")).unwrap();
        assert_eq!(weekly.start, monday);
        assert_eq!(weekly.values, [Some(6.0), Some(13.0), Some(20.0), Some(27.0)]);
        assert_eq!(weekly.end(), Some(date("2025-10-06")));
        // A series that starts later than the grid's first date starts at its first grid date.
        let late = daily("2025-09-20", &[1.0; 20]);
        assert_eq!(late.sample(monday, 7, date("2025-12-31")).unwrap().start, date("2025-09-22"));
        assert!(late.sample(monday, 7, date("2025-09-21")).is_none());
    }

    #[test]
    fn key_figures_are_read_on_exact_dates() {
        // Three years of a value that dips in the middle.
        let values: Vec<f64> = (0..1096).map(|i| if i == 500 { -5.0 } else { f64::from(i) }).collect();
        let series = daily("2024-02-29", &values);
        let figures = series.key_figures("FIL").unwrap();
        assert_eq!(figures.start, DatedValue { date: date("2024-02-29"), value: Some(0.0) });
        assert_eq!(figures.end, DatedValue { date: date("2027-02-28"), value: Some(1095.0) });
        // Year marks of a leap day fall on the 28th; the one equal to the end is not repeated.
        let marks: Vec<String> = figures.each_year.iter().map(|m| m.date.to_string()).collect();
        assert_eq!(marks, ["2025-02-28", "2026-02-28"]);
        assert_eq!(figures.each_year[0].value, Some(365.0));
        assert_eq!(figures.min, Some(DatedValue { date: date("2025-07-13"), value: Some(-5.0) }));
        assert_eq!(figures.max.unwrap().value, Some(1095.0));
        assert_eq!(figures.change, Some(1095.0));
        assert_eq!(figures.change_relative, None);
    }

    #[test]
    fn daily_rates_use_the_days_before_the_grid() {
        let cumulative = daily("2025-09-01", &(0..40).map(|i| f64::from(i * i)).collect::<Vec<_>>());
        let grid = cumulative.sample(date("2025-09-08"), 7, date("2025-10-10")).unwrap();
        let rates = cumulative.daily_rate_on(&grid);
        // (7^2 - 0^2) / 7 = 7, (14^2 - 7^2) / 7 = 21, ...
        assert_eq!(rates.values[..3], [Some(7.0), Some(21.0), Some(35.0)]);
        let first = cumulative.sample(date("2025-09-01"), 7, date("2025-09-08")).unwrap();
        assert_eq!(cumulative.daily_rate_on(&first).values, [None, Some(7.0)]);
    }

    #[test]
    fn key_indices_fall_on_or_before_each_year_mark() {
        // Weekly from a Monday for three years and a bit.
        let weekly = Dated { start: date("2025-09-15"), step_days: 7, values: vec![Some(1.0); 160] };
        let dates: Vec<String> =
            weekly.key_indices().iter().map(|i| weekly.date_at(*i).unwrap().to_string()).collect();
        assert_eq!(dates, ["2025-09-15", "2026-09-14", "2027-09-13", "2028-09-11", "2028-10-02"]);
        assert_eq!(weekly.index_at_or_before(date("2025-09-14")), None);
        assert_eq!(weekly.index_at_or_before(date("2040-01-01")), Some(159));
        let one = Dated { start: date("2025-09-15"), step_days: 7, values: vec![Some(1.0)] };
        assert_eq!(one.key_indices(), [0]);
    }

    #[test]
    fn dates_past_the_calendar_are_none_not_panics() {
        let far = Dated { start: NaiveDate::MAX, step_days: 7, values: vec![Some(1.0), Some(2.0)] };
        assert_eq!(far.date_at(1), None);
        assert_eq!(far.end(), None);
        assert!(far.key_figures("x").is_none());
        assert_eq!(add_days(NaiveDate::MAX, 1), None);
    }
}
