//! Fixtures for the criterion micro-benchmarks in `benches/micro.rs` (the crate has no API).

use serde_json::value::RawValue;

const FIRST: [&str; 8] = [
    "Priya", "Susan", "Emma", "José", "Liam", "Zoë", "Noah", "Olivia",
];
const LAST: [&str; 8] = [
    "Nguyen", "O'Brien", "Gonzalez", "Müller", "Smith", "Chen", "Kowalski", "Brown",
];
const TITLES: [&str; 4] = [
    "VP of Sales",
    "Software Engineer",
    "Director of Marketing",
    "CEO, \"Founder\"",
];

/// `n` contact records shaped like Salesforce's (and the simulator's) query results: attributes,
/// nested `Account` (sometimes null) and `Owner`, a few non-ASCII names and CSV-hostile titles.
pub fn contact_batch(n: usize) -> Vec<Box<RawValue>> {
    (0..n)
        .map(|i| {
            let (f, l) = (FIRST[i % 8], LAST[(i / 8) % 8]);
            let account = if i % 5 == 0 {
                "null".to_string()
            } else {
                format!(
                    r#"{{"attributes":{{"type":"Account","url":"/services/data/v62.0/sobjects/Account/0015g{i:013}AAK"}},"Name":"Acme {i}"}}"#
                )
            };
            let text = format!(
                r#"{{"attributes":{{"type":"Contact","url":"/services/data/v62.0/sobjects/Contact/0035g{i:013}AAK"}},"Name":"{f} {l}","Account":{account},"Title":{title},"Phone":"(206) 555-{p:04}","Email":"{fl}.{ll}@mail.example.org","Owner":{{"attributes":{{"type":"User","url":"/services/data/v62.0/sobjects/User/0055g0000000000AAK"}},"Alias":"bjohnso{o}"}}}}"#,
                title = serde_json::to_string(TITLES[i % 4]).unwrap(),
                p = i % 10_000,
                fl = f.to_lowercase(),
                ll = l.to_lowercase().replace('\'', ""),
                o = i % 10,
            );
            RawValue::from_string(text).expect("valid JSON")
        })
        .collect()
}

/// The batch as Salesforce's query response body.
pub fn query_body(records: &[Box<RawValue>]) -> String {
    let list: Vec<&str> = records.iter().map(|r| r.get()).collect();
    format!(
        r#"{{"totalSize":100000,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/0r8xmps04nIxezVAAP-2000","records":[{}]}}"#,
        list.join(",")
    )
}

/// The REST cursor's batch read as adopted in `export.rs` (measured beside the old two passes): one
/// pass that borrows every record and takes the array's text as one slice of the body.
#[derive(serde::Deserialize)]
pub struct OnePassPage<'a> {
    #[serde(rename = "totalSize")]
    pub total_size: u64,
    pub done: bool,
    #[serde(rename = "nextRecordsUrl", default)]
    pub next_records_url: Option<String>,
    #[serde(borrow, default)]
    pub records: Vec<&'a RawValue>,
}

/// `(count, the records array's text)` from one pass over the body.
pub fn one_pass(body: &str) -> (usize, &str) {
    let page: OnePassPage = serde_json::from_str(body).expect("query body");
    let (Some(first), Some(last)) = (page.records.first(), page.records.last()) else {
        return (0, "[]");
    };
    let base = body.as_ptr() as usize;
    let start = first.get().as_ptr() as usize - base;
    let end = last.get().as_ptr() as usize - base + last.get().len();
    let open = body[..start].rfind('[').expect("array start");
    let close = end + body[end..].find(']').expect("array end");
    (page.records.len(), &body[open..=close])
}

/// The describes a Bulk export of the benchmark's contacts resolves its columns with.
pub fn contact_describes() -> Vec<std::sync::Arc<forcelink::salesforce::describe::Describe>> {
    let d =
        |v: serde_json::Value| std::sync::Arc::new(serde_json::from_value(v).expect("describe"));
    vec![
        d(serde_json::json!({"name": "Contact", "fields": [
            {"name": "Id", "type": "id"}, {"name": "Name", "type": "string"},
            {"name": "Title", "type": "string"}, {"name": "Phone", "type": "phone"},
            {"name": "Email", "type": "email"},
            {"name": "AccountId", "type": "reference", "relationshipName": "Account", "referenceTo": ["Account"]},
            {"name": "OwnerId", "type": "reference", "relationshipName": "Owner", "referenceTo": ["User"]},
        ]})),
        d(serde_json::json!({"name": "Account", "fields": [
            {"name": "Id", "type": "id"}, {"name": "Name", "type": "string"},
        ]})),
        d(serde_json::json!({"name": "User", "fields": [
            {"name": "Id", "type": "id"}, {"name": "Alias", "type": "string"},
        ]})),
    ]
}

/// `n` contacts as a Bulk results page sends them (the plan's columns: Id, Name, Account.Id,
/// Account.Name, Title, Phone, Email, Owner.Id, Owner.Alias), the same values as `contact_batch`.
pub fn bulk_csv(n: usize) -> String {
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out =
        String::from("Id,Name,Account.Id,Account.Name,Title,Phone,Email,Owner.Id,Owner.Alias\n");
    for i in 0..n {
        let (f, l) = (FIRST[i % 8], LAST[(i / 8) % 8]);
        let (acct_id, acct) = if i % 5 == 0 {
            (String::new(), String::new())
        } else {
            (format!("0015g{i:013}AAK"), format!("Acme {i}"))
        };
        out.push_str(&format!(
            "0035g{i:013}AAK,{},{acct_id},{acct},{},(206) 555-{p:04},{fl}.{ll}@mail.example.org,0055g0000000000AAK,bjohnso{o}\n",
            q(&format!("{f} {l}")),
            q(TITLES[i % 4]),
            p = i % 10_000,
            fl = f.to_lowercase(),
            ll = l.to_lowercase().replace('\'', ""),
            o = i % 10,
        ));
    }
    out
}
