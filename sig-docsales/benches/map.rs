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

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sig_core::config::Catalog;
use sig_docsales::ProposalRef;
use sig_docsales::mapping::{map_proposal, sourced, validate};
use sig_docsales::wire::decode_proposal;

const SAMPLE: &[u8] = include_bytes!("../../examples/data/proposal.docsales.json");
const DEMO_CONFIG: &str = include_str!("../../examples/demo/sig.toml");

fn bench(c: &mut Criterion) {
    let catalog = Catalog::from_config_toml(DEMO_CONFIG).expect("the demo catalog loads");
    let requested = ProposalRef::Id(44073);
    // The sample must be a valid proposal, or the bench would measure the error path.
    let doc = decode_proposal(SAMPLE).expect("the sample decodes");
    let sp = sourced("demo", &requested, &doc, &catalog);
    validate(&sp, &catalog).expect("the sample is a valid proposal");

    let mut g = c.benchmark_group("docsales_proposal");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse+map+validate", |b| {
        b.iter(|| {
            let doc = decode_proposal(black_box(SAMPLE)).expect("decodes");
            let sp = sourced("demo", &requested, &doc, &catalog);
            black_box(validate(&sp, &catalog).expect("valid"))
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(decode_proposal(black_box(SAMPLE)).expect("decodes")))
    });
    g.bench_function("map", |b| {
        b.iter(|| black_box(map_proposal(black_box(&doc), &catalog)))
    });
    g.bench_function("validate", |b| {
        b.iter(|| black_box(validate(black_box(&sp), &catalog).expect("valid")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
