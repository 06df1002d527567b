//! Who is calling: the extractors handlers take to require a role. A handler that needs a `read`
//! key takes [`ReadKey`], and so on; the extractor answers `401 unauthorized` without a valid
//! key and `403 forbidden` for a key of another role, before the handler runs. The caller's team
//! scope travels to the query layer (`reports::run`, `export`, `sql::Sandbox`), which enforces
//! it. Without configured keys every caller is an unscoped admin (the server refuses to listen
//! beyond loopback that way unless `--insecure`).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::AppState;
use super::error::ApiError;
use crate::auth::{Principal, Role};

/// The key a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`.
fn presented(request: &HttpRequest) -> Option<&str> {
    let headers = request.headers();
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        let (scheme, key) = value.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then_some(key.trim());
    }
    headers.get("x-api-key").and_then(|value| value.to_str().ok())
}

fn authorize(request: &HttpRequest, needed: Role) -> Result<Principal, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("the application state is missing".to_owned()))?;
    let principal = state.keys.authorize(presented(request), needed)?;
    if let Some(key) = &principal.key_id {
        tracing::debug!(key = %key, role = %principal.role, team = ?principal.team, "authorized");
    }
    Ok(principal)
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Principal);

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = Ready<Result<Self, Self::Error>>;

            fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(authorize(request, $role).map($name))
            }
        }
    };
}

role_extractor!(
    /// A caller allowed to send records (`ingest` or `admin` key).
    IngestKey,
    Role::Ingest
);
role_extractor!(
    /// A caller allowed to read (`read` or `admin` key), possibly limited to one team.
    ReadKey,
    Role::Read
);
role_extractor!(
    /// A caller allowed to change prices, contracts, budgets and history (`admin` key).
    AdminKey,
    Role::Admin
);

impl ReadKey {
    /// The team the caller is limited to, if any.
    #[must_use]
    pub fn team_scope(&self) -> Option<&str> {
        self.0.team_scope()
    }
}

/// Refuses a team-scoped caller's explicit request for another team (`team=` filter or
/// parameter): the query layer would return nothing, and saying so is clearer.
///
/// # Errors
/// [`ApiError::Forbidden`] naming the team the key is limited to.
pub fn check_team_request(
    scope: Option<&str>,
    requested: impl IntoIterator<Item = impl AsRef<str>>,
) -> Result<(), ApiError> {
    let Some(scope) = scope else { return Ok(()) };
    for team in requested {
        if team.as_ref() != scope {
            return Err(ApiError::Forbidden {
                reason: format!("this key reads team `{scope}` only, not `{}`", team.as_ref()),
            });
        }
    }
    Ok(())
}
