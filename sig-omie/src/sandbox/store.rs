//! The sandbox's in-memory Omie: customers, contracts and catalog services, with Omie's
//! uniqueness rules and fault texts.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::wire::clientes::{
    ClienteCadastro, ClienteChave, ClienteResumido, ClienteStatus, ClientesListRequest,
};
use crate::wire::contratos::{
    ContractSituation, ContratoCadastro, ContratoChave, CsStatus, ListarContratos,
};
use crate::wire::servicos::{
    ListarCadastroServico, ServicoCabecalho, ServicoCadastro, ServicoChave, ServicoDescricao,
};

/// A fault the sandbox answers, and whether it counts toward a misuse block.
#[derive(Debug, Clone)]
pub(crate) struct SandboxFault {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Normal query outcomes (an empty page, a record not found) do not count as failures.
    pub counts_as_failure: bool,
}

impl SandboxFault {
    pub fn client(code: &'static str, message: impl Into<String>) -> Self {
        SandboxFault {
            status: 500,
            code,
            message: message.into(),
            counts_as_failure: true,
        }
    }

    fn quiet(code: &'static str, message: impl Into<String>) -> Self {
        SandboxFault {
            counts_as_failure: false,
            ..SandboxFault::client(code, message)
        }
    }

    pub fn body(&self) -> Value {
        json!({"faultstring": self.message, "faultcode": self.code})
    }
}

type R = Result<Value, SandboxFault>;

/// Omie's page cap: larger pages are silently cut to 100 `[observed]`.
const PAGE_CAP: u32 = 100;

fn end_of_pages(page: u32) -> SandboxFault {
    SandboxFault::quiet(
        "SOAP-ENV:Client-5113",
        format!("ERROR: Não existem registros para a página [{page}]!"),
    )
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Reject keys outside the structure, as Omie does `[observed text]`.
fn check_tags(v: &Value, structure: &str, allowed: &[&str]) -> Result<(), SandboxFault> {
    if let Some(obj) = v.as_object() {
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(SandboxFault::client(
                    "SOAP-ENV:Client-8",
                    format!(
                        "ERROR: Tag [{}] não faz parte da estrutura do tipo complexo [{structure}]!",
                        k.to_uppercase()
                    ),
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn decode<T: DeserializeOwned>(v: Value) -> Result<T, SandboxFault> {
    serde_json::from_value(v).map_err(|e| {
        SandboxFault::client(
            "SOAP-ENV:Client-103",
            format!("ERROR: Não foi possível ler o parâmetro: {e}"),
        )
    })
}

const CLIENTE_TAGS: &[&str] = &[
    "codigo_cliente_omie",
    "codigo_cliente_integracao",
    "razao_social",
    "cnpj_cpf",
    "nome_fantasia",
    "email",
    "pessoa_fisica",
    "exterior",
    "nif",
    "documento_exterior",
    "telefone1_ddd",
    "telefone1_numero",
    "telefone2_ddd",
    "telefone2_numero",
    "fax_ddd",
    "fax_numero",
    "contato",
    "homepage",
    "endereco",
    "endereco_numero",
    "complemento",
    "bairro",
    "estado",
    "cidade",
    "cidade_ibge",
    "cep",
    "codigo_pais",
    "separar_endereco",
    "pesquisar_cep",
    "inscricao_estadual",
    "inscricao_municipal",
    "inscricao_suframa",
    "optante_simples_nacional",
    "tipo_atividade",
    "cnae",
    "produtor_rural",
    "contribuinte",
    "observacao",
    "obs_detalhadas",
    "recomendacao_atraso",
    "tags",
    "caracteristicas",
    "valor_limite_credito",
    "bloquear_faturamento",
    "inativo",
    "bloquear_exclusao",
    "enviar_anexos",
    "importado_api",
    "recomendacoes",
    "enderecoEntrega",
    "dadosBancarios",
];
const CHAVE_TAGS: &[&str] = &["codigo_cliente_omie", "codigo_cliente_integracao"];
const LIST_TAGS: &[&str] = &[
    "pagina",
    "registros_por_pagina",
    "apenas_importado_api",
    "ordenar_por",
    "ordem_decrescente",
    "filtrar_por_data_de",
    "filtrar_por_data_ate",
    "filtrar_apenas_inclusao",
    "filtrar_apenas_alteracao",
    "clientesFiltro",
    "clientesPorCodigo",
    "filtrar_por_hora_de",
    "filtrar_por_hora_ate",
    "exibir_caracteristicas",
    "exibir_obs",
];
const CONTRATO_TAGS: &[&str] = &[
    "cabecalho",
    "departamentos",
    "infAdic",
    "vencTextos",
    "itensContrato",
    "emailCliente",
    "observacoes",
    "despesasReembolsaveis",
    "produtosUtilizados",
    "infoCadastro",
];
const CABECALHO_TAGS: &[&str] = &[
    "nCodCtr",
    "cCodIntCtr",
    "nCodCli",
    "cNumCtr",
    "cCodSit",
    "dVigInicial",
    "dVigFinal",
    "nDiaFat",
    "nValTotMes",
    "cTipoFat",
];
const LISTAR_CONTRATOS_TAGS: &[&str] = &[
    "pagina",
    "registros_por_pagina",
    "ordenar_por",
    "ordem_descrescente",
    "filtrar_por_data_de",
    "filtrar_por_data_ate",
    "filtrar_apenas_inclusao",
    "filtrar_apenas_alteracao",
    "filtrar_cnpj_cpf",
    "filtrar_cliente",
    "cExibeObs",
    "cExibirProdutos",
    "cExibirInfoCadastro",
];
const CONTRATO_CHAVE_TAGS: &[&str] = &["nCodCtr", "cCodIntCtr"];

/// Letters and digits of a document, upper case.
fn doc_key(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether `s`, compared as [`doc_key`] would make it, equals the key `key` (without
/// building the key: list filters compare every record).
fn doc_eq(s: &str, key: &str) -> bool {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .eq(key.chars())
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Everything the sandbox holds.
#[derive(Debug, Default)]
pub(crate) struct Store {
    next_customer: i64,
    customers: BTreeMap<i64, ClienteCadastro>,
    by_code: HashMap<String, i64>,
    by_doc: HashMap<String, i64>,
    next_contract: i64,
    contracts: BTreeMap<i64, ContratoCadastro>,
    contract_by_code: HashMap<String, i64>,
    services: BTreeMap<i64, ServicoCadastro>,
}

/// What a write did, for the create counters.
#[derive(Debug, Default)]
pub(crate) struct Effect {
    pub created: Option<(&'static str, String)>,
}

impl Store {
    pub fn new() -> Self {
        let mut s = Store {
            next_customer: 2_000_001,
            next_contract: 4_000_001,
            ..Store::default()
        };
        for (id, code, name, price) in [
            (9001, "SIP10", "SIP Trunk 10 canais", Decimal::new(19990, 2)),
            (9002, "SIP30", "SIP Trunk 30 canais", Decimal::new(49990, 2)),
        ] {
            s.services.insert(
                id,
                ServicoCadastro {
                    intListar: ServicoChave {
                        nCodServ: Some(id),
                        cCodIntServ: Some(code.into()),
                    },
                    cabecalho: ServicoCabecalho {
                        cCodigo: Some(format!("SRV{id:05}")),
                        cDescricao: Some(name.into()),
                        nPrecoUnit: Some(price),
                        cCodCateg: Some("1.01.02".into()),
                        cCodServMun: Some("0107".into()),
                        cCodLC116: Some("1.05".into()),
                    },
                    descricao: ServicoDescricao {
                        cDescrCompleta: Some(format!("{name} (mensal)")),
                    },
                },
            );
        }
        s
    }

    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    pub fn contract_count(&self) -> usize {
        self.contracts.len()
    }

    pub fn customer_by_code(&self, code: &str) -> Option<&ClienteCadastro> {
        self.by_code.get(code).and_then(|id| self.customers.get(id))
    }

    pub fn contracts_with_code(&self, code: &str) -> Vec<ContratoCadastro> {
        self.contracts
            .values()
            .filter(|c| c.cabecalho.cCodIntCtr.as_deref() == Some(code))
            .cloned()
            .collect()
    }

    pub fn contracts_of(&self, customer: i64) -> Vec<ContratoCadastro> {
        self.contracts
            .values()
            .filter(|c| c.cabecalho.nCodCli == Some(customer))
            .cloned()
            .collect()
    }

    /// A summary for `/_sandbox/state` (the first 1 000 of each).
    pub fn summary(&self) -> Value {
        let customers: Vec<Value> = self
            .customers
            .values()
            .take(1000)
            .map(|c| json!({"codigo_cliente_omie": c.codigo_cliente_omie, "codigo_cliente_integracao": c.codigo_cliente_integracao}))
            .collect();
        let contracts: Vec<Value> = self
            .contracts
            .values()
            .take(1000)
            .map(|c| json!({"nCodCtr": c.cabecalho.nCodCtr, "cCodIntCtr": c.cabecalho.cCodIntCtr, "nCodCli": c.cabecalho.nCodCli, "cCodSit": c.cabecalho.cCodSit.as_ref().map(|s| s.as_str().to_owned())}))
            .collect();
        json!({
            "customer_count": self.customers.len(),
            "contract_count": self.contracts.len(),
            "customers": customers,
            "contracts": contracts,
        })
    }

    /// Seed `n` customers (not counted as creates: they stand for data already in Omie).
    pub fn seed_customers(&mut self, n: usize) {
        for i in 0..n {
            let id = self.next_customer;
            self.next_customer += 1;
            // 14 digits starting 99: never one of the 11-digit CPFs tests and benches use.
            let doc = format!("99{:012}", i);
            let code = format!("seed-{i}");
            let c = ClienteCadastro {
                codigo_cliente_omie: Some(id),
                codigo_cliente_integracao: Some(code.clone()),
                razao_social: Some(format!("CLIENTE SEMENTE {i}")),
                cnpj_cpf: Some(doc.clone()),
                estado: Some("SP".into()),
                ..ClienteCadastro::default()
            };
            self.by_code.insert(code, id);
            self.by_doc.insert(doc, id);
            self.customers.insert(id, c);
        }
    }

    fn status(c: &ClienteCadastro, text: &str) -> Value {
        to_value(&ClienteStatus {
            codigo_cliente_omie: c.codigo_cliente_omie.unwrap_or_default(),
            codigo_cliente_integracao: c.codigo_cliente_integracao.clone(),
            codigo_status: "0".into(),
            descricao_status: text.into(),
        })
    }

    fn not_found_customer(k: &ClienteChave) -> SandboxFault {
        let which = match (&k.codigo_cliente_integracao, k.codigo_cliente_omie) {
            (Some(code), _) => format!("Código de Integração [{code}]"),
            (None, Some(id)) => format!("Código [{id}]"),
            (None, None) => "Código [0]".to_owned(),
        };
        // `[inferred]` text: Omie's not-found message is not captured.
        SandboxFault::quiet(
            "SOAP-ENV:Client-101",
            format!("ERROR: Cliente não cadastrado para o {which} !"),
        )
    }

    fn find(&self, k: &ClienteChave) -> Option<i64> {
        match (
            k.codigo_cliente_omie,
            nonempty(&k.codigo_cliente_integracao),
        ) {
            (Some(id), _) if id != 0 => self.customers.contains_key(&id).then_some(id),
            (_, Some(code)) => self.by_code.get(code).copied(),
            _ => None,
        }
    }

    fn duplicate_doc(&self, doc: &str, except: Option<i64>) -> Option<SandboxFault> {
        let id = *self.by_doc.get(&doc_key(doc))?;
        if Some(id) == except {
            return None;
        }
        let holder = &self.customers[&id];
        Some(SandboxFault::client(
            "SOAP-ENV:Client-102",
            format!(
                "ERROR: Cliente já cadastrado para o CPF/CNPJ [{doc}] com o Id [{id}] e código de integração [{}] ! (add)",
                holder.codigo_cliente_integracao.as_deref().unwrap_or("")
            ),
        ))
    }

    fn include(&mut self, mut c: ClienteCadastro, fx: &mut Effect) -> R {
        if nonempty(&c.razao_social).is_none() {
            return Err(SandboxFault::client(
                "SOAP-ENV:Client-100",
                "ERROR: O preenchimento da tag [razao_social] é obrigatório!",
            ));
        }
        if let Some(code) = nonempty(&c.codigo_cliente_integracao)
            && let Some(id) = self.by_code.get(code)
        {
            return Err(SandboxFault::client(
                "SOAP-ENV:Client-102",
                format!(
                    "ERROR: Cliente já cadastrado para o Código de Integração [{code}] com o nCod [{id}] !"
                ),
            ));
        }
        if let Some(doc) = nonempty(&c.cnpj_cpf)
            && let Some(f) = self.duplicate_doc(doc, None)
        {
            return Err(f);
        }
        let id = self.next_customer;
        self.next_customer += 1;
        c.codigo_cliente_omie = Some(id);
        c.pessoa_fisica = c
            .cnpj_cpf
            .as_deref()
            .map(|d| crate::wire::Flag::from(doc_key(d).len() == 11));
        if let Some(code) = nonempty(&c.codigo_cliente_integracao) {
            self.by_code.insert(code.to_owned(), id);
        }
        if let Some(doc) = nonempty(&c.cnpj_cpf) {
            self.by_doc.insert(doc_key(doc), id);
        }
        let natural = nonempty(&c.codigo_cliente_integracao)
            .map_or_else(|| format!("omie:{id}"), str::to_owned);
        fx.created = Some(("customer", natural));
        let answer = Self::status(&c, "Cliente cadastrado com sucesso!");
        self.customers.insert(id, c);
        Ok(answer)
    }

    /// Merge the fields sent into the record `id` (the integration code is changed only
    /// through AssociarCodIntCliente `[inferred]`).
    fn alter(&mut self, id: i64, c: ClienteCadastro) -> R {
        if let Some(doc) = nonempty(&c.cnpj_cpf)
            && let Some(f) = self.duplicate_doc(doc, Some(id))
        {
            return Err(f);
        }
        let old_doc = self.customers[&id].cnpj_cpf.clone();
        let rec = self.customers.get_mut(&id).expect("checked");
        let mut merged = to_value(&*rec);
        if let (Some(m), Value::Object(new)) = (merged.as_object_mut(), to_value(&c)) {
            for (k, v) in new {
                if k != "codigo_cliente_omie" && k != "codigo_cliente_integracao" {
                    m.insert(k, v);
                }
            }
        }
        let mut merged: ClienteCadastro = decode(merged)?;
        merged.info = rec.info.clone();
        *rec = merged;
        if rec.cnpj_cpf != old_doc {
            if let Some(d) = nonempty(&old_doc) {
                self.by_doc.remove(&doc_key(d));
            }
            if let Some(d) = nonempty(&rec.cnpj_cpf) {
                self.by_doc.insert(doc_key(d), id);
            }
        }
        Ok(Self::status(rec, "Cliente alterado com sucesso!"))
    }

    pub fn clientes(&mut self, call: &str, param: Value, fx: &mut Effect) -> R {
        match call {
            "IncluirCliente" | "AlterarCliente" | "UpsertCliente" | "UpsertClienteCpfCnpj" => {
                check_tags(&param, "clientes_cadastro", CLIENTE_TAGS)?;
                let c: ClienteCadastro = decode(param)?;
                let key = ClienteChave {
                    codigo_cliente_omie: c.codigo_cliente_omie,
                    codigo_cliente_integracao: c.codigo_cliente_integracao.clone(),
                };
                match call {
                    "IncluirCliente" => self.include(c, fx),
                    "AlterarCliente" => match self.find(&key) {
                        Some(id) => self.alter(id, c),
                        None => Err(Self::not_found_customer(&key)),
                    },
                    "UpsertCliente" => {
                        let Some(code) = nonempty(&c.codigo_cliente_integracao) else {
                            return Err(SandboxFault::client(
                                "SOAP-ENV:Client-100",
                                "ERROR: O preenchimento da tag [codigo_cliente_integracao] é obrigatório!",
                            ));
                        };
                        match self.by_code.get(code).copied() {
                            Some(id) => self.alter(id, c),
                            None => self.include(c, fx),
                        }
                    }
                    _ => {
                        let Some(doc) = nonempty(&c.cnpj_cpf) else {
                            return Err(SandboxFault::client(
                                "SOAP-ENV:Client-100",
                                "ERROR: O preenchimento da tag [cnpj_cpf] é obrigatório!",
                            ));
                        };
                        match self.by_doc.get(&doc_key(doc)).copied() {
                            Some(id) => {
                                // Sets the integration code only where the record has none
                                // `[inferred]`.
                                let code = c.codigo_cliente_integracao.clone();
                                let answer = self.alter(id, c)?;
                                if let Some(code) = nonempty(&code) {
                                    let rec = self.customers.get_mut(&id).expect("exists");
                                    if nonempty(&rec.codigo_cliente_integracao).is_none()
                                        && !self.by_code.contains_key(code)
                                    {
                                        rec.codigo_cliente_integracao = Some(code.to_owned());
                                        self.by_code.insert(code.to_owned(), id);
                                        return Ok(Self::status(
                                            rec,
                                            "Cliente alterado com sucesso!",
                                        ));
                                    }
                                }
                                Ok(answer)
                            }
                            None => self.include(c, fx),
                        }
                    }
                }
            }
            "ConsultarCliente" => {
                check_tags(&param, "clientes_cadastro_chave", CHAVE_TAGS)?;
                let k: ClienteChave = decode(param)?;
                let id = self.find(&k).ok_or_else(|| Self::not_found_customer(&k))?;
                Ok(to_value(&self.customers[&id]))
            }
            "ExcluirCliente" => {
                check_tags(&param, "clientes_cadastro_chave", CHAVE_TAGS)?;
                let k: ClienteChave = decode(param)?;
                let id = self.find(&k).ok_or_else(|| Self::not_found_customer(&k))?;
                let c = self.customers.remove(&id).expect("exists");
                if let Some(code) = nonempty(&c.codigo_cliente_integracao) {
                    self.by_code.remove(code);
                }
                if let Some(doc) = nonempty(&c.cnpj_cpf) {
                    self.by_doc.remove(&doc_key(doc));
                }
                Ok(Self::status(&c, "Cliente excluído com sucesso!"))
            }
            "AssociarCodIntCliente" => {
                check_tags(&param, "clientes_cadastro_chave", CHAVE_TAGS)?;
                let k: ClienteChave = decode(param)?;
                let (Some(id), Some(code)) = (
                    k.codigo_cliente_omie,
                    nonempty(&k.codigo_cliente_integracao),
                ) else {
                    return Err(SandboxFault::client(
                        "SOAP-ENV:Client-100",
                        "ERROR: Informe o codigo_cliente_omie e o codigo_cliente_integracao!",
                    ));
                };
                let code = code.to_owned();
                if !self.customers.contains_key(&id) {
                    return Err(Self::not_found_customer(&ClienteChave::omie(id)));
                }
                if let Some(other) = self.by_code.get(&code)
                    && *other != id
                {
                    return Err(SandboxFault::client(
                        "SOAP-ENV:Client-102",
                        format!(
                            "ERROR: Cliente já cadastrado para o Código de Integração [{code}] com o nCod [{other}] !"
                        ),
                    ));
                }
                let rec = self.customers.get_mut(&id).expect("exists");
                match nonempty(&rec.codigo_cliente_integracao) {
                    Some(existing) if existing == code => {}
                    // `[inferred]` text.
                    Some(existing) => {
                        return Err(SandboxFault::client(
                            "SOAP-ENV:Client-143",
                            format!(
                                "ERROR: O cliente [{id}] já possui o Código de Integração [{existing}]!"
                            ),
                        ));
                    }
                    None => {
                        rec.codigo_cliente_integracao = Some(code.clone());
                        self.by_code.insert(code, id);
                    }
                }
                Ok(Self::status(
                    rec,
                    "Código de Integração associado com sucesso!",
                ))
            }
            "ListarClientes" | "ListarClientesResumido" => {
                check_tags(&param, "clientes_list_request", LIST_TAGS)?;
                let r: ClientesListRequest = decode(param)?;
                let f = r.clientesFiltro.clone().unwrap_or_default();
                let want_doc = f.cnpj_cpf.as_deref().map(doc_key);
                let matches = |c: &&ClienteCadastro| {
                    f.codigo_cliente_omie
                        .is_none_or(|id| c.codigo_cliente_omie == Some(id))
                        && f.codigo_cliente_integracao
                            .as_deref()
                            .is_none_or(|x| c.codigo_cliente_integracao.as_deref() == Some(x))
                        && want_doc
                            .as_deref()
                            .is_none_or(|d| c.cnpj_cpf.as_deref().is_some_and(|x| doc_eq(x, d)))
                        && f.estado
                            .as_deref()
                            .is_none_or(|x| c.estado.as_deref() == Some(x))
                };
                let per = r.registros_por_pagina.clamp(1, PAGE_CAP);
                let page = r.pagina.max(1);
                // Without filters the records are paged in order; with filters they are
                // matched once (the count and the page come from the same pass).
                let skip = (page - 1) as usize * per as usize;
                let (total, rows): (usize, Vec<&ClienteCadastro>) = if r.clientesFiltro.is_none() {
                    let rows = self.customers.values().skip(skip).take(per as usize);
                    (self.customers.len(), rows.collect())
                } else {
                    let all: Vec<&ClienteCadastro> =
                        self.customers.values().filter(matches).collect();
                    let rows = all.iter().skip(skip).take(per as usize).copied();
                    (all.len(), rows.collect())
                };
                let pages = total.div_ceil(per as usize) as u32;
                if page > pages {
                    return Err(end_of_pages(page));
                }
                let head = json!({"pagina": page, "total_de_paginas": pages, "registros": rows.len(), "total_de_registros": total});
                let mut out = head.as_object().cloned().unwrap_or_default();
                if call == "ListarClientes" {
                    out.insert("clientes_cadastro".into(), to_value(&rows));
                } else {
                    let rows: Vec<ClienteResumido> = rows
                        .iter()
                        .map(|c| ClienteResumido {
                            codigo_cliente: c.codigo_cliente_omie.unwrap_or_default(),
                            codigo_cliente_integracao: c.codigo_cliente_integracao.clone(),
                            razao_social: c.razao_social.clone(),
                            nome_fantasia: c.nome_fantasia.clone(),
                            cnpj_cpf: c.cnpj_cpf.clone(),
                        })
                        .collect();
                    out.insert("clientes_cadastro_resumido".into(), to_value(&rows));
                }
                Ok(Value::Object(out))
            }
            other => Err(unknown_method(other)),
        }
    }

    fn cs_status(c: &ContratoCadastro, text: &str) -> Value {
        to_value(&CsStatus {
            cCodIntCtr: c.cabecalho.cCodIntCtr.clone(),
            nCodCtr: c.cabecalho.nCodCtr.unwrap_or_default(),
            cCodStatus: "0".into(),
            cDescStatus: text.into(),
        })
    }

    fn check_contrato(param: &Value) -> Result<ContratoCadastro, SandboxFault> {
        check_tags(param, "contratoCadastro", CONTRATO_TAGS)?;
        check_tags(&param["cabecalho"], "cabecalho", CABECALHO_TAGS)?;
        decode(param.clone())
    }

    fn find_contract(&self, k: &ContratoChave) -> Option<i64> {
        match (k.nCodCtr, nonempty(&k.cCodIntCtr)) {
            (Some(id), _) if id != 0 => self.contracts.contains_key(&id).then_some(id),
            (_, Some(code)) => self.contract_by_code.get(code).copied(),
            _ => None,
        }
    }

    fn contract_not_found(k: &ContratoChave) -> SandboxFault {
        // `[inferred]` text.
        SandboxFault::quiet(
            "SOAP-ENV:Client-101",
            format!(
                "ERROR: Contrato não cadastrado para o Código [{}] !",
                k.nCodCtr
                    .map(|i| i.to_string())
                    .or_else(|| k.cCodIntCtr.clone())
                    .unwrap_or_default()
            ),
        )
    }

    fn include_contract(&mut self, mut c: ContratoCadastro, fx: &mut Effect) -> R {
        let Some(cli) = c.cabecalho.nCodCli else {
            return Err(SandboxFault::client(
                "SOAP-ENV:Client-100",
                "ERROR: O preenchimento da tag [nCodCli] é obrigatório!",
            ));
        };
        if !self.customers.contains_key(&cli) {
            return Err(SandboxFault::client(
                "SOAP-ENV:Client-104",
                format!("ERROR: Cliente [{cli}] informado no contrato não foi encontrado!"),
            ));
        }
        // Uniqueness of the contract's integration code `[inferred]`; a second contract for
        // the same customer under another code is accepted, as Omie does `[observed]`.
        if let Some(code) = nonempty(&c.cabecalho.cCodIntCtr)
            && let Some(id) = self.contract_by_code.get(code)
        {
            return Err(SandboxFault::client(
                "SOAP-ENV:Client-102",
                format!(
                    "ERROR: Contrato já cadastrado para o Código de Integração [{code}] com o nCodCtr [{id}] !"
                ),
            ));
        }
        let id = self.next_contract;
        self.next_contract += 1;
        c.cabecalho.nCodCtr = Some(id);
        c.cabecalho.cNumCtr = Some(format!("{:06}", id - 4_000_000));
        if c.cabecalho.cCodSit.is_none() {
            c.cabecalho.cCodSit = Some(ContractSituation::Ativo);
        }
        let total: Decimal = c
            .itensContrato
            .iter()
            .map(|i| {
                i.itemCabecalho.quant.unwrap_or(Decimal::ONE)
                    * i.itemCabecalho.valorUnit.unwrap_or_default()
            })
            .sum();
        c.cabecalho.nValTotMes = Some(total);
        for (n, item) in c.itensContrato.iter_mut().enumerate() {
            item.itemCabecalho.codItem = Some(n as i64 + 1);
            item.itemCabecalho.valorTotal = Some(
                item.itemCabecalho.quant.unwrap_or(Decimal::ONE)
                    * item.itemCabecalho.valorUnit.unwrap_or_default(),
            );
        }
        let natural =
            nonempty(&c.cabecalho.cCodIntCtr).map_or_else(|| format!("omie:{id}"), str::to_owned);
        if let Some(code) = nonempty(&c.cabecalho.cCodIntCtr) {
            self.contract_by_code.insert(code.to_owned(), id);
        }
        fx.created = Some(("contract", natural));
        let answer = Self::cs_status(&c, "Contrato cadastrado com sucesso!");
        self.contracts.insert(id, c);
        Ok(answer)
    }

    fn alter_contract(&mut self, id: i64, c: ContratoCadastro) -> R {
        let rec = self.contracts.get_mut(&id).expect("checked");
        let keep_code = rec.cabecalho.cCodIntCtr.clone();
        let keep_cli = rec.cabecalho.nCodCli;
        let mut new = c;
        new.cabecalho.nCodCtr = Some(id);
        new.cabecalho.cCodIntCtr = keep_code;
        new.cabecalho.nCodCli = new.cabecalho.nCodCli.or(keep_cli);
        new.cabecalho.cNumCtr = rec.cabecalho.cNumCtr.clone();
        if new.cabecalho.cCodSit.is_none() {
            new.cabecalho.cCodSit = rec.cabecalho.cCodSit.clone();
        }
        if new.itensContrato.is_empty() {
            new.itensContrato = rec.itensContrato.clone();
        }
        *rec = new;
        Ok(Self::cs_status(rec, "Contrato alterado com sucesso!"))
    }

    pub fn contratos(&mut self, call: &str, param: Value, fx: &mut Effect) -> R {
        match call {
            "IncluirContrato" => {
                let c = Self::check_contrato(&param)?;
                self.include_contract(c, fx)
            }
            "AlterarContrato" | "UpsertContrato" => {
                let c = Self::check_contrato(&param)?;
                let k = ContratoChave {
                    nCodCtr: c.cabecalho.nCodCtr,
                    cCodIntCtr: c.cabecalho.cCodIntCtr.clone(),
                };
                match (self.find_contract(&k), call) {
                    (Some(id), _) => self.alter_contract(id, c),
                    (None, "UpsertContrato") => self.include_contract(c, fx),
                    (None, _) => Err(Self::contract_not_found(&k)),
                }
            }
            "ConsultarContrato" => {
                check_tags(&param, "contratoChave", CONTRATO_CHAVE_TAGS)?;
                let k: ContratoChave = decode(param)?;
                let id = self
                    .find_contract(&k)
                    .ok_or_else(|| Self::contract_not_found(&k))?;
                Ok(to_value(&self.contracts[&id]))
            }
            "ListarContratos" => {
                check_tags(&param, "lcListarRequest", LISTAR_CONTRATOS_TAGS)?;
                let r: ListarContratos = decode(param)?;
                let want_doc = r.filtrar_cnpj_cpf.as_deref().map(doc_key);
                let rows: Vec<&ContratoCadastro> = self
                    .contracts
                    .values()
                    .filter(|c| {
                        r.filtrar_cliente
                            .is_none_or(|n| c.cabecalho.nCodCli == Some(n))
                    })
                    .filter(|c| {
                        want_doc.as_deref().is_none_or(|d| {
                            c.cabecalho
                                .nCodCli
                                .and_then(|n| self.customers.get(&n))
                                .and_then(|x| x.cnpj_cpf.as_deref())
                                .is_some_and(|x| doc_eq(x, d))
                        })
                    })
                    .collect();
                let per = r.registros_por_pagina.clamp(1, PAGE_CAP) as usize;
                let page = r.pagina.max(1);
                let pages = rows.len().div_ceil(per) as u32;
                if page > pages {
                    return Err(end_of_pages(page));
                }
                let slice: Vec<&ContratoCadastro> = rows
                    .iter()
                    .skip((page as usize - 1) * per)
                    .take(per)
                    .copied()
                    .collect();
                Ok(
                    json!({"pagina": page, "total_de_paginas": pages, "registros": slice.len(),
                          "total_de_registros": rows.len(), "contratoCadastro": to_value(&slice)}),
                )
            }
            other => Err(unknown_method(other)),
        }
    }

    pub fn contratofat(&mut self, call: &str, param: Value) -> R {
        let situation = match call {
            "SuspenderContrato" => ContractSituation::Suspenso,
            "AtivarContrato" | "ReativarContrato" => ContractSituation::Ativo,
            "CancelarContrato" => ContractSituation::Cancelado,
            other => return Err(unknown_method(other)),
        };
        check_tags(&param, "contratoChave", CONTRATO_CHAVE_TAGS)?;
        let k: ContratoChave = decode(param)?;
        let id = self
            .find_contract(&k)
            .ok_or_else(|| Self::contract_not_found(&k))?;
        let rec = self.contracts.get_mut(&id).expect("exists");
        rec.cabecalho.cCodSit = Some(situation);
        Ok(Self::cs_status(
            rec,
            "Situação do contrato alterada com sucesso!",
        ))
    }

    pub fn servicos(&mut self, call: &str, param: Value) -> R {
        match call {
            "ConsultarCadastroServico" => {
                check_tags(&param, "srvConsultarRequest", &["nCodServ", "cCodIntServ"])?;
                let k: ServicoChave = decode(param)?;
                self.services
                    .values()
                    .find(|s| {
                        (k.nCodServ.is_some() && s.intListar.nCodServ == k.nCodServ)
                            || (k.cCodIntServ.is_some() && s.intListar.cCodIntServ == k.cCodIntServ)
                    })
                    .map(to_value)
                    .ok_or_else(|| {
                        SandboxFault::quiet("SOAP-ENV:Client-101", "ERROR: Serviço não cadastrado!")
                    })
            }
            "ListarCadastroServico" => {
                check_tags(&param, "srvListarRequest", &["nPagina", "nRegPorPagina"])?;
                let r: ListarCadastroServico = decode(param)?;
                let per = r.nRegPorPagina.clamp(1, PAGE_CAP) as usize;
                let page = r.nPagina.max(1);
                let pages = self.services.len().div_ceil(per) as u32;
                if page > pages {
                    return Err(end_of_pages(page));
                }
                let rows: Vec<&ServicoCadastro> = self
                    .services
                    .values()
                    .skip((page as usize - 1) * per)
                    .take(per)
                    .collect();
                Ok(
                    json!({"nPagina": page, "nTotPaginas": pages, "nRegistros": rows.len(),
                          "nTotRegistros": self.services.len(), "cadastros": to_value(&rows)}),
                )
            }
            other => Err(unknown_method(other)),
        }
    }
}

fn unknown_method(call: &str) -> SandboxFault {
    // `[inferred]` text.
    SandboxFault::client(
        "SOAP-ENV:Client-1",
        format!("ERROR: Método [{call}] não existe neste serviço!"),
    )
}

/// Keep only the object of a one-element `param` array.
pub(crate) fn single_param(v: Option<&Value>) -> Result<Value, SandboxFault> {
    match v {
        Some(Value::Array(a)) if a.len() == 1 && a[0].is_object() => Ok(a[0].clone()),
        _ => Err(SandboxFault::client(
            "SOAP-ENV:Client-1",
            "ERROR: A tag [param] deve ser um array com um único objeto!",
        )),
    }
}
