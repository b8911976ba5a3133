//! Date arithmetic of the pipeline (DATA.md, "Conventions" and "Dates"): inclusive date ranges,
//! the 91-day query chunks, the query string, and the step-back candidates for `current_date`.
//!
//! Everything here is a pure function of its arguments (no clock), so it is property-tested in
//! `tests/dates_props.rs`.

use std::fmt;

use chrono::{Days, NaiveDate};

/// Days added to a chunk's first day to get its last day: a full chunk holds 91 days.
pub const CHUNK_SPAN_DAYS: u64 = 90;
/// How many times the latest day may be stepped back when it is not published yet.
pub const MAX_STEP_BACKS: usize = 10;

/// An inclusive range of UTC calendar days, `start ..= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateRange {
    /// First day (inclusive).
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
}

impl DateRange {
    /// The range `start ..= end`, or `None` when `end < start`.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Option<DateRange> {
        (start <= end).then_some(DateRange { start, end })
    }

    /// Number of days in the range (at least 1).
    pub fn n_days(&self) -> usize {
        // `new` guarantees end >= start, so the difference is non-negative.
        (self.end - self.start).num_days() as usize + 1
    }

    /// Whether `day` lies in the range.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }

    /// Every day of the range, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let end = self.end;
        self.start.iter_days().take_while(move |d| *d <= end)
    }

    /// The query string Spacescope expects, exactly as the reference sends it:
    /// `end_date=YYYY-MM-DD&start_date=YYYY-MM-DD`.
    pub fn query_string(&self) -> String {
        format!("end_date={}&start_date={}", self.end.format("%Y-%m-%d"), self.start.format("%Y-%m-%d"))
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ..= {}", self.start, self.end)
    }
}

/// Splits `range` into the query chunks of DATA.md: `[s, min(s + 90, end)]`, the next chunk
/// starting the day after. The chunks cover the range exactly, in order, without overlap.
pub fn chunks(range: DateRange) -> Vec<DateRange> {
    let mut out = Vec::with_capacity(range.n_days().div_ceil(CHUNK_SPAN_DAYS as usize + 1));
    let mut start = range.start;
    loop {
        let end = add_days(start, CHUNK_SPAN_DAYS).min(range.end);
        out.push(DateRange { start, end });
        if end >= range.end {
            return out;
        }
        start = add_days(end, 1);
    }
}

/// The `current_date` candidates when none is given: yesterday (relative to `today`), then up to
/// [`MAX_STEP_BACKS`] earlier days, one at a time (DATA.md, "Dates").
pub fn current_date_candidates(today: NaiveDate) -> Vec<NaiveDate> {
    (1..=MAX_STEP_BACKS as u64 + 1).map(|back| sub_days(today, back)).collect()
}

/// `day + n` days. Panics only past year 262143, which no caller can reach.
pub fn add_days(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_add_days(Days::new(n)).expect("date within chrono's range")
}

/// `day - n` days. Panics only before year -262144, which no caller can reach.
pub fn sub_days(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_sub_days(Days::new(n)).expect("date within chrono's range")
}

/// Formats a day as `YYYY-MM-DD`.
pub fn ymd(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn chunks_match_the_recorded_windows() {
        // fixtures/spacescope/README.md: 2022-10-10 ..= 2025-09-09 is 12 windows, the first and
        // last of which are these.
        let c = chunks(DateRange::new(d("2022-10-10"), d("2025-09-09")).unwrap());
        assert_eq!(c.len(), 12);
        assert_eq!(c[0].query_string(), "end_date=2023-01-08&start_date=2022-10-10");
        assert_eq!(c[11].query_string(), "end_date=2025-09-09&start_date=2025-07-07");
        let full = chunks(DateRange::new(d("2020-10-15"), d("2025-09-08")).unwrap());
        assert_eq!(full.len(), 20);
        assert_eq!(full[19], DateRange::new(d("2025-07-10"), d("2025-09-08")).unwrap());
    }

    #[test]
    fn single_day_range_is_one_chunk() {
        let r = DateRange::new(d("2022-10-10"), d("2022-10-10")).unwrap();
        assert_eq!(chunks(r), vec![r]);
        assert_eq!(r.n_days(), 1);
    }

    #[test]
    fn candidates_start_yesterday() {
        let c = current_date_candidates(d("2025-09-10"));
        assert_eq!(c.first(), Some(&d("2025-09-09")));
        assert_eq!(c.last(), Some(&d("2025-08-30")));
        assert_eq!(c.len(), 11);
    }
}
