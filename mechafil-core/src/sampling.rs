//! Which entries of a series an answer carries: every day, or the real Mondays, inside a
//! window of dates ([`Sampling`]). The API's weekly answers and the analyses' bands use it, so a
//! weekly array means the same dates everywhere.
//!
//! The reference service counted "every 7th value from start_date" on arrays that do not
//! start on start_date, so its samples were not Mondays (MODEL.md, "Not to reproduce").
//! Here every series is sampled by its own dates.

use chrono::{Datelike, Days, NaiveDate};

/// Every day, or the Mondays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolution {
    /// The Mondays of the window.
    #[default]
    Weekly,
    /// Every day of the window.
    Daily,
}

/// The first Monday on or after `date`.
pub fn first_monday_on_or_after(date: NaiveDate) -> NaiveDate {
    let ahead = (7 - date.weekday().num_days_from_monday()) % 7;
    date + Days::new(u64::from(ahead))
}

/// A regular selection of a series' entries: `count` entries from `first_index`, every `step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    /// Index of the first selected entry.
    pub first_index: usize,
    /// Distance between selected entries, in days.
    pub step: usize,
    /// Number of selected entries.
    pub count: usize,
    /// Date of the first selected entry (meaningful when `count > 0`).
    pub first_date: NaiveDate,
}

impl Sampling {
    /// Every entry of a series of `len` values starting on `first_date`.
    pub fn daily(first_date: NaiveDate, len: usize) -> Sampling {
        Sampling { first_index: 0, step: 1, count: len, first_date }
    }

    /// The Mondays of a series (`len` values from `first_date`) that fall in
    /// `window_start ..= window_end`.
    pub fn mondays(
        first_date: NaiveDate,
        len: usize,
        window_start: NaiveDate,
        window_end: NaiveDate,
    ) -> Sampling {
        let empty = Sampling { first_index: 0, step: 7, count: 0, first_date: window_start };
        if len == 0 {
            return empty;
        }
        let last_date = first_date + Days::new(len as u64 - 1);
        let lo = first_monday_on_or_after(window_start.max(first_date));
        let hi = window_end.min(last_date);
        if lo > hi {
            return Sampling { first_date: lo, ..empty };
        }
        let span = (hi - lo).num_days() as usize;
        Sampling {
            first_index: (lo - first_date).num_days() as usize,
            step: 7,
            count: span / 7 + 1,
            first_date: lo,
        }
    }

    /// Date of the last selected entry, if any.
    pub fn last_date(&self) -> Option<NaiveDate> {
        (self.count > 0).then(|| self.first_date + Days::new(((self.count - 1) * self.step) as u64))
    }

    /// The selected values of `values`.
    pub fn iter<'a>(&self, values: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        values.iter().skip(self.first_index).step_by(self.step).take(self.count).copied()
    }
}

impl Sampling {
    /// The entries of a series (`len` values from `first_date`) dated inside
    /// `window_start ..= window_end`, every day or on Mondays.
    pub fn window(
        first_date: NaiveDate,
        len: usize,
        window_start: NaiveDate,
        window_end: NaiveDate,
        resolution: Resolution,
    ) -> Sampling {
        match resolution {
            Resolution::Weekly => Sampling::mondays(first_date, len, window_start, window_end),
            Resolution::Daily => {
                let empty = Sampling { first_index: 0, step: 1, count: 0, first_date: window_start };
                if len == 0 {
                    return empty;
                }
                let last_date = first_date + Days::new(len as u64 - 1);
                let (lo, hi) = (window_start.max(first_date), window_end.min(last_date));
                if lo > hi {
                    return Sampling { first_date: lo, ..empty };
                }
                Sampling {
                    first_index: (lo - first_date).num_days() as usize,
                    step: 1,
                    count: (hi - lo).num_days() as usize + 1,
                    first_date: lo,
                }
            }
        }
    }

    /// The index (into the whole series) of the `k`-th selected entry.
    pub fn index(&self, k: usize) -> usize {
        self.first_index + k * self.step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;
    use proptest::prelude::*;

    fn is_monday(date: NaiveDate) -> bool {
        date.weekday() == Weekday::Mon
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn mondays_of_a_window() {
        // 2025-09-09 is a Tuesday; the next Monday is 2025-09-15.
        let s = Sampling::mondays(date("2022-10-10"), 2000, date("2025-09-09"), date("2025-10-01"));
        assert_eq!(s.first_date, date("2025-09-15"));
        assert_eq!(s.count, 3);
        assert_eq!(s.last_date(), Some(date("2025-09-29")));
        assert_eq!(s.first_index, (date("2025-09-15") - date("2022-10-10")).num_days() as usize);
    }

    #[test]
    fn a_daily_window_is_clipped_to_the_series() {
        let s = Sampling::window(
            date("2025-01-01"),
            10,
            date("2025-01-05"),
            date("2025-02-01"),
            Resolution::Daily,
        );
        assert_eq!((s.first_index, s.step, s.count, s.first_date), (4, 1, 6, date("2025-01-05")));
        assert_eq!(s.last_date(), Some(date("2025-01-10")));
        let none = Sampling::window(
            date("2025-01-01"),
            10,
            date("2025-03-01"),
            date("2025-04-01"),
            Resolution::Daily,
        );
        assert_eq!(none.count, 0);
    }

    #[test]
    fn a_window_without_mondays_is_empty() {
        let s = Sampling::mondays(date("2025-09-09"), 3, date("2025-09-09"), date("2025-09-11"));
        assert_eq!(s.count, 0);
        assert_eq!(s.last_date(), None);
        assert!(s.iter(&[1.0, 2.0, 3.0]).next().is_none());
    }

    proptest! {
        #[test]
        fn every_sample_is_a_monday_inside_window_and_series(
            first in 0u64..3000, len in 0usize..4000, ws in 0u64..5000, wlen in 0u64..4000,
        ) {
            let base = date("2020-10-15");
            let first_date = base + Days::new(first);
            let (window_start, window_end) = (base + Days::new(ws), base + Days::new(ws + wlen));
            let s = Sampling::mondays(first_date, len, window_start, window_end);
            let values: Vec<f64> = (0..len).map(|i| i as f64).collect();
            let taken: Vec<f64> = s.iter(&values).collect();
            prop_assert_eq!(taken.len(), s.count);
            for (k, v) in taken.iter().enumerate() {
                let d = first_date + Days::new(*v as u64);
                prop_assert!(is_monday(d));
                prop_assert!(d >= window_start && d <= window_end);
                prop_assert_eq!(d, s.first_date + Days::new(7 * k as u64));
            }
            // No Monday of the window and the series is missed.
            let series_end = first_date + Days::new(len.max(1) as u64 - 1);
            let mut expected = 0;
            let mut d = window_start.max(first_date);
            while len > 0 && d <= window_end.min(series_end) {
                if is_monday(d) { expected += 1; }
                d = d + Days::new(1);
            }
            prop_assert_eq!(s.count, expected);
        }
    }
}
