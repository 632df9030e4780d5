//! The stored connection: exactly the host's existing MongoDB document shape, so an incumbent
//! collection needs no migration. Unknown fields (`_id`, `__v`, ...) are carried through untouched.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::secret::{AccessToken, RefreshToken};

/// The `owner` of connections made by a server-to-server flow, keyed by the host's connection id.
pub const SERVER_OWNER: &str = "forcelink:server";

/// Who a connection belongs to: the host's account and user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    account_id: String,
    owner: String,
}

impl ConnKey {
    pub fn new(account_id: &str, owner: &str) -> Result<Self> {
        let check = |field: &str, v: &str| {
            if v.trim().is_empty() {
                Err(Error::input(field, "is required"))
            } else if v.len() > 256 || v.chars().any(char::is_control) {
                Err(Error::input(
                    field,
                    "must be at most 256 printable characters",
                ))
            } else {
                Ok(())
            }
        };
        check("accountId", account_id)?;
        check("ownerId", owner)?;
        // Reserved: a user call must never mint or use a server-flow token.
        if owner == SERVER_OWNER {
            return Err(Error::input(
                "ownerId",
                "is reserved for server-to-server connections (use connectionId)",
            ));
        }
        Ok(Self {
            account_id: account_id.to_string(),
            owner: owner.to_string(),
        })
    }

    /// The key of a stored record, user or server flow alike.
    pub fn of_record(account_id: &str, owner: &str) -> Result<Self> {
        if owner == SERVER_OWNER {
            Self::server(account_id)
        } else {
            Self::new(account_id, owner)
        }
    }

    /// A server-to-server connection named by the host.
    pub fn server(connection_id: &str) -> Result<Self> {
        if connection_id.trim().is_empty()
            || connection_id.len() > 256
            || connection_id.chars().any(char::is_control)
        {
            return Err(Error::input(
                "connectionId",
                "must be 1 to 256 printable characters",
            ));
        }
        Ok(Self {
            account_id: connection_id.to_string(),
            owner: SERVER_OWNER.to_string(),
        })
    }

    /// The connection a call names, as the host gives it: a user's (`accountId` + `ownerId`, a
    /// missing one counting as empty) or a server flow's (`connectionId` alone). The one place the
    /// rules for a connection's identity live.
    pub fn from_parts(
        account_id: Option<&str>,
        owner: Option<&str>,
        connection_id: Option<&str>,
    ) -> Result<Self> {
        match (connection_id, account_id, owner) {
            (Some(c), None, None) => Self::server(c),
            (None, a, o) => Self::new(a.unwrap_or(""), o.unwrap_or("")),
            _ => Err(Error::input(
                "connectionId",
                "give either connectionId or accountId + ownerId, not both",
            )),
        }
    }

    /// The user ids `beginLogin` names (a login is always a user's): without a `connectionId` a
    /// missing id counts as empty (and [`ConnKey::new`] names it once the forward URL is checked);
    /// beside a `connectionId` both ids must be given.
    pub fn login_parts<'a>(
        account_id: Option<&'a str>,
        owner: Option<&'a str>,
        connection_id: Option<&str>,
    ) -> Result<(&'a str, &'a str)> {
        let required = |v: Option<&'a str>, field: &str| {
            v.ok_or_else(|| Error::input(field, format!("is missing field {field}")))
        };
        match connection_id {
            None => Ok((account_id.unwrap_or(""), owner.unwrap_or(""))),
            Some(_) => Ok((
                required(account_id, "accountId")?,
                required(owner, "ownerId")?,
            )),
        }
    }

    pub fn is_server(&self) -> bool {
        self.owner == SERVER_OWNER
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }
}

fn null_as_false<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

#[derive(Clone, Serialize, Deserialize)]
pub struct TokenData {
    pub access_token: AccessToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for TokenData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenData")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("issued_at", &self.issued_at)
            .field("instance_url", &self.instance_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub account_id: String,
    pub owner: String,
    pub token: TokenData,
    #[serde(default, deserialize_with = "null_as_false")]
    pub token_invalidated: bool,
    /// Why the connection was invalidated (a `ReconnectReason`), beside `token_invalidated`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_str"
    )]
    pub invalidated_reason: Option<String>,
    /// Ms since the epoch of the last successful token grant; absent on older records (unknown).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_ms"
    )]
    pub refreshed_at: Option<i64>,
    /// Fencing: grows on every write, so a conditional save can tell a newer record from ours.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_version"
    )]
    pub version: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `version` is a finite non-negative integer; a numeric string (PostgreSQL `bigint` through `pg`)
/// is accepted and normalised. Anything else is refused: read as 0 it would make every fenced
/// save lose and a rotated token be discarded.
fn strict_version<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    use serde::de::Error as _;
    let v = Option::<Value>::deserialize(d)?.unwrap_or(Value::Null);
    parse_version(&v).map_err(D::Error::custom)
}

/// The reason names the kind of value, never the value.
fn parse_version(v: &Value) -> std::result::Result<Option<u64>, String> {
    let bad =
        |what: &str| format!("must be a non-negative integer (or a string of digits), not {what}");
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_u64() {
            Some(v) => Ok(Some(v)),
            None => match n.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 9.0e15 => {
                    Ok(Some(f as u64))
                }
                _ => Err(bad("a fraction or a negative number")),
            },
        },
        Value::String(s) => {
            let t = s.trim();
            if !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()) {
                t.parse()
                    .map(Some)
                    .map_err(|_| bad("an out-of-range string"))
            } else {
                Err(bad("a non-numeric string"))
            }
        }
        other => Err(bad(crate::shape::kind(other))),
    }
}

fn lenient_str<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        _ => None,
    })
}

/// A number of ms (a `Date` stored by a JS host arrives as a number too); anything else is unknown.
fn lenient_ms<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        _ => None,
    })
}

/// The version a write gives a record replacing `prev`: strictly greater, and time-based so that a
/// fresh connection outranks any record a stale writer may still hold.
pub fn next_version(prev: Option<u64>) -> u64 {
    let now = crate::oauth::state::now_millis().max(0) as u64;
    prev.unwrap_or(0).saturating_add(1).max(now)
}

impl TokenRecord {
    /// The stored version (0 for records written before versions existed).
    pub fn stored_version(&self) -> u64 {
        self.version.unwrap_or(0)
    }

    /// Time since the last grant, None when unknown.
    pub fn idle_ms(&self, now_ms: i64) -> Option<u64> {
        self.refreshed_at
            .map(|t| now_ms.saturating_sub(t).max(0) as u64)
    }

    /// Why the stored record was invalidated (`other` for records that do not say).
    pub fn reason(&self) -> crate::token::reason::ReconnectReason {
        crate::token::reason::ReconnectReason::parse(
            self.invalidated_reason.as_deref().unwrap_or("other"),
        )
    }

    pub fn key(&self) -> Result<ConnKey> {
        ConnKey::of_record(&self.account_id, &self.owner)
    }

    /// Parses a record a store returned, saying what is wrong instead of failing obscurely.
    /// The message names the field and the expected type, never a value (it would be a token).
    pub fn from_store_json(v: Value) -> Result<Self> {
        use crate::shape::{check_fields, serde_reason, Want};
        let shape = |path: String, reason: String| {
            let at = if path.is_empty() {
                "the record".to_string()
            } else {
                path
            };
            Error::store(
                "find",
                format!("the stored record has an unexpected shape: {at} {reason}"),
            )
        };
        if let Some((p, r)) = check_fields(
            "",
            &v,
            &[
                ("account_id", Want::Str),
                ("owner", Want::Str),
                ("token_invalidated", Want::OptBool),
            ],
        ) {
            return Err(shape(p, r));
        }
        let token_fields = [
            ("access_token", Want::Str),
            ("refresh_token", Want::OptStr),
            ("issued_at", Want::OptStr),
            ("instance_url", Want::OptStr),
            ("id", Want::OptStr),
            ("scope", Want::OptStr),
        ];
        if let Some(Err(reason)) = v.get("version").map(parse_version) {
            return Err(shape("version".into(), reason));
        }
        match v.get("token") {
            None => return Err(shape("token".into(), "is required".into())),
            Some(t) => {
                if let Some((p, r)) = check_fields("token", t, &token_fields) {
                    return Err(shape(p, r));
                }
            }
        }
        serde_json::from_value(v).map_err(|e| shape(String::new(), serde_reason(&e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MARK: &str = "00DMARKERa1!AQ.secret";

    fn field_of(r: Result<ConnKey>) -> (String, String) {
        match r {
            Err(Error::InvalidInput { field, reason }) => (field, reason),
            other => panic!("expected INVALID_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn from_parts_is_the_one_identity_rule() {
        let user = ConnKey::from_parts(Some("a"), Some("o"), None).unwrap();
        assert_eq!((user.account_id(), user.owner()), ("a", "o"));
        let server = ConnKey::from_parts(None, None, Some("svc")).unwrap();
        assert!(server.is_server());
        assert_eq!(server.account_id(), "svc");
        let (f, r) = field_of(ConnKey::from_parts(Some("a"), None, Some("svc")));
        assert_eq!(f, "connectionId");
        assert_eq!(
            r,
            "give either connectionId or accountId + ownerId, not both"
        );
        assert_eq!(
            field_of(ConnKey::from_parts(None, None, None)).0,
            "accountId"
        );
        assert_eq!(
            field_of(ConnKey::from_parts(Some("a"), None, None)),
            ("ownerId".into(), "is required".into())
        );
        assert_eq!(
            field_of(ConnKey::from_parts(Some("a"), Some(SERVER_OWNER), None)).0,
            "ownerId"
        );
        assert_eq!(
            field_of(ConnKey::from_parts(None, None, Some(" "))),
            (
                "connectionId".into(),
                "must be 1 to 256 printable characters".into()
            )
        );
    }

    #[test]
    fn login_parts_need_both_ids_beside_a_connection_id() {
        assert_eq!(
            ConnKey::login_parts(None, Some("o"), None).unwrap(),
            ("", "o")
        );
        match ConnKey::login_parts(Some("a"), None, Some("c")) {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(
                    (field.as_str(), reason.as_str()),
                    ("ownerId", "is missing field ownerId")
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shape_errors_never_echo_values() {
        let good_token = json!({ "access_token": MARK, "refresh_token": MARK });
        let cases = [
            json!({ "account_id": "a", "owner": "u", "token": MARK }),
            json!({ "account_id": "a", "owner": "u", "token": json!({ "access_token": MARK, "refresh_token": MARK }).to_string() }),
            json!({ "account_id": "a", "owner": "u", "token": [MARK] }),
            json!({ "account_id": "a", "owner": "u", "token": { "access_token": [MARK], "refresh_token": MARK } }),
            json!({ "account_id": "a", "owner": "u", "token": { "access_token": MARK, "refresh_token": { "v": MARK } } }),
            json!({ "account_id": "a", "owner": "u", "token": { "access_token": MARK, "instance_url": 5 } }),
            json!({ "account_id": MARK.len(), "owner": "u", "token": good_token }),
            json!({ "account_id": "a", "owner": [MARK], "token": good_token }),
            json!({ "account_id": "a", "owner": "u", "token": good_token, "token_invalidated": MARK }),
            json!({ "owner": "u", "token": good_token }),
        ];
        for c in cases {
            let e = TokenRecord::from_store_json(c.clone()).unwrap_err();
            let text = format!("{e} {e:?} {}", serde_json::to_string(&e.to_wire()).unwrap());
            assert!(!text.contains("MARKER"), "{text}");
            assert_eq!(e.code(), "STORE_ERROR");
            assert!(
                text.contains("must be") || text.contains("is required"),
                "{text}"
            );
        }
    }

    #[test]
    fn version_is_a_finite_integer_or_digits() {
        let rec = |v: Value| {
            TokenRecord::from_store_json(json!({
                "account_id": "a", "owner": "o", "token": { "access_token": "x" }, "version": v
            }))
        };
        assert_eq!(rec(json!(7)).unwrap().version, Some(7));
        assert_eq!(rec(json!(7.0)).unwrap().version, Some(7));
        assert_eq!(
            rec(json!("1765000000000")).unwrap().version,
            Some(1_765_000_000_000)
        );
        assert_eq!(rec(Value::Null).unwrap().version, None);
        for bad in [
            json!(-1),
            json!(1.5),
            json!("abc"),
            json!(""),
            json!(true),
            json!({}),
        ] {
            match rec(bad.clone()) {
                Err(Error::Store { message, .. }) => {
                    assert!(message.contains("version"), "{message}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
