//! The monthly chart, drawn with plotters into an inline SVG: opt-out rate (line, right axis)
//! and monthly opt-out and opt-in volumes (left axis).

use plotters::prelude::*;

use super::MonthFigures;
use crate::domain::{Language, numbers};
use crate::services::texts::say;

/// Height of the band above the plot that holds the legend, so it never covers a bar.
const LEGEND_BAND: u32 = 40;
/// Text size asked of plotters (it writes 0.8 of it in the SVG's units). The chart is drawn
/// 720 wide; the report shows it at most that wide and never narrower than 560 px (a phone
/// scrolls it sideways), so its text is never under 11 px, where it shrank to about 5.
pub const TEXT: u32 = 18;

/// The chart of `months`, its words and numbers in `language`.
pub fn svg(months: &[&MonthFigures], language: Language) -> anyhow::Result<String> {
    let word = |key: &str| say(language, key, &[]);
    let (outs, ins, rate_name) = (
        word("chart_opt_outs"),
        word("chart_opt_ins"),
        word("chart_rate"),
    );
    let blue = RGBColor(0x2b, 0x6c, 0xb0);
    let grey = RGBColor(0x9a, 0xa5, 0xb1);
    let red = RGBColor(0xc0, 0x39, 0x2b);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (720, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (legend, plot) = root.split_vertically(LEGEND_BAND);
        draw_legend(
            &legend,
            &[
                (blue, outs.as_str(), false),
                (grey, ins.as_str(), false),
                (red, rate_name.as_str(), true),
            ],
        )?;

        let n = months.len().max(1) as i32;
        let most = months
            .iter()
            .map(|m| m.opt_outs.max(m.opt_ins))
            .max()
            .unwrap_or(0);
        // Whole requests on the left axis: an integer range, with a little headroom.
        let top = ((most as f64 * 1.1).ceil() as i64).max(most + 1).max(1);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(76)
            .right_y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0i64..top)
            .map_err(draw_err)?
            // Headroom above 100 %, so a month with only opt-outs does not sit on the border.
            .set_secondary_coord(-0.5f64..(n as f64 - 0.5), 0f64..110f64);
        let label = |x: &f64| {
            let i = x.round() as usize;
            if (x - x.round()).abs() < 1e-6 {
                months.get(i).map(|m| m.month.clone()).unwrap_or_default()
            } else {
                String::new()
            }
        };
        let text = ("sans-serif", TEXT).into_font();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .label_style(text.clone())
            .axis_desc_style(text.clone())
            .light_line_style(WHITE)
            .x_labels(months.len().clamp(1, 6))
            .x_label_formatter(&label)
            .y_labels((top as usize + 1).min(10))
            .y_label_formatter(&|v: &i64| numbers::count(language, *v))
            .y_desc(word("chart_requests"))
            .draw()
            .map_err(draw_err)?;
        chart
            .configure_secondary_axes()
            .label_style(text.clone())
            .axis_desc_style(text)
            .y_labels(6)
            .y_label_formatter(&|v: &f64| {
                if *v <= 100.0 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .y_desc(word("chart_rate_axis"))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(months.iter().enumerate().map(|(i, m)| {
                let x = i as f64;
                Rectangle::new([(x - 0.35, 0), (x, m.opt_outs)], blue.filled())
            }))
            .map_err(draw_err)?;
        chart
            .draw_series(months.iter().enumerate().map(|(i, m)| {
                let x = i as f64;
                Rectangle::new([(x, 0), (x + 0.35, m.opt_ins)], grey.filled())
            }))
            .map_err(draw_err)?;
        let rate: Vec<(f64, f64)> = months
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.opt_out_rate.map(|r| (i as f64, r * 100.0)))
            .collect();
        chart
            .draw_secondary_series(LineSeries::new(rate.clone(), red.stroke_width(2)))
            .map_err(draw_err)?;
        chart
            .draw_secondary_series(rate.into_iter().map(|p| Circle::new(p, 4, red.filled())))
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    // Inline in HTML5, the namespace declaration is not needed; leaving it out keeps the
    // report free of any URL.
    Ok(buf.replace(" xmlns=\"http://www.w3.org/2000/svg\"", ""))
}

/// The legend in its own band above the plot: a swatch (a box, or a line) and a label each.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    items: &[(RGBColor, &str, bool)],
) -> anyhow::Result<()> {
    let mut x = 64;
    let y = LEGEND_BAND as i32 / 2;
    for (colour, label, line) in items {
        if *line {
            area.draw(&PathElement::new(
                [(x, y), (x + 14, y)],
                colour.stroke_width(2),
            ))
            .map_err(draw_err)?;
        } else {
            area.draw(&Rectangle::new(
                [(x, y - 8), (x + 16, y + 8)],
                colour.filled(),
            ))
            .map_err(draw_err)?;
        }
        area.draw(&Text::new(
            label.to_string(),
            (x + 22, y - 10),
            ("sans-serif", TEXT).into_font(),
        ))
        .map_err(draw_err)?;
        x += 40 + 9 * label.len() as i32;
    }
    Ok(())
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the report chart: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(m: &str, outs: i64, ins: i64) -> MonthFigures {
        MonthFigures {
            month: m.into(),
            opt_outs: outs,
            opt_ins: ins,
            deletions: 0,
            opt_out_rate: (outs + ins > 0).then(|| outs as f64 / (outs + ins) as f64),
            standing_opted_out: 0,
            standing_opted_in: 0,
            before_deadline: 0,
            after_deadline: 0,
            deletions_completed: 0,
            median_days_to_complete: None,
            overdue_at_month_end: 0,
            extended: 0,
            community_size: None,
            no_decision: None,
            no_decision_share: None,
        }
    }

    /// The text of every `<text>` element.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                t.split_once('>')
                    .and_then(|(_, rest)| rest.split_once("</text>"))
            })
            .map(|(inner, _)| inner.trim().to_owned())
            .collect()
    }

    /// The top edge of every filled rectangle in `colour` (upper-case hex, as plotters writes).
    fn bar_tops(svg: &str, colour: &str) -> Vec<f64> {
        svg.split("<rect")
            .skip(1)
            .filter(|r| {
                r.split("/>")
                    .next()
                    .unwrap_or("")
                    .contains(&format!("fill=\"{colour}\""))
            })
            .filter_map(|r| {
                let y = r.split(" y=\"").nth(1)?.split('"').next()?;
                y.parse().ok()
            })
            .collect()
    }

    #[test]
    fn small_counts_are_labelled_in_whole_numbers() {
        let (a, b) = (month("2025-09", 3, 1), month("2025-10", 1, 2));
        let svg = svg(&[&a, &b], Language::En).unwrap();
        let labels = texts(&svg);
        let numbers: Vec<&String> = labels
            .iter()
            .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_digit()) && !t.contains('-'))
            .collect();
        assert!(!numbers.is_empty(), "{labels:?}");
        assert!(
            numbers.iter().all(|n| !n.contains('.')),
            "fractional labels: {numbers:?}"
        );
        for want in ["0", "1", "2", "3"] {
            assert!(
                labels.iter().any(|l| l == want),
                "{want} missing: {labels:?}"
            );
        }
    }

    #[test]
    fn the_legend_sits_above_the_plot_not_on_the_bars() {
        // The tallest bar reaches the top of the plot, where a legend inside it would sit.
        let (a, b) = (month("2025-09", 50, 2), month("2025-10", 48, 50));
        let svg = svg(&[&a, &b], Language::En).unwrap();
        let tops = bar_tops(&svg, "#2B6CB0");
        // Two bars and the legend's swatch.
        assert_eq!(tops.len(), 3, "{svg}");
        let (legend, bars): (Vec<f64>, Vec<f64>) =
            tops.into_iter().partition(|y| *y < LEGEND_BAND as f64);
        assert_eq!(legend.len(), 1, "one swatch in the legend band");
        assert!(bars.iter().all(|y| *y >= LEGEND_BAND as f64), "{bars:?}");
        let labels = texts(&svg);
        for name in ["opt-outs", "opt-ins", "opt-out rate"] {
            assert!(labels.iter().any(|l| l == name), "{name}: {labels:?}");
        }
    }
}
