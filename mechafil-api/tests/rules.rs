//! One source of truth for the parameter rules (`mechafil_core::rules`): the API's request
//! fields, its `/openapi.json` and the table of docs/API.md are derived from it or checked
//! against it here, so a range changed in the core cannot silently disagree elsewhere. (The
//! API's validation is the core's own `SimParams::validate`.)

mod http_support;

use http_support::{TestServer, config, demo_served};
use mechafil_api::http::AppState;
use mechafil_api::http::openapi::parameter_table_rows;
use mechafil_api::http::request::SIMULATE_FIELDS;
use mechafil_core::{Param, ParamKind};
use serde_json::Value;

#[test]
fn the_request_fields_are_the_rule_table_plus_output() {
    let mut expected: Vec<&str> = Param::ALL.iter().map(|p| p.name()).collect();
    expected.push("output");
    assert_eq!(SIMULATE_FIELDS.to_vec(), expected);
}

#[tokio::test]
async fn openapi_json_states_every_rule() {
    let server = TestServer::start(AppState::new(config(), Ok(demo_served()))).await;
    let (status, document) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    for schema_name in ["SimulateRequest"] {
        let properties = &document["components"]["schemas"][schema_name]["properties"];
        for param in Param::ALL {
            let schema = &properties[param.name()];
            let rule = param.rule();
            let number: &Value = if rule.kind == ParamKind::Knob { &schema["oneOf"][0] } else { schema };
            if let Some(bounds) = rule.bounds {
                let min_key = if bounds.min_exclusive { "exclusiveMinimum" } else { "minimum" };
                assert_eq!(number[min_key].as_f64(), Some(bounds.min), "{param}: {schema}");
                assert_eq!(number["maximum"].as_f64(), Some(bounds.max), "{param}: {schema}");
                let other = if bounds.min_exclusive { "minimum" } else { "exclusiveMinimum" };
                assert!(number.get(other).is_none(), "{param}: {schema}");
            }
        }
    }
    // The batch's scenarios are the same schema.
    let scenario = &document["paths"]["/simulate/batch"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["properties"]["scenarios"]["items"]["properties"];
    assert_eq!(scenario["rbp"], document["components"]["schemas"]["SimulateRequest"]["properties"]["rbp"]);
    server.stop().await;
}

#[test]
fn docs_api_md_lists_the_rules() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md")).unwrap();
    let rows: Vec<&str> = doc
        .lines()
        .filter(|l| Param::ALL.iter().any(|p| l.starts_with(&format!("| `{}` |", p.name()))))
        .collect();
    let expected = parameter_table_rows();
    assert_eq!(
        rows,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "docs/API.md's parameter table differs from the rules; the rows should read:\n{}",
        expected.join("\n")
    );
}
