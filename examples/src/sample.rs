//! Generated DocSales proposal documents, for load, fault and crash tests and benchmarks:
//! valid companies (numeric and alphanumeric CNPJs) and people (CPFs), one or two service
//! orders each across several area codes, DIDs in the order's area code, and every fifth
//! proposal a second one for the previous proposal's customer. Seeded: the same seed gives
//! the same documents.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sig_core::{Cnpj, Cpf};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    /// How many proposals.
    pub proposals: usize,
    /// Seed.
    pub seed: u64,
    /// First DocSales document id (ids are consecutive).
    pub first_id: u64,
    /// Area codes orders are spread over (each must be served by a configured server).
    pub area_codes: Vec<u8>,
    /// Products orders are drawn from: (DocSales product code, largest quantity).
    pub products: Vec<(String, u32)>,
    /// At most this many DIDs per order.
    pub max_dids: usize,
}

impl SampleSpec {
    /// `n` proposals over the demo catalog and the demo servers' area codes.
    pub fn demo(n: usize, seed: u64) -> Self {
        SampleSpec {
            proposals: n,
            seed,
            first_id: 200_000,
            area_codes: vec![11, 19, 21, 31, 41, 71, 81],
            products: vec![
                ("VOIP-LINHA".into(), 2),
                ("TRUNK-SIP".into(), 1),
                ("PBX-10".into(), 1),
            ],
            max_dids: 2,
        }
    }
}

/// A valid CPF (11 digits) with this 9-digit base: the check digits are found by trying all
/// 100 pairs against sig-core's own validation, so no second implementation of the rule
/// exists. Every generator of test data uses this (and [`cnpj_with_base`]).
pub fn cpf_with_base(base: u64) -> String {
    let base = format!("{:09}", base % 1_000_000_000);
    (0..100)
        .map(|dv| format!("{base}{dv:02}"))
        .find(|c| Cpf::is_valid(c))
        .expect("every CPF base has one valid pair of check digits")
}

/// A valid CNPJ (14 characters) with this 12-character `[0-9A-Z]` base, found like
/// [`cpf_with_base`]'s.
pub fn cnpj_with_base(base: &str) -> String {
    (0..100)
        .map(|dv| format!("{base}{dv:02}"))
        .find(|c| Cnpj::is_valid(c))
        .expect("every CNPJ base has one valid pair of check digits")
}

/// One generated customer.
#[derive(Debug, Clone)]
struct Person {
    company: bool,
    tax_id: String,
    name: String,
    email: String,
    phone_ddd: u8,
}

fn customer(i: usize, rng: &mut SmallRng) -> Person {
    let company = i.is_multiple_of(2);
    let tax_id = if company {
        if i.is_multiple_of(6) {
            // Alphanumeric CNPJ (issued from July 2026).
            const A: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
            let root: String = (0..8)
                .map(|_| A[rng.random_range(0..A.len())] as char)
                .collect();
            cnpj_with_base(&format!("{root}0001"))
        } else {
            cnpj_with_base(&format!(
                "{:08}0001",
                rng.random_range(1_000_000..99_999_999u64)
            ))
        }
    } else {
        cpf_with_base(rng.random_range(100_000_000..999_999_998u64))
    };
    let name = if company {
        format!("Empresa Exemplo {i} Comércio e Serviços Ltda")
    } else {
        format!("Cliente Exemplo {i} da Silva")
    };
    Person {
        company,
        tax_id,
        email: format!("contato{i}@cliente{i}.example.com.br"),
        name,
        phone_ddd: 11,
    }
}

/// Generate the documents.
pub fn generated_proposals(spec: &SampleSpec) -> Vec<Value> {
    let mut rng = SmallRng::seed_from_u64(spec.seed);
    let mut out = Vec::with_capacity(spec.proposals);
    let mut previous: Option<Person> = None;
    let mut did_serial: u32 = 0;
    for i in 0..spec.proposals {
        let id = spec.first_id + i as u64;
        let who = match (&previous, i % 5) {
            (Some(p), 4) => p.clone(),
            _ => customer(i, &mut rng),
        };
        let orders = if rng.random_bool(0.4) { 2 } else { 1 };
        let products: Vec<Value> = (0..orders)
            .map(|_| {
                let (code, max_q) = &spec.products[rng.random_range(0..spec.products.len())];
                let ddd = spec.area_codes[rng.random_range(0..spec.area_codes.len())];
                let dids: Vec<String> = (0..rng.random_range(0..=spec.max_dids))
                    .map(|_| {
                        did_serial += 1;
                        format!(
                            "{ddd} 3{:03}-{:04}",
                            (did_serial / 10_000) % 1000,
                            did_serial % 10_000
                        )
                    })
                    .collect();
                json!({
                    "code": code,
                    "name": format!("Produto {code}"),
                    "quantity": rng.random_range(1..=*max_q),
                    "custom_ddd": ddd.to_string(),
                    "custom_dids": dids,
                })
            })
            .collect();
        let mut cust = json!({
            "name": who.name,
            "legal_code": who.tax_id,
            "customer_type": if who.company { "company" } else { "person" },
            "postal_code": "01310-100",
            "address": "Avenida Paulista",
            "number": format!("{}", 100 + i),
            "district": "Bela Vista",
            "city": "São Paulo",
            "state": "SP",
            "contact_name": format!("Contato {i}"),
            "contact_email": who.email,
        });
        let phone = format!(
            "({}) 9{:04}-{:04}",
            who.phone_ddd,
            1000 + i % 9000,
            i % 10_000
        );
        if who.company {
            cust["DBA"] = json!(format!("Exemplo {i}"));
            cust["phone1"] = json!(phone);
        } else {
            cust["whatsapp_number"] = json!(phone);
        }
        out.push(json!({
            "document": {
                "id": id,
                "code": format!("DS-{id}"),
                "status": "approved",
                "created_at": "2026-11-20 09:00:00 -0300",
                "updated_at": "2026-11-24 09:00:00 -0300",
                "contract_start": "2026-12-01",
                "contract_months": "12",
                "due_day": "10",
                "contact_name": format!("Contato {i}"),
                "contact_email": who.email,
                "deal_name": format!("{} - VoIP", who.name),
            },
            "account": {
                "name": "Provedor VoIP Exemplo",
                "document_number": "11.222.333/0001-81",
                "currency_iso_code": "BRL",
            },
            "document_owner": {"name": "Marina Alves", "email": "marina.alves@provedor.example"},
            "customer": cust,
            "products": products,
        }));
        previous = Some(who);
    }
    out
}
