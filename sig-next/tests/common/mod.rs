//! Helpers shared by the integration tests.
#![allow(dead_code)]

use sig_core::Customer;
use sig_core::raw::{RawAddress, RawCustomer};

/// A valid company customer.
pub fn customer() -> Customer {
    RawCustomer {
        tax_id: Some("11.222.333/0001-81".into()),
        legal_name: Some("ACME Telecomunicações Ltda".into()),
        trade_name: Some("ACME".into()),
        contact_name: Some("Maria Souza".into()),
        emails: vec!["financeiro@acme.com.br".into(), "ti@acme.com.br".into()],
        phones: vec!["(21) 3000-1234".into(), "(21) 98765-4321".into()],
        address: RawAddress {
            street: Some("Rua do Ouvidor".into()),
            number: Some("50".into()),
            complement: Some("sala 301".into()),
            district: Some("Centro".into()),
            city: Some("Rio de Janeiro".into()),
            uf: Some("RJ".into()),
            cep: Some("20040-030".into()),
        },
        state_registration: Some("ISENTO".into()),
        municipal_registration: None,
    }
    .validate()
    .expect("a valid test customer")
}
