//! The JSON API under `/api/`: everything the pages show. Errors are JSON too:
//! `{"status": 404, "error": "…", "diagnostics": [...]}`.

use crate::catalog::{Entry, ExclusionStatus, Validation};
use crate::console::{self, MAX_QUERY_BYTES, QueryFailure, QueryOutput, ResultTable};
use crate::data::{Presence, Rows, TableInfo};
use crate::feed::{self, FeedParams};
use crate::server::{Shared, View};
use crate::{coverage, highlight};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rules::Attack;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    #[serde(rename = "status")]
    pub code: u16,
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<DiagnosticJson>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: status.as_u16(),
            error: message.into(),
            diagnostics: Vec::new(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

impl From<crate::server::ViewError> for ApiError {
    fn from(e: crate::server::ViewError) -> Self {
        ApiError::internal(e)
    }
}

/// A KQL diagnostic with its byte span and line/column positions in the query.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosticJson {
    pub severity: &'static str,
    pub code: String,
    pub message: String,
    /// Byte offsets into the query text, end exclusive.
    pub span: SpanJson,
    pub start: LineColJson,
    pub end: LineColJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct SpanJson {
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct LineColJson {
    pub line: u32,
    pub column: u32,
}

pub fn diagnostic_json(query: &str, d: &kql::Diagnostic) -> DiagnosticJson {
    let (l1, c1) = highlight::line_col(query, d.span.start as usize);
    let (l2, c2) = highlight::line_col(query, d.span.end as usize);
    DiagnosticJson {
        severity: d.severity.as_str(),
        code: d.code.clone(),
        message: d.message.clone(),
        span: SpanJson {
            start: d.span.start,
            end: d.span.end,
        },
        start: LineColJson { line: l1, column: c1 },
        end: LineColJson { line: l2, column: c2 },
        help: d.help.clone(),
    }
}

fn bad_query_params(e: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, e.body_text())
}

fn json_rejection(e: JsonRejection) -> ApiError {
    let status = e.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("request body too large (limit {} bytes)", crate::server::MAX_BODY_BYTES)
    } else {
        e.body_text()
    };
    ApiError::new(status, message)
}

/// `GET /api/health`
pub async fn health(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    let view = state.view().await?;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "rules": view.snapshot.entries.len(),
        "tables": view.tables.iter().filter(|t| t.rows > 0).count(),
        "data_error": view.data_error,
        "hunts": state.hunts.is_some(),
    })))
}

/// The feed's summary of a rule.
#[derive(Serialize)]
pub struct RuleSummary<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub severity: Option<&'static str>,
    pub kind: &'static str,
    pub tactics: &'a [String],
    pub techniques: Vec<&'a str>,
    pub tables: &'a [String],
    pub source: &'a str,
    pub date: &'a str,
    pub validation: Validation,
    pub data: Presence,
    pub url: String,
}

fn summary(e: &Entry, presence: Presence) -> RuleSummary<'_> {
    let r = e.rule();
    RuleSummary {
        id: &r.id,
        name: &r.name,
        severity: r.severity.map(|s| s.as_str()),
        kind: r.kind.as_str(),
        tactics: &r.tactics,
        techniques: r.all_techniques().collect(),
        tables: &e.tables,
        source: &e.source,
        date: &e.date,
        validation: e.validation,
        data: presence,
        url: format!("/rules/{}", feed::encode(&r.id)),
    }
}

/// `GET /api/rules?q=&tactic=&technique=&severity=&table=&source=&status=&data=&page=&per_page=`
pub async fn rules(
    State(state): State<Shared>,
    params: Result<Query<FeedParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(bad_query_params)?;
    let filters = params
        .parse()
        .map_err(|b| ApiError::new(StatusCode::BAD_REQUEST, b.message))?;
    let view = state.view().await?;
    let page = feed::filter(&view.snapshot, &view.rows, &filters);
    let rules: Vec<RuleSummary<'_>> = page.entries.iter().map(|(e, p)| summary(e, *p)).collect();
    Ok(Json(json!({
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "per_page": page.per_page,
        "rules": rules,
    })))
}

/// `GET /api/facets`: the values each feed filter can take, with counts.
pub async fn facets(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    let view = state.view().await?;
    Ok(Json(json!(feed::facets(&view.snapshot, &view.rows))))
}

/// `GET /api/tables`: the tables of the data directory.
pub async fn tables(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    let view = state.view().await?;
    if let Some(e) = &view.data_error {
        return Err(ApiError::internal(format!("cannot read the data directory: {e}")));
    }
    Ok(Json(json!({ "tables": view.tables })))
}

/// Looks a rule up by exact id.
pub fn find(view: &View, id: &str) -> Result<Arc<Entry>, ApiError> {
    view.snapshot
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no rule with id `{id}`")))
}

/// ATT&CK context of a rule: its techniques with names, links and tactics.
pub fn attack_context(e: &Entry) -> Value {
    let attack = Attack::get();
    let techniques: Vec<Value> = e
        .techniques()
        .into_iter()
        .map(|(id, t)| match t {
            Some(t) => json!({
                "id": t.id,
                "name": t.name,
                "url": t.url,
                "subtechnique": t.subtechnique,
                "parent": Attack::parent_id(&t.id).and_then(|p| attack.technique(p)).map(|p| json!({"id": p.id, "name": p.name, "url": p.url})),
                "tactics": t.tactics.iter().filter_map(|s| attack.tactic(s)).map(|x| json!({"id": x.id, "name": x.name, "shortname": x.shortname})).collect::<Vec<_>>(),
            }),
            None => json!({ "id": id, "known": false }),
        })
        .collect();
    let tactics: Vec<Value> = e
        .rule()
        .tactics
        .iter()
        .map(|t| match attack.tactic(t).or(attack.tactic_loose(t)) {
            Some(x) => json!({"name": t, "id": x.id, "display_name": x.name, "url": format!("https://attack.mitre.org/tactics/{}/", x.id)}),
            None => json!({"name": t, "known": false}),
        })
        .collect();
    json!({ "techniques": techniques, "tactics": tactics, "notes": e.rule().enrichment.mitre_context })
}

pub fn table_rows(e: &Entry, rows: &Rows) -> Vec<Value> {
    e.tables
        .iter()
        .map(|t| json!({"name": t, "rows": rows.rows(t)}))
        .collect()
}

/// `GET /api/rules/{id}`: the rule and everything its page shows.
pub async fn rule(State(state): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let view = state.view().await?;
    let e = find(&view, &id)?;
    let r = e.rule();
    let exclusions: Vec<Value> = r
        .enrichment
        .false_positives
        .iter()
        .zip(&e.exclusions)
        .map(|(fp, st)| json!({"scenario": fp.scenario, "exclusion": fp.exclusion, "validation": st}))
        .collect();
    let query_diagnostics: Vec<DiagnosticJson> = kql::parse(&r.query)
        .diagnostics
        .iter()
        .map(|d| diagnostic_json(&r.query, d))
        .collect();
    let findings = match &state.hunts {
        Some(h) => {
            let h = h.clone();
            let rid = r.id.clone();
            let f = tokio::task::spawn_blocking(move || h.rule_findings(&rid, 50))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            json!(f)
        }
        None => Value::Null,
    };
    Ok(Json(json!({
        "rule": r,
        "revision": e.stored.revision,
        "imported_at": e.stored.imported_at,
        "updated_at": e.stored.updated_at,
        "source": e.source,
        "tables": table_rows(&e, &view.rows),
        "data": view.rows.presence(&e.tables),
        "validation": e.validation,
        "diagnostics": e.diagnostics,
        "query_diagnostics": query_diagnostics,
        "false_positives": exclusions,
        "attack": attack_context(&e),
        "definition_yaml": rules::export::to_sentinel_yaml(r),
        "findings": findings,
    })))
}

/// `GET /api/coverage`
pub async fn coverage(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    let view = state.view().await?;
    Ok(Json(json!(coverage::compute(&view.snapshot, &view.rows))))
}

/// `GET /api/coverage/navigator` (and `/coverage/navigator.json`): an ATT&CK Navigator
/// layer file.
pub async fn navigator(State(state): State<Shared>) -> Result<Response, ApiError> {
    let view = state.view().await?;
    let layer = coverage::navigator_layer(&view.snapshot, &view.rows, "Quarry coverage");
    let body = serde_json::to_vec_pretty(&layer).map_err(ApiError::internal)?;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"quarry-coverage-layer.json\""),
    );
    Ok(resp)
}

#[derive(Deserialize)]
pub struct QueryRequest {
    pub query: String,
    #[serde(default)]
    pub page: Option<usize>,
    #[serde(default)]
    pub page_size: Option<usize>,
    /// A client-chosen id, to cancel the query with `POST /api/query/cancel`.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The query's `now()` (`2026-05-30T00:00:00Z`); the wall clock when absent.
    #[serde(default)]
    pub now: Option<String>,
}

/// Parses an optional `now` value.
pub fn parse_now(now: Option<&str>) -> Result<Option<i64>, String> {
    match now.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) => schema::values::parse_datetime(t)
            .map(Some)
            .ok_or_else(|| format!("`now` must be a datetime such as 2026-05-30T00:00:00Z, not `{t}`")),
    }
}

pub const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

fn check_query_text(q: &str) -> Result<(), ApiError> {
    if q.len() > MAX_QUERY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("query too long ({} bytes; limit {MAX_QUERY_BYTES})", q.len()),
        ));
    }
    if q.trim().is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "the query is empty"));
    }
    Ok(())
}

/// `POST /api/validate {"query": "…"}` → diagnostics (200 even when the query is invalid:
/// the diagnostics are the answer).
pub async fn validate(
    State(state): State<Shared>,
    body: Result<Json<QueryRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(json_rejection)?;
    check_query_text(&req.query)?;
    let backend = state.query.clone();
    let q = req.query.clone();
    let diags = tokio::task::spawn_blocking(move || backend.validate(&q))
        .await
        .map_err(ApiError::internal)?;
    let out: Vec<DiagnosticJson> = diags.iter().map(|d| diagnostic_json(&req.query, d)).collect();
    Ok(Json(json!({ "valid": !kql::has_errors(&diags), "diagnostics": out })))
}

/// A failure as an API error.
pub fn failure(query: &str, f: QueryFailure) -> ApiError {
    match f {
        QueryFailure::Invalid(diags) => {
            let n = diags.iter().filter(|d| d.is_error()).count();
            let mut e = ApiError::new(StatusCode::BAD_REQUEST, format!("the query has {n} error(s)"));
            e.diagnostics = diags.iter().map(|d| diagnostic_json(query, d)).collect();
            e
        }
        QueryFailure::Execution(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("query failed: {m}")),
        QueryFailure::Timeout(d) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!("the query ran longer than {}s and was cancelled", d.as_secs_f64()),
        ),
        QueryFailure::Unavailable(m) => ApiError::new(StatusCode::NOT_IMPLEMENTED, m),
        QueryFailure::Cancelled => ApiError::new(StatusCode::CONFLICT, "the query was cancelled"),
    }
}

/// Runs a console query: syntax errors first (so malformed queries answer 400 with spans
/// even without an engine), then the backend with the limits.
pub async fn run_query(
    state: &Shared,
    query: String,
    now: Option<i64>,
    run_id: Option<&str>,
) -> Result<(String, Arc<console::CachedResult>), QueryFailure> {
    let parsed = kql::parse(&query);
    if kql::has_errors(&parsed.diagnostics) {
        return Err(QueryFailure::Invalid(parsed.diagnostics));
    }
    let cancel = run_id.and_then(|id| state.running.register(id));
    let out = console::run_limited(&state.query, query.clone(), now, state.limits, cancel).await;
    if let Some(id) = run_id {
        state.running.finish(id);
    }
    let out = out?;
    let id = state.results.insert(query, out);
    let cached = state
        .results
        .get(&id)
        .ok_or_else(|| QueryFailure::Execution("the result was evicted at once".into()))?;
    Ok((id, cached))
}

fn page_json(id: &str, out: &QueryOutput, query: &str, page: usize, size: usize) -> Value {
    let tables: Vec<Value> = out.tables.iter().map(|t| table_page(t, page, size)).collect();
    json!({
        "result_id": id,
        "elapsed_ms": out.elapsed_ms,
        "tables": tables,
        "warnings": out.warnings.iter().map(|d| diagnostic_json(query, d)).collect::<Vec<_>>(),
    })
}

fn table_page(t: &ResultTable, page: usize, size: usize) -> Value {
    let pages = t.rows.len().div_ceil(size).max(1);
    let page = page.clamp(1, pages);
    let rows: Vec<&Vec<Value>> = t.rows.iter().skip((page - 1) * size).take(size).collect();
    json!({
        "name": t.name,
        "columns": t.columns,
        "rows": rows,
        "total_rows": t.total_rows,
        "kept_rows": t.rows.len(),
        "truncated": t.truncated,
        "page": page,
        "pages": pages,
        "page_size": size,
    })
}

/// `POST /api/query {"query": "…", "page": 1, "page_size": 100}`
pub async fn query(
    State(state): State<Shared>,
    body: Result<Json<QueryRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(json_rejection)?;
    check_query_text(&req.query)?;
    let size = req.page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let page = req.page.unwrap_or(1).max(1);
    let now = parse_now(req.now.as_deref()).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    let (id, cached) = run_query(&state, req.query.clone(), now, req.run_id.as_deref())
        .await
        .map_err(|f| failure(&req.query, f))?;
    Ok(Json(page_json(&id, &cached.output, &cached.query, page, size)))
}

#[derive(Deserialize)]
pub struct CancelRequest {
    pub run_id: String,
}

/// `POST /api/query/cancel {"run_id": "…"}`: stops a running query.
pub async fn cancel(
    State(state): State<Shared>,
    body: Result<Json<CancelRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(json_rejection)?;
    if state.running.cancel(&req.run_id) {
        Ok(Json(json!({ "cancelled": true })))
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no running query `{}`", req.run_id),
        ))
    }
}

#[derive(Deserialize)]
pub struct PageParams {
    pub page: Option<usize>,
    pub page_size: Option<usize>,
}

/// `GET /api/query/{result_id}?page=2&page_size=100`: another page of a recent result.
pub async fn query_page(
    State(state): State<Shared>,
    Path(id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params.map_err(bad_query_params)?;
    let cached = state.results.get(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no recent result `{id}` (results are kept for 15 minutes; run the query again)"),
        )
    })?;
    let size = p.page_size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    Ok(Json(page_json(
        &id,
        &cached.output,
        &cached.query,
        p.page.unwrap_or(1).max(1),
        size,
    )))
}

fn hunts_of(state: &Shared) -> Result<Arc<dyn crate::hunts::HuntBackend>, ApiError> {
    state.hunts.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "this build of Quarry has no hunt component: hunts and findings are not available",
        )
    })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// `GET /api/hunts`
pub async fn hunts(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    let h = hunts_of(&state)?;
    let runs = blocking(move || h.runs(200)).await?;
    Ok(Json(json!({ "runs": runs })))
}

#[derive(Deserialize)]
pub struct StartHunt {
    #[serde(default)]
    pub rules: Vec<String>,
    /// `latest` (default: the newest event in the data), `now` (wall clock) or a datetime.
    #[serde(default)]
    pub now: Option<String>,
}

/// `POST /api/hunts {"rules": [ids]}` (empty: every rule) → 202 with the run id.
pub async fn start_hunt(
    State(state): State<Shared>,
    body: Result<Json<StartHunt>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(json_rejection)?;
    let h = hunts_of(&state)?;
    let view = state.view().await?;
    let mut ids = Vec::new();
    for id in &req.rules {
        ids.push(find(&view, id)?.rule().id.clone());
    }
    let run = h
        .start(ids, req.now)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "run_id": run, "url": format!("/hunts/{}", feed::encode(&run)) })),
    )
        .into_response())
}

/// `GET /api/hunts/{id}`
pub async fn hunt(State(state): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let h = hunts_of(&state)?;
    let key = id.clone();
    let run = blocking(move || h.run(&key)).await?;
    run.map(|r| Json(json!(r)))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no hunt run `{id}`")))
}

#[derive(Deserialize)]
pub struct FormatParam {
    pub format: Option<String>,
}

/// `GET /api/hunts/{id}/findings?format=json|csv`: download.
pub async fn hunt_findings(
    State(state): State<Shared>,
    Path(id): Path<String>,
    params: Result<Query<FormatParam>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(bad_query_params)?;
    let h = hunts_of(&state)?;
    let key = id.clone();
    let run = blocking(move || h.run(&key))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no hunt run `{id}`")))?;
    crate::pages::hunts::download(&run, p.format.as_deref().unwrap_or("json"))
}

#[derive(Deserialize)]
pub struct StatusChange {
    pub status: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /api/findings/{id}/status {"status": "benign", "note": "…"}`
pub async fn finding_status(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Result<Json<StatusChange>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(json_rejection)?;
    let h = hunts_of(&state)?;
    if !h.statuses().contains(&req.status) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown status `{}` (expected one of {})",
                req.status,
                h.statuses().join(", ")
            ),
        ));
    }
    let key = id.clone();
    let status = req.status.clone();
    let found = blocking(move || h.set_status(&key, &status, req.note.as_deref())).await?;
    if !found {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no finding `{id}`")));
    }
    Ok(Json(json!({ "id": id, "status": req.status })))
}

/// `GET /api/findings/{id}`: a finding with its evidence rows per run and triage history.
pub async fn finding(State(state): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let h = hunts_of(&state)?;
    let key = id.clone();
    let evidence = blocking(move || h.finding(&key)).await?;
    match evidence {
        Some(e) => Ok(Json(serde_json::to_value(e).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode the finding: {e}"),
            )
        })?)),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no finding `{id}`"))),
    }
}

/// Unknown paths: JSON under `/api/`, a page elsewhere.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(StatusCode::NOT_FOUND, format!("no API endpoint {}", uri.path())).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            crate::pages::error_page(StatusCode::NOT_FOUND, "There is no page at this address."),
        )
            .into_response()
    }
}

/// Table infos for pages.
pub fn nonempty_tables(tables: &[TableInfo]) -> usize {
    tables.iter().filter(|t| t.rows > 0).count()
}

/// Whether an exclusion can be applied automatically.
pub fn applicable(st: &ExclusionStatus) -> bool {
    matches!(st, ExclusionStatus::Valid { .. })
}
