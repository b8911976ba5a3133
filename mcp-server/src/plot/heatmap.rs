//! Heatmaps: one summary over a grid of two knobs (a sweep), one panel per value of a third knob,
//! with a colour scale, the knob values on the axes and, on small grids, each cell's value.

use plotters::prelude::*;

use super::{Area, FONT_FAMILY, Frame, RenderError, clip, compact_number, drawable, knob_label, render};

/// One panel: rows are the values of the y knob, columns those of the x knob.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// The panel's title (the third knob's value, or the summary).
    pub title: String,
    /// `cells[row][column]`, `None` for an invalid or empty cell.
    pub cells: Vec<Vec<Option<f64>>>,
}

/// A heatmap of one summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// The x knob and its unit, e.g. "rr (fraction)".
    pub x_label: String,
    /// Its values, left to right.
    pub x_values: Vec<f64>,
    /// The y knob and its unit.
    pub y_label: String,
    /// Its values, bottom to top.
    pub y_values: Vec<f64>,
    /// What the colour shows, with its unit.
    pub value_label: String,
    /// The panels (at most 6).
    pub grids: Vec<Grid>,
}

/// Cells beyond which values are not written in the cells.
const ANNOTATE_MAX_CELLS: usize = 144;

/// Viridis, sampled at nine points and interpolated linearly: perceptually ordered and readable
/// in grey and by most colour-vision deficiencies.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

/// The colour of `t` in `[0, 1]` on the viridis scale.
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let position = t * (VIRIDIS.len() - 1) as f64;
    let i = (position.floor() as usize).min(VIRIDIS.len() - 2);
    let f = position - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Draws `heatmap` under `frame`.
pub fn render_heatmap(frame: &Frame, heatmap: &Heatmap) -> Result<Vec<u8>, RenderError> {
    let grids = &heatmap.grids[..heatmap.grids.len().min(6)];
    let values = grids.iter().flat_map(|g| g.cells.iter().flatten().flatten().copied().filter_map(drawable));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let (width, height, columns) = match grids.len() {
        0 | 1 => (960, 620, 1),
        2 => (1280, 620, 2),
        3 | 4 => (1280, 1000, 2),
        _ => (1280, 1300, 2),
    };
    render(width, height, frame, |area| {
        let (plots, scale) = area.split_horizontally(width - 130);
        let rows = grids.len().div_ceil(columns).max(1);
        for (grid, cell) in grids.iter().zip(plots.split_evenly((rows, columns)).iter()) {
            draw_grid(cell, heatmap, grid, lo, hi)?;
        }
        draw_scale(&scale, &heatmap.value_label, lo, hi)
    })
}

fn draw_grid(area: &Area<'_>, heatmap: &Heatmap, grid: &Grid, lo: f64, hi: f64) -> Result<(), RenderError> {
    let nx = heatmap.x_values.len().max(1);
    let ny = heatmap.y_values.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(clip(&grid.title, 70), (FONT_FAMILY, 16))
        .margin(10)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)?;
    let x_values = heatmap.x_values.clone();
    let y_values = heatmap.y_values.clone();
    // Labels at cell centres only, and no more than about 10 per axis.
    let label_at = move |values: &[f64], x: f64| {
        let every = values.len().div_ceil(10).max(1);
        let i = (x - 0.5).round();
        if (x - 0.5 - i).abs() > 1e-6 || i < 0.0 || !(i as usize).is_multiple_of(every) {
            return String::new();
        }
        values.get(i as usize).map(|v| knob_label(*v)).unwrap_or_default()
    };
    let x_formatter = |x: &f64| label_at(&x_values, *x);
    let y_formatter = |y: &f64| label_at(&y_values, *y);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(nx * 2 + 1)
        .y_labels(ny * 2 + 1)
        .x_label_formatter(&x_formatter)
        .y_label_formatter(&y_formatter)
        .x_desc(heatmap.x_label.as_str())
        .y_desc(heatmap.y_label.as_str())
        .label_style((FONT_FAMILY, 13))
        .axis_desc_style((FONT_FAMILY, 14))
        .draw()?;
    let annotate = nx * ny <= ANNOTATE_MAX_CELLS;
    for (row, cells) in grid.cells.iter().enumerate().take(ny) {
        for (column, cell) in cells.iter().enumerate().take(nx) {
            let (x, y) = (column as f64, row as f64);
            let value = cell.and_then(drawable);
            let color = match value {
                Some(v) => viridis(if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }),
                None => RGBColor(210, 210, 210),
            };
            chart
                .draw_series(std::iter::once(Rectangle::new([(x, y), (x + 1.0, y + 1.0)], color.filled())))?;
            if annotate {
                let text = value.map_or_else(|| "n/a".to_string(), compact_number);
                let light = value.is_some_and(|v| hi > lo && (v - lo) / (hi - lo) < 0.55);
                let ink = if light { WHITE } else { BLACK };
                let style =
                    (FONT_FAMILY, 12).into_font().color(&ink).pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ));
                chart.draw_series(std::iter::once(Text::new(text, (x + 0.5, y + 0.5), style)))?;
            }
        }
    }
    Ok(())
}

fn draw_scale(area: &Area<'_>, label: &str, lo: f64, hi: f64) -> Result<(), RenderError> {
    let (_, height) = area.dim_in_pixel();
    let (top, bottom) = (40i32, height as i32 - 60);
    let steps = 100;
    for i in 0..steps {
        let t = f64::from(i) / f64::from(steps);
        let y0 = bottom - ((bottom - top) as f64 * t) as i32;
        let y1 = bottom - ((bottom - top) as f64 * (t + 1.0 / f64::from(steps))) as i32;
        area.draw(&Rectangle::new([(20, y1), (44, y0)], viridis(t).filled()))?;
    }
    let style = (FONT_FAMILY, 13).into_font().color(&BLACK);
    area.draw(&Text::new(compact_number(hi), (50, top - 6), style.clone()))?;
    area.draw(&Text::new(compact_number(lo), (50, bottom - 8), style.clone()))?;
    area.draw(&Text::new(compact_number(lo / 2.0 + hi / 2.0), (50, (top + bottom) / 2 - 7), style.clone()))?;
    area.draw(&Text::new(clip(label, 22), (4, bottom + 14), style))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::{decode, keep_sample};

    #[test]
    fn viridis_runs_from_purple_to_yellow() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(2.0), viridis(1.0));
    }

    #[test]
    fn a_sweep_heatmap_with_invalid_cells_and_panels() {
        let x_values: Vec<f64> = (0..8).map(|i| 0.5 + 0.05 * f64::from(i)).collect();
        let y_values: Vec<f64> = (0..6).map(|i| 1.0 + 2.0 * f64::from(i)).collect();
        let grid =
            |k: f64| Grid {
                title: format!("sector_duration_days = {k}"),
                cells: (0..6)
                    .map(|r| {
                        (0..8)
                            .map(|c| {
                                if r == 5 && c == 7 {
                                    None
                                } else {
                                    Some(k * 0.01 + f64::from(r * c) * 0.003)
                                }
                            })
                            .collect()
                    })
                    .collect(),
            };
        let heatmap = Heatmap {
            x_label: "rr (fraction)".into(),
            x_values,
            y_label: "rbp (PiB/day)".into(),
            y_values,
            value_label: "lock ratio at end".into(),
            grids: vec![grid(360.0), grid(540.0)],
        };
        let png = render_heatmap(
            &Frame { title: "Lock ratio at the end of 2030".into(), demo: true, ..Frame::default() },
            &heatmap,
        )
        .unwrap();
        keep_sample("heatmap", &png);
        let (w, _, pixels) = decode(&png);
        assert_eq!(w, 1280);
        assert!(pixels.chunks(3).any(|p| p == [210, 210, 210]), "the invalid cell is grey");
    }
}
