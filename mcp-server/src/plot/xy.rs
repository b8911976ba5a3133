//! Curves of a summary against one knob: the goal seek's scan with its target and answer, or a
//! one-knob sweep.

use plotters::prelude::*;

use super::{
    COLORS, FONT_FAMILY, Frame, RenderError, drawable, knob_label, legend_position, render, tick_labels,
    value_range,
};

/// One curve: `(knob value, summary)` points, sorted by knob value.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Its legend entry.
    pub label: String,
    /// The points (`None` where the summary has no value).
    pub points: Vec<(f64, Option<f64>)>,
}

/// A chart of curves with an optional target line and marked point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct XyChart {
    /// The knob and its unit.
    pub x_label: String,
    /// The summary and its unit.
    pub y_label: String,
    /// The curves.
    pub curves: Vec<Curve>,
    /// A horizontal line: its value and label ("target 0.10").
    pub target: Option<(f64, String)>,
    /// A marked point: x, y and label ("rr = 0.812").
    pub mark: Option<(f64, f64, String)>,
}

/// Draws `chart` under `frame`.
pub fn render_xy(frame: &Frame, xy: &XyChart) -> Result<Vec<u8>, RenderError> {
    render(super::WIDTH, super::HEIGHT, frame, |area| {
        let xs =
            xy.curves.iter().flat_map(|c| c.points.iter().map(|p| p.0)).chain(xy.mark.iter().map(|m| m.0));
        let ys = xy
            .curves
            .iter()
            .flat_map(|c| c.points.iter().filter_map(|p| p.1))
            .chain(xy.target.iter().map(|t| t.0))
            .chain(xy.mark.iter().map(|m| m.1));
        let (x_lo, x_hi) = value_range(xs);
        let (y_lo, y_hi) = value_range(ys);
        let x_formatter = |x: &f64| knob_label(*x);
        let y_formatter = tick_labels(y_lo, y_hi);
        let mut chart = ChartBuilder::on(area)
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(76)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&x_formatter)
            .y_label_formatter(&y_formatter)
            .x_desc(xy.x_label.as_str())
            .y_desc(xy.y_label.as_str())
            .label_style((FONT_FAMILY, 13))
            .axis_desc_style((FONT_FAMILY, 14))
            .light_line_style(RGBColor(242, 242, 242))
            .draw()?;
        for (i, curve) in xy.curves.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let style = ShapeStyle::from(&color).stroke_width(2);
            let points: Vec<(f64, f64)> =
                curve.points.iter().filter_map(|(x, y)| drawable(*x).zip(y.and_then(drawable))).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), style))?
                .label(curve.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style.stroke_width(3)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, style.filled())))?;
        }
        if let Some((value, label)) = &xy.target {
            let grey = RGBColor(90, 90, 90);
            chart
                .draw_series(DashedLineSeries::new(
                    [(x_lo, *value), (x_hi, *value)],
                    8,
                    5,
                    grey.stroke_width(2),
                ))?
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], grey.stroke_width(2)));
        }
        if let Some((x, y, label)) = &xy.mark {
            let red = RGBColor(200, 0, 0);
            chart
                .draw_series(std::iter::once(Circle::new((*x, *y), 7, red.stroke_width(3))))?
                .label(label.as_str())
                .legend(move |(lx, ly)| Circle::new((lx + 9, ly), 5, red.stroke_width(2)));
        }
        let points = xy.curves.iter().flat_map(|c| c.points.iter().filter_map(|(x, y)| y.map(|y| (*x, y))));
        chart
            .configure_series_labels()
            .position(legend_position(points, (x_lo, x_hi), (y_lo, y_hi)))
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
    fn a_goal_seek_curve_with_target_and_answer() {
        let points: Vec<(f64, Option<f64>)> = (0..=20)
            .map(|i| {
                let x = 0.5 + 0.025 * f64::from(i);
                (x, Some(0.05 + 0.1 * (x - 0.5)))
            })
            .collect();
        let chart = XyChart {
            x_label: "rr (fraction)".into(),
            y_label: "1y_sector_roi on 2027-01-04 (fraction)".into(),
            curves: vec![Curve { label: "1-year ROI".into(), points }],
            target: Some((0.08, "target 0.08".into())),
            mark: Some((0.8, 0.08, "rr = 0.8".into())),
        };
        let png = render_xy(
            &Frame { title: "Renewal rate for a 1-year ROI of 8%".into(), ..Frame::default() },
            &chart,
        )
        .unwrap();
        keep_sample("xy_solve", &png);
        assert!(has_color(&decode(&png).2, RGBColor(200, 0, 0)));
    }
}
