//! Every recorded response under `tests/resources/` decodes into its type (or classifies as
//! the fault its name says), and no fixture is left untested.

use std::path::Path;

use serde::de::DeserializeOwned;
use sig_omie::fault::Fault;
use sig_omie::wire::FaultBody;
use sig_omie::wire::clientes::{
    ClienteCadastro, ClienteStatus, ClientesListFullResponse, ClientesListResumidoResponse,
};
use sig_omie::wire::contratos::{ContratoCadastro, CsStatus, ListarContratosResponse};
use sig_omie::wire::servicos::{ListarCadastroServicoResponse, ServicoCadastro};

fn decode<T: DeserializeOwned + serde::Serialize>(name: &str, text: &str) -> T {
    let mut de = serde_json::Deserializer::from_str(text);
    let v: T = serde_path_to_error::deserialize(&mut de)
        .unwrap_or_else(|e| panic!("{name}: does not decode at {}: {}", e.path(), e.inner()));
    // What decodes re-encodes (the types stay serializable).
    serde_json::to_value(&v).unwrap_or_else(|e| panic!("{name}: does not re-encode: {e}"));
    v
}

#[test]
fn every_fixture_decodes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/resources");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let kind = name.split('.').next().unwrap();
        match kind {
            "clientes_status" => {
                let s: ClienteStatus = decode(&name, &text);
                assert_eq!(s.codigo_status, "0", "{name}");
                assert!(s.codigo_cliente_omie > 0, "{name}");
            }
            "clientes_cadastro" => {
                let c: ClienteCadastro = decode(&name, &text);
                assert!(
                    c.codigo_cliente_omie.is_some() && c.razao_social.is_some(),
                    "{name}"
                );
            }
            "clientes_listfull" => {
                let p: ClientesListFullResponse = decode(&name, &text);
                assert_eq!(p.clientes_cadastro.len() as u32, p.registros, "{name}");
            }
            "clientes_resumido" => {
                let p: ClientesListResumidoResponse = decode(&name, &text);
                assert_eq!(
                    p.clientes_cadastro_resumido.len() as u32,
                    p.registros,
                    "{name}"
                );
            }
            "cs_status" => {
                let s: CsStatus = decode(&name, &text);
                assert_eq!(s.cCodStatus, "0", "{name}");
            }
            "listar_contratos" => {
                let p: ListarContratosResponse = decode(&name, &text);
                assert_eq!(p.contratoCadastro.len() as u32, p.registros, "{name}");
                assert!(
                    p.contratoCadastro
                        .iter()
                        .all(|c| c.cabecalho.nCodCtr.is_some())
                );
            }
            "contrato_cadastro" => {
                let c: ContratoCadastro = decode(&name, &text);
                assert!(c.cabecalho.nCodCtr.is_some(), "{name}");
            }
            "listar_cadastro_servico" => {
                let p: ListarCadastroServicoResponse = decode(&name, &text);
                assert_eq!(p.cadastros.len() as u32, p.nRegistros, "{name}");
            }
            "servico_cadastro" => {
                let s: ServicoCadastro = decode(&name, &text);
                assert!(s.intListar.nCodServ.is_some(), "{name}");
            }
            "fault" => {
                let body: FaultBody = decode(&name, &text);
                let fault = Fault::classify(body);
                let expected = match name.split('.').nth(1).unwrap() {
                    "duplicate_tax_id_old" => "duplicate_tax_id",
                    "bad_date" | "unknown_tag" => "client",
                    other => other,
                };
                assert_eq!(fault.class.name(), expected, "{name}: {fault:?}");
            }
            other => panic!("{name}: no decoder for fixture kind `{other}`"),
        }
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} fixtures found");
}
