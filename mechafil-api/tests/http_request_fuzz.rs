//! Property test of the request parser through the real router: arbitrary JSON bodies and
//! arbitrary values for every known field never produce a 5xx, a panic or a hang.

mod http_support;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_support::{config, reference_served};
use mechafil_api::http::request::SIMULATE_FIELDS;
use mechafil_api::http::{AppState, router};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|v| json!(v)),
        any::<u64>().prop_map(|v| json!(v)),
        prop_oneof![any::<f64>(), -2.0..2.0f64, 0.0..10000.0f64]
            .prop_filter("JSON has no NaN/inf", |v| v.is_finite())
            .prop_map(|v| json!(v)),
        "[a-z_0-9]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body whose keys are mostly real field names with arbitrary values.
fn plausible_body() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        any_json(),
        prop::collection::vec(prop_oneof![-1.0..2.0f64, 0.0..100.0f64].prop_map(|v| json!(v)), 0..50)
            .prop_map(Value::Array),
        (0u64..10_000).prop_map(|v| json!(v)),
    ];
    prop::collection::btree_map(prop::sample::select(SIMULATE_FIELDS.to_vec()), value, 0..6)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>()))
}

fn check(
    app: &axum::Router,
    rt: &tokio::runtime::Runtime,
    path: &str,
    body: Vec<u8>,
) -> Result<(), TestCaseError> {
    let request =
        Request::post(path).header("content-type", "application/json").body(Body::from(body)).unwrap();
    let response = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), app.clone().oneshot(request)).await })
        .map_err(|_| TestCaseError::fail("request hung for 30 s"))?
        .unwrap();
    let status = response.status();
    prop_assert!(status.is_success() || status.is_client_error(), "{path} answered {status}");
    Ok(())
}

/// The router on the reference snapshot, built once (`None` without fixtures).
static APP: std::sync::LazyLock<Option<axum::Router>> = std::sync::LazyLock::new(|| {
    reference_served(None).map(|served| router(AppState::new(config(), Ok(served))))
});

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_never_cause_a_server_error(body in any_json(), plausible in plausible_body()) {
        let Some(app) = APP.as_ref() else { return Ok(()) };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for path in ["/simulate", "/simulate/full"] {
            check(app, &rt, path, serde_json::to_vec(&body).unwrap())?;
            check(app, &rt, path, serde_json::to_vec(&plausible).unwrap())?;
        }
        let batch = json!({"scenarios": [plausible.clone(), body.clone()], "output": "circ_supply"});
        check(app, &rt, "/simulate/batch", serde_json::to_vec(&batch).unwrap())?;
        check(app, &rt, "/simulate/batch", serde_json::to_vec(&body).unwrap())?;
    }

    #[test]
    fn arbitrary_bytes_never_cause_a_server_error(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let Some(app) = APP.as_ref() else { return Ok(()) };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        check(app, &rt, "/simulate", bytes)?;
    }
}
