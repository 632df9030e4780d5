//! Sync checkpoints: where a sync stands, as an opaque string the host stores. The payload is
//! JSON, sealed with HMAC-SHA256 under `stateSecret` (with its own domain prefix, so no other
//! signed value can pass for one) and tied to one connection and one export type.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::salesforce::soql::ExportType;
use crate::secret::StateSecret;
use crate::token::record::ConnKey;

const DOMAIN: &[u8] = b"forcelink.sync.checkpoint.v1\0";
/// Checkpoints carry hashes of the rows delivered inside the lookback; this bounds their size.
pub const MAX_LEN: usize = 512 * 1024;

/// A position in (SystemModstamp, Id) order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pos {
    /// SystemModstamp, ms since the epoch.
    pub ts: i64,
    /// `None`: every row stamped `ts` or earlier has been read; `Some(id)`: rows up to
    /// (`ts`, `id`) have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Pos {
    fn rank(&self) -> (i64, u8, &str) {
        match &self.id {
            Some(id) => (self.ts, 0, id),
            None => (self.ts, 1, ""),
        }
    }

    pub fn le(&self, other: &Pos) -> bool {
        self.rank() <= other.rank()
    }
}

/// What a checkpoint records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "camelCase")]
pub enum Phase {
    /// Reading changes in (SystemModstamp, Id) order; `pos` has been delivered.
    Walk { pos: Pos },
    /// An initial sync through a Bulk job started at Salesforce time `start`; `skip` records
    /// of its results have been delivered.
    Bulk { job: String, skip: u64, start: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(flatten)]
    pub phase: Phase,
    /// Deletes are known up to this Salesforce time (ms).
    pub deletes_at: i64,
    /// The delete log's `earliestDateAvailable` when last read (ms; 0 = unknown).
    #[serde(default)]
    pub earliest: i64,
    /// (SystemModstamp ms, hash of the row version) of rows delivered inside the lookback,
    /// packed and base64url-encoded.
    #[serde(default)]
    pub seen: String,
    /// `fields: 'all'`: the field list the rows so far were read with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// `formulaRefresh`: Salesforce time (ms) of the last complete re-read of formula fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula_at: Option<i64>,
    /// A formula re-read under way: records up to this Id have been re-read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula_after: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    /// Connection tag.
    c: String,
    /// Export type name.
    t: String,
    /// Tag of the type's object and fields.
    f: String,
    #[serde(flatten)]
    s: State,
    /// `sync({ live })`: the replay id of the last change event delivered (opaque bytes,
    /// base64url), absent when the position is the walk's alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<String>,
}

fn tag(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    B64.encode(&h.finalize()[..12])
}

fn mac(secret: &StateSecret, body: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; the fallback is unreachable.
    let mut m = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| Hmac::<Sha256>::new_from_slice(b"forcelink").expect("static key"));
    m.update(DOMAIN);
    m.update(body.as_bytes());
    m
}

/// Seals and opens checkpoints for one connection and type.
pub struct Sealer<'a> {
    pub secret: &'a StateSecret,
    pub key: &'a ConnKey,
    pub type_name: &'a str,
    pub ty: &'a ExportType,
}

impl Sealer<'_> {
    fn conn_tag(&self) -> String {
        tag(&[self.key.account_id(), self.key.owner()])
    }

    fn fields_tag(&self) -> String {
        // `fields: 'all'` follows the org's schema: its list lives in the checkpoint instead.
        if self.ty.all {
            return tag(&[self.ty.object.as_str(), "\u{0}all"]);
        }
        let fields: Vec<&str> = self.ty.fields.iter().map(|f| f.as_str()).collect();
        tag(&[self.ty.object.as_str(), &fields.join(",")])
    }

    pub fn seal(&self, s: &State) -> Result<String> {
        self.seal_live(s, None)
    }

    /// Seals a live position: the walk's state plus the stream's replay id.
    pub fn seal_live(&self, s: &State, replay: Option<&[u8]>) -> Result<String> {
        let p = Payload {
            r: replay.map(|r| B64.encode(r)),
            v: 1,
            c: self.conn_tag(),
            t: self.type_name.to_string(),
            f: self.fields_tag(),
            s: s.clone(),
        };
        let json =
            serde_json::to_vec(&p).map_err(|e| Error::Internal(format!("checkpoint: {e}")))?;
        let body = B64.encode(json);
        let sig = B64.encode(mac(self.secret, &body).finalize().into_bytes());
        Ok(format!("{body}.{sig}"))
    }

    /// Verifies the seal, then that the checkpoint belongs to this connection and type. A type
    /// whose fields changed since needs a full resync (rows already synced lack the new fields).
    pub fn open(&self, text: &str) -> Result<State> {
        self.open_live(text).map(|(s, _)| s)
    }

    /// Opens a checkpoint with the replay id a live sync left in it (None for a polling one).
    pub fn open_live(&self, text: &str) -> Result<(State, Option<Vec<u8>>)> {
        let bad = |why: &str| Error::input("checkpoint", why.to_string());
        if text.len() > MAX_LEN {
            return Err(bad("is too long"));
        }
        let (body, sig) = text
            .split_once('.')
            .ok_or_else(|| bad("is not a forcelink sync checkpoint"))?;
        let sig = B64
            .decode(sig)
            .map_err(|_| bad("is not a forcelink sync checkpoint"))?;
        mac(self.secret, body)
            .verify_slice(&sig)
            .map_err(|_| bad("has been altered or was not issued by this server"))?;
        let json = B64.decode(body).map_err(|_| bad("is malformed"))?;
        let p: Payload = serde_json::from_slice(&json).map_err(|_| bad("is malformed"))?;
        if p.v != 1 {
            return Err(bad("has an unsupported version"));
        }
        if p.c != self.conn_tag() || p.t != self.type_name {
            return Err(bad("belongs to another connection or type"));
        }
        if p.f != self.fields_tag() {
            return Err(Error::FullResyncRequired {
                reason: "the export type's object or fields changed since the checkpoint".into(),
            });
        }
        let replay = match p.r {
            Some(r) => Some(B64.decode(r).map_err(|_| bad("is malformed"))?),
            None => None,
        };
        Ok((p.s, replay))
    }
}

fn h64(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b)
}

/// Hash of a record's Id (in its own namespace: records, or delete-log entries).
pub fn id_hash(space: &str, id: &str) -> u64 {
    h64(&[space.as_bytes(), id.as_bytes()])
}

/// Hash of one row version: stamp and content. Stamps are whole seconds, so two versions (an
/// update, then a delete) can share one; the content tells them apart.
pub fn version_hash(ts: i64, row: &str) -> u64 {
    h64(&[&ts.to_le_bytes(), row.as_bytes()])
}

/// One delivered row: (SystemModstamp ms, Id hash, version hash).
pub type Seen = (i64, u64, u64);

pub fn pack_seen(entries: impl Iterator<Item = Seen>) -> String {
    let mut out = Vec::new();
    for (ts, id, v) in entries {
        out.extend_from_slice(&ts.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }
    B64.encode(out)
}

pub fn unpack_seen(s: &str) -> Vec<Seen> {
    let Ok(bytes) = B64.decode(s) else {
        return Vec::new();
    };
    let word = |c: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        a
    };
    bytes
        .chunks_exact(24)
        .map(|c| {
            (
                i64::from_le_bytes(word(&c[..8])),
                u64::from_le_bytes(word(&c[8..16])),
                u64::from_le_bytes(word(&c[16..])),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            phase: Phase::Walk {
                pos: Pos {
                    ts: 1_700_000_000_000,
                    id: Some("003000000000001AAA".into()),
                },
            },
            deletes_at: 1_700_000_000_000,
            earliest: 1_600_000_000_000,
            seen: pack_seen([(1, 2, 3), (4, 5, 6)].into_iter()),
            fields: None,
            formula_at: None,
            formula_after: None,
        }
    }

    #[test]
    fn round_trip_tamper_and_foreign() {
        let secret = StateSecret::new("s".repeat(32));
        let key = ConnKey::new("acc", "usr").unwrap();
        let ty = ExportType::new("Contact", &["Name"]).unwrap();
        let s = Sealer {
            secret: &secret,
            key: &key,
            type_name: "contacts",
            ty: &ty,
        };
        let cp = s.seal(&state()).unwrap();
        assert_eq!(s.open(&cp).unwrap(), state());
        assert_eq!(unpack_seen(&state().seen), vec![(1, 2, 3), (4, 5, 6)]);
        // Any changed character breaks the seal.
        for i in [0, cp.len() / 2, cp.len() - 1] {
            let mut b = cp.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let e = s.open(&String::from_utf8(b).unwrap()).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT");
        }
        let other_key = ConnKey::new("acc", "someone-else").unwrap();
        let foreign = Sealer {
            secret: &secret,
            key: &other_key,
            type_name: "contacts",
            ty: &ty,
        };
        assert_eq!(foreign.open(&cp).unwrap_err().code(), "INVALID_INPUT");
        let other_type = Sealer {
            secret: &secret,
            key: &key,
            type_name: "deals",
            ty: &ty,
        };
        assert_eq!(other_type.open(&cp).unwrap_err().code(), "INVALID_INPUT");
        let other_secret = StateSecret::new("t".repeat(32));
        let forged = Sealer {
            secret: &other_secret,
            key: &key,
            type_name: "contacts",
            ty: &ty,
        };
        assert_eq!(forged.open(&cp).unwrap_err().code(), "INVALID_INPUT");
        let ty2 = ExportType::new("Contact", &["Name", "Email"]).unwrap();
        let changed = Sealer {
            secret: &secret,
            key: &key,
            type_name: "contacts",
            ty: &ty2,
        };
        assert_eq!(
            changed.open(&cp).unwrap_err().code(),
            "FULL_RESYNC_REQUIRED"
        );
        assert_eq!(s.open("garbage").unwrap_err().code(), "INVALID_INPUT");
    }

    #[test]
    fn positions_order_by_stamp_then_id() {
        let p = |ts, id: Option<&str>| Pos {
            ts,
            id: id.map(str::to_string),
        };
        assert!(p(1, Some("a")).le(&p(1, Some("b"))));
        assert!(p(1, Some("z")).le(&p(1, None)));
        assert!(p(1, None).le(&p(2, Some("a"))));
        assert!(!p(2, None).le(&p(1, None)));
    }
}
