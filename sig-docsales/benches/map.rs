//! Parse + validate + map the shipped sample DocSales proposal (`examples/data/
//! proposal.docsales.json`, about 3 KB with custom fields) with the demo catalog: the work
//! the pipeline's `fetch` and `validate` steps do per proposal, without the HTTP.
//!
//! ```sh
//! cargo bench -p sig-docsales --bench map
//! ```
//!
//! Target: ≥ 100 000 proposals per second per core. Criterion reports the time per proposal
//! (`parse+map+validate`) and its phases; proposals per second = 1 / that time.
//!
//! The phases, each the code the pipeline runs:
//! - `parse`: [`decode_proposal`] from the body's bytes (the webhook's and the fetch's decoder);
//! - `map`: [`sourced_owned`], what the DocSales proposal source returns for a fetched
//!   document: the document is taken (its text moves into the raw shape), so each iteration
//!   maps a fresh copy, made outside the timing;
//! - `validate`: [`validate`], sig-core's validation into the domain plus the mapping's
//!   problems, traced to their DocSales fields.
//!
//! `parse+map+validate` runs the three in a row from the bytes, as one proposal costs.
//!
//! Baseline, measured in the same run: `parse (previous decoder)` is the serde-derive decoder
//! with `#[serde(flatten)]` this crate used before (kept in `tests/reference` as the
//! differential oracle); the ratio of the two `parse` figures is the decoder's speed-up.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sig_core::config::Catalog;
use sig_docsales::ProposalRef;
use sig_docsales::mapping::{sourced_owned, validate};
use sig_docsales::wire::decode_proposal;

#[path = "../tests/reference/mod.rs"]
mod reference;

const SAMPLE: &[u8] = include_bytes!("../../examples/data/proposal.docsales.json");
const DEMO_CONFIG: &str = include_str!("../../examples/demo/sig.toml");

fn bench(c: &mut Criterion) {
    let catalog = Catalog::from_config_toml(DEMO_CONFIG).expect("the demo catalog loads");
    let requested = ProposalRef::Id(44073);
    // The sample must be a valid proposal, or the bench would measure the error path.
    let doc = decode_proposal(SAMPLE).expect("the sample decodes");
    let sp = sourced_owned("demo", &requested, doc.clone(), &catalog);
    validate(&sp, &catalog).expect("the sample is a valid proposal");

    let mut g = c.benchmark_group("docsales_proposal");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse+map+validate", |b| {
        b.iter(|| {
            let doc = decode_proposal(black_box(SAMPLE)).expect("decodes");
            let sp = sourced_owned("demo", &requested, doc, &catalog);
            black_box(validate(&sp, &catalog).expect("valid"))
        })
    });
    g.bench_function("parse (previous decoder)", |b| {
        b.iter(|| {
            black_box(
                reference::decode::<reference::ProposalDocument>(black_box(SAMPLE))
                    .expect("decodes"),
            )
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(decode_proposal(black_box(SAMPLE)).expect("decodes")))
    });
    g.bench_function("map", |b| {
        b.iter_batched(
            || doc.clone(),
            |doc| black_box(sourced_owned("demo", &requested, black_box(doc), &catalog)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("validate", |b| {
        b.iter(|| black_box(validate(black_box(&sp), &catalog).expect("valid")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
