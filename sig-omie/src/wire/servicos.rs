//! `servicos/servico/`: the service catalog (read-only here).
//!
//! The method names are `[documented]`; `cabecalho {cCodigo, cDescricao, nPrecoUnit, cCodCateg,
//! cCodServMun, cCodLC116}` and `descricao {cDescrCompleta}` are `[observed]`; the page fields
//! `nPagina`/`nRegPorPagina`/`nTotPaginas` and the items key `cadastros` are `[observed]` in
//! third-party code; the key `{nCodServ, cCodIntServ}` of ConsultarCadastroServico and the
//! record's `intListar {nCodServ, cCodIntServ}` block are `[inferred]`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Page, PageRequest, Service, lenient};

/// The key of ConsultarCadastroServico `[inferred]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ServicoChave {
    /// Omie's service id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub nCodServ: Option<i64>,
    /// Integration code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cCodIntServ: Option<String>,
}

/// A service's header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ServicoCabecalho {
    /// Code shown on screen.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cCodigo: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cDescricao: Option<String>,
    /// Unit price.
    #[serde(default, deserialize_with = "lenient::opt_decimal")]
    pub nPrecoUnit: Option<Decimal>,
    /// Financial category.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cCodCateg: Option<String>,
    /// Municipal service code.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cCodServMun: Option<String>,
    /// LC 116 code.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cCodLC116: Option<String>,
}

/// A service's long description.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ServicoDescricao {
    /// Full description.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cDescrCompleta: Option<String>,
}

/// A service-catalog record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ServicoCadastro {
    /// Its keys `[inferred]`.
    #[serde(default)]
    pub intListar: ServicoChave,
    /// Header.
    #[serde(default)]
    pub cabecalho: ServicoCabecalho,
    /// Description.
    #[serde(default)]
    pub descricao: ServicoDescricao,
}

/// ListarCadastroServico request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ListarCadastroServico {
    /// Page, 1-based.
    pub nPagina: u32,
    /// Records per page (at most 100).
    pub nRegPorPagina: u32,
}

impl Default for ListarCadastroServico {
    fn default() -> Self {
        ListarCadastroServico {
            nPagina: 1,
            nRegPorPagina: 100,
        }
    }
}

/// A page of ListarCadastroServico.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ListarCadastroServicoResponse {
    /// This page.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub nPagina: u32,
    /// Pages in all.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub nTotPaginas: u32,
    /// Records on this page.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub nRegistros: u32,
    /// Records in all.
    #[serde(default, deserialize_with = "lenient::u32")]
    pub nTotRegistros: u32,
    /// The services.
    #[serde(default)]
    pub cadastros: Vec<ServicoCadastro>,
}

impl Page for ListarCadastroServicoResponse {
    type Item = ServicoCadastro;
    fn page(&self) -> u32 {
        self.nPagina
    }
    fn total_pages(&self) -> u32 {
        self.nTotPaginas
    }
    fn into_items(self) -> Vec<ServicoCadastro> {
        self.cadastros
    }
}

impl PageRequest for ListarCadastroServico {
    type Page = ListarCadastroServicoResponse;
    const SERVICE: Service = Service::Servico;
    const METHOD: &'static str = "ListarCadastroServico";
    fn set_page(&mut self, page: u32, per_page: u32) {
        self.nPagina = page;
        self.nRegPorPagina = per_page;
    }
}
