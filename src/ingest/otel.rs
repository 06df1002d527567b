//! `otel`: FIXME(issue 4) — adapter not written yet. Spec: `shared/formats/otel.md`.

use super::Adapter;
use super::common::{Draft, ParseContext};
use super::json::Obj;
use super::reject::FieldError;
use crate::model::Source;

pub(crate) struct Otel;

impl Adapter for Otel {
    fn source(&self) -> Source {
        Source::Otel
    }

    fn detect(&self, _obj: &Obj<'_>) -> bool {
        false
    }

    fn parse(&self, _obj: &Obj<'_>, _ctx: &ParseContext, _out: &mut Vec<Result<Draft, FieldError>>) {}
}
