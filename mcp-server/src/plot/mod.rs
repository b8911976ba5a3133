//! Charts as PNG images: time series (lines, percentile bands, history and forecast on one
//! axis), heatmaps, tornado bars and curves, drawn with plotters' bitmap backend.
//!
//! Every chart is meant to be read without the text beside it: a title, the unit on the value
//! axis, calendar dates on time axes, a legend, and a red "DEMO DATA" label when the numbers are
//! not the real network's. Text is drawn with `assets/MechaFilChartSans.ttf` (a Latin subset of
//! DejaVu Sans, see `assets/README.md`) through plotters' `ab_glyph` feature, embedded in the
//! binary: the same pixels on a laptop, in CI and in a slim container.
//!
//! Drawing is bounded whatever the data: axis ranges are finite and clamped (a span that
//! overflows f64 would make plotters' tick search loop forever), lines are thinned to a few
//! points per pixel column, and date arithmetic is checked.
//!
//! - [`time`]: dated lines and bands, in one or several panels.
//! - [`heatmap`]: a grid of a summary over two knobs.
//! - [`tornado`]: a ranked sensitivity chart.
//! - [`xy`]: a summary as a function of one knob (goal seeking, one-knob sweeps).

pub mod heatmap;
pub mod time;
pub mod tornado;
pub mod xy;

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Width of a one-panel chart, pixels.
pub const WIDTH: u32 = 960;
/// Height of a one-panel chart, pixels.
pub const HEIGHT: u32 = 540;
/// Largest magnitude drawn: values beyond are clamped so every axis span stays finite.
pub const MAX_ABS_VALUE: f64 = 1e300;

pub(crate) const FONT: &[u8] = include_bytes!("../../assets/MechaFilChartSans.ttf");
pub(crate) const FONT_FAMILY: &str = "sans-serif";

/// Line colours, chosen to stay distinguishable for common colour-vision deficiencies
/// (Okabe–Ito order, with black last).
pub const COLORS: [RGBColor; 10] = [
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

/// The red of the demo label.
pub(crate) const DEMO_RED: RGBColor = RGBColor(200, 0, 0);

/// What every chart shows above its plot: a title, an optional second line, and the demo label.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    /// The title.
    pub title: String,
    /// A second line (scenario, data source, what the bands are).
    pub subtitle: Option<String>,
    /// Whether the numbers are demo data: a red label says so.
    pub demo: bool,
}

/// Why a chart could not be drawn (a bug or a resource problem, not the caller's arguments).
#[derive(Debug, thiserror::Error)]
#[error("could not draw the chart: {0}")]
pub struct RenderError(pub(crate) String);

impl RenderError {
    /// The drawing task panicked or was cancelled.
    pub(crate) fn from_join(err: &tokio::task::JoinError) -> RenderError {
        RenderError(format!("the drawing task failed: {err}"))
    }
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for RenderError {
    fn from(err: DrawingAreaErrorKind<E>) -> Self {
        RenderError(err.to_string())
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

/// The drawing area charts draw on.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws on a white `width` x `height` canvas with `frame`'s header, then `draw` below it, and
/// encodes the result as a PNG.
pub fn render(
    width: u32,
    height: u32,
    frame: &Frame,
    draw: impl FnOnce(&Area<'_>) -> Result<(), RenderError>,
) -> Result<Vec<u8>, RenderError> {
    ensure_font()?;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let body = header(&root, frame)?;
        draw(&body)?;
        root.present()?;
    }
    encode_png(&rgb, width, height)
}

/// Draws the title, subtitle and demo label; returns the area below them.
fn header<'a>(root: &Area<'a>, frame: &Frame) -> Result<Area<'a>, RenderError> {
    let (width, _) = root.dim_in_pixel();
    let title_height = if frame.subtitle.is_some() { 58 } else { 36 };
    let (top, body) = root.split_vertically(title_height);
    top.draw(&Text::new(clip(&frame.title, 90), (16, 8), (FONT_FAMILY, 22).into_font().color(&BLACK)))?;
    if let Some(subtitle) = &frame.subtitle {
        let style = (FONT_FAMILY, 15).into_font().color(&RGBColor(70, 70, 70));
        top.draw(&Text::new(clip(subtitle, 130), (16, 36), style))?;
    }
    if frame.demo {
        let label = "DEMO DATA - not the real network";
        let style = (FONT_FAMILY, 16).into_font().color(&DEMO_RED);
        let (text_width, _) = top.estimate_text_size(label, &style)?;
        let right = width as i32 - 12;
        let left = right - text_width as i32 - 16;
        top.draw(&Rectangle::new([(left, 4), (right, 30)], DEMO_RED.stroke_width(2)))?;
        top.draw(&Text::new(label, (left + 8, 9), style))?;
    }
    Ok(body)
}

/// `text` cut to `max` characters (with an ellipsis), so a long title cannot run off the image.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(|err| RenderError(err.to_string()))?;
    writer.write_image_data(rgb).map_err(|err| RenderError(err.to_string()))?;
    writer.finish().map_err(|err| RenderError(err.to_string()))?;
    Ok(out)
}

/// `value` clamped into `[-MAX_ABS_VALUE, MAX_ABS_VALUE]`; `None` for NaN and infinities.
pub(crate) fn drawable(value: f64) -> Option<f64> {
    value.is_finite().then(|| value.clamp(-MAX_ABS_VALUE, MAX_ABS_VALUE))
}

/// An axis range around `values`: their extent with margins of 5% of the span, widened when all are equal,
/// always finite and non-empty. `(0, 1)` when there is no drawable value.
pub(crate) fn value_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter_map(drawable)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    // Halves first: `hi - lo` of two clamped values is at most 2e300, but the margin computation
    // below must not overflow either.
    let span = hi / 2.0 - lo / 2.0;
    if span <= f64::EPSILON * hi.abs().max(lo.abs()).max(1.0) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    (lo - span * 0.1, hi + span * 0.1)
}

/// At most about `2 * buckets` points that keep the shape of `points` (sorted by x): the
/// first, minimum, maximum and last point of each of `buckets` equal x intervals. Drawing work
/// is then bounded by the chart's width, not by the data's length.
pub(crate) fn thin(points: &[(f64, f64)], buckets: usize) -> Vec<(f64, f64)> {
    if points.len() <= 4 * buckets || buckets == 0 {
        return points.to_vec();
    }
    let (x0, x1) = (points[0].0, points[points.len() - 1].0);
    let width = (x1 - x0) / buckets as f64;
    let mut out = Vec::with_capacity(4 * buckets + 2);
    let mut start = 0;
    while start < points.len() {
        let bucket = ((points[start].0 - x0) / width).floor();
        let mut end = start;
        while end + 1 < points.len() && ((points[end + 1].0 - x0) / width).floor() == bucket {
            end += 1;
        }
        let slice = &points[start..=end];
        let min = slice.iter().copied().fold(slice[0], |a, p| if p.1 < a.1 { p } else { a });
        let max = slice.iter().copied().fold(slice[0], |a, p| if p.1 > a.1 { p } else { a });
        let mut picked = [slice[0], min, max, slice[slice.len() - 1]];
        picked.sort_by(|a, b| a.0.total_cmp(&b.0));
        for point in picked {
            if out.last() != Some(&point) {
                out.push(point);
            }
        }
        start = end + 1;
    }
    out
}

/// A short axis label: 1.23B, 456.7M, 12.5k, 0.0123.
pub fn compact_number(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = match magnitude {
        m if m >= 1e15 => return format!("{value:.2e}"),
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

/// Labels for the ticks of an axis from `lo` to `hi`: as many decimals as the tick spacing
/// needs, so neighbouring ticks never read the same ("0.30, 0.30, 0.30" on a narrow range),
/// with k / M / B / T suffixes for large values.
pub fn tick_labels(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let magnitude = lo.abs().max(hi.abs());
    let (scale, suffix) = match magnitude {
        m if m >= 1e15 || !m.is_finite() => (1.0, "e"),
        m if m >= 1e12 => (1e12, "T"),
        m if m >= 1e9 => (1e9, "B"),
        m if m >= 1e6 => (1e6, "M"),
        m if m >= 1e4 => (1e3, "k"),
        _ => (1.0, ""),
    };
    // About eight ticks: one more decimal than the spacing's first significant digit needs.
    let step = ((hi - lo) / 8.0 / scale).abs();
    let decimals = if step > 0.0 && step.is_finite() {
        (1.0 - step.log10()).ceil().clamp(0.0, 10.0) as usize
    } else {
        2
    };
    move |value: &f64| {
        // Huge and tiny magnitudes read best in scientific notation.
        if suffix == "e" || (magnitude < 1e-3 && magnitude > 0.0) {
            format!("{value:.2e}")
        } else {
            let scaled = value / scale;
            let text = format!("{scaled:.decimals$}");
            // "-0.00" reads as a different number than "0.00".
            let text = if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
                text.trim_start_matches('-').to_string()
            } else {
                text
            };
            format!("{text}{suffix}")
        }
    }
}

/// Where a legend goes: the upper left unless the data's left part is in the upper half (then
/// the lower left), so the legend does not cover the start of the lines.
pub(crate) fn legend_position(
    points: impl Iterator<Item = (f64, f64)>,
    x: (f64, f64),
    y: (f64, f64),
) -> SeriesLabelPosition {
    let left = x.0 + (x.1 - x.0) * 0.3;
    let middle = y.0 / 2.0 + y.1 / 2.0;
    let (above, total) = points
        .filter(|(px, _)| *px <= left)
        .fold((0usize, 0usize), |(a, t), (_, py)| (a + usize::from(py > middle), t + 1));
    if total > 0 && above * 2 > total {
        SeriesLabelPosition::LowerLeft
    } else {
        SeriesLabelPosition::UpperLeft
    }
}

/// A knob value for labels: whole numbers without decimals, others with up to 4 significant
/// digits.
pub fn knob_label(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e9 {
        format!("{value:.0}")
    } else if value.abs() >= 1e4 || value.abs() < 1e-3 {
        compact_number(value)
    } else {
        let digits = (3 - value.abs().log10().floor() as i32).clamp(0, 6) as usize;
        let text = format!("{value:.digits$}");
        if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
    }
}

/// Decodes a PNG for tests: width, height and RGB pixels.
#[cfg(test)]
pub(crate) fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

/// Writes `png` to `$MCP_PLOT_SAMPLE_DIR/<name>.png` when the variable is set, so a person can
/// look at every chart kind (`MCP_PLOT_SAMPLE_DIR=target/charts cargo test -p mcp-server plot`).
#[cfg(test)]
pub(crate) fn keep_sample(name: &str, png: &[u8]) {
    if let Ok(dir) = std::env::var("MCP_PLOT_SAMPLE_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// Whether `pixels` hold the colour `rgb`.
#[cfg(test)]
pub(crate) fn has_color(pixels: &[u8], rgb: RGBColor) -> bool {
    pixels.chunks(3).any(|p| p == [rgb.0, rgb.1, rgb.2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_finite_for_any_input() {
        assert_eq!(value_range([f64::NAN].into_iter()), (0.0, 1.0));
        let (lo, hi) = value_range([1e308, -1e308].into_iter());
        assert!(lo.is_finite() && hi.is_finite() && lo < hi, "{lo} {hi}");
        let (lo, hi) = value_range([f64::MAX, f64::MAX].into_iter());
        assert!(lo.is_finite() && hi.is_finite() && lo < hi, "{lo} {hi}");
        let (lo, hi) = value_range([0.0, 0.0].into_iter());
        assert_eq!((lo, hi), (-1.0, 1.0));
        let (lo, hi) = value_range([2.0, 4.0].into_iter());
        assert!((lo - 1.9).abs() < 1e-12 && (hi - 4.1).abs() < 1e-12, "{lo} {hi}");
    }

    #[test]
    fn thinning_keeps_the_extremes_and_the_ends() {
        let points: Vec<(f64, f64)> =
            (0..10_000).map(|i| (f64::from(i), if i == 5_000 { 99.0 } else { f64::from(i % 7) })).collect();
        let thinned = thin(&points, 100);
        assert!(thinned.len() <= 402, "{}", thinned.len());
        assert_eq!(thinned.first(), points.first());
        assert_eq!(thinned.last(), points.last());
        assert!(thinned.contains(&(5_000.0, 99.0)));
        assert!(thinned.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(thin(&points[..10], 100), points[..10]);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(compact_number(452_123_456.0), "452M");
        assert_eq!(compact_number(1_234_567_890.0), "1.23B");
        assert_eq!(compact_number(12_500.0), "12.5k");
        assert_eq!(compact_number(0.1234), "0.12");
        assert_eq!(compact_number(-3.5e6), "-3.50M");
        assert_eq!(compact_number(0.0), "0");
        assert_eq!(compact_number(0.000123), "1.23e-4");
        assert_eq!(compact_number(1e300), "1.00e300");
        let ticks = tick_labels(0.289, 0.301);
        assert_eq!(
            (ticks(&0.29), ticks(&0.2925), ticks(&0.295)),
            ("0.2900".to_string(), "0.2925".to_string(), "0.2950".to_string())
        );
        let ticks = tick_labels(3.4e8, 4.2e8);
        assert_eq!(ticks(&3.6e8), "360M");
        let ticks = tick_labels(5.6e8, 5.61e8);
        assert_eq!(ticks(&5.605e8), "560.50M");
        assert_eq!(tick_labels(-1.0, 1.0)(&-0.0001), "0.00");
        assert_eq!(knob_label(540.0), "540");
        assert_eq!(knob_label(0.75), "0.75");
        assert_eq!(knob_label(2.6371234), "2.637");
        assert_eq!(knob_label(0.8123456), "0.8123");
    }
}
