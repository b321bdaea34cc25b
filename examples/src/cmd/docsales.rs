//! `sig docsales push CUSTOMER_ID [--document TEMPLATE]` — SIG → DocSales (roadmap §1,
//! "Envio de Dados"): write a SIG customer's data to the company's DocSales account, keyed by
//! the SIG customer id, and optionally create a sales document from a template listing the
//! customer's services, outside the proposal flow. Idempotent: a repeat updates the same
//! customer record and finds the same document. Allowed to the profiles the policy grants
//! `push_to_docsales` (admin by default); audited.

use serde_json::json;
use sig_core::ids::CustomerId;
use sig_core::pipeline::Settings;
use sig_core::push::{PushError, push_to_docsales};
use sig_core::store::IntegrationFilter;
use sig_docsales::{DocSalesClient, DocSalesPush};

use super::access::{ActingArgs, resolve};
use crate::runtime::{Runtime, open_store};
use crate::{CliError, Outcome};

/// `sig docsales` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Push a SIG customer's data to DocSales (and create a document from a template).
    Push(PushArgs),
}

/// `sig docsales push` arguments.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    #[command(flatten)]
    acting: ActingArgs,
    /// The SIG customer id.
    #[arg(value_name = "CUSTOMER_ID")]
    customer: String,
    /// Also create a document from this DocSales template (id or name).
    #[arg(long, value_name = "TEMPLATE")]
    document: Option<String>,
    /// One JSON document instead of the human summary.
    #[arg(long)]
    json: bool,
}

/// Run `sig docsales …`.
pub async fn run(command: Command) -> Result<Outcome, CliError> {
    match command {
        Command::Push(args) => push(args).await,
    }
}

async fn push(args: PushArgs) -> Result<Outcome, CliError> {
    let acting = resolve(&args.acting)?;
    let customer: CustomerId = args
        .customer
        .parse()
        .map_err(|e| CliError::Usage(format!("CUSTOMER_ID: {e}")))?;
    let store = open_store(&acting.config)?;
    // The customer's own company, when SIG knows the customer; else the chosen one.
    let company = store
        .list(&IntegrationFilter {
            customer: Some(customer),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .map_err(|e| CliError::Failed(format!("cannot read the store: {e}")))?
        .first()
        .map_or(acting.company.clone(), |i| i.company.clone());
    let account = acting
        .config
        .company(&company)
        .map(|c| c.docsales_account.clone())
        .ok_or_else(|| CliError::Usage(format!("company {company} is not configured")))?;
    let account_config = acting
        .config
        .docsales_accounts
        .get(&account)
        .ok_or_else(|| {
            CliError::Usage(format!("company {company}: no DocSales account {account}"))
        })?;
    let client = DocSalesClient::from_account(account_config)
        .map_err(|e| CliError::Usage(format!("accounts.docsales.{account}: {e}")))?;
    let crm = DocSalesPush::new(client);
    let rt = Runtime::build(&acting.config, store, Settings::default()).await?;
    let outcome = push_to_docsales(
        &rt.pipeline,
        &acting.policy,
        &acting.actor,
        acting.profile,
        &crm,
        customer,
        args.document.as_deref(),
    )
    .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(PushError::Denied(d)) => return Err(CliError::Failed(d.to_string())),
        Err(PushError::UnknownCustomer(c)) => {
            return Err(CliError::Failed(format!(
                "customer {c} is unknown to SIG or has no validated data yet"
            )));
        }
        Err(PushError::NoTemplate) => {
            return Err(CliError::Usage("--document needs a template".into()));
        }
        Err(e) => return Err(CliError::Failed(format!("push: {e}"))),
    };
    if args.json {
        println!("{}", serde_json::to_value(&outcome).unwrap_or(json!({})));
    } else {
        let created = |c: Option<bool>| match c {
            Some(true) => " (created)",
            Some(false) => " (found, not created again)",
            None => "",
        };
        println!(
            "Customer {} pushed to DocSales account {}: record {}{}",
            outcome.customer,
            outcome.account,
            outcome
                .docsales_customer
                .id
                .map_or("-".to_owned(), |i| i.to_string()),
            created(outcome.docsales_customer.created)
        );
        if let Some(d) = &outcome.document {
            println!(
                "Document {} ({}) with {} service(s){}",
                d.id.map_or("-".to_owned(), |i| i.to_string()),
                d.code.as_deref().unwrap_or("-"),
                outcome.orders,
                created(d.created)
            );
        }
    }
    Ok(Outcome::Clean)
}
