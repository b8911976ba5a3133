//! Prompts for common questions: a scenario analysis of a proposal, a forecast explained to a
//! non-specialist, and the 1-year sector ROI under an onboarding assumption. Each is a user
//! message that names the tools to call and the rules of a good answer (dates, units, the demo
//! flag), so a client's "prompt" menu starts a well-formed analysis.

use rmcp::ErrorData;
use rmcp::model::{GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::Value;

/// Prompt arguments whose values are series names (completions are offered for them).
pub const SERIES_ARGUMENTS: [&str; 1] = ["series"];

const ANSWER_RULES: &str = "Quote every number with its date and unit (rbp in PiB/day, power in EiB, tokens in FIL, \
rates and ROI as fractions or percentages), say which values are assumptions, and say so plainly if the tools report \
demo data (data.is_demo) rather than the real network.";

/// The prompts `prompts/list` returns.
pub fn prompts() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "analyze_proposal",
            Some("Scenario analysis of a proposal: its effect on supply, locking, rewards and sector returns, compared with today's trajectory, with uncertainty and what matters most."),
            Some(vec![
                PromptArgument::new("proposal")
                    .with_title("Proposal")
                    .with_description("What changes, in words or parameters, e.g. \"raise the lock target to 0.4\" or \"FIL+ multiplier 5\".")
                    .with_required(true),
                PromptArgument::new("horizon_years")
                    .with_title("Horizon (years)")
                    .with_description("How far to look ahead; default 5.")
                    .with_required(false),
            ]),
        )
        .with_title("Analyse a proposal"),
        Prompt::new(
            "explain_forecast",
            Some("Explain where one series is heading to a non-specialist, with a chart of its history and forecast."),
            Some(vec![
                PromptArgument::new("series")
                    .with_title("Series")
                    .with_description("A series or history field, e.g. circ_supply, network_QAP_EIB, 1y_sector_roi (completions available).")
                    .with_required(true),
                PromptArgument::new("horizon_years")
                    .with_title("Horizon (years)")
                    .with_description("How far to look ahead; default 3.")
                    .with_required(false),
            ]),
        )
        .with_title("Explain a forecast"),
        Prompt::new(
            "sector_roi",
            Some("The 1-year return on a new 32 GiB sector if onboarding is a given number of PiB/day."),
            Some(vec![
                PromptArgument::new("onboarding_pib_per_day")
                    .with_title("Onboarding (PiB/day)")
                    .with_description("Raw-byte onboarding in PiB/day, e.g. 8.")
                    .with_required(true),
                PromptArgument::new("horizon_days")
                    .with_title("Horizon (days)")
                    .with_description("Forecast length in days; default 365.")
                    .with_required(false),
            ]),
        )
        .with_title("1-year sector ROI"),
    ]
}

fn argument(args: &JsonObject, name: &str) -> Option<String> {
    match args.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(args: &JsonObject, prompt: &str, name: &str) -> Result<String, ErrorData> {
    argument(args, name).ok_or_else(|| {
        ErrorData::invalid_params(format!("prompt {prompt} needs the argument `{name}`"), None)
    })
}

/// The messages of prompt `name` with `args`.
pub fn get(name: &str, args: JsonObject) -> Result<GetPromptResult, ErrorData> {
    let text = match name {
        "analyze_proposal" => {
            let proposal = required(&args, name, "proposal")?;
            let years = argument(&args, "horizon_years").unwrap_or_else(|| "5".into());
            format!(
                "Analyse this proposal for the Filecoin network with MechaFil: {proposal}\n\n\
                 1. Read mechafil://context (or call fetch_context) and translate the proposal into MechaFil parameters \
                 (say which parameter stands for what; if it cannot be expressed, say so).\n\
                 2. Call compare_scenarios with the current trajectory as the baseline (forecast_length_days = \
                 {years} x 365) and the proposal as a scenario; look at the lock ratio, circulating supply, locked FIL, \
                 daily network reward and 1-year sector ROI.\n\
                 3. Call forecast_range on the proposal to show how uncertain the outcome is, and sensitivity to show \
                 which assumptions matter most.\n\
                 4. Summarise for a decision maker: what changes, by how much, by when, and how sure we are. {ANSWER_RULES}"
            )
        }
        "explain_forecast" => {
            let series = required(&args, name, "series")?;
            let years = argument(&args, "horizon_years").unwrap_or_else(|| "3".into());
            format!(
                "Explain to someone who is not a Filecoin specialist where {series} is heading.\n\n\
                 1. Look up {series} in mechafil://catalogue (unit, kind, meaning).\n\
                 2. Call provide_plot with series {series} and forecast_length_days = {years} x 365 to draw its \
                 history and forecast, and simulate for its key figures if it is a simulated series.\n\
                 3. Explain in plain words what the series measures, what drove it so far, what the forecast assumes \
                 (the default parameters are the network's recent values), and the key figures. {ANSWER_RULES}"
            )
        }
        "sector_roi" => {
            let rbp = required(&args, name, "onboarding_pib_per_day")?;
            let days = argument(&args, "horizon_days").unwrap_or_else(|| "365".into());
            format!(
                "What is the 1-year return on investment of a new 32 GiB sector if onboarding is {rbp} PiB/day?\n\n\
                 Call simulate with rbp = {rbp}, forecast_length_days = {days} and requested_metrics = \
                 [\"1y_sector_roi\", \"day_pledge_per_QAP\", \"1y_return_per_sector\"]. Report the ROI for sectors \
                 starting now and at the end of the period (their dates are in key_figures), and compare with the \
                 default onboarding (a second simulate call without rbp, or compare_scenarios). {ANSWER_RULES}"
            )
        }
        other => {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown prompt {other:?}; the prompts are analyze_proposal, explain_forecast, sector_roi"
                ),
                None,
            ));
        }
    };
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).with_description(
        prompts().into_iter().find(|p| p.name == name).and_then(|p| p.description).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prompts_name_the_tools_and_need_their_arguments() {
        let args = |value: Value| value.as_object().cloned().unwrap();
        let result =
            get("analyze_proposal", args(json!({"proposal": "lock target 0.4", "horizon_years": 3})))
                .unwrap();
        let text = serde_json::to_string(&result.messages).unwrap();
        for expected in
            ["lock target 0.4", "compare_scenarios", "3 x 365", "forecast_range", "sensitivity", "demo"]
        {
            assert!(text.contains(expected), "missing {expected:?} in {text}");
        }
        assert!(get("analyze_proposal", JsonObject::new()).unwrap_err().message.contains("`proposal`"));
        assert!(get("sector_roi", args(json!({"onboarding_pib_per_day": 8}))).is_ok());
        assert!(get("nope", JsonObject::new()).is_err());
        for prompt in prompts() {
            assert!(
                get(
                    &prompt.name,
                    args(json!({"proposal": "x", "series": "circ_supply", "onboarding_pib_per_day": "8"}))
                )
                .is_ok()
            );
        }
    }
}
