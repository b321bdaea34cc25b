//! The VoIP-platform port ([`VoipPlatform`]) on one NextBilling instance: ensure customer,
//! lines and DIDs keyed by SIG's ids, and probe health.
//!
//! Every `ensure_*` looks the record up by its SIG id first and creates it only when absent.
//! When a create fails ambiguously (timeout, reset, 5xx, undecodable answer: it may have been
//! applied), it looks the record up again and returns it if it is there; otherwise it returns
//! the retryable error and the caller's next `ensure_*` looks up once more before creating.
//! The client itself never re-sends a write, so repeats after a crash or a failure find the
//! record instead of creating a second one.
//!
//! Concurrent `ensure_*` calls for the *same* SIG id through the same client (or its clones)
//! are serialised, so the second finds what the first created. Across processes there is no
//! such guard (NextBilling has no uniqueness to lean on): the pipeline runs one step per
//! record at a time.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::SecretString;
use sig_core::domain::Customer;
use sig_core::ids::{CustomerId, ServerId};
use sig_core::ports::{
    Attempt, DidRequest, Health, LineRequest, UpstreamError, VoipCustomer, VoipDid, VoipLine,
    VoipPlatform,
};
use sig_core::{Phone, PhoneKind};

use crate::client::NextClient;
use crate::error::{Action, NextError, NextErrorKind};
use crate::keys;
use crate::wire::{CustomerBody, DID_TYPE_LINE, DeviceBody, DidBody};

/// Length of the SIP passwords SIG generates for new lines.
pub const LINE_PASSWORD_LEN: usize = 24;

/// The `manageCustomers` body for a SIG customer: `id_origem` carries SIG's id; the feature
/// flags for lines and DIDs are on.
pub fn customer_body(id: CustomerId, customer: &Customer) -> CustomerBody {
    let a = &customer.address;
    let mobile = customer
        .phones
        .iter()
        .find(|p| p.kind() == PhoneKind::Mobile)
        .map(Phone::national);
    CustomerBody {
        id: None,
        id_hie: None,
        id_origem: Some(keys::customer_origin(id)),
        nome_fantasia: customer.trade_name.as_ref().map(|t| t.as_str().to_owned()),
        razao_social: customer.legal_name.as_str().to_owned(),
        cpf: customer.tax_id.as_str().to_owned(),
        rg: customer
            .state_registration
            .as_ref()
            .map(|r| r.as_str().to_owned()),
        cep: a.cep.as_str().to_owned(),
        endereco: format!("{}, {}", a.street.as_str(), a.number.as_str()),
        complemento: a.complement.as_ref().map(|c| c.as_str().to_owned()),
        bairro: a.district.as_str().to_owned(),
        cidade: a.city.as_str().to_owned(),
        uf: a.uf.as_str().to_owned(),
        telefone: Some(customer.main_phone().national()),
        telefone2: customer.phones.get(1).map(Phone::national),
        celular: mobile,
        contato: customer
            .contact_name
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        email: Some(customer.main_email().as_str().to_owned()),
        email2: customer.emails.get(1).map(|e| e.as_str().to_owned()),
        email_financeiro: Some(customer.main_email().as_str().to_owned()),
        tem_ramal: Some(1),
        tem_did: Some(1),
    }
}

/// The `manageDevices` body for a SIG line: username from SIG's line id, a fresh random
/// password, user + password auth, `ddd_local` = `55` + DDD.
pub fn device_body(customer_voip_id: i64, line: &LineRequest) -> DeviceBody {
    let password: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(LINE_PASSWORD_LEN)
        .map(char::from)
        .collect();
    DeviceBody {
        customer_id: Some(customer_voip_id),
        rate_id: line.rate_id,
        callerid: None,
        simultaneas: line.channels,
        status: 1,
        auth: 0,
        username: keys::line_username(line.line_id),
        password: SecretString::from(password),
        tech: "SIP".to_owned(),
        funcionalidade: 0,
        ddd_local: Some(format!("55{}", line.area_code)),
    }
}

/// The `manageDID` body for a SIG DID: description from SIG's DID id, routed to the line
/// (`did_type` 1), number as `55` + DDD + subscriber.
pub fn did_body(customer_voip_id: i64, did: &DidRequest) -> DidBody {
    DidBody {
        id: None,
        customer_id: customer_voip_id,
        description: keys::did_description(did.did_id),
        rate_id: did.rate_id,
        did_number: format!("55{}", did.number.national()),
        did_type: DID_TYPE_LINE,
        device_id: did.device_id,
    }
}

impl NextClient {
    /// After a create: the id it answered, or else the lookup's. After an ambiguous failure:
    /// the lookup's, or else the original error.
    async fn settle_create<L, LF>(
        &self,
        action: Action,
        record: &str,
        created: Result<Option<i64>, NextError>,
        lookup: L,
    ) -> Result<i64, NextError>
    where
        L: Fn() -> LF,
        LF: Future<Output = Result<Option<i64>, NextError>>,
    {
        match created {
            Ok(Some(id)) => Ok(id),
            Ok(None) => match lookup().await? {
                Some(id) => Ok(id),
                None => Err(NextError {
                    server_id: self.server_id().clone(),
                    server_name: self.server_name().to_owned(),
                    action,
                    record: Some(record.to_owned()),
                    kind: NextErrorKind::NotFoundAfterCreate,
                }),
            },
            Err(e) if e.maybe_applied() => match lookup().await {
                Ok(Some(id)) => {
                    tracing::info!(
                        server = %self.server_id(),
                        action = action.as_str(),
                        record,
                        "write failed ambiguously but was applied; found by SIG id"
                    );
                    Ok(id)
                }
                Ok(None) | Err(_) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// [`VoipPlatform::ensure_customer`] with the client's own error type.
    ///
    /// # Errors
    /// See [`NextError`].
    pub async fn ensure_customer_by_sig_id(
        &self,
        id: CustomerId,
        customer: &Customer,
        attempt: Attempt,
    ) -> Result<VoipCustomer, NextError> {
        let record = keys::customer_origin(id);
        let _guard = self.lock_record(&record).await;
        // A first attempt (`Attempt::First`) cannot find anything: skip the look-up.
        if attempt.needs_lookup()
            && let Some(found) = self.find_customer(id).await?
        {
            return Ok(VoipCustomer {
                voip_id: found.id,
                created: false,
            });
        }
        let created = self.create_customer(&customer_body(id, customer)).await;
        let lookup = || async { Ok(self.find_customer(id).await?.map(|c| c.id)) };
        let voip_id = self
            .settle_create(Action::ManageCustomers, &record, created, lookup)
            .await?;
        tracing::info!(server = %self.server_id(), customer = %id, voip_id, "nextbilling customer created");
        Ok(VoipCustomer {
            voip_id,
            created: true,
        })
    }

    /// [`VoipPlatform::ensure_line`] with the client's own error type.
    ///
    /// # Errors
    /// See [`NextError`].
    pub async fn ensure_line_by_sig_id(
        &self,
        customer: &VoipCustomer,
        line: &LineRequest,
    ) -> Result<VoipLine, NextError> {
        let username = keys::line_username(line.line_id);
        let _guard = self.lock_record(&username).await;
        // A first attempt (`Attempt::First`) cannot find anything: skip the look-up.
        if line.attempt.needs_lookup()
            && let Some(found) = self.find_line(customer.voip_id, line.line_id).await?
        {
            return Ok(VoipLine {
                voip_id: found.id,
                username,
                created: false,
            });
        }
        let created = self
            .create_device(&device_body(customer.voip_id, line))
            .await;
        let lookup = || async {
            Ok(self
                .find_line(customer.voip_id, line.line_id)
                .await?
                .map(|d| d.id))
        };
        let voip_id = self
            .settle_create(Action::ManageDevices, &username, created, lookup)
            .await?;
        tracing::info!(server = %self.server_id(), line = %line.line_id, voip_id, "nextbilling line created");
        Ok(VoipLine {
            voip_id,
            username,
            created: true,
        })
    }

    /// [`VoipPlatform::ensure_did`] with the client's own error type. A DID found routed to
    /// another device is re-routed to the requested one (`manageDID` with its id,
    /// `[inferred]`).
    ///
    /// # Errors
    /// See [`NextError`].
    pub async fn ensure_did_by_sig_id(
        &self,
        customer: &VoipCustomer,
        did: &DidRequest,
    ) -> Result<VoipDid, NextError> {
        let mut body = did_body(customer.voip_id, did);
        let _guard = self.lock_record(&body.description).await;
        // A first attempt (`Attempt::First`) cannot find anything: skip the look-up.
        if did.attempt.needs_lookup()
            && let Some(found) = self.find_did(customer.voip_id, did.did_id).await?
        {
            if found.device_id != Some(did.device_id) {
                body.id = Some(found.id);
                self.manage_did(&body).await?;
                tracing::info!(server = %self.server_id(), did = %did.did_id, voip_id = found.id, "nextbilling DID re-routed");
            }
            return Ok(VoipDid {
                voip_id: found.id,
                created: false,
            });
        }
        let created = self.manage_did(&body).await;
        let lookup = || async {
            Ok(self
                .find_did(customer.voip_id, did.did_id)
                .await?
                .map(|d| d.id))
        };
        let voip_id = self
            .settle_create(Action::ManageDid, &body.description, created, lookup)
            .await?;
        tracing::info!(server = %self.server_id(), did = %did.did_id, voip_id, "nextbilling DID created");
        Ok(VoipDid {
            voip_id,
            created: true,
        })
    }
}

#[async_trait]
impl VoipPlatform for NextClient {
    fn server_id(&self) -> &ServerId {
        NextClient::server_id(self)
    }

    async fn ensure_customer(
        &self,
        id: CustomerId,
        customer: &Customer,
        attempt: Attempt,
    ) -> Result<VoipCustomer, UpstreamError> {
        Ok(self
            .ensure_customer_by_sig_id(id, customer, attempt)
            .await?)
    }

    async fn ensure_line(
        &self,
        customer: &VoipCustomer,
        line: &LineRequest,
    ) -> Result<VoipLine, UpstreamError> {
        Ok(self.ensure_line_by_sig_id(customer, line).await?)
    }

    async fn ensure_did(
        &self,
        customer: &VoipCustomer,
        did: &DidRequest,
    ) -> Result<VoipDid, UpstreamError> {
        Ok(self.ensure_did_by_sig_id(customer, did).await?)
    }

    async fn probe(&self, timeout: Duration) -> Health {
        NextClient::probe(self, timeout).await
    }
}
