//! SOQL built from validated parts only. An identifier can only come into being through the
//! identifier grammar, and a value only through an escaping literal, so no host input can change a
//! query's structure (no injection by construction).

use std::fmt;

/// An sObject API name such as `Contact` or `ns__Invoice__c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SObjectName(String);

/// One identifier segment: a letter, then letters, digits and single underscores (`__c`, `__r` and
/// namespace prefixes are the only double underscores Salesforce allows).
fn valid_ident(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 80 || !b[0].is_ascii_alphabetic() || b[b.len() - 1] == b'_' {
        return false;
    }
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        return false;
    }
    !s.contains("___")
}

impl SObjectName {
    pub fn parse(s: &str) -> Result<Self, String> {
        if valid_ident(s) {
            Ok(Self(s.to_string()))
        } else {
            Err(format!("{s:?} is not a valid sObject API name"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A field or a child-to-parent relationship path (`Name`, `Account.Name`, `Account.Owner.Alias`),
/// at most 5 levels deep as SOQL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() > 6 || !parts.iter().all(|p| valid_ident(p)) {
            return Err(format!("{s:?} is not a valid field or relationship path"));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An export type: which object and which fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportType {
    pub object: SObjectName,
    pub fields: Vec<FieldPath>,
    /// Records keep Salesforce's `attributes` objects (`exportTypes.<name>.attributes`, default
    /// true; a call's `attributes` option overrides it).
    pub attributes: bool,
    /// `fields: 'all'`: `fields` is resolved from the connected user's describe before the first
    /// query (until then it holds only `Id`).
    pub all: bool,
}

impl ExportType {
    /// `fields: 'all'` for an object.
    pub fn all_of(object: &str) -> Result<Self, String> {
        let mut t = Self::new(object, &["Id"])?;
        t.all = true;
        Ok(t)
    }

    /// Sets the field list `fields: 'all'` resolved to (`Id` first, whatever describe's order).
    pub fn resolve(&mut self, names: &[String]) -> Result<(), String> {
        let mut out = vec![FieldPath::parse("Id")?];
        for n in names {
            if !n.eq_ignore_ascii_case("Id") {
                out.push(FieldPath::parse(n)?);
            }
        }
        self.fields = out;
        Ok(())
    }

    pub fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.as_str().to_string()).collect()
    }

    pub fn new(object: &str, fields: &[&str]) -> Result<Self, String> {
        let object = SObjectName::parse(object)?;
        if fields.is_empty() {
            return Err("fields must not be empty".into());
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(fields.len());
        for f in fields {
            let fp = FieldPath::parse(f)?;
            if !seen.insert(f.to_ascii_lowercase()) {
                return Err(format!("field {f:?} is listed twice"));
            }
            out.push(fp);
        }
        Ok(Self {
            object,
            fields: out,
            attributes: true,
            all: false,
        })
    }

    pub fn select_list(&self) -> String {
        self.fields
            .iter()
            .map(FieldPath::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A literal value for a WHERE clause, rendered with Salesforce's escaping rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    /// A validated `YYYY-MM-DDThh:mm:ss(.sss)Z` datetime, rendered unquoted.
    DateTime(String),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => {
                f.write_str("'")?;
                for c in s.chars() {
                    match c {
                        '\\' => f.write_str("\\\\")?,
                        '\'' => f.write_str("\\'")?,
                        '"' => f.write_str("\\\"")?,
                        '\n' => f.write_str("\\n")?,
                        '\r' => f.write_str("\\r")?,
                        '\t' => f.write_str("\\t")?,
                        '\u{8}' => f.write_str("\\b")?,
                        '\u{c}' => f.write_str("\\f")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("'")
            }
            Literal::DateTime(s) => f.write_str(s),
        }
    }
}

/// Comparison operators the builder emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
        }
    }
}

/// A SELECT over one export type, with optional keyset / `since` conditions.
#[derive(Debug, Clone)]
pub struct Select<'a> {
    ty: &'a ExportType,
    id_only: bool,
    conds: Vec<(&'static str, Op, Literal)>,
    order_by_id: bool,
    desc: bool,
    limit: Option<u64>,
    offset: Option<u64>,
}

impl<'a> Select<'a> {
    pub fn new(ty: &'a ExportType) -> Self {
        Self {
            ty,
            id_only: false,
            conds: Vec::new(),
            order_by_id: true,
            desc: false,
            limit: None,
            offset: None,
        }
    }

    /// `SELECT Id` only: the cheap query used to hop to a deep page's first key.
    pub fn id_only(mut self) -> Self {
        self.id_only = true;
        self
    }

    pub fn after_id(mut self, id: &str) -> Self {
        self.conds
            .push(("Id", Op::Gt, Literal::Str(id.to_string())));
        self
    }

    /// `Id >= id` (an Id range's lower end; parallel exports).
    pub fn from_id(mut self, id: &str) -> Self {
        self.conds
            .push(("Id", Op::Ge, Literal::Str(id.to_string())));
        self
    }

    /// `Id < id` (an Id range's upper end, exclusive).
    pub fn before_id(mut self, id: &str) -> Self {
        self.conds
            .push(("Id", Op::Lt, Literal::Str(id.to_string())));
        self
    }

    /// `ORDER BY Id DESC` (finds the largest Id).
    pub fn descending(mut self) -> Self {
        self.desc = true;
        self
    }

    pub fn since(mut self, ts: Option<&SoqlDateTime>) -> Self {
        if let Some(ts) = ts {
            self.conds
                .push(("SystemModstamp", Op::Ge, Literal::DateTime(ts.0.clone())));
        }
        self
    }

    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    pub fn offset(mut self, n: u64) -> Self {
        if n > 0 {
            self.offset = Some(n);
        }
        self
    }

    pub fn count(&self) -> String {
        let mut q = format!("SELECT COUNT() FROM {}", self.ty.object.as_str());
        self.push_where(&mut q);
        q
    }

    fn push_where(&self, q: &mut String) {
        for (i, (field, op, lit)) in self.conds.iter().enumerate() {
            q.push_str(if i == 0 { " WHERE " } else { " AND " });
            q.push_str(&format!("{field} {} {lit}", op.as_str()));
        }
    }

    pub fn build(&self) -> String {
        let list = if self.id_only {
            "Id".to_string()
        } else {
            self.ty.select_list()
        };
        let mut q = format!("SELECT {list} FROM {}", self.ty.object.as_str());
        self.push_where(&mut q);
        if self.order_by_id {
            q.push_str(if self.desc {
                " ORDER BY Id DESC"
            } else {
                " ORDER BY Id"
            });
        }
        if let Some(l) = self.limit {
            q.push_str(&format!(" LIMIT {l}"));
        }
        if let Some(o) = self.offset {
            q.push_str(&format!(" OFFSET {o}"));
        }
        q
    }
}

/// A UTC datetime in SOQL literal form, built from an ISO-8601 string or epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoqlDateTime(String);

impl SoqlDateTime {
    pub fn from_millis(ms: i64) -> Result<Self, String> {
        if !(0..=253_402_300_799_999).contains(&ms) {
            return Err("timestamp out of range".into());
        }
        let secs = ms.div_euclid(1000);
        let millis = ms.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Ok(Self(format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )))
    }

    /// Accepts `YYYY-MM-DD`, `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an ISO-8601 timestamp");
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
            let part = s.get(r).ok_or_else(bad)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse::<i64>().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return Err(bad());
        }
        let (mut h, mut mi, mut se, mut ms, mut off_min) = (0, 0, 0, 0, 0i64);
        if b.len() > 10 {
            if b.len() < 19 || !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' || b[16] != b':' {
                return Err(bad());
            }
            h = num(11..13)?;
            mi = num(14..16)?;
            se = num(17..19)?;
            let mut rest = &s[19..];
            if let Some(frac) = rest.strip_prefix('.') {
                let n = frac.bytes().take_while(u8::is_ascii_digit).count();
                if n == 0 {
                    return Err(bad());
                }
                let digits = &frac[..n.min(3)];
                ms = digits.parse::<i64>().map_err(|_| bad())? * 10i64.pow(3 - digits.len() as u32);
                rest = &frac[n..];
            }
            match rest {
                "Z" | "" => {}
                tz if (tz.starts_with('+') || tz.starts_with('-'))
                    && (tz.len() == 6 || tz.len() == 5) =>
                {
                    let digits: String = tz[1..].chars().filter(|c| *c != ':').collect();
                    if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                        return Err(bad());
                    }
                    let oh: i64 = digits[..2].parse().map_err(|_| bad())?;
                    let om: i64 = digits[2..].parse().map_err(|_| bad())?;
                    off_min = (oh * 60 + om) * if tz.starts_with('-') { -1 } else { 1 };
                }
                _ => return Err(bad()),
            }
            if h > 23 || mi > 59 || se > 60 {
                return Err(bad());
            }
        }
        let days = days_from_civil(y, mo, d);
        let ms_total = ((days * 86_400 + h * 3600 + mi * 60 + se) - off_min * 60) * 1000 + ms;
        Self::from_millis(ms_total)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Milliseconds since the epoch (the canonical form `from_millis` writes).
    pub fn millis(&self) -> i64 {
        let n = |r: std::ops::Range<usize>| {
            self.0
                .get(r)
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let days = days_from_civil(n(0..4), n(5..7), n(8..10));
        (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) * 1000 + n(20..23)
    }
}

// Howard Hinnant's civil calendar algorithms (public domain), so no date crate is needed.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn contacts() -> ExportType {
        ExportType::new("Contact", &["Name", "Account.Name", "Owner.Alias"]).unwrap()
    }

    #[test]
    fn builds_page_and_count_queries() {
        let t = contacts();
        assert_eq!(
            Select::new(&t).limit(100).offset(200).build(),
            "SELECT Name, Account.Name, Owner.Alias FROM Contact ORDER BY Id LIMIT 100 OFFSET 200"
        );
        assert_eq!(Select::new(&t).count(), "SELECT COUNT() FROM Contact");
        let since = SoqlDateTime::parse("2024-03-01T10:00:00+01:00").unwrap();
        assert_eq!(
            Select::new(&t).id_only().after_id("003x'1").since(Some(&since)).limit(1).offset(1999).build(),
            "SELECT Id FROM Contact WHERE Id > '003x\\'1' AND SystemModstamp >= 2024-03-01T09:00:00.000Z ORDER BY Id LIMIT 1 OFFSET 1999"
        );
    }

    #[test]
    fn rejects_injection_in_identifiers() {
        for bad in [
            "Name FROM User --",
            "Name,Id",
            "",
            "1Name",
            "Name__",
            "a___b",
            "Account..Name",
            "Na me",
            "Name'",
        ] {
            assert!(FieldPath::parse(bad).is_err(), "{bad}");
        }
        assert!(SObjectName::parse("Contact WHERE").is_err());
        assert!(FieldPath::parse("Custom_Field__c").is_ok());
        assert!(FieldPath::parse("Account.Owner.Alias").is_ok());
        assert!(SObjectName::parse("ns__Invoice__c").is_ok());
        assert!(ExportType::new("Contact", &["Name", "name"]).is_err());
    }

    #[test]
    fn datetimes() {
        assert_eq!(
            SoqlDateTime::from_millis(0).unwrap().as_str(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            SoqlDateTime::parse("2024-02-29").unwrap().as_str(),
            "2024-02-29T00:00:00.000Z"
        );
        assert_eq!(
            SoqlDateTime::parse("2024-01-01T00:00:00.5Z")
                .unwrap()
                .as_str(),
            "2024-01-01T00:00:00.500Z"
        );
        for bad in [
            "yesterday",
            "2024-13-01",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00Zjunk",
            "2024-01-01T00:00:00.Z",
        ] {
            assert!(SoqlDateTime::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn string_literals_never_escape_their_quotes(s in "\\PC*") {
            let lit = Literal::Str(s.clone()).to_string();
            // Inside the quotes, every quote or backslash is escaped: scanning with SOQL's rules
            // must end exactly at the final character.
            let inner = &lit[1..lit.len() - 1];
            let mut chars = inner.chars();
            let mut unescaped = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        let n = chars.next().expect("dangling escape");
                        unescaped.push(match n { 'n' => '\n', 'r' => '\r', 't' => '\t', 'b' => '\u{8}', 'f' => '\u{c}', o => o });
                    }
                    '\'' => panic!("unescaped quote in {lit}"),
                    c => unescaped.push(c),
                }
            }
            prop_assert_eq!(unescaped, s);
        }

        #[test]
        fn millis_round_trip(ms in 0i64..253_402_300_799_999) {
            let a = SoqlDateTime::from_millis(ms).unwrap();
            prop_assert_eq!(SoqlDateTime::parse(a.as_str()).unwrap(), a);
        }

        #[test]
        fn valid_paths_are_plain_identifiers(p in "[A-Za-z][A-Za-z0-9]{0,10}(\\.[A-Za-z][A-Za-z0-9]{0,10}){0,3}") {
            prop_assert!(FieldPath::parse(&p).is_ok());
        }
    }
}
