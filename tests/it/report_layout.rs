//! The HTML report in a real browser: headless Chromium lays it out at a phone's width
//! (400 px) and a desktop's (1200 px), and no table may be wider than the page. Screenshots of
//! both are left in the target folder (`report-layout/`) for a person to look at.
//!
//! Headless Chromium will not make a window narrower than 500 px, so the report is shown in a
//! frame of exactly the width under test, and measured from the page around it.

use crate::common;

use std::{path::Path, process::Command};

use chrono::{TimeZone, Utc};
use common::TestApp;
use dsr_bot::domain::Language;
use dsr_bot::reports::{MonthFigures, Report, gather::Stamp, render::Format};

/// `2026-02-01 05:00 UTC` shown in `tz`.
fn stamp(tz: chrono_tz::Tz) -> Stamp {
    Stamp::new(Utc.with_ymd_and_hms(2026, 2, 1, 5, 0, 0).unwrap(), tz)
}

fn month(m: &str, scale: i64) -> MonthFigures {
    let (outs, ins) = (1_234 * scale, 987 * scale);
    MonthFigures {
        month: m.into(),
        opt_outs: outs,
        opt_ins: ins,
        deletions: 321 * scale,
        opt_out_rate: Some(outs as f64 / (outs + ins) as f64),
        standing_opted_out: 45_678 * scale,
        standing_opted_in: 34_567 * scale,
        before_deadline: outs,
        after_deadline: ins,
        deletions_completed: 300 * scale,
        median_days_to_complete: Some(12.25),
        overdue_at_month_end: 17 * scale,
        extended: 9 * scale,
        community_size: Some(1_000_000),
        no_decision: Some(1_000_000 - 80_245 * scale),
        no_decision_share: Some((1_000_000 - 80_245 * scale) as f64 / 1e6),
    }
}

/// A year of large figures: the widest table the report makes.
fn year() -> Report {
    let months: Vec<MonthFigures> = (1..=12)
        .map(|m| month(&format!("2025-{m:02}"), m))
        .collect();
    Report {
        figures: month("2026-01", 12),
        timezone: "Europe/Berlin".into(),
        organisation: "Example Community".into(),
        generated: stamp(chrono_tz::Europe::Berlin),
        so_far: false,
        trend: months,
        notices: vec![dsr_bot::reports::gather::NoticeInForce {
            version: "9a8b7c6d5e4f".into(),
            channel: "discord".into(),
            language: "en".into(),
            since: stamp(chrono_tz::UTC),
            decisions: 123_456,
            at_month_end: true,
        }],
        log: Some(dsr_bot::reports::gather::LogHead {
            checkpoint: "example.org/dsr-bot\n1234567\nn0ATX1hKrqvtpHf+wCHNdw922uQUUkBnwYJJnezGDGI=\n\n— example.org/dsr-bot koVzaBddeJDu/TpL1Vyy8U4Qtnv0ZTR4Uww6faufn9r/d0xIhMQo94pBygFna9i/UnAUd72fxrx8kc4u6SwDmFoq9g0=\n".into(),
            public_key: "example.org/dsr-bot+92857368+AURpFO/dbcABs4aRYjZjVo+XcJ842w3XQyKg50B0tDK+".into(),
        }),
        consumers: Vec::new(),
    }
}

/// A new deployment's first report: nothing happened yet.
fn nothing() -> Report {
    let mut empty = month("2026-01", 0);
    empty.opt_out_rate = None;
    empty.median_days_to_complete = None;
    empty.community_size = None;
    empty.no_decision = None;
    empty.no_decision_share = None;
    Report {
        figures: empty,
        timezone: "UTC".into(),
        organisation: "Example Community".into(),
        generated: stamp(chrono_tz::UTC),
        so_far: false,
        trend: Vec::new(),
        notices: Vec::new(),
        log: None,
        consumers: Vec::new(),
    }
}

const FRAME: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="report" src="report.html" style="width:WIDTHpx;height:3000px;border:0;display:block"></iframe>
<script>
document.getElementById('report').addEventListener('load', function () {
  var doc = this.contentDocument, page = doc.documentElement.clientWidth, problems = [];
  var tables = doc.querySelectorAll('table');
  tables.forEach(function (t, i) {
    var r = t.getBoundingClientRect();
    if (r.left < -0.5 || r.right > page + 0.5) {
      problems.push('table ' + i + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right) + ' px of a ' + page + ' px page');
    }
    t.querySelectorAll('td, th').forEach(function (c) {
      var b = c.getBoundingClientRect();
      if (b.width > 0 && (b.right > page + 0.5 || b.left < -0.5)) {
        problems.push('a cell of table ' + i + ' ("' + c.textContent + '") reaches ' + Math.round(b.right) + ' px');
      }
    });
  });
  if (doc.documentElement.scrollWidth > page) {
    problems.push('the page scrolls sideways: ' + doc.documentElement.scrollWidth + ' px in ' + page + ' px');
  }
  var cells = doc.querySelectorAll('td').length;
  // The chart's smallest text as the page shows it (the SVG is scaled to the page's width).
  var smallest = null;
  doc.querySelectorAll('.chart svg').forEach(function (svg) {
    var scale = svg.getBoundingClientRect().width / parseFloat(svg.getAttribute('width'));
    svg.querySelectorAll('text').forEach(function (t) {
      var size = parseFloat(t.getAttribute('font-size') || getComputedStyle(t).fontSize) * scale;
      if (t.textContent.trim() && (smallest === null || size < smallest)) { smallest = size; }
    });
  });
  document.body.setAttribute('data-layout', JSON.stringify({page: page, tables: tables.length, cells: cells, problems: problems, charts: doc.querySelectorAll('.chart svg').length, smallest_chart_text: smallest}));
});
</script></body></html>"#;

fn chromium() -> &'static str {
    for bin in ["chromium", "chromium-browser"] {
        if Command::new(bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return bin;
        }
    }
    panic!(
        "headless Chromium is needed for this test: `apt-get install chromium` (scripts/test installs it)"
    );
}

fn run_chromium(dir: &Path, width: u32, extra: &[String]) -> String {
    let window = format!("--window-size={},3000", width.max(500));
    let profile = format!(
        "--user-data-dir={}",
        dir.join(format!("profile-{width}")).display()
    );
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--no-first-run",
            "--hide-scrollbars",
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
        ])
        .arg(&window)
        .arg(&profile)
        .args(extra)
        .arg(format!(
            "file://{}",
            dir.join(format!("frame-{width}.html")).display()
        ))
        .output()
        .expect("running chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Lays the report out `width` px wide; returns what the page around it measured.
fn measure(dir: &Path, width: u32) -> serde_json::Value {
    std::fs::write(
        dir.join(format!("frame-{width}.html")),
        FRAME.replace("WIDTH", &width.to_string()),
    )
    .unwrap();
    let dom = run_chromium(dir, width, &["--dump-dom".into()]);
    let attr = dom
        .split("data-layout=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the measuring script did not run: {dom}"));
    let json = attr.replace("&quot;", "\"").replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

fn screenshot(dir: &Path, width: u32, name: &str) -> std::path::PathBuf {
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-layout");
    std::fs::create_dir_all(&shots).unwrap();
    let path = shots.join(format!("report-{name}-{width}.png"));
    let _ = std::fs::remove_file(&path);
    run_chromium(dir, width, &[format!("--screenshot={}", path.display())]);
    path
}

/// In every language the report is written in (German's long words included): laid out at
/// both widths without a table wider than the page or a cell cut.
#[tokio::test]
async fn the_html_report_fits_a_phone_and_a_desktop_without_cutting_columns() {
    for language in Language::ALL {
        let app = TestApp::spawn_with(Utc::now(), |c| c.report_language = language).await;
        let html = app
            .services
            .reports()
            .render(&year(), Format::Html)
            .unwrap();
        assert!(
            html.contains(&format!("<html lang=\"{language}\">")),
            "{language}: {}",
            &html[..200]
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.html"), &html).unwrap();
        lays_out_whole(dir.path(), &language.to_string());
    }
}

fn lays_out_whole(dir: &Path, language: &str) {
    for width in [400, 1200] {
        let m = measure(dir, width);
        assert_eq!(m["page"], width, "the frame is {width} px wide: {m}");
        assert!(m["tables"].as_u64().unwrap() >= 1, "{m}");
        // Twelve months of eleven columns and a notice of six: every value is laid out,
        // none dropped.
        assert_eq!(m["cells"], 12 * 11 + 6, "{language}: {m}");
        assert_eq!(
            m["problems"].as_array().unwrap().len(),
            0,
            "{language} at {width} px: {}",
            m["problems"]
        );

        // The chart's text stays readable on a phone (it was about 5 px before).
        let smallest = m["smallest_chart_text"]
            .as_f64()
            .expect("the chart has text");
        assert!(
            smallest >= 10.0,
            "{language} at {width} px the chart's text is {smallest:.1} px"
        );

        let shot = screenshot(dir, width, &format!("full-{language}"));
        let png = std::fs::read(&shot).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", shot.display());
        // The width in the PNG header: the window, which holds the frame.
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(w, width.max(500));
    }
}

#[tokio::test]
async fn an_empty_report_says_so_instead_of_drawing_an_empty_chart() {
    let app = TestApp::spawn().await;
    let html = app
        .services
        .reports()
        .render(&nothing(), Format::Html)
        .unwrap();
    assert!(html.contains("No requests were made"), "{html}");
    assert!(html.contains("What the figures mean"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.html"), &html).unwrap();
    for width in [400, 1200] {
        let m = measure(dir.path(), width);
        assert_eq!(m["charts"], 0, "{m}");
        assert_eq!(m["problems"].as_array().unwrap().len(), 0, "{m}");
        let shot = screenshot(dir.path(), width, "empty");
        assert!(std::fs::read(&shot).unwrap().starts_with(b"\x89PNG"));
    }
}
