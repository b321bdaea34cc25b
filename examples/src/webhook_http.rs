//! The DocSales webhook endpoint, a thin axum adapter over `sig_docsales::webhook::intake`
//! and `Pipeline::intake`: `POST /webhooks/docsales/{account}/{token}` (or the token in
//! `?token=` or the `X-Docsales-Token` header). The answer is sent once the notification is
//! durably stored (or recorded as ignored); the proposal itself is re-fetched by the pipeline.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use sig_core::config::{Config, DocSalesAccount};
use sig_core::ids::{AccountId, CompanyId};
use sig_core::pipeline::Pipeline;
use sig_core::store::Actor;
use sig_docsales::WebhookRequest;

/// What the endpoint needs.
pub struct WebhookState {
    /// The pipeline intake goes to.
    pub pipeline: Arc<Pipeline>,
    /// Accounts by id, with the company each belongs to.
    pub accounts: BTreeMap<AccountId, (DocSalesAccountInfo, CompanyId)>,
}

/// The parts of a DocSales account the endpoint uses.
pub struct DocSalesAccountInfo {
    id: AccountId,
    secret: secrecy::SecretString,
}

impl DocSalesAccountInfo {
    /// From the configured account.
    pub fn from_account(a: &DocSalesAccount) -> Self {
        DocSalesAccountInfo {
            id: a.id.clone(),
            secret: a.webhook_secret.clone(),
        }
    }
}

impl WebhookState {
    /// From a configuration and a pipeline.
    pub fn new(config: &Config, pipeline: Arc<Pipeline>) -> Self {
        let mut accounts = BTreeMap::new();
        for c in &config.companies {
            if let Some(a) = config.docsales_accounts.get(&c.docsales_account) {
                accounts.insert(
                    a.id.clone(),
                    (DocSalesAccountInfo::from_account(a), c.id.clone()),
                );
            }
        }
        WebhookState { pipeline, accounts }
    }
}

/// The router: `POST /webhooks/docsales/{account}` and `/webhooks/docsales/{account}/{token}`.
pub fn router(state: Arc<WebhookState>) -> Router {
    Router::new()
        .route("/webhooks/docsales/{account}", post(receive))
        .route(
            "/webhooks/docsales/{account}/{token}",
            post(receive_with_token),
        )
        .with_state(state)
}

async fn receive_with_token(
    State(state): State<Arc<WebhookState>>,
    Path((account, _token)): Path<(String, String)>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, account, uri, query, headers, body).await
}

async fn receive(
    State(state): State<Arc<WebhookState>>,
    Path(account): Path<String>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, account, uri, query, headers, body).await
}

async fn handle(
    state: Arc<WebhookState>,
    account: String,
    uri: Uri,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((info, company)) = account
        .parse::<AccountId>()
        .ok()
        .and_then(|a| state.accounts.get(&a))
    else {
        // Same answer as a wrong token: do not reveal which accounts exist.
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "unauthorized"})),
        )
            .into_response();
    };
    let request = WebhookRequest {
        path: uri.path().to_owned(),
        query,
        headers: headers
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_owned(), v.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
    };
    let notification = match sig_docsales::intake(&request, info.id.as_str(), &info.secret) {
        Ok(n) => n,
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            tracing::warn!(account = %info.id, status = status.as_u16(), error = %e, "webhook refused");
            return (status, axum::Json(json!({"error": e.to_string()}))).into_response();
        }
    };
    let status = notification
        .status
        .clone()
        .unwrap_or(sig_core::ProposalStatus::Unknown(String::new()));
    match state
        .pipeline
        .intake(
            company,
            notification.key.clone(),
            &status,
            Actor::Webhook(info.id.to_string()),
            None,
        )
        .await
    {
        Ok(outcome) => (StatusCode::OK, axum::Json(json!(outcome))).into_response(),
        Err(e) => {
            tracing::error!(account = %info.id, error = %e, "webhook intake failed");
            // 503 makes DocSales deliver again later; nothing was acknowledged.
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"error": "store unavailable"})),
            )
                .into_response()
        }
    }
}

/// The webhook endpoint served on a loopback port (the demo and tests).
pub struct LocalEndpoint {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalEndpoint {
    /// The URL DocSales should call for an account, with the secret token in the path.
    pub fn url_for(&self, account: &str, secret: &secrecy::SecretString) -> url::Url {
        use secrecy::ExposeSecret;
        url::Url::parse(&format!(
            "http://{}/webhooks/docsales/{account}/{}",
            self.addr,
            secret.expose_secret()
        ))
        .expect("a loopback URL parses")
    }

    /// Stop serving, after in-flight requests end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Serve the webhook endpoint on `127.0.0.1:0`.
pub async fn serve_local(
    config: &Config,
    pipeline: Arc<Pipeline>,
) -> std::io::Result<LocalEndpoint> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = router(Arc::new(WebhookState::new(config, pipeline)));
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(LocalEndpoint { addr, stop, task })
}
