//! API keys: who may call what, and which team's data they see.
//!
//! A key has a role — `ingest` (send records), `read` (reports, export, ad-hoc SQL, listings) or
//! `admin` (everything, including prices, contracts, budgets, re-pricing, retention and the
//! lake) — and a `read` key may be scoped to one team: every report, export and SQL result it
//! gets then holds that team's rows only (enforced where the queries are built, not by the
//! handlers). Keys are configured as `ROLE[@TEAM]=KEY` (`LEDGER_API_KEYS`, comma-separated, or
//! the `api_keys` list of the config file), where `KEY` is `sha256:<64 hex digits>` — the
//! SHA-256 of the secret, so the configuration never holds it — or the secret itself, which is
//! hashed when the configuration is read. Only hashes are kept in memory; a presented key is
//! hashed and looked up.

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};

/// What a key may do. Each role includes the ones before it, except that `ingest` and `read`
/// are separate: an ingest key cannot read, a read key cannot ingest; `admin` can do both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Ingest,
    Read,
    Admin,
}

impl Role {
    fn parse(text: &str) -> Option<Role> {
        match text {
            "ingest" => Some(Role::Ingest),
            "read" => Some(Role::Read),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }

    /// Whether a key of this role may do what `needed` allows.
    #[must_use]
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || self == needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A configured key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub role: Role,
    /// The one team a `read` key sees; `None` for every team.
    pub team: Option<String>,
    /// The first 12 hex digits of the key's hash: names the key in logs.
    pub id: String,
}

/// The caller of a request: the key's grant, or everyone when no keys are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub role: Role,
    pub team: Option<String>,
    /// The key's id; `None` when the ledger runs without keys.
    pub key_id: Option<String>,
}

impl Principal {
    /// The caller of a ledger without keys (loopback or `--insecure`): may do everything.
    #[must_use]
    pub fn open() -> Principal {
        Principal {
            role: Role::Admin,
            team: None,
            key_id: None,
        }
    }

    /// The team this caller is limited to, if any.
    #[must_use]
    pub fn team_scope(&self) -> Option<&str> {
        self.team.as_deref()
    }
}

/// A bad `api_keys` entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("API key entry {position}: {reason}")]
pub struct KeyConfigError {
    /// 1-based position in the list.
    pub position: usize,
    pub reason: String,
}

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this ledger needs an API key: send `Authorization: Bearer <key>` or `X-API-Key`")]
    Missing,
    #[error("the API key is not valid")]
    Unknown,
    #[error("a `{have}` key cannot do this; it needs a `{need}` key")]
    Role { have: Role, need: Role },
}

/// The configured keys, by the SHA-256 of their secret.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<[u8; 32], KeyGrant>,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}"); // Writing to a String cannot fail.
            out
        })
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// The configuration entry of a key: `ROLE[@TEAM]=sha256:<hash>`.
#[must_use]
pub fn entry_for(secret: &str, role: Role, team: Option<&str>) -> String {
    let scope = team.map(|team| format!("@{team}")).unwrap_or_default();
    format!("{role}{scope}=sha256:{}", hex(&digest(secret)))
}

impl KeyRing {
    /// Reads `ROLE[@TEAM]=KEY` entries (see the module documentation).
    ///
    /// # Errors
    /// [`KeyConfigError`] naming the entry: no `=`, an unknown role, a team on a key that is not
    /// `read`, an empty or malformed key, a short secret, or the same key twice.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<KeyRing, KeyConfigError> {
        let mut keys = HashMap::new();
        for (index, entry) in entries.iter().enumerate() {
            let position = index + 1;
            let fail = |reason: String| KeyConfigError { position, reason };
            let entry = entry.as_ref().trim();
            let (grant, key) = entry
                .split_once('=')
                .ok_or_else(|| fail("expected ROLE[@TEAM]=KEY, e.g. `read@search=sha256:…`".to_owned()))?;
            let (role, team) = match grant.split_once('@') {
                Some((role, team)) => (role.trim(), Some(team.trim())),
                None => (grant.trim(), None),
            };
            let role = Role::parse(role)
                .ok_or_else(|| fail(format!("unknown role `{role}`: expected ingest, read or admin")))?;
            let team = match team {
                Some("") => return Err(fail("the team after `@` is empty".to_owned())),
                Some(team) if role != Role::Read => {
                    return Err(fail(format!(
                        "only read keys can be limited to a team (`{role}@{team}`)"
                    )));
                }
                other => other.map(str::to_owned),
            };
            let key = key.trim();
            let hash = match key.strip_prefix("sha256:") {
                Some(text) => parse_hash(&text.to_ascii_lowercase())
                    .ok_or_else(|| fail("`sha256:` must be followed by 64 hex digits".to_owned()))?,
                None if key.len() < 16 => {
                    return Err(fail(
                        "a key must have at least 16 characters (or be given as `sha256:<hash>`)".to_owned(),
                    ));
                }
                None => digest(key),
            };
            let grant = KeyGrant {
                role,
                team,
                id: hex(&hash[..6]),
            };
            if keys.insert(hash, grant).is_some() {
                return Err(fail("the same key is configured twice".to_owned()));
            }
        }
        Ok(KeyRing { keys })
    }

    /// No keys: the ledger is open (only allowed on loopback unless `--insecure`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The caller presenting `secret` (none presented: `None`), allowed to do what `needed`
    /// allows.
    ///
    /// # Errors
    /// [`AuthError`]: no key, an unknown key, or a role that does not allow `needed`.
    pub fn authorize(&self, secret: Option<&str>, needed: Role) -> Result<Principal, AuthError> {
        if self.keys.is_empty() {
            return Ok(Principal::open());
        }
        let secret = secret
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .ok_or(AuthError::Missing)?;
        let grant = self.keys.get(&digest(secret)).ok_or(AuthError::Unknown)?;
        if !grant.role.allows(needed) {
            return Err(AuthError::Role {
                have: grant.role,
                need: needed,
            });
        }
        Ok(Principal {
            role: grant.role,
            team: grant.team.clone(),
            key_id: Some(grant.id.clone()),
        })
    }
}

/// A new random key (URL-safe, 43 characters, 256 bits).
#[must_use]
pub fn new_secret() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    let body: String = (0..43)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("llk_{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "llk_0123456789abcdefghij";

    #[test]
    fn keys_are_kept_as_hashes_and_checked_by_role() {
        let read_entry = entry_for("llk_reader-secret-000000", Role::Read, Some("search"));
        assert!(read_entry.starts_with("read@search=sha256:"));
        assert!(!read_entry.contains("reader-secret"));
        let ring = KeyRing::parse(&[
            format!("ingest={SECRET}"),
            read_entry,
            "admin=llk_admin-secret-0000000".to_owned(),
        ])
        .unwrap();
        assert_eq!(ring.len(), 3);
        let ingest = ring.authorize(Some(SECRET), Role::Ingest).unwrap();
        assert_eq!((ingest.role, ingest.team_scope()), (Role::Ingest, None));
        assert_eq!(
            ring.authorize(Some(SECRET), Role::Read),
            Err(AuthError::Role {
                have: Role::Ingest,
                need: Role::Read
            })
        );
        let reader = ring
            .authorize(Some("llk_reader-secret-000000"), Role::Read)
            .unwrap();
        assert_eq!(reader.team_scope(), Some("search"));
        assert!(
            ring.authorize(Some("llk_reader-secret-000000"), Role::Ingest)
                .is_err()
        );
        assert!(
            ring.authorize(Some("llk_admin-secret-0000000"), Role::Ingest)
                .is_ok()
        );
        assert!(
            ring.authorize(Some("llk_admin-secret-0000000"), Role::Admin)
                .is_ok()
        );
        assert_eq!(ring.authorize(None, Role::Read), Err(AuthError::Missing));
        assert_eq!(
            ring.authorize(Some("llk_wrong-secret-00000000"), Role::Read),
            Err(AuthError::Unknown)
        );
        // Without keys, everyone may do everything.
        assert_eq!(
            KeyRing::default().authorize(None, Role::Admin),
            Ok(Principal::open())
        );
    }

    #[test]
    fn bad_entries_name_their_position() {
        let cases = [
            ("readonly=llk_0123456789abcdef", "unknown role"),
            ("ingest@search=llk_0123456789abcdef", "only read keys"),
            ("read@=llk_0123456789abcdef", "empty"),
            ("read=short", "at least 16"),
            ("read=sha256:abc", "64 hex"),
            ("llk_0123456789abcdef", "ROLE[@TEAM]=KEY"),
        ];
        for (entry, reason) in cases {
            let error = KeyRing::parse(&["admin=llk_admin-secret-0000000", entry]).unwrap_err();
            assert_eq!(error.position, 2, "{entry}");
            assert!(error.reason.contains(reason), "{entry}: {}", error.reason);
        }
        let twice = KeyRing::parse(&[format!("read={SECRET}"), format!("admin={SECRET}")]).unwrap_err();
        assert!(twice.reason.contains("twice"));
    }

    #[test]
    fn new_secrets_are_long_and_distinct() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 47);
        assert!(KeyRing::parse(&[format!("read={a}")]).is_ok());
    }
}
