//! `kong`: FIXME(issue 4) — adapter not written yet. Spec: `shared/formats/kong.md`.

use super::Adapter;
use super::common::{Draft, ParseContext};
use super::json::Obj;
use super::reject::FieldError;
use crate::model::Source;

pub(crate) struct Kong;

impl Adapter for Kong {
    fn source(&self) -> Source {
        Source::Kong
    }

    fn detect(&self, _obj: &Obj<'_>) -> bool {
        false
    }

    fn parse(&self, _obj: &Obj<'_>, _ctx: &ParseContext, _out: &mut Vec<Result<Draft, FieldError>>) {}
}
