//! Company-name comparison: does the legal name on a proposal name the company the Receita
//! Federal registers under its CNPJ?
//!
//! # Normalisation ([`name_tokens`])
//!
//! 1. Case folded (Unicode lower case); `&` read as the word `e`.
//! 2. Split into words at every character that is not a letter or a digit (punctuation,
//!    hyphens, slashes and dots become separators).
//! 3. A document number at the start or the end is dropped: a run of digit-only words with
//!    at least 8 digits in all, such as the CNPJ root an MEI's legal name begins with
//!    (`45.123.456 MARIA SOUZA`) or a CPF at its end (`MARIA SOUZA 12345678901`). Shorter
//!    numbers are part of the name (`Padaria 2 Irmãos`).
//! 4. A run of two or more one-letter words is one word: `S.A.`, `S/A`, `S. A.` → `sa`;
//!    `M.E.` → `me`; `J. P. Souza` → `jp souza`.
//! 5. Accents removed (Unicode NFKD, combining marks dropped): `São João` → `sao joao`.
//!    Company-type words are recognised *before* this step, so the surname `Sá` is not the
//!    suffix `SA`.
//! 6. Common abbreviations expanded: `com`→`comercio`, `ind`→`industria`, `serv`/`servs`→
//!    `servicos`, `distrib`→`distribuidora`, `transp`→`transportes`, `tec`→`tecnologia`,
//!    `eng`→`engenharia`, `emp`/`empreend`→`empreendimentos`, `part`/`particip`→
//!    `participacoes`, `adm`→`administracao`, `assoc`→`associacao`, `imp`→`importacao`,
//!    `exp`→`exportacao`, `cia`→`companhia`.
//! 7. Connectives dropped anywhere: `de`, `da`, `do`, `das`, `dos`, `e`, `em`.
//! 8. Company-type words dropped from the **end** of the name, repeatedly: `ltda`,
//!    `limitada`, `me`, `mei`, `epp`, `eireli`, `ei`, `sa`, `slu`, `ss`, `cia`/`companhia`.
//!    Decision on `Cia`/`Companhia`: at the end it is a type (`Silva & Cia Ltda` = `Silva`);
//!    elsewhere it is part of the name (`Companhia Brasileira de Distribuição` keeps it, and
//!    `Cia Brasileira…` matches it through the abbreviation). When nothing but type words is
//!    left, they are kept.
//! 9. Duplicates removed: the result is a set of words.
//!
//! # Similarity ([`compare_names`])
//!
//! Words are paired one-to-one: equal words first, then, for words of at least
//! [`FUZZY_MIN_LEN`] characters on both sides, words one edit apart (a typo, a plural:
//! `filho`/`filhos`). With `m` pairs, `A` and `B` the two sets:
//!
//! - containment = m / min(|A|, |B|) — how much of the shorter name the longer one has;
//! - Jaccard = m / (|A| + |B| − m) — how much the names share overall.
//!
//! The names **match** when containment ≥ [`MIN_CONTAINMENT`] (1.0: every word of the
//! shorter name is in the longer one) **and** Jaccard ≥ [`MIN_JACCARD`] (0.75: the longer
//! name adds at most one word per three shared). So `Padaria Pão Quente` ≠ `Padaria Pão
//! Frio` (a different word), `Banco do Brasil` ≠ `Banco do Nordeste do Brasil` (2 shared, 1
//! extra: 0.67), while `Restaurante Sabor Caseiro` = `Restaurante e Lanchonete Sabor
//! Caseiro` (3 shared, 1 extra: 0.75). Word order never matters. The tests in
//! `sig-core/tests/fiscal_names.rs` pin 26 pairs that must match and 26 that must not.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Every word of the shorter name must be found in the longer one.
pub const MIN_CONTAINMENT: f64 = 1.0;
/// Shared words over all distinct words, at least.
pub const MIN_JACCARD: f64 = 0.75;
/// Words this long (in characters) on both sides may pair when one edit apart.
pub const FUZZY_MIN_LEN: usize = 5;

const CONNECTIVES: &[&str] = &["de", "da", "do", "das", "dos", "e", "em"];

/// Company-type words, as written after case folding and before accents are removed.
const TYPE_WORDS: &[&str] = &[
    "ltda",
    "limitada",
    "me",
    "mei",
    "epp",
    "eireli",
    "ei",
    "sa",
    "slu",
    "ss",
    "cia",
    "companhia",
];

const ABBREVIATIONS: &[(&str, &str)] = &[
    ("com", "comercio"),
    ("ind", "industria"),
    ("serv", "servicos"),
    ("servs", "servicos"),
    ("distrib", "distribuidora"),
    ("transp", "transportes"),
    ("tec", "tecnologia"),
    ("eng", "engenharia"),
    ("emp", "empreendimentos"),
    ("empreend", "empreendimentos"),
    ("part", "participacoes"),
    ("particip", "participacoes"),
    ("adm", "administracao"),
    ("assoc", "associacao"),
    ("imp", "importacao"),
    ("exp", "exportacao"),
    ("cia", "companhia"),
];

/// Lower case without accents (`São JOÃO` → `sao joao`); everything else kept.
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The normalised words of a company name (see the module documentation), in order of first
/// appearance.
pub fn name_tokens(name: &str) -> Vec<String> {
    // 1–2: fold case (accents kept for now), split on anything but letters and digits.
    let lowered: String = name.nfc().flat_map(char::to_lowercase).collect();
    let mut raw: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in lowered.chars() {
        if c.is_alphanumeric() {
            current.push(c);
        } else {
            if !current.is_empty() {
                raw.push(std::mem::take(&mut current));
            }
            if c == '&' {
                raw.push("e".to_owned());
            }
        }
    }
    if !current.is_empty() {
        raw.push(current);
    }
    // 3: a document number at either end.
    drop_document_number(&mut raw);
    // 4: runs of one-letter words become one word.
    let mut merged: Vec<String> = Vec::new();
    let mut run = String::new();
    let mut run_len = 0usize;
    let flush = |run: &mut String, run_len: &mut usize, merged: &mut Vec<String>| {
        if *run_len > 0 {
            merged.push(std::mem::take(run));
            *run_len = 0;
        }
    };
    for word in raw {
        let single_letter = word.chars().count() == 1 && word.chars().all(char::is_alphabetic);
        if single_letter {
            run.push_str(&word);
            run_len += 1;
        } else {
            flush(&mut run, &mut run_len, &mut merged);
            merged.push(word);
        }
    }
    flush(&mut run, &mut run_len, &mut merged);
    // 5–7: (type-word flag from the accented form, folded word), abbreviations, connectives.
    let mut words: Vec<(bool, String)> = merged
        .into_iter()
        .filter_map(|w| {
            let is_type = TYPE_WORDS.contains(&w.as_str());
            let folded = fold(&w);
            let expanded = ABBREVIATIONS
                .iter()
                .find(|(abbr, _)| *abbr == folded)
                .map_or(folded, |(_, full)| (*full).to_owned());
            (!CONNECTIVES.contains(&expanded.as_str())).then_some((is_type, expanded))
        })
        .collect();
    // 8: type words at the end (kept when nothing else is left).
    let distinctive = words.iter().rposition(|(is_type, _)| !is_type);
    if let Some(last) = distinctive {
        words.truncate(last + 1);
    }
    // 9: a set, in order of first appearance.
    let mut seen = BTreeSet::new();
    words
        .into_iter()
        .map(|(_, w)| w)
        .filter(|w| seen.insert(w.clone()))
        .collect()
}

/// Digits a run of number words needs to be a document number (a CNPJ root has 8).
const DOCUMENT_DIGITS: usize = 8;

/// Drops a leading and a trailing run of digit-only words with at least
/// [`DOCUMENT_DIGITS`] digits in all.
fn drop_document_number(words: &mut Vec<String>) {
    let is_number = |w: &String| w.chars().all(|c| c.is_ascii_digit());
    let digits = |run: &[String]| run.iter().map(String::len).sum::<usize>();
    let lead = words.iter().take_while(|w| is_number(w)).count();
    if lead < words.len() && digits(&words[..lead]) >= DOCUMENT_DIGITS {
        words.drain(..lead);
    }
    let trail = words.iter().rev().take_while(|w| is_number(w)).count();
    let start = words.len() - trail;
    if trail < words.len() && digits(&words[start..]) >= DOCUMENT_DIGITS {
        words.truncate(start);
    }
}

/// The comparison of two company names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameComparison {
    /// Normalised words of the first name.
    pub left: Vec<String>,
    /// Normalised words of the second name.
    pub right: Vec<String>,
    /// Words paired between the two (exactly or one edit apart).
    pub shared: usize,
    /// shared / min(|left|, |right|); 0 when either is empty.
    pub containment: f64,
    /// shared / |left ∪ right|; 0 when either is empty.
    pub jaccard: f64,
    /// Whether the names match: containment ≥ [`MIN_CONTAINMENT`] and Jaccard ≥
    /// [`MIN_JACCARD`].
    pub is_match: bool,
}

/// Compares two company names (see the module documentation for the rule).
pub fn compare_names(left: &str, right: &str) -> NameComparison {
    let l = name_tokens(left);
    let r = name_tokens(right);
    let shared = pair_words(&l, &r);
    let (containment, jaccard) = if l.is_empty() || r.is_empty() {
        (0.0, 0.0)
    } else {
        let min = l.len().min(r.len());
        let union = l.len() + r.len() - shared;
        (ratio(shared, min), ratio(shared, union))
    };
    NameComparison {
        is_match: containment >= MIN_CONTAINMENT && jaccard >= MIN_JACCARD,
        left: l,
        right: r,
        shared,
        containment,
        jaccard,
    }
}

/// Whether two company names match; see [`compare_names`].
pub fn names_match(left: &str, right: &str) -> bool {
    compare_names(left, right).is_match
}

#[allow(clippy::cast_precision_loss)] // word counts are tiny
fn ratio(a: usize, b: usize) -> f64 {
    a as f64 / b as f64
}

/// One-to-one pairs: equal words first, then long words one edit apart.
fn pair_words(l: &[String], r: &[String]) -> usize {
    let mut l_used = vec![false; l.len()];
    let mut r_used = vec![false; r.len()];
    let mut pairs = 0;
    for (i, a) in l.iter().enumerate() {
        if let Some(j) = r.iter().position(|b| b == a) {
            l_used[i] = true;
            r_used[j] = true;
            pairs += 1;
        }
    }
    for (i, a) in l.iter().enumerate() {
        if l_used[i] || a.chars().count() < FUZZY_MIN_LEN {
            continue;
        }
        let candidate = r.iter().enumerate().position(|(j, b)| {
            !r_used[j] && b.chars().count() >= FUZZY_MIN_LEN && within_one_edit(a, b)
        });
        if let Some(j) = candidate {
            l_used[i] = true;
            r_used[j] = true;
            pairs += 1;
        }
    }
    pairs
}

/// Whether `a` becomes `b` by at most one insertion, deletion or substitution.
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short
        .iter()
        .zip(long.iter())
        .take_while(|(x, y)| x == y)
        .count();
    if prefix == short.len() {
        return true;
    }
    if short.len() == long.len() {
        short[prefix + 1..] == long[prefix + 1..]
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_the_documented_steps() {
        assert_eq!(
            name_tokens("Telefonia São João Ltda."),
            ["telefonia", "sao", "joao"]
        );
        assert_eq!(name_tokens("ACME S.A."), ["acme"]);
        assert_eq!(name_tokens("ACME S/A"), ["acme"]);
        assert_eq!(name_tokens("ACME S. A."), ["acme"]);
        assert_eq!(name_tokens("J. P. Souza M.E."), ["jp", "souza"]);
        assert_eq!(name_tokens("Silva & Cia Ltda"), ["silva"]);
        assert_eq!(name_tokens("Mem de Sá"), ["mem", "sa"]);
        assert_eq!(
            name_tokens("Ind. e Com. Alfa"),
            ["industria", "comercio", "alfa"]
        );
        assert_eq!(name_tokens("Cia Brasileira"), ["companhia", "brasileira"]);
        assert_eq!(name_tokens("LTDA"), ["ltda"]);
        assert_eq!(name_tokens("  "), Vec::<String>::new());
        assert_eq!(name_tokens("Alfa Alfa Beta"), ["alfa", "beta"]);
        assert_eq!(name_tokens("45.123.456 MARIA SOUZA"), ["maria", "souza"]);
        assert_eq!(
            name_tokens("MARIA SOUZA 123.456.789-01"),
            ["maria", "souza"]
        );
        assert_eq!(name_tokens("Padaria 2 Irmãos"), ["padaria", "2", "irmaos"]);
        assert_eq!(name_tokens("12345678"), ["12345678"], "nothing else left");
    }

    #[test]
    fn one_edit() {
        assert!(within_one_edit("filho", "filhos"));
        assert!(within_one_edit("filhos", "filho"));
        assert!(within_one_edit("quente", "quenta"));
        assert!(within_one_edit("abc", "abc"));
        assert!(!within_one_edit("rodrigues", "rodrigo"));
        assert!(!within_one_edit("central", "centro"));
        assert!(!within_one_edit("ab", "ba"));
    }

    #[test]
    fn empty_names_never_match() {
        let c = compare_names("", "ACME");
        assert!(!c.is_match);
        assert_eq!(c.containment, 0.0);
        assert!(!names_match("...", "..."));
    }
}
