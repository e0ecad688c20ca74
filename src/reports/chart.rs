//! The monthly chart, drawn with plotters into an inline SVG: opt-out rate (line, right axis)
//! and monthly opt-out and opt-in volumes (left axis).

use plotters::prelude::*;

use super::MonthFigures;

pub fn svg(months: &[&MonthFigures]) -> anyhow::Result<String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (720, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let n = months.len().max(1) as i32;
        let max_volume = months
            .iter()
            .map(|m| m.opt_outs.max(m.opt_ins))
            .max()
            .unwrap_or(0)
            .max(1) as f64
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .right_y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..max_volume)
            .map_err(draw_err)?
            .set_secondary_coord(-0.5f64..(n as f64 - 0.5), 0f64..100f64);
        let label = |x: &f64| {
            let i = x.round() as usize;
            if (x - x.round()).abs() < 1e-6 {
                months.get(i).map(|m| m.month.clone()).unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(months.len().clamp(1, 12))
            .x_label_formatter(&label)
            .y_desc("requests")
            .draw()
            .map_err(draw_err)?;
        chart
            .configure_secondary_axes()
            .y_desc("opt-out rate %")
            .draw()
            .map_err(draw_err)?;
        let blue = RGBColor(0x2b, 0x6c, 0xb0);
        let grey = RGBColor(0x9a, 0xa5, 0xb1);
        let red = RGBColor(0xc0, 0x39, 0x2b);
        chart
            .draw_series(months.iter().enumerate().map(|(i, m)| {
                let x = i as f64;
                Rectangle::new([(x - 0.35, 0.0), (x, m.opt_outs as f64)], blue.filled())
            }))
            .map_err(draw_err)?
            .label("opt-outs")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], blue.filled()));
        chart
            .draw_series(months.iter().enumerate().map(|(i, m)| {
                let x = i as f64;
                Rectangle::new([(x, 0.0), (x + 0.35, m.opt_ins as f64)], grey.filled())
            }))
            .map_err(draw_err)?
            .label("opt-ins")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], grey.filled()));
        let rate: Vec<(f64, f64)> = months
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.opt_out_rate.map(|r| (i as f64, r * 100.0)))
            .collect();
        chart
            .draw_secondary_series(LineSeries::new(rate.clone(), red.stroke_width(2)))
            .map_err(draw_err)?
            .label("opt-out rate")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 10, y)], red.stroke_width(2)));
        chart
            .draw_secondary_series(rate.into_iter().map(|p| Circle::new(p, 3, red.filled())))
            .map_err(draw_err)?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    // Inline in HTML5, the namespace declaration is not needed; leaving it out keeps the
    // report free of any URL.
    Ok(buf.replace(" xmlns=\"http://www.w3.org/2000/svg\"", ""))
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the report chart: {e:?}")
}
