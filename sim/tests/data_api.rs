//! sObject writes (and the overlay they feed into queries), describe, and Bulk API 2.0
//! query jobs.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use forcelink_sim::SimConfig;
use serde_json::{json, Value};

fn base(sim: &Sim) -> String {
    format!("{}/services/data/v62.0", sim.instance)
}

fn query(sim: &Sim, auth: &str, q: &str) -> Value {
    let r = get(
        &format!("{}/query?q={}", base(sim), enc(q)),
        &[("Authorization", auth)],
    );
    assert_eq!(r.status, 200, "{q}: {}", r.text());
    r.json()
}

fn err1(code: &str, message: &str, fields: &[&str]) -> Value {
    json!([{"message": message, "errorCode": code, "fields": fields}])
}

/// RFC 4180 reader: rows of fields, `None` for an empty unquoted field.
fn parse_csv(text: &str, delim: char, eol: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while chars.peek().is_some() {
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut f = String::new();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        f.push('"');
                    } else {
                        break;
                    }
                } else {
                    f.push(c);
                }
            }
            row.push(Some(f));
            at_field_start = false;
        } else if chars.peek() == Some(&delim) {
            chars.next();
            if at_field_start {
                row.push(None);
            }
            at_field_start = true;
        } else if eol.starts_with(*chars.peek().unwrap_or(&' ')) {
            for _ in 0..eol.len() {
                chars.next();
            }
            if at_field_start && !row.is_empty() {
                row.push(None);
            }
            rows.push(std::mem::take(&mut row));
            at_field_start = true;
        } else {
            panic!(
                "unquoted value in CSV near {:?}",
                chars
                    .collect::<String>()
                    .chars()
                    .take(40)
                    .collect::<String>()
            );
        }
    }
    rows
}

#[test]
fn writes_validate_like_salesforce_and_show_up_in_queries() {
    let sim = spawn(SimConfig::default());
    let auth = cc_auth(&sim);
    let b = base(&sim);
    let contacts = format!("{b}/sobjects/Contact/");

    let r = call(
        "POST",
        &contacts,
        &auth,
        Some(&json!({"FirstName": "Jane", "LastName": "Doe", "Email": "jane.doe@example.com"})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let keys: Vec<&String> = created
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["id", "success", "errors"]);
    assert_eq!(
        (created["success"].clone(), created["errors"].clone()),
        (json!(true), json!([]))
    );
    let jane = created["id"].as_str().unwrap_or("").to_string();
    assert!(jane.starts_with("003") && jane.len() == 18);

    // Visible to COUNT, WHERE, ORDER BY Id, relationships.
    assert_eq!(
        query(&sim, &auth, "SELECT COUNT() FROM Contact")["totalSize"],
        51
    );
    let v = query(&sim, &auth, "SELECT Id, Name, Email, IsDeleted, Account.Name, Owner.Id FROM Contact ORDER BY Id DESC LIMIT 1");
    let rec = &v["records"][0];
    assert_eq!(rec["Id"], jane.as_str());
    assert_eq!(
        (rec["Name"].as_str(), rec["Email"].as_str()),
        (Some("Jane Doe"), Some("jane.doe@example.com"))
    );
    assert_eq!(
        (rec["IsDeleted"].clone(), rec["Account"].clone()),
        (json!(false), Value::Null)
    );
    assert!(
        rec["Owner"]["Id"]
            .as_str()
            .is_some_and(|o| o.starts_with("005")),
        "{rec}"
    );
    let v = query(
        &sim,
        &auth,
        &format!("SELECT Id FROM Contact WHERE Id > '{}'", &jane[..15]),
    );
    assert_eq!(v["totalSize"], 0);
    let v = query(
        &sim,
        &auth,
        "SELECT Id FROM Contact WHERE Email = 'JANE.DOE@example.com'",
    );
    assert_eq!(v["records"][0]["Id"], jane.as_str());

    // Without the trailing slash, with a lookup.
    let account = query(
        &sim,
        &auth,
        "SELECT Id, Name FROM Account ORDER BY Id LIMIT 1",
    )["records"][0]
        .clone();
    let opp = json!({"Name": "Big deal", "StageName": "Closed Won", "CloseDate": "2025-03-31", "Amount": "1500", "AccountId": account["Id"]});
    let r = call(
        "POST",
        &format!("{b}/sobjects/Opportunity"),
        &auth,
        Some(&opp),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let deal = r.json()["id"].as_str().unwrap_or("").to_string();
    let v = query(&sim, &auth, &format!("SELECT Amount, Probability, IsWon, CloseDate, Account.Name FROM Opportunity WHERE Id = '{deal}'"));
    let rec = &v["records"][0];
    assert_eq!(
        (
            rec["Amount"].clone(),
            rec["Probability"].clone(),
            rec["IsWon"].clone()
        ),
        (json!(1500.0), json!(100.0), json!(true))
    );
    assert_eq!(
        (rec["CloseDate"].clone(), rec["Account"]["Name"].clone()),
        (json!("2025-03-31"), account["Name"].clone())
    );

    // Create errors, with Salesforce's bodies.
    let post = |obj: &str, body: &str| {
        request(
            "POST",
            &format!("{b}/sobjects/{obj}/"),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
        .expect("resp")
    };
    for bad in ["[1]", "{\"LastName\":", "", "\"x\""] {
        let r = post("Contact", bad);
        assert_eq!(
            (r.status, r.json()[0]["errorCode"].as_str()),
            (400, Some("JSON_PARSER_ERROR")),
            "{bad}"
        );
    }
    let r = post("Contact", r#"{"Id":"003000000000001AAA","LastName":"X"}"#);
    assert_eq!(
        r.json(),
        json!([{"message": "The Id field should not be specified in the sobject data.", "errorCode": "INVALID_FIELD"}])
    );
    let r = post("Contact", r#"{"LastName":"X","Foo__c":1}"#);
    assert_eq!(
        r.json(),
        err1(
            "INVALID_FIELD",
            "No such column 'Foo__c' on sobject of type Contact",
            &[]
        )
    );
    let r = post("Contact", r#"{"FirstName":"X"}"#);
    assert_eq!(
        r.json(),
        err1(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
            &["LastName"]
        )
    );
    let r = post("Contact", r#"{"LastName":""}"#);
    assert_eq!(r.json()[0]["errorCode"], "REQUIRED_FIELD_MISSING");
    let r = post("Opportunity", r#"{"Amount":5}"#);
    assert_eq!(
        r.json(),
        err1(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [Name, StageName, CloseDate]",
            &["Name", "StageName", "CloseDate"]
        )
    );
    let r = post("Note", "{}");
    assert_eq!(r.json()[0]["fields"], json!(["ParentId", "Title"]));
    let r = post(
        "Opportunity",
        r#"{"Name":"N","StageName":"Prospecting","CloseDate":"2025-01-01","Amount":-1}"#,
    );
    assert_eq!(
        r.json(),
        err1(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Amount must not be negative",
            &["Amount"]
        )
    );
    let r = post(
        "Opportunity",
        r#"{"Name":"N","StageName":"Prospecting","CloseDate":"2025-01-01","Amount":"abc"}"#,
    );
    assert_eq!(
        r.json(),
        json!([{"message": "Cannot deserialize instance of currency from VALUE_STRING value abc or request may be missing a required field at [line:1, column:78]", "errorCode": "JSON_PARSER_ERROR"}])
    );
    let r = post(
        "Opportunity",
        r#"{"Name":"N","StageName":"Prospecting","CloseDate":"soon"}"#,
    );
    assert!(r.json()[0]["message"].as_str().is_some_and(
        |m| m.starts_with("Cannot deserialize instance of date from VALUE_STRING value soon")
    ));
    let r = post("Contact", r#"{"LastName":"X","Name":"Full"}"#);
    assert_eq!(r.json()[0]["errorCode"], "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert_eq!(r.json()[0]["fields"], json!(["Name"]));
    let r = post("Contact", r#"{"LastName":"X","Email":"not-an-email"}"#);
    assert_eq!(
        r.json(),
        err1(
            "INVALID_EMAIL_ADDRESS",
            "Email: invalid email address: not-an-email",
            &["Email"]
        )
    );
    let r = post(
        "Contact",
        &format!(r#"{{"LastName":"{}"}}"#, "x".repeat(81)),
    );
    assert_eq!(r.json()[0]["errorCode"], "STRING_TOO_LONG");
    let r = post("Contact", r#"{"LastName":"X","AccountId":"xyz"}"#);
    assert_eq!(
        r.json(),
        err1(
            "MALFORMED_ID",
            "Account ID: id value of incorrect type: xyz",
            &["AccountId"]
        )
    );
    let r = post(
        "Contact",
        &format!(r#"{{"LastName":"X","AccountId":"{jane}"}}"#),
    );
    assert_eq!(r.json()[0]["errorCode"], "FIELD_INTEGRITY_EXCEPTION");
    let r = post(
        "Contact",
        r#"{"LastName":"X","AccountId":"0015g00zzzzzzzzAAK"}"#,
    );
    assert_eq!(
        r.json(),
        err1(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            &["AccountId"]
        )
    );
    let r = post("Widget__c", r#"{"Name":"X"}"#);
    assert_eq!(
        (r.status, r.json()),
        (
            404,
            json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
        )
    );

    // Duplicate rule: an overlay contact, a generated contact, and the reserved address.
    let r = post(
        "Contact",
        r#"{"LastName":"Again","Email":"Jane.Doe@Example.com"}"#,
    );
    assert_eq!(r.status, 400);
    let dup = r.json();
    assert_eq!(dup[0]["errorCode"], "DUPLICATES_DETECTED");
    assert_eq!(
        dup[0]["message"],
        "You're creating a duplicate record. We recommend you use an existing record instead."
    );
    let m = &dup[0]["duplicateResut"]["matchResults"][0]["matchRecords"][0];
    assert_eq!(
        (m["record"]["Id"].as_str(), m["matchConfidence"].as_f64()),
        (Some(jane.as_str()), Some(100.0))
    );
    assert_eq!(
        m["record"]["attributes"]["url"],
        format!("/services/data/v62.0/sobjects/Contact/{jane}").as_str()
    );
    let generated = query(
        &sim,
        &auth,
        "SELECT Id, Email FROM Contact ORDER BY Id LIMIT 1",
    )["records"][0]
        .clone();
    let r = post(
        "Contact",
        &json!({"LastName": "Copy", "Email": generated["Email"]}).to_string(),
    );
    assert_eq!(
        r.json()[0]["duplicateResut"]["matchResults"][0]["matchRecords"][0]["record"]["Id"],
        generated["Id"]
    );
    assert_eq!(
        post(
            "Contact",
            r#"{"LastName":"D","Email":"duplicate@example.com"}"#
        )
        .json()[0]["errorCode"],
        "DUPLICATES_DETECTED"
    );
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Sforce-Duplicate-Rule-Header", "allowSave=true"),
    ];
    let r = request(
        "POST",
        &contacts,
        &headers,
        br#"{"LastName":"D","Email":"duplicate@example.com"}"#,
    )
    .expect("resp");
    assert_eq!(r.status, 201);

    // Updates: generated and created records.
    let target = query(
        &sim,
        &auth,
        "SELECT Id, FirstName, Name, SystemModstamp FROM Contact ORDER BY Id LIMIT 1 OFFSET 3",
    )["records"][0]
        .clone();
    let tid = target["Id"].as_str().unwrap_or("").to_string();
    let r = call(
        "PATCH",
        &format!("{b}/sobjects/Contact/{tid}"),
        &auth,
        Some(&json!({"Title": "Chief Simulator", "LastName": "Renamed"})),
    );
    assert_eq!((r.status, r.body.len()), (204, 0), "{}", r.text());
    let v = query(
        &sim,
        &auth,
        &format!("SELECT Title, Name, SystemModstamp FROM Contact WHERE Id = '{tid}'"),
    );
    let rec = &v["records"][0];
    assert_eq!(rec["Title"], "Chief Simulator");
    assert_eq!(
        rec["Name"],
        format!("{} Renamed", target["FirstName"].as_str().unwrap_or("")).as_str()
    );
    assert!(rec["SystemModstamp"].as_str() > target["SystemModstamp"].as_str());
    // Modstamp filters and sorts stay right after an update.
    let v = query(&sim, &auth, "SELECT Id FROM Contact WHERE SystemModstamp > 2025-01-01T00:00:00Z ORDER BY SystemModstamp DESC");
    let ids: Vec<&str> = v["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["Id"].as_str())
        .collect();
    assert_eq!(ids.first(), Some(&tid.as_str()));
    assert!(ids.contains(&jane.as_str()));
    assert_eq!(
        query(
            &sim,
            &auth,
            "SELECT Title FROM Contact WHERE Title = 'chief simulator'"
        )["totalSize"],
        1
    );
    let r = call(
        "PATCH",
        &format!("{b}/sobjects/Contact/{jane}"),
        &auth,
        Some(&json!({"Phone": "(415) 555-0100"})),
    );
    assert_eq!(r.status, 204);
    let r = get(
        &format!("{b}/sobjects/Contact/{jane}"),
        &[("Authorization", &auth)],
    );
    assert_eq!(
        (r.json()["Phone"].as_str(), r.json()["LastName"].as_str()),
        (Some("(415) 555-0100"), Some("Doe"))
    );
    assert_eq!(r.json()["attributes"]["type"], "Contact");

    let patch = |id: &str, body: Value| {
        call(
            "PATCH",
            &format!("{b}/sobjects/Contact/{id}"),
            &auth,
            Some(&body),
        )
    };
    let r = patch("nope", json!({"Title": "x"}));
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!([{"fields": ["Id"], "message": "Contact ID: id value of incorrect type: nope", "errorCode": "MALFORMED_ID"}])
        )
    );
    let r = patch(account["Id"].as_str().unwrap_or(""), json!({"Title": "x"}));
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].as_str()),
        (400, Some("MALFORMED_ID"))
    );
    let r = patch("0035g00zzzzzzzzAAK", json!({"Title": "x"}));
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let r = patch(&tid, json!({"LastName": null}));
    assert_eq!(
        r.json(),
        err1(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
            &["LastName"]
        )
    );
    let r = patch(&tid, json!({"Bogus": 1}));
    assert_eq!(r.json()[0]["errorCode"], "INVALID_FIELD");
    let r = patch(&tid, json!({"Email": "jane.doe@example.com"}));
    assert_eq!(r.json()[0]["errorCode"], "DUPLICATES_DETECTED");
    let r = call(
        "PATCH",
        &format!("{b}/sobjects/Opportunity/{deal}"),
        &auth,
        Some(&json!({"Amount": -5})),
    );
    assert_eq!(
        r.json()[0]["errorCode"],
        "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    );
    let r = call(
        "PATCH",
        &format!("{b}/sobjects/Opportunity/{deal}"),
        &auth,
        Some(&json!({"StageName": "Closed Lost"})),
    );
    assert_eq!(r.status, 204);
    let v = query(
        &sim,
        &auth,
        &format!("SELECT IsWon, IsClosed FROM Opportunity WHERE Id = '{deal}'"),
    );
    assert_eq!(
        (
            v["records"][0]["IsWon"].clone(),
            v["records"][0]["IsClosed"].clone()
        ),
        (json!(false), json!(true))
    );
    let r = call(
        "PUT",
        &format!("{b}/sobjects/Contact/{tid}"),
        &auth,
        Some(&json!({})),
    );
    assert_eq!(r.status, 405);

    // Faults aimed at writes leave reads alone.
    post_json(
        &format!("{}/__sim/faults", sim.login),
        json!({"target": "write", "kind": "503", "count": 1}),
    );
    assert_eq!(
        query(&sim, &auth, "SELECT COUNT() FROM Contact")["totalSize"],
        52
    );
    assert_eq!(
        call("POST", &contacts, &auth, Some(&json!({"LastName": "Z"}))).status,
        503
    );

    let counts = get(&format!("{}/__sim/counts", sim.login), &[]).json();
    assert!(
        counts["create"].as_u64().is_some_and(|n| n >= 25),
        "{counts}"
    );
    assert!(
        counts["update"].as_u64().is_some_and(|n| n >= 10),
        "{counts}"
    );

    // Re-seeding clears the overlay.
    let r = post_json(&format!("{}/__sim/seed", sim.login), json!({})).json();
    assert_eq!(r["overlay"]["Contact"]["created"], 0);
    assert_eq!(
        query(&sim, &auth, "SELECT COUNT() FROM Contact")["totalSize"],
        50
    );
}

#[test]
fn describe_types_match_rendering() {
    let sim = spawn(SimConfig::default());
    let auth = cc_auth(&sim);
    let b = base(&sim);
    let d = get(
        &format!("{b}/sobjects/Opportunity/describe"),
        &[("Authorization", &auth)],
    )
    .json();
    assert_eq!(
        (d["name"].as_str(), d["keyPrefix"].as_str()),
        (Some("Opportunity"), Some("006"))
    );
    let field = |n: &str| {
        d["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["name"] == n)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let types: Vec<(&str, &str)> = vec![
        ("Id", "id"),
        ("AccountId", "reference"),
        ("Name", "string"),
        ("StageName", "picklist"),
        ("Amount", "currency"),
        ("Probability", "percent"),
        ("CloseDate", "date"),
        ("IsWon", "boolean"),
        ("CreatedDate", "datetime"),
    ];
    for (name, ty) in types {
        assert_eq!(field(name)["type"], ty, "{name}");
    }
    let acc = field("AccountId");
    assert_eq!(
        (acc["relationshipName"].clone(), acc["referenceTo"].clone()),
        (json!("Account"), json!(["Account"]))
    );
    assert_eq!(
        (
            field("Name")["nillable"].clone(),
            field("Name")["createable"].clone()
        ),
        (json!(false), json!(true))
    );
    assert_eq!(field("IsClosed")["createable"], false);
    assert!(field("StageName")["picklistValues"]
        .as_array()
        .is_some_and(|v| v.iter().any(|p| p["value"] == "Closed Won")));
    for obj in ["Contact", "Account", "Note", "User"] {
        let r = get(
            &format!("{b}/sobjects/{obj}/describe"),
            &[("Authorization", &auth)],
        );
        assert_eq!(r.status, 200, "{obj}");
    }
    let c = get(
        &format!("{b}/sobjects/Contact/describe"),
        &[("Authorization", &auth)],
    )
    .json();
    let email = c["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == "Email")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (email["type"].as_str(), email["length"].as_u64()),
        (Some("email"), Some(80))
    );
    assert_eq!(
        get(
            &format!("{b}/sobjects/Nope/describe"),
            &[("Authorization", &auth)]
        )
        .status,
        404
    );
    assert_eq!(
        get(&format!("{b}/sobjects/Contact/describe"), &[]).status,
        401
    );
    let g = get(&format!("{b}/sobjects/"), &[("Authorization", &auth)]).json();
    assert_eq!(g["sobjects"].as_array().map(Vec::len), Some(5));
}

fn create_job(sim: &Sim, auth: &str, body: Value) -> Resp {
    call(
        "POST",
        &format!("{}/jobs/query", base(sim)),
        auth,
        Some(&body),
    )
}

fn wait_state(sim: &Sim, auth: &str, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = get(
            &format!("{}/jobs/query/{id}", base(sim)),
            &[("Authorization", auth)],
        )
        .json();
        if v["state"] == want || Instant::now() > deadline {
            assert_eq!(v["state"], want, "{v}");
            return v;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn bulk_job_lifecycle() {
    let sim = spawn(SimConfig {
        contacts: 300,
        ..Default::default()
    });
    let auth = cc_auth(&sim);
    let b = base(&sim);
    post_json(
        &format!("{}/__sim/config", sim.login),
        json!({"bulkJobMs": 400}),
    );
    let created = call(
        "POST",
        &format!("{b}/sobjects/Contact/"),
        &auth,
        Some(&json!({"LastName": "Quote \"Me\"", "Title": "Line1\nLine2"})),
    );
    let new_id = created.json()["id"].as_str().unwrap_or("").to_string();

    let r = create_job(
        &sim,
        &auth,
        json!({"operation": "query", "query": "SELECT Id, Name, Title, Account.Name, CreatedDate FROM Contact"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let job = r.json();
    let keys: Vec<&String> = job
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "id",
            "operation",
            "object",
            "createdById",
            "createdDate",
            "systemModstamp",
            "state",
            "concurrencyMode",
            "contentType",
            "apiVersion",
            "lineEnding",
            "columnDelimiter"
        ]
    );
    assert_eq!(
        (
            job["state"].as_str(),
            job["object"].as_str(),
            job["apiVersion"].as_f64()
        ),
        (Some("UploadComplete"), Some("Contact"), Some(62.0))
    );
    let id = job["id"].as_str().unwrap_or("").to_string();
    assert!(id.starts_with("750") && id.len() == 18);

    let results = format!("{b}/jobs/query/{id}/results");
    let r = get(&results, &[("Authorization", &auth)]);
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].as_str()),
        (400, Some("INVALIDJOBSTATE"))
    );
    let info = wait_state(&sim, &auth, &id, "JobComplete");
    assert_eq!(
        (
            info["numberRecordsProcessed"].as_u64(),
            info["jobType"].as_str()
        ),
        (Some(301), Some("V2Query"))
    );
    assert!(info["totalProcessingTime"].as_u64().is_some());

    let r = get(
        &results,
        &[("Authorization", &auth), ("Accept", "text/csv")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        (
            r.header("content-type"),
            r.header("sforce-locator"),
            r.header("sforce-numberofrecords")
        ),
        (Some("text/csv"), Some("null"), Some("301"))
    );
    assert!(r.header("sforce-limit-info").is_some());
    let text = r.text();
    assert!(
        text.starts_with("\"Id\",\"Name\",\"Title\",\"Account.Name\",\"CreatedDate\"\n"),
        "{}",
        &text[..200.min(text.len())]
    );
    let rows = parse_csv(&text, ',', "\n");
    assert_eq!(rows.len(), 302);
    assert!(rows.iter().all(|r| r.len() == 5));
    assert!(
        rows[1..].iter().any(|r| r[3].is_none()),
        "contacts without an account have an empty Account.Name"
    );
    let mine = rows
        .iter()
        .find(|r| r[0].as_deref() == Some(new_id.as_str()))
        .expect("created contact in bulk results");
    assert_eq!(
        (mine[1].as_deref(), mine[2].as_deref()),
        (Some("Quote \"Me\""), Some("Line1\nLine2"))
    );
    // Generated rows carry whole seconds (the created contact keeps its write's milliseconds).
    let generated = rows[1..]
        .iter()
        .find(|r| r[0].as_deref() != Some(new_id.as_str()))
        .expect("a generated row");
    assert!(generated[4]
        .as_deref()
        .is_some_and(|d| d.ends_with(".000Z")));

    // Abort: only before completion.
    post_json(
        &format!("{}/__sim/config", sim.login),
        json!({"bulkJobMs": 60_000}),
    );
    let slow = create_job(
        &sim,
        &auth,
        json!({"operation": "queryAll", "query": "SELECT Id FROM Account"}),
    )
    .json();
    let slow_id = slow["id"].as_str().unwrap_or("").to_string();
    let abort = |id: &str| {
        call(
            "PATCH",
            &format!("{b}/jobs/query/{id}"),
            &auth,
            Some(&json!({"state": "Aborted"})),
        )
    };
    let r = abort(&slow_id);
    assert_eq!(
        (r.status, r.json()["state"].as_str()),
        (200, Some("Aborted"))
    );
    wait_state(&sim, &auth, &slow_id, "Aborted");
    assert_eq!(
        abort(&slow_id).json(),
        json!([{"errorCode": "INVALIDJOBSTATE", "message": "Aborting already Aborted Job not allowed"}])
    );
    assert_eq!(
        abort(&id).json(),
        json!([{"errorCode": "INVALIDJOBSTATE", "message": "Aborting already Completed Job not allowed"}])
    );
    let r = get(
        &format!("{b}/jobs/query/{slow_id}/results"),
        &[("Authorization", &auth)],
    );
    assert_eq!(r.json()[0]["errorCode"], "INVALIDJOBSTATE");

    // A failing job.
    post_json(
        &format!("{}/__sim/config", sim.login),
        json!({"bulkJobMs": 0, "bulkFailNext": true}),
    );
    let failed = create_job(
        &sim,
        &auth,
        json!({"operation": "query", "query": "SELECT Id FROM Contact"}),
    )
    .json();
    let failed_id = failed["id"].as_str().unwrap_or("").to_string();
    let info = wait_state(&sim, &auth, &failed_id, "Failed");
    assert!(info["errorMessage"]
        .as_str()
        .is_some_and(|m| m.starts_with("InvalidBatch")));
    let again = create_job(
        &sim,
        &auth,
        json!({"operation": "query", "query": "SELECT Id FROM Contact"}),
    )
    .json();
    wait_state(
        &sim,
        &auth,
        again["id"].as_str().unwrap_or(""),
        "JobComplete",
    );

    // List, delete, 404.
    let list = get(&format!("{b}/jobs/query"), &[("Authorization", &auth)]).json();
    assert_eq!(
        (
            list["done"].clone(),
            list["records"].as_array().map(Vec::len)
        ),
        (json!(true), Some(4))
    );
    let r = call("DELETE", &format!("{b}/jobs/query/{id}"), &auth, None);
    assert_eq!((r.status, r.body.len()), (204, 0));
    let r = get(&format!("{b}/jobs/query/{id}"), &[("Authorization", &auth)]);
    assert_eq!(
        (r.status, r.json()),
        (
            404,
            json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        )
    );
    assert_eq!(get(&results, &[("Authorization", &auth)]).status, 404);
    let jobs = get(&format!("{}/__sim/jobs", sim.login), &[]).json();
    let states: Vec<(&str, bool)> = jobs
        .as_array()
        .into_iter()
        .flatten()
        .map(|j| (j["state"].as_str().unwrap_or(""), j["deleted"] == true))
        .collect();
    assert_eq!(
        states,
        [
            ("JobComplete", true),
            ("Aborted", false),
            ("Failed", false),
            ("JobComplete", false)
        ]
    );
    assert_eq!(jobs[0]["resultsRequested"], 2);

    // Bad job definitions.
    let r = create_job(
        &sim,
        &auth,
        json!({"operation": "query", "query": "SELECT Id, Foo__c FROM Contact"}),
    );
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].as_str()),
        (400, Some("INVALID_FIELD"))
    );
    assert!(r.json()[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("No such column 'Foo__c' on entity 'Contact'")));
    let r = create_job(
        &sim,
        &auth,
        json!({"operation": "query", "query": "SELECT Id FROM Contact LIMIT 5 OFFSET 5"}),
    );
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].as_str()),
        (400, Some("FUNCTIONALITY_NOT_ENABLED"))
    );
    let r = create_job(
        &sim,
        &auth,
        json!({"operation": "query", "query": "SELECT COUNT() FROM Contact"}),
    );
    assert_eq!(r.status, 400);
    let r = create_job(
        &sim,
        &auth,
        json!({"operation": "upsert", "query": "SELECT Id FROM Contact"}),
    );
    assert_eq!(r.json()[0]["errorCode"], "INVALIDJOB");
    let r = create_job(
        &sim,
        &auth,
        json!({"operation": "query", "query": "SELECT Id FROM Contact", "contentType": "JSON"}),
    );
    assert_eq!(r.json()[0]["errorCode"], "INVALIDJOB");

    // Results must use the job's API version.
    let other = format!(
        "{}/services/data/v61.0/jobs/query/{}/results",
        sim.instance,
        again["id"].as_str().unwrap_or("")
    );
    assert_eq!(get(&other, &[("Authorization", &auth)]).status, 409);

    let counts = get(&format!("{}/__sim/counts", sim.login), &[]).json();
    assert!(counts["bulk"].as_u64().is_some_and(|n| n >= 20), "{counts}");
}

/// Pages a completed job through `Sforce-Locator`; returns (rows, locators seen).
fn drain_job(sim: &Sim, auth: &str, id: &str, max: u64) -> (Vec<Vec<Option<String>>>, Vec<String>) {
    let mut rows = Vec::new();
    let mut locators = Vec::new();
    let mut locator: Option<String> = None;
    loop {
        let mut url = format!("{}/jobs/query/{id}/results?maxRecords={max}", base(sim));
        if let Some(l) = &locator {
            url.push_str(&format!("&locator={l}"));
        }
        let r = get(&url, &[("Authorization", auth)]);
        assert_eq!(r.status, 200, "{}", r.text());
        let page = parse_csv(&r.text(), ',', "\n");
        let n: usize = r
            .header("sforce-numberofrecords")
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX);
        assert_eq!(page.len() - 1, n);
        rows.extend(page.into_iter().skip(1));
        let next = r.header("sforce-locator").unwrap_or("null").to_string();
        locators.push(next.clone());
        if next == "null" {
            return (rows, locators);
        }
        locator = Some(next);
    }
}

#[test]
fn bulk_locator_paging_returns_each_row_once() {
    let sim = spawn(SimConfig {
        contacts: 5000,
        ..Default::default()
    });
    let auth = cc_auth(&sim);
    post_json(
        &format!("{}/__sim/config", sim.login),
        json!({"bulkJobMs": 0}),
    );
    for (q, expect) in [
        ("SELECT Id, Name, Email FROM Contact", Some(5000)),
        ("SELECT Id FROM Contact WHERE Name LIKE '%a%'", None),
        ("SELECT Id, Name FROM Contact ORDER BY Name", Some(5000)),
        (
            "SELECT Id FROM Contact ORDER BY Id DESC LIMIT 4100",
            Some(4100),
        ),
    ] {
        let job = create_job(&sim, &auth, json!({"operation": "query", "query": q})).json();
        let id = job["id"].as_str().unwrap_or("").to_string();
        let total = wait_state(&sim, &auth, &id, "JobComplete")["numberRecordsProcessed"]
            .as_u64()
            .unwrap_or(0) as usize;
        let (rows, locators) = drain_job(&sim, &auth, &id, 2000);
        let ids: HashSet<&str> = rows.iter().filter_map(|r| r[0].as_deref()).collect();
        assert_eq!((rows.len(), ids.len()), (total, total), "{q}");
        if let Some(e) = expect {
            assert_eq!(total, e, "{q}");
        }
        assert_eq!(locators.len(), total.div_ceil(2000).max(1), "{q}");
        if q.contains("ORDER BY Name") {
            let names: Vec<String> = rows
                .iter()
                .map(|r| r[1].clone().unwrap_or_default().to_lowercase())
                .collect();
            assert!(
                names.windows(2).all(|w| w[0] <= w[1]),
                "sorted across pages"
            );
        }
        if q == "SELECT Id, Name, Email FROM Contact" {
            assert_eq!(locators, ["MjAwMA", "NDAwMA", "null"]);
            // Locators stay valid: re-reading page 2 returns the same rows.
            let again = get(
                &format!(
                    "{}/jobs/query/{id}/results?maxRecords=2000&locator=MjAwMA",
                    base(&sim)
                ),
                &[("Authorization", &auth)],
            );
            assert_eq!(parse_csv(&again.text(), ',', "\n")[1..], rows[2000..4000]);
        }
    }
    // Other delimiters and line endings; a bad locator.
    let job = create_job(&sim, &auth, json!({"operation": "query", "query": "SELECT Id, Name FROM Account LIMIT 3", "columnDelimiter": "PIPE", "lineEnding": "CRLF"})).json();
    assert_eq!(
        (job["columnDelimiter"].as_str(), job["lineEnding"].as_str()),
        (Some("PIPE"), Some("CRLF"))
    );
    let id = job["id"].as_str().unwrap_or("");
    wait_state(&sim, &auth, id, "JobComplete");
    let r = get(
        &format!("{}/jobs/query/{id}/results", base(&sim)),
        &[("Authorization", &auth)],
    );
    let text = r.text();
    assert!(text.starts_with("\"Id\"|\"Name\"\r\n"), "{text}");
    assert_eq!(parse_csv(&text, '|', "\r\n").len(), 4);
    let r = get(
        &format!("{}/jobs/query/{id}/results?locator=garbage", base(&sim)),
        &[("Authorization", &auth)],
    );
    assert_eq!(r.json()[0]["errorCode"], "INVALID_QUERY_LOCATOR");
    let r = get(
        &format!("{}/jobs/query/{id}/results?maxRecords=0", base(&sim)),
        &[("Authorization", &auth)],
    );
    assert_eq!(r.status, 400);
}
