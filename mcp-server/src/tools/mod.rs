//! The MCP server proper: the four tools (`fetch_context`, `simulate`, `get_historical_data`,
//! `provide_plot`) behind rmcp's [`ServerHandler`], shared by both transports.
//!
//! Tools are listed and dispatched by hand rather than with rmcp's `#[tool]` macros because the
//! macros turn argument errors into JSON-RPC errors, which Claude sees only as an opaque failure;
//! here every failure a caller can fix (bad arguments, an API 4xx, a result over the size limit,
//! an API that is down) is a tool result with `isError: true` and a message saying what to do.
//! The handler holds no per-session state: any request can be served by any process, which is
//! what lets the HTTP transport survive restarts between two calls.

pub mod args;
pub mod results;

use std::sync::Arc;

use base64::Engine;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, JsonObject,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::api_client::{ApiClient, ApiError};
use crate::context::CONTEXT_MD;
use crate::plot::{self, ChartSpec, RenderError};
use args::{FetchContextArgs, HistoricalArgs, InvalidArgs, ProvidePlotArgs, SimulateArgs, parse_args};

/// The tools, in the order `tools/list` gives them.
pub const TOOL_NAMES: [&str; 4] = ["fetch_context", "simulate", "get_historical_data", "provide_plot"];

/// Most characters of text one tool result may hold. The PNG of `provide_plot` is an image
/// block and is not counted (it is at most about 100 KB: see `plot::render_png`).
pub const MAX_RESULT_CHARS: usize = 100_000;

const INSTRUCTIONS: &str = "MechaFil forecasts Filecoin's economics (power, minting, vesting, locking, \
supply, sector ROI). Call fetch_context first: it explains every tool, unit and date rule. Units: power \
totals in EiB, onboarding (rbp) in PiB/day, tokens in FIL, rates as fractions 0-1. Quote every number \
with its date and unit, and say when the data is demo data.";

/// Why a tool call failed; `Display` is what the caller reads.
#[derive(Debug, thiserror::Error)]
enum ToolError {
    #[error("{0}")]
    Args(#[from] InvalidArgs),
    #[error("{tool}: {source}")]
    Api { tool: &'static str, source: ApiError },
    #[error("{0}")]
    TooLarge(String),
    #[error("provide_plot: {0}")]
    Render(#[from] RenderError),
}

impl ToolError {
    fn api(tool: &'static str) -> impl FnOnce(ApiError) -> ToolError {
        move |source| ToolError::Api { tool, source }
    }
}

/// The MechaFil MCP server. Cheap to clone: rmcp's HTTP transport makes one per request.
#[derive(Debug, Clone)]
pub struct MechafilServer {
    api: ApiClient,
    tools: Arc<[Tool]>,
}

impl MechafilServer {
    /// A server that calls the API through `api`.
    pub fn new(api: ApiClient) -> Self {
        MechafilServer { api, tools: tool_definitions().into() }
    }

    /// The tool definitions `tools/list` returns.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// Runs tool `name` with `args`. An unknown name is the only JSON-RPC error: the caller
    /// asked for something this server does not have at all.
    pub async fn call(&self, name: &str, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        let outcome = match name {
            "fetch_context" => self.fetch_context(args),
            "simulate" => self.simulate(args).await,
            "get_historical_data" => self.get_historical_data(args).await,
            "provide_plot" => self.provide_plot(args).await,
            other => {
                return Err(ErrorData::invalid_params(
                    format!("unknown tool {other:?}; the tools are {}", TOOL_NAMES.join(", ")),
                    None,
                ));
            }
        };
        Ok(outcome.unwrap_or_else(|err| {
            tracing::info!(tool = name, "tool error: {err}");
            CallToolResult::error(vec![ContentBlock::text(err.to_string())])
        }))
    }

    fn fetch_context(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        parse_args::<FetchContextArgs>("fetch_context", args)?;
        // Wake the API now: the next call is likely a simulation.
        self.api.warm_up();
        let mut result = CallToolResult::success(vec![ContentBlock::text(CONTEXT_MD)]);
        result.structured_content = Some(json!({
            "format": "markdown",
            "server_version": env!("CARGO_PKG_VERSION"),
            "context": CONTEXT_MD,
        }));
        Ok(result)
    }

    async fn simulate(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let request = parse_args::<SimulateArgs>("simulate", args)?.validate()?;
        let answer = self
            .api
            .post("simulate", &Value::Object(request.body.clone()))
            .await
            .map_err(ToolError::api("simulate"))?;
        let result = results::simulate_result(&request, answer).map_err(ToolError::api("simulate"))?;
        json_result(&result, |chars| {
            let (count, values) = result.series_sizes();
            let per_series = result.max_series_cost(chars);
            // 5% is left for what does not grow with the series (explanation, inputs).
            let fits = (MAX_RESULT_CHARS * 95 / 100 / per_series.max(1)).max(1);
            format!(
                "simulate: the result would be {chars} characters, over the {MAX_RESULT_CHARS}-character limit \
                 of one tool result. It holds {count} series with daily rates ({values} values, up to about \
                 {per_series} characters per series: {}). Ask for at most {fits} series per call, a cumulative \
                 series counting twice (its daily rate comes with it): split the metrics over several calls, \
                 or shorten forecast_length_days.",
                results::metric_list(&request.metrics)
            )
        })
    }

    async fn get_historical_data(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let fields = parse_args::<HistoricalArgs>("get_historical_data", args)?.validate()?;
        let query: Vec<(&str, String)> = fields.iter().map(|fields| ("fields", fields.join(","))).collect();
        let answer =
            self.api.get("historical-data", &query).await.map_err(ToolError::api("get_historical_data"))?;
        let result = results::historical_result(answer).map_err(ToolError::api("get_historical_data"))?;
        json_result(&result, |chars| {
            let listing: Vec<String> =
                result.field_sizes().iter().map(|(field, size)| format!("{field} ({size})")).collect();
            format!(
                "get_historical_data: the result would be {chars} characters, over the {MAX_RESULT_CHARS}-character \
                 limit of one tool result. Ask for fewer fields with `fields`. Fields (characters each): {}",
                listing.join(", ")
            )
        })
    }

    async fn provide_plot(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let chart = parse_args::<ProvidePlotArgs>("provide_plot", args)?.chart;
        let spec = ChartSpec::from_args(chart)?;
        // Drawing is CPU work of tens of milliseconds: keep it off the async workers.
        let (spec, png) = tokio::task::spawn_blocking(move || {
            let png = plot::render_png(&spec);
            (spec, png)
        })
        .await
        .map_err(|err| RenderError::from_join(&err))?;
        let png = png?;
        let echo = spec.to_json();
        let mut result = json_result(&echo, |chars| {
            format!(
                "provide_plot: the chart spec echoed back would be {chars} characters, over the \
                 {MAX_RESULT_CHARS}-character limit of one tool result. Plot fewer points (weekly rather \
                 than daily values, or a shorter period) or fewer series."
            )
        })?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&png);
        result.content.push(ContentBlock::image(encoded, "image/png"));
        Ok(result)
    }
}

/// A success result whose text is `value` as JSON (in its field order) and whose structured
/// content is the same JSON, or a [`ToolError::TooLarge`] built by `too_large` from the size.
fn json_result<T: Serialize>(
    value: &T,
    too_large: impl FnOnce(usize) -> String,
) -> Result<CallToolResult, ToolError> {
    let text = serde_json::to_string(value)
        .map_err(|err| ToolError::TooLarge(format!("cannot encode the result: {err}")))?;
    let chars = text.chars().count();
    if chars > MAX_RESULT_CHARS {
        return Err(ToolError::TooLarge(too_large(chars)));
    }
    let structured = serde_json::to_value(value).ok();
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = structured;
    Ok(result)
}

/// The JSON Schema (draft 2020-12, subschemas inlined so no `$ref` is left to resolve) of a
/// tool's arguments, without the Rust type's title.
pub fn input_schema_for<T: JsonSchema>() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    if let Value::Object(object) = &mut value {
        object.remove("title");
        object.remove("description");
    }
    value
}

fn object(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        other => Arc::new(Map::from_iter([("type".to_string(), json!("object")), ("default".into(), other)])),
    }
}

fn tool(name: &'static str, title: &str, description: &'static str, schema: Value) -> Tool {
    Tool::new(name, description, object(schema)).with_title(title).with_annotations(
        ToolAnnotations::with_title(title)
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false),
    )
}

fn tool_definitions() -> Vec<Tool> {
    vec![
        tool(
            "fetch_context",
            "MechaFil context",
            "Returns MechaFil's context document: what the model computes, every tool argument with its \
             unit and range, every output series with unit, kind (stock, flow, cumulative, ratio) and date \
             axis, caveats (1-year series are 364 days shorter, weekly sampling, demo data), how to map an \
             index to a calendar date, and how to answer common questions. Call it first. It also wakes \
             the MechaFil API.",
            input_schema_for::<FetchContextArgs>(),
        ),
        tool(
            "simulate",
            "Simulate a scenario",
            "Forecasts Filecoin's economy for one scenario with the MechaFil model: power (EiB), onboarding \
             and renewals (PiB/day), minting, vesting, locking and supply (FIL), pledge and 1-year ROI per \
             32 GiB sector. Every argument is optional (defaults: the snapshot's recent values); rbp is in \
             PiB/day, rates are fractions 0-1. Returns weekly values on Mondays: series[name][i] is on \
             series_dates[name].start_date + 7*i days (1-year series are 364 days shorter), units and kinds, \
             a one-line explanation of the inputs used, and for cumulative series the average daily \
             increase under daily_rates[\"<name>_daily_rate\"]. requested_metrics picks the series \
             (default: circ_supply, network_locked, network_QAP_EIB, day_network_reward, 1y_sector_roi); \
             one result holds at most 100,000 characters (about 7 ten-year series).",
            input_schema_for::<SimulateArgs>(),
        ),
        tool(
            "get_historical_data",
            "Network history",
            "Returns Filecoin network history from the MechaFil API's snapshot, weekly: power (EiB), \
             onboarding (PiB/day), renewal and FIL+ rates (fractions), supply, locked, burnt, mined and \
             vested FIL, the smoothed defaults simulate uses, and each field's unit and dates in \
             field_meta (start_date, end_date, n_entries, timestep_days). Use `fields` to pick fields.",
            input_schema_for::<HistoricalArgs>(),
        ),
        tool(
            "provide_plot",
            "Plot series",
            "Draws a line chart of one or several series and returns it as a PNG image (show it to the \
             user) plus the chart spec {\"chart\": {\"series\", \"label\", \"unit\", \"start_date_key\"}}. \
             series: a list of numbers, or {\"legend\": [numbers], ...} for up to 10 lines. Give \
             start_date (YYYY-MM-DD, e.g. the result's sim_start_date) and timestep_days (7 for weekly \
             results) so the x axis shows dates.",
            input_schema_for::<ProvidePlotArgs>(),
        ),
    ]
}

impl ServerHandler for MechafilServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("mechafil-mcp", env!("CARGO_PKG_VERSION"))
                    .with_title("MechaFil (Filecoin economics)"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        self.call(&request.name, args).await.map(CallToolResponse::from)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|tool| tool.name == name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_client::RetryPolicy;
    use std::time::Duration;

    fn server_with_closed_api() -> MechafilServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let policy = RetryPolicy { budget: Duration::from_millis(300), ..RetryPolicy::default() };
        MechafilServer::new(ApiClient::new(&format!("http://127.0.0.1:{port}"), policy).unwrap())
    }

    fn args(value: Value) -> JsonObject {
        let Value::Object(map) = value else { panic!("not an object") };
        map
    }

    fn text(result: &CallToolResult) -> &str {
        match &result.content[0] {
            ContentBlock::Text(text) => &text.text,
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn schemas_are_objects_with_described_properties() {
        let server = server_with_closed_api();
        let names: Vec<&str> = server.tools().iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, TOOL_NAMES);
        for tool in server.tools() {
            let schema = Value::Object((*tool.input_schema).clone());
            assert_eq!(schema["type"], "object", "{}", tool.name);
            assert!(!schema.to_string().contains("$ref"), "{}: {schema}", tool.name);
            let validator = jsonschema::draft202012::meta::validate(&schema);
            assert!(validator.is_ok(), "{}: {validator:?}", tool.name);
        }
        let simulate = Value::Object((*server.tools()[1].input_schema).clone());
        for (property, schema) in simulate["properties"].as_object().unwrap() {
            let description = schema["description"].as_str().unwrap_or_default();
            assert!(description.len() > 20, "{property} has no real description");
        }
        assert!(simulate["properties"]["rbp"]["description"].as_str().unwrap().contains("PiB/day"));
        assert_eq!(simulate["properties"]["forecast_length_days"]["maximum"], 7300);
        assert_eq!(simulate["properties"]["rr"]["anyOf"][0]["maximum"], 1.0);
        assert_eq!(
            simulate["properties"]["requested_metrics"]["anyOf"][0]["items"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            44
        );
        assert!(simulate.get("required").is_none_or(|r| r.as_array().unwrap().is_empty()));
    }

    #[test]
    fn schemas_accept_what_the_tools_accept_and_reject_wrong_types() {
        let server = server_with_closed_api();
        let schema_of = |name: &str| {
            let tool = server.tools().iter().find(|t| t.name == name).unwrap();
            jsonschema::validator_for(&Value::Object((*tool.input_schema).clone())).unwrap()
        };
        let simulate = schema_of("simulate");
        for valid in [
            json!({}),
            json!({"rbp": 3, "rr": [0.5, 0.6], "forecast_length_days": 2, "requested_metric": "circ_supply"}),
            json!({"requested_metrics": ["1y_sector_roi", "days"], "use_available_supply": true}),
        ] {
            assert!(simulate.is_valid(&valid), "{valid}");
            let Value::Object(map) = valid.clone() else { unreachable!() };
            assert!(parse_args::<SimulateArgs>("simulate", map).unwrap().validate().is_ok(), "{valid}");
        }
        for invalid in [
            json!({"rbp": "x"}),
            json!({"rr": 2}),
            json!({"forecast_length_days": 0}),
            json!({"requested_metrics": ["nope"]}),
        ] {
            assert!(!simulate.is_valid(&invalid), "{invalid}");
        }
        let plot = schema_of("provide_plot");
        assert!(plot.is_valid(
            &json!({"chart": {"series": {"a": [1, null]}, "label": "x", "start_date_key": "sim_start_date"}})
        ));
        assert!(!plot.is_valid(&json!({"chart": {"series": "a", "label": "x"}})));
        assert!(schema_of("get_historical_data").is_valid(&json!({"fields": ["circ_supply"]})));
        assert!(schema_of("fetch_context").is_valid(&json!({})));
    }

    #[tokio::test]
    async fn fetch_context_works_without_the_api() {
        let result = server_with_closed_api().call("fetch_context", JsonObject::new()).await.unwrap();
        assert_eq!(result.is_error, Some(false));
        assert_eq!(text(&result), CONTEXT_MD);
        assert_eq!(result.structured_content.unwrap()["format"], "markdown");
    }

    #[tokio::test]
    async fn invalid_arguments_are_tool_errors_before_any_api_call() {
        let server = server_with_closed_api();
        for (tool, value, expected) in [
            ("simulate", json!({"rbp": -1}), "invalid arguments for simulate: rbp must be >= 0"),
            (
                "simulate",
                json!({"requested_metric": "supply"}),
                "unknown series \"supply\"; valid names: days",
            ),
            (
                "get_historical_data",
                json!({"fields": 7}),
                "invalid arguments for get_historical_data: fields",
            ),
            ("provide_plot", json!({"chart": {"series": [], "label": "x"}}), "must have 1 to 20000 values"),
            ("fetch_context", json!({"x": 1}), "unknown field `x`"),
        ] {
            let started = std::time::Instant::now();
            let result = server.call(tool, args(value)).await.unwrap();
            assert_eq!(result.is_error, Some(true), "{tool}");
            assert!(text(&result).contains(expected), "missing {expected:?} in {}", text(&result));
            // Far below the 300 ms budget: the API was not tried.
            assert!(started.elapsed() < Duration::from_millis(200), "{tool} took {:?}", started.elapsed());
        }
    }

    #[tokio::test]
    async fn an_unreachable_api_is_a_clear_tool_error() {
        let result = server_with_closed_api().call("simulate", JsonObject::new()).await.unwrap();
        assert_eq!(result.is_error, Some(true));
        assert!(
            text(&result).starts_with("simulate: could not reach the MechaFil API at http://127.0.0.1:"),
            "{}",
            text(&result)
        );
    }

    #[tokio::test]
    async fn provide_plot_returns_the_spec_and_a_png() {
        let result = server_with_closed_api()
            .call(
                "provide_plot",
                args(json!({"chart": {"series": [1.0, 2.0, 4.0], "label": "Test", "unit": "FIL", "start_date_key": "2025-09-15"}})),
            )
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(false));
        let spec: Value = serde_json::from_str(text(&result)).unwrap();
        assert_eq!(spec["chart"]["series"], json!([1.0, 2.0, 4.0]));
        assert_eq!(spec["chart"]["start_date_key"], "2025-09-15");
        let ContentBlock::Image(image) = &result.content[1] else { panic!("no image block") };
        assert_eq!(image.mime_type, "image/png");
        let png = base64::engine::general_purpose::STANDARD.decode(&image.data).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn oversized_results_become_clear_tool_errors() {
        let big = vec![1.234_567_890_123_456_7_f64; 6_000];
        let err = json_result(&json!({ "series": big }), |chars| format!("too large: {chars}")).unwrap_err();
        let ToolError::TooLarge(message) = err else { panic!("{err:?}") };
        let chars: usize = message.trim_start_matches("too large: ").parse().unwrap();
        assert!(chars > MAX_RESULT_CHARS);
        assert!(json_result(&json!({"a": 1}), |_| unreachable!()).is_ok());
    }

    #[tokio::test]
    async fn unknown_tools_are_protocol_errors() {
        let err = server_with_closed_api().call("nope", JsonObject::new()).await.unwrap_err();
        assert!(err.message.contains("fetch_context, simulate"), "{}", err.message);
    }
}
