//! Time buckets in a report's time zone, computed here rather than in SQL: the bundled DuckDB
//! has no ICU, and computing boundaries once per report (not per row) is cheaper anyway. Each
//! boundary is a local midnight (or local hour) converted to UTC with the zone's rules, so days
//! around a DST change are 23 or 25 hours long, as they are on the wall clock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::ReportError;
use super::params::TimeBucket;

/// Most buckets one report may have.
pub const MAX_BUCKETS: usize = 50_000;

/// One bucket: `[start, end)` in UTC, labelled with its local start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Local start as RFC 3339 with the zone's offset (`2026-11-01T00:00:00-04:00`).
    pub label: String,
}

/// The first instant of local time `naive`: the earliest when the wall clock repeats it, the
/// first valid instant after when DST skips it.
fn resolve_local(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    let mut candidate = naive;
    for _ in 0..8 {
        if let Some(local) = tz.from_local_datetime(&candidate).earliest() {
            return local.with_timezone(&Utc);
        }
        candidate += Duration::minutes(30);
    }
    // No zone skips four hours; treat the wall time as UTC rather than fail.
    naive.and_utc()
}

/// Local midnight of `date` in `tz`, as UTC.
pub fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    resolve_local(tz, date.and_time(chrono::NaiveTime::MIN))
}

fn label(tz: Tz, instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&tz)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The start of the bucket holding `instant`.
fn bucket_start(tz: Tz, bucket: TimeBucket, instant: DateTime<Utc>) -> DateTime<Utc> {
    let local = instant.with_timezone(&tz);
    match bucket {
        TimeBucket::Hour => {
            let truncated = local
                .naive_local()
                .with_minute(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0));
            match truncated {
                // The same wall hour may occur twice (DST ends): keep the occurrence at or before
                // `instant`.
                Some(naive) => tz
                    .from_local_datetime(&naive)
                    .latest()
                    .map(|start| start.with_timezone(&Utc))
                    .filter(|start| *start <= instant)
                    .unwrap_or_else(|| resolve_local(tz, naive)),
                None => instant,
            }
        }
        TimeBucket::Day => local_midnight(tz, local.date_naive()),
        TimeBucket::Week => {
            let date = local.date_naive();
            let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
            local_midnight(tz, monday)
        }
        TimeBucket::Month => {
            let first = local.date_naive().with_day(1).unwrap_or(local.date_naive());
            local_midnight(tz, first)
        }
    }
}

/// The start of the bucket after the one starting at `start`.
fn next_start(tz: Tz, bucket: TimeBucket, start: DateTime<Utc>) -> DateTime<Utc> {
    match bucket {
        // Hours are counted on the instant line, so a repeated wall hour is two buckets.
        TimeBucket::Hour => start + Duration::hours(1),
        TimeBucket::Day => local_midnight(tz, start.with_timezone(&tz).date_naive() + Duration::days(1)),
        TimeBucket::Week => local_midnight(tz, start.with_timezone(&tz).date_naive() + Duration::days(7)),
        TimeBucket::Month => {
            let date = start.with_timezone(&tz).date_naive();
            let (year, month) = if date.month() == 12 {
                (date.year() + 1, 1)
            } else {
                (date.year(), date.month() + 1)
            };
            let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(date + Duration::days(31));
            local_midnight(tz, first)
        }
    }
}

/// The buckets covering `[from, to)`. Without a bucket width, one bucket spans the range.
///
/// # Errors
/// [`ReportError::InvalidParameter`] (`bucket`) when the range needs more than
/// [`MAX_BUCKETS`].
pub fn buckets(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Option<TimeBucket>,
    tz: Tz,
) -> Result<Vec<Bucket>, ReportError> {
    let Some(width) = bucket else {
        return Ok(vec![Bucket {
            start: from,
            end: to,
            label: label(tz, from),
        }]);
    };
    let mut out = Vec::new();
    let mut start = bucket_start(tz, width, from);
    while start < to {
        let end = next_start(tz, width, start);
        if end <= start {
            break;
        }
        out.push(Bucket {
            start,
            end,
            label: label(tz, start),
        });
        if out.len() > MAX_BUCKETS {
            return Err(ReportError::invalid(
                "bucket",
                format!("the range needs more than {MAX_BUCKETS} buckets; use a wider bucket"),
            ));
        }
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn new_york_day_buckets_follow_dst() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 2026-11-01 is the day DST ends in New York: 25 hours long.
        let days = buckets(
            utc("2026-10-31T04:00:00Z"),
            utc("2026-11-03T05:00:00Z"),
            Some(TimeBucket::Day),
            tz,
        )
        .unwrap();
        let labels: Vec<_> = days.iter().map(|bucket| bucket.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "2026-10-31T00:00:00-04:00",
                "2026-11-01T00:00:00-04:00",
                "2026-11-02T00:00:00-05:00"
            ]
        );
        assert_eq!(days[1].end - days[1].start, Duration::hours(25));
        assert_eq!(days[2].end - days[2].start, Duration::hours(24));
    }

    #[test]
    fn hours_repeat_when_the_clock_falls_back() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let hours = buckets(
            utc("2026-11-01T04:00:00Z"),
            utc("2026-11-01T08:00:00Z"),
            Some(TimeBucket::Hour),
            tz,
        )
        .unwrap();
        let labels: Vec<_> = hours.iter().map(|bucket| bucket.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "2026-11-01T00:00:00-04:00",
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:00:00-05:00",
                "2026-11-01T02:00:00-05:00"
            ]
        );
    }

    #[test]
    fn months_and_weeks_start_at_local_midnight() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let months = buckets(
            utc("2026-10-15T00:00:00Z"),
            utc("2026-12-01T00:00:00Z"),
            Some(TimeBucket::Month),
            tz,
        )
        .unwrap();
        assert_eq!(months[0].label, "2026-10-01T00:00:00+02:00");
        assert_eq!(months[1].label, "2026-11-01T00:00:00+01:00");
        let weeks = buckets(
            utc("2026-11-25T12:00:00Z"),
            utc("2026-11-26T00:00:00Z"),
            Some(TimeBucket::Week),
            tz,
        )
        .unwrap();
        assert_eq!(weeks[0].label, "2026-11-23T00:00:00+01:00");
    }
}
