//! Binds the group-by and filter parameters shared by report SQL files (`$g_<dimension>`,
//! `$f_<dimension>`, `$g_tag1..3`, `$f_tag1..3_key/_values`), and chooses the table a report
//! reads ([`Grain`]): the hourly rollup whenever it can answer, the events otherwise. Values are
//! bound, never spliced.

use duckdb::types::Value;

use chrono::{DateTime, Timelike, Utc};

use super::ReportError;
use super::buckets::Bucket;
use super::params::{CommonParams, Dimension, GrainChoice, MAX_TAG_FILTERS, MAX_TAG_GROUPS};

/// The table a report reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// `usage_events`: every dimension, tags, any bound.
    Events,
    /// `rollup_hourly`: no user, API key or tags; bounds and buckets on whole UTC hours.
    Hourly,
    /// `rollup_daily`: the hourly rollup's dimensions; bounds and buckets on UTC midnights.
    Daily,
}

impl Grain {
    pub fn name(self) -> &'static str {
        match self {
            Grain::Events => "events",
            Grain::Hourly => "hourly",
            Grain::Daily => "daily",
        }
    }

    fn keeps(self, dimension: &Dimension) -> bool {
        match self {
            Grain::Events => true,
            Grain::Hourly | Grain::Daily => {
                !matches!(dimension, Dimension::User | Dimension::ApiKey | Dimension::Tag(_))
            }
        }
    }
}

fn on_the_hour(instant: DateTime<Utc>) -> bool {
    instant.minute() == 0 && instant.second() == 0 && instant.nanosecond() == 0
}

fn at_midnight(instant: DateTime<Utc>) -> bool {
    on_the_hour(instant) && instant.hour() == 0
}

/// Chooses the coarsest table that answers exactly: the daily rollup when `from`, `to` and every
/// bucket start are UTC midnights, else the hourly rollup when they are whole UTC hours (both
/// need a query without user, API key or tag dimensions), else the events; `grain=` forces one.
///
/// # Errors
/// [`ReportError::InvalidParameter`] when a forced rollup cannot answer.
pub fn choose_grain(params: &CommonParams, buckets: &[Bucket]) -> Result<Grain, ReportError> {
    let dimensions_fit = params
        .group_by
        .iter()
        .chain(params.filters.iter().map(|filter| &filter.dimension))
        .all(|dimension| Grain::Hourly.keeps(dimension));
    let aligned = |on: fn(DateTime<Utc>) -> bool| {
        on(params.from) && on(params.to) && buckets.iter().all(|bucket| on(bucket.start))
    };
    let hourly_fits = dimensions_fit && aligned(on_the_hour);
    let daily_fits = dimensions_fit && aligned(at_midnight);
    match params.grain {
        GrainChoice::Auto if daily_fits => Ok(Grain::Daily),
        GrainChoice::Auto if hourly_fits => Ok(Grain::Hourly),
        GrainChoice::Auto | GrainChoice::Events => Ok(Grain::Events),
        GrainChoice::Hourly if hourly_fits => Ok(Grain::Hourly),
        GrainChoice::Daily if daily_fits => Ok(Grain::Daily),
        GrainChoice::Hourly => Err(ReportError::invalid(
            "grain",
            "the hourly rollup has no user, API key or tags, and needs bounds and buckets on whole UTC hours",
        )),
        GrainChoice::Daily => Err(ReportError::invalid(
            "grain",
            "the daily rollup has no user, API key or tags, and needs bounds and buckets on UTC midnights",
        )),
    }
}

/// Binds `$from`, `$to` and `$bucket_starts`.
pub fn bind_range(bindings: &mut Bindings, from: DateTime<Utc>, to: DateTime<Utc>, buckets: &[Bucket]) {
    bindings.set("from", crate::store::reader::timestamp_value(from));
    bindings.set("to", crate::store::reader::timestamp_value(to));
    bindings.set(
        "bucket_starts",
        Value::List(
            buckets
                .iter()
                .map(|bucket| crate::store::reader::timestamp_value(bucket.start))
                .collect(),
        ),
    );
}

/// Binds `$unit_seconds` and `$one_bucket` for report SQL that buckets events: the largest of 15 minutes, 1 minute
/// and 1 second that divides every bucket start after the first (time-zone offsets are whole
/// quarter hours since the 1970s; older local mean times need seconds). The SQL maps each unit of
/// the range to its bucket once and joins the events on their unit (a hash join on a small table
/// instead of an ASOF join per event).
pub fn bind_event_unit(bindings: &mut Bindings, buckets: &[Bucket]) {
    let unit = [900_i64, 60, 1]
        .into_iter()
        .find(|unit| {
            buckets.iter().skip(1).all(|bucket| {
                bucket.start.timestamp_subsec_nanos() == 0 && bucket.start.timestamp() % unit == 0
            })
        })
        .unwrap_or(1);
    bindings.set("unit_seconds", Value::BigInt(unit));
    bindings.set("one_bucket", Value::Boolean(buckets.len() == 1));
}

/// Named parameters of one statement.
#[derive(Debug, Default)]
pub struct Bindings {
    pairs: Vec<(String, Value)>,
}

impl Bindings {
    pub fn set(&mut self, name: &str, value: Value) {
        self.pairs.push((name.to_owned(), value));
    }

    /// The bindings in the form duckdb's named-parameter APIs take, for the parameters `sql`
    /// uses.
    pub fn as_params(&self, sql: &str) -> Vec<(&str, &dyn duckdb::ToSql)> {
        self.pairs
            .iter()
            .filter(|(name, _)| mentions(sql, name))
            .map(|(name, value)| (name.as_str(), value as &dyn duckdb::ToSql))
            .collect()
    }

    /// `sql` with the switches among the bindings written as literals, so DuckDB folds them
    /// away when it plans: a boolean `$g_team::BOOLEAN` becomes `TRUE` or `FALSE`, and for a NULL
    /// binding `$f_team::VARCHAR[] IS NULL` becomes `TRUE` (`IS NOT NULL`, `FALSE`). A report
    /// that does not group by a dimension then neither reads nor hashes its column, and an
    /// absent filter costs nothing. Only these switches (from the closed lists of dimensions
    /// and filters) are written into the SQL; every value stays a bound parameter.
    /// Comments are dropped (so a parameter named in one is not taken as used).
    #[must_use]
    pub fn render(&self, sql: &str) -> String {
        let mut sql = without_comments(sql);
        for (name, value) in &self.pairs {
            match value {
                Value::Boolean(flag) => {
                    sql = sql.replace(&format!("${name}::BOOLEAN"), if *flag { "TRUE" } else { "FALSE" });
                }
                Value::Null => sql = fold_null_tests(&sql, name),
                _ => {}
            }
        }
        sql
    }
}

/// `sql` without its `--` comments (outside string literals).
fn without_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    for line in sql.lines() {
        let mut quoted = false;
        let mut end = line.len();
        let bytes = line.as_bytes();
        for (at, byte) in bytes.iter().enumerate() {
            match byte {
                b'\'' => quoted = !quoted,
                b'-' if !quoted && bytes.get(at + 1) == Some(&b'-') => {
                    end = at;
                    break;
                }
                _ => {}
            }
        }
        let code = line[..end].trim_end();
        if !code.is_empty() {
            out.push_str(code);
            out.push('\n');
        }
    }
    out
}

/// Whether `sql` uses the parameter `$name` (not merely one whose name starts with it).
fn mentions(sql: &str, name: &str) -> bool {
    let needle = format!("${name}");
    sql.match_indices(&needle).any(|(at, _)| {
        !sql[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|next| next.is_ascii_alphanumeric() || next == '_')
    })
}

/// Replaces `$name::TYPE IS NULL` with `TRUE` and `$name::TYPE IS NOT NULL` with `FALSE`.
fn fold_null_tests(sql: &str, name: &str) -> String {
    let needle = format!("${name}::");
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(&needle) {
        let after = &rest[at + needle.len()..];
        let type_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '[' || c == ']' || c == '_'))
            .unwrap_or(after.len());
        let tail = &after[type_len..];
        let (literal, consumed) = if tail.starts_with(" IS NULL") {
            (Some("TRUE"), type_len + " IS NULL".len())
        } else if tail.starts_with(" IS NOT NULL") {
            (Some("FALSE"), type_len + " IS NOT NULL".len())
        } else {
            (None, 0)
        };
        out.push_str(&rest[..at]);
        match literal {
            Some(literal) => {
                out.push_str(literal);
                rest = &after[consumed..];
            }
            None => {
                out.push_str(&needle);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn text_list(values: &[String]) -> Value {
    Value::List(values.iter().cloned().map(Value::Text).collect())
}

fn param_name(dimension: &Dimension) -> &'static str {
    match dimension {
        Dimension::Team => "team",
        Dimension::Project => "project",
        Dimension::User => "user",
        Dimension::ApiKey => "api_key",
        Dimension::Provider => "provider",
        Dimension::Model => "model",
        Dimension::ModelRequested => "model_requested",
        Dimension::Route => "route",
        Dimension::Source => "source",
        Dimension::Status => "status",
        Dimension::ErrorType => "error_type",
        Dimension::Tag(_) => "tag",
    }
}

/// Binds `$g_*` and `$f_*` for `params` (reports with a free `group_by`). Returns the tag keys
/// grouped by, in `tag1..3` order.
///
/// # Errors
/// [`ReportError::InvalidParameter`] for a `status` filter value that is not a number.
pub fn bind_dimensions(
    params: &CommonParams,
    bindings: &mut Bindings,
    grain: Grain,
) -> Result<Vec<String>, ReportError> {
    bind_filters(params, bindings, grain)?;
    Ok(bind_groups(params, bindings, grain))
}

/// Binds `$g_<dimension>` and `$g_tag1..3`; returns the tag keys grouped by.
pub fn bind_groups(params: &CommonParams, bindings: &mut Bindings, grain: Grain) -> Vec<String> {
    for dimension in Dimension::FIXED.iter().filter(|dimension| grain.keeps(dimension)) {
        let name = param_name(dimension);
        bindings.set(
            &format!("g_{name}"),
            Value::Boolean(params.group_by.contains(dimension)),
        );
    }
    if grain != Grain::Events {
        return Vec::new();
    }
    let tag_groups: Vec<String> = params
        .group_by
        .iter()
        .filter_map(|dimension| match dimension {
            Dimension::Tag(key) => Some(key.clone()),
            _ => None,
        })
        .collect();
    for slot in 0..MAX_TAG_GROUPS {
        let value = tag_groups
            .get(slot)
            .map_or(Value::Null, |key| Value::Text(key.clone()));
        bindings.set(&format!("g_tag{}", slot + 1), value);
    }
    tag_groups
}

/// Binds `$f_<dimension>` and `$f_tag1..3_key/_values` (every report takes the filters).
///
/// # Errors
/// [`ReportError::InvalidParameter`] for a `status` filter value that is not a number.
pub fn bind_filters(params: &CommonParams, bindings: &mut Bindings, grain: Grain) -> Result<(), ReportError> {
    for dimension in Dimension::FIXED.iter().filter(|dimension| grain.keeps(dimension)) {
        let name = param_name(dimension);
        let filter = match (params.filter_values(dimension), dimension) {
            (None, _) => Value::Null,
            (Some(values), Dimension::Status) => {
                let mut codes = Vec::with_capacity(values.len());
                for value in values {
                    let code = value.parse::<i32>().map_err(|_| {
                        ReportError::invalid("status", format!("`{value}` is not an HTTP status"))
                    })?;
                    codes.push(Value::Int(code));
                }
                Value::List(codes)
            }
            (Some(values), _) => text_list(values),
        };
        bindings.set(&format!("f_{name}"), filter);
    }
    if grain != Grain::Events {
        return Ok(());
    }
    let tag_filters: Vec<(&String, &Vec<String>)> = params
        .filters
        .iter()
        .filter_map(|filter| match &filter.dimension {
            Dimension::Tag(key) => Some((key, &filter.values)),
            _ => None,
        })
        .collect();
    for slot in 0..MAX_TAG_FILTERS {
        let (key, values) = match tag_filters.get(slot) {
            Some((key, values)) => (Value::Text((*key).clone()), text_list(values)),
            None => (Value::Null, Value::Null),
        };
        bindings.set(&format!("f_tag{}_key", slot + 1), key);
        bindings.set(&format!("f_tag{}_values", slot + 1), values);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_become_literals_and_values_stay_bound() {
        let mut bindings = Bindings::default();
        bindings.set("g_team", Value::Boolean(true));
        bindings.set("g_user", Value::Boolean(false));
        bindings.set("f_team", Value::Null);
        bindings.set("f_tag1_key", Value::Null);
        bindings.set("f_tag1_values", Value::Null);
        bindings.set("f_model", Value::List(vec![Value::Text("gpt-4o".to_owned())]));
        let sql = "SELECT CASE WHEN $g_team::BOOLEAN THEN team END, CASE WHEN $g_user::BOOLEAN THEN user_id END \
                   WHERE ($f_team::VARCHAR[] IS NULL OR list_contains($f_team::VARCHAR[], team)) \
                   AND ($f_model::VARCHAR[] IS NULL OR list_contains($f_model::VARCHAR[], model_key)) \
                   AND ($f_tag1_key::VARCHAR IS NULL OR list_contains($f_tag1_values::VARCHAR[], tags[$f_tag1_key::VARCHAR]))";
        let rendered = bindings.render(&format!(
            "-- uses $g_team and $f_model\n{sql} AND note <> '--x' -- a comment"
        ));
        assert_eq!(
            rendered.trim_end(),
            "SELECT CASE WHEN TRUE THEN team END, CASE WHEN FALSE THEN user_id END \
                   WHERE (TRUE OR list_contains($f_team::VARCHAR[], team)) \
                   AND ($f_model::VARCHAR[] IS NULL OR list_contains($f_model::VARCHAR[], model_key)) \
                   AND (TRUE OR list_contains($f_tag1_values::VARCHAR[], tags[$f_tag1_key::VARCHAR])) AND note <> '--x'"
        );
        let names: Vec<&str> = bindings
            .as_params(&rendered)
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(names, ["f_team", "f_tag1_key", "f_tag1_values", "f_model"]);
    }
}
