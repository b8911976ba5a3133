//! The MCP features besides tools, through rmcp's client over stdio and over HTTP: the
//! resources (`resources/list`, the template, `resources/read`), the prompts (`prompts/list`,
//! `prompts/get`) and completions of series names. None of them needs the API.

mod common;

use common::{Client, InProcessServer, closed_port_url, http_client, stdio_client};
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

fn text_of(contents: &[ResourceContents]) -> (&str, Option<&str>) {
    match contents {
        [ResourceContents::TextResourceContents { text, mime_type, .. }] => (text, mime_type.as_deref()),
        other => panic!("expected one text resource, got {other:?}"),
    }
}

async fn check_features(client: &Client) {
    let info = client.peer_info().expect("server info");
    let capabilities = &info.capabilities;
    assert!(
        capabilities.resources.is_some()
            && capabilities.prompts.is_some()
            && capabilities.completions.is_some()
    );

    // Resources.
    let resources = client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["mechafil://context", "mechafil://catalogue"]);
    assert!(resources.iter().all(|r| r.description.is_some() && r.mime_type.is_some()));
    let context = client.read_resource(ReadResourceRequestParams::new("mechafil://context")).await.unwrap();
    assert_eq!(text_of(&context.contents), (mcp_server::context::CONTEXT_MD, Some("text/markdown")));
    let catalogue =
        client.read_resource(ReadResourceRequestParams::new("mechafil://catalogue")).await.unwrap();
    let (text, mime) = text_of(&catalogue.contents);
    assert_eq!(mime, Some("application/json"));
    let catalogue: Value = serde_json::from_str(text).unwrap();
    assert_eq!(catalogue["simulated_series"].as_array().unwrap().len(), 44);
    assert!(
        catalogue["history_fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "historical_raw_power_eib")
    );
    let templates = client.list_all_resource_templates().await.unwrap();
    assert_eq!(templates[0].uri_template, "mechafil://series/{name}");
    let entry =
        client.read_resource(ReadResourceRequestParams::new("mechafil://series/circ_supply")).await.unwrap();
    let entry: Value = serde_json::from_str(text_of(&entry.contents).0).unwrap();
    assert_eq!(entry["simulated"]["unit"], "FIL");
    assert_eq!(entry["history"]["unit"], "FIL", "circ_supply is both: {entry}");
    let missing =
        client.read_resource(ReadResourceRequestParams::new("mechafil://series/nope")).await.unwrap_err();
    assert!(missing.to_string().contains("mechafil://catalogue"), "{missing}");

    // Prompts.
    let prompts = client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["analyze_proposal", "explain_forecast", "sector_roi"]);
    let arguments = json!({"series": "network_QAP_EIB", "horizon_years": "2"}).as_object().cloned().unwrap();
    let prompt = client
        .get_prompt(GetPromptRequestParams::new("explain_forecast").with_arguments(arguments))
        .await
        .unwrap();
    let message = serde_json::to_string(&prompt.messages).unwrap();
    for expected in ["network_QAP_EIB", "provide_plot", "2 x 365", "demo"] {
        assert!(message.contains(expected), "missing {expected:?} in {message}");
    }
    let error = client.get_prompt(GetPromptRequestParams::new("sector_roi")).await.unwrap_err();
    assert!(error.to_string().contains("onboarding_pib_per_day"), "{error}");

    // Completions of series names.
    let values = client.complete_prompt_simple("explain_forecast", "series", "network_q").await.unwrap();
    assert_eq!(values, ["network_QAP_EIB", "network_qa_power_eib"]);
    let values = client.complete_resource_simple("mechafil://series/{name}", "name", "lock").await.unwrap();
    assert_eq!(values, ["lock_ratio", "locked_fil", "locked_fil_zero", "locked_reward_zero"]);
    assert!(client.complete_prompt_simple("analyze_proposal", "proposal", "x").await.unwrap().is_empty());
}

#[tokio::test]
async fn resources_prompts_and_completions_over_stdio() {
    let client = stdio_client(&closed_port_url(), 1.0).await;
    check_features(&client).await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn resources_prompts_and_completions_over_http() {
    let server = InProcessServer::start_default().await;
    let client = http_client(&server.mcp_url()).await;
    check_features(&client).await;
    client.cancel().await.unwrap();
    server.stop().await;
}
