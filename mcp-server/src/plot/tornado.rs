//! Tornado charts: how far one summary moves when each knob moves down and up, knobs ranked by
//! the swing, largest on top, around a vertical line at the base value.

use plotters::prelude::*;

use super::{COLORS, FONT_FAMILY, Frame, RenderError, clip, drawable, render, tick_labels, value_range};

/// One knob's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The knob's name.
    pub knob: String,
    /// The knob value moved down, as a label ("0.744").
    pub down_label: String,
    /// The knob value moved up, as a label.
    pub up_label: String,
    /// The summary with the knob moved down.
    pub down: Option<f64>,
    /// The summary with the knob moved up.
    pub up: Option<f64>,
}

/// A tornado chart of one summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Tornado {
    /// What the bars measure, with its unit.
    pub value_label: String,
    /// The summary in the base scenario.
    pub base: f64,
    /// The bars, in the order drawn from the top (largest swing first).
    pub bars: Vec<Bar>,
}

/// Most bars drawn.
pub const MAX_BARS: usize = 12;

/// Draws `tornado` under `frame`.
pub fn render_tornado(frame: &Frame, tornado: &Tornado) -> Result<Vec<u8>, RenderError> {
    let bars = &tornado.bars[..tornado.bars.len().min(MAX_BARS)];
    let height = (200 + 44 * bars.len() as u32).max(360);
    render(super::WIDTH, height, frame, |area| {
        let values = bars.iter().flat_map(|b| [b.down, b.up]).flatten().chain([tornado.base]);
        let (lo, hi) = value_range(values);
        // Room beside the longest bars for their labels.
        let pad = (hi / 2.0 - lo / 2.0) * 0.5;
        let (lo, hi) = (lo - pad, hi + pad);
        let n = bars.len().max(1) as f64;
        let names: Vec<String> = bars.iter().map(|b| b.knob.clone()).collect();
        let y_formatter = |y: &f64| {
            let i = (n - 0.5 - *y).round();
            if (n - 0.5 - *y - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            names.get(i as usize).cloned().unwrap_or_default()
        };
        let x_formatter = tick_labels(lo, hi);
        let mut chart = ChartBuilder::on(area)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(190)
            .build_cartesian_2d(lo..hi, 0f64..n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(bars.len() * 2 + 1)
            .x_labels(7)
            .y_label_formatter(&y_formatter)
            .x_label_formatter(&x_formatter)
            .x_desc(clip(&tornado.value_label, 80))
            .label_style((FONT_FAMILY, 13))
            .axis_desc_style((FONT_FAMILY, 14))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()?;
        let (down_color, up_color) = (COLORS[0], COLORS[1]);
        let label_style = |anchor| {
            (FONT_FAMILY, 12).into_font().color(&RGBColor(40, 40, 40)).pos(
                plotters::style::text_anchor::Pos::new(anchor, plotters::style::text_anchor::VPos::Center),
            )
        };
        for (i, bar) in bars.iter().enumerate() {
            let y = n - 1.0 - i as f64;
            for (value, color, text) in
                [(bar.down, down_color, &bar.down_label), (bar.up, up_color, &bar.up_label)]
            {
                // A knob that does not move the summary has no bar and no label.
                let Some(value) = value.and_then(drawable).filter(|v| *v != tornado.base) else { continue };
                let (a, b) = if value < tornado.base { (value, tornado.base) } else { (tornado.base, value) };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(a, y + 0.2), (b, y + 0.8)],
                    color.filled(),
                )))?;
                let anchor = if value < tornado.base {
                    plotters::style::text_anchor::HPos::Right
                } else {
                    plotters::style::text_anchor::HPos::Left
                };
                chart.draw_series(std::iter::once(Text::new(
                    text.clone(),
                    (value, y + 0.5),
                    label_style(anchor),
                )))?;
            }
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(tornado.base, 0.0), (tornado.base, n)],
            BLACK.stroke_width(2),
        )))?;
        chart
            .draw_series(std::iter::once(Rectangle::new([(lo, -1.0), (lo, -1.0)], down_color.filled())))?
            .label("knob moved down")
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], down_color.filled()));
        chart
            .draw_series(std::iter::once(Rectangle::new([(lo, -1.0), (lo, -1.0)], up_color.filled())))?
            .label("knob moved up")
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], up_color.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT_FAMILY, 13))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .draw()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::{decode, has_color, keep_sample};

    #[test]
    fn bars_on_both_sides_of_the_base() {
        let bar = |knob: &str, down: f64, up: f64| Bar {
            knob: knob.into(),
            down_label: format!("{knob} -10%"),
            up_label: format!("{knob} +10%"),
            down: Some(down),
            up: Some(up),
        };
        let tornado = Tornado {
            value_label: "1-year sector ROI on 2026-09-08 (fraction)".into(),
            base: 0.12,
            bars: vec![
                bar("rbp", 0.14, 0.10),
                bar("rr", 0.11, 0.13),
                bar("fpr", 0.118, 0.121),
                bar("lock_target", 0.12, 0.12),
            ],
        };
        let png = render_tornado(
            &Frame { title: "What moves the 1-year ROI".into(), ..Frame::default() },
            &tornado,
        )
        .unwrap();
        keep_sample("tornado", &png);
        let (_, _, pixels) = decode(&png);
        assert!(has_color(&pixels, COLORS[0]) && has_color(&pixels, COLORS[1]));
    }
}
