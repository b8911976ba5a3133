//! `provide_plot`'s chart: the validated chart spec ([`ChartSpec`]) and its rendering to a PNG
//! with plotters' bitmap backend.
//!
//! Text is drawn with `assets/MechaFilChartSans.ttf` (a Latin subset of DejaVu Sans, see
//! `assets/README.md`) through plotters' `ab_glyph` feature, embedded in the binary: no system
//! fonts, no fontconfig, so the same pixels come out on a laptop, in CI and in a slim container.
//! The PNG is encoded with the `png` crate from plotters' RGB buffer.

use std::sync::Once;

use chrono::{Days, NaiveDate};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use serde_json::{Value, json};

use crate::tools::args::{ChartArgs, InvalidArgs, SeriesData};

/// Chart width in pixels.
pub const WIDTH: u32 = 960;
/// Chart height in pixels.
pub const HEIGHT: u32 = 540;
/// Most series in one chart.
pub const MAX_SERIES: usize = 10;
/// Most points in one series (20 years daily plus the history).
pub const MAX_POINTS: usize = 20_000;

const FONT: &[u8] = include_bytes!("../assets/MechaFilChartSans.ttf");
const FONT_FAMILY: &str = "sans-serif";

/// Line colours, chosen to stay distinguishable for common colour-vision deficiencies
/// (Okabe–Ito order, with black last).
const COLORS: [RGBColor; MAX_SERIES] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(160, 140, 0),
    RGBColor(120, 60, 160),
    RGBColor(128, 128, 128),
    RGBColor(0, 0, 0),
];

/// The x axis: calendar dates when the first date is known, sample indices otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Value `i` is on `start + i * step_days`.
    Dates {
        /// Date of value 0.
        start: NaiveDate,
        /// Days between values.
        step_days: u32,
    },
    /// No date known: value `i` is drawn at `i`.
    Index,
}

/// A chart that passed validation: at least one finite value, at most [`MAX_SERIES`] series.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    /// The title.
    pub label: String,
    /// Unit of the values, if given.
    pub unit: Option<String>,
    /// The series by legend name (sorted by name when given as an object).
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// The caller's `start_date_key`, echoed.
    pub start_date_key: Option<String>,
    /// How x positions map to dates.
    pub x_axis: XAxis,
}

impl ChartSpec {
    /// Checks the chart arguments and resolves the x axis.
    pub fn from_args(args: ChartArgs) -> Result<ChartSpec, InvalidArgs> {
        let mut problems = Vec::new();
        let label = args.label.trim().to_string();
        if label.is_empty() || label.chars().count() > 200 {
            problems.push("chart.label must be 1 to 200 characters".to_string());
        }
        let unit = args.unit.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
        if unit.as_ref().is_some_and(|u| u.chars().count() > 40) {
            problems.push("chart.unit must be at most 40 characters".to_string());
        }
        let series = match args.series {
            SeriesData::One(values) => vec![(label.clone(), values)],
            SeriesData::Named(named) => named,
        };
        if series.is_empty() || series.len() > MAX_SERIES {
            problems.push(format!("chart.series must hold 1 to {MAX_SERIES} series, got {}", series.len()));
        }
        for (name, values) in &series {
            if values.is_empty() || values.len() > MAX_POINTS {
                problems.push(format!(
                    "chart.series {name:?} must have 1 to {MAX_POINTS} values, got {}",
                    values.len()
                ));
            }
            if name.trim().is_empty() || name.chars().count() > 100 {
                problems.push(format!("chart.series names must be 1 to 100 characters, got {name:?}"));
            }
        }
        if !series.iter().flat_map(|(_, v)| v).any(|v| v.is_some_and(f64::is_finite)) {
            problems.push("chart.series has no numeric value to draw".to_string());
        }

        let parse_date = |text: &str| NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
        let key_date = args.start_date_key.as_deref().and_then(parse_date);
        let given_date = match args.start_date.as_deref() {
            Some(text) => match parse_date(text) {
                Some(date) => Some(date),
                None => {
                    problems.push(format!("chart.start_date must be a date YYYY-MM-DD, got {text:?}"));
                    None
                }
            },
            None => None,
        };
        if let (Some(key), Some(given)) = (key_date, given_date)
            && key != given
        {
            problems.push(format!("chart.start_date_key is the date {key} but chart.start_date is {given}"));
        }
        let step_days = args.timestep_days.unwrap_or(7);
        if !(1..=366).contains(&step_days) {
            problems.push(format!("chart.timestep_days must be between 1 and 366, got {step_days}"));
        }
        let x_axis = match given_date.or(key_date) {
            Some(start) => XAxis::Dates { start, step_days },
            None => XAxis::Index,
        };

        if !problems.is_empty() {
            return Err(InvalidArgs { tool: "provide_plot", problems });
        }
        Ok(ChartSpec { label, unit, series, start_date_key: args.start_date_key, x_axis })
    }

    /// The reference's chart spec (`{"chart": {"series", "label", "unit", "start_date_key"}}`),
    /// with the resolved dates added.
    pub fn to_json(&self) -> Value {
        let series = match self.series.as_slice() {
            [(name, values)] if *name == self.label => json!(values),
            named => {
                Value::Object(named.iter().map(|(name, values)| (name.clone(), json!(values))).collect())
            }
        };
        let mut chart = json!({
            "series": series,
            "label": self.label,
            "unit": self.unit,
            "start_date_key": self.start_date_key,
        });
        if let XAxis::Dates { start, step_days } = self.x_axis {
            let longest = self.series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
            chart["start_date"] = json!(start.to_string());
            chart["timestep_days"] = json!(step_days);
            chart["end_date"] = json!(date_at(start, step_days, longest.saturating_sub(1)).to_string());
        }
        json!({ "chart": chart })
    }
}

fn date_at(start: NaiveDate, step_days: u32, index: usize) -> NaiveDate {
    start + Days::new(index as u64 * u64::from(step_days))
}

/// Why a chart could not be drawn (a bug or resource problem, not the caller's arguments).
#[derive(Debug, thiserror::Error)]
#[error("could not draw the chart: {0}")]
pub struct RenderError(String);

impl RenderError {
    /// The drawing task panicked or was cancelled.
    pub(crate) fn from_join(err: &tokio::task::JoinError) -> RenderError {
        RenderError(format!("the drawing task failed: {err}"))
    }
}

fn ensure_font() -> Result<(), RenderError> {
    static REGISTER: Once = Once::new();
    let mut result = Ok(());
    REGISTER.call_once(|| {
        result = register_font(FONT_FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| RenderError("the embedded font is invalid".into()));
    });
    result
}

/// Draws `spec` and encodes it as a PNG of [`WIDTH`] x [`HEIGHT`] pixels.
pub fn render_png(spec: &ChartSpec) -> Result<Vec<u8>, RenderError> {
    ensure_font()?;
    let mut rgb = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    draw(spec, &mut rgb).map_err(|err| RenderError(err.to_string()))?;
    encode_png(&rgb)
}

fn draw(spec: &ChartSpec, rgb: &mut [u8]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;

    let longest = spec.series.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
    let (y_min, y_max) = y_range(spec);
    let x_max = (longest.max(2) - 1) as f64;
    let title = match &spec.unit {
        Some(unit) => format!("{} ({unit})", spec.label),
        None => spec.label.clone(),
    };

    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT_FAMILY, 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(76)
        .build_cartesian_2d(0f64..x_max, y_min..y_max)?;

    let x_formatter = |x: &f64| x_label(spec.x_axis, *x, longest);
    let y_formatter = |y: &f64| compact_number(*y);
    let x_desc = match spec.x_axis {
        XAxis::Dates { step_days: 1, .. } => "date (daily values)".to_string(),
        XAxis::Dates { step_days, .. } => format!("date (one value every {step_days} days)"),
        XAxis::Index => "sample index (no start date given)".to_string(),
    };
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&x_formatter)
        .y_label_formatter(&y_formatter)
        .x_desc(x_desc)
        .y_desc(spec.unit.clone().unwrap_or_default())
        .label_style((FONT_FAMILY, 14))
        .axis_desc_style((FONT_FAMILY, 15))
        .light_line_style(RGBColor(242, 242, 242))
        .draw()?;

    for (i, (name, values)) in spec.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let style = ShapeStyle::from(&color).stroke_width(2);
        // A gap (null or non-finite value) ends one line and starts the next.
        let mut first_segment = true;
        for segment in segments(values) {
            let drawn = chart.draw_series(LineSeries::new(segment, style))?;
            if first_segment {
                drawn.label(name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], ShapeStyle::from(&color).stroke_width(3))
                });
                first_segment = false;
            }
        }
    }
    if spec.series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT_FAMILY, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// Runs of consecutive finite values as `(x, y)` points.
fn segments(values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match value {
            Some(v) if v.is_finite() => current.push((i as f64, *v)),
            _ if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            _ => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// The y range: the data's range with 5% margins, widened when all values are equal.
fn y_range(spec: &ChartSpec) -> (f64, f64) {
    let finite = spec.series.iter().flat_map(|(_, v)| v.iter().flatten()).filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(lo.abs()).max(1.0) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    (lo - span * 0.05, hi + span * 0.05)
}

fn x_label(axis: XAxis, x: f64, longest: usize) -> String {
    match axis {
        XAxis::Index => format!("{}", x.round()),
        XAxis::Dates { start, step_days } => {
            let index = x.round().max(0.0) as usize;
            let date = date_at(start, step_days, index);
            // Months are enough to place a point on a long axis; short axes need days.
            let span_days = longest as u64 * u64::from(step_days);
            if span_days > 3 * 365 { date.format("%Y-%m").to_string() } else { date.to_string() }
        }
    }
}

/// A short axis label: 1.23B, 456.7M, 12.5k, 0.0123.
pub fn compact_number(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = match magnitude {
        m if m >= 1e12 => (value / 1e12, "T"),
        m if m >= 1e9 => (value / 1e9, "B"),
        m if m >= 1e6 => (value / 1e6, "M"),
        m if m >= 1e4 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let text = if scaled == 0.0 {
        "0".to_string()
    } else if scaled.abs() >= 100.0 {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 {
        format!("{scaled:.1}")
    } else if scaled.abs() >= 0.01 {
        format!("{scaled:.2}")
    } else {
        format!("{scaled:.2e}")
    };
    format!("{text}{suffix}")
}

fn encode_png(rgb: &[u8]) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(|err| RenderError(err.to_string()))?;
    writer.write_image_data(rgb).map_err(|err| RenderError(err.to_string()))?;
    writer.finish().map_err(|err| RenderError(err.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::args::{ProvidePlotArgs, parse_args};

    fn spec(chart: Value) -> Result<ChartSpec, InvalidArgs> {
        let Value::Object(args) = json!({ "chart": chart }) else { unreachable!() };
        ChartSpec::from_args(parse_args::<ProvidePlotArgs>("provide_plot", args)?.chart)
    }

    fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        (info, pixels)
    }

    #[test]
    fn renders_a_png_with_the_lines_in_their_colours() {
        let weekly: Vec<f64> = (0..522).map(|i| 4.0e8 + 1.5e5 * i as f64).collect();
        let locked: Vec<Option<f64>> =
            (0..522).map(|i| if i == 200 { None } else { Some(1.2e8 + 3.0e4 * i as f64) }).collect();
        let spec = spec(json!({
            "series": { "circ_supply": weekly, "network_locked": locked },
            "label": "Supply, base case", "unit": "FIL",
            "start_date_key": "sim_start_date", "start_date": "2025-09-15"
        }))
        .unwrap();
        let png_bytes = render_png(&spec).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png_bytes.len() < 150_000, "PNG is {} bytes", png_bytes.len());
        let (info, pixels) = decode(&png_bytes);
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        // Both series' colours are present, and text (dark pixels) was drawn.
        let has = |rgb: RGBColor| pixels.chunks(3).any(|p| p == [rgb.0, rgb.1, rgb.2]);
        assert!(has(COLORS[0]) && has(COLORS[1]));
        let dark = pixels.chunks(3).filter(|p| p.iter().all(|c| *c < 60)).count();
        assert!(dark > 500, "only {dark} dark pixels: was any text drawn?");
        if let Ok(dir) = std::env::var("MCP_PLOT_SAMPLE_DIR") {
            std::fs::write(std::path::Path::new(&dir).join("sample_chart.png"), &png_bytes).unwrap();
        }
    }

    #[test]
    fn a_constant_or_single_point_series_still_renders() {
        for series in [json!([5.0]), json!([0, 0, 0]), json!([null, 3.0, null])] {
            let spec = spec(json!({ "series": series, "label": "flat" })).unwrap();
            assert_eq!(spec.x_axis, XAxis::Index);
            assert_eq!(&render_png(&spec).unwrap()[..4], b"\x89PNG");
        }
    }

    #[test]
    fn chart_spec_validation() {
        for (chart, expected) in [
            (json!({"series": [], "label": "x"}), "must have 1 to 20000 values"),
            (json!({"series": [null, null], "label": "x"}), "no numeric value"),
            (json!({"series": [1], "label": "  "}), "chart.label must be 1 to 200"),
            (
                json!({"series": [1], "label": "x", "start_date": "15/09/2025"}),
                "chart.start_date must be a date",
            ),
            (
                json!({"series": [1], "label": "x", "timestep_days": 0}),
                "timestep_days must be between 1 and 366",
            ),
            (
                json!({"series": [1], "label": "x", "start_date_key": "2025-01-06", "start_date": "2025-01-13"}),
                "is the date 2025-01-06 but chart.start_date is 2025-01-13",
            ),
        ] {
            let message = spec(chart).unwrap_err().to_string();
            assert!(message.contains(expected), "missing {expected:?} in {message}");
        }
        let eleven: serde_json::Map<String, Value> = (0..11).map(|i| (format!("s{i}"), json!([1]))).collect();
        assert!(
            spec(json!({"series": eleven, "label": "x"})).unwrap_err().to_string().contains("1 to 10 series")
        );
    }

    #[test]
    fn dates_come_from_a_date_key_or_the_explicit_start_date() {
        let by_key =
            spec(json!({"series": [1, 2, 3], "label": "x", "start_date_key": "2025-09-15"})).unwrap();
        assert_eq!(
            by_key.x_axis,
            XAxis::Dates { start: NaiveDate::from_ymd_opt(2025, 9, 15).unwrap(), step_days: 7 }
        );
        assert_eq!(by_key.to_json()["chart"]["end_date"], "2025-09-29");
        let daily = spec(json!({
            "series": [1, 2], "label": "x", "start_date_key": "data_start_date",
            "start_date": "2022-10-10", "timestep_days": 1
        }))
        .unwrap();
        let echoed = daily.to_json();
        assert_eq!(echoed["chart"]["start_date_key"], "data_start_date");
        assert_eq!(echoed["chart"]["series"], json!([1.0, 2.0]));
        assert_eq!(echoed["chart"]["end_date"], "2022-10-11");
    }

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(compact_number(452_123_456.0), "452M");
        assert_eq!(compact_number(1_234_567_890.0), "1.23B");
        assert_eq!(compact_number(12_500.0), "12.5k");
        assert_eq!(compact_number(0.1234), "0.12");
        assert_eq!(compact_number(-3.5e6), "-3.50M");
        assert_eq!(compact_number(0.0), "0");
        assert_eq!(compact_number(0.000123), "1.23e-4");
        let start = NaiveDate::from_ymd_opt(2025, 9, 15).unwrap();
        assert_eq!(x_label(XAxis::Dates { start, step_days: 7 }, 2.0, 52), "2025-09-29");
        assert_eq!(x_label(XAxis::Dates { start, step_days: 7 }, 2.0, 522), "2025-09");
    }
}
