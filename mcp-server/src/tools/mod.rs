//! The MCP server proper, behind rmcp's [`ServerHandler`] and shared by both transports: the
//! tools, the resources (`mechafil://context`, `mechafil://catalogue`, `mechafil://series/{name}`),
//! the prompts, and completions of series names.
//!
//! Tools are listed and dispatched by hand rather than with rmcp's `#[tool]` macros because the
//! macros turn argument errors into JSON-RPC errors, which Claude sees only as an opaque failure;
//! here every failure a caller can fix (bad arguments, an API 4xx, a result over the size limit,
//! an API that is down) is a tool result with `isError: true` and a message saying what to do.
//! Even a malformed `tools/call` (arguments that are not an object, no tool name) gets an answer
//! that says what is wrong ([`MechafilServer::on_custom_request`]).
//!
//! Every call is bounded: at most [`MAX_CONCURRENT_TOOL_CALLS`] run at once (each may hold an
//! API answer of a few megabytes), a call whose request is cancelled (`notifications/cancelled`,
//! or an HTTP client that disconnects) stops waiting and drops its API request, and a panic in a
//! tool becomes a tool error instead of a lost answer. The handler holds no per-session state:
//! any request can be served by any process, which is what lets the HTTP transport survive
//! restarts between two calls.

pub mod analysis;
pub mod args;
pub mod dated;
pub mod definitions;
pub mod params;
pub mod plot_tool;
pub mod prompts;
pub mod results;
pub mod simulate;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use base64::Engine;
use futures_util::FutureExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    CompletionInfo, ContentBlock, CustomRequest, CustomResult, ErrorCode, GetPromptRequestParams,
    GetPromptResponse, Implementation, JsonObject, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Reference, Resource, ResourceContents, ResourceTemplate,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::api_client::{ApiClient, ApiError};
use crate::catalogue::{all_names, catalogue_json, plottable_names};
use crate::context::CONTEXT_MD;
use crate::plot::{self, RenderError};
use args::InvalidArgs;

/// Most characters of text one tool result may hold. Images are separate content blocks and
/// are not counted (each is at most a few hundred KB).
pub const MAX_RESULT_CHARS: usize = 100_000;

/// Most tool calls served at once, over all sessions of this process; later calls wait (and
/// may be cancelled while waiting). Each call may hold an API answer of a few megabytes, and the
/// API has few cores: more at once would only queue there.
pub const MAX_CONCURRENT_TOOL_CALLS: usize = 4;

/// The context document's resource.
pub const CONTEXT_URI: &str = "mechafil://context";
/// The series and fields catalogue's resource.
pub const CATALOGUE_URI: &str = "mechafil://catalogue";
/// One series' entry of the catalogue.
pub const SERIES_URI_TEMPLATE: &str = "mechafil://series/{name}";
const SERIES_URI_PREFIX: &str = "mechafil://series/";

const INSTRUCTIONS: &str = "MechaFil forecasts Filecoin's economics (power, minting, vesting, locking, \
supply, sector ROI). Call fetch_context first (or read the resource mechafil://context): it explains every \
tool, unit and date rule. simulate runs one scenario; compare_scenarios, forecast_range, sweep, solve_for and \
sensitivity answer comparisons, uncertainty, grids, goal seeking and what-matters-most in one call each, with a \
chart; provide_plot draws named series from the data itself. Units: power totals in EiB, onboarding (rbp) in \
PiB/day, tokens in FIL, rates as fractions 0-1. Quote every number with its date and unit, and say when the data \
is demo data.";

/// Why a tool call failed; `Display` is what the caller reads.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments are invalid.
    #[error("{0}")]
    Args(#[from] InvalidArgs),
    /// The API call failed.
    #[error("{tool}: {source}{hint}")]
    Api {
        /// The tool.
        tool: &'static str,
        /// Why.
        source: ApiError,
        /// What to try instead, for this tool (may be empty).
        hint: String,
    },
    /// The result would exceed [`MAX_RESULT_CHARS`]; the message says what to ask for instead.
    #[error("{0}")]
    TooLarge(String),
    /// A chart could not be drawn.
    #[error("{tool}: {source}")]
    Render {
        /// The tool.
        tool: &'static str,
        /// Why.
        source: RenderError,
    },
    /// A bug: the tool panicked.
    #[error(
        "{0}: internal error (a bug in the MCP server; it was logged). Try again, or with other arguments."
    )]
    Panicked(String),
}

impl ToolError {
    /// Maps an API error of `tool`.
    pub fn api(tool: &'static str) -> impl FnOnce(ApiError) -> ToolError {
        move |source| ToolError::Api { tool, source, hint: String::new() }
    }

    /// Maps an API error of `tool`, adding `hint` when the API took too long.
    pub fn api_with_hint(tool: &'static str, hint: &'static str) -> impl FnOnce(ApiError) -> ToolError {
        move |source| {
            let hint =
                if matches!(source, ApiError::Timeout { .. }) { format!(" {hint}") } else { String::new() };
            ToolError::Api { tool, source, hint }
        }
    }

    /// Maps a drawing failure of `tool`.
    pub fn render(tool: &'static str) -> impl FnOnce(RenderError) -> ToolError {
        move |source| ToolError::Render { tool, source }
    }
}

/// The MechaFil MCP server. Cheap to clone: rmcp's HTTP transport makes one per request.
#[derive(Debug, Clone)]
pub struct MechafilServer {
    api: ApiClient,
    tools: Arc<[Tool]>,
    permits: Arc<Semaphore>,
}

impl MechafilServer {
    /// A server that calls the API through `api`.
    pub fn new(api: ApiClient) -> Self {
        MechafilServer {
            api,
            tools: definitions::tool_definitions().into(),
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_TOOL_CALLS)),
        }
    }

    /// The tool definitions `tools/list` returns.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// The API client.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// Runs tool `name` with `args`, never cancelled. See [`MechafilServer::call_cancellable`].
    pub async fn call(&self, name: &str, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        self.call_cancellable(name, args, &CancellationToken::new()).await
    }

    /// Runs tool `name` with `args` until it answers or `cancel` fires. An unknown name is the
    /// only JSON-RPC error: the caller asked for something this server does not have at all.
    pub async fn call_cancellable(
        &self,
        name: &str,
        args: JsonObject,
        cancel: &CancellationToken,
    ) -> Result<CallToolResult, ErrorData> {
        let Some(tool) = definitions::TOOL_NAMES.iter().copied().find(|t| *t == name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool {name:?}; the tools are {}", definitions::TOOL_NAMES.join(", ")),
                None,
            ));
        };
        let work = async {
            let _permit = self.permits.acquire().await.map_err(|_| ToolError::Panicked(tool.into()))?;
            // A panic is a bug, but the caller still gets an answer and the process goes on.
            AssertUnwindSafe(self.dispatch(tool, args)).catch_unwind().await.unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(tool, "tool panicked: {message}");
                Err(ToolError::Panicked(tool.into()))
            })
        };
        let outcome = tokio::select! {
            outcome = work => outcome,
            () = cancel.cancelled() => {
                // Dropping `work` dropped its API request: the API sees the connection close.
                tracing::info!(tool, "call cancelled by the client");
                return Err(ErrorData::new(ErrorCode::INTERNAL_ERROR, "request cancelled", None));
            }
        };
        Ok(outcome.unwrap_or_else(|err| {
            tracing::info!(tool, "tool error: {err}");
            CallToolResult::error(vec![ContentBlock::text(err.to_string())])
        }))
    }

    async fn dispatch(&self, tool: &'static str, args: JsonObject) -> Result<CallToolResult, ToolError> {
        match tool {
            "fetch_context" => self.fetch_context(args),
            "simulate" => self.simulate(args).await,
            "get_historical_data" => self.get_historical_data(args).await,
            "provide_plot" => self.provide_plot(args).await,
            other => analysis::run(&self.api, other, args).await,
        }
    }

    fn fetch_context(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let args = args::unwrap_reference_shape("fetch_context", args)?;
        let mut problems = args::Problems::default();
        args::Fields::new("", args).finish(&[], &mut problems);
        problems.finish("fetch_context", ())?;
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
        let request = simulate::parse(args)?;
        let result = simulate::simulate(&self.api, &request).await.map_err(ToolError::api("simulate"))?;
        json_result(&result, |chars| {
            let (count, values) = result.series_sizes();
            let per_series = result.max_series_cost(chars);
            // 5% is left for what does not grow with the series (explanation, inputs).
            let fits = (MAX_RESULT_CHARS * 95 / 100 / per_series.max(1)).max(1);
            format!(
                "simulate: the result would be {chars} characters, over the {MAX_RESULT_CHARS}-character limit \
                 of one tool result. It holds {count} series with daily rates ({values} {} values, up to about \
                 {per_series} characters per series: {}). Ask for at most {fits} series per call, a cumulative \
                 series counting twice (its daily rate comes with it), or a coarser resolution (\"monthly\"), \
                 or a shorter forecast_length_days.",
                result.resolution(),
                simulate::metric_list(&request.metrics)
            )
        })
    }

    async fn get_historical_data(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let fields = definitions::parse_historical(args)?;
        let query: Vec<(&str, String)> = fields.iter().map(|fields| ("fields", fields.join(","))).collect();
        let answer: Value =
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
        let request = plot_tool::parse(args)?;
        let (result, drawing) =
            plot_tool::prepare(&self.api, request).await.map_err(ToolError::api("provide_plot"))?;
        let png = draw(drawing_job(drawing)).await.map_err(ToolError::render("provide_plot"))?;
        let mut result = json_result(&result, |chars| {
            format!(
                "provide_plot: the chart spec would be {chars} characters, over the {MAX_RESULT_CHARS}-character \
                 limit of one tool result. Name the series instead of sending their numbers (this tool fetches \
                 them), or send fewer values."
            )
        })?;
        push_png(&mut result, &png);
        Ok(result)
    }
}

/// A drawing to run on the blocking pool.
pub type DrawJob = Box<dyn FnOnce() -> Result<Vec<u8>, RenderError> + Send>;

fn drawing_job(drawing: plot_tool::Drawing) -> DrawJob {
    match drawing {
        plot_tool::Drawing::Time(frame, panels) => {
            Box::new(move || plot::time::render_panels(&frame, &panels))
        }
        plot_tool::Drawing::Index(frame, chart) => Box::new(move || plot::xy::render_xy(&frame, &chart)),
    }
}

/// Runs `job` off the async workers (drawing is CPU work of tens of milliseconds).
pub async fn draw(job: DrawJob) -> Result<Vec<u8>, RenderError> {
    tokio::task::spawn_blocking(job).await.map_err(|err| RenderError::from_join(&err))?
}

/// Appends a PNG image block.
pub fn push_png(result: &mut CallToolResult, png: &[u8]) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(png);
    result.content.push(ContentBlock::image(encoded, "image/png"));
}

/// A success result whose text is `value` as JSON (in its field order) and whose structured
/// content is the same JSON, or a [`ToolError::TooLarge`] built by `too_large` from the size.
pub fn json_result<T: Serialize>(
    value: &T,
    too_large: impl FnOnce(usize) -> String,
) -> Result<CallToolResult, ToolError> {
    let structured = serde_json::to_value(value)
        .map_err(|err| ToolError::TooLarge(format!("cannot encode the result: {err}")))?;
    let text = structured.to_string();
    let chars = text.chars().count();
    if chars > MAX_RESULT_CHARS {
        return Err(ToolError::TooLarge(too_large(chars)));
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    Ok(result)
}

/// What `tools/call` must look like, for the answers to malformed calls.
fn malformed_call(params: Option<&Value>) -> Result<CallToolResult, ErrorData> {
    let Some(Value::Object(params)) = params else {
        return Err(ErrorData::invalid_params(
            "tools/call needs params {\"name\": <tool>, \"arguments\": {...}}",
            None,
        ));
    };
    let Some(Value::String(name)) = params.get("name") else {
        return Err(ErrorData::invalid_params(
            format!(
                "tools/call needs a `name`: one of {}; params were {}",
                definitions::TOOL_NAMES.join(", "),
                args::describe(&Value::Object(params.clone()))
            ),
            None,
        ));
    };
    if !definitions::TOOL_NAMES.contains(&name.as_str()) {
        return Err(ErrorData::invalid_params(
            format!("unknown tool {name:?}; the tools are {}", definitions::TOOL_NAMES.join(", ")),
            None,
        ));
    }
    let arguments = params.get("arguments").map(args::describe).unwrap_or_else(|| "something else".into());
    Ok(CallToolResult::error(vec![ContentBlock::text(format!(
        "invalid arguments for {name}: arguments: expected an object of named arguments such as \
         {{\"forecast_length_days\": 365}}, got {arguments}"
    ))]))
}

fn resource(uri: &str, name: &str, title: &str, description: &str, mime: &str) -> Resource {
    Resource::new(uri, name).with_title(title).with_description(description).with_mime_type(mime)
}

/// Series names starting with `prefix` (case-insensitive), for completions.
pub fn complete_series(prefix: &str, names: &[&str]) -> CompletionInfo {
    let prefix = prefix.to_ascii_lowercase();
    let matching: Vec<String> =
        names.iter().filter(|n| n.to_ascii_lowercase().starts_with(&prefix)).map(|n| n.to_string()).collect();
    let total = matching.len();
    let values: Vec<String> = matching.into_iter().take(CompletionInfo::MAX_VALUES).collect();
    let has_more = total > values.len();
    let mut info = CompletionInfo::new(values).unwrap_or_default();
    info.total = Some(total as u32);
    info.has_more = Some(has_more);
    info
}

/// The catalogue entry of one series or field, for `mechafil://series/{name}`.
fn series_entry(name: &str) -> Option<Value> {
    let catalogue = catalogue_json();
    let find = |list: &str| {
        catalogue[list].as_array().and_then(|items| items.iter().find(|item| item["name"] == name).cloned())
    };
    let simulated = find("simulated_series").or_else(|| find("analysis_only_series"));
    let history = find("history_fields");
    (simulated.is_some() || history.is_some())
        .then(|| json!({ "name": name, "simulated": simulated, "history": history }))
}

impl ServerHandler for MechafilServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .enable_completions()
                .build(),
        )
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
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        self.call_cancellable(&request.name, args, &context.ct).await.map(CallToolResponse::from)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|tool| tool.name == name).cloned()
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            resource(
                CONTEXT_URI,
                "context",
                "MechaFil context",
                "What the model computes, every tool and argument with units, every series with unit, kind and \
                 dates, caveats, and how to answer common questions (the text fetch_context returns).",
                "text/markdown",
            ),
            resource(
                CATALOGUE_URI,
                "catalogue",
                "Series and fields catalogue",
                "Every simulated series and history field: unit, kind, dates, and which history field a \
                 simulated series continues.",
                "application/json",
            ),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let template = ResourceTemplate::new(SERIES_URI_TEMPLATE, "series")
            .with_title("One series or field")
            .with_description(
                "The catalogue entry of one simulated series or history field (name completions available).",
            )
            .with_mime_type("application/json");
        Ok(ListResourceTemplatesResult::with_all_items(vec![template]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.as_str();
        let contents = match uri {
            CONTEXT_URI => ResourceContents::text(CONTEXT_MD, uri).with_mime_type("text/markdown"),
            CATALOGUE_URI => {
                ResourceContents::text(catalogue_json().to_string(), uri).with_mime_type("application/json")
            }
            _ => match uri.strip_prefix(SERIES_URI_PREFIX).and_then(series_entry) {
                Some(entry) => {
                    ResourceContents::text(entry.to_string(), uri).with_mime_type("application/json")
                }
                None => {
                    return Err(ErrorData::resource_not_found(
                        format!(
                            "no resource {uri:?}: the resources are {CONTEXT_URI}, {CATALOGUE_URI} and \
                             {SERIES_URI_PREFIX}<series or field name>"
                        ),
                        None,
                    ));
                }
            },
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts::prompts()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        prompts::get(&request.name, request.arguments.unwrap_or_default()).map(GetPromptResponse::from)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let value = request.argument.value.as_str();
        let names: Vec<&str> = match (&request.r#ref, request.argument.name.as_str()) {
            (Reference::Resource(r), "name") if r.uri == SERIES_URI_TEMPLATE => all_names(),
            (Reference::Prompt(_), argument) if prompts::SERIES_ARGUMENTS.contains(&argument) => {
                plottable_names()
            }
            _ => Vec::new(),
        };
        Ok(CompleteResult::new(complete_series(value, &names)))
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        // rmcp parses a `tools/call` whose params do not fit its type (arguments given as a list
        // or a string, no `name`) as a custom request, and would answer "method not found".
        if request.method == "tools/call" {
            let result = malformed_call(request.params.as_ref())?;
            let value = serde_json::to_value(result)
                .map_err(|err| ErrorData::internal_error(err.to_string(), None))?;
            return Ok(CustomResult::new(value));
        }
        Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("method not found: {}", request.method),
            None,
        ))
    }
}
