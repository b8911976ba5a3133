//! Parity of the Spacescope pipeline with the reference (DATA.md, "Acceptance"), against a mock
//! Spacescope on loopback that serves `shared/fixtures/spacescope/`.
//!
//! - `replay_reproduces_expected_snapshot`: the pinned scenario (2022-10-10 .. 2025-09-09,
//!   W = 3650) asks exactly the distinct requests of `requests.log` (each once: we deliberately
//!   do not repeat the reference's duplicate requests) and reproduces every field of
//!   `expected-snapshot.json` within 1e-12 series-scaled.
//! - The step-back, row-order and duplicate-row tests use the same data cut to any window.

mod common;

use std::collections::BTreeSet;

use common::*;
use mechafil_api::spacescope::{FetchError, FetchOptions, fetch_network_data, fetch_network_data_at};

fn scenario() -> FetchOptions {
    FetchOptions { start_date: day("2022-10-10"), current_date: Some(day("2025-09-09")), window_days: 3650 }
}

#[tokio::test]
async fn replay_reproduces_expected_snapshot() {
    let Some(dir) = spacescope_dir() else { return };
    let mock = MockSpacescope::start(&dir, Mode::Strict, None).await;
    let started = std::time::Instant::now();
    let data = fetch_network_data(&mock_config(&mock.base_url), &scenario()).await.unwrap();
    eprintln!("fetch + derive against the replay: {:?}", started.elapsed());

    let ours = serde_json::to_value(data.to_export()).unwrap();
    let expected = read_json(&dir.join("expected-snapshot.json"));
    let worst = compare_with_expected(&ours, &expected).unwrap();
    eprintln!("worst scaled error over expected-snapshot.json: {worst:.3e}");

    let asked = mock.requests();
    let distinct: BTreeSet<String> = asked.iter().cloned().collect();
    assert_eq!(asked.len(), distinct.len(), "no request is repeated");
    let recorded = recorded_requests(&dir);
    let missing: Vec<_> = recorded.difference(&distinct).collect();
    let extra: Vec<_> = distinct.difference(&recorded).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, extra {extra:?}");
    assert_eq!(distinct.len(), 65);
}

#[tokio::test]
async fn step_back_finds_the_latest_published_day() {
    let Some(dir) = spacescope_dir() else { return };
    let mock = MockSpacescope::start(&dir, Mode::DataBacked, None).await;
    let opts = FetchOptions { current_date: None, ..scenario() };
    // Yesterday is 2025-09-11; the data ends on 2025-09-09: two steps back.
    let data = fetch_network_data_at(&mock_config(&mock.base_url), &opts, day("2025-09-12")).await.unwrap();
    assert_eq!(data.snapshot.current_date, day("2025-09-09"));
    let ours = serde_json::to_value(data.to_export()).unwrap();
    compare_with_expected(&ours, &read_json(&dir.join("expected-snapshot.json"))).unwrap();

    // Each step re-issues only the last chunk of the three daily endpoints: no probes, and the
    // earlier chunks come from the client's cache.
    let asked = mock.requests();
    let distinct: BTreeSet<&String> = asked.iter().collect();
    assert_eq!(asked.len(), distinct.len(), "no request is repeated");
    assert_eq!(asked.len(), 65 + 2 * 3);
    for end in ["2025-09-11", "2025-09-10", "2025-09-09"] {
        let n = mock.count(|p, q| {
            q.get("start_date").map(String::as_str) == Some("2025-07-07")
                && q.get("end_date").map(String::as_str) == Some(end)
                && !p.contains("deal_size")
        });
        assert_eq!(n, 3, "last chunk ending {end}: one request per daily endpoint");
    }
}

#[tokio::test]
async fn step_back_gives_up_after_ten_days() {
    let Some(dir) = spacescope_dir() else { return };
    let mock = MockSpacescope::start(&dir, Mode::DataBacked, None).await;
    let opts = FetchOptions { current_date: None, ..scenario() };
    let err =
        fetch_network_data_at(&mock_config(&mock.base_url), &opts, day("2025-09-22")).await.unwrap_err();
    assert!(matches!(err, FetchError::NotPublished { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("2025-09-21") && message.contains("2025-09-11"), "{message}");
}

#[tokio::test]
async fn unordered_and_duplicated_rows_are_sorted_and_merged() {
    let Some(dir) = spacescope_dir() else { return };
    let fault: FaultFn = std::sync::Arc::new(|_req: &MockRequest| {
        Some(Fault::EditRows(|rows| {
            rows.reverse();
            if let Some(first) = rows.first().cloned() {
                rows.push(first);
            }
        }))
    });
    let mock = MockSpacescope::start(&dir, Mode::Strict, Some(fault)).await;
    let data = fetch_network_data(&mock_config(&mock.base_url), &scenario()).await.unwrap();
    let ours = serde_json::to_value(data.to_export()).unwrap();
    compare_with_expected(&ours, &read_json(&dir.join("expected-snapshot.json"))).unwrap();
}

#[tokio::test]
async fn supply_history_is_the_daily_circulating_supply() {
    let Some(dir) = spacescope_dir() else { return };
    let mock = MockSpacescope::start(&dir, Mode::Strict, None).await;
    let data = fetch_network_data(&mock_config(&mock.base_url), &scenario()).await.unwrap();
    let supply = data.supply.as_ref().expect("fetched data carries the supply history");
    assert_eq!(supply.start_date, day("2022-10-10"));
    // The last row of the last supply chunk is 2025-09-09's; its values must be the last ones.
    let body =
        read_json(&dir.join("responses/circulating_supply/circulating_supply/2025-07-07_2025-09-09.json"));
    let last = body["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["stat_date"], "2025-09-09T00:00:00Z");
    for (name, values) in supply.series() {
        assert_eq!(values.len(), 1066, "{name}");
        assert_eq!(values[1065], last[name].as_f64().unwrap(), "{name} on 2025-09-09");
    }
}

#[test]
fn the_comparison_catches_a_wrong_value_a_null_and_a_missing_key() {
    let Some(dir) = spacescope_dir() else { return };
    let expected = read_json(&dir.join("expected-snapshot.json"));
    assert_eq!(compare_with_expected(&expected, &expected), Ok(0.0));
    let mut wrong = expected.clone();
    let v = wrong["offline_data"]["historical_qa_power_eib"][500].as_f64().unwrap();
    wrong["offline_data"]["historical_qa_power_eib"][500] = (v * (1.0 + 1e-10)).into();
    let err = compare_with_expected(&wrong, &expected).unwrap_err();
    assert!(err.contains("historical_qa_power_eib") && err.contains("index 500"), "{err}");
    let mut null = expected.clone();
    null["historical_arrays"]["filplus_rate"][3] = serde_json::Value::Null;
    assert!(compare_with_expected(&null, &expected).unwrap_err().contains("filplus_rate"));
    let mut missing = expected.clone();
    missing["offline_data"].as_object_mut().unwrap().remove("locked_reward_zero");
    assert!(compare_with_expected(&missing, &expected).unwrap_err().contains("keys"));
}
