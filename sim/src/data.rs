//! Procedural org data. Every field is a pure function of (seed, object, index), so a
//! million contacts cost no memory and any row can be produced in O(1). Ids, CreatedDate
//! and SystemModstamp grow strictly with the index, which lets the executor turn
//! `WHERE Id > '…'` / `ORDER BY Id` into index arithmetic. The write overlay
//! (`overlay.rs`: created records and field updates) sits in front of [`Data::value`].

use std::borrow::Cow;
use std::sync::Arc;

use crate::overlay::{Overlay, Rec};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Obj {
    Account,
    Contact,
    Opportunity,
    Note,
    User,
}

/// Field type; drives literal type-checking and JSON rendering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Id,
    Ref(Obj),
    Str,
    Num,
    Bool,
    DateTime,
    Date,
}

/// Field identity (the same key may appear on several objects).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F {
    Id,
    IsDeleted,
    Name,
    FirstName,
    LastName,
    Title,
    Phone,
    Email,
    AccountId,
    OwnerId,
    CreatedById,
    LastModifiedById,
    CreatedDate,
    LastModifiedDate,
    SystemModstamp,
    Amount,
    Probability,
    CloseDate,
    StageName,
    IsClosed,
    IsWon,
    OppType,
    Body,
    IsPrivate,
    ParentId,
    Alias,
    Username,
    IsActive,
    Industry,
    AccType,
    Website,
    BillingCity,
    BillingStreet,
    BillingPostalCode,
    BillingCountry,
    Latitude,
    Longitude,
    /// Compound fields (`BillingAddress`, `Location__c`): selected in REST, rendered as an
    /// object of their components (see `schema::push_compound`); never stored.
    CompoundAddress,
    CompoundLocation,
    /// Contact formula `Account_Industry__c`: its account's Industry (changes with the account,
    /// without the contact's SystemModstamp moving).
    AccountIndustry,
    /// A custom field added at runtime (`schema.rs`), by its index there.
    Extra(u16),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldDef {
    pub name: &'static str,
    pub f: F,
    pub ty: Ty,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RelDef {
    pub name: &'static str,
    /// The lookup field holding the parent's Id.
    pub via: F,
    pub target: Obj,
    /// `attributes.type` of the nested record (polymorphic lookups say "Name").
    pub attr_type: &'static str,
}

const fn fd(name: &'static str, f: F, ty: Ty) -> FieldDef {
    FieldDef { name, f, ty }
}
const fn rd(name: &'static str, via: F, target: Obj, attr_type: &'static str) -> RelDef {
    RelDef {
        name,
        via,
        target,
        attr_type,
    }
}

macro_rules! audit_fields {
    ($($f:expr),* $(,)?) => {
        [
            fd("Id", F::Id, Ty::Id),
            fd("IsDeleted", F::IsDeleted, Ty::Bool),
            $($f,)*
            fd("OwnerId", F::OwnerId, Ty::Ref(Obj::User)),
            fd("CreatedDate", F::CreatedDate, Ty::DateTime),
            fd("CreatedById", F::CreatedById, Ty::Ref(Obj::User)),
            fd("LastModifiedDate", F::LastModifiedDate, Ty::DateTime),
            fd("LastModifiedById", F::LastModifiedById, Ty::Ref(Obj::User)),
            fd("SystemModstamp", F::SystemModstamp, Ty::DateTime),
        ]
    };
}

static CONTACT_FIELDS: [FieldDef; 16] = audit_fields![
    fd("AccountId", F::AccountId, Ty::Ref(Obj::Account)),
    fd("LastName", F::LastName, Ty::Str),
    fd("FirstName", F::FirstName, Ty::Str),
    fd("Name", F::Name, Ty::Str),
    fd("Title", F::Title, Ty::Str),
    fd("Phone", F::Phone, Ty::Str),
    fd("Email", F::Email, Ty::Str),
    fd("Account_Industry__c", F::AccountIndustry, Ty::Str),
];
static OPP_FIELDS: [FieldDef; 17] = audit_fields![
    fd("AccountId", F::AccountId, Ty::Ref(Obj::Account)),
    fd("Name", F::Name, Ty::Str),
    fd("StageName", F::StageName, Ty::Str),
    fd("Amount", F::Amount, Ty::Num),
    fd("Probability", F::Probability, Ty::Num),
    fd("CloseDate", F::CloseDate, Ty::Date),
    fd("Type", F::OppType, Ty::Str),
    fd("IsClosed", F::IsClosed, Ty::Bool),
    fd("IsWon", F::IsWon, Ty::Bool),
];
static NOTE_FIELDS: [FieldDef; 12] = audit_fields![
    fd("ParentId", F::ParentId, Ty::Ref(Obj::Contact)),
    fd("Title", F::Title, Ty::Str),
    fd("IsPrivate", F::IsPrivate, Ty::Bool),
    fd("Body", F::Body, Ty::Str),
];
// BillingStreet…BillingCountry are the components of the compound `BillingAddress`, the two
// `Location__…__s` of the geolocation `Location__c` (both compounds are described, see schema.rs).
static ACCOUNT_FIELDS: [FieldDef; 19] = audit_fields![
    fd("Name", F::Name, Ty::Str),
    fd("Type", F::AccType, Ty::Str),
    fd("Industry", F::Industry, Ty::Str),
    fd("Phone", F::Phone, Ty::Str),
    fd("Website", F::Website, Ty::Str),
    fd("BillingStreet", F::BillingStreet, Ty::Str),
    fd("BillingCity", F::BillingCity, Ty::Str),
    fd("BillingPostalCode", F::BillingPostalCode, Ty::Str),
    fd("BillingCountry", F::BillingCountry, Ty::Str),
    fd("Location__Latitude__s", F::Latitude, Ty::Num),
    fd("Location__Longitude__s", F::Longitude, Ty::Num),
];
// Users have no OwnerId in Salesforce; listed without the audit macro.
static USER_FIELDS: [FieldDef; 14] = [
    fd("Id", F::Id, Ty::Id),
    fd("Username", F::Username, Ty::Str),
    fd("LastName", F::LastName, Ty::Str),
    fd("FirstName", F::FirstName, Ty::Str),
    fd("Name", F::Name, Ty::Str),
    fd("Alias", F::Alias, Ty::Str),
    fd("Email", F::Email, Ty::Str),
    fd("Title", F::Title, Ty::Str),
    fd("IsActive", F::IsActive, Ty::Bool),
    fd("CreatedDate", F::CreatedDate, Ty::DateTime),
    fd("CreatedById", F::CreatedById, Ty::Ref(Obj::User)),
    fd("LastModifiedDate", F::LastModifiedDate, Ty::DateTime),
    fd("LastModifiedById", F::LastModifiedById, Ty::Ref(Obj::User)),
    fd("SystemModstamp", F::SystemModstamp, Ty::DateTime),
];

const OWNER: RelDef = rd("Owner", F::OwnerId, Obj::User, "User");
const CREATED_BY: RelDef = rd("CreatedBy", F::CreatedById, Obj::User, "User");
const MODIFIED_BY: RelDef = rd("LastModifiedBy", F::LastModifiedById, Obj::User, "User");
const ACCOUNT: RelDef = rd("Account", F::AccountId, Obj::Account, "Account");

static CONTACT_RELS: [RelDef; 4] = [ACCOUNT, OWNER, CREATED_BY, MODIFIED_BY];
static OPP_RELS: [RelDef; 4] = [ACCOUNT, OWNER, CREATED_BY, MODIFIED_BY];
// Note.Parent is polymorphic in Salesforce (type "Name"); here it always points at a Contact.
static NOTE_RELS: [RelDef; 4] = [
    rd("Parent", F::ParentId, Obj::Contact, "Name"),
    OWNER,
    CREATED_BY,
    MODIFIED_BY,
];
static ACCOUNT_RELS: [RelDef; 3] = [OWNER, CREATED_BY, MODIFIED_BY];
static USER_RELS: [RelDef; 2] = [CREATED_BY, MODIFIED_BY];

impl Obj {
    pub const ALL: [Obj; 5] = [
        Obj::Account,
        Obj::Contact,
        Obj::Opportunity,
        Obj::Note,
        Obj::User,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Obj::Account => "Account",
            Obj::Contact => "Contact",
            Obj::Opportunity => "Opportunity",
            Obj::Note => "Note",
            Obj::User => "User",
        }
    }
    pub fn prefix(self) -> &'static [u8; 3] {
        match self {
            Obj::Account => b"001",
            Obj::Contact => b"003",
            Obj::Opportunity => b"006",
            Obj::Note => b"002",
            Obj::User => b"005",
        }
    }
    pub fn from_name(s: &str) -> Option<Obj> {
        Obj::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(s))
    }
    pub fn fields(self) -> &'static [FieldDef] {
        match self {
            Obj::Account => &ACCOUNT_FIELDS,
            Obj::Contact => &CONTACT_FIELDS,
            Obj::Opportunity => &OPP_FIELDS,
            Obj::Note => &NOTE_FIELDS,
            Obj::User => &USER_FIELDS,
        }
    }
    pub fn rels(self) -> &'static [RelDef] {
        match self {
            Obj::Account => &ACCOUNT_RELS,
            Obj::Contact => &CONTACT_RELS,
            Obj::Opportunity => &OPP_RELS,
            Obj::Note => &NOTE_RELS,
            Obj::User => &USER_RELS,
        }
    }
    /// Definition of field `f` on this object.
    pub fn def(self, f: F) -> Option<FieldDef> {
        self.fields().iter().copied().find(|d| d.f == f)
    }
    pub fn field(self, name: &str) -> Option<FieldDef> {
        self.fields()
            .iter()
            .copied()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .or_else(|| crate::schema::added(self, name))
    }
    pub fn rel(self, name: &str) -> Option<RelDef> {
        self.rels()
            .iter()
            .copied()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }
}

/// True for fields that increase strictly with the record index (index-order sortable,
/// range-searchable).
pub fn is_monotone(f: F) -> bool {
    matches!(
        f,
        F::Id | F::CreatedDate | F::LastModifiedDate | F::SystemModstamp
    )
}

// ---------------------------------------------------------------------------------------
// Ids

const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Fixed tail instead of Salesforce's case-checksum, which would break sort order.
const ID_SUFFIX: &[u8; 3] = b"AAK";
pub const ORG_ID: &str = "00D5g000004XYZaEAK";
pub const ORG_ID15: &str = "00D5g000004XYZa";

/// `<prefix>5g00<8 base62 digits of idx>AAK`: 18 chars whose byte order equals index
/// order (base62 digits are in ASCII order: 0-9 < A-Z < a-z).
pub fn id_bytes(obj: Obj, idx: u64) -> [u8; 18] {
    let mut out = [0u8; 18];
    out[..3].copy_from_slice(obj.prefix());
    out[3..7].copy_from_slice(b"5g00");
    let mut v = idx;
    for k in (7..15).rev() {
        out[k] = B62[(v % 62) as usize];
        v /= 62;
    }
    out[15..].copy_from_slice(ID_SUFFIX);
    out
}

/// Inverse of [`id_bytes`] for 15- or 18-char Ids of this simulator's scheme. None for
/// anything else (including real Salesforce Ids).
pub fn parse_id(s: &str) -> Option<(Obj, u64)> {
    let b = normalize_id_literal(s)?;
    if &b[3..7] != b"5g00" || &b[15..] != ID_SUFFIX {
        return None;
    }
    let obj = Obj::ALL.into_iter().find(|o| &b[..3] == o.prefix())?;
    let mut idx = 0u64;
    for &c in &b[7..15] {
        let d = B62.iter().position(|&x| x == c)? as u64;
        idx = idx * 62 + d;
    }
    Some((obj, idx))
}

pub fn id_string(obj: Obj, idx: u64) -> String {
    String::from_utf8_lossy(&id_bytes(obj, idx)).into_owned()
}

/// Normalises an Id literal for comparison: 15-char ids get our fixed suffix so they
/// compare equal to the 18-char form. Returns None when it is not Id-shaped.
pub fn normalize_id_literal(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    match b.len() {
        15 => {
            let mut v = b.to_vec();
            v.extend_from_slice(ID_SUFFIX);
            Some(v)
        }
        18 => Some(b.to_vec()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Values

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'static, str>),
    Id(Obj, u64),
    /// ms since epoch
    DateTime(i64),
    /// days since epoch
    Date(i64),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// 2024-01-01T00:00:00Z: the first record's CreatedDate.
pub const BASE_MS: i64 = 1_704_067_200_000;
/// Records are created one minute apart; SystemModstamp adds < 1 minute so it stays
/// strictly increasing too.
pub const INTERVAL_MS: i64 = 60_000;
pub const USERS: u64 = 10;
/// Per-object record cap: ids carry 8 base62 digits (62^8 ≈ 2.2e14), so stay well below.
pub const MAX_RECORDS: u64 = 1_000_000_000_000;

/// Record counts + seed + a snapshot of the write overlay. Cheap to clone: cursors and
/// bulk jobs keep their own snapshot, so a re-seed or a later write does not disturb
/// paging that is under way.
#[derive(Clone, Debug, Default)]
pub struct Data {
    pub seed: u64,
    pub contacts: u64,
    pub deals: u64,
    pub notes: u64,
    pub overlay: Arc<Overlay>,
}

fn mix(mut z: u64) -> u64 {
    // splitmix64 finaliser
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(table: &[T], h: u64) -> T {
    table[(h % table.len() as u64) as usize]
}

impl Data {
    pub fn accounts(&self) -> u64 {
        (self.contacts.saturating_add(self.deals) / 10).clamp(5, MAX_RECORDS)
    }

    pub fn new(seed: u64, contacts: u64, deals: u64, notes: u64) -> Data {
        Data {
            seed,
            contacts,
            deals,
            notes,
            overlay: Arc::default(),
        }
    }

    /// Records of `obj`: generated ones plus those created through the API.
    pub fn count(&self, obj: Obj) -> u64 {
        let created = self.overlay.obj(obj).created.len() as u64;
        self.gen_count(obj).saturating_add(created)
    }

    /// Generated records of `obj` (created records get the indices after these).
    pub fn gen_count(&self, obj: Obj) -> u64 {
        let n = match obj {
            Obj::Account => self.accounts(),
            Obj::Contact => self.contacts,
            Obj::Opportunity => self.deals,
            Obj::Note => self.notes,
            Obj::User => USERS,
        };
        n.min(MAX_RECORDS)
    }

    fn h(&self, obj: Obj, idx: u64, salt: u64) -> u64 {
        mix(self.seed ^ mix(idx ^ ((obj as u64) << 58) ^ (salt << 50)))
    }

    pub fn created_ms(&self, idx: u64) -> i64 {
        BASE_MS.saturating_add((idx.min(MAX_RECORDS) as i64).saturating_mul(INTERVAL_MS))
    }

    pub fn modstamp_ms(&self, obj: Obj, idx: u64) -> i64 {
        self.created_ms(idx)
            .saturating_add((self.h(obj, idx, 9) % 59) as i64 * 1000)
    }

    /// Index of the parent record a lookup field points at (None = empty lookup), after
    /// any write.
    pub fn parent(&self, obj: Obj, idx: u64, via: F) -> Option<u64> {
        if self.overlay.is_empty() {
            return self.gen_parent(obj, idx, via);
        }
        match self.value(obj, idx, via) {
            Value::Id(_, p) => Some(p),
            _ => None,
        }
    }

    /// The generated lookup (what the record held before any write).
    fn gen_parent(&self, obj: Obj, idx: u64, via: F) -> Option<u64> {
        match via {
            F::AccountId => {
                // About one in ten contacts/deals has no account.
                let h = self.h(obj, idx, 5);
                (!h.is_multiple_of(10)).then(|| (h / 10) % self.accounts())
            }
            F::OwnerId => Some(self.h(obj, idx, 7) % USERS),
            F::CreatedById | F::LastModifiedById => Some(self.h(obj, idx, 8) % USERS),
            F::ParentId => {
                let n = self.gen_count(Obj::Contact);
                (n > 0).then(|| self.h(obj, idx, 6) % n)
            }
            _ => None,
        }
    }

    fn person(&self, obj: Obj, idx: u64) -> (Name2, Name2) {
        (
            pick(FIRST, self.h(obj, idx, 1)),
            pick(LAST, self.h(obj, idx, 2)),
        )
    }

    fn account_parts(&self, idx: u64) -> (&'static str, &'static str) {
        (
            pick(ACCT_A, self.h(Obj::Account, idx, 1)),
            pick(ACCT_B, self.h(Obj::Account, idx, 2)),
        )
    }

    fn account_name(&self, idx: u64) -> String {
        let (a, b) = self.account_parts(idx);
        format!("{a} {b}")
    }

    fn account_domain(&self, idx: u64) -> String {
        let (a, b) = self.account_parts(idx);
        let mut s: String = a
            .chars()
            .chain(b.chars())
            .filter(char::is_ascii_alphanumeric)
            .collect();
        s.make_ascii_lowercase();
        s.push_str(".com");
        s
    }

    fn phone(&self, obj: Obj, idx: u64) -> String {
        let h = self.h(obj, idx, 3);
        format!("({}) 555-{:04}", pick(AREA, h), (h >> 20) % 10_000)
    }

    fn stage(&self, idx: u64) -> (&'static str, f64) {
        pick(STAGES, self.h(Obj::Opportunity, idx, 4))
    }

    /// Field value after writes: a created record's stored fields, or a generated record
    /// with its updated fields laid over it.
    pub fn value(&self, obj: Obj, idx: u64, f: F) -> Value {
        if obj == Obj::Contact && f == F::AccountIndustry {
            return match self.value(obj, idx, F::AccountId) {
                Value::Id(Obj::Account, a) => self.value(Obj::Account, a, F::Industry),
                _ => Value::Null,
            };
        }
        if !self.overlay.is_empty() {
            let ov = self.overlay.obj(obj);
            if f == F::IsDeleted && obj.def(F::IsDeleted).is_some() {
                return Value::Bool(ov.deleted.contains_key(&idx));
            }
            let n = self.gen_count(obj);
            if idx >= n {
                let k = usize::try_from(idx - n).unwrap_or(usize::MAX);
                // Past the created records: connection users (tokens.rs) live there and
                // are generated like any other user.
                if let Some(rec) = ov.created.get(k) {
                    return self.rec_value(obj, idx, rec, f, true);
                }
            }
            if let Some(rec) = ov.updated.get(&idx) {
                return self.rec_value(obj, idx, rec, f, false);
            }
        }
        self.gen_value(obj, idx, f)
    }

    /// Value of `f` on an overlay record. Fields Salesforce computes (Name from
    /// First/Last, IsClosed/IsWon/Probability from StageName) are recomputed when their
    /// inputs were written; other unwritten fields fall back to the generated value
    /// (updated records) or to null/false (created records).
    fn rec_value(&self, obj: Obj, idx: u64, rec: &Rec, f: F, created: bool) -> Value {
        if f == F::Id {
            return Value::Id(obj, idx);
        }
        if let Some(v) = rec.get(f) {
            return v.clone();
        }
        match (obj, f) {
            (Obj::Contact | Obj::User, F::Name)
                if created || rec.get(F::FirstName).is_some() || rec.get(F::LastName).is_some() =>
            {
                let parts = [
                    self.value(obj, idx, F::FirstName),
                    self.value(obj, idx, F::LastName),
                ];
                let name: Vec<&str> = parts
                    .iter()
                    .filter_map(|v| match v {
                        Value::Str(s) if !s.is_empty() => Some(s.as_ref()),
                        _ => None,
                    })
                    .collect();
                if name.is_empty() {
                    Value::Null
                } else {
                    Value::Str(Cow::Owned(name.join(" ")))
                }
            }
            (Obj::Opportunity, F::IsClosed | F::IsWon | F::Probability)
                if created || rec.get(F::StageName).is_some() =>
            {
                let stage = match self.value(obj, idx, F::StageName) {
                    Value::Str(s) => s.into_owned(),
                    _ => String::new(),
                };
                match f {
                    F::IsClosed => Value::Bool(stage.starts_with("Closed")),
                    F::IsWon => Value::Bool(stage == "Closed Won"),
                    _ => STAGES
                        .iter()
                        .find(|s| s.0 == stage)
                        .map_or(Value::Null, |s| Value::Num(s.1)),
                }
            }
            _ if created => match f {
                // Checkboxes are never null in Salesforce.
                F::IsDeleted | F::IsPrivate | F::IsActive | F::IsClosed | F::IsWon => {
                    Value::Bool(false)
                }
                _ => Value::Null,
            },
            _ => self.gen_value(obj, idx, f),
        }
    }

    /// Generated email of a contact (Email is never null for generated contacts), used by
    /// the duplicate rule: finds a generated contact whose original email is `email`
    /// (case-insensitive). Only names from the generator's tables can match, so most
    /// emails are rejected without scanning.
    pub fn find_generated_contact_email(&self, email: &str) -> Option<u64> {
        let email = email.to_ascii_lowercase();
        let (local, _) = email.split_once('@')?;
        let (first, rest) = local.split_once('.')?;
        let last = rest.trim_end_matches(|c: char| c.is_ascii_digit());
        let fi = FIRST.iter().position(|n| n.1 == first)?;
        let li = LAST.iter().position(|n| n.1 == last)?;
        let (nf, nl) = (FIRST.len() as u64, LAST.len() as u64);
        (0..self.gen_count(Obj::Contact)).find(|&i| {
            self.h(Obj::Contact, i, 1) % nf == fi as u64
                && self.h(Obj::Contact, i, 2) % nl == li as u64
                && matches!(self.gen_value(Obj::Contact, i, F::Email), Value::Str(s) if s.eq_ignore_ascii_case(&email))
        })
    }

    /// The generated value, ignoring writes.
    pub fn gen_value(&self, obj: Obj, idx: u64, f: F) -> Value {
        use Value::*;
        let s = |v: &'static str| Str(Cow::Borrowed(v));
        let own = |v: String| Str(Cow::Owned(v));
        match (obj, f) {
            (_, F::Id) => Id(obj, idx),
            (_, F::IsDeleted) => Bool(false),
            (_, F::CreatedDate) => DateTime(self.created_ms(idx)),
            (_, F::LastModifiedDate | F::SystemModstamp) => DateTime(self.modstamp_ms(obj, idx)),
            (_, F::AccountId | F::OwnerId | F::CreatedById | F::LastModifiedById | F::ParentId) => {
                let target = match f {
                    F::AccountId => Obj::Account,
                    F::ParentId => Obj::Contact,
                    _ => Obj::User,
                };
                self.gen_parent(obj, idx, f).map_or(Null, |p| Id(target, p))
            }
            (Obj::Contact | Obj::User, F::FirstName) => s(self.person(obj, idx).0 .0),
            (Obj::Contact | Obj::User, F::LastName) => s(self.person(obj, idx).1 .0),
            (Obj::Contact | Obj::User, F::Name) => {
                let (a, b) = self.person(obj, idx);
                own(format!("{} {}", a.0, b.0))
            }
            (Obj::Contact, F::Title) => s(pick(TITLES, self.h(obj, idx, 10))),
            (Obj::User, F::Title) => s(pick(USER_TITLES, self.h(obj, idx, 10))),
            (Obj::Contact | Obj::Account, F::Phone) => own(self.phone(obj, idx)),
            (Obj::Contact, F::Email) => {
                let (a, b) = self.person(obj, idx);
                let h = self.h(obj, idx, 11);
                let domain = match self.gen_parent(obj, idx, F::AccountId) {
                    Some(acc) => self.account_domain(acc),
                    None => pick(FREEMAIL, h).to_string(),
                };
                let num = if h.is_multiple_of(4) {
                    ((h >> 8) % 90 + 10).to_string()
                } else {
                    String::new()
                };
                own(format!("{}.{}{num}@{domain}", a.1, b.1))
            }
            (Obj::User, F::Email | F::Username) => {
                let (a, b) = self.person(obj, idx);
                let tail = if f == F::Username { ".sim" } else { "" };
                own(format!("{}.{}{idx}@forcelink-sim.example{tail}", a.1, b.1))
            }
            (Obj::User, F::Alias) => {
                let (a, b) = self.person(obj, idx);
                let mut alias: String = a.1.chars().take(1).chain(b.1.chars()).take(7).collect();
                alias.push_str(&idx.to_string());
                own(alias.chars().take(8).collect())
            }
            (Obj::User, F::IsActive) => Bool(true),
            (Obj::Account, F::Name) => own(self.account_name(idx)),
            (Obj::Account, F::AccType) => s(pick(ACCT_TYPES, self.h(obj, idx, 12))),
            (Obj::Account, F::Industry) => s(pick(INDUSTRIES, self.h(obj, idx, 13))),
            (Obj::Account, F::Website) => own(format!("https://www.{}", self.account_domain(idx))),
            (Obj::Account, F::BillingCity) => s(pick(CITIES, self.h(obj, idx, 14))),
            (Obj::Account, F::BillingStreet) => own(format!(
                "{} Market Street",
                self.h(obj, idx, 22) % 9000 + 100
            )),
            (Obj::Account, F::BillingPostalCode) => {
                own(format!("{:05}", self.h(obj, idx, 23) % 100_000))
            }
            (Obj::Account, F::BillingCountry) => s("United States"),
            (Obj::Account, F::Latitude) => {
                Num((self.h(obj, idx, 24) % 180_000) as f64 / 1000.0 - 90.0)
            }
            (Obj::Account, F::Longitude) => {
                Num((self.h(obj, idx, 25) % 360_000) as f64 / 1000.0 - 180.0)
            }
            (Obj::Opportunity, F::Name) => {
                let product = pick(PRODUCTS, self.h(obj, idx, 15));
                match self.gen_parent(obj, idx, F::AccountId) {
                    Some(acc) => own(format!("{} - {product}", self.account_name(acc))),
                    None => own(format!("{product} - New Business")),
                }
            }
            (Obj::Opportunity, F::StageName) => s(self.stage(idx).0),
            (Obj::Opportunity, F::Probability) => Num(self.stage(idx).1),
            (Obj::Opportunity, F::IsClosed) => Bool(self.stage(idx).0.starts_with("Closed")),
            (Obj::Opportunity, F::IsWon) => Bool(self.stage(idx).0 == "Closed Won"),
            (Obj::Opportunity, F::Amount) => Num(((self.h(obj, idx, 16) % 400 + 1) * 250) as f64),
            (Obj::Opportunity, F::CloseDate) => {
                Date(crate::time::days_from_civil(2024, 1, 1) + (self.h(obj, idx, 17) % 730) as i64)
            }
            (Obj::Opportunity, F::OppType) => s(pick(OPP_TYPES, self.h(obj, idx, 18))),
            (Obj::Note, F::Title) => s(pick(NOTE_TITLES, self.h(obj, idx, 19))),
            (Obj::Note, F::Body) => {
                let h = self.h(obj, idx, 20);
                own(format!(
                    "{}\n{}",
                    pick(NOTE_BODY_A, h),
                    pick(NOTE_BODY_B, h >> 16)
                ))
            }
            (Obj::Note, F::IsPrivate) => Bool(self.h(obj, idx, 21).is_multiple_of(8)),
            _ => Null,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tables. Names include an apostrophe and non-ASCII letters so clients get exercised on
// JSON escaping and UTF-8. Second element = ASCII form used in emails.

type Name2 = (&'static str, &'static str);

static FIRST: &[Name2] = &[
    ("James", "james"),
    ("Mary", "mary"),
    ("John", "john"),
    ("Patricia", "patricia"),
    ("Robert", "robert"),
    ("Jennifer", "jennifer"),
    ("Michael", "michael"),
    ("Linda", "linda"),
    ("David", "david"),
    ("Elizabeth", "elizabeth"),
    ("William", "william"),
    ("Barbara", "barbara"),
    ("Richard", "richard"),
    ("Susan", "susan"),
    ("Joseph", "joseph"),
    ("Jessica", "jessica"),
    ("Thomas", "thomas"),
    ("Sarah", "sarah"),
    ("Carlos", "carlos"),
    ("Karen", "karen"),
    ("Daniel", "daniel"),
    ("Lisa", "lisa"),
    ("Matthew", "matthew"),
    ("Nancy", "nancy"),
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Anthony", "anthony"),
    ("Sandra", "sandra"),
    ("Mark", "mark"),
    ("Ashley", "ashley"),
    ("Priya", "priya"),
    ("Wei", "wei"),
    ("Kenji", "kenji"),
    ("Fatima", "fatima"),
    ("Olivia", "olivia"),
    ("Liam", "liam"),
    ("Noah", "noah"),
    ("Emma", "emma"),
    ("Ava", "ava"),
    ("Lucas", "lucas"),
];
static LAST: &[Name2] = &[
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Williams", "williams"),
    ("Brown", "brown"),
    ("Jones", "jones"),
    ("Garcia", "garcia"),
    ("Miller", "miller"),
    ("Davis", "davis"),
    ("Rodriguez", "rodriguez"),
    ("Martinez", "martinez"),
    ("Hernandez", "hernandez"),
    ("Lopez", "lopez"),
    ("Gonzalez", "gonzalez"),
    ("Wilson", "wilson"),
    ("Anderson", "anderson"),
    ("Thomas", "thomas"),
    ("Taylor", "taylor"),
    ("Moore", "moore"),
    ("Jackson", "jackson"),
    ("Martin", "martin"),
    ("Lee", "lee"),
    ("Perez", "perez"),
    ("Thompson", "thompson"),
    ("White", "white"),
    ("Harris", "harris"),
    ("O'Brien", "obrien"),
    ("Müller", "muller"),
    ("Nguyen", "nguyen"),
    ("Kim", "kim"),
    ("Patel", "patel"),
    ("Chen", "chen"),
    ("Walker", "walker"),
    ("Young", "young"),
    ("Allen", "allen"),
    ("King", "king"),
    ("Wright", "wright"),
    ("Scott", "scott"),
    ("Torres", "torres"),
    ("Hill", "hill"),
    ("Green", "green"),
];
static TITLES: &[&str] = &[
    "CEO",
    "CFO",
    "CTO",
    "VP of Sales",
    "VP of Marketing",
    "Director of Marketing",
    "Director of Operations",
    "Head of IT",
    "Sales Manager",
    "Account Executive",
    "Marketing Manager",
    "Procurement Manager",
    "Office Manager",
    "Software Engineer",
    "Product Manager",
    "Customer Success Manager",
    "Buyer",
    "Controller",
    "Operations Analyst",
    "SVP, Administration & Finance",
];
static USER_TITLES: &[&str] = &[
    "Sales Rep",
    "Account Executive",
    "Sales Manager",
    "SDR",
    "Regional Director",
];
static AREA: &[u32] = &[415, 212, 312, 617, 512, 206, 303, 404, 305, 503];
static FREEMAIL: &[&str] = &["example.com", "mail.example.org", "inbox.example.net"];
static ACCT_A: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Aperture",
    "Pied Piper",
    "Massive Dynamic",
    "Oscorp",
    "Monarch",
    "Nakatomi",
    "Virtucon",
    "Blue Sun",
    "Gekko & Co",
    "Sirius",
    "Bluth",
    "Prestige",
];
static ACCT_B: &[&str] = &[
    "Corp",
    "Industries",
    "Holdings",
    "Labs",
    "Systems",
    "Group",
    "Partners",
    "Logistics",
    "Foods",
    "Energy",
    "Media",
    "Health",
    "Analytics",
    "Capital",
    "Robotics",
];
pub(crate) static ACCT_TYPES: &[&str] = &[
    "Customer - Direct",
    "Customer - Channel",
    "Prospect",
    "Channel Partner / Reseller",
    "Other",
];
pub(crate) static INDUSTRIES: &[&str] = &[
    "Technology",
    "Manufacturing",
    "Finance",
    "Healthcare",
    "Retail",
    "Energy",
    "Media",
    "Education",
    "Transportation",
    "Consulting",
];
static CITIES: &[&str] = &[
    "San Francisco",
    "New York",
    "Chicago",
    "Boston",
    "Austin",
    "Seattle",
    "Denver",
    "Atlanta",
    "Miami",
    "Portland",
];
pub(crate) static STAGES: &[(&str, f64)] = &[
    ("Prospecting", 10.0),
    ("Qualification", 10.0),
    ("Needs Analysis", 20.0),
    ("Value Proposition", 50.0),
    ("Id. Decision Makers", 60.0),
    ("Perception Analysis", 70.0),
    ("Proposal/Price Quote", 75.0),
    ("Negotiation/Review", 90.0),
    ("Closed Won", 100.0),
    ("Closed Lost", 0.0),
];
pub(crate) static OPP_TYPES: &[&str] = &[
    "New Customer",
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
];
static PRODUCTS: &[&str] = &[
    "Platform License",
    "Support Renewal",
    "Onboarding Services",
    "Data Add-on",
    "Enterprise Tier",
    "Analytics Suite",
    "Training Package",
    "API Access",
    "Premium Support",
    "Expansion Seats",
    "Pilot",
    "Q1 2024 Deal",
];
static NOTE_TITLES: &[&str] = &[
    "Follow-up Call",
    "Intro Meeting",
    "Pricing Discussion",
    "Demo Feedback",
    "Contract Review",
    "Renewal Risk",
    "Kickoff",
    "Support Escalation",
    "Quarterly Business Review",
    "Next Steps",
];
static NOTE_BODY_A: &[&str] = &[
    "Follow-up call scheduled for next week.",
    "Customer asked about \"enterprise\" pricing.",
    "Demo went well; they want a trial.",
    "Discussed renewal timeline & budget.",
    "Left voicemail, will retry Tuesday.",
    "Contract sent to legal — awaiting redlines.",
    "Champion moved to a new role: need a new contact.",
    "Escalated ticket #4821 to support.",
];
static NOTE_BODY_B: &[&str] = &[
    "Next step: send proposal.",
    "Owner: account team.",
    "Tagged for QBR.",
    "Budget approved for Q3.",
    "Needs security review (SOC 2).",
    "No action needed.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_in_index_order() {
        // Every carry boundary of the base62 digits plus a sweep.
        let probes = (1..3_000_000u64)
            .step_by(997)
            .chain([61, 62, 63, 3843, 3844, 238_328]);
        for i in probes {
            assert!(
                id_bytes(Obj::Contact, i - 1) < id_bytes(Obj::Contact, i),
                "{i}"
            );
        }
        let a = id_string(Obj::Contact, 0);
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("003"));
        assert_eq!(
            normalize_id_literal(&a[..15]).as_deref(),
            Some(a.as_bytes())
        );
    }

    #[test]
    fn ids_parse_back() {
        for i in [0u64, 1, 61, 62, 999_999, 218_340_105_584_895] {
            let id = id_string(Obj::Note, i);
            assert_eq!(parse_id(&id), Some((Obj::Note, i)));
            assert_eq!(parse_id(&id[..15]), Some((Obj::Note, i)));
        }
        assert_eq!(parse_id("001D000000IqhSLIAZ"), None);
        assert_eq!(parse_id("nope"), None);
        assert_eq!(parse_id("9995g0000000001AAK"), None);
    }

    #[test]
    fn generated_emails_are_found() {
        let d = Data::new(42, 2000, 0, 0);
        for i in [0u64, 7, 1999] {
            let Value::Str(e) = d.value(Obj::Contact, i, F::Email) else {
                panic!()
            };
            let found = d
                .find_generated_contact_email(&e.to_uppercase())
                .expect("found");
            assert_eq!(
                d.value(Obj::Contact, found, F::Email),
                Value::Str(e.clone())
            );
        }
        assert_eq!(d.find_generated_contact_email("jane.doe@example.com"), None);
        assert_eq!(d.find_generated_contact_email("garbage"), None);
    }

    #[test]
    fn modstamp_strictly_increasing() {
        let d = Data::new(7, 10_000, 0, 0);
        for i in 1..10_000 {
            assert!(d.modstamp_ms(Obj::Contact, i) > d.modstamp_ms(Obj::Contact, i - 1));
        }
    }

    #[test]
    fn some_contacts_have_no_account() {
        let d = Data::new(42, 1000, 0, 0);
        let none = (0..1000)
            .filter(|&i| d.parent(Obj::Contact, i, F::AccountId).is_none())
            .count();
        assert!((50..200).contains(&none), "{none}");
    }
}
