//! Properties of the pipeline's date arithmetic (`spacescope::dates`): the query chunks tile the
//! range exactly as DATA.md says, and the step-back candidates are consecutive days from
//! yesterday.

use chrono::{Days, NaiveDate};
use mechafil_api::spacescope::dates::{
    CHUNK_SPAN_DAYS, DateRange, MAX_STEP_BACKS, chunks, current_date_candidates,
};
use proptest::prelude::*;

fn date() -> impl Strategy<Value = NaiveDate> {
    // 2015 .. 2045: every date the service could ask about, leap years included.
    (0u64..11_000).prop_map(|n| NaiveDate::from_ymd_opt(2015, 1, 1).unwrap() + Days::new(n))
}

proptest! {
    #[test]
    fn chunks_tile_the_range(start in date(), len in 1u64..4000) {
        let range = DateRange::new(start, start + Days::new(len - 1)).unwrap();
        let parts = chunks(range);
        prop_assert_eq!(parts[0].start, range.start);
        prop_assert_eq!(parts[parts.len() - 1].end, range.end);
        for pair in parts.windows(2) {
            // Contiguous, no overlap: the next chunk starts the day after.
            prop_assert_eq!(pair[1].start, pair[0].end.succ_opt().unwrap());
        }
        for (i, part) in parts.iter().enumerate() {
            // [s, min(s + 90, end)]: every chunk but the last holds exactly 91 days.
            prop_assert!(part.start <= part.end);
            if i + 1 < parts.len() {
                prop_assert_eq!(part.end, part.start + Days::new(CHUNK_SPAN_DAYS));
            } else {
                prop_assert!(part.n_days() <= CHUNK_SPAN_DAYS as usize + 1);
            }
        }
        let total: usize = parts.iter().map(DateRange::n_days).sum();
        prop_assert_eq!(total, range.n_days());
        prop_assert_eq!(parts.len(), range.n_days().div_ceil(CHUNK_SPAN_DAYS as usize + 1));
    }

    #[test]
    fn chunks_of_a_prefix_share_all_but_the_last(start in date(), len in 2u64..2000) {
        // Why the step-back costs one request per endpoint: moving the end back by a day changes
        // only the last chunk (or drops it), so the others come from the cache.
        let long = chunks(DateRange::new(start, start + Days::new(len - 1)).unwrap());
        let short = chunks(DateRange::new(start, start + Days::new(len - 2)).unwrap());
        prop_assert!(short.len() == long.len() || short.len() + 1 == long.len());
        prop_assert_eq!(&short[..short.len() - 1], &long[..short.len() - 1]);
    }

    #[test]
    fn query_string_names_both_ends(start in date(), len in 1u64..200) {
        let range = DateRange::new(start, start + Days::new(len - 1)).unwrap();
        let q = range.query_string();
        let expected = format!("end_date={}&start_date={}", range.end, range.start);
        prop_assert_eq!(q, expected);
        prop_assert_eq!(range.days().count(), range.n_days());
        prop_assert!(range.days().all(|d| range.contains(d)));
    }

    #[test]
    fn step_back_candidates_are_consecutive_from_yesterday(today in date()) {
        let c = current_date_candidates(today);
        prop_assert_eq!(c.len(), MAX_STEP_BACKS + 1);
        prop_assert_eq!(c[0], today.pred_opt().unwrap());
        for pair in c.windows(2) {
            prop_assert_eq!(pair[1], pair[0].pred_opt().unwrap());
        }
    }

    #[test]
    fn an_empty_range_cannot_be_built(start in date(), back in 1u64..100) {
        prop_assert!(DateRange::new(start, start - Days::new(back)).is_none());
    }
}
