//! The report as Markdown (Discord, plain-text mail), self-contained HTML (inline CSS and SVG),
//! CSV (one row a month) and JSON.

use minijinja::context;
use serde::Serialize;

use super::{MonthFigures, Report, chart};
use crate::domain::{Language, numbers};
use crate::email::{Templates, templates::Problem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Html,
    Csv,
    Json,
}

/// Figures as people read them: counts with thousands separators, shares as percentages.
#[derive(Serialize)]
struct Shown {
    month: String,
    /// `October 2026`, `Oktober 2026`.
    month_name: String,
    opt_outs: String,
    opt_ins: String,
    deletions: String,
    rate: String,
    standing_opted_out: String,
    standing_opted_in: String,
    before_deadline: String,
    after_deadline: String,
    deletions_completed: String,
    median: String,
    overdue: String,
    extended: String,
    community: String,
    no_decision: String,
    no_decision_share: String,
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: i64) -> String {
    numbers::count(Language::En, n)
}

fn shown(f: &MonthFigures, language: Language) -> Shown {
    let n = |v: i64| numbers::count(language, v);
    let pct = |r: f64| numbers::percent(language, r);
    let month_name = f
        .month
        .parse::<super::Month>()
        .map(|m| m.name(language))
        .unwrap_or_else(|_| f.month.clone());
    Shown {
        month: f.month.clone(),
        month_name,
        opt_outs: n(f.opt_outs),
        opt_ins: n(f.opt_ins),
        deletions: n(f.deletions),
        rate: f.opt_out_rate.map_or("–".into(), pct),
        standing_opted_out: n(f.standing_opted_out),
        standing_opted_in: n(f.standing_opted_in),
        before_deadline: n(f.before_deadline),
        after_deadline: n(f.after_deadline),
        deletions_completed: n(f.deletions_completed),
        median: f
            .median_days_to_complete
            .map_or("–".into(), |d| numbers::one_decimal(language, d)),
        overdue: n(f.overdue_at_month_end),
        extended: n(f.extended),
        community: f.community_size.map_or("–".into(), n),
        no_decision: f.no_decision.map_or("–".into(), n),
        no_decision_share: f.no_decision_share.map_or("–".into(), pct),
    }
}

/// A notice in force as a reader of `language` reads it.
#[derive(Serialize)]
struct NoticeShown<'a> {
    version: &'a str,
    channel: &'a str,
    language: &'a str,
    since: String,
    decisions: String,
    at_month_end: bool,
}

/// A consumer as a reader of `language` reads it.
#[derive(Serialize)]
struct ConsumerShown<'a> {
    name: &'a str,
    last_acknowledged: String,
    unacknowledged: String,
    stale: bool,
}

/// Whether nothing at all happened in the report's months: no chart is drawn then.
fn empty(report: &Report) -> bool {
    std::iter::once(&report.figures)
        .chain(&report.trend)
        .all(|f| f.opt_outs + f.opt_ins + f.deletions + f.deletions_completed == 0)
}

pub fn render(
    report: &Report,
    format: Format,
    policy: &str,
    templates: &Templates,
    language: Language,
) -> anyhow::Result<String> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(report)? + "\n"),
        Format::Csv => csv(report),
        Format::Md | Format::Html => with_template(report, format, policy, templates, language)
            .map(|text| {
                // Every text output ends with a line break.
                if text.ends_with('\n') {
                    text
                } else {
                    text + "\n"
                }
            })
            .map_err(|p| anyhow::anyhow!("template {p}")),
    }
}

/// Every template, mail and report, rendered with sample data: one problem per file that fails
/// (a file that does not parse fails again when rendered, and is named once). The service
/// refuses to start with any; `dsr-bot templates check` lists them.
pub fn check_all(templates: &Templates, load_problems: Vec<Problem>) -> Vec<Problem> {
    let mut problems = load_problems;
    problems.extend(templates.check_mail());
    problems.extend(check(templates));
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert(p.file.clone()));
    problems
}

fn sample_stamp() -> super::gather::Stamp {
    use chrono::TimeZone;
    super::gather::Stamp::new(
        chrono::Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap(),
        chrono_tz::Tz::UTC,
    )
}

/// Renders the report templates with a made-up report, in every language; a problem for
/// each that fails.
fn check(templates: &Templates) -> Vec<Problem> {
    let month = |m: &str, outs: i64, ins: i64| MonthFigures {
        month: m.to_owned(),
        opt_outs: outs,
        opt_ins: ins,
        deletions: 2,
        opt_out_rate: Some(outs as f64 / (outs + ins) as f64),
        standing_opted_out: outs,
        standing_opted_in: ins,
        before_deadline: outs,
        after_deadline: ins,
        deletions_completed: 1,
        median_days_to_complete: Some(3.5),
        overdue_at_month_end: 1,
        extended: 1,
        community_size: Some(1_000),
        no_decision: Some(1_000 - outs - ins),
        no_decision_share: Some((1_000 - outs - ins) as f64 / 1_000.0),
    };
    let full = Report {
        figures: month("2026-10", 40, 12),
        timezone: "UTC".into(),
        organisation: "Example Community".into(),
        generated: sample_stamp(),
        so_far: false,
        trend: vec![month("2026-09", 10, 3)],
        notices: vec![super::gather::NoticeInForce {
            version: "0123456789ab".into(),
            channel: "discord".into(),
            language: "en".into(),
            since: sample_stamp(),
            decisions: 12,
            at_month_end: true,
        }],
        log: Some(super::gather::LogHead {
            checkpoint: "example.org/dsr-bot\n7\nAAAA\n\n— example.org/dsr-bot AAAA\n".into(),
            public_key: "example.org/dsr-bot+00000000+AQ".into(),
        }),
        consumers: vec![
            super::gather::ConsumerInReport {
                name: "pipeline".into(),
                last_acknowledged: Some(sample_stamp()),
                unacknowledged: 0,
                stale: false,
            },
            super::gather::ConsumerInReport {
                name: "helpdesk".into(),
                last_acknowledged: None,
                unacknowledged: 12,
                stale: true,
            },
        ],
    };
    // A month with nothing in it: every optional figure unset, no trend.
    let empty = Report {
        figures: MonthFigures {
            opt_outs: 0,
            opt_ins: 0,
            deletions: 0,
            opt_out_rate: None,
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
            ..month("2026-10", 0, 0)
        },
        timezone: "UTC".into(),
        organisation: "Example Community".into(),
        generated: sample_stamp(),
        so_far: true,
        trend: Vec::new(),
        notices: Vec::new(),
        log: None,
        consumers: Vec::new(),
    };
    let mut problems: Vec<Problem> = Vec::new();
    for language in Language::ALL {
        for report in [&full, &empty] {
            for f in [Format::Md, Format::Html] {
                if let Err(p) = with_template(
                    report,
                    f,
                    "AI training on member chats",
                    templates,
                    language,
                ) && !problems.iter().any(|q| q.file == p.file)
                {
                    problems.push(p);
                }
            }
        }
    }
    problems
}

fn with_template(
    report: &Report,
    format: Format,
    policy: &str,
    templates: &Templates,
    language: Language,
) -> Result<String, Problem> {
    let recent: Vec<Shown> = report
        .trend
        .iter()
        .rev()
        .take(12)
        .rev()
        .map(|f| shown(f, language))
        .collect();
    let mut months: Vec<&MonthFigures> = report.trend.iter().rev().take(11).rev().collect();
    months.push(&report.figures);
    let svg = if format == Format::Html && !empty(report) {
        chart::svg(&months, language).map_err(|e| Problem {
            file: "the report chart".into(),
            line: None,
            message: format!("{e:#}"),
        })?
    } else {
        String::new()
    };
    let name = if format == Format::Md {
        "monthly.md"
    } else {
        "monthly.html"
    };
    let notices: Vec<NoticeShown> = report
        .notices
        .iter()
        .map(|n| NoticeShown {
            version: &n.version,
            channel: &n.channel,
            language: &n.language,
            since: n.since.shown(language),
            decisions: numbers::count(language, n.decisions),
            at_month_end: n.at_month_end,
        })
        .collect();
    let consumers: Vec<ConsumerShown> = report
        .consumers
        .iter()
        .map(|c| ConsumerShown {
            name: &c.name,
            last_acknowledged: c.last_acknowledged.as_ref().map_or_else(
                || crate::services::texts::say(language, "report_never", &[]),
                |t| t.shown(language),
            ),
            unacknowledged: numbers::count(language, c.unacknowledged),
            stale: c.stale,
        })
        .collect();
    templates.render_checked(
        &templates.name_in(language, name),
        &context! {
            policy => policy,
            timezone => &report.timezone,
            organisation => &report.organisation,
            generated => report.generated.shown(language),
            so_far => report.so_far,
            empty => empty(report),
            m => shown(&report.figures, language),
            trend => recent,
            notices => notices,
            log => &report.log,
            consumers => consumers,
            chart => minijinja::Value::from_safe_string(svg),
        },
    )
}

fn csv(report: &Report) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for f in report.trend.iter().chain(std::iter::once(&report.figures)) {
        w.serialize(f)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
