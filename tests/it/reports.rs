//! Monthly reports over imported data sets whose figures were worked out by hand, the
//! import's all-or-nothing rule, and the once-a-month schedule.

use crate::common;

use std::sync::Arc;

use common::{TestApp, at, console};
use dsr_bot::error::ServiceError;
use dsr_bot::services::{Call, Origin};
use dsr_bot::{
    clock::ManualClock,
    config::Config,
    reports::{Month, MonthFigures, render::Format},
    services::{Services, import},
    startup::App,
    workers::schedule::{Channels, NoPoster, Scheduler},
};

/// Months in Europe/Berlin; the default deadline 2025-09-28T23:59:59Z; answers due in 30 days.
/// Row 2 is September in UTC but October in Berlin; row 6 is October in UTC but November in
/// Berlin, after the DST change of 26 October. Person c changes their mind twice. The deletion
/// of e is completed late (46 days). December has no decisions at all.
const DATA: &str = "\
received_at,kind,email,discord_id,status,completed_at
2025-09-30T21:30:00Z,opt_out,a@example.org,,confirmed,
2025-09-30T22:30:00Z,opt_out,b@example.org,,confirmed,
2025-09-20T10:00:00Z,opt_in,c@example.org,,confirmed,
2025-10-05T10:00:00Z,opt_out,c@example.org,,confirmed,
2025-10-27T12:00:00Z,opt_in,c@example.org,,confirmed,
2025-10-31T23:30:00Z,opt_out,d@example.org,,confirmed,
2025-09-25T08:00:00Z,delete,e@example.org,,completed,2025-11-10T08:00:00Z
2025-10-02T09:00:00Z,delete,,111,completed,2025-10-12T09:00:00Z
2025-10-03T09:00:00Z,opt_out,f@example.org,,cancelled,
";

async fn berlin_app(now: &str) -> TestApp {
    TestApp::spawn_with(at(now), |c| {
        c.report_timezone = chrono_tz::Europe::Berlin;
        c.privacy_officers = vec![
            dsr_bot::domain::EmailAddress::parse("dpo@example.org").unwrap(),
            dsr_bot::domain::EmailAddress::parse("dpo2@example.org").unwrap(),
        ];
    })
    .await
}

async fn import(app: &TestApp, csv: &str) -> import::ImportSummary {
    let rows = import::parse_csv(csv, app.services.now()).unwrap();
    app.services.import_rows(rows, |_| {}).await.unwrap()
}

#[allow(clippy::too_many_arguments)]
fn figures(
    month: &str,
    (opt_outs, opt_ins, deletions): (i64, i64, i64),
    opt_out_rate: Option<f64>,
    (standing_opted_out, standing_opted_in): (i64, i64),
    (before_deadline, after_deadline): (i64, i64),
    (deletions_completed, median_days_to_complete): (i64, Option<f64>),
    overdue_at_month_end: i64,
) -> MonthFigures {
    MonthFigures {
        month: month.into(),
        opt_outs,
        opt_ins,
        deletions,
        opt_out_rate,
        standing_opted_out,
        standing_opted_in,
        before_deadline,
        after_deadline,
        deletions_completed,
        median_days_to_complete,
        overdue_at_month_end,
        extended: 0,
        community_size: None,
        no_decision: None,
        no_decision_share: None,
    }
}

#[tokio::test]
async fn figures_match_the_hand_worked_data_set() {
    let app = berlin_app("2026-01-15T12:00:00Z").await;
    assert_eq!(import(&app, DATA).await.imported, 9);

    let report = app
        .services
        .reports()
        .month(Some("2025-12".parse().unwrap()))
        .await
        .unwrap();

    let expected = [
        // a, c (opt-in), e: a is 23:30 in Berlin on 30 September, after the deadline.
        figures(
            "2025-09",
            (1, 1, 1),
            Some(0.5),
            (1, 1),
            (2, 1),
            (0, None),
            0,
        ),
        // b (00:30 on 1 October in Berlin), c out and in again, the Discord deletion done in
        // 10 days; e's deletion was due on 25 October and still open at the month's end.
        figures(
            "2025-10",
            (2, 1, 1),
            Some(2.0 / 3.0),
            (2, 1),
            (0, 4),
            (1, Some(10.0)),
            1,
        ),
        // d (00:30 on 1 November, CET); e's deletion completed after 46 days.
        figures(
            "2025-11",
            (1, 0, 0),
            Some(1.0),
            (3, 1),
            (0, 1),
            (1, Some(46.0)),
            0,
        ),
    ];
    assert_eq!(report.trend, expected);
    // No decisions in December: the rate is null, not a division by zero.
    assert_eq!(
        report.figures,
        figures("2025-12", (0, 0, 0), None, (3, 1), (0, 0), (0, None), 0)
    );
    assert_eq!(report.timezone, "Europe/Berlin");
}

/// Requests filed through the services (timestamps as the service writes them): a person
/// who is erased stops counting from the first month end after the erasure, and one whose
/// choice was replaced counts once, with the newer choice.
#[tokio::test]
async fn an_erased_person_leaves_the_standing_choices_from_the_next_month_end() {
    use common::console;
    use dsr_bot::domain::{Channel, RequestKind};
    let app = berlin_app("2025-10-10T08:00:00.123456789Z").await;
    let (ann, ben) = (console("ann"), console("ben"));
    let services = &app.services;
    let file = |who, kind| {
        let origin = Origin::new(who, Channel::Console);
        async move { services.file_request(&origin, kind, None).await }
    };
    file(&ann, RequestKind::OptOut).await.unwrap();
    file(&ben, RequestKind::OptOut).await.unwrap();
    app.clock.advance(chrono::Duration::hours(1));
    file(&ben, RequestKind::OptIn).await.unwrap();
    app.clock.set(at("2025-11-03T09:00:00.5Z"));
    let del = file(&ann, RequestKind::Deletion).await.unwrap();
    app.services
        .confirm(&Origin::new(&ann, Channel::Console))
        .await
        .unwrap();
    app.services
        .requests()
        .complete(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del.request_id.unwrap(),
        )
        .await
        .unwrap();
    app.clock.set(at("2026-01-15T12:00:00Z"));

    let report = app
        .services
        .reports()
        .month(Some("2025-11".parse().unwrap()))
        .await
        .unwrap();

    let october = &report.trend[0];
    assert_eq!(october.month, "2025-10");
    assert_eq!(
        (october.opt_outs, october.opt_ins),
        (2, 1),
        "every confirmed decision received in October"
    );
    assert_eq!(
        (october.standing_opted_out, october.standing_opted_in),
        (1, 1),
        "ann out, ben in after changing his mind"
    );
    let november = &report.figures;
    assert_eq!(
        (november.standing_opted_out, november.standing_opted_in),
        (0, 1),
        "ann was erased in November"
    );
    assert_eq!((november.deletions, november.deletions_completed), (1, 1));
}

#[tokio::test]
async fn the_json_form_has_every_key_as_a_number_or_null() {
    let app = berlin_app("2026-01-15T12:00:00Z").await;
    import(&app, DATA).await;
    let report = app
        .services
        .reports()
        .month(Some("2025-10".parse().unwrap()))
        .await
        .unwrap();

    let json: serde_json::Value = serde_json::from_str(
        &app.services
            .reports()
            .render(&report, Format::Json)
            .unwrap(),
    )
    .unwrap();

    for key in [
        "opt_outs",
        "opt_ins",
        "deletions",
        "opt_out_rate",
        "standing_opted_out",
        "standing_opted_in",
        "before_deadline",
        "after_deadline",
        "deletions_completed",
        "median_days_to_complete",
        "overdue_at_month_end",
        "extended",
        "community_size",
        "no_decision",
        "no_decision_share",
    ] {
        assert!(
            json[key].is_number() || json[key].is_null(),
            "{key}: {}",
            json[key]
        );
    }
    assert_eq!(json["month"], "2025-10");
    assert_eq!(json["trend"][0]["month"], "2025-09");
    let csv = app.services.reports().render(&report, Format::Csv).unwrap();
    assert_eq!(
        csv.lines().count(),
        3,
        "a header and one row a month: {csv}"
    );
    assert!(
        csv.lines()
            .nth(2)
            .unwrap()
            .starts_with("2025-10,2,1,1,0.666"),
        "{csv}"
    );
    let md = app.services.reports().render(&report, Format::Md).unwrap();
    assert!(md.contains("| Opt-out rate | 66.7% |"), "{md}");
    for text in [&csv, &md] {
        assert!(
            !text.contains("@example.org") && !text.contains("111"),
            "reports name no one"
        );
    }
}

#[tokio::test]
async fn the_html_report_is_one_file_with_no_external_references() {
    let app = berlin_app("2026-01-15T12:00:00Z").await;
    import(&app, DATA).await;
    let report = app
        .services
        .reports()
        .month(Some("2025-11".parse().unwrap()))
        .await
        .unwrap();

    let html = app
        .services
        .reports()
        .render(&report, Format::Html)
        .unwrap();

    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<style>") && html.contains("<svg") && html.contains("</svg>"));
    assert!(html.contains("name=\"viewport\""), "readable on a phone");
    let lower = html.to_lowercase();
    for external in [
        "http:", "https:", "src=", "href=", "<link", "@import", "url(", "<script",
    ] {
        assert!(!lower.contains(external), "found {external}");
    }
}

#[tokio::test]
async fn a_csv_with_one_bad_row_imports_nothing_and_names_the_row() {
    let app = berlin_app("2026-01-15T12:00:00Z").await;
    let csv = "\
received_at,kind,email,discord_id,status,completed_at
2025-09-30T21:30:00Z,opt_out,a@example.org,,confirmed,
2025-09-30T22:30:00Z,unsubscribe,b@example.org,,confirmed,
2025-10-01T10:00:00Z,opt_in,c@example.org,,confirmed,
2025-10-02T10:00:00Z,opt_in,not-an-address,,confirmed,
";

    let errors = import::parse_csv(csv, app.services.now()).unwrap_err();

    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), [3, 5]);
    assert!(
        errors[0]
            .1
            .contains("'unsubscribe' is not opt_out, opt_in or delete"),
        "{errors:?}"
    );
    let text = import::describe_errors(&errors).text().to_owned();
    assert!(
        text.starts_with("Nothing was imported: 2 row(s)") && text.contains("line 5:"),
        "{text}"
    );
    assert_eq!(app.count("requests").await, 0);
}

#[tokio::test]
async fn importing_the_same_file_twice_does_not_duplicate() {
    let app = berlin_app("2026-01-15T12:00:00Z").await;
    import(&app, DATA).await;

    let again = import(&app, DATA).await;

    assert_eq!((again.imported, again.already_there), (0, 9));
    assert_eq!(app.count("requests").await, 9);
}

async fn services_on(dir: &std::path::Path, clock: &ManualClock) -> Services {
    let mut config = Config::for_folder(dir);
    config.report_timezone = chrono_tz::Europe::Berlin;
    config.privacy_officers =
        vec![dsr_bot::domain::EmailAddress::parse("dpo@example.org").unwrap()];
    App::build_with_clock(config, Arc::new(clock.clone()))
        .await
        .unwrap()
        .services
}

async fn sent_months(s: &Services) -> Vec<String> {
    sqlx::query_scalar("SELECT month FROM report_months WHERE mailed_at IS NOT NULL ORDER BY month")
        .fetch_all(s.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn each_month_is_sent_exactly_once_across_restarts_two_instances_and_a_missed_month() {
    let dir = tempfile::tempdir().unwrap();
    // 01:30 on 1 November in Berlin: October has just ended there.
    let clock = ManualClock::new(at("2025-11-01T00:30:00Z"));
    let first = services_on(dir.path(), &clock).await;
    let scheduler = Scheduler::new(first.clone(), NoPoster, Channels::default());

    assert_eq!(scheduler.reports().await.unwrap(), 1);
    assert_eq!(scheduler.reports().await.unwrap(), 0);

    // A restart, and a second instance on the same database, in the same month.
    let restarted = services_on(dir.path(), &clock).await;
    let second = services_on(dir.path(), &clock).await;
    let (s1, s2) = (
        Scheduler::new(restarted, NoPoster, Channels::default()),
        Scheduler::new(second.clone(), NoPoster, Channels::default()),
    );
    let (a, b) = tokio::join!(s1.reports(), s2.reports());
    assert_eq!(a.unwrap() + b.unwrap(), 0);

    // Down through November and December: both are caught up on the next start, in order.
    clock.set(at("2026-01-05T09:00:00Z"));
    let late = services_on(dir.path(), &clock).await;
    let (s1, s2) = (
        Scheduler::new(late.clone(), NoPoster, Channels::default()),
        Scheduler::new(second, NoPoster, Channels::default()),
    );
    let (a, b) = tokio::join!(s1.reports(), s2.reports());
    assert_eq!(a.unwrap() + b.unwrap(), 2);

    assert_eq!(sent_months(&late).await, ["2025-10", "2025-11", "2025-12"]);
    let (mails, attachments): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(attachment_name) FROM outbox WHERE template = 'monthly_report' AND recipient = 'dpo@example.org'",
    )
    .fetch_one(late.pool())
    .await
    .unwrap();
    assert_eq!((mails, attachments), (3, 3));
}

#[test]
fn months_parse_and_step() {
    let m: Month = "2025-12".parse().unwrap();
    assert_eq!(m.next().to_string(), "2026-01");
}

/// The report's streaming passes against the definitions written as plain per-month SQL
/// (DESIGN.md, "Definitions that must not drift"), over a generated history with everything
/// that makes them tricky: choices changed back and forth, two confirmations in the same
/// instant, confirmations after the month a request was received in, erasures between
/// choices, late and open deletions, and month ends on both sides of a DST change.
#[tokio::test]
async fn the_streaming_report_agrees_with_the_definitions_on_a_generated_history() {
    use chrono::{DateTime, Duration, Utc};
    let app = berlin_app("2026-03-01T00:00:00Z").await;
    let pool = app.services.pool();
    let tz = chrono_tz::Europe::Berlin;
    let start = at("2025-08-01T00:00:00Z");
    let deadline = at("2025-09-28T23:59:59Z");
    // A small deterministic generator (xorshift), so a failure can be replayed.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let people = 40;
    let mut erasures = Vec::new();
    for p in 1..=people {
        if next(5) == 0 {
            erasures.push((p as i64, start + Duration::minutes(next(200_000) as i64)));
        }
        sqlx::query("INSERT INTO people (id, created_at) VALUES (?, ?)")
            .bind(p as i64)
            .bind(start)
            .execute(pool)
            .await
            .unwrap();
    }
    // Some requests land in the last nanosecond of a month (Berlin), where rounding to the
    // millisecond would move them into the next one.
    let month_ends = [
        "2025-09-30T21:59:59.999999999Z",
        "2025-10-31T22:59:59.9999Z",
    ];
    // Half the requests are written as they end (like an import into past months); the
    // others first as a bare expired row, then changed to how they end, later and in reverse.
    let mut staged = Vec::new();
    let mut open = std::collections::HashSet::new();
    let mut last_confirmed = std::collections::HashMap::new();
    for _ in 0..400 {
        let person = 1 + next(people) as i64;
        let kind = ["opt_out", "opt_in", "deletion", "status"][next(4) as usize];
        // Whole hours for some, so that confirmations of one person can share an instant.
        let received = if next(25) == 0 {
            at(month_ends[next(2) as usize])
        } else if next(3) == 0 {
            start + Duration::hours(next(4_000) as i64)
        } else {
            start
                + Duration::nanoseconds(
                    next(240_000_000) as i64 * 1_000_000_000 + next(1_000_000_000) as i64,
                )
        };
        let mut state = [
            "awaiting_confirmation",
            "confirmed",
            "completed",
            "cancelled",
            "expired",
        ][next(5) as usize];
        if matches!(state, "awaiting_confirmation" | "confirmed") && !open.insert((person, kind)) {
            state = "completed";
        }
        let mut confirmed: Option<DateTime<Utc>> = matches!(state, "confirmed" | "completed")
            .then(|| received + Duration::hours(next(3) as i64 * next(60) as i64));
        // Now and then a second choice confirmed in the very instant of the person's last one.
        if let Some(c) = confirmed.as_mut() {
            match last_confirmed.get(&person) {
                Some(previous) if next(4) == 0 => *c = *previous,
                _ => {
                    last_confirmed.insert(person, *c);
                }
            }
        }
        let closed: Option<DateTime<Utc>> = matches!(state, "completed" | "cancelled" | "expired")
            .then(|| received + Duration::hours(1 + next(24 * 70) as i64));
        // One in six had its due date extended by an officer, by up to 60 days.
        let due = received + Duration::days(30);
        let extended = (kind != "status" && next(6) == 0)
            .then(|| (received + Duration::hours(next(24 * 29) as i64), due));
        let due_at = match extended {
            Some(_) => due + Duration::days(1 + next(60) as i64),
            None => due,
        };
        let stage = next(2) == 0;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO requests (person_id, kind, channel, state, received_at, deadline_offset_secs,
                                   due_at, updated_at, confirmed_at, closed_at, extended_at, original_due_at)
             VALUES (?, ?, 'import', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(person)
        .bind(kind)
        .bind(if stage { "expired" } else { state })
        .bind(received)
        .bind((received - deadline).num_seconds())
        .bind(if stage { due } else { due_at })
        .bind(received)
        .bind(confirmed.filter(|_| !stage))
        .bind(closed.filter(|_| !stage))
        .bind(extended.filter(|_| !stage).map(|e| e.0))
        .bind(extended.filter(|_| !stage).map(|e| e.1))
        .fetch_one(pool)
        .await
        .unwrap();
        if stage {
            staged.push((id, state, due_at, confirmed, closed, extended));
        }
    }
    for (id, state, due_at, confirmed, closed, extended) in staged.into_iter().rev() {
        sqlx::query(
            "UPDATE requests SET state = ?, due_at = ?, confirmed_at = ?, closed_at = ?,
                                 extended_at = ?, original_due_at = ? WHERE id = ?",
        )
        .bind(state)
        .bind(due_at)
        .bind(confirmed)
        .bind(closed)
        .bind(extended.map(|e| e.0))
        .bind(extended.map(|e| e.1))
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    }
    for (person, erased) in erasures {
        sqlx::query("UPDATE people SET erased_at = ? WHERE id = ?")
            .bind(erased)
            .bind(person)
            .execute(pool)
            .await
            .unwrap();
    }
    // A few rows deleted outside the service, as an operator's own tool might: what they
    // counted for goes with them, and so do the months kept for them.
    let deleted = sqlx::query("DELETE FROM requests WHERE id % 37 = 0")
        .execute(pool)
        .await
        .unwrap();
    assert!(deleted.rows_affected() >= 5);
    let unkept: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM requests WHERE id NOT IN (SELECT id FROM report_request_kept_months))
              + (SELECT COUNT(*) FROM report_request_kept_months WHERE id NOT IN (SELECT id FROM requests))",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        unkept, 0,
        "every request has its months kept, and no other row is"
    );
    // The community's size, known on some days only.
    for (day, size) in [("2025-08-20", 300), ("2025-10-31", 310), ("2025-12-15", 25)] {
        sqlx::query("INSERT INTO community_sizes (day, size, source) VALUES (?, ?, 'setting')")
            .bind(day)
            .bind(size)
            .execute(pool)
            .await
            .unwrap();
    }

    let report = app
        .services
        .reports()
        .month(Some("2026-01".parse().unwrap()))
        .await
        .unwrap();

    let mut months = report.trend.clone();
    months.push(report.figures.clone());
    assert_eq!(months.first().unwrap().month, "2025-08");
    // The report read from the counts kept as the rows changed, the one streamed from the
    // requests, and each figure's definition agree, month by month.
    let db = app.services.database();
    assert!(
        db.read(move |c| Ok(dsr_bot::db::counters::live_for(c, tz)?))
            .await
            .unwrap()
    );
    let reference = dsr_bot::reports::gather::reference(db, "2026-01".parse().unwrap(), tz)
        .await
        .unwrap();
    let mut streamed = reference.trend.clone();
    streamed.push(reference.figures.clone());
    assert_eq!(months, streamed);
    for got in &months {
        let (start, end) = got.month.parse::<Month>().unwrap().bounds(tz);
        assert_eq!(*got, by_definition(pool, &got.month, start, end).await);
    }
    // Rebuilt from the requests, the counts are what the triggers kept.
    let counts = || db.read(|c| Ok(dsr_bot::db::counters::up_to(c, "9999-12")?));
    let kept = counts().await.unwrap();
    assert!(kept.len() > 50, "{kept:?}");
    db.write(move |c| dsr_bot::db::counters::rebuild(c, tz).map_err(anyhow::Error::from))
        .await
        .unwrap();
    assert_eq!(counts().await.unwrap(), kept);
}

/// One month's figures, each as the definition reads, one query per figure.
async fn by_definition(
    pool: &sqlx::SqlitePool,
    month: &str,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> MonthFigures {
    let count = |sql: String| async move {
        sqlx::query_scalar::<_, i64>(&sql)
            .bind(start)
            .bind(end)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    let decided = |kind: &str| {
        count(format!(
            "SELECT COUNT(*) FROM requests WHERE confirmed_at IS NOT NULL
             AND received_at >= ?1 AND received_at < ?2 AND kind = '{kind}'"
        ))
    };
    let (opt_outs, opt_ins, deletions) = (
        decided("opt_out").await,
        decided("opt_in").await,
        decided("deletion").await,
    );
    let before_deadline = count(
        "SELECT COUNT(*) FROM requests WHERE kind != 'status' AND confirmed_at IS NOT NULL
         AND received_at >= ?1 AND received_at < ?2 AND deadline_offset_secs <= 0"
            .into(),
    )
    .await;
    let standing = |kind: &str| {
        count(format!(
            "SELECT COUNT(*) FROM (
                 SELECT r.kind, ROW_NUMBER() OVER (PARTITION BY r.person_id
                                                   ORDER BY r.confirmed_at DESC, r.id DESC) AS rn
                 FROM requests r JOIN people p ON p.id = r.person_id
                 WHERE r.kind IN ('opt_out', 'opt_in') AND r.confirmed_at IS NOT NULL
                   AND r.confirmed_at < ?2 AND (p.erased_at IS NULL OR p.erased_at >= ?2)
                   AND ?1 IS NOT NULL
             ) WHERE rn = 1 AND kind = '{kind}'"
        ))
    };
    let completed: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as(
            "SELECT received_at, closed_at FROM requests
             WHERE kind = 'deletion' AND state = 'completed' AND closed_at >= ?1 AND closed_at < ?2",
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await
        .unwrap();
    // Each completion in hundredths of a day (864 s), rounded, from whole seconds.
    let mut days: Vec<i64> = completed
        .iter()
        .map(|(r, c)| (c.timestamp() - r.timestamp() + 432) / 864)
        .collect();
    days.sort();
    let median = (!days.is_empty()).then(|| {
        let n = days.len();
        let twice = if n % 2 == 1 {
            2 * days[n / 2]
        } else {
            days[n / 2 - 1] + days[n / 2]
        };
        (twice as f64 / 2.0).round() / 100.0
    });
    let overdue = count(
        "SELECT COUNT(*) FROM requests
         WHERE kind != 'status' AND received_at < ?2 AND due_at < ?2 AND ?1 IS NOT NULL
           AND COALESCE(CASE kind WHEN 'deletion' THEN closed_at
                                  ELSE COALESCE(confirmed_at, closed_at) END, ?2) >= ?2"
            .into(),
    )
    .await;
    // The latest size known on or before the month's last day (UTC).
    let last_day = (end - chrono::Duration::nanoseconds(1))
        .format("%Y-%m-%d")
        .to_string();
    let community_size: Option<i64> = sqlx::query_scalar(
        "SELECT size FROM community_sizes WHERE day <= ? ORDER BY day DESC LIMIT 1",
    )
    .bind(&last_day)
    .fetch_optional(pool)
    .await
    .unwrap();
    let (standing_opted_out, standing_opted_in) =
        (standing("opt_out").await, standing("opt_in").await);
    let no_decision = community_size.map(|s| (s - standing_opted_out - standing_opted_in).max(0));
    MonthFigures {
        month: month.to_owned(),
        opt_outs,
        opt_ins,
        deletions,
        opt_out_rate: (opt_outs + opt_ins > 0)
            .then(|| opt_outs as f64 / (opt_outs + opt_ins) as f64),
        standing_opted_out,
        standing_opted_in,
        before_deadline,
        after_deadline: opt_outs + opt_ins + deletions - before_deadline,
        deletions_completed: days.len() as i64,
        median_days_to_complete: median,
        overdue_at_month_end: overdue,
        extended: count(
            "SELECT COUNT(*) FROM requests WHERE extended_at >= ?1 AND extended_at < ?2".into(),
        )
        .await,
        community_size,
        no_decision,
        no_decision_share: community_size
            .filter(|s| *s > 0)
            .zip(no_decision)
            .map(|(s, n)| n as f64 / s as f64),
    }
}

#[tokio::test]
async fn the_month_in_progress_is_so_far_a_future_one_is_refused_and_an_empty_one_says_so() {
    let app = TestApp::spawn_at(at("2026-03-15T12:00:00Z")).await;
    let reports = app.services.reports();
    // A new deployment: its first report (last month) is empty, and says so.
    let first = reports.month(None).await.unwrap();
    let md = reports.render(&first, Format::Md).unwrap();
    assert!(md.contains("**Privacy requests, 2026-02**"), "{md}");
    assert!(md.contains("No requests were made"), "{md}");
    assert!(
        md.contains(&app.services.config().organisation_name),
        "{md}"
    );
    assert!(md.contains("made 2026-03-15 12:00 UTC"), "{md}");
    assert!(md.contains("What the figures mean"), "{md}");
    assert!(md.ends_with('\n'));

    app.file(&console("early"), dsr_bot::domain::RequestKind::OptOut)
        .await;
    let now = reports
        .month(Some("2026-03".parse().unwrap()))
        .await
        .unwrap();
    assert!(now.so_far);
    let md = reports.render(&now, Format::Md).unwrap();
    assert!(md.contains("2026-03 (so far)"), "{md}");
    assert!(!md.contains("No requests were made"), "{md}");

    let future = reports.month(Some("2026-04".parse().unwrap())).await;
    match future {
        Err(ServiceError::User(e)) => assert!(e.text().contains("has not begun"), "{}", e.text()),
        other => panic!("a future month must be refused: {other:?}"),
    }
    for format in [Format::Html, Format::Csv, Format::Json] {
        assert!(
            reports.render(&now, format).unwrap().ends_with('\n'),
            "{format:?}"
        );
    }
    assert!(dsr_bot::reports::render::thousands(1_000_000) == "1,000,000");
}

/// The kept counts follow `REPORT_TIMEZONE`: the same database opened in another zone is
/// counted again for that zone's months when it starts; a count changed behind the service's
/// back is found by the check and put right by a rebuild.
#[tokio::test]
async fn the_counts_follow_the_report_timezone_and_a_wrong_count_is_found_and_rebuilt() {
    let now = "2026-01-15T12:00:00Z";
    let app = berlin_app(now).await;
    assert_eq!(import(&app, DATA).await.imported, 9);
    let september = || Some("2025-09".parse().unwrap());
    let berlin = app.services.reports().month(september()).await.unwrap();
    // b, at 22:30 UTC on 30 September, is October's in Berlin.
    assert_eq!((berlin.figures.opt_outs, berlin.figures.opt_ins), (1, 1));

    let mut config = app.services.config().clone();
    config.report_timezone = chrono_tz::UTC;
    let utc = App::build_with_clock(config, Arc::new(ManualClock::new(at(now))))
        .await
        .unwrap()
        .services;
    let report = utc.reports().month(september()).await.unwrap();
    assert_eq!(report.timezone, "UTC");
    assert_eq!((report.figures.opt_outs, report.figures.opt_ins), (2, 1));
    let differing = |months: Vec<(MonthFigures, MonthFigures)>| -> Vec<String> {
        assert!(months.len() >= 5, "{months:?}");
        months
            .into_iter()
            .filter(|(kept, streamed)| kept != streamed)
            .map(|(_, streamed)| streamed.month)
            .collect()
    };
    let check = || async { utc.reports().check_counts().await.unwrap().expect("kept") };
    assert_eq!(differing(check().await), Vec::<String>::new());

    sqlx::query(
        "UPDATE report_counts SET n = n + 1 WHERE month = '2025-10' AND figure = 'opt_outs'",
    )
    .execute(utc.pool())
    .await
    .unwrap();
    assert_eq!(differing(check().await), ["2025-10"]);
    assert_eq!(
        utc.reports().rebuild_counts().await.unwrap(),
        app.count("requests").await
    );
    assert_eq!(differing(check().await), Vec::<String>::new());
}
