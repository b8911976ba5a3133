//! The analysis tools, one per `/analyze/*` endpoint of the API (`docs/API.md`, "Analyses"):
//! `compare_scenarios`, `forecast_range`, `sweep`, `solve_for` and `sensitivity`. Each runs many
//! simulations in one API call and answers with a table sized for a conversation and a chart.
//!
//! Each tool takes its endpoint's body (the same field names and defaults; scenarios are checked
//! here with the parameter rules, summaries and distributions for shape and names, and every
//! number may come as a numeric string) plus chart options, and forwards the body as understood.
//! Limits the API enforces (members x dates, cells x days) come back as tool errors with the
//! API's message. Results lead with the figures a person quotes, each with its date and unit;
//! long arrays are sampled (every four weeks beyond two years) with their dates stated; charts
//! are drawn from everything the API returned.
//!
//! [`common`] holds what the five share: reading scenarios, series names, summaries and chart
//! options, describing summaries in words, sampling, and the data source of an answer.

pub mod common;
pub mod compare;
pub mod ensemble;
pub mod sensitivity;
pub mod solve;
pub mod sweep;

use rmcp::model::{CallToolResult, JsonObject};

use super::{DrawJob, ToolError, draw, push_png};
use crate::api_client::ApiClient;

/// The analysis tools, in `tools/list` order.
pub const TOOLS: [&str; 5] = [compare::TOOL, ensemble::TOOL, sweep::TOOL, solve::TOOL, sensitivity::TOOL];

/// A shaped analysis: the result's JSON (already size-checked) and a drawing, if asked for.
pub struct Shaped {
    /// The result.
    pub result: CallToolResult,
    /// The chart to draw.
    pub chart: Option<DrawJob>,
}

/// Runs analysis tool `tool` with `args`.
pub async fn run(api: &ApiClient, tool: &'static str, args: JsonObject) -> Result<CallToolResult, ToolError> {
    let shaped = match tool {
        compare::TOOL => compare::run(api, args).await?,
        ensemble::TOOL => ensemble::run(api, args).await?,
        sweep::TOOL => sweep::run(api, args).await?,
        solve::TOOL => solve::run(api, args).await?,
        sensitivity::TOOL => sensitivity::run(api, args).await?,
        other => unreachable!("{other} is not an analysis tool"),
    };
    let mut result = shaped.result;
    if let Some(job) = shaped.chart {
        let png = draw(job).await.map_err(ToolError::render(tool))?;
        push_png(&mut result, &png);
    }
    Ok(result)
}
