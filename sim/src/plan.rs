//! Turns a parsed SOQL [`Query`] into an executable [`Plan`]: resolves object, field and
//! relationship names against the schema (Salesforce's INVALID_TYPE / INVALID_FIELD
//! errors), type-checks literals, and splits the WHERE clause into index ranges on
//! monotone fields (answered by binary search) and a residual per-row predicate.

use std::cmp::Ordering;

use crate::data::{self, Data, FieldDef, Obj, RelDef, Ty, Value, F};
use crate::soql::{self, CmpOp, Expr, LikeTok, Lit, LitAt, Path, Query, Select, SoqlError};

pub const MAX_OFFSET: u64 = 2000;

/// A projected column, grouped by relationship so `Account.Name, Account.Phone` render
/// as one nested `"Account"` object (Salesforce shape).
#[derive(Debug, Clone, PartialEq)]
pub enum Sel {
    Field(FieldDef),
    Rel(RelDef, Vec<Sel>),
}

/// A resolved field path: relationship hops then a field on the last object.
#[derive(Debug, Clone, PartialEq)]
pub struct FPath {
    pub hops: Vec<RelDef>,
    pub field: FieldDef,
}

/// Literal after type-checking against its field. Strings are pre-lowercased because
/// SOQL string comparison is case-insensitive.
#[derive(Debug, Clone, PartialEq)]
pub enum CLit {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Id(Vec<u8>),
    DateTime(i64),
    Date(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Pred {
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    Cmp(FPath, CmpOp, CLit),
    In(FPath, bool, Vec<CLit>),
    Like(FPath, Vec<LikeTok>),
}

/// `field op lit` on a field that grows with the record index.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub f: F,
    pub op: CmpOp,
    pub lit: CLit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub path: FPath,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    /// No ORDER BY: a per-execution pseudo-random permutation (Salesforce guarantees no
    /// order, and clients that page with OFFSET and no ORDER BY must see the damage).
    Random,
    /// ORDER BY Id / CreatedDate / SystemModstamp: index order, no sorting needed
    /// (`f` is kept so the executor can fall back to sorting after writes).
    Index { desc: bool, f: F },
    /// Anything else: materialised and sorted (small result sets only).
    Sorted(Vec<SortKey>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub obj: Obj,
    pub select: Vec<Sel>,
    /// Selected fields flat, in SELECT order without repeats (Bulk CSV columns).
    pub columns: Vec<FPath>,
    pub count_only: bool,
    pub bounds: Vec<Bound>,
    pub filter: Option<Pred>,
    pub order: Order,
    pub limit: Option<u64>,
    /// Some(_) when the query has OFFSET: Salesforce then returns one batch, no cursor.
    pub offset: Option<u64>,
    /// First ORDER BY field name, for the "unsupported on large result sets" error.
    pub order_label: String,
}

/// Error ready for the wire: `(errorCode, message)`.
pub type QueryFailure = (&'static str, String);

pub fn compile(src: &str) -> Result<Plan, QueryFailure> {
    let q = soql::parse(src).map_err(|e| (e.code, e.render(src)))?;
    build(&q).map_err(|e| (e.code, e.render(src)))
}

fn build(q: &Query) -> Result<Plan, SoqlError> {
    let obj = Obj::from_name(&q.from).ok_or_else(|| {
        SoqlError::at(
            "INVALID_TYPE",
            q.from_pos,
            format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                q.from
            ),
        )
    })?;
    let r = Resolver {
        obj,
        alias: q.alias.as_deref(),
    };
    let mut select = Vec::new();
    let mut columns: Vec<FPath> = Vec::new();
    if let Select::Fields(paths) = &q.select {
        for p in paths {
            let fp = r.resolve(p)?;
            add_sel(&mut select, &fp.hops, fp.field);
            if !columns.contains(&fp) {
                columns.push(fp);
            }
        }
    }
    let (bounds, filter) = match &q.filter {
        Some(e) => split_bounds(r.pred(e)?),
        None => (vec![], None),
    };
    let mut keys = Vec::new();
    for item in &q.order {
        keys.push(SortKey {
            path: r.scalar(&item.path)?,
            desc: item.desc,
            nulls_first: item.nulls_first.unwrap_or(!item.desc),
        });
    }
    if let Some(off) = q.offset {
        if off > MAX_OFFSET {
            return Err(SoqlError::plain(
                "NUMBER_OUTSIDE_VALID_RANGE",
                format!(
                    "Maximum SOQL offset allowed for apiName {} is {MAX_OFFSET}",
                    obj.name()
                ),
            ));
        }
    }
    let order_label = q.order.first().map(|o| o.path.dotted()).unwrap_or_default();
    let order = match keys.first() {
        None => Order::Random,
        Some(k) if k.path.hops.is_empty() && data::is_monotone(k.path.field.f) => Order::Index {
            desc: k.desc,
            f: k.path.field.f,
        },
        Some(_) => Order::Sorted(keys),
    };
    Ok(Plan {
        obj,
        select,
        columns,
        count_only: q.select == Select::Count,
        bounds,
        filter,
        order,
        limit: q.limit,
        offset: q.offset,
        order_label,
    })
}

fn add_sel(sels: &mut Vec<Sel>, hops: &[RelDef], field: FieldDef) {
    match hops.split_first() {
        None => {
            if !sels
                .iter()
                .any(|s| matches!(s, Sel::Field(f) if f.f == field.f))
            {
                sels.push(Sel::Field(field));
            }
        }
        Some((rel, rest)) => {
            let pos = sels
                .iter()
                .position(|s| matches!(s, Sel::Rel(r, _) if r.name == rel.name));
            let idx = pos.unwrap_or_else(|| {
                sels.push(Sel::Rel(*rel, Vec::new()));
                sels.len() - 1
            });
            if let Some(Sel::Rel(_, children)) = sels.get_mut(idx) {
                add_sel(children, rest, field);
            }
        }
    }
}

/// Top-level AND conjuncts on monotone fields become index bounds; the rest stays a
/// per-row predicate.
fn split_bounds(p: Pred) -> (Vec<Bound>, Option<Pred>) {
    let items = match p {
        Pred::And(items) => items,
        other => vec![other],
    };
    let mut bounds = Vec::new();
    let mut rest = Vec::new();
    for it in items {
        match it {
            Pred::Cmp(ref path, op, ref lit)
                if path.hops.is_empty()
                    && data::is_monotone(path.field.f)
                    && op != CmpOp::Ne
                    && *lit != CLit::Null =>
            {
                bounds.push(Bound {
                    f: path.field.f,
                    op,
                    lit: lit.clone(),
                })
            }
            other => rest.push(other),
        }
    }
    let filter = match rest.len() {
        0 => None,
        1 => rest.pop(),
        _ => Some(Pred::And(rest)),
    };
    (bounds, filter)
}

struct Resolver<'a> {
    obj: Obj,
    alias: Option<&'a str>,
}

impl Resolver<'_> {
    fn resolve(&self, p: &Path) -> Result<FPath, SoqlError> {
        let mut parts: &[String] = &p.parts;
        // `contact.owner.alias FROM contact` and `c.Name FROM Contact c`: drop the prefix.
        if parts.len() > 1 {
            let first = &parts[0];
            let is_alias = self.alias.is_some_and(|a| a.eq_ignore_ascii_case(first));
            let is_self =
                first.eq_ignore_ascii_case(self.obj.name()) && self.obj.rel(first).is_none();
            if is_alias || is_self {
                parts = &parts[1..];
            }
        }
        let (last, rels) = match parts.split_last() {
            Some(x) => x,
            None => {
                return Err(SoqlError::at(
                    "MALFORMED_QUERY",
                    p.pos,
                    "unexpected token: <EOF>",
                ))
            }
        };
        let mut cur = self.obj;
        let mut hops = Vec::with_capacity(rels.len());
        for seg in rels {
            let rel = cur.rel(seg).ok_or_else(|| {
                SoqlError::at(
                    "INVALID_FIELD",
                    p.pos,
                    format!("Didn't understand relationship '{seg}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."),
                )
            })?;
            hops.push(rel);
            cur = rel.target;
        }
        let field = cur.field(last).or_else(|| crate::schema::compound_def(cur, last)).filter(|_| !crate::schema::is_hidden(cur, last, None)).ok_or_else(|| {
            SoqlError::at(
                "INVALID_FIELD",
                p.pos,
                format!("No such column '{last}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", cur.name()),
            )
        })?;
        Ok(FPath { hops, field })
    }

    /// A field a filter or sort can use: not a compound (Salesforce filters on its components).
    fn scalar(&self, p: &Path) -> Result<FPath, SoqlError> {
        let fp = self.resolve(p)?;
        if crate::schema::is_compound(fp.field.f) {
            return Err(SoqlError::at(
                "INVALID_FIELD",
                p.pos,
                format!(
                    "field '{}' can not be filtered in a query call",
                    fp.field.name
                ),
            ));
        }
        Ok(fp)
    }

    fn pred(&self, e: &Expr) -> Result<Pred, SoqlError> {
        Ok(match e {
            Expr::And(v) => Pred::And(v.iter().map(|x| self.pred(x)).collect::<Result<_, _>>()?),
            Expr::Or(v) => Pred::Or(v.iter().map(|x| self.pred(x)).collect::<Result<_, _>>()?),
            Expr::Not(x) => Pred::Not(Box::new(self.pred(x)?)),
            Expr::Cmp { path, op, lit } => {
                let fp = self.scalar(path)?;
                let l = typed_lit(&fp.field, lit)?;
                Pred::Cmp(fp, *op, l)
            }
            Expr::In {
                path,
                negated,
                lits,
            } => {
                let fp = self.resolve(path)?;
                let ls = lits
                    .iter()
                    .map(|l| typed_lit(&fp.field, l))
                    .collect::<Result<_, _>>()?;
                Pred::In(fp, *negated, ls)
            }
            Expr::Like { path, lit } => {
                let fp = self.resolve(path)?;
                let Lit::Str { like, .. } = &lit.lit else {
                    return Err(SoqlError::at(
                        "MALFORMED_QUERY",
                        lit.pos,
                        "unexpected token",
                    ));
                };
                if fp.field.ty != Ty::Str {
                    return Err(SoqlError::at(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        lit.pos,
                        format!("invalid operator on {} field", ty_label(fp.field.ty)),
                    ));
                }
                let lowered = like
                    .iter()
                    .map(|t| match t {
                        LikeTok::Char(c) => LikeTok::Char(lower_char(*c)),
                        other => other.clone(),
                    })
                    .collect();
                Pred::Like(fp, lowered)
            }
        })
    }
}

fn ty_label(ty: Ty) -> &'static str {
    match ty {
        Ty::Id | Ty::Ref(_) => "id",
        Ty::Str => "string",
        Ty::Num => "double",
        Ty::Bool => "boolean",
        Ty::DateTime => "dateTime",
        Ty::Date => "date",
    }
}

fn typed_lit(field: &FieldDef, lit: &LitAt) -> Result<CLit, SoqlError> {
    let mismatch = || {
        let quoted = matches!(field.ty, Ty::Str | Ty::Id | Ty::Ref(_));
        SoqlError::at(
            "INVALID_QUERY_FILTER_OPERATOR",
            lit.pos,
            format!(
                "value of filter criterion for field '{}' must be of type {} and should {}be enclosed in quotes",
                field.name,
                ty_label(field.ty),
                if quoted { "" } else { "not " }
            ),
        )
    };
    Ok(match (&lit.lit, field.ty) {
        (Lit::Null, _) => CLit::Null,
        (Lit::Str { value, .. }, Ty::Str) => CLit::Str(lower(value)),
        (Lit::Str { value, .. }, Ty::Id | Ty::Ref(_)) => match data::normalize_id_literal(value) {
            Some(b) => CLit::Id(b),
            None => {
                return Err(SoqlError::at(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    lit.pos,
                    format!("invalid ID field: {value}"),
                ))
            }
        },
        (Lit::Num(n), Ty::Num) => CLit::Num(*n),
        (Lit::Bool(b), Ty::Bool) => CLit::Bool(*b),
        (Lit::DateTime(ms), Ty::DateTime) => CLit::DateTime(*ms),
        (Lit::Date(d), Ty::Date) => CLit::Date(*d),
        _ => return Err(mismatch()),
    })
}

fn lower_char(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn lower(s: &str) -> String {
    s.chars().map(lower_char).collect()
}

// ---------------------------------------------------------------------------------------
// Evaluation

impl FPath {
    /// Canonical dotted name, e.g. `Account.Owner.Name` (Bulk CSV header).
    pub fn header(&self) -> String {
        let mut s = String::new();
        for h in &self.hops {
            s.push_str(h.name);
            s.push('.');
        }
        s.push_str(self.field.name);
        s
    }
}

/// Follows lookups to the value at the end of `path` (Null when a lookup is empty).
pub fn eval_path(d: &Data, obj: Obj, idx: u64, path: &FPath) -> Value {
    let (mut o, mut i) = (obj, idx);
    for rel in &path.hops {
        match d.parent(o, i, rel.via) {
            Some(p) => {
                o = rel.target;
                i = p;
            }
            None => return Value::Null,
        }
    }
    d.value(o, i, path.field.f)
}

fn cmp_ci(a: &str, lowered: &str) -> Ordering {
    a.chars().map(lower_char).cmp(lowered.chars())
}

/// Orders a field value against a type-checked literal (None for nulls/mismatches).
pub fn compare(v: &Value, lit: &CLit) -> Option<Ordering> {
    match (v, lit) {
        (Value::Str(s), CLit::Str(l)) => Some(cmp_ci(s, l)),
        (Value::Id(o, i), CLit::Id(b)) => Some(data::id_bytes(*o, *i).as_slice().cmp(b.as_slice())),
        (Value::Num(a), CLit::Num(b)) => a.partial_cmp(b),
        (Value::Bool(a), CLit::Bool(b)) => Some(a.cmp(b)),
        (Value::DateTime(a), CLit::DateTime(b)) | (Value::Date(a), CLit::Date(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

pub fn op_holds(op: CmpOp, ord: Ordering) -> bool {
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

fn cmp_holds(v: &Value, op: CmpOp, lit: &CLit) -> bool {
    match (v.is_null(), lit == &CLit::Null) {
        (true, true) => op == CmpOp::Eq,
        // SOQL: `x != 'a'` includes rows where x is null; other comparisons exclude them.
        (true, false) | (false, true) => op == CmpOp::Ne,
        (false, false) => compare(v, lit).is_some_and(|o| op_holds(op, o)),
    }
}

fn like_match(s: &str, pat: &[LikeTok]) -> bool {
    // Classic wildcard matching with single backtrack point; case-insensitive.
    let text: Vec<char> = s.chars().map(lower_char).collect();
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(LikeTok::Many) => {
                star = Some((p, t));
                p += 1;
            }
            Some(LikeTok::One) => {
                t += 1;
                p += 1;
            }
            Some(LikeTok::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p.min(pat.len())..].iter().all(|x| *x == LikeTok::Many)
}

pub fn eval(d: &Data, obj: Obj, idx: u64, p: &Pred) -> bool {
    match p {
        Pred::And(v) => v.iter().all(|x| eval(d, obj, idx, x)),
        Pred::Or(v) => v.iter().any(|x| eval(d, obj, idx, x)),
        Pred::Not(x) => !eval(d, obj, idx, x),
        Pred::Cmp(path, op, lit) => cmp_holds(&eval_path(d, obj, idx, path), *op, lit),
        Pred::In(path, negated, lits) => {
            let v = eval_path(d, obj, idx, path);
            lits.iter().any(|l| cmp_holds(&v, CmpOp::Eq, l)) != *negated
        }
        Pred::Like(path, pat) => match eval_path(d, obj, idx, path) {
            Value::Str(s) => like_match(&s, pat),
            _ => false,
        },
    }
}

/// Sort comparison between two field values (strings case-insensitive, nulls per key).
pub fn cmp_values(a: &Value, b: &Value, key: &SortKey) -> Ordering {
    let ord = match (a, b) {
        (Value::Null, Value::Null) => return Ordering::Equal,
        (Value::Null, _) => {
            return if key.nulls_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (_, Value::Null) => {
            return if key.nulls_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Value::Str(x), Value::Str(y)) => x.chars().map(lower_char).cmp(y.chars().map(lower_char)),
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Id(o1, i1), Value::Id(o2, i2)) => {
            data::id_bytes(*o1, *i1).cmp(&data::id_bytes(*o2, *i2))
        }
        (Value::DateTime(x), Value::DateTime(y)) | (Value::Date(x), Value::Date(y)) => x.cmp(y),
        _ => Ordering::Equal,
    };
    if key.desc {
        ord.reverse()
    } else {
        ord
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> (String, String) {
        match compile(q) {
            Ok(p) => panic!("{q} compiled: {p:?}"),
            Err((c, m)) => (c.to_string(), m),
        }
    }

    #[test]
    fn resolves_fields_and_groups_relationships() {
        let p = compile(
            "SELECT name, account.name, title, contact.owner.alias, Account.Phone FROM contact",
        )
        .unwrap();
        assert_eq!(p.obj, Obj::Contact);
        assert_eq!(p.select.len(), 4);
        assert!(matches!(&p.select[1], Sel::Rel(r, c) if r.name == "Account" && c.len() == 2));
        assert!(matches!(&p.select[3], Sel::Rel(r, c) if r.name == "Owner" && c.len() == 1));
        let p =
            compile("SELECT c.Name FROM Contact c WHERE c.Id > '0035g00000000AAAAK' ORDER BY c.Id")
                .unwrap();
        assert_eq!(p.bounds.len(), 1);
        assert_eq!(
            p.order,
            Order::Index {
                desc: false,
                f: F::Id
            }
        );
        let p = compile("SELECT Name FROM Account ORDER BY Name DESC").unwrap();
        assert!(matches!(p.order, Order::Sorted(_)));
    }

    #[test]
    fn schema_errors_match_salesforce() {
        let (c, m) = err("SELECT Id, Foo__c FROM Contact");
        assert_eq!(c, "INVALID_FIELD");
        assert_eq!(m, "\nSELECT Id, Foo__c FROM Contact\n           ^\nERROR at Row:1:Column:12\nNo such column 'Foo__c' on entity 'Contact'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.");
        let (c, m) = err("SELECT Id FROM Foo");
        assert_eq!(c, "INVALID_TYPE");
        assert!(m.starts_with("\nSELECT Id FROM Foo\n               ^\nERROR at Row:1:Column:16\nsObject type 'Foo' is not supported."));
        let (c, m) = err("SELECT Foo.Name FROM Contact");
        assert_eq!(c, "INVALID_FIELD");
        assert!(m.contains("Didn't understand relationship 'Foo'"));
        let (c, m) = err("SELECT Id FROM Contact LIMIT 10 OFFSET 2001");
        assert_eq!(
            (c.as_str(), m.as_str()),
            (
                "NUMBER_OUTSIDE_VALID_RANGE",
                "Maximum SOQL offset allowed for apiName Contact is 2000"
            )
        );
        assert!(compile("SELECT Id FROM Contact LIMIT 10 OFFSET 2000").is_ok());
        let (c, m) = err("SELECT Id FROM Contact WHERE Name = 5");
        assert_eq!(c, "INVALID_QUERY_FILTER_OPERATOR");
        assert!(m.ends_with("value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"));
        let (_, m) = err("SELECT Id FROM Contact WHERE Id = 'abc'");
        assert!(m.ends_with("invalid ID field: abc"));
        let (c, _) = err("SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01");
        assert_eq!(c, "INVALID_QUERY_FILTER_OPERATOR");
    }

    #[test]
    fn like_semantics() {
        let pat = |s: &str| match crate::soql::parse(&format!(
            "SELECT Id FROM Contact WHERE Name LIKE '{s}'"
        ))
        .unwrap()
        .filter
        {
            Some(Expr::Like {
                lit:
                    LitAt {
                        lit: Lit::Str { like, .. },
                        ..
                    },
                ..
            }) => like
                .into_iter()
                .map(|t| match t {
                    LikeTok::Char(c) => LikeTok::Char(lower_char(c)),
                    o => o,
                })
                .collect::<Vec<_>>(),
            _ => panic!(),
        };
        assert!(like_match("John Smith", &pat("john%")));
        assert!(like_match("John Smith", &pat("%SMITH")));
        assert!(like_match("John Smith", &pat("J_hn%")));
        assert!(!like_match("John Smith", &pat("J\\_hn%")));
        assert!(like_match("J_hn", &pat("J\\_hn")));
        assert!(like_match("100%", &pat("100\\%")));
        assert!(!like_match("100", &pat("100\\%")));
        assert!(like_match("abcabc", &pat("%b%c")));
    }
}
