//! `portkey`: FIXME(issue 4) — adapter not written yet. Spec: `shared/formats/portkey.md`.

use super::Adapter;
use super::common::{Draft, ParseContext};
use super::json::Obj;
use super::reject::FieldError;
use crate::model::Source;

pub(crate) struct Portkey;

impl Adapter for Portkey {
    fn source(&self) -> Source {
        Source::Portkey
    }

    fn detect(&self, _obj: &Obj<'_>) -> bool {
        false
    }

    fn parse(&self, _obj: &Obj<'_>, _ctx: &ParseContext, _out: &mut Vec<Result<Draft, FieldError>>) {}
}
