//! `geral/clientes/`: customers (`clientes_cadastro` and friends) `[documented]`.

use serde::{Deserialize, Serialize};

use super::{Flag, OmieDate, Page, PageRequest, Service, lenient};

/// `clientes_cadastro`: a customer record, sent by Incluir/Alterar/Upsert and returned by
/// ConsultarCliente and ListarClientes. Only the fields SIG uses are modelled; every one is
/// optional so a request carries only what is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClienteCadastro {
    /// Omie's id (generated; send only to alter).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub codigo_cliente_omie: Option<i64>,
    /// The integration code (SIG's customer id).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub codigo_cliente_integracao: Option<String>,
    /// Legal name (required on include).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub razao_social: Option<String>,
    /// CPF or CNPJ.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cnpj_cpf: Option<String>,
    /// Trade name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub nome_fantasia: Option<String>,
    /// E-mail.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub email: Option<String>,
    /// Main phone, area code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub telefone1_ddd: Option<String>,
    /// Main phone, number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub telefone1_numero: Option<String>,
    /// Second phone, area code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub telefone2_ddd: Option<String>,
    /// Second phone, number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub telefone2_numero: Option<String>,
    /// Contact person.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub contato: Option<String>,
    /// Street.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub endereco: Option<String>,
    /// Street number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub endereco_numero: Option<String>,
    /// Address complement.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub complemento: Option<String>,
    /// District.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub bairro: Option<String>,
    /// UF.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub estado: Option<String>,
    /// City (IBGE code or name).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cidade: Option<String>,
    /// CEP.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cep: Option<String>,
    /// Country code (1058 = Brasil).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub codigo_pais: Option<String>,
    /// State registration.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub inscricao_estadual: Option<String>,
    /// Municipal registration.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub inscricao_municipal: Option<String>,
    /// Person (filled by Omie; never sent by SIG).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_flag"
    )]
    pub pessoa_fisica: Option<Flag>,
    /// Whether the customer pays ICMS.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_flag"
    )]
    pub contribuinte: Option<Flag>,
    /// Internal notes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub observacao: Option<String>,
    /// Inactive.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_flag"
    )]
    pub inativo: Option<Flag>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Audit data (read-only: never sent).
    #[serde(default, skip_serializing)]
    pub info: Option<InfoCadastro>,
}

/// A customer tag `{ "tag": "..." }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The tag text.
    #[serde(deserialize_with = "lenient::string")]
    pub tag: String,
}

/// `info`: when and by whom a record was created and changed (read-only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct InfoCadastro {
    /// Created on.
    #[serde(default, deserialize_with = "lenient::opt_date")]
    pub dInc: Option<OmieDate>,
    /// Created at (`hh:mm:ss`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub hInc: Option<String>,
    /// Changed on.
    #[serde(default, deserialize_with = "lenient::opt_date")]
    pub dAlt: Option<OmieDate>,
    /// Changed at.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub hAlt: Option<String>,
    /// Created through the API (`S`/`N`).
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    pub cImpAPI: Option<Flag>,
}

/// `clientes_cadastro_chave`: find a customer by Omie id or integration code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClienteChave {
    /// Omie's id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub codigo_cliente_omie: Option<i64>,
    /// The integration code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub codigo_cliente_integracao: Option<String>,
}

impl ClienteChave {
    /// By Omie id.
    pub fn omie(id: i64) -> Self {
        ClienteChave {
            codigo_cliente_omie: Some(id),
            codigo_cliente_integracao: None,
        }
    }

    /// By integration code.
    pub fn integracao(code: impl Into<String>) -> Self {
        ClienteChave {
            codigo_cliente_omie: None,
            codigo_cliente_integracao: Some(code.into()),
        }
    }
}

/// `clientes_status`: the answer of Incluir/Alterar/Upsert/Excluir/Associar.
/// `codigo_status` is a string; `"0"` is success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClienteStatus {
    /// Omie's id.
    #[serde(deserialize_with = "lenient::i64")]
    pub codigo_cliente_omie: i64,
    /// The integration code the record carries.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub codigo_cliente_integracao: Option<String>,
    /// `"0"` on success.
    #[serde(default, deserialize_with = "lenient::string")]
    pub codigo_status: String,
    /// Omie's description of the outcome.
    #[serde(default, deserialize_with = "lenient::string")]
    pub descricao_status: String,
}

/// `clientesFiltro`: filters of the customer lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientesFiltro {
    /// By Omie id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codigo_cliente_omie: Option<i64>,
    /// By integration code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codigo_cliente_integracao: Option<String>,
    /// By CPF/CNPJ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnpj_cpf: Option<String>,
    /// By legal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub razao_social: Option<String>,
    /// By trade name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nome_fantasia: Option<String>,
    /// By city.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidade: Option<String>,
    /// By UF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estado: Option<String>,
    /// By e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `clientes_list_request`: ListarClientes and ListarClientesResumido.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ClientesListRequest {
    /// Page, 1-based.
    pub pagina: u32,
    /// Records per page (the client asks for at most 100).
    pub registros_por_pagina: u32,
    /// Only records created through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apenas_importado_api: Option<Flag>,
    /// Sort field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordenar_por: Option<String>,
    /// Descending order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordem_decrescente: Option<Flag>,
    /// Changed from this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_por_data_de: Option<OmieDate>,
    /// Changed until this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_por_data_ate: Option<OmieDate>,
    /// Only inclusions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_apenas_inclusao: Option<Flag>,
    /// Only changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_apenas_alteracao: Option<Flag>,
    /// Field filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clientesFiltro: Option<ClientesFiltro>,
    /// Only these customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clientesPorCodigo: Option<Vec<ClienteChave>>,
}

impl Default for ClientesListRequest {
    fn default() -> Self {
        ClientesListRequest {
            pagina: 1,
            registros_por_pagina: 100,
            apenas_importado_api: None,
            ordenar_por: None,
            ordem_decrescente: None,
            filtrar_por_data_de: None,
            filtrar_por_data_ate: None,
            filtrar_apenas_inclusao: None,
            filtrar_apenas_alteracao: None,
            clientesFiltro: None,
            clientesPorCodigo: None,
        }
    }
}

/// `clientes_listfull_response`: a page of ListarClientes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientesListFullResponse {
    /// This page.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub pagina: u32,
    /// Pages in all.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub total_de_paginas: u32,
    /// Records on this page.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub registros: u32,
    /// Records in all.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub total_de_registros: u32,
    /// The records.
    #[serde(default)]
    pub clientes_cadastro: Vec<ClienteCadastro>,
}

/// One row of ListarClientesResumido (note `codigo_cliente`, not `codigo_cliente_omie`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClienteResumido {
    /// Omie's id.
    #[serde(deserialize_with = "lenient::i64")]
    pub codigo_cliente: i64,
    /// The integration code.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub codigo_cliente_integracao: Option<String>,
    /// Legal name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub razao_social: Option<String>,
    /// Trade name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub nome_fantasia: Option<String>,
    /// CPF/CNPJ.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cnpj_cpf: Option<String>,
}

/// `clientes_list_response`: a page of ListarClientesResumido.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientesListResumidoResponse {
    /// This page.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub pagina: u32,
    /// Pages in all.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub total_de_paginas: u32,
    /// Records on this page.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub registros: u32,
    /// Records in all.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub total_de_registros: u32,
    /// The rows.
    #[serde(default)]
    pub clientes_cadastro_resumido: Vec<ClienteResumido>,
}

impl Page for ClientesListFullResponse {
    type Item = ClienteCadastro;
    fn page(&self) -> u32 {
        self.pagina
    }
    fn total_pages(&self) -> u32 {
        self.total_de_paginas
    }
    fn into_items(self) -> Vec<ClienteCadastro> {
        self.clientes_cadastro
    }
}

impl Page for ClientesListResumidoResponse {
    type Item = ClienteResumido;
    fn page(&self) -> u32 {
        self.pagina
    }
    fn total_pages(&self) -> u32 {
        self.total_de_paginas
    }
    fn into_items(self) -> Vec<ClienteResumido> {
        self.clientes_cadastro_resumido
    }
}

/// ListarClientes: the full-record list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ListarClientes(pub ClientesListRequest);

/// ListarClientesResumido: the summary list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ListarClientesResumido(pub ClientesListRequest);

impl PageRequest for ListarClientes {
    type Page = ClientesListFullResponse;
    const SERVICE: Service = Service::Clientes;
    const METHOD: &'static str = "ListarClientes";
    fn set_page(&mut self, page: u32, per_page: u32) {
        self.0.pagina = page;
        self.0.registros_por_pagina = per_page;
    }
}

impl PageRequest for ListarClientesResumido {
    type Page = ClientesListResumidoResponse;
    const SERVICE: Service = Service::Clientes;
    const METHOD: &'static str = "ListarClientesResumido";
    fn set_page(&mut self, page: u32, per_page: u32) {
        self.0.pagina = page;
        self.0.registros_por_pagina = per_page;
    }
}
