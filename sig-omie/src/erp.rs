//! sig-core's [`Erp`] port on Omie.
//!
//! - **Customers** are keyed by SIG's customer id as `codigo_cliente_integracao`
//!   (`UpsertCliente`). When Omie already holds the CPF/CNPJ under another record, that
//!   record is adopted: SIG's code is set with `AssociarCodIntCliente` only if the record has
//!   none, its data is brought up to date with `AlterarCliente`, and its
//!   `codigo_cliente_omie` is the link from then on. With a link already known, the record
//!   is changed by its Omie id.
//! - **Contracts** are keyed by SIG's service-order id as `cCodIntCtr`. `ListarContratos`
//!   filtered by the customer comes first and a contract carrying the order's code is
//!   reused; only then `IncluirContrato` (monthly, active, one item for the plan's service).
//!   Omie refuses a repeated contract code `[inferred]` but accepts a second contract under
//!   another code, so this check is what prevents double billing. A first attempt
//!   (`sig_core::ports::Attempt::First`: the pipeline's journal proves no earlier run sent
//!   it) skips the list, which could not hold the contract yet.
//! - **Never a blind write retry**: after a write that may have been applied (timeout, cut
//!   connection, unreadable answer, REDUNDANT after a write) the record is looked up by its
//!   integration code, and written again only if it is not there.
//!
//! `created` is best effort: `UpsertCliente` answers the same status for a create and an
//! update except for its text ("cadastrado" / "alterado" `[inferred]`), and after a lost
//! answer a customer found by the look-up is reported as not created by this call.

use async_trait::async_trait;
use futures::TryStreamExt;
use rust_decimal::Decimal;
use sig_core::config::OmieContractDefaults;
use sig_core::domain::Customer;
use sig_core::ids::CustomerId;
use sig_core::ports::{
    ContractRequest, CustomerLookup, Erp, ErpContract, ErpCustomer, UpstreamError,
};

use crate::client::OmieClient;
use crate::error::OmieError;
use crate::fault::FaultClass;
use crate::wire::clientes::{
    ClienteCadastro, ClienteChave, ClienteStatus, ClientesFiltro, ClientesListRequest,
    ListarClientes,
};
use crate::wire::contratos::{
    BillingPeriod, ContractSituation, ContratoCabecalho, ContratoCadastro, InfAdic, ItemCabecalho,
    ItemContrato, ItemDescrServ, ListarContratos, VencTextos,
};

/// Omie's country code for Brazil.
const BRASIL: &str = "1058";

/// The ERP port on one Omie account.
#[derive(Debug, Clone)]
pub struct OmieErp {
    client: OmieClient,
    write_attempts: u32,
}

/// What a guarded write ended with.
enum Written<W, F> {
    /// The write answered.
    Answered(W),
    /// The answer was lost, and the look-up found the record.
    Found(F),
}

fn up(e: OmieError, record: &str) -> UpstreamError {
    let mut u = e.into_upstream();
    if u.record.is_none() {
        u.record = Some(record.to_owned());
    }
    u
}

fn missing_id(call: &'static str, record: &str) -> OmieError {
    OmieError::Decode {
        call,
        status: 200,
        path: "codigo_cliente_omie".into(),
        message: "the record carries no Omie id".into(),
        malformed: false,
        write: false,
        record: Some(record.to_owned()),
    }
}

/// `true` when a customer status text says the record was created rather than changed
/// [inferred: Omie's texts are "Cliente cadastrado com sucesso!" / "Cliente alterado com
/// sucesso!"].
fn status_says_created(st: &ClienteStatus) -> bool {
    let t = st.descricao_status.to_lowercase();
    !t.contains("alterad")
        && (t.contains("cadastrad") || t.contains("incluíd") || t.contains("incluid"))
}

/// The tax id's letters and digits, upper case (to compare masked and unmasked forms).
fn doc_key(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The Omie customer record SIG writes for a domain customer.
pub fn cliente_cadastro(id: CustomerId, c: &Customer) -> ClienteCadastro {
    let phone = c.main_phone();
    let second = c.phones.get(1);
    let a = &c.address;
    ClienteCadastro {
        codigo_cliente_integracao: Some(id.to_string()),
        razao_social: Some(c.legal_name.as_str().to_owned()),
        cnpj_cpf: Some(c.tax_id.formatted()),
        nome_fantasia: Some(
            c.trade_name
                .as_ref()
                .map_or(c.legal_name.as_str(), |t| t.as_str())
                .to_owned(),
        ),
        email: Some(c.main_email().as_str().to_owned()),
        telefone1_ddd: Some(phone.area_code().to_string()),
        telefone1_numero: Some(phone.subscriber()),
        telefone2_ddd: second.map(|p| p.area_code().to_string()),
        telefone2_numero: second.map(|p| p.subscriber()),
        contato: c.contact_name.as_ref().map(|n| n.as_str().to_owned()),
        endereco: Some(a.street.as_str().to_owned()),
        endereco_numero: Some(a.number.as_str().to_owned()),
        complemento: a.complement.as_ref().map(|x| x.as_str().to_owned()),
        bairro: Some(a.district.as_str().to_owned()),
        estado: Some(a.uf.as_str().to_owned()),
        cidade: Some(a.city.as_str().to_owned()),
        cep: Some(a.cep.as_str().to_owned()),
        codigo_pais: Some(BRASIL.to_owned()),
        inscricao_estadual: c.state_registration.as_ref().map(|r| r.as_str().to_owned()),
        inscricao_municipal: c
            .municipal_registration
            .as_ref()
            .map(|r| r.as_str().to_owned()),
        ..ClienteCadastro::default()
    }
}

/// The Omie contract SIG writes for a service order: monthly, active from the order's start
/// date, billed on its billing day, one item of the plan's service at the monthly value.
pub fn contrato_cadastro(customer_erp_id: i64, r: &ContractRequest<'_>) -> ContratoCadastro {
    let t: &OmieContractDefaults = r.terms;
    let inf = (t.category.is_some() || t.bank_account.is_some()).then(|| InfAdic {
        cCodCateg: t.category.clone(),
        nCodCC: t.bank_account,
        ..InfAdic::default()
    });
    ContratoCadastro {
        cabecalho: ContratoCabecalho {
            cCodIntCtr: Some(r.order_id.to_string()),
            nCodCli: Some(customer_erp_id),
            cCodSit: Some(ContractSituation::Ativo),
            dVigInicial: Some(r.order.start_date.into()),
            nDiaFat: Some(u32::from(r.order.billing_day.get())),
            cTipoFat: Some(BillingPeriod::Mensal),
            ..ContratoCabecalho::default()
        },
        infAdic: inf,
        vencTextos: Some(VencTextos {
            cTpVenc: Some("001".into()),
            nDias: Some(u32::from(t.due_days)),
            ..VencTextos::default()
        }),
        itensContrato: vec![ItemContrato {
            itemCabecalho: ItemCabecalho {
                seq: Some(1),
                codServico: Some(t.service_code),
                codServMunic: t.municipal_service_code.clone(),
                codLC116: t.lc116_code.clone(),
                quant: Some(Decimal::ONE),
                valorUnit: Some(r.order.monthly_value.amount()),
                ..ItemCabecalho::default()
            },
            itemDescrServ: Some(ItemDescrServ {
                descrCompleta: Some(r.description.clone()),
            }),
        }],
    }
}

impl OmieErp {
    /// The port on this client. A write that may have been applied is looked up and tried
    /// again at most 3 times per port call.
    pub fn new(client: OmieClient) -> Self {
        OmieErp {
            client,
            write_attempts: 3,
        }
    }

    /// How many times one port call may send its write after ambiguous failures (at least 1).
    pub fn with_write_attempts(mut self, n: u32) -> Self {
        self.write_attempts = n.max(1);
        self
    }

    /// The client underneath.
    pub fn client(&self) -> &OmieClient {
        &self.client
    }

    /// Send `write`; if it fails in a way that may have applied it, run `lookup` and stop
    /// when it finds the record; otherwise send again, at most `write_attempts` times.
    async fn guarded<W, F, WF, LF, WFut, LFut>(
        &self,
        mut write: WF,
        mut lookup: LF,
    ) -> Result<Written<W, F>, OmieError>
    where
        WF: FnMut() -> WFut,
        LF: FnMut() -> LFut,
        WFut: Future<Output = Result<W, OmieError>>,
        LFut: Future<Output = Result<Option<F>, OmieError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match write().await {
                Ok(w) => return Ok(Written::Answered(w)),
                Err(e) if e.maybe_applied() => e,
                Err(e) => return Err(e),
            };
            tracing::info!(
                account = self.client.account(),
                call = err.call(),
                attempt,
                "omie write may have been applied; looking it up before writing again"
            );
            if let Some(found) = lookup().await? {
                return Ok(Written::Found(found));
            }
            if attempt >= self.write_attempts {
                return Err(err);
            }
        }
    }

    async fn find_by_code(&self, code: &str) -> Result<Option<ClienteCadastro>, OmieError> {
        self.client
            .find_cliente(&ClienteChave::integracao(code))
            .await
    }

    async fn find_by_tax_id(&self, doc: &str) -> Result<Option<ClienteCadastro>, OmieError> {
        let req = ClientesListRequest {
            clientesFiltro: Some(ClientesFiltro {
                cnpj_cpf: Some(doc.to_owned()),
                ..ClientesFiltro::default()
            }),
            ..ClientesListRequest::default()
        };
        let want = doc_key(doc);
        let stream = self.client.stream(ListarClientes(req));
        futures::pin_mut!(stream);
        while let Some(c) = stream.try_next().await? {
            if c.cnpj_cpf.as_deref().map(doc_key).as_deref() == Some(want.as_str()) {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// Change the record with this Omie id (its integration code untouched).
    async fn alter_by_omie_id(
        &self,
        omie_id: i64,
        cad: &ClienteCadastro,
    ) -> Result<ClienteStatus, OmieError> {
        let mut c = cad.clone();
        c.codigo_cliente_omie = Some(omie_id);
        c.codigo_cliente_integracao = None;
        // Same data, same key: repeating an AlterarCliente cannot create anything, so the
        // client's own retries are enough here.
        let mut last = None;
        for _ in 0..self.write_attempts {
            match self.client.alterar_cliente(&c).await {
                Ok(st) => return Ok(st),
                Err(e) if e.maybe_applied() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// Adopt the record that holds the customer's CPF/CNPJ.
    async fn adopt(
        &self,
        code: &str,
        cad: &ClienteCadastro,
        omie_id: Option<i64>,
        holder_code: Option<String>,
    ) -> Result<ErpCustomer, OmieError> {
        let (omie_id, holder_code) = match omie_id {
            Some(id) => (id, holder_code),
            None => {
                // The text did not carry the id: find the holder by its document.
                let doc = cad.cnpj_cpf.as_deref().unwrap_or_default();
                let found = self.find_by_tax_id(doc).await?;
                let found = found.ok_or_else(|| missing_id("ListarClientes", code))?;
                let id = found
                    .codigo_cliente_omie
                    .ok_or_else(|| missing_id("ListarClientes", code))?;
                (
                    id,
                    found.codigo_cliente_integracao.filter(|c| !c.is_empty()),
                )
            }
        };
        let integration_code = match holder_code {
            Some(other) => other,
            None => {
                let key = ClienteChave {
                    codigo_cliente_omie: Some(omie_id),
                    codigo_cliente_integracao: Some(code.to_owned()),
                };
                self.guarded(
                    || self.client.associar_cod_int_cliente(&key),
                    || self.find_by_code(code),
                )
                .await?;
                code.to_owned()
            }
        };
        tracing::info!(
            account = self.client.account(),
            record = code,
            omie_id,
            own_code = integration_code == code,
            "omie customer adopted by CPF/CNPJ"
        );
        self.alter_by_omie_id(omie_id, cad).await?;
        Ok(ErpCustomer {
            erp_id: omie_id,
            adopted: integration_code != code,
            integration_code: Some(integration_code),
            created: false,
        })
    }

    async fn upsert(
        &self,
        id: CustomerId,
        customer: &Customer,
        known_erp_id: Option<i64>,
    ) -> Result<ErpCustomer, OmieError> {
        let code = id.to_string();
        let cad = cliente_cadastro(id, customer);
        if let Some(erp_id) = known_erp_id {
            match self.alter_by_omie_id(erp_id, &cad).await {
                Ok(st) => {
                    let holder = st.codigo_cliente_integracao.filter(|c| !c.is_empty());
                    return Ok(ErpCustomer {
                        erp_id: st.codigo_cliente_omie,
                        adopted: holder.as_deref().is_some_and(|h| h != code),
                        integration_code: holder,
                        created: false,
                    });
                }
                // The link is stale (the record was deleted in Omie): upsert by code below.
                Err(e) if matches!(e.fault_class(), Some(FaultClass::NotFound)) => {
                    tracing::warn!(
                        account = self.client.account(), record = %code, erp_id,
                        "omie customer link is stale; upserting by integration code"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let outcome = self
            .guarded(
                || self.client.upsert_cliente(&cad),
                || self.find_by_code(&code),
            )
            .await;
        match outcome {
            Ok(Written::Answered(st)) => Ok(ErpCustomer {
                erp_id: st.codigo_cliente_omie,
                integration_code: Some(code),
                adopted: false,
                created: status_says_created(&st),
            }),
            Ok(Written::Found(found)) => Ok(ErpCustomer {
                erp_id: found
                    .codigo_cliente_omie
                    .ok_or_else(|| missing_id("ConsultarCliente", &code))?,
                integration_code: Some(code),
                adopted: false,
                created: false,
            }),
            Err(e) => match e.fault_class() {
                Some(FaultClass::DuplicateTaxId {
                    omie_id,
                    integration_code,
                }) => {
                    let (omie_id, holder) = (*omie_id, integration_code.clone());
                    if holder.as_deref() == Some(code.as_str()) {
                        // The holder is SIG's own record; nothing to adopt.
                        let omie_id = omie_id.ok_or(e)?;
                        self.alter_by_omie_id(omie_id, &cad).await?;
                        return Ok(ErpCustomer {
                            erp_id: omie_id,
                            integration_code: Some(code),
                            adopted: false,
                            created: false,
                        });
                    }
                    self.adopt(&code, &cad, omie_id, holder).await
                }
                Some(FaultClass::DuplicateIntegrationCode {
                    omie_id: Some(omie_id),
                    ..
                }) => {
                    let omie_id = *omie_id;
                    self.alter_by_omie_id(omie_id, &cad).await?;
                    Ok(ErpCustomer {
                        erp_id: omie_id,
                        integration_code: Some(code),
                        adopted: false,
                        created: false,
                    })
                }
                _ => Err(e),
            },
        }
    }

    /// The order's contract among the customer's contracts, if any.
    async fn find_contract(
        &self,
        customer_erp_id: i64,
        code: &str,
    ) -> Result<Option<ContratoCadastro>, OmieError> {
        let req = ListarContratos {
            filtrar_cliente: Some(customer_erp_id),
            ..ListarContratos::default()
        };
        let stream = self.client.stream(req);
        futures::pin_mut!(stream);
        let mut found: Option<ContratoCadastro> = None;
        while let Some(c) = stream.try_next().await? {
            let h = &c.cabecalho;
            let same_customer = h.nCodCli.is_none_or(|n| n == customer_erp_id);
            if same_customer && h.cCodIntCtr.as_deref() == Some(code) {
                let active = h.cCodSit.as_ref() == Some(&ContractSituation::Ativo);
                if active || found.is_none() {
                    found = Some(c);
                }
                if active {
                    break;
                }
            }
        }
        Ok(found)
    }

    async fn ensure(
        &self,
        customer: &ErpCustomer,
        request: &ContractRequest<'_>,
    ) -> Result<ErpContract, OmieError> {
        let code = request.order_id.to_string();
        let existing = |c: ContratoCadastro, created: bool| {
            c.cabecalho.nCodCtr.map(|erp_id| ErpContract {
                erp_id,
                integration_code: code.clone(),
                created,
            })
        };
        let missing = || OmieError::Decode {
            call: "ListarContratos",
            status: 200,
            path: "contratoCadastro[].cabecalho.nCodCtr".into(),
            message: "the contract carries no Omie id".into(),
            malformed: false,
            write: false,
            record: Some(code.clone()),
        };
        // A first attempt (`Attempt::First`) cannot find anything: skip the look-up.
        if request.attempt.needs_lookup()
            && let Some(c) = self.find_contract(customer.erp_id, &code).await?
        {
            return existing(c, false).ok_or_else(missing);
        }
        let cad = contrato_cadastro(customer.erp_id, request);
        let outcome = self
            .guarded(
                || self.client.incluir_contrato(&cad),
                || self.find_contract(customer.erp_id, &code),
            )
            .await;
        match outcome {
            Ok(Written::Answered(st)) => Ok(ErpContract {
                erp_id: st.nCodCtr,
                integration_code: code,
                created: true,
            }),
            // It was not there before this call's write, so the write created it.
            Ok(Written::Found(c)) => existing(c, true).ok_or_else(missing),
            Err(e) => match e.fault_class() {
                // Created meanwhile under the same code (a concurrent run): reuse it.
                Some(FaultClass::DuplicateIntegrationCode { omie_id, .. }) => {
                    let omie_id = *omie_id;
                    match self.find_contract(customer.erp_id, &code).await? {
                        Some(c) => existing(c, false).ok_or_else(missing),
                        None => omie_id
                            .map(|erp_id| ErpContract {
                                erp_id,
                                integration_code: code.clone(),
                                created: false,
                            })
                            .ok_or(e),
                    }
                }
                _ => Err(e),
            },
        }
    }

    fn erp_customer(
        c: ClienteCadastro,
        call: &'static str,
        record: &str,
    ) -> Result<ErpCustomer, OmieError> {
        Ok(ErpCustomer {
            erp_id: c
                .codigo_cliente_omie
                .ok_or_else(|| missing_id(call, record))?,
            integration_code: c.codigo_cliente_integracao.filter(|s| !s.is_empty()),
            adopted: false,
            created: false,
        })
    }
}

#[async_trait]
impl Erp for OmieErp {
    async fn upsert_customer(
        &self,
        id: CustomerId,
        customer: &Customer,
        known_erp_id: Option<i64>,
    ) -> Result<ErpCustomer, UpstreamError> {
        self.upsert(id, customer, known_erp_id)
            .await
            .map_err(|e| up(e, &id.to_string()))
    }

    async fn find_customer(
        &self,
        lookup: &CustomerLookup,
    ) -> Result<Option<ErpCustomer>, UpstreamError> {
        let (found, call, record) = match lookup {
            CustomerLookup::SigId(id) => {
                let code = id.to_string();
                (self.find_by_code(&code).await, "ConsultarCliente", code)
            }
            CustomerLookup::ErpId(n) => (
                self.client.find_cliente(&ClienteChave::omie(*n)).await,
                "ConsultarCliente",
                n.to_string(),
            ),
            CustomerLookup::TaxId(t) => (
                self.find_by_tax_id(&t.formatted()).await,
                "ListarClientes",
                // Never a tax id in an error: name the lookup kind instead.
                format!("{} lookup", t.kind()),
            ),
        };
        let found = found.map_err(|e| up(e, &record))?;
        found
            .map(|c| Self::erp_customer(c, call, &record))
            .transpose()
            .map_err(|e| up(e, &record))
    }

    async fn ensure_contract(
        &self,
        customer: &ErpCustomer,
        request: &ContractRequest<'_>,
    ) -> Result<ErpContract, UpstreamError> {
        self.ensure(customer, request)
            .await
            .map_err(|e| up(e, &request.order_id.to_string()))
    }
}
