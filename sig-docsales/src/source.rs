//! The [`ProposalSource`] port over DocSales: webhooks tell SIG *which* proposal changed
//! ([`crate::webhook::intake`]); this port re-fetches it in full and maps it
//! ([`ProposalSource::fetch`]), and lists approved proposals for reconciliation
//! ([`ProposalSource::list_approved`], an `[inferred]` DocSales call).

use std::sync::Arc;

use async_trait::async_trait;
use sig_core::ProposalStatus;
use sig_core::config::Catalog;
use sig_core::ports::{
    ApprovedPage, ProposalSource, SourceKey, SourcedProposal, System, UpstreamError,
    UpstreamErrorKind,
};

use crate::client::DocSalesClient;
use crate::mapping;
use crate::wire::ProposalRef;

/// DocSales as a proposal source: a client and the catalog that names the custom fields.
#[derive(Debug, Clone)]
pub struct DocSalesSource {
    client: DocSalesClient,
    catalog: Arc<Catalog>,
}

impl DocSalesSource {
    /// A source reading through `client`, mapping with `catalog`.
    pub fn new(client: DocSalesClient, catalog: Arc<Catalog>) -> Self {
        DocSalesSource { client, catalog }
    }

    /// The client.
    pub fn client(&self) -> &DocSalesClient {
        &self.client
    }
}

#[async_trait]
impl ProposalSource for DocSalesSource {
    fn account(&self) -> &str {
        self.client.account()
    }

    async fn fetch(&self, proposal_id: &str) -> Result<SourcedProposal, UpstreamError> {
        let reference: ProposalRef = proposal_id.parse().map_err(|e| {
            UpstreamError::new(
                System::DocSales,
                "get_proposal",
                UpstreamErrorKind::Permanent,
                format!("not a DocSales proposal id: {e}"),
            )
        })?;
        // The body is read straight into the mapping (one pass, no intermediate document).
        self.client
            .get_proposal_with(&reference, |body| {
                mapping::decode_sourced(self.account(), &reference, body, &self.catalog)
            })
            .await
            .map_err(|e| e.into_upstream(Some(reference.as_segment())))
    }

    async fn list_approved(&self, cursor: Option<&str>) -> Result<ApprovedPage, UpstreamError> {
        let page = self.client.list_approved(cursor).await?;
        let mut keys = Vec::with_capacity(page.proposals.len());
        let mut unusable = 0usize;
        for d in &page.proposals {
            // The call asks for approved ones; a document that says otherwise is not trusted.
            if d.status
                .as_ref()
                .is_some_and(|s| *s != ProposalStatus::Approved)
            {
                continue;
            }
            match d.reference() {
                Some(r) => keys.push(SourceKey {
                    account: self.account().to_owned(),
                    proposal_id: r.as_segment(),
                }),
                None => unusable += 1,
            }
        }
        if unusable > 0 {
            tracing::warn!(
                account = self.account(),
                unusable,
                "DocSales listed approved proposals with neither id nor external_uuid"
            );
        }
        Ok(ApprovedPage {
            keys,
            next_cursor: page.next_cursor,
        })
    }
}
