//! `/analyze/*` over HTTP on loopback, checked against the service's own `/simulate`,
//! `/simulate/full` and `/simulate/batch` answers (and, for the percentiles, against numpy
//! itself on the member matrix), on the reference snapshot of the fixtures.

mod http_support;

use std::process::{Command, Stdio};

use chrono::NaiveDate;
use http_support::{TestServer, config, reference_served};
use mechafil_api::http::AppState;
use serde_json::{Value, json};

async fn server_with(permits: Option<usize>) -> Option<TestServer> {
    let mut served = reference_served(None)?;
    // A fixed fetch time, so two servers answer with the same bytes.
    served.meta.fetched_at = "2025-09-10T00:05:00Z".parse().unwrap();
    let mut config = config();
    config.cpu_permits = permits;
    Some(TestServer::start(AppState::new(config, Ok(served))).await)
}

async fn server() -> Option<TestServer> {
    server_with(None).await
}

/// POSTs and returns the status and the raw body bytes.
async fn post_bytes(server: &TestServer, path: &str, body: &Value) -> (u16, Vec<u8>) {
    let response = server.client.post(server.url(path)).json(body).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

async fn ok(server: &TestServer, path: &str, body: Value) -> Value {
    let (status, answer) = server.post(path, &body).await;
    assert_eq!(status, 200, "{path} {body}: {answer}");
    answer
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().expect("a list").iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
}

fn bits(a: &[f64]) -> Vec<u64> {
    a.iter().map(|x| x.to_bits()).collect()
}

/// A Python with numpy (`MECHAFIL_NUMPY_PYTHON`, else `python3`), or `None` (the test is
/// skipped) when there is none, except under `CI=true`, where `.ci/run` installs it.
fn numpy_python() -> Option<String> {
    let python = std::env::var("MECHAFIL_NUMPY_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python).args(["-c", "import numpy"]).stderr(Stdio::null()).status();
    if found.is_ok_and(|s| s.success()) {
        return Some(python);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but {python} has no numpy: .ci/run installs it and sets MECHAFIL_NUMPY_PYTHON");
    }
    eprintln!("SKIPPED: no numpy for {python}");
    None
}

/// `np.percentile(matrix, qs, axis=0)` computed by numpy itself.
fn numpy_percentiles(python: &str, matrix: &[Vec<f64>], qs: &[f64]) -> Vec<Vec<f64>> {
    let script = "import json, sys, numpy as np\n\
                  d = json.load(sys.stdin)\n\
                  r = np.percentile(np.array(d['m'], dtype=np.float64), d['q'], axis=0)\n\
                  json.dump({'p': r.tolist(), 'mean': np.array(d['m']).mean(axis=0).tolist()}, sys.stdout)";
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python starts");
    serde_json::to_writer(child.stdin.take().unwrap(), &json!({"m": matrix, "q": qs})).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["p"].as_array().unwrap().iter().map(f64s).collect()
}

#[tokio::test]
async fn an_ensemble_without_spread_equals_simulate_on_the_same_dates() {
    let Some(server) = server().await else { return };
    let output = ["circ_supply", "network_locked", "1y_sector_roi", "rb_sched_expire_power_pib"];
    let ensemble = ok(
        &server,
        "/analyze/ensemble",
        json!({
            "base": {"forecast_length_days": 730, "rr": 0.7},
            "members": 12,
            "vary": {"rbp": {"dist": "uniform", "lo": 3.25, "hi": 3.25}, "fpr": {"dist": "normal", "mean": 0.9, "sd": 0}},
            "output": output,
        }),
    )
    .await;
    let simulate = ok(
        &server,
        "/simulate",
        json!({"forecast_length_days": 730, "rr": 0.7, "rbp": 3.25, "fpr": 0.9, "output": output}),
    )
    .await;
    for name in output {
        let expected = &simulate["simulation_output"][name];
        assert!(!expected.as_array().unwrap().is_empty(), "{name}");
        for (label, band) in ensemble["bands"][name].as_object().unwrap() {
            assert_eq!(band, expected, "{name} {label}");
        }
        let dates = &simulate["input"]["series_dates"][name];
        assert_eq!(&ensemble["series_dates"][name], dates, "{name}");
    }
    assert_eq!(ensemble["kind"], "ensemble");
    assert_eq!(ensemble["snapshot"]["current_date"], "2025-09-09");
    assert!(ensemble["explanation"].as_str().unwrap().contains("12 members"));
}

#[tokio::test]
async fn bands_are_numpy_percentiles_of_the_members_rerun_through_simulate_batch() {
    let Some(server) = server().await else { return };
    let Some(python) = numpy_python() else { return };
    let qs = [0.0, 5.0, 12.5, 50.0, 95.0, 100.0];
    let ensemble = ok(
        &server,
        "/analyze/ensemble",
        json!({
            "base": {"forecast_length_days": 500},
            "members": 150,
            "seed": 2024,
            "vary": {
                "rbp": {"dist": "lognormal", "sd": 1.0},
                "rr": {"dist": "uniform", "lo": 0.55, "hi": 0.95},
                "sector_duration_days": {"dist": "normal", "mean": 540, "sd": 200},
            },
            "output": ["network_locked", "lock_ratio"],
            "quantiles": qs,
            "return_member_params": true,
        }),
    )
    .await;
    let members = ensemble["member_params"].as_array().unwrap();
    assert_eq!(members.len(), 150);
    let scenarios: Vec<Value> = members
        .iter()
        .map(|m| {
            let mut s = m.as_object().unwrap().clone();
            s.insert("forecast_length_days".into(), json!(500));
            Value::Object(s)
        })
        .collect();
    let batch = ok(
        &server,
        "/simulate/batch",
        json!({"scenarios": scenarios, "output": ["network_locked", "circ_supply"]}),
    )
    .await;
    let results = batch["results"].as_array().unwrap();
    let locked: Vec<Vec<f64>> =
        results.iter().map(|r| f64s(&r["simulation_output"]["network_locked"])).collect();
    let circ: Vec<Vec<f64>> = results.iter().map(|r| f64s(&r["simulation_output"]["circ_supply"])).collect();
    let ratio: Vec<Vec<f64>> =
        locked.iter().zip(&circ).map(|(l, c)| l.iter().zip(c).map(|(a, b)| a / b).collect()).collect();
    for (name, matrix) in [("network_locked", &locked), ("lock_ratio", &ratio)] {
        let expected = numpy_percentiles(&python, matrix, &qs);
        for (q, row) in qs.iter().zip(&expected) {
            let got = f64s(&ensemble["bands"][name][format!("p{q}")]);
            assert_eq!(bits(&got), bits(row), "{name} p{q}");
        }
        assert_eq!(
            ensemble["series_dates"][name]["n_entries"].as_u64().unwrap() as usize,
            matrix[0].len(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_same_request_gives_the_same_bytes_with_one_or_two_workers_and_seeds_differ() {
    let (Some(one), Some(two)) = (server_with(Some(1)).await, server_with(Some(2)).await) else { return };
    let body = |seed: u64| {
        json!({
            "base": {"forecast_length_days": 400},
            "members": 97,
            "seed": seed,
            "vary": {"rbp": {"dist": "walk", "vol": 0.02}, "rr": {"dist": "normal", "sd": 0.08}},
            "summaries": {"low": {"series": "lock_ratio", "stat": "first_below", "threshold": 0.3}},
            "return_member_params": true,
            "member_paths": 2,
        })
    };
    let (status, a) = post_bytes(&one, "/analyze/ensemble", &body(11)).await;
    assert_eq!(status, 200);
    let (_, b) = post_bytes(&two, "/analyze/ensemble", &body(11)).await;
    // (Compared as booleans: a failure prints no megabyte of bytes.)
    assert!(a == b, "1 worker and 2 workers differ");
    let (_, c) = post_bytes(&two, "/analyze/ensemble", &body(12)).await;
    assert!(a != c, "another seed gave the same answer");
    // Sweeps too.
    let sweep = json!({"base": {"forecast_length_days": 300}, "axes": {"rbp": [1, 2, 3, 4, 5, 6, 7], "rr": [0.4, 0.6, 0.8, 0.9, 0.95]}});
    let (x, y) = (
        post_bytes(&one, "/analyze/sweep", &sweep).await.1,
        post_bytes(&two, "/analyze/sweep", &sweep).await.1,
    );
    assert!(x == y, "sweeps differ with 1 and 2 workers");
}

#[tokio::test]
async fn every_sweep_cell_equals_a_simulation_with_its_parameters() {
    let Some(server) = server().await else { return };
    let answer = ok(
        &server,
        "/analyze/sweep",
        json!({
            "base": {"forecast_length_days": 800},
            "axes": [{"knob": "rbp", "values": [2, 8, 30]}, {"knob": "lock_target", "values": [0.2, 0.4]}],
            "summaries": {
                "ratio_end": {"series": "network_locked", "over": "circ_supply", "stat": "end"},
                "reward_on": {"series": "day_network_reward", "stat": "value_at", "date": "2026-03-02"},
            },
        }),
    )
    .await;
    assert_eq!(answer["shape"], json!([3, 2]));
    assert_eq!(answer["axes"][0], json!({"knob": "rbp", "values": [2.0, 8.0, 30.0]}));
    for (i, rbp) in [2.0, 8.0, 30.0].into_iter().enumerate() {
        for (j, lock_target) in [0.2, 0.4].into_iter().enumerate() {
            let full = ok(
                &server,
                "/simulate/full",
                json!({"forecast_length_days": 800, "rbp": rbp, "lock_target": lock_target,
                       "output": ["network_locked", "circ_supply", "day_network_reward"]}),
            )
            .await;
            let out = &full["simulation_output"];
            let locked = f64s(&out["network_locked"]);
            let circ = f64s(&out["circ_supply"]);
            let last = locked.len() - 1;
            assert_eq!(
                answer["results"]["ratio_end"][i][j].as_f64().unwrap().to_bits(),
                (locked[last] / circ[last]).to_bits()
            );
            let start: NaiveDate = full["input"]["series_dates"]["day_network_reward"]["start_date"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let index = ("2026-03-02".parse::<NaiveDate>().unwrap() - start).num_days() as usize;
            assert_eq!(
                answer["results"]["reward_on"][i][j].as_f64().unwrap(),
                f64s(&out["day_network_reward"])[index]
            );
        }
    }
}

#[tokio::test]
async fn a_solved_knob_simulated_again_hits_the_target_and_an_unreachable_one_says_so() {
    let Some(server) = server().await else { return };
    let summary = json!({"series": "lock_ratio", "stat": "value_at", "date": "2030-01-01"});
    let answer =
        ok(&server, "/analyze/solve", json!({"knob": "rbp", "summary": summary, "target": 0.3})).await;
    assert_eq!(answer["solved"], true, "{answer}");
    let value = answer["value"].as_f64().unwrap();
    let full =
        ok(&server, "/simulate/full", json!({"rbp": value, "output": ["network_locked", "circ_supply"]}))
            .await;
    let start: NaiveDate = full["input"]["sim_start_date"].as_str().unwrap().parse().unwrap();
    let i = ("2030-01-01".parse::<NaiveDate>().unwrap() - start).num_days() as usize;
    let out = &full["simulation_output"];
    let achieved = f64s(&out["network_locked"])[i] / f64s(&out["circ_supply"])[i];
    assert_eq!(achieved.to_bits(), answer["achieved"].as_f64().unwrap().to_bits());
    let residual = answer["residual"].as_f64().unwrap();
    assert_eq!(residual, achieved - 0.3);
    assert!(residual.abs() <= answer["tolerance"].as_f64().unwrap());
    assert!(answer["iterations"].as_u64().unwrap() <= 40);

    let (status, unreachable) =
        server.post("/analyze/solve", &json!({"knob": "fpr", "summary": summary, "target": 3.0})).await;
    assert_eq!(status, 200);
    assert_eq!(unreachable["solved"], false);
    let reachable = f64s(&unreachable["reachable"]);
    assert!(reachable[0] <= reachable[1] && reachable[1] < 3.0, "{unreachable}");
}

#[tokio::test]
async fn sensitivities_agree_with_two_simulate_calls() {
    let Some(server) = server().await else { return };
    let answer = ok(
        &server,
        "/analyze/sensitivity",
        json!({"knobs": ["rbp", "rr", "sector_duration_days"], "summaries": {"locked": {"series": "network_locked", "stat": "end"}}}),
    )
    .await;
    let rbp = &answer["results"]["locked"]["rbp"];
    let x = rbp["value"].as_f64().unwrap();
    let end = |v: Value| {
        v["simulation_output"]["network_locked"].as_array().unwrap().last().unwrap().as_f64().unwrap()
    };
    let h = 1e-3 * x;
    // Daily answers: `end` is the last day of the window, not its last Monday.
    let up = end(ok(&server, "/simulate/full", json!({"rbp": x + h, "output": "network_locked"})).await);
    let down = end(ok(&server, "/simulate/full", json!({"rbp": x - h, "output": "network_locked"})).await);
    let by_hand = (up - down) / (2.0 * h);
    let derivative = rbp["derivative"].as_f64().unwrap();
    assert!(derivative > 0.0, "more onboarding must lock more FIL: {rbp}");
    assert!((derivative - by_hand).abs() <= 1e-4 * by_hand.abs(), "{derivative} vs {by_hand}");
    assert_eq!(rbp["kink"], false);
    let duration = &answer["results"]["locked"]["sector_duration_days"];
    assert_eq!(duration["step"], 1.0);
    assert_eq!(answer["ranking"]["locked"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_comparison_is_the_difference_of_two_simulations() {
    let Some(server) = server().await else { return };
    let answer = ok(
        &server,
        "/analyze/compare",
        json!({
            "baseline": {"forecast_length_days": 1000, "rr": 0.75},
            "scenarios": {"half": {"rbp": 1.3}, "double": {"rbp": 5.2}},
            "output": ["circ_supply", "lock_ratio"],
        }),
    )
    .await;
    let sim = |rbp: Option<f64>| {
        let mut body =
            json!({"forecast_length_days": 1000, "rr": 0.75, "output": ["circ_supply", "network_locked"]});
        if let Some(rbp) = rbp {
            body["rbp"] = json!(rbp);
        }
        body
    };
    let baseline = ok(&server, "/simulate", sim(None)).await;
    let double = ok(&server, "/simulate", sim(Some(5.2))).await;
    let b = f64s(&baseline["simulation_output"]["circ_supply"]);
    let d = f64s(&double["simulation_output"]["circ_supply"]);
    assert_eq!(bits(&f64s(&answer["series"]["circ_supply"]["baseline"])), bits(&b));
    assert_eq!(bits(&f64s(&answer["series"]["circ_supply"]["double"])), bits(&d));
    let diff: Vec<f64> = d.iter().zip(&b).map(|(x, y)| x - y).collect();
    assert_eq!(bits(&f64s(&answer["series"]["circ_supply"]["diff"]["double"])), bits(&diff));
    assert_eq!(answer["series_dates"]["circ_supply"], baseline["input"]["series_dates"]["circ_supply"]);
    assert_eq!(answer["scenarios"]["double"]["rr"], 0.75, "scenarios inherit the baseline's fields");
}

#[tokio::test]
async fn invalid_requests_are_422_naming_the_field() {
    let Some(server) = server().await else { return };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("ensemble", json!({"members": 20000}), "members", "MAX_MEMBERS"),
        ("ensemble", json!({"members": 10000, "resolution": "daily"}), "members", "MAX_BAND_VALUES"),
        ("ensemble", json!({"base": {"rr": 2}}), "base.rr", "0 <= x <= 1"),
        ("ensemble", json!({"vary": {"rbp": {"dist": "gamma"}}}), "vary.rbp.dist", "uniform, normal"),
        (
            "ensemble",
            json!({"vary": {"rr": {"dist": "normal", "mean": 5, "sd": 0.1}}}),
            "vary.rr",
            "at least 1 %",
        ),
        ("ensemble", json!({"vary": {"nope": {"dist": "normal", "sd": 1}}}), "vary.nope", "not a knob"),
        ("ensemble", json!({"output": ["bogus"]}), "output[0]", "lock_ratio"),
        ("ensemble", json!({"quantiles": [50, 150]}), "quantiles[1]", "0 ..= 100"),
        ("ensemble", json!({"seed": -1}), "seed", "whole number"),
        (
            "ensemble",
            json!({"summaries": {"x": {"series": "circ_supply", "stat": "end", "over": "rb_sched_expire_power_pib"}}}),
            "summaries.x.over",
            "same dates",
        ),
        ("ensemble", json!({"surprise": 1}), "surprise", "unknown field"),
        ("sweep", json!({}), "axes", "required"),
        ("sweep", json!({"axes": {"rbp": [1, 20000]}}), "axes.rbp[1]", "10000"),
        (
            "sweep",
            json!({"axes": {"rbp": [1], "rr": [0.5], "fpr": [0.5], "lock_target": [0.3], "burn_boost": [1]}}),
            "axes",
            "MAX_AXES",
        ),
        (
            "sweep",
            json!({"axes": {"rbp": (0..400).collect::<Vec<_>>(), "rr": (0..300).map(|i| i as f64 / 300.0).collect::<Vec<_>>()}}),
            "axes",
            "MAX_CELLS",
        ),
        ("solve", json!({"knob": "rbp", "target": 1}), "summary", "required"),
        (
            "solve",
            json!({"knob": "rbp", "target": 1, "summary": {"series": "lock_ratio", "stat": "first_below", "threshold": 0.2}}),
            "summary.stat",
            "value_at",
        ),
        (
            "solve",
            json!({"knob": "rr", "target": 1, "summary": {"series": "lock_ratio", "stat": "end"}, "bracket": [0.9, 0.1]}),
            "bracket",
            "below",
        ),
        ("sensitivity", json!({"move_pct": 0}), "move_pct", "0 < move_pct < 100"),
        ("sensitivity", json!({"knobs": ["forecast_length_days"]}), "knobs[0]", "not a knob"),
        ("compare", json!({"scenarios": {"diff": {"rbp": 1}}}), "scenarios.diff", "reserved"),
        (
            "compare",
            json!({"scenarios": {"long": {"forecast_length_days": 100}}}),
            "scenarios.long.forecast_length_days",
            "share the baseline",
        ),
        ("compare", json!({"scenarios": {}}), "scenarios", "1 to 10"),
    ];
    for (kind, body, field, needle) in cases {
        let (status, answer) = server.post(&format!("/analyze/{kind}"), &body).await;
        assert_eq!(status, 422, "{kind} {body}: {answer}");
        let details = answer["details"].as_array().unwrap();
        let detail = details
            .iter()
            .find(|d| d["field"] == field)
            .unwrap_or_else(|| panic!("{kind} {body}: no detail for {field} in {answer}"));
        assert!(detail["message"].as_str().unwrap().contains(needle), "{kind} {body}: {detail}");
    }
}

#[tokio::test]
async fn the_cli_prints_what_the_endpoint_answers() {
    let served = mechafil_api::http::Served::new(
        mechafil_api::demo::demo_snapshot().meta,
        mechafil_api::demo::demo_network_data(),
    )
    .unwrap();
    let server = TestServer::start(AppState::new(config(), Ok(served))).await;
    let body = json!({"members": 40, "output": "circ_supply", "summaries": {"m": {"series": "circ_supply", "stat": "mean"}}});
    let (status, http) = post_bytes(&server, "/analyze/ensemble", &body).await;
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    let cli = Command::new(env!("CARGO_BIN_EXE_mechafil-api"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "analyze",
            "ensemble",
            "--body",
            &body.to_string(),
        ])
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert_eq!(String::from_utf8(cli.stdout).unwrap().trim_end(), String::from_utf8(http).unwrap());
}

#[tokio::test]
async fn the_openapi_request_schemas_accept_what_the_endpoints_accept() {
    let Some(server) = server().await else { return };
    let (_, spec) = server.get("/openapi.json").await;
    let validator = |name: &str| {
        let schema =
            json!({"$ref": format!("#/components/schemas/{name}"), "components": spec["components"]});
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let accepted = [
        (
            "EnsembleRequest",
            "ensemble",
            json!({"members": 20, "vary": {"rbp": {"dist": "walk", "vol": 0.01}, "rr": {"dist": "uniform", "lo": 0.5, "hi": 0.9}}, "output": "lock_ratio", "summaries": {"s": {"series": "circ_supply", "stat": "min"}}}),
        ),
        (
            "SweepRequest",
            "sweep",
            json!({"axes": [{"knob": "rr", "values": [0.5, 0.7]}], "base": {"forecast_length_days": 100}}),
        ),
        (
            "SolveRequest",
            "solve",
            json!({"knob": "rbp", "summary": {"series": "lock_ratio", "stat": "end"}, "target": 0.3, "bracket": [0.5, 20]}),
        ),
        ("SensitivityRequest", "sensitivity", json!({"knobs": ["rr"], "move_pct": 5})),
        (
            "CompareRequest",
            "compare",
            json!({"scenarios": {"x": {"rbp": 2}}, "resolution": "daily", "base": null}),
        ),
    ];
    for (schema, kind, body) in accepted {
        let v = validator(schema);
        let (status, answer) = server.post(&format!("/analyze/{kind}"), &body).await;
        // The compare body has a field the endpoint refuses: the schema must refuse it too.
        assert_eq!(v.is_valid(&body), status == 200, "{schema} {body}: {status} {answer}");
    }
    let refused = [
        ("EnsembleRequest", json!({"members": 0})),
        ("EnsembleRequest", json!({"vary": {"forecast_length_days": {"dist": "normal", "sd": 1}}})),
        ("SweepRequest", json!({"axes": {"rbp": []}})),
        ("SolveRequest", json!({"knob": "rbp", "target": 1})),
        ("CompareRequest", json!({"scenarios": {"baseline": {}}})),
    ];
    for (schema, body) in refused {
        assert!(!validator(schema).is_valid(&body), "{schema} accepts {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_stops_its_analysis_at_the_next_chunk() {
    let Some(server) = server_with(Some(1)).await else { return };
    let impatient =
        reqwest::Client::builder().timeout(std::time::Duration::from_millis(300)).build().unwrap();
    let body = json!({"members": 10000, "base": {"forecast_length_days": 3650}});
    let started = std::time::Instant::now();
    let result = impatient.post(server.url("/analyze/ensemble")).json(&body).send().await;
    assert!(result.is_err(), "a 10,000-member ensemble answered within 300 ms");
    // The connection is closed; give hyper a moment to notice and drop the request.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after_hangup = server.state.cpu().stats();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let later = server.state.cpu().stats();
    // At most the chunk that was running when the request went away ended since.
    assert!(later.jobs_total <= after_hangup.jobs_total + 1, "{after_hangup:?} -> {later:?}");
    assert_eq!((later.running, later.waiting), (0, 0), "{later:?}");
    // 10,000 members are 313 chunks: far fewer ran.
    assert!(later.jobs_total < 150, "{} jobs ran in {:?}", later.jobs_total, started.elapsed());
    // The service answers at once.
    let (status, _) = server.get("/health").await;
    assert_eq!(status, 200);
    let (status, _) = server.post("/simulate", &json!({"forecast_length_days": 30})).await;
    assert_eq!(status, 200);
}
