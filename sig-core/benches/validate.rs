//! Validation throughput of `Cpf`, `Cnpj` and `TaxId` (target: ≥ 20 million validations per
//! second per core for canonical input). Each group parses a batch of 1 000 pre-generated
//! valid inputs and reports elements per second.
//!
//! `cargo bench -p sig-core --bench validate -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::str::FromStr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sig_core::{Cnpj, Cpf, TaxId};

const BATCH: usize = 1_000;

/// A small deterministic generator (xorshift64*), so the inputs are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick(&mut self, alphabet: &[u8]) -> u8 {
        alphabet[(self.next() % alphabet.len() as u64) as usize]
    }
}

fn mod11(sum: u32) -> u32 {
    let r = sum % 11;
    if r < 2 { 0 } else { 11 - r }
}

fn cpf(rng: &mut Rng) -> String {
    loop {
        let d: Vec<u32> = (0..9)
            .map(|_| u32::from(rng.pick(b"0123456789") - b'0'))
            .collect();
        if d.iter().all(|&x| x == d[0]) {
            continue;
        }
        let d1 = mod11(d.iter().enumerate().map(|(i, v)| v * (10 - i as u32)).sum());
        let d2 = mod11(
            d.iter()
                .enumerate()
                .map(|(i, v)| v * (11 - i as u32))
                .sum::<u32>()
                + 2 * d1,
        );
        let mut s: String = d.iter().map(|v| char::from(b'0' + *v as u8)).collect();
        s.push(char::from(b'0' + d1 as u8));
        s.push(char::from(b'0' + d2 as u8));
        return s;
    }
}

fn cnpj(rng: &mut Rng, alphabet: &[u8]) -> String {
    const W1: [u32; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    const W2: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    loop {
        let base: Vec<u8> = (0..12).map(|_| rng.pick(alphabet)).collect();
        if base.iter().all(|&c| c == base[0]) {
            continue;
        }
        let v: Vec<u32> = base.iter().map(|&c| u32::from(c) - 48).collect();
        let d1 = mod11(v.iter().zip(W1).map(|(v, w)| v * w).sum());
        let d2 = mod11(v.iter().zip(W2).map(|(v, w)| v * w).sum::<u32>() + W2[12] * d1);
        let mut s = String::from_utf8(base).unwrap();
        s.push(char::from(b'0' + d1 as u8));
        s.push(char::from(b'0' + d2 as u8));
        return s;
    }
}

fn mask_cpf(c: &str) -> String {
    format!("{}.{}.{}-{}", &c[..3], &c[3..6], &c[6..9], &c[9..])
}

fn mask_cnpj(c: &str) -> String {
    format!(
        "{}.{}.{}/{}-{}",
        &c[..2],
        &c[2..5],
        &c[5..8],
        &c[8..12],
        &c[12..]
    )
}

/// Parse every input of `batch` as `T`, asserting once that all are valid.
fn bench_parse<T: FromStr>(c: &mut Criterion, group: &str, batch: &[String]) {
    assert!(
        batch.iter().all(|s| s.parse::<T>().is_ok()),
        "{group}: every input must be valid"
    );
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("from_str", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for s in batch {
                ok += usize::from(black_box(s.as_str()).parse::<T>().is_ok());
            }
            black_box(ok)
        })
    });
    g.finish();
}

/// Same as [`bench_parse`] for the allocation-free predicates.
fn bench_is_valid(c: &mut Criterion, group: &str, batch: &[String], is_valid: fn(&str) -> bool) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("is_valid", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for s in batch {
                ok += usize::from(is_valid(black_box(s.as_str())));
            }
            black_box(ok)
        })
    });
    g.finish();
}

fn validate(c: &mut Criterion) {
    let mut rng = Rng(0x5EED_CAFE_F00D_1234);
    let cpf_canonical: Vec<String> = (0..BATCH).map(|_| cpf(&mut rng)).collect();
    let cpf_masked: Vec<String> = cpf_canonical.iter().map(|s| mask_cpf(s)).collect();
    let cnpj_numeric: Vec<String> = (0..BATCH).map(|_| cnpj(&mut rng, b"0123456789")).collect();
    let cnpj_alnum: Vec<String> = (0..BATCH)
        .map(|_| cnpj(&mut rng, b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        .collect();
    let cnpj_masked: Vec<String> = cnpj_numeric
        .iter()
        .chain(&cnpj_alnum)
        .step_by(2)
        .map(|s| mask_cnpj(s))
        .collect();
    let mixed: Vec<String> = cpf_canonical
        .iter()
        .zip(&cnpj_alnum)
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();

    bench_parse::<Cpf>(c, "cpf_canonical", &cpf_canonical);
    bench_is_valid(c, "cpf_canonical", &cpf_canonical, Cpf::is_valid);
    bench_parse::<Cpf>(c, "cpf_masked", &cpf_masked);
    bench_parse::<Cnpj>(c, "cnpj_canonical_numeric", &cnpj_numeric);
    bench_parse::<Cnpj>(c, "cnpj_canonical_alphanumeric", &cnpj_alnum);
    bench_is_valid(
        c,
        "cnpj_canonical_alphanumeric",
        &cnpj_alnum,
        Cnpj::is_valid,
    );
    bench_parse::<Cnpj>(c, "cnpj_masked", &cnpj_masked);
    bench_parse::<TaxId>(c, "taxid_canonical_mixed", &mixed);
    // The general path: surrounding whitespace, lower case, separators out of place.
    let irregular: Vec<String> = mixed
        .iter()
        .map(|s| format!(" {}.{} ", &s[..4], s[4..].to_ascii_lowercase()))
        .collect();
    bench_parse::<TaxId>(c, "taxid_irregular", &irregular);
}

criterion_group!(benches, validate);
criterion_main!(benches);
