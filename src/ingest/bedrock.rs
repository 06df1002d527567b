//! `bedrock`: FIXME(issue 4) — adapter not written yet. Spec: `shared/formats/bedrock.md`.

use super::Adapter;
use super::common::{Draft, ParseContext};
use super::json::Obj;
use super::reject::FieldError;
use crate::model::Source;

pub(crate) struct Bedrock;

impl Adapter for Bedrock {
    fn source(&self) -> Source {
        Source::Bedrock
    }

    fn detect(&self, _obj: &Obj<'_>) -> bool {
        false
    }

    fn parse(&self, _obj: &Obj<'_>, _ctx: &ParseContext, _out: &mut Vec<Result<Draft, FieldError>>) {}
}
