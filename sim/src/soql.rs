//! SOQL subset: lexer + recursive-descent parser producing an AST with source positions.
//! Name resolution and type checks live in `plan.rs`; this module knows only syntax.
//!
//! Grammar:
//! ```text
//! query  := SELECT (COUNT '(' ')' | path (',' path)*) FROM ident [alias]
//!           [WHERE expr] [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST] (',' …)*]
//!           [LIMIT int] [OFFSET int]
//! expr   := term (AND term)* | term (OR term)*        -- mixing needs parentheses, as in SOQL
//! term   := NOT term | '(' expr ')' | path op literal | path [NOT] IN '(' literal, … ')'
//!         | path LIKE 'pattern'
//! ```

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Ident,
    Str,
    Num,
    Date,
    DateTime,
    Comma,
    Dot,
    LParen,
    RParen,
    Op(CmpOp),
    Other,
    Eof,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Tok,
    start: usize,
    end: usize,
}

/// A query error before rendering: code + message + optional byte position for the caret.
#[derive(Debug, Clone, PartialEq)]
pub struct SoqlError {
    pub code: &'static str,
    pub pos: Option<usize>,
    pub msg: String,
}

impl SoqlError {
    pub fn at(code: &'static str, pos: usize, msg: impl Into<String>) -> Self {
        SoqlError {
            code,
            pos: Some(pos),
            msg: msg.into(),
        }
    }
    pub fn plain(code: &'static str, msg: impl Into<String>) -> Self {
        SoqlError {
            code,
            pos: None,
            msg: msg.into(),
        }
    }

    /// Salesforce's message layout: `\n<line>\n<spaces>^\nERROR at Row:R:Column:C\n<msg>`.
    pub fn render(&self, src: &str) -> String {
        let Some(pos) = self.pos else {
            return self.msg.clone();
        };
        let pos = pos.min(src.len());
        let line_start = src[..pos].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[pos..].find('\n').map_or(src.len(), |i| pos + i);
        let row = src[..pos].matches('\n').count() + 1;
        let col = src[line_start..pos].chars().count() + 1;
        format!(
            "\n{}\n{}^\nERROR at Row:{row}:Column:{col}\n{}",
            &src[line_start..line_end],
            " ".repeat(col - 1),
            self.msg
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub parts: Vec<String>,
    pub pos: usize,
}

impl Path {
    pub fn dotted(&self) -> String {
        self.parts.join(".")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LikeTok {
    Char(char),
    One,
    Many,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// `value` has escapes resolved; `like` keeps wildcard structure for LIKE.
    Str {
        value: String,
        like: Vec<LikeTok>,
    },
    Num(f64),
    Bool(bool),
    Null,
    Date(i64),
    DateTime(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LitAt {
    pub lit: Lit,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cmp {
        path: Path,
        op: CmpOp,
        lit: LitAt,
    },
    In {
        path: Path,
        negated: bool,
        lits: Vec<LitAt>,
    },
    Like {
        path: Path,
        lit: LitAt,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub path: Path,
    pub desc: bool,
    /// None = Salesforce default (ASC → nulls first, DESC → nulls last).
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Select {
    Count,
    Fields(Vec<Path>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Select,
    pub from: String,
    pub from_pos: usize,
    pub alias: Option<String>,
    pub filter: Option<Expr>,
    pub order: Vec<OrderItem>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT", "OFFSET",
    "GROUP", "HAVING", "WITH", "FOR", "USING", "NULLS", "TYPEOF", "INCLUDES", "EXCLUDES",
];

fn is_reserved(s: &str) -> bool {
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(s))
}

fn malformed(pos: usize, text: &str) -> SoqlError {
    SoqlError::at("MALFORMED_QUERY", pos, format!("unexpected token: {text}"))
}

// ---------------------------------------------------------------------------------------
// Lexer

fn lex(src: &str) -> Result<Vec<Token>, SoqlError> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let digit_at = |k: usize| b.get(k).is_some_and(u8::is_ascii_digit);
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                Tok::Ident
            }
            b'\'' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(malformed(start, "<EOF>")),
                        Some(b'\\') => i += 2,
                        Some(b'\'') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                Tok::Str
            }
            c if c.is_ascii_digit() || (c == b'-' && digit_at(i + 1)) => lex_number(b, &mut i),
            b',' => step(&mut i, 1, Tok::Comma),
            b'.' => step(&mut i, 1, Tok::Dot),
            b'(' => step(&mut i, 1, Tok::LParen),
            b')' => step(&mut i, 1, Tok::RParen),
            b'=' => step(&mut i, 1, Tok::Op(CmpOp::Eq)),
            b'!' if b.get(i + 1) == Some(&b'=') => step(&mut i, 2, Tok::Op(CmpOp::Ne)),
            b'<' => match b.get(i + 1) {
                Some(b'=') => step(&mut i, 2, Tok::Op(CmpOp::Le)),
                Some(b'>') => step(&mut i, 2, Tok::Op(CmpOp::Ne)),
                _ => step(&mut i, 1, Tok::Op(CmpOp::Lt)),
            },
            b'>' => match b.get(i + 1) {
                Some(b'=') => step(&mut i, 2, Tok::Op(CmpOp::Ge)),
                _ => step(&mut i, 1, Tok::Op(CmpOp::Gt)),
            },
            _ => {
                // One whole (possibly multi-byte) character.
                let len = src[i..].chars().next().map_or(1, char::len_utf8);
                step(&mut i, len, Tok::Other)
            }
        };
        toks.push(Token {
            kind,
            start,
            end: i,
        });
    }
    toks.push(Token {
        kind: Tok::Eof,
        start: b.len(),
        end: b.len(),
    });
    Ok(toks)
}

fn step(i: &mut usize, n: usize, t: Tok) -> Tok {
    *i += n;
    t
}

/// Numbers, `YYYY-MM-DD` dates and ISO dateTimes all start with a digit.
fn lex_number(b: &[u8], i: &mut usize) -> Tok {
    let s = *i;
    let is = |k: usize, f: fn(&u8) -> bool| b.get(k).is_some_and(f);
    let digits = |from: usize, n: usize| (from..from + n).all(|k| is(k, u8::is_ascii_digit));
    if digits(s, 4)
        && b.get(s + 4) == Some(&b'-')
        && digits(s + 5, 2)
        && b.get(s + 7) == Some(&b'-')
        && digits(s + 8, 2)
    {
        *i = s + 10;
        if b.get(*i) != Some(&b'T') {
            return Tok::Date;
        }
        // dateTime: consume the characters a dateTime literal can contain; the literal's
        // validity is checked when parsed.
        *i += 1;
        while is(*i, |c| {
            c.is_ascii_digit() || matches!(c, b':' | b'.' | b'+' | b'-' | b'Z' | b'z')
        }) {
            *i += 1;
        }
        return Tok::DateTime;
    }
    *i = s + 1;
    while is(*i, u8::is_ascii_digit) {
        *i += 1;
    }
    if b.get(*i) == Some(&b'.') && is(*i + 1, u8::is_ascii_digit) {
        *i += 1;
        while is(*i, u8::is_ascii_digit) {
            *i += 1;
        }
    }
    Tok::Num
}

/// Resolves SOQL string escapes. `\_` and `\%` are literal characters (they only differ
/// from `_`/`%` inside LIKE patterns).
fn unescape(raw: &str, pos: usize) -> Result<Lit, SoqlError> {
    let mut value = String::with_capacity(raw.len());
    let mut like = Vec::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            like.push(match c {
                '%' => LikeTok::Many,
                '_' => LikeTok::One,
                c => LikeTok::Char(c),
            });
            continue;
        }
        let e = chars.next();
        let r = match e {
            Some('\'') => '\'',
            Some('"') => '"',
            Some('\\') => '\\',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('_') => '_',
            Some('%') => '%',
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) if hex.len() == 4 => ch,
                    _ => return Err(bad_escape(raw, pos, &format!("u{hex}"))),
                }
            }
            other => {
                return Err(bad_escape(
                    raw,
                    pos,
                    &other.map(String::from).unwrap_or_default(),
                ))
            }
        };
        value.push(r);
        like.push(LikeTok::Char(r));
    }
    Ok(Lit::Str { value, like })
}

fn bad_escape(raw: &str, pos: usize, seq: &str) -> SoqlError {
    SoqlError::at(
        "MALFORMED_QUERY",
        pos,
        format!("Invalid string literal '{raw}'. Illegal character sequence '\\{seq}' in string literal."),
    )
}

// ---------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    p: usize,
}

pub fn parse(src: &str) -> Result<Query, SoqlError> {
    let toks = lex(src)?;
    let mut p = Parser { src, toks, p: 0 };
    p.query()
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Token {
        self.toks[self.p.min(self.toks.len() - 1)]
    }
    fn peek2(&self) -> Token {
        self.toks[(self.p + 1).min(self.toks.len() - 1)]
    }
    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.kind != Tok::Eof {
            self.p += 1;
        }
        t
    }
    fn text(&self, t: Token) -> &'a str {
        &self.src[t.start..t.end]
    }
    fn unexpected(&self, t: Token) -> SoqlError {
        let text = if t.kind == Tok::Eof {
            "<EOF>"
        } else {
            self.text(t)
        };
        malformed(t.start, text)
    }
    fn is_kw(&self, t: Token, kw: &str) -> bool {
        t.kind == Tok::Ident && self.text(t).eq_ignore_ascii_case(kw)
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(self.peek(), kw);
        if hit {
            self.p += 1;
        }
        hit
    }
    fn expect_kw(&mut self, kw: &str) -> Result<(), SoqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected(self.peek()))
        }
    }
    fn expect(&mut self, kind: Tok) -> Result<Token, SoqlError> {
        let t = self.peek();
        if t.kind == kind {
            Ok(self.bump())
        } else {
            Err(self.unexpected(t))
        }
    }

    fn query(&mut self) -> Result<Query, SoqlError> {
        self.expect_kw("SELECT")?;
        let select = if self.is_kw(self.peek(), "COUNT") && self.peek2().kind == Tok::LParen {
            let at = self.bump().start;
            self.bump();
            if self.peek().kind != Tok::RParen {
                return Err(SoqlError::at(
                    "MALFORMED_QUERY",
                    at,
                    "sim: only COUNT() is supported, not COUNT(field) or other aggregates",
                ));
            }
            self.bump();
            Select::Count
        } else {
            let mut fields = vec![self.path()?];
            while self.peek().kind == Tok::Comma {
                self.bump();
                fields.push(self.path()?);
            }
            Select::Fields(fields)
        };
        self.expect_kw("FROM")?;
        let from_tok = self.peek();
        if from_tok.kind != Tok::Ident || is_reserved(self.text(from_tok)) {
            return Err(self.unexpected(from_tok));
        }
        self.bump();
        let alias = {
            let t = self.peek();
            (t.kind == Tok::Ident && !is_reserved(self.text(t))).then(|| {
                self.bump();
                self.text(t).to_string()
            })
        };
        let filter = if self.eat_kw("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut order = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                order.push(self.order_item()?);
                if self.peek().kind != Tok::Comma {
                    break;
                }
                self.bump();
            }
        }
        let limit = if self.eat_kw("LIMIT") {
            Some(self.uint()?)
        } else {
            None
        };
        let offset = if self.eat_kw("OFFSET") {
            Some(self.uint()?)
        } else {
            None
        };
        let end = self.peek();
        if end.kind != Tok::Eof {
            return Err(self.unexpected(end));
        }
        Ok(Query {
            select,
            from: self.text(from_tok).to_string(),
            from_pos: from_tok.start,
            alias,
            filter,
            order,
            limit,
            offset,
        })
    }

    fn path(&mut self) -> Result<Path, SoqlError> {
        let first = self.peek();
        if first.kind != Tok::Ident || is_reserved(self.text(first)) {
            return Err(self.unexpected(first));
        }
        self.bump();
        let mut parts = vec![self.text(first).to_string()];
        while self.peek().kind == Tok::Dot {
            self.bump();
            let t = self.expect(Tok::Ident)?;
            parts.push(self.text(t).to_string());
        }
        Ok(Path {
            parts,
            pos: first.start,
        })
    }

    fn uint(&mut self) -> Result<u64, SoqlError> {
        let t = self.peek();
        let n = (t.kind == Tok::Num)
            .then(|| self.text(t).parse::<u64>().ok())
            .flatten();
        match n {
            Some(n) => {
                self.bump();
                Ok(n)
            }
            None => Err(self.unexpected(t)),
        }
    }

    fn order_item(&mut self) -> Result<OrderItem, SoqlError> {
        let path = self.path()?;
        let desc = if self.eat_kw("DESC") {
            true
        } else {
            self.eat_kw("ASC");
            false
        };
        let nulls_first = if self.eat_kw("NULLS") {
            if self.eat_kw("FIRST") {
                Some(true)
            } else {
                self.expect_kw("LAST")?;
                Some(false)
            }
        } else {
            None
        };
        Ok(OrderItem {
            path,
            desc,
            nulls_first,
        })
    }

    fn expr(&mut self) -> Result<Expr, SoqlError> {
        let first = self.term()?;
        let mut items = vec![first];
        let mut joiner: Option<&str> = None;
        loop {
            let t = self.peek();
            let kw = if self.is_kw(t, "AND") {
                "AND"
            } else if self.is_kw(t, "OR") {
                "OR"
            } else {
                break;
            };
            // SOQL rejects `a AND b OR c` without parentheses.
            if joiner.is_some_and(|j| j != kw) {
                return Err(self.unexpected(t));
            }
            joiner = Some(kw);
            self.bump();
            items.push(self.term()?);
        }
        Ok(match (joiner, items.len()) {
            (_, 1) => items.pop().unwrap_or(Expr::And(vec![])),
            (Some("OR"), _) => Expr::Or(items),
            _ => Expr::And(items),
        })
    }

    fn term(&mut self) -> Result<Expr, SoqlError> {
        if self.eat_kw("NOT") {
            return Ok(Expr::Not(Box::new(self.term()?)));
        }
        if self.peek().kind == Tok::LParen {
            self.bump();
            let e = self.expr()?;
            self.expect(Tok::RParen)?;
            return Ok(e);
        }
        let path = self.path()?;
        let t = self.peek();
        match t.kind {
            Tok::Op(op) => {
                self.bump();
                let lit = self.literal()?;
                Ok(Expr::Cmp { path, op, lit })
            }
            _ if self.is_kw(t, "LIKE") => {
                self.bump();
                let lt = self.peek();
                if lt.kind != Tok::Str {
                    return Err(self.unexpected(lt));
                }
                let lit = self.literal()?;
                Ok(Expr::Like { path, lit })
            }
            _ if self.is_kw(t, "IN")
                || (self.is_kw(t, "NOT") && self.is_kw(self.peek2(), "IN")) =>
            {
                let negated = self.eat_kw("NOT");
                self.bump();
                self.expect(Tok::LParen)?;
                let mut lits = vec![self.literal()?];
                while self.peek().kind == Tok::Comma {
                    self.bump();
                    lits.push(self.literal()?);
                }
                self.expect(Tok::RParen)?;
                Ok(Expr::In {
                    path,
                    negated,
                    lits,
                })
            }
            _ => Err(self.unexpected(t)),
        }
    }

    fn literal(&mut self) -> Result<LitAt, SoqlError> {
        let t = self.peek();
        let text = self.text(t);
        let lit = match t.kind {
            Tok::Str => unescape(&text[1..text.len() - 1], t.start)?,
            Tok::Num => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Lit::Num(v),
                _ => return Err(self.unexpected(t)),
            },
            Tok::Date => match crate::time::parse_date(text) {
                Some(d) => Lit::Date(d),
                None => return Err(self.unexpected(t)),
            },
            Tok::DateTime => match crate::time::parse_datetime(text) {
                Some(ms) => Lit::DateTime(ms),
                None => return Err(self.unexpected(t)),
            },
            Tok::Ident if text.eq_ignore_ascii_case("true") => Lit::Bool(true),
            Tok::Ident if text.eq_ignore_ascii_case("false") => Lit::Bool(false),
            Tok::Ident if text.eq_ignore_ascii_case("null") => Lit::Null,
            _ => return Err(self.unexpected(t)),
        };
        self.bump();
        Ok(LitAt { lit, pos: t.start })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Query {
        match parse(s) {
            Ok(q) => q,
            Err(e) => panic!("{s}: {}", e.render(s)),
        }
    }
    fn err(s: &str) -> String {
        match parse(s) {
            Ok(q) => panic!("{s} parsed: {q:?}"),
            Err(e) => e.render(s),
        }
    }
    fn str_value(e: &Expr) -> String {
        match e {
            Expr::Cmp {
                lit:
                    LitAt {
                        lit: Lit::Str { value, .. },
                        ..
                    },
                ..
            } => value.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_reference_client_queries() {
        let q = p("SELECT name, account.name, title, phone, email, contact.owner.alias FROM contact LIMIT 100 OFFSET 0");
        let Select::Fields(f) = &q.select else {
            panic!()
        };
        assert_eq!(f.len(), 6);
        assert_eq!(f[5].parts, ["contact", "owner", "alias"]);
        assert_eq!((q.limit, q.offset), (Some(100), Some(0)));
        assert_eq!(p("select count() from Contact").select, Select::Count);
        assert_eq!(p("SELECT Id FROM Contact c").alias.as_deref(), Some("c"));
    }

    #[test]
    fn parses_where_and_order() {
        let q = p("SELECT Id FROM Contact WHERE SystemModstamp >= 2024-01-01T00:00:00.000+0000 AND Id > '0035g0000000001AAK' AND IsDeleted = false ORDER BY Id DESC NULLS LAST, Name LIMIT 5");
        let Some(Expr::And(items)) = &q.filter else {
            panic!()
        };
        assert_eq!(items.len(), 3);
        assert!(matches!(
            &items[0],
            Expr::Cmp {
                op: CmpOp::Ge,
                lit: LitAt {
                    lit: Lit::DateTime(1_704_067_200_000),
                    ..
                },
                ..
            }
        ));
        assert_eq!(q.order.len(), 2);
        assert!(q.order[0].desc && q.order[0].nulls_first == Some(false));
        let q = p("SELECT Id FROM Opportunity WHERE (Amount > 1000.5 OR Amount < -5) AND NOT Name LIKE 'A\\_%' AND StageName NOT IN ('Closed Won', 'Closed Lost') AND CloseDate <= 2024-06-30");
        let Some(Expr::And(items)) = &q.filter else {
            panic!()
        };
        assert!(matches!(&items[0], Expr::Or(v) if v.len() == 2));
        let Expr::Not(like) = &items[1] else { panic!() };
        let Expr::Like {
            lit:
                LitAt {
                    lit: Lit::Str { like, .. },
                    ..
                },
            ..
        } = &**like
        else {
            panic!()
        };
        assert_eq!(
            like,
            &[LikeTok::Char('A'), LikeTok::Char('_'), LikeTok::Many]
        );
        assert!(matches!(&items[2], Expr::In { negated: true, lits, .. } if lits.len() == 2));
    }

    #[test]
    fn string_escapes() {
        let q =
            p(r#"SELECT Id FROM Contact WHERE Name = 'O\'Brien \"x\" \\ \n\t\r\b\f \_ \% \u00e9'"#);
        assert_eq!(
            str_value(q.filter.as_ref().unwrap()),
            "O'Brien \"x\" \\ \n\t\r\u{8}\u{c} _ % é"
        );
        let e = err(r"SELECT Id FROM Contact WHERE Name = 'a\qb'");
        assert!(e.contains("Illegal character sequence '\\q'"), "{e}");
    }

    #[test]
    fn syntax_errors_carry_position() {
        let e = err("SELECT Id FRM Contact");
        assert_eq!(
            e,
            "\nSELECT Id FRM Contact\n          ^\nERROR at Row:1:Column:11\nunexpected token: FRM"
        );
        assert!(err("SELECT Id FROM Contact WHERE").ends_with("unexpected token: <EOF>"));
        assert!(err("SELECT * FROM Contact").ends_with("unexpected token: *"));
        assert!(err("SELECT Id FROM Contact WHERE Name = 'x").contains("<EOF>"));
        assert!(err("SELECT Id FROM Contact WHERE a = 1 AND b = 2 OR c = 3")
            .ends_with("unexpected token: OR"));
        assert!(err("SELECT Id FROM Contact LIMIT -1").ends_with("unexpected token: -1"));
        assert!(err("SELECT Id FROM Contact OFFSET 5 LIMIT 1").ends_with("unexpected token: LIMIT"));
        assert!(err("SELECT FROM Contact").ends_with("unexpected token: FROM"));
        assert!(
            err("SELECT Id FROM Contact WHERE CreatedDate > 2024-13-01T00:00:00Z")
                .contains("unexpected token")
        );
        assert!(err("q").ends_with("unexpected token: q"));
        assert!(err("").ends_with("unexpected token: <EOF>"));
        // Multi-byte input must not split a character.
        assert!(err("SELECT Id FROM Contact WHERE Name = ’x’").contains("unexpected token: ’"));
        let e = err("SELECT Id\nFROM Contact\nWHERE Name = x");
        assert!(
            e.starts_with("\nWHERE Name = x\n             ^\nERROR at Row:3:Column:14\n"),
            "{e}"
        );
    }
}
