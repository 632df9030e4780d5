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
use forcelink_microbench::{contact_batch, one_pass, query_body};

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

criterion_group!(benches, paginator, soql, state, formats);
criterion_main!(benches);
