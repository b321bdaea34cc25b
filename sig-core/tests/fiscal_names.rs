//! The company-name comparison, pinned by pairs written out by hand: (proposal's legal
//! name, registered legal name). Changing the normalisation or the thresholds must keep
//! every line of both lists true.

use sig_core::fiscal::names::{MIN_CONTAINMENT, MIN_JACCARD, compare_names, names_match};

/// Same company: accents, case, punctuation, suffix variants, word order, abbreviations,
/// a typo, a connective.
const MUST_MATCH: &[(&str, &str)] = &[
    // accents and case
    ("Telefonia São João Ltda", "TELEFONIA SAO JOAO LTDA"),
    ("Pizzaria Bella Napoli", "Pizzaria Bella Nápoli Ltda."),
    ("Ótica Visão Clara MEI", "OTICA VISAO CLARA"),
    // suffix variants
    ("Padaria Pão Quente", "PADARIA PAO QUENTE LTDA"),
    (
        "Comércio de Alimentos Boa Vista Ltda.",
        "COMERCIO DE ALIMENTOS BOA VISTA LIMITADA",
    ),
    ("Acme Tecnologia S.A.", "ACME TECNOLOGIA S/A"),
    ("Acme Tecnologia SA", "Acme Tecnologia S. A."),
    ("Souza Cruz S/A", "SOUZA CRUZ S.A."),
    (
        "Construtora Horizonte Eireli",
        "CONSTRUTORA HORIZONTE EIRELI - EPP",
    ),
    ("Distribuidora Água Limpa", "DISTRIBUIDORA AGUA LIMPA EPP"),
    (
        "Auto Peças Irmãos Rocha",
        "AUTO PECAS IRMAOS ROCHA LTDA - ME",
    ),
    ("Empório São Benedito Ltda EPP", "EMPORIO SAO BENEDITO"),
    (
        "Serviços Médicos Santa Clara",
        "SERV. MEDICOS SANTA CLARA S/S",
    ),
    ("Silva & Cia Ltda", "SILVA E COMPANHIA LIMITADA"),
    // punctuation
    ("Silva & Filhos Ltda", "SILVA E FILHOS LTDA"),
    (
        "Tech-Solutions Informática",
        "TECH SOLUTIONS INFORMATICA LTDA",
    ),
    ("J. P. Souza Consultoria", "JP SOUZA CONSULTORIA LTDA"),
    ("Oficina do Zé Mecânica", "OFICINA DO ZE MECANICA ME"),
    // word order
    ("Mercado Bom Preço", "BOM PRECO MERCADO LTDA ME"),
    // abbreviations
    (
        "Irmãos Güntzel Indústria e Comércio",
        "IRMAOS GUNTZEL IND. E COM. LTDA",
    ),
    (
        "Companhia Brasileira de Distribuição",
        "CIA BRASILEIRA DE DISTRIBUICAO",
    ),
    ("Café & Cia Grão Nobre", "CAFE E COMPANHIA GRAO NOBRE"),
    // an MEI's legal name carries its CNPJ root in front, or a CPF at the end
    ("Maria Souza", "45.123.456 MARIA SOUZA"),
    (
        "Maria Souza Cabeleireira",
        "MARIA SOUZA CABELEIREIRA 12345678901",
    ),
    // a typo (one edit in a long word) and one extra word in a longer name
    (
        "Materiais de Construção Silva e Filho",
        "MATERIAIS DE CONSTRUCAO SILVA E FILHOS LTDA",
    ),
    (
        "Restaurante Sabor Caseiro",
        "RESTAURANTE E LANCHONETE SABOR CASEIRO LTDA",
    ),
];

/// Different companies with similar names.
const MUST_NOT_MATCH: &[(&str, &str)] = &[
    ("Padaria Pão Quente", "PADARIA PAO FRIO LTDA"),
    (
        "Oficina Mecânica São Jorge",
        "OFICINA MECANICA SAO PEDRO LTDA",
    ),
    ("Transportes Rodrigues", "TRANSPORTES RODRIGO LTDA"),
    ("Alfa Tecnologia Ltda", "BETA TECNOLOGIA LTDA"),
    ("Banco do Brasil S.A.", "BANCO DO NORDESTE DO BRASIL S.A."),
    (
        "Construtora Andrade Gutierrez",
        "CONSTRUTORA ANDRADE MENDONCA",
    ),
    ("Farmácia Popular Centro", "FARMACIA POPULAR NORTE"),
    ("Supermercado Pague Menos", "SUPERMERCADO PAGUE MAIS"),
    ("Mercado Central", "MERCADO CENTRO LTDA"),
    ("Auto Escola Vitória", "AUTO ESCOLA VITORINO"),
    ("Clínica Sorriso Feliz", "CLINICA SORRISO FACIL"),
    ("Tech Solutions Informática", "TECH SOLUTIONS CONSULTORIA"),
    (
        "Silva Materiais de Construção",
        "SOUZA MATERIAIS DE CONSTRUCAO",
    ),
    ("Pizzaria Bella Napoli", "PIZZARIA BELLA ROMA"),
    ("Distribuidora Água Limpa", "DISTRIBUIDORA AGUA VIVA"),
    ("Hotel Praia Azul", "HOTEL PRAIA VERDE"),
    ("Restaurante Sabor Mineiro", "RESTAURANTE SABOR BAIANO"),
    (
        "Irmãos Rocha Auto Peças",
        "IRMAOS ROCHA MATERIAIS ELETRICOS",
    ),
    ("Academia Corpo em Forma", "ACADEMIA CORPO E MENTE"),
    ("Nova Era Telecom", "NOVA ERA TELEVISAO"),
    ("Padaria Pão Quente", "PADARIA QUENTE"),
    ("Comercial Santos", "COMERCIAL SANTOS DUMONT"),
    ("Alfa", "ALFA BETA GAMA LTDA"),
    ("Engenharia Sá", "ENGENHARIA S.A."),
    ("Padaria 2 Irmãos", "PADARIA 3 IRMAOS"),
    ("45.123.456 Maria Souza", "45.123.456 JOANA SOUZA"),
];

#[test]
fn pinned_pairs_that_must_match() {
    assert!(MUST_MATCH.len() >= 20);
    let failures: Vec<String> = MUST_MATCH
        .iter()
        .filter_map(|(a, b)| {
            let c = compare_names(a, b);
            (!c.is_match).then(|| format!("{a:?} vs {b:?}: {c:?}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "should match:\n{}",
        failures.join("\n")
    );
}

#[test]
fn pinned_pairs_that_must_not_match() {
    assert!(MUST_NOT_MATCH.len() >= 20);
    let failures: Vec<String> = MUST_NOT_MATCH
        .iter()
        .filter_map(|(a, b)| {
            let c = compare_names(a, b);
            c.is_match.then(|| format!("{a:?} vs {b:?}: {c:?}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "should not match:\n{}",
        failures.join("\n")
    );
}

#[test]
fn comparison_is_symmetric() {
    for (a, b) in MUST_MATCH.iter().chain(MUST_NOT_MATCH) {
        assert_eq!(names_match(a, b), names_match(b, a), "{a:?} vs {b:?}");
    }
}

#[test]
fn thresholds_are_documented_values() {
    assert_eq!(MIN_CONTAINMENT, 1.0);
    assert_eq!(MIN_JACCARD, 0.75);
    // On the threshold: 3 shared words, one extra on one side → Jaccard exactly 0.75.
    let c = compare_names(
        "Restaurante Sabor Caseiro",
        "Restaurante Lanchonete Sabor Caseiro",
    );
    assert_eq!((c.shared, c.containment, c.jaccard), (3, 1.0, 0.75));
    assert!(c.is_match);
    // Just under: 2 shared, one extra → 0.67.
    let c = compare_names("Banco Brasil", "Banco Nordeste Brasil");
    assert!((c.jaccard - 2.0 / 3.0).abs() < 1e-9);
    assert!(!c.is_match);
}
