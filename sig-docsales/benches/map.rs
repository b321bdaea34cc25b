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
//! - `parse+map`: [`decode_sourced`], what the DocSales proposal source does with a fetched
//!   body: read in one pass into what the mapping needs, then mapped into the raw shape;
//! - `validate`: [`validate`], sig-core's validation into the domain plus the mapping's
//!   problems, traced to their DocSales fields.
//!
//! `parse+map+validate` runs the two in a row from the bytes, as one proposal costs.
//!
//! Baselines, measured in the same run:
//! - `parse+map (decode, then map)`: the path the source took before, [`decode_proposal`]
//!   into a whole [`ProposalDocument`](sig_docsales::ProposalDocument), then
//!   [`sourced_owned`]; the ratio to `parse+map` is the one-pass read's speed-up;
//! - `parse`: [`decode_proposal`] alone (the webhook intake's decoder), and
//!   `parse (previous decoder)`: the serde-derive decoder with `#[serde(flatten)]` this crate
//!   used before it (kept in `tests/reference` as the differential oracle); their ratio is the
//!   decoder's speed-up.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sig_core::config::Catalog;
use sig_docsales::ProposalRef;
use sig_docsales::mapping::{decode_sourced, sourced_owned, validate};
use sig_docsales::wire::decode_proposal;

#[path = "../tests/reference/mod.rs"]
mod reference;

const SAMPLE: &[u8] = include_bytes!("../../examples/data/proposal.docsales.json");
const DEMO_CONFIG: &str = include_str!("../../examples/demo/sig.toml");

fn bench(c: &mut Criterion) {
    let catalog = Catalog::from_config_toml(DEMO_CONFIG).expect("the demo catalog loads");
    let requested = ProposalRef::Id(44073);
    // The sample must be a valid proposal, or the bench would measure the error path; and
    // both paths must map it alike.
    let sp = decode_sourced("demo", &requested, SAMPLE, &catalog).expect("the sample decodes");
    let doc = decode_proposal(SAMPLE).expect("the sample decodes");
    assert_eq!(sp, sourced_owned("demo", &requested, doc, &catalog));
    validate(&sp, &catalog).expect("the sample is a valid proposal");

    let mut g = c.benchmark_group("docsales_proposal");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse+map+validate", |b| {
        b.iter(|| {
            let sp =
                decode_sourced("demo", &requested, black_box(SAMPLE), &catalog).expect("decodes");
            black_box(validate(&sp, &catalog).expect("valid"))
        })
    });
    g.bench_function("parse+map", |b| {
        b.iter(|| {
            black_box(
                decode_sourced("demo", &requested, black_box(SAMPLE), &catalog).expect("decodes"),
            )
        })
    });
    g.bench_function("validate", |b| {
        b.iter(|| black_box(validate(black_box(&sp), &catalog).expect("valid")))
    });
    g.bench_function("parse+map (decode, then map)", |b| {
        b.iter(|| {
            let doc = decode_proposal(black_box(SAMPLE)).expect("decodes");
            black_box(sourced_owned("demo", &requested, doc, &catalog))
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(decode_proposal(black_box(SAMPLE)).expect("decodes")))
    });
    g.bench_function("parse (previous decoder)", |b| {
        b.iter(|| {
            black_box(
                reference::decode::<reference::ProposalDocument>(black_box(SAMPLE))
                    .expect("decodes"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
