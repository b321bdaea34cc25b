//! The pure business functions: policy evaluation for each policy and finding, and address
//! enrichment with provenance.

use sig_core::raw::RawAddress;
use sig_core::{Cep, Uf};
use sig_fiscal::{
    AddressSource, CepRecord, CompanyAddress, CompanyRecord, Finding, FiscalPolicy, FiscalVerdict,
    Lookup, Provider, Registration, RegistrationStatus, enrich, evaluate, evaluate_lookup,
};

fn company(legal_name: &str, status: RegistrationStatus) -> CompanyRecord {
    CompanyRecord {
        cnpj: "11222333000181".parse().unwrap(),
        source: Provider::BrasilApi,
        legal_name: legal_name.to_owned(),
        trade_name: Some("PAO QUENTE".to_owned()),
        registration: Registration {
            status,
            code: Some(match status {
                RegistrationStatus::Active => 2,
                RegistrationStatus::Closed => 8,
                _ => 3,
            }),
            description: Some(status.as_receita_str().to_owned()),
            since: None,
            reason: None,
        },
        opening_date: None,
        main_activity: None,
        secondary_activities: vec![],
        legal_nature: None,
        address: CompanyAddress {
            street_type: Some("RUA".into()),
            street: Some("RUA DAS FLORES".into()),
            number: Some("120".into()),
            complement: Some("SALA 3".into()),
            district: Some("CENTRO".into()),
            city: Some("BELO HORIZONTE".into()),
            city_ibge_code: Some("3106200".into()),
            uf: Some(Uf::MG),
            cep: Some(cep("30130010")),
        },
        phones: vec![],
        email: None,
        partners: vec![],
        capital_social: None,
    }
}

fn cep(s: &str) -> Cep {
    s.parse().unwrap()
}

fn cep_record(code: &str) -> CepRecord {
    CepRecord {
        cep: cep(code),
        source: Provider::ViaCep,
        street: Some("Rua das Flores".into()),
        complement: Some("até 500 - lado par".into()),
        district: Some("Centro".into()),
        city: Some("Belo Horizonte".into()),
        uf: Some(Uf::MG),
        city_ibge_code: Some("3106200".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Policy

#[test]
fn off_passes_whatever_the_record_says() {
    let closed = company("OUTRA EMPRESA LTDA", RegistrationStatus::Closed);
    assert_eq!(
        evaluate(FiscalPolicy::Off, "Padaria Pão Quente", &closed),
        FiscalVerdict::Pass
    );
    let nobody = Lookup::NotFound {
        provider: Provider::BrasilApi,
    };
    assert_eq!(
        evaluate_lookup(FiscalPolicy::Off, "x", &nobody),
        FiscalVerdict::Pass
    );
}

#[test]
fn an_active_company_with_the_same_name_passes_every_policy() {
    let ok = company("PADARIA PAO QUENTE LTDA", RegistrationStatus::Active);
    for policy in [FiscalPolicy::Off, FiscalPolicy::Warn, FiscalPolicy::Block] {
        let v = evaluate(policy, "Padaria Pão Quente", &ok);
        assert_eq!(v, FiscalVerdict::Pass, "{policy:?}");
        assert!(v.allows());
    }
}

#[test]
fn not_active_warns_or_blocks() {
    let closed = company("PADARIA PAO QUENTE LTDA", RegistrationStatus::Closed);
    let warn = evaluate(FiscalPolicy::Warn, "Padaria Pão Quente", &closed);
    assert!(warn.allows());
    let FiscalVerdict::Warn(findings) = &warn else {
        panic!("{warn:?}")
    };
    assert_eq!(findings.len(), 1);
    assert!(matches!(
        findings[0],
        Finding::NotActive {
            status: RegistrationStatus::Closed,
            code: Some(8),
            ref source,
            ..
        } if source == "brasil_api"
    ));
    assert!(
        findings[0].describe().contains("BAIXADA"),
        "{}",
        findings[0].describe()
    );
    let block = evaluate(FiscalPolicy::Block, "Padaria Pão Quente", &closed);
    assert!(!block.allows());
    assert_eq!(block.findings(), warn.findings());
    for status in [
        RegistrationStatus::Null,
        RegistrationStatus::Suspended,
        RegistrationStatus::Unfit,
        RegistrationStatus::Unknown,
    ] {
        let r = company("PADARIA PAO QUENTE LTDA", status);
        assert!(
            !evaluate(FiscalPolicy::Block, "Padaria Pão Quente", &r).allows(),
            "{status:?}"
        );
    }
}

#[test]
fn name_mismatch_warns_or_blocks_and_says_why() {
    let other = company("PADARIA PAO FRIO LTDA", RegistrationStatus::Active);
    let v = evaluate(FiscalPolicy::Block, "Padaria Pão Quente", &other);
    let FiscalVerdict::Block(findings) = &v else {
        panic!("{v:?}")
    };
    let [
        Finding::NameMismatch {
            proposal,
            registered,
            comparison,
            matches_trade_name,
            ..
        },
    ] = findings.as_slice()
    else {
        panic!("{findings:?}")
    };
    assert_eq!(proposal, "Padaria Pão Quente");
    assert_eq!(registered, "PADARIA PAO FRIO LTDA");
    assert!(!comparison.is_match);
    assert!(!matches_trade_name);
    assert!(findings[0].describe().contains("PADARIA PAO FRIO LTDA"));
    let warn = evaluate(FiscalPolicy::Warn, "Padaria Pão Quente", &other);
    assert!(matches!(warn, FiscalVerdict::Warn(ref f) if f.len() == 1));
    // The proposal used the trade name: still a mismatch, with the hint.
    let v = evaluate(FiscalPolicy::Warn, "Pão Quente", &other);
    assert!(matches!(
        v.findings(),
        [Finding::NameMismatch {
            matches_trade_name: true,
            ..
        }]
    ));
}

#[test]
fn both_findings_at_once_and_not_registered() {
    let r = company("OUTRA EMPRESA LTDA", RegistrationStatus::Suspended);
    let v = evaluate(FiscalPolicy::Block, "Padaria Pão Quente", &r);
    assert_eq!(v.findings().len(), 2);
    let nobody = Lookup::NotFound {
        provider: Provider::MinhaReceita,
    };
    let v = evaluate_lookup(FiscalPolicy::Block, "Padaria Pão Quente", &nobody);
    assert_eq!(
        v,
        FiscalVerdict::Block(vec![Finding::NotRegistered {
            source: "minha_receita".into()
        }])
    );
    let v = evaluate_lookup(FiscalPolicy::Warn, "Padaria Pão Quente", &nobody);
    assert!(v.allows());
    // The verdict serialises for the audit.
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["verdict"], "warn");
    assert_eq!(json["findings"][0]["finding"], "not_registered");
}

// ---------------------------------------------------------------------------------------------
// Enrichment

#[test]
fn fills_only_missing_fields_and_records_provenance() {
    let raw = RawAddress {
        street: None,
        number: Some("  ".into()), // blank is missing
        complement: None,
        district: Some("Bairro Informado".into()),
        city: None,
        uf: None,
        cep: Some("30130-010".into()),
    };
    let record = company("X", RegistrationStatus::Active);
    let e = enrich(&raw, &[&record]);
    assert_eq!(e.address.street.as_deref(), Some("RUA DAS FLORES"));
    assert_eq!(e.address.number.as_deref(), Some("120"));
    assert_eq!(e.address.complement.as_deref(), Some("SALA 3"));
    assert_eq!(
        e.address.district.as_deref(),
        Some("Bairro Informado"),
        "kept"
    );
    assert_eq!(e.address.city.as_deref(), Some("BELO HORIZONTE"));
    assert_eq!(e.address.uf.as_deref(), Some("MG"));
    assert_eq!(
        e.address.cep.as_deref(),
        Some("30130-010"),
        "kept as written"
    );
    let filled: Vec<&str> = e.filled().collect();
    assert_eq!(
        filled,
        [
            "customer.address.street",
            "customer.address.number",
            "customer.address.complement",
            "customer.address.city",
            "customer.address.uf"
        ]
    );
    assert!(
        e.provenance
            .iter()
            .all(|p| p.source_provider == "brasil_api")
    );
    assert_eq!(e.provenance[0].source_field, "logradouro");
    assert_eq!(e.provenance[3].source_field, "municipio");
}

#[test]
fn cep_record_first_then_company_for_the_number() {
    let raw = RawAddress::default();
    let via = cep_record("30130010");
    let record = company("X", RegistrationStatus::Active);
    let sources: [&dyn AddressSource; 2] = [&via, &record];
    let e = enrich(&raw, &sources);
    assert_eq!(e.address.cep.as_deref(), Some("30130010"));
    assert_eq!(e.address.street.as_deref(), Some("Rua das Flores"));
    // ViaCEP gave the street; the company is on the same street (once folded), so its
    // number and complement come too. ViaCEP's "complement" (a range of numbers) never does.
    assert_eq!(e.address.number.as_deref(), Some("120"));
    assert_eq!(e.address.complement.as_deref(), Some("SALA 3"));
    let p: Vec<(&str, &str, &str)> = e
        .provenance
        .iter()
        .map(|p| {
            (
                p.field.as_str(),
                p.source_provider.as_str(),
                p.source_field.as_str(),
            )
        })
        .collect();
    assert_eq!(
        p,
        [
            ("customer.address.street", "via_cep", "logradouro"),
            ("customer.address.number", "brasil_api", "numero"),
            ("customer.address.complement", "brasil_api", "complemento"),
            ("customer.address.district", "via_cep", "bairro"),
            ("customer.address.city", "via_cep", "localidade"),
            ("customer.address.uf", "via_cep", "uf"),
            ("customer.address.cep", "via_cep", "cep"),
        ]
    );
}

#[test]
fn number_comes_with_a_matching_street_only() {
    let record = company("X", RegistrationStatus::Active);
    // The proposal names the same street (other case, accents): the number may come.
    let same = RawAddress {
        street: Some("Rua das Flôres".into()),
        cep: Some("30130010".into()),
        ..RawAddress::default()
    };
    let e = enrich(&same, &[&record]);
    assert_eq!(e.address.street.as_deref(), Some("Rua das Flôres"));
    assert_eq!(e.address.number.as_deref(), Some("120"));
    // Another street of the same CEP: no number, no complement.
    let other = RawAddress {
        street: Some("Avenida Afonso Pena".into()),
        cep: Some("30130010".into()),
        ..RawAddress::default()
    };
    let e = enrich(&other, &[&record]);
    assert_eq!(e.address.number, None);
    assert_eq!(e.address.complement, None);
    assert_eq!(e.address.city.as_deref(), Some("BELO HORIZONTE"));
}

#[test]
fn sources_for_another_place_are_ignored() {
    let record = company("X", RegistrationStatus::Active);
    let raw = RawAddress {
        cep: Some("01001-000".into()),
        ..RawAddress::default()
    };
    let e = enrich(&raw, &[&record, &cep_record("30130010")]);
    assert!(e.provenance.is_empty());
    assert_eq!(e.address, raw);
    // An unreadable CEP: nothing is filled.
    let bad = RawAddress {
        cep: Some("3013".into()),
        ..RawAddress::default()
    };
    assert!(enrich(&bad, &[&record]).provenance.is_empty());
    // No CEP: the first source's CEP decides, a source elsewhere is skipped.
    let e = enrich(&RawAddress::default(), &[&cep_record("01001000"), &record]);
    assert_eq!(e.address.cep.as_deref(), Some("01001000"));
    assert!(e.provenance.iter().all(|p| p.source_provider == "via_cep"));
}
