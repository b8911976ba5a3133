//! The demo snapshot: deterministic, consistent like fetched data, cheap to generate, and the
//! default simulation on it gives plausible numbers.

use std::time::{Duration, Instant};

use mechafil_api::demo::{DEMO_CURRENT_DATE, DEMO_START_DATE, demo_network_data, demo_snapshot};
use mechafil_api::network_data::SnapshotSource;
use mechafil_api::spacescope::error::{Endpoint, RequestTarget};
use mechafil_api::spacescope::pipeline::check_flow;
use mechafil_core::{SimParams, Simulator};

#[test]
fn demo_is_deterministic_and_fast() {
    let started = Instant::now();
    let first = demo_network_data();
    let elapsed = started.elapsed();
    eprintln!("demo generation: {elapsed:?}");
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    let second = demo_network_data();
    // Bit-for-bit: compare through the store's encoding (PartialEq on f64 would accept -0 == 0).
    assert_eq!(mechafil_api::store::codec::encode(&first), mechafil_api::store::codec::encode(&second));
    let snapshot = demo_snapshot();
    assert_eq!(snapshot.meta.source, SnapshotSource::Demo);
    assert_eq!((snapshot.meta.start_date, snapshot.meta.current_date), (DEMO_START_DATE, DEMO_CURRENT_DATE));
}

#[test]
fn demo_passes_the_checks_fetched_data_passes() {
    let data = demo_network_data();
    data.validate().unwrap();
    let s = &data.snapshot;
    let days = |values: &[f64]| -> Vec<(chrono::NaiveDate, f64)> {
        s.start_date.iter_days().zip(values.iter().copied()).collect()
    };
    let target = RequestTarget { endpoint: Endpoint::Onboarding, range: None };
    check_flow(target, "onboarded rb", &days(&s.historical_onboarded_rb_power_pib)).unwrap();
    check_flow(target, "onboarded qa", &days(&s.historical_onboarded_qa_power_pib)).unwrap();
    let supply = data.supply.as_ref().unwrap();
    for (name, values) in supply.series() {
        assert!(values.iter().all(|v| *v > 0.0), "{name} is positive every day");
    }
    // The identity Spacescope's numbers satisfy: circulating = vested + mined + reserve - locked - burnt.
    for i in 0..s.history_len() {
        let identity = supply.vested_fil[i] + supply.mined_fil[i] + supply.reserve_disbursed_fil[i]
            - supply.locked_fil[i]
            - supply.burnt_fil[i];
        assert!((identity - supply.circulating_fil[i]).abs() < 1e-6, "day {i}");
    }
    // Magnitudes of the real network (the supply as the model computes it on these inputs, which
    // is what it computes on the real network's: locked ~122M to ~165M, circulating up to ~775M).
    let last = s.history_len() - 1;
    assert!(
        (15.0..18.0).contains(&s.historical_raw_power_eib[0])
            && (2.5..4.0).contains(&s.historical_raw_power_eib[last])
    );
    assert!(s.historical_qa_power_eib.iter().all(|v| (17.0..26.0).contains(v)));
    assert!(
        (350e6..400e6).contains(&supply.circulating_fil[0])
            && (600e6..800e6).contains(&supply.circulating_fil[last])
    );
    assert!(supply.locked_fil.iter().all(|v| (130e6..180e6).contains(v)));
    assert_eq!(s.rb_known_scheduled_expire_vec.len(), 1275, "3.5 years of known expirations");
    assert_eq!(s.known_scheduled_pledge_release_full_vec.len(), 2340, "6.4 years of pledge releases");
}

#[test]
fn default_simulation_on_the_demo_is_plausible() {
    let data = demo_network_data();
    let sim = Simulator::new(data.snapshot.clone()).unwrap();
    let out = sim.simulate(&SimParams::default()).unwrap();
    let series = |name: &str| out.get(name).unwrap().to_vec();
    for name in
        ["rb_total_power_eib", "qa_total_power_eib", "circ_supply", "network_locked", "day_network_reward"]
    {
        let values = series(name);
        assert!(values.iter().all(|v| v.is_finite() && *v > 0.0), "{name} is finite and positive");
    }
    let rr = series("full_renewal_rate");
    assert!(rr.iter().all(|v| (0.0..=1.0).contains(v)), "renewal rates in [0, 1]");
    let smoothed = data.snapshot.smoothed;
    assert!((0.0..=1.0).contains(&smoothed.renewal_rate) && (0.0..=1.0).contains(&smoothed.filplus_rate));
    assert!(smoothed.raw_byte_power > 0.0);
    // The 1-year ROI of a sector onboarded on current_date (index H - 1 of the 1y series).
    let roi = series("1y_sector_roi");
    let at_current = roi[data.snapshot.history_len() - 1];
    eprintln!("1y sector ROI at current_date: {at_current}");
    assert!(at_current > 0.0 && at_current < 1.0, "{at_current}");
    assert!(roi.iter().all(|v| v.is_finite() && *v > 0.0 && *v < 1.0), "every 1y ROI in (0, 1)");
}
