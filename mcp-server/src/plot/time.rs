//! Time charts: dated lines and percentile bands in one or several panels, with calendar dates
//! on the x axis and an optional marker (the snapshot's current date, where history ends and
//! the forecast begins).
//!
//! The x coordinate is the number of days since the earliest date drawn, so any date spacing
//! (daily history, weekly samples, a forecast that starts mid-week) shares one axis.

use chrono::{Days, NaiveDate};
use plotters::prelude::*;

use super::{
    Area, COLORS, FONT_FAMILY, Frame, RenderError, clip, drawable, legend_position, render, thin,
    tick_labels, value_range,
};
use crate::tools::dated::Dated;

/// One line of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Its legend entry.
    pub label: String,
    /// Its values and dates.
    pub series: Dated,
    /// Index into [`COLORS`].
    pub color: usize,
    /// Dashed (a forecast continuing a history, a mean beside a median).
    pub dashed: bool,
}

/// A shaded band between two dated series with the same dates (a percentile range).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Its legend entry ("p5–p95").
    pub label: String,
    /// The lower edge.
    pub lower: Dated,
    /// The upper edge.
    pub upper: Dated,
    /// Index into [`COLORS`].
    pub color: usize,
    /// How strongly it is tinted (0 to 1).
    pub opacity: f64,
}

/// One panel: a value axis with its unit, lines and bands over dates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    /// The panel's title (the series' name and meaning).
    pub title: String,
    /// The unit of the value axis.
    pub unit: String,
    /// Lines, drawn over the bands.
    pub lines: Vec<Line>,
    /// Bands, widest first.
    pub bands: Vec<Band>,
    /// A vertical marker: its date and label.
    pub marker: Option<(NaiveDate, String)>,
}

/// Most panels in one chart.
pub const MAX_PANELS: usize = 6;

/// Canvas size for `panels` panels: one panel is 960x540; more are laid out in a grid.
pub fn canvas_size(panels: usize) -> (u32, u32, usize) {
    match panels {
        0 | 1 => (super::WIDTH, super::HEIGHT, 1),
        2 => (960, 820, 1),
        3 | 4 => (1280, 880, 2),
        _ => (1280, 1200, 2),
    }
}

/// Draws `panels` (at most [`MAX_PANELS`]) under `frame`.
pub fn render_panels(frame: &Frame, panels: &[Panel]) -> Result<Vec<u8>, RenderError> {
    let panels = &panels[..panels.len().min(MAX_PANELS)];
    let (width, height, columns) = canvas_size(panels.len());
    render(width, height, frame, |area| {
        let rows = panels.len().div_ceil(columns).max(1);
        let cells = area.split_evenly((rows, columns));
        for (panel, cell) in panels.iter().zip(cells.iter()) {
            draw_panel(cell, panel)?;
        }
        Ok(())
    })
}

fn day_offset(base: NaiveDate, date: NaiveDate) -> f64 {
    (date - base).num_days() as f64
}

/// `(x, y)` points of a series' drawable values relative to `base`, split at gaps; points
/// outside `0..=span_days` are dropped (plotters' pixel mapping overflows for points far off
/// the axis).
fn segments(base: NaiveDate, span_days: f64, series: &Dated) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for (i, value) in series.values.iter().enumerate() {
        let point = series
            .date_at(i)
            .zip(value.and_then(drawable))
            .map(|(d, v)| (day_offset(base, d), v))
            .filter(|(x, _)| (0.0..=span_days).contains(x));
        match point {
            Some(point) => current.push(point),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn draw_panel(area: &Area<'_>, panel: &Panel) -> Result<(), RenderError> {
    let all_series =
        panel.lines.iter().map(|l| &l.series).chain(panel.bands.iter().flat_map(|b| [&b.lower, &b.upper]));
    let first = all_series.clone().map(|s| s.start).min();
    let last = all_series.clone().filter_map(Dated::end).max();
    let (Some(base), Some(last)) = (first, last) else {
        area.draw(&Text::new("no values to draw", (40, 40), (FONT_FAMILY, 16)))?;
        return Ok(());
    };
    let span_days = day_offset(base, last).max(1.0);
    let (y_min, y_max) = value_range(all_series.flat_map(|s| s.values.iter().flatten().copied()));
    let (width, _) = area.dim_in_pixel();
    let buckets = (width as usize).max(100);

    let mut chart = ChartBuilder::on(area)
        .caption(clip(&panel.title, 80), (FONT_FAMILY, 17))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(76)
        .build_cartesian_2d(0f64..span_days, y_min..y_max)?;
    let x_formatter = |x: &f64| date_label(base, *x, span_days);
    let y_formatter = tick_labels(y_min, y_max);
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(7)
        .x_label_formatter(&x_formatter)
        .y_label_formatter(&y_formatter)
        .x_desc("date")
        .y_desc(panel.unit.as_str())
        .label_style((FONT_FAMILY, 13))
        .axis_desc_style((FONT_FAMILY, 14))
        .light_line_style(RGBColor(242, 242, 242))
        .draw()?;

    for band in &panel.bands {
        let color = COLORS[band.color % COLORS.len()];
        let fill = color.mix(band.opacity.clamp(0.05, 1.0));
        let upper = segments(base, span_days, &band.upper).concat();
        let mut lower = segments(base, span_days, &band.lower).concat();
        if upper.is_empty() || lower.is_empty() {
            continue;
        }
        lower.reverse();
        let outline: Vec<(f64, f64)> =
            thin(&upper, buckets).into_iter().chain(thin(&lower, buckets)).collect();
        chart
            .draw_series(std::iter::once(Polygon::new(outline, fill.filled())))?
            .label(band.label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], fill.filled()));
    }
    for line in &panel.lines {
        let color = COLORS[line.color % COLORS.len()];
        let style = ShapeStyle::from(&color).stroke_width(2);
        let mut labelled = false;
        for segment in segments(base, span_days, &line.series) {
            let points = thin(&segment, buckets);
            let drawn = if line.dashed {
                chart.draw_series(DashedLineSeries::new(points, 8, 5, style))?
            } else if points.len() == 1 {
                chart.draw_series(std::iter::once(Circle::new(points[0], 3, style.filled())))?
            } else {
                chart.draw_series(LineSeries::new(points, style))?
            };
            if !labelled {
                let dashed = line.dashed;
                drawn.label(line.label.as_str()).legend(move |(x, y)| {
                    if dashed {
                        PathElement::new(vec![(x, y), (x + 7, y)], style.stroke_width(3))
                    } else {
                        PathElement::new(vec![(x, y), (x + 18, y)], style.stroke_width(3))
                    }
                });
                labelled = true;
            }
        }
    }
    if let Some((date, label)) = &panel.marker {
        let x = day_offset(base, *date);
        if (0.0..=span_days).contains(&x) {
            let grey = RGBColor(90, 90, 90);
            chart.draw_series(DashedLineSeries::new([(x, y_min), (x, y_max)], 6, 4, grey.stroke_width(1)))?;
            chart.draw_series(std::iter::once(Text::new(
                label.clone(),
                (x, y_max),
                (FONT_FAMILY, 13).into_font().color(&grey).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Top,
                )),
            )))?;
        }
    }
    if panel.lines.len() + panel.bands.len() > 1 {
        let points = panel.lines.iter().flat_map(|l| segments(base, span_days, &l.series).concat());
        chart
            .configure_series_labels()
            .position(legend_position(points, (0.0, span_days), (y_min, y_max)))
            .label_font((FONT_FAMILY, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
    }
    Ok(())
}

/// The date `x` days after `base`, as a label: months on long axes, days on short ones.
fn date_label(base: NaiveDate, x: f64, span_days: f64) -> String {
    let offset = x.round().max(0.0) as u64;
    match base.checked_add_days(Days::new(offset)) {
        Some(date) if span_days > 3.0 * 365.0 => date.format("%Y-%m").to_string(),
        Some(date) => date.to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::{DEMO_RED, decode, has_color, keep_sample};

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn series(start: &str, step: u32, values: impl IntoIterator<Item = f64>) -> Dated {
        Dated { start: date(start), step_days: step, values: values.into_iter().map(Some).collect() }
    }

    #[test]
    fn history_and_forecast_share_one_axis_with_a_marker() {
        let history = series("2022-10-10", 1, (0..1066).map(|i| 4.0e8 + 1.0e5 * f64::from(i)));
        let forecast = series("2025-09-09", 1, (0..3650).map(|i| 5.1e8 + 3.0e4 * f64::from(i)));
        let panel = Panel {
            title: "circ_supply: circulating supply".into(),
            unit: "FIL".into(),
            lines: vec![
                Line { label: "history".into(), series: history, color: 0, dashed: false },
                Line { label: "forecast (rbp 8 PiB/day)".into(), series: forecast, color: 1, dashed: true },
            ],
            bands: vec![],
            marker: Some((date("2025-09-09"), "current date 2025-09-09".into())),
        };
        let frame = Frame {
            title: "Circulating supply, history and forecast".into(),
            subtitle: Some("demo".into()),
            demo: true,
        };
        let png = render_panels(&frame, &[panel]).unwrap();
        keep_sample("time_history_forecast", &png);
        let (w, h, pixels) = decode(&png);
        assert_eq!((w, h), (960, 540));
        assert!(
            has_color(&pixels, COLORS[0]) && has_color(&pixels, COLORS[1]) && has_color(&pixels, DEMO_RED)
        );
    }

    #[test]
    fn a_fan_of_bands_in_two_panels() {
        let dates = |k: f64| series("2025-09-15", 7, (0..522).map(move |i| 0.3 + k * f64::from(i) / 522.0));
        let panel = |title: &str| Panel {
            title: title.into(),
            unit: "fraction".into(),
            lines: vec![Line { label: "median".into(), series: dates(0.0), color: 0, dashed: false }],
            bands: vec![
                Band {
                    label: "p5–p95".into(),
                    lower: dates(-0.2),
                    upper: dates(0.2),
                    color: 0,
                    opacity: 0.18,
                },
                Band {
                    label: "p25–p75".into(),
                    lower: dates(-0.1),
                    upper: dates(0.1),
                    color: 0,
                    opacity: 0.35,
                },
            ],
            marker: None,
        };
        let png =
            render_panels(&Frame { title: "fan".into(), ..Frame::default() }, &[panel("a"), panel("b")])
                .unwrap();
        keep_sample("time_fan_two_panels", &png);
        assert_eq!(decode(&png).0, 960);
    }

    /// Regression: a span that overflows f64 (`[1e308, -1e308]`) made plotters' tick search
    /// spin forever; dates past chrono's calendar panicked.
    #[test]
    fn extreme_values_and_dates_render_quickly() {
        let started = std::time::Instant::now();
        let extreme = Dated {
            start: date("2025-01-06"),
            step_days: 7,
            values: vec![Some(1e308), Some(-1e308), Some(f64::MAX), None],
        };
        let late = Dated { start: NaiveDate::MAX, step_days: 7, values: vec![Some(1.0); 20_000] };
        let panel = Panel {
            title: "extremes".into(),
            unit: "x".into(),
            lines: vec![
                Line { label: "a".into(), series: extreme, color: 0, dashed: false },
                Line { label: "b".into(), series: late, color: 1, dashed: true },
            ],
            ..Panel::default()
        };
        let png = render_panels(&Frame::default(), &[panel]).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn empty_panels_say_so() {
        let png = render_panels(&Frame::default(), &[Panel::default()]).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
    }
}
