//! sig-core's [`CrmPush`] port on DocSales: SIG → DocSales (roadmap §1, "Envio de Dados").
//!
//! - **Customer**: `PUT /api/v1/customers/{code}` `[inferred]` with SIG's customer id as the
//!   code ([`DocSalesClient::upsert_customer`]), so a repeat updates the same record.
//!   DocSales does not say whether the `PUT` created the record (`created` is `None`).
//! - **Document**: the customer's documents are listed first (`GET
//!   /api/v1/customers/{code}/proposals`, documented) and one carrying the document's code is
//!   reused; only then is the template checked against the account's registration data
//!   (when it lists templates) and the document created (`POST /api/v1/proposals`, path
//!   `[inferred]`). A create that may have been applied (lost answer) is followed by the same
//!   look-up, never by a blind second `POST`; DocSales has no idempotency key.
//! - The document lists the customer's services as items: the product code (or plan id),
//!   plan name, quantity, unit and total monthly value, and the order's area code and DIDs
//!   in the custom fields the catalog names (`[inferred]`, as for intake).

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::Value;
use sig_core::domain::{Customer, ServiceOrder};
use sig_core::ids::CustomerId;
use sig_core::ports::{System, UpstreamError, UpstreamErrorKind};
use sig_core::push::{CrmPush, DocumentRequest, PushedRecord};

use crate::client::{CustomerRef, DocSalesClient};
use crate::error::DocSalesError;
use crate::wire::{CustomerRecord, NewDocument, ProductItem};

/// SIG → DocSales on one account.
#[derive(Debug, Clone)]
pub struct DocSalesPush {
    client: DocSalesClient,
}

impl DocSalesPush {
    /// The port on `client`.
    pub fn new(client: DocSalesClient) -> Self {
        DocSalesPush { client }
    }

    /// The client.
    pub fn client(&self) -> &DocSalesClient {
        &self.client
    }

    /// The customer's document with `code`, if DocSales lists one.
    async fn find_document(
        &self,
        customer: CustomerId,
        code: &str,
    ) -> Result<Option<PushedRecord>, DocSalesError> {
        match self
            .client
            .customer_proposals(&CustomerRef::Code(customer.to_string()))
            .await
        {
            Ok(page) => Ok(page
                .proposals
                .into_iter()
                .find(|d| d.code.as_deref() == Some(code))
                .map(|d| PushedRecord {
                    id: d.id,
                    code: d.code,
                    created: Some(false),
                })),
            // DocSales answers 404 for a customer it has no documents for.
            Err(DocSalesError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Refuse a template the account does not list (when it lists templates at all).
    async fn check_template(&self, template: &str) -> Result<(), UpstreamError> {
        let data = self
            .client
            .registration_data()
            .await
            .map_err(|e| e.into_upstream(Some(template.to_owned())))?;
        if data.templates.is_empty() {
            return Ok(());
        }
        let known = data.templates.iter().any(|t| {
            [&t.id, &t.code, &t.name]
                .into_iter()
                .flatten()
                .any(|v| v.trim() == template)
        });
        if known {
            Ok(())
        } else {
            Err(UpstreamError::new(
                System::DocSales,
                "create_document",
                UpstreamErrorKind::Rejected,
                format!("template '{template}' is not in the account's registration data"),
            )
            .with_record(template.to_owned()))
        }
    }
}

/// The document SIG creates for a request.
pub fn new_document(r: &DocumentRequest<'_>) -> NewDocument {
    let first = r.orders.iter().min_by_key(|o| o.start_date);
    NewDocument {
        code: Some(r.code.to_owned()),
        customer_id: r.customer.to_string(),
        template_id: Some(r.template.to_owned()),
        user_email: None,
        contract_start: first.map(|o| o.start_date),
        due_day: first.map(|o| u32::from(o.billing_day.get())),
        products: r.orders.iter().map(|o| product_item(r, o)).collect(),
        custom: Default::default(),
    }
}

fn product_item(r: &DocumentRequest<'_>, o: &ServiceOrder) -> ProductItem {
    let plan = r.catalog.plan(&o.plan);
    let total = o.monthly_value.amount();
    let quantity = Decimal::from(o.quantity);
    let mut item = ProductItem {
        code: Some(o.product_code.clone().unwrap_or_else(|| o.plan.to_string())),
        name: plan.map(|p| p.name.clone()),
        quantity: Some(quantity),
        unit_value: (!quantity.is_zero()).then(|| (total / quantity).round_dp(2)),
        total_value: Some(total),
        ..ProductItem::default()
    };
    item.extra.insert(
        r.catalog.fields.area_code.clone(),
        Value::String(o.area_code.to_string()),
    );
    if !o.dids.is_empty() {
        item.extra.insert(
            r.catalog.fields.dids.clone(),
            Value::String(
                o.dids
                    .iter()
                    .map(|d| d.national())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        );
    }
    item
}

#[async_trait]
impl CrmPush for DocSalesPush {
    fn account(&self) -> &str {
        self.client.account()
    }

    async fn push_customer(
        &self,
        id: CustomerId,
        customer: &Customer,
    ) -> Result<PushedRecord, UpstreamError> {
        let code = id.to_string();
        let r = self
            .client
            .upsert_customer(&code, &CustomerRecord::from_customer(customer))
            .await
            .map_err(|e| e.into_upstream(Some(code.clone())))?;
        Ok(PushedRecord {
            id: r.id,
            code: Some(code),
            created: None,
        })
    }

    async fn ensure_document(
        &self,
        request: &DocumentRequest<'_>,
    ) -> Result<PushedRecord, UpstreamError> {
        let record = Some(request.code.to_owned());
        if let Some(found) = self
            .find_document(request.customer, request.code)
            .await
            .map_err(|e| e.into_upstream(record.clone()))?
        {
            return Ok(found);
        }
        self.check_template(request.template).await?;
        match self.client.create_document(&new_document(request)).await {
            Ok(r) => Ok(PushedRecord {
                id: r.id,
                code: r.code.or(record),
                created: Some(true),
            }),
            Err(e) if e.maybe_applied() => {
                // The answer was lost: look before anything is sent again.
                match self.find_document(request.customer, request.code).await {
                    // It was not there before the POST: this call created it.
                    Ok(Some(found)) => Ok(PushedRecord {
                        created: Some(true),
                        ..found
                    }),
                    _ => Err(e.into_upstream(record)),
                }
            }
            Err(e) => Err(e.into_upstream(record)),
        }
    }
}
