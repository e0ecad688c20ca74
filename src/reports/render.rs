//! The report as Markdown (Discord, plain-text mail), self-contained HTML (inline CSS and SVG),
//! CSV (one row a month) and JSON.

use minijinja::{Environment, context};
use serde::Serialize;

use super::{MonthFigures, Report, chart};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Html,
    Csv,
    Json,
}

const MARKDOWN: &str = include_str!("../../templates/report/monthly.md");
const HTML: &str = include_str!("../../templates/report/monthly.html");

/// Figures as people read them.
#[derive(Serialize)]
struct Shown {
    month: String,
    opt_outs: i64,
    opt_ins: i64,
    deletions: i64,
    rate: String,
    standing_opted_out: i64,
    standing_opted_in: i64,
    before_deadline: i64,
    after_deadline: i64,
    deletions_completed: i64,
    median: String,
    overdue: i64,
}

fn shown(f: &MonthFigures) -> Shown {
    Shown {
        month: f.month.clone(),
        opt_outs: f.opt_outs,
        opt_ins: f.opt_ins,
        deletions: f.deletions,
        rate: f
            .opt_out_rate
            .map_or("–".into(), |r| format!("{:.1}%", r * 100.0)),
        standing_opted_out: f.standing_opted_out,
        standing_opted_in: f.standing_opted_in,
        before_deadline: f.before_deadline,
        after_deadline: f.after_deadline,
        deletions_completed: f.deletions_completed,
        median: f
            .median_days_to_complete
            .map_or("–".into(), |d| format!("{d:.1}")),
        overdue: f.overdue_at_month_end,
    }
}

pub fn render(report: &Report, format: Format, policy: &str) -> anyhow::Result<String> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(report)? + "\n"),
        Format::Csv => csv(report),
        Format::Md | Format::Html => {
            let mut env = Environment::new();
            env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
            env.add_template("monthly.md", MARKDOWN)?;
            env.add_template("monthly.html", HTML)?;
            let recent: Vec<Shown> = report
                .trend
                .iter()
                .rev()
                .take(12)
                .rev()
                .map(shown)
                .collect();
            let mut months: Vec<&MonthFigures> = report.trend.iter().rev().take(11).rev().collect();
            months.push(&report.figures);
            let svg = if format == Format::Html {
                chart::svg(&months)?
            } else {
                String::new()
            };
            let name = if format == Format::Md {
                "monthly.md"
            } else {
                "monthly.html"
            };
            Ok(env.get_template(name)?.render(context! {
                policy => policy,
                timezone => &report.timezone,
                m => shown(&report.figures),
                trend => recent,
                chart => minijinja::Value::from_safe_string(svg),
            })?)
        }
    }
}

fn csv(report: &Report) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for f in report.trend.iter().chain(std::iter::once(&report.figures)) {
        w.serialize(f)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
