//! Attribution of a LiteLLM call: team, project, user and API key from the authenticated key
//! metadata (and spend-table columns), then the caller's `request_tags` and
//! `spend_logs_metadata` for what the key does not say; the remaining entries become tags.

use crate::ingest::json::RawValue;

use super::first_text;
use crate::ingest::common::{TagsBuilder, at_native, stringify_scalar, text_at};
use crate::ingest::json::{self, Obj};
use crate::ingest::reject::FieldError;
use crate::model::{ApiKeyId, LIMITS, Tags, UNASSIGNED_TEAM};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Payload,
    SpendRow,
}

pub(super) struct Attribution {
    pub(super) team: String,
    pub(super) project: Option<String>,
    pub(super) user_id: Option<String>,
    pub(super) api_key_id: Option<ApiKeyId>,
    pub(super) tags: Tags,
}

impl Attribution {
    /// Key metadata first (authenticated), then the caller's tags for what the key does not say.
    pub(super) fn read(obj: &Obj<'_>, metadata: &Obj<'_>, shape: Shape) -> Result<Attribution, FieldError> {
        let spend_logs_metadata = metadata.obj("spend_logs_metadata", "metadata.spend_logs_metadata")?;
        let mut tags = collect_tags(obj.raw("request_tags"), spend_logs_metadata.as_ref())?;
        let tag_team = tags.lift("team", "tags")?;
        let tag_project = tags.lift("project", "tags")?;
        let tag_user = tags.lift("user_id", "tags")?;
        // Spend-table columns; a payload has no such top-level keys.
        let column = |key: &str| match shape {
            Shape::SpendRow => obj.raw(key),
            Shape::Payload => None,
        };
        let limit = LIMITS.short_text;

        let team = first_text(
            &[
                (
                    metadata.raw("user_api_key_team_alias"),
                    "metadata.user_api_key_team_alias",
                ),
                (column("team_id"), "team_id"),
                (
                    metadata.raw("user_api_key_team_id"),
                    "metadata.user_api_key_team_id",
                ),
            ],
            limit,
        )?
        .or(tag_team)
        .unwrap_or_else(|| UNASSIGNED_TEAM.to_owned());
        let project = first_text(
            &[
                (
                    metadata.raw("user_api_key_project_alias"),
                    "metadata.user_api_key_project_alias",
                ),
                (
                    metadata.raw("user_api_key_project_id"),
                    "metadata.user_api_key_project_id",
                ),
                (metadata.raw("project_id"), "metadata.project_id"),
            ],
            limit,
        )?
        .or(tag_project);
        let user_id = first_text(
            &[
                (obj.raw("end_user"), "end_user"),
                (
                    metadata.raw("user_api_key_end_user_id"),
                    "metadata.user_api_key_end_user_id",
                ),
                (column("user"), "user"),
                (
                    metadata.raw("user_api_key_user_id"),
                    "metadata.user_api_key_user_id",
                ),
            ],
            limit,
        )?
        .or(tag_user);
        let api_key_id = api_key_id(&[
            (column("api_key"), "api_key"),
            (metadata.raw("user_api_key_hash"), "metadata.user_api_key_hash"),
            (metadata.raw("user_api_key"), "metadata.user_api_key"),
        ])?;
        Ok(Attribution {
            team,
            project,
            user_id,
            api_key_id,
            tags: tags.build()?,
        })
    }
}

/// `request_tags` entries `"k:v"` → `{k: v}`, a bare tag → `{tag: "true"}`; then the scalar
/// values of `spend_logs_metadata`, stringified (later keys win).
fn collect_tags(
    request_tags: Option<&RawValue>,
    spend_logs_metadata: Option<&Obj<'_>>,
) -> Result<TagsBuilder, FieldError> {
    let mut tags = TagsBuilder::default();
    for entry in json::opt_array(request_tags, "request_tags", "an array of strings")? {
        let Some(text) = stringify_scalar(entry) else {
            continue;
        };
        match text.split_once(':') {
            Some((key, value)) => tags.insert(key.trim(), value.trim()),
            None => tags.insert(text.trim(), "true"),
        }
    }
    if let Some(spend_logs_metadata) = spend_logs_metadata {
        tags.extend_from(spend_logs_metadata);
    }
    Ok(tags)
}

/// The first key hash or alias found; a value that looks like a raw secret rejects the record.
fn api_key_id(candidates: &[(Option<&RawValue>, &str)]) -> Result<Option<ApiKeyId>, FieldError> {
    for (raw, field) in candidates {
        if let Some(text) = text_at(*raw, field, LIMITS.short_text)? {
            return ApiKeyId::from_alias(&text).map(Some).map_err(at_native(field));
        }
    }
    Ok(None)
}
