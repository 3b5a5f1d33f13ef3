//! The server: configuration, shared state, the router and `serve` with graceful shutdown.

use crate::catalog::{RuleSource, Snapshot};
use crate::console::{QueryBackend, QueryLimits, ResultCache, Running, Unavailable};
use crate::data::{DataDirStatus, DataStatus, Rows, TableInfo};
use crate::hunts::HuntBackend;
use crate::security::{self, Access};
use crate::{api, assets, pages};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Largest request body accepted (forms and JSON); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Environment variable holding the access token (like `--token`).
pub const TOKEN_ENV: &str = "QUARRY_TOKEN";

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Required on every request when set; needed to listen on a non-loopback address.
    pub token: Option<String>,
    pub limits: QueryLimits,
}

impl ServeConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir,
            token: None,
            limits: QueryLimits::default(),
        }
    }

    /// Refuses to expose an unauthenticated server beyond this machine.
    pub fn check(&self) -> Result<(), ServeError> {
        if let Some(t) = &self.token
            && t.trim().len() < 16
        {
            return Err(ServeError::WeakToken);
        }
        if !self.addr.ip().is_loopback() && self.token.is_none() {
            return Err(ServeError::NeedsToken(self.addr));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without an access token: anyone who can reach that address could read the rules and run queries. Set one with --token or {TOKEN_ENV} (then every request needs it), or listen on 127.0.0.1"
    )]
    NeedsToken(SocketAddr),
    #[error("the access token must be at least 16 characters")]
    WeakToken,
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything the handlers share.
pub struct AppState {
    pub rules: RuleSource,
    pub data: Box<dyn DataStatus>,
    pub query: Arc<dyn QueryBackend>,
    /// `None` when no hunt component is linked.
    pub hunts: Option<Arc<dyn HuntBackend>>,
    pub results: ResultCache,
    pub running: Running,
    pub limits: QueryLimits,
    pub access: Arc<Access>,
    pub data_dir: PathBuf,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(config: &ServeConfig) -> AppState {
        AppState {
            rules: RuleSource::new(&config.data_dir),
            data: Box::new(DataDirStatus::new(config.data_dir.clone())),
            query: match crate::engine_backend::EngineBackend::new(&config.data_dir) {
                Ok(e) => Arc::new(e),
                Err(e) => Arc::new(Unavailable(format!("the query engine could not start: {e}"))),
            },
            hunts: Some(Arc::new(crate::hunt_backend::HuntStore::new(config.data_dir.clone()))),
            results: ResultCache::default(),
            running: Running::default(),
            limits: config.limits,
            access: Arc::new(Access::new(config.token.clone())),
            data_dir: config.data_dir.clone(),
        }
    }

    pub fn with_query_backend(mut self, backend: Arc<dyn QueryBackend>) -> Self {
        self.query = backend;
        self
    }

    /// Replaces the hunt component (`None`: hunts unavailable).
    pub fn with_hunts(mut self, hunts: Option<Arc<dyn HuntBackend>>) -> Self {
        self.hunts = hunts;
        self
    }

    pub fn with_data_status(mut self, data: Box<dyn DataStatus>) -> Self {
        self.data = data;
        self
    }
}

/// The rules and table row counts a page needs, read off the async threads.
pub struct View {
    pub snapshot: Arc<Snapshot>,
    pub tables: Vec<TableInfo>,
    pub rows: Rows,
    /// Why the data directory could not be read, if it could not.
    pub data_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ViewError(pub String);

impl AppState {
    pub async fn view(self: &Arc<Self>) -> Result<View, ViewError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let snapshot = state.rules.snapshot().map_err(|e| ViewError(e.to_string()))?;
            let (tables, data_error) = match state.data.tables() {
                Ok(t) => (t, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            let rows = Rows::from_tables(&tables);
            Ok(View {
                snapshot,
                tables,
                rows,
                data_error,
            })
        })
        .await
        .map_err(|e| ViewError(format!("internal error: {e}")))?
    }
}

pub fn router(state: AppState) -> Router {
    let access = state.access.clone();
    let state: Shared = Arc::new(state);
    Router::new()
        .route("/", get(pages::feed::page))
        .route("/rules/{id}", get(pages::rule::page))
        .route("/rules/{id}/definition.yaml", get(pages::rule::yaml))
        .route("/rules/{id}/run", post(pages::hunts::run_rule))
        .route("/coverage", get(pages::coverage::page))
        .route("/coverage/navigator.json", get(api::navigator))
        .route("/console", get(pages::console::page).post(pages::console::submit))
        .route("/console/run", post(pages::console::fragment))
        .route("/console/cancel", post(pages::console::cancel))
        .route("/console/results/{id}", get(pages::console::results_page))
        .route("/hunts", get(pages::hunts::list))
        .route("/hunts/{id}", get(pages::hunts::detail))
        .route("/findings/{id}", get(pages::finding::page))
        .route("/findings/{id}/status", post(pages::hunts::set_status))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/static/{name}", get(assets::serve))
        .route("/api/health", get(api::health))
        .route("/api/rules", get(api::rules))
        .route("/api/rules/{id}", get(api::rule))
        .route("/api/facets", get(api::facets))
        .route("/api/tables", get(api::tables))
        .route("/api/coverage", get(api::coverage))
        .route("/api/coverage/navigator", get(api::navigator))
        .route("/api/validate", post(api::validate))
        .route("/api/query", post(api::query))
        .route("/api/query/cancel", post(api::cancel))
        .route("/api/query/{id}", get(api::query_page))
        .route("/api/hunts", get(api::hunts).post(api::start_hunt))
        .route("/api/hunts/{id}", get(api::hunt))
        .route("/api/hunts/{id}/findings", get(api::hunt_findings))
        .route("/api/findings/{id}", get(api::finding))
        .route("/api/findings/{id}/status", post(api::finding_status))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(access, security::guard))
        .layer(axum::middleware::from_fn(security::headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Binds and serves until Ctrl-C (or SIGTERM), finishing requests in flight.
/// `ready` is called with the bound address (the port is chosen when `addr` has port 0).
pub async fn serve(config: ServeConfig, state: AppState, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    config.check()?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let local = listener.local_addr()?;
    ready(local);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
