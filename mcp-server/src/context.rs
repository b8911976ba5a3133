//! The context document that `fetch_context` returns: `context.md`, written for Claude from
//! `shared/spec/MODEL.md` and `docs/API.md`, embedded in the binary so the tool works even when
//! the API is down.
//!
//! The tests below keep the prose honest against the code: every series appears in the table
//! with the unit and kind of [`crate::series::series_info`], every tool and `simulate` argument is
//! documented, and onboarding is never given in EiB/day (the reference's docs once did).

/// The Markdown context document.
pub const CONTEXT_MD: &str = include_str!("context.md");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::series_info;
    use crate::tools::definitions::{TOOL_NAMES, tool_definitions};
    use mechafil_core::SeriesName;

    /// The cells of the series table row for `name`.
    fn table_row(name: &str) -> Option<Vec<&'static str>> {
        let prefix = format!("| `{name}` |");
        CONTEXT_MD
            .lines()
            .find(|line| line.starts_with(&prefix))
            .map(|line| line.split('|').map(str::trim).filter(|cell| !cell.is_empty()).collect())
    }

    #[test]
    fn every_series_is_in_the_table_with_its_unit_and_kind() {
        for name in SeriesName::ALL {
            let row = table_row(name.as_str()).unwrap_or_else(|| panic!("{name} missing from context.md"));
            let info = series_info(name);
            assert_eq!(row[1], info.unit, "unit of {name}");
            assert_eq!(row[2], info.kind.as_str(), "kind of {name}");
            let axis = match name.axis() {
                mechafil_core::Axis::Daily => "daily",
                mechafil_core::Axis::Forecast => "forecast",
                mechafil_core::Axis::OneYear => "1-year",
            };
            assert_eq!(row[3], axis, "dates of {name}");
        }
    }

    #[test]
    fn every_tool_and_simulate_argument_is_documented() {
        for tool in TOOL_NAMES {
            assert!(CONTEXT_MD.contains(&format!("### `{tool}`")), "{tool}");
        }
        let tools = tool_definitions();
        let simulate = tools.iter().find(|t| t.name == "simulate").expect("simulate");
        let properties = simulate.input_schema["properties"].as_object().expect("properties");
        assert_eq!(properties.len(), 13);
        for argument in properties.keys() {
            assert!(CONTEXT_MD.contains(&format!("| `{argument}` |")), "simulate argument {argument}");
        }
    }

    /// The ranges in the `simulate` table are the rules of `mechafil_core::rules`, written as
    /// `Bounds::describe` writes them.
    #[test]
    fn parameter_ranges_are_the_rules() {
        for param in mechafil_core::Param::ALL {
            let Some(bounds) = param.bounds() else { continue };
            let row =
                table_row(param.name()).unwrap_or_else(|| panic!("{param} missing from the simulate table"));
            let range = if param.is_integer() {
                bounds.describe().replace(" x ", " days ")
            } else {
                bounds.describe()
            };
            assert_eq!(row[2], range, "range of {param}");
        }
    }

    #[test]
    fn onboarding_is_in_pib_per_day() {
        assert!(CONTEXT_MD.contains("| `rbp` | raw-byte onboarding, **PiB/day**"));
        for (at, _) in CONTEXT_MD.match_indices("EiB/day") {
            assert!(CONTEXT_MD[..at].ends_with("never "), "EiB/day used as a unit at byte {at}");
        }
    }

    #[test]
    fn the_daily_rate_key_is_documented() {
        assert!(CONTEXT_MD.contains("**`<name>_daily_rate`**"));
        assert!(CONTEXT_MD.contains("`cum_network_reward_daily_rate`"));
    }

    #[test]
    fn it_stays_well_under_the_result_limit() {
        assert!(CONTEXT_MD.len() < crate::tools::MAX_RESULT_CHARS / 2, "{}", CONTEXT_MD.len());
    }
}
