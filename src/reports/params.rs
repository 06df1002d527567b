//! The parameters every report takes (DESIGN.md, "Report parameters"), parsed once from
//! `name=value` pairs (a query string, or CLI flags) into [`CommonParams`].

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::ReportError;
use super::buckets::local_midnight;

/// A dimension reports group and filter by. Closed list: these are the only identifiers that
/// ever vary in report SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    Team,
    Project,
    User,
    ApiKey,
    Provider,
    Model,
    ModelRequested,
    Route,
    Source,
    Status,
    ErrorType,
    Tag(String),
}

impl Dimension {
    /// Every dimension except tags, in output order.
    pub const FIXED: [Dimension; 11] = [
        Dimension::Team,
        Dimension::Project,
        Dimension::User,
        Dimension::ApiKey,
        Dimension::Provider,
        Dimension::Model,
        Dimension::ModelRequested,
        Dimension::Route,
        Dimension::Source,
        Dimension::Status,
        Dimension::ErrorType,
    ];

    /// Parses `team`, `model`, `tag:env`, ….
    pub fn parse(name: &str) -> Option<Dimension> {
        if let Some(key) = name.strip_prefix("tag:") {
            return (!key.is_empty() && key.len() <= 128).then(|| Dimension::Tag(key.to_owned()));
        }
        Dimension::FIXED
            .into_iter()
            .find(|dimension| dimension.name() == name)
    }

    /// The name used in parameters and output columns (`tag:env` for tags).
    pub fn name(&self) -> &str {
        match self {
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

    /// The output column name.
    pub fn label(&self) -> String {
        match self {
            Dimension::Tag(key) => format!("tag:{key}"),
            other => other.name().to_owned(),
        }
    }
}

/// Width of a time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBucket {
    Hour,
    Day,
    Week,
    Month,
}

impl TimeBucket {
    pub fn parse(name: &str) -> Option<TimeBucket> {
        match name {
            "hour" => Some(TimeBucket::Hour),
            "day" => Some(TimeBucket::Day),
            "week" => Some(TimeBucket::Week),
            "month" => Some(TimeBucket::Month),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeBucket::Hour => "hour",
            TimeBucket::Day => "day",
            TimeBucket::Week => "week",
            TimeBucket::Month => "month",
        }
    }
}

/// A filter: the dimension must take one of `values` (repeated parameters are OR-ed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub dimension: Dimension,
    pub values: Vec<String>,
}

/// How a report is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Json,
    Csv,
    Parquet,
}

impl OutputFormat {
    pub fn parse(name: &str) -> Option<OutputFormat> {
        match name {
            "json" => Some(OutputFormat::Json),
            "csv" => Some(OutputFormat::Csv),
            "parquet" => Some(OutputFormat::Parquet),
            _ => None,
        }
    }
}

/// Which table a report may read (`grain=`): the planner's choice, or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GrainChoice {
    #[default]
    Auto,
    Events,
    Hourly,
    Daily,
}

/// Row order of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Buckets in time order, then the largest cost first.
    #[default]
    CostDesc,
    /// Buckets in time order, then by the group columns.
    Group,
}

/// The parameters every report takes.
#[derive(Debug, Clone)]
pub struct CommonParams {
    /// Start, inclusive (UTC).
    pub from: DateTime<Utc>,
    /// End, exclusive (UTC).
    pub to: DateTime<Utc>,
    pub group_by: Vec<Dimension>,
    pub bucket: Option<TimeBucket>,
    pub tz: Tz,
    pub filters: Vec<Filter>,
    pub limit: Option<usize>,
    pub order: Order,
    pub format: OutputFormat,
    pub grain: GrainChoice,
}

/// Tag dimensions a report can group by at once.
pub const MAX_TAG_GROUPS: usize = 3;
/// Tag keys a report can filter on at once.
pub const MAX_TAG_FILTERS: usize = 3;
/// Values one filter may list.
const MAX_FILTER_VALUES: usize = 1000;

impl CommonParams {
    /// Parses the common parameters from `name=value` pairs; pairs named in `extra` belong to
    /// the report itself and are skipped. `now` is the default end of the range.
    ///
    /// # Errors
    /// [`ReportError::InvalidParameter`] naming the parameter.
    pub fn parse(
        pairs: &[(String, String)],
        extra: &[&str],
        now: DateTime<Utc>,
    ) -> Result<CommonParams, ReportError> {
        let mut from_text = None;
        let mut to_text = None;
        let mut group_by = Vec::new();
        let mut bucket = None;
        let mut tz: Tz = chrono_tz::UTC;
        let mut filters: Vec<Filter> = Vec::new();
        let mut limit = None;
        let mut order = Order::default();
        let mut format = OutputFormat::default();
        let mut grain = GrainChoice::default();

        for (name, value) in pairs {
            match name.as_str() {
                "from" => from_text = Some(value.clone()),
                "to" => to_text = Some(value.clone()),
                "group_by" => {
                    for part in value.split(',').map(str::trim).filter(|part| !part.is_empty()) {
                        let dimension = Dimension::parse(part).ok_or_else(|| {
                            ReportError::invalid("group_by", format!("unknown dimension `{part}`"))
                        })?;
                        if !group_by.contains(&dimension) {
                            group_by.push(dimension);
                        }
                    }
                }
                "bucket" => {
                    bucket = match value.as_str() {
                        "" | "none" => None,
                        other => Some(TimeBucket::parse(other).ok_or_else(|| {
                            ReportError::invalid(
                                "bucket",
                                format!("expected hour, day, week or month, got `{other}`"),
                            )
                        })?),
                    }
                }
                "tz" => {
                    tz = value.parse::<Tz>().map_err(|_| {
                        ReportError::invalid("tz", format!("unknown IANA time zone `{value}`"))
                    })?;
                }
                "limit" => {
                    let parsed = value
                        .parse::<usize>()
                        .ok()
                        .filter(|limit| *limit > 0)
                        .ok_or_else(|| ReportError::invalid("limit", "expected a positive integer"))?;
                    limit = Some(parsed);
                }
                "order" => {
                    order = match value.as_str() {
                        "cost" | "cost_desc" => Order::CostDesc,
                        "group" => Order::Group,
                        other => {
                            return Err(ReportError::invalid(
                                "order",
                                format!("expected `cost` or `group`, got `{other}`"),
                            ));
                        }
                    }
                }
                "format" => {
                    format = OutputFormat::parse(value)
                        .ok_or_else(|| ReportError::invalid("format", "expected json, csv or parquet"))?;
                }
                "grain" => {
                    grain = match value.as_str() {
                        "auto" => GrainChoice::Auto,
                        "events" => GrainChoice::Events,
                        "hourly" => GrainChoice::Hourly,
                        "daily" => GrainChoice::Daily,
                        other => {
                            return Err(ReportError::invalid(
                                "grain",
                                format!("expected auto, events, hourly or daily, got `{other}`"),
                            ));
                        }
                    }
                }
                other if extra.contains(&other) => {}
                other => {
                    let dimension = Dimension::parse(other).ok_or_else(|| {
                        ReportError::invalid(other, "unknown parameter (filters are named after a dimension)")
                    })?;
                    match filters.iter_mut().find(|filter| filter.dimension == dimension) {
                        Some(filter) => filter.values.push(value.clone()),
                        None => filters.push(Filter {
                            dimension,
                            values: vec![value.clone()],
                        }),
                    }
                }
            }
        }

        let to = match to_text {
            Some(text) => parse_bound("to", &text, tz)?,
            None => now,
        };
        let from = match from_text {
            Some(text) => parse_bound("from", &text, tz)?,
            None => to - Duration::days(30),
        };
        if from >= to {
            return Err(ReportError::invalid("from", "must be before `to`"));
        }
        let tag_groups = group_by
            .iter()
            .filter(|dimension| matches!(dimension, Dimension::Tag(_)))
            .count();
        if tag_groups > MAX_TAG_GROUPS {
            return Err(ReportError::invalid(
                "group_by",
                format!("at most {MAX_TAG_GROUPS} tag dimensions at once"),
            ));
        }
        let tag_filters = filters
            .iter()
            .filter(|filter| matches!(filter.dimension, Dimension::Tag(_)))
            .count();
        if tag_filters > MAX_TAG_FILTERS {
            return Err(ReportError::invalid(
                "tag",
                format!("at most {MAX_TAG_FILTERS} tag filters at once"),
            ));
        }
        if let Some(filter) = filters
            .iter()
            .find(|filter| filter.values.len() > MAX_FILTER_VALUES)
        {
            return Err(ReportError::invalid(
                &filter.dimension.label(),
                format!("at most {MAX_FILTER_VALUES} values"),
            ));
        }
        Ok(CommonParams {
            from,
            to,
            group_by,
            bucket,
            tz,
            filters,
            limit,
            order,
            format,
            grain,
        })
    }

    /// The values a filter on `dimension` allows, if there is one.
    pub fn filter_values(&self, dimension: &Dimension) -> Option<&[String]> {
        self.filters
            .iter()
            .find(|filter| &filter.dimension == dimension)
            .map(|filter| filter.values.as_slice())
    }

    /// Limits the report to one team (a team-scoped API key): the team filter becomes exactly
    /// that team, whatever else the query asked for.
    ///
    /// # Errors
    /// [`ReportError::OutOfScope`] when the query filters on another team.
    pub fn scope_to_team(&mut self, team: &str) -> Result<(), ReportError> {
        if let Some(other) = self
            .filter_values(&Dimension::Team)
            .and_then(|values| values.iter().find(|value| value.as_str() != team))
        {
            return Err(ReportError::OutOfScope {
                scope: team.to_owned(),
                requested: other.clone(),
            });
        }
        self.filters.retain(|filter| filter.dimension != Dimension::Team);
        self.filters.push(Filter {
            dimension: Dimension::Team,
            values: vec![team.to_owned()],
        });
        Ok(())
    }
}

/// Reads `from`/`to`: an RFC 3339 instant, or `YYYY-MM-DD` meaning midnight in the report's
/// time zone.
fn parse_bound(name: &str, text: &str, tz: Tz) -> Result<DateTime<Utc>, ReportError> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(local_midnight(tz, date));
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        && let Some(local) = tz.from_local_datetime(&naive).earliest()
    {
        return Ok(local.with_timezone(&Utc));
    }
    Err(ReportError::invalid(
        name,
        format!("expected RFC 3339 or YYYY-MM-DD, got `{text}`"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_groups_filters_and_local_dates() {
        let now = Utc::now();
        let params = CommonParams::parse(
            &pairs(&[
                ("from", "2026-11-01"),
                ("to", "2026-11-03"),
                ("tz", "America/New_York"),
                ("group_by", "team,tag:env,model"),
                ("team", "search"),
                ("team", "growth"),
                ("tag:env", "prod"),
                ("bucket", "day"),
            ]),
            &[],
            now,
        )
        .unwrap();
        assert_eq!(params.from.to_rfc3339(), "2026-11-01T04:00:00+00:00");
        assert_eq!(params.to.to_rfc3339(), "2026-11-03T05:00:00+00:00");
        assert_eq!(params.group_by.len(), 3);
        assert_eq!(
            params.filter_values(&Dimension::Team).unwrap(),
            ["search", "growth"]
        );
        assert_eq!(
            params.filter_values(&Dimension::Tag("env".into())).unwrap(),
            ["prod"]
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let now = Utc::now();
        for (name, value) in [
            ("group_by", "colour"),
            ("tz", "Mars/Base"),
            ("bucket", "year"),
            ("tem", "x"),
        ] {
            match CommonParams::parse(&pairs(&[(name, value)]), &[], now) {
                Err(ReportError::InvalidParameter { parameter, .. }) => assert_eq!(parameter, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
