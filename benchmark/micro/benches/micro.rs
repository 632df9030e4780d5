//! `cargo bench -p forcelink-microbench`: the paginator, the SOQL builder, OAuth state signing and
//! the export batch formats, in the Rust core alone (no JS boundary).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use forcelink::oauth::state::StateCodec;
use forcelink::salesforce::export::QueryPage;
use forcelink::salesforce::format;
use forcelink::salesforce::paginate::{normalize_limit, normalize_page, paginate};
use forcelink::salesforce::soql::{ExportType, Select};
use forcelink::secret::StateSecret;
use forcelink_microbench::{bulk_csv, contact_batch, contact_describes, one_pass, query_body};

fn paginator(c: &mut Criterion) {
    let mut g = c.benchmark_group("paginate");
    g.bench_function("paginate(1500, 3, 100)", |b| {
        b.iter(|| paginate(black_box(1500), black_box(3), black_box(Some(100))))
    });
    g.bench_function("normalize + paginate (query-string input)", |b| {
        b.iter(|| {
            let page = normalize_page(black_box(Some("7")));
            let limit = normalize_limit(black_box(Some(" 250abc")));
            paginate(black_box(100_000), page, limit)
        })
    });
    g.bench_function("paginate + serialize (exportPage's pagination)", |b| {
        b.iter(|| {
            serde_json::to_string(&paginate(
                black_box(100_000),
                black_box(40),
                black_box(Some(100)),
            ))
            .unwrap()
        })
    });
    g.finish();
}

fn soql(c: &mut Criterion) {
    let ty = ExportType::new(
        "Contact",
        &[
            "Name",
            "Account.Name",
            "Title",
            "Phone",
            "Email",
            "Owner.Alias",
        ],
    )
    .unwrap();
    let mut g = c.benchmark_group("soql");
    g.bench_function("ExportType::new (6 fields, validated)", |b| {
        b.iter(|| {
            ExportType::new(
                black_box("Contact"),
                black_box(&[
                    "Name",
                    "Account.Name",
                    "Title",
                    "Phone",
                    "Email",
                    "Owner.Alias",
                ]),
            )
            .unwrap()
        })
    });
    g.bench_function("Select LIMIT/OFFSET page", |b| {
        b.iter(|| {
            Select::new(black_box(&ty))
                .limit(100)
                .offset(black_box(1900))
                .build()
        })
    });
    g.bench_function("Select keyset (WHERE Id > escaped literal)", |b| {
        b.iter(|| {
            Select::new(black_box(&ty))
                .after_id(black_box("0035g000000009qAAK"))
                .limit(100)
                .build()
        })
    });
    g.bench_function("Select COUNT()", |b| {
        b.iter(|| Select::new(black_box(&ty)).count())
    });
    g.finish();
}

fn state(c: &mut Criterion) {
    let codec = StateCodec::new(
        &StateSecret::new("bench-state-secret-0123456789abcdef-XYZ"),
        Duration::from_secs(3600),
    );
    let (token, _) = codec
        .sign(
            "acc-bench",
            "user-bench",
            "https://app.example.com/integrations",
            None,
        )
        .unwrap();
    let mut g = c.benchmark_group("state");
    g.bench_function("sign", |b| {
        b.iter(|| {
            codec
                .sign(
                    black_box("acc-bench"),
                    black_box("user-bench"),
                    black_box("https://app.example.com/integrations"),
                    None,
                )
                .unwrap()
        })
    });
    g.bench_function("verify", |b| {
        b.iter(|| codec.verify(black_box(token.as_str())).unwrap())
    });
    g.bench_function("sign + verify", |b| {
        b.iter(|| {
            let (t, _) = codec
                .sign(
                    black_box("acc-bench"),
                    black_box("user-bench"),
                    black_box("https://app.example.com/integrations"),
                    None,
                )
                .unwrap();
            codec.verify(t.as_str()).unwrap()
        })
    });
    g.finish();
}

/// What the export cursor does with each 2,000-record batch before it crosses to JS.
fn formats(c: &mut Criterion) {
    let ty = ExportType::new(
        "Contact",
        &[
            "Name",
            "Account.Name",
            "Title",
            "Phone",
            "Email",
            "Owner.Alias",
        ],
    )
    .unwrap();
    let records = contact_batch(2000);
    let body = query_body(&records);
    let mut g = c.benchmark_group("batch_2000");
    g.throughput(Throughput::Elements(2000));
    g.sample_size(20);
    g.bench_function(
        "REST batch read, before: parse body + count the array (2 passes)",
        |b| {
            b.iter(|| {
                let page = QueryPage::parse(black_box(body.as_bytes())).unwrap();
                let text = page.records.unwrap().get().to_owned();
                let n = serde_json::from_str::<Vec<serde::de::IgnoredAny>>(&text)
                    .unwrap()
                    .len();
                (n, text)
            })
        },
    );
    g.bench_function(
        "REST batch read, now: one pass borrowing the records",
        |b| {
            b.iter(|| {
                let (n, text) = one_pass(black_box(&body));
                (n, text.to_owned())
            })
        },
    );
    let records_text = QueryPage::parse(body.as_bytes())
        .unwrap()
        .records
        .unwrap()
        .get()
        .to_owned();
    // Both reads must give the same batch.
    assert_eq!(one_pass(&body), (2000, records_text.as_str()));
    g.bench_function(
        "split records into raw values (Batch::rows, for CSV/NDJSON)",
        |b| {
            b.iter(|| {
                serde_json::from_str::<Vec<&serde_json::value::RawValue>>(black_box(&records_text))
                    .unwrap()
                    .len()
            })
        },
    );
    g.bench_function("ascii_json (next_json, escapes non-ASCII)", |b| {
        b.iter(|| format::ascii_json(black_box(records_text.clone())))
    });
    g.bench_function(
        "String clone of the batch text (baseline for the two above)",
        |b| b.iter(|| black_box(records_text.clone())),
    );
    g.bench_function("json_array", |b| {
        b.iter(|| format::json_array(black_box(&records)))
    });
    g.bench_function("ndjson_rows", |b| {
        b.iter(|| format::ndjson_rows(black_box(&records)))
    });
    g.bench_function("csv_rows", |b| {
        b.iter(|| format::csv_rows(black_box(&ty), black_box(&records)).unwrap())
    });
    g.finish();
}

/// A Bulk results page of 2,000 contacts to output text (issue 21): the conversion before (rows as
/// `Vec<String>`, a `serde_json::Value` tree per record, serialised) and now (fields into one
/// reused buffer, JSON or CSV text written from the column plan resolved once per job).
fn bulk_rows(c: &mut Criterion) {
    use forcelink::salesforce::bulk::{RowPlan, RowSink};
    use forcelink::salesforce::csv::{CsvReader, Row};
    use forcelink::salesforce::export::BatchForm;
    let ty = ExportType::new(
        "Contact",
        &[
            "Name",
            "Account.Name",
            "Title",
            "Phone",
            "Email",
            "Owner.Alias",
        ],
    )
    .unwrap();
    let plan = RowPlan::from_describes(&ty, &contact_describes()).unwrap();
    let csv = bulk_csv(2000);
    let dp = "/services/data/v62.0";
    let before = || {
        let mut r = CsvReader::default();
        r.push(csv.as_bytes());
        let mut out = Vec::with_capacity(2000);
        r.next_row();
        while let Some(row) = r.next_row() {
            out.push(plan.record(dp, &row).unwrap());
        }
        format::json_array(&out)
    };
    let now = |form: BatchForm, attributes: bool| {
        let mut r = CsvReader::default();
        r.push(csv.as_bytes());
        let mut row = Row::default();
        let mut sink = RowSink::new(form, attributes, 2000 * 200);
        r.next_into(&mut row);
        while r.next_into(&mut row) {
            plan.write(&mut sink, dp, &row).unwrap();
        }
        sink.finish()
    };
    // The same bytes both ways; and the REST batch of the same contacts is the same records.
    assert_eq!(now(BatchForm::JsonArray, true).0, before());
    let rest: Vec<serde_json::Value> =
        serde_json::from_str(&format::json_array(&contact_batch(2000))).unwrap();
    let bulk: Vec<serde_json::Value> = serde_json::from_str(&before()).unwrap();
    assert_eq!(rest, bulk);
    let mut g = c.benchmark_group("bulk_2000");
    g.throughput(Throughput::Elements(2000));
    g.sample_size(20);
    g.bench_function(
        "CSV rows → JSON records, before (Value tree per record)",
        |b| b.iter(before),
    );
    g.bench_function(
        "CSV rows → JSON records, now (written from the plan)",
        |b| b.iter(|| now(BatchForm::JsonArray, true)),
    );
    g.bench_function("CSV rows → JSON records without attributes", |b| {
        b.iter(|| now(BatchForm::JsonArray, false))
    });
    g.bench_function("CSV rows → NDJSON lines", |b| {
        b.iter(|| now(BatchForm::Ndjson, true))
    });
    g.bench_function("CSV rows → export CSV rows (formula guard)", |b| {
        b.iter(|| now(BatchForm::CsvRows { guard: true }, true))
    });
    g.bench_function(
        "CSV rows → export CSV, before (Value tree, then csv_rows)",
        |b| {
            b.iter(|| {
                let mut r = CsvReader::default();
                r.push(csv.as_bytes());
                let mut out = Vec::with_capacity(2000);
                r.next_row();
                while let Some(row) = r.next_row() {
                    out.push(plan.record(dp, &row).unwrap());
                }
                format::csv_rows(&ty, &out).unwrap()
            })
        },
    );
    let rest_text = format::json_array(&contact_batch(2000));
    g.bench_function("REST batch: drop attributes (attributes: false)", |b| {
        b.iter(|| forcelink::salesforce::attributes::strip(black_box(&rest_text)))
    });
    g.finish();
}

criterion_group!(benches, paginator, soql, state, formats, bulk_rows);
criterion_main!(benches);
