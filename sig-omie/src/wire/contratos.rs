//! `servicos/contrato/` and `servicos/contratofat/`: service contracts.
//!
//! `contratoCadastro`, `cabecalho`, `infAdic`, `vencTextos`, `itensContrato`, `csStatus` and the
//! ListarContratos request are `[documented]`; the items key of the ListarContratos page
//! (`contratoCadastro`) is `[observed]`. Marked `[inferred]` where noted: `itemDescrServ.descrCompleta`,
//! the ConsultarContrato key (`contratoChave`-shaped `{nCodCtr, cCodIntCtr}`), its answer (the
//! `contratoCadastro` object itself) and the `contratofat` request/answer shapes.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::Deserializer;
use serde::{Deserialize, Serialize, Serializer};

use super::{Flag, OmieDate, Page, PageRequest, Service, lenient};

macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $v,)+
            /// A code this client does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The wire code.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$v => $s,)+
                    $name::Unknown(s) => s,
                }
            }

            /// Parse a wire code; unknown codes are kept.
            pub fn parse(s: &str) -> Self {
                match s.trim() {
                    $($s => $name::$v,)+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name::parse(&lenient::string(d)?))
            }
        }
    };
}

code_enum! {
    /// `cCodSit`: the contract's situation.
    ContractSituation {
        /// `00` em elaboração.
        EmElaboracao = "00",
        /// `10` ativo.
        Ativo = "10",
        /// `90` suspenso.
        Suspenso = "90",
        /// `99` cancelado.
        Cancelado = "99",
    }
}

code_enum! {
    /// `cTipoFat`: how often the contract bills.
    BillingPeriod {
        /// `01` mensal.
        Mensal = "01",
        /// `02` bimestral.
        Bimestral = "02",
        /// `03` trimestral.
        Trimestral = "03",
        /// `06` semestral.
        Semestral = "06",
        /// `12` anual.
        Anual = "12",
    }
}

/// `cabecalho`: the contract header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ContratoCabecalho {
    /// Omie's id (generated).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub nCodCtr: Option<i64>,
    /// Integration code (SIG's service-order id).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cCodIntCtr: Option<String>,
    /// Omie customer id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub nCodCli: Option<i64>,
    /// Number shown on screen.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cNumCtr: Option<String>,
    /// Situation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cCodSit: Option<ContractSituation>,
    /// First day in force.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_date"
    )]
    pub dVigInicial: Option<OmieDate>,
    /// Last day in force.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_date"
    )]
    pub dVigFinal: Option<OmieDate>,
    /// Billing day.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_u32"
    )]
    pub nDiaFat: Option<u32>,
    /// Monthly total (calculated by Omie; never sent).
    #[serde(default, skip_serializing, deserialize_with = "lenient::opt_decimal")]
    pub nValTotMes: Option<Decimal>,
    /// Billing period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cTipoFat: Option<BillingPeriod>,
}

/// `infAdic`: additional data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct InfAdic {
    /// Financial category.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cCodCateg: Option<String>,
    /// Seller.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub nCodVend: Option<i64>,
    /// Project.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub nCodProj: Option<i64>,
    /// Bank account.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub nCodCC: Option<i64>,
    /// Contact.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cContato: Option<String>,
    /// City where the service is rendered.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cCidPrestServ: Option<String>,
    /// Additional invoice data.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cDadosAdicNF: Option<String>,
}

/// `vencTextos`: due date rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct VencTextos {
    /// `001` N days after billing, `002` fixed day.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cTpVenc: Option<String>,
    /// Days after billing.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_u32"
    )]
    pub nDias: Option<u32>,
    /// Fixed due day.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_u32"
    )]
    pub nDiaFixo: Option<u32>,
    /// Due in the next month.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_flag"
    )]
    pub cProxMes: Option<Flag>,
}

/// `itemCabecalho`: one contract item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ItemCabecalho {
    /// Omie's item id (generated).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub codItem: Option<i64>,
    /// Item integration code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub codIntItem: Option<String>,
    /// Sequence.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_u32"
    )]
    pub seq: Option<u32>,
    /// Service-catalog id; the item inherits the service's data.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub codServico: Option<i64>,
    /// Municipal service code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub codServMunic: Option<String>,
    /// LC 116 code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub codLC116: Option<String>,
    /// Quantity.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "lenient::ser_opt_decimal",
        deserialize_with = "lenient::opt_decimal"
    )]
    pub quant: Option<Decimal>,
    /// Unit value.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "lenient::ser_opt_decimal",
        deserialize_with = "lenient::opt_decimal"
    )]
    pub valorUnit: Option<Decimal>,
    /// Total (calculated by Omie; never sent).
    #[serde(default, skip_serializing, deserialize_with = "lenient::opt_decimal")]
    pub valorTotal: Option<Decimal>,
    /// `S` = do not create the receivable.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_flag"
    )]
    pub cNaoGerarFinanceiro: Option<Flag>,
    /// Item category.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cCodCategItem: Option<String>,
}

/// `itemDescrServ`: the item's description `[inferred field name `descrCompleta`]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ItemDescrServ {
    /// Full description.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub descrCompleta: Option<String>,
}

/// One element of `itensContrato`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ItemContrato {
    /// The item.
    #[serde(default)]
    pub itemCabecalho: ItemCabecalho,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itemDescrServ: Option<ItemDescrServ>,
}

/// `contratoCadastro`: a contract (lowercase top-level keys, as Omie spells them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ContratoCadastro {
    /// Header.
    #[serde(default)]
    pub cabecalho: ContratoCabecalho,
    /// Additional data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infAdic: Option<InfAdic>,
    /// Due date rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vencTextos: Option<VencTextos>,
    /// Items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub itensContrato: Vec<ItemContrato>,
}

/// `csStatus`: the answer of Incluir/Alterar/UpsertContrato (`cCodStatus` `"0"` = success).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct CsStatus {
    /// Integration code.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cCodIntCtr: Option<String>,
    /// Omie's contract id.
    #[serde(deserialize_with = "lenient::i64")]
    pub nCodCtr: i64,
    /// `"0"` on success.
    #[serde(default, deserialize_with = "lenient::string")]
    pub cCodStatus: String,
    /// Description.
    #[serde(default, deserialize_with = "lenient::string")]
    pub cDescStatus: String,
}

/// A contract key `{nCodCtr, cCodIntCtr}` for ConsultarContrato and the `contratofat`
/// lifecycle calls `[inferred]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ContratoChave {
    /// Omie's contract id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_i64"
    )]
    pub nCodCtr: Option<i64>,
    /// Integration code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub cCodIntCtr: Option<String>,
}

/// The answer of the `contratofat` lifecycle calls: a `csStatus`-shaped status `[inferred]`.
pub type ContratoFatStatus = CsStatus;

/// ListarContratos request (`ordem_descrescente` is spelled as Omie spells it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ListarContratos {
    /// Page, 1-based.
    pub pagina: u32,
    /// Records per page (at most 100).
    pub registros_por_pagina: u32,
    /// Sort field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordenar_por: Option<String>,
    /// Descending order (sic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordem_descrescente: Option<Flag>,
    /// Changed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_por_data_de: Option<OmieDate>,
    /// Changed until.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_por_data_ate: Option<OmieDate>,
    /// Only inclusions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_apenas_inclusao: Option<Flag>,
    /// Only changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_apenas_alteracao: Option<Flag>,
    /// By the customer's CPF/CNPJ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_cnpj_cpf: Option<String>,
    /// By Omie customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtrar_cliente: Option<i64>,
    /// Include notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cExibeObs: Option<Flag>,
    /// Include products used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cExibirProdutos: Option<Flag>,
    /// Include audit data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cExibirInfoCadastro: Option<Flag>,
}

impl Default for ListarContratos {
    fn default() -> Self {
        ListarContratos {
            pagina: 1,
            registros_por_pagina: 100,
            ordenar_por: None,
            ordem_descrescente: None,
            filtrar_por_data_de: None,
            filtrar_por_data_ate: None,
            filtrar_apenas_inclusao: None,
            filtrar_apenas_alteracao: None,
            filtrar_cnpj_cpf: None,
            filtrar_cliente: None,
            cExibeObs: None,
            cExibirProdutos: None,
            cExibirInfoCadastro: None,
        }
    }
}

/// A page of ListarContratos.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct ListarContratosResponse {
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
    /// The contracts.
    #[serde(default)]
    pub contratoCadastro: Vec<ContratoCadastro>,
}

impl Page for ListarContratosResponse {
    type Item = ContratoCadastro;
    fn page(&self) -> u32 {
        self.pagina
    }
    fn total_pages(&self) -> u32 {
        self.total_de_paginas
    }
    fn into_items(self) -> Vec<ContratoCadastro> {
        self.contratoCadastro
    }
}

impl PageRequest for ListarContratos {
    type Page = ListarContratosResponse;
    const SERVICE: Service = Service::Contrato;
    const METHOD: &'static str = "ListarContratos";
    fn set_page(&mut self, page: u32, per_page: u32) {
        self.pagina = page;
        self.registros_por_pagina = per_page;
    }
}
